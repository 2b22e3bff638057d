package whitelist

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// States persists each door's whitelist state. The central's store (SQLite or
// PostgreSQL) implements it.
type States interface {
	// WhitelistStates returns the saved state of every door.
	WhitelistStates(ctx context.Context) ([]domain.WhitelistState, error)
	// SaveWhitelistState saves one door's state (insert or replace).
	SaveWhitelistState(ctx context.Context, st domain.WhitelistState) error
}

// BatchStates is States that also saves several doors' states in one
// transaction, all or none. When Config.States is one, the compiler saves
// together the doors that one change reaches (every door of an audience),
// and those a start moves on.
type BatchStates interface {
	States
	SaveWhitelistStates(ctx context.Context, sts []domain.WhitelistState) error
}

// Defaults of Config.
const (
	DefaultHorizon        = 14 * 24 * time.Hour
	DefaultExpiry         = 7 * 24 * time.Hour
	DefaultRefresh        = 24 * time.Hour
	DefaultMaxLogDeltas   = 256
	DefaultMaxLogChanges  = 100_000
	DefaultSnapshotMaxAge = time.Hour
	// maxVersionJump bounds how far a door's reported version may move the
	// central's version (a restored backup); beyond it the request is refused.
	maxVersionJump = 1 << 24
)

// Config configures a Compiler. Signer and States are required.
type Config struct {
	Signer *protocol.Signer
	States States

	// Horizon is how far ahead bookings and passes are listed (14 days).
	Horizon time.Duration
	// Expiry is the lifetime of every signed message (7 days).
	Expiry time.Duration
	// Refresh is the longest a door goes without a new version (24 h): Tick
	// issues an empty delta for a door whose version is older.
	Refresh time.Duration
	// MaxLogDeltas and MaxLogChanges bound each audience's in-memory log
	// (steps kept, and changed entries summed over them) and each door's
	// reach (MaxLogDeltas versions). A door further behind gets a snapshot.
	MaxLogDeltas  int
	MaxLogChanges int
	// SnapshotMaxAge is how long a door's snapshot of one version keeps its
	// issue time (and so its bytes) for further requests (1 h).
	SnapshotMaxAge time.Duration

	// CardKeys gives the door keys of secure badges (central/cardkeys). Nil:
	// no card keys, and secure badges are listed revoked (a door cannot
	// authenticate them; fail secure).
	CardKeys CardKeys

	// NetworkSettings gives what every door's whitelist carries from the
	// network settings in force (central/settings): the held-open
	// threshold. It is read at New, after a settings change (a
	// domain.KindSettings change) and by Tick when the value read last
	// stops holding (DoorSettings.Until) or could not be read. Nil: the
	// whitelists carry none, and doors keep their own.
	NetworkSettings func(ctx context.Context, now time.Time) (DoorSettings, error)

	Logger *slog.Logger
	// Metrics receives the compiler's counters; nil uses a private registry.
	// One registry holds the metrics of one compiler: successive compilers
	// of one process (a reload) share one MetricSet instead.
	Metrics *metrics.Registry
	// MetricSet, when set, is used instead of registering in Metrics.
	MetricSet *MetricSet
}

