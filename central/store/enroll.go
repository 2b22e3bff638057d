package store

import (
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Limits of enrollment tokens.
const (
	DefaultEnrollmentTTL = 24 * time.Hour
	MaxEnrollmentTTL     = 7 * 24 * time.Hour
)

// EnrollmentToken is a one-time token that lets one door enroll (`swc-edge
// provision`), as stored: its secret is kept only as a hash.
type EnrollmentToken struct {
	ID        string `json:"id"`
	Door      string `json:"door"`
	CreatedBy string `json:"created_by"` // id of the API token that created it
	CreatedMs int64  `json:"created_ms"`
	ExpiresMs int64  `json:"expires_ms"`
	UsedMs    int64  `json:"used_ms,omitempty"` // 0 until redeemed
}

// Validate checks the token.
func (e *EnrollmentToken) Validate() error {
	if err := protocol.ValidID(e.ID); err != nil {
		return &domain.FieldError{Field: "id", Message: fmt.Sprintf("%q: %v", e.ID, err)}
	}
	if err := protocol.ValidID(e.Door); err != nil {
		return &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", e.Door, err)}
	}
	if e.CreatedBy == "" || len(e.CreatedBy) > 200 {
		return &domain.FieldError{Field: "created_by", Message: "required, at most 200 bytes"}
	}
	ttl := time.Duration(e.ExpiresMs-e.CreatedMs) * time.Millisecond
	if ttl <= 0 || ttl > MaxEnrollmentTTL {
		return &domain.FieldError{Field: "expires_ms", Message: fmt.Sprintf("must be after created_ms and at most %v later", MaxEnrollmentTTL)}
	}
	if e.UsedMs != 0 {
		return &domain.FieldError{Field: "used_ms", Message: "a new token is unused"}
	}
	return nil
}

// DoorKey is the public key a door enrolled with: certificate renewals must
// carry the same key, so a key of an earlier enrollment (a stolen SD card's)
// is refused once the door is enrolled again.
type DoorKey struct {
	Door       string `json:"door"`
	KeySHA256  string `json:"key_sha256"` // SHA-256 of the SubjectPublicKeyInfo, lower-case hex
	EnrolledMs int64  `json:"enrolled_ms"`
}

// Validate checks the key record (Door may be empty when the store fills it).
func (k *DoorKey) Validate() error {
	if len(k.KeySHA256) != 64 {
		return &domain.FieldError{Field: "key_sha256", Message: "want 64 hex digits"}
	}
	for _, c := range k.KeySHA256 {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return &domain.FieldError{Field: "key_sha256", Message: "want lower-case hex"}
		}
	}
	if k.EnrolledMs <= 0 {
		return &domain.FieldError{Field: "enrolled_ms", Message: "required"}
	}
	return nil
}
