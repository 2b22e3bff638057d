package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// result is the figures of a run. Its JSON form is what the benchmark
// report reads; keep the field names.
type result struct {
	Doors                 int      `json:"doors"`
	Broker                string   `json:"broker"`
	Profile               string   `json:"profile"`
	Faults                []string `json:"faults"`
	EventsRecorded        uint64   `json:"events_recorded"`
	EventsStored          uint64   `json:"events_stored"`
	Duplicates            uint64   `json:"duplicates"`
	Missing               uint64   `json:"missing"`
	ExactlyOnce           bool     `json:"exactly_once"`
	Credited              bool     `json:"credited"`
	CreditDetail          string   `json:"credit_detail"`
	StoredAfterRestartS   float64  `json:"stored_after_restart_s"`
	CreditedAfterRestartS float64  `json:"credited_after_restart_s"`
	EventsPerS            float64  `json:"events_per_s"`
	CentralRSSMiB         float64  `json:"central_rss_mib"`
	CentralPeakRSSMiB     float64  `json:"central_peak_rss_mib"`
	CentralCPUCores       float64  `json:"central_cpu_cores"`
	FleetRSSMiB           float64  `json:"fleet_rss_mib"`
	DurationS             float64  `json:"duration_s"`
	Error                 string   `json:"error"`
}

// notes are figures for people, printed besides the result.
type notes struct {
	dir                                      string
	build, seed, startDoors, whitelists      time.Duration
	tapPhase, storedAfterTaps, creditedAfter time.Duration
	reasons                                  map[string]int
	restarts                                 []string
	backlog                                  time.Duration // from the restart until the events recorded before it were stored
	linkCuts                                 int
	creditProblems                           []string
	sequenceProblems                         []string
	nofile                                   string
}

// fleet is one run.
type fleet struct {
	o       options
	log     *slog.Logger
	tmp     string
	bins    launch.Binaries
	central *launch.Central
	mosq    *mosquitto
	svcPass string
	net     *network
	doors   []*simDoor
	db      *sql.DB
	mon     *monitor
	res     result
	notes   notes
}

// run runs the fleet and returns its figures; the error says what failed
// (the figures are filled as far as the run got).
func run(ctx context.Context, o options, log *slog.Logger) (result, notes, error) {
	f := &fleet{o: o, log: log, res: result{Doors: o.doors, Broker: o.broker, Profile: o.profile, Faults: append([]string{}, o.faults...)}}
	err := f.run(ctx)
	if err != nil {
		f.res.Error = err.Error()
	}
	return f.res, f.notes, err
}

func (f *fleet) run(ctx context.Context) (err error) {
	if f.tmp, err = os.MkdirTemp("", "swc-fleet-"); err != nil {
		return err
	}
	f.notes.dir = f.tmp
	defer f.cleanup()
	f.notes.nofile = raiseFileLimit(uint64(f.o.doors)*6+4096, f.log)

	root, err := launch.RepoRoot()
	if err != nil {
		return err
	}
	t := time.Now()
	if f.bins, err = launch.Build(ctx, root, filepath.Join(f.tmp, "bin")); err != nil {
		return err
	}
	f.notes.build = time.Since(t)
	if err := f.startServices(ctx); err != nil {
		return err
	}
	t = time.Now()
	now := time.Now()
	if f.net, err = seed(ctx, f.central, f.o, now, f.log); err != nil {
		return err
	}
	f.notes.seed = time.Since(t)
	f.logCentral("seeded")
	if f.mosq != nil {
		if err := f.mosq.writeAccounts(f.svcPass, f.net.doors); err != nil {
			return err
		}
		if err := f.mosq.reload(); err != nil {
			return err
		}
	}
	if err := f.startDoors(ctx); err != nil {
		return err
	}
	if f.db, err = openEvents(f.central.Options.DataDir); err != nil {
		return err
	}
	return f.tapAndVerify(ctx, now)
}

