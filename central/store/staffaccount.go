package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Staff account statuses.
type AccountStatus string

// An account is invited until its holder sets a password and enrols a
// second factor, then active until an admin or manager disables it.
const (
	AccountInvited  AccountStatus = "invited"
	AccountActive   AccountStatus = "active"
	AccountDisabled AccountStatus = "disabled"
)

// Purposes of one-time account links (StaffAccountToken.Purpose).
const (
	PurposeInvite   = "invite"    // accept an invitation (72 h)
	PurposeReset    = "reset"     // reset a password (1 h)
	PurposeSignInMF = "second_fa" // between the password and the second factor (minutes)
)

// StaffAccount is a person of the staff (issue 16): they sign in with an
// e-mail address, a password and a TOTP code. Role and Centers follow the
// rules of API tokens (Token.Validate). The secrets are never encoded
// (json:"-"): an audit row or an API answer cannot carry them.
type StaffAccount struct {
	ID      string        `json:"id"`
	Email   string        `json:"email"` // lower case; unique
	Name    string        `json:"name"`
	Role    Role          `json:"role"`
	Centers []string      `json:"centers,omitempty"`
	Status  AccountStatus `json:"status"`
	// PasswordHash is an argon2id PHC string (central/accounts), "" before
	// the invitation is accepted.
	PasswordHash string `json:"-"`
	// TOTPSecret is the base32 TOTP secret; TOTPConfirmed is false while
	// the holder has not yet proven a code from it (enrolment).
	TOTPSecret    string `json:"-"`
	TOTPConfirmed bool   `json:"totp_confirmed"`
	// TOTPLastStep is the last 30-second step whose code was accepted
	// (the replay guard).
	TOTPLastStep int64 `json:"-"`
	// RecoveryHashes are the hashes of the unused recovery codes.
	RecoveryHashes []string `json:"-"`
	CreatedMs      int64    `json:"created_ms"`
	UpdatedMs      int64    `json:"updated_ms"`
}

// Validate checks an account's public fields.
func (a *StaffAccount) Validate() error {
	if err := protocol.ValidID(a.ID); err != nil {
		return &domain.FieldError{Field: "id", Message: fmt.Sprintf("%q: %v", a.ID, err)}
	}
	if a.Email == "" || len(a.Email) > 254 || strings.ToLower(a.Email) != a.Email || strings.Count(a.Email, "@") != 1 ||
		strings.HasPrefix(a.Email, "@") || strings.HasSuffix(a.Email, "@") || strings.ContainsAny(a.Email, " \t\r\n<>,;\"") {
		return &domain.FieldError{Field: "email", Message: "an e-mail address in lower case, at most 254 bytes"}
	}
	if a.Name == "" || len(a.Name) > 200 {
		return &domain.FieldError{Field: "name", Message: "required, at most 200 bytes"}
	}
	tk := Token{ID: a.ID, Name: a.Name, Role: a.Role, Centers: a.Centers}
	if err := tk.Validate(); err != nil {
		return err
	}
	switch a.Status {
	case AccountInvited, AccountActive, AccountDisabled:
	default:
		return &domain.FieldError{Field: "status", Message: fmt.Sprintf("%q; want invited, active or disabled", a.Status)}
	}
	if a.Status == AccountActive && (a.PasswordHash == "" || a.TOTPSecret == "" || !a.TOTPConfirmed) {
		return &domain.FieldError{Field: "status", Message: "an active account has a password and a confirmed second factor"}
	}
	return nil
}

// StaffAccountToken is a one-time link or step of an account (only the
// hash of its secret is kept).
type StaffAccountToken struct {
	AccountID string `json:"account_id"`
	Purpose   string `json:"purpose"`
	CreatedMs int64  `json:"created_ms"`
	ExpiresMs int64  `json:"expires_ms"`
}

// AccountFilter selects accounts: CenterIDs keeps accounts bound to one of
// them (nil: all); Status "" any.
type AccountFilter struct {
	CenterIDs []string
	Status    AccountStatus
	PageRequest
}

// StaffAccountStore keeps the staff accounts (migration 0014). Changes a
// person makes (creating, changing the role or centers, disabling, setting
// a password or a second factor) are audited with the secrets redacted;
// sign-in bookkeeping (the replay guard, failure counters, one-time
// steps) is not.
type StaffAccountStore interface {
	// CreateAccount stores a new account (ErrExists on id, or on email
	// with field "email"; ErrMissingRef for an unknown center).
	CreateAccount(ctx context.Context, a StaffAccount) error
	// Account returns an account with its secrets (ErrNotFound).
	Account(ctx context.Context, id string) (StaffAccount, error)
	// AccountByEmail returns the account of this (lower-case) address.
	AccountByEmail(ctx context.Context, email string) (StaffAccount, error)
	// ListAccounts lists accounts by id, without secrets.
	ListAccounts(ctx context.Context, f AccountFilter) (Page[StaffAccount], error)
	// UpdateAccount changes name, role, centers and status (the secrets
	// are kept). Disabling ends the account's sessions in the same
	// transaction.
	UpdateAccount(ctx context.Context, a StaffAccount) error
	// SetPassword stores a new password hash and ends every session of
	// the account in the same transaction.
	SetPassword(ctx context.Context, id, hash string) error
	// SetTOTP stores a TOTP secret: unconfirmed (an enrolment under way)
	// or confirmed with the hashes of new recovery codes. An invited
	// account with a password becomes active when its TOTP is confirmed.
	SetTOTP(ctx context.Context, id, secret string, confirmed bool, recoveryHashes []string) error
	// SetRecoveryCodes replaces the recovery codes' hashes.
	SetRecoveryCodes(ctx context.Context, id string, hashes []string) error
	// UseTOTPStep records that the code of this step was accepted; a step
	// not after the last recorded one is ErrStale (a replayed code).
	UseTOTPStep(ctx context.Context, id string, step int64) error
	// UseRecoveryCode spends a recovery code by its hash
	// (ErrBadCredentials when it is not one of the account's).
	UseRecoveryCode(ctx context.Context, id, hash string) error

	// CreateAccountToken stores a one-time token under the hash of secret.
	CreateAccountToken(ctx context.Context, tk StaffAccountToken, secret string) error
	// CheckAccountToken returns the token of this secret and purpose, live
	// at nowMs, without spending it (ErrBadCredentials: unknown, used or
	// other purpose; ErrTokenExpired).
	CheckAccountToken(ctx context.Context, purpose, secret string, nowMs int64) (StaffAccountToken, error)
	// SpendAccountToken is CheckAccountToken that also uses it up (at most
	// one caller succeeds).
	SpendAccountToken(ctx context.Context, purpose, secret string, nowMs int64) (StaffAccountToken, error)

	// RecordSignInFailure counts a failed sign-in under each key (such as
	// "account:ID" and "ip:ADDR") at nowMs; SignInFailures counts a key's
	// failures since sinceMs; ClearSignInFailures forgets a key's (a
	// successful sign-in). Older failures are purged as they are counted.
	RecordSignInFailure(ctx context.Context, keys []string, nowMs int64) error
	SignInFailures(ctx context.Context, key string, sinceMs int64) (int, error)
	ClearSignInFailures(ctx context.Context, key string) error
}
