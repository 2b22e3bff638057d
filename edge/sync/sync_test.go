package sync_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	gosync "sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader/readerfake"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/edge/sync"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

const wait = 20 * time.Second // generous: the tests also run under qemu

// broker is an embedded mochi broker on a fixed loopback port, so that it
// can be stopped and started again at the same address.
type broker struct {
	t    *testing.T
	addr string
	srv  *mochi.Server
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	b := &broker{t: t, addr: fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t))}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *broker) start() {
	b.t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(b.t, srv.AddHook(new(auth.AllowHook), nil))
	require.NoError(b.t, srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: b.addr})))
	require.NoError(b.t, srv.Serve())
	b.srv = srv
}

func (b *broker) stop() {
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

// central plays the central service with a paho client: it records what
// doors send and can acknowledge and publish signed messages.
type central struct {
	t       *testing.T
	c       mqtt.Client
	signer  *protocol.Signer
	tp      protocol.Topics
	autoAck bool

	mu      gosync.Mutex
	stored  map[storeSeq]protocol.Event
	store   string // the store of the last batch
	batches int
	syncs   []uint64
	status  []protocol.Status
}

func newCentral(t *testing.T, b *broker, signer *protocol.Signer) *central {
	t.Helper()
	return newCentralAt(t, b.addr, signer)
}

// newCentralAt is newCentral on the broker at addr (host:port).
func newCentralAt(t *testing.T, addr string, signer *protocol.Signer) *central {
	t.Helper()
	c := &central{t: t, signer: signer, tp: protocol.DefaultTopics(), stored: map[storeSeq]protocol.Event{}, autoAck: true}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("central").SetCleanSession(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOrderMatters(true)
	opts.SetOnConnectHandler(func(cl mqtt.Client) {
		cl.Subscribe(c.tp.All(protocol.TopicEvents), 1, c.onEvents)
		cl.Subscribe(c.tp.All(protocol.TopicSync), 1, c.onSync)
		cl.Subscribe(c.tp.All(protocol.TopicStatus), 1, c.onStatus)
	})
	c.c = mqtt.NewClient(opts)
	tok := c.c.Connect()
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.c.Disconnect(0) })
	return c
}

func (c *central) onEvents(_ mqtt.Client, m mqtt.Message) {
	b, err := protocol.DecodeEventBatch(m.Payload())
	if err != nil {
		c.t.Errorf("door sent an invalid batch: %v", err)
		return
	}
	c.mu.Lock()
	c.batches++
	for _, e := range b.Events {
		c.stored[storeSeq{b.Store, e.Seq}] = e
	}
	c.store = b.Store
	var through uint64
	for c.stored[storeSeq{b.Store, through + 1}].Seq != 0 {
		through++
	}
	ack := c.autoAck
	c.mu.Unlock()
	if ack {
		c.ackStore(b.Door, b.Store, through)
	}
}

// storeSeq identifies an event of a door: its store and seq.
type storeSeq struct {
	store string
	seq   uint64
}

// ack acknowledges the store of the last batch received.
func (c *central) ack(door string, through uint64) {
	c.mu.Lock()
	store := c.store
	c.mu.Unlock()
	c.ackStore(door, store, through)
}

func (c *central) ackStore(door, store string, through uint64) {
	p, _ := protocol.Encode(&protocol.Ack{V: protocol.Version, Door: door, Store: store, Through: through, ServerMs: time.Now().UnixMilli()})
	c.c.Publish(c.tp.Door(door, protocol.TopicAck), 1, false, p)
}

func (c *central) onSync(_ mqtt.Client, m mqtt.Message) {
	r, err := protocol.DecodeSyncRequest(m.Payload())
	if err != nil {
		c.t.Errorf("door sent an invalid sync request: %v", err)
		return
	}
	c.mu.Lock()
	c.syncs = append(c.syncs, r.From)
	c.mu.Unlock()
}

func (c *central) onStatus(_ mqtt.Client, m mqtt.Message) {
	st, err := protocol.DecodeStatus(m.Payload())
	if err != nil {
		c.t.Errorf("door sent an invalid status: %v", err)
		return
	}
	c.mu.Lock()
	c.status = append(c.status, *st)
	c.mu.Unlock()
}

