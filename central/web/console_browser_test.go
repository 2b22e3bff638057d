package web_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/webtest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestConsoleBrowser drives headless Chromium through the console as the
// manager of Gent, at desktop width and at 390 px: they create a member,
// assign them a badge in learn mode at Gent's door (the door reports the
// unknown badge as a real door does, over MQTT) — the whitelist the
// central publishes to the door then grants it — and suspend them, after
// which it no longer does. Then
// every console screen is checked at 390 px: nothing wider than the
// screen, no serious or critical axe-core violation. Screenshots go to
// testout/screenshots/console-*.png.
func TestConsoleBrowser(t *testing.T) {
	webtest.NeedChromium(t)
	n := startNetwork(t)
	n.api("POST", "/rooms", map[string]any{"id": "r1", "center_id": "c1", "name": "Gent meeting room", "capacity": 8, "equipment": []string{"screen"}})
	n.api("PUT", "/centers/c1/desks", map[string]any{"center_id": "c1", "capacity": 12})
	b := webtest.StartBrowser(t, 2*time.Minute)
	ctx := b.Ctx
	do, text, a11y := b.Do, b.Text, b.A11y

	var written []string
	shoot := func(name string) { written = append(written, b.Shoot(name)) }
	width := 1280
	fits := func(page string) {
		t.Helper()
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		assert.LessOrEqual(t, w, width, "%s scrolls sideways at %d px", page, width)
	}

	// The manager signs in with their staff account: e-mail, password,
	// then the code of their authenticator app.
	mgr := n.staffAccount("mgr1")
	b.StaffSignIn(n.base, mgr.email, staffPassword, func() string {
		code, err := accounts.TOTPCode(mgr.secret, time.Now())
		require.NoError(t, err)
		return code
	})

	seq := uint64(0)
	for _, run := range []struct {
		size, member, name string
		uid                protocol.UID
		width, height      int
	}{
		{"desktop", "m7", "Greet Gent", "04C0FFEE", 1280, 900},
		{"390px", "m8", "Hanne Gent", "04C0FFEF", 390, 844},
	} {
		width = run.width
		do("viewport "+run.size, chromedp.EmulateViewport(int64(run.width), int64(run.height), chromedp.EmulateScale(2)))
		// A new member.
		do("members", chromedp.Navigate(n.base+"/members"), chromedp.WaitVisible(chromedp.CSS("#member-new")))
		fits("members")
		shoot("console-01-members-" + run.size + ".png")
		a11y("members-" + run.size)
		do("new member form", chromedp.Click(chromedp.CSS("#member-new")), chromedp.WaitVisible(chromedp.CSS("#member-id")))
		fits("member form")
		shoot("console-02-member-new-" + run.size + ".png")
		a11y("member-form-" + run.size)
		do("create", chromedp.SendKeys(chromedp.CSS("#member-id"), run.member), chromedp.SendKeys(chromedp.CSS("#member-name"), run.name),
			chromedp.SendKeys(chromedp.CSS("#member-email"), run.member+"@example.org"), chromedp.Click(chromedp.CSS("#member-save")),
			chromedp.WaitVisible(chromedp.CSS("#member-learn")))
		assert.Contains(t, text("#flash"), "Member "+run.name+" created.")
		fits("member")
		shoot("console-03-member-created-" + run.size + ".png")
		a11y("member-" + run.size)

		from := time.Now().AddDate(0, 0, -1).UTC().Truncate(time.Hour)
		n.api("POST", "/passes", map[string]any{"id": "p-" + run.member, "member_id": run.member, "valid_from": from, "valid_until": from.AddDate(0, 1, 0)})

		// Learn mode at Gent's door: the door reports the unknown badge.
		do("learn mode", chromedp.Click(chromedp.CSS("#member-learn")), chromedp.WaitVisible(chromedp.CSS("#learn-go")))
		member, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#learn-member")))
		require.NoError(t, err)
		assert.Equal(t, run.member, member, "the member is filled in")
		fits("learn")
		shoot("console-04-learn-choose-" + run.size + ".png")
		a11y("learn-" + run.size)
		do("start", chromedp.Click(chromedp.CSS("#learn-go")), chromedp.WaitVisible(chromedp.CSS("#learn-wait")))
		assert.Contains(t, text("#learn-wait"), "Gent front")
		fits("learn waiting")
		shoot("console-05-learn-waiting-" + run.size + ".png")
		a11y("learn-waiting-" + run.size)
		seq++
		n.doors["d1"].events(t, protocol.Event{Seq: seq, TimeMs: time.Now().UnixMilli(), Trusted: true, Boot: "b", Kind: protocol.EventTap,
			UID: run.uid, Reason: protocol.DeniedUnknownBadge, WLVersion: 1})
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#assign-form")))
		cancel()
		require.NoError(t, err, "the page offers the badge the door reported")
		assert.Contains(t, text("#learn-uid"), string(run.uid))
		fits("learn found")
		shoot("console-06-learn-found-" + run.size + ".png")
		a11y("learn-found-" + run.size)
		do("assign", chromedp.Click(chromedp.CSS("#assign")), chromedp.WaitVisible(chromedp.CSS("#badges")))
		assert.Contains(t, text("#badges"), string(run.uid))
		assert.Contains(t, text("#flash"), fmt.Sprintf("Badge %s assigned to %s.", run.uid, run.member))
		b, err := n.srv.Store.Badge(context.Background(), run.uid)
		require.NoError(t, err)
		assert.Equal(t, domain.Badge{UID: run.uid, MemberID: run.member, AddedBy: store.StaffPrincipalPrefix + mgr.id}, b)
		require.Eventually(t, func() bool { return opens(n, "d1", run.uid) }, 5*time.Second, 10*time.Millisecond,
			"Gent's door lets the new badge in")

		// Suspend.
		do("suspend", chromedp.Click(chromedp.CSS("#member-suspend")), chromedp.WaitVisible(chromedp.CSS("#member-reinstate")))
		assert.Equal(t, "suspended", text("#member-status"))
		fits("member suspended")
		shoot("console-07-member-suspended-" + run.size + ".png")
		m, err := n.srv.Store.Member(context.Background(), run.member)
		require.NoError(t, err)
		assert.Equal(t, domain.MemberSuspended, m.Status)
		require.Eventually(t, func() bool { return !opens(n, "d1", run.uid) }, 5*time.Second, 10*time.Millisecond,
			"Gent's door no longer lets the suspended member in")
	}

	// Every other screen, at 390 px.
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	tomorrow := time.Now().In(loc).AddDate(0, 0, 1).Format(time.DateOnly)
	n.api("POST", "/members/m1/bookings", map[string]any{"center_id": "c1", "room_id": "r1",
		"start": tomorrow + "T09:00:00+01:00", "end": tomorrow + "T11:00:00+01:00"})
	n.doors["d1"].events(t, tap(seq+1, todaysMinutes(t, loc, 1)(1), "04D1D2D3", "m1", protocol.GrantedBooking)) // in now
	for _, p := range []struct{ name, path, wait string }{
		{"badges", "/badges", "#badge-list"},
		{"bookings-week", "/bookings?day=" + tomorrow, "#calendar"},
		{"bookings-day", "/bookings?view=day&day=" + tomorrow, "#calendar"},
		{"presence", "/presence", "#presence"},
		{"staff", "/staff", "#staff-form"},
		{"places", "/places", "#rules-form"},
	} {
		do(p.name, chromedp.Navigate(n.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		fits(p.name)
		shoot("console-08-" + p.name + "-390px.png")
		a11y(p.name + "-390px")
	}
	assert.Contains(t, text("#main"), "Gent meeting room")
	// In Dutch and French, whose words are longer, still nothing is cut off.
	for _, lang := range []string{"nl-BE", "fr-BE"} {
		do("to "+lang, chromedp.Navigate(n.base+"/lang/"+lang+"?next=/places"), chromedp.WaitVisible(chromedp.CSS("#rules-form")))
		for _, p := range []struct{ name, path, wait string }{
			{"places", "/places", "#rules-form"},
			{"bookings", "/bookings?day=" + tomorrow, "#calendar"},
			{"learn", "/badges/learn?member=m1", "#learn-go"},
			{"member", "/members/m1", "#member-learn"},
		} {
			do(p.name+" in "+lang, chromedp.Navigate(n.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
			fits(p.name + " in " + lang)
			shoot("console-10-" + p.name + "-" + lang + "-390px.png")
		}
	}
	do("to English", chromedp.Navigate(n.base+"/lang/en?next=/"), chromedp.WaitVisible(chromedp.CSS("#summary")))
	do("bookings", chromedp.Navigate(n.base+"/bookings?day="+tomorrow), chromedp.WaitVisible(chromedp.CSS("#calendar")))
	assert.Contains(t, text("#calendar"), "Ann Gent")
	do("desktop", chromedp.EmulateViewport(1280, 900))
	width = 1280
	do("bookings desktop", chromedp.Navigate(n.base+"/bookings?day="+tomorrow), chromedp.WaitVisible(chromedp.CSS("#calendar")))
	shoot("console-09-bookings-week-desktop.png")
	a11y("bookings-desktop")

	pg, err := n.srv.Store.ListAudit(context.Background(), store.AuditFilter{ActorKind: audit.KindStaffAccount, ActorID: mgr.id, ObjectKind: "member"})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(pg.Items), 4, "two creations and two suspensions by the manager are in the audit log")
	for _, f := range written {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
}
