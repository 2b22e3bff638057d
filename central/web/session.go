package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
)

// Cookie names. The session cookie holds only a random session id (the
// store keeps its hash); the language cookie holds the language switch's
// choice.
const (
	sessionCookie    = "swc_session"
	loginCSRFCookie  = "swc_login_csrf"
	langCookie       = "swc_lang"
	csrfField        = "csrf"
	sessionCheckTick = time.Minute // how often a live stream rechecks its session
)

var errNoSession = errors.New("web: no valid session")

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// StartSession signs the browser in as the subject: it stores a new
// session (with a fresh CSRF token and the page's language) and sets the
// session cookie. An earlier session of this browser is ended first. The
// sign-in flows call it once the subject is proven: the API-token login
// here, later the staff console's password + second factor
// (store.SubjectStaff) and the booking site's code or passkey
// (store.SubjectMember).
func (w *Web) StartSession(rw http.ResponseWriter, r *http.Request, kind store.SubjectKind, subjectID string) error {
	w.revokeCookie(r)
	now := w.now()
	id := randomToken()
	lang := "" // only an explicit choice (the language switch's cookie) is stored; else each request negotiates
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := i18n.Parse(c.Value); ok {
			lang = string(l)
		}
	}
	sess := store.Session{SubjectKind: kind, SubjectID: subjectID, CSRF: randomToken(), Lang: lang,
		CreatedMs: now.UnixMilli(), LastSeenMs: now.UnixMilli(), IdleMs: w.cfg.SessionIdle.Milliseconds(), ExpiresMs: now.Add(w.cfg.SessionMax).UnixMilli()}
	if err := w.st.Sessions().CreateSession(r.Context(), id, sess); err != nil {
		return fmt.Errorf("web: start session: %w", err)
	}
	w.setCookie(rw, r, sessionCookie, id, "/", int(w.cfg.SessionMax/time.Second))
	// Abandoned sessions are deleted at sign-ins (a used one that expired
	// is deleted when it comes back).
	if n, err := w.st.Sessions().PurgeSessions(r.Context(), now.UnixMilli()); err != nil {
		w.log.WarnContext(r.Context(), "web: purge expired sessions", "err", err)
	} else if n > 0 {
		w.log.InfoContext(r.Context(), "web: expired sessions purged", "n", n)
	}
	return nil
}

// EndSession revokes the browser's session, if any, and clears its cookie.
func (w *Web) EndSession(rw http.ResponseWriter, r *http.Request) {
	if w.revokeCookie(r) {
		w.setCookie(rw, r, sessionCookie, "", "/", -1)
	}
}

// revokeCookie revokes the session the request's cookie names, if any,
// and reports whether there was a cookie.
func (w *Web) revokeCookie(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return false
	}
	if err := w.st.Sessions().RevokeSession(r.Context(), c.Value); err != nil && !errors.Is(err, store.ErrNotFound) {
		w.log.WarnContext(r.Context(), "web: end session", "err", err)
	}
	return true
}

// session returns the request's live session and its id (touch: record
// the use, extending the idle expiry), or errNoSession.
func (w *Web) session(r *http.Request, touch bool) (store.Session, string, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return store.Session{}, "", errNoSession
	}
	get := w.st.Sessions().PeekSession
	if touch {
		get = w.st.Sessions().TouchSession
	}
	sess, err := get(r.Context(), c.Value, w.now().UnixMilli())
	if errors.Is(err, store.ErrNotFound) {
		return sess, "", errNoSession
	}
	if err != nil {
		return sess, "", fmt.Errorf("web: session: %w", err)
	}
	return sess, c.Value, nil
}

// setFlash leaves a message for the session's next page.
func (w *Web) setFlash(r *http.Request, v *viewer, msg string) {
	if err := w.st.Sessions().SetSessionFlash(r.Context(), v.sessionID, msg); err != nil {
		w.log.WarnContext(r.Context(), "web: flash", "err", err)
	}
}

// takeFlash returns and clears the session's message.
func (w *Web) takeFlash(r *http.Request, v *viewer) string {
	msg, err := w.st.Sessions().TakeSessionFlash(r.Context(), v.sessionID)
	if err != nil {
		w.log.WarnContext(r.Context(), "web: flash", "err", err)
	}
	return msg
}

