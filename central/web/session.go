package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/store"
)

// Cookie names. The session cookie holds only a random session id; the
// token secret stays on the server.
const (
	sessionCookie    = "swc_session"
	loginCSRFCookie  = "swc_login_csrf"
	maxSessions      = 10000 // the oldest session is dropped beyond this
	csrfField        = "csrf"
	sessionCheckTick = time.Minute // how often a live stream rechecks its session
)

var errNoSession = errors.New("web: no valid session")

// session is one login. The API token's secret is kept (in memory only)
// so that every request authenticates the token again: deleting the token
// ends its sessions at once.
type session struct {
	secret    string
	csrf      string
	created   time.Time
	lastSeen  time.Time
	tokenID   string
	tokenRole store.Role
	flash     string // a message for the next page (after a redirect)
}

// sessions is the in-memory session table. Sessions do not survive a
// restart of the central, and replicas do not share them (put replicas
// behind sticky sessions).
type sessions struct {
	mu        sync.Mutex
	byID      map[string]*session
	idle, max time.Duration
	now       func() time.Time
}

func newSessions(idle, max time.Duration, now func() time.Time) *sessions {
	return &sessions{byID: map[string]*session{}, idle: idle, max: max, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for the token secret and returns its id.
func (s *sessions) create(secret string, tk store.Token) (string, *session) {
	now := s.now()
	id := randomToken()
	ss := &session{secret: secret, csrf: randomToken(), created: now, lastSeen: now, tokenID: tk.ID, tokenRole: tk.Role}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID {
		if s.expired(v, now) {
			delete(s.byID, k)
		}
	}
	if len(s.byID) >= maxSessions {
		var oldest string
		for k, v := range s.byID {
			if oldest == "" || v.lastSeen.Before(s.byID[oldest].lastSeen) {
				oldest = k
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[id] = ss
	return id, ss
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.lastSeen) >= s.idle || now.Sub(ss.created) >= s.max
}

// get returns the session and marks it used, or nil when there is none or
// it expired (then it is removed).
func (s *sessions) get(id string, touch bool) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return nil
	}
	now := s.now()
	if s.expired(ss, now) {
		delete(s.byID, id)
		return nil
	}
	if touch {
		ss.lastSeen = now
	}
	cp := *ss
	return &cp
}

// setFlash leaves a message for the session's next page.
func (s *sessions) setFlash(id, msg string) {
	s.mu.Lock()
	if ss, ok := s.byID[id]; ok {
		ss.flash = msg
	}
	s.mu.Unlock()
}

// takeFlash returns and clears the session's message.
func (s *sessions) takeFlash(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return ""
	}
	msg := ss.flash
	ss.flash = ""
	return msg
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// viewer is the logged-in person as the pages see them: their API token
// (role and centers) and their session's CSRF token.
type viewer struct {
	store.Token
	CSRF      string
	sessionID string
}

// Admin reports whether the viewer is the cooperative.
func (v *viewer) Admin() bool { return v.Role == store.RoleAdmin }

// Manager reports whether the viewer manages a center.
func (v *viewer) Manager() bool { return v.Role == store.RoleManager }

// SeesEvents reports whether the viewer may see events, hours and members.
func (v *viewer) SeesEvents() bool { return v.Admin() || v.Manager() }

// Sees reports whether the viewer may see center c.
func (v *viewer) Sees(c string) bool {
	return v.Admin() || (c != "" && slices.Contains(v.Centers, c))
}

// scope lists the centers the viewer sees (nil: all).
func (v *viewer) scope() []string {
	if v.Admin() {
		return nil
	}
	return slices.Clone(v.Centers)
}

// MayCommand reports whether the viewer may send commands to doors of c.
func (v *viewer) MayCommand(c string) bool { return api.MayCommand(v.Token, c) }

// viewer authenticates the request's session: the session must exist and
// not have expired, and its API token must still authenticate.
func (w *Web) viewer(r *http.Request) (*viewer, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errNoSession
	}
	ss := w.sessions.get(c.Value, true)
	if ss == nil {
		return nil, errNoSession
	}
	tk, err := api.Authenticate(r.Context(), w.st, ss.secret)
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			w.sessions.remove(c.Value)
			w.log.InfoContext(r.Context(), "web: session ended: its token no longer authenticates", "token", ss.tokenID)
			return nil, errNoSession
		}
		return nil, err
	}
	return &viewer{Token: tk, CSRF: ss.csrf, sessionID: c.Value}, nil
}

// stillValid rechecks a viewer's session and token (for long streams).
func (w *Web) stillValid(r *http.Request, v *viewer) bool {
	ss := w.sessions.get(v.sessionID, false)
	if ss == nil {
		return false
	}
	_, err := api.Authenticate(r.Context(), w.st, ss.secret)
	return err == nil
}

