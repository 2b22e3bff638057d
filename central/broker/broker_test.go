package broker

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

const (
	serviceUser   = "swc-central"
	serviceSecret = "service-secret-0123456789"
	wait          = 10 * time.Second // upper bound for things that happen at once; never reached when all is well
)

// doorSecrets is the test's DoorAuthenticator.
type doorSecrets map[string]string

func (d doorSecrets) AuthenticateDoor(_ context.Context, door, secret string) error {
	want, ok := d[door]
	if !ok {
		return fmt.Errorf("door %q unknown", door)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		return errors.New("wrong secret")
	}
	return nil
}

var testDoors = doorSecrets{"door-a": "secret-a", "door-b": "secret-b"}

// target is a running broker the shared tests talk to: the embedded one, or
// Mosquitto with the generated ACL.
type target struct {
	name   string
	addr   string
	scheme string
	reg    *metrics.Registry // nil for Mosquitto
	broker *Broker
	// tlsFor, when set, gives the TLS configuration (with the client
	// certificate) a client connecting as user presents.
	tlsFor func(user string) *tls.Config
}

func (tg *target) counter(t *testing.T, name string, labels ...string) uint64 {
	t.Helper()
	var b strings.Builder
	require.NoError(t, tg.reg.WriteText(&b))
	want := name
	if len(labels) > 0 {
		var pairs []string
		for i := 0; i+1 < len(labels); i += 2 {
			pairs = append(pairs, labels[i]+`="`+labels[i+1]+`"`)
		}
		want += "{" + strings.Join(pairs, ",") + "}"
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, want+" "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	return 0
}

func startBroker(t *testing.T, mod ...func(*Config)) *target {
	t.Helper()
	reg := metrics.NewRegistry()
	cfg := Config{
		Addr: "127.0.0.1:0", Doors: testDoors, ServiceUsername: serviceUser, ServiceSecret: serviceSecret,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: reg,
	}
	for _, m := range mod {
		m(&cfg)
	}
	b, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, b.Start(ctx))
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, b.Close())
	})
	return &target{name: "mochi", addr: b.Addr(), scheme: "tcp", reg: reg, broker: b}
}

// client is a paho client with an inbox per subscription and a record of
// connection loss.
type client struct {
	paho.Client
	lost chan error
}

func (tg *target) dial(t *testing.T, user, pass, id string, mods ...func(*paho.ClientOptions)) (*client, error) {
	t.Helper()
	lost := make(chan error, 1)
	o := paho.NewClientOptions().AddBroker(tg.scheme + "://" + tg.addr).SetClientID(id).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).
		SetConnectTimeout(wait).SetWriteTimeout(wait).SetOrderMatters(true).SetKeepAlive(30 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	if user != "" {
		o.SetUsername(user).SetPassword(pass)
	}
	if tg.tlsFor != nil && user != "" {
		o.SetTLSConfig(tg.tlsFor(user))
	}
	for _, m := range mods {
		m(o)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return &client{Client: c, lost: lost}, nil
}

func (tg *target) mustDial(t *testing.T, user, pass, id string, mods ...func(*paho.ClientOptions)) *client {
	t.Helper()
	c, err := tg.dial(t, user, pass, id, mods...)
	require.NoError(t, err, "connect %s", id)
	return c
}

func (tg *target) service(t *testing.T, id string) *client {
	return tg.mustDial(t, serviceUser, serviceSecret, id)
}

func (tg *target) door(t *testing.T, door string, mods ...func(*paho.ClientOptions)) *client {
	return tg.mustDial(t, door, testDoors[door], door, mods...)
}

type msg struct {
	topic    string
	payload  []byte
	retained bool
}

// subscribe subscribes at QoS 1 and returns the granted code (0x80:
// refused) and the inbox.
func (c *client) subscribe(t *testing.T, filter string) (byte, chan msg) {
	t.Helper()
	in := make(chan msg, 256)
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		in <- msg{topic: m.Topic(), payload: append([]byte(nil), m.Payload()...), retained: m.Retained()}
	})
	require.True(t, tok.WaitTimeout(wait), "subscribe %s", filter)
	require.NoError(t, tok.Error())
	key := filter
	if strings.HasPrefix(key, "$share/") { // paho keys shared subscriptions without the prefix
		key = strings.Join(strings.Split(key, "/")[2:], "/")
	}
	code, ok := tok.(*paho.SubscribeToken).Result()[key]
	require.True(t, ok, "SUBACK result for %s", filter)
	return code, in
}

