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

// TestISODEPSPITransactions counts the SPI transactions of a session with a
// card just read by Next and halted: OpenISODEP (WUPA 7, SELECT 5 per
// cascade level, RATS 7 with the two TReload writes of the activation
// timer), one short APDU (7: 3 writes, 2 TReload writes for the card's FWT,
// the status read and the FIFO burst) and Close (S(DESELECT) 7, the timer
// back to the activation time), the card answering at once as in the UID
// counts; with the ISO 14443 frame times the 7-byte echo answer, longer
// than the status word the driver expects, costs 2 status reads more. A
// UID-only tap after a session keeps its 20 transactions (the TReload
// writes that restore the default timer take the place of Idle and
// Transceive, the chip being still in Transceive).
func TestISODEPSPITransactions(t *testing.T) {
	tests := []struct {
		uid                []byte
		open, apdu, closed int64
	}{
		{uid4(), 19, 7, 7},
		{uid7(), 24, 7, 7},
		{uid10(), 29, 7, 7},
	}
	for _, tt := range tests {
		for _, once := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d-byte/at-once=%v", len(tt.uid), once), func(t *testing.T) {
				r := newRig(t, mfrc522sim.Options{AnswerAtOnce: once}, mfrc522.Options{})
				card := r.isoCard(t, tt.uid, &mfrc522sim.ISODEP{App: &echo{}})
				got, err := r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err)
				r.sim.Advance(50 * time.Millisecond)
				c0 := r.sim.Counters()
				s, err := r.dev.OpenISODEP(context.Background(), got)
				require.NoError(t, err)
				c1 := r.sim.Counters()
				resp, err := s.Transceive(context.Background(), []byte{0x90, 0x60, 0x00, 0x00, 0x00})
				require.NoError(t, err)
				assert.Equal(t, []byte{0x90, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00}, resp)
				c2 := r.sim.Counters()
				require.NoError(t, s.Close())
				c3 := r.sim.Counters()
				apdu := tt.apdu
				if !once {
					apdu += 2
				}
				assert.Equal(t, tt.open, c1.Sub(c0).Frames, "OpenISODEP")
				assert.Equal(t, apdu, c2.Sub(c1).Frames, "one short APDU")
				assert.Equal(t, tt.closed, c3.Sub(c2).Frames, "Close")
				assert.Equal(t, tt.open+apdu+tt.closed, c3.Sub(c0).Frames, "RATS + one short APDU + DESELECT")
				assert.Zero(t, c3.Violations)

				// The next UID-only tap.
				r.sim.Remove(card)
				r.present(t, []byte{0x11, 0x22, 0x33, 0x44}, mfrc522sim.MifareClassic1K)
				c4 := r.sim.Counters()
				_, err = r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err)
				assert.Equal(t, int64(20), r.sim.Counters().Sub(c4).Frames, "a UID-only tap after a session")
			})
		}
	}
}

// BenchmarkISODEP runs an ISO/IEC 14443-4 session per iteration with a
// 7-byte MIFARE DESFire-like card (ATS 06 75 77 81 02 80: FSC 64, FWI 8,
// SFGI 1) already read and halted, answering after the ISO 14443 frame
// times and without processing time of its own (an echo application):
//
//   - RATS: OpenISODEP (WUPA, SELECT CL1 and CL2, RATS, the SFGT) and Close
//     (S(DESELECT));
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
			r.isoCard(b, uid7(), &mfrc522sim.ISODEP{App: &echo{}})
			card, err := r.dev.Next(ctx(b, time.Second))
			require.NoError(b, err)
			session := func() {
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
			}
			session() // warm up: the timer settings of a session
			r.sim.Advance(50 * time.Millisecond)
			c0 := r.sim.Counters()
			var work mfrc522sim.Counters
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				before := r.sim.Counters()
				session()
				work = addCounters(work, r.sim.Counters().Sub(before))
				r.sim.Advance(50 * time.Millisecond)
			}
			b.StopTimer()
			c := r.sim.Counters().Sub(c0)
			n := float64(b.N)
			b.ReportMetric(float64(c.Frames)/n, "spi-tx/op")
			b.ReportMetric(float64(c.Calls)/n, "spi-calls/op")
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
