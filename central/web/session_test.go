package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/web"
)

// clock is a settable time for session expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSessionsExpireAndCookiesAreSecureOverTLS serves the dashboard over
// TLS on a real SQLite store, with a clock the test moves: the session
// cookie is Secure, a session ends after 30 idle minutes, and a busy one
// after 12 hours.
func TestSessionsExpireAndCookiesAreSecureOverTLS(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Gent", TimeZone: "Europe/Brussels"}))
	secret := store.NewSecret(api.TokenPrefix)
	require.NoError(t, st.CreateToken(ctx, store.Token{ID: "mgr1", Name: "m", Role: store.RoleManager, Centers: []string{"c1"}}, secret))
	clk := &clock{t: time.Now()}
	w, err := web.New(web.Config{Store: st, Now: clk.now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(w.Close)
	srv := httptest.NewTLSServer(w)
	t.Cleanup(srv.Close)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path string) *http.Response {
		res, err := c.Get(srv.URL + path)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	login := func() {
		t.Helper()
		res, err := c.Get(srv.URL + "/login")
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := csrfRE.FindStringSubmatch(string(body))
		require.NotNil(t, m)
		res, err = c.PostForm(srv.URL+"/login", url.Values{"token": {secret}, "csrf": {m[1]}})
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		var sess *http.Cookie
		for _, ck := range res.Cookies() {
			if ck.Name == "swc_session" {
				sess = ck
			}
		}
		require.NotNil(t, sess)
		assert.True(t, sess.Secure, "Secure over TLS")
		assert.True(t, sess.HttpOnly)
	}

	login()
	require.Equal(t, http.StatusOK, get("/").StatusCode)
	clk.add(29 * time.Minute)
	require.Equal(t, http.StatusOK, get("/").StatusCode, "29 idle minutes: still on")
	clk.add(30 * time.Minute)
	require.Equal(t, http.StatusSeeOther, get("/").StatusCode, "30 idle minutes: ended")

	login()
	for i := 0; i < 35; i++ { // 35 × 20 min = 11 h 40
		clk.add(20 * time.Minute)
		require.Equal(t, http.StatusOK, get("/").StatusCode, "busy session, step %d", i)
	}
	clk.add(20 * time.Minute)
	require.Equal(t, http.StatusSeeOther, get("/").StatusCode, "12 hours after login: ended however busy")
}
