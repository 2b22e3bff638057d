package accounts

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPasswordRules: the NIST SP 800-63B rules, as a table.
func TestPasswordRules(t *testing.T) {
	common := commonPasswords()
	ctxWords := contextWords("ann.peeters@gentcowork.be", "Ann Peeters", "Gent Dok")
	for _, c := range []struct {
		name, pw string
		want     string // "" accepted
	}{
		{"long passphrase", "correct ostrich paperclip 42", ""},
		{"exactly 12", "xk3!pq9#zm2w", ""},
		{"11 is short", "xk3!pq9#zm2", PwTooShort},
		{"no composition rules: lower case only", "tortoiseshellbutterfly", ""},
		{"Unicode counts characters, not bytes", "ééééèèèèàààç", ""},
		{"emoji allowed", "🦉🦉🦉 owls at night 🌙", ""},
		{"spaces allowed", "    four spaces and words", ""},
		{"NFKC: full-width is normalised before counting", "ｐａｓｓｗｏｒｄ１２３４", PwCommon},
		{"129 characters is long", strings.Repeat("ab3", 43), PwTooLong},
		{"128 characters is fine", strings.Repeat("ab3", 42) + "xy", ""},
		{"common", "Password1234", PwCommon},
		{"common, case-insensitive", "QWERTYUIOP123", PwCommon},
		{"e-mail's local part", "my ann.peeters secret", PwContext},
		{"e-mail's domain", "gentcowork rocks!!", PwContext},
		{"name", "peeters family 1977", PwContext},
		{"center name", "i love gent dok so much", PwContext},
		{"service name", "swc-door-opener-77", PwContext},
		{"one character", "aaaaaaaaaaaaaa", PwRepetitive},
		{"two characters", "abababababababab", PwRepetitive},
		{"a run", "bcdefghijklmnop", PwRepetitive},
		{"a wrapping digit run", "567890123456", PwRepetitive},
		{"a descending run", "zyxwvutsrqpo", PwRepetitive},
		{"a control character", "tab\tinside a password", PwInvalid},
		{"invalid UTF-8", "abcdefghijk\xff", PwInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkPassword(NormalizePassword(c.pw), common, ctxWords)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, &PasswordError{Code: c.want}, "%v", err)
		})
	}
}

// TestPasswordHash: PHC strings verify with their own parameters, and
// refuse a wrong password or a damaged hash.
func TestPasswordHash(t *testing.T) {
	h := HashPassword(TestParams(), "ｃｏｒｒｅｃｔ horse")
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$"), h)
	ok, err := VerifyPassword(h, "correct horse")
	require.NoError(t, err)
	require.True(t, ok, "verified after NFKC normalisation")
	ok, err = VerifyPassword(h, "correct horsf")
	require.NoError(t, err)
	require.False(t, ok)
	require.NotEqual(t, h, HashPassword(TestParams(), "correct horse"), "salted")
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", strings.Replace(h, "$v=19$", "$v=18$", 1)} {
		_, err := VerifyPassword(bad, "x")
		require.Error(t, err, bad)
	}
	p := DefaultParams()
	require.Equal(t, uint32(64*1024), p.MemoryKiB)
}

// The hash verified for unknown e-mails is a real argon2id PHC string with
// the configured costs (so that verifying against it costs the same as
// against a member's), and no password matches it.
func TestUnmatchableHash(t *testing.T) {
	for _, p := range []PasswordParams{DefaultParams(), TestParams()} {
		h := unmatchableHash(p)
		assert.Contains(t, h, fmt.Sprintf("$m=%d,t=%d,p=%d$", p.MemoryKiB, p.Time, p.Threads))
		for _, pw := range []string{"", "dummy password for timing", "correct horse battery staple"} {
			if p == DefaultParams() && pw != "" {
				continue // one verification at production costs is enough
			}
			ok, err := VerifyPassword(h, pw)
			require.NoError(t, err, "a readable hash")
			assert.False(t, ok, "%q does not match", pw)
		}
	}
}
