package mfrc522sim

import (
	"time"

	"periph.io/x/conn/v3/gpio"
)

// chip is the MFRC522's digital part: registers, FIFO, commands, timer,
// transmitter and receiver. All its methods run with Sim.mu held.
type chip struct {
	s    *Sim
	regs [64]byte
	fifo []byte
	buf  [25]byte // internal buffer of the Mem command

	hardPowerDown bool          // NRSTPD held low
	starting      bool          // oscillator starting after NRSTPD went high
	startupUntil  time.Duration // end of the start-up
	field         bool          // RF field on, as last computed
	fieldSince    time.Duration

	crcRunning bool
	crc        uint16
	crcOk      bool
	crcReady   bool
	rxLastBits byte
	modem      byte
	randSeq    uint32

	ex    *exchange
	timer timer
}

// exchange is a frame being sent and, for Transceive, its answer.
type exchange struct {
	cmd       byte
	tx        bitString
	txEnd     time.Duration
	delivered bool
	answers   []contribution
	rxStart   time.Duration
	rxEnd     time.Duration
	stopAt    time.Duration // the timer stops on the answer's 5th bit
	stopped   bool
}

// contribution is one card's answer to a frame.
type contribution struct {
	card *Card
	ans  answer
}

type timer struct {
	running bool
	startAt time.Duration
	fireAt  time.Duration
	tick    time.Duration
	reload  int
	value   int // TCounterVal when stopped
}

func (c *chip) init(s *Sim) {
	c.s = s
	c.reset()
}

// reset sets the registers to their reset values and stops everything; the
// internal buffer survives (datasheet 10.3.1.2).
func (c *chip) reset() {
	for i := range c.regs {
		c.regs[i] = resetValue(byte(i))
	}
	c.fifo = c.fifo[:0]
	c.crcRunning, c.crcOk, c.crcReady = false, false, true
	c.rxLastBits = 0
	c.modem = modemIdle
	c.ex = nil
	c.timer = timer{}
}

func (c *chip) now() time.Duration { return c.s.now() }

func (c *chip) cmd() byte { return c.regs[regCommand] & 0x0F }

// fieldOn reports whether the antenna radiates.
func (c *chip) fieldOn() bool {
	return !c.hardPowerDown && !c.starting && c.regs[regCommand]&commandPowerDown == 0 &&
		c.regs[regTxControl]&0x03 != 0
}

// fieldChanged powers the cards up or down when the field changes.
func (c *chip) fieldChanged() {
	on := c.fieldOn()
	if on == c.field {
		return
	}
	c.field = on
	now := c.now()
	if on {
		c.fieldSince = now
	}
	for _, card := range c.s.cards {
		card.fieldChanged(on, now)
	}
}

// event kinds, in the order they run when due at the same time.
const (
	evNone = iota
	evStartup
	evTxEnd
	evTimerStop
	evRxEnd
	evTimerFire
)

func (c *chip) nextEvent() (time.Duration, int) {
	var at time.Duration
	kind := evNone
	consider := func(t time.Duration, k int) {
		if kind == evNone || t < at || (t == at && k < kind) {
			at, kind = t, k
		}
	}
	if c.starting {
		consider(c.startupUntil, evStartup)
	}
	if c.s.fault == ChipHung {
		return at, kind
	}
	if ex := c.ex; ex != nil {
		if !ex.delivered {
			consider(ex.txEnd, evTxEnd)
		} else if len(ex.answers) > 0 {
			if !ex.stopped && c.timer.running {
				consider(ex.stopAt, evTimerStop)
			}
			consider(ex.rxEnd, evRxEnd)
		}
	}
	if c.timer.running {
		consider(c.timer.fireAt, evTimerFire)
	}
	return at, kind
}

// nextDue returns when the next chip event is due, if any.
func (c *chip) nextDue() (time.Duration, bool) {
	t, k := c.nextEvent()
	return t, k != evNone
}

