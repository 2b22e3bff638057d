package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Commit stores events as the ingest commits them: one AppendBatches call
// per receipt time (in order of receipt), each followed by the crediting's
// Track of the same batches and MarkCredited, as serve wires them.
func Commit(t testing.TB, s store.Store, events []domain.Event) {
	t.Helper()
	ctx := context.Background()
	byReceipt := map[int64][]store.DoorEvents{}
	for _, ev := range events {
		batches := byReceipt[ev.ReceivedMs]
		if len(batches) == 0 || batches[len(batches)-1].Door != ev.Door {
			batches = append(batches, store.DoorEvents{Door: ev.Door})
		}
		batches[len(batches)-1].Events = append(batches[len(batches)-1].Events, ev.Event)
		byReceipt[ev.ReceivedMs] = batches
	}
	times := make([]int64, 0, len(byReceipt))
	for r := range byReceipt {
		times = append(times, r)
	}
	slices.Sort(times)
	for _, r := range times {
		_, err := s.AppendBatches(ctx, r, byReceipt[r])
		require.NoError(t, err)
		require.NoError(t, s.Credit().Track(ctx, byReceipt[r]))
		require.NoError(t, s.Credit().MarkCredited(ctx, r))
	}
}

// RunCredit runs the conformance tests of credit.Store
// (central/credit/credittest) on the backend's CreditStore, with events
// committed as the central commits them, and the tests of what
// store.CreditStore adds.
func RunCredit(t *testing.T, open Factory) {
	credittest.Run(t, func(t *testing.T, events []domain.Event) credit.Store {
		s := open(t, store.Options{})
		_, err := s.Credit().StartTracking(context.Background())
		require.NoError(t, err)
		Commit(t, s, events)
		return s.Credit()
	})
	t.Run("EventRanges", func(t *testing.T) { testEventRanges(t, open) })
	t.Run("Tracking", func(t *testing.T) { testTracking(t, open) })
	t.Run("PostingCursor", func(t *testing.T) { testPostingCursor(t, open) })
}

