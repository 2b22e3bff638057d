package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// doorClient is a real paho client logging in to the embedded broker as a
// door with the secret the API issued.
type doorClient struct {
	id  string
	c   mqtt.Client
	mu  sync.Mutex
	got map[string][][]byte
}

func connectDoor(t *testing.T, s *server.Server, door, secret string) (*doorClient, error) {
	t.Helper()
	d := &doorClient{id: door, got: map[string][][]byte{}}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + s.Broker.Addr()).SetClientID(door).SetUsername(door).SetPassword(secret).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	d.c = mqtt.NewClient(opts)
	tok := d.c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { d.c.Disconnect(0) })
	for _, topic := range protocol.DefaultTopics().DoorTopics(door) {
		tok := d.c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
			d.mu.Lock()
			d.got[m.Topic()] = append(d.got[m.Topic()], m.Payload())
			d.mu.Unlock()
		})
		require.True(t, tok.WaitTimeout(5*time.Second))
		require.NoError(t, tok.Error())
	}
	return d, nil
}

func (d *doorClient) publish(t *testing.T, kind string, v any) {
	t.Helper()
	b, err := protocol.Encode(v)
	require.NoError(t, err)
	tok := d.c.Publish(protocol.DefaultTopics().Door(d.id, kind), 1, false, b)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
}

// firstWhitelist asks for the door's whitelist until one comes, and
// returns it opened with keys.
func (d *doorClient) firstWhitelist(t *testing.T, keys *protocol.KeyRing) *protocol.Whitelist {
	t.Helper()
	// As a door does on every connection: its status, then its request
	// (the central sends later changes to online doors only).
	d.publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: d.id, State: protocol.StateOnline})
	var w *protocol.Whitelist
	require.Eventually(t, func() bool {
		if len(d.received(protocol.TopicWhitelist)) == 0 {
			d.publish(t, protocol.TopicSync, &protocol.SyncRequest{V: protocol.Version, Door: d.id})
			time.Sleep(50 * time.Millisecond)
			return false
		}
		var err error
		w, err = keys.OpenWhitelist(d.received(protocol.TopicWhitelist)[0], time.Now())
		require.NoError(t, err)
		return true
	}, 20*time.Second, 100*time.Millisecond)
	return w
}

func (d *doorClient) received(kind string) [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.got[protocol.DefaultTopics().Door(d.id, kind)]...)
}

// TestDoorTalksToServe runs the central as serve wires it (store, compiler,
// embedded broker, ingest) and plays a door against it.
func TestDoorTalksToServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := start(t, server.Config{DataDir: dir})
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	keys := protocol.NewKeyRing(s.Signer.PublicKey())

	mustCall := func(method, path string, body any) []byte {
		code, b := call(t, s, token, method, path, body)
		require.Less(t, code, 300, "%s %s: %s", method, path, b)
		return b
	}
	mustCall("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	mustCall("POST", "/api/v1/doors", map[string]any{"id": "door-a", "center_id": "c1", "name": "Front"})
	mustCall("POST", "/api/v1/members", map[string]any{"id": "m1", "name": "Ann", "status": "active"})
	mustCall("POST", "/api/v1/badges", map[string]any{"uid": "04A1B2C3", "member_id": "m1"})
	var sec struct{ Secret string }
	require.NoError(t, json.Unmarshal(mustCall("POST", "/api/v1/doors/door-a/secret", nil), &sec))

	_, err = connectDoor(t, s, "door-a", "wrong-secret")
	require.Error(t, err, "a wrong door secret is refused")
	d, err := connectDoor(t, s, "door-a", sec.Secret)
	require.NoError(t, err)

	// Starting empty, the door asks for its whitelist and gets a snapshot
	// signed by the central's key (no rights yet: no entries).
	snap := d.firstWhitelist(t, keys)
	assert.Equal(t, protocol.Snapshot, snap.Kind)
	assert.Empty(t, snap.Entries)

	// A booking made through the API reaches the door as a delta.
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Minute)
	mustCall("POST", "/api/v1/bookings", map[string]any{"id": "bk1", "member_id": "m1", "center_id": "c1",
		"start": start, "end": start.Add(2 * time.Hour), "status": "confirmed"})
	require.Eventually(t, func() bool { return len(d.received(protocol.TopicWhitelist)) >= 2 }, 5*time.Second, 10*time.Millisecond)
	delta, err := keys.OpenWhitelist(d.received(protocol.TopicWhitelist)[1], time.Now())
	require.NoError(t, err)
	require.NoError(t, delta.CheckFor("door-a", snap.Version))
	require.Len(t, delta.Entries, 1)
	assert.Equal(t, protocol.UID("04A1B2C3"), delta.Entries[0].UID)

	// Events are stored, acknowledged, and visible through the API.
	now := time.Now().UnixMilli()
	d.publish(t, protocol.TopicEvents, &protocol.EventBatch{V: protocol.Version, Door: "door-a", Events: []protocol.Event{
		{Seq: 1, TimeMs: now, Trusted: true, Boot: "b1", Kind: protocol.EventTap, UID: "04A1B2C3", Member: "m1", Reason: protocol.GrantedBooking, WLVersion: delta.Version},
		{Seq: 2, TimeMs: now + 1, Trusted: true, Boot: "b1", Kind: protocol.EventDoorClosed, WLVersion: delta.Version},
	}})
	require.Eventually(t, func() bool { return len(d.received(protocol.TopicAck)) >= 1 }, 5*time.Second, 10*time.Millisecond)
	ack, err := protocol.DecodeAck(d.received(protocol.TopicAck)[0])
	require.NoError(t, err)
	assert.Equal(t, uint64(2), ack.Through)
	events := mustCall("GET", "/api/v1/events?door=door-a", nil)
	assert.Contains(t, string(events), `"reason":"granted_booking"`)
	assert.Contains(t, string(events), `"kind":"door_closed"`)
}
