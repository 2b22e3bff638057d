package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// objectStaffAccount is the audit object kind of staff accounts.
const objectStaffAccount = "staff_account"

// StaffAccounts implements store.Store.
func (s *DB) StaffAccounts() store.StaffAccountStore { return &accountStore{db: s} }

// accountStore implements store.StaffAccountStore over staff_accounts,
// staff_account_tokens and sign_in_failures (migration 0014).
type accountStore struct{ db *DB }

var _ store.StaffAccountStore = (*accountStore)(nil)

// secretChanged is what an audit row says of a changed secret.
// (the secret itself never: only which one changed).
type secretChanged struct {
	ID      string `json:"id"`
	Email   string `json:"email"`
	Changed string `json:"changed"` // password, second_factor, recovery_codes, recovery_code_used
}

const accountCols = `SELECT id, email, name, role, centers, status, password_hash, totp_secret, totp_confirmed, totp_last_step,
	recovery_hashes, created_ms, updated_ms FROM staff_accounts`

func scanAccount(r interface{ Scan(...any) error }) (store.StaffAccount, error) {
	var a store.StaffAccount
	var role, centers, status, rec string
	var confirmed int
	err := r.Scan(&a.ID, &a.Email, &a.Name, &role, &centers, &status, &a.PasswordHash, &a.TOTPSecret, &confirmed, &a.TOTPLastStep,
		&rec, &a.CreatedMs, &a.UpdatedMs)
	a.Role, a.Centers, a.Status, a.TOTPConfirmed, a.RecoveryHashes = store.Role(role), splitIDs(centers), store.AccountStatus(status), confirmed == 1, splitIDs(rec)
	return a, err
}

