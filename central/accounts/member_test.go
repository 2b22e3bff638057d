package accounts_test

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/metrics"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	st    store.Store
	srv   *mailtest.Server
	ob    *mail.Outbox
	m     *accounts.Members
	clock *clock
	reg   *metrics.Registry
}

func openSQLite(t *testing.T) store.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) store.Store {
	s, err := postgres.Open(context.Background(), storetest.PostgresSchema(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// newFixture: a store with members ann (active, home c1), sus
// (suspended), a real SMTP server and its outbox.
func newFixture(t *testing.T, st store.Store, withMail bool) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: st, clock: &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}, reg: metrics.NewRegistry()}
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Liège", TimeZone: "Europe/Brussels"}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "ann", Name: "Ann Peeters", Email: "Ann.Peeters@Example.org", HomeCenterID: "c1", Status: domain.MemberActive}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "sus", Name: "Sus", Email: "sus@example.org", Status: domain.MemberSuspended}))
	cfg := accounts.MemberConfig{Store: st, PublicURL: "http://localhost:8080", Now: f.clock.Now, Metrics: f.reg}
	if withMail {
		f.srv = mailtest.Start(t, mailtest.Options{})
		ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: f.srv.Config("Smart Work Centers <noreply@example.org>"), Store: st.Outbox(),
			Now: f.clock.Now, Metrics: f.reg, Owner: "test"})
		require.NoError(t, err)
		f.ob, cfg.Mail = ob, ob
	}
	m, err := accounts.NewMembers(cfg)
	require.NoError(t, err)
	f.m = m
	return f
}

var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// deliver flushes the outbox and returns the mails the SMTP server got.
func (f *fixture) deliver(t *testing.T) []mailtest.Message {
	t.Helper()
	_, err := f.ob.Flush(context.Background())
	require.NoError(t, err)
	return f.srv.Messages()
}

func (f *fixture) metric(t *testing.T, line string) bool {
	var b strings.Builder
	require.NoError(t, f.reg.WriteText(&b))
	return strings.Contains(b.String(), line)
}

// TestCodeSignIn: the code arrives by e-mail (through a real SMTP server)
// in the page's language, signs the member in once from the browser that
// asked, and only there.
func TestCodeSignIn(t *testing.T) {
	tests := []struct {
		lang, subject, greeting string
	}{
		{"fr-BE", "Votre code de connexion : ", "Bonjour Ann Peeters"},
		{"nl-BE", "Uw aanmeldcode: ", "Hallo Ann Peeters"},
		{"en", "Your sign-in code: ", "Hello Ann Peeters"},
	}
	for _, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, openSQLite(t), true)
			nonce, err := f.m.RequestCode(ctx, "  ann.peeters@EXAMPLE.org ", "192.0.2.7", tc.lang)
			require.NoError(t, err)
			got := f.deliver(t)
			require.Len(t, got, 1)
			require.Equal(t, []string{"ann.peeters@example.org"}, got[0].To)
			require.True(t, strings.HasPrefix(got[0].Subject, tc.subject), got[0].Subject)
			require.Contains(t, got[0].Text, tc.greeting)
			code := codeRE.FindString(got[0].Text)
			require.NotEmpty(t, code, got[0].Text)

			_, err = f.m.VerifyCode(ctx, store.NewSecret(""), code, "192.0.2.7")
			require.ErrorIs(t, err, accounts.ErrCodeDead, "another browser's nonce")
			m, err := f.m.VerifyCode(ctx, nonce, code[:3]+" "+code[3:], "192.0.2.7")
			require.NoError(t, err)
			require.Equal(t, "ann", m.ID)
			_, err = f.m.VerifyCode(ctx, nonce, code, "192.0.2.7")
			require.ErrorIs(t, err, accounts.ErrCodeDead, "single use")
			require.True(t, f.metric(t, `swc_member_signins_total{method="code",result="ok"} 1`))
			require.True(t, f.metric(t, `swc_member_code_requests_total{result="sent"} 1`))
		})
	}
}

