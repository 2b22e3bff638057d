package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The members' sign-in (issue 15): an e-mail code or a passkey
// (package accounts), then a session of kind store.SubjectMember. Forms
// before sign-in carry a sign-in CSRF token (a cookie and the same value
// in the form); the pending code sign-in and a passkey ceremony are bound
// to the browser by cookies that hold only random ids.

const (
	signinCSRFCookie = "swc_signin_csrf"
	pendingCookie    = "swc_signin_pending" // the code sign-in's nonce
	ceremonyCookie   = "swc_webauthn"       // a passkey ceremony's id
	signinPath       = SiteSignIn
)

// memberSignInRoutes registers the sign-in pages and passkey management.
func (w *Web) memberSignInRoutes() {
	m := w.mux
	m.HandleFunc("GET "+SiteSignIn, w.signinForm)
	m.HandleFunc("POST "+SiteSignIn, w.signinRequest)
	m.HandleFunc("GET "+SiteSignIn+"/code", w.signinCodeForm)
	m.HandleFunc("POST "+SiteSignIn+"/code", w.signinCode)
	m.HandleFunc("POST "+SiteSignIn+"/passkey/begin", w.signinPasskeyBegin)
	m.HandleFunc("POST "+SiteSignIn+"/passkey/finish", w.signinPasskeyFinish)
	m.Handle("POST "+SitePrefix+"signout", w.memberPage(w.signout))
	m.Handle("GET "+SitePrefix+"passkeys", w.memberPage(w.passkeys))
	m.Handle("POST "+SitePrefix+"passkeys/begin", w.memberPage(w.passkeyAddBegin))
	m.Handle("POST "+SitePrefix+"passkeys/finish", w.memberPage(w.passkeyAddFinish))
	m.Handle("POST "+SitePrefix+"passkeys/{id}/remove", w.memberPage(w.passkeyRemove))
}

// clientIP is the request's client address, for the rate limits
// (Config.TrustedProxies).
func (w *Web) clientIP(r *http.Request) string { return w.cfg.TrustedProxies.ClientIP(r) }

// signinToken returns the browser's sign-in CSRF token (preSessionToken).
func (w *Web) signinToken(rw http.ResponseWriter, r *http.Request) string {
	return w.preSessionToken(rw, r, signinCSRFCookie, signinPath, 3600)
}

// signinCSRFOK checks a sign-in POST (preSessionOK), its body bounded to a
// passkey ceremony's size.
func (w *Web) signinCSRFOK(r *http.Request) bool {
	r.Body = http.MaxBytesReader(nil, r.Body, accounts.MaxCeremonyBody+4096)
	return preSessionOK(r, signinCSRFCookie)
}

// signinData is what the sign-in pages show.
type signinData struct {
	CSRF, Next, Email, Problem string
	ProblemN                   int // the tries left, for signin.wrong_code
	MailEnabled, Enabled       bool
	PasskeysEnabled            bool
}

func (w *Web) showSignin(rw http.ResponseWriter, r *http.Request, page string, status int, d signinData) {
	d.CSRF = w.signinToken(rw, r)
	d.Enabled = w.cfg.Members != nil
	d.MailEnabled = d.Enabled && w.cfg.Members.MailEnabled()
	d.PasskeysEnabled = d.Enabled && w.cfg.Members.PasskeysEnabled()
	if d.Next == "" {
		d.Next = siteNext(r.FormValue("next"))
	}
	w.render(rw, r, status, page, nil, d)
}

// siteNext keeps a redirect target on the booking site (the dashboard's
// safeNext rule, then under SitePrefix), else the site's home.
func siteNext(next string) string {
	s := safeNext(next)
	if !strings.HasPrefix(s, SitePrefix) || strings.HasPrefix(s, SiteSignIn) {
		return SitePrefix
	}
	return s
}

// signinForm asks for the e-mail address (or a passkey).
func (w *Web) signinForm(rw http.ResponseWriter, r *http.Request) {
	w.showSignin(rw, r, "signin", http.StatusOK, signinData{})
}

