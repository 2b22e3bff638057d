// Package server wires the central service together for `swc-central serve`:
// the data folder, the store (SQLite inside it, or PostgreSQL), the signing
// key, the CA and the central's TLS certificate, the first admin token, the
// HTTP API (over HTTPS with --https) and metrics, the embedded MQTT broker
// (doors present certificates on its mutual-TLS listener; a per-door secret
// listener only when asked for) or a client of an external one, the
// whitelist compiler, the event ingest, door enrollment with certificate
// renewals over MQTT, and the hours crediting.
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/broker"
	"github.com/smartworkcenters/swc/central/cardkeys"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/keys"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/web"
	"github.com/smartworkcenters/swc/central/whitelist"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/sdnotify"
)

// Files in the data folder.
const (
	DBFile         = "swc.db"      // the SQLite database
	AdminTokenFile = "admin-token" // the first admin token, written once (0600)
)

// Config is what serve's flags set.
type Config struct {
	DataDir   string // data folder: key, admin token, SQLite database
	HTTPAddr  string // HTTP API listen address
	MQTTAddr  string // embedded broker listen address (unused with BrokerURL)
	BrokerURL string // mqtt://host:port or mqtts://host:port: an external broker instead of the embedded one
	DBURL     string // postgres://...: PostgreSQL instead of SQLite

	// With an external broker: the central's account there (a password
	// file, or a client certificate for mqtts://) and the CA to trust.
	BrokerUser         string // default ServiceUser
	BrokerPasswordFile string
	BrokerCA           string
	BrokerCert         string
	BrokerKey          string
	// MQTTServiceSecretFile, with the embedded broker, holds the service
	// account's secret (created, 0600, when missing) so that operators'
	// tools can connect as the central; without it the secret is random and
	// known only to this process.
	MQTTServiceSecretFile string
	// ShareGroup names the MQTT shared subscription the replicas split the
	// door traffic with (default "swc-ingest").
	ShareGroup string
	// DefaultRateCents (--rate-cents) seeds the network default rate of the
	// stored settings at the first start (0: settings.DefaultRateCents);
	// afterwards it must equal the stored rate (see ensureSettings).
	DefaultRateCents int64

	// Door identity and enrollment (see enroll.go).
	//
	// MQTTSAddr is the embedded broker's mutual-TLS listener, where doors
	// authenticate with their certificate ("" for none; MQTTAddr is then
	// the per-door-secret listener, an explicit alternative).
	MQTTSAddr string
	// MQTTConnectTimeout is how long the embedded broker gives an accepted
	// connection to complete its TLS handshake and send CONNECT before it
	// closes it (0: broker.DefaultConnectTimeout).
	MQTTConnectTimeout time.Duration
	// MQTTMaxConnecting caps, per listener of the embedded broker, the
	// connections that have not sent CONNECT yet (0:
	// broker.DefaultMaxConnecting).
	MQTTMaxConnecting int
	// Hosts are the DNS names and IP addresses on the central's TLS
	// certificates (API and broker); default: the host name, localhost,
	// 127.0.0.1 and ::1.
	Hosts []string
	// HTTPS serves the API over HTTPS with a certificate from the
	// central's CA (technicians pin it with the CA fingerprint).
	HTTPS bool
	// PublicURL is how technicians reach the API, for the provision
	// command shown with each enrollment token ("" derives it from the
	// request), and members the booking site: its host is the relying
	// party of members' passkeys ("": no passkeys).
	PublicURL string
	// PublicMQTT is the broker address given to doors at enrollment
	// (mqtts://host:port); "" derives it from MQTTSAddr and Hosts, or from
	// an external mqtts:// BrokerURL.
	PublicMQTT string
	// DoorCertValidity is the lifetime of door certificates (default
	// enroll.DoorValidity); doors renew them over MQTT.
	DoorCertValidity time.Duration

	// Mail is the SMTP relay (see mail.go); the zero value disables mail.
	Mail mail.Config
	// Alerts tunes the door alerts (see alerts.go); their thresholds are
	// the stored network settings.
	Alerts AlertsConfig
	// ReleaseEvery is how often the release of room no-shows looks for
	// bookings due (booking.DefaultReleaseEvery when 0).
	ReleaseEvery time.Duration
	// PasswordParams are the staff passwords' argon2id costs (zero:
	// accounts.DefaultParams; tests use accounts.TestParams).
	PasswordParams accounts.PasswordParams
	// TrustedProxies (--trusted-proxies) are the reverse proxies whose
	// X-Forwarded-For gives the client address of the sign-in rate limits.
	TrustedProxies web.TrustedProxies

	Logger *slog.Logger // default: slog.Default()
	Out    io.Writer    // where serve tells the operator things (the first token); default os.Stdout

	// PprofAddr, when set (--pprof), serves Go's runtime profiles there: a
	// loopback address only (see pprof.go).
	PprofAddr string
}