// CreateAccount implements store.StaffAccountStore.
func (as *accountStore) CreateAccount(ctx context.Context, a store.StaffAccount) error {
	if err := a.Validate(); err != nil {
		return err
	}
	s := as.db
	return s.write(ctx, func(t *wtx) error {
		for i, c := range a.Centers {
			if err := t.needCenter(ctx, fmt.Sprintf("centers[%d]", i), c); err != nil {
				return err
			}
		}
		var n int
		if err := t.queryRow(ctx, `SELECT count(*) FROM staff_accounts WHERE email = ?`, a.Email).Scan(&n); err != nil {
			return fmt.Errorf("account e-mail: %w", err)
		}
		if n > 0 {
			return store.Errf(store.ErrExists, "email", "account with e-mail %s", a.Email)
		}
		_, err := t.exec(ctx, `INSERT INTO staff_accounts (id, email, name, role, centers, status, password_hash, totp_secret, totp_confirmed,
			totp_last_step, recovery_hashes, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Email, a.Name, string(a.Role), joinIDs(a.Centers), string(a.Status), a.PasswordHash, a.TOTPSecret, boolInt(a.TOTPConfirmed),
			a.TOTPLastStep, joinIDs(a.RecoveryHashes), a.CreatedMs, a.UpdatedMs)
		if err != nil {
			return s.mapErr(err, "account "+a.ID, "id")
		}
		return t.audit(ctx, audit.Create, objectStaffAccount, a.ID, orNetwork(a.Centers), nil, a)
	})
}

// Account implements store.StaffAccountStore.
func (as *accountStore) Account(ctx context.Context, id string) (store.StaffAccount, error) {
	a, err := scanAccount(as.db.queryRow(ctx, accountCols+` WHERE id = ?`, id))
	return a, one(err, "account", id)
}

// AccountByEmail implements store.StaffAccountStore.
func (as *accountStore) AccountByEmail(ctx context.Context, email string) (store.StaffAccount, error) {
	a, err := scanAccount(as.db.queryRow(ctx, accountCols+` WHERE email = ?`, email))
	return a, one(err, "account", email)
}

// ListAccounts implements store.StaffAccountStore.
func (as *accountStore) ListAccounts(ctx context.Context, f store.AccountFilter) (store.Page[store.StaffAccount], error) {
	w := &where{}
	if f.CenterIDs != nil {
		if len(f.CenterIDs) == 0 {
			w.add("1 = 0")
		} else {
			conds := ""
			args := []any{}
			for i, c := range f.CenterIDs {
				if i > 0 {
					conds += " OR "
				}
				conds += `(',' || centers || ',') LIKE ?`
				args = append(args, "%,"+c+",%")
			}
			w.add("("+conds+")", args...)
		}
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	return list(ctx, as.db, accountCols, "id", w, f.PageRequest, func(r *sql.Rows) (store.StaffAccount, string, error) {
		a, err := scanAccount(r)
		a.PasswordHash, a.TOTPSecret, a.RecoveryHashes, a.TOTPLastStep = "", "", nil, 0
		return a, a.ID, err
	})
}

// accountBefore reads the account in t (ErrNotFound).
func (t *wtx) accountBefore(ctx context.Context, id string) (store.StaffAccount, error) {
	a, err := scanAccount(t.queryRow(ctx, accountCols+` WHERE id = ?`+t.d.ForUpdate, id))
	return a, one(err, "account", id)
}

// UpdateAccount implements store.StaffAccountStore.
func (as *accountStore) UpdateAccount(ctx context.Context, a store.StaffAccount) error {
	s := as.db
	return s.write(ctx, func(t *wtx) error {
		old, err := t.accountBefore(ctx, a.ID)
		if err != nil {
			return err
		}
		next := old
		next.Name, next.Role, next.Centers, next.Status, next.UpdatedMs = a.Name, a.Role, a.Centers, a.Status, ms(t.now)
		if err := next.Validate(); err != nil {
			return err
		}
		for i, c := range next.Centers {
			if err := t.needCenter(ctx, fmt.Sprintf("centers[%d]", i), c); err != nil {
				return err
			}
		}
		_, err = t.exec(ctx, `UPDATE staff_accounts SET name = ?, role = ?, centers = ?, status = ?, updated_ms = ? WHERE id = ?`,
			next.Name, string(next.Role), joinIDs(next.Centers), string(next.Status), next.UpdatedMs, next.ID)
		if err != nil {
			return fmt.Errorf("update account %s: %w", a.ID, err)
		}
		if next.Status == store.AccountDisabled || next.Role != old.Role || !slices.Equal(next.Centers, old.Centers) {
			if err := t.revokeSubject(ctx, store.SubjectStaff, next.ID); err != nil {
				return err
			}
		}
		return t.audit(ctx, audit.Update, objectStaffAccount, a.ID, centersOf(append(slices.Clone(orNetwork(old.Centers)), orNetwork(next.Centers)...)...), old, next)
	})
}

// SetPassword implements store.StaffAccountStore.
func (as *accountStore) SetPassword(ctx context.Context, id, hash string) error {
	if hash == "" || len(hash) > 500 {
		return &domain.FieldError{Field: "password_hash", Message: "required, at most 500 bytes"}
	}
	return as.db.write(ctx, func(t *wtx) error {
		old, err := t.accountBefore(ctx, id)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE staff_accounts SET password_hash = ?, updated_ms = ? WHERE id = ?`, hash, ms(t.now), id); err != nil {
			return fmt.Errorf("set password of %s: %w", id, err)
		}
		if err := t.revokeSubject(ctx, store.SubjectStaff, id); err != nil {
			return err
		}
		return t.audit(ctx, audit.RotateSecret, objectStaffAccount, id, orNetwork(old.Centers), nil,
			secretChanged{ID: id, Email: old.Email, Changed: "password"})
	})
}

// SetTOTP implements store.StaffAccountStore.
func (as *accountStore) SetTOTP(ctx context.Context, id, secret string, confirmed bool, recoveryHashes []string) error {
	if secret == "" || len(secret) > 200 {
		return &domain.FieldError{Field: "totp_secret", Message: "required, at most 200 bytes"}
	}
	return as.db.write(ctx, func(t *wtx) error {
		old, err := t.accountBefore(ctx, id)
		if err != nil {
			return err
		}
		status := old.Status
		if confirmed && status == store.AccountInvited && old.PasswordHash != "" {
			status = store.AccountActive
		}
		if _, err := t.exec(ctx, `UPDATE staff_accounts SET totp_secret = ?, totp_confirmed = ?, totp_last_step = 0, recovery_hashes = ?, status = ?, updated_ms = ? WHERE id = ?`,
			secret, boolInt(confirmed), joinIDs(recoveryHashes), string(status), ms(t.now), id); err != nil {
			return fmt.Errorf("set totp of %s: %w", id, err)
		}
		if !confirmed {
			t.noAudit("an enrolment under way: the secret is not in use until it is confirmed (audited then)")
			return nil
		}
		after := secretChanged{ID: id, Email: old.Email, Changed: "second_factor"}
		if err := t.audit(ctx, audit.RotateSecret, objectStaffAccount, id, orNetwork(old.Centers), nil, after); err != nil {
			return err
		}
		if status != old.Status {
			next := old
			next.Status = status
			return t.audit(ctx, audit.Update, objectStaffAccount, id, orNetwork(old.Centers), old, next)
		}
		return nil
	})
}

