package whitelist

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/cardkeys"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/protocol"
)

func entryOf(t *testing.T, es []protocol.Entry, uid protocol.UID) protocol.Entry {
	t.Helper()
	for _, e := range es {
		if e.UID == uid {
			return e
		}
	}
	t.Fatalf("badge %s not listed", uid)
	return protocol.Entry{}
}

// TestSecureBadgesCompiled: a secure badge's entry lists its card type and
// its own door key, diversified from the card master key for its UID; a
// rotation lists both versions until the old one's cut-off; a door listing
// secure badges never gets the master key or another key number.
func TestSecureBadgesCompiled(t *testing.T) {
	ring, _, err := cardkeys.LoadOrCreate(t.TempDir(), t0)
	require.NoError(t, err)
	in := world()
	in.Badges[0].Card, in.Badges[0].KeyVersion = protocol.CardNTAG424DNA, 1 // alice A1000001
	in.Badges[6].Card, in.Badges[6].KeyVersion = protocol.CardDESFireEV2, 1 // frank F1000001
	f := newFixture(t, in, func(c *Config) { c.CardKeys = ring })
	es, _, err := f.c.Entries("d1")
	require.NoError(t, err)
	alice := entryOf(t, es, "A1000001")
	assert.Equal(t, protocol.CardNTAG424DNA, alice.Card)
	require.Len(t, alice.Keys, 1)
	keys, err := ring.AppKeys("A1000001", protocol.CardNTAG424DNA, 1)
	require.NoError(t, err)
	assert.Equal(t, protocol.DoorKey{Version: 1, Key: keys[desfire.KeyDoor]}, alice.Keys[0], "the door key, key number 1")
	assert.NotEqual(t, keys[desfire.KeyAppMaster], alice.Keys[0].Key)
	require.NoError(t, alice.Validate(""))
	frank := entryOf(t, es, "F1000001")
	assert.Equal(t, protocol.CardDESFireEV2, frank.Card)
	bob := entryOf(t, es, "B1000001")
	assert.Empty(t, bob.Card, "UID-only badges are listed as before")
	assert.Empty(t, bob.Keys)

	// A station re-keys alice's badge after a rotation: her entry changes
	// (a new version) and lists the current version's key only.
	cut := t0.Add(14 * 24 * time.Hour)
	_, err = ring.Rotate(t0, cut)
	require.NoError(t, err)
	f2 := newFixture(t, in, func(c *Config) { c.CardKeys = ring })
	es, _, err = f2.c.Entries("d1")
	require.NoError(t, err)
	both := entryOf(t, es, "A1000001").Keys
	require.Len(t, both, 2, "after a rotation: the badge's version until its cut-off, and the current one")
	assert.Equal(t, alice.Keys[0].Key, both[0].Key)
	assert.Equal(t, cut.UnixMilli(), both[0].NotAfterMs)
	assert.Equal(t, uint8(2), both[1].Version)

	b := in.Badges[0]
	b.KeyVersion = 2
	f2.apply(domain.Change{Kind: domain.KindBadge, Badge: &b})
	w := f2.delta("d1", f2.version("d1")-1)
	require.Len(t, w.Entries, 1)
	assert.Equal(t, []protocol.DoorKey{both[1]}, w.Entries[0].Keys)

	// No card keys: the secure badges are listed revoked (fail secure).
	f3 := newFixture(t, in)
	es, _, err = f3.c.Entries("d1")
	require.NoError(t, err)
	assert.True(t, entryOf(t, es, "A1000001").Revoked)
	assert.Empty(t, entryOf(t, es, "A1000001").Keys)
	assert.Positive(t, f3.counter("swc_whitelist_rejected_objects_total", "kind", "badge"))
}

// TestRequireSecurePolicy: a center's policy reaches its doors in every
// whitelist message, and changing it issues a new version for them only.
func TestRequireSecurePolicy(t *testing.T) {
	in := world()
	in.Centers[0].RequireSecure = true
	f := newFixture(t, in)
	ctx := context.Background()
	s, err := f.c.ForSync(ctx, "d1", 0)
	require.NoError(t, err)
	for _, w := range f.open(s, t0) {
		assert.True(t, w.RequireSecure)
	}
	s, err = f.c.ForSync(ctx, "d2", 0)
	require.NoError(t, err)
	for _, w := range f.open(s, t0) {
		assert.False(t, w.RequireSecure)
	}

	v1, vr, v2 := f.version("d1"), f.version("d1r1"), f.version("d2")
	c := in.Centers[0]
	c.RequireSecure = false
	f.apply(domain.Change{Kind: domain.KindCenter, Center: &c})
	assert.Equal(t, v1+1, f.version("d1"))
	assert.Equal(t, vr+1, f.version("d1r1"))
	assert.Equal(t, v2, f.version("d2"))
	assert.False(t, f.delta("d1", v1).RequireSecure)
	c.Name = "Renamed" // nothing a door lists
	f.apply(domain.Change{Kind: domain.KindCenter, Center: &c})
	assert.Equal(t, v1+1, f.version("d1"))
	c.RequireSecure = true
	f.apply(domain.Change{Kind: domain.KindCenter, Center: &c})
	assert.True(t, f.delta("d1", v1+1).RequireSecure)

	// A restart with the policy unchanged keeps the versions.
	in.Centers[0] = c
	c2 := f.restart(in, t0)
	got, _ := c2.Version("d1")
	assert.Equal(t, v1+2, got)
}

// countingKeys counts derivations.
type countingKeys struct {
	CardKeys
	n int
}

func (c *countingKeys) DoorKeys(uid protocol.UID, card protocol.CardType, v uint8, now time.Time) ([]protocol.DoorKey, error) {
	c.n++
	return c.CardKeys.DoorKeys(uid, card, v, now)
}

// TestDoorKeysDerivedOncePerBadge: a badge listed at several doors has its
// door keys derived once, and again only when its card changes.
func TestDoorKeysDerivedOncePerBadge(t *testing.T) {
	ring, _, err := cardkeys.LoadOrCreate(t.TempDir(), t0)
	require.NoError(t, err)
	keys := &countingKeys{CardKeys: ring}
	in := world()
	in.Badges[0].Card, in.Badges[0].KeyVersion = protocol.CardNTAG424DNA, 1 // alice: listed at d1 and d1r1
	f := newFixture(t, in, func(c *Config) { c.CardKeys = keys })
	assert.Equal(t, 1, keys.n)
	for _, d := range []string{"d1", "d1r1"} {
		es, _, err := f.c.Entries(d)
		require.NoError(t, err)
		assert.Len(t, entryOf(t, es, "A1000001").Keys, 1, d)
	}
	b := in.Badges[0]
	b.Revoked = true // the same card: nothing to derive
	f.apply(domain.Change{Kind: domain.KindBadge, Badge: &b})
	assert.Equal(t, 1, keys.n)
	b.Revoked, b.Card = false, protocol.CardDESFireEV2 // another card
	f.apply(domain.Change{Kind: domain.KindBadge, Badge: &b})
	assert.Equal(t, 2, keys.n)
}
