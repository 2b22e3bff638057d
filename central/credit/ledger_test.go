package credit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
)

func mustPeriod(t testing.TB, s string) credit.Period {
	t.Helper()
	p, err := credit.ParsePeriod(s)
	require.NoError(t, err)
	return p
}

// ingest stores events as the central would and updates the ledger.
func ingest(t *testing.T, l *credit.Ledger, st *credit.MemStore, dir *credit.Directory, evs []domain.Event) {
	t.Helper()
	st.AddEvents(evs)
	_, err := l.Update(context.Background(), dir, evs)
	require.NoError(t, err)
}

func TestLedgerLateEventsBecomeAdjustments(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	dir := testDir()
	st := credit.NewMemStore()
	l, err := credit.NewLedger(cfg, st)
	require.NoError(t, err)
	oct, nov, dec := mustPeriod(t, "2026-10"), mustPeriod(t, "2026-11"), mustPeriod(t, "2026-12")

	es := new(events)
	es.in("a-in", "nomad", "2026-10-20 09:00") // no exit yet: 4 h
	es.in("b-in", "nomad", "2026-11-03 09:00").out("b-out", "nomad", "2026-11-03 10:00")
	ingest(t, l, st, dir, es.evs)

	frozenOct, err := l.Close(ctx, dir, oct, at("2026-11-02 08:00"))
	require.NoError(t, err)
	a, _ := frozenOct.Center("ctr-a")
	assert.Equal(t, int64(240), a.NomadicMinutes)
	assert.True(t, frozenOct.Closed)
	stmtOct, err := l.Statement(ctx, dir, "nomad", oct)
	require.NoError(t, err)

	// The exit tap of 20 October reaches the central on 5 November.
	late := new(events)
	late.seq = es.seq
	late.tap("a-out", "nomad", "granted_pass", "2026-10-20 10:00", receivedAt("2026-11-05 12:00"))
	ingest(t, l, st, dir, late.evs)

	again, err := l.Settlement(ctx, dir, oct)
	require.NoError(t, err)
	assert.Equal(t, frozenOct, again, "a closed period never changes")
	stmtAgain, err := l.Statement(ctx, dir, "nomad", oct)
	require.NoError(t, err)
	assert.Equal(t, stmtOct, stmtAgain)

	novS, err := l.Settlement(ctx, dir, nov)
	require.NoError(t, err)
	assert.Equal(t, []credit.AdjustmentLine{{CenterID: "ctr-a", BelongsTo: oct, Class: credit.ClassNomadic,
		Minutes: 60 - 240, RateCents: 1000, AmountCents: -180 * 1000 / 60}}, novS.Adjustments)
	na, _ := novS.Center("ctr-a")
	assert.Equal(t, int64(-3000), na.AdjustmentCents)
	assert.Equal(t, int64(-3000), na.TotalCents)
	nb, _ := novS.Center("ctr-b")
	assert.Equal(t, int64(60), nb.NomadicMinutes)

	// A second late event for October: a visit at ctr-b. The ctr-a line is
	// replaced, not repeated.
	late2 := new(events)
	late2.seq = late.seq
	late2.in("b-in", "nomad", "2026-10-21 09:00").out("b-out", "nomad", "2026-10-21 11:00")
	for i := range late2.evs {
		late2.evs[i].ReceivedMs = at("2026-11-06 12:00").UnixMilli()
	}
	ingest(t, l, st, dir, late2.evs)
	novS, err = l.Settlement(ctx, dir, nov)
	require.NoError(t, err)
	assert.Equal(t, []credit.AdjustmentLine{
		{CenterID: "ctr-a", BelongsTo: oct, Class: credit.ClassNomadic, Minutes: -180, RateCents: 1000, AmountCents: -3000},
		{CenterID: "ctr-b", BelongsTo: oct, Class: credit.ClassNomadic, Minutes: 120, RateCents: 1200, AmountCents: 2400},
	}, novS.Adjustments)
	stmtNov, err := l.Statement(ctx, dir, "nomad", nov)
	require.NoError(t, err)
	assert.Equal(t, int64(-60), stmtNov.AdjustmentMinutes)

	// November closes; a third late event for October books only its own
	// difference in December.
	_, err = l.Close(ctx, dir, nov, at("2026-12-01 00:00"))
	require.NoError(t, err)
	late3 := new(events)
	late3.seq = late2.seq
	late3.in("a-in", "nomad", "2026-10-22 09:00").out("a-out", "nomad", "2026-10-22 09:30")
	for i := range late3.evs {
		late3.evs[i].ReceivedMs = at("2026-12-02 12:00").UnixMilli()
	}
	ingest(t, l, st, dir, late3.evs)
	decS, err := l.Settlement(ctx, dir, dec)
	require.NoError(t, err)
	assert.Equal(t, []credit.AdjustmentLine{{CenterID: "ctr-a", BelongsTo: oct, Class: credit.ClassNomadic,
		Minutes: 30, RateCents: 1000, AmountCents: 500}}, decS.Adjustments)

	// Frozen October plus every adjustment for it is what October is now.
	all := append(append(append([]domain.Event{}, es.evs...), late.evs...), late2.evs...)
	all = append(all, late3.evs...)
	truth, err := credit.Compute(cfg, dir, all)
	require.NoError(t, err)
	tOct := truth.Settlement(oct)
	for _, id := range dir.CenterIDs() {
		fz, _ := frozenOct.Center(id)
		tr, _ := tOct.Center(id)
		adj := int64(0)
		for _, p := range []credit.Period{nov, dec} {
			s, err := l.Settlement(ctx, dir, p)
			require.NoError(t, err)
			for _, a := range s.Adjustments {
				if a.CenterID == id && a.BelongsTo == oct {
					adj += a.Minutes
				}
			}
		}
		assert.Equal(t, tr.NomadicMinutes+tr.CrossCenterMinutes, fz.NomadicMinutes+fz.CrossCenterMinutes+adj, id)
	}
}

