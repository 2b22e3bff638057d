// Package web is the dashboard that swc-central serves at /: server-rendered
// pages (html/template, embedded assets, no script from elsewhere) for the
// cooperative, center managers and technicians, behind the API's tokens and
// roles. A login form exchanges an API token for a session cookie; every
// form carries a CSRF token; a manager sees only their center on every page
// and in every live event.
//
// Pages: the network overview (doors online, last event, outbox backlog,
// whitelist version lag), live events (server-sent events of taps and door
// alarms, reason codes in words), hours (credited hours per day as an SVG
// chart, the month's settlement with CSV download), door pages (status,
// recent events, signed remote commands) and member lookup (badges,
// bookings, passes, visits, statement).
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

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
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
	// (default 12 h), and at once when its API token is deleted.
	SessionIdle, SessionMax time.Duration
	// SecureCookies marks cookies Secure even on plain HTTP (the dashboard
	// behind a TLS proxy); over TLS they always are.
	SecureCookies bool
}

// Web serves the dashboard. Close it before shutting the HTTP server down:
// live event streams end then.
type Web struct {
	cfg      Config
	st       store.Store
	log      *slog.Logger
	loc      *time.Location
	now      func() time.Time
	pages    map[string]*template.Template
	static   http.Handler
	mux      *http.ServeMux
	sessions *sessions
	hub      *hub
	last     *lastEvents

	logins *metrics.CounterVec
	// badNext counts login redirect targets refused by safeNext.
	badNext  *metrics.Counter
	closeOne sync.Once
	done     chan struct{}
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
	w := &Web{cfg: cfg, st: cfg.Store, log: cfg.Logger.With("component", "web"), loc: cfg.Location, now: cfg.Now,
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
	w.sessions = newSessions(cfg.SessionIdle, cfg.SessionMax, cfg.Now)
	w.logins = cfg.Metrics.CounterVec("swc_web_logins_total", "Dashboard logins, by result (ok, refused).", "result")
	w.badNext = cfg.Metrics.Counter("swc_web_unsafe_redirects_total", "Login redirect targets refused as not plainly a path of this site (sent to / instead).")
	w.last = newLastEvents()
	w.hub = newHub(w, cfg.Metrics)
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
func (w *Web) OnCommit(receivedMs int64, batches []ingest.Batch) { w.hub.offer(receivedMs, batches) }

// handler serves a page for a logged-in viewer.
type handler func(rw http.ResponseWriter, r *http.Request, v *viewer) error

func (w *Web) routes() {
	m := w.mux
	m.HandleFunc("GET /login", w.loginForm)
	m.HandleFunc("POST /login", w.login)
	m.Handle("POST /logout", w.page(nil, w.logout))
	m.Handle("GET /static/", w.static)
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
	m.Handle("/", w.page(nil, func(http.ResponseWriter, *http.Request, *viewer) error {
		return &pageError{status: http.StatusNotFound, msg: "There is no such page."}
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

// pageError is an error shown to the viewer as a page with a status.
type pageError struct {
	status int
	msg    string
}

func (e *pageError) Error() string { return e.msg }

func forbidden(what string) error {
	return &pageError{status: http.StatusForbidden, msg: what + " is not in your centers."}
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
				w.errorPage(rw, r, nil, &pageError{status: http.StatusInternalServerError, msg: "Something went wrong on our side; it was logged."})
			}
		}()
		v, err := w.viewer(r)
		if err != nil {
			if errors.Is(err, errNoSession) {
				if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/stream") && !strings.HasSuffix(r.URL.Path, ".csv") {
					http.Redirect(rw, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				w.errorPage(rw, r, nil, &pageError{status: http.StatusUnauthorized, msg: "Your session has ended; log in again."})
				return
			}
			w.errorPage(rw, r, nil, err)
			return
		}
		api.SetCaller(r.Context(), v.Token)
		r = r.WithContext(audit.WithActor(r.Context(), api.TokenActor(r, v.Token))) // who changes things, for the audit log
		if roles != nil && !containsRole(roles, v.Role) {
			w.errorPage(rw, r, v, &pageError{status: http.StatusForbidden, msg: "This page is not for the " + string(v.Role) + " role."})
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
	status, msg := http.StatusInternalServerError, "Something went wrong on our side; it was logged."
	var pe *pageError
	switch {
	case errors.As(err, &pe):
		status, msg = pe.status, pe.msg
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
	w.render(rw, r, status, "error", v, map[string]any{"Status": status, "StatusText": http.StatusText(status), "Message": msg})
}

// render writes a page. data is handed to the template as .Data, with the
// viewer as .Viewer.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, v *viewer, data any) {
	t, ok := w.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", pageData{Viewer: v, Data: data, Title: title(name), Now: w.now().In(w.loc), Path: r.URL.Path}); err != nil {
		w.log.ErrorContext(r.Context(), "web: render", "page", name, "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	_, _ = fmt.Fprint(rw, buf.String())
}

// pageData is what every template gets.
type pageData struct {
	Viewer *viewer
	Data   any
	Title  string
	Now    time.Time
	Path   string
}

// title is a page's title.
func title(page string) string {
	switch page {
	case "login":
		return "Log in"
	case "overview":
		return "Network"
	case "live":
		return "Live events"
	case "hours":
		return "Hours"
	case "door":
		return "Door"
	case "members":
		return "Members"
	case "member":
		return "Member"
	}
	return "Error"
}

func (w *Web) context(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}
