// Package mfrc522sim simulates an NXP MFRC522 badge reader chip and the ISO
// 14443A cards in its field, at register level, behind periph's SPI and GPIO
// interfaces. The driver in the parent package runs on it unchanged, so the
// code under test is the code that runs on the Pi; the door agent runs on it
// for development and demos.
//
// # What is simulated
//
// A *Sim is an spi.Port (Connect once, mode 0, 8 bits, at most 10 MHz) and,
// for convenience, an spi.Conn already connected at the configured clock. The
// SPI address byte is 0x80·read | register<<1; a write frame writes all its
// data bytes to one register; a read frame reads one register per byte, the
// answer arriving one byte later. Registers have their datasheet reset values;
// ComIrq and DivIrq are set or cleared by their Set bit; the 64-byte FIFO
// overflows into ErrorReg.BufferOvfl; the commands Idle, Mem, GenerateRandomID,
// CalcCRC (and the datasheet self-test), Transmit, Receive, Transceive with
// StartSend and SoftReset (which switches the field off) are executed; the
// timer counts on the virtual clock and raises TimerIRq; TxLastBits, RxAlign
// and RxLastBits frame partial bytes; TxMode/RxMode CRC enable append and
// check CRC_A (CRCErr); ErrorReg and CollReg report collisions, parity and
// protocol errors. MFAuthent (MIFARE Crypto1) is not simulated: it ends at
// once with ProtocolErr. IRQ returns the chip's IRQ output as a gpio pin and
// ResetPin its NRSTPD input.
//
// Cards (Present, CardSpec) follow the ISO 14443-3 type A state machine
// (POWER-OFF, IDLE, READY, ACTIVE, HALT and the READY*/ACTIVE* states entered
// from HALT), answer REQA, WUPA, ANTICOLLISION and SELECT on every cascade
// level for 4, 7 and 10-byte UIDs, and HLTA. Several cards in the field answer
// together and their bits collide as on the air. Faults can be injected per
// card (Card.Inject): a noisy frame, a wrong CRC_A, a missing answer, a card
// pulled out of the field in the middle of its answer, noise the chip takes
// for a bit collision. A CardSpec.Responder
// replaces the state machine altogether (a broken or hostile card; the
// driver's fuzz target uses one). A card in the ACTIVE state hands every other
// valid frame to its Application; a card with a CardSpec.ISODEP speaks
// ISO/IEC 14443-4 instead (RATS and ATS, I-, R- and S-blocks, chaining both
// ways, S(WTX) when slow, S(DESELECT)) to an App that takes and returns
// whole APDUs, with faults injected on its blocks (Block: a bad CRC_A, a bad
// PCB, a lost answer, the card pulled out half-way through a block).
//
// The ISO 14443-4 layer (ISODEP) answers RATS with a configurable ATS (the
// DESFire's by default; hostile ones are sent as given), takes frames up
// to the FSC of that ATS and sends frames up to the FSD of the RATS, and
// follows the PICC rules of ISO/IEC 14443-4 7.5.4: its block number starts
// at 1, an R(NAK) with its number gets the last block again and one with
// the other number R(ACK), an R(ACK) with the other number continues its
// chain, invalid blocks are ignored. A slow card (ISODEP.WTX, WTXM) sends
// S(WTX) requests before its answer, which comes ISODEP.Processing after
// the reader's last frame. Faults on its blocks: BadCRC, BadPCB, Noise,
// NoAnswer, Pulled (the card leaves the field half-way through a block:
// in the middle of a chained exchange with Fault.After), Deaf (the card
// does not hear a reader's block), and a WTX storm (WTX set very high).
//
// Counters tells the SPI calls, transactions (chip-select frames) and bytes,
// bus violations, resets, frames on the air and the modelled wire and air
// time, and the bits on the air and the cards' frame delay and processing
// times that PiZeroTime turns into the modelled time of the counted work on
// a Raspberry Pi Zero; Register and Card.State let a test look inside
// without bus traffic.
//
// # Time
//
// The simulator keeps a virtual clock. It advances by the modelled duration
// of every SPI call (Options.TransferOverhead per call plus the bits at the
// SPI clock), by Sleep (the host sleeping, plus Options.SleepLatency), by
// Advance, and when a goroutine waits on the IRQ pin for a chip event that is
// due. Frames on the air take their ISO 14443 time (start bit, data, parity,
// end, frame delay time), so the virtual time a read takes is the modelled time
// of that read on a Pi. With Options.AnswerAtOnce the chip's commands and the
// cards' answers complete as soon as they start (the "card answering at once"
// in which the reference SPI transaction counts are given).
//
// By default the clock is driven explicitly, so tests are deterministic: pass
// the Sim as the driver's clock (it has Now and Sleep) and the driver's short
// waits cost no wall time. With Options.WallClock the virtual clock also
// follows wall time; use that when the driver runs with its own (system)
// clock, as the door agent does with driver = "sim".
//
// # Use from another goroutine
//
// All methods are safe for concurrent use. To present a card while a driver
// polls, as the agent's `swc-edge tap --uid HEX` does:
//
//	sim := mfrc522sim.New(mfrc522sim.Options{WallClock: true})
//	dev, _ := mfrc522.New(sim, nil) // the driver polls sim as its spi.Conn
//	...
//	card, err := sim.Present(mfrc522sim.NewCard(uid, mfrc522sim.MifareClassic1K))
//	time.Sleep(300 * time.Millisecond)
//	sim.Remove(card)
//
// or, without waiting, sim.PresentFor(spec, 300*time.Millisecond).
//
// The caller must keep the card present for at least two of the driver's poll
// intervals plus one read (the driver's default interval is 50 ms, so 150 ms
// is enough and 300 ms is comfortable), and must keep calling the driver's
// Next meanwhile; the driver halts the card after reading it, so one
// presentation gives exactly one tap however long the card stays. Present the
// same UID again only after Remove.
package mfrc522sim

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Options configure a simulator. The zero value is a genuine MFRC522 v2.0 on
// a 10 MHz bus with a Raspberry Pi's transfer overhead, cards answering after
// their ISO 14443 frame times, and an explicitly driven clock.
type Options struct {
	// Version is the VersionReg value: 0x91 and 0x92 for NXP MFRC522 v1.0 and
	// v2.0, 0x88 for the Fudan FM17522 clone, 0x12 for a common counterfeit.
	// 0 means 0x92.
	Version byte
	// SPIClock is the port's clock; Connect may lower it. 0 means 10 MHz.
	SPIClock physic.Frequency
	// TransferOverhead is the modelled host cost of one Tx or TxPackets call
	// (an ioctl on Linux spidev). 0 means 20 µs, a Raspberry Pi 3/4 figure;
	// set a negative value for none.
	TransferOverhead time.Duration
	// SleepLatency is what a host sleep costs beyond the requested duration
	// (timer slack and scheduling). 0 means 60 µs; negative means none.
	SleepLatency time.Duration
	// HardResetStartup is how long the chip stays in power-down after NRSTPD
	// goes high (oscillator start-up). 0 means 1 ms; negative means none.
	HardResetStartup time.Duration
	// FaultySelfTest makes the digital self-test give wrong bytes: a damaged
	// chip.
	FaultySelfTest bool
	// AnswerAtOnce completes chip commands and card answers as soon as they
	// start, without air time.
	AnswerAtOnce bool
	// WallClock makes the virtual clock follow wall time as well.
	WallClock bool
}

