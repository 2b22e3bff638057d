package storetest

import (
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// testCheckIns checks the earliest tap wins whatever the order of arrival,
// duplicates change nothing, and unknown bookings are refused.
func testCheckIns(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.CreateBooking(ctx, booking("b1", "m1", "c1", "r1", 0, 2)))
	require.NoError(t, s.CreateBooking(ctx, booking("b2", "m1", "c1", "", 0, 2)))
	cs := s.CheckIns()
	at := base().UnixMilli()
	for _, tc := range []struct {
		name    string
		in      store.CheckIn
		changed bool
		want    store.CheckIn
	}{
		{"first", store.CheckIn{BookingID: "b1", AtMs: at + 600_000, Door: "d1", Seq: 7}, true, store.CheckIn{BookingID: "b1", AtMs: at + 600_000, Door: "d1", Seq: 7}},
		{"duplicate", store.CheckIn{BookingID: "b1", AtMs: at + 600_000, Door: "d1", Seq: 7}, false, store.CheckIn{BookingID: "b1", AtMs: at + 600_000, Door: "d1", Seq: 7}},
		{"later tap", store.CheckIn{BookingID: "b1", AtMs: at + 900_000, Door: "d1", Seq: 9}, false, store.CheckIn{BookingID: "b1", AtMs: at + 600_000, Door: "d1", Seq: 7}},
		{"earlier tap arriving late", store.CheckIn{BookingID: "b1", AtMs: at + 60_000, Door: "d1", Seq: 3}, true, store.CheckIn{BookingID: "b1", AtMs: at + 60_000, Door: "d1", Seq: 3}},
	} {
		changed, err := cs.CheckIn(ctx, tc.in)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.changed, changed, tc.name)
		got, err := cs.CheckIns(ctx, []string{"b1", "b2", "nope"})
		require.NoError(t, err, tc.name)
		require.Equal(t, map[string]store.CheckIn{"b1": tc.want}, got, tc.name)
	}
	_, err := cs.CheckIn(ctx, store.CheckIn{BookingID: "nope", AtMs: at, Door: "d1", Seq: 1})
	requireKind(t, err, store.ErrMissingRef, "booking_id")
	_, err = cs.CheckIn(ctx, store.CheckIn{BookingID: "b1", Door: "d1", Seq: 1})
	requireKind(t, err, domain.ErrValidation, "booking_id")
	// A deleted booking takes its check-in along.
	require.NoError(t, s.DeleteBooking(ctx, "b1"))
	got, err := cs.CheckIns(ctx, []string{"b1"})
	require.NoError(t, err)
	require.Empty(t, got)
}

// testRelease checks the release candidates and that only a confirmed room
// booking without a check-in is released, once, audited and on the feed.
func testRelease(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	for _, b := range []domain.Booking{
		booking("b1", "m1", "c1", "r1", 0, 2), // room, no check-in: released
		booking("b2", "m1", "c1", "r1", 2, 3), // room, not started by then
		booking("b3", "m2", "c2", "r2", 0, 2), // room, checked in
		booking("b4", "m1", "c1", "", 0, 2),   // desk: never released
		booking("b5", "n1", "c2", "r2", 3, 4), // room, cancelled
	} {
		require.NoError(t, s.CreateBooking(ctx, b))
	}
	b5 := booking("b5", "n1", "c2", "r2", 3, 4)
	b5.Status = domain.BookingCancelled
	require.NoError(t, s.UpdateBooking(ctx, b5))
	cs := s.CheckIns()
	_, err := cs.CheckIn(ctx, store.CheckIn{BookingID: "b3", AtMs: base().UnixMilli(), Door: "d1", Seq: 1})
	require.NoError(t, err)
	e.rec.take()

	startedBy := base().Add(15 * 60_000_000_000).UnixMilli() // 15 min after 09:00
	now := startedBy
	got, err := cs.ReleaseCandidates(ctx, startedBy, now, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"b1"}, ids(got))

	// Two callers at once (two replicas): exactly one releases.
	var wg sync.WaitGroup
	results := make([]bool, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, released, err := cs.Release(audit.WithSystem(ctx, "release"), "b1")
			require.NoError(t, err)
			require.Equal(t, "b1", b.ID)
			results[i] = released
		}()
	}
	wg.Wait()
	n := 0
	for _, r := range results {
		if r {
			n++
		}
	}
	require.Equal(t, 1, n, "released by exactly one caller")
	b1, err := s.Booking(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, domain.BookingReleased, b1.Status)
	changes := e.rec.take()
	require.Len(t, changes, 1)
	require.Equal(t, domain.BookingReleased, changes[0].Booking.Status)
	rows, err := s.ListAudit(ctx, store.AuditFilter{ObjectID: "b1", Action: audit.Update})
	require.NoError(t, err)
	require.Len(t, rows.Items, 1, "one release, audited once")
	require.Equal(t, audit.System("release"), rows.Items[0].Actor)
	require.Contains(t, string(rows.Items[0].After), `"status":"released"`)

	for _, id := range []string{"b3", "b4", "b5", "b2"} {
		_, released, err := cs.Release(ctx, id)
		require.NoError(t, err, id)
		if id == "b2" {
			require.True(t, released, "b2 is a confirmed room booking without check-in")
			continue
		}
		require.False(t, released, id)
	}
	_, _, err = cs.Release(ctx, "nope")
	requireKind(t, err, store.ErrNotFound, "")
	got, err = cs.ReleaseCandidates(ctx, startedBy, now, 10)
	require.NoError(t, err)
	require.Empty(t, got)
}