// settle runs every event due at or before now.
func (c *chip) settle(now time.Duration) {
	for {
		t, k := c.nextEvent()
		if k == evNone || t > now {
			break
		}
		switch k {
		case evStartup:
			c.starting = false
			c.fieldChanged()
		case evTxEnd:
			c.txEnd(t)
		case evTimerStop:
			c.ex.stopped = true
			if c.answerArrives(t) {
				c.stopTimer(t)
			}
		case evRxEnd:
			c.rxEnd()
		case evTimerFire:
			c.regs[regComIrq] |= irqTimer
			if c.regs[regTMode]&tModeTAutoRestart != 0 {
				c.timer.startAt = c.timer.fireAt
				c.timer.fireAt += time.Duration(c.timer.reload+1) * c.timer.tick
			} else {
				c.timer.running = false
				c.timer.value = 0
			}
		}
	}
	c.updateIRQ()
}

// answerArrives reports whether some card that answers is still in the field
// at t (an answer cut before its 5th bit does not stop the timer).
func (c *chip) answerArrives(t time.Duration) bool {
	for _, a := range c.ex.answers {
		if a.card.inFieldAt(t) && a.ans.bits.n > 0 {
			return true
		}
	}
	return false
}

// irqLine is the IRQ bit of Status1Reg.
func (c *chip) irqLine() bool {
	return c.regs[regComIEn]&c.regs[regComIrq]&0x7F != 0 ||
		c.regs[regDivIEn]&c.regs[regDivIrq]&0x14 != 0
}

// updateIRQ drives the IRQ pin: the IRq bit, inverted by ComIEn.IRqInv. In
// hard power-down the pin is released and pulled up.
func (c *chip) updateIRQ() {
	level := !c.irqLine()
	if c.regs[regComIEn]&irqInv == 0 {
		level = !level
	}
	if c.hardPowerDown {
		level = true
	}
	c.s.irqPin.drive(gpio.Level(level))
}

func (c *chip) peek(reg byte) byte {
	switch reg {
	case regCommand:
		v := c.regs[regCommand]
		if c.starting {
			v |= commandPowerDown
		}
		return v
	case regStatus1:
		v := byte(0)
		if c.crcOk {
			v |= status1CRCOk
		}
		if c.crcReady {
			v |= status1CRCReady
		}
		if c.irqLine() {
			v |= status1IRq
		}
		if c.timer.running {
			v |= status1TRunning
		}
		wl := int(c.regs[regWaterLevel] & 0x3F)
		if 64-len(c.fifo) <= wl {
			v |= status1HiAlert
		}
		if len(c.fifo) <= wl {
			v |= status1LoAlert
		}
		return v
	case regStatus2:
		return c.regs[regStatus2]&0xC8 | c.modem
	case regFIFOLevel:
		return byte(len(c.fifo))
	case regControl:
		return 0x10 | c.rxLastBits
	case regTCounterH, regTCounterL:
		v := c.counterValue()
		if reg == regTCounterH {
			return byte(v >> 8)
		}
		return byte(v)
	case regVersion:
		return c.s.opts.Version
	}
	if reserved(reg) {
		return 0
	}
	return c.regs[reg]
}

func (c *chip) counterValue() int {
	if !c.timer.running {
		return c.timer.value
	}
	elapsed := int((c.now() - c.timer.startAt) / c.timer.tick)
	return max(c.timer.reload-elapsed, 0)
}

func (c *chip) read(reg byte) byte {
	if reg == regFIFOData && !c.starting {
		if len(c.fifo) == 0 {
			return 0
		}
		v := c.fifo[0]
		c.fifo = c.fifo[1:]
		c.fifoChanged()
		return v
	}
	return c.peek(reg)
}

