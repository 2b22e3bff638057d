// Package credittest holds conformance tests for implementations of
// credit.Store, so that the SQLite and PostgreSQL stores behave as the
// in-memory one the crediting engine is tested with, and the generated
// network (NewNetwork) that the engine's and the stores' benchmarks settle.
package credittest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// NewStore returns an empty store of the implementation under test whose
// MemberEvents reads the given events (as if the central had committed
// them). It is called once per subtest.
type NewStore func(t *testing.T, events []domain.Event) credit.Store

// Run runs every conformance test against the implementation.
func Run(t *testing.T, newStore NewStore) {
	t.Run("MemberEvents", func(t *testing.T) { testMemberEvents(t, newStore) })
	t.Run("Results", func(t *testing.T) { testResults(t, newStore) })
	t.Run("Adjustments", func(t *testing.T) { testAdjustments(t, newStore) })
	t.Run("Frozen", func(t *testing.T) { testFrozen(t, newStore) })
	t.Run("Close", func(t *testing.T) { testClose(t, newStore) })
}

func period(t *testing.T, s string) credit.Period {
	t.Helper()
	p, err := credit.ParsePeriod(s)
	require.NoError(t, err)
	return p
}

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func event(door string, seq uint64, member, when, received string) domain.Event {
	return domain.Event{Door: door, ReceivedMs: ms(received), Event: protocol.Event{Seq: seq, TimeMs: ms(when),
		Trusted: true, Boot: "boot-1", Kind: protocol.EventTap, UID: "04A1B2C3", Member: member,
		Reason: protocol.GrantedPass, WLVersion: 3}}
}

func testMemberEvents(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	evs := []domain.Event{
		event("d1", 1, "m1", "2026-11-10T09:00:00Z", "2026-11-10T09:01:00Z"),
		event("d1", 2, "m1", "2026-10-10T09:00:00Z", "2026-11-20T09:00:00Z"), // late: received in range only
		event("d1", 3, "m1", "2026-09-10T09:00:00Z", "2026-09-10T09:00:00Z"), // out of range
		event("d2", 1, "m2", "2026-11-10T09:00:00Z", "2026-11-10T09:00:00Z"),
		event("d2", 2, "", "2026-11-11T09:00:00Z", "2026-11-11T09:00:00Z"),
	}
	s := newStore(t, evs)
	from, to := ms("2026-11-01T00:00:00Z"), ms("2026-12-01T00:00:00Z")
	got, err := s.MemberEvents(ctx, "m1", from, to)
	require.NoError(t, err)
	var seqs []uint64
	for _, ev := range got {
		assert.Equal(t, "m1", ev.Member)
		if ev.Seq != 3 { // an extra event outside the range is allowed
			seqs = append(seqs, ev.Seq)
		}
	}
	assert.ElementsMatch(t, []uint64{1, 2}, seqs)
	for _, ev := range got {
		if ev.Seq == 1 {
			assert.Equal(t, evs[0], ev, "events come back whole")
		}
	}
	none, err := s.MemberEvents(ctx, "", from, to)
	require.NoError(t, err)
	require.Len(t, none, 1, "events without a member are read with member \"\"")
	assert.Equal(t, uint64(2), none[0].Seq)
	empty, err := s.MemberEvents(ctx, "nobody", from, to)
	require.NoError(t, err)
	assert.Empty(t, empty)

	// Many members at once: what MemberEvents gives each of them.
	many, err := s.EventsOfMembers(ctx, []string{"m2", "nobody", "m1"}, from, to)
	require.NoError(t, err)
	type key struct {
		door string
		seq  uint64
	}
	seen := map[key]bool{}
	var keys []key
	for _, ev := range many {
		k := key{ev.Door, ev.Seq}
		require.False(t, seen[k], "%v twice", k)
		seen[k] = true
		if k != (key{"d1", 3}) { // an extra event outside the range is allowed
			keys = append(keys, k)
		}
		if k == (key{"d1", 1}) {
			assert.Equal(t, evs[0], ev, "events come back whole")
		}
	}
	assert.ElementsMatch(t, []key{{"d1", 1}, {"d1", 2}, {"d2", 1}}, keys)
	none, err = s.EventsOfMembers(ctx, []string{"nobody"}, from, to)
	require.NoError(t, err)
	assert.Empty(t, none)
	none, err = s.EventsOfMembers(ctx, nil, from, to)
	require.NoError(t, err)
	assert.Empty(t, none)
}

