package mfrc522

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// frame is one frame to send to the cards.
type frame struct {
	op         string // for errors: "REQA", "ANTICOLLISION CL1", ...
	tx         []byte
	txBits     int // valid bits of the last byte (TxLastBits); 0 means 8
	rxAlign    int // bit position of the first received bit (RxAlign)
	expectBits int // length of the expected answer, for the wait
	// timeout is the chip timer's run from the end of the frame (the frame
	// waiting time of ISO 14443-4 blocks); 0 means the default, for ISO
	// 14443-3 commands.
	timeout time.Duration
	// block marks an ISO 14443-4 frame, whose answer may come at any time
	// up to the timeout: the status is polled from the expected answer's
	// end on, instead of read once after the timer.
	block bool
}

// bits is the frame's length in bits.
func (f frame) bits() int {
	if f.txBits == 0 {
		return 8 * len(f.tx)
	}
	return 8*(len(f.tx)-1) + f.txBits
}

// reply is what the chip received.
type reply struct {
	data      []byte
	lastBits  int  // valid bits of the last byte (RxLastBits); 0 means 8
	errs      byte // ErrorReg
	collPos   int  // CollReg.CollPos when a collision position is valid (1..32), else 0
	collValid bool
}

// rxBits is the number of bits received from bit rxAlign on.
func (r reply) rxBits(align int) int {
	if len(r.data) == 0 {
		return 0
	}
	last := r.lastBits
	if last == 0 {
		last = 8
	}
	return 8*(len(r.data)-1) + last - align
}

// errNoAnswer: the chip's timer ran out with nothing received.
var errNoAnswer = errors.New("no answer")

// start loads a frame and sends it: one TxPackets call. From Idle that is
// Idle, IRQ clear, (FIFO flush,) FIFO burst, Transceive, StartSend; while the
// chip is still in Transceive after a complete answer, only IRQ clear, FIFO
// burst and StartSend (datasheet 10.3.1.8: Transceive repeats, each frame
// started by StartSend).
func (d *Dev) start(f frame) error {
	if !d.live {
		if wait := d.quiet.Sub(d.clock.Now()); wait > 0 {
			d.clock.Sleep(wait)
		}
		if d.irq != nil {
			for i := 0; i < 4 && d.irq.WaitForEdge(0); i++ { // drop stale edges
			}
		}
	}
	b := d.batch()
	if !d.live {
		b.write(regCommand, cmdIdle)
		if d.dirty {
			b.write(regFIFOLevel, fifoFlush)
		}
	}
	d.setTimer(b, f.timeout)
	b.write(regComIrq, irqAll)
	b.write(regFIFOData, f.tx...)
	if !d.live {
		b.write(regCommand, cmdTransceive)
	}
	b.write(regBitFraming, startSend|byte(f.rxAlign)<<4|byte(f.txBits))
	d.live, d.dirty = false, false
	if err := b.send(); err != nil {
		return &Error{Op: f.op, Kind: ErrChipNotResponding, Err: err}
	}
	return nil
}

// exchange sends a frame and returns the answer. The wait is the frame's
// modelled air time: the end of the expected answer or of the chip's timer,
// whichever is later, so that one status read finds the exchange complete.
func (d *Dev) exchange(ctx context.Context, f frame) (reply, error) {
	if err := ctxErr(ctx, f.op); err != nil {
		return reply{}, err
	}
	if err := d.start(f); err != nil {
		return reply{}, err
	}
	t0 := d.clock.Now()
	tx := pcdTime(f.bits())
	answered := tx + frameDelay() + piccTime(f.expectBits, f.rxAlign) + 10*time.Microsecond
	timedOut := tx + d.timerDuration() + 10*time.Microsecond
	wait := max(answered, timedOut)
	first, step := wait, 200*time.Microsecond
	if f.block && (d.irq == nil || d.irqOff) {
		first = answered // poll: the card may answer at any time up to the timer
	}
	if dl, ok := ctx.Deadline(); ok && f.block {
		first = max(min(first, time.Until(dl)), 0) // a long waiting time does not outlast ctx
	}
	edge := d.wait(first)
	chipErr := func(err error) (reply, error) {
		return reply{}, &Error{Op: f.op, Kind: ErrChipNotResponding, Err: err}
	}
	for {
		// ComIrq, Error, FIFOLevel, Control, Coll in one frame.
		st, err := d.readRegs(regComIrq, regError, regFIFOLevel, regControl, regColl)
		if err != nil {
			return chipErr(err)
		}
		irq, errs, level := st[0], st[1], int(st[2])
		if level > 64 || errs&errReserved != 0 {
			return reply{}, fail(f.op, ErrChipNotResponding, fmt.Sprintf("impossible status (ComIrq %#02x, Error %#02x, FIFOLevel %#02x); %s", irq, errs, st[2], wiringHint))
		}
		if errs&errTemp != 0 {
			return reply{}, fail(f.op, ErrChipNotResponding, "the antenna drivers overheated (ErrorReg.TempErr); check the antenna and supply")
		}
		if errs&(errBufOvfl|errWr) != 0 {
			d.dirty = true
			return reply{}, fail(f.op, ErrProtocol, fmt.Sprintf("FIFO overflow or write during reception (ErrorReg %#02x)", errs))
		}
		if irq&(irqRx|irqTimer) != 0 {
			d.irqSeen(edge)
		}
		switch {
		case irq&irqRx != 0:
			r := reply{lastBits: int(st[3] & 0x07), errs: errs}
			if errs&errColl != 0 && st[4]&collPosNotValid == 0 {
				r.collPos, r.collValid = int(st[4]&0x1F), true
				if r.collPos == 0 {
					r.collPos = 32
				}
			}
			if level > 0 {
				if r.data, err = d.readFIFO(level); err != nil {
					return chipErr(err)
				}
			}
			d.live = true
			return r, nil
		case irq&irqTimer != 0:
			// A late answer to a block may still land in the FIFO.
			d.dirty = level > 0 || f.block
			return reply{}, errNoAnswer
		}
		elapsed := d.clock.Now().Sub(t0)
		if elapsed > wait+chipStallLimit {
			what := "neither an answer nor the timer came"
			if irq&irqTx == 0 {
				what = "the frame was never sent"
			}
			return reply{}, fail(f.op, ErrChipNotResponding, fmt.Sprintf("%s after %s (ComIrq %#02x)", what, elapsed.Round(time.Microsecond), irq))
		}
		if err := ctxErr(ctx, f.op); err != nil {
			return reply{}, err
		}
		edge = d.wait(step)
		if f.block {
			step = min(2*step, blockPollMax) // a card processing a command: poll less often
		}
	}
}