// ChipFault is a fault of the chip or of its wiring, set with SetChipFault.
type ChipFault int

const (
	// ChipOK is a working chip.
	ChipOK ChipFault = iota
	// BusStuckLow: MISO reads all zeros (chip unpowered or MISO shorted low);
	// writes are lost.
	BusStuckLow
	// BusStuckHigh: MISO reads all ones (MISO floating high, chip absent);
	// writes are lost.
	BusStuckHigh
	// ChipHung: registers read and write, but commands never run: no
	// transmission, no interrupt, no timer.
	ChipHung
)

func (f ChipFault) String() string {
	switch f {
	case ChipOK:
		return "ok"
	case BusStuckLow:
		return "bus stuck low"
	case BusStuckHigh:
		return "bus stuck high"
	case ChipHung:
		return "chip hung"
	}
	return fmt.Sprintf("ChipFault(%d)", int(f))
}

// Counters are what the simulator counted since New or ResetCounters.
type Counters struct {
	Calls      int64         // Tx and TxPackets calls (ioctls on a Pi)
	Frames     int64         // chip-select frames: SPI transactions
	Bytes      int64         // bytes clocked on the bus
	Violations int64         // frames the chip would misread (bad address byte, write to a reserved register, short read buffer)
	HardResets int64         // NRSTPD pulses
	SoftResets int64         // SoftReset commands
	Exchanges  int64         // frames sent on the air
	WireTime   time.Duration // modelled SPI time (overheads and clocking)
	AirTime    time.Duration // modelled RF time of frames and their answers
	AirBits    int64         // bit periods on the air at 106 kbit/s, both ways (start, data, parity, end), also with AnswerAtOnce
	CardTime   time.Duration // the cards' frame delay times and processing times before their answers, also with AnswerAtOnce
	Now        time.Duration // the virtual clock
}

