package web_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/web/webtest"
)

var inviteLinkRE = regexp.MustCompile(`/invite/[A-Za-z0-9_-]+`)

// TestBrowserStaffInvitation drives headless Chromium through issue 16's
// first sign-in: the manager of Gent invites a technician on the staff
// accounts page (desktop); the invitation arrives by e-mail at a real SMTP
// server; the invitee opens its link on a phone (390 px), chooses a
// password, scans the QR code (the test computes the TOTP code from the
// secret shown beside it), sees their recovery codes, signs out and signs
// in again with password and TOTP; a wrong code is refused. Every page is
// checked with axe-core and fits the phone's width.
func TestBrowserStaffInvitation(t *testing.T) {
	webtest.NeedChromium(t)
	relay := mailtest.Start(t, mailtest.Options{})
	n := startNetworkWith(t, func(c *server.Config) { c.Mail = relay.Config("console@swc.example") })

	b := webtest.StartBrowser(t, 2*time.Minute)
	ctx := b.Ctx
	do, text, a11y, shoot := b.Do, b.Text, b.A11y, b.Shoot
	fits := func(page string) {
		t.Helper()
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		assert.LessOrEqual(t, w, 390, "%s scrolls sideways at 390 px", page)
	}

	// The manager of Gent signs in (desktop) and invites a technician.
	mgr := n.staffAccount("mgr1")
	do("sign-in page", chromedp.Navigate(n.base+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")))
	a11y("staff-login")
	shoot("staff-01-login.png")
	do("password", chromedp.SendKeys(chromedp.CSS("#email"), mgr.email), chromedp.SendKeys(chromedp.CSS("#password"), staffPassword),
		chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#code")))
	a11y("staff-totp")
	code, err := accounts.TOTPCode(mgr.secret, time.Now())
	require.NoError(t, err)
	do("totp", chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.Click(chromedp.CSS("#verify")), chromedp.WaitVisible(chromedp.CSS("#summary")))
	do("accounts page", chromedp.Navigate(n.base+"/accounts"), chromedp.WaitVisible(chromedp.CSS("#invite")))
	roles := text("#invite-role")
	assert.NotContains(t, roles, "admin", "a manager cannot invite an admin")
	assert.NotContains(t, text("#invite-center"), "Leuven", "nor for another center")
	a11y("staff-accounts")
	do("invite", chromedp.SendKeys(chromedp.CSS("#invite-name"), "Tom Technician"), chromedp.SendKeys(chromedp.CSS("#invite-email"), "tom@gent.example"),
		chromedp.SetValue(chromedp.CSS("#invite-role"), "technician"), chromedp.Click(chromedp.CSS("#send-invite")), chromedp.WaitVisible(chromedp.CSS("#notice")))
	assert.Contains(t, text("#accounts"), "tom@gent.example")
	assert.Contains(t, text("#accounts"), "invited")
	shoot("staff-02-invited.png")
	do("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#email")))

	// The invitation, as received by the SMTP server.
	msgs := relay.Wait(t, 1)
	assert.Equal(t, []string{"tom@gent.example"}, msgs[0].To)
	link := inviteLinkRE.FindString(msgs[0].Text)
	require.NotEmpty(t, link, "an invitation link in %q", msgs[0].Text)

	// On a phone: accept, choose a password, enrol TOTP.
	do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	do("invitation", chromedp.Navigate(n.base+link), chromedp.WaitVisible(chromedp.CSS("#qr")))
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("qr").naturalWidth > 0`))
	require.NoError(t, err)
	assert.True(t, loaded, "the QR code is served from this site")
	fits("invitation")
	a11y("staff-invite-390px")
	shoot("staff-03-invite-390px.png")
	secret := strings.TrimSpace(text("#totp-secret"))
	do("weak password", chromedp.SendKeys(chromedp.CSS("#password"), "password1234"), chromedp.SendKeys(chromedp.CSS("#password2"), "password1234"),
		chromedp.SendKeys(chromedp.CSS("#code"), "000000"), chromedp.Click(chromedp.CSS("#accept")), chromedp.WaitVisible(chromedp.CSS(".problem")))
	assert.Contains(t, text(".problem"), "too common")
	const password = "lighthouse marmalade bicycle"
	code, err = accounts.TOTPCode(secret, time.Now())
	require.NoError(t, err)
	do("accept", chromedp.SendKeys(chromedp.CSS("#password"), password), chromedp.SendKeys(chromedp.CSS("#password2"), password),
		chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.Click(chromedp.CSS("#accept")), chromedp.WaitVisible(chromedp.CSS("#recovery-codes")))
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#recovery-codes li").length`))
	require.NoError(t, err)
	assert.Equal(t, accounts.RecoveryCodes, codes)
	fits("recovery codes")
	a11y("staff-codes-390px")
	shoot("staff-04-codes-390px.png")
	do("continue", chromedp.Click(chromedp.CSS("#continue")), chromedp.WaitVisible(chromedp.CSS("#summary")))
	assert.Contains(t, text("#who"), "Tom Technician · technician · c1")
	do("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#email")))

	// The first sign-in with password and TOTP; a wrong code first.
	fits("sign-in")
	a11y("staff-login-390px")
	do("password", chromedp.SendKeys(chromedp.CSS("#email"), "Tom@Gent.example"), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#code")))
	fits("second step")
	a11y("staff-totp-390px")
	shoot("staff-05-totp-390px.png")
	do("wrong code", chromedp.SendKeys(chromedp.CSS("#code"), "123456"), chromedp.Click(chromedp.CSS("#verify")), chromedp.WaitVisible(chromedp.CSS(".problem")))
	assert.Contains(t, text(".problem"), "not right")
	// The enrolment's code is spent: the next step's (within the clock
	// skew the central allows) signs in.
	code, err = accounts.TOTPCode(secret, time.Now().Add(accounts.TOTPPeriod*time.Second))
	require.NoError(t, err)
	do("code", chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.Click(chromedp.CSS("#verify")), chromedp.WaitVisible(chromedp.CSS("#summary")))
	assert.Contains(t, text("#who"), "Tom Technician")
	fits("overview")
	shoot("staff-06-signed-in-390px.png")
	do("my account", chromedp.Navigate(n.base+"/account"), chromedp.WaitVisible(chromedp.CSS("#change-password")))
	fits("my account")
	a11y("staff-account-390px")
}
