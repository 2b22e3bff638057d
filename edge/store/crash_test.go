package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/decide"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// Child processes: the test binary re-executed with envChild naming a role
// and envPath the database.
const (
	envChild = "SWC_STORE_TEST_CHILD"
	envPath  = "SWC_STORE_TEST_PATH"
)

func TestMain(m *testing.M) {
	switch os.Getenv(envChild) {
	case "":
		os.Exit(m.Run())
	case "hold":
		os.Exit(childHold(os.Getenv(envPath)))
	case "append":
		os.Exit(childAppend(os.Getenv(envPath)))
	default:
		fmt.Fprintln(os.Stderr, "unknown child role", os.Getenv(envChild))
		os.Exit(3)
	}
}

// childHold opens the database, says "ready" and waits for stdin to close.
func childHold(path string) int {
	s, err := Open(context.Background(), path, Options{Door: testDoor})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// childAppend records taps and door events in a loop and prints "ok <pos>"
// after each one is committed, until it is killed: pos is the event's
// outbox position (each run numbers its own store from 1, after the
// positions of the runs before).
func childAppend(path string) int {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{Door: testDoor, OpenTimeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	boot, err := s.StartBoot(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ob, err := s.OutboxStats(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		var ev protocol.Event
		if i%3 == 2 {
			ev, err = s.Append(ctx, protocol.Event{Kind: protocol.EventDoorClosed, Boot: boot.ID, TimeMs: time.Now().UnixMilli()})
		} else {
			ev, err = s.Tap(ctx, TapRequest{UID: uidN(i % 50), Time: t0, Trusted: true, Boot: boot.ID}, decide.DefaultPolicy())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(out, "ok %d\n", ob.LastSeq+ev.Seq)
		out.Flush()
	}
}

func child(t *testing.T, ctx context.Context, role, path string) *servicetestCmd {
	t.Helper()
	cmd := servicetest.Command(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+role, envPath+"="+path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	return &servicetestCmd{cmd: cmdHandle{cmd.Process, cmd.Wait}, out: bufio.NewScanner(stdout), stdin: stdin, stderr: &stderr}
}

type cmdHandle struct {
	p    *os.Process
	wait func() error
}

type servicetestCmd struct {
	cmd    cmdHandle
	out    *bufio.Scanner
	stdin  io.WriteCloser
	stderr *strings.Builder
}

func TestOpenFailsClearlyWhenAnotherProcessHoldsTheFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "edge.db")
	c := child(t, ctx, "hold", path)
	require.True(t, c.out.Scan(), "child: %s", c.stderr)
	require.Equal(t, "ready", c.out.Text())

	_, err := Open(ctx, path, Options{Door: testDoor, OpenTimeout: 300 * time.Millisecond})
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), "is another swc-edge running?")

	c.stdin.Close()
	require.NoError(t, c.cmd.wait())
	s, err := Open(ctx, path, Options{Door: testDoor, OpenTimeout: 5 * time.Second})
	require.NoError(t, err, "the lock goes with the process")
	require.NoError(t, s.Close())
}

// TestCrashSafety kills an appending child with SIGKILL at random moments,
// at least 50 times, and then checks that the database opens, passes
// bbolt's consistency check, holds every event the child reported as
// recorded, and that sequences have no gap and no duplicate.
func TestCrashSafety(t *testing.T) {
	const kills = 50
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "edge.db")
	s, err := Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	applyAll(t, s, snapshotParts(1, entries(50), 2))
	require.NoError(t, s.Close())

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var reported uint64 // highest seq a child reported as committed
	for k := 0; k < kills; k++ {
		c := child(t, ctx, "append", path)
		// Wait for the first commit so each run really appends, then let it
		// run a random while, reading its reports, and kill it.
		require.True(t, c.out.Scan(), "run %d: child ended before its first append: %s", k, c.stderr)
		first := parseOK(t, c.out.Text())
		// A child may commit an event and die before it reports it, so the
		// next run may start above reported+1; never at or below it.
		require.Greater(t, first, reported, "run %d: seq went back", k)
		reported = first
		killAt := time.Now().Add(time.Duration(rng.IntN(40_000)) * time.Microsecond)
		lines := make(chan uint64)
		go func() {
			defer close(lines)
			for c.out.Scan() {
				lines <- parseOK(t, c.out.Text())
			}
		}()
		timer := time.NewTimer(time.Until(killAt))
		kill := timer.C
	read:
		for {
			select {
			case seq, ok := <-lines:
				if !ok {
					break read
				}
				require.Greater(t, seq, reported)
				reported = seq
			case <-kill:
				require.NoError(t, c.cmd.p.Signal(syscall.SIGKILL))
				kill = nil
			}
		}
		_ = c.cmd.wait()
	}

	s, err = Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(ctx), "bbolt consistency check")
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, st.LastSeq, reported, "every reported event is recorded")
	// Every run numbered its own store from 1, without gap or duplicate,
	// and the stores together hold every position.
	var total uint64
	next := map[string]uint64{}
	for after := uint64(0); ; {
		p, err := s.Pending(ctx, after, 1000)
		require.NoError(t, err)
		if len(p.Events) == 0 {
			break
		}
		for _, ev := range p.Events {
			next[p.Store]++
			require.Equal(t, next[p.Store], ev.Seq, "store %s: no gap, no duplicate", p.Store)
			require.NoError(t, ev.Validate(""))
		}
		total += uint64(len(p.Events))
		after = p.Last
	}
	require.Equal(t, st.LastSeq, total, "no event missing")
	require.Equal(t, st.Depth, total)
	t.Logf("%d kills, %d events recorded, %d reported by the children", kills, st.LastSeq, reported)
}

func parseOK(t *testing.T, line string) uint64 {
	seq, err := strconv.ParseUint(strings.TrimPrefix(line, "ok "), 10, 64)
	if err != nil {
		t.Errorf("child said %q", line)
	}
	return seq
}