func TestLedgerCloseRules(t *testing.T) {
	ctx := context.Background()
	dir := testDir()
	st := credit.NewMemStore()
	l, err := credit.NewLedger(testConfig(t), st)
	require.NoError(t, err)
	sep, oct, nov := mustPeriod(t, "2026-09"), mustPeriod(t, "2026-10"), mustPeriod(t, "2026-11")
	ingest(t, l, st, dir, new(events).in("a-in", "nomad", "2026-09-15 09:00").in("a-in", "nomad", "2026-10-15 09:00").evs)

	_, err = l.Close(ctx, dir, oct, at("2026-11-02 00:00"))
	assert.True(t, errors.Is(err, credit.ErrCloseOrder), "September holds results: %v", err)
	_, err = l.Close(ctx, dir, sep, at("2026-09-30 23:00"))
	assert.True(t, errors.Is(err, credit.ErrPeriodNotOver), "%v", err)
	_, err = l.Close(ctx, dir, sep, at("2026-10-01 00:00"))
	require.NoError(t, err)
	_, err = l.Close(ctx, dir, sep, at("2026-10-01 00:00"))
	assert.True(t, errors.Is(err, credit.ErrAlreadyClosed), "%v", err)
	_, err = l.Close(ctx, dir, nov, at("2026-12-02 00:00"))
	assert.True(t, errors.Is(err, credit.ErrCloseOrder), "%v", err)
	s, err := l.Close(ctx, dir, oct, at("2026-12-02 00:00"))
	require.NoError(t, err)
	a, _ := s.Center("ctr-a")
	assert.Equal(t, int64(240), a.NomadicMinutes)

	// A period before the first close is closed and empty.
	aug, err := l.Settlement(ctx, dir, mustPeriod(t, "2026-08"))
	require.NoError(t, err)
	assert.True(t, aug.Closed)
	assert.Equal(t, int64(0), aug.TotalCents)
}

func TestLedgerBookingChanges(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.NoShow = credit.NoShowBooked
	b := booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00")
	dir := testDir(b)
	st := credit.NewMemStore()
	l, err := credit.NewLedger(cfg, st)
	require.NoError(t, err)
	nov := mustPeriod(t, "2026-11")

	s, err := l.Settlement(ctx, dir, nov)
	require.NoError(t, err)
	assert.Equal(t, int64(0), s.TotalCents, "no event, no change notified yet")

	_, err = l.Changed(ctx, dir, domain.Change{Kind: domain.KindBooking, Booking: &b})
	require.NoError(t, err)
	s, err = l.Settlement(ctx, dir, nov)
	require.NoError(t, err)
	a, _ := s.Center("ctr-a")
	assert.Equal(t, int64(180), a.NomadicMinutes, "no-show credited as booked")

	truth, err := credit.Compute(cfg, dir, nil)
	require.NoError(t, err)
	assert.Equal(t, truth.Settlement(nov), s)
}

func TestLedgerDuplicatesAndOrder(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	dir := testDir()
	es := new(events).in("a-in", "nomad", "2026-11-10 09:00").out("a-out", "nomad", "2026-11-10 10:20").
		in("b-in", "local", "2026-11-10 09:00")
	nov := mustPeriod(t, "2026-11")

	st := credit.NewMemStore()
	l, err := credit.NewLedger(cfg, st)
	require.NoError(t, err)
	// Delivered backwards, one at a time, every event twice.
	for i := len(es.evs) - 1; i >= 0; i-- {
		ingest(t, l, st, dir, []domain.Event{es.evs[i], es.evs[i]})
	}
	got, err := st.MemberPeriods(ctx, nov)
	require.NoError(t, err)
	truth, err := credit.Compute(cfg, dir, es.evs)
	require.NoError(t, err)
	assert.Equal(t, truth.MemberPeriods(nov), got)
}

