package mfrc522_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/spi"

	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// noPackets is an spi.Conn without TxPackets, as periph's bit-banged SPI
// (periph.io/x/devices/v3/bitbang: errors.New("bitbang-spi: not
// implemented")) and its spitest connections (conntest.Errorf("spitest:
// TxPackets is not implemented")) are: every Tx goes to the simulator.
type noPackets struct {
	*mfrc522sim.Sim
	err     error
	packets int // TxPackets calls refused
}

func (c *noPackets) TxPackets([]spi.Packet) error {
	c.packets++
	return c.err
}

// TestTxFallback: on a connection whose TxPackets answers "not
// implemented", Init detects it and the driver sends one Tx per register
// access: Init and UID reads work, with as many chip-select frames as on the
// packet path. (Issue 14, item 14: Init failed with ErrChipNotResponding.)
func TestTxFallback(t *testing.T) {
	for _, refusal := range []error{
		errors.New("bitbang-spi: not implemented"),
		errors.New("spitest: TxPackets is not implemented"),
	} {
		for _, tt := range []struct {
			uid    []byte
			frames int64 // the packet path's count, HLTA included (BenchmarkReadUID)
		}{{uid4(), 20}, {uid7(), 30}, {uid10(), 40}} {
			t.Run(fmt.Sprintf("%s/%d-byte", refusal, len(tt.uid)), func(t *testing.T) {
				sim := mfrc522sim.New(mfrc522sim.Options{AnswerAtOnce: true})
				conn := &noPackets{Sim: sim, err: refusal}
				dev, err := mfrc522.New(conn, &mfrc522.Options{Clock: sim, PollInterval: time.Millisecond})
				require.NoError(t, err)
				defer dev.Close()
				card, err := sim.Present(mfrc522sim.NewCard(tt.uid, mfrc522sim.MifareClassic1K))
				require.NoError(t, err)
				require.NoError(t, dev.Init(context.Background()))
				refused := conn.packets
				assert.Equal(t, 1, refused, "detected once, at Init")

				got, err := dev.ReadCard(context.Background())
				require.NoError(t, err)
				assert.Equal(t, tt.uid, got.UID)
				sim.Advance(time.Millisecond)
				assert.Equal(t, mfrc522sim.Halt, card.State())

				// Read by read: one Tx per register access, and the same
				// frames as the packet path.
				sim.Advance(50 * time.Millisecond)
				c0 := sim.Counters()
				got, err = dev.ReadCard(context.Background())
				require.NoError(t, err)
				assert.Equal(t, tt.uid, got.UID)
				c1 := sim.Counters()
				assert.Equal(t, tt.frames, c1.Frames-c0.Frames, "SPI transactions")
				assert.Equal(t, c1.Frames-c0.Frames, c1.Calls-c0.Calls, "one Tx per frame")
				assert.Equal(t, refused, conn.packets, "TxPackets not tried again")
				assert.Zero(t, c1.Violations)

				// Next: a new presentation is a tap.
				sim.Remove(card)
				_, err = dev.Next(simCtx(sim, 10*time.Millisecond))
				require.ErrorIs(t, err, mfrc522.ErrTimeout)
				_, err = sim.Present(mfrc522sim.NewCard(tt.uid, mfrc522sim.MifareClassic1K))
				require.NoError(t, err)
				got, err = dev.Next(ctx(t, time.Second))
				require.NoError(t, err)
				assert.Equal(t, tt.uid, got.UID)
			})
		}
	}
}

// TestTxFallbackReinit: a connection that refuses TxPackets and a chip that
// stops answering: the error is still ErrChipNotResponding, and once the
// chip answers again the driver re-initialises and reads on the Tx path.
func TestTxFallbackReinit(t *testing.T) {
	sim := mfrc522sim.New(mfrc522sim.Options{})
	conn := &noPackets{Sim: sim, err: errors.New("bitbang-spi: not implemented")}
	dev, err := mfrc522.New(conn, &mfrc522.Options{Clock: sim, PollInterval: time.Millisecond})
	require.NoError(t, err)
	defer dev.Close()
	_, err = sim.Present(mfrc522sim.NewCard(uid4(), mfrc522sim.MifareClassic1K))
	require.NoError(t, err)
	sim.SetChipFault(mfrc522sim.BusStuckHigh)
	err = dev.Init(context.Background())
	require.ErrorIs(t, err, mfrc522.ErrChipNotResponding)
	sim.SetChipFault(mfrc522sim.ChipOK)
	got, err := dev.Next(ctx(t, time.Second))
	require.NoError(t, err)
	assert.Equal(t, uid4(), got.UID)
	require.NoError(t, dev.SelfTest(context.Background()))
}
