package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/broker"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// doorSecret is the secret of every door of the flood: "s-" and its id.
type doorSecret struct{}

func (doorSecret) AuthenticateDoor(_ context.Context, door, secret string) error {
	if secret != "s-"+door {
		return errors.New("wrong secret")
	}
	return nil
}

// slowStore is a memStore whose every commit takes delay (a slow database).
type slowStore struct {
	*memStore
	delay time.Duration
}

func (s slowStore) StoreEvents(ctx context.Context, receivedMs int64, batches []Batch) (map[Stream]Stored, error) {
	time.Sleep(s.delay)
	return s.memStore.StoreEvents(ctx, receivedMs, batches)
}

// floodWritesPending is the embedded broker's write queue per client in
// these tests: far below the messages of a flood, it would overflow for a
// network subscriber of every door's events (as the default does with
// thousands of doors), and the inline client has no such queue.
const floodWritesPending = 32

// startEmbedded starts central/broker's embedded broker (door
// authentication and ACL) and an ingest on its inline client.
func startEmbedded(t *testing.T, store EventStore, cfg Config, wait time.Duration, writesPending int32) (*broker.Broker, *metrics.Registry, *Ingest, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	reg := metrics.NewRegistry()
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", Doors: doorSecret{}, ServiceUsername: "swc-central",
		ServiceSecret: "service-secret-0123456789", MaxWritesPending: writesPending, Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: reg})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, b.Start(ctx))
	t.Cleanup(func() { cancel(); _ = b.Close() })

	cfg.Link = NewInlineLink(b, wait, 0)
	in, err := New(cfg, store, nil, slog.New(slog.NewTextHandler(logs, nil)), reg)
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("ingest did not stop")
		}
	})
	require.Eventually(t, in.Connected, 5*time.Second, 10*time.Millisecond)
	return b, reg, in, logs
}

// floodDoor is a paho client playing a door on the embedded broker, with
// the acks it received in order.
type floodDoor struct {
	id   string
	c    mqtt.Client
	mu   sync.Mutex
	acks []uint64
}

func dialDoor(t *testing.T, addr, id string) *floodDoor {
	t.Helper()
	d := &floodDoor{id: id}
	d.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(id).SetPassword("s-" + id).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(30 * time.Second).SetKeepAlive(30 * time.Second).
		SetWriteTimeout(30 * time.Second).SetOrderMatters(true))
	tok := d.c.Connect()
	require.True(t, tok.WaitTimeout(30*time.Second), "door %s connect", id)
	require.NoError(t, tok.Error())
	t.Cleanup(func() { d.c.Disconnect(0) })
	tok = d.c.Subscribe(protocol.DefaultTopics().Door(id, protocol.TopicAck), 1, func(_ mqtt.Client, m mqtt.Message) {
		a, err := protocol.DecodeAck(m.Payload())
		if err != nil {
			return
		}
		d.mu.Lock()
		d.acks = append(d.acks, a.Through)
		d.mu.Unlock()
	})
	require.True(t, tok.WaitTimeout(30*time.Second))
	require.NoError(t, tok.Error())
	return d
}

func (d *floodDoor) through() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var n uint64
	for _, a := range d.acks {
		n = max(n, a)
	}
	return n
}