// epoch is the wall time the virtual clock starts from (Now).
func epoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// Sim is a simulated MFRC522 with the cards in its field.
type Sim struct {
	mu      sync.Mutex
	opts    Options
	start   time.Time     // wall time at New, for WallClock
	adv     time.Duration // virtual time driven explicitly
	changed chan struct{} // closed and replaced on every state change

	port      physic.Frequency
	clock     physic.Frequency
	connected bool
	fault     ChipFault

	chip  chip
	cards []*Card

	irqPin   *irqPin
	resetPin *resetPin

	counters Counters
}

// New returns a simulator with no card in its field.
func New(opts Options) *Sim {
	if opts.Version == 0 {
		opts.Version = 0x92
	}
	if opts.SPIClock == 0 {
		opts.SPIClock = 10 * physic.MegaHertz
	}
	opts.TransferOverhead = orDefault(opts.TransferOverhead, 20*time.Microsecond)
	opts.SleepLatency = orDefault(opts.SleepLatency, 60*time.Microsecond)
	opts.HardResetStartup = orDefault(opts.HardResetStartup, time.Millisecond)
	s := &Sim{
		opts:    opts,
		start:   time.Now(),
		changed: make(chan struct{}),
		port:    opts.SPIClock,
		clock:   min(opts.SPIClock, 10*physic.MegaHertz),
	}
	s.irqPin = &irqPin{s: s, level: gpio.High}
	s.resetPin = &resetPin{s: s, level: gpio.High}
	s.chip.init(s)
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// now is the virtual clock; s.mu must be held.
func (s *Sim) now() time.Duration {
	if s.opts.WallClock {
		return s.adv + time.Since(s.start)
	}
	return s.adv
}

// notify wakes goroutines waiting on a state change; s.mu must be held.
func (s *Sim) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Now returns the virtual clock as a wall time, so that a Sim can be the
// driver's clock.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return epoch().Add(s.now())
}

// Elapsed returns the virtual time since New.
func (s *Sim) Elapsed() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// Sleep is the host sleeping for d: the virtual clock advances by d plus
// Options.SleepLatency. With WallClock it really sleeps.
func (s *Sim) Sleep(d time.Duration) {
	if s.opts.WallClock {
		time.Sleep(d)
		s.Advance(0)
		return
	}
	s.Advance(max(d, 0) + s.opts.SleepLatency)
}

// Advance moves the virtual clock forward by d and runs what falls due.
func (s *Sim) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adv += max(d, 0)
	s.chip.settle(s.now())
	s.notify()
}

// SetChipFault sets a fault of the chip or its wiring; ChipOK clears it.
func (s *Sim) SetChipFault(f ChipFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
	s.chip.settle(s.now())
	s.notify()
}

// Counters returns the counters.
func (s *Sim) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters
	c.Now = s.now()
	return c
}

// ResetCounters sets the counters to zero (the clock goes on).
func (s *Sim) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = Counters{}
}

// Register returns a register's content as the host would read it, without
// the side effects of a read (the FIFO is not popped) and without counting a
// transaction. It is for tests and diagnostics.
func (s *Sim) Register(reg byte) byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chip.settle(s.now())
	if reg == regFIFOData {
		if len(s.chip.fifo) == 0 {
			return 0
		}
		return s.chip.fifo[0]
	}
	return s.chip.peek(reg & 0x3F)
}

// FieldOn reports whether the antenna's field is on.
func (s *Sim) FieldOn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chip.settle(s.now())
	return s.chip.fieldOn()
}

// IRQ returns the chip's IRQ output as a gpio pin (an input for the host).
func (s *Sim) IRQ() gpio.PinIO { return s.irqPin }

// ResetPin returns the chip's NRSTPD input as a gpio pin (an output for the
// host): low holds the chip in hard power-down, the rising edge resets it.
func (s *Sim) ResetPin() gpio.PinIO { return s.resetPin }

// String implements spi.Port and spi.Conn.
func (s *Sim) String() string {
	return fmt.Sprintf("mfrc522sim(version %#02x)", s.opts.Version)
}

// Duplex implements spi.Conn.
func (s *Sim) Duplex() conn.Duplex { return conn.Full }

