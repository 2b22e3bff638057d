// Package posting runs the hours ledger inside the central service
// (PRODUCT.md 4.6): it posts the stored events to the ledger (the pure
// computation of package credit), in order, on exactly one replica. It
// feeds a credit.Ledger from the ingest's commits and from the store's
// domain changes, keeps the directory of centers, doors, members, bookings
// and passes that the ledger credits against, and serves settlements,
// statements and period closes to the API and the dashboard.
//
// One worker goroutine (Run) does every write to the ledger, so the ingest
// and the store's writers only append to a list and never wait for it:
//
//   - Committed (the ingest's hook) queues the committed events. The
//     worker gathers what arrived until the ingest is quiet (Config.Quiet,
//     at most Config.MaxDefer, and at least Config.Every after the last
//     update while commits keep coming) and, in one go, tracks them (store.CreditStore.Track), updates the ledger and marks
//     them credited. Events without a member (door events) are only
//     counted; each of their updates reads every such event of a period,
//     so they are credited at most every Config.NoMemberEvery.
//   - Changed (a store.Feed subscriber) queues domain changes. Once none
//     came for Config.Debounce, the worker reloads the directory, then
//     recomputes the members of booking and pass changes over the periods
//     the booking or pass covers, before and after the change (closed
//     periods get adjustment lines), the members whose home changed over
//     the open periods, and, after a change of a door or center that
//     matters to crediting (center, exit flag, room, time zone, hours,
//     rate), rebuilds every open period.
//   - A failed step is logged, counted and retried after Config.RetryAfter;
//     its events stay queued.
//   - Reads (Settlement, Statement, Sync) first have the worker credit what
//     is queued: they see every event the ingest acknowledged before them.
//   - The network settings (package settings, read from the store) give
//     each period its rules: rates, currency, grace, no-show policy and
//     default visit. A new settings version (a KindSettings change)
//     reloads them and rebuilds the open periods; closed periods keep
//     their frozen settlements, which record the version they used.
//
// Nothing is lost across a crash: the store remembers the receipt time up
// to which events were credited, and StartTracking returns what was
// committed since (see store.CreditStore); an event that the ingest
// committed while the crediting started is both among those and queued by
// Committed, and is credited and counted once. Each start also rebuilds the
// open periods from the stored events, so that they follow this version's
// rules (see rebuildOpen). Run must be running before the
// ingest starts and stop after it.
//
// Only one process credits a store. PostgreSQL replicas sharing the store
// run with Config.Cursor: the one the server elects runs Run and posts the
// events every replica stored, read through the store's posting cursor;
// the others serve reads from the ledger it persisted (see replica.go).
package posting

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Defaults of Config.
const (
	DefaultEvery         = 500 * time.Millisecond
	DefaultNoMemberEvery = time.Minute
	DefaultDebounce      = 2 * time.Second
	DefaultRetryAfter    = 5 * time.Second
	DefaultQuiet         = time.Second
	DefaultMaxDefer      = 10 * time.Second
	DefaultStopWithin    = time.Second
)

// maxOpenPeriods bounds the open periods a directory change rebuilds: the
// current one and the eleven before it. Periods should be closed monthly;
// an open period older than that keeps its figures until it is closed
// (closing rebuilds it).
const maxOpenPeriods = 12

// Config configures the crediting.
type Config struct {
	// Rules are the base rules: the time zone and what is not a setting.
	// Each period's rates, currency, grace, no-show policy and default
	// visit come from the store's network settings (settings.History),
	// unless FixedRules.
	Rules credit.Config
	// FixedRules computes every period with Rules as given, ignoring the
	// stored settings (a one-off recomputation).
	FixedRules bool
	Store      store.Store
	Logger     *slog.Logger      // default slog.Default()
	Metrics    *metrics.Registry // default: a registry of its own
	// Now is the time that says which periods are open and may close
	// (default time.Now); the worker's pacing runs on the real clock.
	Now func() time.Time

	// Every is the shortest pause between two ledger updates while commits
	// keep coming (the crediting rests this long, or twice as long as its
	// last update took); once no commit came for Quiet, what is queued is
	// credited at once.
	Every time.Duration
	// NoMemberEvery is how often events without a member are credited.
	NoMemberEvery time.Duration
	// Debounce is how long domain changes gather before the ledger
	// follows them.
	Debounce time.Duration
	// RetryAfter is the pause after a failed step.
	RetryAfter time.Duration
	// Quiet and MaxDefer give the ingest the machine during a burst: while
	// commits keep arriving less than Quiet apart, the crediting waits, but
	// never longer than MaxDefer after the oldest waiting commit. Crediting
	// a burst afterwards in one update also costs less per event.
	Quiet    time.Duration
	MaxDefer time.Duration
	// StopWithin bounds how long Run's end credits what is queued: a
	// backlog left by a reconnect storm would hold a restart (3 s with
	// 3,000 doors); what is left the next start credits (the session then
	// did not end cleanly: StartTracking returns it), as after a crash.
	StopWithin time.Duration

	// Cursor: replicas share a PostgreSQL store. The events to credit come
	// from the store's posting cursor, stored by any replica, not from the
	// Committed hook, which only wakes the worker; while Run does not run,
	// the service is a follower (see replica.go).
	Cursor bool
	// PollEvery is how often the leader reads the events other replicas
	// stored (Cursor).
	PollEvery time.Duration
	// FollowWait bounds how long a follower's read waits for the leader to
	// post the events stored before it.
	FollowWait time.Duration
	// FollowReload is how old a follower's directory may be.
	FollowReload time.Duration
	// Build identifies the code's crediting rules: a start rebuilds the
	// open periods only when the store says another build rebuilt them
	// last. Default (buildID, worked out by Run's start, not by New, since
	// hashing the executable reads it whole): this binary's VCS revision
	// when its tree was clean, else its executable's hash.
	Build string
}