func metricLine(reg *metrics.Registry, prefix string) string {
	var sb strings.Builder
	_ = reg.WriteText(&sb)
	var out []string
	for _, line := range strings.Split(sb.String(), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestFloodOnTheEmbeddedBrokerDropsNothing has 500 doors publish their
// batches at once to the embedded broker while the database is slow and
// the ingest's queue small: the doors are held back (the inline handler
// waits on their connections), and nothing is dropped: the broker logs no
// full write queue, no batch is given up, every event is stored once (no
// duplicate: nothing was sent twice) and every door is acknowledged through
// its last event, its acks in order.
func TestFloodOnTheEmbeddedBrokerDropsNothing(t *testing.T) {
	const (
		doors     = 500
		batches   = 3 // per door, published without waiting
		perBatch  = 40
		perDoor   = batches * perBatch
		allEvents = doors * perDoor
	)
	store := slowStore{memStore: newMemStore(), delay: 20 * time.Millisecond}
	b, reg, in, logs := startEmbedded(t, store, Config{QueueDepth: 16, MaxBatchEvents: 1000}, 0, floodWritesPending)

	ds := make([]*floodDoor, doors)
	for i := range ds {
		ds[i] = dialDoor(t, b.Addr(), fmt.Sprintf("flood-%03d", i))
	}

	// Every door publishes its batches at once: doors × batches QoS 1
	// messages for one subscriber, far more than the broker's write queue
	// of a network client holds.
	require.Greater(t, doors*batches, 10*floodWritesPending)
	start := make(chan struct{})
	var toks sync.WaitGroup
	for _, d := range ds {
		toks.Add(1)
		go func() {
			defer toks.Done()
			<-start
			var ts []mqtt.Token
			for k := 0; k < batches; k++ {
				seqs := make([]uint64, perBatch)
				for j := range seqs {
					seqs[j] = uint64(k*perBatch + j + 1)
				}
				ts = append(ts, d.c.Publish(protocol.DefaultTopics().Door(d.id, protocol.TopicEvents), 1, false, batch(d.id, seqs...)))
			}
			for _, tok := range ts {
				if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
					t.Errorf("door %s: publish not accepted: %v", d.id, tok.Error())
				}
			}
		}()
	}
	close(start)
	toks.Wait()

	behind := func() (n int) {
		for _, d := range ds {
			if d.through() != perDoor {
				n++
			}
		}
		return n
	}
	if !assert.Eventually(t, func() bool { return behind() == 0 }, 120*time.Second, 50*time.Millisecond, "every door acknowledged through its last event") {
		// A batch given up (its door held beyond the inline wait) is
		// counted as queue_full: these doors do not send it again.
		t.Fatalf("%d doors not acknowledged through their last event; %s; rejected: %q", behind(),
			metricLine(reg, "swc_ingest_events_total"), metricLine(reg, "swc_ingest_rejected_messages_total"))
	}

	for _, d := range ds {
		assert.Equal(t, perDoor, store.count(d.id), "door %s: every event stored", d.id)
		d.mu.Lock()
		for i := 1; i < len(d.acks); i++ {
			assert.LessOrEqual(t, d.acks[i-1], d.acks[i], "door %s: acks in order: %v", d.id, d.acks)
		}
		d.mu.Unlock()
	}
	assert.Equal(t, fmt.Sprintf("swc_ingest_events_total %d", allEvents), metricLine(reg, "swc_ingest_events_total"))
	assert.Equal(t, "swc_ingest_duplicate_events_total 0", metricLine(reg, "swc_ingest_duplicate_events_total"), "nothing was sent twice")
	assert.Empty(t, metricLine(reg, "swc_ingest_rejected_messages_total"), "no batch given up or refused")
	assert.Empty(t, metricLine(reg, "swc_broker_dropped_total"), "the broker dropped nothing")
	assert.NotContains(t, logs.String(), "write queue full")
	assert.Positive(t, in.latency.Count())
}

// TestInlineWaitIsBounded fills the ingest's queue while the database
// hangs: the handler holding a door's connection gives up after the
// link's wait (the batch counted and not acknowledged, the door sends it
// again), and meanwhile other doors are handled. Once the database
// answers, the door's batches are stored and acknowledged.
func TestInlineWaitIsBounded(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	store := newMemStore()
	store.fail = func([]Batch) error {
		<-release // the database hangs until released
		return nil
	}
	b, reg, in, _ := startEmbedded(t, store, Config{QueueDepth: 1, MaxBatchEvents: 1}, 300*time.Millisecond, 0)
	a := dialDoor(t, b.Addr(), "door-a")
	other := dialDoor(t, b.Addr(), "door-b")

	// 1 is taken by the writer (which hangs), 2 fills the queue, 3 waits
	// on door-a's connection and is given up.
	for s := uint64(1); s <= 3; s++ {
		tok := a.c.Publish(protocol.DefaultTopics().Door("door-a", protocol.TopicEvents), 1, false, batch("door-a", s))
		require.True(t, tok.WaitTimeout(5*time.Second))
	}
	require.Eventually(t, func() bool {
		return metricLine(reg, "swc_ingest_rejected_messages_total") == `swc_ingest_rejected_messages_total{reason="queue_full"} 1`
	}, 5*time.Second, 10*time.Millisecond, "the third batch is given up after the wait")

	// door-b is not held by door-a's wait.
	tok := other.c.Publish(protocol.DefaultTopics().Door("door-b", protocol.TopicStatus), 1, true, `{"v":1,"door":"door-b","state":"online"}`)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.Eventually(t, func() bool { _, ok := in.Doors()["door-b"]; return ok }, 5*time.Second, 10*time.Millisecond)

	once.Do(func() { close(release) })
	require.Eventually(t, func() bool { return a.through() == 2 }, 10*time.Second, 10*time.Millisecond)
	// The door sends what was not acknowledged again.
	tok = a.c.Publish(protocol.DefaultTopics().Door("door-a", protocol.TopicEvents), 1, false, batch("door-a", 3))
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.Eventually(t, func() bool { return a.through() == 3 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 3, store.count("door-a"))
}

// hungDoor connects door as a raw MQTT client with a long keepalive,
// subscribes to its whitelist topic at QoS 1 and never reads again: once its
// socket buffers are full, mochi's writer for it is stuck holding its lock.
func hungDoor(t *testing.T, addr, door string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4096))
	var buf bytes.Buffer
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 60, ClientIdentifier: door,
			UsernameFlag: true, Username: []byte(door), PasswordFlag: true, Password: []byte("s-" + door)}}
	require.NoError(t, connect.ConnectEncode(&buf))
	sub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: protocol.DefaultTopics().Door(door, protocol.TopicWhitelist), Qos: 1}}}
	require.NoError(t, sub.SubscribeEncode(&buf))
	_, err = conn.Write(buf.Bytes())
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	acks := make([]byte, 4+5) // CONNACK, SUBACK with one code
	_, err = io.ReadFull(conn, acks)
	require.NoError(t, err)
	require.Equal(t, []byte{0x20, 2, 0, 0}, acks[:4], "CONNACK accepted")
}

