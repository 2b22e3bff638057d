package accounts_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
)

// staffFixture: a SQLite store with centers c1 and c2, a real SMTP server and
// the accounts service over them, on a clock the test moves.
type staffFixture struct {
	t    *testing.T
	ctx  context.Context
	st   store.Store
	smtp *mailtest.Server
	ob   *mail.Outbox
	svc  *accounts.Service
	key  []byte
	now  time.Time
}

var admin = store.Token{ID: "tk-admin", Name: "Admin", Role: store.RoleAdmin}
var managerC1 = store.Token{ID: "tk-m1", Name: "Manager c1", Role: store.RoleManager, Centers: []string{"c1"}}

func newStaffFixture(t *testing.T) *staffFixture {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindAPIToken, ID: "tk-admin", Role: "admin"})
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	for _, c := range []string{"c1", "c2"} {
		require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: c, Name: "Gent " + c, TimeZone: "Europe/Brussels"}))
	}
	f := &staffFixture{t: t, ctx: ctx, st: st, smtp: mailtest.Start(t, mailtest.Options{}), now: time.Date(2026, 12, 7, 9, 0, 10, 0, time.UTC)}
	f.ob, err = mail.NewOutbox(mail.OutboxConfig{Mail: f.smtp.Config("console@swc.example"), Store: st.Outbox(), Now: f.clock})
	require.NoError(t, err)
	f.key, err = accounts.LoadOrCreateTOTPKey(filepath.Join(t.TempDir(), accounts.TOTPKeyFile))
	require.NoError(t, err)
	f.svc, err = accounts.NewService(accounts.Config{Store: st, Mail: f.ob, BaseURL: "https://central.example", Params: accounts.TestParams(), Now: f.clock, TOTPKey: f.key})
	require.NoError(t, err)
	return f
}

func (f *staffFixture) clock() time.Time { return f.now }

// code is the TOTP code of secret now.
func (f *staffFixture) code(secret string) string {
	c, err := accounts.TOTPCode(secret, f.now)
	require.NoError(f.t, err)
	return c
}

var linkRe = regexp.MustCompile(`https://central\.example(/(?:invite|reset)/[A-Za-z0-9_-]+)`)

// mailedLink delivers the outbox and returns the link in the n-th mail.
func (f *staffFixture) mailedLink(n int) string {
	_, err := f.ob.Flush(f.ctx)
	require.NoError(f.t, err)
	msgs := f.smtp.Wait(f.t, n)
	m := linkRe.FindStringSubmatch(msgs[n-1].Text)
	require.NotNil(f.t, m, "no link in %q", msgs[n-1].Text)
	return m[1]
}

const goodPassword = "correct ostrich paperclip 42"

// invited runs an invitation to its end and returns the account.
func (f *staffFixture) invited(email string, role store.Role, centers ...string) store.StaffAccount {
	f.t.Helper()
	_, _, err := f.svc.Invite(f.ctx, admin, accounts.Invitation{Email: email, Name: "Ann Peeters", Role: role, Centers: centers})
	require.NoError(f.t, err)
	link := f.mailedLink(len(f.smtp.Messages()) + 1)
	secret := link[len(accounts.InvitePath):]
	a, err := f.svc.OpenInvitation(f.ctx, secret)
	require.NoError(f.t, err)
	a, codes, err := f.svc.AcceptInvitation(f.ctx, secret, goodPassword, f.code(a.TOTPSecret))
	require.NoError(f.t, err)
	require.Len(f.t, codes, accounts.RecoveryCodes)
	return a
}