func (c *chip) write(reg, v byte) {
	if c.starting || reserved(reg) {
		return // the oscillator is not running yet: writes are lost
	}
	switch reg {
	case regCommand:
		c.command(v)
	case regComIrq:
		if v&irqSet != 0 {
			c.regs[regComIrq] |= v & 0x7F
		} else {
			c.regs[regComIrq] &^= v & 0x7F
		}
	case regDivIrq:
		if v&irqSet != 0 {
			c.regs[regDivIrq] |= v & 0x14
		} else {
			c.regs[regDivIrq] &^= v & 0x14
		}
	case regError, regStatus1, regTCounterH, regTCounterL, regVersion, regTestBus, regTestADC:
		// read-only
	case regStatus2:
		c.regs[regStatus2] = v&0xC0 | c.regs[regStatus2]&v&status2Crypto1On
	case regFIFOData:
		c.push(v, true)
	case regFIFOLevel:
		if v&fifoFlush != 0 {
			c.fifo = c.fifo[:0]
			c.regs[regError] &^= errBufOvfl
			c.fifoChanged()
		}
	case regWaterLevel:
		c.regs[regWaterLevel] = v & 0x3F
	case regControl:
		if v&controlTStopNow != 0 {
			c.stopTimer(c.now())
		}
		if v&controlTStartNow != 0 {
			c.startTimer(c.now())
		}
	case regBitFraming:
		c.regs[regBitFraming] = v
		if v&bitFramingStartSend != 0 && c.cmd() == cmdTransceive && c.modem == modemWaitStart && c.s.fault != ChipHung {
			c.startTx(cmdTransceive)
		}
	case regColl:
		c.regs[regColl] = c.regs[regColl]&^collValuesAfterColl | v&collValuesAfterColl
	case regTxControl:
		c.regs[regTxControl] = v
		c.fieldChanged()
	default:
		c.regs[reg] = v
	}
}

// push puts a byte into the FIFO; fromHost marks a write over SPI.
func (c *chip) push(v byte, fromHost bool) {
	if fromHost && c.ex != nil && c.ex.delivered && c.ex.cmd == cmdTransceive &&
		(c.modem == modemWaitData || c.modem == modemReceiving) {
		// Written between the last bit sent and the last bit received.
		c.regs[regError] |= errWr
		c.regs[regComIrq] |= irqErr
	}
	if fromHost && c.crcRunning {
		c.crc = crc16(c.crc, c.regs[regMode]&0x80 != 0, []byte{v})
		c.crcResult()
		return
	}
	if len(c.fifo) >= 64 {
		c.regs[regError] |= errBufOvfl
		c.regs[regComIrq] |= irqErr
		return
	}
	c.fifo = append(c.fifo, v)
	c.fifoChanged()
}

func (c *chip) fifoChanged() {
	wl := int(c.regs[regWaterLevel] & 0x3F)
	if 64-len(c.fifo) <= wl {
		c.regs[regComIrq] |= irqHiAl
	}
	if len(c.fifo) <= wl {
		c.regs[regComIrq] |= irqLoAl
	}
}

// command handles a write to CommandReg.
func (c *chip) command(v byte) {
	if c.s.fault == ChipHung {
		c.regs[regCommand] = v & 0x3F
		return
	}
	code := v & 0x0F
	if code == cmdSoftReset {
		c.softReset()
		return
	}
	if code == cmdNoChange {
		code = c.cmd()
	}
	wasPowerDown := c.regs[regCommand]&commandPowerDown != 0
	c.regs[regCommand] = v&(commandRcvOff|commandPowerDown) | c.cmd()
	if v&commandPowerDown != 0 {
		c.abort()
		c.regs[regCommand] = v & (commandRcvOff | commandPowerDown)
		c.fieldChanged()
		return
	}
	if wasPowerDown {
		c.fieldChanged()
	}
	if v&0x0F == cmdNoChange {
		return
	}
	c.start(code)
}

// abort stops the running command.
func (c *chip) abort() {
	c.ex = nil
	c.crcRunning = false
	c.modem = modemIdle
}

