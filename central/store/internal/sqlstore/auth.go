package sqlstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// ---- door secrets

// RotateDoorSecret implements store.Store.
func (s *DB) RotateDoorSecret(ctx context.Context, door string) (string, error) {
	secret := store.NewSecret("swcd_")
	err := s.write(ctx, func(t *wtx) error {
		d, err := before(scanDoor(t.queryRow(ctx, doorCols+` WHERE id = ?`, door)))
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE doors SET secret_hash = ? WHERE id = ?`, store.HashSecret(secret), door)
		if err := updated(res, err, "door", door); err != nil {
			return err
		}
		// The secret itself is never recorded: the row says it changed.
		return t.audit(ctx, audit.RotateSecret, audit.ObjectDoor, door, []string{d.CenterID}, nil, map[string]string{"secret": audit.Redacted})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// VerifyDoorSecret implements store.Store.
func (s *DB) VerifyDoorSecret(ctx context.Context, door, secret string) error {
	var hash sql.NullString
	err := s.queryRow(ctx, `SELECT secret_hash FROM doors WHERE id = ?`, door).Scan(&hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("door secret of %s: %w", door, err)
	}
	// Compare even when there is nothing to compare with, so that the time
	// taken does not tell unknown doors from wrong secrets.
	want := hash.String
	if !hash.Valid {
		want = store.HashSecret("\x00no secret")
	}
	ok := subtle.ConstantTimeCompare([]byte(store.HashSecret(secret)), []byte(want)) == 1
	if !ok || !hash.Valid || secret == "" {
		return store.Errf(store.ErrBadCredentials, "", "door %s", door)
	}
	return nil
}

// AuthenticateDoor implements store.Store.
func (s *DB) AuthenticateDoor(ctx context.Context, door, secret string) error {
	return s.VerifyDoorSecret(ctx, door, secret)
}

// ---- API tokens

// CreateToken implements store.Store.
func (s *DB) CreateToken(ctx context.Context, tk store.Token, secret string) error {
	if err := tk.Validate(); err != nil {
		return err
	}
	if len(secret) < 32 {
		return &domain.FieldError{Field: "secret", Message: "shorter than 32 bytes"}
	}
	return s.write(ctx, func(t *wtx) error {
		for i, c := range tk.Centers {
			if err := t.needCenter(ctx, fmt.Sprintf("centers[%d]", i), c); err != nil {
				return err
			}
		}
		_, err := t.exec(ctx, `INSERT INTO api_tokens (id, name, role, centers, hash, created_ms) VALUES (?, ?, ?, ?, ?, ?)`,
			tk.ID, tk.Name, string(tk.Role), joinIDs(tk.Centers), store.HashSecret(secret), tk.CreatedMs)
		if err != nil {
			return s.mapErr(err, "token "+tk.ID, "id")
		}
		return t.audit(ctx, audit.Create, audit.ObjectAPIToken, tk.ID, orNetwork(tk.Centers), nil, tk)
	})
}

const tokenCols = `SELECT id, name, role, centers, created_ms FROM api_tokens`

func scanToken(r interface{ Scan(...any) error }) (store.Token, error) {
	var tk store.Token
	var role, centers string
	err := r.Scan(&tk.ID, &tk.Name, &role, &centers, &tk.CreatedMs)
	tk.Role, tk.Centers = store.Role(role), splitIDs(centers)
	return tk, err
}

// AuthenticateToken implements store.Store. The lookup is by the secret's
// hash, so comparing takes no secret-dependent time beyond the index search.
func (s *DB) AuthenticateToken(ctx context.Context, secret string) (store.Token, error) {
	tk, err := scanToken(s.queryRow(ctx, tokenCols+` WHERE hash = ?`, store.HashSecret(secret)))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && secret == "") {
		return store.Token{}, store.Errf(store.ErrBadCredentials, "", "unknown token")
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("authenticate token: %w", err)
	}
	return tk, nil
}

// Token implements store.Store.
func (s *DB) Token(ctx context.Context, id string) (store.Token, error) {
	tk, err := scanToken(s.queryRow(ctx, tokenCols+` WHERE id = ?`, id))
	return tk, one(err, "token", id)
}

// DeleteToken implements store.Store.
func (s *DB) DeleteToken(ctx context.Context, id string) error {
	return s.write(ctx, func(t *wtx) error {
		old, err := t.tokenBefore(ctx, id)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `DELETE FROM api_tokens WHERE id = ?`, id)
		if err := updated(res, err, "token", id); err != nil {
			return err
		}
		if err := t.revokeSubject(ctx, store.SubjectAPIToken, id); err != nil {
			return err
		}
		return t.audit(ctx, audit.Revoke, audit.ObjectAPIToken, id, orNetwork(old.Centers), old, nil)
	})
}

// ListTokens implements store.Store.
func (s *DB) ListTokens(ctx context.Context, f store.TokenFilter) (store.Page[store.Token], error) {
	return list(ctx, s, tokenCols, "id", &where{}, f.PageRequest, func(r *sql.Rows) (store.Token, string, error) {
		tk, err := scanToken(r)
		return tk, tk.ID, err
	})
}

// CountTokens implements store.Store.
func (s *DB) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT count(*) FROM api_tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// ---- whitelist states

// WhitelistStates implements store.Store.
func (s *DB) WhitelistStates(ctx context.Context) ([]domain.WhitelistState, error) {
	rows, err := s.query(ctx, `SELECT door, version, hash, issued_ms FROM whitelist_states ORDER BY door`)
	if err != nil {
		return nil, fmt.Errorf("whitelist states: %w", err)
	}
	defer rows.Close()
	out := []domain.WhitelistState{}
	for rows.Next() {
		var st domain.WhitelistState
		var v int64
		if err := rows.Scan(&st.Door, &v, &st.Hash, &st.IssuedMs); err != nil {
			return nil, fmt.Errorf("whitelist states: %w", err)
		}
		st.Version = uint64(v)
		out = append(out, st)
	}
	return out, rows.Err()
}

// SaveWhitelistState implements store.Store.
func (s *DB) SaveWhitelistState(ctx context.Context, st domain.WhitelistState) error {
	return s.SaveWhitelistStates(ctx, []domain.WhitelistState{st})
}

// SaveWhitelistStates implements store.Store.
func (s *DB) SaveWhitelistStates(ctx context.Context, sts []domain.WhitelistState) error {
	for _, st := range sts {
		if err := checkWhitelistState(st); err != nil {
			return err
		}
	}
	if len(sts) == 0 {
		return nil
	}
	return s.write(ctx, func(t *wtx) error {
		t.noAudit("the whitelist state is derived from the audited domain on every publish")
		for _, st := range sts {
			if err := s.saveWhitelistState(ctx, t, st); err != nil {
				return err
			}
		}
		return nil
	})
}

func checkWhitelistState(st domain.WhitelistState) error {
	if err := protocol.ValidID(st.Door); err != nil {
		return &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", st.Door, err)}
	}
	if st.Version == 0 || st.Version > math.MaxInt64 {
		return &domain.FieldError{Field: "version", Message: fmt.Sprintf("door %s: must be 1 to 2^63-1", st.Door)}
	}
	if st.Hash == "" || len(st.Hash) > 256 {
		return &domain.FieldError{Field: "hash", Message: fmt.Sprintf("door %s: required, at most 256 bytes", st.Door)}
	}
	return nil
}

func (s *DB) saveWhitelistState(ctx context.Context, t *wtx, st domain.WhitelistState) error {
	var v int64
	var hash string
	err := t.queryRow(ctx, `SELECT version, hash FROM whitelist_states WHERE door = ?`+t.d.ForUpdate, st.Door).Scan(&v, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err := t.exec(ctx, `INSERT INTO whitelist_states (door, version, hash, issued_ms) VALUES (?, ?, ?, ?)`,
			st.Door, int64(st.Version), st.Hash, st.IssuedMs)
		return s.mapErr(err, "whitelist state of "+st.Door, "door")
	case err != nil:
		return fmt.Errorf("whitelist state of %s: %w", st.Door, err)
	case st.Version < uint64(v):
		return store.Errf(store.ErrStale, "version", "door %s is at version %d; %d goes back", st.Door, v, st.Version)
	case st.Version == uint64(v) && st.Hash != hash:
		return store.Errf(store.ErrStale, "hash", "door %s version %d was saved with another hash", st.Door, v)
	}
	_, err = t.exec(ctx, `UPDATE whitelist_states SET version = ?, hash = ?, issued_ms = ? WHERE door = ?`,
		int64(st.Version), st.Hash, st.IssuedMs, st.Door)
	return err
}