func (c *Config) defaults() error {
	if c.Signer == nil {
		return errors.New("whitelist: Config.Signer is required")
	}
	if c.States == nil {
		return errors.New("whitelist: Config.States is required")
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.Horizon, DefaultHorizon}, {&c.Expiry, DefaultExpiry}, {&c.Refresh, DefaultRefresh}, {&c.SnapshotMaxAge, DefaultSnapshotMaxAge}} {
		if *d.v < 0 {
			return fmt.Errorf("whitelist: negative duration %v in Config", *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.Expiry > 365*24*time.Hour {
		return fmt.Errorf("whitelist: Config.Expiry %v is longer than a year", c.Expiry)
	}
	if c.MaxLogDeltas <= 0 {
		c.MaxLogDeltas = DefaultMaxLogDeltas
	}
	if c.MaxLogChanges <= 0 {
		c.MaxLogChanges = DefaultMaxLogChanges
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MetricSet == nil && c.Metrics == nil {
		c.Metrics = metrics.NewRegistry()
	}
	if c.MetricSet == nil {
		c.MetricSet = newMetrics(c.Metrics)
	}
	return nil
}

// CardKeys derives the door keys a whitelist lists for a secure badge whose
// card holds key version v (central/cardkeys.Ring).
type CardKeys interface {
	DoorKeys(uid protocol.UID, card protocol.CardType, v uint8, now time.Time) ([]protocol.DoorKey, error)
}

// DoorSettings are the network settings every door's whitelist carries.
type DoorSettings struct {
	// HeldOpenS is the held-open threshold in seconds (settings
	// alerts.held_open_seconds; 1 to protocol.MaxHeldOpenSeconds, 0: none).
	HeldOpenS int
	// Until is when the settings in force may change without a settings
	// change (the first day of the next settings period); zero: never.
	Until time.Time
}

// Input is a full load of the domain, as the store lists it. Objects that do
// not validate are skipped, logged and counted; a badge UID listed twice keeps
// its first badge.
type Input struct {
	Centers  []domain.Center
	Rooms    []domain.Room
	Doors    []domain.Door
	Members  []domain.Member
	Badges   []domain.Badge
	Bookings []domain.Booking
	Passes   []domain.Pass
	Staff    []domain.Staff
}

// Errors returned by the compiler.
var (
	ErrInvalidChange = errors.New("whitelist: invalid change")
	ErrUnknownDoor   = errors.New("whitelist: unknown door")
	ErrBadVersion    = errors.New("whitelist: door reports an impossible version")
	ErrClosed        = errors.New("whitelist: watcher closed")
)

// MetricSet is the compiler's counters, registered once in a registry and
// shared by the compilers a process builds one after the other.
type MetricSet = compilerMetrics

// NewMetricSet registers the compiler's counters in r.
func NewMetricSet(r *metrics.Registry) *MetricSet { return newMetrics(r) }

type compilerMetrics struct {
	versions   *metrics.Counter
	rejected   *metrics.CounterVec
	saveErrors *metrics.Counter
	syncs      *metrics.CounterVec
	truncated  *metrics.Counter
	recomputes *metrics.Counter
}

func newMetrics(r *metrics.Registry) *compilerMetrics {
	return &compilerMetrics{
		versions:   r.Counter("swc_whitelist_versions_total", "Door whitelist versions issued (content changes, heartbeats, version jumps)."),
		rejected:   r.CounterVec("swc_whitelist_rejected_objects_total", "Domain objects or changes refused by the whitelist compiler because they do not validate.", "kind"),
		saveErrors: r.Counter("swc_whitelist_save_errors_total", "Failures to persist a door's whitelist state; the version is retried and not published meanwhile."),
		syncs:      r.CounterVec("swc_whitelist_syncs_total", "Sync answers by result.", "result"),
		truncated:  r.Counter("swc_whitelist_grants_truncated_total", "Badge entries whose grants were cut to protocol.MaxGrantsPerEntry."),
		recomputes: r.Counter("swc_whitelist_member_recomputes_total", "Recomputations of one member's entries in one audience (a center's entrances, or one room's doors)."),
	}
}

// Compiler holds the domain objects that matter for access, the compiled
// whitelist of every audience with its recent steps, and every door's
// version line over its audience. It is safe for concurrent use.
type Compiler struct {
	cfg Config
	log *slog.Logger
	met *compilerMetrics

	mu  sync.Mutex
	now time.Time

	members map[string]*member // known members, and ids that badges name
	badges  map[protocol.UID]*badge
	// interned is the last entry computed for each badge: an audience whose
	// entry for the badge is equal shares it (network staff and network
	// passes are the same entry at every entrance of the network).
	interned map[protocol.UID]interned

	// Secure credentials: the centers that require them, and each secure
	// badge's door keys (derived once per badge, not once per door that
	// lists it; read-only, shared by its entries).
	secureCenters map[string]bool
	doorKeys      map[protocol.UID]cachedKeys

	// The network settings every door lists (Config.NetworkSettings):
	// the held-open threshold, until when it holds, and whether the last
	// read failed (Tick reads again). settingsMu orders the reads (taken
	// before mu, never inside it).
	heldOpen      int
	settingsUntil time.Time
	settingsStale bool
	settingsMu    sync.Mutex

	// Live bookings (confirmed, not ended) and passes (not ended), indexed.
	bookings         map[string]*domain.Booking
	bookingsAt       map[string]map[string][]*domain.Booking // center → member
	bookingsByMember map[string][]*domain.Booking
	passes           map[string]*domain.Pass
	passesAt         map[string]map[string][]*domain.Pass // center ("" = every center) → member
	passesByMember   map[string][]*domain.Pass
	staffAt          map[string]map[string]bool // center ("" = network) → member
	staffByMember    map[string]map[string]bool // member → center

	doors       map[string]*door
	audiences   map[audienceKey]*audience
	audiencesAt map[string]map[string]*audience // center → room ("" = entrances) → audience
	retired     map[string]uint64               // deleted (or not yet created) doors → last version

	timeline timeline
	unsaved  map[*door]bool // doors whose last change could not be saved
	watchers map[*Watcher]bool
}

// New loads the domain, compiles every audience's whitelist as of now, and
// reconciles the doors' versions with the saved states: a door whose content hash is
// unchanged keeps its version, any other gets the next one, saved before New
// returns.
func New(ctx context.Context, cfg Config, in Input, now time.Time) (*Compiler, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Compiler{
		cfg:              cfg,
		log:              cfg.Logger.With("component", "whitelist"),
		met:              cfg.MetricSet,
		now:              now,
		members:          map[string]*member{},
		badges:           map[protocol.UID]*badge{},
		interned:         map[protocol.UID]interned{},
		bookings:         map[string]*domain.Booking{},
		bookingsAt:       map[string]map[string][]*domain.Booking{},
		bookingsByMember: map[string][]*domain.Booking{},
		passes:           map[string]*domain.Pass{},
		passesAt:         map[string]map[string][]*domain.Pass{},
		passesByMember:   map[string][]*domain.Pass{},
		staffAt:          map[string]map[string]bool{},
		staffByMember:    map[string]map[string]bool{},
		secureCenters:    map[string]bool{},
		doorKeys:         map[protocol.UID]cachedKeys{},
		doors:            map[string]*door{},
		audiences:        map[audienceKey]*audience{},
		audiencesAt:      map[string]map[string]*audience{},
		retired:          map[string]uint64{},
		unsaved:          map[*door]bool{},
		watchers:         map[*Watcher]bool{},
	}
	if cfg.NetworkSettings != nil {
		ds, err := c.readSettings(ctx, now)
		if err != nil {
			return nil, err
		}
		c.heldOpen, c.settingsUntil = ds.HeldOpenS, ds.Until
	}
	c.load(in)

	saved, err := cfg.States.WhitelistStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("whitelist: load saved states: %w", err)
	}
	byDoor := make(map[string]domain.WhitelistState, len(saved))
	for _, st := range saved {
		byDoor[st.Door] = st
	}
	for _, st := range saved {
		if _, ok := c.doors[st.Door]; !ok {
			c.retired[st.Door] = st.Version
		}
	}
	// Audiences by center, so that the room audiences of one center, whose
	// entries are mostly equal, follow each other and share them (interned
	// keeps the last entry of each badge).
	keys := make([]audienceKey, 0, len(c.audiences))
	for k := range c.audiences {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y audienceKey) int {
		return cmp.Or(cmp.Compare(x.center, y.center), cmp.Compare(x.room, y.room))
	})
	c.compileAll(keys)
	var moved []*door
	for _, id := range sortedKeys(c.doors) {
		d := c.doors[id]
		st, ok := byDoor[id]
		if ok && st.Hash == d.stateHash() {
			d.version, d.hash, d.issued = st.Version, st.Hash, time.UnixMilli(st.IssuedMs)
			d.caud, d.cav = d.aud, d.aud.version
			d.record(d.version, d.cav, true, c.cfg.MaxLogDeltas)
			d.committedSecure, d.committedHeldOpen = d.requireSecure, d.heldOpen
			continue
		}
		d.version = st.Version // 0 when never saved
		d.resetLog = true
		moved = append(moved, d)
	}
	if err := c.commitAll(ctx, moved, func(*door) bool { return false }); err != nil {
		return nil, err
	}
	c.log.Info("whitelists compiled", "doors", len(c.doors), "audiences", len(c.audiences), "badges", len(c.badges),
		"live_bookings", len(c.bookings), "live_passes", len(c.passes), "now", now.UTC().Format(time.RFC3339))
	return c, nil
}

// compileAll compiles the audiences of keys (sorted by center) from
// scratch, on all CPUs but one (the ingest stores the doors' events while
// the central starts: it keeps a CPU), each goroutine taking a run of whole
// centers: while it runs, the domain indexes are only read, each audience
// is written by one goroutine, and each goroutine interns entries in its
// own table, merged into c.interned at the end.
func (c *Compiler) compileAll(keys []audienceKey) {
	workers := max(1, min(runtime.GOMAXPROCS(0)-1, len(keys)/64))
	tables := make([]map[protocol.UID]interned, workers)
	var wg sync.WaitGroup
	start := 0
	for i := range workers {
		end := len(keys) * (i + 1) / workers
		for end < len(keys) && end > 0 && keys[end].center == keys[end-1].center {
			end++ // keep a center's audiences together
		}
		part := keys[start:end]
		start = end
		// Sized for the badges of the members with a right somewhere, not
		// for every badge: most members of a network have none.
		table := make(map[protocol.UID]interned, min(len(c.badges), c.listable())/workers)
		tables[i] = table
		wg.Go(func() {
			scratch := map[string]bool{}
			for _, k := range part {
				a := c.audiences[k]
				clear(scratch)
				c.addCandidates(scratch, a)
				if len(a.entries) == 0 {
					a.entries = make(map[protocol.UID]*protocol.Entry, len(scratch))
				}
				for m := range scratch {
					c.recomputeIn(a, m, nil, table)
				}
				c.commitAudience(a, noPin)
			}
		})
	}
	wg.Wait()
	c.interned = tables[0]
	for _, t := range tables[1:] {
		for uid, e := range t {
			c.interned[uid] = e
		}
	}
}

// reject logs and counts an invalid object.
func (c *Compiler) reject(kind domain.Kind, id string, err error) {
	c.met.rejected.With(string(kind)).Inc()
	c.log.Warn("whitelist: invalid object ignored", "kind", kind, "id", id, "error", err)
}

// load indexes a full input. Doors are created without compiling them.
func (c *Compiler) load(in Input) {
	// Sized once: growing maps of a million members step by step costs
	// seconds of rehashing at start.
	c.members = make(map[string]*member, len(in.Members))
	c.badges = make(map[protocol.UID]*badge, len(in.Badges))
	c.bookings = make(map[string]*domain.Booking, len(in.Bookings))
	c.bookingsByMember = make(map[string][]*domain.Booking, len(in.Bookings))
	c.passes = make(map[string]*domain.Pass, len(in.Passes))
	c.passesByMember = make(map[string][]*domain.Pass, len(in.Passes))
	c.doors = make(map[string]*door, len(in.Doors))
	for i := range in.Centers {
		if err := in.Centers[i].Validate(); err != nil {
			c.reject(domain.KindCenter, in.Centers[i].ID, err)
			continue
		}
		if in.Centers[i].RequireSecure {
			c.secureCenters[in.Centers[i].ID] = true
		}
	}
	for i := range in.Rooms {
		if err := in.Rooms[i].Validate(); err != nil {
			c.reject(domain.KindRoom, in.Rooms[i].ID, err)
		}
	}
	for i := range in.Members {
		m := &in.Members[i]
		if err := m.Validate(); err != nil {
			c.reject(domain.KindMember, m.ID, err)
			continue
		}
		c.setMember(m)
	}
	for i := range in.Badges {
		b := &in.Badges[i]
		if err := b.Validate(); err != nil {
			c.reject(domain.KindBadge, string(b.UID), err)
			continue
		}
		if first, dup := c.badges[b.UID]; dup {
			c.reject(domain.KindBadge, string(b.UID), fmt.Errorf("UID listed twice (members %s and %s); the first is kept", first.m.id, b.MemberID))
			continue
		}
		c.addBadge(b)
	}
	for i := range in.Bookings {
		b := in.Bookings[i]
		if err := b.Validate(); err != nil {
			c.reject(domain.KindBooking, b.ID, err)
			continue
		}
		c.addBooking(&b)
	}
	for i := range in.Passes {
		p := in.Passes[i]
		if err := p.Validate(); err != nil {
			c.reject(domain.KindPass, p.ID, err)
			continue
		}
		c.addPass(&p)
	}
	for i := range in.Staff {
		s := in.Staff[i]
		if err := s.Validate(); err != nil {
			c.reject(domain.KindStaff, s.MemberID, err)
			continue
		}
		c.setStaff(s, true)
	}
	for i := range in.Doors {
		d := in.Doors[i]
		if err := d.Validate(); err != nil {
			c.reject(domain.KindDoor, d.ID, err)
			continue
		}
		if _, dup := c.doors[d.ID]; dup {
			c.reject(domain.KindDoor, d.ID, errors.New("door listed twice; the first is kept"))
			continue
		}
		c.addDoor(&door{d: d})
	}
}

// Now returns the compiler's current time.
func (c *Compiler) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Version returns a door's current (published) version.
func (c *Compiler) Version(door string) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.doors[door]
	if !ok {
		return 0, false
	}
	return d.version, true
}

