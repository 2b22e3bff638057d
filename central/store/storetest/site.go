package storetest

import (
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// testSiteFeeds: a member's feed token finds the member until it is reset;
// the reset token's URL then answers not found; an unknown member or a
// short token is refused.
func testSiteFeeds(e *env) {
	t, ctx, s := e.t, e.ctx, e.s.Site()
	e.seed()
	_, err := s.FeedCreated(ctx, "m1")
	requireKind(t, err, store.ErrNotFound, "")
	first, second := store.NewSecret("swcf_"), store.NewSecret("swcf_")
	require.NoError(t, s.ResetFeedToken(ctx, "m1", first, 1000))
	id, err := s.FeedMember(ctx, first)
	require.NoError(t, err)
	require.Equal(t, "m1", id)
	at, err := s.FeedCreated(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, int64(1000), at)

	require.NoError(t, s.ResetFeedToken(ctx, "m1", second, 2000))
	_, err = s.FeedMember(ctx, first)
	requireKind(t, err, store.ErrNotFound, "")
	id, err = s.FeedMember(ctx, second)
	require.NoError(t, err)
	require.Equal(t, "m1", id)
	at, err = s.FeedCreated(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, int64(2000), at)

	requireKind(t, s.ResetFeedToken(ctx, "nobody", store.NewSecret("swcf_"), 1), store.ErrNotFound, "member_id")
	var fe *domain.FieldError
	require.ErrorAs(t, s.ResetFeedToken(ctx, "m1", "short", 1), &fe)
	require.Equal(t, "token", fe.Field)
}

// testSiteRevisions: a booking's revision starts at 0 (absent), counts one
// per bump, is kept per booking, and an unknown booking is not found.
func testSiteRevisions(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.CreateBooking(ctx, booking("k1", "m1", "c1", "", 1, 2)))
	require.NoError(t, s.CreateBooking(ctx, booking("k2", "m1", "c1", "", 3, 4)))
	revs, err := s.Site().BookingRevisions(ctx, []string{"k1", "k2"})
	require.NoError(t, err)
	require.Empty(t, revs)
	for want := 1; want <= 3; want++ {
		got, err := s.Site().BumpBookingRevision(ctx, "k1")
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	revs, err = s.Site().BookingRevisions(ctx, []string{"k1", "k2", "k9"})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"k1": 3}, revs)
	_, err = s.Site().BumpBookingRevision(ctx, "k9")
	requireKind(t, err, store.ErrNotFound, "booking_id")
}
