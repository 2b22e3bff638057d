package web_test

import (
	"context"
	"os"
	"testing"
	"time"

	cdpnetwork "github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/web/webtest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestSiteBrowser drives headless Chromium through the booking site as
// Nora (a member's session made in the store, its cookie set through the
// DevTools protocol): she searches Tuesday 9–17 across the network, books
// a desk at Gent, books Leuven every Tuesday for 4 weeks (one of them
// full: reported with its reason), cancels a date range, looks at her
// hours and her refused taps, makes her calendar feed, and switches the
// language to French, Dutch and back to English. At desktop width and at
// 390 px, every page passes axe-core (no serious or critical violation)
// and, at 390 px, nothing is wider than the screen. Screenshots go to
// testout/screenshots (site-*.png).
func TestSiteBrowser(t *testing.T) {
	webtest.NeedChromium(t)
	n := startNetwork(t)
	ctx0 := audit.WithSystem(context.Background(), "test")
	st := n.srv.Store
	require.NoError(t, st.Places().PutDeskPool(ctx0, domain.DeskPool{CenterID: "c1", Capacity: 3}))
	require.NoError(t, st.Places().PutDeskPool(ctx0, domain.DeskPool{CenterID: "c2", Capacity: 1}))
	require.NoError(t, st.CreateRoom(ctx0, domain.Room{ID: "r1", CenterID: "c1", Name: "Blue room", Capacity: 6, Equipment: []string{"screen"}}))
	day := tuesday()
	// Bert holds Leuven's only desk on the third Tuesday.
	_, err := n.srv.Booking.Book(ctx0, booking.Request{MemberID: "m2", CenterID: "c2", Start: day.AddDate(0, 0, 14).Add(8 * time.Hour), End: day.AddDate(0, 0, 14).Add(18 * time.Hour)})
	require.NoError(t, err)
	// Nora's visits this month and a refused tap at Gent today.
	loc := day.Location()
	now := time.Now().In(loc)
	seq := uint64(0)
	var taps []protocol.Event
	for d := 1; d < now.Day(); d++ {
		seq++
		taps = append(taps, tap(seq, time.Date(now.Year(), now.Month(), d, 10, 0, 0, 0, loc), "04A1B2C3", "n1", protocol.GrantedPass))
	}
	seq++
	taps = append(taps, tap(seq, todaysMinutes(t, loc, 1)(1), "04A1B2C3", "n1", protocol.DeniedOutsideWindow))
	n.doors["d1"].events(t, taps...)
	cookie, _ := memberSession(t, st, "n1")

	b := webtest.StartBrowser(t, 2*time.Minute)
	ctx := b.Ctx
	do, text, a11y := b.Do, b.Text, b.A11y

	var shotFiles []string
	shoot := func(name string) { shotFiles = append(shotFiles, b.Shoot(name)) }
	phone := false
	fits := func(page string) {
		t.Helper()
		if !phone {
			return
		}
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		assert.LessOrEqual(t, w, 390, "%s scrolls sideways at 390 px", page)
	}
	page := func(name, shot string) {
		t.Helper()
		fits(name)
		shoot(shot)
		a11y(name)
	}

	do("blank", chromedp.Navigate("about:blank"))
	yes := true
	_, err = chromedp.Call(ctx, cdpnetwork.SetCookie, cdpnetwork.SetCookieParams{Name: "swc_session", Value: cookie, URL: n.base + "/", HTTPOnly: &yes})
	require.NoError(t, err)

	run := func(width string, first time.Time) {
		suffix := width
		// Home and search: Tuesday 9–17 across the network.
		do("home", chromedp.Navigate(n.base+"/my/"), chromedp.WaitVisible(chromedp.CSS("#quick")))
		assert.Contains(t, text("h1"), "Nora Nomad")
		page("home-"+width, "site-01-home-"+suffix+".png")
		do("search",
			chromedp.SetValue(chromedp.CSS(`main form[action="/my/find"] input[name="date"]`), ymd(first)),
			chromedp.Click(chromedp.CSS(`main form[action="/my/find"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#results")))
		res := text("#results")
		assert.Contains(t, res, "Gent")
		assert.Contains(t, res, "Leuven")
		assert.Contains(t, res, "Blue room")
		assert.Contains(t, res, "09:00–17:00 CE", "times in the center's zone, labelled")
		page("find-"+width, "site-02-find-"+suffix+".png")

		// Book a desk at Gent.
		do("book form", chromedp.Click(chromedp.CSS(`li[data-center="c1"] p > a.button`)), chromedp.WaitVisible(chromedp.CSS("#book-form")))
		page("book-"+width, "site-03-book-"+suffix+".png")
		do("book", chromedp.Click(chromedp.CSS(`#book-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#flash")))
		assert.Contains(t, text("#flash"), "Booked: Gent")
		assert.Contains(t, text("#bookings"), "Gent")
		page("booked-"+width, "site-04-booked-"+suffix+".png")

		// Leuven every Tuesday for 4 weeks: the third is full.
		do("week", chromedp.Navigate(n.base+"/my/centers/c2/week?date="+ymd(first)), chromedp.WaitVisible(chromedp.CSS("#week")))
		page("week-"+width, "site-05-week-"+suffix+".png")
		do("find Leuven", chromedp.Navigate(n.base+"/my/find?center=c2&from=09:00&to=17:00&date="+ymd(first)), chromedp.WaitVisible(chromedp.CSS("#results")))
		do("recurring",
			chromedp.Click(chromedp.CSS(`li[data-center="c2"] p > a.button`)),
			chromedp.WaitVisible(chromedp.CSS("#book-form")),
			chromedp.SetValue(chromedp.CSS(`#book-form input[name="repeat"]`), "4"),
			chromedp.Click(chromedp.CSS(`#book-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#series-summary")))
		if first.Equal(day) {
			assert.Equal(t, "3 booked, 1 not possible.", text("#series-summary"))
			assert.Contains(t, text("#occurrences li.failed"), "Every desk is taken at some time then.")
		}
		page("series-"+width, "site-06-recurring-"+suffix+".png")

		// Holidays: cancel the first two weeks.
		do("range",
			chromedp.Navigate(n.base+"/my/"), chromedp.WaitVisible(chromedp.CSS("#range-form")),
			chromedp.SetValue(chromedp.CSS(`#range-form input[name="from"]`), ymd(first)),
			chromedp.SetValue(chromedp.CSS(`#range-form input[name="to"]`), ymd(first.AddDate(0, 0, 8))),
			chromedp.Click(chromedp.CSS(`#range-form button`)),
			chromedp.WaitVisible(chromedp.CSS("#range-summary")))
		assert.Contains(t, text("#range-summary"), "3 bookings cancelled", "Gent's desk and two Leuven Tuesdays")
		page("range-"+width, "site-07-cancel-range-"+suffix+".png")

		// Hours and refused taps.
		do("hours", chromedp.Navigate(n.base+"/my/hours"), chromedp.WaitVisible(chromedp.CSS("#statement-hours")))
		if now.Day() > 1 {
			assert.Contains(t, text("#visits"), "Gent")
		}
		page("hours-"+width, "site-08-hours-"+suffix+".png")
		do("denials", chromedp.Navigate(n.base+"/my/denials"), chromedp.WaitVisible(chromedp.CSS("#denials")))
		assert.Contains(t, text("#denials"), protocol.DeniedOutsideWindow.Text())
		assert.Contains(t, text("#denials"), "Gent front")
		page("denials-"+width, "site-09-denials-"+suffix+".png")

		// The calendar feed.
		do("calendar", chromedp.Navigate(n.base+"/my/calendar"), chromedp.WaitVisible(chromedp.CSS("#feed-reset")),
			chromedp.Click(chromedp.CSS("#feed-reset button")), chromedp.WaitVisible(chromedp.CSS("#feed-url")))
		page("calendar-"+width, "site-10-calendar-"+suffix+".png")
	}
	run("desktop", day)

	phone = true
	do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	run("390px", day.AddDate(0, 0, 28))
	// The menu on a phone.
	do("menu", chromedp.Navigate(n.base+"/my/"), chromedp.Click(chromedp.CSS(".nav-narrow summary")),
		chromedp.WaitVisible(chromedp.CSS(`.nav-narrow a[href="/my/hours"]`)))
	page("menu-390px", "site-11-menu-390px.png")

	// The language switch, on the search page.
	lang := func() string {
		t.Helper()
		l, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
		require.NoError(t, err)
		return l
	}
	do("find", chromedp.Navigate(n.base+"/my/find?date="+ymd(day)), chromedp.WaitVisible(chromedp.CSS("#results")))
	for _, l := range []struct{ tag, h1, results string }{
		{"fr-BE", "Où puis-je travailler ?", "bureaux libres"},
		{"nl-BE", "Waar kan ik werken?", "werkplekken vrij"},
		{"en", "Where can I work?", "desks free"},
	} {
		do("to "+l.tag, chromedp.Click(chromedp.CSS("#lang-"+l.tag)), chromedp.WaitVisible(chromedp.CSS(`#lang-`+l.tag+`[aria-current="true"]`)))
		assert.Equal(t, l.tag, lang())
		assert.Equal(t, l.h1, text("h1"))
		assert.Contains(t, text("#results"), l.results)
		page("find-"+l.tag, "site-12-find-"+l.tag+"-390px.png")
	}
	do("hours in Dutch", chromedp.Click(chromedp.CSS("#lang-nl-BE")), chromedp.WaitVisible(chromedp.CSS(`#lang-nl-BE[aria-current="true"]`)),
		chromedp.Navigate(n.base+"/my/hours"), chromedp.WaitVisible(chromedp.CSS("#statement-hours")))
	assert.Equal(t, "Mijn bezoeken en uren", text("h1"))
	page("hours-nl", "site-13-hours-nl-390px.png")

	// Keyboard: the skip link takes the first Tab, then the brand.
	do("tab", chromedp.Navigate(n.base+"/my/"), chromedp.WaitVisible(chromedp.CSS("#quick")), chromedp.KeyEvent("\t"))
	focus, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className + "|" + getComputedStyle(document.activeElement).outlineStyle`))
	require.NoError(t, err)
	assert.Equal(t, "skip|solid", focus)

	for _, f := range shotFiles {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
	require.NoError(t, ctx.Err(), "the browser test ran out of time")
}
