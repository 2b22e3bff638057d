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

// startMessaging starts the MQTT side: the whitelist compiler (loaded from the
// store and fed every committed change), the embedded broker unless an
// external one is configured, and the ingest.
func (s *Server) startMessaging(ctx context.Context) error {
	in, err := loadInput(ctx, s.Store, time.Now())
	if err != nil {
		return fmt.Errorf("whitelist: loading the network: %w", err)
	}
	s.Compiler, err = whitelist.New(ctx, whitelist.Config{Signer: s.Signer, States: s.Store, Logger: s.log, Metrics: s.Metrics}, in, time.Now())
	if err != nil {
		return err
	}
	// No API request runs before startHTTP, so no change can fall between
	// the load above and this subscription.
	s.Changes.Subscribe(func(ctx context.Context, ch domain.Change) {
		if err := s.Compiler.Apply(ctx, ch); err != nil {
			s.log.Error("whitelist: applying a change failed; it is retried with the next change or tick", "kind", ch.Kind, "err", err)
		}
	})

	ic := ingest.Config{ShareGroup: s.cfg.ShareGroup, Committed: s.Credit.Committed}
	if ic.ShareGroup == "" {
		ic.ShareGroup = DefaultShareGroup
	}
	if s.cfg.BrokerURL == "" {
		secret := store.NewSecret("svc")
		b, err := broker.New(broker.Config{Addr: s.cfg.MQTTAddr, Doors: s.Store, ServiceUsername: ServiceUser, ServiceSecret: secret, Logger: s.log, Metrics: s.Metrics})
		if err != nil {
			return err
		}
		if err := b.Start(ctx); err != nil {
			return fmt.Errorf("--mqtt %s: %w", s.cfg.MQTTAddr, err)
		}
		s.Broker = b
		s.stops = append(s.stops, func(context.Context) error { return b.Close() })
		ic.Broker, ic.Username, ic.Password = "tcp://"+b.Addr(), ServiceUser, secret
		s.log.Info("serve: embedded MQTT broker listening", "addr", b.Addr())
	} else if err := s.externalBroker(&ic); err != nil {
		return err
	}

	s.Ingest, err = ingest.New(ic, eventStore{s.Store}, s.Compiler, s.log, s.Metrics)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := s.Ingest.Run(runCtx); err != nil {
			s.log.Error("ingest stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(tickEvery)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case now := <-t.C:
				if err := s.Compiler.Tick(runCtx, now); err != nil {
					s.log.Error("whitelist: tick failed; retried at the next tick", "err", err)
				}
			}
		}
	}()
	s.stops = append(s.stops, func(context.Context) error {
		cancel()
		wg.Wait()
		return nil
	})
	return nil
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
// transaction.
type eventStore struct{ st store.Store }

func (e eventStore) StoreEvents(ctx context.Context, receivedMs int64, batches []ingest.Batch) (map[string]ingest.Stored, error) {
	in := make([]store.DoorEvents, len(batches))
	for i, b := range batches {
		in[i] = store.DoorEvents{Door: b.Door, Events: b.Events}
	}
	res, err := e.st.AppendBatches(ctx, receivedMs, in)
	if err != nil {
		return nil, err
	}
	if len(res) != len(batches) {
		return nil, errors.New("store: AppendBatches returned a result count that does not match the batches")
	}
	out := make(map[string]ingest.Stored, len(batches))
	for i, b := range batches {
		out[b.Door] = ingest.Stored{New: res[i].New, Through: res[i].Through}
	}
	return out, nil
}

// loadInput reads everything the whitelist compiler needs: the whole domain,
// with bookings that have not ended yet.
func loadInput(ctx context.Context, st store.Store, now time.Time) (whitelist.Input, error) {
	var in whitelist.Input
	var err error
	if in.Centers, err = all(ctx, func(p store.PageRequest) (store.Page[domain.Center], error) {
		return st.ListCenters(ctx, store.CenterFilter{PageRequest: p})
	}); err != nil {
		return in, err
	}
	if in.Rooms, err = all(ctx, func(p store.PageRequest) (store.Page[domain.Room], error) {
		return st.ListRooms(ctx, store.RoomFilter{PageRequest: p})
	}); err != nil {
		return in, err
	}
	if in.Doors, err = all(ctx, func(p store.PageRequest) (store.Page[domain.Door], error) {
		return st.ListDoors(ctx, store.DoorFilter{PageRequest: p})
	}); err != nil {
		return in, err
	}
	if in.Members, err = all(ctx, func(p store.PageRequest) (store.Page[domain.Member], error) {
		return st.ListMembers(ctx, store.MemberFilter{PageRequest: p})
	}); err != nil {
		return in, err
	}
	if in.Badges, err = all(ctx, func(p store.PageRequest) (store.Page[domain.Badge], error) {
		return st.ListBadges(ctx, store.BadgeFilter{PageRequest: p})
	}); err != nil {
		return in, err
	}
	if in.Bookings, err = all(ctx, func(p store.PageRequest) (store.Page[domain.Booking], error) {
		return st.ListBookings(ctx, store.BookingFilter{From: now, PageRequest: p})
	}); err != nil {
		return in, err
	}
	if in.Passes, err = all(ctx, func(p store.PageRequest) (store.Page[domain.Pass], error) {
		return st.ListPasses(ctx, store.PassFilter{PageRequest: p})
	}); err != nil {
		return in, err
	}
	in.Staff, err = all(ctx, func(p store.PageRequest) (store.Page[domain.Staff], error) {
		return st.ListStaff(ctx, store.StaffFilter{PageRequest: p})
	})
	return in, err
}

// all reads every page of a list.
func all[T any](ctx context.Context, list func(store.PageRequest) (store.Page[T], error)) ([]T, error) {
	var out []T
	p := store.PageRequest{Limit: store.MaxLimit}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		p.After = page.Next
	}
}
