package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/smartworkcenters/swc/central/store"
)

// Door health, alerts and webhook endpoints (central/alerts). A manager or
// technician sees the alerts and door states of their centers; a center
// outside them is answered like a missing one (404). Webhook endpoints are
// the admins' (network-wide or any center) and the managers' (their
// center); their secret is shown only in the answer to their creation.

// centerFilter reads ?center_id= for a list whose other centers must be
// answered as missing: a center outside the caller's, or unknown, is 404.
func (s *Server) centerFilter(r *http.Request, p *principal, q *query) ([]string, error) {
	c := q.id("center_id")
	if q.err != nil || c == "" {
		return p.scope(), q.err
	}
	if !p.in(c) {
		return nil, hidden("center", c)
	}
	if _, err := s.st.Center(r.Context(), c); err != nil {
		return nil, err
	}
	return []string{c}, nil
}

// alertKinds lists the alert kinds for query validation.
func alertKinds() []string {
	var out []string
	for _, k := range store.AlertKinds() {
		out = append(out, string(k))
	}
	return out
}

// listAlerts is GET /alerts?center_id=&door=&kind=&state=open|resolved.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "center_id", "door", "kind", "state")
	centers, err := s.centerFilter(r, p, q)
	if err != nil {
		return err
	}
	f := store.AlertFilter{CenterIDs: centers, Door: q.id("door"), Kind: store.AlertKind(q.oneOf("kind", alertKinds()...)), PageRequest: q.page()}
	switch q.oneOf("state", "open", "resolved") {
	case "open":
		f.Open = ptr(true)
	case "resolved":
		f.Open = ptr(false)
	}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.Health().ListAlerts(r.Context(), f)
	return sendPage(w, pg, err)
}

func ptr[T any](v T) *T { return &v }

// getAlert is GET /alerts/{id}.
func (s *Server) getAlert(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	a, err := s.st.Health().Alert(r.Context(), id)
	if err != nil {
		return err
	}
	if !p.in(a.Center) {
		return hidden("alert", id)
	}
	return writeJSON(w, http.StatusOK, a)
}

// DoorStateView is the answer of GET /doors/{id}/state: the door's last
// known state, how long it has been offline, and its open alerts.
type DoorStateView struct {
	store.DoorHealth
	Known          bool          `json:"known"` // false: the door never reported
	OfflineSeconds int64         `json:"offline_seconds"`
	OpenAlerts     []store.Alert `json:"open_alerts"`
}

// doorState is GET /doors/{id}/state.
func (s *Server) doorState(w http.ResponseWriter, r *http.Request, p *principal) error {
	d, err := s.door(r, p)
	if err != nil {
		return err
	}
	v := DoorStateView{DoorHealth: store.DoorHealth{Door: d.ID, Center: d.CenterID}, OpenAlerts: []store.Alert{}}
	h, err := s.st.Health().DoorHealth(r.Context(), d.ID)
	switch {
	case err == nil:
		v.DoorHealth, v.Known = h, h.State != ""
		v.OfflineSeconds = int64(h.OfflineFor(s.now()) / time.Second)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	open, err := s.st.Health().ListAlerts(r.Context(), store.AlertFilter{Door: d.ID, Open: ptr(true)})
	if err != nil {
		return err
	}
	v.OpenAlerts = open.Items
	return writeJSON(w, http.StatusOK, v)
}

// ---- webhook endpoints

// webhook returns the endpoint of the path if the caller may see it:
// admins every endpoint, managers their center's (not network-wide ones).
func (s *Server) webhook(r *http.Request, p *principal) (store.Webhook, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.Webhook{}, err
	}
	x, err := s.st.Health().Webhook(r.Context(), id)
	if err != nil {
		return x, err
	}
	if !p.in(x.Center) {
		return x, hidden("webhook", id)
	}
	return x, nil
}

// listWebhooks is GET /webhooks?center_id= (managers: their centers'
// endpoints; admins: every one, "center_id" narrowing to one center).
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "center_id")
	centers, err := s.centerFilter(r, p, q)
	if err != nil {
		return err
	}
	pr := q.page()
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.Health().ListWebhooks(r.Context(), centers, pr)
	if err != nil {
		return err
	}
	for i := range pg.Items {
		pg.Items[i].Secret = ""
	}
	return sendPage(w, pg, nil)
}

// createWebhook is POST /webhooks. Without a secret one is generated; the
// answer is the only time it is shown.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, p *principal) error {
	var x store.Webhook
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if x.Center == "" && !p.admin() {
		return errForbidden("only admins create network-wide webhooks; give center")
	}
	if x.Center != "" && !p.in(x.Center) {
		return outside("center " + x.Center)
	}
	if x.ID == "" {
		x.ID = "wh-" + randomHex(8)
	}
	if x.Secret == "" {
		x.Secret = randomHex(32)
	}
	x.CreatedBy, x.CreatedMs = p.ID, s.now().UnixMilli()
	if x.Kinds == nil {
		x.Kinds = []store.AlertKind{}
	}
	if err := s.webhooks.CheckURL(x.URL); err != nil {
		return err
	}
	if err := s.st.Health().CreateWebhook(r.Context(), x); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "audit: webhook created", "webhook", x.ID, "center", x.Center, "url", x.URL, "by", p.ID)
	return created(w, x)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.webhook(r, p)
	if err != nil {
		return err
	}
	x.Secret = ""
	return writeJSON(w, http.StatusOK, x)
}

// updateWebhook is PUT /webhooks/{id}: url, kinds and (when given) secret.
func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, p *principal) error {
	old, err := s.webhook(r, p)
	if err != nil {
		return err
	}
	var x store.Webhook
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := sameID(&x.ID, old.ID, "id"); err != nil {
		return err
	}
	if x.Center != "" && x.Center != old.Center {
		return errInvalid("center", "an endpoint's center does not change")
	}
	if err := s.webhooks.CheckURL(x.URL); err != nil {
		return err
	}
	if err := s.st.Health().UpdateWebhook(r.Context(), x); err != nil {
		return err
	}
	got, err := s.st.Health().Webhook(r.Context(), x.ID)
	if err != nil {
		return err
	}
	got.Secret = ""
	s.log.InfoContext(r.Context(), "audit: webhook updated", "webhook", x.ID, "center", got.Center, "url", got.URL, "by", p.ID)
	return writeJSON(w, http.StatusOK, got)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.webhook(r, p)
	if err != nil {
		return err
	}
	if err := s.st.Health().DeleteWebhook(r.Context(), x.ID); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "audit: webhook deleted", "webhook", x.ID, "center", x.Center, "by", p.ID)
	return noContent(w)
}

// listDeliveries is GET /webhooks/{id}/deliveries: the delivery log,
// newest first.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.webhook(r, p)
	if err != nil {
		return err
	}
	pr, err := pageAlone(r)
	if err != nil {
		return err
	}
	pg, err := s.st.Health().ListDeliveries(r.Context(), x.ID, pr)
	return sendPage(w, pg, err)
}
