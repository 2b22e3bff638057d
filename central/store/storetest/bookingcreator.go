package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// testBookingCreator checks that a booking's creator is stored with it,
// created one by one or imported, read back by Booking and ListBookings,
// validated, and never changed by an update (the stored one is kept and
// notified).
func testBookingCreator(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	staff := domain.BookingCreator{Role: domain.CreatorCenterStaff, CenterID: "c1", TokenID: "tok-c1"}
	coop := domain.BookingCreator{Role: domain.CreatorCooperative, TokenID: "tok-admin"}
	member := domain.BookingCreator{Role: domain.CreatorMember}

	b1 := booking("b1", "n1", "c1", "", 0, 2)
	b1.CreatedBy = staff
	require.NoError(t, s.CreateBooking(ctx, b1))
	got, err := s.Booking(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, b1, got)
	require.True(t, got.ByOwnStaff())

	legacy := booking("b0", "n1", "c2", "", 0, 2) // created before creators were recorded
	require.NoError(t, s.CreateBooking(ctx, legacy))
	got, err = s.Booking(ctx, "b0")
	require.NoError(t, err)
	require.True(t, got.CreatedBy.IsZero())

	bad := booking("bx", "n1", "c1", "", 0, 2)
	bad.CreatedBy = domain.BookingCreator{Role: "manager", CenterID: "c1"}
	requireKind(t, s.CreateBooking(ctx, bad), domain.ErrValidation, "created_by.role")
	bad.CreatedBy = domain.BookingCreator{Role: domain.CreatorCenterStaff}
	requireKind(t, s.CreateBooking(ctx, bad), domain.ErrValidation, "created_by.center_id")
	bad.CreatedBy = domain.BookingCreator{Role: domain.CreatorCooperative, CenterID: "c1"}
	requireKind(t, s.CreateBooking(ctx, bad), domain.ErrValidation, "created_by.center_id")
	e.rec.take()

	// An update cannot rewrite who created the booking.
	moved := b1
	moved.End = b1.End.Add(time.Hour)
	moved.CreatedBy = coop
	require.NoError(t, s.UpdateBooking(ctx, moved))
	got, err = s.Booking(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, staff, got.CreatedBy)
	require.Equal(t, moved.End, got.End)
	changes := e.rec.take()
	require.Len(t, changes, 1)
	require.Equal(t, staff, changes[0].Booking.CreatedBy, "the change carries the stored creator")
	moved.CreatedBy = domain.BookingCreator{}
	require.NoError(t, s.UpdateBooking(ctx, moved))
	got, err = s.Booking(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, staff, got.CreatedBy)
	e.rec.take()

	in := []domain.Booking{booking("i1", "n1", "c1", "", 3, 4), booking("i2", "m2", "c1", "", 3, 4), booking("i3", "n1", "c2", "", 3, 4)}
	in[0].CreatedBy, in[1].CreatedBy, in[2].CreatedBy = staff, coop, member
	n, err := s.ImportBookings(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	for i, ch := range e.rec.take() {
		require.Equal(t, in[i].CreatedBy, ch.Booking.CreatedBy)
	}
	pg, err := s.ListBookings(ctx, store.BookingFilter{PageRequest: store.PageRequest{Limit: 100}})
	require.NoError(t, err)
	by := map[string]domain.BookingCreator{}
	for _, b := range pg.Items {
		by[b.ID] = b.CreatedBy
	}
	require.Equal(t, map[string]domain.BookingCreator{"b0": {}, "b1": staff, "i1": staff, "i2": coop, "i3": member}, by)

	badRows := []domain.Booking{booking("j1", "n1", "c1", "", 5, 6)}
	badRows[0].CreatedBy = domain.BookingCreator{Role: "root"}
	_, err = s.ImportBookings(ctx, badRows)
	var ie *store.ImportError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "created_by.role", ie.Rows[0].Field)
}