// Check validates the configuration.
func (c *Config) Check() error {
	if c.DataDir == "" {
		return errors.New("--data: a data folder is required")
	}
	if err := checkPprof(c.PprofAddr); err != nil {
		return err
	}
	if c.HTTPAddr == "" {
		return errors.New("--http: a listen address is required")
	}
	if c.BrokerURL != "" {
		u, err := url.Parse(c.BrokerURL)
		if err != nil || (u.Scheme != "mqtt" && u.Scheme != "mqtts") || u.Host == "" {
			return fmt.Errorf("--broker %q: want mqtt://host:port or mqtts://host:port", c.BrokerURL)
		}
	} else if c.MQTTAddr == "" && c.MQTTSAddr == "" {
		return errors.New("--mqtts (or --mqtt): the embedded broker needs a listen address (or give --broker)")
	}
	if c.PublicMQTT != "" {
		u, err := url.Parse(c.PublicMQTT)
		if err != nil || (u.Scheme != "mqtts" && u.Scheme != "ssl") || u.Hostname() == "" || u.Port() == "" {
			return fmt.Errorf("--public-mqtt %q: want mqtts://host:port, the address doors reach the broker at", c.PublicMQTT)
		}
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--public-url %q: want https://host[:port], the address technicians reach the API at", c.PublicURL)
		}
	}
	if c.DoorCertValidity != 0 && (c.DoorCertValidity < time.Hour || c.DoorCertValidity > 365*24*time.Hour) {
		return fmt.Errorf("--door-cert-validity %v: want 1h to 8760h", c.DoorCertValidity)
	}
	if c.MQTTConnectTimeout < 0 || c.MQTTConnectTimeout > broker.MaxConnectTimeout {
		return fmt.Errorf("--mqtt-connect-timeout %v: want more than 0 and at most %v", c.MQTTConnectTimeout, broker.MaxConnectTimeout)
	}
	if c.MQTTMaxConnecting < 0 {
		return fmt.Errorf("--mqtt-max-connecting %d: want more than 0", c.MQTTMaxConnecting)
	}
	if c.DefaultRateCents < 0 {
		return fmt.Errorf("--rate-cents %d: want the network hourly rate in cents, more than 0", c.DefaultRateCents)
	}
	if c.DBURL != "" {
		u, err := url.Parse(c.DBURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("--db: want a postgres:// URL")
		}
	}
	return c.checkMail()
}

// Server is a running central service.
type Server struct {
	cfg     Config
	log     *slog.Logger
	Store   store.Store
	Changes *store.Feed // every committed domain change; the compiler subscribes
	Key     ed25519.PrivateKey
	Signer  *protocol.Signer
	Metrics *metrics.Registry
	// CardKeys are the card master keys (secure badges' door keys in the
	// whitelists, the personalisation endpoint).
	CardKeys *cardkeys.Ring

	compiler  atomic.Pointer[whitelist.Compiler] // see Whitelist
	wlMetrics *whitelist.MetricSet               // shared by the compilers this process builds
	statesMu  sync.Mutex                         // guards states, read from the store by followers
	states    map[string]uint64
	statesAt  time.Time
	Ingest    *ingest.Ingest
	Broker    *broker.Broker // nil with an external broker
	// Committed hands every ingest commit to its subscribers (the
	// dashboard's live events; the hours ledger).
	Committed *ingest.CommitFeed
	Commands  *api.Commander   // remote door commands, for the API and the dashboard
	Alerts    *alerts.Engine   // door health and alerts (alerts.go)
	Webhooks  *alerts.Webhooks // the alerts' webhook notifier
	Web       *web.Web
	// Accounts are the staff accounts (staffaccounts.go).
	Accounts *accounts.Service

	CA     *enroll.CA      // the central's CA (ca.pem, ca-key.pem in the data folder)
	Enroll *enroll.Service // nil when no broker address for doors is known
	certs  *enroll.Certs   // the TLS server certificate of the API and the broker

	// Credit is the hours ledger: settlements, statements, closes (the API
	// and the dashboard read it).
	Credit *posting.Service
	// leadingCredit is 1 while this replica is the crediting leader.
	leadingCredit *metrics.Gauge
	// Mail is the e-mail outbox (nil when no SMTP relay is configured).
	Mail *mail.Outbox
	// Booking is the booking service of the API and the site; it checks
	// bookings in and releases room no-shows (checkin.go).
	Booking *booking.Service
	// Billing issues invoices and payouts for the API and the console
	// (billing.go).
	Billing *billing.Service

	httpLn  net.Listener
	httpSrv *http.Server
	httpErr chan error
	stops   []stopStep // run in reverse order on Shutdown (see Shutdown)
}