func visit(member, center string, p credit.Period, start, end string, credited bool) credit.Visit {
	st, en := time.UnixMilli(ms(start)).UTC(), time.UnixMilli(ms(end)).UTC()
	v := credit.Visit{MemberID: member, CenterID: center, Period: p, Start: st, End: en,
		Source: credit.SourceBookingAndWalkIn, Bookings: []string{"b1", "b2"}, Class: credit.ClassCrossCenter,
		HomeCenterID: "home", Credited: credited, UntrustedClock: true}
	if credited {
		v.CreditedMinutes = 75
	} else {
		v.Why = credit.WhyNoShow
	}
	return v
}

func testResults(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, nil)
	nov, dec := period(t, "2026-11"), period(t, "2026-12")
	first, err := s.EarliestPeriod(ctx)
	require.NoError(t, err)
	assert.True(t, first.IsZero())

	m1 := credit.MemberPeriod{MemberID: "m1", Period: nov, Visits: []credit.Visit{
		visit("m1", "c1", nov, "2026-11-10T09:00:00.123Z", "2026-11-10T10:10:00Z", true),
		visit("m1", "c2", nov, "2026-11-11T09:00:00Z", "2026-11-11T10:00:00Z", false),
	}, Counts: credit.Counts{credit.CountEntries: 2, credit.CountUnknownDoor: 1}}
	m0 := credit.MemberPeriod{MemberID: "m0", Period: nov, Counts: credit.Counts{credit.CountDenied: 4}}
	m2 := credit.MemberPeriod{MemberID: "m2", Period: dec, Visits: []credit.Visit{
		visit("m2", "c1", dec, "2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z", true)}}
	require.NoError(t, s.Save(ctx, &credit.Commit{Results: []credit.MemberPeriod{m1, m0, m2}}))

	got, err := s.MemberPeriod(ctx, "m1", nov)
	require.NoError(t, err)
	assert.Equal(t, m1, got, "results come back whole")
	all, err := s.MemberPeriods(ctx, nov)
	require.NoError(t, err)
	assert.Equal(t, []credit.MemberPeriod{m0, m1}, all, "sorted by member id")
	none, err := s.MemberPeriod(ctx, "m9", nov)
	require.NoError(t, err)
	assert.Empty(t, none.Visits)
	assert.Empty(t, none.Counts)
	first, err = s.EarliestPeriod(ctx)
	require.NoError(t, err)
	assert.Equal(t, nov, first)

	// Replacing is whole; an empty result deletes.
	m1b := credit.MemberPeriod{MemberID: "m1", Period: nov, Visits: m1.Visits[:1]}
	require.NoError(t, s.Save(ctx, &credit.Commit{Results: []credit.MemberPeriod{m1b,
		{MemberID: "m0", Period: nov}}}))
	all, err = s.MemberPeriods(ctx, nov)
	require.NoError(t, err)
	assert.Equal(t, []credit.MemberPeriod{m1b}, all)

	// Many empty results (members imported in bulk), one of them stored
	// (m1 in November, deleted), beside new ones; a result given twice
	// counts as the last one.
	var many []credit.MemberPeriod
	for i := range 1000 {
		many = append(many, credit.MemberPeriod{MemberID: fmt.Sprintf("x%04d", i), Period: nov})
	}
	m3 := credit.MemberPeriod{MemberID: "m3", Period: nov, Counts: credit.Counts{credit.CountEntries: 1}}
	many = append(many, credit.MemberPeriod{MemberID: "m1", Period: nov}, m3, credit.MemberPeriod{MemberID: "m4", Period: nov, Counts: m3.Counts},
		credit.MemberPeriod{MemberID: "m4", Period: nov}, credit.MemberPeriod{MemberID: "m2", Period: dec})
	require.NoError(t, s.Save(ctx, &credit.Commit{Results: many}))
	all, err = s.MemberPeriods(ctx, nov)
	require.NoError(t, err)
	assert.Equal(t, []credit.MemberPeriod{m3}, all)
	all, err = s.MemberPeriods(ctx, dec)
	require.NoError(t, err)
	assert.Empty(t, all)
}

