package protocol

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// MaxIDLen is the longest door, center, room, member or command identifier.
const MaxIDLen = 64

// ValidID reports why s is not a valid identifier (door, center, room, member,
// command), or nil. Identifiers appear in MQTT topics and certificate subjects,
// so they are restricted to ASCII letters, digits, '.', '_' and '-', start with
// a letter or digit, and are at most MaxIDLen bytes. This excludes the MQTT
// separators and wildcards ('/', '+', '#') and the '$' of system topics.
func ValidID(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if len(s) > MaxIDLen {
		return fmt.Errorf("longer than %d bytes", MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("character %q at %d not allowed (letters, digits, '.', '_', '-'; starting with a letter or digit)", c, i)
		}
	}
	return nil
}

func checkID(field, s string) error {
	if err := ValidID(s); err != nil {
		return invalid(field, "%q: %v", s, err)
	}
	return nil
}

func checkOptionalID(field, s string) error {
	if s == "" {
		return nil
	}
	return checkID(field, s)
}

// UID is a badge's ISO 14443A unique identifier as upper-case hexadecimal:
// 8, 14 or 20 hex digits for single, double and triple size UIDs.
type UID string

// UIDFromBytes returns the UID for raw UID bytes.
func UIDFromBytes(b []byte) UID { return UID(strings.ToUpper(hex.EncodeToString(b))) }

// ParseUID accepts hexadecimal in either case, with optional ':' or ' '
// separators (as technicians copy them from tools), and returns the canonical UID.
func ParseUID(s string) (UID, error) {
	clean := strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(clean)
	if err != nil {
		return "", fmt.Errorf("badge UID %q is not hexadecimal", s)
	}
	if !validUIDLen(len(b)) {
		return "", fmt.Errorf("badge UID %q has %d bytes; ISO 14443A UIDs have 4, 7 or 10", s, len(b))
	}
	return UIDFromBytes(b), nil
}

// Bytes returns the raw UID bytes; it panics on nothing and returns nil for an
// invalid UID.
func (u UID) Bytes() []byte {
	b, err := hex.DecodeString(string(u))
	if err != nil {
		return nil
	}
	return b
}

// Validate reports whether u is canonical: upper-case hex of 4, 7 or 10 bytes.
func (u UID) Validate() error {
	s := string(u)
	if !validUIDLen(len(s)/2) || len(s)%2 != 0 {
		return fmt.Errorf("%d hex digits; want 8, 14 or 20", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return fmt.Errorf("character %q at %d is not an upper-case hex digit", c, i)
		}
	}
	return nil
}

func validUIDLen(n int) bool { return n == 4 || n == 7 || n == 10 }

func checkUID(field string, u UID) error {
	if err := u.Validate(); err != nil {
		return invalid(field, "badge UID %q: %v", string(u), err)
	}
	return nil
}
