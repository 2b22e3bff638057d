package booking_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// TestBookRefusals checks every rule refuses with its code and field, on
// both stores.
func TestBookRefusals(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := seed(t, st, 2)
		strict := domain.DefaultBookingRules()
		strict.NomadsBookRooms, strict.MaxAdvanceDays, strict.MaxOpenBookings, strict.MinMinutes, strict.MaxMinutes = false, 14, 2, 60, 480
		require.NoError(t, svc.SetRules(ctx, "c1", strict))
		// n2 holds two open bookings already: the most under c1's rules.
		for _, d := range []int{1, 2} {
			_, err := svc.Book(ctx, booking.Request{MemberID: "n2", CenterID: "c1", Start: at(d, 9, 0), End: at(d, 10, 0)})
			require.NoError(t, err)
		}
		req := func(mod func(*booking.Request)) booking.Request {
			r := booking.Request{MemberID: "n1", CenterID: "c1", Start: at(1, 9, 0), End: at(1, 17, 0)}
			mod(&r)
			return r
		}
		for _, tc := range []struct {
			name        string
			r           booking.Request
			code, field string
		}{
			{"unknown center", req(func(r *booking.Request) { r.CenterID = "nope" }), booking.CodeUnknownCenter, "center_id"},
			{"unknown member", req(func(r *booking.Request) { r.MemberID = "nobody" }), booking.CodeUnknownMember, "member_id"},
			{"suspended", req(func(r *booking.Request) { r.MemberID = "s1" }), booking.CodeMemberSuspended, "member_id"},
			{"unknown room", req(func(r *booking.Request) { r.RoomID = "r9" }), booking.CodeUnknownRoom, "room_id"},
			{"room of another center", req(func(r *booking.Request) { r.RoomID = "r3"; r.MemberID = "m1" }), booking.CodeUnknownRoom, "room_id"},
			{"end before start", req(func(r *booking.Request) { r.End = r.Start.Add(-time.Hour) }), booking.CodeInvalid, "end"},
			{"seconds", req(func(r *booking.Request) { r.Start = r.Start.Add(time.Second) }), booking.CodeInvalid, "start"},
			{"in the past", req(func(r *booking.Request) { r.Start, r.End = at(0, 7, 0), at(0, 9, 0) }), booking.CodeInPast, "start"},
			{"too far ahead", req(func(r *booking.Request) { r.Start, r.End = at(15, 9, 0), at(15, 12, 0) }), booking.CodeTooFarAhead, "start"},
			{"too short", req(func(r *booking.Request) { r.End = r.Start.Add(30 * time.Minute) }), booking.CodeTooShort, "end"},
			{"too long", req(func(r *booking.Request) { r.Start, r.End = at(1, 8, 0), at(1, 17, 0) }), booking.CodeTooLong, "end"},
			{"before opening", req(func(r *booking.Request) { r.Start, r.End = at(1, 7, 0), at(1, 12, 0) }), booking.CodeClosed, "start"},
			{"after closing", req(func(r *booking.Request) { r.Start, r.End = at(1, 12, 0), at(1, 19, 0) }), booking.CodeClosed, "start"},
			{"closed on Saturday", req(func(r *booking.Request) { r.Start, r.End = at(5, 9, 0), at(5, 12, 0) }), booking.CodeClosed, "start"},
			{"nomads may not book rooms", req(func(r *booking.Request) { r.RoomID = "r1" }), booking.CodeNomadsNoRooms, "room_id"},
			{"room too small", req(func(r *booking.Request) { r.MemberID, r.RoomID, r.People = "m1", "r2", 3 }), booking.CodeRoomTooSmall, "people"},
			{"no desks at c2", req(func(r *booking.Request) { r.CenterID = "c2" }), booking.CodeNoDeskPool, "center_id"},
			{"too many open bookings", req(func(r *booking.Request) { r.MemberID = "n2" }), booking.CodeTooManyOpen, "member_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := svc.Book(ctx, tc.r)
				requireRefused(t, err, tc.code, tc.field)
			})
		}
		// The network's rules apply at c2, which has none of its own.
		_, err := svc.Book(ctx, booking.Request{MemberID: "n1", CenterID: "c2", RoomID: "r3", Start: at(1, 8, 0), End: at(1, 18, 0)})
		require.NoError(t, err, "10 hours in a room, nomad: fine under the network defaults")
		r, err := svc.Rules(ctx, "c2")
		require.NoError(t, err)
		require.Equal(t, "default", r.Source)
		r, err = svc.Rules(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, booking.Rules{BookingRules: strict, Source: "center"}, r)
		require.NoError(t, svc.ResetRules(ctx, "c1"))
		r, err = svc.Rules(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, "default", r.Source)
	})
}

