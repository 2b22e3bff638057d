package whitelist

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/cardkeys"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestCardKeysChanged: a rotation made by another process (the card-keys
// command) and read again by the running ring reaches the doors listing a
// secure badge as a delta with both versions' door keys; a door listing no
// secure badge gets no new version.
func TestCardKeysChanged(t *testing.T) {
	dir := t.TempDir()
	ring, _, err := cardkeys.LoadOrCreate(dir, t0)
	require.NoError(t, err)
	in := world()
	in.Badges[0].Card, in.Badges[0].KeyVersion = protocol.CardNTAG424DNA, 1 // alice A1000001, listed at d1
	f := newFixture(t, in, func(c *Config) { c.CardKeys = ring })
	es, _, err := f.c.Entries("d1")
	require.NoError(t, err)
	require.Len(t, entryOf(t, es, "A1000001").Keys, 1)
	versions := map[string]uint64{}
	for _, d := range []string{"d1", "d2"} {
		versions[d] = f.version(d)
	}

	other, err := cardkeys.Load(filepath.Join(dir, cardkeys.FileName))
	require.NoError(t, err)
	cut := t0.Add(14 * 24 * time.Hour)
	_, err = other.Rotate(t0, cut)
	require.NoError(t, err)
	// Before the ring reads the file again, nothing changes.
	require.NoError(t, f.c.CardKeysChanged(context.Background()))
	assert.Equal(t, versions["d1"], f.version("d1"), "same keys: no new version")
	changed, err := ring.Reload()
	require.NoError(t, err)
	require.True(t, changed)
	assert.Equal(t, uint8(2), ring.Current())
	changed, err = ring.Reload()
	require.NoError(t, err)
	require.False(t, changed, "the same file again")

	require.NoError(t, f.c.CardKeysChanged(context.Background()))
	w := f.delta("d1", versions["d1"])
	require.Len(t, w.Entries, 1)
	keys := w.Entries[0].Keys
	require.Len(t, keys, 2, "the badge's version until its cut-off, and the current one")
	assert.Equal(t, uint8(1), keys[0].Version)
	assert.Equal(t, cut.UnixMilli(), keys[0].NotAfterMs)
	assert.Equal(t, uint8(2), keys[1].Version)
	assert.Equal(t, versions["d2"], f.version("d2"), "d2 lists no secure badge")
}