// testPostingCursor checks the crediting leader's cursor: every committed
// event is returned from the start, none again from the position returned
// once nothing is in flight, the positions only grow, and a read waits only
// for events of members that the posted read did not see. SQLite has no
// cursor (errors.ErrUnsupported on every method). Events committed out of
// the order of their transactions are checked on PostgreSQL itself
// (central/store/postgres).
func testPostingCursor(t *testing.T, open Factory) {
	ctx := context.Background()
	s := open(t, store.Options{})
	cs := s.Credit()
	if _, err := cs.EventsFrom(ctx, 0); errors.Is(err, errors.ErrUnsupported) {
		_, err := cs.PostingHorizon(ctx)
		require.ErrorIs(t, err, errors.ErrUnsupported)
		_, _, err = cs.Posted(ctx)
		require.ErrorIs(t, err, errors.ErrUnsupported)
		require.ErrorIs(t, cs.SetPosted(ctx, store.PostingRead{Next: 1}, 1), errors.ErrUnsupported)
		_, err = cs.Unposted(ctx, 1)
		require.ErrorIs(t, err, errors.ErrUnsupported)
		_, err = cs.TakeLead(ctx)
		require.ErrorIs(t, err, errors.ErrUnsupported)
		// Without the cursor (SQLite) the build that rebuilt the open
		// periods is kept too: a start of the same build skips the rebuild.
		checkRebuiltBy(t, cs)
		return
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	Commit(t, s, []domain.Event{tap("d1", 1, "m1", at, at), tap("d1", 2, "", at, at), tap("d2", 1, "m2", at, at.Add(time.Second))})
	first, err := cs.EventsFrom(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 1, 2}, seqsOf(first.Events))
	for _, e := range first.Events {
		if e.Door == "d2" {
			assert.Equal(t, "m2", e.Member)
			assert.Equal(t, at.UnixMilli(), e.TimeMs)
			assert.Equal(t, at.Add(time.Second).UnixMilli(), e.ReceivedMs)
		}
	}
	assert.Positive(t, first.Next)
	assert.NotEmpty(t, first.Snapshot)
	again, err := cs.EventsFrom(ctx, first.Next)
	require.NoError(t, err)
	// Other transactions of the database server (other tests) may hold
	// the position back: what comes back again was returned before.
	assert.Subset(t, first.Events, again.Events, "nothing new")
	assert.GreaterOrEqual(t, again.Next, first.Next)

	unposted := func() bool {
		t.Helper()
		h, err := cs.PostingHorizon(ctx)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, h, first.Next)
		pending, err := cs.Unposted(ctx, h)
		require.NoError(t, err)
		return pending
	}
	assert.True(t, unposted(), "nothing posted yet")
	require.NoError(t, cs.SetPosted(ctx, first, first.Next))
	assert.False(t, unposted(), "every event of a member was in the posted read")

	Commit(t, s, []domain.Event{tap("d2", 2, "m2", at.Add(time.Hour), at.Add(time.Hour))})
	assert.True(t, unposted(), "a later event of a member")
	more, err := cs.EventsFrom(ctx, again.Next)
	require.NoError(t, err)
	fresh := []domain.Event{}
	for _, e := range more.Events {
		if !slices.Contains(first.Events, e) {
			fresh = append(fresh, e)
		}
	}
	require.Len(t, fresh, 1)
	assert.Equal(t, "d2", fresh[0].Door)
	assert.Equal(t, uint64(2), fresh[0].Seq)
	require.NoError(t, cs.SetPosted(ctx, more, first.Next))
	assert.False(t, unposted())
	Commit(t, s, []domain.Event{tap("d3", 1, "", at, at)})
	assert.False(t, unposted(), "an event without a member is not waited for")

	require.NoError(t, cs.SetPosted(ctx, first, first.Next-1), "an older read changes nothing")
	posted, resume, err := cs.Posted(ctx)
	require.NoError(t, err)
	assert.Equal(t, more.Next, posted)
	assert.Equal(t, first.Next, resume)
	assert.False(t, unposted(), "the newer posted read stays")

	// Fencing: the ledger's writes of a leader whose epoch is past fail.
	e1, err := cs.TakeLead(ctx)
	require.NoError(t, err)
	e2, err := cs.TakeLead(ctx)
	require.NoError(t, err)
	assert.Greater(t, e2, e1)
	cm := &credit.Commit{Results: []credit.MemberPeriod{{MemberID: "m1", Period: credit.Period{Year: 2026, Month: time.March},
		Counts: credit.Counts{credit.CountEntries: 1}}}}
	require.ErrorIs(t, cs.Save(store.WithLeaderEpoch(ctx, e1), cm), store.ErrNotLeader)
	mp, err := cs.MemberPeriod(ctx, "m1", credit.Period{Year: 2026, Month: time.March})
	require.NoError(t, err)
	assert.Empty(t, mp.Counts, "nothing saved by the stale leader")
	require.NoError(t, cs.Save(store.WithLeaderEpoch(ctx, e2), cm))
	require.NoError(t, cs.Save(ctx, cm), "a write without an epoch (a follower's close, a tool) is not fenced")
	mp, err = cs.MemberPeriod(ctx, "m1", credit.Period{Year: 2026, Month: time.March})
	require.NoError(t, err)
	assert.Equal(t, int64(1), mp.Counts[credit.CountEntries])

	checkRebuiltBy(t, cs)
}

// checkRebuiltBy: the build that rebuilt the open periods is "" until
// set, then what was set.
func checkRebuiltBy(t *testing.T, cs store.CreditStore) {
	t.Helper()
	ctx := context.Background()
	b, err := cs.RebuiltBy(ctx)
	require.NoError(t, err)
	assert.Empty(t, b)
	require.NoError(t, cs.SetRebuiltBy(ctx, "rev:abc"))
	b, err = cs.RebuiltBy(ctx)
	require.NoError(t, err)
	assert.Equal(t, "rev:abc", b)
}

