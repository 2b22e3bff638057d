package web

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store/sqlite"
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