// startServices starts Mosquitto (if asked for) and the central.
func (f *fleet) startServices(ctx context.Context) error {
	co := launch.CentralOptions{Binary: f.bins.Central, DataDir: filepath.Join(f.tmp, "central", "data"), Log: filepath.Join(f.tmp, "central.log"),
		StartTimeout: 2 * time.Minute}
	if err := os.MkdirAll(filepath.Dir(co.DataDir), 0o700); err != nil {
		return err
	}
	if f.o.broker == brokerMosquitto {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		f.svcPass = hex.EncodeToString(b)
		co.BrokerPasswordFile = filepath.Join(f.tmp, "central-password")
		if err := os.WriteFile(co.BrokerPasswordFile, []byte(f.svcPass+"\n"), 0o600); err != nil {
			return err
		}
		dir := filepath.Join(f.tmp, "mosquitto")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		m, err := startMosquitto(ctx, f.o.mosquitto, dir, f.o.doors+100)
		if err != nil {
			return err
		}
		f.mosq = m
		if err := m.writeAccounts(f.svcPass, nil); err != nil {
			return err
		}
		if err := m.reload(); err != nil {
			return err
		}
		co.BrokerURL = "mqtt://" + m.addr
	}
	c, err := launch.StartCentral(ctx, co)
	if err != nil {
		return err
	}
	f.central = c
	f.log.Info("central running", "pid", c.PID(), "http", c.Options.HTTPAddr, "broker", f.brokerAddr(), "log", co.Log)
	return nil
}

func (f *fleet) brokerAddr() string {
	if f.mosq != nil {
		return f.mosq.addr
	}
	return f.central.Options.MQTTAddr
}

