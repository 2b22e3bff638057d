package mfrc522sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCollideFault: noise the chip takes for a bit collision in a single
// card's SAK: ErrorReg.CollErr and CollReg.CollPos at the middle bit (13
// of 24), as two cards answering would give.
func TestCollideFault(t *testing.T) {
	s := New(Options{AnswerAtOnce: true})
	antennaOn(t, s)
	uid := []byte{0x11, 0x22, 0x33, 0x44}
	card, err := s.Present(NewCard(uid, MifareClassic1K))
	require.NoError(t, err)
	card.Inject(Fault{Kind: Collide, On: Select})
	transceive(t, s, []byte{0x26}, 7, 0)
	fifo(t, s)
	transceive(t, s, appendCRCA([]byte{0x93, 0x70, 0x11, 0x22, 0x33, 0x44, 0x11 ^ 0x22 ^ 0x33 ^ 0x44}), 0, 0)
	assert.Equal(t, byte(errColl), rd1(t, s, regError)&errColl)
	assert.Equal(t, byte(13), rd1(t, s, regColl)&0x3F, "CollPos valid, at bit 13")
	assert.Len(t, fifo(t, s), 3)
	assert.Equal(t, Active, card.State(), "the card took the SELECT")
}

// TestAnticollisionWholeLevel: an ANTICOLLISION frame carrying all 32 bits
// of a cascade level (NVB 60h) is answered with the BCC alone by the card
// with that level, and by no other; the card stays READY.
func TestAnticollisionWholeLevel(t *testing.T) {
	s := New(Options{AnswerAtOnce: true})
	antennaOn(t, s)
	card, err := s.Present(NewCard([]byte{0x11, 0x22, 0x33, 0x44}, MifareClassic1K))
	require.NoError(t, err)
	transceive(t, s, []byte{0x26}, 7, 0)
	fifo(t, s)
	transceive(t, s, []byte{0x93, 0x60, 0x11, 0x22, 0x33, 0x45}, 0, 0)
	assert.Empty(t, fifo(t, s), "another UID: silence")
	assert.Equal(t, Ready, card.State())
	transceive(t, s, []byte{0x93, 0x60, 0x11, 0x22, 0x33, 0x44}, 0, 0)
	assert.Equal(t, []byte{0x11 ^ 0x22 ^ 0x33 ^ 0x44}, fifo(t, s))
	assert.Zero(t, rd1(t, s, regError))
	assert.Equal(t, Ready, card.State())
}

// TestFieldResetWakesCards: switching the antenna off and on powers every
// card down and up again into IDLE, whatever its state (HALT here).
func TestFieldResetWakesCards(t *testing.T) {
	s := New(Options{AnswerAtOnce: true})
	antennaOn(t, s)
	card, err := s.Present(NewCard([]byte{0x11, 0x22, 0x33, 0x44}, MifareClassic1K))
	require.NoError(t, err)
	transceive(t, s, []byte{0x26}, 7, 0)
	fifo(t, s)
	transceive(t, s, appendCRCA([]byte{0x93, 0x70, 0x11, 0x22, 0x33, 0x44, 0x11 ^ 0x22 ^ 0x33 ^ 0x44}), 0, 0)
	fifo(t, s)
	transceive(t, s, appendCRCA([]byte{0x50, 0x00}), 0, 0)
	require.Equal(t, Halt, card.State())
	wr(t, s, regTxControl, 0x80)
	assert.Equal(t, PowerOff, card.State())
	wr(t, s, regTxControl, 0x83)
	assert.Equal(t, Idle, card.State())
	transceive(t, s, []byte{0x26}, 7, 0)
	assert.Equal(t, []byte{0x04, 0x00}, fifo(t, s), "REQA answered again")
}
