package store

import (
	"context"

	"github.com/smartworkcenters/swc/central/domain"
)

// CheckIn is the check-in of a booking: the first granted tap of its member
// at its center within [start - grace, end) (central/booking).
type CheckIn struct {
	BookingID string `json:"booking_id"`
	AtMs      int64  `json:"at_ms"` // the tap's time (the door's clock)
	Door      string `json:"door"`
	Seq       uint64 `json:"seq"` // the tap's event seq at the door
}

// CheckInStore keeps bookings' check-ins and releases room no-shows
// (migration 0016). Store.CheckIns returns it; it shares the store's
// database, so every replica sees the same rows.
type CheckInStore interface {
	// CheckIn records c, or replaces the booking's check-in when c's tap
	// happened earlier (taps arrive late and twice): the first tap wins
	// whatever the order of arrival. It reports whether the stored check-in
	// changed. An unknown booking is ErrMissingRef (field booking_id).
	CheckIn(ctx context.Context, c CheckIn) (bool, error)
	// CheckIns returns the check-ins of the bookings that have one, by
	// booking id.
	CheckIns(ctx context.Context, bookingIDs []string) (map[string]CheckIn, error)
	// ReleaseCandidates returns confirmed room bookings without a check-in
	// that started at or before startedBy and end after now, by start then
	// id, at most limit.
	ReleaseCandidates(ctx context.Context, startedBy, now int64, limit int) ([]domain.Booking, error)
	// Release sets a confirmed room booking without a check-in to
	// released, in one conditional UPDATE: it reports false when the
	// booking was already released, cancelled or checked in (by another
	// replica meanwhile), so only one caller ever releases it. The booking
	// goes out on the change feed (the doors lose the right) and into the
	// audit log.
	Release(ctx context.Context, id string) (domain.Booking, bool, error)
}