// viewer is the logged-in person as the pages see them: their principal
// (role and centers: an API token, or a staff account's principal) and
// their session's CSRF token.
type viewer struct {
	store.Token
	// Member is the signed-in member on the booking site (a session of
	// kind store.SubjectMember); nil for staff and API-token sessions,
	// whose Token (role and centers) is set instead. A member has no role,
	// so no staff page lets them in.
	Member *domain.Member
	// Account is the signed-in staff account (a session of kind
	// store.SubjectStaff); Token is then its principal
	// (accounts.Principal: the account's role and centers, id
	// "staff.ID", store.StaffPrincipalPrefix). nil for API-token and
	// member sessions.
	Account   *store.StaffAccount
	CSRF      string
	Lang      string // the language stored in the session ("" = none chosen)
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
// not have expired, and its subject must still be allowed in (an API
// token that still exists, with its current role and centers). Staff and
// member sessions are resolved by the console and the booking site
// (issues 15 and 16): add their kinds here.
func (w *Web) viewer(r *http.Request) (*viewer, error) {
	sess, id, err := w.session(r, true)
	if err != nil {
		return nil, err
	}
	switch sess.SubjectKind {
	case store.SubjectAPIToken:
	case store.SubjectStaff:
		a, err := w.st.StaffAccounts().Account(r.Context(), sess.SubjectID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && a.Status != store.AccountActive) {
			w.revoke(r, id, sess)
			return nil, errNoSession
		}
		if err != nil {
			return nil, err
		}
		a.PasswordHash, a.TOTPSecret, a.RecoveryHashes = "", "", nil
		return &viewer{Token: accounts.Principal(a), Account: &a, CSRF: sess.CSRF, Lang: sess.Lang, sessionID: id}, nil
	case store.SubjectMember:
		m, err := w.st.Member(r.Context(), sess.SubjectID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && m.Status != domain.MemberActive) { // gone or suspended
			w.revoke(r, id, sess)
			return nil, errNoSession
		}
		if err != nil {
			return nil, err
		}
		return &viewer{Member: &m, CSRF: sess.CSRF, Lang: sess.Lang, sessionID: id}, nil
	default:
		return nil, errNoSession
	}
	tk, err := w.st.Token(r.Context(), sess.SubjectID)
	if errors.Is(err, store.ErrNotFound) {
		w.revoke(r, id, sess)
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	return &viewer{Token: tk, CSRF: sess.CSRF, Lang: sess.Lang, sessionID: id}, nil
}

// revoke ends a session whose subject is gone.
func (w *Web) revoke(r *http.Request, id string, sess store.Session) {
	if err := w.st.Sessions().RevokeSession(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		w.log.WarnContext(r.Context(), "web: revoke session", "err", err)
	}
	w.log.InfoContext(r.Context(), "web: session ended: its subject no longer exists", "kind", sess.SubjectKind, "subject", sess.SubjectID)
}

// stillValid rechecks a viewer's session and token (for long streams).
func (w *Web) stillValid(r *http.Request, v *viewer) bool {
	sess, _, err := w.session(r, false)
	if err != nil {
		return false
	}
	if v.Account != nil {
		if sess.SubjectKind != store.SubjectStaff || sess.SubjectID != v.Account.ID {
			return false
		}
		a, err := w.st.StaffAccounts().Account(r.Context(), v.Account.ID)
		return err == nil && a.Status == store.AccountActive
	}
	if sess.SubjectID != v.ID {
		return false
	}
	_, err = w.st.Token(r.Context(), v.ID)
	return err == nil
}

// preSessionToken returns the double-submit CSRF token of a form shown
// before a session exists (the staff and member sign-ins, invitations,
// resets): the token of the browser's cookie when it has one, else a new
// one set in the cookie, for path and maxAge seconds. The form carries it
// in csrfField; preSessionOK checks the pair.
func (w *Web) preSessionToken(rw http.ResponseWriter, r *http.Request, cookie, path string, maxAge int) string {
	tok := randomToken()
	if c, err := r.Cookie(cookie); err == nil && len(c.Value) == len(tok) {
		tok = c.Value
	}
	w.setCookie(rw, r, cookie, tok, path, maxAge)
	return tok
}

// preSessionOK checks a form posted before a session exists: same origin,
// and the form's token is the cookie's.
func preSessionOK(r *http.Request, cookie string) bool {
	c, err := r.Cookie(cookie)
	return sameOrigin(r) && err == nil && c.Value != "" &&
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) == 1
}

// checkCSRF accepts a POST only with the session's CSRF token in the form,
// and, when the browser says where the request comes from, only from this
// origin.
func (w *Web) checkCSRF(r *http.Request, v *viewer) error {
	if !sameOrigin(r) {
		return pageErr(http.StatusForbidden, "error.other_site")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	got := r.PostFormValue(csrfField)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) != 1 {
		return pageErr(http.StatusForbidden, "error.csrf")
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

// showLogin shows the form with a problem (a catalog key, or "").
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
		w.showLogin(rw, r, http.StatusBadRequest, "login.bad_form")
		return
	}
	c, err := r.Cookie(loginCSRFCookie)
	if !sameOrigin(r) || err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		w.logins.With("refused").Inc()
		w.showLogin(rw, r, http.StatusForbidden, "login.expired")
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	tk, err := api.Authenticate(r.Context(), w.st, secret)
	if err == nil && tk.Role != store.RoleAdmin && w.cfg.Accounts != nil {
		// Break-glass only: people sign in with their staff account.
		w.logins.With("refused").Inc()
		w.log.WarnContext(r.Context(), "web: token sign-in refused: not an admin token", "token", tk.ID, "role", tk.Role, "remote", r.RemoteAddr)
		w.showLogin(rw, r, http.StatusForbidden, "login.admin_only")
		return
	}
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			w.logins.With("refused").Inc()
			w.log.WarnContext(r.Context(), "web: login refused", "remote", r.RemoteAddr)
			w.showLogin(rw, r, http.StatusUnauthorized, "login.refused")
			return
		}
		w.errorPage(rw, r, nil, err)
		return
	}
	if err := w.StartSession(rw, r, store.SubjectAPIToken, tk.ID); err != nil {
		w.errorPage(rw, r, nil, err)
		return
	}
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
	w.EndSession(rw, r)
	w.log.InfoContext(r.Context(), "web: logout", "principal", v.ID)
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
