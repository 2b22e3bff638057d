package credit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
)

// Ledger keeps credits up to date as events arrive, closes periods and
// serves settlements and statements, with its state in a Store.
//
// Update recomputes only what new events can change: for each member with
// new events, the periods within two days of each event and the periods of
// the member's bookings within two days of it (whose attendance the event
// may change). The recomputation uses
// the same rules as Compute over the member's stored events in a window that
// fully determines those periods, so the stored results always equal what
// Compute would give from scratch (tested). Events of a closed period change
// nothing in it: the difference they make becomes adjustment lines booked in
// the first open period.
//
// A Ledger serializes its own calls. Only one Ledger may write to a Store at
// a time (one central replica does the crediting); Save and Close reject a
// commit computed against a stale LastClosed, so a concurrent close never
// changes a frozen period.
type Ledger struct {
	mu    sync.Mutex
	cfg   Config
	store Store
	// rulesFor gives each period's rules (SetRules); nil: cfg for all.
	rulesFor func(Period) Config
}

// NewLedger returns a ledger with the rules of cfg over store.
func NewLedger(cfg Config, store Store) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, fmt.Errorf("credit: new ledger: nil store")
	}
	return &Ledger{cfg: cfg, store: store}, nil
}

// Config returns the ledger's base rules (its time zone; the rules of
// periods without others, see SetRules).
func (l *Ledger) Config() Config { return l.cfg }

// SetRules makes the ledger compute, settle and close each period p with
// rules(p) instead of the rules it was made with (the network settings in
// force for p, whose versions change from a period on). rules must give
// valid rules in the ledger's time zone, the same for a period every time
// it is asked unless the caller then rebuilds the open periods; closed
// periods keep their frozen settlements whatever it says. nil goes back to
// one set of rules.
func (l *Ledger) SetRules(rules func(Period) Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rulesFor = rules
}

// Rules returns the rules of period p.
func (l *Ledger) Rules(p Period) Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return *l.rules(p)
}

func (l *Ledger) rules(p Period) *Config {
	if l.rulesFor == nil {
		return &l.cfg
	}
	c := l.rulesFor(p)
	c.Location = l.cfg.Location
	return &c
}

// maxGrace is the longest grace of the periods overlapping [fromMs, toMs).
func (l *Ledger) maxGrace(fromMs, toMs int64) time.Duration {
	if l.rulesFor == nil {
		return l.cfg.Grace
	}
	g := time.Duration(0)
	set := map[Period]bool{}
	l.addPeriods(set, fromMs, toMs)
	for p := range set {
		g = max(g, l.rules(p).Grace)
	}
	return g
}

// UpdateReport says what an update recomputed.
type UpdateReport struct {
	// Members is the number of member ids recomputed.
	Members int `json:"members"`
	// Periods lists the open periods whose results changed or were rechecked.
	Periods []Period `json:"periods"`
	// Adjusted lists the closed periods for which adjustments were recomputed.
	Adjusted []Period `json:"adjusted"`
}

// dayMs is a margin of one day in milliseconds.
const dayMs = int64(24 * time.Hour / time.Millisecond)

// window is the range of event times (Unix ms) that fully determines the
// member's results in periods first to last: two days around them (walk-ins,
// exit taps, entries elsewhere, entries keeping a member inside) and the
// attendance windows of the bookings that overlap them. Member "" means
// every member.
func window(cfg *Config, grace time.Duration, dir *Directory, member string, first, last Period) (fromMs, toMs int64) {
	loc := cfg.Location
	start, end := first.Start(loc).UnixMilli(), last.End(loc).UnixMilli()
	fromMs, toMs = start-2*dayMs, end+2*dayMs
	widen := func(bs []domain.Booking) {
		for _, b := range bs {
			fromMs = min(fromMs, b.Start.UnixMilli()-grace.Milliseconds()-2*dayMs)
			toMs = max(toMs, b.End.UnixMilli()+2*dayMs)
		}
	}
	if member != "" {
		widen(dir.bookingsOverlapping(member, start, end))
		return fromMs, toMs
	}
	for id := range dir.bookings {
		widen(dir.bookingsOverlapping(id, start, end))
	}
	return fromMs, toMs
}