func (c *client) publish(t *testing.T, topic string, payload []byte, retained bool) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	require.True(t, tok.WaitTimeout(wait), "publish %s", topic)
	require.NoError(t, tok.Error())
}

func recv(t *testing.T, in chan msg) msg {
	t.Helper()
	select {
	case m := <-in:
		return m
	case <-time.After(wait):
		t.Fatal("no message")
		return msg{}
	}
}

var tp = protocol.DefaultTopics()

func TestConnectRefused(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	tg := startBroker(t, func(c *Config) {
		c.Doors = slowDoors{doorSecrets: testDoors, block: block}
		c.AuthTimeout = 50 * time.Millisecond
	})
	tests := []struct {
		name, user, pass, id, reason string
		mod                          func(*paho.ClientOptions)
	}{
		{name: "anonymous", id: "door-a", reason: refusedAnonymous},
		{name: "wrong door secret", user: "door-a", pass: "secret-b", id: "door-a", reason: refusedDoorSecret},
		{name: "unknown door", user: "door-z", pass: "secret-a", id: "door-z", reason: refusedDoorSecret},
		{name: "empty password", user: "door-a", id: "door-a", reason: refusedDoorSecret},
		{name: "wrong service secret", user: serviceUser, pass: "service-secret-0123456788", id: serviceUser, reason: refusedServiceSecret},
		{name: "service with a door's client id", user: serviceUser, pass: serviceSecret, id: "door-a", reason: refusedServiceID},
		{name: "door with another door's client id", user: "door-a", pass: "secret-a", id: "door-b", reason: refusedClientID},
		{name: "door with a random client id", user: "door-a", pass: "secret-a", id: "", reason: refusedClientID},
		{name: "door id in the service's namespace", user: serviceUser + "-x", pass: "x", id: serviceUser + "-x", reason: refusedReservedID},
		{name: "door id of the inline client", user: "inline", pass: "x", id: "inline", reason: refusedReservedID},
		{name: "door id with a wildcard", user: "door/#", pass: "x", id: "door/#", reason: refusedBadDoorID},
		{name: "will on another door's status", user: "door-a", pass: "secret-a", id: "door-a", reason: refusedWill,
			mod: func(o *paho.ClientOptions) { o.SetWill(tp.Door("door-b", protocol.TopicStatus), `{"v":1}`, 1, true) }},
		{name: "will on its own ack topic", user: "door-a", pass: "secret-a", id: "door-a", reason: refusedWill,
			mod: func(o *paho.ClientOptions) { o.SetWill(tp.Door("door-a", protocol.TopicAck), `{"v":1}`, 1, true) }},
		{name: "store does not answer", user: "slow-door", pass: "x", id: "slow-door", reason: refusedAuthTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tg.counter(t, "swc_broker_connects_refused_total", "reason", tc.reason)
			var mods []func(*paho.ClientOptions)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			_, err := tg.dial(t, tc.user, tc.pass, tc.id, mods...)
			require.Error(t, err)
			assert.Equal(t, before+1, tg.counter(t, "swc_broker_connects_refused_total", "reason", tc.reason))
		})
	}
	// The right credentials connect.
	tg.door(t, "door-a", func(o *paho.ClientOptions) {
		o.SetWill(tp.Door("door-a", protocol.TopicStatus), `{"v":1,"door":"door-a","state":"offline"}`, 1, true)
	})
	tg.service(t, serviceUser)
	tg.service(t, serviceUser+"-ingest-2")
}

// slowDoors never answers for "slow-door" until the test ends.
type slowDoors struct {
	doorSecrets
	block chan struct{}
}