func (c *central) publish(door, kind string, payload []byte) {
	tok := c.c.Publish(c.tp.Door(door, kind), 1, false, payload)
	require.True(c.t, tok.WaitTimeout(wait))
	require.NoError(c.t, tok.Error())
}

func (c *central) snapshot(door string, version uint64, entries []protocol.Entry) {
	parts, err := c.signer.SignSnapshot(protocol.Whitelist{Door: door, Version: version, IssuedMs: time.Now().UnixMilli(), ExpiresMs: time.Now().Add(time.Hour).UnixMilli()}, entries)
	require.NoError(c.t, err)
	for _, p := range parts {
		c.publish(door, protocol.TopicWhitelist, p)
	}
}

func (c *central) delta(door string, base, version uint64, entries []protocol.Entry, removed ...protocol.UID) {
	msg, err := c.signer.SignWhitelist(&protocol.Whitelist{Door: door, Kind: protocol.Delta, Base: base, Version: version,
		IssuedMs: time.Now().UnixMilli(), ExpiresMs: time.Now().Add(time.Hour).UnixMilli(), Entries: entries, Removed: removed})
	require.NoError(c.t, err)
	c.publish(door, protocol.TopicWhitelist, msg)
}

func (c *central) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stored)
}

func (c *central) lastStatus() (protocol.Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.status) == 0 {
		return protocol.Status{}, false
	}
	return c.status[len(c.status)-1], true
}

// sim taps badges on the fake reader.
type sim struct{ r *readerfake.Reader }

func (s sim) Present(uid []byte) error    { return s.r.PresentUID(uid) }
func (s sim) SetReaderFault(err error)    { s.r.SetFault(err) }
func (s sim) SetInput(string, bool) error { return fmt.Errorf("no inputs in this test") }

// door is a real agent (bbolt store, gpiotest relay, fake reader) running
// the sync as its [mqtt] component.
type edgeDoor struct {
	t      *testing.T
	id     string
	a      *agent.Agent
	st     *store.Store
	lock   *gpiotest.Pin
	base   string
	cancel context.CancelFunc
	done   chan error
}

func startDoor(t *testing.T, brokerAddr string, signer *protocol.Signer, mqttExtra string) *edgeDoor {
	t.Helper()
	return startDoorIn(t, t.TempDir(), "tcp://"+brokerAddr, signer, mqttExtra)
}

// startDoorIn starts the door with its data in dir and the broker at url.
func startDoorIn(t *testing.T, dir, brokerURL string, signer *protocol.Signer, mqttExtra string) *edgeDoor {
	t.Helper()
	return startAgent(t, dir, signer, fmt.Sprintf(`
[mqtt]
broker = %q
retransmit = "300ms"
max_reconnect = "1s"
status_interval = "500ms"
snapshot_wait = "1s"
%s
`, brokerURL, mqttExtra), []agent.ComponentFactory{sync.Factory()})
}

