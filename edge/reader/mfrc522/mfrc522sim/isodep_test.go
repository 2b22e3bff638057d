package mfrc522sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type echoApp struct{}

func (echoApp) Transceive(apdu []byte) []byte {
	return append(append([]byte(nil), apdu...), 0x90, 0x00)
}

// block sends a frame with CRC_A and returns the answer without it.
func block(t *testing.T, s *Sim, data ...byte) []byte {
	t.Helper()
	transceive(t, s, appendCRCA(data), 0, 0)
	got := fifo(t, s)
	if len(got) == 0 {
		return nil
	}
	require.True(t, checkCRCA(got), "CRC_A of % X", got)
	return got[:len(got)-2]
}

// TestISODEPCard walks a simulated card through the PICC rules of ISO/IEC
// 14443-4 at register level.
func TestISODEPCard(t *testing.T) {
	s := New(Options{})
	antennaOn(t, s)
	uid := []byte{0x11, 0x22, 0x33, 0x44}
	spec := NewCard(uid, DESFire)
	spec.ISODEP = &ISODEP{App: echoApp{}, ATS: []byte{0x05, 0x70, 0x77, 0x81, 0x02}, Processing: 500 * time.Microsecond} // FSC 16
	card, err := s.Present(spec)
	require.NoError(t, err)
	transceive(t, s, []byte{0x26}, 7, 0)
	fifo(t, s)
	assert.Equal(t, []byte{0x20}, block(t, s, 0x93, 0x70, 0x11, 0x22, 0x33, 0x44, 0x11^0x22^0x33^0x44))
	require.Equal(t, Active, card.State())

	assert.Nil(t, block(t, s, 0x02, 0x01), "no I-block before RATS")
	// The I-block sent the card back to IDLE ("any other command"): select again.
	transceive(t, s, []byte{0x26}, 7, 0)
	fifo(t, s)
	block(t, s, 0x93, 0x70, 0x11, 0x22, 0x33, 0x44, 0x11^0x22^0x33^0x44)

	c0 := s.Counters()
	assert.Equal(t, []byte{0x05, 0x70, 0x77, 0x81, 0x02}, block(t, s, 0xE0, 0x20), "ATS (RATS with FSDI 2: 32 bytes)")
	assert.Nil(t, block(t, s, 0x50, 0x00), "HLTA is no block: ignored")
	assert.Equal(t, Active, card.State())

	assert.Equal(t, []byte{0x02, 0xAA, 0x90, 0x00}, block(t, s, 0x02, 0xAA), "I(0) answered with I(0) after the processing time")
	c1 := s.Counters()
	assert.GreaterOrEqual(t, c1.CardTime-c0.CardTime, 500*time.Microsecond)
	assert.Equal(t, []byte{0x02, 0xAA, 0x90, 0x00}, block(t, s, 0xB2), "R(NAK) with the card's number: the last block again")
	assert.Equal(t, []byte{0xA2}, block(t, s, 0xB3), "R(NAK) with the other number: R(ACK)")

	// A frame longer than the card's FSC of 16 bytes is not taken.
	assert.Nil(t, block(t, s, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14))
	// A command chained in: 20 bytes in blocks of at most 16 with PCB and CRC.
	assert.Equal(t, []byte{0xA3}, block(t, s, 0x13, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), "chained I(1): R(ACK)")
	// The answer, 22 bytes, fits in one block at the reader's FSD of 32.
	got := block(t, s, 0x02, 14, 15, 16, 17, 18, 19, 20)
	assert.Equal(t, append([]byte{0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 0x90, 0x00), got)

	// A response longer than the FSD chains: 40 bytes in blocks of 29 and 11.
	long := make([]byte, 38)
	require.Equal(t, []byte{0xA3}, block(t, s, append([]byte{0x13}, long[:13]...)...))
	require.Equal(t, []byte{0xA2}, block(t, s, append([]byte{0x12}, long[13:26]...)...))
	got = block(t, s, append([]byte{0x03}, long[26:]...)...)
	require.Len(t, got, 30)
	assert.Equal(t, byte(0x13), got[0], "I(1) with chaining")
	got = block(t, s, 0xA2)
	assert.Equal(t, byte(0x02), got[0], "R(ACK) with the other number: the next block, I(0), last")
	assert.Len(t, got, 1+40-29)
	assert.Equal(t, []byte{0x90, 0x00}, got[len(got)-2:])

	assert.Equal(t, []byte{0xC2}, block(t, s, 0xC2), "S(DESELECT)")
	assert.Equal(t, Halt, card.State())
	transceive(t, s, []byte{0x52}, 7, 0)
	assert.Equal(t, spec.ATQA[:], fifo(t, s), "woken from HALT by WUPA")
}

// TestISODEPWTXCard: a slow card asks for waiting time extensions first.
func TestISODEPWTXCard(t *testing.T) {
	s := New(Options{AnswerAtOnce: true})
	antennaOn(t, s)
	spec := NewCard([]byte{0x11, 0x22, 0x33, 0x44}, DESFire)
	spec.ISODEP = &ISODEP{App: echoApp{}, WTX: 2, WTXM: 5}
	_, err := s.Present(spec)
	require.NoError(t, err)
	transceive(t, s, []byte{0x26}, 7, 0)
	fifo(t, s)
	block(t, s, 0x93, 0x70, 0x11, 0x22, 0x33, 0x44, 0x11^0x22^0x33^0x44)
	assert.Equal(t, DESFireATS, block(t, s, 0xE0, 0x50))
	assert.Equal(t, []byte{0xF2, 0x05}, block(t, s, 0x02, 0x01))
	assert.Equal(t, []byte{0xF2, 0x05}, block(t, s, 0xF2, 0x05))
	assert.Equal(t, []byte{0x02, 0x01, 0x90, 0x00}, block(t, s, 0xF2, 0x05))
}

func TestPiZeroTime(t *testing.T) {
	c := Counters{Frames: 10, Bytes: 100, AirBits: 1000, CardTime: time.Millisecond}
	// 10 × 20 µs + 800 bits at 4 MHz + 1000 × 128/13.56 MHz + 1 ms.
	assert.InDelta(t, float64(200*time.Microsecond+200*time.Microsecond+9439528*time.Nanosecond+time.Millisecond), float64(PiZeroTime(c)), 1000)
	assert.Equal(t, c, c.Sub(Counters{}))
}

// TestISODEPTiming checks that ISODEP.Timing gives each command its own
// processing time, in place of Processing.
func TestISODEPTiming(t *testing.T) {
	s := New(Options{})
	antennaOn(t, s)
	uid := []byte{0x11, 0x22, 0x33, 0x44}
	spec := NewCard(uid, DESFire)
	spec.ISODEP = &ISODEP{App: echoApp{}, Processing: time.Second, Timing: func(apdu []byte) time.Duration {
		return time.Duration(apdu[0]) * time.Millisecond
	}}
	_, err := s.Present(spec)
	require.NoError(t, err)
	transceive(t, s, []byte{0x26}, 7, 0)
	fifo(t, s)
	block(t, s, 0x93, 0x70, 0x11, 0x22, 0x33, 0x44, 0x11^0x22^0x33^0x44)
	block(t, s, 0xE0, 0x50)
	for i, cmd := range []byte{1, 3} {
		c0 := s.Counters()
		assert.Equal(t, []byte{0x02 | byte(i), cmd, 0x90, 0x00}, block(t, s, 0x02|byte(i), cmd))
		spent := s.Counters().Sub(c0).CardTime
		assert.GreaterOrEqual(t, spent, time.Duration(cmd)*time.Millisecond, "command %d", cmd)
		assert.Less(t, spent, time.Duration(cmd)*time.Millisecond+time.Millisecond, "command %d", cmd)
	}
}
