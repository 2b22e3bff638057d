// Package broker is the central's embedded MQTT broker: a mochi-mqtt server
// with one hook that authenticates doors and the central's own clients and
// enforces the door topic ACL of shared/protocol, with explicit limits.
//
// # Identities
//
// The broker has up to two listeners:
//
//   - the certificate listener (Config.CertAddr, mutual TLS), the default in
//     production: a client presents a certificate from the central's CA and
//     Config.Certs maps its subject to an identity (a door, CN = door id, or
//     the central's service). The user name, when the client sends one, must
//     be that identity; the password is not used.
//   - the secret listener (Config.Addr, TCP or TLS without client
//     certificates), the explicit alternative: a door connects with username
//     = its door id and password = its secret (verified by
//     DoorAuthenticator), and the central's clients with the configured
//     service username and secret.
//
// On both, a door's client id must be its door id, its will (if any) must be
// on a topic it may publish (its own status), and a door id may not start
// with the service username. The central's clients (ingest and publisher,
// any number of replicas) use a client id that starts with the service
// username ("swc-central", "swc-central-2"); they may publish and subscribe
// to everything, shared subscriptions ($share/<group>/...) included.
// Anything else is refused: no certificate or one Config.Certs does not
// accept, no username on the secret listener (anonymous), a wrong secret, a
// user name that is not the certificate's identity, a client id that is not
// the identity, a door id in the service's namespace, a will on a topic the
// door may not publish.
//
// # ACL
//
// A door publishes only its own events, sync and status topics and
// subscribes only to its own ack, whitelist and commands topics, by exact
// name: protocol.Topics DoorMayPublish and DoorMaySubscribe, the same rules
// MosquittoACL writes as Mosquitto pattern rules. With MQTT 3.1.1, mochi
// answers a refused QoS 1 publish by closing the connection (a QoS 0 one is
// dropped silently), and a refused subscription with the failure code 0x80
// in SUBACK. Every refusal is logged and counted.
//
// # Limits and what happens when they are reached
//
//   - ConnectTimeout (default 10 s): an accepted connection must complete
//     its TLS handshake and send CONNECT within it, or the broker closes it
//     (swc_broker_connect_timeouts_total; swc_broker_connecting is the
//     number waiting now). mochi itself sets a deadline only after CONNECT,
//     from the keepalive, so without it a client that connects and sends
//     nothing holds a descriptor and tens of KiB forever. After CONNECT
//     mochi's keepalive deadline applies (see MaxKeepAlive).
//   - MaxConnecting (default 4096) per listener: connections accepted that
//     have not sent CONNECT yet; beyond it a new connection is closed at
//     once (swc_broker_connects_shed_total). The deadline bounds how long an
//     idle client holds a descriptor, this how many: a flood of them cannot
//     take the descriptors the connected doors, the database and the API
//     need.
//   - The process's open-file limit (LimitNOFILE in the systemd unit): when
//     it is reached, accepting fails (EMFILE). mochi's listener stops
//     accepting for good at the first such error; the broker's listener
//     counts it (swc_broker_accept_errors_total), backs off (5 ms doubling
//     to 1 s) and retries, and Ready, hence /readyz, reports the listener
//     as not accepting until an accept works again. Connections wait in the
//     kernel's backlog meanwhile.
//   - MaxPacketSize (default protocol.MaxMessageSize plus 1 KiB for the MQTT
//     header, topic and properties): a larger packet closes the connection
//     before it is read into memory. A publish whose payload is larger than
//     protocol.MaxMessageSize closes the connection too, and is not delivered.
//     Both are counted as oversize; the client's will is published.
//   - ReceiveMaximum (256): QoS 1/2 messages a client may have unacknowledged
//     towards the broker; beyond it mochi disconnects the client.
//   - MaxInflight (8192): QoS 1/2 messages the broker has sent a client and
//     not yet seen acknowledged. A message that would exceed it is dropped for
//     that client (mochi counts it; the hook turns that into a counter).
//   - MaxWritesPending (256): the per-client queue of messages waiting to be
//     written to the socket. mochi never blocks on the queue itself: when it
//     is full, the message is dropped for that client, QoS 1 included, and
//     removed from in-flight. Every drop is logged with the client and topic
//     and counted. mochi allocates the queue for every client when it
//     connects (8 bytes a message: 2 KiB a door, 20 MiB for 10,000 doors,
//     where 1024 cost 80 MiB); a door receives a few messages at a time (an
//     ack, a delta, a snapshot's parts: about 50 for 100,000 badges), and
//     the ingest is not a network client (see below).
//   - But a subscriber that stops reading blocks publishers anyway: mochi
//     v2.7.9 holds the subscriber's client lock while its writer is stuck in
//     a socket write, and a QoS 1 delivery to that subscriber needs the same
//     lock for a packet id (Client.NextPacketID). The publisher's connection
//     then stalls (its messages are not processed, not even for other
//     subscribers) until the stuck subscriber's deadline, 1.5 keepalives
//     after its last packet, closes it. MaxKeepAlive (60 s) caps that
//     keepalive, a keepalive of 0 included, so the stall ends within 90 s.
//     QoS 0 deliveries never block; they are dropped at a full queue.
//     The central's publisher should therefore not share its connection
//     with the ingest (TestHungSubscriberHoldsPublisherUntilDeadline), and
//     an inline Publish (below) runs where a stuck door holds no one else.
//     The application protocol recovers from such drops: events are deleted
//     by a door only on an application ack (a lost event or ack is sent
//     again), a door that misses a whitelist delta sees a gap and asks for a
//     sync. The queue holds pointers to messages of up to MaxPacketSize, so
//     its worst case memory is MaxWritesPending × MaxPacketSize per client
//     (about 65 MiB at the defaults for a client that stops reading; doors
//     receive a few messages at a time).
//   - Each client's read buffer is clientReadBuffer (2 KiB, mochi's
//     default), allocated when it connects: a larger packet is read past it
//     into a slice of its own, so the buffer only batches the small reads of
//     packet headers; 16 KiB cost 160 MiB for 10,000 doors.
//   - The central's own client: the ingest of the same process uses mochi's
//     inline client (Subscribe, Publish) rather than a network connection,
//     so that no write queue stands between every door's events and it:
//     MaxWritesPending is allocated up front for every client, and raising
//     it for the one subscriber of all doors would cost it for each door.
//     Its subscriptions are called on the publishing door's connection
//     goroutine, after the door topic ACL; its publishes bypass the ACL (it
//     is the central) and reach a door only on a topic the door may
//     subscribe to. mochi gives it the client id "inline", which no door
//     may take (its session would replace the inline client's).
//   - SessionExpiry (24 h): how long the broker keeps the session of a
//     client that connected with a persistent session (clean session false)
//     after it went away. Doors and the central use clean sessions.
//   - Retained messages never expire (mochi's default would remove them after
//     24 h): a door's status stays until the door or its will replaces it.
//
// TLS: Config.TLS makes the secret listener TLS (doors still authenticate
// with their secret); Config.CertAddr and CertTLS add the mutual-TLS
// listener where the certificate is the identity.
package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// DoorAuthenticator verifies a door's secret. The central's store implements
// it; it returns nil only for a known door whose secret matches.
type DoorAuthenticator interface {
	AuthenticateDoor(ctx context.Context, door, secret string) error
}

