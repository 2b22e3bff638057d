package web

// The console-ops pages of the staff console (issue 16): event search with
// CSV export (console_events.go), the network settings
// (console_settings.go), the settlement workflow (console_settlement.go),
// door health, alerts and webhook endpoints (console_alerts.go) and the
// audit log (console_audit.go). Every page is a w.page(roles, h): who may
// open which page is opsRoutes' table; within a page a manager sees only
// their center (another center's objects are answered like missing ones,
// 404; a center named in a query that the viewer does not see is refused,
// 403, as on the hours page), a technician only their centers' doors and
// their own audit rows.

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// opsRoutes registers the console-ops pages.
func (w *Web) opsRoutes() {
	m := w.mux
	admins := []store.Role{store.RoleAdmin}
	everyone := []store.Role{store.RoleAdmin, store.RoleManager, store.RoleTechnician}
	m.Handle("GET /events", w.page(eventRoles(), w.eventSearch))
	m.Handle("GET /events.csv", w.page(eventRoles(), w.eventsCSV))
	m.Handle("GET /settings", w.page(eventRoles(), w.settingsPage))
	m.Handle("POST /settings", w.page(admins, w.saveSettings))
	m.Handle("GET /settlements", w.page(eventRoles(), w.settlementsPage))
	m.Handle("GET /settlements/{period}/export", w.page(eventRoles(), w.settlementExport))
	m.Handle("POST /settlements/{period}/close", w.page(admins, w.closeSettlements))
	m.Handle("POST /settlements/{period}/approve", w.page(admins, w.approveSettlement))
	m.Handle("GET /alerts", w.page(everyone, w.alertsPage))
	m.Handle("GET /webhooks", w.page(eventRoles(), w.webhooksPage))
	m.Handle("POST /webhooks", w.page(eventRoles(), w.createWebhook))
	m.Handle("GET /webhooks/{id}", w.page(eventRoles(), w.webhookPage))
	m.Handle("POST /webhooks/{id}", w.page(eventRoles(), w.updateWebhook))
	m.Handle("POST /webhooks/{id}/secret", w.page(eventRoles(), w.rotateWebhookSecret))
	m.Handle("POST /webhooks/{id}/delete", w.page(eventRoles(), w.deleteWebhook))
	m.Handle("GET /audit", w.page(everyone, w.auditPage))
	m.Handle("GET /audit.csv", w.page(everyone, w.auditCSV))
}

// opsNav are the console-ops entries of the staff navigation for v.
func opsNav(v *viewer) []navItem {
	var items []navItem
	if v.SeesEvents() {
		items = append(items, navItem{Href: "/events", Key: "console.nav.events"}, navItem{Href: "/settlements", Key: "console.nav.settlements"},
			navItem{Href: "/settings", Key: "console.nav.settings"})
	}
	items = append(items, navItem{Href: "/alerts", Key: "console.nav.alerts"})
	if v.SeesEvents() {
		items = append(items, navItem{Href: "/webhooks", Key: "console.nav.webhooks"}, navItem{Href: "/billing", Key: "billing.nav"})
	}
	return append(items, navItem{Href: "/audit", Key: "console.nav.audit"})
}

// opsPageSize is the rows of one page of a console list.
const opsPageSize = 50

// filterForm reads a list page's query: known parameters only, each
// checked; bad is the first fault, as a catalog key of the field.
type filterForm struct {
	v   url.Values
	loc *time.Location
	bad string // the field's label key ("" when every parameter is fine)
}

func newFilterForm(r *http.Request, loc *time.Location) *filterForm {
	return &filterForm{v: r.URL.Query(), loc: loc}
}

func (f *filterForm) fail(label string) {
	if f.bad == "" {
		f.bad = label
	}
}

// id reads an identifier parameter (a center, door or member id).
func (f *filterForm) id(name, label string) string {
	s := strings.TrimSpace(f.v.Get(name))
	if s != "" && protocol.ValidID(s) != nil {
		f.fail(label)
		return ""
	}
	return s
}

// text reads free text of at most n bytes without control characters.
func (f *filterForm) text(name, label string, n int) string {
	s := strings.TrimSpace(f.v.Get(name))
	if len(s) > n || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		f.fail(label)
		return ""
	}
	return s
}

// day reads a date (YYYY-MM-DD) in the network's time zone: its start, or
// with end the start of the next day (the day is included).
func (f *filterForm) day(name, label string, end bool) time.Time {
	s := strings.TrimSpace(f.v.Get(name))
	if s == "" {
		return time.Time{}
	}
	t, err := time.ParseInLocation("2006-01-02", s, f.loc)
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		f.fail(label)
		return time.Time{}
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// cursor reads the paging cursor (opaque, the store checks it).
func (f *filterForm) cursor() string {
	s := f.v.Get("after")
	if len(s) > 400 {
		f.fail("console.filter.page")
		return ""
	}
	return s
}

// filterErr is the refusal of a bad filter of page, naming the field in
// the viewer's language (logged by the error page, and counted).
func (w *Web) filterErr(r *http.Request, v *viewer, page string, f *filterForm) error {
	if f.bad == "" {
		return nil
	}
	w.opsRefused.With(page, f.bad).Inc()
	return pageErr(http.StatusBadRequest, "console.bad_filter", "field", w.locale(r, v).T(f.bad))
}

// centerScope narrows a list to the center asked for (checked against the
// viewer: a center they do not see is refused) or to every center they see
// (nil for an admin: all).
func centerScope(v *viewer, center string) ([]string, error) {
	if center == "" {
		return v.scope(), nil
	}
	if !v.Sees(center) {
		return nil, forbidden(center)
	}
	return []string{center}, nil
}

// nextLink is the URL of the next page: the same query with after set.
func nextLink(r *http.Request, path, next string) string {
	if next == "" {
		return ""
	}
	q := r.URL.Query()
	q.Set("after", next)
	return path + "?" + q.Encode()
}

// duration says d in words (days, hours, minutes) in the viewer's language.
func duration(loc i18n.Locale, d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, loc.T("console.dur.days", "n", days))
	}
	if hours > 0 {
		parts = append(parts, loc.T("console.dur.hours", "n", hours))
	}
	if mins > 0 || len(parts) == 0 {
		parts = append(parts, loc.T("console.dur.minutes", "n", mins))
	}
	return strings.Join(parts, " ")
}
