// Package api is the central service's HTTP API: JSON under /api/v1, bearer
// tokens with roles (admin, center manager, technician), CRUD for the domain,
// the bulk import of bookings, the events query, door broker secrets, door
// enrollment (one-time tokens and the public enroll endpoint), token
// management, and the hours: settlements, member statements and period
// closes (one period, or every open period up to one in one call) and
// approvals, and the booking site's endpoints over central/booking
// (booking.go). Its OpenAPI document is served at /api/v1/openapi.json
// and a test keeps it and the routes in step.
package api

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// Default request body limits.
const (
	DefaultMaxBody       = 1 << 20  // one object
	DefaultMaxImportBody = 64 << 20 // a bulk import of bookings
	MaxImportRows        = 200_000
)

//go:embed openapi.json
var openAPI []byte

// Config configures the API.
type Config struct {
	Store   store.Store
	Logger  *slog.Logger      // default: slog.Default()
	Metrics *metrics.Registry // optional: request and reject counters
	Now     func() time.Time  // default: time.Now
	// MaxBody and MaxImportBody bound request bodies in bytes.
	MaxBody, MaxImportBody int64
	// Credit serves settlements, statements and closes (nil: those
	// endpoints answer 503 crediting_unavailable).
	Credit Credit
	// Commands sends remote door commands; nil answers 503 there.
	Commands *Commander
	// Enroll, when set, serves door enrollment (tokens and the public
	// enroll endpoint); without it those endpoints answer 503.
	Enroll *enroll.Service
	// PublicURL is where technicians reach this API, for the provision
	// command shown with each enrollment token ("" derives it from the
	// request).
	PublicURL string
	// ReservedIDs are names a door id may not be nor start with, besides
	// DefaultReservedIDs: the MQTT user and shared-subscription group this
	// central is configured with (see reserved.go).
	ReservedIDs []string
	// Webhooks says which webhook URLs are accepted (alerts.WebhookPolicy:
	// https to a public host unless AllowInsecure).
	Webhooks alerts.WebhookPolicy
	// Booking serves the booking site's endpoints (booking.go); nil makes
	// one over Store.
	Booking *booking.Service
	// Accounts serves the staff accounts (accounts.go); nil answers 503.
	Accounts *accounts.Service
	// CardKeys serves the personalisation of secure badges
	// (personalisation.go); nil answers 503.
	CardKeys CardKeyRing
	// Billing issues invoices and payouts (billing.go); nil answers 503
	// there (prices, details and documents are served from Store).
	Billing *billing.Service
}

// Server serves the API.
type Server struct {
	st      store.Store
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
	maxImp  int64
	mux     *http.ServeMux
	routes  []route
	rejects *metrics.CounterVec
	reqs    *metrics.CounterVec
	cr      Credit
	cmds    *Commander

	enroll    *enroll.Service
	publicURL string
	reserved  []string // door ids may not start with these (reserved.go)
	webhooks  alerts.WebhookPolicy
	bk        *booking.Service
	accounts  *accounts.Service
	cardKeys  CardKeyRing
	billing   *billing.Service
}

// handler serves one route for an authenticated caller.
type handler func(w http.ResponseWriter, r *http.Request, p *principal) error

// route is one entry of the route table.
type route struct {
	method, path string       // path below Prefix, in Go 1.22 pattern (and OpenAPI) syntax
	roles        []store.Role // who may call it at all; nil: public
	h            handler
}

