package credit_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// world is a small random network with random taps around an interesting
// date (a DST change, a month boundary), to check properties on.
type world struct {
	cfg     credit.Config
	dir     *credit.Directory
	centers map[string]domain.Center
	doors   map[string]domain.Door
	books   []domain.Booking
	events  []domain.Event
}

var propertyBases = []string{
	"2026-03-27 00:00", // DST spring forward on the 29th
	"2026-10-23 00:00", // DST fall back on the 25th
	"2026-10-29 00:00", // month boundary, Saturday 31
	"2026-11-09 00:00", // an ordinary week
}

func drawWorld(t *rapid.T) *world {
	cfg, err := credit.DefaultConfig(rapid.Int64Range(1, 5000).Draw(t, "rate"))
	require.NoError(t, err)
	cfg.NoShow = rapid.SampledFrom([]credit.NoShowPolicy{credit.NoShowZero, credit.NoShowBooked}).Draw(t, "noshow")
	cfg.Untrusted = rapid.SampledFrom([]credit.UntrustedPolicy{credit.UntrustedExclude, credit.UntrustedCorroborated}).Draw(t, "untrusted")
	cfg.DefaultVisit = time.Duration(rapid.IntRange(1, 8).Draw(t, "visit_h")) * time.Hour

	hours := []domain.OpeningHours{everyDay(0, 1440), everyDay(8*60, 18*60), func() domain.OpeningHours {
		var h domain.OpeningHours
		for d := range h {
			h[d] = []domain.Span{{Open: 8 * 60, Close: 12 * 60}, {Open: 13 * 60, Close: 20 * 60}}
		}
		h[time.Sunday] = nil
		return h
	}()}
	zones := []string{"Europe/Brussels", "Europe/London"}
	var centers []domain.Center
	var doors []domain.Door
	for i := range 3 {
		id := fmt.Sprintf("c%d", i)
		centers = append(centers, domain.Center{ID: id, Name: id,
			TimeZone:  rapid.SampledFrom(zones).Draw(t, id+"_tz"),
			Hours:     rapid.SampledFrom(hours).Draw(t, id+"_hours"),
			RateCents: rapid.Int64Range(0, 3000).Draw(t, id+"_rate")})
		doors = append(doors,
			domain.Door{ID: id + "-in", CenterID: id, Name: "in"},
			domain.Door{ID: id + "-out", CenterID: id, Name: "out", Exit: true},
			domain.Door{ID: id + "-room", CenterID: id, Name: "room", RoomID: id + "-r"})
	}
	members := []domain.Member{
		{ID: "m0", Name: "m0", Status: domain.MemberActive},
		{ID: "m1", Name: "m1", Status: domain.MemberActive},
		{ID: "m2", Name: "m2", HomeCenterID: "c0", Status: domain.MemberActive},
		{ID: "m3", Name: "m3", HomeCenterID: "c1", Status: domain.MemberActive},
	}
	base := at(rapid.SampledFrom(propertyBases).Draw(t, "base"))
	span := 6 * 24 * 60 // minutes
	instant := func(label string) time.Time {
		return base.Add(time.Duration(rapid.IntRange(0, span).Draw(t, label)) * time.Minute).
			Add(time.Duration(rapid.IntRange(0, 59_999).Draw(t, label+"_ms")) * time.Millisecond)
	}
	passes := []domain.Pass{
		{ID: "p0", MemberID: "m0", ValidFrom: base.Add(-time.Hour), ValidUntil: base.Add(30 * 24 * time.Hour)},
		{ID: "p2", MemberID: "m2", ValidFrom: instant("p2_from"), ValidUntil: base.Add(30 * 24 * time.Hour)},
		{ID: "p3", MemberID: "m3", ValidFrom: base, ValidUntil: instant("p3_until"), CenterIDs: []string{"c0", "c2"}},
	}
	var books []domain.Booking
	for i := range rapid.IntRange(0, 6).Draw(t, "bookings") {
		start := instant(fmt.Sprintf("b%d_start", i))
		length := time.Duration(rapid.IntRange(15, 4*24*60).Draw(t, fmt.Sprintf("b%d_len", i))) * time.Minute
		status := domain.BookingConfirmed
		if rapid.IntRange(0, 5).Draw(t, fmt.Sprintf("b%d_cancel", i)) == 0 {
			status = domain.BookingCancelled
		}
		books = append(books, domain.Booking{ID: fmt.Sprintf("b%d", i),
			MemberID: rapid.SampledFrom([]string{"m0", "m1", "m2", "m3"}).Draw(t, fmt.Sprintf("b%d_member", i)),
			CenterID: rapid.SampledFrom([]string{"c0", "c1", "c2"}).Draw(t, fmt.Sprintf("b%d_center", i)),
			Start:    start, End: start.Add(length), Status: status})
	}
	w := &world{cfg: cfg, dir: credit.NewDirectory(centers, doors, members, books, passes), doors: map[string]domain.Door{}, books: books}
	for _, d := range doors {
		w.doors[d.ID] = d
	}
	w.centers = map[string]domain.Center{}
	for _, c := range centers {
		w.centers[c.ID] = c
	}
	seq := map[string]uint64{}
	doorIDs := []string{"c0-in", "c0-out", "c0-room", "c1-in", "c1-out", "c2-in", "c2-out", "zz-in"}
	reasons := []protocol.Reason{protocol.GrantedPass, protocol.GrantedBooking, protocol.GrantedStaff, protocol.DeniedNoBooking}
	for i := range rapid.IntRange(0, 40).Draw(t, "taps") {
		l := func(s string) string { return fmt.Sprintf("e%d_%s", i, s) }
		door := rapid.SampledFrom(doorIDs).Draw(t, l("door"))
		seq[door]++
		when := instant(l("time"))
		ev := domain.Event{Door: door, Event: protocol.Event{Seq: seq[door], TimeMs: when.UnixMilli(), Trusted: true,
			Boot: "b", Kind: protocol.EventTap, UID: "04A1B2C3",
			Member: rapid.SampledFrom([]string{"m0", "m1", "m2", "m3", "m0", "m2", "ghost", ""}).Draw(t, l("member")),
			Reason: rapid.SampledFrom(reasons).Draw(t, l("reason"))}}
		delay := time.Duration(rapid.IntRange(-2, 180).Draw(t, l("delay"))) * time.Minute
		if rapid.IntRange(0, 6).Draw(t, l("late")) == 0 {
			delay += time.Duration(rapid.IntRange(1, 40).Draw(t, l("late_days"))) * 24 * time.Hour
		}
		ev.ReceivedMs = when.Add(delay).UnixMilli()
		if rapid.IntRange(0, 5).Draw(t, l("untrusted")) == 0 {
			ev.Trusted = false
		}
		w.events = append(w.events, ev)
		if rapid.IntRange(0, 8).Draw(t, l("dup")) == 0 {
			w.events = append(w.events, ev)
		}
	}
	return w
}

