package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestCloseWhileClientsLeave closes the broker while its clients leave and
// others come and leave: Close returns every time, promptly. (mochi
// v2.7.9's own way of closing a listener's clients takes the clients' read
// lock twice and can deadlock behind a leaving client's Delete, as it did
// once in CI; this churn did not hit that narrow window in 15 rounds with
// the old code, so the test guards Close in general rather than
// reproducing that deadlock. listener.Close says what changed.)
func TestCloseWhileClientsLeave(t *testing.T) {
	const rounds, clients = 15, 40
	for round := 0; round < rounds; round++ {
		cfg := Config{Addr: "127.0.0.1:0", Doors: testDoors, ServiceUsername: serviceUser, ServiceSecret: serviceSecret,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.NewRegistry()}
		b, err := New(cfg)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, b.Start(ctx))
		tg := &target{name: "mochi", addr: b.Addr(), scheme: "tcp", broker: b}
		cs := make([]*client, clients)
		for i := range cs {
			cs[i] = tg.mustDial(t, serviceUser, serviceSecret, fmt.Sprintf("%s-close-%d-%d", serviceUser, round, i))
		}
		// Clients leave, and others come and leave, while the broker closes.
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Disconnect(0)
				for j := 0; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					c, err := tg.dial(t, serviceUser, serviceSecret, fmt.Sprintf("%s-churn-%d-%d-%d", serviceUser, round, i, j))
					if err != nil {
						return // the broker is closing
					}
					c.Disconnect(0)
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		closed := make(chan error, 1)
		go func() { closed <- b.Close() }()
		select {
		case err := <-closed:
			require.NoError(t, err, "round %d", round)
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: the broker's Close did not return within 20 s while clients were leaving", round)
		}
		close(stop)
		wg.Wait()
		cancel()
	}
}

// TestCloseWithAStuckDoor: a door that stopped reading holds mochi's write
// lock of its connection (a write waits for room in its socket), and
// mochi's DisconnectClient writes before it closes: the broker's Close
// closed the listener's connections one by one and waited there for that
// door's keepalive (at 10,000 doors a restart spent the whole shutdown
// timeout closing the broker). The connections are now closed first.
func TestCloseWithAStuckDoor(t *testing.T) {
	cfg := Config{Addr: "127.0.0.1:0", Doors: testDoors, ServiceUsername: serviceUser, ServiceSecret: serviceSecret,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.NewRegistry()}
	b, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, b.Start(ctx))
	rawSubscribe(t, b.Addr(), 1, 60) // door-a, which never reads
	other := (&target{name: "mochi", addr: b.Addr(), scheme: "tcp", broker: b}).door(t, "door-b")
	defer other.Disconnect(0)

	// Publish to door-a until one publish is held: its socket is full and
	// the write holds the connection's lock.
	payload := bytes.Repeat([]byte("w"), 200<<10)
	topic := protocol.DefaultTopics().Door("door-a", protocol.TopicWhitelist)
	held := false
	for i := 0; i < 100 && !held; i++ {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = b.Publish(topic, payload, false, 1)
		}()
		select {
		case <-done:
		case <-time.After(time.Second):
			held = true
		}
	}
	require.True(t, held, "a publish to the stuck door-a is held")

	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the broker's Close waited for the stuck door")
	}
}

// TestCloseSendsNoWills: a door whose connection breaks has its will
// published (its status says offline), but the broker's own close does not
// publish its clients' wills: the broker goes, not the doors.
func TestCloseSendsNoWills(t *testing.T) {
	tg := startBroker(t)
	var mu sync.Mutex
	var wills []string
	require.NoError(t, tg.broker.Subscribe(tp.All(protocol.TopicStatus), 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		mu.Lock()
		wills = append(wills, pk.TopicName)
		mu.Unlock()
	}))
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(wills)
	}
	withWill := func(door string) func(*paho.ClientOptions) {
		return func(o *paho.ClientOptions) { o.SetWill(tp.Door(door, protocol.TopicStatus), `{"v":1}`, 1, true) }
	}
	tg.door(t, "door-a", withWill("door-a"))
	tg.door(t, "door-b", withWill("door-b"))

	// door-a's connection breaks: its will is published.
	a, ok := tg.broker.server.Clients.Get("door-a")
	require.True(t, ok)
	require.NoError(t, a.Net.Conn.Close())
	require.Eventually(t, func() bool { return len(seen()) == 1 }, wait, 10*time.Millisecond, "door-a's will")

	// The broker closes: door-b's will is not published.
	require.NoError(t, tg.broker.Close())
	require.Eventually(t, func() bool { return atomic.LoadInt64(&tg.broker.server.Info.ClientsConnected) == 0 }, wait, 10*time.Millisecond,
		"every connection ended")
	assert.Equal(t, []string{tp.Door("door-a", protocol.TopicStatus)}, seen())
}