// EventWindow is the range of times that determines period p from scratch:
// Compute over every stored event whose door time or receipt time lies in
// [from, to) gives p's exact results (results of other periods in the
// answer are partial and must be ignored).
func EventWindow(cfg Config, dir *Directory, p Period) (from, to time.Time) {
	fromMs, toMs := window(&cfg, cfg.Grace, dir, "", p, p)
	return time.UnixMilli(fromMs), time.UnixMilli(toMs)
}

// Update credits events that the central has committed (they must be
// readable through the store's MemberEvents and EventsOfMembers).
// Duplicates and events already credited are harmless: the ledger
// recomputes from the store.
func (l *Ledger) Update(ctx context.Context, dir *Directory, events []domain.Event) (*UpdateReport, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	dirty := map[string]map[Period]bool{}
	// One grace for the batch: the longest of the periods it touches.
	var grace time.Duration
	if len(events) > 0 {
		lo, hi := events[0].TimeMs, events[0].TimeMs
		for i := range events {
			lo, hi = min(lo, events[i].TimeMs), max(hi, events[i].TimeMs)
		}
		grace = l.maxGrace(lo-2*dayMs, hi+3*dayMs)
	}
	for i := range events {
		ev := &events[i]
		set := dirty[ev.Member]
		if set == nil {
			set = map[Period]bool{}
			dirty[ev.Member] = set
		}
		l.addPeriods(set, ev.ReceivedMs, ev.ReceivedMs+1)
		l.addPeriods(set, ev.TimeMs-2*dayMs, ev.TimeMs+2*dayMs)
		// A tap can change the attendance of any booking within a day or
		// so: an entry keeps the member inside until midnight at most, and
		// an exit shortens earlier entries of its day.
		for _, b := range dir.bookingsOverlapping(ev.Member, ev.TimeMs-2*dayMs, ev.TimeMs+2*dayMs+grace.Milliseconds()) {
			l.addPeriods(set, b.Start.UnixMilli(), b.End.UnixMilli())
		}
	}
	return l.recompute(ctx, dir, dirty)
}

// Refresh recomputes the members over the periods that overlap [from, to),
// after a change of their bookings or passes (or of a door or center).
func (l *Ledger) Refresh(ctx context.Context, dir *Directory, members []string, from, to time.Time) (*UpdateReport, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// One set shared by every member (only read from here on): a refresh
	// after an import of 100,000 members would otherwise hold 100,000
	// equal maps.
	set := map[Period]bool{}
	l.addPeriods(set, from.UnixMilli(), to.UnixMilli())
	dirty := make(map[string]map[Period]bool, len(members))
	for _, m := range members {
		dirty[m] = set
	}
	return l.recompute(ctx, dir, dirty)
}

// Changed recomputes what a booking or pass change can alter: the
// member's periods overlapping the booking or the pass validity. The central
// calls it for every committed domain.Change of kind booking or pass (with
// the new state, or the last state of a deleted one); when a booking moves
// to another period, call Refresh for its old interval too. Changes of other
// kinds (member home, door, center, rate) alter past results wholesale:
// call Rebuild for each open period instead. Other kinds are ignored here.
func (l *Ledger) Changed(ctx context.Context, dir *Directory, ch domain.Change) (*UpdateReport, error) {
	switch {
	case ch.Kind == domain.KindBooking && ch.Booking != nil:
		b := ch.Booking
		l.mu.Lock()
		grace := l.maxGrace(b.Start.UnixMilli()-dayMs, b.End.UnixMilli())
		l.mu.Unlock()
		return l.Refresh(ctx, dir, []string{b.MemberID}, b.Start.Add(-grace), b.End)
	case ch.Kind == domain.KindPass && ch.Pass != nil:
		p := ch.Pass
		return l.Refresh(ctx, dir, []string{p.MemberID}, p.ValidFrom, p.ValidUntil)
	}
	return &UpdateReport{}, nil
}

// Rebuild recomputes a whole period: every member of the directory, the
// member ids that have a stored result in it and taps without a member.
func (l *Ledger) Rebuild(ctx context.Context, dir *Directory, p Period) (*UpdateReport, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rebuild(ctx, dir, p)
}