// table is the one place routes are registered. Later endpoints
// (settlements, statements, enrollment, commands) are added here.
func (s *Server) table() []route {
	var (
		all      = []store.Role{store.RoleAdmin, store.RoleManager, store.RoleTechnician}
		managers = []store.Role{store.RoleAdmin, store.RoleManager}
		admins   = []store.Role{store.RoleAdmin}
		doorRole = all // technicians work on doors
		// remote commands: admins and technicians (of the door's center)
		commanders = []store.Role{store.RoleAdmin, store.RoleTechnician}
		// technicians enroll badges of their centers' members and see and
		// revoke those they added (badges.go)
		badgeRole = all
	)
	return []route{
		{"GET", "/openapi.json", nil, s.openapi},
		{"GET", "/whoami", all, s.whoami},

		{"GET", "/centers", all, s.listCenters},
		{"POST", "/centers", admins, s.createCenter},
		{"GET", "/centers/{id}", all, s.getCenter},
		{"PUT", "/centers/{id}", admins, s.updateCenter},
		{"DELETE", "/centers/{id}", admins, s.deleteCenter},

		{"GET", "/rooms", all, s.listRooms},
		{"POST", "/rooms", managers, s.createRoom},
		{"GET", "/rooms/{id}", all, s.getRoom},
		{"PUT", "/rooms/{id}", managers, s.updateRoom},
		{"DELETE", "/rooms/{id}", managers, s.deleteRoom},

		{"GET", "/doors", doorRole, s.listDoors},
		{"POST", "/doors", managers, s.createDoor},
		{"GET", "/doors/{id}", doorRole, s.getDoor},
		{"PUT", "/doors/{id}", doorRole, s.updateDoor},
		{"DELETE", "/doors/{id}", managers, s.deleteDoor},
		{"POST", "/doors/{id}/secret", doorRole, s.rotateDoorSecret},
		{"POST", "/doors/{id}/enrollments", doorRole, s.createEnrollment},
		{"POST", "/enroll", nil, s.enrollDoor},
		{"GET", "/doors/{id}/sequence", managers, s.doorSequence},
		{"POST", "/doors/{id}/commands", commanders, s.sendCommand},
		{"GET", "/doors/{id}/commands", doorRole, s.listDoorCommands},
		{"GET", "/doors/{id}/state", doorRole, s.doorState},
		{"GET", "/alerts", all, s.listAlerts},
		{"GET", "/alerts/{id}", all, s.getAlert},
		{"GET", "/webhooks", managers, s.listWebhooks},
		{"POST", "/webhooks", managers, s.createWebhook},
		{"GET", "/webhooks/{id}", managers, s.getWebhook},
		{"PUT", "/webhooks/{id}", managers, s.updateWebhook},
		{"DELETE", "/webhooks/{id}", managers, s.deleteWebhook},
		{"GET", "/webhooks/{id}/deliveries", managers, s.listDeliveries},

		{"GET", "/members", managers, s.listMembers},
		{"POST", "/members", managers, s.createMember},
		{"GET", "/members/{id}", managers, s.getMember},
		{"PUT", "/members/{id}", managers, s.updateMember},
		{"DELETE", "/members/{id}", managers, s.deleteMember},

		{"GET", "/badges", badgeRole, s.listBadges},
		{"POST", "/badges", badgeRole, s.createBadge}, // technicians enroll badges (swc-edge enroll-badge)
		{"GET", "/badges/{uid}", badgeRole, s.getBadge},
		{"PUT", "/badges/{uid}", badgeRole, s.updateBadge},
		{"DELETE", "/badges/{uid}", badgeRole, s.deleteBadge},
		{"POST", "/badges/{uid}/personalisation", commanders, s.personalise}, // technicians' stations (swc-edge enroll-badge --secure)
		{"PUT", "/badges/{uid}/credential", commanders, s.setCredential},

		{"GET", "/bookings", managers, s.listBookings},
		{"POST", "/bookings", managers, s.createBooking},
		{"POST", "/bookings/import", managers, s.importBookings},
		{"POST", "/import", admins, s.importBundle}, // onboarding.go
		{"GET", "/bookings/{id}", managers, s.getBooking},
		{"GET", "/bookings/{id}/check-in", managers, s.getCheckIn},
		{"PUT", "/bookings/{id}", managers, s.updateBooking},
		{"DELETE", "/bookings/{id}", managers, s.deleteBooking},

		{"GET", "/passes", managers, s.listPasses},
		{"POST", "/passes", admins, s.createPass},
		{"GET", "/passes/{id}", managers, s.getPass},
		{"PUT", "/passes/{id}", admins, s.updatePass},
		{"DELETE", "/passes/{id}", admins, s.deletePass},

		{"GET", "/staff", managers, s.listStaff},
		{"POST", "/staff", managers, s.addStaff},
		{"DELETE", "/staff/{member_id}", managers, s.removeStaff},

		{"GET", "/events", managers, s.listEvents},

		{"GET", "/settlements/{period}", managers, s.getSettlement},
		{"GET", "/members/{id}/statement", managers, s.getStatement},
		{"POST", "/periods/{period}/close", admins, s.closePeriod},
		{"POST", "/periods/{period}/close-through", admins, s.closeThrough},
		{"POST", "/periods/{period}/approve", admins, s.approvePeriod},
		{"GET", "/periods/{period}/approval", managers, s.getApproval},

		{"GET", "/settings", managers, s.getSettings},
		{"PUT", "/settings", admins, s.putSettings},
		{"GET", "/settings/history", managers, s.settingsHistory},
		// the booking site (booking.go)
		{"GET", "/availability", managers, s.availability},
		{"GET", "/centers/{id}/week", managers, s.centerWeek},
		{"GET", "/members/{id}/bookings", managers, s.memberBookings},
		{"POST", "/members/{id}/bookings", managers, s.memberBook},
		{"POST", "/members/{id}/bookings/recurring", managers, s.memberBookRecurring},
		{"POST", "/members/{id}/bookings/cancel-range", managers, s.memberCancelRange},
		{"PUT", "/members/{id}/bookings/{booking_id}", managers, s.memberChange},
		{"POST", "/members/{id}/bookings/{booking_id}/cancel", managers, s.memberCancel},
		{"GET", "/centers/{id}/places", managers, s.getPlaces},
		{"PUT", "/centers/{id}/desks", managers, s.putDesks},
		{"DELETE", "/centers/{id}/desks", managers, s.deleteDesks},
		{"GET", "/centers/{id}/booking-rules", managers, s.getRules},
		{"PUT", "/centers/{id}/booking-rules", managers, s.putRules},
		{"DELETE", "/centers/{id}/booking-rules", managers, s.deleteRules},
		{"GET", "/booking-rules", managers, s.getRules},
		{"PUT", "/booking-rules", admins, s.putRules},
		{"DELETE", "/booking-rules", admins, s.deleteRules},

		{"GET", "/tokens", admins, s.listTokens},
		{"POST", "/tokens", admins, s.createToken},
		{"DELETE", "/tokens/{id}", admins, s.deleteToken},

		{"GET", "/audit", all, s.listAudit}, // technicians: their own actions (audit.go)
		{"GET", "/audit.csv", all, s.exportAudit},
	}
}

