package mail_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/calendar"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/storetest"
)

// TestReplicasPostgres: three central replicas on one PostgreSQL database
// flush the same outbox at once; every mail arrives exactly once.
func TestReplicasPostgres(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresSchema(t)
	srv := mailtest.Start(t, mailtest.Options{TLS: true})
	const replicas, mails = 3, 30
	var outboxes []*mail.Outbox
	for i := range replicas {
		st, err := postgres.Open(ctx, url, store.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: srv.Config(from), Store: st.Outbox(), Owner: fmt.Sprintf("replica-%d", i), Batch: 4})
		require.NoError(t, err)
		outboxes = append(outboxes, ob)
	}
	for i := range mails {
		// Each notice enqueued by every replica: only one is queued.
		for _, ob := range outboxes {
			_, _, err := ob.Enqueue(ctx, fmt.Sprintf("notice-%d", i), signInCode(fmt.Sprintf("m%d@example.org", i)))
			require.NoError(t, err)
		}
	}
	var wg sync.WaitGroup
	results := make([]mail.FlushResult, replicas)
	errs := make([]error, replicas)
	for i, ob := range outboxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = ob.Flush(ctx)
		}()
	}
	wg.Wait()
	sent := 0
	for i := range outboxes {
		require.NoError(t, errs[i])
		sent += results[i].Sent
	}
	require.Equal(t, mails, sent)
	seen := map[string]int{}
	for _, m := range srv.Messages() {
		seen[m.To[0]]++
	}
	require.Len(t, seen, mails)
	for to, n := range seen {
		require.Equal(t, 1, n, to)
	}
}

// TestInvitationMail: a booking's .ics made by package calendar travels as
// the attachment, byte for byte, with its method in the content type.
func TestInvitationMail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mailtest.Options{TLS: true}, nil)
	start := time.Date(2026, 12, 8, 8, 0, 0, 0, time.UTC)
	ics, err := (&calendar.Calendar{Method: calendar.MethodRequest, Events: []calendar.Event{{
		UID: calendar.BookingUID("b42", "swc.example"), Stamp: f.clock.Now(), Start: start, End: start.Add(8 * time.Hour),
		Summary: "Bureau — Liège", Location: "Rue de l'Écluse 3, Liège",
		Organizer: &calendar.Person{Name: "Smart Work Centers", Email: "noreply@swc.example"},
		Attendee:  &calendar.Person{Name: "Anaïs Dupont", Email: "anais@example.org"},
	}}}).Encode()
	require.NoError(t, err)
	_, _, err = f.ob.Enqueue(ctx, "booking:b42:confirmed:0", mail.Message{To: "anais@example.org", Subject: "Réservation confirmée",
		Text:        "Mardi 8 décembre, 9 h – 17 h (heure de Bruxelles).",
		Attachments: []mail.Attachment{{Filename: "reservation.ics", ContentType: calendar.ContentType(calendar.MethodRequest), Data: ics}}})
	require.NoError(t, err)
	_, err = f.ob.Flush(ctx)
	require.NoError(t, err)
	got := f.srv.Messages()
	require.Len(t, got, 1)
	require.Len(t, got[0].Attachments, 1)
	a := got[0].Attachments[0]
	require.Equal(t, ics, a.Data)
	require.Equal(t, "REQUEST", a.Params["method"])
	require.Equal(t, "Mardi 8 décembre, 9 h – 17 h (heure de Bruxelles).\r\n", got[0].Text)
}
