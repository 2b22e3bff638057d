package booking_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// clock is a test clock that the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// tap is a tap event at the door.
func tap(seq uint64, member string, reason protocol.Reason, t time.Time) protocol.Event {
	return protocol.Event{Seq: seq, TimeMs: t.UnixMilli(), Trusted: true, Boot: "boot1", Kind: protocol.EventTap,
		UID: "04A1B2C3D4E5F6", Member: member, Reason: reason, WLVersion: 1}
}

// checkInFixture seeds the centers, doors front (c1), big (room r1 of c1)
// and other (c2), and a room booking of m1 in r1 Monday 09:00–11:00.
func checkInFixture(t *testing.T, st store.Store, opts booking.Options) (*booking.Service, *clock, domain.Booking) {
	t.Helper()
	ctx := context.Background()
	seed(t, st, 2)
	for _, d := range []domain.Door{{ID: "front", CenterID: "c1", Name: "Front"}, {ID: "big", CenterID: "c1", Name: "Big room", RoomID: "r1"},
		{ID: "other", CenterID: "c2", Name: "Other"}} {
		require.NoError(t, st.CreateDoor(ctx, d))
	}
	m, err := st.Member(ctx, "m1")
	require.NoError(t, err)
	m.Email = "ann@example.org"
	require.NoError(t, st.UpdateMember(ctx, m))
	clk := &clock{t: now}
	opts.Now = clk.Now
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := booking.New(st, opts)
	b, err := svc.Book(ctx, booking.Request{MemberID: "m1", CenterID: "c1", RoomID: "r1", People: 2, Start: at(0, 9, 0), End: at(0, 11, 0)})
	require.NoError(t, err)
	return svc, clk, b
}

// TestCheckIn checks which taps check a booking in, and that duplicates and
// later taps keep the first one, whatever the order of arrival.
func TestCheckIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc, _, b := checkInFixture(t, st, booking.Options{})
		none := store.CheckIn{}
		steps := []struct {
			name  string
			door  string
			ev    protocol.Event
			moved int
			want  store.CheckIn
		}{
			{"denied tap", "front", tap(1, "m1", protocol.DeniedOutsideWindow, at(0, 8, 50)), 0, none},
			{"granted before the grace", "front", tap(2, "m1", protocol.GrantedBooking, at(0, 8, 44)), 0, none},
			{"another member", "front", tap(3, "n1", protocol.GrantedBooking, at(0, 8, 50)), 0, none},
			{"another center", "other", tap(1, "m1", protocol.GrantedPass, at(0, 8, 50)), 0, none},
			{"within the grace", "front", tap(4, "m1", protocol.GrantedBooking, at(0, 8, 50)), 1, store.CheckIn{BookingID: b.ID, AtMs: at(0, 8, 50).UnixMilli(), Door: "front", Seq: 4}},
			{"the same event again", "front", tap(4, "m1", protocol.GrantedBooking, at(0, 8, 50)), 0, store.CheckIn{BookingID: b.ID, AtMs: at(0, 8, 50).UnixMilli(), Door: "front", Seq: 4}},
			{"a later tap at the room's door", "big", tap(1, "m1", protocol.GrantedBooking, at(0, 9, 5)), 0, store.CheckIn{BookingID: b.ID, AtMs: at(0, 8, 50).UnixMilli(), Door: "front", Seq: 4}},
			{"an earlier tap arriving late", "big", tap(2, "m1", protocol.GrantedStaff, at(0, 8, 46)), 1, store.CheckIn{BookingID: b.ID, AtMs: at(0, 8, 46).UnixMilli(), Door: "big", Seq: 2}},
			{"after the end", "front", tap(5, "m1", protocol.GrantedBooking, at(0, 11, 0)), 0, store.CheckIn{BookingID: b.ID, AtMs: at(0, 8, 46).UnixMilli(), Door: "big", Seq: 2}},
		}
		for _, s := range steps {
			n, err := svc.CheckInTaps(ctx, s.door, []protocol.Event{s.ev})
			require.NoError(t, err, s.name)
			require.Equal(t, s.moved, n, s.name)
			got, err := svc.CheckIns(ctx, []string{b.ID})
			require.NoError(t, err, s.name)
			if s.want == none {
				require.Empty(t, got, s.name)
				continue
			}
			require.Equal(t, map[string]store.CheckIn{b.ID: s.want}, got, s.name)
		}
	})
}

// TestFollowerChecksIn checks the ingest's commits reach the check-in
// through the CommitFeed.
func TestFollowerChecksIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc, _, b := checkInFixture(t, st, booking.Options{})
		feed := &ingest.CommitFeed{}
		f := booking.NewFollower(svc, booking.FollowerOptions{})
		feed.Subscribe(f.Committed)
		feed.Notify(now.UnixMilli(), []ingest.Batch{{Door: "front", Events: []protocol.Event{tap(1, "m1", protocol.GrantedBooking, at(0, 9, 3))}}})
		f.Drain(ctx)
		got, err := svc.CheckIns(ctx, []string{b.ID})
		require.NoError(t, err)
		require.Equal(t, map[string]store.CheckIn{b.ID: {BookingID: b.ID, AtMs: at(0, 9, 3).UnixMilli(), Door: "front", Seq: 1}}, got)
	})
}

