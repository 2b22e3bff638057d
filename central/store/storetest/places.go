package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// testRoomPlaces checks a room's capacity and equipment are stored, updated
// and validated.
func testRoomPlaces(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	r := domain.Room{ID: "r9", CenterID: "c1", Name: "Board", Capacity: 12, Equipment: []string{"screen", "video"}}
	require.NoError(t, s.CreateRoom(ctx, r))
	got, err := s.Room(ctx, "r9")
	require.NoError(t, err)
	require.Equal(t, r, got)
	r.Capacity, r.Equipment = 8, nil
	require.NoError(t, s.UpdateRoom(ctx, r))
	got, err = s.Room(ctx, "r9")
	require.NoError(t, err)
	require.Equal(t, r, got)
	for _, tc := range []struct {
		room  domain.Room
		field string
	}{
		{domain.Room{ID: "r8", CenterID: "c1", Name: "R", Capacity: -1}, "capacity"},
		{domain.Room{ID: "r8", CenterID: "c1", Name: "R", Capacity: domain.MaxRoomCapacity + 1}, "capacity"},
		{domain.Room{ID: "r8", CenterID: "c1", Name: "R", Equipment: []string{""}}, "equipment[0]"},
		{domain.Room{ID: "r8", CenterID: "c1", Name: "R", Equipment: []string{"tv", "tv"}}, "equipment[1]"},
	} {
		requireKind(t, s.CreateRoom(ctx, tc.room), domain.ErrValidation, tc.field)
	}
}

// testDeskPools checks pools are created, replaced, listed, validated and
// removed, and go with their center.
func testDeskPools(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	ps := s.Places()
	_, err := ps.DeskPool(ctx, "c1")
	requireKind(t, err, store.ErrNotFound, "")
	p := domain.DeskPool{CenterID: "c1", Capacity: 2, Desks: []domain.Desk{{ID: "a1", Name: "Window"}, {ID: "a2", Name: "Door"}}}
	require.NoError(t, ps.PutDeskPool(ctx, p))
	got, err := ps.DeskPool(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, p, got)
	p2 := domain.DeskPool{CenterID: "c2", Capacity: 25}
	require.NoError(t, ps.PutDeskPool(ctx, p2))
	p.Capacity, p.Desks = 30, nil
	require.NoError(t, ps.PutDeskPool(ctx, p))
	all, err := ps.ListDeskPools(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, []domain.DeskPool{p, p2}, all)
	some, err := ps.ListDeskPools(ctx, []string{"c2"})
	require.NoError(t, err)
	require.Equal(t, []domain.DeskPool{p2}, some)

	requireKind(t, ps.PutDeskPool(ctx, domain.DeskPool{CenterID: "nope", Capacity: 1}), store.ErrMissingRef, "center_id")
	requireKind(t, ps.PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: -1}), domain.ErrValidation, "capacity")
	requireKind(t, ps.PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 3, Desks: []domain.Desk{{ID: "a", Name: "A"}}}), domain.ErrValidation, "capacity")
	requireKind(t, ps.PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 2, Desks: []domain.Desk{{ID: "a", Name: "A"}, {ID: "a", Name: "B"}}}), domain.ErrValidation, "desks[1].id")

	require.NoError(t, ps.DeleteDeskPool(ctx, "c1"))
	requireKind(t, ps.DeleteDeskPool(ctx, "c1"), store.ErrNotFound, "")
	require.NoError(t, s.DeleteRoom(ctx, "r2"))
	require.NoError(t, s.DeleteMember(ctx, "m2"))
	require.NoError(t, ps.PutBookingRules(ctx, "c2", domain.DefaultBookingRules()))
	require.NoError(t, s.DeleteCenter(ctx, "c2"), "a center's pool and rules go with it")
	all, err = ps.ListDeskPools(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, all)
	_, err = ps.BookingRules(ctx, "c2")
	requireKind(t, err, store.ErrNotFound, "")
}

// testBookingRules checks the network's and a center's rules.
func testBookingRules(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	ps := s.Places()
	_, err := ps.BookingRules(ctx, "")
	requireKind(t, err, store.ErrNotFound, "")
	net := domain.DefaultBookingRules()
	net.MaxOpenBookings = 5
	require.NoError(t, ps.PutBookingRules(ctx, "", net))
	c1 := domain.DefaultBookingRules()
	c1.NomadsBookRooms, c1.MaxAdvanceDays = false, 14
	require.NoError(t, ps.PutBookingRules(ctx, "c1", c1))
	got, err := ps.BookingRules(ctx, "")
	require.NoError(t, err)
	require.Equal(t, net, got)
	got, err = ps.BookingRules(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, c1, got)
	_, err = ps.BookingRules(ctx, "c2")
	requireKind(t, err, store.ErrNotFound, "")

	bad := c1
	bad.MinMinutes, bad.MaxMinutes = 60, 30
	requireKind(t, ps.PutBookingRules(ctx, "c1", bad), domain.ErrValidation, "max_minutes")
	requireKind(t, ps.PutBookingRules(ctx, "nope", c1), store.ErrMissingRef, "center_id")
	require.NoError(t, ps.DeleteBookingRules(ctx, "c1"))
	requireKind(t, ps.DeleteBookingRules(ctx, "c1"), store.ErrNotFound, "")
}

