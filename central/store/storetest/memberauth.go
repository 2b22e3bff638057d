package storetest

import (
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The members' sign-in state (store.MemberAuthStore).

// testMemberByEmail: a member is found by address whatever its case; an
// unknown or empty address is not found.
func testMemberByEmail(e *env) {
	e.seed()
	t, ctx, s := e.t, e.ctx, e.s
	require.NoError(t, s.CreateMember(ctx, domain.Member{ID: "m9", Name: "Cleo", Email: "Cleo.Peeters@Example.org", Status: domain.MemberActive}))
	for _, q := range []string{"cleo.peeters@example.org", "CLEO.PEETERS@EXAMPLE.ORG", " Cleo.Peeters@Example.org "} {
		m, err := s.MemberAuth().MemberByEmail(ctx, q)
		require.NoError(t, err, q)
		require.Equal(t, "m9", m.ID)
	}
	for _, q := range []string{"", "cleo@example.org"} {
		_, err := s.MemberAuth().MemberByEmail(ctx, q)
		requireKind(t, err, store.ErrNotFound, "")
	}
}

// testSignInCodes: a code is used once; wrong codes count and the last
// allowed one kills the code; an expired code is gone; a code for an
// address with no member never signs in, even with the right code.
func testSignInCodes(e *env) {
	e.seed()
	t, ctx, ma := e.t, e.ctx, e.s.MemberAuth()
	now := base().UnixMilli()
	code := func(nonce, member string) store.SignInCode {
		return store.SignInCode{NonceHash: store.HashSecret(nonce), Email: "ann@example.org", MemberID: member,
			CodeHash: store.HashSecret("code-" + nonce), CreatedMs: now, ExpiresMs: now + 600_000}
	}
	tests := []struct {
		name  string
		nonce string
		tries []string // codes tried in order; "=" is the right one
		want  []error  // per try: nil, ErrBadCredentials or ErrNotFound
		left  []int
		at    int64
		mem   string
	}{
		{"right at once, then used", "n1", []string{"=", "="}, []error{nil, store.ErrNotFound}, []int{0, 0}, now + 1, "m1"},
		{"wrong then right", "n2", []string{"x", "=", "="}, []error{store.ErrBadCredentials, nil, store.ErrNotFound}, []int{4, 0, 0}, now + 1, "m1"},
		{"five wrong kill it", "n3", []string{"x", "x", "x", "x", "x", "="}, []error{store.ErrBadCredentials, store.ErrBadCredentials,
			store.ErrBadCredentials, store.ErrBadCredentials, store.ErrBadCredentials, store.ErrNotFound}, []int{4, 3, 2, 1, 0, 0}, now + 1, "m1"},
		{"expired", "n4", []string{"="}, []error{store.ErrNotFound}, []int{0}, now + 600_000, "m1"},
		{"no member", "n5", []string{"="}, []error{store.ErrBadCredentials}, []int{4}, now + 1, ""},
	}
	for _, tc := range tests {
		c := code(tc.nonce, tc.mem)
		require.NoError(t, ma.PutSignInCode(ctx, c), tc.name)
		for i, try := range tc.tries {
			h := store.HashSecret("wrong")
			if try == "=" {
				h = c.CodeHash
			}
			got, left, err := ma.TrySignInCode(ctx, c.NonceHash, h, tc.at, 5)
			if tc.want[i] == nil {
				require.NoError(t, err, "%s try %d", tc.name, i)
				require.Equal(t, tc.mem, got.MemberID, tc.name)
				require.Equal(t, "ann@example.org", got.Email, tc.name)
				continue
			}
			requireKind(t, err, tc.want[i], "code")
			require.Equal(t, tc.left[i], left, "%s try %d", tc.name, i)
		}
	}
	requireKind(t, ma.PutSignInCode(ctx, code("n5", "")), store.ErrExists, "nonce")
	bad := code("n6", "m1")
	bad.ExpiresMs = bad.CreatedMs
	requireKind(t, ma.PutSignInCode(ctx, bad), domain.ErrValidation, "expires_ms")
	n, err := ma.PurgeSignInCodes(ctx, now+600_000)
	require.NoError(t, err)
	require.Equal(t, 1, n) // n5 is still there; used and dead codes are gone
	n, err = ma.PurgeSignInCodes(ctx, now+600_000)
	require.NoError(t, err)
	require.Zero(t, n)
}

// testRateHits: counts per key and per window; a new window starts at 1;
// old windows are purged.
func testRateHits(e *env) {
	t, ctx, ma := e.t, e.ctx, e.s.MemberAuth()
	const hour = 3_600_000
	now := base().UnixMilli()
	for i := 1; i <= 3; i++ {
		n, err := ma.Hit(ctx, "code-addr:a", now+int64(i), hour)
		require.NoError(t, err)
		require.Equal(t, i, n)
	}
	n, err := ma.Hit(ctx, "code-addr:b", now, hour)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	peek, err := ma.Hits(ctx, "code-addr:a", now+5, hour)
	require.NoError(t, err)
	require.Equal(t, 3, peek, "Hits reads without counting")
	peek, err = ma.Hits(ctx, "code-addr:none", now, hour)
	require.NoError(t, err)
	require.Zero(t, peek)
	n, err = ma.Hit(ctx, "code-addr:a", now+hour, hour)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the next window starts again")
	_, err = ma.Hit(ctx, "", now, hour)
	requireKind(t, err, domain.ErrValidation, "key")
	purged, err := ma.PurgeHits(ctx, now+hour)
	require.NoError(t, err)
	require.Equal(t, 2, purged)
}

// testRateHitsConcurrent: concurrent hits (as from several replicas) are
// all counted.
func testRateHitsConcurrent(e *env) {
	t, ctx, ma := e.t, e.ctx, e.s.MemberAuth()
	now := base().UnixMilli()
	const n = 20
	var wg sync.WaitGroup
	seen := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen[i], errs[i] = ma.Hit(ctx, "signin-ip:192.0.2.7", now, 3_600_000)
		}()
	}
	wg.Wait()
	got := map[int]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		got[seen[i]] = true
	}
	require.Len(t, got, n, "each hit saw its own count: %v", seen)
	last, err := ma.Hit(ctx, "signin-ip:192.0.2.7", now, 3_600_000)
	require.NoError(t, err)
	require.Equal(t, n+1, last)
}