// finish ends a command that terminates by itself.
func (c *chip) finish() {
	c.ex = nil
	c.modem = modemIdle
	c.regs[regCommand] &^= 0x0F
	c.regs[regComIrq] |= irqIdle
}

func (c *chip) start(code byte) {
	c.abort()
	c.regs[regCommand] = c.regs[regCommand]&0xF0 | code
	switch code {
	case cmdIdle:
	case cmdMem:
		if len(c.fifo) == 0 {
			c.fifo = append(c.fifo, c.buf[:]...)
		} else {
			n := copy(c.buf[:], c.fifo)
			c.fifo = c.fifo[n:]
		}
		c.fifoChanged()
		c.finish()
	case cmdRandomID:
		for i := 0; i < 10; i++ {
			c.randSeq = c.randSeq*1664525 + 1013904223
			c.buf[i] = byte(c.randSeq >> 24)
		}
		c.finish()
	case cmdCalcCRC:
		if c.regs[regAutoTest]&0x0F == autoTestSelfTest {
			c.selfTest()
			c.finish()
			return
		}
		c.crcRunning = true
		c.crc = crcPreset(c.regs[regMode])
		data := c.fifo
		c.fifo = nil
		c.fifoChanged()
		c.crc = crc16(c.crc, c.regs[regMode]&0x80 != 0, data)
		c.crcResult()
	case cmdTransmit:
		c.startTx(cmdTransmit)
	case cmdReceive:
		c.ex = nil
		c.modem = modemWaitData
	case cmdTransceive:
		c.modem = modemWaitStart
	case cmdMFAuthent:
		// Crypto1 is not simulated: the authentication fails at once.
		c.regs[regError] |= errProtocol
		c.regs[regComIrq] |= irqErr
		c.finish()
	default: // unknown command codes end at once
		c.finish()
	}
}

func crcPreset(mode byte) uint16 {
	return [4]uint16{0x0000, 0x6363, 0xA671, 0xFFFF}[mode&0x03]
}

func (c *chip) crcResult() {
	c.regs[regCRCResultH] = byte(c.crc >> 8)
	c.regs[regCRCResultL] = byte(c.crc)
	c.crcReady = true
	c.crcOk = c.crc == 0
	c.regs[regDivIrq] |= divCRCIRq
}

// selfTest runs the digital self-test (datasheet 16.1.1): with the internal
// buffer cleared and one 00h byte in the FIFO, the FIFO then holds the 64
// bytes of the version's reference; anything else gives other bytes.
func (c *chip) selfTest() {
	ref := selfTestReference(c.s.opts.Version)
	clean := len(c.fifo) == 1 && c.fifo[0] == 0
	for _, b := range c.buf {
		clean = clean && b == 0
	}
	seed := crc16(0x6363, false, append(c.buf[:], c.fifo...))
	out := make([]byte, 64)
	for i := range out {
		if ref != nil && clean {
			out[i] = ref[i]
			continue
		}
		seed = crc16(seed, false, []byte{byte(i), c.s.opts.Version})
		out[i] = byte(seed)
		if ref != nil && out[i] == ref[i] {
			out[i] ^= 0x5A
		}
	}
	if c.s.opts.FaultySelfTest {
		out[17] ^= 0x10
	}
	c.fifo = out
	c.fifoChanged()
	c.regs[regDivIrq] |= divCRCIRq
}

func (c *chip) softReset() {
	c.s.counters.SoftResets++
	c.reset()
	c.fieldChanged()
}

// hardReset handles the NRSTPD input.
func (c *chip) hardReset(low bool) {
	if low {
		c.hardPowerDown = true
		c.starting = false
		c.reset()
		c.fieldChanged()
		return
	}
	if !c.hardPowerDown {
		return
	}
	c.s.counters.HardResets++
	c.hardPowerDown = false
	c.reset()
	if d := c.s.opts.HardResetStartup; d > 0 {
		c.starting = true
		c.startupUntil = c.now() + d
	}
	c.fieldChanged()
}

