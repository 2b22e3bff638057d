package store

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestHeldOpenKeptWithTheWhitelist: the held-open threshold of a snapshot
// and of each delta is stored with the whitelist header (a restart keeps
// it), and a message without it leaves none (the door's own value).
func TestHeldOpenKeptWithTheWhitelist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	s, err := Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	parts := snapshotParts(1, entries(3), 2)
	for _, p := range parts {
		p.HeldOpenS = 5
	}
	applyAll(t, s, parts)
	heldOpen := func(s *Store) time.Duration {
		t.Helper()
		wi, err := s.Whitelist(ctx)
		require.NoError(t, err)
		return wi.HeldOpen
	}
	assert.Equal(t, 5*time.Second, heldOpen(s))

	delta := func(v uint64, held int) *protocol.Whitelist {
		return &protocol.Whitelist{V: protocol.Version, Door: testDoor, Kind: protocol.Delta, Version: v, Base: v - 1,
			IssuedMs: t0.UnixMilli(), ExpiresMs: t0.Add(time.Hour).UnixMilli(), HeldOpenS: held}
	}
	_, err = s.ApplyDelta(ctx, delta(2, 90))
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, heldOpen(s))

	require.NoError(t, s.Close())
	s, err = Open(context.Background(), path, Options{Door: testDoor})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	assert.Equal(t, 90*time.Second, heldOpen(s), "kept across a restart")
	wi, err := s.Whitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), wi.Badges)
	assert.Equal(t, "c-1", wi.Center, "the rest of the header is intact")

	_, err = s.ApplyDelta(ctx, delta(3, 0))
	require.NoError(t, err)
	assert.Zero(t, heldOpen(s), "a message without the threshold: the door's own")
}

// TestHeaderEncoding: headers round-trip with and without the optional
// trailing fields (a header written before them is the first case); an encoded
// threshold out of the protocol's bounds is corrupt.
func TestHeaderEncoding(t *testing.T) {
	base := header{Version: 7, IssuedMs: t0.UnixMilli(), ExpiresMs: t0.Add(time.Hour).UnixMilli(), Badges: 3, Center: "c-1", Room: "r-1"}
	for _, h := range []header{
		base,
		func() header { h := base; h.RequireSecure = true; return h }(),
		func() header { h := base; h.HeldOpenS = 5; return h }(),
		func() header { h := base; h.RequireSecure, h.HeldOpenS = true, protocol.MaxHeldOpenSeconds; return h }(),
	} {
		got, err := decodeHeader(h.encode())
		require.NoError(t, err)
		assert.Equal(t, h, got)
	}
	plain := base.encode()
	for _, bad := range []uint64{0, protocol.MaxHeldOpenSeconds + 1} {
		b := append(append([]byte(nil), plain...), 0)
		b = binary.AppendUvarint(b, bad)
		_, err := decodeHeader(b)
		assert.Error(t, err, bad)
	}
}

// TestEmptySnapshot: a snapshot without entries (a door nobody may open
// yet) is applied, with its header.
func TestEmptySnapshot(t *testing.T) {
	s := openTest(t, Options{})
	parts := snapshotParts(1, nil, 1)
	parts[0].HeldOpenS = 5
	res := applyAll(t, s, parts)
	assert.True(t, res.Applied)
	wi, err := s.Whitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), wi.Version)
	assert.Zero(t, wi.Badges)
	assert.Equal(t, 5*time.Second, wi.HeldOpen)
}