// Start brings the service up: it returns once every listener is open.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	started := time.Now()
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, Changes: &store.Feed{}, Committed: &ingest.CommitFeed{}, Metrics: metrics.NewRegistry(), httpErr: make(chan error, 1)}
	s.wlMetrics = whitelist.NewMetricSet(s.Metrics)
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.cfg.Out == nil {
		s.cfg.Out = os.Stdout
	}
	defer func() {
		if err != nil {
			_ = s.Shutdown(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	key, created, err := keys.LoadOrCreate(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.Key, s.Signer = key, protocol.NewSigner(key)
	pub := protocol.FormatPublicKey(s.Signer.PublicKey())
	if created {
		s.log.Info("serve: created the signing key", "path", filepath.Join(cfg.DataDir, keys.FileName), "key_id", s.Signer.KeyID(), "public_key", pub)
	} else {
		s.log.Info("serve: signing key loaded", "key_id", s.Signer.KeyID(), "public_key", pub)
	}
	ring, created, err := cardkeys.LoadOrCreate(cfg.DataDir, time.Now())
	if err != nil {
		return nil, err
	}
	s.CardKeys = ring
	if created {
		s.log.Info("serve: created the card master key", "path", filepath.Join(cfg.DataDir, cardkeys.FileName), "key_version", ring.Current())
	} else {
		s.log.Info("serve: card master keys loaded", "current_version", ring.Current(), "versions", len(ring.Versions()))
	}

	if lim := debug.SetMemoryLimit(-1); lim != math.MaxInt64 {
		s.log.Info("serve: soft memory limit (GOMEMLIMIT)", "mib", lim>>20)
	}
	// Each step logs how long it took ("serve: started what= took="), as
	// Shutdown's steps do: a restart's time is the sum of both.
	steps := []struct {
		what string
		fn   func() error
	}{
		{"pprof", s.startPprof},
		{"store", func() error { return s.openStore(ctx) }},
		{"first admin token", func() error { return s.firstAdminToken(ctx) }},
		{"mail outbox", s.startMail},
		{"settings", func() error { return s.ensureSettings(ctx) }},
		// Before the ingest: it hands every commit to the crediting, which
		// stops after it.
		{"crediting", s.startCrediting},
		{"door certificate authority", s.loadCA},
		{"alerts", func() error { s.startAlerts(); return nil }},
		{"booking check-ins and releases", func() error { s.startBooking(); return nil }},
		{"billing", func() error { s.startBilling(); return nil }},
		{"whitelists, broker and ingest", func() error { return s.startMessaging(ctx) }},
		{"web", s.startDashboard},
		{"http", s.startHTTP},
	}
	for _, st := range steps {
		begin := time.Now()
		if err := st.fn(); err != nil {
			return nil, err
		}
		s.log.Info("serve: started", "what", st.what, "took", time.Since(begin).Round(time.Millisecond))
	}
	s.log.Info("serve: started", "took", time.Since(started).Round(time.Millisecond))
	return s, nil
}

func (s *Server) openStore(ctx context.Context) error {
	opts := store.Options{Notify: s.Changes.Notify, NotifyAll: s.Changes.NotifyAll}
	if s.cfg.DBURL != "" {
		st, err := postgres.Open(ctx, s.cfg.DBURL, opts)
		if err != nil {
			return err
		}
		s.Store = st
		s.log.Info("serve: store is PostgreSQL", "url", redact(s.cfg.DBURL))
	} else {
		path := filepath.Join(s.cfg.DataDir, DBFile)
		st, err := sqlite.Open(ctx, path, sqlite.Options{Options: opts})
		if err != nil {
			return err
		}
		s.Store = st
		s.log.Info("serve: store is SQLite", "path", path)
	}
	s.onStop("store", func(context.Context) error { return s.Store.Close() })
	return nil
}

// firstAdminToken creates an admin token when the store has none, and
// writes its secret to a 0600 file in the data folder (never a default
// password). The file is written before the token is stored, so a failure
// between the two leaves no token that nobody can use.
func (s *Server) firstAdminToken(ctx context.Context) error {
	n, err := s.Store.CountTokens(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	secret := store.NewSecret(api.TokenPrefix)
	path := filepath.Join(s.cfg.DataDir, AdminTokenFile)
	if err := writeSecretFile(path, secret+"\n"); err != nil {
		return fmt.Errorf("first admin token: %w", err)
	}
	tk := store.Token{ID: api.NewTokenID(), Name: "first admin (created by serve)", Role: store.RoleAdmin, CreatedMs: time.Now().UnixMilli()}
	if err := s.Store.CreateToken(audit.WithSystem(ctx, "serve"), tk, secret); err != nil {
		return fmt.Errorf("first admin token: %w", err)
	}
	fmt.Fprintf(s.cfg.Out, "swc-central: the first admin API token is in %s (readable by this user only).\n"+
		"Use it as 'Authorization: Bearer <token>', create your own tokens with POST /api/v1/tokens, then delete this one.\n", path)
	s.log.Info("serve: first admin token written", "path", path, "token_id", tk.ID)
	return nil
}

func writeSecretFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // an older file may have had another mode
		f.Close()
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *Server) startHTTP() error {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", s.cfg.HTTPAddr, err)
	}
	if s.cfg.HTTPS {
		ln = tls.NewListener(ln, s.certs.TLSConfig())
	}
	s.httpLn = ln
	mux := http.NewServeMux()
	mux.Handle(api.Prefix+"/", api.New(api.Config{Store: s.Store, Logger: s.log, Metrics: s.Metrics, Commands: s.Commands,
		Enroll: s.Enroll, PublicURL: s.cfg.PublicURL, Credit: s.Credit, Booking: s.Booking, ReservedIDs: []string{s.cfg.BrokerUser, s.cfg.ShareGroup},
		Webhooks: alerts.WebhookPolicy{AllowInsecure: s.cfg.Alerts.WebhookAllowInsecure}, Accounts: s.Accounts, CardKeys: s.CardKeys,
		Billing: s.Billing}))
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Store.CountTokens(r.Context()); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/", s.Web)             // the dashboard
	mux.Handle(web.MeAPIPrefix, s.Web) // the member-facing API: the member's session, served by the web layer
	mux.Handle(web.MeAPIPrefix+"/", s.Web)
	s.httpSrv = &http.Server{
		Handler:           api.LogRequests(s.log, mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // bulk imports
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		err := s.httpSrv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.httpErr <- err
	}()
	// Live event streams end when Shutdown starts, so that it does not
	// wait for them.
	s.httpSrv.RegisterOnShutdown(s.Web.Close)
	s.onStop("http", func(ctx context.Context) error { return s.httpSrv.Shutdown(ctx) })
	s.log.Info("serve: HTTP API listening", "addr", ln.Addr().String(), "https", s.cfg.HTTPS, "openapi", s.apiScheme()+"://"+ln.Addr().String()+api.Prefix+"/openapi.json")
	return nil
}

// HTTPAddr is the address the API listens on.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// stopStep is one part of the service to stop at Shutdown.
type stopStep struct {
	what string
	fn   func(context.Context) error
	// beside: the steps next to each other that have it stop side by
	// side (the consumers of the ingest's commits, each draining or
	// flushing its own work, once the ingest stopped; and the embedded
	// broker's close of the doors' connections, which waits for none of
	// them).
	beside bool
}

// onStop adds a step to Shutdown, run after the steps added later.
func (s *Server) onStop(what string, fn func(context.Context) error) {
	s.stops = append(s.stops, stopStep{what: what, fn: fn})
}

// onStopBeside adds a step that stops at the same time as the steps next
// to it added with onStopBeside.
func (s *Server) onStopBeside(what string, fn func(context.Context) error) {
	s.stops = append(s.stops, stopStep{what: what, fn: fn, beside: true})
}

// Shutdown stops everything, last started first, and logs how long each
// step took. Steps added with onStopBeside next to each other run side by
// side: a restart waits for the slowest of them, not for their sum. Each
// of those is bounded by ctx (closeWithin): one that does not finish in
// time is left to the process exit, and what it did not finish is taken
// over by the next start (the crediting recovers what an unclean stop
// left, the check-in cursor is taken over).
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, group := range stopGroups(s.stops) {
		if len(group) == 1 && !group[0].beside {
			errs = append(errs, s.runStop(ctx, group[0]))
			continue
		}
		var wg sync.WaitGroup
		gerrs := make([]error, len(group))
		for k, st := range group {
			wg.Go(func() { gerrs[k] = closeWithin(ctx, st.what, func() error { return s.runStop(ctx, st) }) })
		}
		wg.Wait()
		errs = append(errs, gerrs...)
	}
	s.stops = nil
	return errors.Join(errs...)
}

// stopGroups splits the steps, last added first, into what Shutdown runs
// one after the other: a step alone, or steps added with onStopBeside next
// to each other.
func stopGroups(stops []stopStep) [][]stopStep {
	var groups [][]stopStep
	for i := len(stops) - 1; i >= 0; {
		j := i
		for j > 0 && stops[i].beside && stops[j-1].beside {
			j--
		}
		groups = append(groups, stops[j:i+1])
		i = j - 1
	}
	return groups
}

// runStop runs one step and logs how long it took.
func (s *Server) runStop(ctx context.Context, st stopStep) error {
	begin := time.Now()
	err := st.fn(ctx)
	s.log.Info("serve: stopped", "what", st.what, "took", time.Since(begin).Round(time.Millisecond), "err", err)
	return err
}

// closeWithin runs closeFn and waits for it until ctx ends, or at most
// closeBound when ctx has no deadline. A close that does not finish in time
// (the embedded broker waiting on thousands of clients, or a close that
// hangs as mochi v2.7.9's listener close could, see central/broker's
// listener.Close) is left to the process
// exit, which drops the connections anyway, so that the shutdown stays
// within its timeout and the service restarts.
func closeWithin(ctx context.Context, what string, closeFn func() error) error {
	return closeWithinOr(ctx, closeBound, what, closeFn)
}

// closeBound bounds a close whose context has no deadline.
const closeBound = 30 * time.Second

func closeWithinOr(ctx context.Context, bound time.Duration, what string, closeFn func() error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, bound)
		defer cancel()
	}
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: close did not finish within the shutdown timeout: %w", what, ctx.Err())
	}
}