func (c *chip) startTimer(t time.Duration) {
	p := int(c.regs[regTMode]&0x0F)<<8 | int(c.regs[regTPrescaler])
	tick := time.Duration(float64(2*p+1) * 1e9 / carrier)
	reload := int(c.regs[regTReloadH])<<8 | int(c.regs[regTReloadL])
	c.timer = timer{
		running: true,
		startAt: t,
		tick:    tick,
		reload:  reload,
		fireAt:  t + time.Duration(reload+1)*tick,
	}
}

func (c *chip) stopTimer(t time.Duration) {
	if !c.timer.running {
		return
	}
	saved := t
	c.timer.value = max(c.timer.reload-int((saved-c.timer.startAt)/c.timer.tick), 0)
	c.timer.running = false
}

// startTx sends the FIFO on the air.
func (c *chip) startTx(cmd byte) {
	data := append([]byte(nil), c.fifo...)
	c.fifo = c.fifo[:0]
	c.fifoChanged()
	bits := bytesToBits(data)
	if last := int(c.regs[regBitFraming] & 0x07); last != 0 && len(data) > 0 {
		bits.n = 8*(len(data)-1) + last
	}
	if c.regs[regTxMode]&crcEnable != 0 && bits.n%8 == 0 {
		crc := crc16(crcPreset(c.regs[regMode]), c.regs[regMode]&0x80 != 0, data)
		bits = bytesToBits(append(data, byte(crc), byte(crc>>8)))
	}
	c.regs[regError] &^= errColl | errCRC | errParity | errProtocol | errWr
	now := c.now()
	d := pcdFrameTime(bits.n)
	if c.s.opts.AnswerAtOnce {
		d = 0
	}
	c.ex = &exchange{cmd: cmd, tx: bits, txEnd: now + d}
	c.modem = modemTransmitting
	c.s.counters.Exchanges++
	c.s.counters.AirBits += int64(frameBits(bits.n, 0))
	c.s.counters.AirTime += d
}

// txEnd: the last bit is out. Cards in the field take the frame and answer.
func (c *chip) txEnd(t time.Duration) {
	ex := c.ex
	ex.delivered = true
	c.regs[regComIrq] |= irqTx
	if c.regs[regTMode]&tModeTAuto != 0 {
		c.startTimer(t)
	}
	if ex.cmd == cmdTransmit {
		c.finish()
		c.deliver(ex, t) // the cards hear it, nobody listens to the answer
		return
	}
	c.modem = modemWaitData
	c.deliver(ex, t)
	if len(ex.answers) == 0 {
		return
	}
	n := 0
	var delay time.Duration
	for _, a := range ex.answers {
		n = max(n, a.ans.bits.n)
		delay = max(delay, a.ans.delay)
	}
	align := int(c.regs[regBitFraming] >> 4 & 0x07)
	var last byte
	if ex.tx.n > 0 {
		last = ex.tx.bit(ex.tx.n - 1)
	}
	c.s.counters.AirBits += int64(frameBits(n, align))
	c.s.counters.CardTime += frameDelay(last) + delay
	if c.s.opts.AnswerAtOnce {
		ex.rxStart, ex.rxEnd, ex.stopAt = t, t, t
	} else {
		ex.rxStart = t + frameDelay(last) + delay
		ex.rxEnd = ex.rxStart + piccFrameTime(n, align)
		ex.stopAt = ex.rxStart + etus(6) // start bit and 5 data bits
		c.s.counters.AirTime += ex.rxEnd - t
	}
	if c.regs[regRxMode]&0x04 != 0 { // RxMultiple: the timer runs on
		ex.stopped = true
	}
}