// outbox returns a real e-mail outbox over the store, delivering to srv.
func outbox(t *testing.T, st store.Store, srv *mailtest.Server, owner string) *mail.Outbox {
	t.Helper()
	o, err := mail.NewOutbox(mail.OutboxConfig{Mail: srv.Config("bookings@swc.example"), Store: st.Outbox(), Owner: owner,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	return o
}

// TestReleaseNoShow checks a room booking nobody checked in to is released
// N minutes after its start, once: the room is free again, the member gets
// one e-mail, and it stays a no-show booking (status released).
func TestReleaseNoShow(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		srv := mailtest.Start(t, mailtest.Options{})
		ob := outbox(t, st, srv, "replica-a")
		svc, clk, b := checkInFixture(t, st, booking.Options{Mailer: ob})
		// A second replica: its own service and outbox over the same store.
		ob2 := outbox(t, st, srv, "replica-b")
		svc2 := booking.New(st, booking.Options{Now: clk.Now, Mailer: ob2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

		clk.Set(at(0, 9, 14))
		rep, err := svc.ReleaseNoShows(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Released, "not yet 15 minutes after the start")

		clk.Set(at(0, 9, 15))
		var wg sync.WaitGroup
		reps := make([]booking.ReleaseReport, 2)
		for i, s := range []*booking.Service{svc, svc2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.ReleaseNoShows(ctx)
				require.NoError(t, err)
				reps[i] = r
			}()
		}
		wg.Wait()
		require.Equal(t, 1, len(reps[0].Released)+len(reps[1].Released), "released by exactly one replica")
		got, err := st.Booking(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, domain.BookingReleased, got.Status)

		for _, o := range []*mail.Outbox{ob, ob2} {
			_, err := o.Flush(ctx)
			require.NoError(t, err)
		}
		msgs := srv.Wait(t, 1)
		require.Len(t, msgs, 1)
		require.Equal(t, []string{"ann@example.org"}, msgs[0].To)
		require.Contains(t, msgs[0].Subject, "Booking released")
		require.Contains(t, msgs[0].Text, "no-show")
		require.Len(t, srv.Messages(), 1, "one e-mail")

		// The room is free again: another member books it.
		_, err = svc.Book(ctx, booking.Request{MemberID: "n1", CenterID: "c1", RoomID: "r1", People: 2, Start: at(0, 9, 30), End: at(0, 10, 30)})
		require.NoError(t, err)
		// A later pass changes nothing.
		rep, err = svc.ReleaseNoShows(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Released)
	})
}

// TestReleaseRules checks what is never released: a checked-in room
// booking, a desk booking, a center whose rules say 0.
func TestReleaseRules(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc, clk, b := checkInFixture(t, st, booking.Options{})
		desk, err := svc.Book(ctx, booking.Request{MemberID: "n1", CenterID: "c1", Start: at(0, 9, 0), End: at(0, 11, 0)})
		require.NoError(t, err)
		never := domain.DefaultBookingRules()
		never.ReleaseAfterMinutes = 0
		require.NoError(t, svc.SetRules(ctx, "c2", never))
		other, err := svc.Book(ctx, booking.Request{MemberID: "n2", CenterID: "c2", RoomID: "r3", People: 2, Start: at(0, 9, 0), End: at(0, 11, 0)})
		require.NoError(t, err)
		_, err = svc.CheckInTaps(ctx, "big", []protocol.Event{tap(1, "m1", protocol.GrantedBooking, at(0, 9, 2))})
		require.NoError(t, err)

		clk.Set(at(0, 10, 0))
		rep, err := svc.ReleaseNoShows(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Released)
		for _, id := range []string{b.ID, desk.ID, other.ID} {
			got, err := st.Booking(ctx, id)
			require.NoError(t, err)
			require.Equal(t, domain.BookingConfirmed, got.Status, id)
		}
	})
}

