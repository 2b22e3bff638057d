package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// doorHealthView is what the door page adds to the door's status card
// (which shows the last known state the store keeps while the door is
// offline): how long it has been offline, its open alerts, and its recent
// remote commands with their status now.
type doorHealthView struct {
	Known      bool // the door reported a state once
	Health     store.DoorHealth
	Offline    bool
	OfflineFor string // in words, while offline
	OpenAlerts []store.Alert
	Commands   []commandView
	// Warning is the warning shown above the command buttons when the door
	// is not online: a command waits until it is back, or expires.
	Warning string
}

// commandView is a remote command with its status now.
type commandView struct {
	store.CommandRecord
	Status  string
	Issued  time.Time
	Expires time.Time
}

// doorHealth reads the door's health for its page.
func (w *Web) doorHealth(ctx context.Context, loc i18n.Locale, d domain.Door, lifetimeMinutes int) (doorHealthView, error) {
	var out doorHealthView
	hs := w.st.Health()
	h, err := hs.DoorHealth(ctx, d.ID)
	switch {
	case err == nil:
		out.Known, out.Health = h.State != "", h
	case !errors.Is(err, store.ErrNotFound):
		return out, err
	}
	out.Offline = out.Health.State == store.DoorOffline
	if out.Offline {
		out.OfflineFor = duration(loc, out.Health.OfflineFor(w.now()))
		out.Warning = loc.T("console.door.offline_warning", "dur", out.OfflineFor, "n", lifetimeMinutes)
	} else if !out.Known {
		out.Warning = loc.T("console.door.unknown_warning", "n", lifetimeMinutes)
	}
	open := true
	alerts, err := hs.ListAlerts(ctx, store.AlertFilter{Door: d.ID, Open: &open, PageRequest: store.PageRequest{Limit: 50}})
	if err != nil {
		return out, err
	}
	out.OpenAlerts = alerts.Items
	cmds, err := hs.ListCommands(ctx, d.ID, store.PageRequest{Limit: 10})
	if err != nil {
		return out, err
	}
	for _, c := range cmds.Items {
		out.Commands = append(out.Commands, commandView{CommandRecord: c, Status: c.Status(w.now()),
			Issued: time.UnixMilli(c.IssuedMs), Expires: time.UnixMilli(c.ExpiresMs)})
	}
	return out, nil
}

// alertRow is an alert of the alerts page.
type alertRow struct {
	store.Alert
	DoorName string
	Raised   time.Time
	Resolved time.Time
	Loc      *time.Location
}

// alertsPage is GET /alerts: the alerts of the centers the viewer sees
// (?center=), open ones by default (?state=open|resolved|all), newest
// first, a page at a time.
func (w *Web) alertsPage(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	f := newFilterForm(r, w.loc)
	center := f.id("center", "filter.center")
	state := f.v.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "resolved" && state != "all" {
		f.fail("console.alerts.state")
	}
	after := f.cursor()
	if err := w.filterErr(r, v, "alerts", f); err != nil {
		return err
	}
	scope, err := centerScope(v, center)
	if err != nil {
		return err
	}
	af := store.AlertFilter{CenterIDs: scope, PageRequest: store.PageRequest{After: after, Limit: opsPageSize}}
	if state != "all" {
		open := state == "open"
		af.Open = &open
	}
	ctx, cancel := w.context(r)
	defer cancel()
	pg, err := w.st.Health().ListAlerts(ctx, af)
	if err != nil {
		return err
	}
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	doors := &doorCache{doors: map[string]doorInfo{}}
	rows := make([]alertRow, 0, len(pg.Items))
	for _, a := range pg.Items {
		d := doors.get(ctx, w.st, a.Door, w.now())
		row := alertRow{Alert: a, DoorName: d.name, Raised: time.UnixMilli(a.RaisedMs), Loc: d.loc}
		if row.Loc == nil {
			row.Loc = w.loc
		}
		if a.ResolvedMs > 0 {
			row.Resolved = time.UnixMilli(a.ResolvedMs)
		}
		rows = append(rows, row)
	}
	w.render(rw, r, http.StatusOK, "console_alerts", v, map[string]any{"Rows": rows, "State": state, "Center": center,
		"Centers": centers, "Next": nextLink(r, "/alerts", pg.Next)})
	return nil
}

