package storetest

import (
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/store"
)

// testEnrollmentCheck: checking a token tells what redeeming it would
// (unknown, used, expired) and spends nothing, however often it is done.
func testEnrollmentCheck(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	now := base().UnixMilli()
	tok := store.EnrollmentToken{ID: "e1", Door: "d1", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + 60_000}
	secret := store.NewSecret("swce_")
	require.NoError(t, s.CreateEnrollmentToken(ctx, tok, secret))
	for _, bad := range []string{"", "swce_nope", store.HashSecret(secret)} {
		_, err := s.CheckEnrollment(ctx, bad, now)
		requireKind(t, err, store.ErrBadCredentials, "token")
	}
	for range 3 {
		got, err := s.CheckEnrollment(ctx, secret, now+1)
		require.NoError(t, err)
		require.Equal(t, tok, got)
	}
	_, err := s.CheckEnrollment(ctx, secret, tok.ExpiresMs)
	requireKind(t, err, store.ErrTokenExpired, "token")
	got, err := s.RedeemEnrollment(ctx, secret, store.DoorKey{KeySHA256: keyHash("k1"), EnrolledMs: now + 2})
	require.NoError(t, err, "checking spent nothing")
	require.Equal(t, "d1", got.Door)
	_, err = s.CheckEnrollment(ctx, secret, now+3)
	requireKind(t, err, store.ErrTokenUsed, "token")
}