// startAgent starts the door's agent with its data in dir, the extra
// configuration (sections after [whitelist]) and the components.
func startAgent(t *testing.T, dir string, signer *protocol.Signer, extra string, components []agent.ComponentFactory) *edgeDoor {
	t.Helper()
	cfg, err := agent.Parse([]byte(fmt.Sprintf(`
door_id = "door-a"
data_dir = %q
[reader]
driver = "sim"
[door]
lock_pin = "GPIO5"
unlock_time = "1s"
[clock]
ntp = "assume_synced"
[whitelist]
keys = [%q]
%s
`, dir, protocol.FormatPublicKey(signer.PublicKey()), extra)))
	require.NoError(t, err)
	d := &edgeDoor{t: t, id: "door-a"}
	d.st, err = store.Open(context.Background(), filepath.Join(dir, "edge.db"), cfg.StoreOptions())
	require.NoError(t, err)
	t.Cleanup(func() { d.st.Close() })
	d.lock = &gpiotest.Pin{N: "GPIO5", L: gpio.Low}
	ctrl, err := door.New(door.Config{Lock: door.Output{Pin: d.lock, ActiveLow: true}, LockKind: door.FailSecure, UnlockTime: cfg.Door.UnlockTime})
	require.NoError(t, err)
	fake := readerfake.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d.base = "http://" + ln.Addr().String()
	d.a, err = agent.New(agent.Deps{Config: cfg, Door: ctrl, Reader: fake, Store: d.st, Sim: sim{fake}, Listener: ln,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Components: components, Firmware: "test"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	go func() { d.done <- d.a.Run(ctx) }()
	t.Cleanup(d.stop)
	return d
}

func (d *edgeDoor) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	select {
	case <-d.done:
	case <-time.After(wait):
		d.t.Error("the agent did not stop")
	}
	d.cancel = nil
}

func (d *edgeDoor) tap(uid protocol.UID) protocol.Event {
	d.t.Helper()
	body, _ := json.Marshal(agent.SimTap{UID: string(uid)})
	resp, err := http.Post(d.base+"/v1/sim/tap", "application/json", bytes.NewReader(body))
	require.NoError(d.t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Equal(d.t, http.StatusOK, resp.StatusCode, "%s", out)
	var ev protocol.Event
	require.NoError(d.t, json.Unmarshal(out, &ev))
	return ev
}

func (d *edgeDoor) outbox() uint64 {
	st, err := d.st.OutboxStats(context.Background())
	require.NoError(d.t, err)
	return st.Depth
}

func (d *edgeDoor) version() uint64 {
	v, err := d.a.WhitelistVersion(context.Background())
	require.NoError(d.t, err)
	return v
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, wait, 10*time.Millisecond, what)
}

func newSigner(t *testing.T) *protocol.Signer {
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	return protocol.NewSigner(priv)
}

var staff = protocol.Entry{UID: "04A1B2C3", Member: "m1", Grants: []protocol.Grant{{Kind: protocol.GrantStaff}}}

func TestEventsAreDeletedOnlyOnTheCentralsAck(t *testing.T) {
	b := startBroker(t)
	signer := newSigner(t)
	c := newCentral(t, b, signer)
	c.autoAck = false
	d := startDoor(t, b.addr, signer, "")

	// On connection the door says it holds nothing and is online.
	eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.syncs) > 0 && c.syncs[0] == 0 }, "sync request from version 0")
	eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOnline }, "online status")

	for i := 0; i < 3; i++ {
		d.tap(protocol.UID(fmt.Sprintf("0400000%d", i)))
	}
	eventually(t, func() bool { return c.count() == 3 }, "the central received three events")
	// The broker's PUBACK is not a delivery: without the central's ack,
	// nothing leaves the outbox, and the batch is sent again.
	time.Sleep(700 * time.Millisecond)
	assert.Equal(t, uint64(3), d.outbox())
	c.mu.Lock()
	resent := c.batches
	c.mu.Unlock()
	assert.GreaterOrEqual(t, resent, 2, "unacknowledged events were sent again")

	c.ack("door-a", 2)
	eventually(t, func() bool { return d.outbox() == 1 }, "the ack through 2 deleted two events")
	c.mu.Lock()
	c.autoAck = true
	c.mu.Unlock()
	eventually(t, func() bool { return d.outbox() == 0 }, "the last event was resent and acked")
}

func TestOfflineTapsCatchUpAfterBrokerRestart(t *testing.T) {
	b := startBroker(t)
	signer := newSigner(t)
	c := newCentral(t, b, signer)
	d := startDoor(t, b.addr, signer, "")
	eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOnline }, "online")

	b.stop()
	for i := 0; i < 50; i++ {
		d.tap(protocol.UID(fmt.Sprintf("040000%02X", i)))
	}
	assert.Equal(t, uint64(50), d.outbox(), "the door works and journals while offline")
	b.start()
	eventually(t, func() bool { return d.outbox() == 0 }, "the outbox drained after the broker came back")
	assert.Equal(t, 50, c.count(), "every event arrived")
}

