package store

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

const testDoor = "door-1"

var t0 = time.Date(2026, 5, 12, 8, 0, 0, 0, time.UTC)

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Door == "" {
		opts.Door = testDoor
	}
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "edge.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// uidN returns a distinct 7-byte UID for n.
func uidN(n int) protocol.UID {
	return protocol.UIDFromBytes([]byte{0x04, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 0xA0, 0x80})
}

// entries makes n entries with a booking around t0 each.
func entries(n int) []protocol.Entry {
	out := make([]protocol.Entry, n)
	for i := range out {
		out[i] = protocol.Entry{
			UID:    uidN(i),
			Member: fmt.Sprintf("m-%06d", i),
			Grants: []protocol.Grant{{Kind: protocol.GrantBooking, From: t0.Add(-time.Hour).Unix(), To: t0.Add(time.Hour).Unix(), Ref: fmt.Sprintf("b-%d", i)}},
		}
	}
	return out
}

func snapshotHeader(version uint64) protocol.Whitelist {
	return protocol.Whitelist{V: protocol.Version, Door: testDoor, Kind: protocol.Snapshot, Version: version, IssuedMs: t0.Add(-time.Minute).UnixMilli(), ExpiresMs: t0.Add(30 * 24 * time.Hour).UnixMilli(), Center: "c-1"}
}

// snapshotParts splits es into parts by hand (the signer splits by size).
func snapshotParts(version uint64, es []protocol.Entry, parts int) []*protocol.Whitelist {
	out := make([]*protocol.Whitelist, parts)
	per := (len(es) + parts - 1) / parts
	for p := range out {
		w := snapshotHeader(version)
		w.Part, w.Parts = p+1, parts
		lo, hi := min(p*per, len(es)), min((p+1)*per, len(es))
		w.Entries = es[lo:hi]
		out[p] = &w
	}
	return out
}

// signedSnapshot signs es with a fresh key and returns the verified parts,
// as the sync layer would hand them over.
func signedSnapshot(t testing.TB, version uint64, es []protocol.Entry) []*protocol.Whitelist {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	msgs, err := protocol.NewSigner(priv).SignSnapshot(snapshotHeader(version), es)
	require.NoError(t, err)
	ring := protocol.NewKeyRing(pub)
	out := make([]*protocol.Whitelist, len(msgs))
	for i, m := range msgs {
		w, err := ring.OpenWhitelist(m, t0)
		require.NoError(t, err)
		out[i] = w
	}
	return out
}

func applyAll(t testing.TB, s *Store, parts []*protocol.Whitelist) ApplyResult {
	t.Helper()
	var res ApplyResult
	for _, p := range parts {
		var err error
		res, err = s.StageSnapshot(context.Background(), p)
		require.NoError(t, err)
	}
	require.True(t, res.Applied)
	return res
}