// TestLastDeskAndRoom races 100 members for the last desk of a center and
// then for a room: exactly one booking each, 99 clear refusals, on both
// stores.
func TestLastDeskAndRoom(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := seed(t, st, 100)
		_, err := svc.Book(ctx, booking.Request{MemberID: "m1", CenterID: "c1", Start: at(1, 8, 0), End: at(1, 18, 0)})
		require.NoError(t, err, "one of the two desks")
		for _, tc := range []struct {
			room, code string
		}{{"", booking.CodeNoDesks}, {"r1", booking.CodeRoomTaken}} {
			var wg sync.WaitGroup
			errs := make([]error, 100)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = svc.Book(ctx, booking.Request{MemberID: fmt.Sprintf("n%d", i+1), CenterID: "c1", RoomID: tc.room,
						Start: at(1, 9, 0), End: at(1, 17, 0)})
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
					continue
				}
				requireRefused(t, err, tc.code, map[string]string{"": "start", "r1": "room_id"}[tc.room])
			}
			require.Equal(t, 1, ok, "room %q", tc.room)
		}
		occ, err := st.Places().Occupancy(ctx, []string{"c1"}, at(1, 0, 0), at(2, 0, 0))
		require.NoError(t, err)
		require.Len(t, occ, 3, "two desks and one room")
	})
}

// TestChangeAndCancel checks a member changes and cancels their own
// booking under the deadline, and not someone else's.
func TestChangeAndCancel(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := seed(t, st, 2)
		b, err := svc.Book(ctx, booking.Request{MemberID: "n1", CenterID: "c1", Start: at(1, 9, 0), End: at(1, 12, 0)})
		require.NoError(t, err)
		require.Equal(t, domain.BookingCreator{Role: domain.CreatorMember}, b.CreatedBy)
		soon, err := svc.Book(ctx, booking.Request{MemberID: "n1", CenterID: "c1", Start: at(0, 8, 30), End: at(0, 12, 0)})
		require.NoError(t, err)

		_, err = svc.Change(ctx, "n2", b.ID, at(1, 13, 0), at(1, 15, 0))
		requireRefused(t, err, booking.CodeUnknownBooking, "id")
		_, err = svc.Change(ctx, "n1", b.ID, at(1, 13, 0), at(1, 19, 0))
		requireRefused(t, err, booking.CodeClosed, "start")
		moved, err := svc.Change(ctx, "n1", b.ID, at(1, 13, 0), at(1, 15, 0))
		require.NoError(t, err)
		got, err := st.Booking(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, moved, got)
		require.True(t, got.Start.Equal(at(1, 13, 0)))

		_, err = svc.Cancel(ctx, "n1", soon.ID)
		requireRefused(t, err, booking.CodeDeadlinePassed, "id")
		_, err = svc.Cancel(ctx, "n2", b.ID)
		requireRefused(t, err, booking.CodeUnknownBooking, "id")
		c, err := svc.Cancel(ctx, "n1", b.ID)
		require.NoError(t, err)
		require.Equal(t, domain.BookingCancelled, c.Status)
		_, err = svc.Cancel(ctx, "n1", b.ID)
		requireRefused(t, err, booking.CodeAlreadyCancelled, "id")

		mine, err := svc.MyBookings(ctx, "n1", at(0, 0, 0), at(7, 0, 0))
		require.NoError(t, err)
		require.Len(t, mine, 2)
		require.Equal(t, soon.ID, mine[0].ID, "by start")
		require.Equal(t, domain.BookingCancelled, mine[1].Status)
	})
}