// testDeskCapacity checks CreateBooking and UpdateBooking refuse a desk
// booking when the pool is full at some moment, count bookings without a
// place as desks, ignore cancelled ones and rooms, and that Occupancy and
// CountOpenBookings read them.
func testDeskCapacity(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	ps := s.Places()
	require.NoError(t, s.CreateBooking(ctx, booking("pre", "m1", "c1", "", 0, 2)), "no pool: no capacity check")
	require.NoError(t, ps.PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 2}))
	require.NoError(t, s.CreateBooking(ctx, booking("b1", "m2", "c1", "", 1, 3)))
	requireKind(t, s.CreateBooking(ctx, booking("b2", "n1", "c1", "", 1, 2)), store.ErrFull, "start")
	require.NoError(t, s.CreateBooking(ctx, booking("b3", "n1", "c1", "", 2, 4)), "pre ends when b3 starts")
	require.NoError(t, s.CreateBooking(ctx, booking("room", "n1", "c1", "r1", 0, 4)), "a room is not a desk")
	cancelled := booking("b4", "n1", "c1", "", 0, 4)
	cancelled.Status = domain.BookingCancelled
	require.NoError(t, s.CreateBooking(ctx, cancelled), "a cancelled booking takes no desk")
	cancelled.Status = domain.BookingConfirmed
	requireKind(t, s.UpdateBooking(ctx, cancelled), store.ErrFull, "start")
	moved := booking("b3", "n1", "c1", "", 3, 5)
	require.NoError(t, s.UpdateBooking(ctx, moved), "a booking does not collide with itself")
	require.NoError(t, s.CreateBooking(ctx, booking("b5", "m1", "c2", "", 0, 4)), "another center")

	occ, err := ps.Occupancy(ctx, []string{"c1"}, base().Add(time.Hour), base().Add(2*time.Hour))
	require.NoError(t, err)
	type place struct {
		room       string
		start, end time.Time
	}
	var got []place
	for _, b := range occ {
		require.Equal(t, "c1", b.CenterID)
		got = append(got, place{b.RoomID, b.Start, b.End})
	}
	require.ElementsMatch(t, []place{{"", base(), base().Add(2 * time.Hour)}, {"", base().Add(time.Hour), base().Add(3 * time.Hour)},
		{"r1", base(), base().Add(4 * time.Hour)}}, got, "pre, b1 and the room")
	occ, err = ps.Occupancy(ctx, nil, base().Add(3*time.Hour), base().Add(5*time.Hour))
	require.NoError(t, err)
	require.Len(t, occ, 3) // room, b3, b5
	n, err := ps.CountOpenBookings(ctx, "n1", base().Add(90*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 2, n) // b3 and room; b4 is cancelled
}

// testDeskCapacityConcurrent races 100 writers for the last desk: exactly
// one gets it, every other is refused with ErrFull.
func testDeskCapacityConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 1}))
	var wg sync.WaitGroup
	errs := make([]error, 100)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateBooking(ctx, booking(fmt.Sprintf("b%d", i), "n1", "c1", "", 0, 8))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, store.ErrFull)
	}
	require.Equal(t, 1, ok)
}

// testImportDesks checks an import is refused whole when a desk row finds
// its center's pool full, counting stored bookings and earlier rows.
func testImportDesks(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 2}))
	require.NoError(t, s.CreateBooking(ctx, booking("stored", "m1", "c1", "", 0, 2)))
	cancelled := booking("i5", "n1", "c1", "", 0, 4)
	cancelled.Status = domain.BookingCancelled
	rows := []domain.Booking{
		booking("i1", "n1", "c1", "", 1, 3),
		booking("i2", "m2", "c1", "", 1, 2), // the third desk at 1–2
		booking("i3", "m2", "c1", "", 2, 4),
		booking("i4", "m2", "c2", "", 0, 4), // c2 has no pool
		cancelled,
	}
	_, err := s.ImportBookings(ctx, rows)
	var ie *store.ImportError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, []store.RowError{{Row: 2, Code: "no_desk_left", Field: "start",
		Message: "all 2 desks of center c1 are booked at some time of this booking"}}, ie.Rows)
	page, err := s.ListBookings(ctx, store.BookingFilter{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, "nothing imported")

	n, err := s.ImportBookings(ctx, append(rows[:1:1], rows[2:]...))
	require.NoError(t, err)
	require.Equal(t, 4, n)
}

// testOpenBookingsLimit races 20 bookings of one member limited to two open
// bookings: exactly two are made, the others refused with ErrTooMany.
func testOpenBookingsLimit(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	ps := s.Places()
	require.NoError(t, s.CreateBooking(ctx, booking("old", "n1", "c2", "", -5, -4)), "ended: not open")
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ps.CreateBookingWithin(ctx, booking(fmt.Sprintf("b%d", i), "n1", "c2", "", i, i+1), 2, base())
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		requireKind(t, err, store.ErrTooMany, "member_id")
	}
	require.Equal(t, 2, ok)
	requireKind(t, ps.CreateBookingWithin(ctx, booking("x", "nobody", "c2", "", 0, 1), 2, base()), store.ErrMissingRef, "member_id")
	require.NoError(t, ps.CreateBookingWithin(ctx, booking("y", "n1", "c2", "", 0, 1), 0, base()), "0: no limit")
}