func adjustment(member, center string, belongs, booked credit.Period, minutes int64) credit.Adjustment {
	return credit.Adjustment{MemberID: member, CenterID: center, Class: credit.ClassNomadic,
		BelongsTo: belongs, BookedIn: booked, Minutes: minutes, RateCents: 1250}
}

func testAdjustments(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, nil)
	oct, nov, dec := period(t, "2026-10"), period(t, "2026-11"), period(t, "2026-12")
	require.NoError(t, s.Save(ctx, &credit.Commit{Adjustments: []credit.AdjustmentSet{
		{MemberID: "m1", BelongsTo: oct, BookedIn: nov, Lines: []credit.Adjustment{
			adjustment("m1", "c1", oct, nov, -60), adjustment("m1", "c2", oct, nov, 15)}},
		{MemberID: "m1", BelongsTo: oct, BookedIn: dec, Lines: []credit.Adjustment{adjustment("m1", "c1", oct, dec, 30)}},
		{MemberID: "m2", BelongsTo: oct, BookedIn: nov, Lines: []credit.Adjustment{adjustment("m2", "c1", oct, nov, 45)}},
	}}))
	got, err := s.Adjustments(ctx, "m1", oct)
	require.NoError(t, err)
	assert.ElementsMatch(t, []credit.Adjustment{adjustment("m1", "c1", oct, nov, -60),
		adjustment("m1", "c2", oct, nov, 15), adjustment("m1", "c1", oct, dec, 30)}, got)
	booked, err := s.BookedAdjustments(ctx, nov, "")
	require.NoError(t, err)
	assert.Len(t, booked, 3)
	mine, err := s.BookedAdjustments(ctx, nov, "m2")
	require.NoError(t, err)
	assert.Equal(t, []credit.Adjustment{adjustment("m2", "c1", oct, nov, 45)}, mine)

	// Replacing a set is whole; an empty set deletes it.
	require.NoError(t, s.Save(ctx, &credit.Commit{Adjustments: []credit.AdjustmentSet{
		{MemberID: "m1", BelongsTo: oct, BookedIn: nov, Lines: []credit.Adjustment{adjustment("m1", "c1", oct, nov, -45)}},
		{MemberID: "m2", BelongsTo: oct, BookedIn: nov},
	}}))
	booked, err = s.BookedAdjustments(ctx, nov, "")
	require.NoError(t, err)
	assert.Equal(t, []credit.Adjustment{adjustment("m1", "c1", oct, nov, -45)}, booked)
}

func settlement(p credit.Period) *credit.Settlement {
	return &credit.Settlement{Period: p, TimeZone: "Europe/Brussels", Closed: true, DefaultRateCents: 1000,
		Rounding: credit.RoundingRule,
		Centers: []credit.CenterLine{{CenterID: "c1", Name: "One", RateCents: 1250, CreditedVisits: 3,
			NomadicMinutes: 90, CrossCenterMinutes: 15, NomadicCents: 1875, CrossCenterCents: 313, AmountCents: 2188,
			AdjustmentMinutes: -15, AdjustmentCents: -313, TotalCents: 1875, HomeRecordedVisits: 2,
			InvoiceMinutes: 30, InvoiceCents: 500}},
		CrossCenter: []credit.CrossCenterLine{{HostCenterID: "c1", HomeCenterID: "c2", Minutes: 15, RateCents: 1250, AmountCents: 313}},
		Adjustments: []credit.AdjustmentLine{{CenterID: "c1", BelongsTo: p.Prev(), Class: credit.ClassNomadic,
			Minutes: -15, RateCents: 1250, AmountCents: -313}},
		Counts:     credit.Counts{credit.CountEntries: 3},
		TotalCents: 1875}
}