// TestReleaseWaitsForOfflineDoor checks the release waits while a door of
// the center is offline or still has events to deliver, and that the
// member's tap in the door's backlog checks the booking in: never released.
func TestReleaseWaitsForOfflineDoor(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc, clk, b := checkInFixture(t, st, booking.Options{})
		hs := st.Health()
		health := func(state string, depth uint64, seen time.Time) {
			require.NoError(t, hs.SaveDoorHealth(ctx, store.DoorHealth{Door: "big", State: state, OutboxDepth: depth,
				LastSeenMs: seen.UnixMilli(), StatusTimeMs: seen.UnixMilli(), UpdatedMs: seen.UnixMilli()}))
		}
		front := func(seen time.Time) {
			require.NoError(t, hs.SaveDoorHealth(ctx, store.DoorHealth{Door: "front", State: store.DoorOnline, LastSeenMs: seen.UnixMilli(), UpdatedMs: seen.UnixMilli()}))
		}
		front(at(0, 9, 16))
		health(store.DoorOffline, 0, at(0, 8, 55))

		for _, step := range []struct {
			name string
			at   time.Time
			why  string
		}{
			{"offline at the release time", at(0, 9, 15), "offline"},
			{"still offline", at(0, 9, 40), "offline"},
		} {
			clk.Set(step.at)
			rep, err := svc.ReleaseNoShows(ctx)
			require.NoError(t, err, step.name)
			require.Empty(t, rep.Released, step.name)
			require.Equal(t, []booking.Waiting{{Booking: b, Door: "big", Why: step.why}}, rep.Waiting, step.name)
		}

		// The door is back with its backlog not yet delivered.
		health(store.DoorOnline, 3, at(0, 9, 41))
		clk.Set(at(0, 9, 41))
		rep, err := svc.ReleaseNoShows(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Released)
		require.Equal(t, []booking.Waiting{{Booking: b, Door: "big", Why: "outbox"}}, rep.Waiting)

		// The backlog arrives (the member tapped at 09:01 while the door was
		// offline) and the outbox is empty. The follower has not run: the
		// release pass finds the tap among the stored events.
		_, err = st.AppendEvents(ctx, "big", at(0, 9, 42).UnixMilli(), []protocol.Event{
			tap(1, "m1", protocol.GrantedBooking, at(0, 9, 1)), tap(2, "n1", protocol.DeniedNoBooking, at(0, 9, 3))})
		require.NoError(t, err)
		health(store.DoorOnline, 0, at(0, 9, 42))
		clk.Set(at(0, 9, 43))
		rep, err = svc.ReleaseNoShows(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Released)
		require.Empty(t, rep.Waiting)
		require.Equal(t, []string{b.ID}, rep.CheckedIn)
		got, err := st.Booking(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, domain.BookingConfirmed, got.Status, "never released")
		ins, err := svc.CheckIns(ctx, []string{b.ID})
		require.NoError(t, err)
		require.Equal(t, store.CheckIn{BookingID: b.ID, AtMs: at(0, 9, 1).UnixMilli(), Door: "big", Seq: 1}, ins[b.ID])

		clk.Set(at(0, 10, 30))
		rep, err = svc.ReleaseNoShows(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Released, "a checked-in booking is no candidate")
		require.Empty(t, rep.CheckedIn)
	})
}

// TestReleaseAfterDoorCaughtUpWithoutTap checks an offline door delays the
// release, which happens once the door is back and caught up without the
// member's tap.
func TestReleaseAfterDoorCaughtUpWithoutTap(t *testing.T) {
	// Waits while the door is offline, while it reports undelivered
	// events, and until it was heard from after the release time.
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc, clk, b := checkInFixture(t, st, booking.Options{})
		hs := st.Health()
		require.NoError(t, hs.SaveDoorHealth(ctx, store.DoorHealth{Door: "big", State: store.DoorOffline, LastSeenMs: at(0, 8, 0).UnixMilli(), UpdatedMs: at(0, 8, 0).UnixMilli()}))
		clk.Set(at(0, 9, 20))
		rep, err := svc.ReleaseNoShows(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Released)
		require.Len(t, rep.Waiting, 1)
		for _, step := range []struct {
			name  string
			h     store.DoorHealth
			clock time.Time
			why   string
		}{
			{"online, events not delivered", store.DoorHealth{Door: "big", State: store.DoorOnline, OutboxDepth: 2, LastSeenMs: at(0, 9, 21).UnixMilli()}, at(0, 9, 21), "outbox"},
			{"online, empty outbox, last heard from before the release time", store.DoorHealth{Door: "big", State: store.DoorOnline, LastSeenMs: at(0, 9, 10).UnixMilli()}, at(0, 9, 22), "stale"},
		} {
			step.h.UpdatedMs = step.h.LastSeenMs
			require.NoError(t, hs.SaveDoorHealth(ctx, step.h), step.name)
			clk.Set(step.clock)
			rep, err = svc.ReleaseNoShows(ctx)
			require.NoError(t, err, step.name)
			require.Empty(t, rep.Released, step.name)
			require.Equal(t, []booking.Waiting{{Booking: b, Door: "big", Why: step.why}}, rep.Waiting, step.name)
		}
		require.NoError(t, hs.SaveDoorHealth(ctx, store.DoorHealth{Door: "big", State: store.DoorOnline, LastSeenMs: at(0, 9, 30).UnixMilli(), UpdatedMs: at(0, 9, 30).UnixMilli()}))
		clk.Set(at(0, 9, 30))
		rep, err = svc.ReleaseNoShows(ctx)
		require.NoError(t, err)
		require.Len(t, rep.Released, 1)
		require.Equal(t, b.ID, rep.Released[0].ID)
	})
}

