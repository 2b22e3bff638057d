package mfrc522sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rd reads registers in one frame.
func rd(t *testing.T, s *Sim, regs ...byte) []byte {
	t.Helper()
	w := make([]byte, len(regs)+1)
	for i, r := range regs {
		w[i] = 0x80 | r<<1
	}
	r := make([]byte, len(w))
	require.NoError(t, s.Tx(w, r))
	return r[1:]
}

func rd1(t *testing.T, s *Sim, reg byte) byte { return rd(t, s, reg)[0] }

// wr writes data to one register in one frame.
func wr(t *testing.T, s *Sim, reg byte, data ...byte) {
	t.Helper()
	require.NoError(t, s.Tx(append([]byte{reg << 1}, data...), nil))
}

// antennaOn configures the chip as a driver would: timer, ValuesAfterColl,
// antenna on.
func antennaOn(t *testing.T, s *Sim) {
	wr(t, s, regTMode, 0x80)
	wr(t, s, regTPrescaler, 0x43)
	wr(t, s, regTReloadL, 30)
	wr(t, s, regColl, 0x00)
	wr(t, s, regTxControl, 0x83)
}

// transceive sends a frame and lets the virtual clock run 5 ms.
func transceive(t *testing.T, s *Sim, data []byte, txLastBits, rxAlign byte) {
	wr(t, s, regCommand, cmdIdle)
	wr(t, s, regComIrq, 0x7F)
	wr(t, s, regFIFOLevel, 0x80)
	wr(t, s, regFIFOData, data...)
	wr(t, s, regCommand, cmdTransceive)
	wr(t, s, regBitFraming, 0x80|rxAlign<<4|txLastBits)
	s.Advance(5 * time.Millisecond)
}

func fifo(t *testing.T, s *Sim) []byte {
	n := int(rd1(t, s, regFIFOLevel))
	out := make([]byte, n)
	for i := range out {
		out[i] = rd1(t, s, regFIFOData)
	}
	return out
}

func TestResetValues(t *testing.T) {
	s := New(Options{})
	for _, tt := range []struct {
		reg, want byte
	}{
		{regCommand, 0x20}, {regComIEn, 0x80}, {regComIrq, 0x14}, {regStatus1, 0x21}, {regFIFOLevel, 0},
		{regWaterLevel, 0x08}, {regControl, 0x10}, {regColl, 0xA0}, {regMode, 0x3F}, {regTxControl, 0x80},
		{regModWidth, 0x26}, {regRFCfg, 0x48}, {regAutoTest, 0x40}, {regVersion, 0x92}, {0x00, 0x00},
	} {
		assert.Equal(t, tt.want, rd1(t, s, tt.reg), "register %#02x", tt.reg)
	}
	assert.Equal(t, byte(0x88), rd1(t, New(Options{Version: 0x88}), regVersion))
}

func TestSPIFraming(t *testing.T) {
	s := New(Options{})
	// Several registers in one frame, each answered one byte later.
	assert.Equal(t, []byte{0x20, 0x92, 0x48}, rd(t, s, regCommand, regVersion, regRFCfg))
	// A write frame writes all its bytes to one register.
	wr(t, s, regFIFOData, 1, 2, 3)
	assert.Equal(t, byte(3), rd1(t, s, regFIFOLevel))
	assert.Equal(t, []byte{1, 2, 3}, rd(t, s, regFIFOData, regFIFOData, regFIFOData))
	c := s.Counters()
	assert.Equal(t, int64(4), c.Frames)
	assert.Equal(t, int64(4), c.Calls)
	assert.Equal(t, int64(4+4+2+4), c.Bytes)
	assert.Zero(t, c.Violations)

	// TxPackets: one call, a frame per packet unless CS is kept.
	s.ResetCounters()
	r := make([]byte, 2)
	require.NoError(t, s.TxPackets([]spi.Packet{
		{W: []byte{regFIFOData << 1, 7}},
		{W: []byte{0x80 | regFIFOLevel<<1}, R: r[:1], KeepCS: true},
		{W: []byte{0}, R: r[1:]},
	}))
	assert.Equal(t, byte(1), r[1], "FIFOLevel read in a frame split over two packets")
	c = s.Counters()
	assert.Equal(t, int64(1), c.Calls)
	assert.Equal(t, int64(2), c.Frames)

	// Violations: address LSB set, a write to a reserved register.
	require.NoError(t, s.Tx([]byte{regFIFOData<<1 | 1, 0}, nil))
	require.NoError(t, s.Tx([]byte{0x10 << 1, 0}, nil))
	assert.Equal(t, int64(2), s.Counters().Violations)
	require.Error(t, s.Tx([]byte{0x80, 0}, make([]byte, 1)), "short read buffer")
}