// checkCSRF accepts a POST only with the session's CSRF token in the form,
// and, when the browser says where the request comes from, only from this
// origin.
func (w *Web) checkCSRF(r *http.Request, v *viewer) error {
	if !sameOrigin(r) {
		return &pageError{status: http.StatusForbidden, msg: "The form was sent from another site; it was refused."}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	got := r.PostFormValue(csrfField)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) != 1 {
		return &pageError{status: http.StatusForbidden, msg: "The form has expired or did not come from this dashboard; reload the page and try again."}
	}
	return nil
}

// sameOrigin is false when an Origin (or, without it, a Referer) header
// names another host than the request's.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return true // old browsers and non-browser clients; the CSRF token still holds
	}
	u, err := url.Parse(src)
	if err != nil {
		return false
	}
	return u.Host == r.Host
}

func (w *Web) secure(r *http.Request) bool { return r.TLS != nil || w.cfg.SecureCookies }

func (w *Web) setCookie(rw http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(rw, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		Secure: w.secure(r), SameSite: http.SameSiteLaxMode})
}

// loginForm shows the token form with a login CSRF token (double submit:
// a cookie and the same value in the form). A browser that has the cookie
// keeps its value, so that two login pages (or a redirect of a stray
// request to the login page) do not invalidate each other.
func (w *Web) loginForm(rw http.ResponseWriter, r *http.Request) {
	w.showLogin(rw, r, http.StatusOK, "")
}

func (w *Web) showLogin(rw http.ResponseWriter, r *http.Request, status int, problem string) {
	tok := randomToken()
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) == len(tok) {
		tok = c.Value
	}
	w.setCookie(rw, r, loginCSRFCookie, tok, "/login", 600)
	w.render(rw, r, status, "login", nil, map[string]any{"CSRF": tok, "Next": safeNext(r.FormValue("next")), "Problem": problem})
}

// login exchanges an API token for a session.
func (w *Web) login(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		w.showLogin(rw, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	c, err := r.Cookie(loginCSRFCookie)
	if !sameOrigin(r) || err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		w.logins.With("refused").Inc()
		w.showLogin(rw, r, http.StatusForbidden, "The login form expired; try again.")
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	tk, err := api.Authenticate(r.Context(), w.st, secret)
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			w.logins.With("refused").Inc()
			w.log.WarnContext(r.Context(), "web: login refused", "remote", r.RemoteAddr)
			w.showLogin(rw, r, http.StatusUnauthorized, "This token is unknown or was revoked.")
			return
		}
		w.errorPage(rw, r, nil, err)
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		w.sessions.remove(old.Value)
	}
	id, _ := w.sessions.create(secret, tk)
	w.setCookie(rw, r, sessionCookie, id, "/", int(w.cfg.SessionMax/time.Second))
	w.setCookie(rw, r, loginCSRFCookie, "", "/login", -1)
	w.logins.With("ok").Inc()
	api.SetCaller(r.Context(), tk)
	w.log.InfoContext(r.Context(), "web: login", "token", tk.ID, "role", tk.Role, "centers", tk.Centers)
	next := r.PostFormValue("next")
	safe := safeNext(next)
	if safe != next && next != "" {
		w.badNext.Inc()
		w.log.WarnContext(r.Context(), "web: login redirect target refused; sent to /", "next", truncate(next, 200), "remote", r.RemoteAddr)
	}
	http.Redirect(rw, r, safe, http.StatusSeeOther)
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	w.sessions.remove(v.sessionID)
	w.setCookie(rw, r, sessionCookie, "", "/", -1)
	w.log.InfoContext(r.Context(), "web: logout", "token", v.ID)
	http.Redirect(rw, r, "/login", http.StatusSeeOther)
	return nil
}

// maxNext bounds the length of a redirect target.
const maxNext = 2048

// safeNext keeps a redirect target on this site. Browsers are lenient
// with a Location: they drop tabs and newlines, read a backslash as a
// slash, and resolve "/\t/host", "/\\host" or "//host" to another host. So
// the target is accepted only when it is plainly a path of this site, and
// otherwise "/" is used:
//   - printable ASCII only (no spaces, controls, backslashes or non-ASCII,
//     such as look-alike slashes);
//   - a path starting with exactly one "/" and no scheme, host or user;
//   - its decoded path again has no controls, backslashes or spaces, does
//     not start with "//" and has no "." or ".." segment (what a "/%2F/host"
//     or "/..//host" would become once a browser or a proxy normalises it);
//   - not the login page itself.
//
// Targets the dashboard makes (the page a visitor asked for) always pass.
func safeNext(next string) string {
	if !plainPath(next) || len(next) > maxNext {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !plainPath(u.Path) {
		return "/"
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "/"
		}
	}
	if u.Path == "/login" || strings.HasPrefix(u.Path, "/login/") {
		return "/"
	}
	return next
}

// truncate bounds a logged value.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// plainPath reports whether p starts with one "/" (not two) and holds only
// printable ASCII other than the backslash.
func plainPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c > '~' || c == '\\' {
			return false
		}
	}
	return true
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