// Service is the central's crediting.
type Service struct {
	cfg    Config
	st     store.Store
	cs     store.CreditStore
	ledger *credit.Ledger
	log    *slog.Logger
	kick   chan struct{}
	reqs   chan request

	mu          sync.Mutex // guards what the hooks append to, and working
	commits     []commit
	firstCommit time.Time // when the oldest waiting commit arrived
	lastCommit  time.Time // when the newest arrived
	changes     []domain.Change
	working     bool // the worker took commits or changes it has not finished
	firstChange time.Time
	lastChange  time.Time

	dirMu sync.RWMutex
	dir   *directory

	// settingsLoaded is how many stored settings versions the ledger's
	// rules come from (versions are only added): a read that finds more
	// in the store (stored through another replica) has them followed.
	settingsLoaded atomic.Int64

	// The worker's own state.
	toCredit    []domain.Event         // tracked events of members, not yet credited
	noMember    map[credit.Period]bool // periods of tracked events without a member, not yet credited
	noMemberMin int64                  // earliest receipt among them
	noMemberN   int                    // how many
	trackedMax  int64                  // latest receipt tracked
	lastUpdate  time.Time              // when the last update ended
	rest        time.Duration          // the pause before the next: Every, or twice the last update's time
	lastNoMem   time.Time
	retryAt     time.Time
	// recovered holds the keys of the events start credited from the
	// store, until the ingest's hook is past them (see track): a commit
	// stored before StartTracking read the events may also be queued, or
	// be about to be queued, by Committed. Such an event is counted and
	// credited once.
	recovered map[eventKey]struct{}
	// cur is the leader's reading position (Cursor), epoch its leader
	// epoch (store.PostingCursor.TakeLead).
	cur   cursorState
	epoch int64

	// running is set while Run runs: with Cursor, reads are a follower's
	// when it is not.
	running atomic.Bool
	// A follower's directory (replica), read again when older than
	// FollowReload or stale after a local change.
	repMu    sync.Mutex
	rep      *directory
	repAt    time.Time
	repStale bool

	eventsCredited, updates, rebuilds, closes *metrics.Counter
	errs                                      *metrics.CounterVec
	pending                                   *metrics.Gauge
}

// eventKey identifies a committed event: its door and seq, with its receipt
// and door times (the same stored event has the same ones whichever way it
// reaches the crediting).
type eventKey struct {
	door               string
	seq                uint64
	receivedMs, timeMs int64
}

// commit is one ingest commit, reduced to what crediting reads (door, seq,
// member, door time).
type commit struct {
	receivedMs int64
	batches    []store.DoorEvents
}

type request struct {
	close credit.Period // zero: flush only
	// through closes every open period up to close (CloseThrough).
	through bool
	sync    bool // a read's barrier: commits and changes only
	reply   chan result
	// who asked for the close, for the audit log (the close runs in the
	// crediting's goroutine, not in the asker's context)
	actor audit.Actor
}

type result struct {
	s   *credit.Settlement
	all []*credit.Settlement // CloseThrough's, oldest first
	err error
}

// New returns the crediting over cfg.Store; Run does its work.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("posting: a store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.Every, DefaultEvery}, {&cfg.NoMemberEvery, DefaultNoMemberEvery}, {&cfg.Debounce, DefaultDebounce},
		{&cfg.Quiet, DefaultQuiet}, {&cfg.MaxDefer, DefaultMaxDefer}, {&cfg.RetryAfter, DefaultRetryAfter}, {&cfg.StopWithin, DefaultStopWithin},
		{&cfg.PollEvery, DefaultPollEvery}, {&cfg.FollowWait, DefaultFollowWait}, {&cfg.FollowReload, DefaultFollowReload}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	cs := cfg.Store.Credit()
	ledger, err := credit.NewLedger(cfg.Rules, cs)
	if err != nil {
		return nil, fmt.Errorf("posting: %w", err)
	}
	reg := cfg.Metrics
	return &Service{
		cfg: cfg, st: cfg.Store, cs: cs, ledger: ledger, log: cfg.Logger.With("component", "crediting"),
		kick: make(chan struct{}, 1), reqs: make(chan request), noMember: map[credit.Period]bool{},

		eventsCredited: reg.Counter("swc_credit_events_total", "Committed events handed to the hours ledger."),
		updates:        reg.Counter("swc_credit_updates_total", "Hours ledger updates after commits or domain changes."),
		rebuilds:       reg.Counter("swc_credit_rebuilds_total", "Open periods rebuilt after a change of a door or center."),
		closes:         reg.Counter("swc_credit_closes_total", "Periods closed."),
		errs:           reg.CounterVec("swc_credit_errors_total", "Failed crediting steps (retried), by step.", "step"),
		pending:        reg.Gauge("swc_credit_pending_events", "Committed events not yet credited."),
	}, nil
}

// Rules returns the base crediting rules (the time zone; see Config.Rules).
func (s *Service) Rules() credit.Config { return s.ledger.Config() }

// PeriodRules returns the rules period p is computed with (its settings
// version's).
func (s *Service) PeriodRules(p credit.Period) credit.Config { return s.ledger.Rules(p) }