func TestWireTime(t *testing.T) {
	s := New(Options{TransferOverhead: 20 * time.Microsecond})
	rd(t, s, regVersion)
	assert.Equal(t, 20*time.Microsecond+1600*time.Nanosecond, s.Counters().WireTime)
	assert.Equal(t, s.Counters().WireTime, s.Elapsed())
}

func TestIrqSetClear(t *testing.T) {
	s := New(Options{})
	wr(t, s, regComIrq, 0x7F)
	assert.Equal(t, byte(0), rd1(t, s, regComIrq))
	wr(t, s, regComIrq, 0x80|0x21)
	assert.Equal(t, byte(0x21), rd1(t, s, regComIrq))
	wr(t, s, regComIrq, 0x01)
	assert.Equal(t, byte(0x20), rd1(t, s, regComIrq))
	wr(t, s, regDivIrq, 0x80|0x04)
	assert.Equal(t, byte(0x04), rd1(t, s, regDivIrq))
	wr(t, s, regDivIrq, 0x7F)
	assert.Equal(t, byte(0), rd1(t, s, regDivIrq))
}

func TestFIFOOverflow(t *testing.T) {
	s := New(Options{})
	data := make([]byte, 64)
	for i := range data {
		data[i] = byte(i)
	}
	wr(t, s, regFIFOData, data...)
	assert.Equal(t, byte(64), rd1(t, s, regFIFOLevel))
	assert.Zero(t, rd1(t, s, regError))
	wr(t, s, regFIFOData, 0xEE)
	assert.Equal(t, byte(errBufOvfl), rd1(t, s, regError))
	assert.NotZero(t, rd1(t, s, regComIrq)&irqErr)
	assert.Equal(t, []byte{0, 1, 2}, rd(t, s, regFIFOData, regFIFOData, regFIFOData))
	wr(t, s, regFIFOLevel, 0x80)
	assert.Zero(t, rd1(t, s, regFIFOLevel))
	assert.Zero(t, rd1(t, s, regError), "flush clears BufferOvfl")
}

func TestCRC(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want []byte
	}{
		{[]byte{0x50, 0x00}, []byte{0x57, 0xCD}},
		{[]byte{0x08}, []byte{0xB6, 0xDD}},
		{[]byte{0x20}, []byte{0xFC, 0x70}},
	} {
		assert.Equal(t, tt.want, appendCRCA(append([]byte(nil), tt.in...))[len(tt.in):])
		s := New(Options{})
		wr(t, s, regMode, 0x3D)
		wr(t, s, regFIFOData, tt.in...)
		wr(t, s, regCommand, cmdCalcCRC)
		assert.Equal(t, byte(divCRCIRq), rd1(t, s, regDivIrq))
		assert.Equal(t, tt.want, rd(t, s, regCRCResultL, regCRCResultH))
	}
}

func TestTimer(t *testing.T) {
	s := New(Options{TransferOverhead: -1})
	wr(t, s, regTMode, 0x00)
	wr(t, s, regTPrescaler, 0xA9) // 25 µs tick
	wr(t, s, regTReloadL, 39)     // 40 ticks: 1 ms
	wr(t, s, regComIrq, 0x7F)
	wr(t, s, regControl, controlTStartNow)
	assert.NotZero(t, rd1(t, s, regStatus1)&status1TRunning)
	s.Advance(900 * time.Microsecond)
	assert.Zero(t, rd1(t, s, regComIrq)&irqTimer)
	v := rd(t, s, regTCounterH, regTCounterL)
	assert.InDelta(t, 3, int(v[0])<<8|int(v[1]), 1)
	s.Advance(200 * time.Microsecond)
	assert.Equal(t, byte(irqTimer), rd1(t, s, regComIrq)&irqTimer)
	assert.Zero(t, rd1(t, s, regStatus1)&status1TRunning)
}

