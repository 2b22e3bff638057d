package mfrc522

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Chip timings.
const (
	resetPulse     = 10 * time.Microsecond  // NRSTPD low; the datasheet asks 100 ns
	startupTimeout = 150 * time.Millisecond // oscillator start-up after a reset, generously
	guardTime      = 5 * time.Millisecond   // ISO 14443-3: field on before the first command
	chipStallLimit = 20 * time.Millisecond  // a command the chip has not finished by then never will
)

const wiringHint = "check wiring: MISO/MOSI/SCK/SDA"

// init resets and configures the chip; d.mu is held.
func (d *Dev) init(ctx context.Context) error {
	d.ready, d.live, d.dirty = false, false, false
	if err := d.resetChip(ctx, "init"); err != nil {
		return err
	}
	code, _ := gainCode(d.gain)
	b := d.batch()
	b.write(regTMode, tModeTAuto|timerPrescaler>>8)
	b.write(regTPrescaler, timerPrescaler&0xFF)
	b.write(regTReloadH, timerReload>>8)
	b.write(regTReloadL, timerReload&0xFF)
	b.write(regTxASK, txASKForce100)
	b.write(regMode, modeCRCPreset6363)
	b.write(regColl, valuesAfterCollZero)
	b.write(regRFCfg, code)
	if d.irq != nil {
		b.write(regComIEn, comIEnExchangeDone)
	}
	b.write(regTxControl, txControlAntennaOn)
	if err := b.send(); err != nil {
		return &Error{Op: "init", Kind: ErrChipNotResponding, Err: err}
	}
	// Read the configuration back: a chip that reads but does not take
	// writes (MOSI or SCK loose) shows here rather than as "no card".
	want := []byte{tModeTAuto | timerPrescaler>>8, timerPrescaler & 0xFF, timerReload & 0xFF, txASKForce100, modeCRCPreset6363, code, txControlAntennaOn}
	got, err := d.readRegs(regTMode, regTPrescaler, regTReloadL, regTxASK, regMode, regRFCfg, regTxControl)
	if err != nil {
		return &Error{Op: "init", Kind: ErrChipNotResponding, Err: err}
	}
	got[5] &= 0x70 // RFCfgReg: only RxGain is ours
	if !bytes.Equal(got, want) {
		return fail("init", ErrChipNotResponding, fmt.Sprintf("configuration registers read back % X, written % X: the chip does not take writes; %s", got, want, wiringHint))
	}
	d.tPre, d.tReload = timerPrescaler, timerReload
	d.clock.Sleep(guardTime)
	d.quiet = time.Time{}
	d.ready = true
	return nil
}

// fieldOff is how long resetField keeps the field off: long enough for the
// cards to lose power and fall back to POWER-OFF (ISO/IEC 14443-3 5.2.4);
// 5.1 ms is the reset time EMVCo contactless readers use.
const fieldOff = 5100 * time.Microsecond

// resetField switches the antenna off and on again, with the guard time
// after it: every card in the field starts again in IDLE. d.mu is held.
func (d *Dev) resetField() error {
	const op = "field reset"
	b := d.batch()
	b.write(regCommand, cmdIdle)
	b.write(regFIFOLevel, fifoFlush)
	b.write(regTxControl, txControlAntennaOff)
	if err := b.send(); err != nil {
		return &Error{Op: op, Kind: ErrChipNotResponding, Err: err}
	}
	d.live, d.dirty = false, false
	d.fieldWasOff()
	d.clock.Sleep(fieldOff)
	if err := d.writeReg(regTxControl, txControlAntennaOn); err != nil {
		return &Error{Op: op, Kind: ErrChipNotResponding, Err: err}
	}
	d.clock.Sleep(guardTime)
	d.quiet = time.Time{}
	return nil
}

