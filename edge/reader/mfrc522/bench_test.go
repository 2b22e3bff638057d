package mfrc522_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	periph "periph.io/x/devices/v3/mfrc522"

	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// BenchmarkReadUID reads one card per iteration with this driver ("swc"),
// with this driver on a connection without TxPackets ("swc-tx": its
// fallback of one Tx per register access, as on periph's bit-banged SPI) and
// with periph.io/x/devices/v3/mfrc522 v3.7.4 ("periph"), both on the
// simulator, and reports per read:
//
//   - spi-tx/op: SPI transactions (chip-select frames),
//   - spi-calls/op: Tx/TxPackets calls (ioctls on a Pi),
//   - spi-bytes/op: bytes on the bus,
//   - model-us/op (frame-times only): the modelled time of the read on a Pi
//     (virtual time inside the read call: SPI at 10 MHz with 20 µs per
//     call, ISO 14443 frame times, 60 µs of latency per host sleep), reads
//     50 ms apart.
//
// "at-once" has the card answer as soon as asked (the condition of the
// issue's targets and of the reference counts; no air time, so no modelled
// time is reported); "frame-times" has it answer after the ISO 14443 frame
// times, so a driver that polls the chip pays for each poll. The swc read includes HLTA; periph's includes its re-init.
// periph cannot read 10-byte UIDs (see TestPeriphTenByteUID).
func BenchmarkReadUID(b *testing.B) {
	sizes := []struct {
		name string
		uid  []byte
	}{{"4byte", uid4()}, {"7byte", uid7()}, {"10byte", uid10()}}
	timings := []struct {
		name string
		once bool
	}{{"at-once", true}, {"frame-times", false}}
	for _, size := range sizes {
		for _, timing := range timings {
			b.Run(size.name+"/swc/"+timing.name, func(b *testing.B) {
				r := newRig(b, mfrc522sim.Options{AnswerAtOnce: timing.once}, mfrc522.Options{})
				r.present(b, size.uid, mfrc522sim.MifareClassic1K)
				require.NoError(b, r.dev.Init(context.Background()))
				benchReads(b, r.sim, !timing.once, func() []byte {
					c, err := r.dev.ReadCard(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					return c.UID
				}, size.uid)
			})
			b.Run(size.name+"/swc-tx/"+timing.name, func(b *testing.B) {
				// The fallback path: a connection without TxPackets, as
				// periph's bit-banged SPI.
				sim := mfrc522sim.New(mfrc522sim.Options{AnswerAtOnce: timing.once})
				dev, err := mfrc522.New(&noPackets{Sim: sim, err: errors.New("bitbang-spi: not implemented")}, &mfrc522.Options{Clock: sim})
				require.NoError(b, err)
				b.Cleanup(func() { _ = dev.Close() })
				_, err = sim.Present(mfrc522sim.NewCard(size.uid, mfrc522sim.MifareClassic1K))
				require.NoError(b, err)
				require.NoError(b, dev.Init(context.Background()))
				benchReads(b, sim, !timing.once, func() []byte {
					c, err := dev.ReadCard(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					return c.UID
				}, size.uid)
			})
			if len(size.uid) == 10 {
				continue
			}
			b.Run(size.name+"/periph/"+timing.name, func(b *testing.B) {
				sim := mfrc522sim.New(mfrc522sim.Options{AnswerAtOnce: timing.once})
				_, err := sim.Present(mfrc522sim.NewCard(size.uid, mfrc522sim.MifareClassic1K))
				require.NoError(b, err)
				dev, err := periph.NewSPI(sim, sim.ResetPin(), sim.IRQ())
				require.NoError(b, err)
				benchReads(b, sim, !timing.once, func() []byte {
					uid, err := dev.ReadUID(5 * time.Second)
					if err != nil {
						b.Fatal(err)
					}
					return uid
				}, size.uid)
			})
		}
	}
}

func benchReads(b *testing.B, sim *mfrc522sim.Sim, modelTime bool, read func() []byte, want []byte) {
	if got := read(); !assert.Equal(b, want, got) { // warm up: first read, checked
		b.FailNow()
	}
	sim.Advance(50 * time.Millisecond)
	c0 := sim.Counters()
	var inside time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := sim.Elapsed()
		read()
		inside += sim.Elapsed() - t0
		sim.Advance(50 * time.Millisecond)
	}
	b.StopTimer()
	c1 := sim.Counters()
	n := float64(b.N)
	b.ReportMetric(float64(c1.Frames-c0.Frames)/n, "spi-tx/op")
	b.ReportMetric(float64(c1.Calls-c0.Calls)/n, "spi-calls/op")
	b.ReportMetric(float64(c1.Bytes-c0.Bytes)/n, "spi-bytes/op")
	if modelTime {
		b.ReportMetric(float64(inside.Microseconds())/n, "model-us/op")
	}
}

// TestPeriphLeaves7ByteCardUnselected records how periph's driver leaves a
// card after ReadUID: a 4-byte card selected (ACTIVE), a 7-byte card only
// through its CL2 anticollision (READY, never selected), where this driver
// selects both and halts them.
func TestPeriphLeaves7ByteCardUnselected(t *testing.T) {
	for _, tt := range []struct {
		uid      []byte
		periph   mfrc522sim.CardState
		selected int
	}{
		{uid4(), mfrc522sim.Active, 1},
		{uid7(), mfrc522sim.Ready, 0},
	} {
		sim := mfrc522sim.New(mfrc522sim.Options{})
		card, err := sim.Present(mfrc522sim.NewCard(tt.uid, mfrc522sim.MifareUltralight))
		require.NoError(t, err)
		dev, err := periph.NewSPI(sim, sim.ResetPin(), sim.IRQ())
		require.NoError(t, err)
		got, err := dev.ReadUID(5 * time.Second)
		require.NoError(t, err)
		assert.Equal(t, tt.uid, got)
		sim.Advance(time.Millisecond)
		assert.Equal(t, tt.periph, card.State(), "periph leaves the %d-byte card %s", len(tt.uid), card.State())
		assert.Equal(t, tt.selected, card.Selects())

		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		card = r.present(t, tt.uid, mfrc522sim.MifareUltralight)
		_, err = r.dev.ReadCard(context.Background())
		require.NoError(t, err)
		r.sim.Advance(time.Millisecond)
		assert.Equal(t, mfrc522sim.Halt, card.State())
		assert.Equal(t, 1, card.Selects())
	}
}

// TestPeriphTenByteUID records that periph's driver, which walks at most two
// cascade levels and decides by the CT byte instead of SAK, does not return a
// 10-byte UID.
func TestPeriphTenByteUID(t *testing.T) {
	sim := mfrc522sim.New(mfrc522sim.Options{})
	_, err := sim.Present(mfrc522sim.NewCard(uid10(), mfrc522sim.MifareClassic1K))
	require.NoError(t, err)
	dev, err := periph.NewSPI(sim, sim.ResetPin(), sim.IRQ())
	require.NoError(t, err)
	got, err := dev.ReadUID(5 * time.Second)
	if err == nil {
		assert.NotEqual(t, uid10(), got, "periph returned % X", got)
	}
}
