package storetest

import (
	"fmt"
	"strings"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

func outboxMail(id, key string, createdMs int64) store.OutboxMail {
	return store.OutboxMail{ID: id, Key: key, To: "ann@example.org", Subject: "Réservation confirmée",
		Message: []byte("Subject: x\r\n\r\nbody " + id + "\r\n"), CreatedMs: createdMs}
}

// testOutbox: a mail is queued once per key, claimed by one owner at a
// time until its lease runs out, retried later, and settled as sent or
// failed with its message emptied.
func testOutbox(e *env) {
	t, ctx, o := e.t, e.ctx, e.s.Outbox()
	now := base().UnixMilli()

	for _, tc := range []struct {
		field string
		edit  func(m *store.OutboxMail)
	}{
		{"id", func(m *store.OutboxMail) { m.ID = "" }},
		{"key", func(m *store.OutboxMail) { m.Key = "" }},
		{"key", func(m *store.OutboxMail) { m.Key = strings.Repeat("k", store.MaxMailKeyBytes+1) }},
		{"to", func(m *store.OutboxMail) { m.To = "a@b.c\r\nBcc: x@y.z" }},
		{"to", func(m *store.OutboxMail) { m.To = "" }},
		{"subject", func(m *store.OutboxMail) { m.Subject = "a\nb" }},
		{"message", func(m *store.OutboxMail) { m.Message = nil }},
		{"message", func(m *store.OutboxMail) { m.Message = make([]byte, store.MaxMailBytes+1) }},
		{"created_ms", func(m *store.OutboxMail) { m.CreatedMs = 0 }},
	} {
		m := outboxMail("bad", "bad", now)
		tc.edit(&m)
		_, err := o.Enqueue(ctx, m)
		requireKind(t, err, domain.ErrValidation, tc.field)
	}

	m1, err := o.Enqueue(ctx, outboxMail("m1", "booking:b1:confirmed:1", now))
	require.NoError(t, err)
	require.Equal(t, store.MailQueued, m1.Status)
	require.Equal(t, now, m1.NextMs)

	// The same key again: nothing stored, the first mail returned.
	dup, err := o.Enqueue(ctx, outboxMail("m1b", "booking:b1:confirmed:1", now+5))
	requireKind(t, err, store.ErrExists, "key")
	require.Equal(t, "m1", dup.ID)
	_, err = o.Get(ctx, "m1b")
	requireKind(t, err, store.ErrNotFound, "")
	// The same id with another key.
	_, err = o.Enqueue(ctx, outboxMail("m1", "other", now))
	requireKind(t, err, store.ErrExists, "id")

	_, err = o.Enqueue(ctx, outboxMail("m2", "k2", now+1000))
	require.NoError(t, err)
	n, err := o.Depth(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// Only m1 is due at now; owner A leases it.
	got, err := o.Claim(ctx, "A", now, now+60_000, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "m1", got[0].ID)
	require.Equal(t, outboxMail("m1", "", 0).Message, got[0].Message)
	// B finds nothing while A's lease holds, not even m1; m2 once due.
	got, err = o.Claim(ctx, "B", now+30_000, now+90_000, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "m2", got[0].ID)

	// A fails once: m1 is due again later, B cannot settle A's lease.
	requireKind(t, o.Retry(ctx, "m1", "B", now+1, "x"), store.ErrStale, "lease")
	require.NoError(t, o.Retry(ctx, "m1", "A", now+120_000, "dial tcp: connection refused "+strings.Repeat("é", 1000)))
	m, err := o.Get(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, store.MailQueued, m.Status)
	require.Equal(t, 1, m.Attempts)
	require.Equal(t, now+120_000, m.NextMs)
	require.LessOrEqual(t, len(m.LastError), store.MaxMailErrBytes)
	require.True(t, strings.HasPrefix(m.LastError, "dial tcp: connection refused é"))
	require.True(t, strings.ToValidUTF8(m.LastError, "?") == m.LastError, "last error cut inside a character")
	got, err = o.Claim(ctx, "A", now+89_999, now+200_000, 10)
	require.NoError(t, err)
	require.Empty(t, got, "m1 claimed before it is due, or m2 while B holds it")

	// B's lease on m2 runs out (B died): A takes it over and delivers it.
	got, err = o.Claim(ctx, "A", now+90_000, now+150_000, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "m2", got[0].ID)
	require.NoError(t, o.Sent(ctx, "m2", now+91_000))
	requireKind(t, o.Sent(ctx, "m2", now+92_000), store.ErrStale, "status")
	requireKind(t, o.Retry(ctx, "m2", "A", now+1, "x"), store.ErrStale, "status")
	requireKind(t, o.Sent(ctx, "nope", now), store.ErrNotFound, "id")
	m, err = o.Get(ctx, "m2")
	require.NoError(t, err)
	require.Equal(t, store.OutboxMail{ID: "m2", Key: "k2", To: "ann@example.org", Subject: "Réservation confirmée", Status: store.MailSent,
		Attempts: 1, CreatedMs: now + 1000, NextMs: now + 1000, DoneMs: now + 91_000}, m)

	// m1 is given up on its second attempt.
	got, err = o.Claim(ctx, "A", now+120_000, now+180_000, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.NoError(t, o.Fail(ctx, "m1", "A", now+121_000, "550 no such user"))
	m, err = o.Get(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, store.MailFailed, m.Status)
	require.Equal(t, 2, m.Attempts)
	require.Equal(t, "550 no such user", m.LastError)
	require.Equal(t, now+121_000, m.DoneMs)
	n, err = o.Depth(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	got, err = o.Claim(ctx, "A", now+10_000_000, now+10_060_000, 10)
	require.NoError(t, err)
	require.Empty(t, got)

	// A settled key is never queued again.
	_, err = o.Enqueue(ctx, outboxMail("m3", "k2", now))
	requireKind(t, err, store.ErrExists, "key")

	for _, tc := range []struct {
		status string
		ids    []string
	}{{"", []string{"m1", "m2"}}, {store.MailSent, []string{"m2"}}, {store.MailFailed, []string{"m1"}}, {store.MailQueued, nil}} {
		page, err := o.List(ctx, store.OutboxFilter{Status: tc.status})
		require.NoError(t, err)
		var ids []string
		for _, m := range page.Items {
			require.Nil(t, m.Message)
			ids = append(ids, m.ID)
		}
		require.Equal(t, tc.ids, ids, "status %q", tc.status)
	}
	_, err = o.List(ctx, store.OutboxFilter{Status: "lost"})
	requireKind(t, err, domain.ErrValidation, "status")
	_, err = o.Claim(ctx, "", now, now+1, 1)
	requireKind(t, err, domain.ErrValidation, "owner")
	require.Empty(t, e.rec.take(), "the outbox notified domain changes")
}

// testOutboxClaimConcurrent: senders of several replicas claiming at once
// each get different mails, and together all of them.
func testOutboxClaimConcurrent(e *env) {
	t, ctx, o := e.t, e.ctx, e.s.Outbox()
	now := base().UnixMilli()
	const mails, owners = 60, 4
	for i := range mails {
		_, err := o.Enqueue(ctx, outboxMail(fmt.Sprintf("m%02d", i), fmt.Sprintf("k%02d", i), now))
		require.NoError(t, err)
	}
	var mu sync.Mutex
	claimed := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, owners)
	for w := range owners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("replica-%d", w)
			for {
				got, err := o.Claim(ctx, owner, now, now+60_000, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					if prev, ok := claimed[m.ID]; ok {
						mu.Unlock()
						errs <- fmt.Errorf("%s claimed by %s and %s", m.ID, prev, owner)
						return
					}
					claimed[m.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, claimed, mails)
}