// withoutDuplicates drops the duplicate_event counts (the ledger reads
// deduplicated events from the store; the ingest counts duplicates) and
// the results that held nothing else.
func withoutDuplicates(mps []credit.MemberPeriod) []credit.MemberPeriod {
	out := []credit.MemberPeriod{}
	for _, mp := range mps {
		if mp.Counts != nil {
			c := credit.Counts{}
			for k, v := range mp.Counts {
				if k != credit.CountDuplicate {
					c[k] = v
				}
			}
			mp.Counts = c
			if len(c) == 0 {
				mp.Counts = nil
			}
		}
		if len(mp.Visits) > 0 || len(mp.Counts) > 0 {
			out = append(out, mp)
		}
	}
	return out
}

func allResults(r *credit.Result) map[credit.Period][]credit.MemberPeriod {
	out := map[credit.Period][]credit.MemberPeriod{}
	for _, p := range r.Periods() {
		out[p] = r.MemberPeriods(p)
	}
	return out
}

func TestPropertyShuffleDoesNotChangeResults(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		r1, err := credit.Compute(w.cfg, w.dir, w.events)
		require.NoError(t, err)
		shuffled := rapid.Permutation(w.events).Draw(t, "order")
		r2, err := credit.Compute(w.cfg, w.dir, shuffled)
		require.NoError(t, err)
		require.Equal(t, allResults(r1), allResults(r2))
		for _, p := range r1.Periods() {
			require.Equal(t, r1.Settlement(p), r2.Settlement(p))
		}
	})
}

// interval is [start, end) in Unix ms.
type interval struct{ start, end int64 }