// TestCheckInGraceFromSettings checks the grace in force (Options.GraceAt,
// the crediting's) bounds how early a tap checks a booking in.
func TestCheckInGraceFromSettings(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc, _, b := checkInFixture(t, st, booking.Options{GraceAt: func(context.Context, time.Time) time.Duration { return 5 * time.Minute }})
		for _, tc := range []struct {
			name string
			at   time.Time
			want int
		}{
			{"10 minutes early: outside a 5-minute grace", at(0, 8, 50), 0},
			{"5 minutes early", at(0, 8, 55), 1},
		} {
			n, err := svc.CheckInTaps(ctx, "front", []protocol.Event{tap(1, "m1", protocol.GrantedBooking, tc.at)})
			require.NoError(t, err, tc.name)
			require.Equal(t, tc.want, n, tc.name)
		}
		ins, err := svc.CheckIns(ctx, []string{b.ID})
		require.NoError(t, err)
		require.Equal(t, at(0, 8, 55).UnixMilli(), ins[b.ID].AtMs)
	})
}

// TestReleaseAcrossReplicas: two central replicas, each with its own
// connection pool to one PostgreSQL database (and, for SQLite, two handles
// on one file), run the release at once: the booking is released once and
// its member gets one e-mail.
func TestReleaseAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (store.Store, store.Store)
	}{
		{"sqlite", func(t *testing.T) (store.Store, store.Store) {
			path := filepath.Join(t.TempDir(), "swc.db")
			var out [2]store.Store
			for i := range out {
				s, err := sqlite.Open(ctx, path, sqlite.Options{})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				out[i] = s
			}
			return out[0], out[1]
		}},
		{"postgres", func(t *testing.T) (store.Store, store.Store) {
			url := storetest.PostgresSchema(t)
			var out [2]store.Store
			for i := range out {
				s, err := postgres.Open(ctx, url, store.Options{})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				out[i] = s
			}
			return out[0], out[1]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st1, st2 := tc.open(t)
			srv := mailtest.Start(t, mailtest.Options{})
			svc1, clk, b := checkInFixture(t, st1, booking.Options{Mailer: outbox(t, st1, srv, "replica-1")})
			ob2 := outbox(t, st2, srv, "replica-2")
			svc2 := booking.New(st2, booking.Options{Now: clk.Now, Mailer: ob2, Logger: quiet})
			clk.Set(at(0, 9, 20))
			var wg sync.WaitGroup
			released := make([]int, 2)
			for i, s := range []*booking.Service{svc1, svc2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rep, err := s.ReleaseNoShows(ctx)
					require.NoError(t, err)
					released[i] = len(rep.Released)
				}()
			}
			wg.Wait()
			require.Equal(t, 1, released[0]+released[1], "one replica released it")
			got, err := st2.Booking(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, domain.BookingReleased, got.Status)
			_, err = ob2.Flush(ctx)
			require.NoError(t, err)
			require.Len(t, srv.Wait(t, 1), 1)
			require.Len(t, srv.Messages(), 1, "one e-mail")
		})
	}
}

// TestFollowerNothingLost checks a granted tap that the ingest stored
// checks its booking in although the follower that was handed it stopped
// (its context ended with the commit queued) or died (never drained it):
// the stopping follower drains its queue (within its DrainTimeout, and
// saves its cursor as stopped even when that ran out), and the next
// follower takes over the cursor of one that stopped at once, and of one
// that died once its cursor is stale, applying what the first one never
// saw or had no time to apply.
func TestFollowerNothingLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		// handed: the commit reached the first follower's queue (the
		// ingest hands every commit it stored over, also at its stop;
		// one that was not is covered all the same).
		handed bool
		// stopped: the first follower ran and stopped; otherwise it died
		// before it drained anything.
		stopped bool
		// drain is the first follower's DrainTimeout (0: the default).
		drain time.Duration
	}{
		{"stopped with the commit queued", true, true, 0},
		{"stopped, the commit never handed over", false, true, 0},
		{"died with the commit queued", true, false, 0},
		{"stopped with the commit queued, no time to drain", true, true, time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				svc, clk, b := checkInFixture(t, st, booking.Options{})
				clk.Set(at(0, 9, 5))
				checkedIn := func() map[string]store.CheckIn {
					got, err := svc.CheckIns(ctx, []string{b.ID})
					require.NoError(t, err)
					return got
				}
				first := booking.NewFollower(svc, booking.FollowerOptions{ID: "first", DrainTimeout: tc.drain})
				require.NoError(t, first.Open(ctx))
				ev := tap(1, "m1", protocol.GrantedBooking, at(0, 9, 3))
				received := clk.Now().UnixMilli()
				_, err := st.AppendEvents(ctx, "front", received, []protocol.Event{ev})
				require.NoError(t, err)
				if tc.handed {
					first.Committed(received, []ingest.Batch{{Door: "front", Events: []protocol.Event{ev}}})
				}
				want := map[string]store.CheckIn{b.ID: {BookingID: b.ID, AtMs: ev.TimeMs, Door: "front", Seq: 1}}
				if tc.stopped {
					ended, cancel := context.WithCancel(ctx)
					cancel()
					require.NoError(t, first.Run(ended))
					curs, err := st.CheckIns().CheckInCursors(ctx)
					require.NoError(t, err)
					require.Len(t, curs, 1)
					require.True(t, curs[0].Stopped, "cursor saved as stopped")
					if tc.drain == 0 {
						// Drained: the cursor is the stop, less the stop's
						// margin (not a minute of taps to apply again).
						require.Equal(t, clk.Now().Add(-booking.DefaultStopMargin).UnixMilli(), curs[0].AppliedMs)
					}
				}
				if tc.handed && tc.stopped && tc.drain == 0 {
					require.Equal(t, want, checkedIn(), "drained at stop")
				} else {
					require.Empty(t, checkedIn())
				}

				next := booking.NewFollower(svc, booking.FollowerOptions{ID: "next", CursorEvery: 20 * time.Millisecond, CursorStale: time.Minute})
				runCtx, stop := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- next.Run(runCtx) }()
				defer func() {
					stop()
					require.NoError(t, <-done)
				}()
				if !tc.stopped {
					// A live cursor is not taken over: its follower may
					// still apply the commit.
					time.Sleep(200 * time.Millisecond)
					require.Empty(t, checkedIn(), "the cursor of a follower seen 0 s ago was taken over")
					clk.Set(clk.Now().Add(2 * time.Minute))
				}
				require.Eventually(t, func() bool { return len(checkedIn()) > 0 }, 10*time.Second, 10*time.Millisecond)
				require.Equal(t, want, checkedIn())
				require.Eventually(t, func() bool {
					curs, err := st.CheckIns().CheckInCursors(ctx)
					require.NoError(t, err)
					return len(curs) == 1 && curs[0].Follower == "next"
				}, 10*time.Second, 10*time.Millisecond, "the first follower's cursor is dropped once taken over")
			})
		})
	}
}