// signinRequest mails a code and sends the browser to the code page.
func (w *Web) signinRequest(rw http.ResponseWriter, r *http.Request) {
	if !w.signinCSRFOK(r) {
		w.showSignin(rw, r, "signin", http.StatusForbidden, signinData{Problem: "signin.expired"})
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	next := siteNext(r.PostFormValue("next"))
	d := signinData{Email: email, Next: next}
	if w.cfg.Members == nil {
		d.Problem = "signin.unavailable"
		w.showSignin(rw, r, "signin", http.StatusServiceUnavailable, d)
		return
	}
	nonce, err := w.cfg.Members.RequestCode(r.Context(), email, w.clientIP(r), string(w.lang(r, nil)))
	if err != nil {
		status, key := w.signinProblem(r, err)
		d.Problem = key
		w.showSignin(rw, r, "signin", status, d)
		return
	}
	w.setCookie(rw, r, pendingCookie, nonce, signinPath, int(accounts.CodeTTL.Seconds()))
	// The address stays out of the URL (history, logs): the code page
	// says "the address" the browser just typed.
	http.Redirect(rw, r, SiteSignIn+"/code?next="+urlQueryEscape(next), http.StatusSeeOther)
}

// signinProblem maps a sign-in error to a status and a catalog key.
func (w *Web) signinProblem(r *http.Request, err error) (int, string) {
	var fe *domain.FieldError
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, "signin.bad_" + fe.Field
	case errors.Is(err, accounts.ErrMailDisabled):
		return http.StatusServiceUnavailable, "signin.no_mail"
	case errors.Is(err, accounts.ErrRateLimited):
		return http.StatusTooManyRequests, "signin.limited"
	case errors.Is(err, accounts.ErrWrongCode):
		return http.StatusUnauthorized, "signin.wrong_code"
	case errors.Is(err, accounts.ErrCodeDead):
		return http.StatusGone, "signin.code_dead"
	case errors.Is(err, accounts.ErrPasskeysDisabled):
		return http.StatusServiceUnavailable, "signin.no_passkeys"
	case errors.Is(err, accounts.ErrPasskeyRefused):
		return http.StatusUnauthorized, "signin.passkey_refused"
	}
	w.log.ErrorContext(r.Context(), "web: member sign-in", "err", err)
	return http.StatusInternalServerError, "error.internal"
}

// signinCodeForm asks for the code.
func (w *Web) signinCodeForm(rw http.ResponseWriter, r *http.Request) {
	w.showSignin(rw, r, "signin_code", http.StatusOK, signinData{})
}

// signinCode checks the code and signs the member in.
func (w *Web) signinCode(rw http.ResponseWriter, r *http.Request) {
	if !w.signinCSRFOK(r) {
		w.showSignin(rw, r, "signin_code", http.StatusForbidden, signinData{Problem: "signin.expired"})
		return
	}
	next := siteNext(r.PostFormValue("next"))
	d := signinData{Next: next}
	if w.cfg.Members == nil {
		d.Problem = "signin.unavailable"
		w.showSignin(rw, r, "signin_code", http.StatusServiceUnavailable, d)
		return
	}
	nonce := ""
	if c, err := r.Cookie(pendingCookie); err == nil {
		nonce = c.Value
	}
	member, err := w.cfg.Members.VerifyCode(r.Context(), nonce, r.PostFormValue("code"), w.clientIP(r))
	if err != nil {
		status, key := w.signinProblem(r, err)
		d.Problem = key
		var we *accounts.WrongCodeError
		if errors.As(err, &we) {
			d.ProblemN = we.Left
		}
		w.showSignin(rw, r, "signin_code", status, d)
		return
	}
	w.setCookie(rw, r, pendingCookie, "", signinPath, -1)
	w.signedIn(rw, r, member, next)
}

// signedIn starts the member's session and redirects to next.
func (w *Web) signedIn(rw http.ResponseWriter, r *http.Request, member domain.Member, next string) {
	if err := w.StartSession(rw, r, store.SubjectMember, member.ID); err != nil {
		w.errorPage(rw, r, nil, err)
		return
	}
	w.setCookie(rw, r, signinCSRFCookie, "", signinPath, -1)
	http.Redirect(rw, r, next, http.StatusSeeOther)
}

// writeJSON answers the passkey script.
func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// jsonProblem answers the passkey script with a message in the page's
// language.
func (w *Web) jsonProblem(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	status, key := w.signinProblem(r, err)
	writeJSON(rw, status, map[string]string{"error": w.locale(r, v).T(key)})
}

// signinPasskeyBegin starts a passkey sign-in: the options for
// navigator.credentials.get, the ceremony's id in a cookie.
func (w *Web) signinPasskeyBegin(rw http.ResponseWriter, r *http.Request) {
	if !w.signinCSRFOK(r) {
		writeJSON(rw, http.StatusForbidden, map[string]string{"error": w.locale(r, nil).T("signin.expired")})
		return
	}
	if w.cfg.Members == nil {
		writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": w.locale(r, nil).T("signin.unavailable")})
		return
	}
	opts, ceremony, err := w.cfg.Members.BeginPasskeyLogin(r.Context(), w.clientIP(r))
	if err != nil {
		w.jsonProblem(rw, r, nil, err)
		return
	}
	w.setCookie(rw, r, ceremonyCookie, ceremony, SitePrefix, 300)
	writeJSON(rw, http.StatusOK, json.RawMessage(opts))
}