// startDoors starts every door and waits until each holds its whitelist.
func (f *fleet) startDoors(ctx context.Context) error {
	key, err := f.central.PublicKey(ctx)
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(f.tmp, "doors.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// Closed with the doors; the agents log warnings and errors only.
	doorLog := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t := time.Now()
	f.doors = make([]*simDoor, len(f.net.doors))
	var mu sync.Mutex
	err = parallel(ctx, len(f.net.doors), 16, func(ctx context.Context, i int) error {
		d, err := startDoor(ctx, f.net.doors[i], filepath.Join(f.tmp, "doors"), f.brokerAddr(), key, doorLog)
		if err != nil {
			return err
		}
		mu.Lock()
		f.doors[i] = d
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	f.notes.startDoors = time.Since(t)
	f.log.Info("doors running", "doors", len(f.doors), "took", f.notes.startDoors.Round(time.Millisecond))
	t = time.Now()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		missing := 0
		for _, d := range f.doors {
			wi, err := d.store.Whitelist(ctx)
			if err != nil {
				return err
			}
			if wi.Version == 0 {
				missing++
			}
			if err := d.failed(); err != nil {
				return err
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d doors have no whitelist 5 minutes after they started (see %s and the central's log)", missing, len(f.doors), logFile.Name())
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	f.notes.whitelists = time.Since(t)
	f.log.Info("every door holds its whitelist", "took", f.notes.whitelists.Round(time.Millisecond))
	f.logCentral("doors connected and synced")
	return nil
}

// cleanup stops the doors and the services and removes the folder unless
// asked to keep it.
func (f *fleet) cleanup() {
	var wg sync.WaitGroup
	for _, d := range f.doors {
		if d != nil {
			wg.Go(func() { _ = d.stop() })
		}
	}
	wg.Wait()
	if f.db != nil {
		f.db.Close()
	}
	if f.central != nil {
		f.central.Stop()
	}
	if f.mosq != nil {
		f.mosq.Stop()
	}
	if !f.o.keep {
		os.RemoveAll(f.tmp)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// tapAndVerify runs the tap phase with its faults, then waits until every
// event is stored and credited, and checks.
func (f *fleet) tapAndVerify(ctx context.Context, seeded time.Time) error {
	f.mon = startMonitor(f.central)
	defer f.mon.stop()
	start := time.Now()
	phaseCtx, endPhase := context.WithCancel(ctx)
	var wg sync.WaitGroup
	tapErrs := make(chan error, len(f.doors))
	for i, d := range f.doors {
		wg.Go(func() {
			if err := f.tapDoor(phaseCtx, d, i, start); err != nil && phaseCtx.Err() == nil {
				tapErrs <- err
			}
		})
	}
	var faultErr error
	var restartAt time.Time
	var faults, backlog sync.WaitGroup
	faults.Go(func() { restartAt, faultErr = f.restarts(phaseCtx, start, ctx, &backlog) })
	if f.o.has(faultLinkCuts) {
		faults.Go(func() { f.notes.linkCuts = f.cutLinks(phaseCtx, start) })
	}
	wg.Wait()
	endPhase()
	faults.Wait()
	for _, d := range f.doors {
		d.link.Restore()
	}
	close(tapErrs)
	if err := errors.Join(faultErr, <-tapErrs); err != nil {
		return err
	}
	tapsEnd := time.Now()
	f.notes.tapPhase = tapsEnd.Sub(start)

	// What each door recorded: its last seq, once its reader is idle.
	last := map[string]uint64{}
	for _, d := range f.doors {
		if err := d.waitIdle(ctx); err != nil {
			return err
		}
		ob, err := d.outbox(ctx)
		if err != nil {
			return err
		}
		last[d.spec.ID] = ob.LastSeq
		f.res.EventsRecorded += ob.LastSeq
	}
	f.log.Info("tap phase over", "events_recorded", f.res.EventsRecorded, "took", f.notes.tapPhase.Round(time.Millisecond))
	f.logCentral("tap phase over")

	deadline := tapsEnd.Add(f.o.timeout)
	storedAt, err := f.waitStored(ctx, last, deadline)
	if err != nil {
		return err
	}
	backlog.Wait()
	f.notes.storedAfterTaps = storedAt.Sub(tapsEnd)
	if f.res.EventsRecorded > 0 {
		f.res.EventsPerS = round(float64(f.res.EventsRecorded)/storedAt.Sub(start).Seconds(), 1)
	}
	period := credit.PeriodOf(seeded, mustNetworkZone())
	creditedAt, creditErr := f.waitCredited(ctx, period, deadline)
	f.notes.creditedAfter = creditedAt.Sub(tapsEnd)

	// The verdict per door, from the API.
	eo, err := checkSequences(ctx, f.central, last, f.net.doors)
	if err != nil {
		return err
	}
	f.res.EventsStored, f.res.Missing, f.res.Duplicates = eo.stored, eo.missing, eo.duplicates
	f.res.ExactlyOnce = eo.ok() && f.res.EventsStored == f.res.EventsRecorded
	f.notes.sequenceProblems = eo.problems
	if f.notes.reasons, err = reasons(ctx, f.db); err != nil {
		return err
	}
	end := time.Now()
	f.res.DurationS = round(end.Sub(start).Seconds(), 1)
	f.usage(start, end)
	if !restartAt.IsZero() {
		f.res.StoredAfterRestartS = round(storedAt.Sub(restartAt).Seconds(), 1)
		if !creditedAt.IsZero() {
			f.res.CreditedAfterRestartS = round(creditedAt.Sub(restartAt).Seconds(), 1)
		}
	}
	var errs []error
	if !f.res.ExactlyOnce {
		errs = append(errs, fmt.Errorf("not exactly once: %d recorded, %d stored, %d missing, %d beyond what doors recorded; %s",
			f.res.EventsRecorded, f.res.EventsStored, f.res.Missing, f.res.Duplicates, strings.Join(eo.problems, "; ")))
	}
	if creditErr != nil {
		errs = append(errs, creditErr)
	}
	if !restartAt.IsZero() && f.o.within > 0 && f.res.Credited {
		if took := creditedAt.Sub(restartAt); took > f.o.within {
			errs = append(errs, fmt.Errorf("every event stored and credited %.1fs after the restart; the target is %v", took.Seconds(), f.o.within))
		}
	}
	return errors.Join(errs...)
}

// tapDoor presents badges at one door at the profile's times.
func (f *fleet) tapDoor(ctx context.Context, d *simDoor, i int, start time.Time) error {
	r := mrand.New(mrand.NewPCG(f.o.seed, uint64(i)))
	rights, all := f.net.rights[d.spec.Center], f.net.all
	for _, at := range tapTimes(r, f.o.profile, f.o.tapsPerDoor, f.o.duration) {
		if err := sleep(ctx, time.Until(start.Add(at))); err != nil {
			return err
		}
		var uid protocol.UID
		switch p := r.Float64(); {
		case p < 0.6 && len(rights) > 0:
			uid = rights[r.IntN(len(rights))] // granted: a booking here or a pass
		case p < 0.9:
			uid = all[r.IntN(len(all))] // mostly denied: no booking here
		default:
			uid = unknownUID(r)
		}
		if err := d.reader.Present(ctx, uid); err != nil {
			return fmt.Errorf("door %s: %w", d.spec.ID, err)
		}
	}
	return nil
}

// restarts injects the restart faults, spread over the tap phase (one in
// its middle), and returns when the last one began.
//
// After the last restart, it follows (on backlog, until runCtx ends) how
// long the central takes to hold every event recorded before the restart:
// the recovery proper, without the taps that come after.
func (f *fleet) restarts(ctx context.Context, start time.Time, runCtx context.Context, backlog *sync.WaitGroup) (time.Time, error) {
	var kinds []string
	for _, k := range f.o.faults {
		if k == faultBrokerRestart || k == faultCentralRestart {
			kinds = append(kinds, k)
		}
	}
	var last time.Time
	for n, k := range kinds {
		at := start.Add(f.o.duration * time.Duration(n+1) / time.Duration(len(kinds)+1))
		if err := sleep(ctx, time.Until(at)); err != nil {
			return last, nil // the phase ended first (all doors done): no fault
		}
		before := f.recorded(ctx)
		last = time.Now()
		var err error
		var what string
		switch {
		case k == faultBrokerRestart && f.mosq != nil:
			what = "mosquitto stopped (SIGTERM) and started"
			err = f.mosq.restart(context.WithoutCancel(ctx))
		case k == faultBrokerRestart:
			what = "central (embedded broker) stopped (SIGTERM) and started"
			f.mon.sample()
			f.central.Stop()
			err = f.central.Restart(context.WithoutCancel(ctx))
		default:
			what = "central killed (SIGKILL) and started"
			f.mon.sample()
			f.central.Kill()
			err = f.central.Restart(context.WithoutCancel(ctx))
		}
		if err != nil {
			return last, fmt.Errorf("%s: %w", k, err)
		}
		took := time.Since(last)
		f.notes.restarts = append(f.notes.restarts, fmt.Sprintf("%s at %.1fs into the tap phase, back after %.1fs", what, last.Sub(start).Seconds(), took.Seconds()))
		f.log.Info("fault injected", "fault", k, "what", what, "back_after", took.Round(time.Millisecond))
		if n == len(kinds)-1 {
			at := last
			backlog.Go(func() { f.followBacklog(runCtx, at, before) })
		}
	}
	return last, nil
}

// recorded is every door's last seq now.
func (f *fleet) recorded(ctx context.Context) map[string]uint64 {
	out := map[string]uint64{}
	for _, d := range f.doors {
		if ob, err := d.outbox(ctx); err == nil {
			out[d.spec.ID] = ob.LastSeq
		}
	}
	return out
}

// followBacklog polls the central's database until it holds, for every
// door, at least the events recorded before the restart at at.
func (f *fleet) followBacklog(ctx context.Context, at time.Time, before map[string]uint64) {
	for {
		if counts, err := storedEvents(ctx, f.db); err == nil {
			done := true
			for id, want := range before {
				if s := counts[id]; s.rows < want || s.max < want {
					done = false
					break
				}
			}
			if done {
				f.notes.backlog = time.Since(at)
				f.log.Info("every event recorded before the restart is stored", "after_restart", f.notes.backlog.Round(time.Millisecond))
				return
			}
		}
		if sleep(ctx, 250*time.Millisecond) != nil {
			return
		}
	}
}

// logCentral logs the central's resident memory at a stage of the run.
func (f *fleet) logCentral(stage string) {
	if u, err := launch.ProcessUsage(f.central.PID()); err == nil {
		f.log.Info("central", "stage", stage, "rss_mib", mib(u.RSSBytes), "peak_rss_mib", mib(u.PeakRSSBytes), "cpu_s", u.CPUSeconds)
	}
}

// cutLinks cuts a few doors' links every second, each for 1 to 5 s, until
// ctx ends; it returns how many cuts it made.
func (f *fleet) cutLinks(ctx context.Context, start time.Time) int {
	r := mrand.New(mrand.NewPCG(f.o.seed, 1<<40))
	cuts := 0
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if err := sleep(ctx, time.Second); err != nil {
			return cuts
		}
		for range max(1, len(f.doors)/50) {
			d := f.doors[r.IntN(len(f.doors))]
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

// waitStored polls the central's database until it holds every door's
// events 1..last, once each, and every door's outbox is empty.
func (f *fleet) waitStored(ctx context.Context, last map[string]uint64, deadline time.Time) (time.Time, error) {
	for {
		counts, err := storedEvents(ctx, f.db)
		if err == nil {
			pending, outboxes := 0, 0
			for _, d := range f.doors {
				s, want := counts[d.spec.ID], last[d.spec.ID]
				if s.rows != want || s.distinct != want || s.max != want {
					pending++
				}
				ob, err := d.outbox(ctx)
				if err != nil {
					return time.Time{}, err
				}
				if ob.Depth > 0 {
					outboxes++
				}
				if err := d.failed(); err != nil {
					return time.Time{}, err
				}
			}
			if pending == 0 && outboxes == 0 {
				at := time.Now()
				f.log.Info("every event stored once and acknowledged", "after_last_tap", at.Sub(deadline.Add(-f.o.timeout)).Round(time.Millisecond))
				return at, nil
			}
			if time.Now().After(deadline) {
				return time.Time{}, fmt.Errorf("after %v: %d doors' events not all stored, %d outboxes not empty", f.o.timeout, pending, outboxes)
			}
		} else if time.Now().After(deadline) {
			return time.Time{}, err
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// waitCredited polls until the central's ledger equals the recomputation
// from the stored events.
func (f *fleet) waitCredited(ctx context.Context, p credit.Period, deadline time.Time) (time.Time, error) {
	for {
		ledger, err := ledgerSettlement(ctx, f.central, p)
		var scratch *credit.Settlement
		if err == nil {
			scratch, err = scratchSettlement(ctx, f.bins.Central, f.central.Options.DataDir, p)
		}
		if err == nil {
			diffs := compareSettlements(ledger, scratch)
			if len(diffs) == 0 {
				at := time.Now()
				f.res.Credited = true
				f.res.CreditDetail = "ledger equals the recomputation from the stored events: " + creditSummary(scratch)
				return at, nil
			}
			f.res.CreditDetail = "ledger differs from the recomputation: " + strings.Join(diffs, "; ")
			f.notes.creditProblems = diffs
		} else {
			f.res.CreditDetail = err.Error()
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not credited after %v: %s", f.o.timeout, f.res.CreditDetail)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return time.Time{}, err
		}
	}
}

// usage fills the resource figures.
func (f *fleet) usage(start, end time.Time) {
	f.mon.sample()
	u := f.mon.central()
	f.res.CentralRSSMiB = mib(u.RSSBytes)
	f.res.CentralPeakRSSMiB = mib(u.PeakRSSBytes)
	f.res.CentralCPUCores = round(u.CPUSeconds/end.Sub(start).Seconds(), 2)
	f.res.FleetRSSMiB = mib(f.mon.fleetPeak())
}

func mib(b uint64) float64 { return round(float64(b)/(1<<20), 1) }

func round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

func mustNetworkZone() *time.Location {
	loc, err := time.LoadLocation(domain.NetworkTimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// raiseFileLimit raises the open-file limit to need when it is lower (a
// door holds its store, its connection and its link's three sockets) and
// says what the limit is.
func raiseFileLimit(need uint64, log *slog.Logger) string {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return "unknown"
	}
	if lim.Cur >= need {
		return fmt.Sprint(lim.Cur)
	}
	want := syscall.Rlimit{Cur: need, Max: max(lim.Max, need)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
		log.Warn("open-file limit is lower than this fleet needs", "need", need, "limit", lim.Max, "err", err)
		return fmt.Sprintf("%d (needs about %d)", lim.Max, need)
	}
	return fmt.Sprintf("%d (raised from %d)", need, lim.Cur)
}

// printHuman writes the figures for a person.
func printHuman(w io.Writer, r result, n notes) {
	fmt.Fprintf(w, "swc-fleet: %d doors, broker %s, profile %s, faults %s\n", r.Doors, r.Broker, r.Profile, strings.Join(append([]string{"none"}, r.Faults...)[min(1, len(r.Faults)):], ","))
	fmt.Fprintf(w, "  build %.1fs, seed %.1fs, doors started %.1fs, whitelists %.1fs, open-file limit %s\n",
		n.build.Seconds(), n.seed.Seconds(), n.startDoors.Seconds(), n.whitelists.Seconds(), n.nofile)
	for _, s := range n.restarts {
		fmt.Fprintf(w, "  fault: %s\n", s)
	}
	if n.linkCuts > 0 {
		fmt.Fprintf(w, "  fault: %d link cuts of 1-5 s\n", n.linkCuts)
	}
	fmt.Fprintf(w, "  tap phase %.1fs; events recorded %d, stored %d, missing %d, beyond recorded %d: exactly once %v\n",
		n.tapPhase.Seconds(), r.EventsRecorded, r.EventsStored, r.Missing, r.Duplicates, r.ExactlyOnce)
	var rs []string
	for k, v := range n.reasons {
		rs = append(rs, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(rs)
	fmt.Fprintf(w, "  taps by reason: %s\n", strings.Join(rs, ", "))
	fmt.Fprintf(w, "  stored %.1fs after the last tap, credited %.1fs after the last tap\n", n.storedAfterTaps.Seconds(), max(0, n.creditedAfter.Seconds()))
	if slices.Contains(r.Faults, faultBrokerRestart) || slices.Contains(r.Faults, faultCentralRestart) {
		fmt.Fprintf(w, "  after the restart: events recorded before it stored in %.1fs; every event stored in %.1fs, credited in %.1fs\n",
			n.backlog.Seconds(), r.StoredAfterRestartS, r.CreditedAfterRestartS)
	}
	fmt.Fprintf(w, "  credited %v: %s\n", r.Credited, r.CreditDetail)
	fmt.Fprintf(w, "  %.1f events/s; central RSS %.1f MiB (peak %.1f MiB), %.2f CPU cores; fleet RSS %.1f MiB; %.1fs\n",
		r.EventsPerS, r.CentralRSSMiB, r.CentralPeakRSSMiB, r.CentralCPUCores, r.FleetRSSMiB, r.DurationS)
	for _, p := range n.sequenceProblems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  FAILED: %s\n", r.Error)
	}
}
