package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/doorqueue"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// CAName is the subject of the CA serve creates in an empty data folder.
const CAName = "Smart Work Centers CA"

// loadCA loads (or creates) the CA in the data folder and issues the
// central's TLS server certificate for the configured hosts.
func (s *Server) loadCA() error {
	ca, err := enroll.LoadOrCreateCA(s.cfg.DataDir, CAName, time.Now())
	if err != nil {
		return err
	}
	s.CA = ca
	if len(s.cfg.Hosts) == 0 {
		s.cfg.Hosts = DefaultHosts()
	}
	// The central's own clients dial the embedded broker as localhost.
	names := append([]string(nil), s.cfg.Hosts...)
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if !slices.Contains(names, h) {
			names = append(names, h)
		}
	}
	s.certs, err = ca.ServerCerts(names, nil)
	if err != nil {
		return fmt.Errorf("--hosts: %w", err)
	}
	s.log.Info("serve: CA loaded", "ca", ca.Cert().Subject.CommonName, "fingerprint", ca.Fingerprint(), "hosts", strings.Join(s.cfg.Hosts, ","))
	return nil
}

// DefaultHosts are the names on the central's certificates when none are
// configured: the host name, localhost and the loopback addresses.
func DefaultHosts() []string {
	hosts := []string{}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		hosts = append(hosts, h)
	}
	return append(hosts, "localhost", "127.0.0.1", "::1")
}

func (s *Server) apiScheme() string {
	if s.cfg.HTTPS {
		return "https"
	}
	return "http"
}

// publicMQTT is the broker address doors are given: the configured one, or
// the first host with the port of the embedded certificate listener, or an
// external mqtts:// broker's URL; "" when none is known.
func (s *Server) publicMQTT() string {
	if s.cfg.PublicMQTT != "" {
		return s.cfg.PublicMQTT
	}
	if s.Broker != nil && s.Broker.CertAddr() != "" {
		_, port, err := net.SplitHostPort(s.Broker.CertAddr())
		if err == nil {
			return "mqtts://" + net.JoinHostPort(s.cfg.Hosts[0], port)
		}
	}
	if u, err := url.Parse(s.cfg.BrokerURL); err == nil && (u.Scheme == "mqtts" || u.Scheme == "ssl") {
		return "mqtts://" + u.Host
	}
	return ""
}

// startEnroll starts the enrollment service, once the broker address doors
// are to use is known, and answers their certificate renewals over MQTT
// with the ingest's account (ic).
func (s *Server) startEnroll(ctx context.Context, ic ingest.Config) error {
	addr := s.publicMQTT()
	if addr == "" {
		s.log.Warn("serve: doors cannot be enrolled: no certificate listener (--mqtts) and no --public-mqtt; POST /api/v1/enroll answers 503")
		return nil
	}
	rev, err := s.startRevocations(ctx)
	if err != nil {
		return err
	}
	svc, err := enroll.NewService(enroll.Config{
		CA: s.CA, Store: s.Store, SigningKeys: []string{protocol.FormatPublicKey(s.Signer.PublicKey())},
		Broker: addr, TopicPrefix: ic.Topics.Prefix(), DoorValidity: s.cfg.DoorCertValidity, ServiceUsername: ServiceUser,
		Logger: s.log, Metrics: s.Metrics, CertIssued: s.Alerts.CertificateIssued, Revocations: rev,
	})
	if err != nil {
		return err
	}
	s.Enroll = svc
	s.log.Info("serve: doors enroll through POST /api/v1/enroll", "broker_for_doors", addr, "ca_fingerprint", s.CA.Fingerprint())
	return s.startRenewals(ctx, ic)
}

// CRLRefreshInterval is how often the CRL is checked besides the changes
// that revoke certificates at once (an enrollment, a door removed through
// this central, and with PostgreSQL any change of the record announced by
// another replica): notices lost while a connection was down, and the
// CRL's monthly rewrite.
const CRLRefreshInterval = 10 * time.Minute