func (l *Ledger) rebuild(ctx context.Context, dir *Directory, p Period) (*UpdateReport, error) {
	stored, err := l.store.MemberPeriods(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("credit: rebuild %s: %w", p, err)
	}
	set := map[Period]bool{p: true} // shared, only read from here on (see Refresh)
	dirty := make(map[string]map[Period]bool, len(dir.members)+1)
	dirty[""] = set
	for id := range dir.members {
		dirty[id] = set
	}
	for _, mp := range stored {
		dirty[mp.MemberID] = set
	}
	return l.recompute(ctx, dir, dirty)
}

// addPeriods marks every period overlapping [fromMs, toMs).
func (l *Ledger) addPeriods(set map[Period]bool, fromMs, toMs int64) {
	loc := l.cfg.Location
	p := PeriodOf(time.UnixMilli(fromMs), loc)
	last := PeriodOf(time.UnixMilli(max(fromMs, toMs-1)), loc)
	for ; !last.Before(p); p = p.Next() {
		set[p] = true
	}
}

// recompute recomputes the dirty (member, period) pairs and saves them in
// one commit, retrying when a close intervened.
func (l *Ledger) recompute(ctx context.Context, dir *Directory, dirty map[string]map[Period]bool) (*UpdateReport, error) {
	for attempt := 0; ; attempt++ {
		rep, c, err := l.plan(ctx, dir, dirty)
		if err != nil {
			return nil, err
		}
		err = l.store.Save(ctx, c)
		if errors.Is(err, ErrStale) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("credit: save: %w", err)
		}
		return rep, nil
	}
}

func (l *Ledger) plan(ctx context.Context, dir *Directory, dirty map[string]map[Period]bool) (*UpdateReport, *Commit, error) {
	last, err := l.store.LastClosed(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("credit: last closed: %w", err)
	}
	c := &Commit{LastClosed: last}
	rep := &UpdateReport{}
	members := slices.Sorted(maps.Keys(dirty))
	periodsOf := make([][]Period, len(members))
	for i, member := range members {
		periodsOf[i] = slices.SortedFunc(maps.Keys(dirty[member]), comparePeriods)
	}
	res, err := l.compute(ctx, dir, members, periodsOf)
	if err != nil {
		return nil, nil, err
	}
	open, adjusted := map[Period]bool{}, map[Period]bool{}
	frozenRates := map[Period]*Settlement{}
	bookedIn := last.Next()
	for i, member := range members {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		periods := periodsOf[i]
		if len(periods) == 0 {
			continue
		}
		rep.Members++
		for _, p := range periods {
			truth := res[i][p]
			if truth == nil {
				truth = &MemberPeriod{MemberID: member, Period: p}
			}
			if last.IsZero() || last.Before(p) {
				c.Results = append(c.Results, *truth)
				open[p] = true
				continue
			}
			set, err := l.adjust(ctx, dir, truth, bookedIn, frozenRates)
			if err != nil {
				return nil, nil, err
			}
			c.Adjustments = append(c.Adjustments, set)
			adjusted[p] = true
		}
	}
	rep.Periods = slices.SortedFunc(maps.Keys(open), comparePeriods)
	rep.Adjusted = slices.SortedFunc(maps.Keys(adjusted), comparePeriods)
	return rep, c, nil
}

// eventsBatch is how many members' events one read fetches when their
// periods span one month (fewer for longer spans).
const eventsBatch = 500

// memberRun is the computation of one member over one run of periods with
// the same rules, from the member's events in [from, to).
type memberRun struct {
	member   int // index in the members
	run      []Period
	e        *engine
	from, to int64
}