func TestTransceive(t *testing.T) {
	for _, once := range []bool{false, true} {
		s := New(Options{AnswerAtOnce: once})
		antennaOn(t, s)
		card, err := s.Present(NewCard([]byte{1, 2, 3, 4}, MifareClassic1K))
		require.NoError(t, err)
		transceive(t, s, []byte{0x26}, 7, 0)
		assert.Equal(t, byte(irqTx|irqRx), rd1(t, s, regComIrq)&(irqTx|irqRx|irqTimer))
		assert.Equal(t, []byte{0x04, 0x00}, fifo(t, s))
		assert.Zero(t, rd1(t, s, regControl)&0x07)
		assert.Equal(t, Ready, card.State())
		assert.Equal(t, byte(modemWaitStart), rd1(t, s, regStatus2)&0x07, "Transceive waits for the next StartSend")

		// Another REQA to a READY card is "any other command": IDLE, silent.
		transceive(t, s, []byte{0x26}, 7, 0)
		assert.Equal(t, byte(irqTx|irqTimer), rd1(t, s, regComIrq)&(irqTx|irqRx|irqTimer))
		assert.Equal(t, Idle, card.State())
	}
}

func TestAirTime(t *testing.T) {
	// REQA: 9 etu out, FDT (9·128+84)/fc, ATQA 20 etu in: about 365 µs.
	s := New(Options{TransferOverhead: -1})
	antennaOn(t, s)
	_, err := s.Present(NewCard([]byte{1, 2, 3, 4}, MifareClassic1K))
	require.NoError(t, err)
	wr(t, s, regComIrq, 0x7F)
	wr(t, s, regFIFOData, 0x26)
	wr(t, s, regCommand, cmdTransceive)
	wr(t, s, regBitFraming, 0x87)
	s.Advance(340 * time.Microsecond)
	assert.Zero(t, rd1(t, s, regComIrq)&irqRx)
	s.Advance(30 * time.Microsecond)
	assert.NotZero(t, rd1(t, s, regComIrq)&irqRx)
}

func TestWriteDuringReception(t *testing.T) {
	s := New(Options{})
	antennaOn(t, s)
	transceive(t, s, []byte{0x26}, 7, 0) // no card: the receiver waits on
	wr(t, s, regFIFOData, 0x26)
	assert.Equal(t, byte(errWr), rd1(t, s, regError)&errWr)
}

func TestSoftResetFieldOff(t *testing.T) {
	s := New(Options{})
	antennaOn(t, s)
	card, err := s.Present(NewCard([]byte{1, 2, 3, 4}, MifareClassic1K))
	require.NoError(t, err)
	assert.True(t, s.FieldOn())
	transceive(t, s, []byte{0x26}, 7, 0)
	assert.Equal(t, Ready, card.State())
	wr(t, s, regCommand, cmdSoftReset)
	assert.False(t, s.FieldOn())
	assert.Equal(t, PowerOff, card.State())
	assert.Equal(t, byte(0x80), rd1(t, s, regTxControl))
	wr(t, s, regTxControl, 0x83)
	assert.Equal(t, Idle, card.State())
}

func TestHardReset(t *testing.T) {
	s := New(Options{HardResetStartup: time.Millisecond})
	wr(t, s, regTxControl, 0x83)
	require.NoError(t, s.ResetPin().Out(gpio.Low))
	assert.Equal(t, []byte{0, 0}, rd(t, s, regCommand, regVersion), "SPI off in hard power-down")
	assert.False(t, s.FieldOn())
	require.NoError(t, s.ResetPin().Out(gpio.High))
	assert.Equal(t, byte(0x30), rd1(t, s, regCommand), "PowerDown while the oscillator starts")
	s.Advance(time.Millisecond)
	assert.Equal(t, byte(0x20), rd1(t, s, regCommand))
	assert.Equal(t, byte(0x80), rd1(t, s, regTxControl), "registers reset")
	assert.Equal(t, int64(1), s.Counters().HardResets)
}