// loadSettings gives the ledger the rules of each period from the stored
// settings (nothing with Config.FixedRules).
func (s *Service) loadSettings(ctx context.Context) error {
	if s.cfg.FixedRules {
		return nil
	}
	h, err := s.st.SettingsHistory(ctx)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	rules, err := h.RulesFunc(s.cfg.Rules)
	if err != nil {
		return err
	}
	s.ledger.SetRules(rules)
	s.settingsLoaded.Store(int64(len(h)))
	cur := h.At(s.cfg.Now(), s.cfg.Rules.Location)
	s.log.Info("crediting: network settings loaded", "versions", len(h), "current_version", cur.Number,
		"default_rate_cents", cur.Settings.DefaultRateCents, "currency", cur.Settings.Currency)
	return nil
}

// checkSettings queues a settings change when the store holds versions the
// ledger has not loaded: a PostgreSQL replica without the crediting stored
// them (its changes are not notified here), so a read follows them.
func (s *Service) checkSettings(ctx context.Context) {
	if s.cfg.FixedRules {
		return
	}
	h, err := s.st.SettingsHistory(ctx)
	if err != nil {
		s.errs.With("settings").Inc()
		s.log.Warn("crediting: could not check the stored settings; the read uses those loaded", "err", err)
		return
	}
	if int64(len(h)) != s.settingsLoaded.Load() {
		s.Changed(ctx, domain.Change{Kind: domain.KindSettings, SettingsVersion: h.Latest().Number})
	}
}

// LoadRules returns the rules of every period from the store's settings,
// over base: what the crediting computes with, for a reader that runs
// without it (swc-central settle).
func LoadRules(ctx context.Context, st store.Store, base credit.Config) (func(credit.Period) credit.Config, settings.History, error) {
	h, err := st.SettingsHistory(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("settings: %w", err)
	}
	rules, err := h.RulesFunc(base)
	if err != nil {
		return nil, nil, err
	}
	return rules, h, nil
}

// Committed is the ingest's Committed hook: it queues the events and
// returns at once. With Config.Cursor it only wakes the leader's worker,
// which reads every replica's events from the store (a follower ignores
// it).
func (s *Service) Committed(receivedMs int64, batches []ingest.Batch) {
	if s.cfg.Cursor {
		s.committedCursor(receivedMs, batches)
		return
	}
	c := commit{receivedMs: receivedMs, batches: make([]store.DoorEvents, 0, len(batches))}
	n := 0
	for _, b := range batches {
		evs := make([]protocol.Event, len(b.Events))
		for i := range b.Events {
			e := &b.Events[i]
			evs[i] = protocol.Event{Seq: e.Seq, TimeMs: e.TimeMs, Member: e.Member}
		}
		c.batches = append(c.batches, store.DoorEvents{Door: b.Door, Events: evs})
		n += len(evs)
	}
	if n == 0 {
		return
	}
	now := time.Now()
	s.mu.Lock()
	if len(s.commits) == 0 {
		s.firstCommit = now
	}
	s.commits = append(s.commits, c)
	s.lastCommit = now
	s.mu.Unlock()
	s.pending.Add(float64(n))
	s.poke()
}

// Changed is a store.Feed subscriber: it queues the changes crediting
// follows and returns at once.
func (s *Service) Changed(_ context.Context, ch domain.Change) {
	switch ch.Kind {
	case domain.KindBooking, domain.KindPass, domain.KindMember, domain.KindDoor, domain.KindCenter, domain.KindSettings:
	default:
		return // rooms, badges and staff do not change credits
	}
	if s.cfg.Cursor && !s.running.Load() {
		// The leader learns it from the replicas' change notes; this
		// follower reads its directory again.
		s.repMu.Lock()
		s.repStale = true
		s.repMu.Unlock()
		return
	}
	now := time.Now() // pacing runs on the real clock; Config.Now says which periods are open
	s.mu.Lock()
	if len(s.changes) == 0 {
		s.firstChange = now
	}
	s.changes = append(s.changes, ch)
	s.lastChange = now
	s.mu.Unlock()
	s.poke()
}

func (s *Service) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// directory returns the current directory snapshot.
func (s *Service) directory() *directory {
	s.dirMu.RLock()
	defer s.dirMu.RUnlock()
	return s.dir
}

// ErrNotRunning is returned while the crediting has not started (or has
// stopped).
var ErrNotRunning = errors.New("posting: not running")

func (s *Service) ready(ctx context.Context) (*directory, error) {
	if s.following() {
		return s.replica(ctx, 1<<62)
	}
	d := s.directory()
	if d == nil {
		return nil, ErrNotRunning
	}
	return d, nil
}

// Sync credits every commit and domain change queued so far (the counts
// of events without a member may stay up to Config.NoMemberEvery behind),
// so that a read after it sees every event the ingest acknowledged before
// it. When a step fails (it is logged, counted and retried), Sync returns
// nil all the same: the reader gets the ledger as it stands.
func (s *Service) Sync(ctx context.Context) error {
	if s.following() {
		return s.followSync(ctx)
	}
	if _, err := s.ready(ctx); err != nil {
		return err
	}
	s.checkSettings(ctx)
	s.mu.Lock()
	// With Cursor, other replicas' events are not queued here: the
	// worker reads them.
	queued := len(s.commits) > 0 || len(s.changes) > 0 || s.working || s.cfg.Cursor
	s.mu.Unlock()
	if !queued {
		return nil
	}
	if _, err := s.ask(ctx, request{sync: true}); err != nil {
		return err
	}
	return nil
}

// Settlement returns the period's settlement: frozen when the period is
// closed, else as the ledger holds it after Sync.
func (s *Service) Settlement(ctx context.Context, p credit.Period) (*credit.Settlement, error) {
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	d, err := s.ready(ctx)
	if err != nil {
		return nil, err
	}
	return s.ledger.Settlement(ctx, d.dir, p)
}

