package agent

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// BenchmarkReceiveSnapshot is the whole intake of a signed 100,000-badge
// snapshot as the sync will do it: verify every part's signature against the
// pinned key, decode it strictly, stage it and apply the set, onto a door
// that holds 100,000 badges (the store's BenchmarkApplySnapshot leaves out
// verification and decoding). Target (PRODUCT.md 5, applying): ≤ 2 s.
func BenchmarkReceiveSnapshot(b *testing.B) {
	const badges = 100_000
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "edge.db"), store.Options{Door: "door-1"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	es := make([]protocol.Entry, badges)
	for i := range es {
		es[i] = protocol.Entry{UID: protocol.UIDFromBytes([]byte{4, byte(i >> 16), byte(i >> 8), byte(i), 1, 2, 3}), Member: fmt.Sprintf("m-%06d", i),
			Grants: []protocol.Grant{{Kind: protocol.GrantBooking, From: now.Unix(), To: now.Add(time.Hour).Unix(), Ref: fmt.Sprintf("bk-%d", i)}}}
	}
	signer, keys := protocol.NewSigner(priv), protocol.NewKeyRing(pub)
	sign := func(version uint64) [][]byte {
		msgs, err := signer.SignSnapshot(protocol.Whitelist{Door: "door-1", Version: version, IssuedMs: now.UnixMilli(), ExpiresMs: now.Add(time.Hour).UnixMilli()}, es)
		if err != nil {
			b.Fatal(err)
		}
		return msgs
	}
	receive := func(msgs [][]byte) {
		var res store.ApplyResult
		for _, m := range msgs {
			if res, _, err = ReceiveWhitelist(ctx, st, keys, "door-1", now, m); err != nil {
				b.Fatal(err)
			}
		}
		if !res.Applied {
			b.Fatal("not applied")
		}
	}
	receive(sign(1))
	version := uint64(1)
	var parts int
	var total time.Duration
	for b.Loop() {
		version++
		msgs := sign(version) // signing is the central's work: not timed
		parts = len(msgs)
		start := time.Now()
		receive(msgs)
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(version-1), "s/snapshot")
	b.ReportMetric(float64(parts), "parts")
}