func TestCollision(t *testing.T) {
	s := New(Options{AnswerAtOnce: true})
	antennaOn(t, s)
	// First difference at bit 13 (1-based) of CL1: byte 1, bit 4.
	_, err := s.Present(NewCard([]byte{0xA5, 0x00, 0x33, 0x44}, MifareClassic1K))
	require.NoError(t, err)
	_, err = s.Present(NewCard([]byte{0xA5, 0x10, 0x33, 0x44}, MifareClassic1K))
	require.NoError(t, err)
	transceive(t, s, []byte{0x26}, 7, 0)
	assert.Zero(t, rd1(t, s, regError), "same ATQA: no collision")
	fifo(t, s)
	wr(t, s, regComIrq, 0x7F)
	wr(t, s, regFIFOData, 0x93, 0x20)
	wr(t, s, regBitFraming, 0x80)
	assert.Equal(t, byte(errColl), rd1(t, s, regError))
	assert.Equal(t, byte(13), rd1(t, s, regColl)&0x3F)
	// Bits from the collision on read 0 (ValuesAfterColl = 0).
	assert.Equal(t, []byte{0xA5, 0x00, 0, 0, 0}, fifo(t, s))

	// Send the 13 bits known, with bit 13 = 1: only the second card answers,
	// from bit 5 of byte 1 on (RxAlign 5).
	wr(t, s, regComIrq, 0x7F)
	wr(t, s, regFIFOData, 0x93, 0x35, 0xA5, 0x10)
	wr(t, s, regBitFraming, 0x80|5<<4|5)
	assert.Zero(t, rd1(t, s, regError))
	got := fifo(t, s)
	assert.Equal(t, []byte{0x00, 0x33, 0x44, 0xA5 ^ 0x10 ^ 0x33 ^ 0x44}, got, "byte 1 keeps its 5 low bits 0")
	assert.Zero(t, rd1(t, s, regControl)&0x07)
}

