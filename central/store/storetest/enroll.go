package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

func keyHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// testEnrollment: a token is redeemed once, before it expires, for its
// door; the door's enrolled key is replaced by a later enrollment; tokens
// and keys go with their door.
func testEnrollment(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	now := base().UnixMilli()
	tok := store.EnrollmentToken{ID: "e1", Door: "d1", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + 3600_000}
	secret := store.NewSecret("swce_")
	require.NoError(t, s.CreateEnrollmentToken(ctx, tok, secret))
	e.rec.take()

	requireKind(t, s.CreateEnrollmentToken(ctx, tok, store.NewSecret("swce_")), store.ErrExists, "id")
	requireKind(t, s.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "e2", Door: "zz", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + 1}, store.NewSecret("swce_")), store.ErrMissingRef, "door")
	requireKind(t, s.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "e2", Door: "d1", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now}, store.NewSecret("swce_")), domain.ErrValidation, "expires_ms")
	requireKind(t, s.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "e2", Door: "d1", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + store.MaxEnrollmentTTL.Milliseconds() + 1}, store.NewSecret("swce_")), domain.ErrValidation, "expires_ms")
	requireKind(t, s.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "e2", Door: "d1", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + 1}, "short"), domain.ErrValidation, "secret")

	_, err := s.DoorKey(ctx, "d1")
	requireKind(t, err, store.ErrNotFound, "")

	k1 := store.DoorKey{KeySHA256: keyHash("k1"), EnrolledMs: now + 1000}
	requireKind(t, func() error {
		_, err := s.RedeemEnrollment(ctx, secret, store.DoorKey{KeySHA256: "xyz", EnrolledMs: now})
		return err
	}(), domain.ErrValidation, "key_sha256")
	for _, bad := range []string{"", "swce_nope", store.HashSecret(secret)} {
		_, err := s.RedeemEnrollment(ctx, bad, k1)
		requireKind(t, err, store.ErrBadCredentials, "token")
	}
	got, err := s.RedeemEnrollment(ctx, secret, k1)
	require.NoError(t, err)
	want := tok
	want.UsedMs = k1.EnrolledMs
	require.Equal(t, want, got)
	key, err := s.DoorKey(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, store.DoorKey{Door: "d1", KeySHA256: k1.KeySHA256, EnrolledMs: k1.EnrolledMs}, key)

	// Once only, whatever the key.
	_, err = s.RedeemEnrollment(ctx, secret, store.DoorKey{KeySHA256: keyHash("k2"), EnrolledMs: now + 2000})
	requireKind(t, err, store.ErrTokenUsed, "token")
	key, err = s.DoorKey(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, k1.KeySHA256, key.KeySHA256, "a refused redemption changed the door's key")

	// Expired: at and after expires_ms.
	old := store.EnrollmentToken{ID: "e3", Door: "d1", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + 5000}
	oldSecret := store.NewSecret("swce_")
	require.NoError(t, s.CreateEnrollmentToken(ctx, old, oldSecret))
	_, err = s.RedeemEnrollment(ctx, oldSecret, store.DoorKey{KeySHA256: keyHash("k3"), EnrolledMs: now + 5000})
	requireKind(t, err, store.ErrTokenExpired, "token")

	// A second enrollment of the door replaces its key.
	again := store.EnrollmentToken{ID: "e4", Door: "d1", CreatedBy: "t2", CreatedMs: now, ExpiresMs: now + 60_000}
	againSecret := store.NewSecret("swce_")
	require.NoError(t, s.CreateEnrollmentToken(ctx, again, againSecret))
	k4 := store.DoorKey{KeySHA256: keyHash("k4"), EnrolledMs: now + 59_999}
	_, err = s.RedeemEnrollment(ctx, againSecret, k4)
	require.NoError(t, err)
	key, err = s.DoorKey(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, k4.KeySHA256, key.KeySHA256)
	require.Empty(t, e.rec.take(), "enrollment is not a domain change")

	// Deleting the door removes its tokens and key.
	pending := store.NewSecret("swce_")
	require.NoError(t, s.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "e5", Door: "d1", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + 60_000}, pending))
	require.NoError(t, s.DeleteDoor(ctx, "d1"))
	_, err = s.DoorKey(ctx, "d1")
	requireKind(t, err, store.ErrNotFound, "")
	_, err = s.RedeemEnrollment(ctx, pending, k4)
	requireKind(t, err, store.ErrBadCredentials, "token")
}

// testEnrollmentConcurrent: of many simultaneous redemptions of one token,
// exactly one succeeds.
func testEnrollmentConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	now := base().UnixMilli()
	secret := store.NewSecret("swce_")
	require.NoError(t, s.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "e1", Door: "d1", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + 60_000}, secret))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RedeemEnrollment(ctx, secret, store.DoorKey{KeySHA256: keyHash(string(rune('a' + i))), EnrolledMs: now + 1})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		requireKind(t, err, store.ErrTokenUsed, "token")
	}
	require.Equal(t, 1, ok, "redemptions that succeeded")
}