// instrumented is a store that counts the check-in writes (each one a
// write transaction) and the bookings listed, and whose GrantedTaps fails
// while tapsDown is set.
type instrumented struct {
	store.Store
	writes   *atomic.Int64
	listed   *atomic.Int64
	tapsDown *atomic.Bool
}

func instrument(st store.Store) instrumented {
	return instrumented{Store: st, writes: &atomic.Int64{}, listed: &atomic.Int64{}, tapsDown: &atomic.Bool{}}
}

func (w instrumented) ListBookings(ctx context.Context, f store.BookingFilter) (store.Page[domain.Booking], error) {
	p, err := w.Store.ListBookings(ctx, f)
	w.listed.Add(int64(len(p.Items)))
	return p, err
}

func (w instrumented) CheckIns() store.CheckInStore {
	return instrumentedCheckIns{CheckInStore: w.Store.CheckIns(), st: w}
}

type instrumentedCheckIns struct {
	store.CheckInStore
	st instrumented
}

func (c instrumentedCheckIns) CheckIn(ctx context.Context, ci store.CheckIn) (bool, error) {
	c.st.writes.Add(1)
	return c.CheckInStore.CheckIn(ctx, ci)
}

func (c instrumentedCheckIns) GrantedTaps(ctx context.Context, fromMs int64) ([]domain.Event, error) {
	if c.st.tapsDown.Load() {
		return nil, errors.New("the database is unreachable")
	}
	return c.CheckInStore.GrantedTaps(ctx, fromMs)
}

// counterValue reads a counter of the registry as exposed.
func counterValue(t *testing.T, reg *metrics.Registry, name string) int {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, reg.WriteText(&buf))
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err, line)
			return n
		}
	}
	t.Fatalf("no %s in the metrics", name)
	return 0
}

