// Package web is the web layer that swc-central serves at /: today the
// dashboard, and the shared foundation of the staff console and the
// booking site (issues 15 and 16). Pages are server-rendered (html/template,
// embedded assets, no script or style from elsewhere), in French, Dutch and
// English (package web/i18n: one catalog, {{t "key"}} in templates), with one
// phone-first stylesheet (static/style.css) and one layout
// (templates/layout.html) whose navigation depends on the page's area.
//
// Sessions live in the store (store.SessionStore): they survive restarts,
// are shared by replicas, end when idle or at their absolute expiry, carry a
// CSRF token and the chosen language, and name their subject (a staff
// account, an admin's API token for the break-glass sign-in, or a member
// of the booking site). Staff sign in with e-mail, password and TOTP code
// (/login), an admin also with an API token (/login/token), members with
// an e-mail code or a passkey (/my/signin); every form carries the
// session's CSRF token; a
// manager sees only their center on every page and in every live event.
//
// Adding a page: a template templates/NAME.html defining "content" (added
// to pageNames), a handler func(rw, r, *viewer) error registered in routes
// through w.page(roles, h) that calls w.render(rw, r, status, "NAME", v,
// data), a "title.NAME" key and the page's keys in the three catalog files
// of web/i18n (TestTemplateKeys fails until every key exists), and, for
// navigation, an entry in navFor.
//
// Pages: the network overview (doors online, last event, outbox backlog,
// whitelist version lag), live events (server-sent events of taps and door
// alarms, reason codes in words), hours (credited hours per day as an SVG
// chart, the month's settlement with CSV download), door pages (status,
// recent events, signed remote commands) and member lookup (badges,
// bookings, passes, visits, statement); the staff console's screens that
// run a center (console.go: members, badges with learn mode, bookings
// calendar, who is in now, staff, places, CSV exports).
//
// The booking site (issue 15, site_*.go) is the members' side under
// SitePrefix, for a member's session: find a place (network or one center,
// each in its own time zone), a center's week, book once or every week,
// change, cancel, cancel a date range, my hours, my door refusals, and the
// private calendar feed (GET /my/calendar/{token}.ics, token-protected);
// booking e-mails with an .ics go through Config.Mail. The member API
// (MeAPIPrefix, site_api.go) offers the same as JSON on the member's
// session.
//
// The staff console's operations
// pages (console_ops.go: event search, network settings, the settlement
// workflow, alerts and webhooks, the audit log) register in opsRoutes.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/metrics"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the dashboard.
type Config struct {
	Store store.Store
	// Doors returns what the ingest knows of each door's connection
	// (ingest.Ingest.Doors); nil shows every door as unknown.
	Doors func() map[string]ingest.DoorState
	// Versions returns the whitelist version the compiler holds for a door
	// (whitelist.Compiler.Version); nil shows no version lag.
	Versions func(door string) (uint64, bool)
	// Commands sends remote door commands (the API's Commander); nil hides
	// the buttons.
	Commands *api.Commander
	// Hours gives settlements, statements and credited minutes per day;
	// nil shows that hours crediting is not available on this server.
	Hours Hours

	Logger   *slog.Logger
	Metrics  *metrics.Registry
	Now      func() time.Time
	Location *time.Location // time zone of the pages and periods; default the network's
	// SessionIdle and SessionMax bound a session: it ends after SessionIdle
	// without a request (default 30 min) and SessionMax after login
	// (default 12 h), and at once when its API token is deleted or its
	// staff account disabled.
	SessionIdle, SessionMax time.Duration
	// Lang is the language of a browser that names none of ours (default
	// English: neutral between Belgium's communities).
	Lang i18n.Lang
	// Booking is the booking site's service (default: one over Store, with
	// Now, Logger and Metrics).
	Booking *booking.Service
	// Mail queues the booking site's e-mails (nil: no relay, no e-mail);
	// MailFrom is the From address, also the organizer of their .ics.
	Mail     *mail.Outbox
	MailFrom string
	// Members signs members in on the booking site (e-mail codes and
	// passkeys, package accounts); nil: member sign-in is not available.
	Members *accounts.Members
	// Accounts signs staff in with e-mail, password and TOTP (package
	// accounts); nil leaves only the API-token sign-in, at /login.
	Accounts *accounts.Service
	// Webhooks is the rule webhook URLs follow (the API's: public https
	// hosts unless AllowInsecure).
	Webhooks alerts.WebhookPolicy
	// SecureCookies marks cookies Secure even on plain HTTP (the dashboard
	// behind a TLS proxy); over TLS they always are.
	SecureCookies bool
	// Billing issues invoices and payouts (billing.go); nil leaves the
	// billing pages without dry run, issue, void and payouts.
	Billing *billing.Service
	// TrustedProxies are the reverse proxies whose X-Forwarded-For gives
	// the client address the sign-in rate limits count (clientip.go);
	// none: the connection's peer.
	TrustedProxies TrustedProxies
}