// TestRecurring books every Tuesday for 8 weeks: a full Tuesday and the
// dates past the booking horizon are reported, the others made, at the same
// local time across the change to summer time.
func TestRecurring(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := seed(t, st, 3)
		rules := domain.DefaultBookingRules()
		rules.MaxAdvanceDays = 40
		require.NoError(t, svc.SetRules(ctx, "", rules))
		for _, m := range []string{"n2", "n3"} { // the third Tuesday is full
			_, err := svc.Book(ctx, booking.Request{MemberID: m, CenterID: "c1", Start: at(15, 8, 0), End: at(15, 18, 0)})
			require.NoError(t, err)
		}
		series, err := svc.BookRecurring(ctx, booking.Request{MemberID: "n1", CenterID: "c1", Start: at(1, 9, 0), End: at(1, 17, 0)}, 8, 1)
		require.NoError(t, err)
		require.Len(t, series.Occurrences, 8)
		require.Equal(t, 5, series.Made)
		require.Equal(t, 3, series.Failed)
		for i, o := range series.Occurrences {
			require.True(t, o.Start.Equal(at(1+7*i, 9, 0)), "occurrence %d at %v", i, o.Start)
			require.Equal(t, 9, o.Start.In(brussels).Hour(), "local 09:00 before and after the DST change")
			switch {
			case i == 2:
				require.Equal(t, booking.CodeNoDesks, o.Error.Code)
			case i >= 6: // 43 and 50 days ahead
				require.Equal(t, booking.CodeTooFarAhead, o.Error.Code)
			default:
				require.Nil(t, o.Error, "occurrence %d: %v", i, o.Error)
				require.NotNil(t, o.Booking)
			}
		}
		_, err = svc.BookRecurring(ctx, booking.Request{MemberID: "n1", CenterID: "c1", Start: at(1, 9, 0), End: at(1, 17, 0)}, 60, 1)
		requireRefused(t, err, booking.CodeInvalid, "count")
	})
}

// TestCancelRange cancels a member's bookings in their holidays; one inside
// the cancellation deadline stays, with its reason.
func TestCancelRange(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := seed(t, st, 2)
		var ids []string
		for _, r := range []booking.Request{
			{Start: at(0, 8, 30), End: at(0, 10, 0)}, // inside the deadline
			{Start: at(1, 9, 0), End: at(1, 10, 0)},
			{Start: at(2, 9, 0), End: at(2, 10, 0)},
			{Start: at(9, 9, 0), End: at(9, 10, 0)}, // after the holidays
		} {
			r.MemberID, r.CenterID = "n1", "c1"
			b, err := svc.Book(ctx, r)
			require.NoError(t, err)
			ids = append(ids, b.ID)
		}
		other, err := svc.Book(ctx, booking.Request{MemberID: "n2", CenterID: "c1", Start: at(1, 9, 0), End: at(1, 10, 0)})
		require.NoError(t, err)

		res, err := svc.CancelRange(ctx, "n1", at(0, 0, 0), at(7, 0, 0))
		require.NoError(t, err)
		require.Len(t, res.Cancelled, 2)
		require.ElementsMatch(t, ids[1:3], []string{res.Cancelled[0].ID, res.Cancelled[1].ID})
		require.Len(t, res.Kept, 1)
		require.Equal(t, ids[0], res.Kept[0].Booking.ID)
		require.Equal(t, booking.CodeDeadlinePassed, res.Kept[0].Error.Code)
		for id, want := range map[string]string{ids[0]: domain.BookingConfirmed, ids[1]: domain.BookingCancelled,
			ids[2]: domain.BookingCancelled, ids[3]: domain.BookingConfirmed, other.ID: domain.BookingConfirmed} {
			b, err := st.Booking(ctx, id)
			require.NoError(t, err)
			require.Equal(t, want, b.Status, id)
		}
		_, err = svc.CancelRange(ctx, "n1", at(7, 0, 0), at(0, 0, 0))
		requireRefused(t, err, booking.CodeInvalid, "to")
	})
}

