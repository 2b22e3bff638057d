package mail_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

func signInCode(to string) mail.Message {
	return mail.Message{To: to, Subject: "Uw aanmeldcode: 482 913", Text: "Uw code is 482 913. Hij is één kwartier geldig.\n"}
}

// TestRelayDownThenUp: a mail enqueued while the relay is down stays
// queued with the error and the attempt counted, and is delivered once the
// relay is back and the backoff has passed — not before.
func TestRelayDownThenUp(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mailtest.Options{TLS: true}, nil)
	f.srv.Stop()
	id, queued, err := f.ob.Enqueue(ctx, "signin:ann:1", signInCode("ann@example.org"))
	require.NoError(t, err)
	require.True(t, queued)

	res, err := f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Retried: 1}, res)
	m := f.status(t, id)
	require.Equal(t, store.MailQueued, m.Status)
	require.Equal(t, 1, m.Attempts)
	require.Contains(t, m.LastError, "connect to relay")
	require.Equal(t, f.clock.Now().Add(time.Minute).UnixMilli(), m.NextMs)
	require.Equal(t, "1", metric(t, f.reg, "swc_mail_queue_depth"))

	// Still down at the next attempt: the wait doubles.
	f.clock.Add(time.Minute)
	res, err = f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Retried: 1}, res)
	require.Equal(t, f.clock.Now().Add(2*time.Minute).UnixMilli(), f.status(t, id).NextMs)

	f.srv.Restart()
	f.clock.Add(time.Minute)
	res, err = f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{}, res, "attempted before its backoff ended")
	require.Empty(t, f.srv.Messages())

	f.clock.Add(time.Minute)
	res, err = f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Sent: 1}, res)
	got := f.srv.Messages()
	require.Len(t, got, 1)
	require.Equal(t, "Uw aanmeldcode: 482 913", got[0].Subject)
	m = f.status(t, id)
	require.Equal(t, store.MailSent, m.Status)
	require.Equal(t, 3, m.Attempts)
	require.Equal(t, "2", metric(t, f.reg, "swc_mail_attempt_failures_total"))
	require.Equal(t, "1", metric(t, f.reg, "swc_mail_sent_total"))
	require.Equal(t, "0", metric(t, f.reg, "swc_mail_queue_depth"))
}

// TestNoDuplicateOnRestart: after a restart the same notice is not queued
// again, a delivered mail is not sent again, and a mail whose sender died
// mid-attempt is sent by another replica once the lease runs out, with the
// same Message-ID.
func TestNoDuplicateOnRestart(t *testing.T) {
	ctx := context.Background()
	srv := mailtest.Start(t, mailtest.Options{TLS: true, Username: "u", Password: "p"})
	path := filepath.Join(t.TempDir(), "swc.db")
	clk := &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	outbox := func(st store.Store, owner string) *mail.Outbox {
		ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: srv.Config(from), Store: st.Outbox(), Now: clk.Now, Owner: owner, Lease: 5 * time.Minute})
		require.NoError(t, err)
		return ob
	}

	st := openStore(t, path)
	ob := outbox(st, "a")
	id1, queued, err := ob.Enqueue(ctx, "booking:b1:confirmed:0", confirmation())
	require.NoError(t, err)
	require.True(t, queued)
	again, queued, err := ob.Enqueue(ctx, "booking:b1:confirmed:0", confirmation())
	require.NoError(t, err)
	require.False(t, queued)
	require.Equal(t, id1, again)
	res, err := ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Sent)

	// The second mail is claimed by replica a, which dies before sending.
	id2, _, err := ob.Enqueue(ctx, "noshow:b2", signInCode("bob@example.org"))
	require.NoError(t, err)
	claimed, err := st.Outbox().Claim(ctx, "a", clk.Now().UnixMilli(), clk.Now().Add(5*time.Minute).UnixMilli(), 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.NoError(t, st.Close())

	// Restart.
	st = openStore(t, path)
	ob = outbox(st, "b")
	id, queued, err := ob.Enqueue(ctx, "booking:b1:confirmed:0", confirmation())
	require.NoError(t, err)
	require.False(t, queued, "the same notice was queued again after a restart")
	require.Equal(t, id1, id)
	res, err = ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{}, res, "sent while another replica held the lease")
	clk.Add(5 * time.Minute)
	res, err = ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Sent: 1}, res)

	got := srv.Messages()
	require.Len(t, got, 2)
	require.Equal(t, "<"+id1+"@swc.example>", got[0].MessageID)
	require.Equal(t, "<"+id2+"@swc.example>", got[1].MessageID)
	require.Equal(t, []string{"bob@example.org"}, got[1].To)
}

