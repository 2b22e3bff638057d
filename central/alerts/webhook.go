package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// SignatureHeader carries a webhook's signature: "t=<unix seconds>,v1=<hex>"
// where hex is HMAC-SHA256 with the endpoint's secret over "<t>." followed
// by the exact request body. A receiver checks it with Verify and refuses
// a t too far from its clock, so that a captured request cannot be replayed
// later.
const SignatureHeader = "X-SWC-Signature"

// Defaults of WebhookConfig.
const (
	DefaultWebhookAttempts   = 6
	DefaultWebhookBackoff    = 2 * time.Second
	DefaultWebhookMaxBackoff = 5 * time.Minute
	DefaultWebhookTimeout    = 10 * time.Second
	// DefaultSignatureTolerance is how far Verify lets t be from now.
	DefaultSignatureTolerance = 5 * time.Minute
)

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook signature timestamp outside the tolerance")
)

// Verify checks a SignatureHeader value against body: the HMAC must match
// and t must be within tolerance of now (0: DefaultSignatureTolerance).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix>,v1=<hex>", ErrBadSignature)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal(s, want)
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %v", ErrStale, d)
	}
	return nil
}

// Payload is the JSON body of a webhook request.
type Payload struct {
	ID     string      `json:"id"`    // <alert id>/<event>: the same for every retry
	Event  string      `json:"event"` // raised or resolved
	Alert  store.Alert `json:"alert"`
	SentAt time.Time   `json:"sent_at"` // first attempt
}

// WebhookConfig configures Webhooks; zero values take the defaults.
type WebhookConfig struct {
	// Policy says where deliveries may go (https, public addresses only,
	// unless AllowInsecure).
	Policy     WebhookPolicy
	Timeout    time.Duration // per request (default DefaultWebhookTimeout)
	Attempts   int           // per notification and endpoint
	Backoff    time.Duration // before the second attempt, doubling
	MaxBackoff time.Duration
	Now        func() time.Time
}

// Webhooks is the Notifier that POSTs signed JSON to the endpoints stored
// for the alert's center and network-wide (store.Webhook), retrying with
// exponential backoff on network errors, 408, 429 and 5xx answers, and
// logging every attempt in the store's delivery log. Only destinations
// the WebhookPolicy allows are reached: a refused one is logged once and
// not retried.
type Webhooks struct {
	cfg    WebhookConfig
	client *http.Client
	hs     store.HealthStore
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	deliveries *metrics.CounterVec
}

// NewWebhooks returns the webhook notifier. Close it to stop its retries.
func NewWebhooks(cfg WebhookConfig, hs store.HealthStore, log *slog.Logger, reg *metrics.Registry) *Webhooks {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultWebhookAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultWebhookBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultWebhookMaxBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Webhooks{cfg: cfg, client: cfg.Policy.Client(cfg.Timeout), hs: hs, log: log.With("component", "webhooks"), ctx: ctx, cancel: cancel,
		deliveries: reg.CounterVec("swc_webhook_deliveries_total",
			"Webhook delivery attempts, by result (ok, retry: failed and tried again, failed: failed and given up, "+
				"refused: a destination that is not public, see WebhookPolicy).", "result")}
}

// Close stops pending retries and waits for deliveries in flight.
func (w *Webhooks) Close() {
	w.cancel()
	w.wg.Wait()
}

// Wait waits until every delivery started so far has ended (tests).
func (w *Webhooks) Wait() { w.wg.Wait() }

// Notify implements Notifier: it finds the endpoints that want the alert
// and delivers to each on a goroutine of its own.
func (w *Webhooks) Notify(ctx context.Context, n Notification) error {
	centers := []string{""}
	if n.Alert.Center != "" {
		centers = append(centers, n.Alert.Center)
	}
	hooks, err := store.All(ctx, func(p store.PageRequest) (store.Page[store.Webhook], error) {
		return w.hs.ListWebhooks(ctx, centers, p)
	})
	if err != nil {
		return fmt.Errorf("alerts: webhooks of %q: %w", n.Alert.Center, err)
	}
	body, err := json.Marshal(Payload{ID: n.Alert.ID + "/" + n.Event, Event: n.Event, Alert: n.Alert, SentAt: w.cfg.Now().UTC()})
	if err != nil {
		return fmt.Errorf("alerts: webhook payload: %w", err)
	}
	for _, h := range hooks {
		if !h.Wants(n.Alert.Kind) {
			continue
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.deliver(h, n, body)
		}()
	}
	return nil
}

// deliver POSTs body to the endpoint until it succeeds, fails for good or
// runs out of attempts.
func (w *Webhooks) deliver(h store.Webhook, n Notification, body []byte) {
	backoff := w.cfg.Backoff
	for attempt := 1; attempt <= w.cfg.Attempts; attempt++ {
		status, err := w.post(h, body)
		ok := err == nil && status/100 == 2
		refused := errors.Is(err, ErrDestinationRefused) // for good: no retry
		retry := !ok && !refused && attempt < w.cfg.Attempts && (err != nil || status == 408 || status == 429 || status >= 500)
		d := store.Delivery{Webhook: h.ID, Alert: n.Alert.ID, Event: n.Event, Attempt: attempt, HTTPStatus: status, OK: ok, AtMs: w.cfg.Now().UnixMilli()}
		if err != nil {
			d.Error = err.Error()
		} else if !ok {
			d.Error = "answered " + http.StatusText(status)
		}
		// The log is written with a context of its own: a delivery that
		// happened is logged even while the notifier is closing.
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if lerr := w.hs.LogDelivery(lctx, d); lerr != nil {
			w.log.Warn("webhook delivery not logged", "webhook", h.ID, "alert", n.Alert.ID, "err", lerr)
		}
		cancel()
		switch {
		case ok:
			w.deliveries.With("ok").Inc()
			return
		case retry:
			w.deliveries.With("retry").Inc()
		case refused:
			w.deliveries.With("refused").Inc()
			w.log.Warn("webhook delivery refused: its destination is not public", "webhook", h.ID, "url", h.URL, "alert", n.Alert.ID, "err", err)
			return
		default:
			w.deliveries.With("failed").Inc()
			w.log.Warn("webhook delivery failed", "webhook", h.ID, "url", h.URL, "alert", n.Alert.ID, "attempt", attempt, "status", status, "err", err)
			return
		}
		select {
		case <-time.After(backoff):
		case <-w.ctx.Done():
			return
		}
		backoff = min(backoff*2, w.cfg.MaxBackoff)
	}
}

func (w *Webhooks) post(h store.Webhook, body []byte) (int, error) {
	// Stored URLs are checked again: one stored under a laxer policy (or
	// before there was one) is refused, not sent.
	if err := w.cfg.Policy.check(h.URL, false); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrDestinationRefused, err)
	}
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "swc-central-alerts")
	req.Header.Set(SignatureHeader, Sign([]byte(h.Secret), w.cfg.Now(), body))
	res, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode, nil
}
