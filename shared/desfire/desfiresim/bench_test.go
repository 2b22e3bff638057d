package desfiresim

import (
	"context"
	"fmt"
	"testing"

	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/stretchr/testify/require"
)

// repeatReader returns the same bytes forever: fixed RndA, RndB and TI, so a
// recorded exchange can be replayed to the host byte for byte.
type repeatReader struct{ b byte }

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b + byte(i)
	}
	return len(p), nil
}

// replay answers with recorded responses, in order.
type replay struct {
	resp [][]byte
	n    int
}

func (r *replay) Transceive(_ context.Context, _ []byte) ([]byte, error) {
	if r.n >= len(r.resp) {
		return nil, fmt.Errorf("replay: no more responses")
	}
	r.n++
	return r.resp[r.n-1], nil
}

type recorder2 struct {
	card *Card
	resp [][]byte
}

func (r *recorder2) Transceive(_ context.Context, apdu []byte) ([]byte, error) {
	out := r.card.Transceive(apdu)
	r.resp = append(r.resp, out)
	return out, nil
}

func doorTapDESFire(ctx context.Context, h *desfire.Card, doorKey []byte) error {
	if err := h.SelectApplication(ctx, swcAID); err != nil {
		return err
	}
	return h.AuthenticateEV2First(ctx, 1, doorKey)
}

// BenchmarkDoorAuthentication is the door's CPU time for one secure tap's
// application layer (no radio, no SPI): on NTAG 424 DNA select, unauthenticated
// NDEF read, AuthenticateEV2First and the SDM counter read in full mode; on
// DESFire EV2 select and AuthenticateEV2First. "door" replays the card's
// recorded answers, so only the host's work is measured; "door+card" includes
// the simulated card's work.
func BenchmarkDoorAuthentication(b *testing.B) {
	ctx := context.Background()
	uid := uids["uid7"]
	ntagKeys := make([]Key, 5)
	for i := range ntagKeys {
		ntagKeys[i] = Key{Value: [16]byte(cardKey(b, masterV1, uid, NTAG424App, byte(i))), Version: 1}
	}
	dk := Key{Value: [16]byte(cardKey(b, masterV1, uid, swcAID, 1)), Version: 1}
	newNTAG := func() *Card {
		c, err := NewNTAG424(uid, Options{Keys: ntagKeys, SDMEnabled: true, SDMCtrRetKey: 1, Rand: repeatReader{0x40}})
		require.NoError(b, err)
		return c
	}
	newEV2 := func() *Card {
		c, err := NewDESFireEV2(uid, Options{Rand: repeatReader{0x40}, Apps: []App{{AID: swcAID, KeySettings: 0x09, Keys: []Key{{}, dk}}}})
		require.NoError(b, err)
		return c
	}
	tapNTAG := func(h *desfire.Card) error { _, err := doorTapNTAG424(ctx, h, ntagKeys[1].Value[:]); return err }
	tapEV2 := func(h *desfire.Card) error { return doorTapDESFire(ctx, h, dk.Value[:]) }
	for _, tc := range []struct {
		name    string
		newCard func() *Card
		tap     func(*desfire.Card) error
	}{
		{"NTAG424DNA", newNTAG, tapNTAG},
		{"DESFireEV2", newEV2, tapEV2},
	} {
		rec := &recorder2{card: tc.newCard()}
		require.NoError(b, tc.tap(desfire.New(rec, repeatReader{0x10})))
		b.Run(tc.name+"/door", func(b *testing.B) {
			b.ReportAllocs()
			r := &replay{resp: rec.resp}
			for b.Loop() {
				r.n = 0
				if err := tc.tap(desfire.New(r, repeatReader{0x10})); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(rec.resp)), "apdus/op")
		})
		b.Run(tc.name+"/door+card", func(b *testing.B) {
			b.ReportAllocs()
			card := tc.newCard()
			l := &link{card: card}
			for b.Loop() {
				if err := tc.tap(desfire.New(l, repeatReader{0x10})); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
