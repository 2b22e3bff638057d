package sqlstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The members' sign-in state (migration 0013; package central/accounts).

// MemberAuth implements store.Store.
func (s *DB) MemberAuth() store.MemberAuthStore { return &memberAuthStore{db: s} }

type memberAuthStore struct{ db *DB }

var _ store.MemberAuthStore = (*memberAuthStore)(nil)

const signinNoAudit = "sign-in codes, rate-limit counters and ceremonies are short-lived sign-in state, not a change to the network's data"

// MemberByEmail implements store.MemberAuthStore.
func (ms *memberAuthStore) MemberByEmail(ctx context.Context, email string) (domain.Member, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return domain.Member{}, store.Errf(store.ErrNotFound, "email", "member")
	}
	m, err := scanMember(ms.db.queryRow(ctx, memberCols+` WHERE lower(email) = ? ORDER BY id LIMIT 1`, email))
	return m, one(err, "member", email)
}

// PutSignInCode implements store.MemberAuthStore.
func (ms *memberAuthStore) PutSignInCode(ctx context.Context, c store.SignInCode) error {
	if len(c.NonceHash) < 32 || len(c.CodeHash) < 32 {
		return &domain.FieldError{Field: "nonce_hash", Message: "the nonce and code hashes have at least 32 bytes"}
	}
	if c.ExpiresMs <= c.CreatedMs {
		return &domain.FieldError{Field: "expires_ms", Message: "must come after created_ms"}
	}
	if len(c.Email) > 254 {
		return &domain.FieldError{Field: "email", Message: "longer than 254 bytes"}
	}
	return ms.db.write(ctx, func(t *wtx) error {
		t.noAudit(signinNoAudit)
		_, err := t.exec(ctx, `INSERT INTO signin_codes (nonce_hash, email, member_id, code_hash, created_ms, expires_ms, attempts) VALUES (?, ?, ?, ?, ?, ?, 0)`,
			c.NonceHash, strings.ToLower(c.Email), c.MemberID, c.CodeHash, c.CreatedMs, c.ExpiresMs)
		return ms.db.mapErr(err, "sign-in code", "nonce")
	})
}

// TrySignInCode implements store.MemberAuthStore.
func (ms *memberAuthStore) TrySignInCode(ctx context.Context, nonceHash, codeHash string, nowMs int64, maxAttempts int) (store.SignInCode, int, error) {
	var out store.SignInCode
	var left int
	var wrong bool
	err := ms.db.write(ctx, func(t *wtx) error {
		t.noAudit(signinNoAudit)
		c := store.SignInCode{NonceHash: nonceHash}
		err := t.queryRow(ctx, `SELECT email, member_id, code_hash, created_ms, expires_ms, attempts FROM signin_codes WHERE nonce_hash = ?`+t.d.ForUpdate, nonceHash).
			Scan(&c.Email, &c.MemberID, &c.CodeHash, &c.CreatedMs, &c.ExpiresMs, &c.Attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Errf(store.ErrNotFound, "code", "sign-in code")
		}
		if err != nil {
			return fmt.Errorf("sign-in code: %w", err)
		}
		if nowMs >= c.ExpiresMs || c.Attempts >= maxAttempts {
			_, err := t.exec(ctx, `DELETE FROM signin_codes WHERE nonce_hash = ?`, nonceHash)
			return err // committed; answered as not found below
		}
		if subtle.ConstantTimeCompare([]byte(codeHash), []byte(c.CodeHash)) == 1 && c.MemberID != "" {
			_, err := t.exec(ctx, `DELETE FROM signin_codes WHERE nonce_hash = ?`, nonceHash)
			out = c
			return err
		}
		wrong = true
		out = store.SignInCode{Email: c.Email}
		c.Attempts++
		left = maxAttempts - c.Attempts
		if left <= 0 {
			_, err = t.exec(ctx, `DELETE FROM signin_codes WHERE nonce_hash = ?`, nonceHash)
		} else {
			_, err = t.exec(ctx, `UPDATE signin_codes SET attempts = ? WHERE nonce_hash = ?`, c.Attempts, nonceHash)
		}
		return err
	})
	switch {
	case err != nil:
		return store.SignInCode{}, 0, err
	case wrong:
		return out, left, store.Errf(store.ErrBadCredentials, "code", "wrong code")
	case out.MemberID == "":
		return store.SignInCode{}, 0, store.Errf(store.ErrNotFound, "code", "sign-in code")
	}
	return out, 0, nil
}