func (s slowDoors) AuthenticateDoor(ctx context.Context, door, secret string) error {
	if door == "slow-door" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.block:
			return errors.New("test over")
		}
	}
	return s.doorSecrets.AuthenticateDoor(ctx, door, secret)
}

func TestDoorIsolationEmbedded(t *testing.T) {
	tg := startBroker(t)
	doorIsolation(t, tg)
	assert.Equal(t, uint64(6), tg.counter(t, "swc_broker_acl_denied_total", "action", "subscribe"), "every refused filter is counted")
	assert.Equal(t, uint64(4), tg.counter(t, "swc_broker_acl_denied_total", "action", "publish"), "two topics, QoS 0 and 1")
}

// doorIsolation is the ACL suite shared by the embedded broker and
// Mosquitto with the generated ACL.
func doorIsolation(t *testing.T, tg *target) {
	svc := tg.service(t, serviceUser)
	a := tg.door(t, "door-a")
	b := tg.door(t, "door-b")

	// Door A subscribes to its own downward topics.
	aIn := map[string]chan msg{}
	for _, topic := range tp.DoorTopics("door-a") {
		code, in := a.subscribe(t, topic)
		assert.Equal(t, byte(1), code, "door-a may subscribe to %s", topic)
		aIn[topic] = in
	}
	_, bAck := b.subscribe(t, tp.Door("door-b", protocol.TopicAck))

	// Door A's attempts on other filters are refused.
	refused := []string{
		tp.Door("door-b", protocol.TopicAck),
		tp.Door("door-b", protocol.TopicWhitelist),
		tp.All(protocol.TopicAck),
		tp.Door("door-a", protocol.TopicEvents), // its own upward topic: the central's to read
		"#",
		protocol.Shared("g", tp.All(protocol.TopicEvents)),
	}
	var sneaky []chan msg
	for _, f := range refused {
		code, in := a.subscribe(t, f)
		if tg.reg != nil {
			assert.Equal(t, byte(0x80), code, "door-a subscribing to %s must be refused", f)
		}
		sneaky = append(sneaky, in)
	}

	// The central publishes to door B's ack, then door A's: door A gets its
	// own and nothing of B's (had the subscription to B's ack been granted,
	// B's would have been queued to A first).
	svc.publish(t, tp.Door("door-b", protocol.TopicAck), []byte("for-b"), false)
	svc.publish(t, tp.Door("door-a", protocol.TopicAck), []byte("for-a"), false)
	assert.Equal(t, "for-b", string(recv(t, bAck).payload))
	assert.Equal(t, "for-a", string(recv(t, aIn[tp.Door("door-a", protocol.TopicAck)]).payload))
	svc.publish(t, tp.Door("door-b", protocol.TopicWhitelist), []byte("wl-b"), false)
	svc.publish(t, tp.Door("door-a", protocol.TopicWhitelist), []byte("wl-a"), false)
	assert.Equal(t, "wl-a", string(recv(t, aIn[tp.Door("door-a", protocol.TopicWhitelist)]).payload))
	// paho hands every message to every local route that matches, so the
	// refused filters' handlers see door-a's own messages too; what must not
	// appear is anything of door-b.
	for i, in := range sneaky {
		for len(in) > 0 {
			m := <-in
			assert.True(t, strings.HasPrefix(m.topic, tp.Door("door-a", "")), "door-a through %s got %s %q", refused[i], m.topic, m.payload)
		}
	}

	// The central reads every door's events, including through a shared
	// subscription; door A publishes its own events and status.
	code, events := svc.subscribe(t, tp.All(protocol.TopicEvents))
	require.Equal(t, byte(1), code)
	ingest := tg.service(t, serviceUser+"-ingest") // paho routes a shared filter like the plain one: another client
	code, shared := ingest.subscribe(t, protocol.Shared("ingest", tp.All(protocol.TopicEvents)))
	require.Equal(t, byte(1), code)
	a.publish(t, tp.Door("door-a", protocol.TopicEvents), []byte("a-1"), false)
	assert.Equal(t, "a-1", string(recv(t, events).payload))
	assert.Equal(t, "a-1", string(recv(t, shared).payload))

	// A second central client reads everything it may: all of it on the
	// embedded broker, the door's upward topics on Mosquitto (swc.acl).
	watcher := tg.service(t, serviceUser+"-all")
	code, all := watcher.subscribe(t, "#")
	require.Equal(t, byte(1), code)

	// Door A publishes on door B's events and on its own ack: not delivered.
	// With QoS 1 the embedded broker closes A's connection; Mosquitto drops
	// the message. Each attempt uses a fresh connection of door A.
	forge := []string{tp.Door("door-b", protocol.TopicEvents), tp.Door("door-a", protocol.TopicAck)}
	for _, topic := range forge {
		a2 := tg.door(t, "door-a")
		tok := a2.Publish(topic, 0, false, []byte("forged-qos0"))
		tok.WaitTimeout(wait)
		tok = a2.Publish(topic, 1, false, []byte("forged-qos1"))
		tok.WaitTimeout(wait)
		if tg.reg != nil {
			select {
			case err := <-a2.lost:
				assert.Error(t, err)
			case <-time.After(wait):
				t.Errorf("the embedded broker must close a door that publishes on %s", topic)
			}
		}
	}
	// Door B publishes a marker on its events after the forgeries: the
	// central sees the marker and nothing forged.
	b.publish(t, tp.Door("door-b", protocol.TopicEvents), []byte("b-marker"), false)
	assert.Equal(t, "b-marker", string(recv(t, events).payload))
	for m := recv(t, all); ; m = recv(t, all) {
		assert.NotContains(t, string(m.payload), "forged", "delivered on %s", m.topic)
		if string(m.payload) == "b-marker" {
			break
		}
	}

	// The central publishes on a door's downward topics (a new connection
	// of door A: the forgeries' connections took over its client id).
	a3 := tg.door(t, "door-a")
	code, cmds := a3.subscribe(t, tp.Door("door-a", protocol.TopicCommands))
	require.Equal(t, byte(1), code)
	svc.publish(t, tp.Door("door-a", protocol.TopicCommands), []byte("cmd"), false)
	m := recv(t, cmds)
	assert.Equal(t, "cmd", string(m.payload))
	assert.Equal(t, tp.Door("door-a", protocol.TopicCommands), m.topic)
}

