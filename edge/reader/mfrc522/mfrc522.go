// Package mfrc522 drives an NXP MFRC522 (RC522 board) badge reader over SPI
// through periph's interfaces and reads ISO 14443A cards with it: it
// implements reader.Reader for the door agent.
//
// # Use
//
//	dev, err := mfrc522.Open(port, &mfrc522.Options{Reset: rst}) // or New(conn, ...)
//	...
//	card, err := dev.Next(ctx) // blocks until a card is newly presented
//
// The chip is initialised once, by the first call that needs it or by Init:
// a hard reset through NRSTPD when Options.Reset is given (else a soft
// reset), a wait for the oscillator, the VersionReg check (NXP v0.0, v1.0,
// v2.0 and the 0x88 and 0x12 clones), the timer, 100 % ASK and CRC preset,
// the antenna on and the 5 ms guard time cards need to power up. A failure to
// talk to the chip is an ErrChipNotResponding (or ErrUnknownChip) error naming
// what was read and the wires to check; the next call then initialises again,
// so the door agent just retries Next with a backoff.
//
// # Reading
//
// Next polls the field every Options.PollInterval. Each poll sends REQA;
// a card answering is walked through every cascade level (as SAK bit 2 says),
// with the bit collisions of several cards resolved from CollReg so that one
// card is read and never a mix of two, its BCC and every CRC_A checked, and a
// SELECT at each level. The card is then halted (HLTA; an ISO 14443-4
// card by the next frame, see below). A halted card does not
// answer REQA, so it is not read again while it stays. When no card answers
// REQA, WUPA wakes the halted cards and each one remembered is looked for by
// its whole UID (SELECT of the levels before the last, then an ANTICOLLISION
// frame carrying the whole last level, which only that card answers), so that
// a card taken away and presented again is a new tap even while another card
// sharing its first cascade level stays, and one presentation gives exactly
// one. A remembered card that answers REQA again after a REQA went
// unanswered (so it was asleep in HALT) has lost power since: it was taken
// away and presented again, if need be between two polls (the driver's
// goroutine held up on a loaded host), and that is a new tap too; a card
// woken by the driver's own field reset, or one that ignores HLTA (never
// asleep), is not. ReadCard reads whatever card is in the field now (WUPA, so
// halted cards too), for a technician's test.
//
// A card error (a card taken away in the middle of its read, a garbled,
// colliding or CRC-failed answer) matches reader.ErrCard; chip failures do
// not. A read cut short leaves the card in READY, or in ACTIVE when its SAK
// was lost, and neither answers the next REQA or WUPA (the card falls back
// to IDLE, or sleeps in HALT after an HLTA), so after a card error the
// driver resets the field (5.1 ms off, then the 5 ms guard time): every card
// powers up in IDLE and the next poll reads it. Halted cards resting on the
// reader wake too; a poll reads them again as the same presentations and
// goes on, in the same poll, to the card that is new. Before the reset the
// remembered cards are looked for among the halted ones, so that a badge that
// came back between two polls and failed its first read is not among them.
//
// # ISO/IEC 14443-4 (T=CL, ISO-DEP)
//
// A card whose SAK has bit 6 (20h: MIFARE DESFire, NTAG 424 DNA, smart
// cards, phones) takes APDUs. The door agent calls OpenISODEP with the card
// Next returned, while it is still in the field:
//
//	card, err := dev.Next(ctx)
//	s, err := dev.OpenISODEP(ctx, card) // RATS, ATS checked
//	resp, err := s.Transceive(ctx, apdu)
//	err = s.Close()                      // S(DESELECT): the card sleeps in HALT
//
// Next leaves such a card selected instead of halting it: its HLTA is
// deferred to whatever the driver sends next, unless that is OpenISODEP
// for this card, which then starts at once with RATS. A UID-only tap of it
// costs the same transactions, the HLTA's 3 being paid by the next poll. A
// card halted meanwhile (read by ReadCard, or by Next before another
// operation) is woken first: WUPA and a SELECT of its UID at each cascade
// level (another card woken with it from HALT falls back asleep at the next
// frame). RATS goes with FSDI 5 (FSD 64 bytes, the FIFO: a frame is read
// in one burst and never streamed) and CID 0, and the ATS is checked (ParseATS:
// TL, T0, TA(1), TB(1), TC(1), caps MaxFWI and MaxSFGI; ErrATS). The
// driver sends no CID nor NAD byte and stays at 106 kbit/s (no PPS). Its
// frames are cut to min(FSC, 64) bytes with PCB and CRC_A.
//
// Session.Transceive follows ISO/IEC 14443-4 7.5: block numbers from 0
// (rule A, toggled by rule B), chaining both ways (rule 2: each chained
// block acknowledged with R(ACK)), and the recovery rules of 7.5.4: a
// timeout, a CRC_A error, a parity error or an invalid PCB gets R(NAK) (or
// R(ACK) while the card chains, rule 5); an R(ACK) with the other block
// number makes the reader send its last I-block again (rule 6); at most 3
// such steps in a row, then ErrTimeout, ErrCRC or ErrProtocol. S(WTX) is
// answered with the same WTXM and the chip's timer set to WTXM times the
// FWT for that one wait (at most FWI 14's 4.9 s); more than 8 requests in a
// row end with ErrWTXLimit, and ctx's deadline bounds the whole exchange
// (it is checked before every frame). Every error ends the session and
// leaves the chip ready: a card error resets the field, as after a failed
// read (the next poll reads the card afresh), and so does the end of ctx.
//
// The chip's timer (TPrescaler, TReload, TAuto) is set per frame from the
// waiting time: 65536/fc for the ATS and the S(DESELECT) answer, the card's
// FWT (302 µs·2^FWI) for blocks, each plus EMVCo's ΔFWT of 49152/fc
// (3.6 ms). The 9.96 µs tick of the UID reads is kept up to 652 ms, so a
// change costs the two TReload writes, made in the batch of the frame that
// needs it. CRC_A is computed in software, as for the UID reads. With the
// IRQ pin, the driver waits for its edge (the answer, or the timer at the
// end of the waiting time); without, it reads the status once the expected
// answer could be complete and then every 0.2 ms, 0.4 ms, ... up to 1 ms
// while the card processes.
//
// Counted on the simulator, with the card answering at once
// (TestISODEPSPITransactions): Next reads an ISO 14443-4 card in 17, 27
// and 37 SPI transactions for 4-, 7- and 10-byte UIDs (the UID read's 20,
// 30 and 40 without the deferred HLTA); then RATS costs 7, a short APDU 7
// and S(DESELECT) 7: 21 for RATS, one short APDU and S(DESELECT). Waking a
// halted card first adds WUPA (7) and a SELECT (5) per cascade level.
// BenchmarkISODEP reports these with the time modelled on a Pi Zero
// (mfrc522sim.PiZeroTime).
//
// The door agent reaches this through reader.Card.APDU, which Next fills
// for a card it leaves selected (SAK bit 6, a new tap): the first
// Transceive on it opens the session (OpenISODEP: RATS alone), the next
// ones reuse it, and the driver's next card operation (a poll of Next,
// ReadCard, OpenISODEP) deselects it and ends the channel, whose
// Transceive then fails with ErrSessionClosed. Every error of the channel
// matches reader.ErrCard (a chip failure too: the agent makes no decision
// on it, and the next Next initialises the chip again). A secure card
// that is never sent an APDU costs what a UID-only badge does: 17, 27 or
// 37 transactions, and the deferred HLTA's 3 in the next poll.
//
// BenchmarkSecureTap runs a whole secure tap on the simulator, the UID
// read, edge/credential.Authenticate through Card.APDU and the S(DESELECT)
// (TestSecureTap* check the same flow for NTAG 424 DNA and DESFire EV2
// badges with 4- and 7-byte UIDs, a clone and a card pulled mid-way). It
// reports the SPI transactions and the time modelled on a Pi Zero, with
// the card's processing time per command from two models: the worst a
// compliant card may take (the whole FWT of its ATS for every command) and
// a typical figure, assumed (no public per-command timing exists; see
// secureTimings in securetap_test.go).
//
// # Bus traffic
//
// Register writes that do not depend on each other go in one TxPackets call
// (one chip-select frame each), the status registers are read in one frame,
// the FIFO is written and read in bursts, CRC_A and BCC are computed in
// software, and the chip stays in Transceive between the frames of one read.
// Instead of polling the chip, the driver waits the modelled air time of each
// frame (or for the IRQ pin when Options.IRQ is given) and reads the status
// once. BenchmarkReadUID measures 20 SPI transactions for a 4-byte UID, 30
// for a 7-byte one and 40 for a 10-byte one, HLTA included, in 10, 16 and 22
// Tx/TxPackets calls (ioctls on a Pi).
//
// Not every spi.Conn implements TxPackets: periph's bit-banged SPI
// (devices/v3/bitbang) and its spitest connections answer "not implemented",
// and periph has no error value to tell that from a bus failure. So the
// first batch of writes after each chip reset (in Init, whose reset already
// went through single Tx calls) decides: when TxPackets fails and the same
// writes succeed one Tx each, the driver keeps to one Tx per register access
// until the next reset. The chip-select frames are the same on both paths
// (20, 30 and 40 SPI transactions per read, as BenchmarkReadUID's "swc-tx"
// runs measure); only the calls grow to one per transaction (20, 30 and 40
// instead of 10, 16 and 22), which at 20 µs per call on a Pi adds 0.2 to
// 0.4 ms to a read.
//
// # Concurrency
//
// A Dev is safe for concurrent use: each chip operation holds one mutex. The
// driver starts no goroutine. Close is idempotent and ends a waiting Next.
package mfrc522

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/smartworkcenters/swc/edge/reader"
)