func testFrozen(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, nil)
	oct, nov := period(t, "2026-10"), period(t, "2026-11")
	res := credit.MemberPeriod{MemberID: "m1", Period: oct, Counts: credit.Counts{credit.CountEntries: 1}}
	require.NoError(t, s.Save(ctx, &credit.Commit{Results: []credit.MemberPeriod{res}}))
	require.NoError(t, s.Close(ctx, credit.Period{}, settlement(oct)))

	tests := []struct {
		name string
		c    credit.Commit
		want error
	}{
		{"stale last closed", credit.Commit{Results: []credit.MemberPeriod{{MemberID: "m2", Period: nov, Counts: credit.Counts{"entries": 1}}}}, credit.ErrStale},
		{"result in a closed period", credit.Commit{LastClosed: oct, Results: []credit.MemberPeriod{{MemberID: "m1", Period: oct}}}, credit.ErrFrozen},
		{"adjustment booked in a closed period", credit.Commit{LastClosed: oct, Adjustments: []credit.AdjustmentSet{
			{MemberID: "m1", BelongsTo: oct, BookedIn: oct, Lines: []credit.Adjustment{adjustment("m1", "c1", oct, oct, 15)}}}}, credit.ErrFrozen},
		{"a good result with a frozen one fails whole", credit.Commit{LastClosed: oct, Results: []credit.MemberPeriod{
			{MemberID: "m2", Period: nov, Counts: credit.Counts{"entries": 1}}, {MemberID: "m1", Period: oct}}}, credit.ErrFrozen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Save(ctx, &tt.c)
			assert.True(t, errors.Is(err, tt.want), "want %v, got %v", tt.want, err)
			got, err := s.MemberPeriod(ctx, "m1", oct)
			require.NoError(t, err)
			assert.Equal(t, res, got, "the frozen result is unchanged")
			novs, err := s.MemberPeriods(ctx, nov)
			require.NoError(t, err)
			assert.Empty(t, novs, "a failed commit changes nothing")
		})
	}
	require.NoError(t, s.Save(ctx, &credit.Commit{LastClosed: oct, Results: []credit.MemberPeriod{
		{MemberID: "m2", Period: nov, Counts: credit.Counts{"entries": 1}}}}))
}

func testClose(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, nil)
	oct, nov := period(t, "2026-10"), period(t, "2026-11")
	last, err := s.LastClosed(ctx)
	require.NoError(t, err)
	assert.True(t, last.IsZero())
	_, err = s.ClosedSettlement(ctx, oct)
	assert.True(t, errors.Is(err, credit.ErrNotClosed), "%v", err)

	require.NoError(t, s.Close(ctx, credit.Period{}, settlement(oct)))
	last, err = s.LastClosed(ctx)
	require.NoError(t, err)
	assert.Equal(t, oct, last)
	got, err := s.ClosedSettlement(ctx, oct)
	require.NoError(t, err)
	assert.Equal(t, settlement(oct), got, "the frozen settlement comes back whole")

	err = s.Close(ctx, credit.Period{}, settlement(nov))
	assert.True(t, errors.Is(err, credit.ErrStale), "%v", err)
	_, err = s.ClosedSettlement(ctx, nov)
	assert.True(t, errors.Is(err, credit.ErrNotClosed), "%v", err)
	require.NoError(t, s.Close(ctx, oct, settlement(nov)))
	last, err = s.LastClosed(ctx)
	require.NoError(t, err)
	assert.Equal(t, nov, last)
}
