package broker

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogHoldsExcerptsOfClientInput sends the broker client ids, user
// names and topics of tens of kilobytes where it logs them (a refused
// connection, an ACL denial): each log line stays short.
func TestLogHoldsExcerptsOfClientInput(t *testing.T) {
	var logs lockedBuffer
	tg := startBroker(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	long := strings.Repeat("x", 60<<10)

	// Refused at connect: a user name that is no door id, a door with
	// another client id, a will on another door's topic.
	_, err := tg.dial(t, long, "x", long)
	require.Error(t, err)
	_, err = tg.dial(t, "door-a", "secret-a", "door-a"+long)
	require.Error(t, err)
	_, err = tg.dial(t, "door-a", "secret-a", "door-a", func(o *paho.ClientOptions) {
		o.SetWill(tp.Door("door-b", protocol.TopicStatus)+"/"+long, `{"v":1}`, 1, false)
	})
	require.Error(t, err)
	assert.Equal(t, uint64(1), tg.counter(t, "swc_broker_connects_refused_total", "reason", refusedBadDoorID))
	assert.Equal(t, uint64(1), tg.counter(t, "swc_broker_connects_refused_total", "reason", refusedClientID))
	assert.Equal(t, uint64(1), tg.counter(t, "swc_broker_connects_refused_total", "reason", refusedWill))

	// Denied by the ACL: a door publishing and subscribing on a long topic.
	a := tg.door(t, "door-a")
	// (mochi closes the connection of a QoS 1 publish the ACL denies, and
	// logs the packet, with its payload: the subscription goes first.)
	tok := a.Subscribe(tp.Door("door-b", protocol.TopicAck)+"/"+long, 1, nil)
	tok.WaitTimeout(wait)
	tok = a.Publish(tp.Door("door-b", protocol.TopicEvents)+"/"+long, 1, false, strings.Repeat("p", 150<<10))
	tok.WaitTimeout(wait)
	require.Eventually(t, func() bool {
		return tg.counter(t, "swc_broker_acl_denied_total", "action", "publish") >= 1 &&
			tg.counter(t, "swc_broker_acl_denied_total", "action", "subscribe") >= 1
	}, wait, 10*time.Millisecond, "%s", summary(logs.String()))

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.GreaterOrEqual(t, len(lines), 5, "every refusal and denial is logged")
	assert.Contains(t, logs.String(), "msg=\"broker: ACL denied\"")
	for _, line := range lines {
		assert.Less(t, len(line), 2048, "a log line holds excerpts of what the client sent: %.300s", line)
	}
	if t.Failed() {
		t.Log(summary(logs.String()))
	}
}

// summary is each log line's head and length.
func summary(log string) string {
	var b strings.Builder
	for _, line := range strings.Split(log, "\n") {
		fmt.Fprintf(&b, "%.200s (%d bytes)\n", line, len(line))
	}
	return b.String()
}

func TestExcerptHandlerCutsEveryValue(t *testing.T) {
	long := strings.Repeat("y", 10<<10)
	var logs lockedBuffer
	log := slog.New(excerptHandler{slog.NewTextHandler(&logs, nil)}).With("with", long).WithGroup("g")
	log.Warn(long, "string", long, "error", fmt.Errorf("refused %s", long), "group", slog.GroupValue(slog.String("inner", long)),
		"short", "kept", "number", 42)
	line := logs.String()
	assert.Less(t, len(line), 2048, "%.300s", line)
	for _, want := range []string{"with=yyy", "g.string=yyy", `g.error="refused yyy`, "g.group.inner=yyy", "g.short=kept", "g.number=42"} {
		assert.Contains(t, line, want)
	}
	assert.Equal(t, 5, strings.Count(line, "…"), "the message and the four long values are cut: %s", line)
}

// TestExcerptHandlerSummarisesPackets: a packet mochi logs (one it could not
// write, such as a snapshot part to a closed connection) is said in one
// line of its header fields, not printed whole and then cut.
func TestExcerptHandlerSummarisesPackets(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(excerptHandler{slog.NewTextHandler(&logs, nil)})
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "swc/v1/door/door-a/whitelist",
		PacketID: 7, Payload: bytes.Repeat([]byte{'{'}, 64<<10)}
	log.Warn("error processing packet", "pk", pk)
	assert.Contains(t, logs.String(), `pk="type=3 topic=\"swc/v1/door/door-a/whitelist\" packet_id=7 qos=1 payload_bytes=65536"`)
}
