package storetest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

func staffAccount(id, email string, role store.Role, centers ...string) store.StaffAccount {
	now := base().UnixMilli()
	return store.StaffAccount{ID: id, Email: email, Name: "Staff " + id, Role: role, Centers: centers, Status: store.AccountInvited, CreatedMs: now, UpdatedMs: now}
}

// testStaffAccounts: accounts are created, found by e-mail, listed by
// center, and validated; secrets are kept but not listed; an account
// becomes active with a password and a confirmed TOTP; disabling or a new
// password ends its sessions.
func testStaffAccounts(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	as := s.StaffAccounts()
	require.NoError(t, as.CreateAccount(ctx, staffAccount("a1", "ann@example.org", store.RoleAdmin)))
	require.NoError(t, as.CreateAccount(ctx, staffAccount("a2", "bob@example.org", store.RoleManager, "c1")))
	require.NoError(t, as.CreateAccount(ctx, staffAccount("a3", "cy@example.org", store.RoleTechnician, "c1", "c2")))

	for _, c := range []struct {
		name  string
		a     store.StaffAccount
		kind  error
		field string
	}{
		{"same id", staffAccount("a1", "new@example.org", store.RoleAdmin), store.ErrExists, "id"},
		{"same e-mail", staffAccount("a9", "ann@example.org", store.RoleAdmin), store.ErrExists, "email"},
		{"upper-case e-mail", staffAccount("a9", "Ann@example.org", store.RoleAdmin), domain.ErrValidation, "email"},
		{"no @", staffAccount("a9", "ann.example.org", store.RoleAdmin), domain.ErrValidation, "email"},
		{"manager without center", staffAccount("a9", "x@example.org", store.RoleManager), domain.ErrValidation, "centers"},
		{"admin with center", staffAccount("a9", "x@example.org", store.RoleAdmin, "c1"), domain.ErrValidation, "centers"},
		{"unknown role", staffAccount("a9", "x@example.org", "boss"), domain.ErrValidation, "role"},
		{"missing center", staffAccount("a9", "x@example.org", store.RoleManager, "zz"), store.ErrMissingRef, "centers[0]"},
		{"active without secrets", func() store.StaffAccount {
			a := staffAccount("a9", "x@example.org", store.RoleAdmin)
			a.Status = store.AccountActive
			return a
		}(), domain.ErrValidation, "status"},
	} {
		requireKind(t, as.CreateAccount(ctx, c.a), c.kind, c.field)
	}

	got, err := as.AccountByEmail(ctx, "bob@example.org")
	require.NoError(t, err)
	require.Equal(t, staffAccount("a2", "bob@example.org", store.RoleManager, "c1"), got)
	_, err = as.Account(ctx, "zz")
	requireKind(t, err, store.ErrNotFound, "")

	page, err := as.ListAccounts(ctx, store.AccountFilter{CenterIDs: []string{"c2"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, "a3", page.Items[0].ID)
	page, err = as.ListAccounts(ctx, store.AccountFilter{CenterIDs: []string{"c1"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	page, err = as.ListAccounts(ctx, store.AccountFilter{})
	require.NoError(t, err)
	require.Len(t, page.Items, 3)

	// Enrolment: password, then a confirmed TOTP makes the account active.
	require.NoError(t, as.SetPassword(ctx, "a2", "$argon2id$hash"))
	require.NoError(t, as.SetTOTP(ctx, "a2", "SECRETSECRET", false, nil))
	got, err = as.Account(ctx, "a2")
	require.NoError(t, err)
	require.Equal(t, store.AccountInvited, got.Status)
	require.NoError(t, as.SetTOTP(ctx, "a2", "SECRETSECRET", true, []string{"h1", "h2"}))
	got, err = as.Account(ctx, "a2")
	require.NoError(t, err)
	require.Equal(t, store.AccountActive, got.Status)
	require.Equal(t, "$argon2id$hash", got.PasswordHash)
	require.Equal(t, "SECRETSECRET", got.TOTPSecret)
	require.True(t, got.TOTPConfirmed)
	require.Equal(t, []string{"h1", "h2"}, got.RecoveryHashes)
	page, err = as.ListAccounts(ctx, store.AccountFilter{Status: store.AccountActive})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Empty(t, page.Items[0].PasswordHash, "lists carry no secrets")
	require.Empty(t, page.Items[0].TOTPSecret)
	require.Empty(t, page.Items[0].RecoveryHashes)

	// Recovery codes are spent once.
	require.NoError(t, as.UseRecoveryCode(ctx, "a2", "h1"))
	requireKind(t, as.UseRecoveryCode(ctx, "a2", "h1"), store.ErrBadCredentials, "code")
	requireKind(t, as.UseRecoveryCode(ctx, "a2", ""), store.ErrBadCredentials, "code")

	// The replay guard: a step is accepted once, and never an older one.
	require.NoError(t, as.UseTOTPStep(ctx, "a2", 1000))
	requireKind(t, as.UseTOTPStep(ctx, "a2", 1000), store.ErrStale, "code")
	requireKind(t, as.UseTOTPStep(ctx, "a2", 999), store.ErrStale, "code")
	require.NoError(t, as.UseTOTPStep(ctx, "a2", 1001))

	// Sessions end on a new password and on disabling.
	sess := func() string {
		id := store.NewSecret("")
		now := base().UnixMilli()
		require.NoError(t, s.Sessions().CreateSession(ctx, id, store.Session{SubjectKind: store.SubjectStaff, SubjectID: "a2", CSRF: store.NewSecret(""),
			CreatedMs: now, LastSeenMs: now, IdleMs: 3_600_000, ExpiresMs: now + 3_600_000}))
		return id
	}
	live := func(id string) bool {
		_, err := s.Sessions().PeekSession(ctx, id, base().UnixMilli()+1)
		return err == nil
	}
	id := sess()
	require.True(t, live(id))
	require.NoError(t, as.SetPassword(ctx, "a2", "$argon2id$other"))
	require.False(t, live(id), "a new password ends the sessions")
	id = sess()
	got.Status = store.AccountDisabled
	require.NoError(t, as.UpdateAccount(ctx, got))
	require.False(t, live(id), "disabling ends the sessions")
	got, err = as.Account(ctx, "a2")
	require.NoError(t, err)
	require.Equal(t, store.AccountDisabled, got.Status)
	require.Equal(t, "$argon2id$other", got.PasswordHash, "an update keeps the secrets")
	requireKind(t, as.UpdateAccount(ctx, staffAccount("zz", "z@example.org", store.RoleAdmin)), store.ErrNotFound, "")
	bad := got
	bad.Role = store.RoleManager
	bad.Centers = nil
	requireKind(t, as.UpdateAccount(ctx, bad), domain.ErrValidation, "centers")
}

// testStaffAccountTokens: one-time links are checked without being spent,
// spent once, refused after their expiry or for another purpose.
func testStaffAccountTokens(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	as := s.StaffAccounts()
	require.NoError(t, as.CreateAccount(ctx, staffAccount("a1", "ann@example.org", store.RoleAdmin)))
	now := base().UnixMilli()
	secret := store.NewSecret("swci_")
	tk := store.StaffAccountToken{AccountID: "a1", Purpose: store.PurposeInvite, CreatedMs: now, ExpiresMs: now + 1000}
	require.NoError(t, as.CreateAccountToken(ctx, tk, secret))
	requireKind(t, as.CreateAccountToken(ctx, store.StaffAccountToken{AccountID: "zz", Purpose: store.PurposeInvite, CreatedMs: now, ExpiresMs: now + 1}, store.NewSecret("")), store.ErrMissingRef, "account_id")
	requireKind(t, as.CreateAccountToken(ctx, store.StaffAccountToken{AccountID: "a1", Purpose: "other", CreatedMs: now, ExpiresMs: now + 1}, store.NewSecret("")), domain.ErrValidation, "purpose")
	requireKind(t, as.CreateAccountToken(ctx, tk, "short"), domain.ErrValidation, "secret")

	got, err := as.CheckAccountToken(ctx, store.PurposeInvite, secret, now+999)
	require.NoError(t, err)
	require.Equal(t, tk, got)
	_, err = as.CheckAccountToken(ctx, store.PurposeInvite, secret, now+1000)
	requireKind(t, err, store.ErrTokenExpired, "token")
	_, err = as.CheckAccountToken(ctx, store.PurposeReset, secret, now)
	requireKind(t, err, store.ErrBadCredentials, "token")
	_, err = as.CheckAccountToken(ctx, store.PurposeInvite, store.HashSecret(secret), now)
	requireKind(t, err, store.ErrBadCredentials, "token")

	// Spent by exactly one of several concurrent callers.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := as.SpendAccountToken(context.Background(), store.PurposeInvite, secret, now+1); err == nil {
				ok.Add(1)
			} else {
				requireKind(t, err, store.ErrBadCredentials, "token")
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int32(1), ok.Load())
	_, err = as.CheckAccountToken(ctx, store.PurposeInvite, secret, now+1)
	requireKind(t, err, store.ErrBadCredentials, "token")

	// A new token purges the expired ones.
	old := store.NewSecret("swcr_")
	require.NoError(t, as.CreateAccountToken(ctx, store.StaffAccountToken{AccountID: "a1", Purpose: store.PurposeReset, CreatedMs: now, ExpiresMs: now + 10}, old))
	require.NoError(t, as.CreateAccountToken(ctx, store.StaffAccountToken{AccountID: "a1", Purpose: store.PurposeReset, CreatedMs: now + 20, ExpiresMs: now + 1000}, store.NewSecret("swcr_")))
	_, err = as.CheckAccountToken(ctx, store.PurposeReset, old, now)
	requireKind(t, err, store.ErrBadCredentials, "token")
}

// testSignInFailures: failures are counted per key within a window and
// cleared.
func testSignInFailures(e *env) {
	t, ctx, as := e.t, e.ctx, e.s.StaffAccounts()
	now := base().UnixMilli()
	require.NoError(t, as.RecordSignInFailure(ctx, []string{"account:a1", "ip:127.0.0.1"}, now))
	require.NoError(t, as.RecordSignInFailure(ctx, []string{"account:a1"}, now+1000))
	require.NoError(t, as.RecordSignInFailure(ctx, []string{"ip:127.0.0.1"}, now+2000))
	for _, c := range []struct {
		key   string
		since int64
		want  int
	}{
		{"account:a1", now, 2}, {"account:a1", now + 1, 1}, {"ip:127.0.0.1", now, 2}, {"ip:127.0.0.2", now, 0},
	} {
		n, err := as.SignInFailures(ctx, c.key, c.since)
		require.NoError(t, err)
		require.Equal(t, c.want, n, "%s since %d", c.key, c.since)
	}
	require.NoError(t, as.ClearSignInFailures(ctx, "account:a1"))
	n, err := as.SignInFailures(ctx, "account:a1", 0)
	require.NoError(t, err)
	require.Zero(t, n)
	requireKind(t, as.RecordSignInFailure(ctx, []string{""}, now), domain.ErrValidation, "key")

	// A day later, the old failures of every key are gone.
	require.NoError(t, as.RecordSignInFailure(ctx, []string{"account:a2"}, now+25*3600*1000))
	n, err = as.SignInFailures(ctx, "ip:127.0.0.1", 0)
	require.NoError(t, err)
	require.Zero(t, n, "purged")
}
