package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/broker"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/whitelist"
)

// ServiceUser is the central's own account on the broker.
const ServiceUser = "swc-central"

// DefaultShareGroup is the shared subscription group of the central replicas.
const DefaultShareGroup = "swc-ingest"

// tickEvery is how often the compiler rolls its horizon.
const tickEvery = 30 * time.Second

// Whitelist returns the whitelist compiler of this replica, or nil when
// another replica is the whitelist leader (scale-out mode).
func (s *Server) Whitelist() *whitelist.Compiler { return s.compiler.Load() }

// newCompiler loads the network from the store into a new compiler.
//
// It logs how long loading and compiling took ("serve: whitelists loaded
// and compiled", took= the sum): the start-up compile that the fleet
// simulator reports beside PRODUCT.md's target.
func (s *Server) newCompiler(ctx context.Context) (*whitelist.Compiler, error) {
	begin := time.Now()
	in, err := loadInput(ctx, s.Store, begin)
	if err != nil {
		return nil, fmt.Errorf("whitelist: loading the network: %w", err)
	}
	horizon, err := s.whitelistHorizon(ctx)
	if err != nil {
		return nil, err
	}
	loaded := time.Now()
	c, err := whitelist.New(ctx, whitelist.Config{Signer: s.Signer, States: s.Store, Logger: s.log, MetricSet: s.wlMetrics, Horizon: horizon, CardKeys: s.CardKeys,
		NetworkSettings: s.doorSettings}, in, loaded)
	if err != nil {
		return nil, err
	}
	s.log.Info("serve: whitelists loaded and compiled", "load", time.Since(begin)-time.Since(loaded), "compile", time.Since(loaded), "took", time.Since(begin))
	return c, nil
}

// startMessaging starts the MQTT side: the embedded broker unless an
// external one is configured, the ingest, and the whitelist compiler. With
// SQLite (one process) this process compiles and publishes whitelists and
// feeds the compiler every committed change; with PostgreSQL (scale-out) the
// replicas elect one whitelist leader (see leader.go).
func (s *Server) startMessaging(ctx context.Context) error {
	ic := ingest.Config{ShareGroup: s.cfg.ShareGroup, Committed: s.Committed.Notify, StatusSeen: s.Alerts.ObserveStatus}
	if ic.ShareGroup == "" {
		ic.ShareGroup = DefaultShareGroup
	}
	// One process (SQLite): the whitelists are compiled before the broker
	// listens. Compiling shared audiences takes about a second at 10,000
	// doors; loaded while thousands of reconnecting doors committed their
	// backlog on the same database, the network took 7 s to load and the
	// compiler then had every online door to catch up at once. The doors
	// keep their events meanwhile and send them once connected.
	var c *whitelist.Compiler
	if s.cfg.DBURL == "" {
		var err error
		if c, err = s.newCompiler(ctx); err != nil {
			return err
		}
		s.compiler.Store(c)
	}
	if s.cfg.BrokerURL == "" {
		if err := s.startBroker(ctx, &ic); err != nil {
			return err
		}
	} else if err := s.externalBroker(&ic); err != nil {
		return err
	}
	if err := s.startEnroll(ctx, ic); err != nil {
		return err
	}

	// In scale-out, the ingest starts without the whitelist role: the
	// replica elected whitelist leader takes it once it has loaded and
	// compiled the network, and catches up the doors already online.
	var err error
	s.Ingest, err = ingest.New(ic, eventStore{s.Store}, nil, s.log, s.Metrics)
	if err != nil {
		return err
	}
	if c != nil {
		s.Ingest.SetWhitelist(c)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.Ingest.Run(runCtx); err != nil {
			s.log.Error("ingest stopped", "err", err)
		}
	}()
	fail := func(err error) error {
		cancel()
		wg.Wait()
		return err
	}
	if c != nil {
		// No API request runs before startHTTP, so no change can fall
		// between the load above and this subscription.
		s.Changes.SubscribeAll(func(ctx context.Context, ch domain.Change) {
			if err := c.Apply(ctx, ch); err != nil {
				s.log.Error("whitelist: applying a change failed; it is retried with the next change or tick", "kind", ch.Kind, "err", err)
			}
		}, func(ctx context.Context, chs []domain.Change) { // a bulk import: its doors are compiled once
			if err := c.ApplyAll(ctx, chs); err != nil {
				s.log.Error("whitelist: applying an import's changes failed; they are retried with the next change or tick", "changes", len(chs), "err", err)
			}
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.tick(runCtx, c)
		}()
	} else {
		stop, err := s.startLeaderElection(runCtx)
		if err != nil {
			return fail(err)
		}
		defer func() { s.onStop("whitelist leader election", func(context.Context) error { stop(); return nil }) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watchCardKeys(runCtx)
	}()
	s.onStop("ingest and whitelist compiler", func(context.Context) error {
		cancel()
		wg.Wait()
		return nil
	})
	return nil
}

// startBroker starts the embedded broker: the certificate listener
// (MQTTSAddr) where doors present their certificates, and the per-door
// secret listener (MQTTAddr) when asked for. The ingest talks to it in
// process, through the broker's inline client (ingest.InlineLink): no
// network connection and no write queue of the broker's, which overflowed
// for the one subscriber of every door's events when thousands of doors
// reconnected at once.
func (s *Server) startBroker(ctx context.Context, ic *ingest.Config) error {
	secret, err := s.serviceSecret()
	if err != nil {
		return err
	}
	bc := broker.Config{Addr: s.cfg.MQTTAddr, Doors: s.Store, ServiceUsername: ServiceUser, ServiceSecret: secret,
		ConnectTimeout: s.cfg.MQTTConnectTimeout, MaxConnecting: s.cfg.MQTTMaxConnecting, Logger: s.log, Metrics: s.Metrics}
	if s.cfg.MQTTSAddr != "" {
		bc.CertAddr, bc.CertTLS = s.cfg.MQTTSAddr, s.certs.TLSConfig()
		bc.Certs = &enroll.DoorIdentity{CA: s.CA, Keys: s.Store, ServiceUsername: ServiceUser, Certs: s.Store.DoorCerts()}
	}
	b, err := broker.New(bc)
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("--mqtts %s / --mqtt %s: %w", s.cfg.MQTTSAddr, s.cfg.MQTTAddr, err)
	}
	s.Broker = b
	// The broker closes beside the consumers of the ingest's commits (the
	// crediting's flush, the check-ins' drain, up to a second each), which
	// are added just before it: the ingest, which stops first, is the only
	// one of them that uses it. At 10,000 doors the close takes 1.2-1.7 s.
	s.onStopBeside("embedded broker", func(ctx context.Context) error { return closeWithin(ctx, "embedded broker", b.Close) })
	ic.Username = ServiceUser
	ic.Link = ingest.NewInlineLink(b, 0, 0)
	s.log.Info("serve: embedded MQTT broker listening; the ingest uses its inline client", "certificates", b.CertAddr(), "door_secrets", b.Addr())
	return nil
}

// tick rolls the compiler's horizon until ctx ends.
func (s *Server) tick(ctx context.Context, c *whitelist.Compiler) {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := c.Tick(ctx, now); err != nil {
				s.log.Error("whitelist: tick failed; retried at the next tick", "err", err)
			}
		}
	}
}

