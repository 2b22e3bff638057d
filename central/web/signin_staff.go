package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The staff sign-in (issue 16): /login takes an e-mail address and a
// password, /login/totp the second factor (a TOTP code or a recovery
// code); /login/token is the break-glass sign-in with an admin API token.
// Invitations (/invite/{token}) and password resets (/login/forgot,
// /reset/{token}) come by e-mail; /account changes one's password and
// recovery codes; /accounts lists, invites and disables staff within the
// viewer's power (package accounts decides it).

// mfaCookie holds the ticket between the password and the second factor.
const mfaCookie = "swc_mfa"

// staffRoutes registers the staff sign-in and account pages.
func (w *Web) staffRoutes() {
	m := w.mux
	m.HandleFunc("GET /login/token", w.loginForm)
	m.HandleFunc("POST /login/token", w.login)
	m.HandleFunc("GET /login/totp", w.staffTOTPForm)
	m.HandleFunc("POST /login/totp", w.staffTOTP)
	m.HandleFunc("GET /login/forgot", w.staffForgotForm)
	m.HandleFunc("POST /login/forgot", w.staffForgot)
	m.HandleFunc("GET /reset/{token}", w.staffResetForm)
	m.HandleFunc("POST /reset/{token}", w.staffReset)
	m.HandleFunc("GET /invite/{token}", w.staffInviteForm)
	m.HandleFunc("GET /invite/{token}/qr.png", w.staffInviteQR)
	m.HandleFunc("POST /invite/{token}", w.staffInvite)
	m.Handle("GET /account", w.page(nil, w.staffAccount))
	m.Handle("POST /account/password", w.page(nil, w.staffChangePassword))
	m.Handle("POST /account/recovery", w.page(nil, w.staffRecovery))
	m.Handle("GET /accounts", w.page(eventRoles(), w.staffAccounts))
	m.Handle("POST /accounts", w.page(eventRoles(), w.staffAccountsInvite))
	m.Handle("POST /accounts/{id}", w.page(eventRoles(), w.staffAccountsChange))
}

// preCSRF returns the token of a staff form shown before a session exists
// (preSessionToken), for ten minutes.
func (w *Web) preCSRF(rw http.ResponseWriter, r *http.Request, path string) string {
	return w.preSessionToken(rw, r, loginCSRFCookie, path, 600)
}

// checkPreCSRF checks a staff form posted before a session exists.
func checkPreCSRF(r *http.Request) bool { return preSessionOK(r, loginCSRFCookie) }

// problemOf turns an accounts error into a catalog key.
func problemOf(err error) string {
	var pe *accounts.PasswordError
	switch {
	case errors.As(err, &pe):
		return "staff.password." + pe.Code
	case errors.Is(err, accounts.ErrRateLimited):
		return "staff.rate_limited"
	case errors.Is(err, accounts.ErrExpired):
		return "staff.link_expired"
	case errors.Is(err, accounts.ErrBadCredentials):
		return "staff.bad_credentials"
	}
	return ""
}

// ---- step 1: e-mail and password

func (w *Web) staffLoginForm(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.Accounts == nil {
		w.loginForm(rw, r)
		return
	}
	w.showStaffLogin(rw, r, http.StatusOK, "", "")
}

func (w *Web) showStaffLogin(rw http.ResponseWriter, r *http.Request, status int, problem, email string) {
	tok := w.preCSRF(rw, r, "/login")
	w.render(rw, r, status, "staff_login", nil, map[string]any{"CSRF": tok, "Next": safeNext(r.FormValue("next")), "Problem": problem, "Email": email})
}

