package mfrc522_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// TestISODEPSPITransactions counts the SPI transactions of a secure tap's
// reader part, the card answering at once as in the UID counts:
//
//   - Next reads the ISO 14443-4 card in the UID read's 20, 30 or 40
//     transactions less the HLTA's 3 (deferred: the card stays selected for
//     OpenISODEP): 17, 27, 37;
//   - OpenISODEP then sends RATS alone: 7 (3 writes, 2 TReload writes for
//     the activation timer, the status read, the FIFO burst), whatever the
//     UID's length;
//   - one short APDU: 7 (the TReload writes for the card's FWT); with the
//     ISO 14443 frame times the 7-byte echo answer, longer than the status
//     word the driver expects, costs 2 status reads more;
//   - Close, S(DESELECT): 7 (the timer back to the activation time).
//
// So RATS + one short APDU + S(DESELECT) is 21 (23 with frame times). A
// UID-only tap after a session keeps its 20 (the TReload writes that
// restore the default timer take the place of Idle and Transceive, the chip
// being still in Transceive). A card halted before OpenISODEP (read by
// ReadCard) is woken first: WUPA 7 and SELECT 5 per cascade level.
func TestISODEPSPITransactions(t *testing.T) {
	tests := []struct {
		uid        []byte
		next, wake int64
	}{
		{uid4(), 17, 12},
		{uid7(), 27, 17},
		{uid10(), 37, 22},
	}
	const rats, apdu, deselect = 7, 7, 7
	for _, tt := range tests {
		for _, once := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d-byte/at-once=%v", len(tt.uid), once), func(t *testing.T) {
				r := newRig(t, mfrc522sim.Options{AnswerAtOnce: once}, mfrc522.Options{})
				other := []byte{0x11, 0x22, 0x33, 0x44}
				c := r.present(t, other, mfrc522sim.MifareClassic1K)
				_, err := r.dev.Next(ctx(t, time.Second)) // the steady state of a door
				require.NoError(t, err)
				r.sim.Remove(c)
				r.sim.Advance(50 * time.Millisecond)
				card := r.isoCard(t, tt.uid, &mfrc522sim.ISODEP{App: echoApp{}})

				c0 := r.sim.Counters()
				got, err := r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err)
				c1 := r.sim.Counters()
				s, err := r.dev.OpenISODEP(context.Background(), got)
				require.NoError(t, err)
				c2 := r.sim.Counters()
				resp, err := s.Transceive(context.Background(), []byte{0x90, 0x60, 0x00, 0x00, 0x00})
				require.NoError(t, err)
				assert.Equal(t, []byte{0x90, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00}, resp)
				c3 := r.sim.Counters()
				require.NoError(t, s.Close())
				c4 := r.sim.Counters()
				wantAPDU := int64(apdu)
				if !once {
					wantAPDU += 2
				}
				assert.Equal(t, tt.next, c1.Sub(c0).Frames, "Next")
				assert.Equal(t, int64(rats), c2.Sub(c1).Frames, "OpenISODEP after Next: RATS")
				assert.Equal(t, wantAPDU, c3.Sub(c2).Frames, "one short APDU")
				assert.Equal(t, int64(deselect), c4.Sub(c3).Frames, "Close")
				assert.Equal(t, rats+wantAPDU+deselect, c4.Sub(c1).Frames, "RATS + one short APDU + DESELECT")
				assert.Zero(t, c4.Violations)

				// A card woken from HALT first.
				rc, err := r.dev.ReadCard(context.Background())
				require.NoError(t, err)
				c5 := r.sim.Counters()
				s, err = r.dev.OpenISODEP(context.Background(), rc)
				require.NoError(t, err)
				assert.Equal(t, tt.wake+rats, r.sim.Counters().Sub(c5).Frames, "OpenISODEP of a halted card: WUPA, SELECTs, RATS")
				require.NoError(t, s.Close())

				// The next UID-only tap.
				r.sim.Remove(card)
				r.present(t, []byte{0x55, 0x66, 0x77, 0x88}, mfrc522sim.MifareClassic1K)
				c6 := r.sim.Counters()
				_, err = r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err)
				assert.Equal(t, int64(20), r.sim.Counters().Sub(c6).Frames, "a UID-only tap after a session")
			})
		}
	}
}

