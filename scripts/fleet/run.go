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
	"github.com/smartworkcenters/swc/scripts/internal/fleetreport"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
)

// notes are figures for people, printed besides the result.
type notes struct {
	dir                                      string
	build, seed, startDoors, whitelists      time.Duration
	tapPhase, storedAfterTaps, creditedAfter time.Duration
	reasons                                  map[string]int
	restarts                                 []string
	backlog                                  time.Duration // from the restart until the events recorded before it were stored
	linkCuts                                 int
	shards                                   int
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
	db      *sql.DB
	mon     *monitor
	shards  []shard
	prof    *profiler  // with --pprof
	mu      sync.Mutex // guards notes written by the shards' goroutines
	res     fleetreport.Report
	notes   notes
}

// run runs the fleet and returns its figures; the error says what failed
// (the figures are filled as far as the run got).
func run(ctx context.Context, o options, log *slog.Logger) (fleetreport.Report, notes, error) {
	f := &fleet{o: o, log: log, res: fleetreport.Report{Doors: o.doors, Members: o.members, Badges: o.totalBadges(), Broker: o.broker, Profile: o.profile, Faults: append([]string{}, o.faults...)}}
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
	// Deferred after cleanup, so it runs before the folder is removed,
	// however far the run got.
	defer f.readStartupCompile()
	f.notes.nofile = raiseFileLimit(uint64(f.o.doors)*doorFiles(f.o.has(faultLinkCuts))+512, f.log)

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
	f.res.SeedS = f.notes.seed.Seconds()
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
	co := launch.CentralOptions{Binary: f.bins.Central, DataDir: filepath.Join(f.tmp, "central", "data"), Log: f.centralLog(),
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
	if f.o.pprof {
		addr, err := launch.FreeAddr()
		if err != nil {
			return err
		}
		co.Extra = append(co.Extra, "--pprof", addr)
		f.prof = newProfiler(addr, f.tmp)
	}
	if f.o.memLimit != "" {
		co.Env = append(co.Env, "GOMEMLIMIT="+f.o.memLimit)
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

// startDoors starts every door, in shards, and waits until each holds its
// whitelist.
func (f *fleet) startDoors(ctx context.Context) error {
	key, err := f.central.PublicKey(ctx)
	if err != nil {
		return err
	}
	cuttable := f.o.has(faultLinkCuts)
	n := f.o.shards
	if n == 0 {
		n = autoShards(f.o.doors, doorFiles(cuttable))
	}
	n = min(n, f.o.doors)
	f.notes.shards = n
	t := time.Now()
	f.shards = make([]shard, n)
	per := (len(f.net.doors) + n - 1) / n
	err = parallel(ctx, n, n, func(ctx context.Context, i int) error {
		first := i * per
		job := shardJob{Index: i, First: first, Doors: f.net.doors[first:min(first+per, len(f.net.doors))],
			Dir: filepath.Join(f.tmp, "doors"), Log: filepath.Join(f.tmp, fmt.Sprintf("doors-%d.log", i)),
			Broker: f.brokerAddr(), Key: key, Cuttable: cuttable, Seed: f.o.seed, Profile: f.o.profile,
			Taps: f.o.tapsPerDoor, Duration: f.o.duration, Rights: f.net.rights, All: f.net.all}
		var s shard
		var err error
		if n == 1 {
			s, err = startLocalShard(ctx, job)
		} else {
			s, err = startRemoteShard(ctx, job, filepath.Join(f.tmp, fmt.Sprintf("worker-%d.log", i)))
		}
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		f.shards[i] = s
		return nil
	})
	if err != nil {
		return err
	}
	f.notes.startDoors = time.Since(t)
	f.log.Info("doors running", "doors", len(f.net.doors), "processes", n, "took", f.notes.startDoors.Round(time.Millisecond))
	t = time.Now()
	wait := whitelistWait(len(f.net.doors))
	deadline := time.Now().Add(wait)
	for {
		states, err := f.states(ctx)
		if err != nil {
			return err
		}
		missing := 0
		for _, st := range states {
			if !st.Synced {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d doors have no whitelist %v after they started (see doors-*.log and the central's log in %s)", missing, len(states), wait, f.tmp)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	f.notes.whitelists = time.Since(t)
	f.log.Info("every door holds its whitelist", "took", f.notes.whitelists.Round(time.Millisecond))
	f.logCentral("doors connected and synced")
	return nil
}

// whitelistWait is how long the doors may take to hold their whitelists
// once started: 5 minutes, and 60 ms a door beyond 5,000. Every door of a
// fresh fleet needs a whole signed snapshot (about 1 MB at 20,000 members),
// which the central signs on the 2 cores it shares with the simulated
// doors: 10,000 doors took 5 to 6 minutes here.
func whitelistWait(doors int) time.Duration {
	return max(5*time.Minute, time.Duration(doors)*60*time.Millisecond)
}

// doorFiles is how many files a door holds open: its store and its MQTT
// connection, and with a cuttable link the link's listener and sockets.
func doorFiles(cuttable bool) uint64 {
	if cuttable {
		return 5
	}
	return 2
}

// autoShards is how many processes the doors need within this process's
// open-file limit (each worker has the same).
func autoShards(doors int, perDoor uint64) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 1024 {
		return 1
	}
	budget := lim.Cur - 512 // the process's own files, the API client, the database
	return int((uint64(doors)*perDoor + budget - 1) / budget)
}

// states gathers every door's state from the shards.
func (f *fleet) states(ctx context.Context) (map[string]doorState, error) {
	parts := make([]map[string]doorState, len(f.shards))
	err := parallel(ctx, len(f.shards), len(f.shards), func(ctx context.Context, i int) error {
		var err error
		parts[i], err = f.shards[i].states(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]doorState, len(f.net.doors))
	for _, p := range parts {
		for k, v := range p {
			out[k] = v
		}
	}
	return out, nil
}

// cleanup stops the doors and the services and removes the folder unless
// asked to keep it.
func (f *fleet) cleanup() {
	var wg sync.WaitGroup
	for _, sh := range f.shards {
		if sh != nil {
			wg.Go(func() { _ = sh.stop() })
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
	var workers []int
	for _, s := range f.shards {
		if r, ok := s.(*remoteShard); ok {
			workers = append(workers, r.cmd.Process.Pid)
		}
	}
	f.mon = startMonitor(f.central, workers, f.peakProfile)
	defer f.mon.stop()
	start := time.Now()
	phaseCtx, endPhase := context.WithCancel(ctx)
	var faultErr error
	var restartAt time.Time
	var faults, backlog sync.WaitGroup
	faults.Go(func() { restartAt, faultErr = f.restarts(phaseCtx, start, ctx, &backlog) })
	tapErr := parallel(ctx, len(f.shards), len(f.shards), func(ctx context.Context, i int) error {
		n, err := f.shards[i].taps(ctx, start)
		f.mu.Lock()
		f.notes.linkCuts += n
		f.mu.Unlock()
		return err
	})
	endPhase()
	faults.Wait()
	if err := errors.Join(faultErr, tapErr); err != nil {
		return err
	}
	tapsEnd := time.Now()
	f.notes.tapPhase = tapsEnd.Sub(start)

	// What each door recorded: its last seq (every reader is idle now).
	states, err := f.states(ctx)
	if err != nil {
		return err
	}
	last := map[string]uint64{}
	for id, st := range states {
		last[id] = st.Last
		f.res.EventsRecorded += st.Last
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
		// What the doors hold at the restart, read while it happens so as
		// not to delay it (a loaded fleet takes a while to ask every door):
		// a few more events than were recorded before it, which only makes
		// the recovery figure stricter.
		recordedNow := make(chan map[string]uint64, 1)
		go func() { recordedNow <- f.recorded(ctx) }()
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
		before := <-recordedNow
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
	states, err := f.states(ctx)
	if err != nil {
		return out
	}
	for id, st := range states {
		out[id] = st.Last
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

// logCentral logs the central's resident memory at a stage of the run
// (and with --pprof saves its heap profile).
func (f *fleet) logCentral(stage string) {
	if u, err := launch.ProcessUsage(f.central.PID()); err == nil {
		f.log.Info("central", "stage", stage, "rss_mib", mib(u.RSSBytes), "peak_rss_mib", mib(u.PeakRSSBytes), "cpu_s", u.CPUSeconds)
	}
	if err := f.prof.heap(context.Background(), stage); err != nil {
		f.log.Warn("central heap profile not saved", "stage", stage, "err", err)
	}
}

// peakProfile, with --pprof, saves the central's heap profile when its
// resident memory reaches a new high (heap-peak.pprof).
func (f *fleet) peakProfile(rss uint64) {
	if f.prof == nil {
		return
	}
	if err := f.prof.heap(context.Background(), "peak"); err != nil {
		f.log.Warn("central heap profile not saved", "stage", "peak", "rss_mib", mib(rss), "err", err)
	}
}

// waitStored polls the central's database until it holds every door's
// events 1..last, once each, and every door's outbox is empty.
func (f *fleet) waitStored(ctx context.Context, last map[string]uint64, deadline time.Time) (time.Time, error) {
	for {
		counts, err := storedEvents(ctx, f.db)
		if err == nil {
			states, err := f.states(ctx)
			if err != nil {
				return time.Time{}, err
			}
			pending, outboxes := 0, 0
			for id, want := range last {
				if s := counts[id]; s.rows != want || s.distinct != want || s.max != want {
					pending++
				}
				if states[id].Depth > 0 {
					outboxes++
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
// from the stored events, and returns when the ledger that matched was
// read: the recomputation (the central's settle --from-scratch, run on the
// database) takes a second or more at 10,000 doors, and every event was
// stored before the first poll, so the ledger read then was already
// complete.
func (f *fleet) waitCredited(ctx context.Context, p credit.Period, deadline time.Time) (time.Time, error) {
	for {
		ledger, err := ledgerSettlement(ctx, f.central, p)
		read := time.Now()
		var scratch *credit.Settlement
		if err == nil {
			scratch, err = scratchSettlement(ctx, f.bins.Central, f.central.Options.DataDir, p)
		}
		if err == nil {
			diffs := compareSettlements(ledger, scratch)
			if len(diffs) == 0 {
				at := read
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

// raiseFileLimit raises the open-file limit to need when it is lower and
// says what the limit is. Raising the hard limit takes CAP_SYS_RESOURCE.
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
		log.Info("open-file limit below what the doors need in one process: they are split over worker processes", "need", need, "limit", lim.Max, "err", err)
		return fmt.Sprintf("%d (needs about %d)", lim.Max, need)
	}
	return fmt.Sprintf("%d (raised from %d)", need, lim.Cur)
}

// startupCompile says the central's last start-up compile for a person.
func startupCompile(s float64) string {
	switch {
	case s <= 0:
		return "start-up compile not in central.log"
	case s < 0.1:
		return fmt.Sprintf("start-up compile %.3fs (the central's last start)", s)
	default:
		return fmt.Sprintf("start-up compile %.1fs (the central's last start)", s)
	}
}

// printHuman writes the figures for a person.
func printHuman(w io.Writer, r fleetreport.Report, n notes) {
	fmt.Fprintf(w, "swc-fleet: %d doors, %d members with a booking, %d badges, broker %s, profile %s, faults %s\n", r.Doors, r.Members, r.Badges, r.Broker, r.Profile, strings.Join(append([]string{"none"}, r.Faults...)[min(1, len(r.Faults)):], ","))
	fmt.Fprintf(w, "  build %.1fs, seed %.1fs, doors started %.1fs in %d process(es), whitelists %.1fs, open-file limit %s\n",
		n.build.Seconds(), n.seed.Seconds(), n.startDoors.Seconds(), n.shards, n.whitelists.Seconds(), n.nofile)
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
		fmt.Fprintf(w, "  after the restart: events recorded before it stored in %.1fs; every event stored in %.1fs, credited in %.1fs; %s\n",
			n.backlog.Seconds(), r.StoredAfterRestartS, r.CreditedAfterRestartS, startupCompile(r.StartupCompileS))
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