// startRevocations keeps the door CA's certificate revocation list
// (crl.pem in the data folder, for an external Mosquitto's crlfile),
// computed from the store's record of door certificates: the records of an
// older central's door-certs.json are moved into the store first; the list
// is written now, after every enrollment, when a door is removed, when
// another replica changes the record (PostgreSQL: followDoorCerts), and
// every CRLRefreshInterval.
func (s *Server) startRevocations(ctx context.Context) (*enroll.Revocations, error) {
	rev, err := enroll.NewRevocations(enroll.RevocationsConfig{CA: s.CA, Dir: s.cfg.DataDir, Certs: s.Store.DoorCerts(), Logger: s.log, Metrics: s.Metrics})
	if err != nil {
		return nil, err
	}
	if _, err := rev.ImportFile(audit.WithSystem(ctx, "serve")); err != nil {
		return nil, err
	}
	if _, err := rev.Refresh(ctx); err != nil {
		return nil, err
	}
	s.Changes.Subscribe(func(ctx context.Context, ch domain.Change) {
		if ch.Kind == domain.KindDoor && ch.Deleted {
			_, _ = rev.Refresh(ctx) // logged and counted; the periodic refresh tries again
		}
	})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rev.Run(runCtx, CRLRefreshInterval)
	}()
	if s.cfg.DBURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.followDoorCerts(runCtx, rev)
		}()
	}
	s.onStop("certificate revocation follower", func(context.Context) error {
		cancel()
		wg.Wait()
		return nil
	})
	s.log.Info("serve: door certificate revocation list kept", "path", rev.Path())
	return rev, nil
}

// The renewal throttle, per door (central/doorqueue): a door is answered
// RenewalBurst times at once, then once per RenewalInterval. A door renews once
// per certificate lifetime and retries after a failure, so two answers at
// once and then one per 30 s cover every honest door; a door asking faster
// has its requests merged (the newest is answered) and costs the central
// one signature per interval.
const (
	RenewalBurst    = 2
	RenewalInterval = 30 * time.Second
	renewalWorkers  = 2
)

// startRenewals opens a link of its own (renewals are rare; the ingest's
// link stays as it is): the embedded broker's inline client, or paho
// connections to the external broker that take the doors' renewal requests
// through a shared subscription. It throttles them per door and publishes
// the answers.
func (s *Server) startRenewals(ctx context.Context, ic ingest.Config) error {
	topics := ic.Topics
	if topics.Prefix() == "" {
		topics = protocol.DefaultTopics()
	}
	id := ic.Username + "-renew-" + randomSuffix()
	filter := protocol.Shared(ic.ShareGroup+"-renew", topics.All(protocol.TopicRenew))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	received := s.Metrics.Counter("swc_cert_renewal_requests_total", "Door certificate renewal requests received over MQTT (answered or merged).")
	coalesced := s.Metrics.Counter("swc_cert_renewal_requests_coalesced_total",
		"Renewal requests merged into a request of the same door already waiting (a door asking faster than one answer per interval).")
	queue := doorqueue.New(doorqueue.Config{Burst: RenewalBurst, Interval: RenewalInterval},
		func(_, newest []byte) []byte { return newest })
	var lastMergeLog atomic.Int64 // unix ms: merges are logged at most once per interval
	var link ingest.Link
	if s.Broker != nil {
		link = ingest.NewInlineLink(s.Broker, 0, 0)
	} else {
		link = ingest.NewPahoLink(ingest.PahoConfig{Broker: ic.Broker, Username: ic.Username, Password: ic.Password,
			TLS: ic.TLS, ClientID: id, Logger: s.log.With("component", "renewal")})
	}
	answer := func(ctx context.Context, door string, payload []byte) {
		reply := s.Enroll.HandleRenewal(ctx, door, payload)
		if reply == nil {
			return
		}
		tok := link.Publish(topics.Door(door, protocol.TopicCert), reply)
		select {
		case <-tok.Done():
			if tok.Error() == nil {
				return
			}
		case <-time.After(30 * time.Second):
		case <-ctx.Done():
		}
		s.log.Warn("renewal: publishing the answer failed; the door asks again later", "door", door, "err", tok.Error())
	}
	handle := func(_ context.Context, m ingest.Message) {
		m.Ack()
		door, kind, err := topics.Parse(m.Topic())
		if err != nil || kind != protocol.TopicRenew {
			s.log.Warn("renewal: message on an unexpected topic", "topic", m.Topic())
			return
		}
		received.Inc()
		if !queue.Add(door, m.Payload()) {
			return
		}
		coalesced.Inc()
		if now, last := time.Now().UnixMilli(), lastMergeLog.Load(); now-last >= RenewalInterval.Milliseconds() && lastMergeLog.CompareAndSwap(last, now) {
			s.log.Warn("renewal: a door asks for certificates faster than it is answered; merging its requests (said once per interval)",
				"door", door, "burst", RenewalBurst, "interval", RenewalInterval)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		queue.Serve(runCtx, renewalWorkers, answer)
	}()
	link.Subscribe(filter, handle)
	go func() {
		if err := link.Connect(runCtx, nil); err != nil { // retries in the background until runCtx ends
			s.log.Error("renewal: cannot connect to the broker", "err", err)
		}
	}()
	s.onStop("certificate renewal", func(context.Context) error {
		cancel()
		link.Close()
		wg.Wait()
		return nil
	})
	return nil
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
