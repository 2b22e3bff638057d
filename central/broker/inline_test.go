package broker

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestInlineClientKeepsTheDoorACL subscribes the central's in-process client
// to every door's events and publishes to doors through it: a door's own
// events reach the handler, a publish the ACL refuses (another door's
// topic) never does, and an inline publish reaches only the door whose
// topic it is.
func TestInlineClientKeepsTheDoorACL(t *testing.T) {
	tg := startBroker(t)
	got := make(chan string, 16)
	require.NoError(t, tg.broker.Subscribe(tp.All(protocol.TopicEvents), 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		got <- pk.TopicName + " " + string(pk.Payload)
	}))
	a := tg.door(t, "door-a")
	b := tg.door(t, "door-b")

	a.publish(t, tp.Door("door-a", protocol.TopicEvents), []byte("a1"), false)
	select {
	case m := <-got:
		assert.Equal(t, tp.Door("door-a", protocol.TopicEvents)+" a1", m)
	case <-time.After(wait):
		t.Fatal("the inline handler never got door-a's events")
	}

	// door-b on door-a's topic: refused (mochi closes a 3.1.1 client's
	// connection on a refused QoS 1 publish) and never handled.
	before := tg.counter(t, "swc_broker_acl_denied_total", "action", "publish")
	b.Publish(tp.Door("door-a", protocol.TopicEvents), 1, false, []byte("forged"))
	require.Eventually(t, func() bool { return tg.counter(t, "swc_broker_acl_denied_total", "action", "publish") == before+1 },
		wait, 10*time.Millisecond)
	select {
	case m := <-got:
		t.Fatalf("a refused publish reached the inline handler: %s", m)
	case <-time.After(200 * time.Millisecond):
	}

	_, ackA := a.subscribe(t, tp.Door("door-a", protocol.TopicAck))
	c := tg.door(t, "door-b")
	code, _ := c.subscribe(t, tp.Door("door-a", protocol.TopicAck))
	assert.Equal(t, byte(0x80), code, "door-b may not read door-a's acks")
	require.NoError(t, tg.broker.Publish(tp.Door("door-a", protocol.TopicAck), []byte("ack-a"), false, 1))
	assert.Equal(t, "ack-a", string(recv(t, ackA).payload))

	require.NoError(t, tg.broker.Unsubscribe(tp.All(protocol.TopicEvents), 1))
	a.publish(t, tp.Door("door-a", protocol.TopicEvents), []byte("a2"), false)
	select {
	case m := <-got:
		t.Fatalf("handled after Unsubscribe: %s", m)
	case <-time.After(200 * time.Millisecond):
	}
}

// Unacked counts the QoS 1 messages a door has not acknowledged yet (the
// ingest's sync workers wait on it): one while the door holds its PUBACK,
// none once it sent it, and not ok for a door that is not connected.
func TestUnackedCountsWhatTheDoorHolds(t *testing.T) {
	tg := startBroker(t)
	a := tg.door(t, "door-a", func(o *paho.ClientOptions) { o.SetAutoAckDisabled(true) })
	held := make(chan paho.Message, 1)
	tok := a.Subscribe(tp.Door("door-a", protocol.TopicWhitelist), 1, func(_ paho.Client, m paho.Message) { held <- m })
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())

	n, ok := tg.broker.Unacked("door-a")
	require.True(t, ok)
	assert.Zero(t, n)
	require.NoError(t, tg.broker.Publish(tp.Door("door-a", protocol.TopicWhitelist), []byte("snapshot"), false, 1))
	var m paho.Message
	select {
	case m = <-held:
	case <-time.After(wait):
		t.Fatal("door-a got nothing")
	}
	n, ok = tg.broker.Unacked("door-a")
	assert.True(t, ok)
	assert.Equal(t, 1, n, "door-a holds its PUBACK")
	m.Ack()
	require.Eventually(t, func() bool { n, ok := tg.broker.Unacked("door-a"); return ok && n == 0 }, wait, 10*time.Millisecond)

	_, ok = tg.broker.Unacked("door-z")
	assert.False(t, ok, "a door that is not connected")
}