func (w *Web) staffLogin(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.Accounts == nil {
		w.login(rw, r)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		w.showStaffLogin(rw, r, http.StatusBadRequest, "login.bad_form", "")
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	if !checkPreCSRF(r) {
		w.logins.With("refused").Inc()
		w.showStaffLogin(rw, r, http.StatusForbidden, "login.expired", email)
		return
	}
	ticket, err := w.cfg.Accounts.SignIn(r.Context(), email, r.PostFormValue("password"), w.clientIP(r))
	if err != nil {
		if p := problemOf(err); p != "" {
			w.logins.With("refused").Inc()
			status := http.StatusUnauthorized
			if errors.Is(err, accounts.ErrRateLimited) {
				status = http.StatusTooManyRequests
			}
			w.showStaffLogin(rw, r, status, p, email)
			return
		}
		w.errorPage(rw, r, nil, err)
		return
	}
	w.setCookie(rw, r, mfaCookie, ticket, "/login/totp", int(accounts.TicketTTL.Seconds()))
	http.Redirect(rw, r, "/login/totp?next="+urlQueryEscape(safeNext(r.PostFormValue("next"))), http.StatusSeeOther)
}

// ---- step 2: the second factor

func (w *Web) staffTOTPForm(rw http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(mfaCookie); err != nil || c.Value == "" || w.cfg.Accounts == nil {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	w.showTOTP(rw, r, http.StatusOK, "")
}

func (w *Web) showTOTP(rw http.ResponseWriter, r *http.Request, status int, problem string) {
	tok := w.preCSRF(rw, r, "/login")
	w.render(rw, r, status, "staff_totp", nil, map[string]any{"CSRF": tok, "Next": safeNext(r.FormValue("next")), "Problem": problem})
}

func (w *Web) staffTOTP(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.Accounts == nil {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		w.showTOTP(rw, r, http.StatusBadRequest, "login.bad_form")
		return
	}
	c, err := r.Cookie(mfaCookie)
	if err != nil || c.Value == "" || !checkPreCSRF(r) {
		w.logins.With("refused").Inc()
		w.showStaffLogin(rw, r, http.StatusForbidden, "login.expired", "")
		return
	}
	a, err := w.cfg.Accounts.SecondFactor(r.Context(), c.Value, r.PostFormValue("code"), w.clientIP(r))
	if err != nil {
		p := problemOf(err)
		switch {
		case errors.Is(err, accounts.ErrExpired):
			w.setCookie(rw, r, mfaCookie, "", "/login/totp", -1)
			w.showStaffLogin(rw, r, http.StatusUnauthorized, "staff.ticket_expired", "")
		case errors.Is(err, accounts.ErrRateLimited):
			w.showTOTP(rw, r, http.StatusTooManyRequests, p)
		case p != "":
			w.logins.With("refused").Inc()
			w.showTOTP(rw, r, http.StatusUnauthorized, "staff.bad_code")
		default:
			w.errorPage(rw, r, nil, err)
		}
		return
	}
	w.startStaff(rw, r, a, r.PostFormValue("next"))
}

// startStaff opens the account's session and goes on to next.
func (w *Web) startStaff(rw http.ResponseWriter, r *http.Request, a store.StaffAccount, next string) {
	if err := w.StartSession(rw, r, store.SubjectStaff, a.ID); err != nil {
		w.errorPage(rw, r, nil, err)
		return
	}
	w.setCookie(rw, r, mfaCookie, "", "/login/totp", -1)
	w.setCookie(rw, r, loginCSRFCookie, "", "/login", -1)
	w.logins.With("ok").Inc()
	w.log.InfoContext(r.Context(), "web: staff signed in", "account", a.ID, "role", a.Role, "centers", a.Centers)
	http.Redirect(rw, r, safeNext(next), http.StatusSeeOther)
}

// ---- forgotten password

func (w *Web) staffForgotForm(rw http.ResponseWriter, r *http.Request) {
	tok := w.preCSRF(rw, r, "/login")
	w.render(rw, r, http.StatusOK, "staff_forgot", nil, map[string]any{"CSRF": tok})
}

func (w *Web) staffForgot(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !checkPreCSRF(r) || w.cfg.Accounts == nil {
		tok := w.preCSRF(rw, r, "/login")
		w.render(rw, r, http.StatusForbidden, "staff_forgot", nil, map[string]any{"CSRF": tok, "Problem": "login.expired"})
		return
	}
	if _, err := w.cfg.Accounts.RequestReset(r.Context(), r.PostFormValue("email"), w.clientIP(r)); err != nil && problemOf(err) == "" {
		w.errorPage(rw, r, nil, err)
		return
	}
	// The same answer whether or not the address has an account.
	w.render(rw, r, http.StatusOK, "staff_forgot", nil, map[string]any{"Sent": true})
}

func (w *Web) staffResetForm(rw http.ResponseWriter, r *http.Request) {
	w.showReset(rw, r, http.StatusOK, "")
}

func (w *Web) showReset(rw http.ResponseWriter, r *http.Request, status int, problem string) {
	token := r.PathValue("token")
	tok := w.preCSRF(rw, r, "/reset/"+token)
	w.render(rw, r, status, "staff_reset", nil, map[string]any{"CSRF": tok, "Action": "/reset/" + token, "Problem": problem})
}

func (w *Web) staffReset(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !checkPreCSRF(r) || w.cfg.Accounts == nil {
		w.showReset(rw, r, http.StatusForbidden, "login.expired")
		return
	}
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		w.showReset(rw, r, http.StatusBadRequest, "staff.password.mismatch")
		return
	}
	if _, err := w.cfg.Accounts.Reset(r.Context(), r.PathValue("token"), r.PostFormValue("password")); err != nil {
		if p := problemOf(err); p != "" {
			w.showReset(rw, r, http.StatusBadRequest, p)
			return
		}
		w.errorPage(rw, r, nil, err)
		return
	}
	tok := w.preCSRF(rw, r, "/login")
	w.render(rw, r, http.StatusOK, "staff_login", nil, map[string]any{"CSRF": tok, "Next": "/", "Notice": "staff.reset.done"})
}

// ---- invitations

func (w *Web) staffInviteForm(rw http.ResponseWriter, r *http.Request) {
	w.showInvite(rw, r, http.StatusOK, "")
}

func (w *Web) showInvite(rw http.ResponseWriter, r *http.Request, status int, problem string) {
	token := r.PathValue("token")
	if w.cfg.Accounts == nil {
		w.errorPage(rw, r, nil, pageErr(http.StatusNotFound, "error.no_page"))
		return
	}
	a, err := w.cfg.Accounts.OpenInvitation(r.Context(), token)
	if err != nil {
		if p := problemOf(err); p != "" {
			w.errorPage(rw, r, nil, pageErr(http.StatusNotFound, p))
			return
		}
		w.errorPage(rw, r, nil, err)
		return
	}
	uri, err := w.cfg.Accounts.TOTPURIOf(a)
	if err != nil {
		w.errorPage(rw, r, nil, err)
		return
	}
	tok := w.preCSRF(rw, r, "/invite/"+token)
	w.render(rw, r, status, "staff_invite", nil, map[string]any{"CSRF": tok, "Action": "/invite/" + token, "QR": "/invite/" + token + "/qr.png",
		"Account": a, "Secret": a.TOTPSecret, "URI": uri, "Issuer": w.cfg.Accounts.Issuer(), "Problem": problem})
}

func (w *Web) staffInviteQR(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.Accounts == nil {
		http.NotFound(rw, r)
		return
	}
	png, err := w.cfg.Accounts.InvitationQR(r.Context(), r.PathValue("token"))
	if err != nil {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "image/png")
	_, _ = rw.Write(png)
}

func (w *Web) staffInvite(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !checkPreCSRF(r) || w.cfg.Accounts == nil {
		w.showInvite(rw, r, http.StatusForbidden, "login.expired")
		return
	}
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		w.showInvite(rw, r, http.StatusBadRequest, "staff.password.mismatch")
		return
	}
	a, codes, err := w.cfg.Accounts.AcceptInvitation(r.Context(), r.PathValue("token"), r.PostFormValue("password"), r.PostFormValue("code"))
	if err != nil {
		p := problemOf(err)
		if errors.Is(err, accounts.ErrBadCredentials) {
			p = "staff.bad_code"
		}
		if p != "" {
			w.showInvite(rw, r, http.StatusBadRequest, p)
			return
		}
		w.errorPage(rw, r, nil, err)
		return
	}
	if err := w.StartSession(rw, r, store.SubjectStaff, a.ID); err != nil {
		w.errorPage(rw, r, nil, err)
		return
	}
	w.log.InfoContext(r.Context(), "web: invitation accepted; signed in", "account", a.ID)
	w.render(rw, r, http.StatusOK, "staff_codes", nil, map[string]any{"Codes": codes, "Welcome": true})
}

