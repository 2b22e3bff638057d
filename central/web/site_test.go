package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/web"
)

// TestMemberAndStaffSessionsKeepToTheirSide: a member's session opens the
// booking site and no staff page; a staff (API-token) session is sent to
// the booking site's sign-in instead of being taken for a member; a
// member who no longer exists is signed out.
func TestMemberAndStaffSessionsKeepToTheirSide(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Gent", TimeZone: "Europe/Brussels"}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "n1", Name: "Nora Nomad", Status: domain.MemberActive}))
	require.NoError(t, st.CreateToken(ctx, store.Token{ID: "adm", Name: "a", Role: store.RoleAdmin}, store.NewSecret(api.TokenPrefix)))
	w, err := web.New(web.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(w.Close)
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)

	session := func(kind store.SubjectKind, subject string) string {
		id := store.NewSecret("s_") + store.NewSecret("")
		now := time.Now()
		require.NoError(t, st.Sessions().CreateSession(ctx, id, store.Session{SubjectKind: kind, SubjectID: subject, CSRF: store.NewSecret(""),
			CreatedMs: now.UnixMilli(), LastSeenMs: now.UnixMilli(), IdleMs: time.Hour.Milliseconds(), ExpiresMs: now.Add(time.Hour).UnixMilli()}))
		return id
	}
	get := func(id, path string) (int, string, string) {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: "swc_session", Value: id})
		res, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header.Get("Location")
	}

	member := session(store.SubjectMember, "n1")
	code, body, _ := get(member, web.SitePrefix)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "Nora Nomad")
	require.Contains(t, body, `action="/my/signout"`, "a member signs out of the booking site")
	require.NotContains(t, body, `action="/logout"`)
	for _, p := range []string{"/", "/members", "/doors/d1", "/hours"} {
		code, _, loc := get(member, p)
		require.Equal(t, http.StatusSeeOther, code, "%s: a member's session opens no staff page", p)
		require.Equal(t, web.SitePrefix, loc, p)
	}

	staff := session(store.SubjectAPIToken, "adm")
	code, _, loc := get(staff, web.SitePrefix)
	require.Equal(t, http.StatusSeeOther, code)
	require.True(t, strings.HasPrefix(loc, web.SiteSignIn+"?next="), loc)
	code, body, _ = get(staff, "/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `action="/logout"`, "staff log out of the console")
	require.NotContains(t, body, `action="/my/signout"`)

	require.NoError(t, st.DeleteMember(ctx, "n1"))
	code, _, loc = get(member, web.SitePrefix)
	require.Equal(t, http.StatusSeeOther, code, "a deleted member's session ends")
	require.True(t, strings.HasPrefix(loc, web.SiteSignIn), loc)
}
