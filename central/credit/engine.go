package credit

import (
	"cmp"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// engine applies the rules of one Config to one Directory.
type engine struct {
	cfg Config
	dir *Directory
}

// tap is a usable badge tap of one member, placed in time.
type tap struct {
	at        int64 // effective time, Unix ms
	center    string
	exit      bool
	staff     bool // granted_staff
	untrusted bool // clock untrusted, corroborated
	door      string
	seq       uint64
}

func compareTaps(a, b *tap) int {
	return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.door, b.door), cmp.Compare(a.seq, b.seq))
}

// counter accumulates counts per period.
type counter struct {
	loc *time.Location
	by  map[Period]Counts
}

func (c *counter) add(ms int64, key string) {
	p := PeriodOf(time.UnixMilli(ms), c.loc)
	if c.by == nil {
		c.by = map[Period]Counts{}
	}
	if c.by[p] == nil {
		c.by[p] = Counts{}
	}
	c.by[p][key]++
}

// classify validates one (deduplicated) event and turns it into a tap, or
// counts why it cannot be used. Counts of events set aside for their clock
// go to the period of the central's receipt, the others to the period of
// the tap's effective time.
func (e *engine) classify(ev *domain.Event, cnt *counter) (tap, bool) {
	if ev.ReceivedMs <= 0 || protocol.ValidID(ev.Door) != nil || ev.Event.Validate("") != nil {
		cnt.add(ev.ReceivedMs, CountInvalid)
		return tap{}, false
	}
	if ev.Kind != protocol.EventTap {
		cnt.add(ev.ReceivedMs, CountNotTap)
		return tap{}, false
	}
	door := e.dir.doors[ev.Door]
	if door == nil {
		cnt.add(ev.ReceivedMs, CountUnknownDoor)
		return tap{}, false
	}
	granted := ev.Reason.Granted()
	if !door.Exit && !granted {
		cnt.add(ev.ReceivedMs, CountDenied)
		return tap{}, false
	}
	if ev.Member == "" {
		cnt.add(ev.ReceivedMs, CountNoMember)
		return tap{}, false
	}
	if e.dir.members[ev.Member] == nil {
		cnt.add(ev.ReceivedMs, CountUnknownMember)
		return tap{}, false
	}
	lead := ev.TimeMs - ev.ReceivedMs // > 0: door time after receipt
	if lead > e.cfg.MaxClockAhead.Milliseconds() {
		cnt.add(ev.ReceivedMs, CountClockAhead)
		return tap{}, false
	}
	t := tap{at: ev.TimeMs, center: door.CenterID, exit: door.Exit,
		staff: ev.Reason == protocol.GrantedStaff, door: ev.Door, seq: ev.Seq}
	if !ev.Trusted {
		if e.cfg.Untrusted != UntrustedCorroborated || -lead > e.cfg.UntrustedMaxDelay.Milliseconds() {
			cnt.add(ev.ReceivedMs, CountUntrustedExcluded)
			return tap{}, false
		}
		t.untrusted = true
		cnt.add(t.at, CountUntrustedUsed)
	}
	if t.exit {
		cnt.add(t.at, CountExits)
	} else {
		cnt.add(t.at, CountEntries)
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
	var pieces []piece
	if m := e.dir.members[id]; m != nil {
		slices.SortFunc(taps, func(a, b tap) int { return compareTaps(&a, &b) })
		pieces = e.pieces(id, taps, fromMs, toMs, cnt)
	}
	return e.visits(id, pieces, cnt)
}

// centerTaps are a member's entries and exits at one center, by time.
type centerTaps struct {
	entries []*tap
	exits   []*tap
}

// pieces applies the booking and walk-in rules to one member's taps.
func (e *engine) pieces(id string, taps []tap, fromMs, toMs int64, cnt *counter) []piece {
	var entries []*tap
	at := map[string]*centerTaps{}
	for i := range taps {
		t := &taps[i]
		ct := at[t.center]
		if ct == nil {
			ct = &centerTaps{}
			at[t.center] = ct
		}
		if t.exit {
			ct.exits = append(ct.exits, t)
		} else {
			ct.entries = append(ct.entries, t)
			entries = append(entries, t)
		}
	}
	// How long each entry keeps the member inside: to the first exit tap
	// there the same local day, else DefaultVisit; never past local
	// midnight or the member's next entry at another center.
	reach := make(map[*tap]reachEnd, len(entries))
	next := len(entries) // index of the next entry at another center
	for i := len(entries) - 1; i >= 0; i-- {
		if i < len(entries)-1 && entries[i+1].center != entries[i].center {
			next = i + 1
		}
		reach[entries[i]] = e.reach(entries[i], at[entries[i].center], entries, next)
	}
	grace := e.cfg.Grace.Milliseconds()
	var pieces []piece

	// Bookings: attended when an entry at the center falls in
	// [start − grace, end), or an earlier entry still keeps the member
	// inside at start − grace.
	window := e.cfg.DefaultVisit.Milliseconds() + 26*hourMs // bound on reach − entry
	for _, b := range e.dir.bookingsOverlapping(id, fromMs, toMs) {
		start, end := b.Start.UnixMilli(), b.End.UnixMilli()
		attended, trusted := false, false
		if ct := at[b.CenterID]; ct != nil {
			lo, _ := slices.BinarySearchFunc(ct.entries, start-grace-window, func(t *tap, ms int64) int { return cmp.Compare(t.at, ms) })
			for _, t := range ct.entries[lo:] {
				if t.at >= end {
					break
				}
				r := reach[t]
				if t.at >= start-grace || r.end > start-grace {
					attended = true
					trusted = trusted || (!t.untrusted && (t.at >= start-grace || !r.untrusted))
				}
			}
		}
		p := piece{center: b.CenterID, start: start, end: end, booking: b.ID, untrusted: attended && !trusted}
		switch {
		case attended:
		case e.cfg.NoShow == NoShowBooked:
			p.noShow = true
		default:
			p.why = WhyNoShow
		}
		pieces = append(pieces, p)
	}

	// Walk-ins: every entry covered by a pass; entries that attend no
	// booking and have no pass are recorded, not credited.
	for _, t := range entries {
		pass := e.passCovers(id, t.center, t.at)
		r := reach[t]
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
	for c, ct := range at {
		loc := e.dir.centers[c].loc
		for _, x := range ct.exits {
			j, _ := slices.BinarySearchFunc(ct.entries, x.at, func(t *tap, ms int64) int { return cmp.Compare(t.at, ms) })
			if j == 0 || !sameDay(ct.entries[j-1].at, x.at, loc) {
				cnt.add(x.at, CountExitWithoutEntry)
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
	c := e.dir.centers[t.center]
	y, m, d := time.UnixMilli(t.at).In(c.loc).Date()
	dayEnd := time.Date(y, m, d+1, 0, 0, 0, 0, c.loc).UnixMilli()
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
	c := e.dir.centers[t.center]
	local := time.UnixMilli(t.at).In(c.loc)
	p := piece{center: t.center, start: t.at, end: t.at, untrusted: r.untrusted, why: WhyClosed}
	spans := c.Hours[local.Weekday()]
	if len(spans) == 0 {
		return p
	}
	y, m, d := local.Date()
	last := spans[len(spans)-1].Close
	closing := time.Date(y, m, d, last/60, last%60, 0, 0, c.loc).UnixMilli()
	if t.at >= closing {
		return p
	}
	p.end, p.why = min(r.end, closing), ""
	return p
}

func sameDay(a, b int64, loc *time.Location) bool {
	ya, ma, da := time.UnixMilli(a).In(loc).Date()
	yb, mb, db := time.UnixMilli(b).In(loc).Date()
	return ya == yb && ma == mb && da == db
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
	for p, c := range cnt.by {
		get(p).Counts = c
	}
	if len(pieces) == 0 {
		return out
	}
	loc := e.cfg.Location
	var split []piece
	for _, p := range pieces {
		for p.end > p.start {
			per := PeriodOf(time.UnixMilli(p.start), loc)
			boundary := per.End(loc).UnixMilli()
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
	slices.SortFunc(split, func(a, b piece) int {
		return cmp.Or(cmp.Compare(a.center, b.center), cmp.Compare(a.why, b.why),
			cmp.Compare(a.start, b.start), cmp.Compare(a.end, b.end), cmp.Compare(a.booking, b.booking))
	})
	m := e.dir.members[id]
	for i := 0; i < len(split); {
		first := split[i]
		per := PeriodOf(time.UnixMilli(first.start), loc)
		perEnd := per.End(loc).UnixMilli()
		v := Visit{MemberID: id, CenterID: first.center, Period: per, HomeCenterID: m.HomeCenterID, Why: first.why}
		start, end := first.start, first.end
		walkIn := false
		var bookings []string
		j := i
		for ; j < len(split); j++ {
			q := split[j]
			if q.center != first.center || q.why != first.why || q.start > end || q.start >= perEnd {
				break
			}
			end = max(end, q.end)
			if q.booking != "" {
				bookings = append(bookings, q.booking)
			} else {
				walkIn = true
			}
			v.NoShow = v.NoShow || q.noShow
			v.UntrustedClock = v.UntrustedClock || q.untrusted
		}
		i = j
		slices.Sort(bookings)
		v.Bookings = slices.Compact(bookings)
		v.Start, v.End = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC()
		switch {
		case walkIn && len(v.Bookings) > 0:
			v.Source = SourceBookingAndWalkIn
		case walkIn:
			v.Source = SourceWalkIn
		default:
			v.Source = SourceBooking
		}
		switch {
		case m.HomeCenterID == "":
			v.Class = ClassNomadic
		case m.HomeCenterID == v.CenterID:
			v.Class = ClassHome
		default:
			v.Class = ClassCrossCenter
		}
		if v.Why == "" && v.Class == ClassHome {
			v.Why = WhyHomeCenter
		}
		if v.Why == "" {
			v.Credited = true
			v.CreditedMinutes = ceilQuarterMinutes(end - start)
		}
		mp := get(per)
		mp.Visits = append(mp.Visits, v)
	}
	for _, mp := range out {
		slices.SortFunc(mp.Visits, compareVisits)
	}
	return out
}

func compareVisits(a, b Visit) int {
	return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.CenterID, b.CenterID),
		cmp.Compare(a.Why, b.Why), a.End.Compare(b.End))
}
