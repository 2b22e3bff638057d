package alerts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// receiver is a webhook endpoint that verifies every request's signature
// and answers the statuses it is given, then 200.
type receiver struct {
	secret string
	mu     sync.Mutex
	answer []int
	bodies []string
	errs   []error
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, alerts.Verify([]byte(r.secret), req.Header.Get(alerts.SignatureHeader), body, time.Now(), 0))
	r.bodies = append(r.bodies, string(body))
	status := http.StatusOK
	if len(r.answer) > 0 {
		status, r.answer = r.answer[0], r.answer[1:]
	}
	w.WriteHeader(status)
}

func (r *receiver) got() ([]string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...), append([]error(nil), r.errs...)
}

// TestWebhookDelivery: a raised alert is POSTed to the endpoints of its
// center and the network that want its kind, signed; 500s are retried with
// backoff; every attempt is in the delivery log.
func TestWebhookDelivery(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t, b.location(t))
			seed(t, st)
			flaky := &receiver{secret: "flaky-secret-0123456789", answer: []int{500, 503}}
			network := &receiver{secret: "network-secret-0123456789"}
			other := &receiver{secret: "other-secret-0123456789"}
			picky := &receiver{secret: "picky-secret-0123456789"}
			hooks := map[string]*receiver{}
			for _, h := range []struct {
				id, center string
				r          *receiver
				kinds      []store.AlertKind
			}{
				{"flaky", "c1", flaky, nil},
				{"network", "", network, nil},
				{"other", "c2", other, nil},
				{"picky", "c1", picky, []store.AlertKind{store.AlertOffline}},
			} {
				srv := httptest.NewServer(h.r)
				t.Cleanup(srv.Close)
				hooks[h.id] = h.r
				require.NoError(t, st.Health().CreateWebhook(ctx, store.Webhook{ID: h.id, Center: h.center, URL: srv.URL + "/hook",
					Secret: h.r.secret, Kinds: h.kinds, CreatedBy: "tk", CreatedMs: 1}))
			}
			reg := metrics.NewRegistry()
			// The receivers are httptest servers on loopback, over http.
			wh := alerts.NewWebhooks(alerts.WebhookConfig{Backoff: time.Millisecond, Policy: alerts.WebhookPolicy{AllowInsecure: true}}, st.Health(), quiet(), reg)
			t.Cleanup(wh.Close)
			e := alerts.New(alerts.Config{}, st, []alerts.Notifier{wh}, quiet(), nil)
			require.NoError(t, e.ApplyEvents(ctx, "d1", t0().UnixMilli(), []protocol.Event{ev(1, protocol.EventDoorForced)}))
			wh.Wait()

			bodies, errs := flaky.got()
			require.Len(t, bodies, 3, "two 500s, then delivered")
			for _, err := range errs {
				require.NoError(t, err, "every attempt is signed")
			}
			require.Equal(t, bodies[0], bodies[2], "a retry sends the same body")
			var p alerts.Payload
			require.NoError(t, json.Unmarshal([]byte(bodies[0]), &p))
			require.Equal(t, alerts.Raised, p.Event)
			require.Equal(t, store.AlertForced, p.Alert.Kind)
			require.Equal(t, "d1", p.Alert.Door)
			require.Equal(t, p.Alert.ID+"/raised", p.ID)

			nb, nerrs := network.got()
			require.Len(t, nb, 1, "the network-wide endpoint gets every center's alerts")
			require.NoError(t, nerrs[0])
			ob, _ := other.got()
			require.Empty(t, ob, "another center's endpoint gets nothing")
			pb, _ := picky.got()
			require.Empty(t, pb, "an endpoint that wants other kinds gets nothing")

			log, err := st.Health().ListDeliveries(ctx, "flaky", store.PageRequest{})
			require.NoError(t, err)
			require.Len(t, log.Items, 3)
			require.True(t, log.Items[0].OK)
			require.Equal(t, 3, log.Items[0].Attempt)
			require.Equal(t, 200, log.Items[0].HTTPStatus)
			require.Equal(t, 503, log.Items[1].HTTPStatus)
			require.False(t, log.Items[1].OK)
			require.Equal(t, 500, log.Items[2].HTTPStatus)

			var sb strings.Builder
			require.NoError(t, reg.WriteText(&sb))
			require.Contains(t, sb.String(), `swc_webhook_deliveries_total{result="ok"} 2`)
			require.Contains(t, sb.String(), `swc_webhook_deliveries_total{result="retry"} 2`)
		})
	}
}

