package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Outbox implements store.Store.
func (s *DB) Outbox() store.OutboxStore { return &outboxStore{db: s} }

// outboxStore implements store.OutboxStore over the mail_outbox table.
type outboxStore struct{ db *DB }

var _ store.OutboxStore = (*outboxStore)(nil)

const outboxCols = `id, idem_key, recipient, subject, status, attempts, last_error, created_ms, next_ms, done_ms`

func scanOutbox(sc interface{ Scan(...any) error }, extra ...any) (store.OutboxMail, error) {
	var m store.OutboxMail
	var done sql.NullInt64
	dest := append([]any{&m.ID, &m.Key, &m.To, &m.Subject, &m.Status, &m.Attempts, &m.LastError, &m.CreatedMs, &m.NextMs, &done}, extra...)
	err := sc.Scan(dest...)
	m.DoneMs = done.Int64
	return m, err
}

func cutErr(s string) string {
	if len(s) <= store.MaxMailErrBytes {
		return s
	}
	return strings.ToValidUTF8(s[:store.MaxMailErrBytes], "") // no half character
}

// Enqueue implements store.OutboxStore.
func (o *outboxStore) Enqueue(ctx context.Context, m store.OutboxMail) (store.OutboxMail, error) {
	var existing store.OutboxMail
	dup := false
	err := o.db.write(ctx, func(t *wtx) error {
		t.noAudit("the e-mail outbox holds notices of changes audited where they are made")
		var err error
		existing, dup, err = t.enqueueMail(ctx, o.db, &m)
		return err
	})
	switch {
	case err != nil:
		return store.OutboxMail{}, err
	case dup:
		return existing, store.Errf(store.ErrExists, "key", "mail %s already has key %q", existing.ID, m.Key)
	}
	return m, nil
}

// enqueueMail validates and inserts m as queued in the transaction. When
// its key is taken it inserts nothing and returns the stored mail and
// true. Other verbs may call it to queue a notice in the transaction of
// the change it tells about. ON CONFLICT DO NOTHING keeps a PostgreSQL
// transaction usable when the key is taken.
func (t *wtx) enqueueMail(ctx context.Context, s *DB, m *store.OutboxMail) (store.OutboxMail, bool, error) {
	if err := m.Validate(); err != nil {
		return store.OutboxMail{}, false, err
	}
	m.Status, m.Attempts, m.LastError, m.NextMs, m.DoneMs = store.MailQueued, 0, "", m.CreatedMs, 0
	res, err := t.exec(ctx, `INSERT INTO mail_outbox (id, idem_key, recipient, subject, message, status, created_ms, next_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING`,
		m.ID, m.Key, m.To, m.Subject, m.Message, m.Status, m.CreatedMs, m.NextMs)
	if err != nil {
		return store.OutboxMail{}, false, s.mapErr(err, "mail "+m.ID, "id")
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.OutboxMail{}, false, fmt.Errorf("mail %s: %w", m.ID, err)
	} else if n == 1 {
		return store.OutboxMail{}, false, nil
	}
	existing, err := scanOutbox(t.queryRow(ctx, `SELECT `+outboxCols+` FROM mail_outbox WHERE idem_key = ?`, m.Key))
	return existing, true, one(err, "mail with key", m.Key)
}