// ClientIdentifier maps a client certificate presented on the certificate
// listener to an identity: a door (its id) or the central's service (service
// true, name = the service username). It verifies the certificate against
// the central's CA (and whatever else it wants, such as the door's enrolled
// key) and returns an error for anything it does not accept. The central's
// CA (central/enroll) implements it.
type ClientIdentifier interface {
	IdentifyClient(ctx context.Context, cert *x509.Certificate) (name string, service bool, err error)
}

// Listener ids, as mochi reports them in Client.Net.Listener.
const (
	listenerSecret = "swc"
	listenerCert   = "swc-tls"
)

// Defaults of Config.
const (
	DefaultAddr             = ":1883"
	DefaultPacketOverhead   = 1024
	DefaultReceiveMaximum   = 256
	DefaultMaxInflight      = 8192
	DefaultMaxWritesPending = 256
	DefaultSessionExpiry    = 24 * time.Hour
	DefaultAuthTimeout      = 5 * time.Second
	DefaultMaxKeepAlive     = 60 * time.Second
	// DefaultConnectTimeout leaves a door on a lossy link room for its TCP
	// handshake, TLS handshake and CONNECT with a few retransmissions
	// (Linux's initial retransmission timeout is 1 s, doubling: 1+2+4 s).
	DefaultConnectTimeout = 10 * time.Second
	// MaxConnectTimeout caps Config.ConnectTimeout: a longer one would
	// bring back the idle connections the timeout is there to close.
	MaxConnectTimeout = 5 * time.Minute
	// DefaultMaxConnecting is far above what doors need (10,000 doors
	// reconnecting after a restart are each a fraction of a second in
	// their TLS handshake and CONNECT) and far below the open-file limit
	// of the systemd unit (65,536), so that idle clients cannot exhaust it.
	DefaultMaxConnecting = 4096
	// MinServiceSecret is the shortest service secret accepted.
	MinServiceSecret = 16
)