// TestWebhookGivesUp: an endpoint that keeps failing is tried Attempts
// times; one that refuses (4xx) is not retried.
func TestWebhookGivesUp(t *testing.T) {
	ctx := context.Background()
	b := backends()[0]
	st := b.open(t, b.location(t))
	seed(t, st)
	down := &receiver{secret: "down-secret-0123456789", answer: []int{500, 500, 500, 500}}
	refuses := &receiver{secret: "refuses-secret-0123456789", answer: []int{403}}
	for id, r := range map[string]*receiver{"down": down, "refuses": refuses} {
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		require.NoError(t, st.Health().CreateWebhook(ctx, store.Webhook{ID: id, Center: "c1", URL: srv.URL, Secret: r.secret, CreatedBy: "tk", CreatedMs: 1}))
	}
	reg := metrics.NewRegistry()
	wh := alerts.NewWebhooks(alerts.WebhookConfig{Attempts: 3, Backoff: time.Millisecond, Policy: alerts.WebhookPolicy{AllowInsecure: true}}, st.Health(), quiet(), reg)
	t.Cleanup(wh.Close)
	require.NoError(t, wh.Notify(ctx, alerts.Notification{Event: alerts.Resolved, Alert: store.Alert{ID: "al-1", Door: "d1", Center: "c1", Kind: store.AlertOffline}}))
	wh.Wait()
	db, _ := down.got()
	require.Len(t, db, 3)
	rb, _ := refuses.got()
	require.Len(t, rb, 1)
	log, err := st.Health().ListDeliveries(ctx, "refuses", store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, log.Items, 1)
	require.Equal(t, "resolved", log.Items[0].Event)
	require.Contains(t, log.Items[0].Error, "Forbidden")
	var sb strings.Builder
	require.NoError(t, reg.WriteText(&sb))
	require.Contains(t, sb.String(), `swc_webhook_deliveries_total{result="failed"} 2`)
}

// TestVerify: a changed body, another secret, an old timestamp and a
// malformed header are refused.
func TestVerify(t *testing.T) {
	secret := []byte("s3cret-s3cret-s3cret")
	body := []byte(`{"id":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	good := alerts.Sign(secret, now, body)
	require.Regexp(t, `^t=1800000000,v1=[0-9a-f]{64}$`, good)
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"good", secret, good, body, now, nil},
		{"good within tolerance", secret, good, body, now.Add(4 * time.Minute), nil},
		{"body changed", secret, good, []byte(`{"id":"y"}`), now, alerts.ErrBadSignature},
		{"other secret", []byte("other"), good, body, now, alerts.ErrBadSignature},
		{"replayed later", secret, good, body, now.Add(10 * time.Minute), alerts.ErrStale},
		{"no timestamp", secret, strings.Split(good, ",")[1], body, now, alerts.ErrBadSignature},
		{"empty", secret, "", body, now, alerts.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := alerts.Verify(tc.secret, tc.header, tc.body, tc.now, 0)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.True(t, errors.Is(err, tc.want), "%v", err)
			}
		})
	}
}

// fakeMailer stands in for central/mail's outbox (keys deduplicate).
type fakeMailer struct {
	mu   sync.Mutex
	keys map[string]bool
	sent []string
}

func (m *fakeMailer) Enqueue(_ context.Context, key string, msg mail.Message) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[key] {
		return "", false, nil
	}
	if m.keys == nil {
		m.keys = map[string]bool{}
	}
	m.keys[key] = true
	m.sent = append(m.sent, msg.To+"|"+msg.Subject+"|"+msg.Text)
	return key, true, nil
}

// TestMailNotifier: each recipient of the alert's center gets one message
// naming the door, the kind and the center's local time, once however
// often it is handed over; a center without recipients is logged once and
// counted each time.
func TestMailNotifier(t *testing.T) {
	ctx := context.Background()
	fm := &fakeMailer{}
	brussels, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	var logs bytes.Buffer
	reg := metrics.NewRegistry()
	m := alerts.NewMail(alerts.MailConfig{Mailer: fm, Recipients: func(_ context.Context, center string) ([]string, error) {
		if center == "c1" {
			return []string{"ann@c1.example", "bob@c1.example"}, nil
		}
		return nil, nil
	}, Zone: func(context.Context, string) *time.Location { return brussels },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: reg})
	a := store.Alert{ID: "al-1", Door: "d1", Center: "c1", Kind: store.AlertForced, RaisedMs: t0().UnixMilli(), Details: map[string]string{"seq": "4"}}
	require.NoError(t, m.Notify(ctx, alerts.Notification{Event: alerts.Raised, Alert: a}))
	require.NoError(t, m.Notify(ctx, alerts.Notification{Event: alerts.Raised, Alert: a}), "handed over again")
	for _, id := range []string{"al-2", "al-3"} {
		require.NoError(t, m.Notify(ctx, alerts.Notification{Event: alerts.Raised, Alert: store.Alert{ID: id, Door: "e1", Center: "c2", Kind: store.AlertOffline}}))
	}
	require.Len(t, fm.sent, 2)
	parts := strings.SplitN(fm.sent[0], "|", 3)
	require.Equal(t, "ann@c1.example", parts[0])
	require.Equal(t, "[SWC] raised: door forced open at door d1 (c1)", parts[1])
	require.Contains(t, parts[2], "2026-12-07 10:00:00 CET")
	require.Contains(t, parts[2], "seq: 4")
	require.True(t, strings.HasPrefix(fm.sent[1], "bob@c1.example|"))

	require.Equal(t, 1, strings.Count(logs.String(), "no one to e-mail"), logs.String())
	require.Contains(t, logs.String(), "center=c2")
	var text bytes.Buffer
	require.NoError(t, reg.WriteText(&text))
	require.Contains(t, text.String(), "swc_alert_mail_unaddressed_total 2\n")
	require.Contains(t, text.String(), "swc_alert_mail_enqueued_total 2\n")
}