// Claim implements store.OutboxStore.
func (o *outboxStore) Claim(ctx context.Context, owner string, nowMs, leaseUntilMs int64, limit int) ([]store.OutboxMail, error) {
	if owner == "" {
		return nil, &domain.FieldError{Field: "owner", Message: "a lease needs an owner"}
	}
	if limit <= 0 || limit > store.MaxLimit {
		limit = store.DefaultLimit
	}
	lock := ""
	if o.db.d.ForUpdate != "" {
		lock = o.db.d.ForUpdate + " SKIP LOCKED"
	}
	var out []store.OutboxMail
	err := o.db.write(ctx, func(t *wtx) error {
		t.noAudit("the e-mail outbox holds notices of changes audited where they are made")
		out = out[:0]
		rows, err := t.query(ctx, `SELECT id FROM mail_outbox WHERE status = ? AND next_ms <= ? AND lease_until_ms <= ?
			ORDER BY next_ms, id LIMIT `+strconv.Itoa(limit)+lock, store.MailQueued, nowMs, nowMs)
		if err != nil {
			return fmt.Errorf("claim mail: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("claim mail: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim mail: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		args := append([]any{owner, leaseUntilMs}, anySlice(ids)...)
		if _, err := t.exec(ctx, `UPDATE mail_outbox SET lease_owner = ?, lease_until_ms = ? WHERE id IN (`+placeholders(len(ids))+`)`, args...); err != nil {
			return fmt.Errorf("claim mail: %w", err)
		}
		rows, err = t.query(ctx, `SELECT `+outboxCols+`, message FROM mail_outbox WHERE id IN (`+placeholders(len(ids))+`) ORDER BY next_ms, id`, anySlice(ids)...)
		if err != nil {
			return fmt.Errorf("claim mail: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var msg []byte
			m, err := scanOutbox(rows, &msg)
			if err != nil {
				return fmt.Errorf("claim mail: %w", err)
			}
			m.Message = msg
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Sent implements store.OutboxStore.
func (o *outboxStore) Sent(ctx context.Context, id string, nowMs int64) error {
	return o.db.write(ctx, func(t *wtx) error {
		t.noAudit("the e-mail outbox holds notices of changes audited where they are made")
		res, err := t.exec(ctx, `UPDATE mail_outbox SET status = ?, attempts = attempts + 1, last_error = '', done_ms = ?, message = ?,
			lease_owner = '', lease_until_ms = 0 WHERE id = ? AND status = ?`, store.MailSent, nowMs, []byte{}, id, store.MailQueued)
		return o.settled(ctx, t, res, err, id, "")
	})
}

// Retry implements store.OutboxStore.
func (o *outboxStore) Retry(ctx context.Context, id, owner string, nextMs int64, lastErr string) error {
	return o.db.write(ctx, func(t *wtx) error {
		t.noAudit("the e-mail outbox holds notices of changes audited where they are made")
		res, err := t.exec(ctx, `UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?, next_ms = ?, lease_owner = '', lease_until_ms = 0
			WHERE id = ? AND status = ? AND lease_owner = ?`, cutErr(lastErr), nextMs, id, store.MailQueued, owner)
		return o.settled(ctx, t, res, err, id, owner)
	})
}

// Fail implements store.OutboxStore.
func (o *outboxStore) Fail(ctx context.Context, id, owner string, nowMs int64, lastErr string) error {
	return o.db.write(ctx, func(t *wtx) error {
		t.noAudit("the e-mail outbox holds notices of changes audited where they are made")
		res, err := t.exec(ctx, `UPDATE mail_outbox SET status = ?, attempts = attempts + 1, last_error = ?, done_ms = ?, message = ?,
			lease_owner = '', lease_until_ms = 0 WHERE id = ? AND status = ? AND lease_owner = ?`,
			store.MailFailed, cutErr(lastErr), nowMs, []byte{}, id, store.MailQueued, owner)
		return o.settled(ctx, t, res, err, id, owner)
	})
}

// settled explains an update that touched no row: a missing mail is
// ErrNotFound, one already settled or leased by another owner ErrStale.
func (o *outboxStore) settled(ctx context.Context, t *wtx, res sql.Result, err error, id, owner string) error {
	if err != nil {
		return fmt.Errorf("mail %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mail %s: %w", id, err)
	} else if n == 1 {
		return nil
	}
	var status, lease string
	err = t.queryRow(ctx, `SELECT status, lease_owner FROM mail_outbox WHERE id = ?`, id).Scan(&status, &lease)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Errf(store.ErrNotFound, "id", "mail %s", id)
	} else if err != nil {
		return fmt.Errorf("mail %s: %w", id, err)
	}
	if status != store.MailQueued {
		return store.Errf(store.ErrStale, "status", "mail %s is already %s", id, status)
	}
	return store.Errf(store.ErrStale, "lease", "mail %s is leased to %q, not %q", id, lease, owner)
}

// Get implements store.OutboxStore.
func (o *outboxStore) Get(ctx context.Context, id string) (store.OutboxMail, error) {
	m, err := scanOutbox(o.db.queryRow(ctx, `SELECT `+outboxCols+` FROM mail_outbox WHERE id = ?`, id))
	return m, one(err, "mail", id)
}

// List implements store.OutboxStore.
func (o *outboxStore) List(ctx context.Context, f store.OutboxFilter) (store.Page[store.OutboxMail], error) {
	w := &where{}
	if f.Status != "" {
		switch f.Status {
		case store.MailQueued, store.MailSent, store.MailFailed:
		default:
			return store.Page[store.OutboxMail]{}, &domain.FieldError{Field: "status", Message: fmt.Sprintf("%q; want queued, sent or failed", f.Status)}
		}
		w.add("status = ?", f.Status)
	}
	return list(ctx, o.db, `SELECT `+outboxCols+` FROM mail_outbox`, "id", w, f.PageRequest, func(r *sql.Rows) (store.OutboxMail, string, error) {
		m, err := scanOutbox(r)
		return m, m.ID, err
	})
}

// Depth implements store.OutboxStore.
func (o *outboxStore) Depth(ctx context.Context) (int, error) {
	var n int
	if err := o.db.queryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE status = ?`, store.MailQueued).Scan(&n); err != nil {
		return 0, fmt.Errorf("mail queue depth: %w", err)
	}
	return n, nil
}
