package main

// A fleet runs its doors in shards. One shard runs in the fleet's own
// process; when the doors need more open files than one process may hold
// (RLIMIT_NOFILE: each door keeps its bbolt file and its MQTT connection
// open, and three more sockets with a cuttable link), the doors are split
// over worker processes — the same program started as `swc-fleet worker`,
// which runs one shard and answers requests, one JSON object per line, on
// its standard input and output.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// shardJob is everything a shard needs to run its doors.
type shardJob struct {
	Index    int                       `json:"index"` // shard number, for the link cuts' random source
	First    int                       `json:"first"` // the fleet-wide number of the first door, for the taps' random source
	Doors    []doorSpec                `json:"doors"`
	Dir      string                    `json:"dir"`
	Log      string                    `json:"log"`
	Broker   string                    `json:"broker"`
	Key      string                    `json:"key"`
	Cuttable bool                      `json:"cuttable"` // doors reach the broker through links the shard cuts
	Seed     uint64                    `json:"seed"`
	Profile  string                    `json:"profile"`
	Taps     int                       `json:"taps"`
	Duration time.Duration             `json:"duration"`
	Rights   map[string][]protocol.UID `json:"rights"`
	All      []protocol.UID            `json:"all"`
}

// doorState is what the fleet follows of a door.
type doorState struct {
	Synced bool   `json:"synced"` // holds a whitelist
	Last   uint64 `json:"last"`   // last seq recorded
	Depth  uint64 `json:"depth"`  // events still in the outbox
}

// shard is a set of doors run together.
type shard interface {
	// states reports every door; an error when a door's agent stopped.
	states(ctx context.Context) (map[string]doorState, error)
	// taps runs the tap phase from start (and the link cuts when the
	// doors are cuttable), and returns when every badge was decided and
	// recorded, with the number of link cuts made.
	taps(ctx context.Context, start time.Time) (int, error)
	stop() error
}

// localShard runs its doors in this process.
type localShard struct {
	job   shardJob
	doors []*simDoor
	logF  *os.File
}

func startLocalShard(ctx context.Context, job shardJob) (*localShard, error) {
	f, err := os.OpenFile(job.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	s := &localShard{job: job, logF: f, doors: make([]*simDoor, len(job.Doors))}
	// The agents log warnings and errors only.
	log := slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var mu sync.Mutex
	err = parallel(ctx, len(job.Doors), 16, func(ctx context.Context, i int) error {
		d, err := startDoor(ctx, job.Doors[i], job.Dir, job.Broker, job.Key, job.Cuttable, log)
		if err != nil {
			return err
		}
		mu.Lock()
		s.doors[i] = d
		mu.Unlock()
		return nil
	})
	if err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

func (s *localShard) states(ctx context.Context) (map[string]doorState, error) {
	out := make(map[string]doorState, len(s.doors))
	for _, d := range s.doors {
		if err := d.failed(); err != nil {
			return nil, err
		}
		wi, err := d.store.Whitelist(ctx)
		if err != nil {
			return nil, err
		}
		ob, err := d.outbox(ctx)
		if err != nil {
			return nil, err
		}
		out[d.spec.ID] = doorState{Synced: wi.Version > 0, Last: ob.LastSeq, Depth: ob.Depth}
	}
	return out, nil
}

func (s *localShard) taps(ctx context.Context, start time.Time) (int, error) {
	phaseCtx, endPhase := context.WithCancel(ctx)
	defer endPhase()
	var wg sync.WaitGroup
	errs := make(chan error, len(s.doors))
	for i, d := range s.doors {
		wg.Go(func() {
			if err := s.tapDoor(phaseCtx, d, s.job.First+i, start); err != nil && phaseCtx.Err() == nil {
				errs <- err
			}
		})
	}
	cuts := make(chan int, 1)
	if s.job.Cuttable {
		go func() { cuts <- s.cutLinks(phaseCtx) }()
	} else {
		cuts <- 0
	}
	wg.Wait()
	endPhase()
	n := <-cuts
	for _, d := range s.doors {
		if d.link != nil {
			d.link.Restore()
		}
	}
	close(errs)
	if err := <-errs; err != nil {
		return n, err
	}
	for _, d := range s.doors {
		if err := d.waitIdle(ctx); err != nil {
			return n, err
		}
	}
	return n, nil
}

// tapDoor presents badges at one door at the profile's times.
func (s *localShard) tapDoor(ctx context.Context, d *simDoor, i int, start time.Time) error {
	r := mrand.New(mrand.NewPCG(s.job.Seed, uint64(i)))
	rights, all := s.job.Rights[d.spec.Center], s.job.All
	for _, at := range tapTimes(r, s.job.Profile, s.job.Taps, s.job.Duration) {
		if err := sleep(ctx, time.Until(start.Add(at))); err != nil {
			return err
		}
		var uid protocol.UID
		switch p := r.Float64(); {
		case p < 0.6 && len(rights) > 0:
			uid = rights[r.IntN(len(rights))] // granted: a booking here or a pass
		case p < 0.9:
			uid = all[r.IntN(len(all))] // mostly denied: no right here
		default:
			uid = unknownUID(r)
		}
		if err := d.reader.Present(ctx, uid); err != nil {
			return fmt.Errorf("door %s: %w", d.spec.ID, err)
		}
	}
	return nil
}

// cutLinks cuts a few doors' links every second, each for 1 to 5 s, until
// ctx ends; it returns how many cuts it made.
func (s *localShard) cutLinks(ctx context.Context) int {
	r := mrand.New(mrand.NewPCG(s.job.Seed, 1<<40+uint64(s.job.Index)))
	cuts := 0
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if err := sleep(ctx, time.Second); err != nil {
			return cuts
		}
		for range max(1, len(s.doors)/50) {
			d := s.doors[r.IntN(len(s.doors))]
			d.link.Cut()
			cuts++
			down := time.Second + time.Duration(r.Int64N(int64(4*time.Second)))
			wg.Go(func() {
				_ = sleep(ctx, down)
				d.link.Restore()
			})
		}
	}
}

func (s *localShard) stop() error {
	var wg sync.WaitGroup
	for _, d := range s.doors {
		if d != nil {
			wg.Go(func() { _ = d.stop() })
		}
	}
	wg.Wait()
	return s.logF.Close()
}

// request and reply are the worker protocol: one JSON object per line.
type request struct {
	ID      int    `json:"id"`
	Op      string `json:"op"` // states, taps, stop
	StartMs int64  `json:"start_ms,omitempty"`
}

type reply struct {
	ID     int                  `json:"id"`
	States map[string]doorState `json:"states,omitempty"`
	Cuts   int                  `json:"cuts,omitempty"`
	Error  string               `json:"error,omitempty"`
}

// worker runs one shard for a parent fleet: the job on the first line of
// in, then requests, answered on out (each in its own goroutine, so that
// states can be asked during the taps).
func worker(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	var job shardJob
	if err := dec.Decode(&job); err != nil {
		return fmt.Errorf("worker: job: %w", err)
	}
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(r reply) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(r)
	}
	s, err := startLocalShard(ctx, job)
	if err != nil {
		send(reply{ID: 0, Error: err.Error()})
		return err
	}
	send(reply{ID: 0})
	defer s.stop()
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			return nil // the parent is gone
		}
		switch req.Op {
		case "states":
			go func() {
				st, err := s.states(ctx)
				send(reply{ID: req.ID, States: st, Error: errText(err)})
			}()
		case "taps":
			go func() {
				n, err := s.taps(ctx, time.UnixMilli(req.StartMs))
				send(reply{ID: req.ID, Cuts: n, Error: errText(err)})
			}()
		case "stop":
			err := s.stop()
			s.doors = nil
			send(reply{ID: req.ID, Error: errText(err)})
			return nil
		default:
			send(reply{ID: req.ID, Error: fmt.Sprintf("unknown op %q", req.Op)})
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// remoteShard is a worker process.
type remoteShard struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	done chan struct{}

	mu      sync.Mutex
	next    int
	waiting map[int]chan reply
	err     error // why the worker's output ended
}