// TestCodeAttemptsAndExpiry: five wrong codes kill the code (the right
// one then fails too); a code expires after ten minutes; input that is no
// code names the field.
func TestCodeAttemptsAndExpiry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, openSQLite(t), true)
	nonce, err := f.m.RequestCode(ctx, "ann.peeters@example.org", "192.0.2.7", "en")
	require.NoError(t, err)
	code := codeRE.FindString(f.deliver(t)[0].Text)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for left := 4; left >= 1; left-- {
		_, err := f.m.VerifyCode(ctx, nonce, wrong, "192.0.2.7")
		var we *accounts.WrongCodeError
		require.ErrorAs(t, err, &we)
		require.Equal(t, left, we.Left)
	}
	_, err = f.m.VerifyCode(ctx, nonce, wrong, "192.0.2.7")
	require.ErrorIs(t, err, accounts.ErrCodeDead, "the fifth wrong code kills it")
	_, err = f.m.VerifyCode(ctx, nonce, code, "192.0.2.7")
	require.ErrorIs(t, err, accounts.ErrCodeDead)

	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		_, err := f.m.VerifyCode(ctx, nonce, bad, "192.0.2.7")
		var fe *domain.FieldError
		require.ErrorAs(t, err, &fe, bad)
		require.Equal(t, "code", fe.Field)
	}

	nonce, err = f.m.RequestCode(ctx, "ann.peeters@example.org", "192.0.2.7", "en")
	require.NoError(t, err)
	msgs := f.deliver(t)
	code = codeRE.FindString(msgs[len(msgs)-1].Text)
	f.clock.Add(accounts.CodeTTL)
	_, err = f.m.VerifyCode(ctx, nonce, code, "192.0.2.7")
	require.ErrorIs(t, err, accounts.ErrCodeDead, "expired")
}

// TestNoEnumeration: an unknown or suspended address gets the answer a
// member gets (a nonce, then "wrong code" for any code), and no mail.
func TestNoEnumeration(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, openSQLite(t), true)
	for _, addr := range []string{"nobody@example.org", "sus@example.org"} {
		nonce, err := f.m.RequestCode(ctx, addr, "192.0.2.7", "en")
		require.NoError(t, err, addr)
		require.Len(t, nonce, 43)
		_, err = f.m.VerifyCode(ctx, nonce, "123456", "192.0.2.7")
		var we *accounts.WrongCodeError
		require.ErrorAs(t, err, &we, addr)
		require.Equal(t, 4, we.Left)
	}
	require.Empty(t, f.deliver(t))
	require.True(t, f.metric(t, `swc_member_code_requests_total{result="no_member"} 2`))

	_, err := f.m.RequestCode(ctx, "not an address", "192.0.2.7", "en")
	var fe *domain.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "email", fe.Field)
}

// TestMailDisabled: without a relay no code is asked for.
func TestMailDisabled(t *testing.T) {
	f := newFixture(t, openSQLite(t), false)
	require.False(t, f.m.MailEnabled())
	_, err := f.m.RequestCode(context.Background(), "ann.peeters@example.org", "192.0.2.7", "en")
	require.ErrorIs(t, err, accounts.ErrMailDisabled)
}