// MaxSPIClock is the MFRC522's highest SPI clock.
const MaxSPIClock = 10 * physic.MegaHertz

// DefaultPollInterval is how often Next looks for a card.
const DefaultPollInterval = 50 * time.Millisecond

// Gain is the receiver gain (RFCfgReg.RxGain) in dB: 18, 23, 33, 38, 43 or 48.
// Raise it for cards far from the antenna; lower it against noise.
type Gain int

// Clock is the driver's source of time for its short waits on the chip (reset,
// guard time, a frame's air time). The simulator in mfrc522sim is one, so
// that tests run on its virtual time.
type Clock interface {
	Now() time.Time
	Sleep(d time.Duration)
}

type systemClock struct{}

func (systemClock) Now() time.Time        { return time.Now() }
func (systemClock) Sleep(d time.Duration) { time.Sleep(d) }

// Options configure a Dev. The zero value polls without reset or IRQ pins.
type Options struct {
	// Reset is the pin wired to NRSTPD (RST on RC522 boards): a hard reset at
	// initialisation. Nil: soft reset.
	Reset gpio.PinOut
	// IRQ is the pin wired to IRQ: the driver waits for its falling edge
	// instead of sleeping a frame's air time. Nil: no IRQ.
	IRQ gpio.PinIn
	// AntennaGain sets the receiver gain; 0 keeps the chip's 33 dB.
	AntennaGain Gain
	// PollInterval is how often Next looks for a card; 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
	// Clock is the time source for waits on the chip; nil means the system
	// clock.
	Clock Clock
}