// ---- one's own account

func (w *Web) staffAccount(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	notice := ""
	if r.URL.Query().Get("changed") == "password" {
		notice = "staff.account.password_changed"
	}
	w.render(rw, r, http.StatusOK, "staff_account", v, map[string]any{"Notice": notice})
	return nil
}

func (w *Web) staffChangePassword(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if v.Account == nil || w.cfg.Accounts == nil {
		return pageErr(http.StatusForbidden, "staff.account.token_session")
	}
	show := func(status int, problem string) error {
		w.render(rw, r, status, "staff_account", v, map[string]any{"Problem": problem})
		return nil
	}
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		return show(http.StatusBadRequest, "staff.password.mismatch")
	}
	err := w.cfg.Accounts.ChangePassword(r.Context(), v.Account.ID, r.PostFormValue("current"), r.PostFormValue("password"), w.clientIP(r))
	if err != nil {
		if p := problemOf(err); p != "" {
			return show(http.StatusBadRequest, p)
		}
		return err
	}
	// Every session ended with the new password: this browser gets a new one.
	if err := w.StartSession(rw, r, store.SubjectStaff, v.Account.ID); err != nil {
		return err
	}
	http.Redirect(rw, r, "/account?changed=password", http.StatusSeeOther)
	return nil
}

func (w *Web) staffRecovery(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if v.Account == nil || w.cfg.Accounts == nil {
		return pageErr(http.StatusForbidden, "staff.account.token_session")
	}
	codes, err := w.cfg.Accounts.RegenerateRecoveryCodes(r.Context(), v.Account.ID)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "staff_codes", v, map[string]any{"Codes": codes})
	return nil
}