// SetRecoveryCodes implements store.StaffAccountStore.
func (as *accountStore) SetRecoveryCodes(ctx context.Context, id string, hashes []string) error {
	return as.db.write(ctx, func(t *wtx) error {
		old, err := t.accountBefore(ctx, id)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE staff_accounts SET recovery_hashes = ?, updated_ms = ? WHERE id = ?`, joinIDs(hashes), ms(t.now), id); err != nil {
			return fmt.Errorf("set recovery codes of %s: %w", id, err)
		}
		return t.audit(ctx, audit.RotateSecret, objectStaffAccount, id, orNetwork(old.Centers), nil, secretChanged{ID: id, Email: old.Email, Changed: "recovery_codes"})
	})
}

// UseTOTPStep implements store.StaffAccountStore.
func (as *accountStore) UseTOTPStep(ctx context.Context, id string, step int64) error {
	return as.db.write(ctx, func(t *wtx) error {
		t.noAudit("sign-in bookkeeping: the TOTP replay guard")
		res, err := t.exec(ctx, `UPDATE staff_accounts SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, id, step)
		if err != nil {
			return fmt.Errorf("totp step of %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("totp step of %s: %w", id, err)
		}
		if n == 0 {
			return store.Errf(store.ErrStale, "code", "totp code of account %s already used", id)
		}
		return nil
	})
}

// UseRecoveryCode implements store.StaffAccountStore.
func (as *accountStore) UseRecoveryCode(ctx context.Context, id, hash string) error {
	return as.db.write(ctx, func(t *wtx) error {
		old, err := t.accountBefore(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return store.Errf(store.ErrBadCredentials, "code", "recovery code")
		}
		if err != nil {
			return err
		}
		i := slices.Index(old.RecoveryHashes, hash)
		if i < 0 || hash == "" {
			return store.Errf(store.ErrBadCredentials, "code", "recovery code")
		}
		left := slices.Delete(slices.Clone(old.RecoveryHashes), i, i+1)
		if _, err := t.exec(ctx, `UPDATE staff_accounts SET recovery_hashes = ? WHERE id = ?`, joinIDs(left), id); err != nil {
			return fmt.Errorf("use recovery code of %s: %w", id, err)
		}
		return t.audit(ctx, audit.Redeem, objectStaffAccount, id, orNetwork(old.Centers), nil, secretChanged{ID: id, Email: old.Email, Changed: "recovery_code_used"})
	})
}

// CreateAccountToken implements store.StaffAccountStore.
func (as *accountStore) CreateAccountToken(ctx context.Context, tk store.StaffAccountToken, secret string) error {
	if len(secret) < 32 {
		return &domain.FieldError{Field: "secret", Message: "shorter than 32 bytes"}
	}
	switch tk.Purpose {
	case store.PurposeInvite, store.PurposeReset, store.PurposeSignInMF:
	default:
		return &domain.FieldError{Field: "purpose", Message: fmt.Sprintf("%q; want invite, reset or second_fa", tk.Purpose)}
	}
	if tk.ExpiresMs <= tk.CreatedMs {
		return &domain.FieldError{Field: "expires_ms", Message: "must come after created_ms"}
	}
	s := as.db
	return s.write(ctx, func(t *wtx) error {
		t.noAudit("a one-time link or sign-in step; what it leads to (a password, an enrolment) is audited")
		if err := t.need(ctx, "account_id", "account", `SELECT 1 FROM staff_accounts WHERE id = ?`, tk.AccountID); err != nil {
			return err
		}
		// Expired tokens (anyone's) and used ones of the account go.
		if _, err := t.exec(ctx, `DELETE FROM staff_account_tokens WHERE expires_ms <= ?`, tk.CreatedMs); err != nil {
			return fmt.Errorf("purge account tokens: %w", err)
		}
		if _, err := t.exec(ctx, `DELETE FROM staff_account_tokens WHERE account_id = ? AND used_ms > 0`, tk.AccountID); err != nil {
			return fmt.Errorf("purge account tokens: %w", err)
		}
		_, err := t.exec(ctx, `INSERT INTO staff_account_tokens (hash, account_id, purpose, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)`,
			store.HashSecret(secret), tk.AccountID, tk.Purpose, tk.CreatedMs, tk.ExpiresMs)
		return s.mapErr(err, "account token", "secret")
	})
}

