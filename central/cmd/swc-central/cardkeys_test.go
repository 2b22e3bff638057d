package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/cardkeys"
)

func TestCardKeysRotate(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	var out, errOut bytes.Buffer
	require.Equal(t, 0, cardKeysCmd([]string{"list", "--data", dir}, &out, &errOut, now), errOut.String())
	assert.Contains(t, out.String(), "created card master key version 1")
	assert.Contains(t, out.String(), "version 1  created 2026-12-07T09:00:00Z  current")
	key, err := os.ReadFile(filepath.Join(dir, cardkeys.FileName))
	require.NoError(t, err)

	out.Reset()
	require.Equal(t, 0, cardKeysCmd([]string{"rotate", "--data", dir, "--old-valid-for", "240h"}, &out, &errOut, now.Add(time.Hour)), errOut.String())
	assert.Contains(t, out.String(), "version 2 is current; version 1 is accepted until 2026-12-17T10:00:00Z")
	assert.Contains(t, out.String(), "version 2  created 2026-12-07T10:00:00Z  current")
	var f struct{ Versions []struct{ Key string } }
	require.NoError(t, json.Unmarshal(key, &f))
	require.Len(t, f.Versions, 1)
	assert.NotContains(t, out.String(), f.Versions[0].Key, "the master key is never printed")
	ring, err := cardkeys.Load(filepath.Join(dir, cardkeys.FileName))
	require.NoError(t, err)
	assert.Equal(t, uint8(2), ring.Current())

	assert.Equal(t, 2, cardKeysCmd([]string{"rotate", "--data", dir, "--old-valid-for", "1m"}, &out, &errOut, now))
	assert.Equal(t, 2, cardKeysCmd([]string{"burn"}, &out, &errOut, now))
}
