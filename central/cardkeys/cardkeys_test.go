package cardkeys

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/protocol"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r, created, err := LoadOrCreate(dir, t0)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, uint8(1), r.Current())
	fi, err := os.Stat(filepath.Join(dir, FileName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	again, created, err := LoadOrCreate(dir, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, created)
	k1, err := r.AppKeys("04A1B2C3", protocol.CardNTAG424DNA, 1)
	require.NoError(t, err)
	k2, err := again.AppKeys("04A1B2C3", protocol.CardNTAG424DNA, 1)
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "the same master key after a restart")
	assert.NotContains(t, fmt.Sprint(r), strings.ToLower(r.f.Versions[0].Key))

	require.NoError(t, os.Chmod(filepath.Join(dir, FileName), 0o644))
	_, err = Load(filepath.Join(dir, FileName))
	assert.ErrorContains(t, err, "chmod 600")
}

func TestLoadRefusesBadFiles(t *testing.T) {
	good := `{"current":1,"versions":[{"version":1,"key":"000102030405060708090a0b0c0d0e0f","created":"2026-01-01T00:00:00Z"}]}`
	for name, content := range map[string]string{
		"not json":        `{`,
		"no versions":     `{"current":1,"versions":[]}`,
		"short key":       strings.Replace(good, "0e0f", "", 1),
		"current missing": strings.Replace(good, `"current":1`, `"current":2`, 1),
		"version 0":       strings.ReplaceAll(good, `1`, `0`),
		"current retired": strings.Replace(good, `"created"`, `"not_after":"2027-01-01T00:00:00Z","created"`, 1),
	} {
		path := filepath.Join(t.TempDir(), FileName)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		_, err := Load(path)
		assert.Error(t, err, name)
	}
	path := filepath.Join(t.TempDir(), FileName)
	require.NoError(t, os.WriteFile(path, []byte(good), 0o600))
	r, err := Load(path)
	require.NoError(t, err)
	// The keys are AN10922 diversifications of the file's master key.
	keys, err := r.AppKeys("04A1B2C3D4E5F6", protocol.CardDESFireEV2, 1)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	master := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	want, err := desfire.CardKey(master, []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}, desfire.NetworkDESFireAID, 1)
	require.NoError(t, err)
	assert.Equal(t, protocol.CardKey(want), keys[1])
}

func TestRotationDoorKeys(t *testing.T) {
	dir := t.TempDir()
	r, _, err := LoadOrCreate(dir, t0)
	require.NoError(t, err)
	uid := protocol.UID("04A1B2C3D4E5F6")
	v1, err := r.DoorKeys(uid, protocol.CardNTAG424DNA, 1, t0)
	require.NoError(t, err)
	require.Len(t, v1, 1)
	assert.Equal(t, uint8(1), v1[0].Version)
	assert.Zero(t, v1[0].NotAfterMs)
	plain, err := r.DoorKeys(uid, protocol.CardUIDOnly, 0, t0)
	require.NoError(t, err)
	assert.Empty(t, plain)

	cut := t0.Add(30 * 24 * time.Hour)
	_, err = r.Rotate(t0, t0)
	assert.Error(t, err, "a cut-off in the past")
	v, err := r.Rotate(t0, cut)
	require.NoError(t, err)
	assert.Equal(t, uint8(2), v)

	// A badge still at version 1: both keys, the old one with its cut-off.
	both, err := r.DoorKeys(uid, protocol.CardNTAG424DNA, 1, t0)
	require.NoError(t, err)
	require.Len(t, both, 2)
	assert.Equal(t, protocol.DoorKey{Version: 1, Key: v1[0].Key, NotAfterMs: cut.UnixMilli()}, both[0])
	assert.Equal(t, uint8(2), both[1].Version)
	assert.NotEqual(t, v1[0].Key, both[1].Key)
	e := protocol.Entry{UID: uid, Member: "m", Card: protocol.CardNTAG424DNA, Keys: both}
	require.NoError(t, e.Validate(""))
	// Re-keyed: the current key only. After the cut-off: the current only.
	now2, err := r.DoorKeys(uid, protocol.CardNTAG424DNA, 2, t0)
	require.NoError(t, err)
	assert.Equal(t, both[1:], now2)
	late, err := r.DoorKeys(uid, protocol.CardNTAG424DNA, 1, cut)
	require.NoError(t, err)
	assert.Equal(t, both[1:], late)

	// The rotation survives a restart; the station can derive both versions.
	again, err := Load(filepath.Join(dir, FileName))
	require.NoError(t, err)
	assert.Equal(t, uint8(2), again.Current())
	infos := again.Versions()
	require.Len(t, infos, 2)
	assert.Equal(t, cut, infos[0].NotAfter)
	assert.True(t, infos[1].Current)
	_, err = again.AppKeys(uid, protocol.CardNTAG424DNA, 1)
	require.NoError(t, err)
	_, err = again.AppKeys(uid, protocol.CardNTAG424DNA, 9)
	assert.ErrorIs(t, err, ErrUnknownVersion)

	// A later rotation drops versions past their cut-off.
	_, err = again.Rotate(cut.Add(time.Hour), cut.Add(48*time.Hour))
	require.NoError(t, err)
	got := again.Versions()
	require.Len(t, got, 2)
	assert.Equal(t, []uint8{2, 3}, []uint8{got[0].Version, got[1].Version})
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	require.NoError(t, err)
	var f file
	require.NoError(t, json.Unmarshal(b, &f))
	assert.Equal(t, uint8(3), f.Current)
}

// TestReload: a ring reads a rotation another process wrote, reports a
// change once, and keeps its keys when the file changed into one that does
// not load.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r, _, err := LoadOrCreate(dir, now)
	require.NoError(t, err)
	other, err := Load(filepath.Join(dir, FileName))
	require.NoError(t, err)
	v, err := other.Rotate(now, now.Add(time.Hour))
	require.NoError(t, err)
	changed, err := r.Reload()
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, v, r.Current())
	want, err := other.AppKeys("04A1B2C3D4E5F6", protocol.CardDESFireEV2, v)
	require.NoError(t, err)
	got, err := r.AppKeys("04A1B2C3D4E5F6", protocol.CardDESFireEV2, v)
	require.NoError(t, err)
	assert.Equal(t, want, got, "the new version's keys")
	changed, err = r.Reload()
	require.NoError(t, err)
	assert.False(t, changed, "the same file again")

	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), []byte(`{`), 0o600))
	_, err = r.Reload()
	require.Error(t, err)
	assert.Equal(t, v, r.Current(), "a file that does not load changes nothing")
	require.NoError(t, os.Chmod(filepath.Join(dir, FileName), 0o644))
	_, err = r.Reload()
	require.ErrorContains(t, err, "chmod 600")
}
