package accounts

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTOTP: RFC 6238's SHA-1 test vector (6 digits), the skew of one step
// each side, and the otpauth:// URI an authenticator app reads.
func TestTOTP(t *testing.T) {
	// RFC 6238 appendix B: secret "12345678901234567890", T=59 s → 94287082 (8 digits); 6 digits: 287082.
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	code, err := TOTPCode(secret, time.Unix(59, 0))
	require.NoError(t, err)
	require.Equal(t, "287082", code)
	now := time.Unix(1_111_111_109, 0) // RFC vector 07081804 → 081804
	code, err = TOTPCode(secret, now)
	require.NoError(t, err)
	require.Equal(t, "081804", code)
	for _, c := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"same step", now, true}, {"one step later", now.Add(30 * time.Second), true}, {"one step earlier", now.Add(-30 * time.Second), true},
		{"two steps later", now.Add(61 * time.Second), false},
	} {
		step, ok := matchTOTP(secret, "081804", c.at)
		require.Equal(t, c.ok, ok, c.name)
		if ok {
			require.Equal(t, now.Unix()/30, step, c.name)
		}
	}
	_, ok := matchTOTP(secret, "08180", now)
	require.False(t, ok, "five digits")

	uri, err := TOTPURI("Smart Work Centers", "ann@example.org", secret)
	require.NoError(t, err)
	u, err := url.Parse(uri)
	require.NoError(t, err)
	require.Equal(t, "otpauth", u.Scheme)
	require.Equal(t, "totp", u.Host)
	q := u.Query()
	require.Equal(t, secret, q.Get("secret"))
	require.Equal(t, "30", q.Get("period"))
	require.Equal(t, "6", q.Get("digits"))
	require.Equal(t, "SHA1", q.Get("algorithm"))
	require.Equal(t, "Smart Work Centers", q.Get("issuer"))
}

// TestRecoveryCodes: ten distinct codes, matched however they are typed.
func TestRecoveryCodes(t *testing.T) {
	codes, hashes := newRecoveryCodes()
	require.Len(t, codes, RecoveryCodes)
	seen := map[string]bool{}
	for i, c := range codes {
		require.Regexp(t, `^[a-z2-9]{5}-[a-z2-9]{5}$`, c)
		require.False(t, seen[c])
		seen[c] = true
		require.Equal(t, hashes[i], recoveryHash(" "+c[:5]+" "+c[6:]+" "))
	}
}
