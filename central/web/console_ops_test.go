package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// brussels is the network's time zone (the centers' too).
func brussels(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	return loc
}

// monthDay is 10:00 on the 2nd of the month `back` months before this
// one, in Brussels (inside the centers' opening hours).
func monthDay(t *testing.T, back int) time.Time {
	p := credit.PeriodOf(time.Now(), brussels(t))
	for range back {
		p = p.Prev()
	}
	return time.Date(p.Year, p.Month, 2, 10, 0, 0, 0, brussels(t))
}

// TestOpsAuthorization: who opens which console-ops page. A manager opens
// their center's only (another center named in a query: 403; another
// center's object: 404, as a missing one); a technician the alerts, their
// doors and their own audit rows, nothing of events, settings,
// settlements or webhooks.
func TestOpsAuthorization(t *testing.T) {
	n := startNetwork(t)
	var hook struct{ ID string }
	require.NoError(t, json.Unmarshal(n.api("POST", "/webhooks", map[string]any{"center": "c2", "url": "https://hooks.example/x"}), &hook))
	prev := credit.PeriodOf(time.Now(), brussels(t)).Prev().String()
	browsers := map[string]*browser{"admin": n.login("admin"), "mgr1": n.login("mgr1"), "tech1": n.login("tech1")}

	gets := []struct {
		path               string
		admin, mgr1, tech1 int
	}{
		{"/events", 200, 200, 403},
		{"/events.csv", 200, 200, 403},
		{"/settings", 200, 200, 403},
		{"/settlements", 200, 200, 403},
		{"/settlements/" + prev + "/export?format=csv", 200, 200, 403},
		{"/settlements/" + prev + "/export?format=json", 200, 200, 403},
		{"/alerts", 200, 200, 200},
		{"/webhooks", 200, 200, 403},
		{"/webhooks/" + hook.ID, 200, 404, 403},
		{"/audit", 200, 200, 200},
		{"/audit.csv", 200, 200, 200},
		{"/doors/d1", 200, 200, 200},
		{"/doors/d2", 200, 404, 404},
		{"/events?center=c2", 200, 403, 403},
		{"/events?door=d2", 200, 404, 403},
		{"/events.csv?door=d2", 200, 404, 403},
		{"/alerts?center=c2", 200, 403, 403},
		{"/audit?center=c2", 200, 403, 403},
		{"/audit.csv?center=c2", 200, 403, 403},
		{"/settlements?center=c2", 200, 403, 403},
		{"/settlements/" + prev + "/export?format=csv&center=c2", 200, 403, 403},
		{"/webhooks/nosuchhook", 404, 404, 403},
	}
	for _, g := range gets {
		for who, want := range map[string]int{"admin": g.admin, "mgr1": g.mgr1, "tech1": g.tech1} {
			code, body := browsers[who].get(g.path)
			assert.Equal(t, want, code, "%s GET %s: %.300s", who, g.path, body)
		}
	}
	posts := []struct {
		path               string
		form               url.Values
		admin, mgr1, tech1 int
	}{
		{"/settings", url.Values{"grace_minutes": {"x"}}, 400, 403, 403},
		{"/settlements/" + prev + "/close", url.Values{"periods": {"nonsense"}}, 303, 403, 403},
		{"/webhooks", url.Values{"center": {"c2"}, "url": {"https://hooks.example/y"}}, 201, 404, 403},
		{"/webhooks/" + hook.ID, url.Values{"url": {"https://hooks.example/z"}}, 200, 404, 403},
		{"/webhooks/" + hook.ID + "/secret", nil, 200, 404, 403},
		{"/settlements/" + prev + "/approve", nil, 303, 403, 403},
	}
	for _, p := range posts {
		for who, want := range map[string]int{"admin": p.admin, "mgr1": p.mgr1, "tech1": p.tech1} {
			b := browsers[who]
			form := url.Values{"csrf": {b.csrf}}
			for k, v := range p.form {
				form[k] = v
			}
			code, body, _ := b.post(p.path, form)
			assert.Equal(t, want, code, "%s POST %s: %.300s", who, p.path, body)
		}
	}
	_, body := browsers["mgr1"].get("/webhooks")
	assert.NotContains(t, body, hook.ID, "another center's endpoint is not listed")

	// A new endpoint's secret is shown once, on the answer page only.
	adm := browsers["admin"]
	code, body, _ := adm.post("/webhooks", url.Values{"csrf": {adm.csrf}, "center": {"c1"}, "url": {"https://hooks.example/c1"},
		"kinds": {"door_offline", "door_forced"}})
	require.Equal(t, http.StatusCreated, code, body)
	secret := regexp.MustCompile(`id="webhook-secret" class="secret">([0-9a-f]{64})<`).FindStringSubmatch(body)
	require.NotNil(t, secret, body)
	_, body = adm.get("/webhooks")
	assert.NotContains(t, body, secret[1])
	assert.Contains(t, body, "https://hooks.example/c1")
	for _, bad := range []url.Values{{"url": {"ftp://x"}}, {"url": {"https://x"}, "kinds": {"nonsense"}}} {
		bad.Set("csrf", adm.csrf)
		code, body, _ = adm.post("/webhooks", bad)
		assert.Equal(t, http.StatusBadRequest, code, body)
		assert.Contains(t, body, `id="problem"`)
	}
	_, body = browsers["tech1"].get("/")
	assert.NotContains(t, body, `href="/settlements"`, "no navigation to what the role cannot open")
	for who, want := range map[string]int{"tech1": 403, "mgr1": 404} {
		b := browsers[who]
		code, body, _ := b.post("/webhooks/"+hook.ID+"/delete", url.Values{"csrf": {b.csrf}})
		assert.Equal(t, want, code, "%s deletes another center's endpoint: %.300s", who, body)
	}
	_, err := n.srv.Store.Health().Webhook(context.Background(), hook.ID)
	require.NoError(t, err, "the endpoint is still there")
	assert.Contains(t, body, `href="/alerts"`)
}