// TestStuckDoorHoldsOnlyItsOwnPublishes: a door that stops reading holds
// mochi's QoS 1 deliveries to it (see central/broker), and the inline
// link's publishes to it with them; publishes to other doors go on, and the
// stuck door's waiting publishes are bounded (ErrLaneFull beyond the lane).
func TestStuckDoorHoldsOnlyItsOwnPublishes(t *testing.T) {
	b, _, _, _ := startEmbedded(t, newMemStore(), Config{}, 0, 0) // the default write queue: mochi blocks before it drops
	link := NewInlineLink(b, 0, 4)
	require.NoError(t, link.Connect(context.Background(), nil))
	t.Cleanup(link.Close)
	hungDoor(t, b.Addr(), "door-a")
	other := dialDoor(t, b.Addr(), "door-b")

	// Publishes to door-a, one at a time, until one stays waiting: once
	// mochi's writer for door-a has filled its socket buffers it is stuck
	// holding the client's lock, and every later publish waits. How many
	// publishes that takes is no bound: while the writer has not run (a
	// loaded machine), the publishes only fill its write queue
	// (MaxWritesPending, 256), then are dropped, as fast as they come.
	payload := bytes.Repeat([]byte("w"), 200<<10)
	topic := protocol.DefaultTopics().Door("door-a", protocol.TopicWhitelist)
	var held Result
	for deadline := time.Now().Add(60 * time.Second); held == nil && time.Now().Before(deadline); {
		r := link.Publish(topic, payload)
		select {
		case <-r.Done():
			require.NoError(t, r.Error())
		case <-time.After(time.Second):
			held = r
		}
	}
	require.NotNil(t, held, "a publish to the stuck door-a is held")
	// Its lane takes 4 in all, then refuses.
	for i := 0; i < 3; i++ {
		link.Publish(topic, payload)
	}
	r := link.Publish(topic, payload)
	<-r.Done()
	require.ErrorIs(t, r.Error(), ErrLaneFull)
	assert.False(t, isDone(held), "still held")

	ack, err := protocol.Encode(&protocol.Ack{V: protocol.Version, Door: "door-b", Through: 7, ServerMs: time.Now().UnixMilli()})
	require.NoError(t, err)
	r = link.Publish(protocol.DefaultTopics().Door("door-b", protocol.TopicAck), ack)
	select {
	case <-r.Done():
		require.NoError(t, r.Error())
	case <-time.After(5 * time.Second):
		t.Fatal("a publish to door-b waited for the stuck door-a")
	}
	require.Eventually(t, func() bool { return other.through() == 7 }, 5*time.Second, 10*time.Millisecond, "door-b got its ack")
}
