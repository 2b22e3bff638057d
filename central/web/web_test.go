package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestLoginAndSession walks the session's life: the login form's CSRF
// token, a refused token, the cookie's attributes, CSRF on every form,
// forms from another site, logout, and the end of every session of a
// deleted token.
func TestLoginAndSession(t *testing.T) {
	n := startNetwork(t)

	anon := &browser{t: t, n: n, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	res, err := anon.c.Get(n.base + "/doors/d1")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "pages need a session")
	require.Equal(t, "/login?next=%2Fdoors%2Fd1", res.Header.Get("Location"))
	code, _ := anon.get("/live/stream")
	require.Equal(t, http.StatusUnauthorized, code, "a stream without a session is refused, not redirected")

	// The break-glass token form sets a CSRF cookie and puts the same
	// value in the form; it takes admin tokens only.
	res, err = anon.c.Get(n.base + "/login/token")
	require.NoError(t, err)
	res.Body.Close()
	var loginCSRF *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "swc_login_csrf" {
			loginCSRF = c
		}
	}
	require.NotNil(t, loginCSRF)
	post := func(form url.Values, cookies ...*http.Cookie) *http.Response {
		req, err := http.NewRequest("POST", n.base+"/login/token", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, err := anon.c.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	tests := []struct {
		name    string
		form    url.Values
		cookies []*http.Cookie
		want    int
	}{
		{"manager token", url.Values{"token": {n.tokens["mgr1"]}, "csrf": {loginCSRF.Value}}, []*http.Cookie{loginCSRF}, http.StatusForbidden},
		{"no csrf cookie", url.Values{"token": {n.tokens["admin"]}, "csrf": {loginCSRF.Value}}, nil, http.StatusForbidden},
		{"csrf mismatch", url.Values{"token": {n.tokens["admin"]}, "csrf": {"forged"}}, []*http.Cookie{loginCSRF}, http.StatusForbidden},
		{"unknown token", url.Values{"token": {"swct_not-a-token"}, "csrf": {loginCSRF.Value}}, []*http.Cookie{loginCSRF}, http.StatusUnauthorized},
		{"empty token", url.Values{"token": {""}, "csrf": {loginCSRF.Value}}, []*http.Cookie{loginCSRF}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		res := post(tc.form, tc.cookies...)
		require.Equal(t, tc.want, res.StatusCode, tc.name)
		for _, c := range res.Cookies() {
			require.NotEqual(t, "swc_session", c.Name, "%s: no session", tc.name)
		}
	}
	res = post(url.Values{"token": {n.tokens["admin"]}, "csrf": {loginCSRF.Value}, "next": {"//evil.example/x"}}, loginCSRF)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/", res.Header.Get("Location"), "no redirect off the site")
	var sess *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "swc_session" {
			sess = c
		}
	}
	require.NotNil(t, sess)
	assert.True(t, sess.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, sess.SameSite)
	assert.Equal(t, "/", sess.Path)
	assert.False(t, sess.Secure, "plain HTTP here (TLS is tested in TestSecureCookieOverTLS)")
	assert.Positive(t, sess.MaxAge)
	assert.NotContains(t, sess.Value, n.tokens["admin"], "the cookie never holds the token")
	assert.NotContains(t, n.log.String(), n.tokens["admin"], "no token secret in the logs")
	assert.NotContains(t, n.log.String(), n.tokens["mgr1"], "no token secret in the logs")

	// Forms need the session's CSRF token, and a same-site origin.
	b := n.login("tech1")
	sent := len(n.doors["d1"].commands())
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no csrf", url.Values{"action": {"resync"}}, nil},
		{"wrong csrf", url.Values{"action": {"resync"}, "csrf": {"x" + b.csrf}}, nil},
		{"other origin", url.Values{"action": {"resync"}, "csrf": {b.csrf}}, []string{"Origin", "https://evil.example"}},
		{"other referer", url.Values{"action": {"resync"}, "csrf": {b.csrf}}, []string{"Referer", "https://evil.example/page"}},
	} {
		code, body, _ := b.post("/doors/d1/commands", tc.form, tc.headers...)
		require.Equal(t, http.StatusForbidden, code, "%s: %s", tc.name, body)
	}
	code, body, _ := b.post("/logout", url.Values{})
	require.Equal(t, http.StatusForbidden, code, body)
	code, _ = b.get("/doors/d1")
	require.Equal(t, http.StatusOK, code, "a refused logout leaves the session")
	time.Sleep(100 * time.Millisecond)
	require.Len(t, n.doors["d1"].commands(), sent, "no refused form sent a command")

	code, _, hdr := b.post("/logout", url.Values{"csrf": {b.csrf}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/login", hdr.Get("Location"))
	code, _ = b.get("/doors/d1")
	require.Equal(t, http.StatusSeeOther, code, "logged out")

	// Deleting the API token ends its sessions at once.
	var admin2 struct{ Secret string }
	require.NoError(t, json.Unmarshal(n.api("POST", "/tokens", map[string]any{"id": "admin2", "name": "Second admin", "role": "admin"}), &admin2))
	n.tokens["admin2"] = admin2.Secret
	m := n.login("admin2")
	code, _ = m.get("/")
	require.Equal(t, http.StatusOK, code)
	n.api("DELETE", "/tokens/admin2", nil)
	code, _ = m.get("/")
	require.Equal(t, http.StatusSeeOther, code, "the session of a deleted token ends")

	// Disabling a staff account ends its sessions at once.
	m = n.login("mgr2")
	code, _ = m.get("/")
	require.Equal(t, http.StatusOK, code)
	n.api("PUT", "/accounts/"+strings.TrimPrefix(m.id, "staff."), map[string]any{"status": "disabled"})
	code, _ = m.get("/")
	require.Equal(t, http.StatusSeeOther, code, "the session of a disabled account ends")
}

// TestManagerSeesOnlyTheirCenter checks every page and download for a
// manager of c1 and a technician of c1 against c2's objects.
func TestManagerSeesOnlyTheirCenter(t *testing.T) {
	n := startNetwork(t)
	period := time.Now().Format("2006-01")
	n.doors["d1"].events(t, tap(1, time.Now(), "04D1D2D3", "m1", protocol.DeniedNoBooking))
	for _, tc := range []struct {
		who, path string
		status    int
		has, not  []string
	}{
		{"mgr1", "/", 200, []string{"Gent front", `data-center="c1"`, `data-uid-only="1">1 badge still UID-only`}, []string{"Leuven", `data-door="d2"`, `/doors/d2`}},
		{"mgr1", "/doors/d1", 200, []string{"Gent front", "Recent events", `data-label="Member">m1</td>`}, []string{"Remote commands"}},
		{"mgr1", "/doors/d2", 404, []string{"not found: door d2"}, []string{"Leuven front"}},
		{"mgr1", "/doors/d404", 404, []string{"not found: door d404"}, nil},
		{"mgr1", "/live", 200, []string{`/live/stream?`}, []string{"Leuven"}},
		{"mgr1", "/live?center=c2", 403, nil, nil},
		{"mgr1", "/live?door=d2", 404, []string{"not found: door d2"}, nil},
		{"mgr1", "/live?door=d404", 404, []string{"not found: door d404"}, nil},
		{"mgr1", "/live/stream?center=c2", 403, nil, nil},
		{"mgr1", "/live/stream?door=d2", 404, nil, nil},
		{"mgr1", "/hours", 200, []string{"Hours · Gent", `data-center="c1"`}, []string{`data-center="c2"`, "Leuven"}},
		{"mgr1", "/hours?center=c2", 403, nil, nil},
		{"mgr1", "/hours/settlement.csv?center=c2&period=" + period, 403, nil, nil},
		{"mgr1", "/hours/settlement.csv?period=" + period, 200, []string{"credit,c1,nomadic"}, []string{",c2,"}},
		{"mgr1", "/members", 200, []string{"Ann Gent"}, []string{"Bert Leuven", "Nora Nomad"}},
		{"mgr1", "/members?q=04E1E2E3", 200, nil, []string{"Bert Leuven"}},
		{"mgr1", "/members/m1", 200, []string{"Ann Gent", "04D1D2D3", "added by "}, nil},
		{"mgr1", "/members/m2", 404, []string{"not found: member m2"}, []string{"Bert Leuven"}},
		{"mgr1", "/members/m404", 404, []string{"not found: member m404"}, nil},
		{"mgr1", "/members/m2/statement.csv", 404, nil, nil},
		{"tech1", "/", 200, []string{"Gent front"}, []string{"Leuven"}},
		{"tech1", "/doors/d1", 200, []string{"Remote commands", "cmd-unlock", "04D1D2D3", protocol.DeniedNoBooking.Text()}, []string{`data-label="Member">m1</td>`}},
		{"tech1", "/doors/d2", 404, nil, []string{"Leuven front"}},
		{"tech1", "/live", 403, nil, nil},
		{"tech1", "/hours", 403, nil, nil},
		{"tech1", "/members/m1", 403, nil, nil},
		{"admin", "/", 200, []string{"Gent front", "Leuven front"}, nil},
		{"admin", "/doors/d2", 200, []string{"Remote commands"}, nil},
		{"admin", "/hours/settlement.csv?period=" + period, 200, []string{"credit,c1,nomadic", "credit,c2,nomadic"}, nil},
	} {
		t.Run(tc.who+" "+tc.path, func(t *testing.T) {
			b := n.login(tc.who)
			code, body := b.get(tc.path)
			require.Equal(t, tc.status, code, body)
			for _, s := range tc.has {
				require.Contains(t, body, s)
			}
			for _, s := range tc.not {
				require.NotContains(t, body, s)
			}
		})
	}

	// Every request has a structured log line with the caller's role.
	lines := n.log.lines(map[string]any{"msg": "http request", "method": "GET", "path": "/doors/d2", "role": "manager"})
	require.Len(t, lines, 1, "one line for the manager's refused door page")
	assert.Regexp(t, `^staff\.sa-`, lines[0]["token"], "the manager's staff account")
	assert.EqualValues(t, 404, lines[0]["status"])
	assert.Contains(t, lines[0], "duration")
}

// sse reads server-sent events from the dashboard's stream.
type sse struct {
	events chan map[string]any
	ids    chan string
	cancel context.CancelFunc
}

func (b *browser) stream(t *testing.T, query, lastID string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", b.n.base+"/live/stream?"+query, nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := b.c.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	s := &sse{events: make(chan map[string]any, 100), ids: make(chan string, 100), cancel: cancel}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var id string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				var m map[string]any
				if json.Unmarshal([]byte(v), &m) == nil {
					s.events <- m
					s.ids <- id
				}
			}
		}
	}()
	t.Cleanup(cancel)
	return s
}

