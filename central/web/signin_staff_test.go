package web_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
)

// newBrowser is a signed-out browser.
func (n *network) newBrowser() *browser {
	n.t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(n.t, err)
	return &browser{t: n.t, n: n, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// formCSRF gets path and returns its form's CSRF token.
func (b *browser) formCSRF(path string) string {
	b.t.Helper()
	code, body := b.get(path)
	require.Equal(b.t, http.StatusOK, code, body)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(b.t, m, "%s has a CSRF token", path)
	return m[1]
}

// TestStaffSignInRateLimited: wrong passwords are refused with the same
// answer as unknown addresses; past the account's limit even the right
// password is refused (429), across browsers.
func TestStaffSignInRateLimited(t *testing.T) {
	n := startNetwork(t)
	u := n.staffAccount("mgr1")
	b := n.newBrowser()
	for i := range accounts.AccountFailures {
		email := u.email
		if i == 0 {
			email = "nobody@staff.example"
		}
		code, body, _ := b.post("/login", url.Values{"email": {email}, "password": {"not the password"}, "csrf": {b.formCSRF("/login")}})
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, body, "Wrong e-mail address or password.")
	}
	// One more wrong one makes five for the account (the first was another address).
	code, _, _ := b.post("/login", url.Values{"email": {u.email}, "password": {"not the password"}, "csrf": {b.formCSRF("/login")}})
	require.Equal(t, http.StatusUnauthorized, code)
	other := n.newBrowser()
	code, body, _ := other.post("/login", url.Values{"email": {u.email}, "password": {staffPassword}, "csrf": {other.formCSRF("/login")}})
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Contains(t, body, "Too many failed attempts")
	metrics := n.srv.Metrics
	var sb strings.Builder
	require.NoError(t, metrics.WriteText(&sb))
	require.Regexp(t, `swc_staff_sign_ins_total\{step="password",result="rate_limited"\} 1`, sb.String())
}

// TestStaffResetByMail: the reset link from the e-mail sets a new
// password, ends the account's sessions, and signing in still asks for
// the TOTP code; the link works once. The forgot-password page answers
// the same for unknown addresses.
func TestStaffResetByMail(t *testing.T) {
	relay := mailtest.Start(t, mailtest.Options{})
	n := startNetworkWith(t, func(c *server.Config) { c.Mail = relay.Config("console@swc.example") })
	u := n.staffAccount("mgr1")
	signedIn := n.newBrowser()
	n.staffSignIn(signedIn, u)
	code, _ := signedIn.get("/")
	require.Equal(t, http.StatusOK, code)

	b := n.newBrowser()
	for _, email := range []string{"nobody@staff.example", strings.ToUpper(u.email)} {
		code, body, _ := b.post("/login/forgot", url.Values{"email": {email}, "csrf": {b.formCSRF("/login/forgot")}})
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "If this address has a staff account")
	}
	msgs := relay.Wait(t, 1)
	require.Equal(t, []string{u.email}, msgs[0].To)
	link := regexp.MustCompile(`/reset/[A-Za-z0-9_-]+`).FindString(msgs[0].Text)
	require.NotEmpty(t, link)

	csrf := b.formCSRF(link)
	code, body, _ := b.post(link, url.Values{"password": {"password1234"}, "password2": {"password1234"}, "csrf": {csrf}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "too common")
	const fresh = "quiet harbour lantern morning"
	code, body, _ = b.post(link, url.Values{"password": {fresh}, "password2": {fresh}, "csrf": {csrf}})
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "every session ended")
	code, _ = signedIn.get("/")
	require.Equal(t, http.StatusSeeOther, code, "the reset ended the other sessions")
	code, body, _ = b.post(link, url.Values{"password": {fresh + "!"}, "password2": {fresh + "!"}, "csrf": {csrf}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "already used or expired")

	// The new password leads to the second step, not into the console.
	code, _, hdr := b.post("/login", url.Values{"email": {u.email}, "password": {fresh}, "csrf": {b.formCSRF("/login")}, "next": {"/"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/login/totp?next=%2F", hdr.Get("Location"))
	code, _ = b.get("/")
	require.Equal(t, http.StatusSeeOther, code, "no session before the code")
	totp, err := accounts.TOTPCode(u.secret, time.Now().Add(accounts.TOTPPeriod*time.Second))
	require.NoError(t, err)
	code, _, hdr = b.post("/login/totp", url.Values{"code": {totp}, "csrf": {b.formCSRF("/login/totp")}, "next": {"/"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/", hdr.Get("Location"))
	code, _ = b.get("/")
	require.Equal(t, http.StatusOK, code)
}

// TestStaffPagesPower: on the accounts page a manager cannot invite an
// admin nor for another center, a technician does not get the page, and
// the break-glass token form refuses a manager's token; a bad invitation
// link and its QR code are answered as missing.
func TestStaffPagesPower(t *testing.T) {
	n := startNetwork(t)
	mgr := n.login("mgr1")
	code, body := mgr.get("/accounts")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, `<option value="admin">`)
	require.NotContains(t, body, "Leuven")
	for _, c := range []struct {
		name   string
		form   url.Values
		status int
		has    string
	}{
		{"an admin", url.Values{"name": {"X"}, "email": {"x@staff.example"}, "role": {"admin"}}, http.StatusForbidden, "managers and technicians only"},
		{"for Leuven", url.Values{"name": {"X"}, "email": {"x@staff.example"}, "role": {"manager"}, "center": {"c2"}}, http.StatusUnprocessableEntity, "center c2 does not exist"},
		{"a technician of Gent", url.Values{"name": {"Tia"}, "email": {"tia@staff.example"}, "role": {"technician"}, "center": {"c1"}}, http.StatusOK, "tia@staff.example"},
	} {
		c.form.Set("csrf", mgr.csrf)
		code, body, _ := mgr.post("/accounts", c.form)
		require.Equal(t, c.status, code, c.name)
		require.Contains(t, body, c.has, c.name)
	}
	page, err := n.srv.Store.StaffAccounts().ListAccounts(t.Context(), store.AccountFilter{CenterIDs: []string{"c2"}})
	require.NoError(t, err)
	require.Empty(t, page.Items, "nothing was created for Leuven")

	tia, err := n.srv.Store.StaffAccounts().AccountByEmail(t.Context(), "tia@staff.example")
	require.NoError(t, err)
	code, body, _ = mgr.post("/accounts/"+tia.ID, url.Values{"csrf": {mgr.csrf}, "role": {"admin"}})
	require.Equal(t, http.StatusForbidden, code, body)
	code, body, _ = mgr.post("/accounts/"+tia.ID, url.Values{"csrf": {mgr.csrf}, "role": {"manager"}, "center": {"c1"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "The account was changed.")
	tia, err = n.srv.Store.StaffAccounts().Account(t.Context(), tia.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleManager, tia.Role)
	code, body, _ = mgr.post("/accounts/"+tia.ID, url.Values{"csrf": {mgr.csrf}, "status": {"disabled"}})
	require.Equal(t, http.StatusOK, code, body)
	tia, err = n.srv.Store.StaffAccounts().Account(t.Context(), tia.ID)
	require.NoError(t, err)
	require.Equal(t, store.AccountDisabled, tia.Status)

	tech := n.login("tech1")
	code, _ = tech.get("/accounts")
	require.Equal(t, http.StatusForbidden, code)

	b := n.newBrowser()
	code, _, _ = b.post("/login/token", url.Values{"token": {n.tokens["mgr1"]}, "csrf": {b.formCSRF("/login/token")}})
	require.Equal(t, http.StatusForbidden, code, "break-glass is for admin tokens")
	code, _ = b.get("/invite/swci_not-a-real-link")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = b.get("/invite/swci_not-a-real-link/qr.png")
	require.Equal(t, http.StatusNotFound, code)
}