// TestOpsWebhookChanges: an endpoint's URL and kinds are changed in the
// console (an internal address refused, as by the API), its secret
// replaced and shown once, and the endpoint deleted; each change is in the
// audit log.
func TestOpsWebhookChanges(t *testing.T) {
	n := startNetwork(t)
	ctx := context.Background()
	mgr := n.login("mgr1")
	code, body, _ := mgr.post("/webhooks", url.Values{"csrf": {mgr.csrf}, "center": {"c1"}, "url": {"http://10.0.0.5/hook"}})
	require.Equal(t, http.StatusBadRequest, code, "an internal address is refused: %.300s", body)
	assert.Contains(t, body, "a webhook goes to a public https:// address")
	code, body, _ = mgr.post("/webhooks", url.Values{"csrf": {mgr.csrf}, "center": {"c1"}, "url": {"https://hooks.example/a"}})
	require.Equal(t, http.StatusCreated, code, body)
	first := regexp.MustCompile(`id="webhook-secret" class="secret">([0-9a-f]{64})<`).FindStringSubmatch(body)
	require.NotNil(t, first, body)
	hooks, err := n.srv.Store.Health().ListWebhooks(ctx, []string{"c1"}, store.PageRequest{Limit: 10})
	require.NoError(t, err)
	require.Len(t, hooks.Items, 1)
	id := hooks.Items[0].ID

	code, body, _ = mgr.post("/webhooks/"+id, url.Values{"csrf": {mgr.csrf}, "url": {"https://127.0.0.1/x"}})
	assert.Equal(t, http.StatusBadRequest, code, body)
	assert.Contains(t, body, `id="problem"`)
	code, body, _ = mgr.post("/webhooks/"+id, url.Values{"csrf": {mgr.csrf}, "url": {"https://hooks.example/b"}, "kinds": {"door_forced", "reader_fault"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "Endpoint saved.")
	got, err := n.srv.Store.Health().Webhook(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "https://hooks.example/b", got.URL)
	assert.Equal(t, []store.AlertKind{store.AlertForced, store.AlertReaderFault}, got.Kinds)
	assert.Equal(t, first[1], got.Secret, "a change of URL keeps the secret")

	code, body, _ = mgr.post("/webhooks/"+id+"/secret", url.Values{"csrf": {mgr.csrf}})
	require.Equal(t, http.StatusOK, code, body)
	second := regexp.MustCompile(`id="webhook-secret" class="secret">([0-9a-f]{64})<`).FindStringSubmatch(body)
	require.NotNil(t, second, body)
	assert.NotEqual(t, first[1], second[1])
	got, err = n.srv.Store.Health().Webhook(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, second[1], got.Secret, "deliveries are signed with the new secret")
	_, body = mgr.get("/webhooks/" + id)
	assert.NotContains(t, body, second[1], "the secret is shown once")

	code, body, _ = mgr.post("/webhooks/"+id+"/delete", url.Values{"csrf": {mgr.csrf}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "deleted")
	_, err = n.srv.Store.Health().Webhook(ctx, id)
	assert.ErrorIs(t, err, store.ErrNotFound)

	pg, err := n.srv.Store.ListAudit(ctx, store.AuditFilter{ObjectKind: "webhook", ObjectID: id})
	require.NoError(t, err)
	var actions []string
	for _, e := range pg.Items {
		actions = append(actions, string(e.Action))
		assert.NotContains(t, string(e.Before)+string(e.After), first[1], "no secret in the audit log")
		assert.NotContains(t, string(e.Before)+string(e.After), second[1], "no secret in the audit log")
	}
	assert.ElementsMatch(t, []string{"create", "update", "update", "delete"}, actions)
}

// TestOpsEventSearch: events by door, badge and reason, a page at a time,
// late events marked (and selected alone), a manager's search within their
// center, and the CSV of the same search.
func TestOpsEventSearch(t *testing.T) {
	n := startNetwork(t)
	now := time.Now()
	var evs []protocol.Event
	for i := range 55 {
		evs = append(evs, tap(uint64(i+1), now.Add(-time.Duration(60-i)*time.Second), "04A1B2C3", "n1", protocol.GrantedPass))
	}
	evs = append(evs, tap(56, now.Add(-2*time.Hour), "04D1D2D3", "m1", protocol.GrantedPass)) // kept while offline
	evs = append(evs, tap(57, now.Add(-time.Second), "04FFFFFF", "", protocol.DeniedUnknownBadge))
	evs = append(evs, tap(58, now.AddDate(0, 0, -10), "04A1B2C3", "n1", protocol.GrantedPass)) // before the default week
	n.doors["d1"].events(t, evs...)
	n.doors["d2"].events(t, tap(1, now.Add(-time.Second), "04E1E2E3", "m2", protocol.GrantedPass))
	loc := brussels(t)
	// The days from the oldest of the recent events (2 h ago, yesterday
	// when the test runs just after midnight) to today.
	days := "from=" + now.Add(-2*time.Hour).In(loc).Format("2006-01-02") + "&to=" + now.In(loc).Format("2006-01-02")
	mgr := n.login("mgr1")

	tests := []struct {
		name, query string
		rows        int
		has, hasNot []string
	}{
		{"late only", "late=1", 1, []string{`data-seq="56"`, "console.events.late", "late"}, []string{`data-seq="57"`}},
		{"badge", "badge=04ffffff", 1, []string{`data-seq="57"`}, nil},
		{"reason", "reason=denied_unknown_badge", 1, []string{`data-seq="57"`}, nil},
		{"member", "member=m1", 1, []string{`data-seq="56"`}, nil},
		{"first page", "door=d1&" + days, 50, []string{`id="next-page"`}, nil},
		{"own center only", "badge=04E1E2E3", 0, []string{`id="no-events"`}, []string{`data-door="d2"`}},
	}
	rowRE := regexp.MustCompile(`<tr class="[a-z]*" data-door=`)
	for _, tc := range tests {
		code, body := mgr.get("/events?" + tc.query)
		require.Equal(t, http.StatusOK, code, "%s: %.500s", tc.name, body)
		assert.Len(t, rowRE.FindAllString(body, -1), tc.rows, tc.name)
		for _, s := range tc.has {
			if s == "console.events.late" {
				continue // the key is shown as words
			}
			assert.Contains(t, body, s, tc.name)
		}
		for _, s := range tc.hasNot {
			assert.NotContains(t, body, s, tc.name)
		}
	}
	// The late mark is the only one on the page of late events.
	_, body := mgr.get("/events?late=1")
	assert.Equal(t, 1, strings.Count(body, `class="pill warn late"`))

	// The next page holds the rest of d1's events of those days.
	_, body = mgr.get("/events?door=d1&" + days)
	next := regexp.MustCompile(`id="next-page"`).FindStringIndex(body)
	require.NotNil(t, next)
	href := regexp.MustCompile(`<a href="([^"]+)" id="next-page">`).FindStringSubmatch(body)
	require.NotNil(t, href)
	code, body := mgr.get(strings.ReplaceAll(href[1], "&amp;", "&"))
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, rowRE.FindAllString(body, -1), 7)

	// Bad filters are refused naming the field.
	for q, field := range map[string]string{"badge=zz": "Badge", "from=yesterday": "From", "reason=nope": "Result", "door=a%20b": "Door"} {
		code, body := mgr.get("/events?" + q)
		assert.Equal(t, http.StatusBadRequest, code, q)
		assert.Contains(t, body, "“"+field+"”", q)
	}

	// CSV: the whole search, every page, the late column.
	code, csv := mgr.get("/events.csv?door=d1")
	require.Equal(t, http.StatusOK, code)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	require.Len(t, lines, 1+57)
	assert.Equal(t, "door_time,received,late,door,center,seq,kind,reason,badge,member,clock_trusted", lines[0])
	late := 0
	for _, l := range lines[1:] {
		if strings.Split(l, ",")[2] == "true" {
			late++
			assert.Contains(t, l, ",56,")
		}
	}
	assert.Equal(t, 1, late)
	code, csv = mgr.get("/events.csv?door=d1&from=" + now.In(loc).AddDate(0, 0, -11).Format("2006-01-02"))
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, strings.Split(strings.TrimSpace(csv), "\n"), 1+58, "an older range asked for")
}

// TestOpsSettingsAndSettlements: an admin closes the two oldest periods in
// one action (the page lists them first), changes the rate from the open
// period on (a refused value first, named in French), the open period's
// settlement follows and the closed ones keep theirs; a late event of a
// closed period shows as its adjustment; a manager reads their center's
// effective settings and cannot close; the audit log shows the changes.
func TestOpsSettingsAndSettlements(t *testing.T) {
	n := startNetwork(t)
	loc := brussels(t)
	d := n.doors["d1"]
	seq := uint64(0)
	visit := func(at time.Time) []protocol.Event { // 2 h of n1 at Gent
		seq += 2
		return []protocol.Event{tap(seq-1, at, "04A1B2C3", "n1", protocol.GrantedPass), tap(seq, at.Add(2*time.Hour), "04A1B2C3", "n1", protocol.GrantedPass)}
	}
	var evs []protocol.Event
	for back := 3; back >= 1; back-- {
		evs = append(evs, visit(monthDay(t, back))...)
	}
	d.events(t, evs...)
	m3, m2, m1 := credit.PeriodOf(monthDay(t, 3), loc), credit.PeriodOf(monthDay(t, 2), loc), credit.PeriodOf(monthDay(t, 1), loc)
	admin := n.login("admin")

	// The close of m2 lists m3 and m2, and closes both in one action.
	code, body := admin.get("/settlements?period=" + m2.String())
	require.Equal(t, http.StatusOK, code, body)
	list := regexp.MustCompile(`(?s)<ul id="close-list">(.*?)</ul>`).FindStringSubmatch(body)
	require.NotNil(t, list, body)
	assert.Equal(t, "<li>"+m3.String()+"</li><li>"+m2.String()+"</li>", list[1])
	periods := regexp.MustCompile(`name="periods" value="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, periods)
	code, _, hdr := admin.post("/settlements/"+m2.String()+"/close", url.Values{"csrf": {admin.csrf}, "periods": {periods[1]}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = admin.get(hdr.Get("Location"))
	assert.Contains(t, body, "2 periods closed: "+m3.String()+", "+m2.String())
	assert.Contains(t, body, `id="period-state">closed`)
	for _, p := range []credit.Period{m3, m2} {
		var s credit.Settlement
		require.NoError(t, json.Unmarshal(n.api("GET", "/settlements/"+p.String(), nil), &s))
		assert.True(t, s.Closed, "%s", p)
	}
	// An admin approves the closed m2 once: who and when are shown.
	code, _, hdr = admin.post("/settlements/"+m2.String()+"/approve", url.Values{"csrf": {admin.csrf}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = admin.get(hdr.Get("Location"))
	assert.Contains(t, body, "The settlement of "+m2.String()+" is approved.")
	assert.Regexp(t, `id="approved">Approved by first admin \(created by serve\) on [^:]+:\d\d [A-Z]+: €\d+\.\d\d\.`, body)
	assert.NotContains(t, body, `id="approve"`)
	admin.post("/settlements/"+m2.String()+"/approve", url.Values{"csrf": {admin.csrf}})
	_, body = admin.get("/settlements?period=" + m2.String())
	assert.Contains(t, body, "That settlement was approved already.")
	admin.post("/settlements/"+m1.String()+"/approve", url.Values{"csrf": {admin.csrf}})
	_, body = admin.get("/settlements?period=" + m1.String())
	assert.Contains(t, body, "Only a closed period is approved")

	// Closing again with the old list: nothing closed, the page says why.
	code, _, hdr = admin.post("/settlements/"+m2.String()+"/close", url.Values{"csrf": {admin.csrf}, "periods": {periods[1]}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = admin.get(hdr.Get("Location"))
	assert.Contains(t, body, "already closed")

	rateOf := func(p credit.Period) string {
		_, body := admin.get("/settlements?period=" + p.String() + "&center=c1")
		m := regexp.MustCompile(`(?s)data-center="c1">.*?class="num rate">([^<]+)<`).FindStringSubmatch(body)
		require.NotNil(t, m, body)
		return m[1]
	}
	before := rateOf(m2)
	assert.Equal(t, before, rateOf(m1))

	// A refused value, named in French.
	fr := n.login("admin")
	fr.get("/lang/fr-BE?next=/settings")
	form := func(b *browser, grace string) url.Values {
		return url.Values{"csrf": {b.csrf}, "effective_from": {m1.String()}, "default_rate_cents": {"4,00"}, "currency": {"EUR"},
			"no_show": {"zero"}, "grace_minutes": {grace}, "default_visit_minutes": {"240"}, "whitelist_horizon_days": {"14"},
			"alerts.door_offline_minutes": {"10"}, "alerts.held_open_seconds": {"60"}, "alerts.cert_expiry_days": {"14"},
			"alerts.whitelist_behind_minutes": {"10"}, "note": {"cheaper"}}
	}
	code, body, _ = fr.post("/settings", form(fr, "-5"))
	require.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "Marge avant une réservation (minutes) : indiquez un nombre entier de 0 à 1440.")
	assert.Contains(t, body, `aria-invalid="true"`)
	// A closed month is refused too.
	f := form(admin, "15")
	f.Set("effective_from", m2.String())
	code, body, _ = admin.post("/settings", f)
	require.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, m2.String()+" is closed and keeps its settings; choose "+m1.String()+" or later.")

	code, _, hdr = admin.post("/settings", form(admin, "15"))
	require.Equal(t, http.StatusSeeOther, code)
	_, body = admin.get(hdr.Get("Location"))
	assert.Regexp(t, `Version \d+ saved; it applies from `+m1.String(), body)
	require.Eventually(t, func() bool { return rateOf(m1) != before }, 10*time.Second, 50*time.Millisecond, "the open period follows the new rate")
	assert.Equal(t, "€4.00/h", rateOf(m1))
	assert.Equal(t, before, rateOf(m2), "a closed period keeps its rate")

	// A late visit of m3 arrives: m3 shows it as an adjustment booked later.
	d.events(t, visit(monthDay(t, 3).AddDate(0, 0, 1))...)
	require.Eventually(t, func() bool {
		_, body := admin.get("/settlements?period=" + m3.String())
		return strings.Contains(body, `id="later-adjustments"`) && !strings.Contains(body, "No adjustment so far")
	}, 10*time.Second, 50*time.Millisecond, "%s", n.api("GET", "/settlements/"+m1.String(), nil))

	// The manager reads their center's effective settings, without the form.
	mgr := n.login("mgr1")
	_, body = mgr.get("/settings")
	assert.NotContains(t, body, `id="settings-edit"`)
	assert.Contains(t, body, `id="settings-current"`)
	_, body = mgr.get("/settlements?period=" + m1.String())
	assert.NotContains(t, body, `id="close-period"`)
	assert.NotContains(t, body, `data-center="c2"`)

	// Exports: the manager's CSV holds Gent's lines only; the JSON is the frozen settlement.
	code, csvText := mgr.get("/settlements/" + m2.String() + "/export?format=csv")
	require.Equal(t, http.StatusOK, code)
	lines := strings.Split(strings.TrimSpace(csvText), "\n")
	assert.Equal(t, strings.Join(credit.SettlementCSVHeader, ","), lines[0])
	assert.NotContains(t, csvText, ",c2,")
	code, js := admin.get("/settlements/" + m2.String() + "/export?format=json")
	require.Equal(t, http.StatusOK, code)
	var frozen credit.Settlement
	require.NoError(t, json.Unmarshal([]byte(js), &frozen))
	assert.True(t, frozen.Closed)
	assert.Equal(t, "EUR", frozen.Currency)
	code, _ = admin.get("/settlements/" + m2.String() + "/export?format=xml")
	assert.Equal(t, http.StatusBadRequest, code)

	// The audit log has the closes and the settings version.
	_, body = admin.get("/audit?action=close")
	assert.Contains(t, body, "period "+m3.String())
	assert.Contains(t, body, "period "+m2.String())
	_, body = admin.get("/audit?action=approve")
	assert.Contains(t, body, "period "+m2.String())
	_, body = admin.get("/audit?object_kind=settings")
	assert.Contains(t, body, `data-action="create"`, body)
	_, body = mgr.get("/audit?action=close")
	assert.Contains(t, body, "period "+m2.String(), "a close concerns every center")
}

// TestOpsDoorHealth: the page of an offline door keeps its last known
// state, says for how long it has been offline, shows its open alert, warns
// before a command, and the command waits for the door.
func TestOpsDoorHealth(t *testing.T) {
	n := startNetwork(t)
	ctx := context.Background()
	hs := n.srv.Store.Health()
	since := time.Now().Add(-(2*time.Hour + 5*time.Minute))
	require.NoError(t, hs.SaveDoorHealth(ctx, store.DoorHealth{Door: "d1", State: store.DoorOffline, StatusTimeMs: since.UnixMilli(),
		Firmware: "swc-edge 1.4.2", WLVersion: 41, OutboxDepth: 7, ClockTrusted: true, Reader: "ok",
		LastSeenMs: since.UnixMilli(), OfflineSinceMs: since.UnixMilli(), UpdatedMs: since.UnixMilli()}))
	_, raised, err := hs.RaiseAlert(ctx, store.Alert{Door: "d1", Center: "c1", Kind: store.AlertOffline, RaisedMs: since.Add(10 * time.Minute).UnixMilli(),
		Details: map[string]string{}})
	require.NoError(t, err)
	require.True(t, raised)

	tech := n.login("tech1")
	code, body := tech.get("/doors/d1")
	require.Equal(t, http.StatusOK, code, body)
	for _, want := range []string{"swc-edge 1.4.2", "7 events waiting", "v41", "offline for 2 h 5 min", `id="door-alerts"`, "door offline",
		`id="offline-warning"`, "waits until the door is back"} {
		assert.Contains(t, body, want)
	}
	code, _, hdr := tech.post("/doors/d1/commands", url.Values{"csrf": {tech.csrf}, "action": {"relock"}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = tech.get(hdr.Get("Location"))
	assert.Contains(t, body, "The door is not online: the command waits until it is back")
	assert.Contains(t, body, `class="pill cmd-queued_until_online"`)

	_, body = tech.get("/alerts")
	assert.Contains(t, body, "door offline")
	assert.Contains(t, body, `href="/doors/d1"`)
	_, body = n.login("mgr2").get("/alerts")
	assert.Contains(t, body, `id="no-alerts"`, "another center's alert is not shown")

	// The technician's own command is in their audit rows (made as their
	// staff account), the admin's changes are not.
	_, body = tech.get("/audit")
	assert.Contains(t, body, `id="audit-log"`)
	assert.Contains(t, body, "staff_account · technician")
	assert.Contains(t, body, "tech1")
	assert.NotContains(t, body, "member n1")
}
