package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// alertFixture is the API fixture with door states, alerts and webhooks
// in c1 and c2, and a commander whose publisher records what it is given.
func alertFixture(t *testing.T) (*fixture, *[]string) {
	f := newFixture(t)
	ctx := context.Background()
	hs := f.st.Health()
	require.NoError(t, hs.SaveDoorHealth(ctx, store.DoorHealth{Door: "d1", State: store.DoorOffline, Firmware: "1.4.0", WLVersion: 7,
		OutboxDepth: 3, ClockTrusted: true, Reader: "ok", DoorState: "locked", LastSeenMs: t0.Add(-20 * time.Minute).UnixMilli(),
		OfflineSinceMs: t0.Add(-15 * time.Minute).UnixMilli(), UpdatedMs: t0.UnixMilli()}))
	require.NoError(t, hs.SaveDoorHealth(ctx, store.DoorHealth{Door: "d2", State: store.DoorOnline, UpdatedMs: t0.UnixMilli()}))
	for _, a := range []store.Alert{
		{Door: "d1", Kind: store.AlertOffline, RaisedMs: t0.Add(-10 * time.Minute).UnixMilli()},
		{Door: "d1", Kind: store.AlertForced, RaisedMs: t0.Add(-time.Hour).UnixMilli()},
		{Door: "d2", Kind: store.AlertReaderFault, RaisedMs: t0.Add(-time.Minute).UnixMilli()},
	} {
		_, raised, err := hs.RaiseAlert(ctx, a)
		require.NoError(t, err)
		require.True(t, raised)
	}
	_, _, err := hs.ResolveAlert(ctx, "d1", store.AlertForced, t0.Add(-30*time.Minute).UnixMilli())
	require.NoError(t, err)
	require.NoError(t, hs.CreateWebhook(ctx, store.Webhook{ID: "wh2", Center: "c2", URL: "https://hooks.example/c2", Secret: "0123456789abcdef0123", CreatedBy: "admin", CreatedMs: 1}))
	require.NoError(t, hs.CreateWebhook(ctx, store.Webhook{ID: "whn", URL: "https://hooks.example/all", Secret: "0123456789abcdef0123", CreatedBy: "admin", CreatedMs: 1}))
	require.NoError(t, hs.LogDelivery(ctx, store.Delivery{Webhook: "wh2", Alert: "al-x", Event: "raised", Attempt: 1, HTTPStatus: 500, AtMs: 1}))

	var published []string
	signer := protocol.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	cmds := api.NewCommander(f.st, signer, func(_ context.Context, door string, _ []byte) error {
		published = append(published, door)
		return nil
	}, slog.New(slog.NewTextHandler(f.log, nil)), nil, func() time.Time { return t0 })
	f.srv = api.New(api.Config{Store: f.st, Logger: slog.New(slog.NewTextHandler(f.log, nil)), Commands: cmds, Now: func() time.Time { return t0 }})
	return f, &published
}

type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// TestAlertsList: filters, and a manager's view limited to their center,
// another center answered as a missing one.
func TestAlertsList(t *testing.T) {
	f, _ := alertFixture(t)
	for _, tc := range []struct {
		who, query string
		status     int
		want       []string // kind@door, newest first
	}{
		{"admin", "", 200, []string{"reader_fault@d2", "door_offline@d1", "door_forced@d1"}},
		{"admin", "?state=open", 200, []string{"reader_fault@d2", "door_offline@d1"}},
		{"admin", "?state=resolved", 200, []string{"door_forced@d1"}},
		{"admin", "?center_id=c2", 200, []string{"reader_fault@d2"}},
		{"admin", "?kind=door_offline", 200, []string{"door_offline@d1"}},
		{"admin", "?door=d1&state=open", 200, []string{"door_offline@d1"}},
		{"mgr1", "", 200, []string{"door_offline@d1", "door_forced@d1"}},
		{"tech1", "?state=open", 200, []string{"door_offline@d1"}},
		{"mgr1", "?center_id=c2", 404, nil},
		{"mgr1", "?center_id=c404", 404, nil},
		{"admin", "?center_id=c404", 404, nil},
		{"admin", "?state=sleeping", 400, nil},
		{"admin", "?kind=door_exploded", 400, nil},
		{"admin", "?color=red", 400, nil},
		{"", "", 401, nil},
	} {
		t.Run(tc.who+tc.query, func(t *testing.T) {
			res := f.do(tc.who, "GET", "/alerts"+tc.query, nil)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			if tc.status != 200 {
				return
			}
			var p page[store.Alert]
			require.NoError(t, json.Unmarshal(res.Body, &p))
			got := []string{}
			for _, a := range p.Items {
				got = append(got, string(a.Kind)+"@"+a.Door)
			}
			require.Equal(t, tc.want, got)
		})
	}
	// The 404 for another center is the 404 for a missing one.
	other, missing := f.do("mgr1", "GET", "/alerts?center_id=c2", nil), f.do("mgr1", "GET", "/alerts?center_id=c404", nil)
	require.Equal(t, strings.ReplaceAll(string(missing.Body), "c404", "ID"), strings.ReplaceAll(string(other.Body), "c2", "ID"))
}

