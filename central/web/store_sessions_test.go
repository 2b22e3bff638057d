package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/central/web"
)

// replica is one central's web layer on its own store handle and HTTP
// server; a test's replicas share one database.
type replica struct {
	t   *testing.T
	st  store.Store
	w   *web.Web
	srv *httptest.Server
}

func newReplica(t *testing.T, st store.Store) *replica {
	t.Helper()
	w, err := web.New(web.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(w)
	r := &replica{t: t, st: st, w: w, srv: srv}
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.srv.Close()
	r.w.Close()
}

// do sends a request with the given cookies (a browser's, carried from
// replica to replica by hand: cookie jars do not tell ports apart).
func (r *replica) do(method, path string, form url.Values, cookies []*http.Cookie, headers ...string) (*http.Response, string) {
	r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	require.NoError(r.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	require.NoError(r.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(r.t, err)
	return res, string(b)
}

// login signs in with the token secret and returns the session cookie.
func (r *replica) login(secret string) *http.Cookie {
	r.t.Helper()
	res, body := r.do("GET", "/login", nil, nil)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(r.t, m)
	var csrfCookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "swc_login_csrf" {
			csrfCookie = c
		}
	}
	require.NotNil(r.t, csrfCookie)
	res, body = r.do("POST", "/login", url.Values{"token": {secret}, "csrf": {m[1]}}, []*http.Cookie{csrfCookie})
	require.Equal(r.t, http.StatusSeeOther, res.StatusCode, body)
	for _, c := range res.Cookies() {
		if c.Name == "swc_session" {
			return c
		}
	}
	r.t.Fatal("no session cookie")
	return nil
}

var htmlLangRE = regexp.MustCompile(`<html lang="([^"]+)">`)

// page fetches a page and returns its status and <html lang>.
func (r *replica) page(path string, cookies ...*http.Cookie) (int, string, string) {
	r.t.Helper()
	res, body := r.do("GET", path, nil, cookies)
	lang := ""
	if m := htmlLangRE.FindStringSubmatch(body); m != nil {
		lang = m[1]
	}
	return res.StatusCode, lang, body
}

func seedTokens(t *testing.T, st store.Store) (admin, mgr string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Gent", TimeZone: "Europe/Brussels"}))
	admin, mgr = store.NewSecret(api.TokenPrefix), store.NewSecret(api.TokenPrefix)
	require.NoError(t, st.CreateToken(ctx, store.Token{ID: "adm", Name: "a", Role: store.RoleAdmin}, admin))
	require.NoError(t, st.CreateToken(ctx, store.Token{ID: "mgr", Name: "m", Role: store.RoleManager, Centers: []string{"c1"}}, mgr))
	return admin, mgr
}

// TestSessionSurvivesRestart: a session made by one Web instance is valid
// in a new instance on a reopened SQLite file (the central restarted), with
// its language; the cookie holds no secret the database keeps.
func TestSessionSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "swc.db")
	st, err := sqlite.Open(ctx, file, sqlite.Options{})
	require.NoError(t, err)
	_, mgr := seedTokens(t, st)
	a := newReplica(t, st)
	sess := a.login(mgr)
	res, _ := a.do("GET", "/lang/nl-BE?next=/", nil, []*http.Cookie{sess})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	code, lang, _ := a.page("/", sess)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "nl-BE", lang, "the session's language, without the language cookie")
	_, err = st.Sessions().PeekSession(ctx, store.HashSecret(sess.Value), 0)
	require.ErrorIs(t, err, store.ErrNotFound, "the store holds the id's hash, not the id")
	a.stop()
	require.NoError(t, st.Close())

	st2, err := sqlite.Open(ctx, file, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st2.Close() })
	b := newReplica(t, st2)
	code, lang, body := b.page("/", sess)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "nl-BE", lang)
	assert.Contains(t, body, "Uw centrum")
}