// MaxTxSize implements conn.Limits: spidev's default buffer.
func (s *Sim) MaxTxSize() int { return 4096 }

// Connect implements spi.Port. It can be called once; f must not exceed the
// chip's 10 MHz, mode must be 0 and bits 8.
func (s *Sim) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.connected:
		return nil, errors.New("mfrc522sim: Connect called twice on the port")
	case mode != spi.Mode0:
		return nil, fmt.Errorf("mfrc522sim: SPI mode %s not supported; the MFRC522 needs Mode0, MSB first, with chip select", mode)
	case bits != 8:
		return nil, fmt.Errorf("mfrc522sim: %d bits per word not supported; the MFRC522 uses 8", bits)
	case f > 10*physic.MegaHertz:
		return nil, fmt.Errorf("mfrc522sim: %s exceeds the MFRC522's 10 MHz SPI clock", f)
	case f < 0:
		return nil, fmt.Errorf("mfrc522sim: negative frequency %s", f)
	}
	s.connected = true
	s.clock = s.port
	if f != 0 {
		s.clock = min(s.clock, f)
	}
	if s.clock > 10*physic.MegaHertz {
		return nil, fmt.Errorf("mfrc522sim: port clock %s exceeds the MFRC522's 10 MHz", s.clock)
	}
	return s, nil
}

// Tx implements spi.Conn: one chip-select frame.
func (s *Sim) Tx(w, r []byte) error {
	return s.TxPackets([]spi.Packet{{W: w, R: r}})
}

// TxPackets implements spi.Conn: one call, with a chip-select frame per
// packet unless a packet keeps CS asserted for the next.
func (s *Sim) TxPackets(p []spi.Packet) error {
	for i, pk := range p {
		if pk.R != nil && len(pk.R) != len(pk.W) {
			return fmt.Errorf("mfrc522sim: packet %d: read buffer of %d bytes for %d written (full duplex needs equal lengths)", i, len(pk.R), len(pk.W))
		}
		if pk.BitsPerWord != 0 && pk.BitsPerWord != 8 {
			return fmt.Errorf("mfrc522sim: packet %d: %d bits per word not supported", i, pk.BitsPerWord)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.Calls++
	s.spend(s.opts.TransferOverhead)
	var w, r []byte
	var rs []struct {
		dst []byte
		off int
	}
	for i, pk := range p {
		if pk.R != nil {
			rs = append(rs, struct {
				dst []byte
				off int
			}{pk.R, len(w)})
		}
		w = append(w, pk.W...)
		if pk.KeepCS && i < len(p)-1 {
			continue
		}
		r = make([]byte, len(w))
		s.frame(w, r)
		for _, x := range rs {
			copy(x.dst, r[x.off:])
		}
		w, rs = w[:0], rs[:0]
	}
	if len(w) > 0 { // the last packet kept CS asserted: the frame stays open
		r = make([]byte, len(w))
		s.frame(w, r)
		for _, x := range rs {
			copy(x.dst, r[x.off:])
		}
	}
	s.notify()
	return nil
}

// spend advances the virtual clock by d of bus time.
func (s *Sim) spend(d time.Duration) {
	s.adv += d
	s.counters.WireTime += d
}

// frame runs one chip-select frame; s.mu is held.
func (s *Sim) frame(w, r []byte) {
	if len(w) == 0 {
		return
	}
	s.counters.Frames++
	s.counters.Bytes += int64(len(w))
	s.spend(time.Duration(int64(len(w)) * 8 * int64(time.Second) / int64(s.clock/physic.Hertz)))
	s.chip.settle(s.now())
	switch s.fault {
	case BusStuckLow, BusStuckHigh:
		v := byte(0)
		if s.fault == BusStuckHigh {
			v = 0xFF
		}
		for i := range r {
			r[i] = v
		}
		return
	}
	if s.chip.hardPowerDown {
		clear(r) // the chip's SPI is off: MISO reads low
		return
	}
	r[0] = 0
	if w[0]&0x80 != 0 {
		for i := 0; i < len(w)-1; i++ {
			if w[i]&0x81 != 0x80 {
				s.counters.Violations++
			}
			r[i+1] = s.chip.read(w[i] >> 1 & 0x3F)
		}
	} else {
		if w[0]&0x01 != 0 {
			s.counters.Violations++
		}
		reg := w[0] >> 1 & 0x3F
		if reserved(reg) {
			s.counters.Violations++
		}
		for i, v := range w[1:] {
			s.chip.write(reg, v)
			r[i+1] = 0
		}
	}
	s.chip.settle(s.now())
}
