package web

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The doors of one center share one location of its zone: the live view's
// cache holds every door of the network, and a location loaded per door
// held thousands of copies of the same zone.
func TestDoorCacheSharesZones(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Liège", TimeZone: "Europe/Brussels"}))
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c2", Name: "Lille", TimeZone: "Europe/Paris"}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "d1", CenterID: "c1", Name: "Front"}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "d2", CenterID: "c1", Name: "Back"}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "e1", CenterID: "c2", Name: "Front"}))

	c := doorCache{doors: map[string]doorInfo{}}
	now := time.Now()
	d1, d2, e1 := c.get(ctx, st, "d1", now), c.get(ctx, st, "d2", now), c.get(ctx, st, "e1", now)
	for _, d := range []doorInfo{d1, d2, e1} {
		require.NotNil(t, d.loc, d.id)
	}
	assert.Equal(t, "Back", d2.name)
	assert.Equal(t, "c1", d2.center)
	assert.Equal(t, "Europe/Brussels", d1.loc.String())
	assert.Same(t, d1.loc, d2.loc, "two doors of a center share its zone")
	assert.Equal(t, "Europe/Paris", e1.loc.String())

	// Reloaded after the TTL: still the same location.
	again := c.get(ctx, st, "d1", now.Add(doorCacheTTL+time.Second))
	assert.Same(t, d1.loc, again.loc)
}

// slowDoors is a store whose door look-ups wait until their context ends,
// as look-ups of thousands of doors behind an ingest's writes did.
type slowDoors struct {
	store.Store
	asked chan struct{}
	mu    *sync.Mutex
	ended *[]error // how each look-up ended
}

func (s slowDoors) Door(ctx context.Context, id string) (domain.Door, error) {
	select {
	case s.asked <- struct{}{}:
	default:
	}
	<-ctx.Done()
	s.mu.Lock()
	*s.ended = append(*s.ended, ctx.Err())
	s.mu.Unlock()
	return domain.Door{}, ctx.Err()
}

// Close does not wait for the live view to look up every door of a commit
// being processed: a restart waited seconds for it at 10,000 doors. The
// look-up under way is cancelled and the commit's other doors are not
// looked up.
func TestCloseEndsTheCommitBeingProcessed(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var ended []error
	slow := slowDoors{Store: st, asked: make(chan struct{}, 1), mu: &sync.Mutex{}, ended: &ended}
	w, err := New(Config{Store: slow})
	require.NoError(t, err)
	batches := make([]ingest.Batch, 3)
	for i := range batches {
		batches[i] = ingest.Batch{Door: fmt.Sprintf("d%d", i), Events: []protocol.Event{{Seq: 1}}}
	}
	w.OnCommit(time.Now().UnixMilli(), batches)
	<-slow.asked // the worker is looking up the commit's first door
	w.Close()

	slow.mu.Lock()
	defer slow.mu.Unlock()
	require.Len(t, ended, 1, "the commit's other doors are not looked up after Close")
	assert.ErrorIs(t, ended[0], context.Canceled, "Close cancels the look-up under way (not its own timeout)")
}
