package storetest

import (
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
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

// testCenterDeletion: deleting a center revokes the API tokens bound to
// it (a technician of several centers keeps the others), and its id is
// never given to another center: the tokens, events and hours that named
// the old center must not become the new one's.
func testCenterDeletion(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.CreateCenter(ctx, center("c3")))
	tokens := []store.Token{
		{ID: "admin", Name: "a", Role: store.RoleAdmin, CreatedMs: 1},
		{ID: "mgr3", Name: "m", Role: store.RoleManager, Centers: []string{"c3"}, CreatedMs: 2},
		{ID: "mgr1", Name: "m", Role: store.RoleManager, Centers: []string{"c1"}, CreatedMs: 3},
		{ID: "tech3", Name: "t", Role: store.RoleTechnician, Centers: []string{"c3"}, CreatedMs: 4},
		{ID: "tech13", Name: "t", Role: store.RoleTechnician, Centers: []string{"c1", "c3", "c2"}, CreatedMs: 5},
	}
	secrets := map[string]string{}
	for _, tk := range tokens {
		secrets[tk.ID] = store.NewSecret("swct_")
		require.NoError(t, s.CreateToken(ctx, tk, secrets[tk.ID]))
	}
	e.rec.take()

	require.NoError(t, s.DeleteCenter(ctx, "c3"))
	for _, gone := range []string{"mgr3", "tech3"} {
		_, err := s.AuthenticateToken(ctx, secrets[gone])
		requireKind(t, err, store.ErrBadCredentials, "")
	}
	for _, kept := range []string{"admin", "mgr1"} {
		_, err := s.AuthenticateToken(ctx, secrets[kept])
		require.NoError(t, err, kept)
	}
	tk, err := s.AuthenticateToken(ctx, secrets["tech13"])
	require.NoError(t, err)
	require.Equal(t, []string{"c1", "c2"}, tk.Centers, "the technician keeps their other centers")
	page, err := s.ListTokens(ctx, store.TokenFilter{})
	require.NoError(t, err)
	ids := []string{}
	for _, tk := range page.Items {
		ids = append(ids, tk.ID)
		require.NotContains(t, tk.Centers, "c3")
	}
	require.Equal(t, []string{"admin", "mgr1", "tech13"}, ids)

	// The id stays retired: a new center cannot take it, nor can a token
	// name it.
	requireKind(t, s.CreateCenter(ctx, center("c3")), store.ErrRetired, "id")
	_, err = s.Center(ctx, "c3")
	requireKind(t, err, store.ErrNotFound, "")
	requireKind(t, s.CreateToken(ctx, store.Token{ID: "mgr3b", Name: "m", Role: store.RoleManager, Centers: []string{"c3"}}, store.NewSecret("swct_")), store.ErrMissingRef, "centers[0]")
	_, err = s.AuthenticateToken(ctx, secrets["mgr3"])
	requireKind(t, err, store.ErrBadCredentials, "")
	// Other ids are as free as before.
	require.NoError(t, s.CreateCenter(ctx, center("c4")))
}

// testBadgeAddedBy: a badge keeps the API token that added it through
// updates, and lists filter by it.
func testBadgeAddedBy(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	byTech := domain.Badge{UID: "0A0B0C0D", MemberID: "m1", AddedBy: "tech1"}
	require.NoError(t, s.CreateBadge(ctx, byTech))
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "0A0B0C0E", MemberID: "m1"}))
	requireKind(t, s.CreateBadge(ctx, domain.Badge{UID: "0A0B0C0F", MemberID: "m1", AddedBy: "not an id"}), domain.ErrValidation, "added_by")
	got, err := s.Badge(ctx, byTech.UID)
	require.NoError(t, err)
	require.Equal(t, byTech, got)

	require.NoError(t, s.UpdateBadge(ctx, domain.Badge{UID: byTech.UID, MemberID: "m1", Revoked: true}))
	got, err = s.Badge(ctx, byTech.UID)
	require.NoError(t, err)
	require.Equal(t, domain.Badge{UID: byTech.UID, MemberID: "m1", Revoked: true, AddedBy: "tech1"}, got, "an update keeps who added it")

	page, err := s.ListBadges(ctx, store.BadgeFilter{AddedBy: "tech1"})
	require.NoError(t, err)
	require.Equal(t, []domain.Badge{got}, page.Items)
	page, err = s.ListBadges(ctx, store.BadgeFilter{AddedBy: "tech1", HomeCenterIDs: []string{"c2"}})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	page, err = s.ListBadges(ctx, store.BadgeFilter{})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
}