// webhooksPage is GET /webhooks: the endpoints the viewer sees (an admin
// every one, a manager their center's) and the form of a new one.
func (w *Web) webhooksPage(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	return w.showWebhooks(rw, r, v, http.StatusOK, nil, "", "")
}

func (w *Web) showWebhooks(rw http.ResponseWriter, r *http.Request, v *viewer, status int, created *store.Webhook, problem, flash string) error {
	ctx, cancel := w.context(r)
	defer cancel()
	var scope []string // nil: every endpoint, network-wide ones too
	if !v.Admin() {
		scope = v.scope()
	}
	hooks, err := store.All(ctx, func(p store.PageRequest) (store.Page[store.Webhook], error) {
		return w.st.Health().ListWebhooks(ctx, scope, p)
	})
	if err != nil {
		return err
	}
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	for i := range hooks {
		hooks[i].Secret = "" // shown once, when created
	}
	w.render(rw, r, status, "console_webhooks", v, map[string]any{"Hooks": hooks, "Centers": centers, "Kinds": store.AlertKinds(),
		"Created": created, "Problem": problem, "Flash": flash})
	return nil
}

// alertKinds reads a webhook form's alert kinds (none is an empty list);
// an unknown kind is an error.
func alertKinds(form []string) ([]store.AlertKind, error) {
	kinds := []store.AlertKind{}
	for _, k := range form {
		kind := store.AlertKind(k)
		if !kind.Known() {
			return nil, fmt.Errorf("web: unknown alert kind %q", k)
		}
		kinds = append(kinds, kind)
	}
	return kinds, nil
}