// compute computes each member's results in its periods (res[i] for
// members[i]; nil or a missing period when the result is empty). The
// periods are computed in runs with the same rules (one run unless the
// settings changed among them), each from the member's events in the
// run's window. The events of members computed over the same periods are
// read together, eventsBatch members a read: a member without events costs
// no read of its own, and still gets its results (no-shows of its
// bookings).
func (l *Ledger) compute(ctx context.Context, dir *Directory, members []string, periodsOf [][]Period) ([]map[Period]*MemberPeriod, error) {
	engines := map[int64]*engine{}
	engineFor := func(p Period) *engine {
		r := l.rules(p)
		e := engines[r.SettingsVersion]
		if e == nil {
			e = &engine{cfg: *r, dir: dir}
			engines[r.SettingsVersion] = e
		}
		return e
	}
	type span struct{ first, last Period }
	graces := map[span]time.Duration{}
	groups := map[span][]memberRun{}
	var order []span
	for i, member := range members {
		for _, run := range l.ruleRuns(periodsOf[i]) {
			k := span{run[0], run[len(run)-1]}
			grace, ok := graces[k]
			if !ok {
				grace = l.maxGrace(k.first.Start(l.cfg.Location).UnixMilli(), k.last.End(l.cfg.Location).UnixMilli())
				graces[k] = grace
			}
			from, to := window(&l.cfg, grace, dir, member, k.first, k.last)
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], memberRun{member: i, run: run, e: engineFor(run[0]), from: from, to: to})
		}
	}
	res := make([]map[Period]*MemberPeriod, len(members))
	apply := func(mr *memberRun, evs []*domain.Event) {
		got := mr.e.member(members[mr.member], evs, mr.from, mr.to)
		for _, p := range mr.run {
			if got[p] == nil {
				continue
			}
			if res[mr.member] == nil {
				res[mr.member] = map[Period]*MemberPeriod{}
			}
			res[mr.member][p] = got[p]
		}
	}
	for _, k := range order {
		runs := groups[k]
		months := (k.last.Year-k.first.Year)*12 + int(k.last.Month-k.first.Month) + 1
		size := max(16, eventsBatch/months)
		for len(runs) > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			batch := runs[:min(len(runs), size)]
			runs = runs[len(batch):]
			// Events without a member: read alone, as they may be many.
			if members[batch[0].member] == "" {
				mr := &batch[0]
				batch = batch[1:]
				evs, err := l.store.MemberEvents(ctx, "", mr.from, mr.to)
				if err != nil {
					return nil, fmt.Errorf("credit: events without a member: %w", err)
				}
				ptrs := make([]*domain.Event, len(evs))
				for i := range evs {
					ptrs[i] = &evs[i]
				}
				apply(mr, ptrs)
				if len(batch) == 0 {
					continue
				}
			}
			ids := make([]string, len(batch))
			from, to := batch[0].from, batch[0].to
			for i := range batch {
				ids[i] = members[batch[i].member]
				from, to = min(from, batch[i].from), max(to, batch[i].to)
			}
			evs, err := l.store.EventsOfMembers(ctx, ids, from, to)
			if err != nil {
				return nil, fmt.Errorf("credit: events of %d members from %q: %w", len(ids), ids[0], err)
			}
			byMember := make(map[string][]*domain.Event, len(batch))
			for i := range evs {
				byMember[evs[i].Member] = append(byMember[evs[i].Member], &evs[i])
			}
			for i := range batch {
				mr := &batch[i]
				// Each member's events in its own window, as MemberEvents
				// gives them: the batch's window may be wider.
				var mine []*domain.Event
				for _, ev := range byMember[members[mr.member]] {
					if (ev.TimeMs >= mr.from && ev.TimeMs < mr.to) || (ev.ReceivedMs >= mr.from && ev.ReceivedMs < mr.to) {
						mine = append(mine, ev)
					}
				}
				apply(mr, mine)
			}
		}
	}
	return res, nil
}

// ruleRuns splits sorted periods into runs with the same rules
// (SettingsVersion): one run while the rules do not change between them.
func (l *Ledger) ruleRuns(periods []Period) [][]Period {
	var out [][]Period
	prev := int64(-1)
	for _, p := range periods {
		v := l.rules(p).SettingsVersion
		if n := len(out); n > 0 && v == prev {
			out[n-1] = append(out[n-1], p)
			continue
		}
		out = append(out, []Period{p})
		prev = v
	}
	return out
}