func tap(door string, seq uint64, member string, at, received time.Time) domain.Event {
	return domain.Event{Door: door, ReceivedMs: received.UnixMilli(), Event: protocol.Event{Seq: seq, TimeMs: at.UnixMilli(),
		Trusted: true, Boot: "boot-1", Kind: protocol.EventTap, UID: "04A1B2C3", Member: member,
		Reason: protocol.GrantedPass, WLVersion: 3}}
}

func seqsOf(evs []domain.Event) []uint64 {
	out := []uint64{}
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	slices.Sort(out)
	return out
}

// testEventRanges checks MemberEvents and WindowEvents find every event
// whose door time or receipt time lies in the range, however far apart the
// two are (clocks ahead, events delivered late), and each once.
func testEventRanges(t *testing.T, open Factory) {
	ctx := context.Background()
	s := open(t, store.Options{})
	require.NoError(t, s.CreateCenter(ctx, center("c1")))
	require.NoError(t, s.CreateDoor(ctx, domain.Door{ID: "d1", CenterID: "c1", Name: "front"}))
	_, err := s.Credit().StartTracking(ctx)
	require.NoError(t, err)
	from, to := base(), base().Add(24*time.Hour)
	h := time.Hour
	events := []domain.Event{
		tap("d1", 1, "m1", from.Add(h), from.Add(h)),                            // in, both times
		tap("d1", 2, "m1", from.Add(-48*h), from.Add(2*h)),                      // received in range, late
		tap("d1", 3, "m1", from.Add(2*h), to.Add(72*h)),                         // time in range, received much later
		tap("d1", 4, "m1", from.Add(30*time.Minute), from.Add(-20*time.Minute)), // clock 50 min ahead
		tap("d1", 5, "m1", from.Add(3*h), from.Add(-5*h)),                       // clock 8 h ahead
		tap("d1", 6, "m1", to.Add(3*h), from.Add(h)),                            // received in range, time after it
		tap("d1", 7, "m1", from.Add(-3*h), from.Add(-2*h)),                      // before
		tap("d1", 8, "m1", to.Add(h), to.Add(h)),                                // after
		tap("d1", 9, "m1", to.Add(5*h), from.Add(-9*h)),                         // ahead, time after the range
		tap("d1", 10, "m2", from.Add(h), from.Add(h)),                           // another member
		tap("d1", 11, "", from.Add(h), from.Add(h)),                             // no member
		tap("d0", 1, "m3", from.Add(h), from.Add(h)),                            // other doors: WindowEvents reads door ranges in parallel
		tap("d0", 2, "m3", to.Add(h), to.Add(h)),
		tap("d2", 1, "m3", from.Add(2*h), from.Add(2*h)),
		tap("d2", 2, "m3", from.Add(3*h), from.Add(3*h)),
		tap("d2", 3, "m3", from.Add(-2*h), from.Add(-h)),
	}
	events[10].Kind, events[10].UID, events[10].Reason = protocol.EventDoorClosed, "", ""
	Commit(t, s, events)
	cs := s.Credit()
	got, err := cs.MemberEvents(ctx, "m1", from.UnixMilli(), to.UnixMilli())
	require.NoError(t, err)
	var in []uint64
	seen := map[uint64]bool{}
	for _, e := range got {
		require.False(t, seen[e.Seq], "seq %d twice", e.Seq)
		seen[e.Seq] = true
		assert.Equal(t, "m1", e.Member)
		assert.Equal(t, "c1", e.Center, "the door's center at receipt")
		if e.Seq != 7 && e.Seq != 8 && e.Seq != 9 { // extra events outside the range are allowed
			in = append(in, e.Seq)
		}
	}
	slices.Sort(in)
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, in)
	for _, e := range got {
		if e.Seq == 5 {
			want := events[4]
			want.Center = "c1"
			assert.Equal(t, want, e, "events come back whole")
		}
	}
	none, err := cs.MemberEvents(ctx, "", from.UnixMilli(), to.UnixMilli())
	require.NoError(t, err)
	assert.Equal(t, []uint64{11}, seqsOf(none))

	window, err := cs.WindowEvents(ctx, from.UnixMilli(), to.UnixMilli())
	require.NoError(t, err)
	byDoor := map[string][]uint64{}
	for _, e := range window {
		byDoor[e.Door] = append(byDoor[e.Door], e.Seq)
	}
	for _, seqs := range byDoor {
		slices.Sort(seqs)
	}
	assert.Equal(t, map[string][]uint64{"d0": {1}, "d1": {1, 2, 3, 4, 5, 6, 10, 11}, "d2": {1, 2}}, byDoor, "exactly the window, each once")
	for _, e := range window {
		if e.Door == "d1" && e.Seq == 5 {
			want := events[4]
			want.Center = "c1"
			assert.Equal(t, want, e, "events come back whole")
		}
	}

	// The same ranges for many members at once: more than one query's
	// worth of members, most without events.
	members := []string{"m1", "m3"}
	for i := range 1200 {
		members = append(members, fmt.Sprintf("x%04d", i))
	}
	members = append(members, "m4")
	Commit(t, s, []domain.Event{tap("d0", 3, "m4", from.Add(h), from.Add(h))})
	many, err := cs.EventsOfMembers(ctx, members, from.UnixMilli(), to.UnixMilli())
	require.NoError(t, err)
	manyIn := map[string][]uint64{}
	for _, e := range many {
		assert.Contains(t, []string{"m1", "m3", "m4"}, e.Member)
		if in := func(ms int64) bool { return ms >= from.UnixMilli() && ms < to.UnixMilli() }; !in(e.TimeMs) && !in(e.ReceivedMs) {
			continue // extra events outside the range are allowed
		}
		manyIn[e.Member+"/"+e.Door] = append(manyIn[e.Member+"/"+e.Door], e.Seq)
		if e.Door == "d1" && e.Seq == 5 {
			want := events[4]
			want.Center = "c1"
			assert.Equal(t, want, e, "events come back whole")
		}
	}
	for _, seqs := range manyIn {
		slices.Sort(seqs)
	}
	assert.Equal(t, map[string][]uint64{"m1/d1": {1, 2, 3, 4, 5, 6}, "m3/d0": {1}, "m3/d2": {1, 2}, "m4/d0": {3}}, manyIn,
		"each member's events in the range, each once")
}