// startRemoteShard starts a worker for job and waits until its doors run.
func startRemoteShard(ctx context.Context, job shardJob, stderrPath string) (*remoteShard, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	errF, err := os.OpenFile(stderrPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "worker")
	cmd.Stderr = errF
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		errF.Close()
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		errF.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		errF.Close()
		return nil, fmt.Errorf("worker: %w", err)
	}
	r := &remoteShard{cmd: cmd, in: in, done: make(chan struct{}), waiting: map[int]chan reply{0: make(chan reply, 1)}, next: 1}
	go func() {
		dec := json.NewDecoder(bufio.NewReader(outPipe))
		for {
			var rep reply
			if err := dec.Decode(&rep); err != nil {
				r.mu.Lock()
				r.err = fmt.Errorf("worker %s: output ended: %w (see %s)", filepath.Base(self), err, stderrPath)
				for _, c := range r.waiting {
					close(c)
				}
				r.waiting = nil
				r.mu.Unlock()
				_ = cmd.Wait()
				errF.Close()
				close(r.done)
				return
			}
			r.mu.Lock()
			if c, ok := r.waiting[rep.ID]; ok {
				c <- rep
				delete(r.waiting, rep.ID)
			}
			r.mu.Unlock()
		}
	}()
	if err := json.NewEncoder(in).Encode(job); err != nil {
		r.kill()
		return nil, fmt.Errorf("worker: job: %w", err)
	}
	r.mu.Lock()
	ready := r.waiting[0]
	r.mu.Unlock()
	if _, err := r.wait(ctx, ready); err != nil {
		r.kill()
		return nil, err
	}
	return r, nil
}

func (r *remoteShard) wait(ctx context.Context, c chan reply) (reply, error) {
	select {
	case rep, ok := <-c:
		if !ok {
			r.mu.Lock()
			defer r.mu.Unlock()
			return rep, r.err
		}
		if rep.Error != "" {
			return rep, errors.New(rep.Error)
		}
		return rep, nil
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

func (r *remoteShard) call(ctx context.Context, req request) (reply, error) {
	r.mu.Lock()
	if r.waiting == nil {
		err := r.err
		r.mu.Unlock()
		return reply{}, err
	}
	req.ID = r.next
	r.next++
	c := make(chan reply, 1)
	r.waiting[req.ID] = c
	b, _ := json.Marshal(req)
	_, err := r.in.Write(append(b, '\n'))
	r.mu.Unlock()
	if err != nil {
		return reply{}, fmt.Errorf("worker: %w", err)
	}
	return r.wait(ctx, c)
}

func (r *remoteShard) states(ctx context.Context) (map[string]doorState, error) {
	rep, err := r.call(ctx, request{Op: "states"})
	return rep.States, err
}

func (r *remoteShard) taps(ctx context.Context, start time.Time) (int, error) {
	rep, err := r.call(ctx, request{Op: "taps", StartMs: start.UnixMilli()})
	return rep.Cuts, err
}

// stop asks the worker to stop its doors and waits for it to exit.
func (r *remoteShard) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := r.call(ctx, request{Op: "stop"})
	_ = r.in.Close()
	select {
	case <-r.done:
	case <-ctx.Done():
		r.kill()
	}
	return err
}

func (r *remoteShard) kill() {
	_ = r.cmd.Process.Kill()
	_ = r.in.Close()
	<-r.done
}
