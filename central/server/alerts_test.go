package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestDoorHealthThroughServe plays a door against serve: its status and a
// forced-open event reach the door health (a signed webhook receives the
// alert), its offline status keeps what it last reported, a command to it
// warns, and all of it is still there after the central restarts.
func TestDoorHealthThroughServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	// The webhook receiver is an httptest server: http on loopback.
	lab := server.AlertsConfig{WebhookAllowInsecure: true}
	s, _ := start(t, server.Config{DataDir: dir, Alerts: lab})
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	mustCall := func(s *server.Server, method, path string, body any) []byte {
		t.Helper()
		code, b := call(t, s, token, method, path, body)
		require.Less(t, code, 300, "%s %s: %s", method, path, b)
		return b
	}

	var mu sync.Mutex
	var got []alerts.Payload
	const secret = "hook-secret-0123456789"
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := alerts.Verify([]byte(secret), r.Header.Get(alerts.SignatureHeader), body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p alerts.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	mustCall(s, "POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	mustCall(s, "POST", "/api/v1/doors", map[string]any{"id": "door-a", "center_id": "c1", "name": "Front"})
	mustCall(s, "POST", "/api/v1/webhooks", map[string]any{"center": "c1", "url": hook.URL, "secret": secret})
	var sec struct{ Secret string }
	require.NoError(t, json.Unmarshal(mustCall(s, "POST", "/api/v1/doors/door-a/secret", nil), &sec))
	d, err := connectDoor(t, s, "door-a", sec.Secret)
	require.NoError(t, err)

	d.publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "door-a", State: protocol.StateOnline, Firmware: "9.9.9",
		Boot: "b1", WLVersion: 1, OutboxDepth: 4, ClockTrusted: true, DoorState: "locked", Reader: "ok", TimeMs: time.Now().UnixMilli()})
	d.publish(t, protocol.TopicEvents, &protocol.EventBatch{V: protocol.Version, Door: "door-a", Events: []protocol.Event{
		{Seq: 1, TimeMs: time.Now().UnixMilli(), Trusted: true, Boot: "b1", Kind: protocol.EventDoorForced, WLVersion: 1}}})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	}, 10*time.Second, 20*time.Millisecond, "the signed webhook receives the alert")
	mu.Lock()
	require.Equal(t, "door_forced", string(got[0].Alert.Kind))
	require.Equal(t, alerts.Raised, got[0].Event)
	mu.Unlock()

	// The door goes away: its last will says offline, nothing else.
	d.publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "door-a", State: protocol.StateOffline})
	var st api.DoorStateView
	require.Eventually(t, func() bool {
		require.NoError(t, json.Unmarshal(mustCall(s, "GET", "/api/v1/doors/door-a/state", nil), &st))
		return st.State == protocol.StateOffline
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "9.9.9", st.Firmware, "the offline door keeps what it last reported")
	require.Equal(t, uint64(4), st.OutboxDepth)
	require.NotZero(t, st.OfflineSinceMs)
	require.Len(t, st.OpenAlerts, 1)

	code, body := call(t, s, token, "POST", "/api/v1/doors/door-a/commands", map[string]any{"action": "unlock", "seconds": 3})
	require.Equal(t, http.StatusAccepted, code, "%s", body)
	var cr api.CommandResult
	require.NoError(t, json.Unmarshal(body, &cr))
	require.Equal(t, "queued_until_online", cr.Delivery)
	require.Contains(t, cr.Warning, "is offline")

	require.NoError(t, s.Shutdown(context.Background()))
	s2, _ := start(t, server.Config{DataDir: dir, Alerts: lab})
	st = api.DoorStateView{}
	require.NoError(t, json.Unmarshal(mustCall(s2, "GET", "/api/v1/doors/door-a/state", nil), &st))
	require.Equal(t, protocol.StateOffline, st.State, "the state survives the restart")
	require.Equal(t, "9.9.9", st.Firmware)
	var cmds struct{ Items []api.CommandStatus }
	require.NoError(t, json.Unmarshal(mustCall(s2, "GET", "/api/v1/doors/door-a/commands", nil), &cmds))
	require.Len(t, cmds.Items, 1)
	require.Equal(t, cr.ID, cmds.Items[0].ID)
	require.Contains(t, []string{"queued_until_online", "expired"}, cmds.Items[0].Status)

	// The dashboard's door page shows the last known state too.
	page := dashboardGet(t, s2, token, "/doors/door-a")
	require.Contains(t, page, "9.9.9")
	require.Contains(t, page, "offline")
}

// dashboardGet signs in to the dashboard with the (admin) token through
// the break-glass token form and returns the page at path.
func dashboardGet(t *testing.T, s *server.Server, token, path string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	base := "http://" + s.HTTPAddr()
	get := func(p string) string {
		res, err := c.Get(base + p)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
		return string(b)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/login/token"))
	require.NotNil(t, m)
	res, err := c.PostForm(base+"/login/token", url.Values{"token": {token}, "csrf": {m[1]}, "next": {"/"}})
	require.NoError(t, err)
	res.Body.Close()
	return get(path)
}

// TestWebhookURLNeedsInsecureFlag: without --webhook-allow-insecure, serve
// refuses a webhook to an http:// or internal URL (naming the field url)
// and takes an https URL to a public host; with it, the loopback receiver
// of the tests is accepted.
func TestWebhookURLNeedsInsecureFlag(t *testing.T) {
	for _, tc := range []struct {
		name     string
		insecure bool
		url      string
		want     int
	}{
		{"http loopback", false, "http://127.0.0.1:9/hook", http.StatusBadRequest},
		{"https loopback", false, "https://127.0.0.1:9/hook", http.StatusBadRequest},
		{"https localhost", false, "https://localhost:9/hook", http.StatusBadRequest},
		{"cloud metadata", false, "https://169.254.169.254/latest", http.StatusBadRequest},
		{"https public", false, "https://hooks.example.com/swc", http.StatusCreated},
		{"http loopback with the flag", true, "http://127.0.0.1:9/hook", http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			s, _ := start(t, server.Config{DataDir: dir, Alerts: server.AlertsConfig{WebhookAllowInsecure: tc.insecure}})
			raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
			require.NoError(t, err)
			token := strings.TrimSpace(string(raw))
			code, body := call(t, s, token, "POST", "/api/v1/webhooks", map[string]any{"url": tc.url})
			require.Equal(t, tc.want, code, "%s", body)
			if tc.want == http.StatusBadRequest {
				var e struct{ Code, Field, Message string }
				require.NoError(t, json.Unmarshal(body, &e))
				require.Equal(t, "invalid", e.Code)
				require.Equal(t, "url", e.Field)
				require.Contains(t, e.Message, "--webhook-allow-insecure")
			}
		})
	}
}