// Statement returns a member's statement for the period, after Sync. A
// member unknown to the directory with nothing in the ledger is
// store.ErrNotFound.
func (s *Service) Statement(ctx context.Context, member string, p credit.Period) (*credit.Statement, error) {
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	d, err := s.ready(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.ledger.Statement(ctx, d.dir, member, p)
	if err != nil {
		return nil, err
	}
	if d.dir.Member(member) == nil && len(st.Visits) == 0 && len(st.Adjustments) == 0 && len(st.Counts) == 0 {
		return nil, store.Errf(store.ErrNotFound, "id", "member %s", member)
	}
	return st, nil
}

// Close credits everything committed so far, then closes period p (see
// credit.Ledger.Close) and returns its frozen settlement.
func (s *Service) Close(ctx context.Context, p credit.Period) (*credit.Settlement, error) {
	if p.IsZero() {
		return nil, fmt.Errorf("posting: close: %w: no period", credit.ErrPeriod)
	}
	actor, ok := audit.ActorFrom(ctx)
	if !ok {
		actor = audit.System("crediting")
	}
	req := request{close: p, actor: actor}
	if s.following() {
		r, err := s.closeAsFollower(ctx, req)
		if err != nil {
			return nil, err
		}
		return r.s, r.err
	}
	r, err := s.ask(ctx, req)
	if err != nil {
		return nil, err
	}
	return r.s, r.err
}

// ToClose lists the open periods that CloseThrough(p) would close, oldest
// first (see credit.Ledger.ToClose): what the console lists before an
// administrator confirms.
func (s *Service) ToClose(ctx context.Context, p credit.Period) ([]credit.Period, error) {
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	return s.ledger.ToClose(ctx, p)
}

// CloseThrough credits everything committed so far, then closes every open
// period up to and including p, oldest first, in one action (see
// credit.Ledger.CloseThrough; each close is audited as its own). It returns
// the frozen settlements; when one close fails, those closed before it are
// returned with the error.
func (s *Service) CloseThrough(ctx context.Context, p credit.Period) ([]*credit.Settlement, error) {
	if p.IsZero() {
		return nil, fmt.Errorf("posting: close: %w: no period", credit.ErrPeriod)
	}
	actor, ok := audit.ActorFrom(ctx)
	if !ok {
		actor = audit.System("crediting")
	}
	req := request{close: p, through: true, actor: actor}
	if s.following() {
		r, err := s.closeAsFollower(ctx, req)
		if err != nil {
			return nil, err
		}
		return r.all, r.err
	}
	r, err := s.ask(ctx, req)
	if err != nil {
		return nil, err
	}
	return r.all, r.err
}

// Flush credits everything committed and every change made so far, without
// waiting for Config.Every, NoMemberEvery or Debounce.
func (s *Service) Flush(ctx context.Context) error {
	if s.following() {
		return s.followSync(ctx)
	}
	r, err := s.ask(ctx, request{})
	if err != nil {
		return err
	}
	return r.err
}

func (s *Service) ask(ctx context.Context, req request) (result, error) {
	req.reply = make(chan result, 1)
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r, nil
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
}

// Run starts a crediting session and does the crediting until ctx ends;
// then it credits what is queued and ends the session. It returns nil once
// stopped.
func (s *Service) Run(ctx context.Context) error {
	s.running.Store(true)
	defer s.running.Store(false)
	for {
		err := s.start(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		s.errs.With("start").Inc()
		s.log.Error("crediting: start failed; retrying", "err", err, "retry_in", s.cfg.RetryAfter)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.RetryAfter):
		}
	}
	// With the cursor, the ledger's writes are fenced with this leader's
	// epoch (see start).
	ctx = s.fenced(ctx)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := s.work(ctx, dueOnly)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			s.stop()
			return nil
		case <-s.kick:
		case <-timer.C:
		case r := <-s.reqs:
			r.reply <- s.serve(ctx, r)
		}
	}
}

// start begins the session: the directory, then whatever an unclean stop
// left uncredited.
func (s *Service) start(ctx context.Context) error {
	var recovered []domain.Event
	if s.cfg.Cursor {
		epoch, err := s.cs.TakeLead(ctx)
		if err != nil {
			return err
		}
		s.epoch = epoch
		ctx = s.fenced(ctx)
		if err := s.startCursor(ctx); err != nil {
			return err
		}
	}
	// With the cursor, the receipt-time session only matters for events
	// stored before it (no transaction recorded): before the first
	// position.
	if !s.cfg.Cursor || s.cur.next == 0 {
		var err error
		if recovered, err = s.cs.StartTracking(ctx); err != nil {
			return err
		}
	}
	if err := s.loadSettings(ctx); err != nil {
		return err
	}
	first, err := s.firstOpen(ctx)
	if err != nil {
		return err
	}
	d, err := loadDirectory(ctx, s.st, first.Start(s.cfg.Rules.Location).Add(-margin), time.Time{}, nil)
	if err != nil {
		return err
	}
	s.setDirectory(d)
	s.recovered = keysOf(recovered)
	if len(recovered) > 0 {
		s.log.Info("crediting: crediting events committed before an unclean stop", "events", len(recovered))
		s.pending.Add(float64(len(recovered)))
		for _, e := range recovered {
			s.queueTracked(e)
			s.trackedMax = max(s.trackedMax, e.ReceivedMs)
		}
		if err := s.credit(ctx, true); err != nil {
			return err
		}
	}
	if err := s.rebuildOpenOnce(ctx); err != nil {
		return err
	}
	s.log.Info("crediting: started", "first_open_period", first.String(), "recovered_events", len(recovered))
	return nil
}