// New returns the API server.
func New(cfg Config) *Server {
	s := &Server{st: cfg.Store, log: cfg.Logger, now: cfg.Now, maxBody: cfg.MaxBody, maxImp: cfg.MaxImportBody, mux: http.NewServeMux(), cmds: cfg.Commands,
		enroll: cfg.Enroll, publicURL: cfg.PublicURL, cr: cfg.Credit, reserved: append(DefaultReservedIDs(), cfg.ReservedIDs...), webhooks: cfg.Webhooks}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.maxImp <= 0 {
		s.maxImp = DefaultMaxImportBody
	}
	if s.bk = cfg.Booking; s.bk == nil {
		s.bk = booking.New(cfg.Store, booking.Options{Now: s.now, Logger: s.log, Metrics: cfg.Metrics})
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	s.rejects = reg.CounterVec("swc_api_rejects_total", "API requests refused, by error code.", "code")
	s.reqs = reg.CounterVec("swc_api_requests_total", "API requests, by method and status class.", "method", "class")
	s.accounts = cfg.Accounts
	s.cardKeys = cfg.CardKeys
	s.routes = append(s.table(), s.accountRoutes()...)
	s.billing = cfg.Billing
	s.routes = append(s.routes, s.billingRoutes()...)
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+Prefix+rt.path, s.wrap(rt))
	}
	// Everything else under the prefix gets a JSON 405 or 404.
	s.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, nil, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Message: r.Method + " is not allowed here; use " + strings.Join(allow, " or ")})
			return
		}
		s.fail(w, r, nil, errNotFound("no such endpoint"))
	})
	return s
}

// allowed lists the methods routed for the request's path.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := s.mux.Handler(r2); strings.HasPrefix(pattern, m+" ") {
			out = append(out, m)
		}
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	s.mux.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	s.reqs.With(r.Method, fmt.Sprintf("%dxx", sw.status/100)).Inc()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Route is a registered route, for documentation checks.
type Route struct{ Method, Path string }

// Routes lists the registered routes (paths below Prefix).
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes))
	for i, rt := range s.routes {
		out[i] = Route{rt.method, rt.path}
	}
	return out
}

// OpenAPI returns the OpenAPI document.
func OpenAPI() []byte { return slices.Clone(openAPI) }

// principal is the authenticated caller.
type principal struct {
	store.Token
}

func (p *principal) admin() bool { return p.Role == store.RoleAdmin }

// in reports whether the caller may act on center c.
func (p *principal) in(c string) bool {
	return p.admin() || (c != "" && slices.Contains(p.Centers, c))
}

// scope is the list of centers the caller sees (nil: all).
func (p *principal) scope() []string {
	if p.admin() {
		return nil
	}
	return p.Centers
}

func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			// A bug must not take the connection down or show a stack
			// trace: log it, answer 500.
			if v := recover(); v != nil {
				s.fail(w, r, nil, fmt.Errorf("panic in %s %s: %v", rt.method, rt.path, v))
			}
		}()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		var p *principal
		if rt.roles != nil {
			var err error
			if p, err = s.authenticate(r); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="swc"`)
				s.fail(w, r, nil, err)
				return
			}
			SetCaller(r.Context(), p.Token)
			r = r.WithContext(audit.WithActor(r.Context(), TokenActor(r, p.Token)))
			if !slices.Contains(rt.roles, p.Role) {
				s.fail(w, r, p, errForbidden("the %s role may not call %s %s", p.Role, rt.method, rt.path))
				return
			}
		}
		if err := rt.h(w, r, p); err != nil {
			s.fail(w, r, p, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (*principal, error) {
	// The scheme is case-insensitive (RFC 9110 11.1): "bearer" is Bearer.
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimLeft(secret, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "an Authorization: Bearer token is required"}
	}
	tk, err := Authenticate(r.Context(), s.st, secret)
	if err != nil {
		return nil, err
	}
	return &principal{tk}, nil
}

// Authenticate returns the token whose secret this is: the API's bearer
// authentication, which the dashboard's login uses too. An unknown or
// revoked secret is an unauthorized *Error.
func Authenticate(ctx context.Context, st store.Store, secret string) (store.Token, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return store.Token{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "a token is required"}
	}
	tk, err := st.AuthenticateToken(ctx, secret)
	if errors.Is(err, store.ErrBadCredentials) {
		return store.Token{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "unknown or revoked token"}
	}
	if err != nil {
		return store.Token{}, err
	}
	return tk, nil
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ *principal) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, p *principal) error {
	return writeJSON(w, http.StatusOK, p.Token)
}