func union(ivs []interval) []interval {
	slices.SortFunc(ivs, func(a, b interval) int { return cmp.Compare(a.start, b.start) })
	var out []interval
	for _, iv := range ivs {
		if iv.end <= iv.start {
			continue
		}
		if n := len(out); n > 0 && iv.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, iv.end)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// usableTap is a tap the engine can use, as the package documentation
// defines it, computed independently of the engine.
type usableTap struct {
	at     int64
	member string
	center string
	exit   bool
}

// usableTaps returns the taps of the world that the engine can use.
func (w *world) usableTaps() []usableTap {
	seen := map[string]bool{}
	var taps []usableTap
	for _, ev := range w.events {
		key := fmt.Sprintf("%s/%d", ev.Door, ev.Seq)
		if seen[key] {
			continue // the generator duplicates only exact copies
		}
		seen[key] = true
		d, ok := w.doors[ev.Door]
		if !ok || w.dir.Member(ev.Member) == nil || (!d.Exit && !ev.Reason.Granted()) {
			continue
		}
		delay := ev.ReceivedMs - ev.TimeMs
		if delay < -w.cfg.MaxClockAhead.Milliseconds() {
			continue
		}
		if !ev.Trusted && (w.cfg.Untrusted == credit.UntrustedExclude || delay > w.cfg.UntrustedMaxDelay.Milliseconds()) {
			continue
		}
		taps = append(taps, usableTap{at: ev.TimeMs, member: ev.Member, center: d.CenterID, exit: d.Exit})
	}
	return taps
}

// presence computes, independently of the engine, the presence of each
// member at each center as the package documentation defines it, with
// booking attendance over-approximated: a booking counts when an entry at
// its center before its end keeps the member inside (to the first exit tap
// after it, else DefaultVisit later, uncapped) past start − grace.
func (w *world) presence() map[[2]string][]interval {
	type tp = usableTap
	taps := w.usableTaps()
	reach := func(e tp) int64 {
		end := e.at + w.cfg.DefaultVisit.Milliseconds()
		first := int64(-1)
		for _, x := range taps {
			if x.exit && x.member == e.member && x.center == e.center && x.at > e.at && (first < 0 || x.at < first) {
				first = x.at
			}
		}
		if first >= 0 {
			return first
		}
		return end
	}
	out := map[[2]string][]interval{}
	for _, e := range taps {
		if !e.exit {
			k := [2]string{e.member, e.center}
			out[k] = append(out[k], interval{e.at, reach(e)})
		}
	}
	grace := w.cfg.Grace.Milliseconds()
	for _, b := range w.books {
		if b.Status != domain.BookingConfirmed {
			continue
		}
		start, end := b.Start.UnixMilli(), b.End.UnixMilli()
		attended := w.cfg.NoShow == credit.NoShowBooked
		for _, e := range taps {
			if !e.exit && e.member == b.MemberID && e.center == b.CenterID && e.at < end && reach(e) > start-grace {
				attended = true
			}
		}
		if attended {
			k := [2]string{b.MemberID, b.CenterID}
			out[k] = append(out[k], interval{start, end})
		}
	}
	for k, ivs := range out {
		out[k] = union(ivs)
	}
	return out
}

// TestPropertyCreditsWithinPresence checks the bound stated in the package
// documentation, per member and center: credited visits are pairwise
// disjoint, each lies within presence and within its period, each is its
// exact duration rounded up to the quarter hour; so their exact minutes sum
// to at most the union of presence, and credited minutes to less than that
// plus 15 minutes per visit.
func TestPropertyCreditsWithinPresence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		r, err := credit.Compute(w.cfg, w.dir, w.events)
		require.NoError(t, err)
		pres := w.presence()
		visits := map[[2]string][]credit.Visit{}
		for _, p := range r.Periods() {
			for _, mp := range r.MemberPeriods(p) {
				for _, v := range mp.Visits {
					require.Equal(t, p, v.Period)
					require.Equal(t, p, credit.PeriodOf(v.Start, w.cfg.Location), "visit starts in its period")
					require.False(t, v.End.After(p.End(w.cfg.Location)), "visit ends within its period")
					if v.Credited {
						visits[[2]string{v.MemberID, v.CenterID}] = append(visits[[2]string{v.MemberID, v.CenterID}], v)
					}
				}
			}
		}
		for k, vs := range visits {
			slices.SortFunc(vs, func(a, b credit.Visit) int { return a.Start.Compare(b.Start) })
			var exact, credited, presence int64
			for _, iv := range pres[k] {
				presence += iv.end - iv.start
			}
			for i, v := range vs {
				s, e := v.Start.UnixMilli(), v.End.UnixMilli()
				require.Less(t, s, e, "credited visit %v is empty", v)
				if i > 0 {
					require.LessOrEqual(t, vs[i-1].End.UnixMilli(), s, "visits %v and %v overlap", vs[i-1], v)
				}
				inside := slices.ContainsFunc(pres[k], func(iv interval) bool { return iv.start <= s && e <= iv.end })
				require.True(t, inside, "visit %s→%s of %v not within presence %v", v.Start, v.End, k, pres[k])
				ms := e - s
				require.Equal(t, (ms+15*60_000-1)/(15*60_000)*15, v.CreditedMinutes)
				exact += ms
				credited += v.CreditedMinutes
			}
			require.LessOrEqual(t, exact, presence)
			require.Less(t, credited*60_000, presence+int64(len(vs))*15*60_000)
		}
	})
}