// An entry well before a booking still attends it when the member is
// inside at its start; when the booking runs into the next period (here
// the overnight stay of the booking's first day, at a center open through
// midnight), the update must recompute that period too (found by the
// property test).
func TestLedgerEntryAttendsBookingInNextPeriod(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	b := booking("bk1", "booker", "ctr-n", "2026-10-31 23:00", "2026-11-01 01:00")
	dir := testDir(b)
	st := credit.NewMemStore()
	l, err := credit.NewLedger(cfg, st)
	require.NoError(t, err)
	es := new(events).tap("n-in", "booker", "granted_booking", "2026-10-31 21:00")
	ingest(t, l, st, dir, es.evs)

	truth, err := credit.Compute(cfg, dir, es.evs)
	require.NoError(t, err)
	nov := mustPeriod(t, "2026-11")
	assert.Equal(t, []string{"ctr-n 11-01 00:00→01:00 booking nomadic 60"}, showAll(truth.MemberPeriod("booker", nov).Visits))
	got, err := st.MemberPeriod(ctx, "booker", nov)
	require.NoError(t, err)
	assert.Equal(t, truth.MemberPeriod("booker", nov), got)
}

func TestLedgerPassChange(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	es := new(events).tap("a-in", "booker", "granted_pass", "2026-11-10 09:00").
		tap("a-out", "booker", "granted_pass", "2026-11-10 10:00")
	st := credit.NewMemStore()
	l, err := credit.NewLedger(cfg, st)
	require.NoError(t, err)
	nov := mustPeriod(t, "2026-11")
	ingest(t, l, st, testDir(), es.evs)
	got, err := st.MemberPeriod(ctx, "booker", nov)
	require.NoError(t, err)
	assert.Equal(t, []string{"ctr-a 11-10 09:00→10:00 walk_in nomadic no_booking_or_pass"}, showAll(got.Visits))

	// The pass is recorded afterwards (it was sold at the desk).
	pass := domain.Pass{ID: "p-booker", MemberID: "booker", ValidFrom: at("2026-11-01 00:00"), ValidUntil: at("2026-12-01 00:00")}
	dir := credit.NewDirectory(testCenters(), testDoors(), testMembers(), nil, append(testPasses(), pass))
	_, err = l.Changed(ctx, dir, domain.Change{Kind: domain.KindPass, Pass: &pass})
	require.NoError(t, err)
	got, err = st.MemberPeriod(ctx, "booker", nov)
	require.NoError(t, err)
	assert.Equal(t, []string{"ctr-a 11-10 09:00→10:00 walk_in nomadic 60"}, showAll(got.Visits))
	truth, err := credit.Compute(cfg, dir, es.evs)
	require.NoError(t, err)
	assert.Equal(t, truth.MemberPeriod("booker", nov), got)
}

// Compute over the events of EventWindow gives the period exactly.
func TestEventWindow(t *testing.T) {
	cfg := testConfig(t)
	b := booking("bk1", "booker", "ctr-n", "2026-10-20 10:00", "2026-11-02 10:00")
	dir := testDir(b)
	es := new(events).tap("n-in", "booker", "granted_booking", "2026-10-20 10:05").
		in("a-in", "nomad", "2026-11-10 09:00").in("a-in", "nomad", "2026-12-10 09:00")
	nov := mustPeriod(t, "2026-11")
	from, to := credit.EventWindow(cfg, dir, nov)
	assert.True(t, !from.After(at("2026-10-20 10:05")), "the booking's attendance is inside: %v", from)
	var inWindow []domain.Event
	for _, ev := range es.evs {
		if (ev.TimeMs >= from.UnixMilli() && ev.TimeMs < to.UnixMilli()) || (ev.ReceivedMs >= from.UnixMilli() && ev.ReceivedMs < to.UnixMilli()) {
			inWindow = append(inWindow, ev)
		}
	}
	assert.Len(t, inWindow, 2)
	all, err := credit.Compute(cfg, dir, es.evs)
	require.NoError(t, err)
	part, err := credit.Compute(cfg, dir, inWindow)
	require.NoError(t, err)
	assert.Equal(t, all.Settlement(nov), part.Settlement(nov))
	assert.Equal(t, all.MemberPeriods(nov), part.MemberPeriods(nov))
}