// adjust computes the adjustment lines of a member for a closed period:
// truth minus frozen minus what earlier (closed) periods already booked.
func (l *Ledger) adjust(ctx context.Context, dir *Directory, truth *MemberPeriod, bookedIn Period, frozen map[Period]*Settlement) (AdjustmentSet, error) {
	p := truth.Period
	set := AdjustmentSet{MemberID: truth.MemberID, BelongsTo: p, BookedIn: bookedIn}
	was, err := l.store.MemberPeriod(ctx, truth.MemberID, p)
	if err != nil {
		return set, fmt.Errorf("credit: frozen result of %q in %s: %w", truth.MemberID, p, err)
	}
	prior, err := l.store.Adjustments(ctx, truth.MemberID, p)
	if err != nil {
		return set, fmt.Errorf("credit: adjustments of %q for %s: %w", truth.MemberID, p, err)
	}
	delta := truth.creditedMinutes()
	for k, v := range was.creditedMinutes() {
		delta[k] -= v
	}
	for _, a := range prior {
		if a.BookedIn != bookedIn {
			delta[lineKey{center: a.CenterID, class: a.Class, home: a.HomeCenterID}] -= a.Minutes
		}
	}
	s, ok := frozen[p]
	if !ok {
		s, err = l.store.ClosedSettlement(ctx, p)
		if err != nil && !errors.Is(err, ErrNotClosed) {
			return set, fmt.Errorf("credit: frozen settlement %s: %w", p, err)
		}
		frozen[p] = s
	}
	for _, k := range sortedLineKeys(delta) {
		if delta[k] == 0 {
			continue
		}
		rate := int64(0)
		if s != nil {
			if cl, ok := s.Center(k.center); ok {
				rate = cl.RateCents
			}
		}
		if rate == 0 {
			var c *domain.Center
			if ci := dir.centers[k.center]; ci != nil {
				c = &ci.Center
			}
			rate = l.rules(p).rate(c)
		}
		set.Lines = append(set.Lines, Adjustment{MemberID: truth.MemberID, CenterID: k.center, Class: k.class,
			HomeCenterID: k.home, BelongsTo: p, BookedIn: bookedIn, Minutes: delta[k], RateCents: rate})
	}
	return set, nil
}

// Close freezes period p: it must have ended at now, follow the last closed
// period (or, for the first close, no earlier period may hold results). The
// period is rebuilt from the stored events first, then its settlement is
// frozen with the current rates and returned.
func (l *Ledger) Close(ctx context.Context, dir *Directory, p Period, now time.Time) (*Settlement, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeLocked(ctx, dir, p, now)
}

// ToClose lists the open periods that closing through p closes, oldest
// first: from the period after the last closed one (before any close: the
// earliest period holding results, or p) to p. Closing p alone is
// possible only when the list is [p]. A p already closed is
// ErrAlreadyClosed.
func (l *Ledger) ToClose(ctx context.Context, p Period) ([]Period, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.toClose(ctx, p)
}

func (l *Ledger) toClose(ctx context.Context, p Period) ([]Period, error) {
	if p.IsZero() {
		return nil, fmt.Errorf("credit: close %s: %w: no period", p, ErrPeriod)
	}
	last, err := l.store.LastClosed(ctx)
	if err != nil {
		return nil, fmt.Errorf("credit: close %s: %w", p, err)
	}
	first := p
	switch {
	case !last.IsZero() && !last.Before(p):
		return nil, fmt.Errorf("credit: close %s: %w (last closed %s)", p, ErrAlreadyClosed, last)
	case !last.IsZero():
		first = last.Next()
	default:
		earliest, err := l.store.EarliestPeriod(ctx)
		if err != nil {
			return nil, fmt.Errorf("credit: close %s: %w", p, err)
		}
		if !earliest.IsZero() && earliest.Before(p) {
			first = earliest
		}
	}
	var out []Period
	for q := first; !p.Before(q); q = q.Next() {
		out = append(out, q)
	}
	return out, nil
}