// TestCheckInWritesOnlyChanges checks a batch writes one check-in per
// booking, its earliest tap, and none for a booking whose stored check-in
// is that early already (the members tap at every door all day), while
// the stored check-in stays the earliest tap and the checked-in counter
// counts only changes.
func TestCheckInWritesOnlyChanges(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		_, clk, b := checkInFixture(t, st, booking.Options{})
		_, err := st.ImportBookings(ctx, []domain.Booking{
			{ID: "d1", MemberID: "n1", CenterID: "c1", Start: at(0, 9, 0), End: at(0, 11, 0), Status: domain.BookingConfirmed},
			{ID: "d2", MemberID: "n2", CenterID: "c1", Start: at(0, 9, 0), End: at(0, 11, 0), Status: domain.BookingConfirmed},
			{ID: "r2", MemberID: "n1", CenterID: "c1", RoomID: "r2", Start: at(0, 10, 0), End: at(0, 11, 0), Status: domain.BookingConfirmed},
		})
		require.NoError(t, err)
		ist := instrument(st)
		writes := ist.writes
		reg := metrics.NewRegistry()
		svc := booking.New(ist, booking.Options{Now: clk.Now, Metrics: reg,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		in := func(id string, t time.Time, door string, seq uint64) store.CheckIn {
			return store.CheckIn{BookingID: id, AtMs: t.UnixMilli(), Door: door, Seq: seq}
		}
		// Every later tap of the day: each member at both doors of c1 every
		// five minutes until 11:00.
		var later []protocol.Event
		for m := at(0, 9, 50); m.Before(at(0, 11, 0)); m = m.Add(5 * time.Minute) {
			for _, who := range []string{"m1", "n1", "n2"} {
				later = append(later, tap(uint64(100+len(later)), who, protocol.GrantedBooking, m))
			}
		}
		first := map[string]store.CheckIn{
			b.ID: in(b.ID, at(0, 8, 50), "front", 3),
			"d1": in("d1", at(0, 9, 1), "front", 5),
			"d2": in("d2", at(0, 9, 30), "front", 7),
			"r2": in("r2", at(0, 9, 45), "front", 6),
		}
		for _, step := range []struct {
			name   string
			door   string
			events []protocol.Event
			writes int64
			moved  int
			want   map[string]store.CheckIn
		}{
			{"first taps: one write per booking, the earliest tap", "front", []protocol.Event{
				tap(1, "m1", protocol.GrantedBooking, at(0, 8, 55)), tap(2, "m1", protocol.GrantedBooking, at(0, 9, 10)),
				tap(3, "m1", protocol.GrantedBooking, at(0, 8, 50)), tap(4, "m1", protocol.GrantedBooking, at(0, 8, 30)),
				tap(5, "n1", protocol.GrantedPass, at(0, 9, 1)), tap(6, "n1", protocol.GrantedPass, at(0, 9, 45)),
				tap(7, "n2", protocol.GrantedBooking, at(0, 9, 30)), tap(8, "n2", protocol.GrantedBooking, at(0, 9, 31)),
			}, 4, 4, first},
			{"the same taps again", "front", []protocol.Event{
				tap(3, "m1", protocol.GrantedBooking, at(0, 8, 50)), tap(5, "n1", protocol.GrantedPass, at(0, 9, 1)),
			}, 0, 0, first},
			{"later taps all day", "big", later, 0, 0, first},
			{"an earlier tap arriving late among later ones", "big", append([]protocol.Event{tap(1, "m1", protocol.GrantedStaff, at(0, 8, 46))}, later...), 1, 1,
				map[string]store.CheckIn{b.ID: in(b.ID, at(0, 8, 46), "big", 1), "d1": first["d1"], "d2": first["d2"], "r2": first["r2"]}},
			{"the same time at an earlier door", "big", []protocol.Event{tap(2, "n2", protocol.GrantedBooking, at(0, 9, 30))}, 1, 1,
				map[string]store.CheckIn{b.ID: in(b.ID, at(0, 8, 46), "big", 1), "d1": first["d1"], "d2": in("d2", at(0, 9, 30), "big", 2), "r2": first["r2"]}},
		} {
			before, counted := writes.Load(), counterValue(t, reg, "swc_booking_checkins_total")
			n, err := svc.CheckInTaps(ctx, step.door, step.events)
			require.NoError(t, err, step.name)
			require.Equal(t, step.writes, writes.Load()-before, "%s: check-in writes", step.name)
			require.Equal(t, step.moved, n, step.name)
			require.Equal(t, step.moved, counterValue(t, reg, "swc_booking_checkins_total")-counted, "%s: counted check-ins", step.name)
			got, err := svc.CheckIns(ctx, []string{b.ID, "d1", "d2", "r2"})
			require.NoError(t, err, step.name)
			require.Equal(t, step.want, got, step.name)
		}
	})
}

// TestCheckInReadsTheTapsMembers checks a check-in reads the bookings of
// the taps' members, not every booking of the center (thousands a day, of
// members who do not tap then), and that of these only the ones at the
// tap's center that are not cancelled count.
func TestCheckInReadsTheTapsMembers(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		_, clk, b := checkInFixture(t, st, booking.Options{})
		bks := []domain.Booking{
			{ID: "elsewhere", MemberID: "m1", CenterID: "c2", Start: at(0, 9, 0), End: at(0, 12, 0), Status: domain.BookingConfirmed},
			{ID: "cancelled", MemberID: "m1", CenterID: "c1", Start: at(0, 9, 0), End: at(0, 10, 0), Status: domain.BookingCancelled},
		}
		var bundle store.Bundle
		for i := range 50 {
			m := fmt.Sprintf("o%02d", i)
			bundle.Members = append(bundle.Members, domain.Member{ID: m, Name: "O", Status: domain.MemberActive})
			bks = append(bks, domain.Booking{ID: "day-" + m, MemberID: m, CenterID: "c1", Start: at(0, 8, 0), End: at(0, 18, 0), Status: domain.BookingConfirmed})
		}
		_, err := st.Import(ctx, bundle, store.ImportOptions{})
		require.NoError(t, err)
		require.NoError(t, st.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 100}))
		_, err = st.ImportBookings(ctx, bks)
		require.NoError(t, err)
		ist := instrument(st)
		svc := booking.New(ist, booking.Options{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

		n, err := svc.CheckInTaps(ctx, "front", []protocol.Event{
			tap(1, "m1", protocol.GrantedBooking, at(0, 8, 50)), tap(2, "m1", protocol.GrantedBooking, at(0, 9, 20)),
		})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.LessOrEqual(t, ist.listed.Load(), int64(3), "bookings read: m1's, not c1's")
		got, err := svc.CheckIns(ctx, []string{b.ID, "elsewhere", "cancelled", "day-o00"})
		require.NoError(t, err)
		require.Equal(t, map[string]store.CheckIn{b.ID: {BookingID: b.ID, AtMs: at(0, 8, 50).UnixMilli(), Door: "front", Seq: 1}}, got)
	})
}