// ---- the accounts of the viewer's power

func (w *Web) staffAccounts(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	return w.showAccounts(rw, r, v, http.StatusOK, "", "")
}

func (w *Web) showAccounts(rw http.ResponseWriter, r *http.Request, v *viewer, status int, problem, notice string) error {
	if w.cfg.Accounts == nil {
		return pageErr(http.StatusNotFound, "error.no_page")
	}
	page, err := w.cfg.Accounts.List(r.Context(), v.Token, store.PageRequest{After: r.URL.Query().Get("after")})
	if err != nil {
		return err
	}
	centers, err := store.All(r.Context(), func(p store.PageRequest) (store.Page[domain.Center], error) {
		return w.st.ListCenters(r.Context(), store.CenterFilter{IDs: v.scope(), PageRequest: p})
	})
	if err != nil {
		return err
	}
	roles := []store.Role{store.RoleManager, store.RoleTechnician}
	if v.Admin() {
		roles = append([]store.Role{store.RoleAdmin}, roles...)
	}
	w.render(rw, r, status, "staff_accounts", v, map[string]any{"Accounts": page.Items, "Next": page.Next, "Centers": centers, "Roles": roles,
		"Problem": problem, "Notice": notice, "Self": strings.TrimPrefix(v.ID, accounts.StaffPrincipalPrefix)})
	return nil
}

func (w *Web) staffAccountsInvite(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Accounts == nil {
		return pageErr(http.StatusNotFound, "error.no_page")
	}
	in := accounts.Invitation{Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Role: store.Role(r.PostFormValue("role"))}
	if c := r.PostFormValue("center"); c != "" && in.Role != store.RoleAdmin {
		in.Centers = []string{c}
	}
	if _, _, err := w.cfg.Accounts.Invite(r.Context(), v.Token, in); err != nil {
		ae, internal := staffErr(err)
		if internal {
			return err
		}
		w.log.WarnContext(r.Context(), "web: invitation refused", "err", err)
		return w.showAccounts(rw, r, v, ae.Status, ae.Message, "")
	}
	return w.showAccounts(rw, r, v, http.StatusOK, "", "staff.accounts.invited")
}

func (w *Web) staffAccountsChange(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Accounts == nil {
		return pageErr(http.StatusNotFound, "error.no_page")
	}
	var ch accounts.Change
	if s := r.PostFormValue("status"); s != "" {
		st := store.AccountStatus(s)
		ch.Status = &st
	}
	if role := r.PostFormValue("role"); role != "" {
		rl := store.Role(role)
		ch.Role = &rl
		if c := r.PostFormValue("center"); c != "" && rl != store.RoleAdmin {
			ch.Centers = []string{c}
		}
	}
	if _, err := w.cfg.Accounts.Update(r.Context(), v.Token, r.PathValue("id"), ch); err != nil {
		ae, internal := staffErr(err)
		if internal {
			return err
		}
		return w.showAccounts(rw, r, v, ae.Status, ae.Message, "")
	}
	return w.showAccounts(rw, r, v, http.StatusOK, "", "staff.accounts.changed")
}

// staffErr maps an accounts or store error as the API answers it.
func staffErr(err error) (*api.Error, bool) {
	if ae, ok := api.AccountError(err); ok {
		return ae, false
	}
	return api.AsError(err)
}

// staffActor is the audit actor of a staff session.
func staffActor(r *http.Request, a store.StaffAccount) audit.Actor {
	return audit.FromRequest(r, accounts.Actor(a))
}

// staffNav are the navigation entries of the staff accounts' pages.
func staffNav(v *viewer) []navItem {
	var items []navItem
	if v.SeesEvents() {
		items = append(items, navItem{Href: "/accounts", Key: "nav.accounts"})
	}
	if v.Account != nil {
		items = append(items, navItem{Href: "/account", Key: "nav.account"})
	}
	return items
}
