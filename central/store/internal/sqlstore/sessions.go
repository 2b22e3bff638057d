package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Sessions implements store.Store.
func (s *DB) Sessions() store.SessionStore { return &sessionStore{db: s} }

// sessionStore implements store.SessionStore over the web_sessions table.
type sessionStore struct{ db *DB }

var _ store.SessionStore = (*sessionStore)(nil)

// sessionGone is the one answer for unknown, revoked and expired sessions.
func sessionGone() error { return store.Errf(store.ErrNotFound, "", "session") }

// CreateSession implements store.SessionStore.
func (ss *sessionStore) CreateSession(ctx context.Context, id string, sess store.Session) error {
	if len(id) < 32 {
		return &domain.FieldError{Field: "id", Message: "a session id has at least 32 bytes"}
	}
	if err := sess.Validate(); err != nil {
		return err
	}
	s := ss.db
	return s.write(ctx, func(t *wtx) error {
		t.noAudit("sessions are sign-in state, not a change to the network's data; what ends them (a deleted token, a suspension) is audited")
		_, err := t.exec(ctx, `INSERT INTO web_sessions (id_hash, subject_kind, subject_id, csrf, lang, created_ms, last_seen_ms, idle_ms, expires_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, store.HashSecret(id), string(sess.SubjectKind), sess.SubjectID, sess.CSRF, sess.Lang,
			sess.CreatedMs, sess.LastSeenMs, sess.IdleMs, sess.ExpiresMs)
		return s.mapErr(err, "session", "id")
	})
}

const sessionCols = `SELECT subject_kind, subject_id, csrf, lang, created_ms, last_seen_ms, idle_ms, expires_ms FROM web_sessions`

func scanSession(r interface{ Scan(...any) error }) (store.Session, error) {
	var sess store.Session
	var kind string
	err := r.Scan(&kind, &sess.SubjectID, &sess.CSRF, &sess.Lang, &sess.CreatedMs, &sess.LastSeenMs, &sess.IdleMs, &sess.ExpiresMs)
	sess.SubjectKind = store.SubjectKind(kind)
	return sess, err
}

// TouchSession implements store.SessionStore.
func (ss *sessionStore) TouchSession(ctx context.Context, id string, nowMs int64) (store.Session, error) {
	var out store.Session
	expired := false
	err := ss.db.write(ctx, func(t *wtx) error {
		t.noAudit("sessions are sign-in state, not a change to the network's data; what ends them (a deleted token, a suspension) is audited")
		h := store.HashSecret(id)
		sess, err := scanSession(t.queryRow(ctx, sessionCols+` WHERE id_hash = ?`+t.d.ForUpdate, h))
		if errors.Is(err, sql.ErrNoRows) {
			return sessionGone()
		}
		if err != nil {
			return fmt.Errorf("session: %w", err)
		}
		if !sess.Live(nowMs) {
			if _, err := t.exec(ctx, `DELETE FROM web_sessions WHERE id_hash = ?`, h); err != nil {
				return fmt.Errorf("end expired session: %w", err)
			}
			expired = true // commit the delete, then answer as for a missing session
			return nil
		}
		if nowMs > sess.LastSeenMs {
			sess.LastSeenMs = nowMs
			if _, err := t.exec(ctx, `UPDATE web_sessions SET last_seen_ms = ? WHERE id_hash = ?`, nowMs, h); err != nil {
				return fmt.Errorf("touch session: %w", err)
			}
		}
		out = sess
		return nil
	})
	if err == nil && expired {
		return store.Session{}, sessionGone()
	}
	return out, err
}

// PeekSession implements store.SessionStore.
func (ss *sessionStore) PeekSession(ctx context.Context, id string, nowMs int64) (store.Session, error) {
	sess, err := scanSession(ss.db.queryRow(ctx, sessionCols+` WHERE id_hash = ?`, store.HashSecret(id)))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sess.Live(nowMs)) {
		return store.Session{}, sessionGone()
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	return sess, nil
}

// SetSessionLang implements store.SessionStore.
func (ss *sessionStore) SetSessionLang(ctx context.Context, id, lang string) error {
	if len(lang) > 35 {
		return &domain.FieldError{Field: "lang", Message: "at most 35 bytes (a BCP 47 tag)"}
	}
	return ss.set(ctx, id, "lang", lang)
}

// SetSessionFlash implements store.SessionStore.
func (ss *sessionStore) SetSessionFlash(ctx context.Context, id, msg string) error {
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	return ss.set(ctx, id, "flash", msg)
}

// set writes one text column of a session (col is a constant of ours).
func (ss *sessionStore) set(ctx context.Context, id, col, value string) error {
	return ss.db.write(ctx, func(t *wtx) error {
		t.noAudit("sessions are sign-in state, not a change to the network's data; what ends them (a deleted token, a suspension) is audited")
		res, err := t.exec(ctx, `UPDATE web_sessions SET `+col+` = ? WHERE id_hash = ?`, value, store.HashSecret(id))
		return updated(res, err, "session", "")
	})
}

// TakeSessionFlash implements store.SessionStore.
func (ss *sessionStore) TakeSessionFlash(ctx context.Context, id string) (string, error) {
	var msg string
	err := ss.db.write(ctx, func(t *wtx) error {
		t.noAudit("sessions are sign-in state, not a change to the network's data; what ends them (a deleted token, a suspension) is audited")
		h := store.HashSecret(id)
		err := t.queryRow(ctx, `SELECT flash FROM web_sessions WHERE id_hash = ?`+t.d.ForUpdate, h).Scan(&msg)
		if errors.Is(err, sql.ErrNoRows) {
			return sessionGone()
		}
		if err != nil {
			return fmt.Errorf("session flash: %w", err)
		}
		if msg == "" {
			return nil
		}
		_, err = t.exec(ctx, `UPDATE web_sessions SET flash = '' WHERE id_hash = ?`, h)
		return err
	})
	return msg, err
}

// RevokeSession implements store.SessionStore.
func (ss *sessionStore) RevokeSession(ctx context.Context, id string) error {
	return ss.db.write(ctx, func(t *wtx) error {
		t.noAudit("sessions are sign-in state, not a change to the network's data; what ends them (a deleted token, a suspension) is audited")
		res, err := t.exec(ctx, `DELETE FROM web_sessions WHERE id_hash = ?`, store.HashSecret(id))
		return updated(res, err, "session", "")
	})
}

// RevokeSubjectSessions implements store.SessionStore.
func (ss *sessionStore) RevokeSubjectSessions(ctx context.Context, kind store.SubjectKind, subjectID string) (int, error) {
	var n int64
	err := ss.db.write(ctx, func(t *wtx) error {
		t.noAudit("sessions are sign-in state, not a change to the network's data; what ends them (a deleted token, a suspension) is audited")
		res, err := t.exec(ctx, `DELETE FROM web_sessions WHERE subject_kind = ? AND subject_id = ?`, string(kind), subjectID)
		if err != nil {
			return fmt.Errorf("revoke sessions of %s %s: %w", kind, subjectID, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// revokeSubject ends the subject's sessions in t (a deleted token).
func (t *wtx) revokeSubject(ctx context.Context, kind store.SubjectKind, subjectID string) error {
	if _, err := t.exec(ctx, `DELETE FROM web_sessions WHERE subject_kind = ? AND subject_id = ?`, string(kind), subjectID); err != nil {
		return fmt.Errorf("revoke sessions of %s %s: %w", kind, subjectID, err)
	}
	return nil
}

// PurgeSessions implements store.SessionStore.
func (ss *sessionStore) PurgeSessions(ctx context.Context, nowMs int64) (int, error) {
	var n int64
	err := ss.db.write(ctx, func(t *wtx) error {
		t.noAudit("sessions are sign-in state, not a change to the network's data; what ends them (a deleted token, a suspension) is audited")
		res, err := t.exec(ctx, `DELETE FROM web_sessions WHERE expires_ms <= ? OR last_seen_ms + idle_ms <= ?`, nowMs, nowMs)
		if err != nil {
			return fmt.Errorf("purge sessions: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
