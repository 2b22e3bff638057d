package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/web"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// TestLoginRedirectStaysOnSite logs in with every known open-redirect form
// of the "next" parameter: only a plain path of this site is followed,
// anything a browser could resolve to another host (or that is not plainly
// a path) goes to "/". Each case is also checked the way a browser would
// read the Location: resolved against the dashboard's URL it must stay on
// the dashboard's host.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Gent", TimeZone: "Europe/Brussels"}))
	secret := store.NewSecret(api.TokenPrefix)
	require.NoError(t, st.CreateToken(ctx, store.Token{ID: "mgr1", Name: "m", Role: store.RoleManager, Centers: []string{"c1"}}, secret))
	reg := metrics.NewRegistry()
	w, err := web.New(web.Config{Store: st, Metrics: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(w.Close)
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	base, err := url.Parse(srv.URL)
	require.NoError(t, err)

	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	login := func(next string) string {
		t.Helper()
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Get(srv.URL + "/login")
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := csrfRE.FindSubmatch(body)
		require.NotNil(t, m, "the login form has a CSRF token")
		// The transport, not the client: a client refuses a Location it
		// cannot parse, and the test must see the raw answer.
		req, err := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(url.Values{"token": {secret}, "csrf": {string(m[1])}, "next": {next}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
		res, err = http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusSeeOther, res.StatusCode, "next %q", next)
		return res.Header.Get("Location")
	}

	tests := []struct {
		next, want string
	}{
		// Plain paths of the dashboard are followed.
		{"/doors/d1", "/doors/d1"},
		{"/events?center_id=c1&from=2026-03-02T09:00:00Z", "/events?center_id=c1&from=2026-03-02T09:00:00Z"},
		{"/members/m1#badges", "/members/m1#badges"},
		{"/hours?q=a%20b", "/hours?q=a%20b"},
		{"/", "/"},
		// Everything else goes home.
		{"", "/"},
		{"//evil.example/", "/"},
		{"///evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"\\/evil.example", "/"},
		{"/\t/evil.example/", "/"},
		{"/\t\\evil.example", "/"},
		{"/%09/evil.example/", "/"},
		{"/%0d/evil.example/", "/"},
		{"/%0a/evil.example/", "/"},
		{"/%5cevil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"/%2f%2fevil.example", "/"},
		{"%2F%2Fevil.example", "/"},
		{"%2f%2fevil.example", "/"},
		{"/\r/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/doors\r\nSet-Cookie: x=1", "/"},
		{"/doors/d1\t", "/"},
		{"http://evil.example/", "/"},
		{"https:evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"data:text/html,x", "/"},
		{"evil.example", "/"},
		{"/..//evil.example", "/"},
		{"/.//evil.example", "/"},
		{"/a/../..//evil.example", "/"},
		{"/%2e%2e//evil.example", "/"},
		{"/%2E/%2Fevil.example", "/"},
		{" /doors/d1", "/"},
		{" //evil.example", "/"},
		{"\t//evil.example", "/"},
		{"/\u2215evil.example", "/"},        // division slash
		{"/\uff0fevil.example", "/"},        // fullwidth solidus
		{"/\uff3cevil.example", "/"},        // fullwidth reverse solidus
		{"/%E2%88%95evil.example", "/"},     // division slash, encoded
		{"/\u3002evil.example", "/"},        // ideographic full stop
		{"/\x00/evil.example", "/"},         // NUL
		{"/\x7f/evil.example", "/"},         // DEL
		{"/login", "/"},                     // no loop back to the form
		{"/login?next=//evil.example", "/"}, // nor through it
	}
	refused := 0
	for _, tc := range tests {
		if tc.want == "/" && tc.next != "" && tc.next != "/" {
			refused++
		}
		got := login(tc.next)
		require.Equal(t, tc.want, got, "next %q", tc.next)
		loc, err := base.Parse(got)
		require.NoError(t, err, "next %q", tc.next)
		require.Equal(t, base.Host, loc.Host, "next %q resolves on this site", tc.next)
	}
	var sb strings.Builder
	require.NoError(t, reg.WriteText(&sb))
	require.Contains(t, sb.String(), fmt.Sprintf("swc_web_unsafe_redirects_total %d\n", refused), "every refused target is counted")
}