func TestCardStateMachine(t *testing.T) {
	s := New(Options{AnswerAtOnce: true})
	antennaOn(t, s)
	card, err := s.Present(NewCard([]byte{0x11, 0x22, 0x33, 0x44}, MifareClassic1K))
	require.NoError(t, err)
	sel := appendCRCA([]byte{0x93, 0x70, 0x11, 0x22, 0x33, 0x44, 0x11 ^ 0x22 ^ 0x33 ^ 0x44})
	hlta := appendCRCA([]byte{0x50, 0x00})
	steps := []struct {
		name   string
		frame  []byte
		bits   byte
		answer []byte
		state  CardState
	}{
		{"REQA", []byte{0x26}, 7, []byte{0x04, 0x00}, Ready},
		{"SELECT", sel, 0, appendCRCA([]byte{0x08}), Active},
		{"HLTA", hlta, 0, nil, Halt},
		{"REQA ignored in HALT", []byte{0x26}, 7, nil, Halt},
		{"WUPA", []byte{0x52}, 7, []byte{0x04, 0x00}, Ready},
		{"HLTA in READY*: back to HALT", hlta, 0, nil, Halt},
		{"WUPA again", []byte{0x52}, 7, []byte{0x04, 0x00}, Ready},
		{"SELECT", sel, 0, appendCRCA([]byte{0x08}), Active},
		{"unknown command in ACTIVE*: HALT", appendCRCA([]byte{0x30, 0x04}), 0, nil, Halt},
	}
	for _, st := range steps {
		transceive(t, s, st.frame, st.bits, 0)
		assert.Equal(t, st.answer, nilIfEmpty(fifo(t, s)), st.name)
		assert.Equal(t, st.state, card.State(), st.name)
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func TestIRQPin(t *testing.T) {
	s := New(Options{})
	antennaOn(t, s)
	_, err := s.Present(NewCard([]byte{1, 2, 3, 4}, MifareClassic1K))
	require.NoError(t, err)
	irq := s.IRQ()
	require.NoError(t, irq.In(gpio.PullUp, gpio.FallingEdge))
	wr(t, s, regComIrq, 0x7F)
	wr(t, s, regComIEn, 0x80|irqRx)
	assert.Equal(t, gpio.High, irq.Read())
	wr(t, s, regFIFOData, 0x26)
	wr(t, s, regCommand, cmdTransceive)
	wr(t, s, regBitFraming, 0x87)
	start := s.Elapsed()
	assert.True(t, irq.WaitForEdge(time.Second), "the answer's RxIRq pulls IRQ low")
	assert.InDelta(t, 365, (s.Elapsed() - start).Microseconds(), 5, "waiting let virtual time run to the answer")
	assert.Equal(t, gpio.Low, irq.Read())
	wr(t, s, regComIrq, 0x7F)
	assert.Equal(t, gpio.High, irq.Read())
	assert.False(t, irq.WaitForEdge(0))
	require.Error(t, irq.Out(gpio.Low))
}

func TestConnect(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    physic.Frequency
		mode spi.Mode
		bits int
		ok   bool
	}{
		{"mode 0 at 10 MHz", 10 * physic.MegaHertz, spi.Mode0, 8, true},
		{"port speed", 0, spi.Mode0, 8, true},
		{"mode 3", 10 * physic.MegaHertz, spi.Mode3, 8, false},
		{"LSB first", physic.MegaHertz, spi.Mode0 | spi.LSBFirst, 8, false},
		{"too fast", 20 * physic.MegaHertz, spi.Mode0, 8, false},
		{"9 bits", physic.MegaHertz, spi.Mode0, 9, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{})
			c, err := s.Connect(tt.f, tt.mode, tt.bits)
			if !tt.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, c)
			_, err = s.Connect(tt.f, tt.mode, tt.bits)
			require.Error(t, err, "a port connects once")
		})
	}
}

func TestPresent(t *testing.T) {
	s := New(Options{})
	_, err := s.Present(NewCard([]byte{1, 2, 3, 4, 5}, MifareClassic1K))
	require.Error(t, err)
	_, err = s.Present(NewCard([]byte{0x88, 2, 3, 4}, MifareClassic1K))
	require.Error(t, err)
	c, err := s.Present(NewCard([]byte{1, 2, 3, 4, 5, 6, 7}, DESFire))
	require.NoError(t, err)
	assert.Equal(t, PowerOff, c.State(), "field off")
	assert.Len(t, s.Cards(), 1)
	assert.True(t, s.RemoveUID([]byte{1, 2, 3, 4, 5, 6, 7}))
	assert.Empty(t, s.Cards())
	s.Remove(c) // twice: nothing
}

func TestMemAndSelfTest(t *testing.T) {
	s := New(Options{Version: 0x91})
	// Internal buffer: FIFO -> buffer -> FIFO.
	wr(t, s, regFIFOData, []byte("twenty-five bytes of data")...)
	wr(t, s, regCommand, cmdMem)
	assert.Zero(t, rd1(t, s, regFIFOLevel))
	assert.Equal(t, byte(irqIdle), rd1(t, s, regComIrq)&irqIdle)
	wr(t, s, regCommand, cmdMem)
	assert.Equal(t, []byte("twenty-five bytes of data"), fifo(t, s))
	// The self-test with a dirty buffer does not give the reference...
	wr(t, s, regAutoTest, 0x09)
	wr(t, s, regFIFOData, 0x00)
	wr(t, s, regCommand, cmdCalcCRC)
	out := fifo(t, s)
	require.Len(t, out, 64)
	assert.NotEqual(t, selfTestReference(0x91), out)
	// ...with a clean one it does.
	wr(t, s, regFIFOData, make([]byte, 25)...)
	wr(t, s, regCommand, cmdMem)
	wr(t, s, regFIFOData, 0x00)
	wr(t, s, regCommand, cmdCalcCRC)
	assert.Equal(t, selfTestReference(0x91), fifo(t, s))
}