// TestHeaderInjection: a line break in any header value is refused with
// the field named, and nothing is queued.
func TestHeaderInjection(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mailtest.Options{}, nil)
	for _, tc := range []struct {
		name, field string
		edit        func(m *mail.Message)
	}{
		{"to CRLF", "to", func(m *mail.Message) { m.To = "ann@example.org\r\nBcc: all@example.org" }},
		{"to LF", "to", func(m *mail.Message) { m.To = "Ann\n <ann@example.org>" }},
		{"subject CRLF", "subject", func(m *mail.Message) { m.Subject = "Hello\r\nBcc: all@example.org" }},
		{"subject CR", "subject", func(m *mail.Message) { m.Subject = "Hello\rX-Evil: 1" }},
		{"subject LF", "subject", func(m *mail.Message) { m.Subject = "Hello\nX-Evil: 1" }},
		{"subject NUL", "subject", func(m *mail.Message) { m.Subject = "Hello\x00" }},
		{"filename", "attachments[0].filename", func(m *mail.Message) { m.Attachments[0].Filename = "a.ics\r\nX-Evil: 1" }},
		{"content type", "attachments[0].content_type", func(m *mail.Message) {
			m.Attachments[0].ContentType = "text/calendar\r\nX-Evil: 1"
		}},
		{"no recipient", "to", func(m *mail.Message) { m.To = "" }},
		{"not an address", "to", func(m *mail.Message) { m.To = "ann at example" }},
		{"no subject", "subject", func(m *mail.Message) { m.Subject = "" }},
		{"no text", "text", func(m *mail.Message) { m.Text = "" }},
		{"bad UTF-8", "text", func(m *mail.Message) { m.Text = "\xff" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := confirmation()
			tc.edit(&m)
			_, _, err := f.ob.Enqueue(ctx, "k-"+tc.name, m)
			var fe *mail.FieldError
			require.True(t, errors.As(err, &fe), "error %v", err)
			require.Equal(t, tc.field, fe.Field, "error %v", err)
		})
	}
	_, _, err := f.ob.Enqueue(ctx, "", confirmation())
	require.Error(t, err)
	n, err := f.st.Outbox().Depth(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	res, err := f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{}, res)
	require.Empty(t, f.srv.Messages())
}

// TestSubjectRoundTrip: subjects in French, Dutch and plain ASCII come
// back unchanged from the parsed message, whatever their length.
func TestSubjectRoundTrip(t *testing.T) {
	addr, err := (&mail.Config{Host: "127.0.0.1", Security: mail.None, From: from}), error(nil)
	require.NoError(t, err)
	require.NoError(t, addr.Validate())
	for _, subject := range []string{
		"Booking confirmed",
		"Réservation confirmée",
		"Uw reservering is geannuleerd: één vergaderzaal, Gent, 9u–17u",
		"Rappel : votre réservation n’a pas été honorée — la salle « Écluse » est libérée",
		strings.Repeat("é", 300),
		"ASCII that looks encoded =?UTF-8?q?x?= stays as is",
		strings.TrimSpace(strings.Repeat("word ", 60)),
		"Ĳsselmeer ✓ 日本",
	} {
		raw, _, err := mail.Compose(addr.FromAddress(), "mail-x", time.Now(), mail.Message{To: "a@example.org", Subject: subject, Text: "x"})
		require.NoError(t, err)
		m, err := mailtest.Parse(raw)
		require.NoError(t, err)
		require.Equal(t, subject, m.Subject)
		head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
		for _, line := range strings.Split(head, "\r\n") {
			require.LessOrEqual(t, len(line), 78, "%q", line)
			for _, c := range []byte(line) {
				require.Less(t, c, byte(0x80), "not 7-bit: %q", line)
			}
		}
	}
}