// TestSessionsAcrossReplicas: two centrals on one database (PostgreSQL
// schema; SQLite file) share sessions: signed in on one, known on the
// other; a language chosen on one shows on the other; signing out on one
// ends the session on both; deleting the token ends its other sessions
// everywhere.
func TestSessionsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	backends := []struct {
		name string
		open func(t *testing.T) (store.Store, store.Store)
	}{
		{"sqlite", func(t *testing.T) (store.Store, store.Store) {
			file := filepath.Join(t.TempDir(), "swc.db")
			a, err := sqlite.Open(ctx, file, sqlite.Options{})
			require.NoError(t, err)
			b, err := sqlite.Open(ctx, file, sqlite.Options{})
			require.NoError(t, err)
			return a, b
		}},
		{"postgres", func(t *testing.T) (store.Store, store.Store) {
			u := storetest.PostgresSchema(t)
			a, err := postgres.Open(ctx, u, store.Options{})
			require.NoError(t, err)
			b, err := postgres.Open(ctx, u, store.Options{})
			require.NoError(t, err)
			return a, b
		}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			sa, sb := be.open(t)
			t.Cleanup(func() { sa.Close(); sb.Close() })
			admin, mgr := seedTokens(t, sa)
			a, b := newReplica(t, sa), newReplica(t, sb)

			s1 := a.login(mgr)
			code, _, body := b.page("/", s1)
			require.Equal(t, http.StatusOK, code, body)
			assert.Contains(t, body, "Your center")

			res, _ := b.do("GET", "/lang/fr-BE?next=/members", nil, []*http.Cookie{s1})
			require.Equal(t, http.StatusSeeOther, res.StatusCode)
			require.Equal(t, "/members", res.Header.Get("Location"))
			code, lang, body := a.page("/", s1)
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, "fr-BE", lang, "chosen on b, shown on a")
			assert.Contains(t, body, "Votre centre")

			// Sign out on a: b no longer knows the session.
			csrf := csrfRE.FindStringSubmatch(body)
			require.NotNil(t, csrf)
			res, _ = a.do("POST", "/logout", url.Values{"csrf": {csrf[1]}}, []*http.Cookie{s1})
			require.Equal(t, http.StatusSeeOther, res.StatusCode)
			code, _, _ = b.page("/", s1)
			require.Equal(t, http.StatusSeeOther, code, "signed out everywhere")

			// The CSRF token of one session does not serve another.
			s2, s3 := a.login(mgr), b.login(admin)
			_, _, body = b.page("/", s2)
			csrf2 := csrfRE.FindStringSubmatch(body)
			require.NotNil(t, csrf2)
			res, _ = b.do("POST", "/logout", url.Values{"csrf": {csrf2[1]}}, []*http.Cookie{s3})
			require.Equal(t, http.StatusForbidden, res.StatusCode)

			// Deleting the token on one replica ends its sessions on the other.
			require.NoError(t, sb.DeleteToken(ctx, "mgr"))
			code, _, _ = a.page("/", s2)
			require.Equal(t, http.StatusSeeOther, code, "the deleted token's session ended")
			code, _, _ = a.page("/", s3)
			require.Equal(t, http.StatusOK, code, "another token's session stays")
		})
	}
}

// TestEveryPageInEveryLanguage: each dashboard page, asked for in each
// language by the browser's Accept-Language, comes in it: the lang
// attribute, the Content-Language header, and no key missing from the
// catalog (shown as ⟦key⟧).
func TestEveryPageInEveryLanguage(t *testing.T) {
	n := startNetwork(t)
	b := n.login("admin")
	pages := []string{"/", "/live", "/hours", "/doors/d1", "/members?q=a", "/members/m1", "/doors/nope", "/nope"}
	for _, lang := range []struct{ accept, want, word string }{
		{"fr-BE,fr;q=0.9", "fr-BE", "Se déconnecter"},
		{"nl", "nl-BE", "Afmelden"},
		{"en-GB", "en", "Log out"},
		{"de", "en", "Log out"},
	} {
		for _, p := range pages {
			req, err := http.NewRequest("GET", n.base+p, nil)
			require.NoError(t, err)
			req.Header.Set("Accept-Language", lang.accept)
			res, err := b.c.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			assert.Contains(t, string(body), `<html lang="`+lang.want+`">`, "%s in %s", p, lang.accept)
			assert.Equal(t, lang.want, res.Header.Get("Content-Language"), p)
			assert.NotContains(t, string(body), "⟦", "%s in %s: a key is missing", p, lang.accept)
			assert.Contains(t, string(body), lang.word, "%s in %s", p, lang.accept)
		}
	}
	// The login page too, signed out.
	res, err := http.Get(n.base + "/login")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.NotContains(t, string(body), "⟦")
}