// resetChip resets the chip (hard through NRSTPD, else soft), waits for its
// oscillator and checks its version; d.mu is held.
func (d *Dev) resetChip(ctx context.Context, op string) error {
	d.noPackets, d.busChecked = false, false
	d.fieldWasOff() // a reset chip has its antenna off
	if d.reset != nil {
		if err := d.reset.Out(gpio.Low); err != nil {
			return &Error{Op: op, Kind: ErrChipNotResponding, Detail: "driving NRSTPD low", Err: err}
		}
		d.clock.Sleep(resetPulse)
		if err := d.reset.Out(gpio.High); err != nil {
			return &Error{Op: op, Kind: ErrChipNotResponding, Detail: "driving NRSTPD high", Err: err}
		}
	} else if err := d.writeReg(regCommand, cmdSoftReset); err != nil {
		return &Error{Op: op, Kind: ErrChipNotResponding, Err: err}
	}
	start := d.clock.Now()
	wait := 50 * time.Microsecond
	for {
		r, err := d.readRegs(regCommand, regVersion)
		if err != nil {
			return &Error{Op: op, Kind: ErrChipNotResponding, Err: err}
		}
		v := Version(r[1])
		if dead(r) {
			return fail(op, ErrChipNotResponding, fmt.Sprintf("VersionReg reads %#02x and CommandReg %#02x: nothing answers on the SPI bus; check power (3.3 V) and wiring: MISO/MOSI/SCK/SDA", r[1], r[0]))
		}
		if r[0]&commandPowerDown == 0 {
			switch {
			case v == 0x00 || v == 0xFF:
				return fail(op, ErrChipNotResponding, fmt.Sprintf("VersionReg reads %#02x: the chip does not answer; check power (3.3 V) and wiring: MISO/MOSI/SCK/SDA", byte(v)))
			case !v.Known():
				return fail(op, ErrUnknownChip, fmt.Sprintf("VersionReg reads %#02x, which no MFRC522 or known clone has; %s", byte(v), wiringHint))
			}
			d.version = v
			return nil
		}
		if d.clock.Now().Sub(start) > startupTimeout {
			return fail(op, ErrChipNotResponding, fmt.Sprintf("the chip stays in power-down %s after reset (CommandReg %#02x); check its 3.3 V supply and NRSTPD wiring", startupTimeout, r[0]))
		}
		if err := ctxErr(ctx, op); err != nil {
			return err
		}
		d.clock.Sleep(wait)
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// dead reports a bus that reads all zeros or all ones.
func dead(r []byte) bool {
	for _, v := range []byte{0x00, 0xFF} {
		if bytes.Count(r, []byte{v}) == len(r) {
			return true
		}
	}
	return false
}

// SelfTest runs the datasheet's digital self-test (section 16.1.1) and
// initialises the chip again. It returns nil when the chip's 64 bytes match
// the reference of its version, ErrSelfTest when they do not, and
// ErrNoSelfTestReference when no reference is known (the 0x12 clones).
func (d *Dev) SelfTest(ctx context.Context) error {
	if err := d.lock(ctx, false); err != nil {
		return err
	}
	defer d.mu.Unlock()
	d.ready = false
	out, err := d.selfTest(ctx)
	if err != nil {
		return err
	}
	if err := d.init(ctx); err != nil {
		return err
	}
	if d.irq != nil {
		if err := d.checkIRQ(ctx); err != nil {
			return err
		}
	}
	ref := selfTestReference(d.version)
	if ref == nil {
		return fail("self-test", ErrNoSelfTestReference, d.version.String())
	}
	for i := range ref {
		if out[i] != ref[i] {
			return fail("self-test", ErrSelfTest, fmt.Sprintf("%s: byte %d is %#02x, the reference says %#02x", d.version, i, out[i], ref[i]))
		}
	}
	return nil
}

func (d *Dev) selfTest(ctx context.Context) ([]byte, error) {
	const op = "self-test"
	if err := d.resetChip(ctx, op); err != nil {
		return nil, err
	}
	chipErr := func(err error) error { return &Error{Op: op, Kind: ErrChipNotResponding, Err: err} }
	// Clear the internal buffer: 25 zero bytes stored by the Mem command.
	b := d.batch()
	b.write(regFIFOLevel, fifoFlush)
	b.write(regFIFOData, make([]byte, 25)...)
	b.write(regCommand, cmdMem)
	if err := b.send(); err != nil {
		return nil, chipErr(err)
	}
	if err := d.waitIdle(op); err != nil {
		return nil, err
	}
	b = d.batch()
	b.write(regAutoTest, autoTestSelfTest)
	b.write(regFIFOData, 0x00)
	b.write(regCommand, cmdCalcCRC)
	if err := b.send(); err != nil {
		return nil, chipErr(err)
	}
	start := d.clock.Now()
	for {
		r, err := d.readRegs(regFIFOLevel)
		if err != nil {
			return nil, chipErr(err)
		}
		if r[0] >= 64 {
			break
		}
		if d.clock.Now().Sub(start) > chipStallLimit {
			return nil, fail(op, ErrChipNotResponding, fmt.Sprintf("the self-test left %d bytes in the FIFO, not 64", r[0]))
		}
		d.clock.Sleep(100 * time.Microsecond)
	}
	out, err := d.readFIFO(64)
	if err != nil {
		return nil, chipErr(err)
	}
	b = d.batch()
	b.write(regAutoTest, autoTestNormal)
	b.write(regCommand, cmdIdle)
	if err := b.send(); err != nil {
		return nil, chipErr(err)
	}
	return out, nil
}

// checkIRQ starts the chip's timer with its interrupt enabled and checks that
// the IRQ pin signals it.
func (d *Dev) checkIRQ(ctx context.Context) error {
	const op = "self-test IRQ"
	for i := 0; i < 4 && d.irq.WaitForEdge(0); i++ { // drop stale edges
	}
	b := d.batch()
	b.write(regComIrq, irqAll)
	b.write(regControl, controlTStartNow)
	if err := b.send(); err != nil {
		return &Error{Op: op, Kind: ErrChipNotResponding, Err: err}
	}
	edge := d.irq.WaitForEdge(timerTimeout() + chipStallLimit)
	if !edge {
		d.clock.Sleep(timerTimeout()) // the pin may have returned early
	}
	r, err := d.readRegs(regComIrq)
	if err != nil {
		return &Error{Op: op, Kind: ErrChipNotResponding, Err: err}
	}
	if err := d.writeReg(regComIrq, irqAll); err != nil {
		return &Error{Op: op, Kind: ErrChipNotResponding, Err: err}
	}
	switch {
	case r[0]&irqTimer == 0:
		return fail(op, ErrChipNotResponding, fmt.Sprintf("the chip's timer did not run (ComIrq %#02x)", r[0]))
	case !edge:
		return fail(op, ErrSelfTest, fmt.Sprintf("the chip raised its interrupt but %s saw no falling edge: check the IRQ wire (and a pull-up on the pin)", d.irq))
	}
	d.irqOff, d.irqMisses = false, 0
	return ctxErr(ctx, op)
}

// waitIdle waits for a command that ends by itself to end.
func (d *Dev) waitIdle(op string) error {
	start := d.clock.Now()
	for {
		r, err := d.readRegs(regCommand)
		if err != nil {
			return &Error{Op: op, Kind: ErrChipNotResponding, Err: err}
		}
		if r[0]&0x0F == cmdIdle {
			return nil
		}
		if d.clock.Now().Sub(start) > chipStallLimit {
			return fail(op, ErrChipNotResponding, fmt.Sprintf("command %#x never ended", r[0]&0x0F))
		}
		d.clock.Sleep(50 * time.Microsecond)
	}
}