// keysOf returns the keys of the events start recovered (nil for none).
func keysOf(recovered []domain.Event) map[eventKey]struct{} {
	if len(recovered) == 0 {
		return nil
	}
	keys := make(map[eventKey]struct{}, len(recovered))
	for _, e := range recovered {
		keys[eventKey{e.Door, e.Seq, e.ReceivedMs, e.TimeMs}] = struct{}{}
	}
	return keys
}

// rebuildOpen rebuilds every open period from the stored events at start.
//
// Design: what the ledger stored for an open period was computed by the
// version that ran before, whose rules may differ from this one's (issue
// 14 changed how bookings are credited: day by day, within opening hours).
// A closed period never changes (later differences become adjustments when
// its events change), but an open one must show what this version computes
// from the same events, so each start recomputes the open periods, at most
// maxOpenPeriods of them, as a change of a center's hours does. Recomputing
// from the same events gives the same result, so a start with unchanged
// rules changes nothing.
//
// The open periods are those after the start credited what it recovered:
// recovered events of a period before the one the start's directory was
// loaded for make it open too, and it is rebuilt with a directory that
// holds its bookings (ensureDirectory), never with the start's.
func (s *Service) rebuildOpen(ctx context.Context) error {
	open, err := s.openPeriods(ctx)
	if err != nil {
		return err
	}
	if err := s.ensureDirectory(ctx, open[0].Start(s.cfg.Rules.Location).Add(-margin).UnixMilli()); err != nil {
		return err
	}
	d := s.directory()
	begin := time.Now()
	for _, p := range open {
		if _, err := s.ledger.Rebuild(ctx, d.dir, p); err != nil {
			return fmt.Errorf("rebuild %s: %w", p, err)
		}
	}
	s.log.Info("crediting: open periods rebuilt with this version's rules", "periods", len(open), "took", time.Since(begin))
	return nil
}

// stop credits what is queued, for Config.StopWithin at most, and ends the
// session cleanly when nothing is left; otherwise the next start recovers
// it.
func (s *Service) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StopWithin)
	defer cancel()
	ctx = s.fenced(ctx)
	s.retryAt = time.Time{}
	if err := s.flush(ctx, flushAll); err != nil {
		s.log.Error("crediting: stopping with events not credited; the next start credits them", "err", err)
		return
	}
	if ctx.Err() != nil {
		// work leaves a step that the bound cut short queued: the session
		// must not end as if all were credited.
		s.log.Warn("crediting: stopping with events not credited after the stop's bound; the next start credits them",
			"within", s.cfg.StopWithin, "pending_commits", s.queuedCommits())
		return
	}
	if err := s.cs.StopTracking(ctx); err != nil {
		s.log.Error("crediting: could not end the session; the next start checks the last events again", "err", err)
	}
	s.setDirectory(nil)
	s.recovered = nil
}

// queuedCommits is how many commits wait to be credited.
func (s *Service) queuedCommits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.commits)
}

func (s *Service) setDirectory(d *directory) {
	s.dirMu.Lock()
	s.dir = d
	s.dirMu.Unlock()
}

func (s *Service) serve(ctx context.Context, r request) result {
	mode := flushAll
	if r.sync {
		mode = syncRead
	}
	s.retryAt = time.Time{}
	if err := s.flush(ctx, mode); err != nil {
		return result{err: err}
	}
	if r.close.IsZero() {
		return result{}
	}
	loc := s.cfg.Rules.Location
	if r.through {
		ps, err := s.ledger.ToClose(ctx, r.close)
		if err != nil {
			return result{err: err}
		}
		if err := s.ensureDirectory(ctx, ps[0].Start(loc).Add(-margin).UnixMilli()); err != nil {
			return result{err: err}
		}
		sts, err := s.ledger.CloseThrough(audit.WithActor(ctx, r.actor), s.directory().dir, r.close, s.cfg.Now())
		for _, st := range sts {
			s.closes.Inc()
			s.log.Info("crediting: period closed", "period", st.Period.String(), "total_cents", st.TotalCents, "through", r.close.String())
		}
		return result{all: sts, err: err}
	}
	if err := s.ensureDirectory(ctx, r.close.Start(loc).Add(-margin).UnixMilli()); err != nil {
		return result{err: err}
	}
	st, err := s.ledger.Close(audit.WithActor(ctx, r.actor), s.directory().dir, r.close, s.cfg.Now())
	if err != nil {
		return result{err: err}
	}
	s.closes.Inc()
	s.log.Info("crediting: period closed", "period", r.close.String(), "total_cents", st.TotalCents)
	return result{s: st}
}

// flush does what mode asks for now.
func (s *Service) flush(ctx context.Context, mode int) error {
	s.work(ctx, mode)
	if !s.retryAt.IsZero() {
		return errors.New("posting: a step failed (see the log); retried shortly")
	}
	return nil
}

// How much of what is queued work does at once, whatever is due.
const (
	dueOnly  = iota
	syncRead // commits and changes: what a read must see
	flushAll // and the events without a member
)

