package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

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
	s.stops = append(s.stops, func(context.Context) error {
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

// startRenewals connects a client of its own (renewals are rare; the
// ingest's connections stay as they are) that takes the doors' renewal
// requests through a shared subscription, throttles them per door and
// publishes the answers.
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
	var c mqtt.Client
	answer := func(ctx context.Context, door string, payload []byte) {
		reply := s.Enroll.HandleRenewal(ctx, door, payload)
		if reply == nil {
			return
		}
		tok := c.Publish(topics.Door(door, protocol.TopicCert), 1, false, reply)
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			s.log.Warn("renewal: publishing the answer failed; the door asks again later", "door", door, "err", tok.Error())
		}
	}
	handle := func(_ mqtt.Client, m mqtt.Message) {
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
	opts := mqtt.NewClientOptions().AddBroker(ic.Broker).SetClientID(id).SetUsername(ic.Username).SetPassword(ic.Password).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).SetKeepAlive(30 * time.Second).SetOrderMatters(false).
		SetOnConnectHandler(func(c mqtt.Client) {
			tok := c.Subscribe(filter, 1, handle)
			go func() {
				if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
					s.log.Error("renewal: subscribe failed; doors' renewals wait for the next connection", "filter", filter, "err", tok.Error())
				}
			}()
		})
	if ic.TLS != nil {
		opts.SetTLSConfig(ic.TLS)
	}
	c = mqtt.NewClient(opts)
	tok := c.Connect() // retries in the background until ctx ends
	go func() {
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				s.log.Error("renewal: cannot connect to the broker", "err", err)
			}
		case <-runCtx.Done():
		}
	}()
	s.stops = append(s.stops, func(context.Context) error {
		cancel()
		c.Disconnect(250)
		wg.Wait()
		return nil
	})
	return nil
}

// serviceTLS is how the central's own clients reach the embedded broker's
// certificate listener: the CA as root, the service certificate as client
// certificate, and "localhost" as the name (the certificate names it).
func (s *Server) serviceTLS() (*tls.Config, error) {
	certs, err := s.CA.ServiceCerts(ServiceUser, nil)
	if err != nil {
		return nil, fmt.Errorf("service certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.CA.Pool(), ServerName: "localhost",
		GetClientCertificate: certs.GetClientCertificate}, nil
}

// loopback turns a listener's address (":8883", "[::]:8883") into one this
// process can dial.
func loopback(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	if port == "" {
		return "", errors.New("no port")
	}
	return net.JoinHostPort(host, port), nil
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