// Run starts the service and serves until ctx ends or a listener fails.
func Run(ctx context.Context, cfg Config) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	// Under systemd (Type=notify, WatchdogSec=): ready once every listener
	// is up; keep-alives while the store answers (not the broker: an
	// external Mosquitto that is down is waited for, not a reason to
	// restart the central).
	sd, err := sdnotify.FromEnv()
	if err != nil {
		s.log.Warn("serve: systemd notification settings ignored", "err", err)
	}
	kctx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	go sd.KeepAlive(kctx, func(ctx context.Context) error { _, err := s.Store.CountTokens(ctx); return err }, s.log)
	if err := sd.Ready(); err != nil {
		s.log.Warn("serve: telling systemd the central is ready failed", "err", err)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-s.httpErr:
		runErr = fmt.Errorf("http: %w", runErr)
	}
	stopKeepAlive()
	_ = sd.Stopping()
	s.log.Info("serve: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return errors.Join(runErr, s.Shutdown(sctx))
}

// PublicKey returns the signing key's public half as doors pin it, creating
// the key in dataDir when there is none yet.
func PublicKey(dataDir string) (string, error) {
	key, _, err := keys.LoadOrCreate(dataDir)
	if err != nil {
		return "", err
	}
	return protocol.FormatPublicKey(key.Public().(ed25519.PublicKey)), nil
}

// redact hides a URL's password for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return strings.TrimSpace(u.Redacted())
}
