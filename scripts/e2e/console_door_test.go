package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/web/webtest"
	"github.com/smartworkcenters/swc/edge/decide"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Issue 16, learn mode end to end: a real swc-central (embedded broker,
// SQLite) and a real swc-edge process on the simulated MFRC522. The
// center's manager, whose staff account `swc-central staff add` made,
// signs in with password and TOTP in headless Chromium, creates a member
// in the console, gives them a pass, and starts learn mode at the door. A
// new badge is presented to the door's reader (`swc-edge tap`): the door
// refuses it as unknown, and the console offers that UID. The manager
// assigns it; once the door reports a newer whitelist, the same badge is
// granted at the door. The manager suspends the member; once the door
// reports the newer whitelist, the badge is refused (revoked). The audit
// log page shows the manager's changes. Screenshots go to
// testout/screenshots (e2e-learn-*.png).
func TestConsoleLearnModeAtDoor(t *testing.T) {
	b := webtest.StartBrowser(t, 3*time.Minute)
	n := newNetwork(t, netOpts{doors: 1})
	c, d := n.centrals[0], n.doors["door-0"]
	synced(t, d)

	// The manager's account, made on the command line as for a new
	// center: active, with a password and a TOTP secret.
	const email, password, secret = "manager@center-one.example", "lantern-otter-basalt-71", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	pwFile := filepath.Join(t.TempDir(), "password")
	require.NoError(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600))
	out, err := exec.Command(bins.central, "staff", "add", "--data", c.dir, "--email", email, "--name", "Max Manager",
		"--role", "manager", "--center", "c1", "--password-file", pwFile, "--totp-secret", secret).CombinedOutput()
	require.NoError(t, err, "%s", out)

	base := "http://" + c.httpAddr
	b.StaffSignIn(base, email, password, func() string {
		code, err := accounts.TOTPCode(secret, time.Now())
		require.NoError(t, err)
		return code
	})

	// A new member, from the console's form.
	b.Do("new member", chromedp.Navigate(base+"/members/new"), chromedp.WaitVisible(chromedp.CSS("#member-id")),
		chromedp.SendKeys(chromedp.CSS("#member-id"), "m9"), chromedp.SendKeys(chromedp.CSS("#member-name"), "Lena Learn"),
		chromedp.SendKeys(chromedp.CSS("#member-email"), "lena@example.org"), chromedp.Click(chromedp.CSS("#member-save")),
		chromedp.WaitVisible(chromedp.CSS("#member-learn")))
	require.Contains(t, b.Text("#flash"), "Member Lena Learn created.")
	from := time.Now().AddDate(0, 0, -1).UTC().Truncate(time.Hour)
	c.must("POST", "/passes", map[string]any{"id": "p-m9", "member_id": "m9", "valid_from": from, "valid_until": from.AddDate(0, 1, 0)})

	// Learn mode at the door, then the new badge at its reader.
	const card protocol.UID = "04C0FFEE42A1B2" // 7 bytes, as NTAG and DESFire cards have
	b.Do("learn mode", chromedp.Click(chromedp.CSS("#member-learn")), chromedp.WaitVisible(chromedp.CSS("#learn-go")))
	door, err := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#learn-door")))
	require.NoError(t, err)
	require.Equal(t, "door-0", door, "the manager's only door is offered")
	b.Do("start", chromedp.Click(chromedp.CSS("#learn-go")), chromedp.WaitVisible(chromedp.CSS("#learn-wait")))
	b.Shoot("e2e-learn-1-waiting.png")
	learnTap := time.Now()
	require.Equal(t, protocol.DeniedUnknownBadge, d.tap(card), "the door does not know the new badge yet")
	wctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#assign-form")))
	cancel()
	require.NoError(t, err, "the console offers the badge the door refused")
	assert.Contains(t, b.Text("#learn-uid"), string(card))
	b.Shoot("e2e-learn-2-found.png")

	v := d.whitelistVersion()
	b.Do("assign", chromedp.Click(chromedp.CSS("#assign")), chromedp.WaitVisible(chromedp.CSS("#badges")))
	assert.Contains(t, b.Text("#flash"), "Badge "+string(card)+" assigned to m9.")
	b.Shoot("e2e-learn-3-assigned.png")
	eventually(t, func() bool { return d.whitelistVersion() > v }, "the assignment reached the door")
	// The same badge again only after the door's debounce, as a person
	// coming back to the door would.
	if wait := decide.DefaultDebounce - time.Since(learnTap) + 100*time.Millisecond; wait > 0 {
		time.Sleep(wait)
	}
	require.Equal(t, protocol.GrantedPass, d.tap(card), "the learned badge opens the door")

	// Suspend the member: the door refuses the badge.
	v = d.whitelistVersion()
	b.Do("member page", chromedp.Navigate(base+"/members/m9"), chromedp.WaitVisible(chromedp.CSS("#member-suspend")))
	b.Do("suspend", chromedp.Click(chromedp.CSS("#member-suspend")), chromedp.WaitVisible(chromedp.CSS("#member-reinstate")))
	b.Shoot("e2e-learn-4-suspended.png")
	eventually(t, func() bool { return d.whitelistVersion() > v }, "the suspension reached the door")
	time.Sleep(decide.DefaultDebounce) // the previous tap's debounce
	require.Equal(t, protocol.DeniedRevoked, d.tap(card), "a suspended member's badge no longer opens the door")

	// The audit log shows what the manager did.
	b.Do("audit log", chromedp.Navigate(base+"/audit"), chromedp.WaitVisible(chromedp.CSS("#audit-log")))
	log := b.Text("#audit-log")
	for _, want := range []string{"member m9", "badge " + string(card), email} {
		assert.Contains(t, log, want, "the audit log names it")
	}
	assert.Contains(t, log, "changed", "the suspension is in the audit log")
	b.Shoot("e2e-learn-5-audit.png")
	require.NoError(t, b.Ctx.Err(), "the browser test ran out of time")
}