// clientReadBuffer is the size of each client's read buffer (see the
// package documentation).
const clientReadBuffer = 2 << 10

// Config configures the broker. Doors, ServiceUsername and ServiceSecret are
// required.
type Config struct {
	// Addr is the secret listener's address, where doors authenticate with
	// their secret; port 0 picks a free port (see Broker.Addr). Empty means
	// no secret listener when CertAddr is set, DefaultAddr otherwise.
	Addr string
	// TLS, when set, makes the secret listener TLS.
	TLS *tls.Config
	// CertAddr, when set, adds the certificate listener (mutual TLS), where a
	// client's certificate is its identity (see Broker.CertAddr).
	CertAddr string
	// CertTLS is the certificate listener's TLS configuration: its server
	// certificate. The broker asks every client for a certificate and hands
	// it to Certs, which verifies it.
	CertTLS *tls.Config
	// Certs maps client certificates to identities; required with CertAddr.
	Certs ClientIdentifier
	// Topics are the door topics; the zero value means protocol.DefaultTopics.
	Topics protocol.Topics

	// Doors verifies door secrets on the secret listener (required with it).
	Doors DoorAuthenticator
	// ServiceUsername is the central's user name; ServiceSecret its secret
	// on the secret listener (on the certificate listener the central
	// presents a service certificate instead).
	ServiceUsername string
	ServiceSecret   string

	MaxPacketSize    uint32
	ReceiveMaximum   uint16
	MaxInflight      uint16
	MaxWritesPending int32
	SessionExpiry    time.Duration
	// AuthTimeout bounds one AuthenticateDoor call.
	AuthTimeout time.Duration
	// MaxKeepAlive caps the keepalive clients ask for (60 s; 0 is capped
	// too). It bounds how long a subscriber that stopped reading can hold a
	// publisher (see the package documentation).
	MaxKeepAlive time.Duration
	// ConnectTimeout is how long an accepted connection may take to
	// complete its TLS handshake (on a TLS listener) and send its CONNECT
	// packet; the broker then closes it (DefaultConnectTimeout; see the
	// package documentation).
	ConnectTimeout time.Duration
	// MaxConnecting caps, per listener, the connections accepted that have
	// not sent CONNECT yet; beyond it a new connection is closed at once
	// (DefaultMaxConnecting; see the package documentation).
	MaxConnecting int

	Logger *slog.Logger
	// Metrics receives the broker's counters; nil uses a private registry.
	Metrics *metrics.Registry
}