// CloseThrough closes every open period up to and including p, oldest
// first (the periods ToClose lists), in one call: a safe sequence of
// closes, each atomic and checked against the one before it (the store's
// Close fails with ErrStale if another close came between). p must have
// ended at now, else nothing is closed (ErrPeriodNotOver). It returns the
// frozen settlements, oldest first. Should one close fail, the periods
// closed before it stay closed (they are returned with the error) and a
// new CloseThrough continues where it stopped.
func (l *Ledger) CloseThrough(ctx context.Context, dir *Directory, p Period, now time.Time) ([]*Settlement, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ps, err := l.toClose(ctx, p)
	if err != nil {
		return nil, err
	}
	if now.Before(p.End(l.cfg.Location)) {
		return nil, fmt.Errorf("credit: close %s: %w (it ends %s)", p, ErrPeriodNotOver, p.End(l.cfg.Location).Format(time.RFC3339))
	}
	out := make([]*Settlement, 0, len(ps))
	for _, q := range ps {
		s, err := l.closeLocked(ctx, dir, q, now)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (l *Ledger) closeLocked(ctx context.Context, dir *Directory, p Period, now time.Time) (*Settlement, error) {
	if p.IsZero() {
		return nil, fmt.Errorf("credit: close: %w: no period", ErrPeriod)
	}
	last, err := l.store.LastClosed(ctx)
	if err != nil {
		return nil, fmt.Errorf("credit: close %s: %w", p, err)
	}
	switch {
	case !last.IsZero() && !last.Before(p):
		return nil, fmt.Errorf("credit: close %s: %w (last closed %s)", p, ErrAlreadyClosed, last)
	case !last.IsZero() && p != last.Next():
		return nil, fmt.Errorf("credit: close %s: %w: close %s first", p, ErrCloseOrder, last.Next())
	case now.Before(p.End(l.cfg.Location)):
		return nil, fmt.Errorf("credit: close %s: %w (it ends %s)", p, ErrPeriodNotOver, p.End(l.cfg.Location).Format(time.RFC3339))
	}
	if last.IsZero() {
		first, err := l.store.EarliestPeriod(ctx)
		if err != nil {
			return nil, fmt.Errorf("credit: close %s: %w", p, err)
		}
		if !first.IsZero() && first.Before(p) {
			return nil, fmt.Errorf("credit: close %s: %w: %s holds results, close it first", p, ErrCloseOrder, first)
		}
	}
	if _, err := l.rebuild(ctx, dir, p); err != nil {
		return nil, fmt.Errorf("credit: close %s: %w", p, err)
	}
	s, err := l.openSettlement(ctx, dir, p)
	if err != nil {
		return nil, err
	}
	s.Closed = true
	if err := l.store.Close(ctx, last, s); err != nil {
		return nil, fmt.Errorf("credit: close %s: %w", p, err)
	}
	return s, nil
}

// Settlement returns the period's settlement: frozen when the period is
// closed, else as of the last update.
func (l *Ledger) Settlement(ctx context.Context, dir *Directory, p Period) (*Settlement, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	last, err := l.store.LastClosed(ctx)
	if err != nil {
		return nil, fmt.Errorf("credit: settlement %s: %w", p, err)
	}
	if !last.IsZero() && !last.Before(p) {
		s, err := l.store.ClosedSettlement(ctx, p)
		if errors.Is(err, ErrNotClosed) {
			// Before the first close: nothing was ever credited there.
			return buildSettlement(l.rules(p), dir, p, nil, nil, true), nil
		}
		if err != nil {
			return nil, fmt.Errorf("credit: settlement %s: %w", p, err)
		}
		return s, nil
	}
	return l.openSettlement(ctx, dir, p)
}

func (l *Ledger) openSettlement(ctx context.Context, dir *Directory, p Period) (*Settlement, error) {
	mps, err := l.store.MemberPeriods(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("credit: settlement %s: %w", p, err)
	}
	adjs, err := l.store.BookedAdjustments(ctx, p, "")
	if err != nil {
		return nil, fmt.Errorf("credit: settlement %s: adjustments: %w", p, err)
	}
	return buildSettlement(l.rules(p), dir, p, mps, adjs, false), nil
}

// Statement returns a member's statement for the period (frozen visits when
// the period is closed) with the adjustments booked in it.
func (l *Ledger) Statement(ctx context.Context, dir *Directory, member string, p Period) (*Statement, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	mp, err := l.store.MemberPeriod(ctx, member, p)
	if err != nil {
		return nil, fmt.Errorf("credit: statement of %q for %s: %w", member, p, err)
	}
	mp.MemberID, mp.Period = member, p
	adjs, err := l.store.BookedAdjustments(ctx, p, member)
	if err != nil {
		return nil, fmt.Errorf("credit: statement of %q for %s: adjustments: %w", member, p, err)
	}
	return buildStatement(l.rules(p), dir, &mp, adjs), nil
}