// TestAvailability asks where one can work on Tuesday 9–17, across the
// network and for a room for 4, and reads c1's week.
func TestAvailability(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := seed(t, st, 2)
		_, err := svc.Book(ctx, booking.Request{MemberID: "n1", CenterID: "c1", Start: at(1, 8, 0), End: at(1, 12, 0)})
		require.NoError(t, err)
		_, err = svc.Book(ctx, booking.Request{MemberID: "n2", CenterID: "c1", Start: at(1, 11, 0), End: at(1, 18, 0)})
		require.NoError(t, err)
		_, err = svc.Book(ctx, booking.Request{MemberID: "m1", CenterID: "c1", RoomID: "r1", Start: at(1, 10, 0), End: at(1, 11, 0)})
		require.NoError(t, err)

		for _, tc := range []struct {
			name      string
			q         booking.Query
			fits      map[string]bool
			desksFree map[string]int
			rooms     map[string]map[string]bool
		}{
			{"network, desk or room", booking.Query{Start: at(1, 9, 0), End: at(1, 17, 0)},
				map[string]bool{"c1": true, "c2": true}, map[string]int{"c1": 0, "c2": 0},
				map[string]map[string]bool{"c1": {"r1": false, "r2": true}, "c2": {"r3": true}}},
			{"network, desk", booking.Query{Start: at(1, 9, 0), End: at(1, 17, 0), Kind: booking.KindDesk},
				map[string]bool{"c1": false, "c2": false}, map[string]int{"c1": 0, "c2": 0},
				map[string]map[string]bool{"c1": {"r1": false, "r2": true}, "c2": {"r3": true}}},
			{"room for 4", booking.Query{Start: at(1, 9, 0), End: at(1, 17, 0), Kind: booking.KindRoom, People: 4},
				map[string]bool{"c1": false, "c2": true}, map[string]int{"c1": 0, "c2": 0},
				map[string]map[string]bool{"c1": {"r1": false}, "c2": {"r3": true}}},
			{"c1 in the afternoon", booking.Query{CenterIDs: []string{"c1"}, Start: at(1, 13, 0), End: at(1, 17, 0), Kind: booking.KindDesk},
				map[string]bool{"c1": true}, map[string]int{"c1": 1},
				map[string]map[string]bool{"c1": {"r1": true, "r2": true}}},
			{"Saturday: closed", booking.Query{Start: at(5, 9, 0), End: at(5, 17, 0)},
				map[string]bool{"c1": false, "c2": false}, map[string]int{"c1": 2, "c2": 0},
				map[string]map[string]bool{"c1": {"r1": true, "r2": true}, "c2": {"r3": true}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := svc.Availability(ctx, tc.q)
				require.NoError(t, err)
				fits, free, rooms := map[string]bool{}, map[string]int{}, map[string]map[string]bool{}
				for _, a := range got {
					fits[a.CenterID], free[a.CenterID], rooms[a.CenterID] = a.Fits, a.DesksFree, map[string]bool{}
					for _, r := range a.Rooms {
						rooms[a.CenterID][r.ID] = r.Free
					}
				}
				require.Equal(t, tc.fits, fits)
				require.Equal(t, tc.desksFree, free)
				require.Equal(t, tc.rooms, rooms)
			})
		}
		_, err = svc.Availability(ctx, booking.Query{CenterIDs: []string{"nope"}, Start: at(1, 9, 0), End: at(1, 17, 0)})
		requireRefused(t, err, booking.CodeUnknownCenter, "center_id")
		_, err = svc.Availability(ctx, booking.Query{Start: at(1, 9, 0), End: at(1, 8, 0)})
		requireRefused(t, err, booking.CodeInvalid, "end")

		w, err := svc.Week(ctx, "c1", at(0, 12, 0))
		require.NoError(t, err)
		require.Len(t, w.Days, 7)
		require.Equal(t, "2026-03-03", w.Days[1].Date)
		require.Len(t, w.Days[1].Slots, 10, "08:00 to 18:00 by the hour")
		require.Empty(t, w.Days[5].Slots, "closed on Saturday")
		free := map[int]int{}
		var roomsAt10 []string
		for _, s := range w.Days[1].Slots {
			h := s.Start.In(brussels).Hour()
			free[h] = s.DesksFree
			if h == 10 {
				roomsAt10 = s.RoomsFree
			}
		}
		require.Equal(t, map[int]int{8: 1, 9: 1, 10: 1, 11: 0, 12: 1, 13: 1, 14: 1, 15: 1, 16: 1, 17: 1}, free)
		require.Equal(t, []string{"r2"}, roomsAt10)
		_, err = svc.Week(ctx, "nope", at(0, 12, 0))
		requireRefused(t, err, booking.CodeUnknownCenter, "center_id")
	})
}

// TestOpenBookingsRace sends 20 bookings of one member at once under a
// limit of 3 open bookings: exactly 3 are made.
func TestOpenBookingsRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := seed(t, st, 1)
		rules := domain.DefaultBookingRules()
		rules.MaxOpenBookings = 3
		require.NoError(t, svc.SetRules(ctx, "", rules))
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				day := 1 + i%4 + 7*(i/4) // weekdays over five weeks
				_, errs[i] = svc.Book(ctx, booking.Request{MemberID: "n1", CenterID: "c1", Start: at(day, 9, 0), End: at(day, 10, 0)})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			requireRefused(t, err, booking.CodeTooManyOpen, "member_id")
		}
		require.Equal(t, 3, ok)
	})
}