// TestCheckInGraceCached checks the grace is read through GraceAt once per
// hour of the taps for a minute, not once per batch, and that a failed
// read is not kept.
func TestCheckInGraceCached(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var asked []time.Time
		var mu sync.Mutex
		graceAt := func(_ context.Context, t time.Time) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, t)
			if t.Equal(at(0, 10, 0)) {
				return -1 // the settings could not be read
			}
			return 5 * time.Minute
		}
		svc, clk, b := checkInFixture(t, st, booking.Options{GraceAt: graceAt})
		calls := func() int { mu.Lock(); defer mu.Unlock(); return len(asked) }
		base := calls()
		for _, step := range []struct {
			name  string
			taps  []time.Time
			clock time.Duration // after the start
			asked int           // GraceAt calls so far
		}{
			{"ten batches in one hour", []time.Time{at(0, 8, 50), at(0, 8, 51), at(0, 8, 52), at(0, 8, 53), at(0, 8, 54),
				at(0, 8, 56), at(0, 8, 57), at(0, 8, 58), at(0, 8, 59), at(0, 8, 55)}, 0, 1},
			{"another hour", []time.Time{at(0, 9, 5), at(0, 9, 6)}, 0, 2},
			{"both hours again, 59 s later", []time.Time{at(0, 8, 59), at(0, 9, 7)}, 59 * time.Second, 2},
			{"a minute later", []time.Time{at(0, 8, 57), at(0, 8, 58)}, time.Minute, 3},
			{"an hour whose settings cannot be read", []time.Time{at(0, 10, 1), at(0, 10, 2)}, time.Minute, 5},
		} {
			clk.Set(now.Add(step.clock))
			for i, tt := range step.taps {
				_, err := svc.CheckInTaps(ctx, "front", []protocol.Event{tap(uint64(i+1), "m1", protocol.GrantedBooking, tt)})
				require.NoError(t, err, step.name)
			}
			require.Equal(t, step.asked, calls()-base, step.name)
		}
		// The cached grace is the one in force: 08:50 was outside 5 minutes.
		ins, err := svc.CheckIns(ctx, []string{b.ID})
		require.NoError(t, err)
		require.Equal(t, at(0, 8, 55).UnixMilli(), ins[b.ID].AtMs)
	})
}

// overflowCommits are twelve commits of the ingest, a second apart from
// 08:00:01, each with two granted taps (and a denied one): the later the
// commit, the earlier its first tap, so that the earliest tap of each
// booking is in the last commits.
func overflowCommits() []struct {
	ms      int64
	batches []ingest.Batch
} {
	var out []struct {
		ms      int64
		batches []ingest.Batch
	}
	members := []string{"m1", "n1", "n2", "n3"}
	for i := 1; i <= 12; i++ {
		who := members[i%len(members)]
		door := map[bool]string{true: "front", false: "big"}[i%2 == 0]
		if who == "n3" {
			door = "other"
		}
		evs := map[string][]protocol.Event{}
		evs[door] = append(evs[door], tap(uint64(10*i+1), who, protocol.GrantedBooking, at(0, 9, 30).Add(-time.Duration(3*i)*time.Minute)))
		evs["front"] = append(evs["front"], tap(uint64(10*i+2), "n1", protocol.GrantedPass, at(0, 9, 50).Add(time.Duration(i)*time.Minute)),
			tap(uint64(10*i+3), "n2", protocol.DeniedNoBooking, at(0, 9, 0)))
		var bs []ingest.Batch
		for _, d := range []string{"front", "big", "other"} {
			if len(evs[d]) > 0 {
				bs = append(bs, ingest.Batch{Door: d, Events: evs[d]})
			}
		}
		out = append(out, struct {
			ms      int64
			batches []ingest.Batch
		}{now.Add(time.Duration(i) * time.Second).UnixMilli(), bs})
	}
	return out
}