// TestDoorState: an offline door's page keeps what it last reported and
// says how long it has been offline.
func TestDoorState(t *testing.T) {
	f, _ := alertFixture(t)
	res := f.do("tech1", "GET", "/doors/d1/state", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var v api.DoorStateView
	require.NoError(t, json.Unmarshal(res.Body, &v))
	require.True(t, v.Known)
	require.Equal(t, store.DoorOffline, v.State)
	require.Equal(t, "1.4.0", v.Firmware)
	require.Equal(t, uint64(7), v.WLVersion)
	require.Equal(t, uint64(3), v.OutboxDepth)
	require.Equal(t, "c1", v.Center)
	require.Equal(t, int64(15*60), v.OfflineSeconds)
	require.Equal(t, t0.Add(-20*time.Minute).UnixMilli(), v.LastSeenMs)
	require.Len(t, v.OpenAlerts, 1)
	require.Equal(t, store.AlertOffline, v.OpenAlerts[0].Kind)

	// An online door with a certificate; a door without any state.
	require.NoError(t, f.st.Health().SetDoorCertificate(context.Background(), "d2", t0.Add(time.Hour).UnixMilli()))
	res = f.do("admin", "GET", "/doors/d2/state", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	v = api.DoorStateView{}
	require.NoError(t, json.Unmarshal(res.Body, &v))
	require.Equal(t, store.DoorOnline, v.State)
	require.Zero(t, v.OfflineSeconds)
	require.Equal(t, t0.Add(time.Hour).UnixMilli(), v.CertNotAfterMs)
	require.Len(t, v.OpenAlerts, 1)
	require.NoError(t, f.st.Health().SaveDoorHealth(context.Background(), store.DoorHealth{Door: "d2", UpdatedMs: 1}))
	res = f.do("admin", "GET", "/doors/d2/state", nil)
	v = api.DoorStateView{}
	require.NoError(t, json.Unmarshal(res.Body, &v))
	require.False(t, v.Known, "a door that never reported")
}

// TestWebhookEndpoints: admins manage every endpoint, managers their
// center's; the secret is shown once; the delivery log is readable.
func TestWebhookEndpoints(t *testing.T) {
	f, _ := alertFixture(t)
	res := f.do("mgr1", "POST", "/webhooks", map[string]any{"center": "c1", "url": "https://hooks.example/c1", "kinds": []string{"door_forced"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var w store.Webhook
	require.NoError(t, json.Unmarshal(res.Body, &w))
	require.Len(t, w.Secret, 64, "a generated secret, shown once")
	require.Equal(t, "mgr1", w.CreatedBy)

	res = f.do("mgr1", "GET", "/webhooks/"+w.ID, nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.NotContains(t, string(res.Body), w.Secret)
	require.NotContains(t, string(res.Body), `"secret"`)

	for _, tc := range []struct {
		name, who, method, path string
		body                    any
		status                  int
		code, field             string
	}{
		{"manager network-wide", "mgr1", "POST", "/webhooks", map[string]any{"url": "https://x.example"}, 403, "forbidden", ""},
		{"manager other center", "mgr1", "POST", "/webhooks", map[string]any{"center": "c2", "url": "https://x.example"}, 403, "forbidden", ""},
		{"bad url", "admin", "POST", "/webhooks", map[string]any{"center": "c1", "url": "ftp://x"}, 400, "invalid", "url"},
		{"http url", "admin", "POST", "/webhooks", map[string]any{"center": "c1", "url": "http://hooks.example/c1"}, 400, "invalid", "url"},
		{"internal url", "mgr1", "POST", "/webhooks", map[string]any{"center": "c1", "url": "https://10.0.0.8/admin"}, 400, "invalid", "url"},
		{"moved to loopback", "mgr1", "PUT", "/webhooks/" + w.ID, map[string]any{"url": "https://127.0.0.1:2379/v2/keys"}, 400, "invalid", "url"},
		{"short secret", "admin", "POST", "/webhooks", map[string]any{"center": "c1", "url": "https://x.example", "secret": "abc"}, 400, "invalid", "secret"},
		{"unknown kind", "admin", "POST", "/webhooks", map[string]any{"center": "c1", "url": "https://x.example", "kinds": []string{"fire"}}, 400, "invalid", "kinds"},
		{"unknown center", "admin", "POST", "/webhooks", map[string]any{"center": "c404", "url": "https://x.example"}, 422, "missing_ref", "center"},
		{"technician", "tech1", "GET", "/webhooks", nil, 403, "forbidden", ""},
		{"center changes", "admin", "PUT", "/webhooks/" + w.ID, map[string]any{"center": "c2", "url": "https://x.example"}, 400, "invalid", "center"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(tc.who, tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			require.Equal(t, tc.code, res.Err.Code)
			require.Equal(t, tc.field, res.Err.Field)
		})
	}

	res = f.do("mgr1", "GET", "/webhooks", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var ws page[store.Webhook]
	require.NoError(t, json.Unmarshal(res.Body, &ws))
	require.Len(t, ws.Items, 1, "a manager sees their center's endpoints only")
	require.Empty(t, ws.Items[0].Secret)
	res = f.do("admin", "GET", "/webhooks", nil)
	require.NoError(t, json.Unmarshal(res.Body, &ws))
	require.Len(t, ws.Items, 3)

	res = f.do("mgr1", "PUT", "/webhooks/"+w.ID, map[string]any{"url": "https://hooks.example/c1b"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	got, err := f.st.Health().Webhook(context.Background(), w.ID)
	require.NoError(t, err)
	require.Equal(t, "https://hooks.example/c1b", got.URL)
	require.Equal(t, w.Secret, got.Secret, "the secret is kept")

	res = f.do("admin", "GET", "/webhooks/wh2/deliveries", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var dl page[store.Delivery]
	require.NoError(t, json.Unmarshal(res.Body, &dl))
	require.Len(t, dl.Items, 1)
	require.Equal(t, 500, dl.Items[0].HTTPStatus)

	require.Equal(t, http.StatusNoContent, f.do("mgr1", "DELETE", "/webhooks/"+w.ID, nil).Status)
	require.Equal(t, http.StatusNotFound, f.do("mgr1", "GET", "/webhooks/"+w.ID, nil).Status)
}

// TestHealthForeignObjectsLookMissing: another center's door state,
// commands, alerts and webhooks are answered exactly like missing ones;
// network-wide endpoints are the admins'.
func TestHealthForeignObjectsLookMissing(t *testing.T) {
	f, _ := alertFixture(t)
	yes := true
	alerts, err := f.st.Health().ListAlerts(context.Background(), store.AlertFilter{CenterIDs: []string{"c2"}, Open: &yes})
	require.NoError(t, err)
	foreignAlert := alerts.Items[0].ID
	for _, tc := range []struct {
		who, method, path string
		foreign, missing  string
		body              any
	}{
		{"mgr1", "GET", "/doors/ID/state", "d2", "d404", nil},
		{"tech1", "GET", "/doors/ID/state", "d2", "d404", nil},
		{"tech1", "GET", "/doors/ID/commands", "d2", "d404", nil},
		{"mgr1", "GET", "/alerts/ID", foreignAlert, "al-0000000000000-00000000", nil},
		{"mgr1", "GET", "/webhooks/ID", "wh2", "wh404", nil},
		{"mgr1", "GET", "/webhooks/ID", "whn", "wh404", nil},
		{"mgr1", "PUT", "/webhooks/ID", "wh2", "wh404", map[string]any{"url": "https://x.example"}},
		{"mgr1", "DELETE", "/webhooks/ID", "wh2", "wh404", nil},
		{"mgr1", "GET", "/webhooks/ID/deliveries", "wh2", "wh404", nil},
		{"mgr1", "GET", "/webhooks?center_id=ID", "c2", "c404", nil},
	} {
		var answers [2]response
		for i, id := range []string{tc.foreign, tc.missing} {
			answers[i] = f.do(tc.who, tc.method, strings.ReplaceAll(tc.path, "ID", id), tc.body)
		}
		name := tc.who + " " + tc.method + " " + tc.path + " " + tc.foreign
		require.Equal(t, http.StatusNotFound, answers[0].Status, "%s: %s", name, answers[0].Body)
		require.Equal(t, answers[1].Status, answers[0].Status, name)
		require.Equal(t, strings.ReplaceAll(string(answers[1].Body), tc.missing, "ID"), strings.ReplaceAll(string(answers[0].Body), tc.foreign, "ID"), name)
	}
}

// TestCommandToOfflineDoor: a command to an offline door is accepted
// with a warning and queued until the door is back; to an online door it
// is sent; both are listed with their status.
func TestCommandToOfflineDoor(t *testing.T) {
	f, published := alertFixture(t)
	res := f.do("tech1", "POST", "/doors/d1/commands", api.CommandRequest{Action: "unlock", Seconds: 5})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Body)
	var cr api.CommandResult
	require.NoError(t, json.Unmarshal(res.Body, &cr))
	require.Equal(t, "queued_until_online", cr.Delivery)
	require.Contains(t, cr.Warning, "door d1 is offline")
	require.Contains(t, cr.Warning, "15m0s ago")
	require.Contains(t, cr.Warning, "waits until the door is back")
	require.Equal(t, "unlock", cr.Action)
	require.NotEmpty(t, cr.ID)

	res = f.do("admin", "POST", "/doors/d2/commands", api.CommandRequest{Action: "resync"})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Body)
	var online api.CommandResult
	require.NoError(t, json.Unmarshal(res.Body, &online))
	require.Equal(t, "sent", online.Delivery)
	require.Empty(t, online.Warning)
	require.NotContains(t, string(res.Body), "warning")
	require.Equal(t, []string{"d1", "d2"}, *published, "both are handed to the broker")

	// Executed when the door reports it.
	require.NoError(t, f.st.Health().CommandExecuted(context.Background(), "d1", cr.ID, t0.Add(time.Second).UnixMilli()))
	res = f.do("tech1", "GET", "/doors/d1/commands", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var cs page[api.CommandStatus]
	require.NoError(t, json.Unmarshal(res.Body, &cs))
	require.Len(t, cs.Items, 1)
	require.Equal(t, cr.ID, cs.Items[0].ID)
	require.Equal(t, "executed", cs.Items[0].Status)
	require.Equal(t, "queued_until_online", cs.Items[0].Delivery)
	require.Equal(t, "tech1", cs.Items[0].By)

	// A door that never reported is warned about too.
	require.NoError(t, f.st.Health().SaveDoorHealth(context.Background(), store.DoorHealth{Door: "d2", State: "", UpdatedMs: 1}))
	res = f.do("admin", "POST", "/doors/d2/commands", api.CommandRequest{Action: "relock"})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Body)
	require.NoError(t, json.Unmarshal(res.Body, &cr))
	require.Equal(t, "queued_until_online", cr.Delivery)
	require.Contains(t, cr.Warning, "has not reported being online")
}