// testTracking checks events committed while nothing tracked and credited
// them (a process that stopped between the ingest's commit and the
// crediting) are found after the next StartTracking, which returns them.
func testTracking(t *testing.T, open Factory) {
	ctx := context.Background()
	s := open(t, store.Options{})
	cs := s.Credit()
	at := base()
	_, err := cs.StartTracking(ctx)
	require.NoError(t, err)
	Commit(t, s, []domain.Event{tap("d1", 1, "m1", at, at.Add(-time.Hour)), tap("d1", 2, "m1", at, at)})
	require.NoError(t, cs.StopTracking(ctx))

	// A clean stop: nothing to recover.
	recovered, err := cs.StartTracking(ctx)
	require.NoError(t, err)
	assert.Empty(t, recovered)
	// Committed, never tracked: the process dies.
	lost := tap("d1", 3, "m1", at.Add(time.Hour), at.Add(time.Hour))
	_, err = s.AppendBatches(ctx, lost.ReceivedMs, []store.DoorEvents{{Door: "d1", Events: []protocol.Event{lost.Event}}})
	require.NoError(t, err)

	recovered, err = cs.StartTracking(ctx)
	require.NoError(t, err)
	got, err := cs.MemberEvents(ctx, "m1", at.UnixMilli(), at.Add(2*time.Hour).UnixMilli())
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2, 3}, seqsOf(got), "the untracked event is found")
	// Since the last MarkCredited (seq 2's receipt) less a margin of
	// minutes: not seq 1, received an hour before.
	assert.Equal(t, []uint64{2, 3}, seqsOf(recovered))
	slices.SortFunc(recovered, func(a, b domain.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	last := recovered[len(recovered)-1]
	assert.Equal(t, uint64(3), last.Seq, "the untracked event is returned to be credited")
	assert.Equal(t, "m1", last.Member)
	assert.Equal(t, lost.TimeMs, last.TimeMs)
	assert.Equal(t, lost.ReceivedMs, last.ReceivedMs)
}
