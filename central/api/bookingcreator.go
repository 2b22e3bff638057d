package api

import (
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Who created a booking is recorded from the caller's token, never taken
// from the request (issue 14, item 8): the settlement shows the hours a
// center's own staff booked for it, so a manager must not be able to pass
// such a booking off as the member's or the cooperative's. A request that
// names a creator is refused (field created_by), except an update that
// repeats the stored one, so that what GET answers can be PUT back.

// creatorOf is the creator recorded for a booking at center made by p: the
// cooperative for an admin token, else the staff of that center (a
// manager acts only within their own center, which p.in has checked).
func creatorOf(p *principal, center string) domain.BookingCreator {
	if p.admin() {
		return domain.BookingCreator{Role: domain.CreatorCooperative, TokenID: p.ID}
	}
	return domain.BookingCreator{Role: domain.CreatorCenterStaff, CenterID: center, TokenID: p.ID}
}

// errCreatorGiven answers a request that names a booking's creator.
func errCreatorGiven() *Error {
	return errInvalid("created_by", "is recorded by the central from the caller's token; leave it out")
}

// setCreator records p as the creator of a new booking.
func setCreator(b *domain.Booking, p *principal) error {
	if !b.CreatedBy.IsZero() {
		return errCreatorGiven()
	}
	b.CreatedBy = creatorOf(p, b.CenterID)
	return nil
}

// keepCreator gives an updated booking the creator of the stored one.
func keepCreator(b *domain.Booking, old *domain.Booking) error {
	if !b.CreatedBy.IsZero() && b.CreatedBy != old.CreatedBy {
		return errCreatorGiven()
	}
	b.CreatedBy = old.CreatedBy
	return nil
}

// setImportCreators records p as the creator of every imported row; a row
// that names one is reported in rep.
func setImportCreators(bookings []domain.Booking, p *principal, rep *store.ImportError) {
	for i := range bookings {
		b := &bookings[i]
		if !b.CreatedBy.IsZero() {
			e := errCreatorGiven()
			rep.Add(store.RowError{Row: i + 1, Code: e.Code, Field: e.Field, Message: e.Message})
			continue
		}
		b.CreatedBy = creatorOf(p, b.CenterID)
	}
}
