package credit

import (
	"cmp"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
)

// Crediting an attended booking, day by day (PRODUCT.md 4.6).
//
// A booking is cut at the local midnights of its center. Each local day of
// it is credited only when it has its own evidence of presence, and only
// within the center's opening hours that day; what a booked day holds
// outside them is recorded with why closed. So one tap can never credit
// more than about a day, whatever the booking's length: a center's staff
// booking a member at their own center for 30 days gets, for one tap, the
// opening hours of that one day.
//
// Evidence for a day is an entry of the member at the center (any door)
// in [s − Grace, e), where [s, e) is the booking's part of that day and
// Grace applies before the booking's own start only (the first day): a
// later day's part starts at local midnight and its entry must be that
// day's. On the first day, an earlier entry that still keeps the member
// inside at start − Grace also counts, as it always has.
//
// Overnight stay: a member who entered on a day that had its own entry
// may stay past midnight without tapping again when the center is open
// through midnight (its last span that day ends at 24:00 and the next
// day's first span starts at 00:00). The booked time of the next day is
// then credited from midnight up to the center's first closing that day,
// and at most 24 hours after the last such entry of the day before. That
// day does not carry on to the one after it: a day reached only this way
// needs its own entry to be followed by another.
//
// A day without evidence is a no-show day: recorded with why no_show under
// NoShowZero, credited as booked (clipped to opening hours, flagged
// no_show) under NoShowBooked.

// dayEvidence is what one local day of a booking found among the entries.
type dayEvidence struct {
	found   bool
	trusted bool  // at least one entry with a trusted clock decided it
	last    int64 // the latest such entry, Unix ms
}

// span is an interval [start, end) in Unix ms.
type span struct{ start, end int64 }

// openSpans returns the center's opening spans of a local day in Unix ms.
// A span's bounds that fall in a daylight-saving gap move as time.Date
// moves them; a close of 24:00 is the next local midnight.
func openSpans(ci *centerInfo, day localDay, buf []span) []span {
	local := time.UnixMilli(day.start).In(ci.loc)
	y, m, d := local.Date()
	at := func(min int) int64 { return time.Date(y, m, d, min/60, min%60, 0, 0, ci.loc).UnixMilli() }
	buf = buf[:0]
	for _, s := range ci.Hours[local.Weekday()] {
		buf = append(buf, span{start: at(s.Open), end: at(s.Close)})
	}
	return buf
}

// openThroughMidnight reports whether the center stays open from the end
// of the day before day into day.
func openThroughMidnight(ci *centerInfo, day localDay) bool {
	before := time.UnixMilli(day.start).In(ci.loc).Weekday() - 1
	if before < 0 {
		before = time.Saturday
	}
	prev, cur := ci.Hours[before], ci.Hours[(before+1)%7]
	return len(prev) > 0 && prev[len(prev)-1].Close == 24*60 && len(cur) > 0 && cur[0].Open == 0
}

// evidence looks for the entries that attend the part of a booking day
// whose window is [lo, end); reach: an entry before lo that keeps the
// member inside past lo counts too (the booking's first day only).
func evidence(ct *centerTaps, lo, end, window int64, reach bool) dayEvidence {
	var ev dayEvidence
	if ct == nil {
		return ev
	}
	from := lo
	if reach {
		from = lo - window
	}
	i, _ := slices.BinarySearchFunc(ct.entries, from, func(t *tap, ms int64) int { return cmp.Compare(t.at, ms) })
	for _, t := range ct.entries[i:] {
		if t.at >= end {
			break
		}
		r := t.reach
		if t.at >= lo || (reach && r.end > lo) {
			ev.found = true
			ev.trusted = ev.trusted || (!t.untrusted && (t.at >= lo || !r.untrusted))
			ev.last = max(ev.last, t.at)
		}
	}
	return ev
}

// bookingPieces appends the pieces of one confirmed booking of the member
// whose taps the engine holds: credited parts within opening hours of the
// days with evidence (or carried over one night), closed records for the
// booked time outside opening hours, and no-show days.
func (e *engine) bookingPieces(pieces []piece, b *domain.Booking) []piece {
	ci := e.dir.centers[b.CenterID]
	if ci == nil {
		return pieces // the directory keeps only bookings of known centers
	}
	ct := e.at(b.CenterID)
	start, end := b.Start.UnixMilli(), b.End.UnixMilli()
	grace := e.cfg.Grace.Milliseconds()
	window := e.cfg.DefaultVisit.Milliseconds() + 26*hourMs // bound on reach − entry
	tmpl := piece{center: b.CenterID, booking: b.ID, ownStaff: b.ByOwnStaff()}

	// open appends [a, z) clipped to the day's opening spans as credited
	// pieces, and the rest as closed records.
	open := func(day localDay, a, z int64, untrusted, noShow bool) {
		if z <= a {
			return
		}
		spans := openSpans(ci, day, e.spanBuf)
		e.spanBuf = spans
		cur := a
		for _, sp := range spans {
			s, t := max(sp.start, a), min(sp.end, z)
			if t <= s {
				continue
			}
			if s > cur {
				p := tmpl
				p.start, p.end, p.why, p.ownStaff = cur, s, WhyClosed, false
				pieces = append(pieces, p)
			}
			p := tmpl
			p.start, p.end, p.untrusted, p.noShow = s, t, untrusted, noShow
			pieces = append(pieces, p)
			cur = t
		}
		if cur < z {
			p := tmpl
			p.start, p.end, p.why, p.ownStaff = cur, z, WhyClosed, false
			pieces = append(pieces, p)
		}
	}
	noShow := func(day localDay, a, z int64) {
		if z <= a {
			return
		}
		if e.cfg.NoShow == NoShowBooked {
			open(day, a, z, false, true)
			return
		}
		p := tmpl
		p.start, p.end, p.why, p.ownStaff = a, z, WhyNoShow, false
		pieces = append(pieces, p)
	}

	var prev dayEvidence
	for ms, first := start, true; ms < end; first = false {
		day := e.dayAt(ci, ms)
		s, z := max(start, day.start), min(end, day.end)
		lo := s
		if first {
			lo = start - grace
		}
		ev := evidence(ct, lo, z, window, first)
		switch {
		case ev.found:
			open(day, s, z, !ev.trusted, false)
		case prev.found && openThroughMidnight(ci, day):
			spans := openSpans(ci, day, e.spanBuf)
			e.spanBuf = spans
			carry := min(z, spans[0].end, prev.last+dayMs)
			open(day, s, carry, !prev.trusted, false)
			noShow(day, max(s, carry), z)
		default:
			noShow(day, s, z)
		}
		prev = ev
		ms = day.end
	}
	return pieces
}