func (c *Config) defaults() error {
	if c.Addr == "" && c.CertAddr == "" {
		c.Addr = DefaultAddr
	}
	if c.Addr != "" {
		if c.Doors == nil {
			return errors.New("broker: Config.Doors is required with the secret listener (Config.Addr)")
		}
		if len(c.ServiceSecret) < MinServiceSecret {
			return fmt.Errorf("broker: Config.ServiceSecret must be at least %d bytes", MinServiceSecret)
		}
	}
	if c.CertAddr != "" {
		if c.Certs == nil {
			return errors.New("broker: Config.Certs is required with the certificate listener (Config.CertAddr)")
		}
		if c.CertTLS == nil || (len(c.CertTLS.Certificates) == 0 && c.CertTLS.GetCertificate == nil) {
			return errors.New("broker: Config.CertTLS with a server certificate is required with the certificate listener (Config.CertAddr)")
		}
	}
	if err := protocol.ValidID(c.ServiceUsername); err != nil {
		return fmt.Errorf("broker: Config.ServiceUsername %q: %w", c.ServiceUsername, err)
	}
	if c.Topics.Prefix() == "" {
		c.Topics = protocol.DefaultTopics()
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = protocol.MaxMessageSize + DefaultPacketOverhead
	}
	if c.MaxPacketSize < protocol.MaxMessageSize {
		return fmt.Errorf("broker: Config.MaxPacketSize %d is below protocol.MaxMessageSize %d", c.MaxPacketSize, protocol.MaxMessageSize)
	}
	if c.ReceiveMaximum == 0 {
		c.ReceiveMaximum = DefaultReceiveMaximum
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxWritesPending <= 0 {
		c.MaxWritesPending = DefaultMaxWritesPending
	}
	if c.SessionExpiry <= 0 {
		c.SessionExpiry = DefaultSessionExpiry
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	if c.MaxKeepAlive <= 0 {
		c.MaxKeepAlive = DefaultMaxKeepAlive
	}
	if c.MaxKeepAlive < time.Second || c.MaxKeepAlive > 65535*time.Second {
		return fmt.Errorf("broker: Config.MaxKeepAlive %v: want 1 s to 65535 s", c.MaxKeepAlive)
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ConnectTimeout < 0 || c.ConnectTimeout > MaxConnectTimeout {
		return fmt.Errorf("broker: Config.ConnectTimeout %v: want more than 0 and at most %v", c.ConnectTimeout, MaxConnectTimeout)
	}
	if c.MaxConnecting == 0 {
		c.MaxConnecting = DefaultMaxConnecting
	}
	if c.MaxConnecting < 0 {
		return fmt.Errorf("broker: Config.MaxConnecting %d: want more than 0", c.MaxConnecting)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewRegistry()
	}
	return nil
}

// Broker is the embedded MQTT broker.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	server *mqtt.Server
	tcp    *listener // the secret listener, or nil
	mtls   *listener // the certificate listener, or nil
	hook   *hook

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
}

// New validates the configuration and builds the broker; Start listens.
func New(cfg Config) (*Broker, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = cfg.MaxPacketSize
	caps.ReceiveMaximum = cfg.ReceiveMaximum
	caps.MaximumInflight = cfg.MaxInflight
	caps.MaximumClientWritesPending = cfg.MaxWritesPending
	caps.MaximumSessionExpiryInterval = uint32(min(cfg.SessionExpiry/time.Second, 1<<32-1))
	caps.MaximumMessageExpiryInterval = 0 // retained status must not vanish after 24 h
	caps.MaximumQos = 1                   // the protocol uses QoS 1 only
	caps.MinimumProtocolVersion = 4       // MQTT 3.1.1 and 5

	log := slog.New(excerptHandler{cfg.Logger.Handler()}).With("component", "broker")
	server := mqtt.New(&mqtt.Options{
		Capabilities:             caps,
		Logger:                   log,
		InlineClient:             true, // the central's ingest, in process (see Subscribe)
		ClientNetReadBufferSize:  clientReadBuffer,
		ClientNetWriteBufferSize: 16 << 10,
	})
	b := &Broker{cfg: cfg, log: log, server: server}
	b.hook = newHook(&b.cfg, log)
	b.hook.server = server
	cfg.Metrics.GaugeFunc("swc_broker_clients_connected", "Authenticated MQTT clients connected now.",
		func() float64 { return float64(atomic.LoadInt64(&server.Info.ClientsConnected)) })
	if err := server.AddHook(b.hook, nil); err != nil {
		return nil, fmt.Errorf("broker: add hook: %w", err)
	}
	lm := newListenerMetrics(cfg.Metrics)
	if cfg.Addr != "" {
		b.tcp = newListener(listenerSecret, cfg.Addr, cfg.TLS, cfg.ConnectTimeout, cfg.MaxConnecting, lm, b.disconnectListener)
	}
	if cfg.CertAddr != "" {
		tc := cfg.CertTLS.Clone()
		if tc.MinVersion < tls.VersionTLS12 {
			tc.MinVersion = tls.VersionTLS12
		}
		// Any certificate completes the handshake (its holder proves it has
		// the key); the hook then verifies it (Config.Certs), so that every
		// refusal is logged and counted with its reason. A client without a
		// certificate is refused here, at the end of the handshake.
		tc.ClientAuth = tls.RequestClientCert
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				b.hook.refused.With(refusedNoCert).Inc()
				b.log.Warn("broker: connection refused", "reason", refusedNoCert, "listener", listenerCert)
				return errors.New("a client certificate from the central's CA is required")
			}
			return nil
		}
		b.mtls = newListener(listenerCert, cfg.CertAddr, tc, cfg.ConnectTimeout, cfg.MaxConnecting, lm, b.disconnectListener)
	}
	return b, nil
}