// Dev is an MFRC522 and the cards in its field.
type Dev struct {
	c     spi.Conn
	reset gpio.PinOut
	irq   gpio.PinIn
	clock Clock
	every time.Duration

	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	closed  bool
	ready   bool // initialised
	version Version
	gain    Gain
	live    bool       // the chip is in Transceive with its receiver done: waiting for StartSend
	dirty   bool       // the FIFO may hold bytes
	quiet   time.Time  // a frame without answer is on the air (or its timer runs) until then
	present []presence // the halted cards known to be in the field

	// The bus path, detected after each chip reset by the first batch of
	// writes (see batch.send): packets, or one Tx per register access.
	noPackets  bool // the connection refused TxPackets and Tx works: one Tx per frame
	busChecked bool // the first batch since the reset has gone through

	tPre    int      // TPrescaler (12 bits) as last written
	tReload int      // TReload as last written
	session *Session // the ISO 14443-4 session open with a card, or nil
	held    []byte   // UID of the ISO 14443-4 card Next left selected (HLTA deferred), or nil
	taps    uint64   // card operations so far (polls, ReadCard, OpenISODEP): a Card.APDU channel works while it is its own

	irqMisses int  // exchanges in a row completed without an IRQ edge
	irqOff    bool // the IRQ pin never fires: wait by time instead
	buf       []byte
	pk        []spi.Packet
}

var _ reader.Reader = (*Dev)(nil)

// New returns a driver for the chip on c. It does no I/O: the chip is
// initialised by Init or by the first call that needs it.
func New(c spi.Conn, opts *Options) (*Dev, error) {
	if c == nil {
		return nil, errors.New("mfrc522: nil spi.Conn")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.AntennaGain != 0 {
		if _, err := gainCode(o.AntennaGain); err != nil {
			return nil, err
		}
	}
	if o.PollInterval < 0 {
		return nil, fmt.Errorf("mfrc522: negative poll interval %s", o.PollInterval)
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	d := &Dev{
		c:     c,
		reset: o.Reset,
		irq:   o.IRQ,
		clock: o.Clock,
		every: o.PollInterval,
		gain:  o.AntennaGain,
		done:  make(chan struct{}),
	}
	if d.irq != nil {
		if err := d.irq.In(gpio.PullUp, gpio.FallingEdge); err != nil {
			return nil, fmt.Errorf("mfrc522: IRQ pin %s: %w", d.irq, err)
		}
	}
	return d, nil
}

// Open connects port at MaxSPIClock (or the port's lower limit), mode 0, 8
// bits, and returns New's driver on that connection.
func Open(port spi.Port, opts *Options) (*Dev, error) {
	c, err := port.Connect(MaxSPIClock, spi.Mode0, 8)
	if err != nil {
		return nil, fmt.Errorf("mfrc522: connecting %s: %w", port, err)
	}
	return New(c, opts)
}

func (d *Dev) String() string { return fmt.Sprintf("MFRC522 on %s", d.c) }

// lock takes the chip for one operation, initialising it first if needed.
func (d *Dev) lock(ctx context.Context, needChip bool) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return reader.ErrClosed
	}
	if err := ctxErr(ctx, "waiting for the chip"); err != nil {
		d.mu.Unlock()
		return err
	}
	if needChip && !d.ready {
		if err := d.init(ctx); err != nil {
			d.mu.Unlock()
			return err
		}
	}
	return nil
}

