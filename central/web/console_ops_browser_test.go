package web_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/webtest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestConsoleOpsBrowser drives headless Chromium through the console-ops
// pages as the cooperative's administrator: closing two periods in one
// action, editing a setting and seeing the open period's settlement change
// and the closed one's not, an offline door's page with its last known
// state, its alert and the command warning, the alerts list, and the audit
// log showing these changes. Every page is checked with axe-core, at
// desktop and at 390 px (where nothing is wider than the screen), and
// photographed to testout/screenshots (ops-*.png).
func TestConsoleOpsBrowser(t *testing.T) {
	needChromium(t)
	n := startNetwork(t)
	shots := screenshotDir(t)
	loc := brussels(t)
	var evs []protocol.Event
	seq := uint64(0)
	for back := 3; back >= 1; back-- {
		at := monthDay(t, back)
		evs = append(evs, tap(seq+1, at, "04A1B2C3", "n1", protocol.GrantedPass), tap(seq+2, at.Add(2*time.Hour), "04A1B2C3", "n1", protocol.GrantedPass))
		seq += 2
	}
	evs = append(evs, tap(seq+1, time.Now().Add(-3*time.Hour), "04D1D2D3", "m1", protocol.GrantedPass)) // late
	n.doors["d1"].events(t, evs...)
	m2, m1 := credit.PeriodOf(monthDay(t, 2), loc), credit.PeriodOf(monthDay(t, 1), loc)
	ctx0 := context.Background()
	since := time.Now().Add(-(3*time.Hour + 20*time.Minute))
	require.NoError(t, n.srv.Store.Health().SaveDoorHealth(ctx0, store.DoorHealth{Door: "d1", State: store.DoorOffline,
		StatusTimeMs: since.UnixMilli(), Firmware: "swc-edge 1.4.2", WLVersion: 41, OutboxDepth: 12, ClockTrusted: true, Reader: "ok",
		DoorState: "locked", LastSeenMs: since.UnixMilli(), OfflineSinceMs: since.UnixMilli(), UpdatedMs: since.UnixMilli()}))
	_, _, err := n.srv.Store.Health().RaiseAlert(ctx0, store.Alert{Door: "d1", Center: "c1", Kind: store.AlertOffline,
		RaisedMs: since.Add(10 * time.Minute).UnixMilli(), Details: map[string]string{}})
	require.NoError(t, err)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chromiumPath), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...), what)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	axe := webtest.NewAxe()
	var shotNames []string
	check := func(name string) { // axe, and a screenshot
		t.Helper()
		t.Run("a11y/"+name, func(t *testing.T) { axe.Check(t, ctx) })
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err, name)
		file := "ops-" + name + ".png"
		require.NoError(t, os.WriteFile(filepath.Join(shots, file), png, 0o644))
		shotNames = append(shotNames, file)
	}
	// The cooperative's admin signs in with the break-glass token form.
	do("log in", chromedp.Navigate(n.base+"/login/token"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), n.tokens["admin"]), chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#summary")))

	// Close the two oldest periods in one action: the page lists them.
	do("settlements", chromedp.Navigate(n.base+"/settlements?period="+m2.String()), chromedp.WaitVisible(chromedp.CSS("#close-list")))
	assert.Equal(t, 2, count(t, ctx, "#close-list li"))
	check("01-settlement-close-two")
	do("close through", chromedp.Click(chromedp.CSS("#close-through")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	assert.Contains(t, text("#flash"), "2 periods closed")
	assert.Equal(t, "closed", text("#period-state"))
	do("approve", chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#approved")))
	check("02-settlement-closed-approved")
	rate := func(p credit.Period) string {
		t.Helper()
		do("settlement "+p.String(), chromedp.Navigate(n.base+"/settlements?center=c1&period="+p.String()), chromedp.WaitVisible(chromedp.CSS("#settlement-centers")))
		return text(`#settlement-centers tr[data-center="c1"] .rate`)
	}
	assert.Equal(t, "€10.00/h", rate(m1))

	// Edit a setting from the open period on.
	do("settings", chromedp.Navigate(n.base+"/settings"), chromedp.WaitVisible(chromedp.CSS("#settings-edit")))
	check("03-settings")
	do("edit", chromedp.SetValue(chromedp.CSS("#f-effective_from"), m1.String()),
		chromedp.SetValue(chromedp.CSS("#f-default_rate_cents"), "4.00"),
		chromedp.SetValue(chromedp.CSS("#f-note"), "cheaper hours from "+m1.String()),
		chromedp.Click(chromedp.CSS("#settings-save")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	assert.Contains(t, text("#flash"), "applies from "+m1.String())
	assert.Contains(t, text("#settings-history"), "cheaper hours")
	check("04-settings-saved")
	require.Eventually(t, func() bool { return rate(m1) == "€4.00/h" }, 10*time.Second, 100*time.Millisecond, "the open period follows")
	check("05-settlement-open-new-rate")
	assert.Equal(t, "€10.00/h", rate(m2), "the closed period keeps its rate")

	// The offline door: its last known state, its alert, the warning.
	do("door", chromedp.Navigate(n.base+"/doors/d1"), chromedp.WaitVisible(chromedp.CSS("#door-health")))
	assert.Contains(t, text("#offline-for"), "offline for 3 h 20 min")
	assert.Contains(t, text("main"), "swc-edge 1.4.2", "the last known state")
	assert.Contains(t, text("main"), "12 events waiting")
	assert.Contains(t, text("#door-alerts"), "door offline")
	assert.Contains(t, text("#offline-warning"), "waits until the door is back")
	check("06-door-offline")
	do("alerts", chromedp.Navigate(n.base+"/alerts"), chromedp.WaitVisible(chromedp.CSS("#alert-list")))
	assert.Contains(t, text("#alert-list"), "door offline")
	check("07-alerts")
	do("events", chromedp.Navigate(n.base+"/events?late=1"), chromedp.WaitVisible(chromedp.CSS("#event-results")))
	assert.Contains(t, text("#event-results"), "late")
	check("08-events-late")
	do("webhooks", chromedp.Navigate(n.base+"/webhooks"), chromedp.WaitVisible(chromedp.CSS("#webhook-create")))
	check("09-webhooks")

	// The audit log shows the closes, the approval and the settings version.
	do("audit", chromedp.Navigate(n.base+"/audit"), chromedp.WaitVisible(chromedp.CSS("#audit-log")))
	log := text("#audit-log")
	for _, want := range []string{"period " + m2.String(), "settings", "closed", "approved" /* in words */} {
		assert.Contains(t, log, want)
	}
	check("10-audit")

	// At 390 px: nothing wider than the screen.
	do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	for _, p := range []struct{ name, path, wait string }{
		{"11-settlement-390px", "/settlements?period=" + m1.String(), "#settlement-centers"},
		{"12-settings-390px", "/settings", "#settings-edit"},
		{"13-door-offline-390px", "/doors/d1", "#door-health"},
		{"14-alerts-390px", "/alerts", "#alert-list"},
		{"15-events-390px", "/events", "#event-results"},
		{"16-webhooks-390px", "/webhooks", "#webhook-create"},
		{"17-audit-390px", "/audit", "#audit-log"},
	} {
		do(p.name, chromedp.Navigate(n.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		assert.LessOrEqual(t, w, 390, "%s scrolls sideways at 390 px", p.name)
		check(p.name)
	}
	for _, f := range shotNames {
		fi, err := os.Stat(filepath.Join(shots, f))
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
}

// count is how many elements match sel.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
	require.NoError(t, err)
	return n
}
