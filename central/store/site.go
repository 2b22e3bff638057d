package store

import "context"

// SiteStore keeps the booking site's own state (migration 0015): each
// member's private calendar feed token and each booking's revision.
type SiteStore interface {
	// ResetFeedToken makes secret the member's calendar feed token,
	// replacing any earlier one (whose URL then answers ErrNotFound).
	// Only HashSecret(secret) is kept. Audited (object "member_feed").
	// ErrNotFound when the member does not exist.
	ResetFeedToken(ctx context.Context, memberID, secret string, atMs int64) error
	// FeedMember returns the member whose feed token this is (ErrNotFound).
	FeedMember(ctx context.Context, secret string) (string, error)
	// FeedCreated returns when the member's current feed token was made
	// (ErrNotFound when they have none).
	FeedCreated(ctx context.Context, memberID string) (int64, error)
	// BumpBookingRevision adds one to the booking's revision and returns
	// it (1 after the first change): the SEQUENCE of its next .ics.
	// ErrNotFound when the booking does not exist.
	BumpBookingRevision(ctx context.Context, bookingID string) (int, error)
	// BookingRevisions returns the revisions of the bookings that have
	// one (a booking never changed is absent: revision 0).
	BookingRevisions(ctx context.Context, bookingIDs []string) (map[string]int, error)
}