func TestOversizeRefused(t *testing.T) {
	tg := startBroker(t)
	svc := tg.service(t, serviceUser)
	_, events := svc.subscribe(t, tp.All(protocol.TopicEvents))
	topic := tp.Door("door-a", protocol.TopicEvents)

	a := tg.door(t, "door-a")
	a.publish(t, topic, bytes.Repeat([]byte("x"), protocol.MaxMessageSize), false)
	assert.Len(t, recv(t, events).payload, protocol.MaxMessageSize, "a payload at the limit passes")

	for i, size := range []int{protocol.MaxMessageSize + 1, int(tg.broker.cfg.MaxPacketSize) + 1} {
		a := tg.door(t, "door-a")
		a.Publish(topic, 1, false, bytes.Repeat([]byte("y"), size)).WaitTimeout(wait)
		select {
		case err := <-a.lost:
			assert.Error(t, err)
		case <-time.After(wait):
			t.Fatalf("payload of %d bytes: connection not closed", size)
		}
		// The client sees its connection end before the broker's
		// disconnect hook has counted it: wait for the count.
		assert.Eventually(t, func() bool { return tg.counter(t, "swc_broker_oversize_total") == uint64(i+1) },
			wait, 5*time.Millisecond, "oversize count after payload of %d bytes", size)
	}
	b := tg.door(t, "door-b")
	b.publish(t, tp.Door("door-b", protocol.TopicEvents), []byte("marker"), false)
	assert.Equal(t, "marker", string(recv(t, events).payload), "nothing oversize was delivered before it")
}