// TestInvitationToSignIn: an invitation mailed through the outbox leads to
// an active account, which signs in with password and TOTP; the link works
// once; the code used to enrol does not sign in again.
func TestInvitationToSignIn(t *testing.T) {
	f := newStaffFixture(t)
	a, link, err := f.svc.Invite(f.ctx, managerC1, accounts.Invitation{Email: " Ann@Example.ORG ", Name: "Ann Peeters", Role: store.RoleTechnician, Centers: []string{"c1"}})
	require.NoError(t, err)
	require.Equal(t, "ann@example.org", a.Email)
	require.Equal(t, store.AccountInvited, a.Status)
	path := f.mailedLink(1)
	require.Equal(t, "https://central.example"+path, link)
	secret := path[len(accounts.InvitePath):]

	opened, err := f.svc.OpenInvitation(f.ctx, secret)
	require.NoError(t, err)
	again, err := f.svc.OpenInvitation(f.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, opened.TOTPSecret, again.TOTPSecret, "the secret scanned stays the same on a second visit")
	png, err := f.svc.InvitationQR(f.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, []byte("\x89PNG"), png[:4])

	_, _, err = f.svc.AcceptInvitation(f.ctx, secret, "short", f.code(opened.TOTPSecret))
	require.ErrorIs(t, err, &accounts.PasswordError{Code: accounts.PwTooShort}, "%v", err)
	_, _, err = f.svc.AcceptInvitation(f.ctx, secret, goodPassword, "000000")
	require.ErrorIs(t, err, accounts.ErrBadCredentials)
	enrolCode := f.code(opened.TOTPSecret)
	acct, codes, err := f.svc.AcceptInvitation(f.ctx, secret, goodPassword, enrolCode)
	require.NoError(t, err)
	require.Equal(t, store.AccountActive, acct.Status)
	require.Len(t, codes, accounts.RecoveryCodes)
	_, _, err = f.svc.AcceptInvitation(f.ctx, secret, goodPassword, enrolCode)
	require.ErrorIs(t, err, accounts.ErrExpired, "the link works once")

	ticket, err := f.svc.SignIn(f.ctx, "ANN@example.org", goodPassword, "127.0.0.1")
	require.NoError(t, err)
	_, err = f.svc.SecondFactor(f.ctx, ticket, enrolCode, "127.0.0.1")
	require.ErrorIs(t, err, accounts.ErrBadCredentials, "the enrolment's code is spent")
	f.now = f.now.Add(30 * time.Second)
	got, err := f.svc.SecondFactor(f.ctx, ticket, f.code(acct.TOTPSecret), "127.0.0.1")
	require.NoError(t, err)
	require.Equal(t, acct.ID, got.ID)
	_, err = f.svc.SecondFactor(f.ctx, ticket, f.code(acct.TOTPSecret), "127.0.0.1")
	require.ErrorIs(t, err, accounts.ErrExpired, "a ticket signs in once")

	tk := accounts.Principal(got)
	require.Equal(t, "staff."+got.ID, tk.ID)
	require.Equal(t, store.RoleTechnician, tk.Role)
	require.Equal(t, []string{"c1"}, tk.Centers)
}

// TestTOTPReplayRefused: a code accepted once is refused again in its
// window, and so is an older one; a recovery code works once.
func TestTOTPReplayRefused(t *testing.T) {
	f := newStaffFixture(t)
	a := f.invited("ann@example.org", store.RoleAdmin)
	f.now = f.now.Add(60 * time.Second)
	code := f.code(a.TOTPSecret)
	ticket, err := f.svc.SignIn(f.ctx, a.Email, goodPassword, "127.0.0.1")
	require.NoError(t, err)
	_, err = f.svc.SecondFactor(f.ctx, ticket, code, "127.0.0.1")
	require.NoError(t, err)
	ticket, err = f.svc.SignIn(f.ctx, a.Email, goodPassword, "127.0.0.1")
	require.NoError(t, err)
	f.now = f.now.Add(10 * time.Second)
	_, err = f.svc.SecondFactor(f.ctx, ticket, code, "127.0.0.1")
	require.ErrorIs(t, err, accounts.ErrBadCredentials, "replayed within its window")

	codes, err := f.svc.RegenerateRecoveryCodes(f.ctx, a.ID)
	require.NoError(t, err)
	_, err = f.svc.SecondFactor(f.ctx, ticket, codes[0], "127.0.0.1")
	require.NoError(t, err)
	ticket, err = f.svc.SignIn(f.ctx, a.Email, goodPassword, "127.0.0.1")
	require.NoError(t, err)
	_, err = f.svc.SecondFactor(f.ctx, ticket, codes[0], "127.0.0.1")
	require.ErrorIs(t, err, accounts.ErrBadCredentials, "a recovery code works once")
}