func TestWhitelistAndCommands(t *testing.T) {
	b := startBroker(t)
	signer := newSigner(t)
	c := newCentral(t, b, signer)
	d := startDoor(t, b.addr, signer, "")
	eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.syncs) > 0 }, "first sync request")

	c.snapshot("door-a", 5, []protocol.Entry{staff})
	eventually(t, func() bool { return d.version() == 5 }, "snapshot applied")
	assert.Equal(t, protocol.GrantedStaff, d.tap("04A1B2C3").Reason)

	// A delta that does not start at the door's version makes it ask again
	// from the version it holds.
	c.mu.Lock()
	asked := len(c.syncs)
	c.mu.Unlock()
	c.delta("door-a", 6, 7, nil, "04A1B2C3")
	eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.syncs) > asked && c.syncs[len(c.syncs)-1] == 5
	}, "sync request from 5 after a gap")
	assert.Equal(t, uint64(5), d.version())

	// Forged and replayed messages are refused; the door keeps its whitelist.
	c.delta("door-a", 5, 6, []protocol.Entry{{UID: "04FFFFFF", Member: "m9", Grants: []protocol.Grant{{Kind: protocol.GrantStaff}}}})
	eventually(t, func() bool { return d.version() == 6 }, "delta applied")
	forger := newSigner(t)
	msg, err := forger.SignWhitelist(&protocol.Whitelist{Door: "door-a", Kind: protocol.Delta, Base: 6, Version: 7, IssuedMs: time.Now().UnixMilli(), ExpiresMs: time.Now().Add(time.Hour).UnixMilli(), Removed: []protocol.UID{"04A1B2C3"}})
	require.NoError(t, err)
	c.publish("door-a", protocol.TopicWhitelist, msg)
	c.snapshot("door-a", 4, nil) // older: a replay
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, uint64(6), d.version())
	assert.Equal(t, protocol.GrantedStaff, d.tap("04FFFFFF").Reason)

	// A signed unlock runs once; the same id again is refused; so is an
	// expired one.
	unlock := &protocol.Command{ID: "cmd-1", Door: "door-a", Action: protocol.ActionUnlock, Seconds: 1, IssuedMs: time.Now().UnixMilli(), ExpiresMs: time.Now().Add(time.Minute).UnixMilli()}
	msg, err = signer.SignCommand(unlock)
	require.NoError(t, err)
	c.publish("door-a", protocol.TopicCommands, msg)
	eventually(t, func() bool { return d.lock.Read() == gpio.Low }, "remote unlock drove the relay (active-low)")
	eventually(t, func() bool { return d.lock.Read() == gpio.High }, "and it relocked")
	c.publish("door-a", protocol.TopicCommands, msg)
	expired, err := signer.SignCommand(&protocol.Command{ID: "cmd-2", Door: "door-a", Action: protocol.ActionUnlock, Seconds: 1,
		IssuedMs: time.Now().Add(-2 * time.Minute).UnixMilli(), ExpiresMs: time.Now().Add(-time.Minute).UnixMilli()})
	require.NoError(t, err)
	c.publish("door-a", protocol.TopicCommands, expired)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, gpio.High, d.lock.Read(), "neither the repeat nor the expired command unlocked")

	// resync asks for a full snapshot.
	c.mu.Lock()
	asked = len(c.syncs)
	c.mu.Unlock()
	msg, err = signer.SignCommand(&protocol.Command{ID: "cmd-3", Door: "door-a", Action: protocol.ActionResync, IssuedMs: time.Now().UnixMilli(), ExpiresMs: time.Now().Add(time.Minute).UnixMilli()})
	require.NoError(t, err)
	c.publish("door-a", protocol.TopicCommands, msg)
	eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.syncs) > asked && c.syncs[len(c.syncs)-1] == 0
	}, "resync asks from 0")
}

