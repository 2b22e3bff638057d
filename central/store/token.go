package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Role is what an API token may do.
type Role string

// Roles.
const (
	RoleAdmin      Role = "admin"      // the cooperative: everything
	RoleManager    Role = "manager"    // one center's data
	RoleTechnician Role = "technician" // doors of the listed centers
)

// Token is an API bearer token as stored (without its secret).
type Token struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Role      Role     `json:"role"`
	Centers   []string `json:"centers,omitempty"` // manager: exactly one; technician: one or more
	CreatedMs int64    `json:"created_ms"`
}

// StaffPrincipalPrefix starts the ids of staff accounts acting as tokens
// (central/accounts.Principal); an API token's id may not start with it.
const StaffPrincipalPrefix = "staff."

// Validate checks the token.
func (t *Token) Validate() error {
	if err := protocol.ValidID(t.ID); err != nil {
		return &domain.FieldError{Field: "id", Message: fmt.Sprintf("%q: %v", t.ID, err)}
	}
	if strings.HasPrefix(t.ID, StaffPrincipalPrefix) {
		return &domain.FieldError{Field: "id", Message: fmt.Sprintf("%q: the prefix %q is reserved for staff accounts", t.ID, StaffPrincipalPrefix)}
	}
	if t.Name == "" || len(t.Name) > 200 {
		return &domain.FieldError{Field: "name", Message: "required, at most 200 bytes"}
	}
	switch t.Role {
	case RoleAdmin:
		if len(t.Centers) != 0 {
			return &domain.FieldError{Field: "centers", Message: "an admin token is not bound to centers"}
		}
	case RoleManager:
		if len(t.Centers) != 1 {
			return &domain.FieldError{Field: "centers", Message: "a manager token names exactly one center"}
		}
	case RoleTechnician:
		if len(t.Centers) == 0 || len(t.Centers) > 100 {
			return &domain.FieldError{Field: "centers", Message: "a technician token names 1 to 100 centers"}
		}
	default:
		return &domain.FieldError{Field: "role", Message: fmt.Sprintf("%q; want admin, manager or technician", t.Role)}
	}
	seen := map[string]bool{}
	for i, c := range t.Centers {
		if err := protocol.ValidID(c); err != nil {
			return &domain.FieldError{Field: fmt.Sprintf("centers[%d]", i), Message: fmt.Sprintf("%q: %v", c, err)}
		}
		if seen[c] {
			return &domain.FieldError{Field: fmt.Sprintf("centers[%d]", i), Message: "listed twice"}
		}
		seen[c] = true
	}
	return nil
}

// NewSecret returns a random secret (256 bits, URL-safe) with the prefix.
func NewSecret(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret is how secrets are kept: SHA-256 in hex. Secrets are 256-bit
// random values, so a fast hash is enough (no dictionary to defend against).
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