// TestPermanentFailure: a recipient the relay refuses for good is given
// up at once, and its message emptied.
func TestPermanentFailure(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mailtest.Options{Reject: []string{"gone@example.org"}}, nil)
	id, _, err := f.ob.Enqueue(ctx, "k1", signInCode("gone@example.org"))
	require.NoError(t, err)
	res, err := f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Failed: 1}, res)
	m := f.status(t, id)
	require.Equal(t, store.MailFailed, m.Status)
	require.Contains(t, m.LastError, "550")
	require.Equal(t, "1", metric(t, f.reg, "swc_mail_failed_total"))
}

// TestGiveUpAfter: a mail the relay never took is given up once it is
// older than GiveUpAfter.
func TestGiveUpAfter(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mailtest.Options{}, func(c *mail.OutboxConfig) { c.GiveUpAfter = 3 * time.Hour })
	f.srv.Stop()
	id, _, err := f.ob.Enqueue(ctx, "k1", signInCode("ann@example.org"))
	require.NoError(t, err)
	var results []mail.FlushResult
	for range 6 {
		res, err := f.ob.Flush(ctx)
		require.NoError(t, err)
		results = append(results, res)
		f.clock.Add(time.Hour)
	}
	// Attempts at 0h, 1h (backoff 1m), 2h (2m), 3h: given up.
	require.Equal(t, []mail.FlushResult{{Retried: 1}, {Retried: 1}, {Retried: 1}, {Failed: 1}, {}, {}}, results)
	require.Equal(t, store.MailFailed, f.status(t, id).Status)
}

// TestStartTLSRequired: a relay that does not offer STARTTLS gets nothing
// under --smtp-security starttls (the mail waits).
func TestStartTLSRequired(t *testing.T) {
	ctx := context.Background()
	srv := mailtest.Start(t, mailtest.Options{})
	cfg := srv.Config(from)
	cfg.Security = mail.StartTLS
	st := openStore(t, filepath.Join(t.TempDir(), "swc.db"))
	ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: cfg, Store: st.Outbox()})
	require.NoError(t, err)
	id, _, err := ob.Enqueue(ctx, "k1", signInCode("ann@example.org"))
	require.NoError(t, err)
	res, err := ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Retried: 1}, res)
	m, err := st.Outbox().Get(ctx, id)
	require.NoError(t, err)
	require.Contains(t, m.LastError, "STARTTLS")
	require.Empty(t, srv.Messages())
}

// TestImplicitTLS: port-465 style TLS from the first byte.
func TestImplicitTLS(t *testing.T) {
	ctx := context.Background()
	srv := mailtest.Start(t, mailtest.Options{ImplicitTLS: true, Username: "u", Password: "p"})
	st := openStore(t, filepath.Join(t.TempDir(), "swc.db"))
	ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: srv.Config(from), Store: st.Outbox()})
	require.NoError(t, err)
	_, _, err = ob.Enqueue(ctx, "k1", signInCode("ann@example.org"))
	require.NoError(t, err)
	res, err := ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Sent: 1}, res)
	require.True(t, srv.Messages()[0].TLS)
}