// BenchmarkISODEP runs an ISO/IEC 14443-4 session per iteration with a
// 7-byte MIFARE DESFire-like card (ATS 06 75 77 81 02 80: FSC 64, FWI 8,
// SFGI 1) just read by Next (so still selected), answering after the ISO
// 14443 frame times and without processing time of its own (an echo
// application):
//
//   - RATS: OpenISODEP (RATS, the SFGT) and Close (S(DESELECT));
//   - short-APDU: the same with one 5-byte APDU (a 7-byte answer);
//   - chained-256: the same with one 256-byte APDU, answered with 258 bytes:
//     chained both ways, 5 blocks each way at the FIFO's 64 bytes a frame.
//
// It reports spi-tx/op (SPI transactions), spi-calls/op (ioctls) and
// modelled-ms/op, mfrc522sim.PiZeroTime of the work counted: SPI at 4 MHz
// with 20 µs per transaction, frames at 106 kbit/s with parity, start and
// end bits, the card's frame delay times. The SFGT (0.6 ms of host sleep)
// is in no term of the model; see PiZeroTime for what else it leaves out.
func BenchmarkISODEP(b *testing.B) {
	for _, bc := range []struct {
		name string
		apdu []byte
	}{{"RATS", nil}, {"short-APDU", []byte{0x90, 0x60, 0x00, 0x00, 0x00}}, {"chained-256", pattern(256)}} {
		b.Run(bc.name, func(b *testing.B) {
			r := newRig(b, mfrc522sim.Options{}, mfrc522.Options{})
			var work mfrc522sim.Counters
			taps := 0
			session := func() {
				b.StopTimer()
				taps++ // a new badge each time, so that each is a tap
				c := r.isoCard(b, []byte{0x04, 0x8E, 0x21, 0x6A, byte(taps >> 16), byte(taps >> 8), byte(taps)}, &mfrc522sim.ISODEP{App: echoApp{}})
				card, err := r.dev.Next(ctx(b, time.Second))
				if err != nil {
					b.Fatal(err)
				}
				before := r.sim.Counters()
				b.StartTimer()
				s, err := r.dev.OpenISODEP(context.Background(), card)
				if err != nil {
					b.Fatal(err)
				}
				if bc.apdu != nil {
					resp, err := s.Transceive(context.Background(), bc.apdu)
					if err != nil || len(resp) != len(bc.apdu)+2 {
						b.Fatalf("% X, %v", resp, err)
					}
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				work = addCounters(work, r.sim.Counters().Sub(before))
				r.sim.Remove(c)
				r.sim.Advance(50 * time.Millisecond)
				b.StartTimer()
			}
			session() // warm up: the timer settings of a session
			work = mfrc522sim.Counters{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				session()
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(work.Frames)/n, "spi-tx/op")
			b.ReportMetric(float64(work.Calls)/n, "spi-calls/op")
			b.ReportMetric(float64(mfrc522sim.PiZeroTime(work))/1e6/n, "modelled-ms/op")
		})
	}
}

// addCounters sums the counts of two readings' differences.
func addCounters(a, b mfrc522sim.Counters) mfrc522sim.Counters {
	var zero mfrc522sim.Counters
	neg := zero.Sub(b)
	return a.Sub(neg)
}

// The session's shape the door agent will use through the reader
// abstraction (see the package doc).
var _ interface {
	Transceive(ctx context.Context, apdu []byte) ([]byte, error)
	Close() error
	Card() reader.Card
} = (*mfrc522.Session)(nil)