// Web serves the dashboard. Close it before shutting the HTTP server down:
// live event streams end then.
type Web struct {
	cfg    Config
	st     store.Store
	log    *slog.Logger
	loc    *time.Location
	now    func() time.Time
	cat    *i18n.Catalog
	pages  map[i18n.Lang]map[string]*template.Template
	static http.Handler
	mux    *http.ServeMux
	hub    *hub
	last   *lastEvents
	learn  *learner // learn mode's unknown badges (console.go)

	logins *metrics.CounterVec
	// badNext counts login redirect targets refused by safeNext.
	badNext *metrics.Counter
	// opsRefused counts console-ops forms and filters refused, by page and field.
	opsRefused *metrics.CounterVec
	closeOne   sync.Once
	done       chan struct{}

	booking    *booking.Service
	noMail     sync.Once        // logs once that booking e-mails are off
	mailFailed *metrics.Counter // booking e-mails that could not be queued
}

// New returns the dashboard. It starts the worker that feeds live events;
// Close stops it.
func New(cfg Config) (*Web, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: a store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation(domain.NetworkTimeZone)
		if err != nil {
			return nil, fmt.Errorf("web: network time zone: %w", err)
		}
		cfg.Location = loc
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	if _, ok := i18n.Parse(string(cfg.Lang)); !ok {
		cfg.Lang = i18n.English
	}
	cat, err := i18n.New()
	if err != nil {
		return nil, err
	}
	w := &Web{cfg: cfg, cat: cat, st: cfg.Store, log: cfg.Logger.With("component", "web"), loc: cfg.Location, now: cfg.Now,
		mux: http.NewServeMux(), done: make(chan struct{})}
	pages, err := w.parseTemplates()
	if err != nil {
		return nil, err
	}
	w.pages = pages
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static assets: %w", err)
	}
	w.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	w.logins = cfg.Metrics.CounterVec("swc_web_logins_total", "Dashboard logins, by result (ok, refused).", "result")
	w.badNext = cfg.Metrics.Counter("swc_web_unsafe_redirects_total", "Login redirect targets refused as not plainly a path of this site (sent to / instead).")
	w.booking = cfg.Booking
	if w.booking == nil {
		w.booking = booking.New(cfg.Store, booking.Options{Now: cfg.Now, Logger: cfg.Logger, Metrics: cfg.Metrics})
	}
	w.mailFailed = cfg.Metrics.Counter("swc_web_booking_mail_failed_total", "Booking e-mails (confirmation, change, cancellation) that could not be queued.")
	w.opsRefused = cfg.Metrics.CounterVec("swc_web_console_refused_total", "Console forms and filters refused as invalid, by page and field.", "page", "field")
	w.last = newLastEvents()
	w.hub = newHub(w, cfg.Metrics)
	w.learn = newLearner()
	w.routes()
	return w, nil
}

// Close ends the live event streams and stops the live feed's worker.
func (w *Web) Close() {
	w.closeOne.Do(func() {
		close(w.done)
		w.hub.wait()
	})
}

// OnCommit receives the ingest's commits (subscribe it to the server's
// ingest.CommitFeed). It never blocks: the work is queued for a worker,
// and a commit that finds the queue full is dropped from the live view
// (counted) — it is stored all the same.
func (w *Web) OnCommit(receivedMs int64, batches []ingest.Batch) {
	w.learn.observe(receivedMs, batches)
	w.hub.offer(receivedMs, batches)
}

// handler serves a page for a logged-in viewer.
type handler func(rw http.ResponseWriter, r *http.Request, v *viewer) error

func (w *Web) routes() {
	m := w.mux
	m.HandleFunc("GET /login", w.staffLoginForm)
	m.HandleFunc("POST /login", w.staffLogin)
	w.staffRoutes()
	m.Handle("POST /logout", w.page(nil, w.logout))
	m.Handle("GET /static/", w.static)
	m.HandleFunc("GET /lang/{lang}", w.switchLang)
	m.Handle("GET /{$}", w.page(nil, w.overview))
	m.Handle("GET /live", w.page(eventRoles(), w.live))
	m.Handle("GET /live/stream", w.page(eventRoles(), w.stream))
	m.Handle("GET /hours", w.page(eventRoles(), w.hours))
	m.Handle("GET /hours/settlement.csv", w.page(eventRoles(), w.settlementCSV))
	m.Handle("GET /doors/{id}", w.page(nil, w.door))
	m.Handle("POST /doors/{id}/commands", w.page([]store.Role{store.RoleAdmin, store.RoleTechnician}, w.command))
	m.Handle("GET /members", w.page(eventRoles(), w.members))
	m.Handle("GET /members/{id}", w.page(eventRoles(), w.member))
	m.Handle("GET /members/{id}/statement.csv", w.page(eventRoles(), w.statementCSV))
	w.siteRoutes()
	w.memberSignInRoutes()
	w.opsRoutes()
	w.consoleRoutes()
	w.billingRoutes()
	m.Handle("/", w.page(nil, func(http.ResponseWriter, *http.Request, *viewer) error {
		return pageErr(http.StatusNotFound, "error.no_page")
	}))
}

