package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// CreateEnrollmentToken implements store.Store.
func (s *DB) CreateEnrollmentToken(ctx context.Context, e store.EnrollmentToken, secret string) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if len(secret) < 32 {
		return &domain.FieldError{Field: "secret", Message: "shorter than 32 bytes"}
	}
	return s.write(ctx, func(t *wtx) error {
		if err := t.need(ctx, "door", "door", `SELECT 1 FROM doors WHERE id = ?`, e.Door); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO enrollment_tokens (id, door, hash, created_by, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?)`,
			e.ID, e.Door, store.HashSecret(secret), e.CreatedBy, e.CreatedMs, e.ExpiresMs)
		if err != nil {
			return s.mapErr(err, "enrollment token "+e.ID, "id")
		}
		c, err := t.doorCenter(ctx, e.Door)
		if err != nil {
			return err
		}
		return t.audit(ctx, audit.Create, audit.ObjectEnrollmentToken, e.ID, []string{c}, nil, e)
	})
}

// RedeemEnrollment implements store.Store. The token row is locked (or the
// transaction serialized) between the checks and the update, so two
// redemptions of one token never both succeed.
func (s *DB) RedeemEnrollment(ctx context.Context, secret string, key store.DoorKey) (store.EnrollmentToken, error) {
	if err := key.Validate(); err != nil {
		return store.EnrollmentToken{}, err
	}
	var e store.EnrollmentToken
	err := s.write(ctx, func(t *wtx) error {
		var used sql.NullInt64
		err := t.queryRow(ctx, `SELECT id, door, created_by, created_ms, expires_ms, used_ms FROM enrollment_tokens WHERE hash = ?`+t.d.ForUpdate,
			store.HashSecret(secret)).Scan(&e.ID, &e.Door, &e.CreatedBy, &e.CreatedMs, &e.ExpiresMs, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && secret == ""):
			return store.Errf(store.ErrBadCredentials, "token", "unknown enrollment token")
		case err != nil:
			return fmt.Errorf("enrollment token: %w", err)
		case used.Valid:
			e.UsedMs = used.Int64
			return store.Errf(store.ErrTokenUsed, "token", "token %s for door %s was used at %s", e.ID, e.Door, fromMs(used.Int64).Format("2006-01-02 15:04:05Z"))
		case key.EnrolledMs >= e.ExpiresMs:
			return store.Errf(store.ErrTokenExpired, "token", "token %s for door %s expired at %s", e.ID, e.Door, fromMs(e.ExpiresMs).Format("2006-01-02 15:04:05Z"))
		}
		res, err := t.exec(ctx, `UPDATE enrollment_tokens SET used_ms = ? WHERE id = ? AND used_ms IS NULL`, key.EnrolledMs, e.ID)
		if err := updated(res, err, "enrollment token", e.ID); err != nil {
			return err
		}
		unused := e
		e.UsedMs = key.EnrolledMs
		if err := t.auditRedeem(ctx, unused, e, key); err != nil {
			return err
		}
		res, err = t.exec(ctx, `UPDATE door_keys SET key_sha256 = ?, enrolled_ms = ? WHERE door = ?`, key.KeySHA256, key.EnrolledMs, e.Door)
		if err != nil {
			return fmt.Errorf("door key of %s: %w", e.Door, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("door key of %s: %w", e.Door, err)
		} else if n == 0 {
			_, err := t.exec(ctx, `INSERT INTO door_keys (door, key_sha256, enrolled_ms) VALUES (?, ?, ?)`, e.Door, key.KeySHA256, key.EnrolledMs)
			if err := s.mapErr(err, "door key of "+e.Door, "door"); err != nil {
				return err
			}
		}
		// The certificates of the door's other keys are superseded (the
		// revocation list's record, migration 0023).
		return t.revokeDoorCerts(ctx, e.Door, key.KeySHA256, store.RevokedSuperseded, key.EnrolledMs)
	})
	if err != nil {
		return store.EnrollmentToken{}, err
	}
	return e, nil
}

// CheckEnrollment implements store.Store.
func (s *DB) CheckEnrollment(ctx context.Context, secret string, atMs int64) (store.EnrollmentToken, error) {
	var e store.EnrollmentToken
	var used sql.NullInt64
	err := s.queryRow(ctx, `SELECT id, door, created_by, created_ms, expires_ms, used_ms FROM enrollment_tokens WHERE hash = ?`,
		store.HashSecret(secret)).Scan(&e.ID, &e.Door, &e.CreatedBy, &e.CreatedMs, &e.ExpiresMs, &used)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && secret == ""):
		return store.EnrollmentToken{}, store.Errf(store.ErrBadCredentials, "token", "unknown enrollment token")
	case err != nil:
		return store.EnrollmentToken{}, fmt.Errorf("enrollment token: %w", err)
	case used.Valid:
		return store.EnrollmentToken{}, store.Errf(store.ErrTokenUsed, "token", "token %s for door %s was used at %s", e.ID, e.Door, fromMs(used.Int64).Format("2006-01-02 15:04:05Z"))
	case atMs >= e.ExpiresMs:
		return store.EnrollmentToken{}, store.Errf(store.ErrTokenExpired, "token", "token %s for door %s expired at %s", e.ID, e.Door, fromMs(e.ExpiresMs).Format("2006-01-02 15:04:05Z"))
	}
	return e, nil
}

// DoorKey implements store.Store.
func (s *DB) DoorKey(ctx context.Context, door string) (store.DoorKey, error) {
	if err := protocol.ValidID(door); err != nil {
		return store.DoorKey{}, store.Errf(store.ErrNotFound, "door", "door %q", door)
	}
	k := store.DoorKey{Door: door}
	err := s.queryRow(ctx, `SELECT key_sha256, enrolled_ms FROM door_keys WHERE door = ?`, door).Scan(&k.KeySHA256, &k.EnrolledMs)
	return k, one(err, "enrolled key of door", door)
}