// PurgeSignInCodes implements store.MemberAuthStore.
func (ms *memberAuthStore) PurgeSignInCodes(ctx context.Context, nowMs int64) (int, error) {
	return ms.purge(ctx, `DELETE FROM signin_codes WHERE expires_ms <= ?`, nowMs)
}

func (ms *memberAuthStore) purge(ctx context.Context, q string, nowMs int64) (int, error) {
	var n int64
	err := ms.db.write(ctx, func(t *wtx) error {
		t.noAudit(signinNoAudit)
		res, err := t.exec(ctx, q, nowMs)
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Hit implements store.MemberAuthStore.
func (ms *memberAuthStore) Hit(ctx context.Context, key string, nowMs, windowMs int64) (int, error) {
	if key == "" || len(key) > 300 {
		return 0, &domain.FieldError{Field: "key", Message: "1 to 300 bytes"}
	}
	if windowMs <= 0 {
		return 0, &domain.FieldError{Field: "window_ms", Message: "must be positive"}
	}
	start := nowMs - nowMs%windowMs
	var n int
	err := ms.db.write(ctx, func(t *wtx) error {
		t.noAudit(signinNoAudit)
		return t.queryRow(ctx, `INSERT INTO rate_hits (key, window_ms, ends_ms, n) VALUES (?, ?, ?, 1)
			ON CONFLICT (key, window_ms) DO UPDATE SET n = rate_hits.n + 1 RETURNING n`, key, start, start+windowMs).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return n, nil
}

// Hits implements store.MemberAuthStore.
func (ms *memberAuthStore) Hits(ctx context.Context, key string, nowMs, windowMs int64) (int, error) {
	if windowMs <= 0 {
		return 0, &domain.FieldError{Field: "window_ms", Message: "must be positive"}
	}
	var n int
	err := ms.db.queryRow(ctx, `SELECT n FROM rate_hits WHERE key = ? AND window_ms = ?`, key, nowMs-nowMs%windowMs).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return n, nil
}

// PurgeHits implements store.MemberAuthStore.
func (ms *memberAuthStore) PurgeHits(ctx context.Context, nowMs int64) (int, error) {
	return ms.purge(ctx, `DELETE FROM rate_hits WHERE ends_ms <= ?`, nowMs)
}

func validPasskey(p *store.Passkey) error {
	switch {
	case p.ID == "" || len(p.ID) > 1400:
		return &domain.FieldError{Field: "id", Message: "a credential id of 1 to 1400 bytes (base64url)"}
	case p.MemberID == "":
		return &domain.FieldError{Field: "member_id", Message: "required"}
	case len(p.Name) > 100:
		return &domain.FieldError{Field: "name", Message: "at most 100 bytes"}
	case len(p.Transports) > 200:
		return &domain.FieldError{Field: "transports", Message: "at most 200 bytes"}
	case len(p.Data) == 0 || len(p.Data) > 64<<10:
		return &domain.FieldError{Field: "data", Message: "1 byte to 64 KiB"}
	}
	return nil
}

// CreatePasskey implements store.MemberAuthStore.
func (ms *memberAuthStore) CreatePasskey(ctx context.Context, p store.Passkey) error {
	if err := validPasskey(&p); err != nil {
		return err
	}
	return ms.db.write(ctx, func(t *wtx) error {
		ok, err := t.exists(ctx, `SELECT 1 FROM members WHERE id = ?`, p.MemberID)
		if err != nil {
			return err
		}
		if !ok {
			return store.Errf(store.ErrMissingRef, "member_id", "member %s", p.MemberID)
		}
		_, err = t.exec(ctx, `INSERT INTO passkeys (id, member_id, name, transports, sign_count, clone_warning, created_ms, last_used_ms, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.MemberID, p.Name, p.Transports, int64(p.SignCount), boolInt(p.CloneWarning), p.CreatedMs, p.LastUsedMs, string(p.Data))
		if err := ms.db.mapErr(err, "passkey", "id"); err != nil {
			return err
		}
		home, err := t.memberHome(ctx, p.MemberID)
		if err != nil {
			return err
		}
		return t.audit(ctx, audit.Create, "passkey", p.ID, centersOf(home), nil, p)
	})
}

const passkeyCols = `SELECT id, member_id, name, transports, sign_count, clone_warning, created_ms, last_used_ms, data FROM passkeys`

func scanPasskey(r interface{ Scan(...any) error }) (store.Passkey, error) {
	var p store.Passkey
	var count int64
	var clone int
	var data string
	err := r.Scan(&p.ID, &p.MemberID, &p.Name, &p.Transports, &count, &clone, &p.CreatedMs, &p.LastUsedMs, &data)
	p.SignCount, p.CloneWarning, p.Data = uint32(count), clone != 0, []byte(data)
	return p, err
}

// Passkey implements store.MemberAuthStore.
func (ms *memberAuthStore) Passkey(ctx context.Context, id string) (store.Passkey, error) {
	p, err := scanPasskey(ms.db.queryRow(ctx, passkeyCols+` WHERE id = ?`, id))
	return p, one(err, "passkey", id)
}

// ListPasskeys implements store.MemberAuthStore.
func (ms *memberAuthStore) ListPasskeys(ctx context.Context, memberID string) ([]store.Passkey, error) {
	rows, err := ms.db.query(ctx, passkeyCols+` WHERE member_id = ? ORDER BY created_ms, id`, memberID)
	if err != nil {
		return nil, fmt.Errorf("passkeys of %s: %w", memberID, err)
	}
	defer rows.Close()
	var out []store.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("passkeys of %s: %w", memberID, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// UsePasskey implements store.MemberAuthStore.
func (ms *memberAuthStore) UsePasskey(ctx context.Context, id string, signCount uint32, cloneWarning bool, data []byte, atMs int64) error {
	if len(data) == 0 || len(data) > 64<<10 {
		return &domain.FieldError{Field: "data", Message: "1 byte to 64 KiB"}
	}
	return ms.db.write(ctx, func(t *wtx) error {
		t.noAudit("a sign-in's counter and time are the credential's bookkeeping; adding and removing passkeys are audited")
		res, err := t.exec(ctx, `UPDATE passkeys SET sign_count = ?, clone_warning = ?, data = ?, last_used_ms = ? WHERE id = ?`,
			int64(signCount), boolInt(cloneWarning), string(data), atMs, id)
		return updated(res, err, "passkey", "id")
	})
}

// DeletePasskey implements store.MemberAuthStore.
func (ms *memberAuthStore) DeletePasskey(ctx context.Context, memberID, id string) error {
	return ms.db.write(ctx, func(t *wtx) error {
		old, err := scanPasskey(t.queryRow(ctx, passkeyCols+` WHERE id = ? AND member_id = ?`, id, memberID))
		if err := one(err, "passkey", id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM passkeys WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete passkey %s: %w", id, err)
		}
		home, err := t.memberHome(ctx, memberID)
		if err != nil {
			return err
		}
		return t.audit(ctx, audit.Delete, "passkey", id, centersOf(home), old, nil)
	})
}

// PutCeremony implements store.MemberAuthStore.
func (ms *memberAuthStore) PutCeremony(ctx context.Context, idHash string, data []byte, nowMs, expiresMs int64) error {
	if len(idHash) < 32 || len(data) == 0 || len(data) > 64<<10 {
		return &domain.FieldError{Field: "data", Message: "an id hash of 32 bytes or more and 1 byte to 64 KiB of data"}
	}
	return ms.db.write(ctx, func(t *wtx) error {
		t.noAudit(signinNoAudit)
		// Expired ceremonies go with each new one: they are never many.
		if _, err := t.exec(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_ms <= ?`, nowMs); err != nil {
			return fmt.Errorf("purge ceremonies: %w", err)
		}
		_, err := t.exec(ctx, `INSERT INTO webauthn_ceremonies (id_hash, data, expires_ms) VALUES (?, ?, ?)`, idHash, string(data), expiresMs)
		return ms.db.mapErr(err, "ceremony", "id")
	})
}

// TakeCeremony implements store.MemberAuthStore.
func (ms *memberAuthStore) TakeCeremony(ctx context.Context, idHash string, nowMs int64) ([]byte, error) {
	var data string
	var exp int64
	err := ms.db.write(ctx, func(t *wtx) error {
		t.noAudit(signinNoAudit)
		err := t.queryRow(ctx, `SELECT data, expires_ms FROM webauthn_ceremonies WHERE id_hash = ?`+t.d.ForUpdate, idHash).Scan(&data, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Errf(store.ErrNotFound, "ceremony", "ceremony")
		}
		if err != nil {
			return fmt.Errorf("ceremony: %w", err)
		}
		_, err = t.exec(ctx, `DELETE FROM webauthn_ceremonies WHERE id_hash = ?`, idHash)
		return err
	})
	if err != nil {
		return nil, err
	}
	if nowMs >= exp {
		return nil, store.Errf(store.ErrNotFound, "ceremony", "ceremony expired")
	}
	return []byte(data), nil
}
