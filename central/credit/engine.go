package credit

import (
	"cmp"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// engine applies the rules of one Config to one Directory. It caches the
// last period and the last local day it looked up; an engine is used by
// one goroutine at a time.
type engine struct {
	cfg    Config
	dir    *Directory
	period periodSpan
	day    localDay
	// Scratch space reused from one member to the next.
	entries  []*tap
	centers  []centerTaps
	pieceBuf []piece
	split    []piece
	spanBuf  []span
}

// periodSpan is a period with its bounds in Unix ms.
type periodSpan struct {
	p          Period
	start, end int64
}

// periodAt returns the period containing ms in the network's time zone.
func (e *engine) periodAt(ms int64) periodSpan {
	if e.period.p.IsZero() || ms < e.period.start || ms >= e.period.end {
		p := PeriodOf(time.UnixMilli(ms), e.cfg.Location)
		e.period = periodSpan{p: p, start: p.Start(e.cfg.Location).UnixMilli(), end: p.End(e.cfg.Location).UnixMilli()}
	}
	return e.period
}

// localDay is one calendar day of a center: its bounds in Unix ms and its
// closing time (the close of its last opening span; closed: no span).
type localDay struct {
	center     *centerInfo
	start, end int64
	closing    int64
	open       bool
}

// dayAt returns the center's local day containing ms.
func (e *engine) dayAt(c *centerInfo, ms int64) localDay {
	if e.day.center == c && ms >= e.day.start && ms < e.day.end {
		return e.day
	}
	local := time.UnixMilli(ms).In(c.loc)
	y, m, d := local.Date()
	day := localDay{center: c, start: time.Date(y, m, d, 0, 0, 0, 0, c.loc).UnixMilli(),
		end: time.Date(y, m, d+1, 0, 0, 0, 0, c.loc).UnixMilli()}
	if spans := c.Hours[local.Weekday()]; len(spans) > 0 {
		last := spans[len(spans)-1].Close
		day.open = true
		day.closing = time.Date(y, m, d, last/60, last%60, 0, 0, c.loc).UnixMilli()
	}
	e.day = day
	return day
}

// tap is a usable badge tap of one member, placed in time.
type tap struct {
	at        int64 // effective time, Unix ms
	center    string
	ci        *centerInfo
	exit      bool
	staff     bool // granted_staff
	untrusted bool // clock untrusted, corroborated
	door      string
	seq       uint64
	reach     reachEnd // entries: where the presence they start ends
}

func compareTaps(a, b *tap) int {
	if a.at != b.at {
		return cmp.Compare(a.at, b.at)
	}
	if a.door != b.door {
		return cmp.Compare(a.door, b.door)
	}
	return cmp.Compare(a.seq, b.seq)
}

// countIndex numbers the Count* keys for counter.
type countIndex uint8

const (
	ixEntries countIndex = iota
	ixExits
	ixUntrustedUsed
	ixExitWithoutEntry
	ixInvalid
	ixDuplicate
	ixConflict
	ixUnknownDoor
	ixNoMember
	ixUnknownMember
	ixUntrustedExcluded
	ixClockAhead
	ixNotTap
	ixDenied
	numCounts
)

var countNames = [numCounts]string{
	ixEntries: CountEntries, ixExits: CountExits, ixUntrustedUsed: CountUntrustedUsed,
	ixExitWithoutEntry: CountExitWithoutEntry, ixInvalid: CountInvalid, ixDuplicate: CountDuplicate,
	ixConflict: CountConflict, ixUnknownDoor: CountUnknownDoor, ixNoMember: CountNoMember,
	ixUnknownMember: CountUnknownMember, ixUntrustedExcluded: CountUntrustedExcluded,
	ixClockAhead: CountClockAhead, ixNotTap: CountNotTap, ixDenied: CountDenied,
}

// counter accumulates counts per period; it remembers the bounds of the
// last period used, as taps mostly come in time order.
type counter struct {
	loc        *time.Location
	by         map[Period]*[numCounts]int64
	cur        *[numCounts]int64
	start, end int64
}

func (c *counter) add(ms int64, k countIndex) {
	if c.cur == nil || ms < c.start || ms >= c.end {
		p := PeriodOf(time.UnixMilli(ms), c.loc)
		if c.by == nil {
			c.by = map[Period]*[numCounts]int64{}
		}
		c.cur = c.by[p]
		if c.cur == nil {
			c.cur = new([numCounts]int64)
			c.by[p] = c.cur
		}
		c.start, c.end = p.Start(c.loc).UnixMilli(), p.End(c.loc).UnixMilli()
	}
	c.cur[k]++
}

// counts returns the counts of one period, nil when all are zero.
func (c *counter) counts(p Period) Counts {
	vals := c.by[p]
	if vals == nil {
		return nil
	}
	var out Counts
	for k, v := range vals {
		if v != 0 {
			if out == nil {
				out = Counts{}
			}
			out[countNames[k]] = v
		}
	}
	return out
}

// classify validates one (deduplicated) event and turns it into a tap, or
// counts why it cannot be used. Counts of events set aside for their clock
// go to the period of the central's receipt, the others to the period of
// the tap's effective time.
func (e *engine) classify(ev *domain.Event, cnt *counter) (tap, bool) {
	if ev.ReceivedMs <= 0 || protocol.ValidID(ev.Door) != nil || ev.Event.Validate("") != nil {
		cnt.add(ev.ReceivedMs, ixInvalid)
		return tap{}, false
	}
	if ev.Kind != protocol.EventTap {
		cnt.add(ev.ReceivedMs, ixNotTap)
		return tap{}, false
	}
	door := e.dir.doors[ev.Door]
	if door == nil {
		cnt.add(ev.ReceivedMs, ixUnknownDoor)
		return tap{}, false
	}
	granted := ev.Reason.Granted()
	if !door.Exit && !granted {
		cnt.add(ev.ReceivedMs, ixDenied)
		return tap{}, false
	}
	if ev.Member == "" {
		cnt.add(ev.ReceivedMs, ixNoMember)
		return tap{}, false
	}
	if !e.dir.known(ev.Member) {
		cnt.add(ev.ReceivedMs, ixUnknownMember)
		return tap{}, false
	}
	lead := ev.TimeMs - ev.ReceivedMs // > 0: door time after receipt
	if lead > e.cfg.MaxClockAhead.Milliseconds() {
		cnt.add(ev.ReceivedMs, ixClockAhead)
		return tap{}, false
	}
	t := tap{at: ev.TimeMs, center: door.CenterID, ci: door.center, exit: door.Exit,
		staff: ev.Reason == protocol.GrantedStaff, door: ev.Door, seq: ev.Seq}
	if !ev.Trusted {
		if e.cfg.Untrusted != UntrustedCorroborated || -lead > e.cfg.UntrustedMaxDelay.Milliseconds() {
			cnt.add(ev.ReceivedMs, ixUntrustedExcluded)
			return tap{}, false
		}
		t.untrusted = true
		cnt.add(t.at, ixUntrustedUsed)
	}
	if t.exit {
		cnt.add(t.at, ixExits)
	} else {
		cnt.add(t.at, ixEntries)
	}
	return t, true
}

// piece is an interval before merging: credited-eligible (why "") or a
// record of something not credited.
type piece struct {
	center    string
	start     int64
	end       int64
	booking   string // "" for a walk-in
	ownStaff  bool   // credited part of a booking made by the center's own staff
	noShow    bool
	untrusted bool
	why       Why
}

// member computes the visits and counts of one member id from its events
// (deduplicated, any order). Bookings are those overlapping [fromMs, toMs);
// callers keep only periods that window fully determines.
func (e *engine) member(id string, events []*domain.Event, fromMs, toMs int64) map[Period]*MemberPeriod {
	cnt := &counter{loc: e.cfg.Location}
	taps := make([]tap, 0, len(events))
	for _, ev := range events {
		if t, ok := e.classify(ev, cnt); ok {
			taps = append(taps, t)
		}
	}
	return e.memberTaps(id, taps, cnt, fromMs, toMs)
}

// memberTaps computes the visits of one member id from its usable taps (any
// order; sorted in place) and adds the counts gathered so far.
func (e *engine) memberTaps(id string, taps []tap, cnt *counter, fromMs, toMs int64) map[Period]*MemberPeriod {
	var pieces []piece
	if e.dir.known(id) {
		slices.SortFunc(taps, func(a, b tap) int { return compareTaps(&a, &b) })
		pieces = e.pieces(id, taps, fromMs, toMs, cnt)
	}
	return e.visits(id, pieces, cnt)
}

// centerTaps are a member's entries and exits at one center, by time.
type centerTaps struct {
	ci      *centerInfo
	entries []*tap
	exits   []*tap
}

// at returns the member's taps at a center (nil when none).
func (e *engine) at(center string) *centerTaps {
	for i := range e.centers {
		if e.centers[i].ci.ID == center {
			return &e.centers[i]
		}
	}
	return nil
}

// pieces applies the booking and walk-in rules to one member's taps.
func (e *engine) pieces(id string, taps []tap, fromMs, toMs int64, cnt *counter) []piece {
	entries := e.entries[:0]
	e.centers = e.centers[:0]
	for i := range taps {
		t := &taps[i]
		ct := e.at(t.center)
		if ct == nil {
			if len(e.centers) < cap(e.centers) {
				e.centers = e.centers[:len(e.centers)+1]
				ct = &e.centers[len(e.centers)-1]
				ct.ci, ct.entries, ct.exits = t.ci, ct.entries[:0], ct.exits[:0]
			} else {
				e.centers = append(e.centers, centerTaps{ci: t.ci})
				ct = &e.centers[len(e.centers)-1]
			}
		}
		if t.exit {
			ct.exits = append(ct.exits, t)
		} else {
			ct.entries = append(ct.entries, t)
			entries = append(entries, t)
		}
	}
	e.entries = entries
	// How long each entry keeps the member inside: to the first exit tap
	// there the same local day, else DefaultVisit; never past local
	// midnight or the member's next entry at another center.
	next := len(entries) // index of the next entry at another center
	for i := len(entries) - 1; i >= 0; i-- {
		if i < len(entries)-1 && entries[i+1].center != entries[i].center {
			next = i + 1
		}
		entries[i].reach = e.reach(entries[i], e.at(entries[i].center), entries, next)
	}
	pieces := e.pieceBuf[:0]
	defer func() { e.pieceBuf = pieces[:0] }()

	// Bookings: credited day by day, within opening hours, for the days
	// with their own entry (see bookingdays.go).
	for _, b := range e.dir.bookingsOverlapping(id, fromMs, toMs) {
		pieces = e.bookingPieces(pieces, &b)
	}

	// Walk-ins: every entry covered by a pass; entries that attend no
	// booking and have no pass are recorded, not credited.
	for _, t := range entries {
		pass := e.passCovers(id, t.center, t.at)
		r := t.reach
		if !pass && e.attendsBooking(id, t, r.end) {
			continue // the entry is the evidence of a booking, credited as booked
		}
		p := e.walkIn(t, r)
		switch {
		case p.why != "":
		case !pass && t.staff:
			p.why = WhyStaff
		case !pass:
			p.why = WhyNoPass
		}
		pieces = append(pieces, p)
	}

	// Exit taps that follow no entry at that center the same local day.
	for i := range e.centers {
		ct := &e.centers[i]
		for _, x := range ct.exits {
			j, _ := slices.BinarySearchFunc(ct.entries, x.at, func(t *tap, ms int64) int { return cmp.Compare(t.at, ms) })
			if j == 0 || ct.entries[j-1].at < e.dayAt(ct.ci, x.at).start {
				cnt.add(x.at, ixExitWithoutEntry)
			}
		}
	}
	return pieces
}

const hourMs = int64(time.Hour / time.Millisecond)

// attendsBooking reports whether entry t, keeping the member inside until
// reachEnd, attends one of the member's bookings at its center.
func (e *engine) attendsBooking(member string, t *tap, reachEnd int64) bool {
	grace := e.cfg.Grace.Milliseconds()
	for _, b := range e.dir.bookingsOverlapping(member, t.at, max(reachEnd, t.at+1)+grace) {
		if b.CenterID == t.center && t.at < b.End.UnixMilli() && max(t.at+1, reachEnd) > b.Start.UnixMilli()-grace {
			return true
		}
	}
	return false
}

// passCovers reports whether one of the member's passes covers the center at ms.
func (e *engine) passCovers(member, center string, ms int64) bool {
	for i := range e.dir.passes[member] {
		p := &e.dir.passes[member][i]
		if p.ValidFrom.UnixMilli() > ms {
			break
		}
		if ms < p.ValidUntil.UnixMilli() && p.Covers(center) {
			return true
		}
	}
	return false
}

// reachEnd is where an entry's presence ends and whether a tap with an
// untrusted clock decided it.
type reachEnd struct {
	end       int64
	untrusted bool
}

// reach is the end of the presence an entry starts: the member's first exit
// tap at that center after it the same local day, else the default visit
// length; never past local midnight nor the member's next entry at another
// center (entries at the same instant do not cut).
func (e *engine) reach(t *tap, ct *centerTaps, entries []*tap, nextOther int) reachEnd {
	dayEnd := e.dayAt(t.ci, t.at).end
	r := reachEnd{end: t.at + e.cfg.DefaultVisit.Milliseconds(), untrusted: t.untrusted}
	j, _ := slices.BinarySearchFunc(ct.exits, t.at+1, func(x *tap, ms int64) int { return cmp.Compare(x.at, ms) })
	if j < len(ct.exits) && ct.exits[j].at <= dayEnd {
		r.end = ct.exits[j].at
		r.untrusted = r.untrusted || ct.exits[j].untrusted
	}
	r.end = min(r.end, dayEnd)
	for k := nextOther; k < len(entries); k++ {
		o := entries[k]
		if o.at >= r.end {
			break
		}
		if o.center != t.center && o.at > t.at {
			r.end = o.at
			r.untrusted = r.untrusted || o.untrusted
			break
		}
	}
	return r
}

// walkIn is the walk-in interval of entry t: its reach, capped at the
// center's closing time that day (the close of the day's last opening
// span). An entry at or after closing, or on a closed day, gives an empty
// record with why closed.
func (e *engine) walkIn(t *tap, r reachEnd) piece {
	day := e.dayAt(t.ci, t.at)
	p := piece{center: t.center, start: t.at, end: t.at, untrusted: r.untrusted, why: WhyClosed}
	if !day.open || t.at >= day.closing {
		return p
	}
	p.end, p.why = min(r.end, day.closing), ""
	return p
}

// visits splits pieces at period boundaries, merges overlapping or touching
// pieces of one center (credited-eligible ones together, records by reason),
// classifies and rounds them, and gathers the counts.
func (e *engine) visits(id string, pieces []piece, cnt *counter) map[Period]*MemberPeriod {
	out := map[Period]*MemberPeriod{}
	get := func(p Period) *MemberPeriod {
		if out[p] == nil {
			out[p] = &MemberPeriod{MemberID: id, Period: p}
		}
		return out[p]
	}
	for p := range cnt.by {
		if c := cnt.counts(p); c != nil {
			get(p).Counts = c
		}
	}
	if len(pieces) == 0 {
		return out
	}
	split := e.split[:0]
	defer func() { e.split = split[:0] }()
	for _, p := range pieces {
		for p.end > p.start {
			boundary := e.periodAt(p.start).end
			if p.end <= boundary {
				break
			}
			q := p
			q.end = boundary
			split = append(split, q)
			p.start = boundary
		}
		split = append(split, p)
	}
	// In time order (pieces come nearly sorted), each (center, reason)
	// group keeps one open visit that grows while pieces overlap or touch
	// it within its period.
	slices.SortFunc(split, func(a, b piece) int {
		switch {
		case a.start != b.start:
			return cmp.Compare(a.start, b.start)
		case a.end != b.end:
			return cmp.Compare(a.end, b.end)
		case a.center != b.center:
			return cmp.Compare(a.center, b.center)
		case a.why != b.why:
			return cmp.Compare(a.why, b.why)
		}
		return cmp.Compare(a.booking, b.booking)
	})
	m := e.dir.members[id]
	type group struct {
		center     string
		why        Why
		per        periodSpan
		start, end int64
		walkIn     bool
		noShow     bool
		untrusted  bool
		bookings   []string
		// ownMs is the length of the union of own-staff booking pieces
		// absorbed so far; they come in start order, so ownEnd (the end
		// of the last one) is enough to count each instant once.
		ownMs, ownEnd int64
	}
	var groups []group
	visits := make([]Visit, 0, len(split))
	absorb := func(g *group, q piece) {
		g.end = max(g.end, q.end)
		if q.booking != "" {
			g.bookings = append(g.bookings, q.booking)
		} else {
			g.walkIn = true
		}
		g.noShow = g.noShow || q.noShow
		g.untrusted = g.untrusted || q.untrusted
		if q.ownStaff {
			if from := max(q.start, g.ownEnd); q.end > from {
				g.ownMs += q.end - from
			}
			g.ownEnd = max(g.ownEnd, q.end)
		}
	}
	flush := func(g *group) {
		v := Visit{MemberID: id, CenterID: g.center, Period: g.per.p, HomeCenterID: m.home, Why: g.why,
			NoShow: g.noShow, UntrustedClock: g.untrusted,
			Start: time.UnixMilli(g.start).UTC(), End: time.UnixMilli(g.end).UTC()}
		slices.Sort(g.bookings)
		v.Bookings = slices.Compact(g.bookings)
		switch {
		case g.walkIn && len(v.Bookings) > 0:
			v.Source = SourceBookingAndWalkIn
		case g.walkIn:
			v.Source = SourceWalkIn
		default:
			v.Source = SourceBooking
		}
		switch {
		case m.home == "":
			v.Class = ClassNomadic
		case m.home == v.CenterID:
			v.Class = ClassHome
		default:
			v.Class = ClassCrossCenter
		}
		if v.Why == "" && v.Class == ClassHome {
			v.Why = WhyHomeCenter
		}
		if v.Why == "" {
			v.Credited = true
			v.CreditedMinutes = ceilQuarterMinutes(g.end - g.start)
			v.OwnStaffBookingMinutes = min(ceilQuarterMinutes(g.ownMs), v.CreditedMinutes)
		}
		visits = append(visits, v)
	}
	for _, q := range split {
		var g *group
		for k := range groups {
			if groups[k].center == q.center && groups[k].why == q.why {
				g = &groups[k]
				break
			}
		}
		if g != nil && (q.start > g.end || q.start >= g.per.end) {
			flush(g)
		} else if g != nil {
			absorb(g, q)
			continue
		}
		if g == nil {
			groups = append(groups, group{})
			g = &groups[len(groups)-1]
		}
		*g = group{center: q.center, why: q.why, per: e.periodAt(q.start), start: q.start, end: q.end}
		absorb(g, q)
	}
	for k := range groups {
		flush(&groups[k])
	}
	slices.SortFunc(visits, compareVisits)
	// Periods follow start times: each period's visits are contiguous.
	for i := 0; i < len(visits); {
		j := i + 1
		for j < len(visits) && visits[j].Period == visits[i].Period {
			j++
		}
		get(visits[i].Period).Visits = visits[i:j:j]
		i = j
	}
	return out
}

func compareVisits(a, b Visit) int {
	switch {
	case !a.Start.Equal(b.Start):
		return a.Start.Compare(b.Start)
	case a.CenterID != b.CenterID:
		return cmp.Compare(a.CenterID, b.CenterID)
	case a.Why != b.Why:
		return cmp.Compare(a.Why, b.Why)
	}
	return a.End.Compare(b.End)
}