// TestLedgerRulesPerPeriod: with SetRules each period is computed,
// settled and closed with its own rules, in one update spanning both; the
// results equal Compute from scratch with each period's rules.
func TestLedgerRulesPerPeriod(t *testing.T) {
	ctx := context.Background()
	octRules := testConfig(t)
	octRules.SettingsVersion = 1
	novRules := octRules
	novRules.SettingsVersion = 2
	novRules.DefaultVisit = octRules.DefaultVisit / 2
	novRules.DefaultRateCents = 2 * octRules.DefaultRateCents
	novRules.CenterRates = map[string]int64{"ctr-b": 777}
	oct, nov := mustPeriod(t, "2026-10"), mustPeriod(t, "2026-11")
	rules := func(p credit.Period) credit.Config {
		if p.Before(nov) {
			return octRules
		}
		return novRules
	}
	dir := testDir()
	st := credit.NewMemStore()
	l, err := credit.NewLedger(octRules, st)
	require.NoError(t, err)
	l.SetRules(rules)

	es := new(events)
	es.in("a-in", "nomad", "2026-10-20 09:00") // walk-ins without exit: the default visit
	es.in("a-in", "nomad", "2026-11-03 09:00")
	es.in("b-in", "nomad", "2026-11-04 09:00")
	ingest(t, l, st, dir, es.evs)

	for _, p := range []credit.Period{oct, nov} {
		got, err := l.Settlement(ctx, dir, p)
		require.NoError(t, err)
		r, err := credit.Compute(rules(p), dir, es.evs)
		require.NoError(t, err)
		assert.Equal(t, r.Settlement(p), got, "period %s", p)
		assert.Equal(t, rules(p).SettingsVersion, got.SettingsVersion)
	}
	novS, err := l.Settlement(ctx, dir, nov)
	require.NoError(t, err)
	a, _ := novS.Center("ctr-a")
	assert.Equal(t, novRules.DefaultVisit.Milliseconds()/60000, a.NomadicMinutes, "November's default visit")
	assert.Equal(t, novRules.DefaultRateCents, a.RateCents)
	b, _ := novS.Center("ctr-b")
	assert.Equal(t, int64(777), b.RateCents, "November's center rate")

	frozen, err := l.Close(ctx, dir, oct, at("2026-11-02 08:00"))
	require.NoError(t, err)
	a, _ = frozen.Center("ctr-a")
	assert.Equal(t, octRules.DefaultVisit.Milliseconds()/60000, a.NomadicMinutes, "October's default visit")
	assert.Equal(t, octRules.DefaultRateCents, a.RateCents)
	assert.Equal(t, int64(1), frozen.SettingsVersion, "the close records October's version")
}

func TestLedgerCloseThrough(t *testing.T) {
	ctx := context.Background()
	dir := testDir()
	st := credit.NewMemStore()
	l, err := credit.NewLedger(testConfig(t), st)
	require.NoError(t, err)
	sep, oct, nov, dec := mustPeriod(t, "2026-09"), mustPeriod(t, "2026-10"), mustPeriod(t, "2026-11"), mustPeriod(t, "2026-12")
	ingest(t, l, st, dir, new(events).in("a-in", "nomad", "2026-09-15 09:00").in("a-in", "nomad", "2026-11-16 09:00").evs)

	ps, err := l.ToClose(ctx, nov)
	require.NoError(t, err)
	assert.Equal(t, []credit.Period{sep, oct, nov}, ps, "from the earliest period holding results")

	_, err = l.CloseThrough(ctx, dir, nov, at("2026-11-30 23:00"))
	assert.True(t, errors.Is(err, credit.ErrPeriodNotOver), "%v", err)
	last, err := st.LastClosed(ctx)
	require.NoError(t, err)
	assert.True(t, last.IsZero(), "nothing closed when the last period has not ended")

	got, err := l.CloseThrough(ctx, dir, nov, at("2026-12-02 00:00"))
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, p := range []credit.Period{sep, oct, nov} {
		assert.Equal(t, p, got[i].Period)
		assert.True(t, got[i].Closed)
		s, err := l.Settlement(ctx, dir, p)
		require.NoError(t, err)
		assert.Equal(t, got[i], s, "the frozen settlement of %s", p)
	}
	a, _ := got[2].Center("ctr-a")
	assert.Equal(t, int64(240), a.NomadicMinutes)

	_, err = l.ToClose(ctx, oct)
	assert.True(t, errors.Is(err, credit.ErrAlreadyClosed), "%v", err)
	ps, err = l.ToClose(ctx, dec)
	require.NoError(t, err)
	assert.Equal(t, []credit.Period{dec}, ps)
}