// work does what is due (and what mode asks for) and returns how long
// until more may be due.
func (s *Service) work(ctx context.Context, mode int) time.Duration {
	now := time.Now()
	idle := time.Hour
	force := mode >= syncRead
	if !force && now.Before(s.retryAt) {
		return s.retryAt.Sub(now)
	}
	s.retryAt = time.Time{}
	fail := func(step string, err error) time.Duration {
		if ctx.Err() != nil {
			// Stopping: what failed stays queued, and stop credits it.
			return time.Millisecond
		}
		s.errs.With(step).Inc()
		s.log.Error("crediting: step failed; retrying", "step", step, "err", err, "retry_in", s.cfg.RetryAfter)
		s.retryAt = now.Add(s.cfg.RetryAfter)
		return s.cfg.RetryAfter
	}

	s.mu.Lock()
	var changes []domain.Change
	if n := len(s.changes); n > 0 && (force || now.Sub(s.lastChange) >= s.cfg.Debounce || now.Sub(s.firstChange) >= 10*s.cfg.Debounce) {
		changes, s.changes = s.changes, nil
	}
	changesDue := s.lastChange.Add(s.cfg.Debounce)
	pendingChanges := len(s.changes) > 0
	var commits []commit
	// While the ingest is in a burst, leave it the machine (see Quiet).
	burst := len(s.commits) > 0 && now.Sub(s.lastCommit) < s.cfg.Quiet && now.Sub(s.firstCommit) < s.cfg.MaxDefer
	quietAt := s.lastCommit.Add(s.cfg.Quiet)
	burstEnds := quietAt
	if limit := s.firstCommit.Add(s.cfg.MaxDefer); limit.Before(burstEnds) {
		burstEnds = limit
	}
	// Once the ingest is quiet, what is queued is credited at once: the
	// rest after an update only spaces updates while commits keep coming
	// (after a reconnect storm, resting twice as long as a 3-second update
	// kept the storm's last events uncredited for 9 s).
	quiet := len(s.commits) > 0 && now.Sub(s.lastCommit) >= s.cfg.Quiet
	if len(s.commits) > 0 && (force || quiet || (!burst && now.Sub(s.lastUpdate) >= s.rest)) {
		commits, s.commits = s.commits, nil
	}
	pendingCommits := len(s.commits) > 0
	s.working = len(commits) > 0 || len(changes) > 0 || len(s.toCredit) > 0
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.working = false
		s.mu.Unlock()
	}()

	// Commits first: a directory change then sees their events.
	began := time.Now()
	fresh := false
	if s.cfg.Cursor {
		// The commits only say that there is something to read: every
		// replica's events come from the store.
		if force || len(commits) > 0 || (!burst && now.Sub(s.cur.lastPoll) >= s.cfg.PollEvery) {
			n, err := s.poll(ctx)
			if err != nil {
				return fail("poll", err)
			}
			fresh = n > 0
			s.recovered = nil // the first read returns what start recovered: skipped once
		}
	} else if len(commits) > 0 {
		if err := s.track(ctx, commits); err != nil {
			s.mu.Lock()
			s.commits = append(commits, s.commits...)
			s.mu.Unlock()
			return fail("track", err)
		}
	}
	noMemberDue := mode == flushAll || now.Sub(s.lastNoMem) >= s.cfg.NoMemberEvery
	if len(s.toCredit) > 0 || (len(s.noMember) > 0 && noMemberDue) {
		if err := s.credit(ctx, noMemberDue); err != nil {
			return fail("update", err)
		}
		// During a burst of commits, the crediting takes at most a third
		// of the time (and of the store's writer): it rests twice as long
		// as it worked. Larger updates are cheaper per event, too: a
		// member's period is recomputed once for all their new taps.
		took := time.Since(began)
		s.lastUpdate, s.rest = time.Now(), max(s.cfg.Every, 2*took)
	}
	if s.cfg.Cursor {
		if err := s.persist(ctx, fresh); err != nil {
			return fail("persist", err)
		}
	}
	if len(changes) > 0 {
		if err := s.follow(ctx, changes); err != nil {
			s.mu.Lock()
			s.changes = append(changes, s.changes...)
			s.mu.Unlock()
			return fail("changes", err)
		}
	}

	wait := idle
	if pendingCommits {
		wait = min(wait, max(0, s.lastUpdate.Add(s.rest).Sub(now), burstEnds.Sub(now)), max(0, quietAt.Sub(now)))
	}
	if pendingChanges {
		wait = min(wait, max(0, changesDue.Sub(now)))
	}
	if len(s.noMember) > 0 {
		wait = min(wait, max(0, s.lastNoMem.Add(s.cfg.NoMemberEvery).Sub(now)))
	}
	if s.cfg.Cursor {
		wait = min(wait, max(0, s.cur.lastPoll.Add(s.cfg.PollEvery).Sub(now)))
	}
	return max(wait, time.Millisecond)
}

// track records the commits' events and queues them for the ledger.
//
// StartTracking reads every stored event since the last mark while the
// ingest, which runs alongside, keeps committing and calls Committed after
// each commit: the first commits queued may hold events start already
// credited from the store. The ingest commits one group at a time and
// calls Committed in commit order, so those are the commits queued first:
// their events found among the recovered ones are skipped (they were
// credited, and counted, at start), and the first commit with an event that
// was not recovered was stored after the read, as is every later one; the
// recovered keys are dropped then.
func (s *Service) track(ctx context.Context, commits []commit) error {
	var batches []store.DoorEvents
	for _, c := range commits {
		batches = append(batches, c.batches...)
	}
	if err := s.cs.Track(ctx, batches); err != nil {
		return err
	}
	again := 0
	for _, c := range commits {
		fresh := false
		for _, b := range c.batches {
			for _, e := range b.Events {
				if s.recovered != nil {
					if _, ok := s.recovered[eventKey{b.Door, e.Seq, c.receivedMs, e.TimeMs}]; ok {
						again++
						continue
					}
				}
				s.queueTracked(domain.Event{Door: b.Door, ReceivedMs: c.receivedMs, Event: e})
				fresh = true
			}
		}
		if fresh {
			// Something new: this commit, and every later one, was stored
			// after the read.
			s.recovered = nil
		}
		s.trackedMax = max(s.trackedMax, c.receivedMs)
	}
	if again > 0 {
		s.pending.Add(-float64(again))
		s.log.Info("crediting: events committed during the start skipped: credited from the store", "events", again)
	}
	return nil
}