// eventRoles may see events, hours and members: the cooperative and the
// center managers (technicians see doors only, as in the API).
func eventRoles() []store.Role { return []store.Role{store.RoleAdmin, store.RoleManager} }

// ServeHTTP implements http.Handler.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	w.mux.ServeHTTP(rw, r)
}

// pageError is an error shown to the viewer as a page with a status: a
// catalog key and its parameters.
type pageError struct {
	status int
	key    string
	args   []any
}

func pageErr(status int, key string, args ...any) *pageError {
	return &pageError{status: status, key: key, args: args}
}

func (e *pageError) Error() string { return fmt.Sprint(append([]any{e.key}, e.args...)...) }

// forbidden refuses a center the viewer named but does not see.
func forbidden(center string) error {
	return pageErr(http.StatusForbidden, "error.not_yours", "center", center)
}

// hidden is the answer about an existing object of a center the viewer
// does not see: exactly the answer about an id that does not exist (the
// store's not-found error), so that pages do not tell which ids exist in
// other centers. forbidden stays for centers the viewer names in a query,
// which is refused before anything is looked up.
func hidden(what, id string) error { return store.Errf(store.ErrNotFound, "", "%s %v", what, id) }

// page wraps a handler: a valid session is required (else the login page),
// the role must be one of roles (nil: any), POST forms must carry the
// session's CSRF token, and errors become error pages.
func (w *Web) page(roles []store.Role, h handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		defer func() {
			if x := recover(); x != nil {
				w.log.ErrorContext(r.Context(), "web: panic", "method", r.Method, "path", r.URL.Path, "panic", x)
				w.errorPage(rw, r, nil, pageErr(http.StatusInternalServerError, "error.internal"))
			}
		}()
		v, err := w.viewer(r)
		if err != nil {
			if errors.Is(err, errNoSession) {
				if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/stream") && !strings.HasSuffix(r.URL.Path, ".csv") {
					http.Redirect(rw, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				w.errorPage(rw, r, nil, pageErr(http.StatusUnauthorized, "error.session_ended"))
				return
			}
			w.errorPage(rw, r, nil, err)
			return
		}
		if v.Member != nil { // a member's session never opens a staff page
			if r.Method == http.MethodGet {
				http.Redirect(rw, r, SitePrefix, http.StatusSeeOther)
				return
			}
			w.errorPage(rw, r, v, pageErr(http.StatusForbidden, "error.staff_only"))
			return
		}
		api.SetCaller(r.Context(), v.Token)
		actor := api.TokenActor(r, v.Token) // who changes things, for the audit log
		if v.Account != nil {
			actor = staffActor(r, *v.Account)
		}
		r = r.WithContext(audit.WithActor(r.Context(), actor))
		if roles != nil && !containsRole(roles, v.Role) {
			w.errorPage(rw, r, v, pageErr(http.StatusForbidden, "error.role", "role", w.locale(r, v).T("role."+string(v.Role))))
			return
		}
		if r.Method == http.MethodPost {
			if err := w.checkCSRF(r, v); err != nil {
				w.errorPage(rw, r, v, err)
				return
			}
		}
		if err := h(rw, r, v); err != nil {
			w.errorPage(rw, r, v, err)
		}
	})
}

func containsRole(roles []store.Role, r store.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// errorPage renders err: page errors as they are, API errors with their
// status and message, anything else as a logged internal error.
func (w *Web) errorPage(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	loc := w.locale(r, v)
	status, msg := http.StatusInternalServerError, loc.T("error.internal")
	var pe *pageError
	switch {
	case errors.As(err, &pe):
		status, msg = pe.status, loc.T(pe.key, pe.args...)
	default:
		ae, internal := api.AsError(err)
		if internal {
			w.log.ErrorContext(r.Context(), "web: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			status, msg = ae.Status, ae.Message
		}
	}
	if status < 500 {
		w.log.WarnContext(r.Context(), "web: request refused", "method", r.Method, "path", r.URL.Path, "status", status, "message", msg)
	}
	key := fmt.Sprintf("status.%d", status)
	if !w.cat.Has(loc.Lang, key) {
		key = "status.other"
	}
	w.render(rw, r, status, "error", v, map[string]any{"Status": status, "StatusKey": key, "Message": msg})
}

func (w *Web) context(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}