func TestOfflineStatus(t *testing.T) {
	t.Run("the link goes silent: the broker publishes the last will", func(t *testing.T) {
		b := startBroker(t)
		signer := newSigner(t)
		c := newCentral(t, b, signer)
		link := servicetest.StartProxy(t, b.addr)
		d := startDoor(t, link.Addr(), signer, `keepalive = "1s"`)
		eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOnline }, "online")
		link.Stall() // as a power cut: no FIN, no DISCONNECT
		eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOffline }, "the will says offline")
		assert.Equal(t, protocol.StateOffline, retained(t, b, "door-a").State, "the will is retained")

		// The door keeps working; back online it catches up.
		d.tap("04A1B2C3")
		link.Cut()
		link.Restore()
		eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOnline }, "online again")
		eventually(t, func() bool { return d.outbox() == 0 }, "the offline tap was delivered")
	})
	t.Run("a clean stop says offline itself", func(t *testing.T) {
		b := startBroker(t)
		signer := newSigner(t)
		c := newCentral(t, b, signer)
		d := startDoor(t, b.addr, signer, "")
		eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOnline }, "online")
		d.stop()
		eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOffline }, "offline status")
		assert.Equal(t, protocol.StateOffline, retained(t, b, "door-a").State)
	})
}

// retained reads the door's retained status as a newcomer would.
func retained(t *testing.T, b *broker, door string) protocol.Status {
	t.Helper()
	got := make(chan []byte, 1)
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + b.addr).SetClientID("reader-" + door).SetCleanSession(true))
	tok := cl.Connect()
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())
	defer cl.Disconnect(0)
	cl.Subscribe(protocol.DefaultTopics().Door(door, protocol.TopicStatus), 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- m.Payload():
		default:
		}
	})
	select {
	case p := <-got:
		st, err := protocol.DecodeStatus(p)
		require.NoError(t, err)
		return *st
	case <-time.After(wait):
		t.Fatal("no retained status")
		return protocol.Status{}
	}
}

// subscribeCutter is a link between a door and its broker that closes the
// connection when the door subscribes, before the broker sees it, the first
// n times: the connection is lost between the CONNACK and the SUBACK, as
// when a broker restarts while a fleet reconnects, or a link drops.
type subscribeCutter struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu  gosync.Mutex
	n   int
	cut int
	// swallow: a SUBSCRIBE to cut is dropped and the connection kept
	// (lost on its way, never answered), instead of closing it.
	swallow bool
}

func startSubscribeCutter(t *testing.T, target string, n int) *subscribeCutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &subscribeCutter{t: t, ln: ln, target: target, n: n}
	t.Cleanup(func() { ln.Close() })
	go p.accept()
	return p
}

func (p *subscribeCutter) addr() string { return p.ln.Addr().String() }

func (p *subscribeCutter) cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *subscribeCutter) accept() {
	for {
		door, err := p.ln.Accept()
		if err != nil {
			return
		}
		broker, err := net.Dial("tcp", p.target)
		if err != nil {
			door.Close()
			continue
		}
		go func() {
			_, _ = io.Copy(door, broker)
			door.Close()
		}()
		go func() {
			p.forward(door, broker)
			door.Close()
			broker.Close()
		}()
	}
}

