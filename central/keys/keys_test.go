package keys_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/keys"
)

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, created, err := keys.LoadOrCreate(dir)
	require.NoError(t, err)
	require.True(t, created)
	fi, err := os.Stat(filepath.Join(dir, keys.FileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	k2, created, err := keys.LoadOrCreate(dir)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, k1, k2, "the second start reuses the key")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	_, _, err := keys.LoadOrCreate(dir)
	require.NoError(t, err)
	path := filepath.Join(dir, keys.FileName)
	require.NoError(t, os.Chmod(path, 0o644))
	_, _, err = keys.LoadOrCreate(dir)
	require.ErrorContains(t, err, "chmod 600")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.key"), []byte("not a key"), 0o600))
	_, err = keys.Load(filepath.Join(dir, "bad.key"))
	require.ErrorContains(t, err, "no PEM PRIVATE KEY")
}
