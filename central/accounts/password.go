package accounts

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Password rules (NIST SP 800-63B, section 3.1.1.2, with a second factor
// always required): at least MinPasswordRunes characters after NFKC
// normalisation, at most MaxPasswordRunes, any Unicode (spaces and emoji
// included; control characters not), no composition rules, no expiry;
// refused when on the embedded list of common and breached passwords,
// when it holds a word of its context (the e-mail's local part and domain,
// the account's name, "swc", the network's and centers' names), or when it
// is one character repeated or a run such as "123456789012".
const (
	MinPasswordRunes = 12
	MaxPasswordRunes = 128
)

// Codes of PasswordError: the catalog keys "staff.password.<code>".
const (
	PwTooShort   = "too_short"
	PwTooLong    = "too_long"
	PwInvalid    = "invalid"    // a control character or invalid UTF-8
	PwCommon     = "common"     // on the list of common or breached passwords
	PwContext    = "context"    // holds the e-mail, the name or a word of the service
	PwRepetitive = "repetitive" // one character repeated, or a sequence
)

// PasswordError says why a password is refused (field "password").
type PasswordError struct {
	Code string
}

// Is matches a PasswordError of the same code.
func (e *PasswordError) Is(target error) bool {
	t, ok := target.(*PasswordError)
	return ok && t.Code == e.Code
}

func (e *PasswordError) Error() string {
	switch e.Code {
	case PwTooShort:
		return fmt.Sprintf("password: at least %d characters", MinPasswordRunes)
	case PwTooLong:
		return fmt.Sprintf("password: at most %d characters", MaxPasswordRunes)
	case PwCommon:
		return "password: too common (on a list of breached passwords)"
	case PwContext:
		return "password: must not contain your e-mail, your name or the service's name"
	case PwRepetitive:
		return "password: a repeated character or a sequence"
	}
	return "password: control characters are not allowed"
}

//go:embed password_common.txt
var commonList string

// commonPasswords is the embedded list as a set (built once per Service:
// no package-level mutable state).
func commonPasswords() map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonList))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" && !strings.HasPrefix(w, "#") {
			out[strings.ToLower(w)] = true
		}
	}
	return out
}

// NormalizePassword is the form a password is checked and hashed in
// (NFKC, as SP 800-63B asks, so that the same password typed on another
// keyboard or system matches).
func NormalizePassword(pw string) string { return norm.NFKC.String(pw) }

// checkPassword applies the rules to a normalised password; context holds
// the words it must not contain (lower case, at least 3 characters).
func checkPassword(pw string, common map[string]bool, context []string) error {
	if !utf8.ValidString(pw) {
		return &PasswordError{Code: PwInvalid}
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return &PasswordError{Code: PwInvalid}
		}
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordRunes {
		return &PasswordError{Code: PwTooShort}
	}
	if n > MaxPasswordRunes {
		return &PasswordError{Code: PwTooLong}
	}
	low := strings.ToLower(pw)
	if common[low] {
		return &PasswordError{Code: PwCommon}
	}
	for _, w := range context {
		if len([]rune(w)) >= 3 && strings.Contains(low, w) {
			return &PasswordError{Code: PwContext}
		}
	}
	if repetitive(low) {
		return &PasswordError{Code: PwRepetitive}
	}
	return nil
}

// repetitive reports a password of at most two distinct characters, or one
// that is a single ascending or descending run ("abcdefghijkl",
// "987654321098" counts: digits wrap).
func repetitive(pw string) bool {
	rs := []rune(pw)
	distinct := map[rune]bool{}
	for _, r := range rs {
		distinct[r] = true
	}
	if len(distinct) <= 2 {
		return true
	}
	for _, dir := range []rune{1, -1} {
		run := true
		for i := 1; i < len(rs) && run; i++ {
			d := rs[i] - rs[i-1]
			wrap := unicode.IsDigit(rs[i]) && unicode.IsDigit(rs[i-1]) && d == -9*dir
			run = d == dir || wrap
		}
		if run {
			return true
		}
	}
	return false
}

// contextWords returns the words a password of this account must not
// contain: the e-mail's local part and the domain's first label, the
// name's words, the service's words and extra (center names).
func contextWords(email, name string, extra ...string) []string {
	words := []string{"swc", "smartworkcenter", "smart work center"}
	local, domain, _ := strings.Cut(strings.ToLower(email), "@")
	words = append(words, local)
	if first, _, ok := strings.Cut(domain, "."); ok {
		words = append(words, first)
	}
	words = append(words, strings.Fields(strings.ToLower(name))...)
	for _, e := range extra {
		words = append(words, strings.ToLower(strings.TrimSpace(e)))
	}
	out := words[:0]
	for _, w := range words {
		if len([]rune(w)) >= 3 {
			out = append(out, w)
		}
	}
	return out
}

// PasswordParams are argon2id's cost parameters. They are stored in each
// hash (PHC string), so raising them later keeps old hashes verifiable.
type PasswordParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams are the production costs: 64 MiB, 2 passes, 1 lane (above
// OWASP's argon2id minimums of 19 MiB/2 passes and 46 MiB/1 pass; about
// 0.1 s on one core of the central).
func DefaultParams() PasswordParams { return PasswordParams{MemoryKiB: 64 * 1024, Time: 2, Threads: 1} }

// TestParams are tiny costs for tests (never for real passwords).
func TestParams() PasswordParams { return PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1} }

const (
	saltBytes = 16
	keyBytes  = 32
)

// HashPassword returns the PHC string of the (normalised) password:
// $argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>, base64 without padding.
func HashPassword(p PasswordParams, pw string) string {
	salt := make([]byte, saltBytes)
	_, _ = rand.Read(salt) // never fails (Go ≥ 1.24)
	key := argon2.IDKey([]byte(NormalizePassword(pw)), salt, p.Time, p.MemoryKiB, p.Threads, keyBytes)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// unmatchableHash is a PHC string with the costs p whose key no password
// gives (an argon2id key of all zeros): verifying a password against it
// costs what verifying against a real hash costs, without computing one
// (64 MiB and ~0.1 s at each start of the central, taken from the doors
// reconnecting after a restart).
func unmatchableHash(p PasswordParams) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(make([]byte, saltBytes)), base64.RawStdEncoding.EncodeToString(make([]byte, keyBytes)))
}

var errBadHash = errors.New("accounts: not an argon2id PHC string")

// VerifyPassword reports whether pw matches the PHC string (in constant
// time over the hash). An unreadable hash is an error.
func VerifyPassword(phc, pw string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil ||
		p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 || p.MemoryKiB > 4<<20 || p.Time > 100 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(NormalizePassword(pw)), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
