package store

import (
	"context"
	"errors"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
)

// ErrFull refuses a confirmed desk booking when every desk of the center's
// pool is taken at some moment of its time (the check runs in the booking's
// transaction, so concurrent writers never overbook).
var ErrFull = errors.New("no desk left at the center in that time")

// ErrTooMany refuses a booking of a member who already holds the most open
// bookings allowed (PlaceStore.CreateBookingWithin).
var ErrTooMany = errors.New("the member holds the most open bookings allowed")

// PlaceStore is the booking site's storage in the same database (Store.Places):
// desk pools, booking rules and the occupancy reads of the availability
// queries. Rooms (with capacity and equipment) are Store's; bookings too —
// CreateBooking and UpdateBooking check a confirmed desk booking against
// the center's pool (ErrFull) in the same transaction, as they check a room
// booking against the room's other bookings (ErrOverlap).
type PlaceStore interface {
	// DeskPool returns a center's pool (ErrNotFound when it has none).
	DeskPool(ctx context.Context, center string) (domain.DeskPool, error)
	// ListDeskPools returns the pools of the centers (nil: every center),
	// by center id.
	ListDeskPools(ctx context.Context, centerIDs []string) ([]domain.DeskPool, error)
	// PutDeskPool creates or replaces a center's pool (ErrMissingRef,
	// field center_id). A smaller capacity does not cancel bookings.
	PutDeskPool(ctx context.Context, p domain.DeskPool) error
	// DeleteDeskPool removes a pool (ErrNotFound); the center then takes
	// desk bookings without a capacity check.
	DeleteDeskPool(ctx context.Context, center string) error

	// BookingRules returns the rules set for a center, or for the network
	// when center is "" (ErrNotFound when none are set).
	BookingRules(ctx context.Context, center string) (domain.BookingRules, error)
	// PutBookingRules sets them (a center must exist: ErrMissingRef).
	PutBookingRules(ctx context.Context, center string, r domain.BookingRules) error
	// DeleteBookingRules removes them (ErrNotFound): the center follows the
	// network again, the network its built-in defaults.
	DeleteBookingRules(ctx context.Context, center string) error

	// Occupancy returns the confirmed bookings at the centers (nil: every
	// center) that overlap [from, to), place and time only (CenterID,
	// RoomID, Start, End, Status; no ID, so that covering indexes answer).
	Occupancy(ctx context.Context, centerIDs []string, from, to time.Time) ([]domain.Booking, error)
	// CreateBookingWithin is Store.CreateBooking that also refuses
	// (ErrTooMany, field member_id) when the member already holds maxOpen
	// confirmed bookings ending after now, counted in the same transaction
	// (the member's row locked on PostgreSQL); maxOpen 0 is no limit.
	CreateBookingWithin(ctx context.Context, b domain.Booking, maxOpen int, now time.Time) error
	// CountOpenBookings counts the member's confirmed bookings that end
	// after now.
	CountOpenBookings(ctx context.Context, member string, now time.Time) (int, error)
}