// Start listens on the configured address and serves clients until Close
// (or until ctx ends, which closes the broker).
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.closed {
		return errors.New("broker: already started or closed")
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.hook.setContext(hctx)
	if b.tcp != nil {
		if err := b.server.AddListener(b.tcp); err != nil {
			cancel()
			return fmt.Errorf("broker: listen on %s: %w", b.cfg.Addr, err)
		}
	}
	if b.mtls != nil {
		if err := b.server.AddListener(b.mtls); err != nil {
			cancel()
			_ = b.server.Close()
			return fmt.Errorf("broker: listen on %s: %w", b.cfg.CertAddr, err)
		}
	}
	if err := b.server.Serve(); err != nil {
		cancel()
		return fmt.Errorf("broker: serve: %w", err)
	}
	b.started, b.cancel = true, cancel
	go func() {
		select {
		case <-ctx.Done():
			_ = b.Close()
		case <-hctx.Done():
		}
	}()
	b.log.Info("broker listening", "secret_addr", b.Addr(), "secret_tls", b.cfg.TLS != nil, "cert_addr", b.CertAddr(),
		"max_packet", b.cfg.MaxPacketSize, "max_writes_pending", b.cfg.MaxWritesPending)
	return nil
}

// Addr returns the address the secret listener listens on (useful with port
// 0), or "" without one.
func (b *Broker) Addr() string {
	if b.tcp == nil {
		return ""
	}
	return b.tcp.Address()
}

// CertAddr returns the address of the certificate listener, or "" without one.
func (b *Broker) CertAddr() string {
	if b.mtls == nil {
		return ""
	}
	return b.mtls.Address()
}