// TestSignInRateLimited: after AccountFailures wrong passwords or codes the
// account is refused even with the right password, until the window has
// passed; an address is limited across accounts.
func TestSignInRateLimited(t *testing.T) {
	f := newStaffFixture(t)
	a := f.invited("ann@example.org", store.RoleAdmin)
	for range accounts.AccountFailures - 1 {
		_, err := f.svc.SignIn(f.ctx, a.Email, "wrong password here", "10.0.0.1")
		require.ErrorIs(t, err, accounts.ErrBadCredentials)
	}
	ticket, err := f.svc.SignIn(f.ctx, a.Email, goodPassword, "10.0.0.2")
	require.NoError(t, err)
	_, err = f.svc.SecondFactor(f.ctx, ticket, "123456", "10.0.0.2")
	require.ErrorIs(t, err, accounts.ErrBadCredentials, "a wrong code counts too")
	_, err = f.svc.SignIn(f.ctx, a.Email, goodPassword, "10.0.0.3")
	require.ErrorIs(t, err, accounts.ErrRateLimited)
	_, err = f.svc.SecondFactor(f.ctx, ticket, f.code(a.TOTPSecret), "10.0.0.3")
	require.ErrorIs(t, err, accounts.ErrRateLimited)

	f.now = f.now.Add(accounts.FailureWindow + time.Second)
	ticket, err = f.svc.SignIn(f.ctx, a.Email, goodPassword, "10.0.0.3")
	require.NoError(t, err, "the lock lifts when the failures age out")
	_, err = f.svc.SecondFactor(f.ctx, ticket, f.code(a.TOTPSecret), "10.0.0.3")
	require.NoError(t, err)

	for range accounts.AddressFailures {
		_, err := f.svc.SignIn(f.ctx, "nobody@example.org", "wrong password here", "10.0.0.9")
		require.ErrorIs(t, err, accounts.ErrBadCredentials, "unknown accounts answer like wrong passwords")
	}
	_, err = f.svc.SignIn(f.ctx, a.Email, goodPassword, "10.0.0.9")
	require.ErrorIs(t, err, accounts.ErrRateLimited, "the address is limited")
}

// TestResetRevokesSessionsAndKeepsTOTP: a reset by e-mail link ends the
// account's sessions, works once, and signing in still needs the code.
func TestResetRevokesSessionsAndKeepsTOTP(t *testing.T) {
	f := newStaffFixture(t)
	a := f.invited("ann@example.org", store.RoleManager, "c1")
	sess := store.NewSecret("")
	now := f.now.UnixMilli()
	require.NoError(t, f.st.Sessions().CreateSession(f.ctx, sess, store.Session{SubjectKind: store.SubjectStaff, SubjectID: a.ID, CSRF: store.NewSecret(""),
		CreatedMs: now, LastSeenMs: now, IdleMs: 3_600_000, ExpiresMs: now + 3_600_000}))

	_, err := f.svc.RequestReset(f.ctx, "nobody@example.org", "127.0.0.1")
	require.NoError(t, err, "the same answer for an unknown address")
	_, err = f.svc.RequestReset(f.ctx, "Ann@example.org", "127.0.0.1")
	require.NoError(t, err)
	path := f.mailedLink(2)
	secret := path[len(accounts.ResetPath):]
	_, err = f.svc.Reset(f.ctx, secret, "ann@example.org is me!")
	require.ErrorIs(t, err, &accounts.PasswordError{Code: accounts.PwContext})
	const newPassword = "a brand new long passphrase"
	_, err = f.svc.Reset(f.ctx, secret, newPassword)
	require.NoError(t, err)
	_, err = f.svc.Reset(f.ctx, secret, newPassword+"!")
	require.ErrorIs(t, err, accounts.ErrExpired, "the link works once")
	_, err = f.st.Sessions().PeekSession(f.ctx, sess, now+1)
	require.ErrorIs(t, err, store.ErrNotFound, "the reset ended the sessions")

	_, err = f.svc.SignIn(f.ctx, a.Email, goodPassword, "127.0.0.1")
	require.ErrorIs(t, err, accounts.ErrBadCredentials, "the old password is gone")
	ticket, err := f.svc.SignIn(f.ctx, a.Email, newPassword, "127.0.0.1")
	require.NoError(t, err)
	_, err = f.svc.SecondFactor(f.ctx, ticket, "", "127.0.0.1")
	require.ErrorIs(t, err, accounts.ErrBadCredentials, "the second factor is still required")
	f.now = f.now.Add(30 * time.Second)
	_, err = f.svc.SecondFactor(f.ctx, ticket, f.code(a.TOTPSecret), "127.0.0.1")
	require.NoError(t, err)

	f.now = f.now.Add(accounts.ResetTTL)
	_, err = f.svc.RequestReset(f.ctx, a.Email, "127.0.0.1")
	require.NoError(t, err)
	secret = f.mailedLink(3)[len(accounts.ResetPath):]
	for range accounts.ResetMails - 1 {
		link, err := f.svc.RequestReset(f.ctx, a.Email, "127.0.0.1")
		require.NoError(t, err)
		require.NotEmpty(t, link)
	}
	link, err := f.svc.RequestReset(f.ctx, a.Email, "127.0.0.1")
	require.NoError(t, err, "the same answer")
	require.Empty(t, link, "no more than ResetMails links an hour")
	f.now = f.now.Add(accounts.ResetTTL)
	_, err = f.svc.Reset(f.ctx, secret, newPassword+" again")
	require.ErrorIs(t, err, accounts.ErrExpired, "a reset link lasts an hour")
}