// TestRateLimits runs on both stores: code requests per address (5 an
// hour) and per client (20 an hour), wrong codes per address, and the next
// window starting afresh. Two Members on one store (two replicas) share
// the counts.
func TestRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(*testing.T) store.Store
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, tc.open(t), true)
			other, err := accounts.NewMembers(accounts.MemberConfig{Store: f.st, Mail: f.ob, PublicURL: "http://localhost:8080", Now: f.clock.Now})
			require.NoError(t, err)
			replicas := []*accounts.Members{f.m, other}

			for i := range 5 {
				_, err := replicas[i%2].RequestCode(ctx, "ann.peeters@example.org", "192.0.2.1", "en")
				require.NoError(t, err, i)
			}
			_, err = f.m.RequestCode(ctx, "ANN.peeters@example.org", "192.0.2.99", "en")
			require.ErrorIs(t, err, accounts.ErrRateLimited, "sixth code for the address, from any client")
			require.Len(t, f.deliver(t), 5)

			for i := range 20 {
				_, err := replicas[i%2].RequestCode(ctx, "x"+string(rune('a'+i))+"@example.org", "192.0.2.2", "en")
				require.NoError(t, err, i)
			}
			_, err = f.m.RequestCode(ctx, "fresh@example.org", "192.0.2.2", "en")
			require.ErrorIs(t, err, accounts.ErrRateLimited, "21st request from the client")
			_, err = other.RequestCode(ctx, "fresh@example.org", "192.0.2.3", "en")
			require.NoError(t, err, "another client")

			// Wrong codes per address: 10 an hour, over several codes.
			f.clock.Add(time.Hour)
			var last error
			for range 3 {
				nonce, err := f.m.RequestCode(ctx, "ann.peeters@example.org", "192.0.2.4", "en")
				require.NoError(t, err)
				for range 4 {
					_, last = f.m.VerifyCode(ctx, nonce, "999999", "192.0.2.4")
					if errors.Is(last, accounts.ErrRateLimited) {
						break
					}
				}
			}
			require.ErrorIs(t, last, accounts.ErrRateLimited, "the eleventh wrong code for the address")
			require.True(t, f.metric(t, `swc_member_rate_limited_total{limit="signin-address"} 1`))
			require.True(t, f.metric(t, `swc_member_rate_limited_total{limit="code-address"} 1`))
			require.True(t, f.metric(t, `swc_member_rate_limited_total{limit="code-client"} 1`))

			f.clock.Add(time.Hour)
			_, err = f.m.RequestCode(ctx, "ann.peeters@example.org", "192.0.2.1", "en")
			require.NoError(t, err, "a new window")

			// Sign-in failures per client: successes are free (members behind
			// a center's one address), failures count, and past the limit
			// even the right code is refused from that client.
			f.clock.Add(time.Hour)
			tight, err := accounts.NewMembers(accounts.MemberConfig{Store: f.st, Mail: f.ob, PublicURL: "http://localhost:8080", Now: f.clock.Now,
				Limits: accounts.Limits{AttemptsPerClient: 2, CodesPerAddress: 100}})
			require.NoError(t, err)
			signIn := func(client string) error {
				nonce, err := tight.RequestCode(ctx, "ann.peeters@example.org", client, "en")
				require.NoError(t, err)
				msgs := f.deliver(t)
				_, err = tight.VerifyCode(ctx, nonce, codeRE.FindString(msgs[len(msgs)-1].Text), client)
				return err
			}
			for range 3 {
				require.NoError(t, signIn("192.0.2.5"), "successes are not counted")
			}
			for range 2 {
				_, err := tight.VerifyCode(ctx, store.NewSecret(""), "123456", "192.0.2.5")
				require.ErrorIs(t, err, accounts.ErrCodeDead)
			}
			require.ErrorIs(t, signIn("192.0.2.5"), accounts.ErrRateLimited, "two failures from the client")
			require.NoError(t, signIn("192.0.2.6"), "another client")
		})
	}
}

// TestPasskeyRefusals: a ceremony is used once, and junk is refused
// without signing anyone in (the browser test signs in for real).
func TestPasskeyRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, openSQLite(t), false)
	opts, ceremony, err := f.m.BeginPasskeyLogin(ctx, "192.0.2.7")
	require.NoError(t, err)
	require.Contains(t, string(opts), `"challenge"`)
	require.Contains(t, string(opts), `"rpId":"localhost"`)
	_, err = f.m.FinishPasskeyLogin(ctx, ceremony, strings.NewReader(`{"id":"x"}`), "192.0.2.7")
	require.ErrorIs(t, err, accounts.ErrPasskeyRefused)
	_, err = f.m.FinishPasskeyLogin(ctx, ceremony, strings.NewReader(`{}`), "192.0.2.7")
	require.ErrorIs(t, err, accounts.ErrPasskeyRefused, "the ceremony was used")

	ann, err := f.st.Member(ctx, "ann")
	require.NoError(t, err)
	opts, ceremony, err = f.m.BeginPasskeyRegistration(ctx, ann)
	require.NoError(t, err)
	require.Contains(t, string(opts), `"residentKey":"required"`)
	sus, err := f.st.Member(ctx, "sus")
	require.NoError(t, err)
	_, err = f.m.FinishPasskeyRegistration(ctx, sus, ceremony, strings.NewReader(`{}`), "Phone")
	require.ErrorIs(t, err, accounts.ErrPasskeyRefused, "another member's ceremony")

	few, err := accounts.NewMembers(accounts.MemberConfig{Store: f.st, PublicURL: "http://localhost:8080", Now: f.clock.Now,
		Limits: accounts.Limits{CeremoniesPerClient: 2}})
	require.NoError(t, err)
	for range 2 {
		_, _, err = few.BeginPasskeyLogin(ctx, "192.0.2.8")
		require.NoError(t, err)
	}
	_, _, err = few.BeginPasskeyLogin(ctx, "192.0.2.8")
	require.ErrorIs(t, err, accounts.ErrRateLimited, "passkey ceremonies per client")

	_, err = accounts.NewMembers(accounts.MemberConfig{Store: f.st, PublicURL: "localhost"})
	require.Error(t, err)
	off, err := accounts.NewMembers(accounts.MemberConfig{Store: f.st})
	require.NoError(t, err)
	require.False(t, off.PasskeysEnabled())
	_, _, err = off.BeginPasskeyLogin(ctx, "192.0.2.7")
	require.ErrorIs(t, err, accounts.ErrPasskeysDisabled)
}