// serviceSecret is the embedded broker's service secret: from
// MQTTServiceSecretFile (created when missing), else random.
func (s *Server) serviceSecret() (string, error) {
	if s.cfg.MQTTServiceSecretFile == "" {
		return store.NewSecret("svc"), nil
	}
	b, err := os.ReadFile(s.cfg.MQTTServiceSecretFile)
	if errors.Is(err, os.ErrNotExist) {
		secret := store.NewSecret("svc")
		if err := writeSecretFile(s.cfg.MQTTServiceSecretFile, secret+"\n"); err != nil {
			return "", fmt.Errorf("--mqtt-service-secret-file: %w", err)
		}
		return secret, nil
	}
	if err != nil {
		return "", fmt.Errorf("--mqtt-service-secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < broker.MinServiceSecret {
		return "", fmt.Errorf("--mqtt-service-secret-file %s: the secret must be at least %d bytes", s.cfg.MQTTServiceSecretFile, broker.MinServiceSecret)
	}
	return secret, nil
}

// externalBroker fills the ingest's connection to an external broker.
func (s *Server) externalBroker(ic *ingest.Config) error {
	u, err := url.Parse(s.cfg.BrokerURL)
	if err != nil {
		return fmt.Errorf("--broker: %w", err)
	}
	ic.Broker = s.cfg.BrokerURL
	ic.Username = s.cfg.BrokerUser
	if ic.Username == "" {
		ic.Username = ServiceUser
	}
	if s.cfg.BrokerPasswordFile != "" {
		b, err := os.ReadFile(s.cfg.BrokerPasswordFile)
		if err != nil {
			return fmt.Errorf("--broker-password-file: %w", err)
		}
		ic.Password = strings.TrimSpace(string(b))
	}
	if u.Scheme == "mqtts" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.cfg.BrokerCA != "" {
			pem, err := os.ReadFile(s.cfg.BrokerCA)
			if err != nil {
				return fmt.Errorf("--broker-ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--broker-ca %s: no PEM certificate in it", s.cfg.BrokerCA)
			}
		}
		if s.cfg.BrokerCert != "" || s.cfg.BrokerKey != "" {
			cert, err := tls.LoadX509KeyPair(s.cfg.BrokerCert, s.cfg.BrokerKey)
			if err != nil {
				return fmt.Errorf("--broker-cert/--broker-key: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		ic.TLS = tc
	}
	s.log.Info("serve: using an external MQTT broker", "url", redact(s.cfg.BrokerURL), "user", ic.Username, "share_group", ic.ShareGroup)
	return nil
}

// eventStore adapts the store to the ingest: many doors' batches in one
// transaction. A batch refused for its own content (store.BatchError: a
// conflict, or invalid) becomes an ingest.RejectedError, which the ingest
// takes out at once instead of retrying.
type eventStore struct{ st store.Store }

func (e eventStore) StoreEvents(ctx context.Context, receivedMs int64, batches []ingest.Batch) (map[ingest.Stream]ingest.Stored, error) {
	in := make([]store.DoorEvents, len(batches))
	for i, b := range batches {
		in[i] = store.DoorEvents{Door: b.Door, Store: b.Store, Events: b.Events}
	}
	res, err := e.st.AppendBatches(ctx, receivedMs, in)
	var be *store.BatchError
	if errors.As(err, &be) {
		reason := "invalid"
		if errors.Is(err, store.ErrConflict) {
			reason = "conflict"
		}
		return nil, &ingest.RejectedError{Index: be.Index, Reason: reason, Err: err}
	}
	if err != nil {
		return nil, err
	}
	if len(res) != len(batches) {
		return nil, errors.New("store: AppendBatches returned a result count that does not match the batches")
	}
	out := make(map[ingest.Stream]ingest.Stored, len(batches))
	for i, b := range batches {
		out[ingest.Stream{Door: b.Door, Store: b.Store}] = ingest.Stored{New: res[i].New, Through: res[i].Through, Base: res[i].Base}
	}
	return out, nil
}

// loadInput reads everything the whitelist compiler needs: the whole domain,
// with bookings that have not ended yet.
//
// The lists are read side by side (as many at once as the store has reader
// connections; the others wait for one): at a restart, the load runs while
// the crediting and the check-ins start and the doors wait to reconnect,
// and members and badges (100,000 of each in the fleet) take most of it.
// The lists were separate reads before too (pages, not one snapshot), and
// the API, which changes them, starts after the compiler (see
// startMessaging).
func loadInput(ctx context.Context, st store.Store, now time.Time) (whitelist.Input, error) {
	var in whitelist.Input
	loads := []func() error{
		loadInto(ctx, &in.Centers, func(p store.PageRequest) (store.Page[domain.Center], error) {
			return st.ListCenters(ctx, store.CenterFilter{PageRequest: p})
		}),
		loadInto(ctx, &in.Rooms, func(p store.PageRequest) (store.Page[domain.Room], error) {
			return st.ListRooms(ctx, store.RoomFilter{PageRequest: p})
		}),
		loadInto(ctx, &in.Doors, func(p store.PageRequest) (store.Page[domain.Door], error) {
			return st.ListDoors(ctx, store.DoorFilter{PageRequest: p})
		}),
		loadInto(ctx, &in.Staff, func(p store.PageRequest) (store.Page[domain.Staff], error) {
			return st.ListStaff(ctx, store.StaffFilter{PageRequest: p})
		}),
		loadInto(ctx, &in.Members, func(p store.PageRequest) (store.Page[domain.Member], error) {
			return st.ListMembers(ctx, store.MemberFilter{PageRequest: p})
		}),
		loadInto(ctx, &in.Badges, func(p store.PageRequest) (store.Page[domain.Badge], error) {
			return st.ListBadges(ctx, store.BadgeFilter{PageRequest: p})
		}),
		loadInto(ctx, &in.Bookings, func(p store.PageRequest) (store.Page[domain.Booking], error) {
			return st.ListBookings(ctx, store.BookingFilter{From: now, PageRequest: p})
		}),
		loadInto(ctx, &in.Passes, func(p store.PageRequest) (store.Page[domain.Pass], error) {
			return st.ListPasses(ctx, store.PassFilter{PageRequest: p})
		}),
	}
	errs := make([]error, len(loads))
	var wg sync.WaitGroup
	for i, load := range loads {
		wg.Go(func() { errs[i] = load() })
	}
	wg.Wait()
	return in, errors.Join(errs...)
}

// loadInto returns a loader that reads every page of list into dst.
func loadInto[T any](ctx context.Context, dst *[]T, list func(store.PageRequest) (store.Page[T], error)) func() error {
	return func() (err error) {
		*dst, err = store.All(ctx, list)
		return err
	}
}