// queueTracked queues a tracked event for the ledger: whole for a member;
// as the periods it concerns when it has no member.
func (s *Service) queueTracked(e domain.Event) {
	if e.Member != "" {
		s.toCredit = append(s.toCredit, e)
		return
	}
	loc := s.cfg.Rules.Location
	if len(s.noMember) == 0 || e.ReceivedMs < s.noMemberMin {
		s.noMemberMin = e.ReceivedMs
	}
	s.noMember[credit.PeriodOf(time.UnixMilli(e.ReceivedMs), loc)] = true
	// As credit.Ledger.Update marks them: the tap's time give or take
	// two days (entries keep members inside, exits end earlier entries).
	for p, last := credit.PeriodOf(time.UnixMilli(e.TimeMs-twoDaysMs), loc), credit.PeriodOf(time.UnixMilli(e.TimeMs+twoDaysMs), loc); !last.Before(p); p = p.Next() {
		s.noMember[p] = true
	}
	s.noMemberN++
}

const twoDaysMs = int64(48 * time.Hour / time.Millisecond)

// keepQueued is the largest queue of events whose array is kept for the
// next events (those of a day's rush at a few hundred bytes each); the
// array of a larger catch-up is let go.
const keepQueued = 1 << 16

// reuse empties a queue of credited events for the next ones, keeping its
// array unless it grew past keepQueued (regrowing it for every update was
// 3 % of BenchmarkIngestEndToEnd's CPU).
func reuse(q []domain.Event) []domain.Event {
	if cap(q) > keepQueued {
		return nil
	}
	clear(q) // the strings of the events credited
	return q[:0]
}

// credit hands the queued events of members to the ledger, and when
// withNoMember the periods of events without one, then marks what is
// credited.
func (s *Service) credit(ctx context.Context, withNoMember bool) error {
	if len(s.toCredit) > 0 {
		lo := s.toCredit[0].TimeMs
		for _, e := range s.toCredit {
			lo = min(lo, e.TimeMs)
		}
		from := credit.PeriodOf(time.UnixMilli(lo-twoDaysMs), s.cfg.Rules.Location).Start(s.cfg.Rules.Location).Add(-margin)
		if err := s.ensureDirectory(ctx, from.UnixMilli()); err != nil {
			return err
		}
		if _, err := s.ledger.Update(ctx, s.directory().dir, s.toCredit); err != nil {
			return err
		}
		s.updates.Inc()
		s.eventsCredited.Add(uint64(len(s.toCredit)))
		s.pending.Add(-float64(len(s.toCredit)))
		s.toCredit = reuse(s.toCredit)
	}
	if withNoMember && len(s.noMember) > 0 {
		loc := s.cfg.Rules.Location
		for _, run := range runs(slices.SortedFunc(maps.Keys(s.noMember), comparePeriods)) {
			if _, err := s.ledger.Refresh(ctx, s.directory().dir, []string{""}, run[0].Start(loc), run[1].End(loc)); err != nil {
				return err
			}
		}
		s.updates.Inc()
		s.eventsCredited.Add(uint64(s.noMemberN))
		s.pending.Add(-float64(s.noMemberN))
		clear(s.noMember)
		s.noMemberN = 0
		s.lastNoMem = time.Now()
	}
	mark := s.trackedMax + 1
	if len(s.noMember) > 0 {
		mark = min(mark, s.noMemberMin)
	}
	s.mu.Lock()
	for _, c := range s.commits {
		mark = min(mark, c.receivedMs)
	}
	s.mu.Unlock()
	if s.trackedMax == 0 {
		return nil
	}
	return s.cs.MarkCredited(ctx, mark)
}

func comparePeriods(a, b credit.Period) int {
	return cmp.Or(cmp.Compare(a.Year, b.Year), cmp.Compare(a.Month, b.Month))
}

// runs groups sorted periods into runs of consecutive months [first, last].
func runs(ps []credit.Period) [][2]credit.Period {
	var out [][2]credit.Period
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1][1].Next() == p {
			out[n-1][1] = p
			continue
		}
		out = append(out, [2]credit.Period{p, p})
	}
	return out
}

// ensureDirectory reloads the directory when it lacks bookings ending after
// fromMs.
func (s *Service) ensureDirectory(ctx context.Context, fromMs int64) error {
	if d := s.directory(); d != nil && d.fromMs <= fromMs {
		return nil
	}
	d, err := loadDirectory(ctx, s.st, time.UnixMilli(fromMs), time.Time{}, nil)
	if err != nil {
		return err
	}
	s.setDirectory(d)
	return nil
}

// firstOpen is the first open period: after the last closed one, else the
// earliest with results, else the current one.
func (s *Service) firstOpen(ctx context.Context) (credit.Period, error) {
	last, err := s.cs.LastClosed(ctx)
	if err != nil {
		return credit.Period{}, err
	}
	if !last.IsZero() {
		return last.Next(), nil
	}
	first, err := s.cs.EarliestPeriod(ctx)
	if err != nil {
		return credit.Period{}, err
	}
	if current := credit.PeriodOf(s.cfg.Now(), s.cfg.Rules.Location); first.IsZero() || current.Before(first) {
		return current, nil
	}
	return first, nil
}