func TestRetainedStatusAndWill(t *testing.T) {
	tg := startBroker(t)
	status := tp.Door("door-a", protocol.TopicStatus)
	online := []byte(`{"v":1,"door":"door-a","state":"online"}`)
	offline := []byte(`{"v":1,"door":"door-a","state":"offline"}`)

	// Door A connects with its last will and publishes a retained status,
	// over a connection the test can cut as a power failure would.
	var mu sync.Mutex
	var conn net.Conn
	a := tg.door(t, "door-a", func(o *paho.ClientOptions) {
		o.SetBinaryWill(status, offline, 1, true)
		o.SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			mu.Lock()
			conn = c
			mu.Unlock()
			return c, err
		})
	})
	// mochi acknowledges before it fans out; a later message of the same
	// door seen by a subscriber shows the status is through.
	sync0 := tg.service(t, serviceUser+"-0")
	_, marks := sync0.subscribe(t, tp.Door("door-a", protocol.TopicEvents))
	a.publish(t, status, online, true)
	a.publish(t, tp.Door("door-a", protocol.TopicEvents), []byte("mark"), false)
	recv(t, marks)

	// A central that subscribes later gets the retained status.
	svc := tg.service(t, serviceUser)
	_, in := svc.subscribe(t, tp.All(protocol.TopicStatus))
	m := recv(t, in)
	assert.Equal(t, online, m.payload)
	assert.True(t, m.retained)

	// The door loses power: the broker publishes its will, retained.
	mu.Lock()
	require.NoError(t, conn.Close())
	mu.Unlock()
	m = recv(t, in)
	assert.Equal(t, offline, m.payload)
	assert.Equal(t, status, m.topic)

	svc2 := tg.service(t, serviceUser+"-2")
	_, in2 := svc2.subscribe(t, status)
	m = recv(t, in2)
	assert.Equal(t, offline, m.payload, "the will replaced the retained status")
	assert.True(t, m.retained)
}

func TestConfigValidation(t *testing.T) {
	ok := Config{Doors: testDoors, ServiceUsername: serviceUser, ServiceSecret: serviceSecret}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no authenticator", func(c *Config) { c.Doors = nil }},
		{"no service user", func(c *Config) { c.ServiceUsername = "" }},
		{"service user with a wildcard", func(c *Config) { c.ServiceUsername = "swc/#" }},
		{"short service secret", func(c *Config) { c.ServiceSecret = "short" }},
		{"packet limit below the protocol's", func(c *Config) { c.MaxPacketSize = protocol.MaxMessageSize - 1 }},
		{"negative connect timeout", func(c *Config) { c.ConnectTimeout = -time.Second }},
		{"connect timeout over the maximum", func(c *Config) { c.ConnectTimeout = MaxConnectTimeout + time.Second }},
		{"negative max connecting", func(c *Config) { c.MaxConnecting = -1 }},
		{"certificate listener without an identifier", func(c *Config) {
			c.CertAddr, c.CertTLS = "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{}}}
		}},
		{"certificate listener without a server certificate", func(c *Config) { c.CertAddr, c.Certs = "127.0.0.1:0", noCerts{} }},
		{"certificate listener only, without a service user", func(c *Config) {
			*c = Config{CertAddr: "127.0.0.1:0", CertTLS: &tls.Config{Certificates: []tls.Certificate{{}}}, Certs: noCerts{}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			_, err := New(cfg)
			assert.Error(t, err)
		})
	}
	b, err := New(ok)
	require.NoError(t, err)
	assert.Equal(t, uint32(protocol.MaxMessageSize+DefaultPacketOverhead), b.cfg.MaxPacketSize)
	assert.Equal(t, DefaultConnectTimeout, b.cfg.ConnectTimeout)
	assert.Equal(t, DefaultMaxConnecting, b.cfg.MaxConnecting)
	assert.NoError(t, b.Close(), "closing a broker never started")

	// The certificate listener alone needs neither door secrets nor a
	// service secret.
	b, err = New(Config{CertAddr: "127.0.0.1:0", CertTLS: &tls.Config{Certificates: []tls.Certificate{{}}}, Certs: noCerts{}, ServiceUsername: serviceUser})
	require.NoError(t, err)
	assert.NoError(t, b.Close())
}

// noCerts accepts no certificate.
type noCerts struct{}

func (noCerts) IdentifyClient(context.Context, *x509.Certificate) (string, bool, error) {
	return "", false, errors.New("no certificate is accepted")
}