func ids(bs []domain.Booking) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

// testCheckInCursors checks the check-in followers' cursors (an applied
// position that never goes back, a drop only of the cursor as read) and
// the granted taps a follower that takes a cursor over reads.
func testCheckInCursors(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	cs := s.CheckIns()
	at := base().UnixMilli()
	got, err := cs.CheckInCursors(ctx)
	require.NoError(t, err)
	require.Empty(t, got)
	require.ErrorIs(t, cs.SaveCheckInCursor(ctx, store.CheckInCursor{AppliedMs: at}), domain.ErrValidation)

	a := store.CheckInCursor{Follower: "a", AppliedMs: at, SeenMs: at}
	b := store.CheckInCursor{Follower: "b", AppliedMs: at + 5, SeenMs: at + 5}
	require.NoError(t, cs.SaveCheckInCursor(ctx, a))
	require.NoError(t, cs.SaveCheckInCursor(ctx, b))
	// A lower applied position keeps the stored one; seen and stopped move.
	require.NoError(t, cs.SaveCheckInCursor(ctx, store.CheckInCursor{Follower: "a", AppliedMs: at - 100, SeenMs: at + 10, Stopped: true}))
	a = store.CheckInCursor{Follower: "a", AppliedMs: at, SeenMs: at + 10, Stopped: true}
	got, err = cs.CheckInCursors(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.CheckInCursor{a, b}, got)

	// A drop of a cursor as it was read before its follower saved it again
	// drops nothing.
	stale := b
	b.AppliedMs, b.SeenMs = at+20, at+20
	require.NoError(t, cs.SaveCheckInCursor(ctx, b))
	dropped, err := cs.DropCheckInCursor(ctx, stale)
	require.NoError(t, err)
	require.False(t, dropped)
	dropped, err = cs.DropCheckInCursor(ctx, a)
	require.NoError(t, err)
	require.True(t, dropped)
	dropped, err = cs.DropCheckInCursor(ctx, a)
	require.NoError(t, err)
	require.False(t, dropped, "dropped twice")
	got, err = cs.CheckInCursors(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.CheckInCursor{b}, got)

	// Granted taps of members received since a time, in receipt order.
	rcv := base()
	denied := tap("d1", 2, "m1", rcv, rcv.Add(time.Second)).Event
	denied.Reason = protocol.DeniedNoBooking
	noMember := tap("d1", 3, "", rcv, rcv.Add(time.Second)).Event
	exit := tap("d1", 4, "m1", rcv, rcv.Add(time.Second)).Event
	exit.Kind, exit.Reason = protocol.EventRexExit, ""
	for _, x := range []struct {
		received time.Time
		evs      []protocol.Event
	}{
		{rcv, []protocol.Event{tap("d1", 1, "m1", rcv, rcv).Event}},
		{rcv.Add(time.Second), []protocol.Event{denied, noMember, exit}},
		{rcv.Add(2 * time.Second), []protocol.Event{tap("d1", 6, "m2", rcv, rcv).Event, tap("d1", 5, "m1", rcv, rcv).Event}},
	} {
		_, err := s.AppendEvents(ctx, "d1", x.received.UnixMilli(), x.evs)
		require.NoError(t, err)
	}
	for _, tc := range []struct {
		name string
		from time.Time
		want []uint64
	}{
		{"all", rcv, []uint64{1, 5, 6}},
		{"later", rcv.Add(time.Millisecond), []uint64{5, 6}},
		{"none", rcv.Add(3 * time.Second), nil},
	} {
		evs, err := cs.GrantedTaps(ctx, tc.from.UnixMilli())
		require.NoError(t, err, tc.name)
		var seqs []uint64
		for _, ev := range evs {
			require.Equal(t, "d1", ev.Door, tc.name)
			require.Equal(t, protocol.EventTap, ev.Kind, tc.name)
			seqs = append(seqs, ev.Seq)
		}
		require.Equal(t, tc.want, seqs, tc.name)
	}
}
