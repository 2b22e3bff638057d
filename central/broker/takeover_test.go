package broker

import (
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// heldEnd holds the end of a connection of one client id at the point where
// mochi has checked that no newer connection took its session over but has
// not yet removed its client id (mochi calls OnUnsubscribed in between).
type heldEnd struct {
	mqtt.HookBase
	id            string
	held, release chan struct{}
	taken         atomic.Bool
}

func (h *heldEnd) ID() string           { return "test-held-end" }
func (h *heldEnd) Provides(b byte) bool { return b == mqtt.OnUnsubscribed }

func (h *heldEnd) OnUnsubscribed(cl *mqtt.Client, _ packets.Packet) {
	if cl.ID != h.id || !cl.Closed() {
		return
	}
	if h.taken.CompareAndSwap(false, true) { // the first end only: mochi's take-over calls this too
		close(h.held)
		<-h.release
	}
}

// TestTakeOverWaitsForTheEarlierConnection: a door that reconnects while
// the broker is still ending its earlier connection receives what the
// central publishes to it on the new one.
func TestTakeOverWaitsForTheEarlierConnection(t *testing.T) {
	tg := startBroker(t)
	end := &heldEnd{id: "door-a", held: make(chan struct{}), release: make(chan struct{})}
	require.NoError(t, tg.broker.server.AddHook(end, nil))
	released := false
	defer func() {
		if !released {
			close(end.release)
		}
	}()
	svc := tg.service(t, serviceUser)

	a1 := tg.door(t, "door-a")
	a1.Disconnect(0)
	select {
	case <-end.held:
	case <-time.After(wait):
		t.Fatal("the first connection's end was not seen")
	}

	// The door connects again while its first connection is still ending.
	type dialed struct {
		c   *client
		err error
	}
	second := make(chan dialed, 1)
	go func() {
		c, err := tg.dial(t, "door-a", testDoors["door-a"], "door-a")
		second <- dialed{c, err}
	}()
	var got *dialed
	select {
	case d := <-second: // the broker did not wait for the first connection to end
		got = &d
	case <-time.After(500 * time.Millisecond):
	}
	close(end.release)
	released = true
	if got == nil {
		select {
		case d := <-second:
			got = &d
		case <-time.After(wait):
			t.Fatal("the second connection was not answered")
		}
	}
	require.NoError(t, got.err)

	code, cmds := got.c.subscribe(t, tp.Door("door-a", protocol.TopicCommands))
	require.Equal(t, byte(1), code)
	svc.publish(t, tp.Door("door-a", protocol.TopicCommands), []byte("cmd"), false)
	assert.Equal(t, "cmd", string(recv(t, cmds).payload))
	assert.Zero(t, tg.counter(t, "swc_broker_takeover_slow_total"))
}