// createWebhook is POST /webhooks: a new endpoint, its secret generated
// and shown once on the answer page (never again).
func (w *Web) createWebhook(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	loc := w.locale(r, v)
	refuse := func(field, key string, args ...any) error {
		w.opsRefused.With("webhooks", field).Inc()
		w.log.WarnContext(r.Context(), "web: webhook refused", "field", field)
		return w.showWebhooks(rw, r, v, http.StatusBadRequest, nil, loc.T(key, args...), "")
	}
	center := strings.TrimSpace(r.PostFormValue("center"))
	if center == "" && !v.Admin() {
		return refuse("center", "console.webhooks.need_center")
	}
	if center != "" && (protocol.ValidID(center) != nil || !v.Sees(center)) {
		return hidden("center", center)
	}
	hook := store.Webhook{ID: "wh-" + randomHex(8), Center: center, URL: strings.TrimSpace(r.PostFormValue("url")), Secret: randomHex(32),
		CreatedBy: v.ID, CreatedMs: w.now().UnixMilli()}
	kinds, err := alertKinds(r.PostForm["kinds"])
	if err != nil {
		return refuse("kinds", "console.bad_filter", "field", loc.T("console.webhooks.kinds"))
	}
	hook.Kinds = kinds
	if err := hook.Validate(); err != nil {
		var fe *domain.FieldError
		if errors.As(err, &fe) && fe.Field == "url" {
			return refuse("url", "console.webhooks.bad_url")
		}
		return err
	}
	if err := w.cfg.Webhooks.CheckURL(hook.URL); err != nil {
		return refuse("url", "console.webhooks.public_url")
	}
	if err := w.st.Health().CreateWebhook(r.Context(), hook); err != nil {
		return err
	}
	w.log.InfoContext(r.Context(), "web: webhook created", "webhook", hook.ID, "center", hook.Center, "url", hook.URL, "by", v.ID)
	return w.showWebhooks(rw, r, v, http.StatusCreated, &hook, "", "")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// webhookPage is GET /webhooks/{id}: an endpoint and its delivery log,
// newest first. Another center's endpoint (or, for a manager, a
// network-wide one) is answered like a missing one.
func (w *Web) webhookPage(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	return w.showWebhook(rw, r, v, http.StatusOK, "", "", "")
}

// visibleWebhook is the endpoint of the request's {id} when v may see it;
// another center's endpoint (or, for a manager, a network-wide one) is
// answered like a missing one.
func (w *Web) visibleWebhook(ctx context.Context, r *http.Request, v *viewer) (store.Webhook, error) {
	id := r.PathValue("id")
	if protocol.ValidID(id) != nil {
		return store.Webhook{}, hidden("webhook", id)
	}
	hook, err := w.st.Health().Webhook(ctx, id)
	if err != nil {
		return store.Webhook{}, err
	}
	if !v.Admin() && (hook.Center == "" || !v.Sees(hook.Center)) {
		return store.Webhook{}, hidden("webhook", id)
	}
	return hook, nil
}

// showWebhook renders an endpoint's page with a flash, a problem, or a
// new secret shown once.
func (w *Web) showWebhook(rw http.ResponseWriter, r *http.Request, v *viewer, status int, flash, problem, secret string) error {
	ctx, cancel := w.context(r)
	defer cancel()
	hook, err := w.visibleWebhook(ctx, r, v)
	if err != nil {
		return err
	}
	id := hook.ID
	hook.Secret = ""
	f := newFilterForm(r, w.loc)
	after := f.cursor()
	if err := w.filterErr(r, v, "webhooks", f); err != nil {
		return err
	}
	pg, err := w.st.Health().ListDeliveries(ctx, id, store.PageRequest{After: after, Limit: opsPageSize})
	if err != nil {
		return err
	}
	type delivery struct {
		store.Delivery
		At time.Time
	}
	var rows []delivery
	for _, d := range pg.Items {
		rows = append(rows, delivery{Delivery: d, At: time.UnixMilli(d.AtMs)})
	}
	wanted := map[store.AlertKind]bool{}
	for _, k := range hook.Kinds {
		wanted[k] = true
	}
	w.render(rw, r, status, "console_webhook", v, map[string]any{"Hook": hook, "Deliveries": rows,
		"Next": nextLink(r, "/webhooks/"+id, pg.Next), "Kinds": store.AlertKinds(), "Wanted": wanted,
		"Flash": flash, "Problem": problem, "Secret": secret})
	return nil
}

// updateWebhook is POST /webhooks/{id}: a new URL and alert kinds (the
// center and the secret stay).
func (w *Web) updateWebhook(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	loc := w.locale(r, v)
	hook, err := w.visibleWebhook(r.Context(), r, v)
	if err != nil {
		return err
	}
	refuse := func(field, key string, args ...any) error {
		w.opsRefused.With("webhooks", field).Inc()
		w.log.WarnContext(r.Context(), "web: webhook change refused", "webhook", hook.ID, "field", field)
		return w.showWebhook(rw, r, v, http.StatusBadRequest, "", loc.T(key, args...), "")
	}
	hook.URL = strings.TrimSpace(r.PostFormValue("url"))
	kinds, err := alertKinds(r.PostForm["kinds"])
	if err != nil {
		return refuse("kinds", "console.bad_filter", "field", loc.T("console.webhooks.kinds"))
	}
	hook.Kinds = kinds
	if err := hook.Validate(); err != nil {
		return refuse("url", "console.webhooks.bad_url")
	}
	if err := w.cfg.Webhooks.CheckURL(hook.URL); err != nil {
		return refuse("url", "console.webhooks.public_url")
	}
	hook.Secret = "" // kept by the store
	if err := w.st.Health().UpdateWebhook(r.Context(), hook); err != nil {
		return err
	}
	w.log.InfoContext(r.Context(), "web: webhook changed", "webhook", hook.ID, "url", hook.URL, "by", v.ID)
	return w.showWebhook(rw, r, v, http.StatusOK, loc.T("console.webhooks.saved"), "", "")
}

// rotateWebhookSecret is POST /webhooks/{id}/secret: a new signing secret,
// shown once on the answer page; deliveries are signed with it from now.
func (w *Web) rotateWebhookSecret(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	hook, err := w.visibleWebhook(r.Context(), r, v)
	if err != nil {
		return err
	}
	hook.Secret = randomHex(32)
	if err := w.st.Health().UpdateWebhook(r.Context(), hook); err != nil {
		return err
	}
	w.log.InfoContext(r.Context(), "web: webhook secret replaced", "webhook", hook.ID, "by", v.ID)
	return w.showWebhook(rw, r, v, http.StatusOK, "", "", hook.Secret)
}

// deleteWebhook is POST /webhooks/{id}/delete: the endpoint and its
// delivery log go; the list says so.
func (w *Web) deleteWebhook(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	hook, err := w.visibleWebhook(r.Context(), r, v)
	if err != nil {
		return err
	}
	if err := w.st.Health().DeleteWebhook(r.Context(), hook.ID); err != nil {
		return err
	}
	w.log.InfoContext(r.Context(), "web: webhook deleted", "webhook", hook.ID, "by", v.ID)
	return w.showWebhooks(rw, r, v, http.StatusOK, nil, "", w.locale(r, v).T("console.webhooks.deleted", "id", hook.ID))
}
