package web_test

import (
	"context"
	"os"
	"path/filepath"
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
	needChromium(t)
	s := startSigninSite(t, true)
	shots := screenshotDir(t)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v; at %s: %s", what, err, loc, body)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	axe := webtest.NewAxe()
	a11y := func(page string) {
		t.Helper()
		t.Run("a11y/"+page, func(t *testing.T) { axe.Check(t, ctx) })
	}
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err, name)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name), png, 0o644))
	}
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
