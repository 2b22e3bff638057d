package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/web"
)

// TestParseTrustedProxies: networks and single addresses are read (IPv4
// in IPv6 as IPv4, host bits cleared); an entry that is not a network, or
// that covers every address, is refused with the setting's name.
func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{" 10.1.2.3/8 , fd00::/8,192.0.2.7", "10.0.0.0/8,fd00::/8,192.0.2.7/32", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"10.0.0.0/33", "", `"10.0.0.0/33" is not a network`},
		{"proxy.example", "", `"proxy.example" is not a network`},
		{"fe80::1%eth0", "", `"fe80::1%eth0" is not a network`},
		{"0.0.0.0/0", "", "covers every address"},
		{"10.0.0.0/8,::/0", "", "covers every address"},
	} {
		got, err := web.ParseTrustedProxies(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			require.ErrorContains(t, err, "trusted_proxies", tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got.String(), tc.in)
	}
}

// TestClientIP: X-Forwarded-For counts only when the peer is a trusted
// proxy, and then its rightmost address that is not a trusted proxy is the
// client; what the client wrote left of that is ignored.
func TestClientIP(t *testing.T) {
	tp, err := web.ParseTrustedProxies("10.0.0.0/8,2001:db8::/32")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		peer   string
		xff    []string
		want   string
		direct string // with no trusted proxies
	}{
		{"direct client", "198.51.100.7:4242", nil, "198.51.100.7", "198.51.100.7"},
		{"direct client forging the header", "198.51.100.7:4242", []string{"203.0.113.9"}, "198.51.100.7", "198.51.100.7"},
		{"behind the proxy", "10.0.0.2:4242", []string{"203.0.113.9"}, "203.0.113.9", "10.0.0.2"},
		{"forged entries left of the proxy's", "10.0.0.2:4242", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9", "10.0.0.2"},
		{"two trusted proxies", "10.0.0.2:4242", []string{"203.0.113.9, 10.9.9.9"}, "203.0.113.9", "10.0.0.2"},
		{"several headers", "10.0.0.2:4242", []string{"1.2.3.4", "203.0.113.9"}, "203.0.113.9", "10.0.0.2"},
		{"IPv6 proxy", "[2001:db8::5]:4242", []string{"2001:db8:ffff::1, 2a00::7"}, "2a00::7", "2001:db8::5"},
		{"not an address", "10.0.0.2:4242", []string{"1.2.3.4, garbage, 10.9.9.9"}, "10.9.9.9", "10.0.0.2"},
		{"only trusted entries", "10.0.0.2:4242", []string{"10.0.0.3"}, "10.0.0.3", "10.0.0.2"},
		{"no header from the proxy", "10.0.0.2:4242", nil, "10.0.0.2", "10.0.0.2"},
		{"IPv4 in IPv6 peer", "[::ffff:10.0.0.2]:4242", []string{"203.0.113.9"}, "203.0.113.9", "10.0.0.2"},
	} {
		r, err := http.NewRequest("GET", "http://central.test/", nil)
		require.NoError(t, err)
		r.RemoteAddr = tc.peer
		for _, h := range tc.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		require.Equal(t, tc.want, tp.ClientIP(r), tc.name)
		require.Equal(t, tc.direct, web.TrustedProxies(nil).ClientIP(r), tc.name+" (no trusted proxies)")
	}
}

// TestSignInRateLimitBehindProxy: behind a trusted proxy, the failures of
// one client's address do not lock another client out; without
// --trusted-proxies every client shares the proxy's address (and its
// limit), and a forged X-Forwarded-For changes nothing.
func TestSignInRateLimitBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies string
		want    int // the second client's answer after the first used up the limit
	}{
		{"trusted proxy", "127.0.0.1/32", http.StatusUnauthorized},
		{"no trusted proxy", "", http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := web.ParseTrustedProxies(tc.proxies)
			require.NoError(t, err)
			n := startNetworkWith(t, func(c *server.Config) { c.TrustedProxies = tp })
			b := n.newBrowser()
			signIn := func(client string) int {
				code, _, _ := b.post("/login", url.Values{"email": {"nobody@staff.example"}, "password": {"not the password"}, "csrf": {b.formCSRF("/login")}},
					"X-Forwarded-For", client)
				return code
			}
			for range accounts.AddressFailures {
				require.Equal(t, http.StatusUnauthorized, signIn("203.0.113.9"))
			}
			require.Equal(t, http.StatusTooManyRequests, signIn("203.0.113.9"), "the first client is limited")
			require.Equal(t, tc.want, signIn("198.51.100.7"), "another client behind the same proxy")
		})
	}
}