// TestFollowerOverflow checks a follower whose queue overflows checks in
// every booking exactly as one with room for every tap: it leaves the
// commits out from the one that overflowed, its cursor stays before that
// commit until it has read them from the store (so a crash loses none),
// and it queues again once caught up. On SQLite and PostgreSQL.
func TestFollowerOverflow(t *testing.T) {
	ctx := context.Background()
	ids := []string{"b-m1", "d1", "d2", "r3", "late"}
	// setup seeds a store with the bookings and stores the commits' events.
	setup := func(t *testing.T, st store.Store, reg *metrics.Registry) (*booking.Service, *clock) {
		svc, clk, _ := checkInFixture(t, st, booking.Options{Metrics: reg, NewID: func() string { return "b-m1" }})
		require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "n3", Name: "Nomad", Status: domain.MemberActive}))
		_, err := st.ImportBookings(ctx, []domain.Booking{
			{ID: "d1", MemberID: "n1", CenterID: "c1", Start: at(0, 9, 0), End: at(0, 11, 0), Status: domain.BookingConfirmed},
			{ID: "d2", MemberID: "n2", CenterID: "c1", Start: at(0, 9, 0), End: at(0, 11, 0), Status: domain.BookingConfirmed},
			{ID: "r3", MemberID: "n3", CenterID: "c2", RoomID: "r3", Start: at(0, 9, 0), End: at(0, 11, 0), Status: domain.BookingConfirmed},
			{ID: "late", MemberID: "n1", CenterID: "c1", RoomID: "r2", Start: at(0, 10, 0), End: at(0, 11, 0), Status: domain.BookingConfirmed},
		})
		require.NoError(t, err)
		for _, c := range overflowCommits() {
			for _, b := range c.batches {
				_, err := st.AppendEvents(ctx, b.Door, c.ms, b.Events)
				require.NoError(t, err)
			}
		}
		return svc, clk
	}
	checkIns := func(t *testing.T, svc *booking.Service) map[string]store.CheckIn {
		got, err := svc.CheckIns(ctx, ids)
		require.NoError(t, err)
		return got
	}
	// Queued only (its events are not stored): proof that the follower
	// queues again once caught up.
	afterwards := []ingest.Batch{{Door: "front", Events: []protocol.Event{tap(200, "m1", protocol.GrantedBooking, at(0, 8, 50))}}}
	margin := booking.DefaultCursorMargin.Milliseconds()

	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			// The reference: a follower with room for every tap.
			refSvc, _ := setup(t, bk.open(t, store.Options{}), nil)
			ref := booking.NewFollower(refSvc, booking.FollowerOptions{ID: "ref"})
			for _, c := range overflowCommits() {
				ref.Committed(c.ms, c.batches)
			}
			ref.Drain(ctx)
			want := checkIns(t, refSvc)
			require.Len(t, want, len(ids), "the reference checks every booking in")

			for _, crash := range []bool{false, true} {
				t.Run(map[bool]string{false: "caught up", true: "crashed before catching up"}[crash], func(t *testing.T) {
					ist := instrument(bk.open(t, store.Options{}))
					reg := metrics.NewRegistry()
					svc, clk := setup(t, ist, reg)
					f := booking.NewFollower(svc, booking.FollowerOptions{ID: "small", QueueTaps: 5})
					require.NoError(t, f.Open(ctx))
					commits := overflowCommits()
					for _, c := range commits {
						f.Committed(c.ms, c.batches)
					}
					require.Equal(t, 1, counterValue(t, reg, "swc_booking_checkin_overflows_total"), "one overflow, however many commits were left out")
					overflowed := commits[2].ms // 2 + 2 + 2 taps > 5

					// The queue is applied; the catch-up fails: the cursor
					// stays before the first commit left out.
					ist.tapsDown.Store(true)
					f.Drain(ctx)
					clk.Set(now.Add(5 * time.Minute))
					require.NoError(t, f.Open(ctx)) // saves the cursor
					curs, err := ist.CheckIns().CheckInCursors(ctx)
					require.NoError(t, err)
					require.Len(t, curs, 1)
					require.Equal(t, overflowed-margin, curs[0].AppliedMs, "cursor before the first commit left out")
					require.NotEqual(t, want, checkIns(t, svc), "the commits left out are still to apply")
					ist.tapsDown.Store(false)

					if crash {
						// The follower dies; the next one takes its cursor over.
						clk.Set(now.Add(10 * time.Minute))
						next := booking.NewFollower(svc, booking.FollowerOptions{ID: "next", CursorEvery: 20 * time.Millisecond})
						runCtx, stop := context.WithCancel(ctx)
						done := make(chan error, 1)
						go func() { done <- next.Run(runCtx) }()
						require.Eventually(t, func() bool { return len(checkIns(t, svc)) == len(ids) }, 10*time.Second, 10*time.Millisecond)
						stop()
						require.NoError(t, <-done)
						require.Equal(t, want, checkIns(t, svc))
						return
					}

					f.Drain(ctx)
					require.Equal(t, want, checkIns(t, svc), "the same check-ins as with room for every tap")
					require.NoError(t, f.Open(ctx))
					curs, err = ist.CheckIns().CheckInCursors(ctx)
					require.NoError(t, err)
					require.Equal(t, clk.Now().UnixMilli()-margin, curs[0].AppliedMs, "caught up")

					// Queueing again: a commit whose events only the queue holds.
					for _, fl := range []*booking.Follower{f, ref} {
						fl.Committed(now.Add(6*time.Minute).UnixMilli(), afterwards)
						fl.Drain(ctx)
					}
					require.Equal(t, checkIns(t, refSvc), checkIns(t, svc))
					require.Equal(t, at(0, 8, 50).UnixMilli(), checkIns(t, svc)["b-m1"].AtMs)
					require.Equal(t, 1, counterValue(t, reg, "swc_booking_checkin_overflows_total"))
				})
			}
		})
	}
}
