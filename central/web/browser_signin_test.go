package web_test

import (
	"context"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/webtest"
)

// TestBrowserMemberSignIn drives headless Chromium through the members'
// sign-in: a code read from the mail a real SMTP server received, then a
// passkey added on /my/passkeys with Chromium's virtual authenticator
// (CTAP2, internal, resident keys, user verification), a sign-out, and a
// sign-in with that passkey alone (no address typed) — at desktop width
// and again at 390 px. Every page passes axe-core; screenshots go to
// testout/screenshots.
func TestBrowserMemberSignIn(t *testing.T) {
	webtest.NeedChromium(t)
	s := startSigninSite(t, true)

	b := webtest.StartBrowser(t, 2*time.Minute)
	ctx := b.Ctx
	do, text, a11y, shoot := b.Do, b.Text, b.A11y, b.Shoot

	fits := func(page string, width int) {
		t.Helper()
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		assert.LessOrEqual(t, w, width, "%s scrolls sideways at %d px", page, width)
	}

	// The virtual authenticator: a platform authenticator with resident
	// keys and user verification that always verifies.
	do("first page", chromedp.Navigate(s.base+"/my/signin"), chromedp.WaitVisible(chromedp.CSS("#email")))
	_, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{Options: &cdpwebauthn.VirtualAuthenticatorOptions{
		Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21, Transport: cdpwebauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	require.NoError(t, err)

	for _, size := range []struct {
		name          string
		width, height int
		suffix        string
	}{{"desktop", 1280, 900, ""}, {"phone", 390, 844, "-390px"}} {
		do(size.name+" viewport", chromedp.EmulateViewport(int64(size.width), int64(size.height)))

		// A code by e-mail.
		do("sign-in page", chromedp.Navigate(s.base+"/my/signin?next=/my/"), chromedp.WaitVisible(chromedp.CSS("#email")))
		fits("signin", size.width)
		shoot("20-member-signin" + size.suffix + ".png")
		a11y("member-signin" + size.suffix)
		do("ask for a code", chromedp.SendKeys(chromedp.CSS("#email"), "Ann@Example.org"), chromedp.Click(chromedp.CSS("#send-code")),
			chromedp.WaitVisible(chromedp.CSS("#code")))
		fits("code", size.width)
		shoot("21-member-code" + size.suffix + ".png")
		a11y("member-code" + size.suffix)
		code := s.code(t)
		do("enter the code", chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.Click(chromedp.CSS("#check-code")),
			chromedp.WaitVisible(chromedp.CSS("#signout")))
		assert.Contains(t, text("#who"), "Ann Peeters")

		// Add a passkey on this device (at 390 px, after removing the
		// desktop's: the authenticator holds one passkey per member).
		do("passkeys page", chromedp.Navigate(s.base+"/my/passkeys"), chromedp.WaitVisible(chromedp.CSS("#passkey-add")))
		if size.suffix != "" {
			do("remove the passkey", chromedp.Click(chromedp.CSS("#passkeys button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#no-passkeys")))
		}
		a11y("member-passkeys-empty" + size.suffix)
		do("add a passkey", chromedp.SendKeys(chromedp.CSS("#passkey-name"), "Laptop "+size.name), chromedp.Click(chromedp.CSS("#passkey-add")),
			chromedp.WaitVisible(chromedp.CSS("#flash")))
		assert.Contains(t, text("#passkeys"), "Laptop "+size.name)
		if size.suffix == "" {
			// This device has a passkey already: the browser refuses a second
			// one, and the page says so.
			do("add it again", chromedp.Click(chromedp.CSS("#passkey-add")), chromedp.WaitVisible(chromedp.CSS("#passkey-problem")))
			assert.Contains(t, text("#passkey-problem"), "The passkey did not work")
		}
		fits("passkeys", size.width)
		shoot("22-member-passkeys" + size.suffix + ".png")
		a11y("member-passkeys" + size.suffix)

		// Sign out, then in with the passkey alone.
		do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#passkey-signin")))
		do("passkey sign-in", chromedp.Click(chromedp.CSS("#passkey-signin")), chromedp.WaitVisible(chromedp.CSS("#signout")))
		assert.Contains(t, text("#who"), "Ann Peeters")
		loc, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		assert.Equal(t, s.base+"/my/", loc)
		shoot("23-member-after-passkey" + size.suffix + ".png")
		do("sign out again", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#passkey-signin")))
	}

	// A cloned authenticator: the stored counter is ahead of the one the
	// authenticator sends, so the sign-in is refused and the passkey
	// marked.
	pks, err := s.st.MemberAuth().ListPasskeys(context.Background(), "ann")
	require.NoError(t, err)
	require.Len(t, pks, 1)
	require.NoError(t, s.st.MemberAuth().UsePasskey(context.Background(), pks[0].ID, 1000, false, pks[0].Data, pks[0].LastUsedMs))
	do("cloned passkey", chromedp.Click(chromedp.CSS("#passkey-signin")), chromedp.WaitVisible(chromedp.CSS("#passkey-problem")))
	assert.Contains(t, text("#passkey-problem"), "This passkey was not accepted")
	shoot("24-member-passkey-refused-390px.png")
	a11y("member-passkey-refused-390px")

	// The store: the phone's passkey, used once; adding both and removing
	// the desktop's are in the audit log, by Ann.
	pks, err = s.st.MemberAuth().ListPasskeys(context.Background(), "ann")
	require.NoError(t, err)
	require.Len(t, pks, 1)
	assert.Equal(t, "Laptop phone", pks[0].Name)
	assert.NotZero(t, pks[0].LastUsedMs)
	assert.True(t, pks[0].CloneWarning, "marked as possibly cloned")
	assert.Equal(t, "internal", pks[0].Transports)
	log, err := s.st.ListAudit(context.Background(), store.AuditFilter{ObjectKind: "passkey"})
	require.NoError(t, err)
	var actions []audit.Action
	for _, e := range log.Items {
		actions = append(actions, e.Action)
		assert.Equal(t, "ann", e.Actor.ID)
	}
	assert.ElementsMatch(t, []audit.Action{audit.Create, audit.Delete, audit.Create}, actions)
}