// Ready returns nil when the broker is serving and each of its listeners
// accepts connections; otherwise an error naming each listener that does
// not (its accept failing, such as EMFILE, or its loop stopped) or saying
// the broker is not started or closed. /readyz reports it.
func (b *Broker) Ready() error {
	b.mu.Lock()
	started, closed := b.started, b.closed
	b.mu.Unlock()
	switch {
	case closed:
		return errors.New("broker: closed")
	case !started:
		return errors.New("broker: not started")
	}
	var errs []error
	for _, l := range []*listener{b.tcp, b.mtls} {
		if l == nil {
			continue
		}
		if err := l.ready(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close disconnects every client and stops listening. It is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if !b.started {
		return nil
	}
	err := b.server.Close()
	b.cancel()
	if err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// disconnectListener disconnects the clients of one listener when it
// closes (listener.Close says why not with mochi's own function): it lists
// them with Clients.GetAll, which takes the read lock once. Their network
// connections are closed first: mochi's DisconnectClient writes a packet
// under the connection's lock before it closes it, and a door that stopped
// reading holds that lock with a write waiting for room in its socket, so
// the close waited there for the door's keepalive, one door after another
// (a restart with 10,000 doors spent its whole shutdown timeout closing the
// broker and was killed). A closed connection fails those writes at once.
//
// The clients' wills are dropped first: they say that a door went away
// from a broker that stays, while here the broker goes (its retained
// messages are not kept, and the doors say who they are when they
// reconnect). With them, 10,000 doors' "offline" statuses went through the
// ingest, the alerts and the retained store as the central stopped, and
// took seconds of a restart.
func (b *Broker) disconnectListener(id string) {
	var cls []*mqtt.Client
	for _, cl := range b.server.Clients.GetAll() {
		if cl.Net.Listener == id && !cl.Closed() {
			cls = append(cls, cl)
		}
	}
	for _, cl := range cls {
		atomic.StoreUint32(&cl.Properties.Will.Flag, 0) // mochi reads it atomically (sendLWT)
	}
	for _, cl := range cls {
		if cl.Net.Conn != nil {
			_ = cl.Net.Conn.Close()
		}
	}
	for _, cl := range cls {
		_ = b.server.DisconnectClient(cl, packets.ErrServerShuttingDown)
	}
}

// isServiceClientID reports whether a client id belongs to the central's
// clients: the service username itself or with a suffix.
func isServiceClientID(service, id string) bool { return strings.HasPrefix(id, service) }

// Serving reports whether the broker is started and not closed: whether
// its inline client (Subscribe, Publish) reaches doors.
func (b *Broker) Serving() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.started && !b.closed
}

// Subscribe subscribes the central's in-process client (mochi's inline
// client) to filter: handler is called for every message published on a
// matching topic, on the goroutine of the publishing client's connection,
// after the broker's checks (a door's publish passed the door topic ACL).
// central/ingest's InlineLink uses it instead of a network connection,
// which mochi would give a write queue of fixed capacity.
func (b *Broker) Subscribe(filter string, subscriptionID int, handler mqtt.InlineSubFn) error {
	return b.server.Subscribe(filter, subscriptionID, handler)
}

// Unsubscribe removes a subscription made with Subscribe.
func (b *Broker) Unsubscribe(filter string, subscriptionID int) error {
	return b.server.Unsubscribe(filter, subscriptionID)
}

// Unacked is how many QoS 1 messages sent to the client wait for its
// PUBACK (ok false: no such client connected). Each holds a copy of its
// payload in the broker until then.
func (b *Broker) Unacked(clientID string) (n int, ok bool) {
	cl, ok := b.server.Clients.Get(clientID)
	if !ok || cl.Closed() {
		return 0, false
	}
	return cl.State.Inflight.Len(), true
}

// Publish publishes from the central's in-process client to the clients
// subscribed to topic, at up to qos: it needs no ACL (it is the central),
// and a door receives it only on a topic the door ACL lets it subscribe to.
// It runs on the caller's goroutine: a QoS 1 delivery to a door that
// stopped reading can wait for that door (see the package documentation).
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	return b.server.Publish(topic, payload, retain, qos)
}