// drawBatches splits events into consecutive batches of random sizes.
func drawBatches(t *rapid.T, evs []domain.Event) [][]domain.Event {
	var out [][]domain.Event
	for len(evs) > 0 {
		n := rapid.IntRange(1, len(evs)).Draw(t, "batch")
		out = append(out, evs[:n])
		evs = evs[n:]
	}
	return out
}

func TestPropertyIncrementalEqualsRecompute(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		w := drawWorld(t)
		truth, err := credit.Compute(w.cfg, w.dir, w.events)
		require.NoError(t, err)
		st := credit.NewMemStore()
		l, err := credit.NewLedger(w.cfg, st)
		require.NoError(t, err)
		for i := range w.books {
			_, err := l.Changed(ctx, w.dir, domain.Change{Kind: domain.KindBooking, Booking: &w.books[i]})
			require.NoError(t, err)
		}
		for _, batch := range drawBatches(t, rapid.Permutation(w.events).Draw(t, "order")) {
			st.AddEvents(batch)
			_, err := l.Update(ctx, w.dir, batch)
			require.NoError(t, err)
		}
		periods := truth.Periods()
		first, err := st.EarliestPeriod(ctx)
		require.NoError(t, err)
		if !first.IsZero() {
			periods = append(periods, first)
		}
		for _, p := range periods {
			got, err := st.MemberPeriods(ctx, p)
			require.NoError(t, err)
			require.Equal(t, withoutDuplicates(truth.MemberPeriods(p)), withoutDuplicates(got), "period %s", p)
			s, err := l.Settlement(ctx, w.dir, p)
			require.NoError(t, err)
			want := truth.Settlement(p)
			want.Counts, s.Counts = nil, nil
			require.Equal(t, want, s, "period %s", p)
		}
	})
}

// TestPropertyClosedPeriodsAdjustToTruth closes periods while events
// arrive: frozen settlements never change, open periods equal a
// recomputation, and for a closed period, what was frozen plus every
// adjustment booked for it equals a recomputation, per center and class.
func TestPropertyClosedPeriodsAdjustToTruth(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		w := drawWorld(t)
		truth, err := credit.Compute(w.cfg, w.dir, w.events)
		require.NoError(t, err)
		st := credit.NewMemStore()
		l, err := credit.NewLedger(w.cfg, st)
		require.NoError(t, err)
		for i := range w.books {
			_, err := l.Changed(ctx, w.dir, domain.Change{Kind: domain.KindBooking, Booking: &w.books[i]})
			require.NoError(t, err)
		}
		far := at("2030-01-01 00:00")
		frozen := map[credit.Period]*credit.Settlement{}
		closeNext := func() {
			last, err := st.LastClosed(ctx)
			require.NoError(t, err)
			p := last.Next()
			if last.IsZero() {
				if p, err = st.EarliestPeriod(ctx); err != nil || p.IsZero() {
					return
				}
			}
			s, err := l.Close(ctx, w.dir, p, far)
			require.NoError(t, err)
			frozen[p] = s
		}
		for _, batch := range drawBatches(t, rapid.Permutation(w.events).Draw(t, "order")) {
			st.AddEvents(batch)
			_, err := l.Update(ctx, w.dir, batch)
			require.NoError(t, err)
			if rapid.IntRange(0, 2).Draw(t, "close") == 0 {
				closeNext()
			}
		}
		last, err := st.LastClosed(ctx)
		require.NoError(t, err)
		type key struct {
			center string
			class  credit.Class
		}
		minutes := func(s *credit.Settlement) map[key]int64 {
			out := map[key]int64{}
			for _, c := range s.Centers {
				out[key{c.CenterID, credit.ClassNomadic}] += c.NomadicMinutes
				out[key{c.CenterID, credit.ClassCrossCenter}] += c.CrossCenterMinutes
			}
			return out
		}
		// Every closed period with something to check: frozen explicitly,
		// or before the first close (frozen empty).
		closed := map[credit.Period]bool{}
		for p := range frozen {
			closed[p] = true
		}
		for _, p := range truth.Periods() {
			if !last.IsZero() && !last.Before(p) {
				closed[p] = true
			}
		}
		for p := range closed {
			s, err := l.Settlement(ctx, w.dir, p)
			require.NoError(t, err)
			if fz, ok := frozen[p]; ok {
				require.Equal(t, fz, s, "closed %s never changes", p)
			}
			got := minutes(s)
			for q := p.Next(); !last.Next().Before(q); q = q.Next() {
				sq, err := l.Settlement(ctx, w.dir, q)
				require.NoError(t, err)
				for _, a := range sq.Adjustments {
					if a.BelongsTo == p {
						got[key{a.CenterID, a.Class}] += a.Minutes
					}
				}
			}
			want := minutes(truth.Settlement(p))
			for k, v := range want {
				require.Equal(t, v, got[k], "%s %v", p, k)
			}
			for k, v := range got {
				require.Equal(t, want[k], v, "%s %v", p, k)
			}
		}
		for _, p := range truth.Periods() {
			if last.IsZero() || last.Before(p) {
				got, err := st.MemberPeriods(ctx, p)
				require.NoError(t, err)
				require.Equal(t, withoutDuplicates(truth.MemberPeriods(p)), withoutDuplicates(got), "open %s", p)
			}
		}
	})
}