// openPeriods lists the open periods a directory change recomputes: from
// the first open one (at most maxOpenPeriods back) to the current one.
func (s *Service) openPeriods(ctx context.Context) ([]credit.Period, error) {
	first, err := s.firstOpen(ctx)
	if err != nil {
		return nil, err
	}
	current := credit.PeriodOf(s.cfg.Now(), s.cfg.Rules.Location)
	var out []credit.Period
	for p := current; !p.Before(first) && len(out) < maxOpenPeriods; p = p.Prev() {
		out = append(out, p)
	}
	slices.Reverse(out)
	return out, nil
}

// follow reloads the directory and recomputes what the changes alter.
func (s *Service) follow(ctx context.Context, changes []domain.Change) error {
	loc := s.cfg.Rules.Location
	old := s.directory()
	rebuild := false
	for _, ch := range changes {
		if ch.Kind == domain.KindSettings {
			// A new settings version: every open period follows the
			// rules now in force for it.
			if err := s.loadSettings(ctx); err != nil {
				return err
			}
			rebuild = true
			break
		}
	}
	open, err := s.openPeriods(ctx)
	if err != nil {
		return err
	}
	grace := time.Duration(0)
	for _, p := range open {
		grace = max(grace, s.ledger.Rules(p).Grace)
	}
	// The periods to recompute, by member: not before the earliest period
	// holding results (or the first open one), nor after the current one,
	// as nothing is credited there.
	lower, current := open[0], open[len(open)-1]
	if earliest, err := s.cs.EarliestPeriod(ctx); err != nil {
		return err
	} else if !earliest.IsZero() && earliest.Before(lower) {
		lower = earliest
	}
	// Each member's periods, as a short list (a period or two; a map per
	// member would cost some 300 bytes each after an import of 100,000
	// members).
	touch := map[string][]credit.Period{}
	mark := func(member string, from, to time.Time) {
		set := touch[member]
		p := credit.PeriodOf(from, loc)
		if p.Before(lower) {
			p = lower
		}
		last := credit.PeriodOf(to.Add(-time.Millisecond), loc)
		if current.Before(last) {
			last = current
		}
		for ; !last.Before(p); p = p.Next() {
			if !slices.Contains(set, p) {
				set = append(set, p)
			}
		}
		touch[member] = set
	}
	for _, ch := range changes {
		switch {
		case ch.Kind == domain.KindBooking && ch.Booking != nil:
			if b, ok := old.bookings[ch.Booking.ID]; ok {
				mark(b.MemberID, b.Start.Add(-grace), b.End)
			}
			mark(ch.Booking.MemberID, ch.Booking.Start.Add(-grace), ch.Booking.End)
		case ch.Kind == domain.KindPass && ch.Pass != nil:
			if p, ok := old.passes[ch.Pass.ID]; ok {
				mark(p.MemberID, p.ValidFrom, p.ValidUntil)
			}
			mark(ch.Pass.MemberID, ch.Pass.ValidFrom, ch.Pass.ValidUntil)
		case ch.Kind == domain.KindMember && ch.Member != nil:
			home, was := old.dir.Home(ch.Member.ID)
			if !was || ch.Deleted || home != ch.Member.HomeCenterID {
				mark(ch.Member.ID, open[0].Start(loc), open[len(open)-1].End(loc))
			}
		case ch.Kind == domain.KindDoor && ch.Door != nil:
			d, was := old.doors[ch.Door.ID]
			if !was || ch.Deleted || d.CenterID != ch.Door.CenterID || d.Exit != ch.Door.Exit || d.RoomID != ch.Door.RoomID {
				rebuild = true
			}
		case ch.Kind == domain.KindCenter && ch.Center != nil:
			c, was := old.centers[ch.Center.ID]
			if !was || ch.Deleted || c.TimeZone != ch.Center.TimeZone || !sameHours(c.Hours, ch.Center.Hours) || c.RateCents != ch.Center.RateCents {
				rebuild = true
			}
		}
	}
	from := open[0]
	for _, set := range touch {
		for _, p := range set {
			if p.Before(from) {
				from = p
			}
		}
	}
	// The members are read again only when one changed (or a center, whose
	// check of their homes the directory keeps, or on a reload): most
	// changes are bookings (a check-in is one), and a network has some
	// 100,000 members.
	keep := old.dir
	for _, ch := range changes {
		if ch.Kind == domain.KindMember || ch.Kind == domain.KindCenter || ch.Kind == domain.KindSettings {
			keep = nil
			break
		}
	}
	d, err := loadDirectory(ctx, s.st, time.UnixMilli(min(old.fromMs, from.Start(loc).Add(-margin).UnixMilli())), time.Time{}, keep)
	if err != nil {
		return err
	}
	s.setDirectory(d)

	// Members with the same periods are recomputed together.
	groups := map[[2]credit.Period][]string{}
	for member, set := range touch {
		slices.SortFunc(set, comparePeriods)
		for _, run := range runs(set) {
			groups[run] = append(groups[run], member)
		}
	}
	for _, run := range slices.SortedFunc(maps.Keys(groups), func(a, b [2]credit.Period) int {
		return cmp.Or(comparePeriods(a[0], b[0]), comparePeriods(a[1], b[1]))
	}) {
		members := groups[run]
		slices.Sort(members)
		if _, err := s.ledger.Refresh(ctx, d.dir, members, run[0].Start(loc), run[1].End(loc)); err != nil {
			return err
		}
		s.updates.Inc()
	}
	if rebuild {
		for _, p := range open {
			if _, err := s.ledger.Rebuild(ctx, d.dir, p); err != nil {
				return err
			}
			s.rebuilds.Inc()
		}
	}
	return nil
}

func sameHours(a, b domain.OpeningHours) bool {
	for d := range a {
		if !slices.Equal(a[d], b[d]) {
			return false
		}
	}
	return true
}