// testPasskeys: several credentials per member, listed oldest first; a use
// updates the counter; a member removes only their own; deleting the
// member removes theirs.
func testPasskeys(e *env) {
	e.seed()
	t, ctx, ma := e.t, e.ctx, e.s.MemberAuth()
	now := base().UnixMilli()
	p1 := store.Passkey{ID: "cred-1", MemberID: "m1", Name: "Phone", Transports: "internal,hybrid", SignCount: 1, CreatedMs: now, Data: []byte(`{"a":1}`)}
	p2 := store.Passkey{ID: "cred-2", MemberID: "m1", Name: "Laptop", CreatedMs: now + 1, Data: []byte(`{"a":2}`)}
	require.NoError(t, ma.CreatePasskey(ctx, p1))
	require.NoError(t, ma.CreatePasskey(ctx, p2))
	requireKind(t, ma.CreatePasskey(ctx, p1), store.ErrExists, "id")
	requireKind(t, ma.CreatePasskey(ctx, store.Passkey{ID: "cred-3", MemberID: "zz", CreatedMs: now, Data: []byte("{}")}), store.ErrMissingRef, "member_id")
	requireKind(t, ma.CreatePasskey(ctx, store.Passkey{ID: "cred-3", MemberID: "m1", CreatedMs: now}), domain.ErrValidation, "data")

	list, err := ma.ListPasskeys(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, []store.Passkey{p1, p2}, list)

	require.NoError(t, ma.UsePasskey(ctx, "cred-1", 7, true, []byte(`{"a":3}`), now+5))
	got, err := ma.Passkey(ctx, "cred-1")
	require.NoError(t, err)
	require.Equal(t, uint32(7), got.SignCount)
	require.True(t, got.CloneWarning)
	require.Equal(t, now+5, got.LastUsedMs)
	require.JSONEq(t, `{"a":3}`, string(got.Data))
	requireKind(t, ma.UsePasskey(ctx, "nope", 1, false, []byte("{}"), now), store.ErrNotFound, "")

	requireKind(t, ma.DeletePasskey(ctx, "m2", "cred-1"), store.ErrNotFound, "") // not m2's
	require.NoError(t, ma.DeletePasskey(ctx, "m1", "cred-1"))
	_, err = ma.Passkey(ctx, "cred-1")
	requireKind(t, err, store.ErrNotFound, "")

	require.NoError(t, e.s.DeleteMember(ctx, "m1"))
	_, err = ma.Passkey(ctx, "cred-2")
	requireKind(t, err, store.ErrNotFound, "")
}

// testCeremonies: a ceremony is taken once, and not after it expired.
func testCeremonies(e *env) {
	t, ctx, ma := e.t, e.ctx, e.s.MemberAuth()
	now := base().UnixMilli()
	a, b := store.HashSecret("ceremony-a"), store.HashSecret("ceremony-b")
	require.NoError(t, ma.PutCeremony(ctx, a, []byte(`{"challenge":"x"}`), now, now+300_000))
	require.NoError(t, ma.PutCeremony(ctx, b, []byte(`{"challenge":"y"}`), now, now+300_000))
	requireKind(t, ma.PutCeremony(ctx, a, []byte(`{}`), now, now+300_000), store.ErrExists, "id")
	got, err := ma.TakeCeremony(ctx, a, now+1)
	require.NoError(t, err)
	require.JSONEq(t, `{"challenge":"x"}`, string(got))
	_, err = ma.TakeCeremony(ctx, a, now+1)
	requireKind(t, err, store.ErrNotFound, "")
	_, err = ma.TakeCeremony(ctx, b, now+300_000)
	requireKind(t, err, store.ErrNotFound, "")
	_, err = ma.TakeCeremony(ctx, b, now+1)
	requireKind(t, err, store.ErrNotFound, "") // an expired one is gone for good
}