// Init initialises the chip now (again if it was). It is optional: the first
// call that needs the chip does it.
func (d *Dev) Init(ctx context.Context) error {
	if err := d.lock(ctx, false); err != nil {
		return err
	}
	defer d.mu.Unlock()
	return d.init(ctx)
}

// Version reads VersionReg. It needs no initialisation, so a technician can
// check the wiring with it first.
func (d *Dev) Version(ctx context.Context) (Version, error) {
	if err := d.lock(ctx, false); err != nil {
		return 0, err
	}
	defer d.mu.Unlock()
	r, err := d.readRegs(regVersion)
	if err != nil {
		return 0, &Error{Op: "version", Kind: ErrChipNotResponding, Err: err}
	}
	return Version(r[0]), nil
}

// SetAntennaGain changes the receiver gain.
func (d *Dev) SetAntennaGain(ctx context.Context, g Gain) error {
	code, err := gainCode(g)
	if err != nil {
		return err
	}
	if err := d.lock(ctx, false); err != nil {
		return err
	}
	defer d.mu.Unlock()
	d.gain = g
	if !d.ready {
		return nil
	}
	if err := d.writeReg(regRFCfg, code); err != nil {
		d.ready = false
		return &Error{Op: "set gain", Kind: ErrChipNotResponding, Err: err}
	}
	return nil
}

func gainCode(g Gain) (byte, error) {
	switch g {
	case 0, 33:
		return 4 << 4, nil
	case 18:
		return 0, nil
	case 23:
		return 1 << 4, nil
	case 38:
		return 5 << 4, nil
	case 43:
		return 6 << 4, nil
	case 48:
		return 7 << 4, nil
	}
	return 0, fmt.Errorf("mfrc522: antenna gain %d dB not available (18, 23, 33, 38, 43 or 48)", int(g))
}

// Close switches the field off, puts the chip into soft power-down and makes
// every later call (and a Next waiting now) return reader.ErrClosed. It is
// idempotent.
func (d *Dev) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.done)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.closed = true
		if d.ready {
			if e := d.writeReg(regCommand, commandPowerDown); e != nil {
				err = &Error{Op: "close", Kind: ErrChipNotResponding, Err: e}
			}
			d.ready = false
		}
	})
	return err
}

// ctxErr turns a finished context into the driver's error: a deadline is a
// timeout.
func ctxErr(ctx context.Context, op string) error {
	err := ctx.Err()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Op: op, Kind: ErrTimeout, Err: err}
	}
	return fmt.Errorf("mfrc522: %s: %w", op, err)
}

// presence is a halted card known to be in the field.
//
// asleep says that a REQA went unanswered since the card was halted (and the
// field was not switched off since): the card was then in HALT, where REQA
// never reaches it, and it stays there while it keeps its power. If it
// answers REQA again, it has lost power since: it left the field and came
// back, however briefly, even between two polls (a goroutine held up on a
// loaded host, a badge taken away and tapped again quickly). That is a new
// presentation. A card that answers REQA without having been asleep is the
// same presentation: it was woken by the driver's own field reset (after a
// card error, or a chip reset), or it ignores HLTA and answers every REQA
// (it is then never asleep, so it still counts once).
type presence struct {
	uid    []byte
	asleep bool
}

// known returns the halted card with this UID known present, or nil.
func (d *Dev) known(uid []byte) *presence {
	for i := range d.present {
		if bytes.Equal(d.present[i].uid, uid) {
			return &d.present[i]
		}
	}
	return nil
}

// fieldWasOff records that the field was switched off: every card in it
// powers up in IDLE and answers the next REQA, as the same presentation.
func (d *Dev) fieldWasOff() {
	if d.session != nil { // the card lost its power, and the protocol state with it
		d.session.done, d.session = true, nil
	}
	d.held = nil
	for i := range d.present {
		d.present[i].asleep = false
	}
}