// signinPasskeyFinish checks the assertion and signs the member in; the
// script then goes to the answer's next.
func (w *Web) signinPasskeyFinish(rw http.ResponseWriter, r *http.Request) {
	if !w.signinCSRFOK(r) {
		writeJSON(rw, http.StatusForbidden, map[string]string{"error": w.locale(r, nil).T("signin.expired")})
		return
	}
	if w.cfg.Members == nil {
		writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": w.locale(r, nil).T("signin.unavailable")})
		return
	}
	ceremony := ""
	if c, err := r.Cookie(ceremonyCookie); err == nil {
		ceremony = c.Value
	}
	w.setCookie(rw, r, ceremonyCookie, "", SitePrefix, -1)
	member, err := w.cfg.Members.FinishPasskeyLogin(r.Context(), ceremony, strings.NewReader(r.PostFormValue("credential")), w.clientIP(r))
	if err != nil {
		w.jsonProblem(rw, r, nil, err)
		return
	}
	if err := w.StartSession(rw, r, store.SubjectMember, member.ID); err != nil {
		w.jsonProblem(rw, r, nil, err)
		return
	}
	w.setCookie(rw, r, signinCSRFCookie, "", signinPath, -1)
	writeJSON(rw, http.StatusOK, map[string]string{"next": siteNext(r.PostFormValue("next"))})
}

// signout ends the member's session.
func (w *Web) signout(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	w.EndSession(rw, r)
	w.log.InfoContext(r.Context(), "web: member signed out", "member", v.Member.ID)
	http.Redirect(rw, r, SiteSignIn, http.StatusSeeOther)
	return nil
}

// passkeys lists the member's passkeys, with a button to add one on this
// device and one to remove each.
func (w *Web) passkeys(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Members == nil {
		return pageErr(http.StatusServiceUnavailable, "signin.unavailable")
	}
	list, err := w.cfg.Members.Passkeys(r.Context(), v.Member.ID)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "passkeys", v, map[string]any{"Passkeys": list, "Flash": w.takeFlash(r, v)})
	return nil
}

// passkeyAddBegin starts adding a passkey for the signed-in member.
func (w *Web) passkeyAddBegin(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Members == nil {
		return pageErr(http.StatusServiceUnavailable, "signin.unavailable")
	}
	opts, ceremony, err := w.cfg.Members.BeginPasskeyRegistration(r.Context(), *v.Member)
	if err != nil {
		w.jsonProblem(rw, r, v, err)
		return nil
	}
	w.setCookie(rw, r, ceremonyCookie, ceremony, SitePrefix, 300)
	writeJSON(rw, http.StatusOK, json.RawMessage(opts))
	return nil
}

// passkeyAddFinish stores the new passkey.
func (w *Web) passkeyAddFinish(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Members == nil {
		return pageErr(http.StatusServiceUnavailable, "signin.unavailable")
	}
	ceremony := ""
	if c, err := r.Cookie(ceremonyCookie); err == nil {
		ceremony = c.Value
	}
	w.setCookie(rw, r, ceremonyCookie, "", SitePrefix, -1)
	name := r.PostFormValue("name")
	if name == "" {
		name = w.locale(r, v).T("signin.passkey_default_name")
	}
	if _, err := w.cfg.Members.FinishPasskeyRegistration(r.Context(), *v.Member, ceremony, strings.NewReader(r.PostFormValue("credential")), name); err != nil {
		w.jsonProblem(rw, r, v, err)
		return nil
	}
	w.setFlash(r, v, w.locale(r, v).T("signin.passkey_added"))
	writeJSON(rw, http.StatusOK, map[string]string{"next": SitePrefix + "passkeys"})
	return nil
}

// passkeyRemove deletes one of the member's passkeys.
func (w *Web) passkeyRemove(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Members == nil {
		return pageErr(http.StatusServiceUnavailable, "signin.unavailable")
	}
	if err := w.cfg.Members.RemovePasskey(r.Context(), v.Member.ID, r.PathValue("id")); err != nil {
		return err
	}
	w.setFlash(r, v, w.locale(r, v).T("signin.passkey_removed"))
	http.Redirect(rw, r, SitePrefix+"passkeys", http.StatusSeeOther)
	return nil
}