// wait lets time pass while the chip works: until the IRQ pin's edge when
// there is one (an edge is only a hint: the status read decides), else d. It
// reports whether an edge came.
func (d *Dev) wait(dur time.Duration) bool {
	if d.irq != nil && !d.irqOff {
		return d.irq.WaitForEdge(dur + chipStallLimit)
	}
	d.clock.Sleep(dur)
	return false
}

// irqSeen notes whether the IRQ pin signalled a completed exchange. After
// three exchanges in a row that completed without an edge the pin is taken
// to be unwired and the driver goes back to timed waits (SelfTest reports
// it).
func (d *Dev) irqSeen(edge bool) {
	if d.irq == nil || d.irqOff {
		return
	}
	if edge {
		d.irqMisses = 0
		return
	}
	if d.irqMisses++; d.irqMisses >= 3 {
		d.irqOff = true
	}
}

// send sends a frame that gets no answer (HLTA) and does not wait: the next
// frame waits for this one to be out and for the timer it started.
func (d *Dev) send(f frame) error {
	if err := d.start(f); err != nil {
		return err
	}
	d.quiet = d.clock.Now().Add(pcdTime(f.bits()) + d.timerDuration() + 10*time.Microsecond)
	return nil
}

// blockPollMax is the longest pause between two status reads while a card
// processes a command (without the IRQ pin): the answer is seen at most
// that late, and a 20 ms command costs about 20 reads.
const blockPollMax = time.Millisecond

// setTimer queues the writes that make the chip's timer run for timeout (0:
// the default), only those of registers that change. The prescaler stays
// at the default 9.96 µs tick up to 652 ms, so a frame waiting time
// usually costs the two TReload writes.
func (d *Dev) setTimer(b *batch, timeout time.Duration) {
	pre, reload := timerSettings(timeout)
	if pre != d.tPre {
		b.write(regTMode, tModeTAuto|byte(pre>>8))
		b.write(regTPrescaler, byte(pre))
	}
	if reload>>8 != d.tReload>>8 {
		b.write(regTReloadH, byte(reload>>8))
	}
	if reload&0xFF != d.tReload&0xFF {
		b.write(regTReloadL, byte(reload))
	}
	d.tPre, d.tReload = pre, reload
}

// timerSettings returns TPrescaler and TReload for a timeout (0: the
// default): the default prescaler when the 16-bit reload can count it,
// else the smallest prescaler that can, up to 12 bits (39.6 s).
func timerSettings(timeout time.Duration) (pre, reload int) {
	if timeout <= 0 {
		return timerPrescaler, timerReload
	}
	cycles := int(math.Ceil(timeout.Seconds() * carrier))
	pre = timerPrescaler
	if cycles > 65536*(2*pre+1) {
		pre = min((cycles/65536+1)/2, 0xFFF)
	}
	reload = min((cycles+2*pre)/(2*pre+1)-1, 0xFFFF)
	return pre, max(reload, 1)
}

// timerDuration is how long the chip's timer runs now before TimerIRq:
// (TReload+1)·(2·TPrescaler+1)/fc.
func (d *Dev) timerDuration() time.Duration {
	return carrierTime((d.tReload + 1) * (2*d.tPre + 1))
}
