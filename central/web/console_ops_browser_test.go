package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/settings"
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
	webtest.NeedChromium(t)
	relay := mailtest.Start(t, mailtest.Options{})
	var skew atomic.Int64 // the alerts engine's clock, moved past the offline threshold
	n := startNetworkWith(t, func(c *server.Config) {
		c.Mail = relay.Config("Smart Work Centers <noreply@swc.example>")
		c.Alerts = server.AlertsConfig{WebhookAllowInsecure: true, // a loopback http:// receiver
			Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}
	})
	hooks := &hookReceiver{}
	receiver := httptest.NewServer(hooks)
	t.Cleanup(receiver.Close)
	// Gent's front desk: staff of c1 with an e-mail address.
	n.api("POST", "/members", map[string]any{"id": "desk1", "name": "Gent desk", "email": "desk@gent.example", "home_center_id": "c1", "status": "active"})
	n.api("POST", "/staff", map[string]any{"member_id": "desk1", "center_id": "c1"})
	shots := webtest.ScreenshotDir(t)
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

	b := webtest.StartBrowser(t, 2*time.Minute)
	ctx := b.Ctx
	do, text := b.Do, b.Text
	var shotNames []string
	check := func(name string) { // axe, and a screenshot
		t.Helper()
		b.A11y(name)
		file := "ops-" + name + ".png"
		b.Shoot(file)
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

	// A webhook for Gent's door-offline alerts, to the test receiver: its
	// secret is shown once.
	do("webhooks", chromedp.Navigate(n.base+"/webhooks"), chromedp.WaitVisible(chromedp.CSS("#webhook-create")))
	check("06-webhooks")
	do("create webhook", chromedp.SetValue(chromedp.CSS("#wh-url"), receiver.URL+"/swc"),
		chromedp.SetValue(chromedp.CSS("#wh-center"), "c1"),
		chromedp.Click(chromedp.CSS(`input[name="kinds"][value="door_offline"]`)),
		chromedp.Click(chromedp.CSS("#webhook-create")), chromedp.WaitVisible(chromedp.CSS("#webhook-created")))
	secret := text("#webhook-secret")
	require.NotEmpty(t, secret)
	hookList, err := n.srv.Store.Health().ListWebhooks(ctx0, []string{"c1"}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, hookList.Items, 1)
	hookID := hookList.Items[0].ID
	check("07-webhook-created")

	// Door d1 reports its state over MQTT, then goes offline (the status
	// its broker will publishes); the alerts engine's clock passes the
	// stored offline threshold and its check raises the alert.
	d1 := n.doors["d1"]
	d1.publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "d1", State: protocol.StateOnline, TimeMs: time.Now().UnixMilli(),
		Boot: "boot1", Firmware: "swc-edge 1.4.2", WLVersion: 1, OutboxDepth: 12, ClockTrusted: true, DoorState: "locked", Reader: "ok"})
	healthIs := func(state string) {
		t.Helper()
		require.Eventually(t, func() bool {
			h, err := n.srv.Store.Health().DoorHealth(ctx0, "d1")
			return err == nil && h.State == state
		}, 10*time.Second, 20*time.Millisecond, "door d1 is %s", state)
	}
	healthIs(store.DoorOnline)
	d1.publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "d1", State: protocol.StateOffline})
	healthIs(store.DoorOffline)
	skew.Store(int64(settings.Defaults().Alerts.DoorOffline() + time.Minute))
	require.NoError(t, n.srv.Alerts.Check(ctx0))

	// The alert e-mail reaches Gent's staff address.
	var offlineMail *mailtest.Message
	require.Eventually(t, func() bool {
		for _, m := range relay.Messages() {
			if strings.Contains(m.Subject, "door offline") {
				offlineMail = &m
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the door-offline e-mail arrives")
	assert.Equal(t, []string{"desk@gent.example"}, offlineMail.To)
	assert.Equal(t, "[SWC] raised: door offline at door d1 (c1)", offlineMail.Subject)
	assert.Contains(t, offlineMail.Text, "offline_since")
	// The signed webhook reaches the receiver.
	var got hookRequest
	require.Eventually(t, func() bool {
		reqs := hooks.received()
		if len(reqs) == 0 {
			return false
		}
		got = reqs[0]
		return true
	}, 10*time.Second, 20*time.Millisecond, "the webhook arrives")
	assert.Equal(t, "/swc", got.path)
	require.NoError(t, alerts.Verify([]byte(secret), got.signature, got.body, got.at, 0), "the webhook is signed with the shown secret")
	assert.ErrorIs(t, alerts.Verify([]byte("another secret"), got.signature, got.body, got.at, 0), alerts.ErrBadSignature)
	var payload alerts.Payload
	require.NoError(t, json.Unmarshal(got.body, &payload))
	assert.Equal(t, "raised", payload.Event)
	assert.Equal(t, store.AlertOffline, payload.Alert.Kind)
	assert.Equal(t, "d1", payload.Alert.Door)
	assert.Equal(t, "c1", payload.Alert.Center)

	// The offline door's page: its last known state, its alert, the warning.
	do("door", chromedp.Navigate(n.base+"/doors/d1"), chromedp.WaitVisible(chromedp.CSS("#door-health")))
	assert.Regexp(t, `offline for \d+ min`, text("#offline-for"))
	assert.Contains(t, text("main"), "swc-edge 1.4.2", "the last known state")
	assert.Contains(t, text("main"), "12 events waiting")
	assert.Contains(t, text("#door-alerts"), "door offline")
	assert.Contains(t, text("#offline-warning"), "waits until the door is back")
	check("08-door-offline")
	do("alerts", chromedp.Navigate(n.base+"/alerts"), chromedp.WaitVisible(chromedp.CSS("#alert-list")))
	assert.Contains(t, text("#alert-list"), "door offline")
	check("09-alerts")
	// The webhook's delivery log shows the delivery.
	require.Eventually(t, func() bool {
		if chromedp.Do(ctx, chromedp.Navigate(n.base+"/webhooks/"+hookID), chromedp.WaitVisible(chromedp.CSS("h1"))) != nil {
			return false
		}
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		return err == nil && strings.Contains(s, "delivered (HTTP 200)")
	}, 10*time.Second, 100*time.Millisecond, "the delivery log shows the delivery")
	assert.Contains(t, text("#delivery-log"), payload.Alert.ID)
	check("10-webhook-deliveries")
	do("events", chromedp.Navigate(n.base+"/events?late=1"), chromedp.WaitVisible(chromedp.CSS("#event-results")))
	assert.Contains(t, text("#event-results"), "late")
	check("11-events-late")

	// The audit log shows the closes, the approval, the settings version
	// and the webhook's creation.
	do("audit", chromedp.Navigate(n.base+"/audit"), chromedp.WaitVisible(chromedp.CSS("#audit-log")))
	log := text("#audit-log")
	for _, want := range []string{"period " + m2.String(), "settings", "closed", "approved" /* in words */, "webhook " + hookID} {
		assert.Contains(t, log, want)
	}
	assert.Equal(t, 1, count(t, ctx, `#audit-log tr[data-action="create"][data-object="webhook/`+hookID+`"]`), "the webhook's creation")
	auditHTML, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#audit-log").innerHTML`))
	require.NoError(t, err)
	assert.NotContains(t, auditHTML, secret, "the audit log never shows the webhook's secret")
	assert.Contains(t, auditHTML, "[redacted]")
	check("12-audit")

	// At 390 px: nothing wider than the screen.
	do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	for _, p := range []struct{ name, path, wait string }{
		{"13-settlement-390px", "/settlements?period=" + m1.String(), "#settlement-centers"},
		{"14-settings-390px", "/settings", "#settings-edit"},
		{"15-door-offline-390px", "/doors/d1", "#door-health"},
		{"16-alerts-390px", "/alerts", "#alert-list"},
		{"17-events-390px", "/events", "#event-results"},
		{"18-webhooks-390px", "/webhooks", "#webhook-create"},
		{"19-webhook-deliveries-390px", "/webhooks/" + hookID, "main"},
		{"20-audit-390px", "/audit", "#audit-log"},
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

// hookRequest is a request the test webhook receiver got.
type hookRequest struct {
	path, signature string
	body            []byte
	at              time.Time
}

// hookReceiver is the test HTTP server's handler: it keeps every request
// (verified by the test once it knows the secret) and answers 200.
type hookReceiver struct {
	mu   sync.Mutex
	reqs []hookRequest
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, hookRequest{path: r.URL.Path, signature: r.Header.Get(alerts.SignatureHeader), body: body, at: time.Now()})
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) received() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}
