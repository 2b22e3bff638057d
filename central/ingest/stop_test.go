package ingest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// stopDuringCommit stores, then stops the ingest before it returns: the
// shutdown comes while a commit completes.
type stopDuringCommit struct {
	*memStore
	stop context.CancelFunc
}

func (s stopDuringCommit) StoreEvents(ctx context.Context, receivedMs int64, batches []Batch) (map[Stream]Stored, error) {
	stored, err := s.memStore.StoreEvents(ctx, receivedMs, batches)
	s.stop()
	return stored, err
}

// TestCommitStoredWhileStoppingIsHandedOver: a commit that the store
// completes while the ingest stops is not acknowledged (the door sends it
// again) but reaches the Committed hook: the crediting ends its session
// and the check-ins save their cursor as if it had.
func TestCommitStoredWhileStoppingIsHandedOver(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st := stopDuringCommit{memStore: newMemStore(), stop: cancel}
		h := &harness{broker: tb.addr}
		var mu sync.Mutex
		var handed []Batch
		in, err := New(tb.config(Config{ShareGroup: "ingest", RetryBackoff: 5 * time.Millisecond,
			Committed: func(_ int64, bs []Batch) {
				mu.Lock()
				handed = append(handed, bs...)
				mu.Unlock()
			}}), st, newCompiler(t), slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
		require.NoError(t, err)
		stopped := make(chan error, 1)
		go func() { stopped <- in.Run(ctx) }()

		d := h.door(t, "door-a")
		// Sent until the ingest, once subscribed, stores it (and stops).
		require.Eventually(t, func() bool {
			d.publish(t, protocol.TopicEvents, batch("door-a", 1, 2))
			return st.count("door-a") == 2
		}, 10*time.Second, 50*time.Millisecond)
		select {
		case err := <-stopped:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("the ingest did not stop")
		}

		mu.Lock()
		defer mu.Unlock()
		require.Len(t, handed, 1, "the stored commit was handed over")
		assert.Equal(t, "door-a", handed[0].Door)
		assert.Len(t, handed[0].Events, 2)
		d.mu.Lock()
		defer d.mu.Unlock()
		assert.Empty(t, d.got[protocol.TopicAck], "not acknowledged while stopping")
	})
}
