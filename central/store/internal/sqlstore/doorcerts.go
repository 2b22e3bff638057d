package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// objectDoorCert is the audit kind of an issued door certificate.
const objectDoorCert = "door_certificate"

// DoorCerts implements store.Store.
func (s *DB) DoorCerts() store.DoorCertStore { return &doorCertStore{db: s} }

// doorCertStore is the store.DoorCertStore of a DB (migration 0023).
type doorCertStore struct{ db *DB }

const doorCertCols = `SELECT serial, door, key_sha256, not_before_ms, not_after_ms, issued_ms, revoked_ms, reason FROM door_certs`

func scanDoorCert(r interface{ Scan(...any) error }) (store.DoorCert, error) {
	var c store.DoorCert
	var revoked sql.NullInt64
	err := r.Scan(&c.Serial, &c.Door, &c.KeySHA256, &c.NotBeforeMs, &c.NotAfterMs, &c.IssuedMs, &revoked, &c.Reason)
	c.RevokedMs = revoked.Int64
	return c, err
}

// insertDoorCert stores c and audits it as action (the door's center; the
// network for a door that is gone).
func (t *wtx) insertDoorCert(ctx context.Context, db *DB, action audit.Action, c store.DoorCert) error {
	_, err := t.exec(ctx, `INSERT INTO door_certs (serial, door, key_sha256, not_before_ms, not_after_ms, issued_ms, revoked_ms, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Serial, c.Door, c.KeySHA256, c.NotBeforeMs, c.NotAfterMs, c.IssuedMs,
		sql.NullInt64{Int64: c.RevokedMs, Valid: c.RevokedMs != 0}, c.Reason)
	if err != nil {
		return db.mapErr(err, "door certificate "+c.Serial, "serial")
	}
	center, err := t.doorCenter(ctx, c.Door)
	if err != nil {
		return err
	}
	return t.audit(ctx, action, objectDoorCert, c.Serial, []string{center}, nil, c)
}

// bornRevoked revokes c at atMs when its door is gone (or never
// enrolled) or enrolled with another key: RevokedDoorRemoved or
// RevokedSuperseded. With enrollment (a certificate recorded before its
// token is redeemed) neither a missing key nor another one revokes c, only
// a key whose certificates were already superseded. The door's rows are
// locked (FOR UPDATE), so that a concurrent RedeemEnrollment or DeleteDoor
// either sees c once it is recorded, or is seen by this check.
func (t *wtx) bornRevoked(ctx context.Context, c *store.DoorCert, atMs int64, enrollment bool) error {
	door, err := t.exists(ctx, `SELECT 1 FROM doors WHERE id = ?`+t.d.ForUpdate, c.Door)
	if err != nil {
		return fmt.Errorf("door %s: %w", c.Door, err)
	}
	if !door {
		c.RevokedMs, c.Reason = atMs, store.RevokedDoorRemoved
		return nil
	}
	var key string
	err = t.queryRow(ctx, `SELECT key_sha256 FROM door_keys WHERE door = ?`+t.d.ForUpdate, c.Door).Scan(&key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if !enrollment {
			c.RevokedMs, c.Reason = atMs, store.RevokedDoorRemoved // the door has no key: nobody may hold it
		}
		return nil
	case err != nil:
		return fmt.Errorf("door key of %s: %w", c.Door, err)
	case key == c.KeySHA256:
		return nil
	}
	if enrollment {
		superseded, err := t.exists(ctx, `SELECT 1 FROM door_certs WHERE door = ? AND key_sha256 = ? AND reason = ?`, c.Door, c.KeySHA256, store.RevokedSuperseded)
		if err != nil || !superseded {
			return err
		}
	}
	c.RevokedMs, c.Reason = atMs, store.RevokedSuperseded
	return nil
}

// revokeDoorCerts revokes the door's valid certificates (all, or those of
// another key than keySHA256 when it is set).
func (t *wtx) revokeDoorCerts(ctx context.Context, door, keySHA256, reason string, atMs int64) error {
	q, args := `UPDATE door_certs SET revoked_ms = ?, reason = ? WHERE door = ? AND revoked_ms IS NULL`, []any{atMs, reason, door}
	if keySHA256 != "" {
		q, args = q+` AND key_sha256 <> ?`, append(args, keySHA256)
	}
	if _, err := t.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("door certificates of %s: %w", door, err)
	}
	return nil
}

// RecordDoorCert implements store.DoorCertStore.
func (s *doorCertStore) RecordDoorCert(ctx context.Context, c store.DoorCert, renewal bool) (store.DoorCert, error) {
	if err := c.Validate(); err != nil {
		return store.DoorCert{}, err
	}
	switch {
	case c.RevokedMs != 0:
		return store.DoorCert{}, &domain.FieldError{Field: "revoked_ms", Message: "a certificate just issued is not revoked"}
	case c.NotBeforeMs == 0:
		return store.DoorCert{}, &domain.FieldError{Field: "not_before_ms", Message: "required"}
	case c.IssuedMs == 0:
		return store.DoorCert{}, &domain.FieldError{Field: "issued_ms", Message: "required"}
	}
	err := s.db.write(ctx, func(t *wtx) error {
		if err := t.bornRevoked(ctx, &c, c.IssuedMs, !renewal); err != nil {
			return err
		}
		return t.insertDoorCert(ctx, s.db, audit.Create, c)
	})
	if err != nil {
		return store.DoorCert{}, err
	}
	return c, nil
}

// ImportDoorCerts implements store.DoorCertStore.
func (s *doorCertStore) ImportDoorCerts(ctx context.Context, certs []store.DoorCert, atMs int64) (int, error) {
	for i := range certs {
		if err := certs[i].Validate(); err != nil {
			return 0, fmt.Errorf("certificate %d (serial %q): %w", i+1, certs[i].Serial, err)
		}
	}
	n := 0
	err := s.db.write(ctx, func(t *wtx) error {
		n = 0
		for _, c := range certs {
			known, err := t.exists(ctx, `SELECT 1 FROM door_certs WHERE serial = ?`, c.Serial)
			if err != nil {
				return fmt.Errorf("door certificate %s: %w", c.Serial, err)
			}
			if known {
				continue
			}
			if c.RevokedMs == 0 {
				if err := t.bornRevoked(ctx, &c, atMs, false); err != nil {
					return err
				}
			}
			if err := t.insertDoorCert(ctx, s.db, audit.Import, c); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			t.noAudit("every certificate was already recorded")
		}
		return nil
	})
	return n, err
}

// RevokeDoorCert implements store.DoorCertStore.
func (s *doorCertStore) RevokeDoorCert(ctx context.Context, serial string, atMs int64) error {
	if atMs <= 0 {
		return &domain.FieldError{Field: "revoked_ms", Message: "required"}
	}
	return s.db.write(ctx, func(t *wtx) error {
		c, err := scanDoorCert(t.queryRow(ctx, doorCertCols+` WHERE serial = ?`+t.d.ForUpdate, serial))
		if err := one(err, "door certificate", serial); err != nil {
			return err
		}
		if c.RevokedMs != 0 {
			t.noAudit("already revoked: the first revocation stays")
			return nil
		}
		after := c
		after.RevokedMs, after.Reason = atMs, store.RevokedExplicit
		if _, err := t.exec(ctx, `UPDATE door_certs SET revoked_ms = ?, reason = ? WHERE serial = ?`, atMs, after.Reason, serial); err != nil {
			return fmt.Errorf("door certificate %s: %w", serial, err)
		}
		center, err := t.doorCenter(ctx, c.Door)
		if err != nil {
			return err
		}
		return t.audit(ctx, audit.Revoke, objectDoorCert, serial, []string{center}, c, after)
	})
}

// DoorCert implements store.DoorCertStore.
func (s *doorCertStore) DoorCert(ctx context.Context, serial string) (store.DoorCert, error) {
	c, err := scanDoorCert(s.db.queryRow(ctx, doorCertCols+` WHERE serial = ?`, serial))
	return c, one(err, "door certificate", serial)
}

// DoorCertsOf implements store.DoorCertStore.
func (s *doorCertStore) DoorCertsOf(ctx context.Context, door string) ([]store.DoorCert, error) {
	rows, err := s.db.query(ctx, doorCertCols+` WHERE door = ? ORDER BY serial`, door)
	if err != nil {
		return nil, fmt.Errorf("door certificates of %s: %w", door, err)
	}
	defer rows.Close()
	out := []store.DoorCert{}
	for rows.Next() {
		c, err := scanDoorCert(rows)
		if err != nil {
			return nil, fmt.Errorf("door certificates of %s: %w", door, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("door certificates of %s: %w", door, err)
	}
	return out, nil
}

// RevokedDoorCerts implements store.DoorCertStore: one statement, so the
// revision and the list are of the same state.
func (s *doorCertStore) RevokedDoorCerts(ctx context.Context, unexpiredAtMs int64) (store.Revocations, error) {
	rows, err := s.db.query(ctx, `WITH n AS (SELECT count(*) AS revision FROM door_certs WHERE revoked_ms IS NOT NULL)
		SELECT n.revision, c.serial, c.door, c.key_sha256, c.not_before_ms, c.not_after_ms, c.issued_ms, c.revoked_ms, c.reason
		FROM n LEFT JOIN door_certs c ON c.revoked_ms IS NOT NULL AND c.not_after_ms > ? ORDER BY c.serial`, unexpiredAtMs)
	if err != nil {
		return store.Revocations{}, fmt.Errorf("revoked door certificates: %w", err)
	}
	defer rows.Close()
	r := store.Revocations{Certs: []store.DoorCert{}}
	for rows.Next() {
		var serial, door, key, reason sql.NullString
		var nb, na, issued, revoked sql.NullInt64
		if err := rows.Scan(&r.Revision, &serial, &door, &key, &nb, &na, &issued, &revoked, &reason); err != nil {
			return store.Revocations{}, fmt.Errorf("revoked door certificates: %w", err)
		}
		if !serial.Valid {
			continue // none: the row of the count alone
		}
		r.Certs = append(r.Certs, store.DoorCert{Serial: serial.String, Door: door.String, KeySHA256: key.String, NotBeforeMs: nb.Int64,
			NotAfterMs: na.Int64, IssuedMs: issued.Int64, RevokedMs: revoked.Int64, Reason: reason.String})
	}
	return r, rows.Err()
}