// next returns the next event, or nil after wait.
func (s *sse) next(wait time.Duration) map[string]any {
	select {
	case e := <-s.events:
		<-s.ids
		return e
	case <-time.After(wait):
		return nil
	}
}

// TestLiveStreamIsFilteredOnTheServer plays taps at both centers' doors:
// the manager of c1 gets c1's only, the admin gets both, with reason codes
// in words, once each, and a reconnecting browser catches up.
func TestLiveStreamIsFilteredOnTheServer(t *testing.T) {
	n := startNetwork(t)
	mgr := n.login("mgr1").stream(t, "", "")
	adm := n.login("admin").stream(t, "", "")
	admD2 := n.login("admin").stream(t, "door=d2", "")
	now := time.Now()
	n.doors["d2"].events(t, tap(1, now, "04E1E2E3", "m2", protocol.GrantedBooking))
	n.doors["d1"].events(t, tap(1, now, "04D1D2D3", "m1", protocol.DeniedNoBooking))
	// A repeat of a batch (its ack was lost) is committed again but shown once.
	n.doors["d1"].events(t, tap(1, now, "04D1D2D3", "m1", protocol.DeniedNoBooking))
	n.doors["d1"].events(t, protocol.Event{Seq: 2, TimeMs: now.UnixMilli(), Trusted: true, Boot: "boot1", Kind: protocol.EventDoorForced, WLVersion: 1},
		protocol.Event{Seq: 3, TimeMs: now.UnixMilli(), Trusted: true, Boot: "boot1", Kind: protocol.EventDoorClosed, WLVersion: 1})

	e := mgr.next(5 * time.Second)
	require.NotNil(t, e, "the manager sees the tap at their center")
	assert.Equal(t, "d1", e["door"])
	assert.Equal(t, "Gent front", e["door_name"])
	assert.Equal(t, "denied_no_booking", e["reason"])
	assert.Equal(t, protocol.DeniedNoBooking.Text(), e["reason_text"])
	assert.Equal(t, true, e["denied"])
	e = mgr.next(5 * time.Second)
	require.NotNil(t, e)
	assert.Equal(t, "door_forced", e["kind"])
	assert.Equal(t, "door forced open", e["what"])
	assert.Equal(t, true, e["alarm"])
	assert.Nil(t, mgr.next(500*time.Millisecond), "nothing of c2, no repeat, no door_closed (not a tap nor an alarm)")

	var seen []string
	for e := adm.next(5 * time.Second); e != nil; e = adm.next(500 * time.Millisecond) {
		seen = append(seen, e["door"].(string)+":"+e["kind"].(string))
	}
	assert.Equal(t, []string{"d2:tap", "d1:tap", "d1:door_forced"}, seen, "the admin sees both centers, each event once")
	e = admD2.next(5 * time.Second)
	require.NotNil(t, e)
	assert.Equal(t, "d2", e["door"])
	assert.Nil(t, admD2.next(500*time.Millisecond), "the door filter holds")

	// A browser that reconnects with Last-Event-ID gets what it missed,
	// filtered for it.
	b := n.login("mgr1")
	first := b.stream(t, "kinds=all", "")
	n.doors["d1"].events(t, tap(4, now, "04A1B2C3", "n1", protocol.GrantedPass))
	var id string
	select {
	case <-first.events:
		id = <-first.ids
	case <-time.After(5 * time.Second):
		t.Fatal("no event on the first stream")
	}
	first.cancel()
	n.doors["d2"].events(t, tap(2, now, "04E1E2E3", "m2", protocol.GrantedBooking))
	n.doors["d1"].events(t, protocol.Event{Seq: 5, TimeMs: now.UnixMilli(), Trusted: true, Boot: "boot1", Kind: protocol.EventDoorClosed, WLVersion: 1})
	again := b.stream(t, "kinds=all", id)
	e = again.next(5 * time.Second)
	require.NotNil(t, e, "the missed event is replayed")
	assert.Equal(t, "d1", e["door"])
	assert.Equal(t, "door_closed", e["kind"])
	assert.Nil(t, again.next(500*time.Millisecond), "and nothing of c2")
}
