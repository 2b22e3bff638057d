package web_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/web/webtest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// void drops an action's value.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// TestBrowser drives headless Chromium through the dashboard as the manager
// of Gent: they see only Gent, a simulated tap appears on the live page
// within 2 s, the settlement CSV downloads, and Leuven's door page is
// refused. Then a technician unlocks the door from a phone-sized screen.
// Every page is checked with axe-core (no serious or critical violation),
// at desktop and at 390 px, where nothing is wider than the screen; the
// language switch turns the pages French and Dutch. Screenshots of the
// pages go to testout/screenshots.
func TestBrowser(t *testing.T) {
	webtest.NeedChromium(t)
	n := startNetwork(t)
	shots := webtest.ScreenshotDir(t)
	downloads := t.TempDir()

	// Some hours earlier this month, so that the chart has bars: Nora
	// enters Gent on each past day of the month (visits of 1 to 4 h).
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	now := time.Now().In(loc)
	seq := uint64(0)
	var seed []protocol.Event
	for d := 1; d < now.Day(); d++ {
		seq++
		at := time.Date(now.Year(), now.Month(), d, 9+(d*3)%9, 0, 0, 0, loc)
		seed = append(seed, tap(seq, at, "04A1B2C3", "n1", protocol.GrantedPass))
	}
	if len(seed) > 0 {
		n.doors["d1"].events(t, seed...)
	}
	n.doors["d1"].publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "d1", State: protocol.StateOnline,
		TimeMs: time.Now().UnixMilli(), Firmware: "swc-edge 0.9.0", WLVersion: 1, OutboxDepth: 2, ClockTrusted: true, DoorState: "locked", Reader: "ok"})
	n.doors["d2"].publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "d2", State: protocol.StateOnline,
		TimeMs: time.Now().UnixMilli(), Firmware: "swc-edge 0.9.0", ClockTrusted: true})

	b := webtest.StartBrowser(t, 2*time.Minute)
	ctx := b.Ctx
	do, text, a11y, shoot := b.Do, b.Text, b.A11y, b.Shoot

	login := func(who string) {
		t.Helper()
		if who == "admin" { // the break-glass token sign-in
			do("log in as "+who,
				chromedp.Navigate(n.base+"/login/token"),
				chromedp.WaitVisible(chromedp.CSS("#token")),
				chromedp.SendKeys(chromedp.CSS("#token"), n.tokens[who]),
				chromedp.Click(chromedp.CSS("#login")),
			)
		} else { // staff: e-mail and password, then the TOTP code
			u := n.staffAccount(who)
			do("sign in as "+who,
				chromedp.Navigate(n.base+"/login"),
				chromedp.WaitVisible(chromedp.CSS("#email")),
				chromedp.SendKeys(chromedp.CSS("#email"), u.email),
				chromedp.SendKeys(chromedp.CSS("#password"), staffPassword),
				chromedp.Click(chromedp.CSS("#login")),
				chromedp.WaitVisible(chromedp.CSS("#code")),
			)
			code, err := accounts.TOTPCode(u.secret, time.Now())
			require.NoError(t, err)
			do("second factor", chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.Click(chromedp.CSS("#verify")))
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#summary"))); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("log in as %s: %v; at %s: %s", who, err, loc, body)
		}
	}

	// Log in as the manager of Gent: only Gent.
	do("login page", chromedp.Navigate(n.base+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")))
	shoot("01-login.png")
	a11y("login")
	login("mgr1")
	main := text("main")
	assert.Contains(t, main, "Gent")
	assert.Contains(t, main, "Gent front")
	assert.NotContains(t, main, "Leuven")
	assert.Contains(t, text("#who"), "manager · c1")
	shoot("02-overview-manager.png")
	a11y("overview")
	// Keyboard: the first Tab reaches the skip link, shown with a visible
	// focus ring; the next ones walk the navigation.
	do("tab", chromedp.KeyEvent("\t"))
	focus, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.activeElement, s = getComputedStyle(e);
		return e.className + "|" + s.outlineStyle + "|" + s.outlineWidth + "|" + (e.getBoundingClientRect().top >= 0) })()`))
	require.NoError(t, err)
	assert.Equal(t, "skip|solid|3px|true", focus, "the skip link takes the first Tab, in view, with a focus ring")
	do("tab tab", chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"))
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.getAttribute("href") + "|" + getComputedStyle(document.activeElement).outlineStyle`))
	require.NoError(t, err)
	assert.Equal(t, "/|solid", focused, "then the brand, then the navigation's first link, each with a ring")

	// Live events: a tap at Gent appears within 2 s; a tap at Leuven,
	// delivered first, never does.
	do("live page",
		chromedp.Navigate(n.base+"/live"),
		chromedp.WaitVisible(chromedp.CSS("#live-events")),
		void(chromedp.Poll[bool](`document.getElementById("live-status").textContent === "live"`, chromedp.WithPollingTimeout(10*time.Second))),
	)
	n.doors["d2"].events(t, tap(1, time.Now(), "04E1E2E3", "m2", protocol.GrantedBooking))
	seq++
	started := time.Now()
	n.doors["d1"].publish(t, protocol.TopicEvents, &protocol.EventBatch{V: protocol.Version, Door: "d1",
		Events: []protocol.Event{tap(seq, time.Now(), "04D1D2D3", "m1", protocol.DeniedNoBooking)}})
	row := fmt.Sprintf(`#live-events tr[data-door="d1"][data-seq="%d"]`, seq)
	waitCtx, cancelWait := context.WithTimeout(ctx, 2*time.Second)
	err = chromedp.Do(waitCtx, chromedp.WaitVisible(chromedp.CSS(row)))
	cancelWait()
	elapsed := time.Since(started)
	require.NoError(t, err, "the tap did not appear within 2 s")
	t.Logf("live tap shown %v after the door published it", elapsed.Round(time.Millisecond))
	assert.Less(t, elapsed, 2*time.Second)
	assert.Contains(t, text(row), protocol.DeniedNoBooking.Text(), "the reason in words")
	zone := time.Now().In(loc).Format("MST")
	assert.Contains(t, text(row+" td:first-child"), " "+zone, "the time in Gent's zone, labelled")
	others, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#live-events tr[data-door="d2"]').length`))
	require.NoError(t, err)
	assert.Zero(t, others, "Leuven's tap is not streamed to Gent's manager")
	shoot("03-live-manager.png")
	a11y("live")

	// Hours: the chart and the settlement, and the CSV download.
	do("hours page", chromedp.Navigate(n.base+"/hours"), chromedp.WaitVisible(chromedp.CSS("#hours-chart")))
	assert.NotContains(t, text("main"), "Leuven")
	shoot("04-hours-manager.png")
	a11y("hours")
	progress := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadProgress)
	yes := true
	_, err = chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes})
	require.NoError(t, err)
	do("download the settlement", chromedp.Click(chromedp.CSS("#settlement-csv")))
	var file string
	for ev, err := range progress {
		require.NoError(t, err)
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			file = filepath.Join(downloads, ev.GUID)
			break
		}
		require.NotEqual(t, cdpbrowser.DownloadProgressStateCanceled, ev.State, "download canceled")
	}
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	assert.Equal(t, credit.SettlementCSVHeader, rows[0])
	period := credit.PeriodOf(now, loc).String()
	var centers []string
	for _, r := range rows[1:] {
		assert.Equal(t, period, r[0])
		if r[2] == "credit" || r[2] == "total" {
			centers = append(centers, r[3])
		}
	}
	assert.ElementsMatch(t, []string{"c1", "c1", "c1"}, centers, "Gent's lines only: %s", raw)

	// Another center's door page is answered as a missing door's.
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(n.base+"/doors/d2"))
	require.NoError(t, err)
	assert.EqualValues(t, 404, res.Status)
	assert.Contains(t, text("#error-message"), "not found: door d2")
	assert.NotContains(t, text("main"), "Leuven front")
	shoot("05-door-of-another-center-refused.png")
	a11y("error")
	do("own door page", chromedp.Navigate(n.base+"/doors/d1"), chromedp.WaitVisible(chromedp.CSS("#door-state")))
	assert.Equal(t, "online", text("#door-state"))
	shoot("06-door-manager.png")
	a11y("door")
	do("member lookup", chromedp.Navigate(n.base+"/members?q=ann"), chromedp.WaitVisible(chromedp.CSS("#member-results")))
	assert.Contains(t, text("#member-results"), "Ann Gent")
	a11y("members")
	do("member page", chromedp.Click(chromedp.CSS(`#member-results a[href="/members/m1"]`)), chromedp.WaitVisible(chromedp.CSS("#badges")))
	assert.Contains(t, text("#badges"), "04D1D2D3")
	shoot("07-member-manager.png")
	a11y("member")

	// At phone width: nothing is wider than the screen.
	do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(n.base+"/"), chromedp.WaitVisible(chromedp.CSS("#summary")))
	fits := func(page string) {
		t.Helper()
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		assert.LessOrEqual(t, w, 390, "%s scrolls sideways at 390 px", page)
	}
	fits("overview")
	shoot("08-overview-390px.png")
	a11y("overview-390px")
	// The navigation is one "Menu" button on a phone; it opens the links.
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector(".nav-wide")).display === "none"`))
	require.NoError(t, err)
	assert.True(t, hidden, "the wide navigation is collapsed at 390 px")
	do("open the menu", chromedp.Click(chromedp.CSS(".nav-narrow summary")), chromedp.WaitVisible(chromedp.CSS(`.nav-narrow a[href="/hours"]`)))
	fits("menu")
	shoot("08a-menu-open-390px.png")
	for _, p := range []struct{ name, path, wait, shot string }{
		{"live", "/live", "#live-events", "09-live-390px.png"},
		{"hours", "/hours", "#hours-chart", "10-hours-390px.png"},
		{"door", "/doors/d1", "#door-state", "10a-door-manager-390px.png"},
		{"members", "/members?q=ann", "#member-results", "10b-members-390px.png"},
		{"member", "/members/m1", "#badges", "10c-member-390px.png"},
		{"error", "/doors/d2", "#error-message", "10d-error-390px.png"},
	} {
		do(p.name+" at 390", chromedp.Navigate(n.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		fits(p.name)
		shoot(p.shot)
		a11y(p.name + "-390px")
	}

	// The language switch: French, then Dutch, kept from page to page (a
	// cookie and the session), then back to English.
	lang := func() string {
		t.Helper()
		l, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
		require.NoError(t, err)
		return l
	}
	do("overview at 390", chromedp.Navigate(n.base+"/"), chromedp.WaitVisible(chromedp.CSS("#summary")))
	do("to French", chromedp.Click(chromedp.CSS("#lang-fr-BE")), chromedp.WaitVisible(chromedp.CSS(`#lang-fr-BE[aria-current="true"]`)))
	assert.Equal(t, "fr-BE", lang())
	assert.Equal(t, "Votre centre", text("h1"))
	assert.Contains(t, text("#summary"), "1 porte")
	fits("overview in French")
	shoot("14-overview-fr-390px.png")
	a11y("overview-fr")
	do("live in French", chromedp.Navigate(n.base+"/live"), chromedp.WaitVisible(chromedp.CSS("#live-events")),
		void(chromedp.Poll[bool](`document.getElementById("live-status").textContent === "en direct"`, chromedp.WithPollingTimeout(10*time.Second))))
	assert.Equal(t, "fr-BE", lang())
	assert.Contains(t, text("#live-events"), "refusé : ni réservation ni abonnement ici")
	assert.Contains(t, text("#live-events tr:first-child td:first-child"), " "+zone, "the time in Gent's zone, labelled")
	frMonths := []string{"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."}
	assert.Contains(t, text("#live-events tr:first-child td:first-child"), frMonths[time.Now().In(loc).Month()-1], "a French date")
	fits("live in French")
	shoot("15-live-fr-390px.png")
	do("to Dutch", chromedp.Click(chromedp.CSS("#lang-nl-BE")), chromedp.WaitVisible(chromedp.CSS(`#lang-nl-BE[aria-current="true"]`)))
	assert.Equal(t, "nl-BE", lang())
	assert.Equal(t, "Live gebeurtenissen", text("h1"))
	do("member in Dutch", chromedp.Navigate(n.base+"/members/m1"), chromedp.WaitVisible(chromedp.CSS("#badges")))
	assert.Contains(t, text("main"), "Lokaal lid van c1")
	fits("member in Dutch")
	shoot("16-member-nl-390px.png")
	a11y("member-nl")
	do("to English", chromedp.Click(chromedp.CSS("#lang-en")), chromedp.WaitVisible(chromedp.CSS(`#lang-en[aria-current="true"]`)))
	assert.Equal(t, "en", lang())

	// A technician at the door, on a phone: unlock for 5 s.
	do("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#email")))
	fits("login")
	shoot("10e-login-390px.png")
	a11y("login-390px")
	login("tech1")
	do("door page", chromedp.Navigate(n.base+"/doors/d1"), chromedp.WaitVisible(chromedp.CSS("#cmd-unlock")))
	fits("door")
	shoot("11-door-technician-390px.png")
	before := len(n.doors["d1"].commands())
	do("unlock", chromedp.Click(chromedp.CSS("#cmd-unlock")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	assert.Contains(t, text("#flash"), "Sent unlock for 5 s")
	require.Eventually(t, func() bool { return len(n.doors["d1"].commands()) == before+1 }, 5*time.Second, 10*time.Millisecond)
	cmd, err := protocol.NewKeyRing(n.srv.Signer.PublicKey()).OpenCommand(n.doors["d1"].commands()[before], "d1", time.Now())
	require.NoError(t, err)
	assert.Equal(t, 5, cmd.Seconds)
	shoot("12-door-command-sent-390px.png")

	// The cooperative's view of the whole network.
	do("desktop", chromedp.EmulateViewport(1280, 900))
	do("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#email")))
	login("admin")
	main = text("main")
	assert.Contains(t, main, "Gent front")
	assert.Contains(t, main, "Leuven front")
	shoot("13-overview-admin.png")

	for _, f := range []string{"01-login.png", "02-overview-manager.png", "03-live-manager.png", "04-hours-manager.png",
		"05-door-of-another-center-refused.png", "06-door-manager.png", "07-member-manager.png", "08-overview-390px.png", "09-live-390px.png",
		"10-hours-390px.png", "11-door-technician-390px.png", "12-door-command-sent-390px.png", "13-overview-admin.png",
		"08a-menu-open-390px.png", "10a-door-manager-390px.png", "10b-members-390px.png", "10c-member-390px.png", "10d-error-390px.png",
		"10e-login-390px.png", "14-overview-fr-390px.png", "15-live-fr-390px.png", "16-member-nl-390px.png"} {
		fi, err := os.Stat(filepath.Join(shots, f))
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the browser test ran out of time")
	}
}
