package mfrc522_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// TestFirstPollAfterCardError: a card error leaves the card in READY or
// ACTIVE, where it ignores the next REQA (and WUPA) and falls back to IDLE.
// The driver resets the card state after a card error, so the very first
// poll of the next Next reads the card: with an hour between polls, a
// missed request would leave Next waiting. The same holds with a halted card
// resting on the reader, and for ReadCard (WUPA). (Issue 14, item 15.)
func TestFirstPollAfterCardError(t *testing.T) {
	tests := []struct {
		name  string
		uid   []byte
		fault mfrc522sim.Fault
		kind  error
	}{
		{"noise in ATQA", uid4(), mfrc522sim.Fault{Kind: mfrc522sim.Noise, On: mfrc522sim.Request}, mfrc522.ErrProtocol},
		{"noise in anticollision", uid7(), mfrc522sim.Fault{Kind: mfrc522sim.Noise, On: mfrc522sim.Anticollision, Level: 2}, mfrc522.ErrProtocol},
		{"BCC wrong in CL1", uid4(), mfrc522sim.Fault{Kind: mfrc522sim.SilentNoise, On: mfrc522sim.Anticollision}, mfrc522.ErrBCC},
		{"SAK of CL1 lost, 7-byte (card READY at CL2)", uid7(), mfrc522sim.Fault{Kind: mfrc522sim.NoAnswer, On: mfrc522sim.Select, Level: 1}, mfrc522.ErrTimeout},
		{"SAK lost, 4-byte (card ACTIVE)", uid4(), mfrc522sim.Fault{Kind: mfrc522sim.NoAnswer, On: mfrc522sim.Select}, mfrc522.ErrTimeout},
		{"SAK CRC wrong, 10-byte (card ACTIVE)", uid10(), mfrc522sim.Fault{Kind: mfrc522sim.BadCRC, On: mfrc522sim.Select, Level: 3}, mfrc522.ErrCRC},
		{"noise seen as a collision in the SAK (card ACTIVE)", uid4(), mfrc522sim.Fault{Kind: mfrc522sim.Collide, On: mfrc522sim.Select}, mfrc522.ErrCollision},
		{"card pulled during its SAK", uid7(), mfrc522sim.Fault{Kind: mfrc522sim.Pulled, On: mfrc522sim.Select, Level: 2}, mfrc522.ErrProtocol},
	}
	for _, resting := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if resting {
				name += "/with a halted card resting"
			}
			t.Run(name, func(t *testing.T) {
				r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{PollInterval: time.Hour})
				var rest *mfrc522sim.Card
				if resting {
					rest = r.present(t, []byte{0x11, 0x22, 0x33, 0x44}, mfrc522sim.MifareClassic1K)
					_, err := r.dev.Next(ctx(t, time.Second))
					require.NoError(t, err)
				}
				card := r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
				card.Inject(tt.fault)
				_, err := r.dev.Next(ctx(t, time.Second))
				require.ErrorIs(t, err, tt.kind)
				require.ErrorIs(t, err, reader.ErrCard, "a card error, not a reader fault")
				require.NotErrorIs(t, err, mfrc522.ErrChipNotResponding)
				if tt.fault.Kind == mfrc522sim.Pulled {
					// The card left: nothing to read until it comes back.
					_, err = r.dev.Next(ctx(t, 20*time.Millisecond))
					require.ErrorIs(t, err, mfrc522.ErrTimeout)
					card = r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
				}
				got, err := r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err, "the first poll after the card error reads the card")
				assert.Equal(t, tt.uid, got.UID)
				r.sim.Advance(time.Millisecond) // HLTA on the air
				assert.Equal(t, mfrc522sim.Halt, card.State())
				_, err = r.dev.Next(ctx(t, 20*time.Millisecond))
				require.ErrorIs(t, err, mfrc522.ErrTimeout, "and once only")

				// ReadCard after a card error in ReadCard (WUPA would wake
				// the resting card too, and read either).
				if rest != nil {
					r.sim.Remove(rest)
				}
				card.Inject(tt.fault)
				_, err = r.dev.ReadCard(context.Background())
				require.ErrorIs(t, err, tt.kind)
				if tt.fault.Kind == mfrc522sim.Pulled {
					card = r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
				}
				got, err = r.dev.ReadCard(context.Background())
				require.NoError(t, err, "the next WUPA wakes the card")
				assert.Equal(t, tt.uid, got.UID)
				r.sim.Advance(time.Millisecond) // HLTA on the air
				assert.Equal(t, mfrc522sim.Halt, card.State())
				assert.Zero(t, r.sim.Counters().Violations)
			})
		}
	}
}

// TestReaderFaultsAreNotCardErrors: a chip that does not answer, a wrong
// VersionReg and the caller's deadline are not card errors.
func TestReaderFaultsAreNotCardErrors(t *testing.T) {
	for _, fault := range []mfrc522sim.ChipFault{mfrc522sim.BusStuckLow, mfrc522sim.BusStuckHigh, mfrc522sim.ChipHung} {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		r.present(t, uid4(), mfrc522sim.MifareClassic1K)
		require.NoError(t, r.dev.Init(context.Background()))
		r.sim.SetChipFault(fault)
		_, err := r.dev.Next(ctx(t, time.Second))
		require.ErrorIs(t, err, mfrc522.ErrChipNotResponding, "%s", fault)
		require.NotErrorIs(t, err, reader.ErrCard, "%s", fault)
	}
	r := newRig(t, mfrc522sim.Options{Version: 0x37}, mfrc522.Options{})
	_, err := r.dev.Next(ctx(t, time.Second))
	require.ErrorIs(t, err, mfrc522.ErrUnknownChip)
	require.NotErrorIs(t, err, reader.ErrCard)

	r = newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
	_, err = r.dev.Next(ctx(t, 10*time.Millisecond))
	require.ErrorIs(t, err, mfrc522.ErrTimeout)
	require.NotErrorIs(t, err, reader.ErrCard, "the caller's deadline")
}