// TestRun: the loop delivers what is enqueued and stops with its context.
func TestRun(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: true})
	st := openStore(t, filepath.Join(t.TempDir(), "swc.db"))
	reg := metrics.NewRegistry()
	ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: srv.Config(from), Store: st.Outbox(), Metrics: reg, Poll: time.Hour})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ob.Run(ctx) }()
	for i, to := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		_, _, err := ob.Enqueue(ctx, "k"+string(rune('0'+i)), signInCode(to))
		require.NoError(t, err)
	}
	got := srv.Wait(t, 3)
	require.Len(t, got, 3)
	require.Eventually(t, func() bool {
		n, err := st.Outbox().Depth(context.Background())
		return err == nil && n == 0
	}, 10*time.Second, 5*time.Millisecond, "deliveries not recorded")
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, "3", metric(t, reg, "swc_mail_sent_total"))
}

func TestBackoff(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	st := openStore(t, filepath.Join(t.TempDir(), "swc.db"))
	ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: srv.Config(from), Store: st.Outbox()})
	require.NoError(t, err)
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {7, 32 * time.Minute}, {8, time.Hour}, {50, time.Hour}} {
		require.Equal(t, tc.want, ob.Backoff(tc.attempts), "attempts %d", tc.attempts)
	}
}

// TestPrepare: a row prepared for another store verb's transaction is
// delivered like an enqueued one once stored.
func TestPrepare(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mailtest.Options{}, nil)
	row, err := f.ob.Prepare("booking:b7:cancelled:2", signInCode("ann@example.org"))
	require.NoError(t, err)
	require.Equal(t, "ann@example.org", row.To)
	require.Equal(t, f.clock.Now().UnixMilli(), row.CreatedMs)
	_, err = f.st.Outbox().Enqueue(ctx, row)
	require.NoError(t, err)
	f.ob.Wake()
	res, err := f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Sent: 1}, res)
	require.Equal(t, "<"+row.ID+"@swc.example>", f.srv.Messages()[0].MessageID)

	_, err = f.ob.Prepare("k", mail.Message{To: "x@example.org\r\nBcc: y@example.org", Subject: "s", Text: "t"})
	require.Error(t, err)
	var off *mail.Outbox
	_, err = off.Prepare("k", signInCode("ann@example.org"))
	require.ErrorIs(t, err, mail.ErrDisabled)
}

// TestQueueOnly: a command-line tool's outbox only queues, with just a
// From address (no relay); it refuses to deliver, a bad From is refused
// naming --mail-from, and serve's outbox on the same store delivers what
// it queued, once.
func TestQueueOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mailtest.Options{}, nil)
	for _, bad := range []string{"", "nobody", "Ann <ann@>"} {
		_, err := mail.NewOutbox(mail.OutboxConfig{Mail: mail.Config{From: bad}, Store: f.st.Outbox(), QueueOnly: true})
		var fe *mail.FieldError
		require.ErrorAs(t, err, &fe, "%q", bad)
		require.Equal(t, "mail-from", fe.Field)
	}
	q, err := mail.NewOutbox(mail.OutboxConfig{Mail: mail.Config{From: from}, Store: f.st.Outbox(), QueueOnly: true, Now: f.clock.Now})
	require.NoError(t, err)
	id, queued, err := q.Enqueue(ctx, "invoice:swc:SWC-2026-000001", signInCode("ann@example.org"))
	require.NoError(t, err)
	require.True(t, queued)
	_, err = q.Flush(ctx)
	require.ErrorIs(t, err, mail.ErrQueueOnly)
	require.ErrorIs(t, q.Run(ctx), mail.ErrQueueOnly)
	require.Equal(t, store.MailQueued, f.status(t, id).Status)
	require.Empty(t, f.srv.Messages())

	_, queued, err = q.Enqueue(ctx, "invoice:swc:SWC-2026-000001", signInCode("ann@example.org"))
	require.NoError(t, err)
	require.False(t, queued, "the same key is queued once")
	res, err := f.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.FlushResult{Sent: 1}, res)
	require.Len(t, f.srv.Wait(t, 1), 1)
	require.Equal(t, store.MailSent, f.status(t, id).Status)
}
