package ingest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestPublishCommandAndConnected publishes a signed command to a door
// through a real broker, then stops the broker: the ingest reports itself
// disconnected and refuses to publish at once.
func TestPublishCommandAndConnected(t *testing.T) {
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, srv.AddHook(new(auth.AllowHook), nil))
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	require.NoError(t, srv.AddListener(l))
	require.NoError(t, srv.Serve())
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = srv.Close()
		}
	})
	broker := "tcp://" + l.Address()

	in, err := New(Config{Broker: broker}, newMemStore(), nil, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
	require.NoError(t, err)
	require.False(t, in.Connected(), "not connected before Run")
	require.ErrorIs(t, in.PublishCommand(context.Background(), "door-a", []byte(`{}`)), ErrNotConnected)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("ingest did not stop")
		}
	})
	require.Eventually(t, in.Connected, 10*time.Second, 10*time.Millisecond)

	var mu sync.Mutex
	var got [][]byte
	door := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("door-a").SetAutoReconnect(false))
	tok := door.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	defer door.Disconnect(0)
	tok = door.Subscribe(protocol.DefaultTopics().Door("door-a", protocol.TopicCommands), 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		got = append(got, m.Payload())
		mu.Unlock()
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())

	now := time.Now()
	signed, err := testSigner.SignCommand(&protocol.Command{ID: "cmd-1", Door: "door-a", Action: protocol.ActionUnlock, Seconds: 5,
		IssuedMs: now.UnixMilli(), ExpiresMs: now.Add(2 * time.Minute).UnixMilli()})
	require.NoError(t, err)
	require.NoError(t, in.PublishCommand(context.Background(), "door-a", signed))
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	cmd, err := protocol.NewKeyRing(testSigner.PublicKey()).OpenCommand(got[0], "door-a", time.Now())
	mu.Unlock()
	require.NoError(t, err)
	assert.Equal(t, "cmd-1", cmd.ID)
	assert.Equal(t, 5, cmd.Seconds)

	require.Error(t, in.PublishCommand(context.Background(), "not a door/", signed), "a bad door id is refused")

	closed = true
	require.NoError(t, srv.Close())
	require.Eventually(t, func() bool { return !in.Connected() }, 10*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, in.PublishCommand(context.Background(), "door-a", signed), ErrNotConnected)
}

func TestCommitFeedFansOut(t *testing.T) {
	var f CommitFeed
	f.Notify(1, []Batch{{Door: "nobody-listens"}}) // no receiver: nothing happens
	var order []string
	f.Subscribe(func(ms int64, bs []Batch) { order = append(order, "a:"+bs[0].Door) })
	f.Subscribe(func(ms int64, bs []Batch) { order = append(order, "b:"+bs[0].Door) })
	f.Notify(2, []Batch{{Door: "d1"}})
	assert.Equal(t, []string{"a:d1", "b:d1"}, order)
}