// forward copies the door's MQTT packets to the broker, one whole packet at
// a time, and ends (closing both sides) at a SUBSCRIBE it is to cut.
func (p *subscribeCutter) forward(door, broker net.Conn) {
	for {
		var head [1]byte
		if _, err := io.ReadFull(door, head[:]); err != nil {
			return
		}
		packet := head[:]
		var length, shift int
		for { // remaining length: a variable byte integer
			var b [1]byte
			if _, err := io.ReadFull(door, b[:]); err != nil {
				return
			}
			packet = append(packet, b[0])
			length |= int(b[0]&0x7f) << shift
			shift += 7
			if b[0]&0x80 == 0 {
				break
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(door, body); err != nil {
			return
		}
		if head[0]>>4 == 8 { // SUBSCRIBE
			p.mu.Lock()
			cut := p.cut < p.n
			if cut {
				p.cut++
			}
			p.mu.Unlock()
			if cut && p.swallow {
				continue
			}
			if cut {
				return
			}
		}
		if _, err := broker.Write(append(packet, body...)); err != nil {
			return
		}
	}
}

// brokers are the two brokers a door is tested against: the embedded
// mochi and Mosquitto (the door's side is the same). start returns the
// broker's host:port.
var brokers = []struct {
	name  string
	start func(t *testing.T) string
}{
	{"embedded mochi", func(t *testing.T) string { return startBroker(t).addr }},
	{"mosquitto", func(t *testing.T) string { return servicetest.StartMosquitto(t, "").Addr }},
}

// A connection lost between the CONNACK and the SUBACK makes the door
// connect again: it must not stay offline for good with its events in the
// outbox. With the embedded broker and with Mosquitto (the door's side is
// the same).
func TestConnectionLostBeforeSubackReconnects(t *testing.T) {
	for _, tc := range brokers {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.start(t)
			signer := newSigner(t)
			c := newCentralAt(t, addr, signer)
			link := startSubscribeCutter(t, addr, 2)
			d := startDoor(t, link.addr(), signer, "")
			eventually(t, func() bool { return link.cuts() == 2 }, "the door's first two subscriptions were cut")
			for i := 0; i < 3; i++ {
				d.tap(protocol.UID(fmt.Sprintf("0400000%d", i)))
			}
			eventually(t, func() bool { return d.outbox() == 0 }, "the door connected again and its events were acknowledged")
			assert.Equal(t, 3, c.count())
			eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOnline }, "online")
		})
	}
}

// attemptCounter stands where the broker was: it accepts each connection
// attempt, notes when, and closes it (the attempt fails).
type attemptCounter struct {
	ln net.Listener
	mu gosync.Mutex
	at []time.Time
}

func (a *attemptCounter) accept() {
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		a.at = append(a.at, time.Now())
		a.mu.Unlock()
		c.Close()
	}
}

func (a *attemptCounter) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.at)
}

// While the broker is away, the door's reconnection attempts are paced by
// its own jittered backoff alone (max_reconnect 1 s here: at most 1 s
// apart), not by paho's backoff on top of it (which waited a second more
// after every failed attempt, so that a broker back after a restart found
// the doors' next attempts twice as far away as configured).
func TestReconnectAttemptsFollowTheDoorsBackoff(t *testing.T) {
	b := startBroker(t)
	signer := newSigner(t)
	startDoor(t, b.addr, signer, "")
	c := newCentral(t, b, signer)
	eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOnline }, "the door is online")
	c.c.Disconnect(0)
	b.stop()
	var ln net.Listener
	require.Eventually(t, func() bool {
		var err error
		ln, err = net.Listen("tcp", b.addr)
		return err == nil
	}, wait, 10*time.Millisecond, "listening where the broker was")
	a := &attemptCounter{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go a.accept()
	eventually(t, func() bool { return len(a.times()) >= 6 }, "six reconnection attempts")
	at := a.times()
	for i := 1; i < 6; i++ {
		gap := at[i].Sub(at[i-1])
		// Our wait is 0.5-1 s; paho's added 1 s more. 300 ms of slack for
		// a loaded machine or qemu.
		assert.Less(t, gap, 1300*time.Millisecond, "attempt %d came %v after the one before", i, gap)
	}
}

// A SUBSCRIBE that is never answered on a connection that stays up (lost
// on its way, or given up by paho's writer) is made again on the same
// connection: the door must not stay connected but never online, without
// status, whitelist or acknowledgements.
func TestUnansweredSubscribeIsMadeAgain(t *testing.T) {
	for _, tc := range brokers {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.start(t)
			signer := newSigner(t)
			c := newCentralAt(t, addr, signer)
			link := startSubscribeCutter(t, addr, 1)
			link.swallow = true
			d := startDoor(t, link.addr(), signer, "")
			eventually(t, func() bool { return link.cuts() == 1 }, "the door's first subscription was swallowed")
			d.tap(protocol.UID("04000001"))
			eventually(t, func() bool { return d.outbox() == 0 }, "the door subscribed again and its event was acknowledged")
			assert.Equal(t, 1, c.count())
			eventually(t, func() bool { st, ok := c.lastStatus(); return ok && st.State == protocol.StateOnline }, "online")
		})
	}
}