// TestManagerPower: a manager invites managers and technicians of their
// own center only; another center is answered as a missing one; a
// technician invites nobody; a manager sees and changes only their
// center's accounts; disabling ends sessions and sign-in.
func TestManagerPower(t *testing.T) {
	f := newStaffFixture(t)
	tech := store.Token{ID: "tk-t", Role: store.RoleTechnician, Centers: []string{"c1"}}
	for _, c := range []struct {
		name  string
		by    store.Token
		in    accounts.Invitation
		kind  error
		field string
	}{
		{"manager invites an admin", managerC1, accounts.Invitation{Email: "x@example.org", Name: "X", Role: store.RoleAdmin}, accounts.ErrForbidden, "role"},
		{"manager invites for another center", managerC1, accounts.Invitation{Email: "x@example.org", Name: "X", Role: store.RoleManager, Centers: []string{"c2"}}, store.ErrMissingRef, "centers[0]"},
		{"manager invites a technician of two centers", managerC1, accounts.Invitation{Email: "x@example.org", Name: "X", Role: store.RoleTechnician, Centers: []string{"c1", "c2"}}, store.ErrMissingRef, "centers[1]"},
		{"technician invites", tech, accounts.Invitation{Email: "x@example.org", Name: "X", Role: store.RoleTechnician, Centers: []string{"c1"}}, accounts.ErrForbidden, "role"},
		{"bad e-mail", admin, accounts.Invitation{Email: "not an address", Name: "X", Role: store.RoleAdmin}, domain.ErrValidation, "email"},
		{"admin invites for a missing center", admin, accounts.Invitation{Email: "x@example.org", Name: "X", Role: store.RoleManager, Centers: []string{"zz"}}, store.ErrMissingRef, "centers[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := f.svc.Invite(f.ctx, c.by, c.in)
			require.ErrorIs(t, err, c.kind, "%v", err)
			require.Contains(t, err.Error(), c.field)
		})
	}
	inC1 := f.invited("ann@example.org", store.RoleTechnician, "c1")
	inC2 := f.invited("bob@example.org", store.RoleManager, "c2")
	page, err := f.svc.List(f.ctx, managerC1, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, inC1.ID, page.Items[0].ID)
	require.Empty(t, page.Items[0].TOTPSecret)
	_, err = f.svc.Get(f.ctx, managerC1, inC2.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "another center's account is answered as missing")
	disabled := store.AccountDisabled
	_, err = f.svc.Update(f.ctx, managerC1, inC2.ID, accounts.Change{Status: &disabled})
	require.ErrorIs(t, err, store.ErrNotFound)
	adminRole := store.RoleAdmin
	_, err = f.svc.Update(f.ctx, managerC1, inC1.ID, accounts.Change{Role: &adminRole})
	require.ErrorIs(t, err, accounts.ErrForbidden)

	got, err := f.svc.Update(f.ctx, managerC1, inC1.ID, accounts.Change{Status: &disabled})
	require.NoError(t, err)
	require.Equal(t, store.AccountDisabled, got.Status)
	_, err = f.svc.SignIn(f.ctx, inC1.Email, goodPassword, "127.0.0.1")
	require.ErrorIs(t, err, accounts.ErrBadCredentials, "a disabled account cannot sign in")

	// The audit log has the changes with no secret.
	entries, err := f.st.ListAudit(f.ctx, store.AuditFilter{ObjectKind: "staff_account", ObjectID: inC1.ID})
	require.NoError(t, err)
	require.NotEmpty(t, entries.Items)
	full, err := f.st.StaffAccounts().Account(f.ctx, inC1.ID)
	require.NoError(t, err)
	for _, e := range entries.Items {
		require.NotContains(t, string(e.After)+string(e.Before), full.PasswordHash)
		require.NotContains(t, string(e.After)+string(e.Before), full.TOTPSecret)
	}
}