// deliver hands the frame to every card able to hear it.
func (c *chip) deliver(ex *exchange, t time.Duration) {
	if !c.fieldOn() {
		return
	}
	gain := rxGainDB(c.regs[regRFCfg])
	for _, card := range c.s.cards {
		if !card.readyAt(t) {
			continue
		}
		if ans, ok := card.receive(ex.tx, gain); ok {
			ex.answers = append(ex.answers, contribution{card: card, ans: ans})
		}
	}
}

// rxGainDB decodes RFCfgReg.RxGain (datasheet table 98).
func rxGainDB(rfcfg byte) int {
	return [8]int{18, 23, 18, 23, 33, 38, 43, 48}[rfcfg>>4&0x07]
}

// rxEnd: the answer is in. Bits of several cards are combined as on the air;
// a card that left the field during its answer is cut off there.
func (c *chip) rxEnd() {
	ex := c.ex
	c.ex = nil
	var parts []answer
	for _, a := range ex.answers {
		ans := a.ans
		if gone, at := a.card.leftAt(); gone && at < ex.rxEnd {
			keep := 0
			if at > ex.rxStart && ex.rxEnd > ex.rxStart {
				keep = int(int64(ans.bits.n) * int64(at-ex.rxStart) / int64(ex.rxEnd-ex.rxStart))
			}
			ans.bits = ans.bits.slice(0, keep)
		}
		if ans.bits.n > 0 {
			parts = append(parts, ans)
		}
	}
	if len(parts) == 0 {
		// Nothing arrived: the receiver keeps waiting, the timer decides.
		c.ex = ex
		ex.answers = nil
		return
	}
	valuesAfterColl := c.regs[regColl]&collValuesAfterColl != 0
	var bits bitString
	coll := -1
	parity := false
	n := 0
	for _, p := range parts {
		n = max(n, p.bits.n)
		parity = parity || p.parityErr
	}
	for i := 0; i < n; i++ {
		var v byte
		seen, collided := false, false
		for _, p := range parts {
			if i >= p.bits.n {
				continue
			}
			b := p.bits.bit(i)
			if p.collide == i+1 {
				collided = true
			}
			if !seen {
				v, seen = b, true
			} else if b != v {
				collided = true
			}
		}
		if collided {
			v = 1
			if coll < 0 {
				coll = i
			}
		}
		if coll >= 0 && !valuesAfterColl {
			v = 0
		}
		bits.push(v)
	}
	align := int(c.regs[regBitFraming] >> 4 & 0x07)
	out := make([]byte, (align+n+7)/8)
	for i := 0; i < n; i++ {
		pos := align + i
		out[pos/8] |= bits.bit(i) << (pos % 8)
	}
	c.rxLastBits = byte((align + n) % 8)
	var errs byte
	if c.regs[regRxMode]&crcEnable != 0 {
		if c.rxLastBits != 0 || len(out) < 3 || !checkCRCA(out) {
			errs |= errCRC
			c.crcOk = false
		} else {
			c.crcOk = true
		}
		if c.rxLastBits == 0 && len(out) >= 2 {
			out = out[:len(out)-2]
		}
	}
	for _, b := range out {
		c.push(b, false)
	}
	if coll >= 0 {
		errs |= errColl
		pos := align + coll + 1
		if pos > 32 {
			c.regs[regColl] = c.regs[regColl]&collValuesAfterColl | collPosNotValid
		} else {
			c.regs[regColl] = c.regs[regColl]&collValuesAfterColl | byte(pos&0x1F)
		}
	} else {
		c.regs[regColl] = c.regs[regColl]&collValuesAfterColl | collPosNotValid
		if parity {
			errs |= errParity
		}
	}
	c.regs[regError] |= errs
	c.regs[regComIrq] |= irqRx
	if c.regs[regError] != 0 {
		c.regs[regComIrq] |= irqErr
	}
	for _, a := range ex.answers {
		if a.card.leaving {
			c.s.detach(a.card)
		}
	}
	if ex.cmd == cmdReceive {
		c.finish()
		return
	}
	c.modem = modemWaitStart // receiver off until the next StartSend
}