// Entries returns a door's published entries sorted by UID (for the API and
// tests).
func (c *Compiler) Entries(door string) ([]protocol.Entry, uint64, error) {
	c.mu.Lock()
	d, ok := c.doors[door]
	if !ok {
		c.mu.Unlock()
		return nil, 0, fmt.Errorf("%w: %q", ErrUnknownDoor, door)
	}
	es, err := d.committedEntries()
	v := d.version
	c.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	return sortEntries(es), v, nil
}

// Apply takes one committed change of the domain and updates the doors it
// concerns, issuing a new version for each door whose content changed. The
// change is validated first (ErrInvalidChange). A failure to save a door's
// new state is returned; the change is kept and its version is saved and
// published on the next Apply, Tick or ForSync.
func (c *Compiler) Apply(ctx context.Context, ch domain.Change) error {
	return c.ApplyAll(ctx, []domain.Change{ch})
}

// ApplyAll is Apply for the changes of one bulk write (store.Import): the
// doors they concern are recomputed and committed once, after all of them,
// rather than once per change. Invalid changes are refused and the others
// applied; the errors are joined.
func (c *Compiler) ApplyAll(ctx context.Context, chs []domain.Change) error {
	var errs []error
	valid := make([]domain.Change, 0, len(chs))
	settingsChanged := false
	for _, ch := range chs {
		if ch.Kind == domain.KindSettings {
			// Doors list the held-open threshold (read again below); the
			// horizon is read at start.
			settingsChanged = true
			continue
		}
		if err := checkChange(ch); err != nil {
			c.met.rejected.With(string(ch.Kind)).Inc()
			c.log.Warn("whitelist: change refused", "kind", ch.Kind, "deleted", ch.Deleted, "error", err)
			errs = append(errs, err)
			continue
		}
		valid = append(valid, ch)
	}
	if settingsChanged && c.cfg.NetworkSettings != nil {
		errs = append(errs, c.refreshSettings(ctx, c.Now()))
	}
	if len(valid) == 0 {
		return errors.Join(errs...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := newWork()
	for _, ch := range valid {
		c.apply(w, ch)
	}
	return errors.Join(append(errs, c.finish(ctx, w))...)
}

// apply takes one valid change into the compiler's state and marks in w
// what it touches.
func (c *Compiler) apply(w *work, ch domain.Change) {
	switch ch.Kind {
	case domain.KindCenter:
		// A center carries one thing its doors' whitelists say: its
		// require_secure_credentials policy.
		c.applyCenterPolicy(w, *ch.Center, ch.Deleted)
	case domain.KindRoom:
		// Rooms carry nothing a door lists: doors name their room themselves.
	case domain.KindDoor:
		c.applyDoor(w, *ch.Door, ch.Deleted)
	case domain.KindMember:
		m := ch.Member
		if ch.Deleted {
			c.forgetMember(m.ID)
		} else {
			c.setMember(m)
		}
		c.touchEverywhere(w, m.ID)
	case domain.KindBadge:
		b := ch.Badge
		w.gone = append(w.gone, b.UID)
		if old, ok := c.badges[b.UID]; ok {
			c.removeBadge(old)
			c.touchEverywhere(w, old.m.id, b.UID)
		}
		if !ch.Deleted {
			c.addBadge(b)
		} else {
			delete(c.doorKeys, b.UID) // kept across other changes: checked against the card type and version
		}
		c.touchEverywhere(w, b.MemberID)
	case domain.KindBooking:
		b := *ch.Booking
		if old, ok := c.bookings[b.ID]; ok {
			c.removeBooking(old)
			c.touch(w, old.MemberID, old.CenterID)
		}
		if !ch.Deleted && c.addBooking(&b) {
			c.touch(w, b.MemberID, b.CenterID)
		}
	case domain.KindPass:
		p := *ch.Pass
		if old, ok := c.passes[p.ID]; ok {
			c.removePass(old)
			c.touchPass(w, old)
		}
		if !ch.Deleted && c.addPass(&p) {
			c.touchPass(w, &p)
		}
	case domain.KindStaff:
		s := *ch.Staff
		c.setStaff(s, !ch.Deleted)
		c.touch(w, s.MemberID, s.CenterID)
	}
}

// Tick moves the compiler's time to now: bookings and passes that come within
// the horizon are listed, those that ended leave, and every door whose last
// version is older than Refresh gets an empty delta. A time before the
// current one is ignored (logged). When the network settings read last stop
// holding (a new settings period) or could not be read, they are read
// again first (Config.NetworkSettings).
func (c *Compiler) Tick(ctx context.Context, now time.Time) error {
	var settingsErr error
	if c.cfg.NetworkSettings != nil {
		c.mu.Lock()
		due := c.settingsStale || (!c.settingsUntil.IsZero() && !now.Before(c.settingsUntil))
		c.mu.Unlock()
		if due {
			settingsErr = c.refreshSettings(ctx, now)
		}
	}
	return errors.Join(settingsErr, c.tick(ctx, now))
}

func (c *Compiler) tick(ctx context.Context, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.now) {
		c.log.Warn("whitelist: clock went back; tick ignored", "now", now, "compiler_now", c.now)
		return nil
	}
	c.now = now
	w := newWork()
	for _, it := range c.timeline.due(now) {
		switch {
		case it.booking != nil:
			b := it.booking
			if c.bookings[b.ID] != b {
				continue // replaced or removed since
			}
			if !it.enter {
				c.removeBooking(b)
			}
			c.touch(w, b.MemberID, b.CenterID)
		case it.pass != nil:
			p := it.pass
			if c.passes[p.ID] != p {
				continue
			}
			if !it.enter {
				c.removePass(p)
			}
			c.touchPass(w, p)
		}
	}
	c.timeline.compact(len(c.bookings)+len(c.passes), func(it item) bool {
		if it.booking != nil {
			return c.bookings[it.booking.ID] == it.booking
		}
		return c.passes[it.pass.ID] == it.pass
	})
	for _, d := range c.doors {
		if now.Sub(d.issued) >= c.cfg.Refresh {
			w.heartbeat[d] = true
		}
	}
	for _, a := range c.audiences {
		if a.encoded != nil && now.Sub(a.encodedAt) >= c.cfg.SnapshotMaxAge {
			a.encoded = nil // the doors that reconnect ask within minutes; free it
		}
	}
	return c.finish(ctx, w)
}

// work collects what one Apply or Tick has to recompute and commit.
type work struct {
	members   map[*audience]map[string]bool
	heartbeat map[*door]bool
	gone      []protocol.UID // badges that left their member (recompute)
}

func newWork() *work {
	return &work{members: map[*audience]map[string]bool{}, heartbeat: map[*door]bool{}}
}

func (w *work) add(a *audience, member string) {
	ms := w.members[a]
	if ms == nil {
		ms = map[string]bool{}
		w.members[a] = ms
	}
	ms[member] = true
}

// noPin is the pin of an audience without unsaved doors.
const noPin = ^uint64(0)

// finish recomputes the touched members in the touched audiences, makes the
// next version of every audience that changed, and commits every door of
// those audiences (and every door forced or left unsaved before).
func (c *Compiler) finish(ctx context.Context, w *work) error {
	doors := map[*door]bool{}
	for a, ms := range w.members {
		if c.audiences[a.key] != a {
			continue // its last door left meanwhile
		}
		for m := range ms {
			c.recompute(a, m, w.gone)
		}
		if c.commitAudience(a, c.pin(a)) {
			for d := range a.doors {
				doors[d] = true
			}
		}
	}
	for d := range w.heartbeat {
		doors[d] = true
	}
	for d := range c.unsaved {
		doors[d] = true
	}
	live := make([]*door, 0, len(doors))
	for _, d := range sortedDoors(doors) {
		if c.doors[d.d.ID] != d {
			delete(c.unsaved, d)
			continue
		}
		live = append(live, d)
	}
	return c.commitAll(ctx, live, func(d *door) bool { return w.heartbeat[d] })
}

// pin returns the oldest version of a that an unsaved door still publishes.
func (c *Compiler) pin(a *audience) uint64 {
	p := noPin
	for d := range c.unsaved {
		if d.caud == a {
			p = min(p, d.cav)
		}
	}
	return p
}

// touch marks member for recomputation in every audience of center ("" =
// every audience of the network).
func (c *Compiler) touch(w *work, member, center string) {
	if center == "" {
		for _, a := range c.audiences {
			w.add(a, member)
		}
		return
	}
	for _, a := range c.audiencesAt[center] {
		w.add(a, member)
	}
}

// touchPass marks the pass's member at the entrances the pass covers:
// passes do not open room doors.
func (c *Compiler) touchPass(w *work, p *domain.Pass) {
	if len(p.CenterIDs) == 0 {
		for _, rooms := range c.audiencesAt {
			if a := rooms[""]; a != nil {
				w.add(a, p.MemberID)
			}
		}
		return
	}
	for _, center := range p.CenterIDs {
		if a := c.audiencesAt[center][""]; a != nil {
			w.add(a, p.MemberID)
		}
	}
}

// touchEverywhere marks member in every audience where it is listed (under
// one of its badges, or under gone, a badge it just lost) or may have a
// right: for a change of the member itself or of one of its badges.
func (c *Compiler) touchEverywhere(w *work, member string, gone ...protocol.UID) {
	listed := func(a *audience, uid protocol.UID) bool {
		e := a.entries[uid]
		return e != nil && e.Member == member
	}
	for _, a := range c.audiences {
		for _, b := range c.badgesOf(member) {
			if listed(a, b.uid) {
				w.add(a, member)
				break
			}
		}
		for _, uid := range gone {
			if listed(a, uid) {
				w.add(a, member)
			}
		}
	}
	for _, b := range c.bookingsByMember[member] {
		c.touch(w, member, b.CenterID)
	}
	for _, p := range c.passesByMember[member] {
		c.touchPass(w, p)
	}
	for center := range c.staffByMember[member] {
		c.touch(w, member, center)
	}
}

func (c *Compiler) applyDoor(w *work, nd domain.Door, deleted bool) {
	old := c.doors[nd.ID]
	if deleted {
		if old != nil {
			c.removeDoor(old)
			c.retired[nd.ID] = max(c.retired[nd.ID], old.version)
			delete(c.unsaved, old)
		}
		return
	}
	if old != nil && old.d.CenterID == nd.CenterID && old.d.RoomID == nd.RoomID {
		old.d = nd // name or exit flag: nothing a whitelist carries
		return
	}
	d := old
	if d == nil {
		d = &door{d: nd, version: c.retired[nd.ID]}
		delete(c.retired, nd.ID)
	} else {
		c.removeDoor(d)
		d.d = nd
	}
	if a := c.addDoor(d); a.fresh {
		for m := range c.candidates(a) {
			w.add(a, m)
		}
		if _, ok := w.members[a]; !ok {
			w.members[a] = map[string]bool{} // compiled even when nobody is listed
		}
	}
	d.resetLog = true // the header changed: doors get a snapshot
	w.heartbeat[d] = true
}

// candidates lists the members that may have a right in a, plus those
// listed there now.
func (c *Compiler) candidates(a *audience) map[string]bool {
	out := map[string]bool{}
	c.addCandidates(out, a)
	return out
}

// addCandidates adds candidates(a) to out.
func (c *Compiler) addCandidates(out map[string]bool, a *audience) {
	center := a.key.center
	for _, e := range a.entries {
		out[e.Member] = true
	}
	for _, s := range []map[string]bool{c.staffAt[center], c.staffAt[""]} {
		for m := range s {
			out[m] = true
		}
	}
	for m := range c.bookingsAt[center] {
		out[m] = true
	}
	if a.key.room == "" {
		for m := range c.passesAt[center] {
			out[m] = true
		}
		for m := range c.passesAt[""] {
			out[m] = true
		}
	}
}

// readSettings calls Config.NetworkSettings and checks what it gives.
func (c *Compiler) readSettings(ctx context.Context, now time.Time) (DoorSettings, error) {
	ds, err := c.cfg.NetworkSettings(ctx, now)
	if err == nil && (ds.HeldOpenS < 0 || ds.HeldOpenS > protocol.MaxHeldOpenSeconds) {
		c.met.rejected.With(string(domain.KindSettings)).Inc()
		err = fmt.Errorf("held-open threshold %d s: want 1 to %d, or 0 for none", ds.HeldOpenS, protocol.MaxHeldOpenSeconds)
	}
	if err != nil {
		return DoorSettings{}, fmt.Errorf("whitelist: network settings: %w", err)
	}
	return ds, nil
}

// refreshSettings reads the network settings in force at now and, when
// the held-open threshold changed, gives it to every door: a new version
// for each (a heartbeat). A failed read keeps the value in force, logged,
// and Tick reads again.
func (c *Compiler) refreshSettings(ctx context.Context, now time.Time) error {
	c.settingsMu.Lock()
	defer c.settingsMu.Unlock()
	ds, err := c.readSettings(ctx, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.settingsStale = true
		c.log.Error("whitelist: reading the network settings failed; doors keep the held-open threshold in force, read again at the next tick",
			"held_open_s", c.heldOpen, "error", err)
		return err
	}
	c.settingsStale, c.settingsUntil = false, ds.Until
	if ds.HeldOpenS == c.heldOpen {
		return nil
	}
	c.log.Info("whitelist: new held-open threshold from the network settings; every door gets a new version",
		"held_open_s", ds.HeldOpenS, "was", c.heldOpen, "doors", len(c.doors))
	c.heldOpen = ds.HeldOpenS
	w := newWork()
	for _, d := range c.doors {
		d.heldOpen = ds.HeldOpenS
		w.heartbeat[d] = true
	}
	return c.finish(ctx, w)
}

// applyCenterPolicy gives the center's doors its require_secure_credentials
// policy: a new version for each when it changes.
func (c *Compiler) applyCenterPolicy(w *work, ctr domain.Center, deleted bool) {
	want := ctr.RequireSecure && !deleted
	if c.secureCenters[ctr.ID] == want {
		return
	}
	if want {
		c.secureCenters[ctr.ID] = true
	} else {
		delete(c.secureCenters, ctr.ID)
	}
	for _, d := range c.doors {
		if d.d.CenterID == ctr.ID {
			d.requireSecure = want
			w.heartbeat[d] = true
		}
	}
}

// secureEntry adds a secure badge's card type and door keys to its entry.
// Without them (no card keys, a version the ring no longer holds) the badge
// is listed revoked: no door could authenticate it.
func (c *Compiler) secureEntry(e *protocol.Entry, b *badge) {
	if !b.card.Secure() {
		return
	}
	e.Card = b.card
	var err error
	switch ck, ok := c.doorKeys[b.uid]; {
	case ok && ck.card == b.card && ck.version == b.keyVersion:
		e.Keys = ck.keys
	case c.cfg.CardKeys == nil:
		err = errors.New("no card master keys configured")
	default:
		e.Keys, err = c.cfg.CardKeys.DoorKeys(b.uid, b.card, b.keyVersion, c.now)
		if err == nil {
			c.doorKeys[b.uid] = cachedKeys{card: b.card, version: b.keyVersion, keys: e.Keys}
		}
	}
	if err != nil || len(e.Keys) == 0 {
		c.met.rejected.With(string(domain.KindBadge)).Inc()
		c.log.Error("whitelist: no door key for a secure badge; it is listed revoked", "uid", b.uid, "key_version", b.keyVersion, "error", err)
		e.Keys, e.Revoked, e.Grants = nil, true, nil
		e.Card = ""
	}
}

// cachedKeys are a badge's door keys for its card type and key version.
type cachedKeys struct {
	card    protocol.CardType
	version uint8
	keys    []protocol.DoorKey
}

// addDoor indexes d and joins it to the audience of its center and room,
// created (fresh, not compiled) when d is its first door.
func (c *Compiler) addDoor(d *door) *audience {
	d.requireSecure = c.secureCenters[d.d.CenterID]
	d.heldOpen = c.heldOpen
	c.doors[d.d.ID] = d
	k := audienceKey{center: d.d.CenterID, room: d.d.RoomID}
	a := c.audiences[k]
	if a == nil {
		a = newAudience(k)
		c.audiences[k] = a
		index2(c.audiencesAt, k.center, k.room, a)
	}
	a.doors[d] = true
	d.aud = a
	return a
}

// removeDoor unindexes d; an audience left without doors is dropped (an
// unsaved door may still publish from it: it keeps its pointer).
func (c *Compiler) removeDoor(d *door) {
	delete(c.doors, d.d.ID)
	a := d.aud
	delete(a.doors, d)
	if len(a.doors) == 0 {
		delete(c.audiences, a.key)
		unindex2(c.audiencesAt, a.key.center, a.key.room)
	}
}

// addBooking indexes a booking if it is live (confirmed and not ended) and
// schedules its entry into the horizon and its end. It reports whether the
// booking was indexed.
func (c *Compiler) addBooking(b *domain.Booking) bool {
	if b.Status != domain.BookingConfirmed || !b.End.After(c.now) {
		return false
	}
	if old := c.bookings[b.ID]; old != nil {
		c.removeBooking(old) // listed twice in a load: the last is kept
	}
	c.bookings[b.ID] = b
	list2(c.bookingsAt, b.CenterID, b.MemberID, b)
	c.bookingsByMember[b.MemberID] = append(c.bookingsByMember[b.MemberID], b)
	if enter := b.Start.Add(-c.cfg.Horizon); enter.After(c.now) {
		c.timeline.push(item{at: enter, enter: true, booking: b})
	}
	c.timeline.push(item{at: b.End, booking: b})
	return true
}

func (c *Compiler) removeBooking(b *domain.Booking) {
	delete(c.bookings, b.ID)
	same := func(x *domain.Booking) bool { return x.ID == b.ID }
	unlist2(c.bookingsAt, b.CenterID, b.MemberID, same)
	unlist(c.bookingsByMember, b.MemberID, same)
}

// passCenters lists the centers a pass covers, each once ("" = every
// center).
func passCenters(p *domain.Pass) []string {
	if len(p.CenterIDs) == 0 {
		return []string{""}
	}
	cs := slices.Clone(p.CenterIDs)
	slices.Sort(cs)
	return slices.Compact(cs)
}

func (c *Compiler) addPass(p *domain.Pass) bool {
	if !p.ValidUntil.After(c.now) {
		return false
	}
	if old := c.passes[p.ID]; old != nil {
		c.removePass(old) // listed twice in a load: the last is kept
	}
	c.passes[p.ID] = p
	for _, center := range passCenters(p) {
		list2(c.passesAt, center, p.MemberID, p)
	}
	c.passesByMember[p.MemberID] = append(c.passesByMember[p.MemberID], p)
	if enter := p.ValidFrom.Add(-c.cfg.Horizon); enter.After(c.now) {
		c.timeline.push(item{at: enter, enter: true, pass: p})
	}
	c.timeline.push(item{at: p.ValidUntil, pass: p})
	return true
}

func (c *Compiler) removePass(p *domain.Pass) {
	delete(c.passes, p.ID)
	same := func(x *domain.Pass) bool { return x.ID == p.ID }
	for _, center := range passCenters(p) {
		unlist2(c.passesAt, center, p.MemberID, same)
	}
	unlist(c.passesByMember, p.MemberID, same)
}

func (c *Compiler) setStaff(s domain.Staff, on bool) {
	if on {
		index2(c.staffAt, s.CenterID, s.MemberID, true)
		index2(c.staffByMember, s.MemberID, s.CenterID, true)
		return
	}
	unindex2(c.staffAt, s.CenterID, s.MemberID)
	unindex2(c.staffByMember, s.MemberID, s.CenterID)
}

func index2[V any](m map[string]map[string]V, a, b string, v V) {
	inner := m[a]
	if inner == nil {
		inner = map[string]V{}
		m[a] = inner
	}
	inner[b] = v
}

func unindex2[V any](m map[string]map[string]V, a, b string) {
	if inner := m[a]; inner != nil {
		delete(inner, b)
		if len(inner) == 0 {
			delete(m, a)
		}
	}
}

// list2 appends v to m[a][b]. Bookings and passes are listed in small
// slices rather than maps keyed by id: a member has a few at one center,
// and a map per member and center would cost hundreds of bytes each.
func list2[V any](m map[string]map[string][]V, a, b string, v V) {
	inner := m[a]
	if inner == nil {
		inner = map[string][]V{}
		m[a] = inner
	}
	inner[b] = append(inner[b], v)
}

func unlist2[V any](m map[string]map[string][]V, a, b string, drop func(V) bool) {
	if inner := m[a]; inner != nil {
		unlist(inner, b, drop)
		if len(inner) == 0 {
			delete(m, a)
		}
	}
}

func unlist[V any](m map[string][]V, k string, drop func(V) bool) {
	if vs := slices.DeleteFunc(m[k], drop); len(vs) > 0 {
		m[k] = vs
	} else {
		delete(m, k)
	}
}

// checkChange validates a change: exactly the object its Kind names, valid.
func checkChange(ch domain.Change) error {
	set := 0
	for _, p := range []bool{ch.Center != nil, ch.Room != nil, ch.Door != nil, ch.Member != nil,
		ch.Badge != nil, ch.Booking != nil, ch.Pass != nil, ch.Staff != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("%w: %d objects set; want exactly one", ErrInvalidChange, set)
	}
	var err error
	switch ch.Kind {
	case domain.KindCenter:
		err = validate(ch.Center)
	case domain.KindRoom:
		err = validate(ch.Room)
	case domain.KindDoor:
		err = validate(ch.Door)
	case domain.KindMember:
		err = validate(ch.Member)
	case domain.KindBadge:
		err = validate(ch.Badge)
	case domain.KindBooking:
		err = validate(ch.Booking)
	case domain.KindPass:
		err = validate(ch.Pass)
	case domain.KindStaff:
		err = validate(ch.Staff)
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidChange, ch.Kind)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidChange, ch.Kind, err)
	}
	return nil
}

type validator interface{ Validate() error }

// validate validates a typed pointer; a nil pointer means the change carries
// another kind of object than its Kind names.
func validate[T any, P interface {
	*T
	validator
}](p P) error {
	if p == nil {
		return errors.New("the object set does not match the kind")
	}
	return p.Validate()
}