// TestCreateActive: the demo's account signs in with its known password
// and TOTP secret.
func TestCreateActive(t *testing.T) {
	f := newStaffFixture(t)
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	a, codes, err := f.svc.CreateActive(f.ctx, accounts.Invitation{Email: "admin@demo.example", Name: "Demo Admin", Role: store.RoleAdmin}, "brass lantern harbor 2026", secret)
	require.NoError(t, err)
	require.Len(t, codes, accounts.RecoveryCodes)
	require.Equal(t, store.AccountActive, a.Status)
	ticket, err := f.svc.SignIn(f.ctx, "admin@demo.example", "brass lantern harbor 2026", "127.0.0.1")
	require.NoError(t, err)
	_, err = f.svc.SecondFactor(f.ctx, ticket, f.code(secret), "127.0.0.1")
	require.NoError(t, err)
	_, _, err = f.svc.CreateActive(f.ctx, accounts.Invitation{Email: "x@demo.example", Name: "X", Role: store.RoleAdmin}, "password1234", "")
	require.ErrorIs(t, err, &accounts.PasswordError{Code: accounts.PwCommon})
}

// TestTOTPSecretsSealed: the store holds TOTP secrets encrypted; they open
// with the key only, and only for their own account; the key file is made
// once and read back.
func TestTOTPSecretsSealed(t *testing.T) {
	f := newStaffFixture(t)
	a := f.invited("ann@example.org", store.RoleAdmin)
	b := f.invited("bob@example.org", store.RoleAdmin)
	stored, err := f.st.StaffAccounts().Account(f.ctx, a.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stored.TOTPSecret, "enc1:"), stored.TOTPSecret)
	require.NotContains(t, stored.TOTPSecret, a.TOTPSecret)

	// Bob's sealed secret copied into Ann's row does not open for Ann.
	storedB, err := f.st.StaffAccounts().Account(f.ctx, b.ID)
	require.NoError(t, err)
	require.NoError(t, f.st.StaffAccounts().SetTOTP(f.ctx, a.ID, storedB.TOTPSecret, true, nil))
	f.now = f.now.Add(time.Minute)
	ticket, err := f.svc.SignIn(f.ctx, a.Email, goodPassword, "127.0.0.1")
	require.NoError(t, err)
	_, err = f.svc.SecondFactor(f.ctx, ticket, f.code(b.TOTPSecret), "127.0.0.1")
	require.ErrorContains(t, err, "does not open")

	// Without the key, a sealed secret is an error, not a silent pass.
	bare, err := accounts.NewService(accounts.Config{Store: f.st, Params: accounts.TestParams(), Now: f.clock})
	require.NoError(t, err)
	ticket, err = bare.SignIn(f.ctx, b.Email, goodPassword, "127.0.0.1")
	require.NoError(t, err)
	_, err = bare.SecondFactor(f.ctx, ticket, f.code(b.TOTPSecret), "127.0.0.1")
	require.ErrorContains(t, err, "no key")

	path := filepath.Join(t.TempDir(), accounts.TOTPKeyFile)
	k1, err := accounts.LoadOrCreateTOTPKey(path)
	require.NoError(t, err)
	k2, err := accounts.LoadOrCreateTOTPKey(path)
	require.NoError(t, err)
	require.Equal(t, k1, k2)
	require.Len(t, k1, 32)
	_, err = accounts.NewService(accounts.Config{Store: f.st, TOTPKey: []byte("short")})
	require.Error(t, err)
}