// TestPropertyBookingCreditsBoundedByDays checks the bound on bookings
// (PRODUCT.md 4.6): a credited visit made of bookings alone lies within the
// center's opening hours, and each local day it touches has an entry of
// the member at the center that day, or (an overnight stay at a center
// open through midnight) the day before; unless the no-show policy
// credits bookings as booked.
func TestPropertyBookingCreditsBoundedByDays(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		r, err := credit.Compute(w.cfg, w.dir, w.events)
		require.NoError(t, err)
		type dayKey struct {
			member, center string
			date           string
		}
		entryDays := map[dayKey]bool{}
		for _, tp := range w.usableTaps() {
			if !tp.exit {
				c := w.centers[tp.center]
				loc, err := c.Location()
				require.NoError(t, err)
				entryDays[dayKey{tp.member, tp.center, time.UnixMilli(tp.at).In(loc).Format(time.DateOnly)}] = true
			}
		}
		for _, p := range r.Periods() {
			for _, mp := range r.MemberPeriods(p) {
				for _, v := range mp.Visits {
					if !v.Credited || v.Source != credit.SourceBooking {
						continue
					}
					c := w.centers[v.CenterID]
					loc, err := c.Location()
					require.NoError(t, err)
					local := v.Start.In(loc)
					for day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc); day.Before(v.End); day = day.AddDate(0, 0, 1) {
						s, e := max(v.Start.UnixMilli(), day.UnixMilli()), min(v.End.UnixMilli(), day.AddDate(0, 0, 1).UnixMilli())
						if e <= s {
							continue
						}
						// [s, e) is covered by the day's opening spans.
						cur := s
						for _, sp := range c.Hours[day.Weekday()] {
							o := time.Date(day.Year(), day.Month(), day.Day(), sp.Open/60, sp.Open%60, 0, 0, loc).UnixMilli()
							cl := time.Date(day.Year(), day.Month(), day.Day(), sp.Close/60, sp.Close%60, 0, 0, loc).UnixMilli()
							if o <= cur && cur < cl {
								cur = cl
							}
						}
						require.GreaterOrEqual(t, cur, e, "visit %v credits %s, outside opening hours", v, time.UnixMilli(cur).In(loc))
						if v.NoShow {
							continue
						}
						today := entryDays[dayKey{v.MemberID, v.CenterID, day.Format(time.DateOnly)}]
						before := entryDays[dayKey{v.MemberID, v.CenterID, day.AddDate(0, 0, -1).Format(time.DateOnly)}]
						require.True(t, today || before, "visit %v credits %s without an entry that day or the day before", v, day.Format(time.DateOnly))
					}
				}
			}
		}
	})
}
