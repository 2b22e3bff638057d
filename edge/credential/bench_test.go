package credential

import (
	"context"
	"testing"
	"time"

	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
)

// counting hands APDUs straight to a simulated card and counts them.
type counting struct {
	sim *desfiresim.Card
	n   int
}

func (c *counting) Transceive(_ context.Context, apdu []byte) ([]byte, error) {
	c.n++
	return c.sim.Transceive(apdu), nil
}

// BenchmarkAuthenticate is the door's side of one secure tap above the
// reader (card type, key version, authentication, NTAG 424 DNA counter) on
// a simulated card: APDUs per tap, and the CPU time of both sides (the
// simulated card's cryptography included, so an upper bound of the door's).
// The radio and SPI costs are in the reader driver's BenchmarkSecureTap
// (edge/reader/mfrc522), which runs Authenticate over the driver and its
// simulator.
func BenchmarkAuthenticate(b *testing.B) {
	for _, card := range cards {
		b.Run(string(card), func(b *testing.B) {
			uid := uids["uid7"]
			sim := factory(b, card, uid)
			keys := appKeys(b, masterV1, uid, card, 1)
			c := &counting{sim: sim}
			if _, err := Personalise(context.Background(), c, card, keys, nil, nil); err != nil {
				b.Fatal(err)
			}
			e := entryFor(uid, card, doorKey(keys, time.Time{}))
			c.n = 0
			taps := 0
			for b.Loop() {
				sim.Reset()
				if _, err := Authenticate(context.Background(), c, e, now, nil); err != nil {
					b.Fatal(err)
				}
				taps++
			}
			b.ReportMetric(float64(c.n)/float64(taps), "apdu/op")
		})
	}
}
