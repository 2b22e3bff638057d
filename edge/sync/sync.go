// Package sync is the door's link to the central service over MQTT (paho):
// it delivers the outbox, takes acknowledgements, whitelist updates and
// signed commands, and publishes the door's retained status.
//
// The outbox in the door's bbolt store is the only source of truth. paho runs
// with a clean session and no persistent store: an event leaves the outbox
// only when the central's cumulative Ack covers it, never on a PUBACK. Batches
// are published at QoS 1, at most MaxInFlight unacknowledged at a time; when
// no ack arrives within Retransmit, and on every (re)connection, everything
// not yet acknowledged is sent again from the oldest event (the central
// stores idempotently on door, store and seq, and acknowledges repeats
// again). A batch carries events of one store identity (edge/store numbers
// each Open's events in a new one), and an ack deletes events of the store
// it names only.
//
// Incoming messages are queued by the paho handlers (which never block
// paho's router) and handled one at a time in arrival order by the sync's
// loop: acks delete events and advance the trusted time; whitelist messages
// are verified against the pinned key and applied through the agent (a gap
// makes the door ask for a sync from its version); commands are verified and
// executed at most once; a renewed certificate is checked (the pinned CA,
// this door, the door's own key, a later expiry) and replaces the
// certificate file, which the next connection reads. The door asks for it
// over its connection when less than a third of the certificate's lifetime
// is left. On every connection the door publishes its status
// (retained; the last will says offline) and asks for the whitelist after
// the version it holds. Reconnection backs off with jitter so a fleet does
// not reconnect in lockstep after a broker restart.
package sync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/enroll"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Config is the [mqtt] section of the agent's configuration.
type Config struct {
	// Broker is tcp://host:port or mqtt://host:port, or ssl:// / mqtts://
	// for TLS.
	Broker string `toml:"broker"`
	// Username defaults to the door id. Password (or PasswordFile) is the
	// per-door secret, the explicit alternative to a client certificate.
	Username     string `toml:"username"`
	Password     string `toml:"password"`
	PasswordFile string `toml:"password_file"`
	// CAFile is the CA the broker's certificate must chain to; CertFile and
	// KeyFile are the door's client certificate, read again on every
	// connection attempt so a renewed certificate is picked up.
	CAFile   string `toml:"ca_file"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// TopicPrefix defaults to swc/v1.
	TopicPrefix string `toml:"topic_prefix"`

	BatchSize      int           `toml:"batch_size"`      // events per batch (200; at most 500)
	MaxInFlight    int           `toml:"max_in_flight"`   // unacknowledged batches (4)
	Retransmit     time.Duration `toml:"retransmit"`      // resend when no ack came for this long (10s)
	StatusInterval time.Duration `toml:"status_interval"` // republish the retained status (30s)
	KeepAlive      time.Duration `toml:"keepalive"`       // MQTT keepalive (30s)
	MaxReconnect   time.Duration `toml:"max_reconnect"`   // longest reconnect backoff (60s)
	SnapshotWait   time.Duration `toml:"snapshot_wait"`   // ask again when a snapshot stays incomplete this long (30s)
	// RenewRetry is how long a certificate renewal request may go
	// unanswered before it is sent again (10m). Renewal runs when cert_file
	// is set and less than a third of the certificate's lifetime is left.
	RenewRetry time.Duration `toml:"renew_retry"`
	// Watchdog is how long the MQTT client may stay neither connected nor
	// reconnecting before the door replaces it with a new one (30s, twice
	// the connect timeout; at least 1s). See Sync.watch.
	Watchdog time.Duration `toml:"watchdog"`
}

func (c *Config) defaults(door string) error {
	u, err := url.Parse(c.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("broker %q: want tcp://host:port, mqtt://, ssl:// or mqtts://", c.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "mqtts", "tls":
	default:
		return fmt.Errorf("broker %q: scheme %q; want tcp, mqtt, ssl or mqtts", c.Broker, u.Scheme)
	}
	if c.Username == "" {
		c.Username = door
	}
	if c.Password != "" && c.PasswordFile != "" {
		return errors.New("password and password_file: give one of them")
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return fmt.Errorf("password_file: %w", err)
		}
		c.Password = strings.TrimSpace(string(b))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("cert_file and key_file: give both or neither")
	}
	def := func(d *time.Duration, v time.Duration, name string) error {
		if *d == 0 {
			*d = v
		}
		if *d < 0 {
			return fmt.Errorf("%s: negative", name)
		}
		return nil
	}
	for _, e := range []error{
		def(&c.Retransmit, 10*time.Second, "retransmit"),
		def(&c.StatusInterval, 30*time.Second, "status_interval"),
		def(&c.KeepAlive, 30*time.Second, "keepalive"),
		def(&c.MaxReconnect, time.Minute, "max_reconnect"),
		def(&c.SnapshotWait, 30*time.Second, "snapshot_wait"),
		def(&c.RenewRetry, 10*time.Minute, "renew_retry"),
		def(&c.Watchdog, 2*connectTimeout, "watchdog"),
	} {
		if e != nil {
			return e
		}
	}
	if c.Watchdog < time.Second {
		return fmt.Errorf("watchdog %s: want at least 1s", c.Watchdog)
	}
	if c.BatchSize == 0 {
		c.BatchSize = 200
	}
	if c.BatchSize < 1 || c.BatchSize > protocol.MaxBatchEvents {
		return fmt.Errorf("batch_size %d: want 1 to %d", c.BatchSize, protocol.MaxBatchEvents)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 4
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 64 {
		return fmt.Errorf("max_in_flight %d: want 1 to 64", c.MaxInFlight)
	}
	return nil
}

// Factory registers the sync with the agent for the [mqtt] section.
func Factory() agent.ComponentFactory {
	return agent.ComponentFactory{Section: "mqtt", Name: "sync", New: New}
}

// New builds the sync from the agent's [mqtt] section.
func New(_ context.Context, h agent.Host) (agent.Component, error) {
	var cfg Config
	if err := h.Config().DecodeSection("mqtt", &cfg); err != nil {
		return nil, err
	}
	return NewWithConfig(h, cfg)
}

// NewWithConfig builds the sync from a configuration.
func NewWithConfig(h agent.Host, cfg Config) (*Sync, error) {
	door := h.DoorID()
	if err := cfg.defaults(door); err != nil {
		return nil, fmt.Errorf("[mqtt] %w", err)
	}
	topics, err := protocol.NewTopics(cfg.TopicPrefix)
	if err != nil {
		return nil, fmt.Errorf("[mqtt] topic_prefix: %w", err)
	}
	reg := h.Metrics()
	s := &Sync{
		h: h, cfg: cfg, door: door, topics: topics,
		log:   h.Logger().With("component", "sync"),
		wake:  make(chan struct{}, 1),
		inbox: &queue{},

		connected:   reg.Gauge("swc_edge_mqtt_connected", "1 while the door is connected to the broker."),
		connects:    reg.Counter("swc_edge_mqtt_connects_total", "Connections made to the broker."),
		batches:     reg.Counter("swc_edge_sync_batches_sent_total", "Event batches published (first sends and resends)."),
		sentEvents:  reg.Counter("swc_edge_sync_events_sent_total", "Events published (first sends and resends)."),
		resends:     reg.Counter("swc_edge_sync_resends_total", "Times the unacknowledged outbox was sent again (timeout or reconnection)."),
		acks:        reg.Counter("swc_edge_sync_acks_total", "Acknowledgements received from the central."),
		acked:       reg.Counter("swc_edge_sync_events_acked_total", "Outbox events deleted because the central acknowledged them."),
		syncReqs:    reg.Counter("swc_edge_sync_requests_total", "Whitelist sync requests sent."),
		rejected:    reg.CounterVec("swc_edge_sync_rejected_messages_total", "Messages from the central refused, by topic and reason.", "topic", "reason"),
		publishErrs: reg.Counter("swc_edge_sync_publish_errors_total", "Publishes that failed (the data stays in the outbox)."),
		resubscribes: reg.Counter("swc_edge_mqtt_resubscribes_total",
			"Subscriptions made again on the same connection because the broker's SUBACK did not come in time."),
		replaced: reg.Counter("swc_edge_mqtt_clients_replaced_total",
			"MQTT clients replaced by a new one because they stayed neither connected nor reconnecting (the watchdog)."),
		renewals: reg.CounterVec("swc_edge_cert_renewals_total", "Certificate renewals: requested, renewed, refused by the central, rejected by the door.", "result"),
	}
	if cfg.CertFile != "" {
		s.files = &enroll.Files{Key: cfg.KeyFile, Cert: cfg.CertFile, CA: cfg.CAFile}
		if cfg.CAFile == "" {
			return nil, errors.New("[mqtt] cert_file needs ca_file: a renewed certificate is checked against the CA")
		}
	}
	return s, nil
}

// Sync is the door's MQTT link.
type Sync struct {
	h      agent.Host
	cfg    Config
	door   string
	topics protocol.Topics
	log    *slog.Logger
	// client is the paho client: written by Run's goroutine only (at start
	// and when the watchdog replaces it), under clientMu so that another
	// goroutine (a test) may read it; Run's goroutine reads it freely.
	client   mqtt.Client
	clientMu gosync.Mutex

	wake    chan struct{} // coalesced: something for the loop to do
	inbox   *queue
	online  atomic.Uint64 // the generation of the connection the door is online on (subscribed); 0: offline
	gen     atomic.Uint64 // connection generation, bumped when a connection is subscribed
	conns   atomic.Uint64 // connections, bumped at the start of OnConnect
	attempt atomic.Int64  // reconnect attempts since the last connection

	connected                                                     *metrics.Gauge
	connects, batches, sentEvents, resends, acks, acked, syncReqs *metrics.Counter
	publishErrs, resubscribes, replaced                           *metrics.Counter
	rejected                                                      *metrics.CounterVec
	renewals                                                      *metrics.CounterVec

	files *enroll.Files // the door's certificate files, nil without cert_file
}

// incoming is a message handed from a paho handler to the loop.
type incoming struct {
	kind    string
	payload []byte
}

// queue is an unbounded FIFO: paho's handlers push without ever blocking.
type queue struct {
	mu    gosync.Mutex
	items []incoming
}

func (q *queue) push(m incoming) {
	q.mu.Lock()
	q.items = append(q.items, m)
	q.mu.Unlock()
}

func (q *queue) pop() (incoming, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return incoming{}, false
	}
	m := q.items[0]
	q.items[0] = incoming{}
	q.items = q.items[1:]
	return m, true
}

func (s *Sync) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Online reports whether the door is connected to the broker now.
func (s *Sync) Online() bool { return s.online.Load() != 0 }

// Run connects and syncs until ctx ends; it then publishes the offline
// status and disconnects.
func (s *Sync) Run(ctx context.Context) error {
	opts, err := s.options(ctx)
	if err != nil {
		return err
	}
	s.setClient(mqtt.NewClient(opts))
	defer func() {
		s.online.Store(0)
		s.connected.Set(0)
	}()
	if err := s.connectFirst(ctx); err != nil {
		return err
	}
	err = s.loop(ctx)
	s.goodbye()
	return err
}

// setClient installs c as the door's paho client.
func (s *Sync) setClient(c mqtt.Client) {
	s.clientMu.Lock()
	s.client = c
	s.clientMu.Unlock()
}

// connectTimeout bounds one connection attempt's MQTT handshake.
const connectTimeout = 15 * time.Second

// pingTimeout is how long paho waits for a PINGRESP before it drops the
// connection: one keepalive, at least 10 s and at most a minute. paho
// (v1.5.1, ping.go) clears a pending ping on the PINGRESP only: the packets
// received meanwhile put the next ping off but neither clear the pending
// one nor extend its wait. A busy broker queues the PINGRESP behind what it
// sends the door first, such as a whitelist snapshot (about 1 MB in some 14
// messages at a fleet's start): with 10 s, a door could take the answer
// coming late behind its snapshot for a dead link, reconnect and ask for the
// snapshot again (the likely cause of 12,214 "pingresp not received" in one
// fleet worker's 5,000 doors). One keepalive (30 s by default) gives a
// snapshot that long to arrive; a dead link is still noticed within about
// two keepalives (the broker gives up after one and a half and publishes
// the last will).
func (s *Sync) pingTimeout() time.Duration {
	return min(max(s.cfg.KeepAlive, 10*time.Second), time.Minute)
}

func (s *Sync) options(ctx context.Context) (*mqtt.ClientOptions, error) {
	will, err := protocol.Encode(&protocol.Status{V: protocol.Version, Door: s.door, State: protocol.StateOffline})
	if err != nil {
		return nil, err
	}
	opts := mqtt.NewClientOptions().
		AddBroker(s.cfg.Broker).
		SetClientID(s.door).
		SetUsername(s.cfg.Username).
		SetPassword(s.cfg.Password).
		SetCleanSession(true).
		SetOrderMatters(true). // handlers only enqueue; order is kept
		SetAutoReconnect(true).
		SetConnectRetry(false). // the first connection is ours, with jitter
		// paho sleeps after each failed reconnection attempt, doubling up
		// to this bound, on top of the jittered wait of our reconnecting
		// handler: two backoffs that add up (a broker back after 10 s found
		// the doors' next attempts 20-30 s away). Ours alone paces them.
		SetMaxReconnectInterval(0).
		SetKeepAlive(s.cfg.KeepAlive).
		SetPingTimeout(s.pingTimeout()).
		SetConnectTimeout(connectTimeout).
		SetWriteTimeout(15*time.Second).
		SetBinaryWill(s.topics.Door(s.door, protocol.TopicStatus), will, 1, true).
		SetOnConnectHandler(s.onConnect).
		// paho calls this on a goroutine of its own, which may run after
		// the next connection is up: the loop, not this handler, takes the
		// door offline (see offline), so that a late call cannot take a
		// newer connection down with it.
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.log.Warn("lost the broker; the door keeps working offline", "err", err)
			s.poke()
		}).
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) { s.jitter(ctx) }).
		// A message on no route (cannot happen with our topics) is acked.
		SetDefaultPublishHandler(func(mqtt.Client, mqtt.Message) {})
	if s.cfg.CAFile != "" || s.cfg.CertFile != "" || strings.HasPrefix(s.cfg.Broker, "ssl") || strings.HasPrefix(s.cfg.Broker, "mqtts") || strings.HasPrefix(s.cfg.Broker, "tls") {
		tc, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(tc)
		// Read the certificate again before every attempt: a renewed one is
		// used from the next connection on.
		opts.SetConnectionAttemptHandler(func(_ *url.URL, c *tls.Config) *tls.Config {
			fresh, err := s.tlsConfig()
			if err != nil {
				s.log.Error("reading the door's certificate failed; trying with the previous one", "err", err)
				return c
			}
			return fresh
		})
	}
	return opts, nil
}

func (s *Sync) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	// The Pi may have no real-time clock: judge certificate validity by the
	// door's clock, which never goes below the last trusted time.
	tc.Time = func() time.Time { return s.h.Now().Time }
	if s.cfg.CAFile != "" {
		pem, err := os.ReadFile(s.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("[mqtt] ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("[mqtt] ca_file %s: no PEM certificate in it", s.cfg.CAFile)
		}
	}
	if s.cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("[mqtt] cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// quickAttempts is how many reconnection attempts come 1-2 s apart before
// the backoff grows: about the first 12 s of an outage. A central that
// restarts is back within seconds, and a backoff that doubled from the
// first attempt on put a door's next attempt up to twice the outage
// away (a 12 s restart found the doors back 12-30 s after it stopped).
// While the central is down each attempt is a refused connection; when it
// is back, the broker sheds what it cannot take (MaxConnecting) and those
// doors try again a second or two later.
const quickAttempts = 8

// backoff returns the jittered wait before reconnection attempt n (from 0):
// a random time in [d/2, d] where d is 2 s for the first quickAttempts
// attempts, then doubles up to MaxReconnect.
func (s *Sync) backoff(n int64) time.Duration {
	d := 2 * time.Second
	for i := int64(quickAttempts); i < n && d < s.cfg.MaxReconnect; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxReconnect)
	return d/2 + rand.N(d/2+1)
}

// jitter runs before each of paho's reconnection attempts.
func (s *Sync) jitter(ctx context.Context) {
	d := s.backoff(s.attempt.Add(1) - 1)
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// connectFirst connects with jittered backoff until it works or ctx ends; the
// door works offline meanwhile.
func (s *Sync) connectFirst(ctx context.Context) error {
	for n := int64(0); ; n++ {
		tok := s.client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			s.client.Disconnect(0)
			return nil
		}
		if tok.Error() == nil {
			return nil
		}
		d := s.backoff(n)
		s.log.Warn("cannot reach the broker; the door works offline and tries again", "broker", s.cfg.Broker, "err", tok.Error(), "retry_in", d.Round(time.Millisecond))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil
		}
	}
}

// onConnect runs on every (re)connection: subscribe, then let the loop
// resend the outbox, publish the status and ask for the whitelist.
func (s *Sync) onConnect(c mqtt.Client) {
	conn := s.conns.Add(1)
	subs := map[string]byte{}
	for _, t := range s.topics.DoorTopics(s.door) {
		subs[t] = 1
	}
	// The handler only queues: it never blocks paho's router.
	handler := func(_ mqtt.Client, m mqtt.Message) {
		_, kind, err := s.topics.Parse(m.Topic())
		if err != nil {
			s.rejected.With("unknown", "topic").Inc()
			return
		}
		s.inbox.push(incoming{kind: kind, payload: m.Payload()})
		s.poke()
	}
	go func() {
		// The SUBACK may be slow (a broker busy with a reconnecting
		// fleet), or never come on a connection that stays up: paho gives
		// a SUBSCRIBE it could not hand to its writer within its write
		// timeout up ("subscribe was broken by timeout") without closing
		// the connection, and a SUBSCRIBE lost on its way is never
		// answered. The door would stay connected but never online: no
		// status, no whitelist, its events kept. So while this connection
		// is the current one and open, it subscribes again (the same
		// subscriptions: the broker replaces them) every subackWait. A
		// lost connection completes the token with an error: paho
		// reconnects and this handler runs again. (Not always: a door
		// was seen stuck with "not Connected" here, its client neither
		// connected nor reconnecting; the loop's watchdog replaces such a
		// client, see watch.) Never Disconnect here: paho does not
		// reconnect after a Disconnect, and the door would stay offline
		// with its outbox growing until the watchdog noticed.
		wait := s.subackWait()
		var tok mqtt.Token
		for {
			tok = c.SubscribeMultiple(subs, handler)
			if tok.WaitTimeout(wait) && tok.Error() == nil {
				break
			}
			if s.conns.Load() != conn || !c.IsConnectionOpen() {
				// The connection was lost before the SUBACK: paho
				// reconnects and this handler runs again.
				s.log.Warn("the connection was lost before the door's subscription completed; reconnecting", "err", tok.Error())
				return
			}
			s.resubscribes.Inc()
			s.log.Warn("the door's subscription was not answered; subscribing again", "waited", wait, "err", tok.Error())
		}
		if s.conns.Load() != conn {
			// A newer connection (or a new client, see replaceClient)
			// started meanwhile: this one is gone, and the newer one
			// takes the door online.
			return
		}
		if refused := refusedTopics(tok); len(refused) > 0 {
			// The broker's ACL refuses some of the door's own topics (a
			// broker configured for another topic prefix): what comes on
			// them never arrives. Said loudly; the door works on with the
			// others.
			s.log.Error("the broker refused some of the door's subscriptions", "topics", refused)
		}
		s.attempt.Store(0)
		s.online.Store(s.gen.Add(1))
		s.connected.Set(1)
		s.connects.Inc()
		s.log.Info("connected to the central's broker", "broker", s.cfg.Broker)
		s.poke()
	}()
}

// subackWait is how long the door waits for its SUBACK before it
// subscribes again on the same connection: three retransmission periods
// (30 s by default), well above a busy broker's answer.
func (s *Sync) subackWait() time.Duration { return 3 * s.cfg.Retransmit }

// refusedTopics returns the filters a SUBACK refused (0x80), sorted.
func refusedTopics(tok mqtt.Token) []string {
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return nil
	}
	var out []string
	for f, code := range st.Result() {
		if code >= 0x80 {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// flight is one published, unacknowledged batch: its store, the seq of its
// last event in that store, when it left.
type flight struct {
	store string
	last  uint64
	at    time.Time
}

// state is the loop's own: nothing else touches it.
type state struct {
	gen       uint64            // connection generation the flights belong to
	sent      uint64            // outbox position of the last event published in this round (0: start from the oldest)
	sentSeq   map[string]uint64 // per store, the highest seq published in this round
	flights   []flight          // published and not yet acknowledged, in order
	staging   uint64            // snapshot version being staged, 0 if none
	stagingAt time.Time
	statusAt  time.Time
	renewAt   time.Time // when the certificate was last looked at or a renewal asked for
	renewSent bool      // a renewal request is waiting for its answer
	stuckAt   time.Time // when the client was first seen neither connected nor reconnecting (zero: it is not)
}

func (s *Sync) loop(ctx context.Context) error {
	var st state
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	appended := s.h.Appended()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-appended:
		case <-tick.C:
		}
		if ctx.Err() != nil {
			return nil // the select may pick another ready case
		}
		s.offline()
		s.watch(ctx, &st, time.Now())
		// A new connection: start over from the oldest unacknowledged event,
		// tell the central who we are and what we hold.
		if g := s.online.Load(); g != 0 && g != st.gen {
			st.gen, st.sent, st.sentSeq, st.flights = g, 0, nil, nil
			st.renewAt = time.Time{} // look at the certificate on every new connection
			s.publishStatus(ctx, &st)
			s.requestSync(ctx, false)
		}
		for ctx.Err() == nil {
			m, ok := s.inbox.pop()
			if !ok {
				break
			}
			s.handle(ctx, &st, m)
		}
		if !s.Online() {
			continue
		}
		now := time.Now()
		if len(st.flights) > 0 && now.Sub(st.flights[0].at) > s.cfg.Retransmit {
			s.resends.Inc()
			s.log.Info("no acknowledgement in time; sending the outbox again", "waited", now.Sub(st.flights[0].at).Round(time.Millisecond), "from_seq", st.flights[0].last)
			st.sent, st.sentSeq, st.flights = 0, nil, nil
		}
		s.send(ctx, &st)
		if st.staging != 0 && now.Sub(st.stagingAt) > s.cfg.SnapshotWait {
			s.log.Warn("whitelist snapshot still incomplete; asking again", "version", st.staging)
			st.staging = 0
			s.requestSync(ctx, false)
		}
		if now.Sub(st.statusAt) >= s.cfg.StatusInterval {
			s.publishStatus(ctx, &st)
		}
		s.maybeRenew(ctx, &st, now)
	}
}

// offline takes the door offline when the connection it is online on is
// gone. Only that connection's generation is cleared: a newer connection,
// subscribed meanwhile, stays online.
func (s *Sync) offline() {
	g := s.online.Load()
	if g == 0 || s.client.IsConnectionOpen() {
		return
	}
	if s.online.CompareAndSwap(g, 0) {
		s.connected.Set(0)
	}
}

// watch replaces the paho client when it has been neither connected nor
// reconnecting for cfg.Watchdog.
//
// The door relies on paho's auto-reconnection, and paho (v1.5.1) never
// leaves such a state on its own: its status moves back to connected only
// through the reconnection that internalConnLost starts, and
// internalConnLost does nothing (it does not call the connection-lost
// handler either) while the status is disconnecting or disconnected. A
// door of a 10,000-door fleet run (door-04398) was found so: its
// subscription failed with "not Connected" (paho's IsConnected false:
// neither connected, nor reconnecting, nor disconnecting to reconnect),
// and it logged nothing more for over ten minutes: no lost connection, no
// reconnection, its outbox growing. In paho's source, a reconnection
// whose status was moved to disconnecting-without-reconnect while it was
// under way (by a Disconnect, or by a connection-loss report computed
// from a stale status) still starts its workers and calls OnConnect, which
// then sees exactly "not Connected", and nothing moves the status again.
// Which race it was in the fleet is not proven; the watchdog covers any.
//
// With ConnectRetry off, the door's client is outside connected and
// reconnecting only during the door's own Connect (connectFirst, not
// running beside the loop) and Disconnect (at the end of Run): any such
// state the loop sees is paho having given up. The bound (30 s, twice the
// connect timeout) rides over a transition seen mid-way and is short
// beside the minutes a door would stay deaf; it is not a broker outage
// (paho is then reconnecting, which the watchdog leaves alone).
//
// The old client is told to Disconnect with a short quiesce (paho returns
// after it whatever its state; in the aborted state a goroutine of paho's
// may stay blocked, and its socket, if open, is closed by the broker when
// the new client connects with the same client id), and a new client is
// built (paho's own client is not safely reused after a Disconnect) and
// connected with the door's jittered backoff. The door's decisions never
// wait on any of this: taps are journalled into the outbox meanwhile.
func (s *Sync) watch(ctx context.Context, st *state, now time.Time) {
	if s.Online() || s.client.IsConnected() {
		st.stuckAt = time.Time{}
		return
	}
	if st.stuckAt.IsZero() {
		st.stuckAt = now
		return
	}
	if now.Sub(st.stuckAt) < s.cfg.Watchdog {
		return
	}
	s.log.Warn("the MQTT client is neither connected nor reconnecting; replacing it with a new one",
		"stuck_for", now.Sub(st.stuckAt).Round(time.Millisecond))
	st.stuckAt = time.Time{}
	s.replaceClient(ctx)
}

// replaceClientQuiesce is how long the old client's Disconnect may take.
const replaceClientQuiesce = 250 // ms

// replaceClient drops the paho client for a new one and connects it with
// the door's jittered backoff (until it connects or ctx ends). When the new
// client's options cannot be built (the certificate files unreadable), the
// old client stays, and the watchdog tries again.
func (s *Sync) replaceClient(ctx context.Context) {
	opts, err := s.options(ctx)
	if err != nil {
		s.log.Error("building a new MQTT client failed; the watchdog tries again", "err", err)
		return
	}
	s.client.Disconnect(replaceClientQuiesce)
	// Whatever the old client's OnConnect goroutine still does, it no
	// longer takes the door online.
	s.conns.Add(1)
	s.setClient(mqtt.NewClient(opts))
	s.replaced.Inc()
	if err := s.connectFirst(ctx); err != nil {
		s.log.Error("connecting the new MQTT client failed", "err", err)
	}
}

// renewCheckEvery is how often the certificate's remaining life is looked
// at while connected (and at every new connection).
const renewCheckEvery = time.Hour

// maybeRenew asks the central for a new certificate when less than a third
// of the current one's lifetime is left (by the door's clock), at most once
// per RenewRetry while unanswered.
func (s *Sync) maybeRenew(ctx context.Context, st *state, now time.Time) {
	if s.files == nil {
		return
	}
	wait := renewCheckEvery
	if st.renewSent {
		wait = s.cfg.RenewRetry
	}
	if !st.renewAt.IsZero() && now.Sub(st.renewAt) < wait {
		return
	}
	st.renewAt = now
	certPEM, err := os.ReadFile(s.files.Cert)
	if err != nil {
		s.log.Error("reading the door's certificate failed", "err", err)
		return
	}
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		s.log.Error("the door's certificate file does not parse", "path", s.files.Cert, "err", err)
		return
	}
	if !enroll.NeedsRenewal(cert, s.h.Now().Time) {
		st.renewSent = false
		return
	}
	req, err := enroll.RenewalRequest(*s.files, s.door)
	if err != nil {
		s.log.Error("building the certificate renewal request failed", "err", err)
		return
	}
	payload, err := protocol.Encode(req)
	if err != nil {
		return
	}
	s.client.Publish(s.topics.Door(s.door, protocol.TopicRenew), 1, false, payload)
	st.renewSent = true
	s.renewals.With("requested").Inc()
	s.log.Info("asking the central to renew the door's certificate", "not_after", cert.NotAfter.UTC())
}

// renewed handles the central's answer to a renewal request.
func (s *Sync) renewed(st *state, payload []byte) {
	rep, err := protocol.DecodeCertReply(payload)
	if err == nil && rep.Door != s.door {
		err = &protocol.Error{Kind: protocol.ErrWrongDoor, Field: "door"}
	}
	if err != nil {
		s.reject(protocol.TopicCert, err)
		return
	}
	if s.files == nil {
		s.rejected.With(protocol.TopicCert, "no_certificate").Inc()
		s.log.Warn("a certificate came from the central, but this door has no cert_file; ignored")
		return
	}
	if rep.Error != "" {
		s.renewals.With("refused").Inc()
		s.log.Error("the central refused to renew the door's certificate; provision the door again before it expires", "reason", rep.Error)
		return
	}
	cert, err := enroll.InstallRenewed(*s.files, s.door, []byte(rep.Certificate), s.h.Now().Time)
	if err != nil {
		s.renewals.With("rejected").Inc()
		s.log.Error("the renewed certificate from the central was rejected; the current one stays", "err", err)
		return
	}
	st.renewSent = false
	s.renewals.With("renewed").Inc()
	s.log.Info("the door's certificate was renewed; the next connection uses it", "path", s.files.Cert, "not_after", cert.NotAfter.UTC())
}

// send publishes batches while the in-flight window has room.
func (s *Sync) send(ctx context.Context, st *state) {
	for len(st.flights) < s.cfg.MaxInFlight {
		p, err := s.h.Pending(ctx, st.sent, s.cfg.BatchSize)
		if stopping(ctx, err) {
			return
		}
		if err != nil {
			s.log.Error("reading the outbox failed", "err", err)
			return
		}
		evs := p.Events
		if len(evs) == 0 {
			return
		}
		payload, err := protocol.Encode(&protocol.EventBatch{V: protocol.Version, Door: s.door, Store: p.Store, Events: evs})
		for errors.Is(err, protocol.ErrTooLarge) && len(evs) > 1 {
			half := evs[:len(evs)/2]
			p.Last -= evs[len(evs)-1].Seq - half[len(half)-1].Seq // position = the store's base + seq
			evs = half
			payload, err = protocol.Encode(&protocol.EventBatch{V: protocol.Version, Door: s.door, Store: p.Store, Events: evs})
		}
		if err != nil {
			s.log.Error("encoding an event batch failed; it stays in the outbox", "store", p.Store, "first_seq", evs[0].Seq, "err", err)
			return
		}
		tok := s.client.Publish(s.topics.Door(s.door, protocol.TopicEvents), 1, false, payload)
		last := evs[len(evs)-1].Seq
		// The token is not waited for: delivery is judged by the central's
		// Ack, and a batch lost anywhere is sent again on the timer.
		go func() {
			if tok.WaitTimeout(time.Minute) && tok.Error() != nil {
				s.publishErrs.Inc()
			}
		}()
		st.flights = append(st.flights, flight{store: p.Store, last: last, at: time.Now()})
		st.sent = p.Last
		if st.sentSeq == nil {
			st.sentSeq = map[string]uint64{}
		}
		st.sentSeq[p.Store] = last
		s.batches.Inc()
		s.sentEvents.Add(uint64(len(evs)))
	}
}

func (s *Sync) handle(ctx context.Context, st *state, m incoming) {
	switch m.kind {
	case protocol.TopicAck:
		ack, err := protocol.DecodeAck(m.payload)
		if err == nil && ack.Door != s.door {
			err = &protocol.Error{Kind: protocol.ErrWrongDoor, Field: "door"}
		}
		if err != nil {
			s.reject(m.kind, err)
			return
		}
		n, err := s.h.Ack(ctx, ack)
		if errors.Is(err, store.ErrAckAhead) {
			// The central acknowledges events of the current store beyond
			// any it numbered: no other database numbers in that store
			// (a fresh random identity at every Open), so the ack is wrong.
			// Nothing is deleted.
			s.rejected.With(m.kind, "ack_ahead").Inc()
			s.log.Error("the central acknowledges events this door's current store never recorded; nothing deleted",
				"store", ack.Store, "through", ack.Through)
			return
		}
		if err != nil {
			s.reject(m.kind, err)
			return
		}
		s.acks.Inc()
		s.acked.Add(uint64(n))
		keep := st.flights[:0]
		for _, f := range st.flights {
			if f.store != ack.Store || f.last > ack.Through {
				keep = append(keep, f)
			}
		}
		st.flights = keep
		if len(keep) == 0 && st.sentSeq[ack.Store] > ack.Through {
			// Everything we sent was answered, but the central is still
			// missing some of it: start over from the oldest event.
			st.sent = 0
		}
	case protocol.TopicWhitelist:
		res, err := s.h.ReceiveWhitelist(ctx, m.payload)
		switch {
		case errors.Is(err, protocol.ErrGap):
			s.requestSync(ctx, false)
		case errors.Is(err, protocol.ErrReplay):
			// Already held (a repeat, or an answer to an older request).
		case err != nil:
			s.rejected.With(m.kind, protocol.Code(err)).Inc() // the agent logged it
		case res.Applied:
			st.staging = 0
			s.publishStatus(ctx, st)
		default: // a snapshot part staged
			if st.staging != res.Version || res.Staged == 1 {
				st.stagingAt = time.Now()
			}
			st.staging = res.Version
		}
	case protocol.TopicCert:
		s.renewed(st, m.payload)
	case protocol.TopicCommands:
		c, err := s.h.ReceiveCommand(ctx, m.payload)
		if err != nil {
			s.rejected.With(m.kind, protocol.Code(err)).Inc() // the agent logged it
			return
		}
		if c.Action == protocol.ActionResync {
			s.requestSync(ctx, true)
		}
		s.publishStatus(ctx, st)
	}
}

// stopping reports whether err is only ctx ending: the sync is stopping,
// and there is nothing to log (a normal stop is no error).
func stopping(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

func (s *Sync) reject(topic string, err error) {
	s.rejected.With(topic, protocol.Code(err)).Inc()
	s.log.Warn("message from the central refused", "topic", topic, "reason", protocol.Code(err), "err", err)
}

// requestSync asks for the whitelist after the version held (or from 0 for
// a full snapshot when full is set).
func (s *Sync) requestSync(ctx context.Context, full bool) {
	var from uint64
	if !full {
		v, err := s.h.WhitelistVersion(ctx)
		if stopping(ctx, err) {
			return
		}
		if err != nil {
			s.log.Error("reading the whitelist version failed", "err", err)
			return
		}
		from = v
	}
	payload, err := protocol.Encode(&protocol.SyncRequest{V: protocol.Version, Door: s.door, From: from})
	if err != nil {
		return
	}
	s.client.Publish(s.topics.Door(s.door, protocol.TopicSync), 1, false, payload)
	s.syncReqs.Inc()
}

func (s *Sync) publishStatus(ctx context.Context, st *state) {
	status, err := s.h.Status(ctx)
	if stopping(ctx, err) {
		return
	}
	if err != nil {
		s.log.Error("reading the door's status failed", "err", err)
		return
	}
	payload, err := protocol.Encode(&status)
	if err != nil {
		return
	}
	s.client.Publish(s.topics.Door(s.door, protocol.TopicStatus), 1, true, payload)
	st.statusAt = time.Now()
}

// goodbye publishes the offline status (what the last will would say) and
// disconnects cleanly.
func (s *Sync) goodbye() {
	if s.client.IsConnectionOpen() {
		payload, err := protocol.Encode(&protocol.Status{V: protocol.Version, Door: s.door, State: protocol.StateOffline, TimeMs: s.h.Now().Time.UnixMilli()})
		if err == nil {
			tok := s.client.Publish(s.topics.Door(s.door, protocol.TopicStatus), 1, true, payload)
			tok.WaitTimeout(2 * time.Second)
		}
	}
	s.client.Disconnect(500)
}
