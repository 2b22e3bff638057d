package server_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/cardkeys"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestCardKeyRotationWithoutRestart: a rotation made while serve runs (as
// `swc-central card-keys rotate` does, on the data folder's file) reaches
// the running central: the ring serves the new current version, and the
// door listing a secure badge gets both versions' door keys, without a
// restart.
func TestCardKeyRotationWithoutRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := start(t, server.Config{DataDir: dir})
	ctx := context.Background()
	now := time.Now()
	require.NoError(t, s.Store.CreateCenter(ctx, domain.Center{ID: "c1", Name: "One", TimeZone: "Europe/Brussels"}))
	require.NoError(t, s.Store.CreateDoor(ctx, domain.Door{ID: "door-a", CenterID: "c1", Name: "Front"}))
	require.NoError(t, s.Store.CreateMember(ctx, domain.Member{ID: "m1", Name: "Ann", Status: domain.MemberActive}))
	require.NoError(t, s.Store.CreatePass(ctx, domain.Pass{ID: "p1", MemberID: "m1", CenterIDs: []string{"c1"},
		ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(30 * 24 * time.Hour)}))
	require.NoError(t, s.Store.CreateBadge(ctx, domain.Badge{UID: "04A1B2C3D4E5F6", MemberID: "m1"}))
	require.NoError(t, s.Store.SetBadgeCredential(ctx, "04A1B2C3D4E5F6", protocol.CardNTAG424DNA, 1))
	keysAt := func() []protocol.DoorKey {
		es, _, err := s.Whitelist().Entries("door-a")
		require.NoError(t, err)
		for _, e := range es {
			if e.UID == "04A1B2C3D4E5F6" {
				return e.Keys
			}
		}
		return nil
	}
	require.Eventually(t, func() bool { return len(keysAt()) == 1 }, 10*time.Second, 20*time.Millisecond)

	ring, err := cardkeys.Load(filepath.Join(dir, cardkeys.FileName))
	require.NoError(t, err)
	v, err := ring.Rotate(time.Now(), time.Now().Add(30*24*time.Hour))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.CardKeys.Current() == v }, 10*time.Second, 20*time.Millisecond,
		"the running central reads the rotation")
	require.Eventually(t, func() bool {
		ks := keysAt()
		return len(ks) == 2 && ks[0].Version == 1 && ks[1].Version == v
	}, 10*time.Second, 20*time.Millisecond, "the door lists both versions' door keys")
}