// CheckAccountToken implements store.StaffAccountStore.
func (as *accountStore) CheckAccountToken(ctx context.Context, purpose, secret string, nowMs int64) (store.StaffAccountToken, error) {
	var tk store.StaffAccountToken
	var used int64
	err := as.db.queryRow(ctx, `SELECT account_id, purpose, created_ms, expires_ms, used_ms FROM staff_account_tokens WHERE hash = ?`,
		store.HashSecret(secret)).Scan(&tk.AccountID, &tk.Purpose, &tk.CreatedMs, &tk.ExpiresMs, &used)
	return tk, checkAccountToken(tk, used, purpose, secret, nowMs, err)
}

func checkAccountToken(tk store.StaffAccountToken, used int64, purpose, secret string, nowMs int64, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && (secret == "" || used > 0 || tk.Purpose != purpose)):
		return store.Errf(store.ErrBadCredentials, "token", "account link")
	case err != nil:
		return fmt.Errorf("account token: %w", err)
	case nowMs >= tk.ExpiresMs:
		return store.Errf(store.ErrTokenExpired, "token", "account link")
	}
	return nil
}

// SpendAccountToken implements store.StaffAccountStore.
func (as *accountStore) SpendAccountToken(ctx context.Context, purpose, secret string, nowMs int64) (store.StaffAccountToken, error) {
	var tk store.StaffAccountToken
	err := as.db.write(ctx, func(t *wtx) error {
		t.noAudit("a one-time link or sign-in step used; what it leads to is audited")
		var used int64
		h := store.HashSecret(secret)
		err := t.queryRow(ctx, `SELECT account_id, purpose, created_ms, expires_ms, used_ms FROM staff_account_tokens WHERE hash = ?`+t.d.ForUpdate,
			h).Scan(&tk.AccountID, &tk.Purpose, &tk.CreatedMs, &tk.ExpiresMs, &used)
		if err := checkAccountToken(tk, used, purpose, secret, nowMs, err); err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE staff_account_tokens SET used_ms = ? WHERE hash = ? AND used_ms = 0`, nowMs, h)
		if err != nil {
			return fmt.Errorf("spend account token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return store.Errf(store.ErrBadCredentials, "token", "account link")
		}
		return nil
	})
	if err != nil {
		return store.StaffAccountToken{}, err
	}
	return tk, nil
}

// failureWindowMs is how long failures are kept (the longest window a
// caller may count over).
const failureWindowMs = 24 * 3600 * 1000

// RecordSignInFailure implements store.StaffAccountStore.
func (as *accountStore) RecordSignInFailure(ctx context.Context, keys []string, nowMs int64) error {
	return as.db.write(ctx, func(t *wtx) error {
		t.noAudit("sign-in bookkeeping: failure counters of the rate limit")
		// Failures older than the longest window go, whoever's.
		if _, err := t.exec(ctx, `DELETE FROM sign_in_failures WHERE at_ms < ?`, nowMs-failureWindowMs); err != nil {
			return fmt.Errorf("purge sign-in failures: %w", err)
		}
		for _, k := range keys {
			if k == "" || len(k) > 300 {
				return &domain.FieldError{Field: "key", Message: "1 to 300 bytes"}
			}
			if _, err := t.exec(ctx, `INSERT INTO sign_in_failures (key, at_ms) VALUES (?, ?)`, k, nowMs); err != nil {
				return fmt.Errorf("record sign-in failure: %w", err)
			}
		}
		return nil
	})
}

// SignInFailures implements store.StaffAccountStore.
func (as *accountStore) SignInFailures(ctx context.Context, key string, sinceMs int64) (int, error) {
	var n int
	if err := as.db.queryRow(ctx, `SELECT count(*) FROM sign_in_failures WHERE key = ? AND at_ms >= ?`, key, sinceMs).Scan(&n); err != nil {
		return 0, fmt.Errorf("sign-in failures: %w", err)
	}
	return n, nil
}

// ClearSignInFailures implements store.StaffAccountStore.
func (as *accountStore) ClearSignInFailures(ctx context.Context, key string) error {
	return as.db.write(ctx, func(t *wtx) error {
		t.noAudit("sign-in bookkeeping: failure counters of the rate limit")
		_, err := t.exec(ctx, `DELETE FROM sign_in_failures WHERE key = ?`, key)
		return err
	})
}
