package mail_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/metrics"
)

const from = "Smart Work Centers <noreply@swc.example>"

// clock is a time the test moves.
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

func openStore(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

type fixture struct {
	srv   *mailtest.Server
	st    store.Store
	ob    *mail.Outbox
	clock *clock
	reg   *metrics.Registry
}

func newFixture(t *testing.T, opts mailtest.Options, edit func(*mail.OutboxConfig)) *fixture {
	t.Helper()
	f := &fixture{srv: mailtest.Start(t, opts), clock: &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}, reg: metrics.NewRegistry()}
	f.st = openStore(t, filepath.Join(t.TempDir(), "swc.db"))
	cfg := mail.OutboxConfig{Mail: f.srv.Config(from), Store: f.st.Outbox(), Now: f.clock.Now, Metrics: f.reg, Owner: "replica-a",
		MinBackoff: time.Minute, MaxBackoff: time.Hour}
	if edit != nil {
		edit(&cfg)
	}
	ob, err := mail.NewOutbox(cfg)
	require.NoError(t, err)
	f.ob = ob
	return f
}

func (f *fixture) status(t *testing.T, id string) store.OutboxMail {
	t.Helper()
	m, err := f.st.Outbox().Get(context.Background(), id)
	require.NoError(t, err)
	return m
}

const ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"

func confirmation() mail.Message {
	return mail.Message{
		To:      "Anaïs Dupont <anais@example.org>",
		Subject: "Réservation confirmée : bureau à Liège, mardi 9 h – 17 h",
		Text:    "Bonjour Anaïs,\n\nVotre réservation est confirmée. Één bureau, één dag.\n.\nÀ bientôt !\n",
		HTML:    "<p>Bonjour Anaïs,</p><p>Votre réservation est confirmée.</p>",
		Attachments: []mail.Attachment{{Filename: "reservation.ics", ContentType: "text/calendar; method=REQUEST; charset=UTF-8",
			Data: []byte(ics)}},
	}
}

// TestSendStartTLSAuth: a confirmation with an HTML alternative and an
// .ics goes through STARTTLS and AUTH PLAIN, and arrives whole.
func TestSendStartTLSAuth(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mailtest.Options{TLS: true, Username: "swc-central", Password: "s3cret é"}, nil)
	id, queued, err := f.ob.Enqueue(ctx, "booking:b1:confirmed:0", confirmation())
	require.NoError(t, err)
	require.True(t, queued)
	res, err := f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Sent: 1}, res)

	got := f.srv.Messages()
	require.Len(t, got, 1)
	m := got[0]
	require.True(t, m.TLS, "sent before STARTTLS")
	require.Equal(t, "swc-central", m.AuthUser)
	require.Equal(t, "noreply@swc.example", m.From)
	require.Equal(t, []string{"anais@example.org"}, m.To)
	require.Equal(t, "<"+id+"@swc.example>", m.MessageID)
	require.Equal(t, confirmation().Subject, m.Subject)
	require.Equal(t, strings.ReplaceAll(confirmation().Text, "\n", "\r\n"), m.Text)
	require.Equal(t, confirmation().HTML+"\r\n", m.HTML)
	require.Equal(t, "1.0", m.Header.Get("MIME-Version"))
	require.Equal(t, "auto-generated", m.Header.Get("Auto-Submitted"))
	date, err := m.Header.Date()
	require.NoError(t, err)
	require.True(t, date.Equal(f.clock.Now()), "Date %v", date)
	to, err := m.Header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "Anaïs Dupont", to[0].Name)
	require.Len(t, m.Attachments, 1)
	a := m.Attachments[0]
	require.Equal(t, "reservation.ics", a.Filename)
	require.Equal(t, "text/calendar", a.MediaType)
	require.Equal(t, map[string]string{"method": "REQUEST", "charset": "UTF-8"}, a.Params)
	require.Equal(t, ics, string(a.Data))
	for i, line := range strings.Split(string(m.Raw), "\r\n") {
		require.LessOrEqual(t, len(line), 78, "line %d too long: %q", i+1, line)
		for _, c := range []byte(line) {
			require.Less(t, c, byte(0x80), "line %d is not 7-bit: %q", i+1, line)
		}
	}

	st := f.status(t, id)
	require.Equal(t, store.MailSent, st.Status)
	require.Equal(t, 1, st.Attempts)
	var stored int
	require.NoError(t, f.st.(*sqlite.Store).Writer().QueryRowContext(ctx, `SELECT length(message) FROM mail_outbox WHERE id = ?`, id).Scan(&stored))
	require.Zero(t, stored, "the delivered message (it may hold a sign-in code) is still stored")
	require.Equal(t, "1", metric(t, f.reg, "swc_mail_sent_total"))
	require.Equal(t, "0", metric(t, f.reg, "swc_mail_attempt_failures_total"))
}

// metric reads a metric's value from the registry's exposition.
func metric(t *testing.T, reg *metrics.Registry, name string) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, reg.WriteText(&b))
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("no metric %s in\n%s", name, b.String())
	return ""
}
