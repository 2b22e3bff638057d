package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestDoorOfflineEmailedThroughServe: serve with a relay e-mails a door's
// offline alert, once, to the staff of its center with an e-mail address
// (not to another center's staff, nor to members), and once more when the
// door is back. The engine's clock is moved past the settings' offline
// threshold for its check instead of waiting for it.
func TestDoorOfflineEmailedThroughServe(t *testing.T) {
	ctx := context.Background()
	relay := mailtest.Start(t, mailtest.Options{})
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := start(t, server.Config{DataDir: dir, Mail: relay.Config("Smart Work Centers <noreply@swc.example>"),
		Alerts: server.AlertsConfig{Now: clock}})
	require.NotNil(t, s.Mail)
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	mustCall := func(method, path string, body any) []byte {
		t.Helper()
		code, b := call(t, s, token, method, path, body)
		require.Less(t, code, 300, "%s %s: %s", method, path, b)
		return b
	}
	for _, c := range []string{"c1", "c2"} {
		mustCall("POST", "/api/v1/centers", map[string]any{"id": c, "name": "Center " + c, "time_zone": "Europe/Brussels"})
	}
	mustCall("POST", "/api/v1/doors", map[string]any{"id": "door-a", "center_id": "c1", "name": "Front"})
	for _, m := range []struct{ id, email, staffOf string }{
		{"ann", "ann@c1.example", "c1"},
		{"bob", "bob@c2.example", "c2"},
		{"mia", "mia@member.example", ""},
	} {
		mustCall("POST", "/api/v1/members", map[string]any{"id": m.id, "name": m.id, "email": m.email, "status": "active"})
		if m.staffOf != "" {
			mustCall("POST", "/api/v1/staff", map[string]any{"member_id": m.id, "center_id": m.staffOf})
		}
	}
	var sec struct{ Secret string }
	require.NoError(t, json.Unmarshal(mustCall("POST", "/api/v1/doors/door-a/secret", nil), &sec))
	d, err := connectDoor(t, s, "door-a", sec.Secret)
	require.NoError(t, err)
	online := &protocol.Status{V: protocol.Version, Door: "door-a", State: protocol.StateOnline, Firmware: "9.9.9",
		Boot: "b1", WLVersion: 1, ClockTrusted: true, DoorState: "locked", Reader: "ok", TimeMs: time.Now().UnixMilli()}
	// Statuses may be handled concurrently: the engine has stored each
	// before the next is sent.
	stateIs := func(state string) {
		t.Helper()
		require.Eventually(t, func() bool {
			h, err := s.Store.Health().DoorHealth(ctx, "door-a")
			return err == nil && h.State == state
		}, 10*time.Second, 20*time.Millisecond, "the door is %s", state)
	}
	d.publish(t, protocol.TopicStatus, online)
	stateIs(protocol.StateOnline)
	d.publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "door-a", State: protocol.StateOffline})
	stateIs(protocol.StateOffline)

	// Past the threshold of the stored settings (the defaults, seeded).
	skew.Store(int64(settings.Defaults().Alerts.DoorOffline() + time.Minute))
	require.NoError(t, s.Alerts.Check(ctx))
	require.NoError(t, s.Alerts.Check(ctx), "checked again: still one alert")
	got := relay.Wait(t, 1)
	require.Equal(t, []string{"ann@c1.example"}, got[0].To)
	require.Equal(t, "[SWC] raised: door offline at door door-a (c1)", got[0].Subject)
	require.Contains(t, got[0].Text, "offline_since")

	// The ingest stamps statuses with the real clock: the engine's goes
	// back to it, or the door back online would look silent since.
	skew.Store(0)
	online.TimeMs = time.Now().UnixMilli()
	d.publish(t, protocol.TopicStatus, online)
	got = relay.Wait(t, 2)
	require.Equal(t, []string{"ann@c1.example"}, got[1].To)
	require.Equal(t, "[SWC] resolved: door offline at door door-a (c1)", got[1].Subject)
	require.NoError(t, s.Alerts.Check(ctx))

	var text bytes.Buffer
	require.NoError(t, s.Metrics.WriteText(&text))
	require.Contains(t, text.String(), "swc_alert_mail_enqueued_total 2\n", "one e-mail raised, one resolved")
	require.Contains(t, text.String(), "swc_alert_mail_unaddressed_total 0\n")
	require.Contains(t, text.String(), `swc_alerts_raised_total{kind="door_offline"} 1`+"\n")
	require.Len(t, relay.Messages(), 2)
}
