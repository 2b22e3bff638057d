package mfrc522_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// TestPresenceComparesWholeUIDs: two 7-byte cards share their first three
// UID bytes, so their first cascade level (CT, uid0..2, BCC) is the same.
// One rests on the reader; the other is taken away and presented again:
// that is a new tap, however long the first stays. (Issue 14, item 13: the
// presence check compared only cascade level 1 and dropped the second tap.)
func TestPresenceComparesWholeUIDs(t *testing.T) {
	for _, tt := range []struct {
		name         string
		resting, tap []byte
	}{
		{"7-byte, same CL1", []byte{0x04, 0x8E, 0x21, 0x6A, 0x5C, 0x3B, 0x80}, []byte{0x04, 0x8E, 0x21, 0x11, 0x22, 0x33, 0x44}},
		{"10-byte, same CL1 and CL2", uid10(), append(append([]byte(nil), uid10()[:9]...), 0x79)},
		{"7-byte resting, 10-byte tapped, same CL1", []byte{0x04, 0x27, 0x1D, 0x6A, 0x5C, 0x3B, 0x80}, uid10()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
			r.present(t, tt.resting, mfrc522sim.MifareUltralight)
			got, err := r.dev.Next(ctx(t, time.Second))
			require.NoError(t, err)
			require.Equal(t, tt.resting, got.UID)

			for i := 0; i < 3; i++ {
				tapped := r.present(t, tt.tap, mfrc522sim.MifareUltralight)
				got, err = r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err, "presentation %d of the second card", i+1)
				assert.Equal(t, tt.tap, got.UID)
				r.sim.Advance(time.Millisecond) // HLTA on the air
				assert.Equal(t, mfrc522sim.Halt, tapped.State())

				// While it lies there with the first: no second tap.
				_, err = r.dev.Next(ctx(t, 20*time.Millisecond))
				require.ErrorIs(t, err, mfrc522.ErrTimeout)
				r.sim.Remove(tapped)
				// Taken away: polls notice it left.
				_, err = r.dev.Next(ctx(t, 20*time.Millisecond))
				require.ErrorIs(t, err, mfrc522.ErrTimeout)
			}
			assert.Zero(t, r.sim.Counters().Violations)
		})
	}
}
