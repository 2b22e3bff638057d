package store

import (
	"context"

	"github.com/smartworkcenters/swc/central/domain"
)

// The members' sign-in state (issue 15, package central/accounts):
// one-time e-mail codes, rate-limit counters, passkey credentials and
// WebAuthn ceremonies in progress. Everything lives in the database so
// that a code sent by one replica is checked by another and a limit holds
// across all of them. Only hashes of codes and of the browser's pending
// sign-in nonce are kept.

// SignInCode is a pending e-mail code sign-in, keyed by the hash of the
// browser's nonce (its pending sign-in cookie).
type SignInCode struct {
	NonceHash string // HashSecret of the browser's nonce
	Email     string // the address asked for, lower-cased
	MemberID  string // "" when no member has that address (nothing was sent)
	CodeHash  string // a keyed hash of the code (never the code)
	CreatedMs int64
	ExpiresMs int64
	Attempts  int // wrong codes tried so far
}

// Passkey is a member's WebAuthn credential. Data is the credential as the
// WebAuthn library keeps it (JSON: public key, flags, authenticator); the
// store reads only the columns beside it.
type Passkey struct {
	ID         string `json:"id"` // the credential id, base64url without padding
	MemberID   string `json:"member_id"`
	Name       string `json:"name"`       // the member's label ("Phone")
	Transports string `json:"transports"` // comma-separated, as the browser gave them
	SignCount  uint32 `json:"sign_count"`
	// CloneWarning is set when a sign-in's counter did not increase: the
	// authenticator may have been copied.
	CloneWarning bool   `json:"clone_warning"`
	CreatedMs    int64  `json:"created_ms"`
	LastUsedMs   int64  `json:"last_used_ms"`
	Data         []byte `json:"-"`
}

// MemberAuthStore keeps the members' sign-in state.
type MemberAuthStore interface {
	// MemberByEmail finds the member with this address, case-insensitively
	// (ErrNotFound).
	MemberByEmail(ctx context.Context, email string) (domain.Member, error)

	// PutSignInCode stores a pending code (ErrExists when the nonce is
	// taken).
	PutSignInCode(ctx context.Context, c SignInCode) error
	// TrySignInCode checks a code against the pending sign-in of the nonce
	// in one transaction: match reports whether codeHash is the stored one
	// (the caller hashes; compared in constant time). A match deletes the
	// code (single use) and returns it; a miss counts an attempt, and the
	// attempt that reaches maxAttempts deletes it. A nonce that is unknown,
	// used, dead or expired at nowMs is ErrNotFound; a wrong code is
	// ErrBadCredentials with the attempts left (and the pending sign-in's
	// Email alone, for the caller's per-address limit).
	TrySignInCode(ctx context.Context, nonceHash, codeHash string, nowMs int64, maxAttempts int) (SignInCode, int, error)
	// PurgeSignInCodes deletes codes expired at nowMs.
	PurgeSignInCodes(ctx context.Context, nowMs int64) (int, error)

	// Hit counts one event of key in the fixed window that holds nowMs
	// (windows of windowMs from the epoch) and returns the count including
	// this one. Keys name the limit and the subject ("code-ip:192.0.2.7").
	Hit(ctx context.Context, key string, nowMs, windowMs int64) (int, error)
	// Hits returns the count of key in the window that holds nowMs,
	// without counting (0 when none).
	Hits(ctx context.Context, key string, nowMs, windowMs int64) (int, error)
	// PurgeHits deletes the windows that ended before nowMs.
	PurgeHits(ctx context.Context, nowMs int64) (int, error)

	// CreatePasskey stores a new credential of an existing member
	// (ErrMissingRef, field member_id; ErrExists when the id is taken).
	// Audited.
	CreatePasskey(ctx context.Context, p Passkey) error
	// Passkey returns the credential with this id (ErrNotFound).
	Passkey(ctx context.Context, id string) (Passkey, error)
	// ListPasskeys returns the member's credentials, oldest first.
	ListPasskeys(ctx context.Context, memberID string) ([]Passkey, error)
	// UsePasskey records a sign-in with the credential: its new counter,
	// clone warning, data and time.
	UsePasskey(ctx context.Context, id string, signCount uint32, cloneWarning bool, data []byte, atMs int64) error
	// DeletePasskey removes the member's credential (ErrNotFound when the
	// member has no such credential). Audited.
	DeletePasskey(ctx context.Context, memberID, id string) error

	// PutCeremony keeps a WebAuthn ceremony's session data until expiresMs
	// under the hash of its id (and deletes ceremonies expired at nowMs);
	// TakeCeremony returns it once and deletes
	// it (ErrNotFound when unknown, taken or expired at nowMs).
	PutCeremony(ctx context.Context, idHash string, data []byte, nowMs, expiresMs int64) error
	TakeCeremony(ctx context.Context, idHash string, nowMs int64) ([]byte, error)
}
