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

	// The followers' cursors (migration 0028): each running check-in
	// follower (central/booking) keeps one, so that a check-in whose tap
	// was stored but not yet applied when its process stopped or died is
	// applied later, by whichever follower takes the cursor over.

	// SaveCheckInCursor creates or updates the follower's cursor. Its
	// AppliedMs never goes back (a lower one keeps the stored value); SeenMs
	// and Stopped are set as given.
	SaveCheckInCursor(ctx context.Context, c CheckInCursor) error
	// CheckInCursors returns every follower's cursor, by follower id.
	CheckInCursors(ctx context.Context) ([]CheckInCursor, error)
	// DropCheckInCursor deletes the follower's cursor when it is still c
	// (same AppliedMs, SeenMs and Stopped): it reports false when the
	// follower wrote it since or another caller dropped it.
	DropCheckInCursor(ctx context.Context, c CheckInCursor) (bool, error)
	// GrantedTaps returns the stored taps that were granted to a member
	// and received at or after fromMs, by receipt time, door and seq. It
	// reads the whole events table (the ingest keeps no index on receipt
	// time): followers call it when they take a cursor over, not per
	// commit.
	GrantedTaps(ctx context.Context, fromMs int64) ([]domain.Event, error)
}

// CheckInCursor is how far one check-in follower got: every event that its
// process's ingest committed with a receipt time before AppliedMs has been
// applied. SeenMs is when the follower last saved it (it saves it
// periodically while it runs); Stopped is set by a follower that stopped.
// A cursor that is Stopped, or not seen for a while, belongs to no running
// follower: another one applies the granted taps received since AppliedMs
// and drops it.
type CheckInCursor struct {
	Follower  string `json:"follower"`
	AppliedMs int64  `json:"applied_ms"`
	SeenMs    int64  `json:"seen_ms"`
	Stopped   bool   `json:"stopped"`
}
