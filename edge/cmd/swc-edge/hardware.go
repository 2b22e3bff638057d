package main

// This file is the only place where swc-edge touches hardware: the periph
// host drivers for a real board, or gpiotest pins and the simulated reader
// for reader.driver = "sim".

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// hardware is the door's hardware, opened from the configuration. The relay
// is locked by the time openHardware returns, with or without an error.
type hardware struct {
	door   *door.Controller
	reader reader.Reader
	sim    agent.SimControls // nil on real hardware
	close  func()            // releases the hardware; the relay stays locked
}

// board is where pins and SPI ports come from: periph's registries on a
// real board, or a test's own.
type board struct {
	init func() error
	pin  func(name string) gpio.PinIO
	spi  func(name string) (spi.PortCloser, error)
}

func periphBoard() board {
	return board{
		init: func() error { _, err := host.Init(); return err },
		pin:  gpioreg.ByName,
		spi:  spireg.Open,
	}
}

func openHardware(cfg *agent.Config, events func(protocol.EventKind), log *slog.Logger) (*hardware, error) {
	if cfg.Reader.Driver == agent.DriverSim {
		return openSim(cfg, events, log, false)
	}
	return openBoard(periphBoard(), cfg, events, log)
}

func pull(cfg *agent.Config) gpio.Pull {
	switch cfg.Door.InputPull {
	case "down":
		return gpio.PullDown
	case "none":
		return gpio.Float
	}
	return gpio.PullUp
}

// doorConfig maps the configuration and the pins found onto door.Config;
// pins not fitted are nil.
func doorConfig(cfg *agent.Config, pins map[string]gpio.PinIO, events func(protocol.EventKind), log *slog.Logger) door.Config {
	d := cfg.Door
	dc := door.Config{
		Lock: door.Output{Pin: pins[d.LockPin], ActiveLow: d.LockActiveLow}, LockKind: door.LockKind(d.LockType),
		UnlockTime: d.UnlockTime, HeldOpen: d.HeldOpenTime, Debounce: d.InputDebounce, Events: events, Logger: log,
	}
	if d.ContactPin != "" {
		dc.Contact = &door.Input{Pin: pins[d.ContactPin], Switch: door.Switch(d.Contact), Pull: pull(cfg)}
	}
	if d.REXPin != "" {
		dc.REX = &door.Input{Pin: pins[d.REXPin], Switch: door.Switch(d.REX), Pull: pull(cfg)}
	}
	if d.BuzzerPin != "" {
		dc.Buzzer = &door.Output{Pin: pins[d.BuzzerPin], ActiveLow: d.BuzzerActiveLow}
	}
	if d.LEDPin != "" {
		dc.LED = &door.Output{Pin: pins[d.LEDPin], ActiveLow: d.LEDActiveLow}
	}
	return dc
}

// openBoard opens a real board: the lock relay first (driven locked before
// any other pin or the reader is touched), then the door's other pins, then
// the reader's SPI port.
func openBoard(b board, cfg *agent.Config, events func(protocol.EventKind), log *slog.Logger) (*hardware, error) {
	d, pins, err := openBoardDoor(b, cfg, events, log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*hardware, error) {
		_ = d.Close()
		return nil, err
	}
	r, closeReader, err := openBoardReader(b, cfg, pins)
	if err != nil {
		return fail(err)
	}
	ictx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Init(ictx); err != nil {
		closeReader()
		return fail(fmt.Errorf("reader: the MFRC522 on %s does not start: %w", spiName(cfg), err))
	}
	return &hardware{door: d, reader: r, close: func() { closeReader(); _ = d.Close() }}, nil
}

func spiName(cfg *agent.Config) string {
	return fmt.Sprintf("SPI%d.%d", cfg.Reader.SPIBus, cfg.Reader.SPIDevice)
}

// openBoardDoor starts the host drivers and opens the door's pins, the lock
// relay first (driven locked before any other pin is touched), and the
// reader's reset and IRQ pins. It returns the door and every pin by name.
func openBoardDoor(b board, cfg *agent.Config, events func(protocol.EventKind), log *slog.Logger) (*door.Controller, map[string]gpio.PinIO, error) {
	if err := b.init(); err != nil {
		return nil, nil, fmt.Errorf("GPIO and SPI drivers (periph.io host) failed to start: %w (run swc-edge as a user in the gpio and spi groups)", err)
	}
	lock := b.pin(cfg.Door.LockPin)
	if lock == nil {
		return nil, nil, fmt.Errorf("door.lock_pin = %q: this machine has no such GPIO (is this a Raspberry Pi, and does /dev/gpiochip0 or /dev/gpiomem exist?); the relay was not touched", cfg.Door.LockPin)
	}
	pins := map[string]gpio.PinIO{cfg.Door.LockPin: lock}
	var missing []error
	for key, name := range map[string]string{"door.contact_pin": cfg.Door.ContactPin, "door.rex_pin": cfg.Door.REXPin,
		"door.buzzer_pin": cfg.Door.BuzzerPin, "door.led_pin": cfg.Door.LEDPin, "reader.reset_pin": cfg.Reader.ResetPin, "reader.irq_pin": cfg.Reader.IRQPin} {
		if name == "" {
			continue
		}
		if p := b.pin(name); p != nil {
			pins[name] = p
		} else {
			missing = append(missing, fmt.Errorf("%s = %q: this machine has no such GPIO", key, name))
		}
	}
	if len(missing) > 0 {
		// Lock the relay anyway before giving up.
		d, err := door.New(door.Config{Lock: door.Output{Pin: lock, ActiveLow: cfg.Door.LockActiveLow}, LockKind: door.LockKind(cfg.Door.LockType)})
		if err == nil {
			_ = d.Close()
		}
		return nil, nil, errors.Join(append(missing, err)...)
	}
	d, err := door.New(doorConfig(cfg, pins, events, log))
	if err != nil {
		return nil, nil, err
	}
	return d, pins, nil
}

// openBoardReader opens the reader's SPI port and the MFRC522 driver on it,
// without initialising the chip. pins holds the reset and IRQ pins.
func openBoardReader(b board, cfg *agent.Config, pins map[string]gpio.PinIO) (*mfrc522.Dev, func(), error) {
	name := spiName(cfg)
	dev := fmt.Sprintf("/dev/spidev%d.%d", cfg.Reader.SPIBus, cfg.Reader.SPIDevice)
	port, err := b.spi(name)
	if err != nil {
		hint := ""
		if _, statErr := os.Stat(dev); statErr != nil {
			hint = fmt.Sprintf("%s does not exist: enable SPI with `sudo raspi-config nonint do_spi 0` (or dtparam=spi=on in /boot/firmware/config.txt) and reboot, and check reader.spi_bus and reader.spi_device. ", dev)
		} else if f, openErr := os.OpenFile(dev, os.O_RDWR, 0); openErr != nil {
			hint = fmt.Sprintf("%s exists but cannot be opened (%v): run swc-edge as a user in the spi group. ", dev, openErr)
		} else {
			f.Close()
		}
		return nil, nil, fmt.Errorf("reader: SPI port %s cannot be opened: %s(%v)", name, hint, err)
	}
	conn, err := port.Connect(physic.Frequency(cfg.Reader.SPISpeedHz)*physic.Hertz, spi.Mode0, 8)
	if err != nil {
		port.Close()
		return nil, nil, fmt.Errorf("reader: SPI port %s at %d Hz: %w (try a lower reader.spi_speed_hz)", name, cfg.Reader.SPISpeedHz, err)
	}
	opts := &mfrc522.Options{}
	if p, ok := pins[cfg.Reader.ResetPin]; ok && cfg.Reader.ResetPin != "" {
		opts.Reset = p
	}
	if p, ok := pins[cfg.Reader.IRQPin]; ok && cfg.Reader.IRQPin != "" {
		opts.IRQ = p
	}
	r, err := mfrc522.New(conn, opts)
	if err != nil {
		port.Close()
		return nil, nil, fmt.Errorf("reader: %w", err)
	}
	return r, func() { _ = r.Close(); port.Close() }, nil
}

// checkHardware is the hardware as the technician's checks (swc-edge test
// ...) use it: the door (relay locked) with its input pins, and the reader's
// driver not yet initialised, so the reader check sees the chip as it is.
// The reader is nil when it could not be opened (readerErr says why), so
// that the relay and inputs can be checked with a broken reader.
type checkHardware struct {
	door      *door.Controller
	inputs    map[string]gpio.PinIO // by configuration key: door.contact_pin, door.rex_pin
	reader    *mfrc522.Dev
	readerErr error
	sim       *simControls // nil on real hardware
	close     func()
}

func openCheckHardware(cfg *agent.Config, log *slog.Logger) (*checkHardware, error) {
	if cfg.Reader.Driver == agent.DriverSim {
		hw, err := openSim(cfg, nil, log, true)
		if err != nil {
			return nil, err
		}
		sc := hw.sim.(*simControls)
		ch := &checkHardware{door: hw.door, reader: hw.reader.(*mfrc522.Dev), sim: sc, close: hw.close, inputs: map[string]gpio.PinIO{}}
		if sc.contact != nil {
			ch.inputs["door.contact_pin"] = sc.contact
		}
		if sc.rex != nil {
			ch.inputs["door.rex_pin"] = sc.rex
		}
		return ch, nil
	}
	b := periphBoard()
	d, pins, err := openBoardDoor(b, cfg, nil, log)
	if err != nil {
		return nil, err
	}
	ch := &checkHardware{door: d, inputs: map[string]gpio.PinIO{}}
	for key, name := range map[string]string{"door.contact_pin": cfg.Door.ContactPin, "door.rex_pin": cfg.Door.REXPin} {
		if name != "" {
			ch.inputs[key] = pins[name]
		}
	}
	r, closeReader, err := openBoardReader(b, cfg, pins)
	if err != nil {
		ch.readerErr = err
		ch.close = func() { _ = d.Close() }
		return ch, nil
	}
	ch.reader = r
	ch.close = func() { closeReader(); _ = d.Close() }
	return ch, nil
}

// simPin is a gpiotest pin whose level the simulated switch decides: In
// sets the pull but keeps the level, as a real switch would.
type simPin struct{ *gpiotest.Pin }

func (p simPin) In(pull gpio.Pull, edge gpio.Edge) error {
	l := p.Read()
	err := p.Pin.In(pull, edge)
	p.set(l)
	return err
}

func (p simPin) set(l gpio.Level) {
	p.Lock()
	p.L = l
	p.Unlock()
}

// journalPin writes every level driven on the simulated lock relay to
// <data_dir>/sim-gpio.log, so a person (or a test) can see the relay move.
type journalPin struct {
	gpio.PinIO
	mu     *sync.Mutex
	f      *os.File
	locked gpio.Level
}

func (p journalPin) Out(l gpio.Level) error {
	state := "unlocked"
	if l == p.locked {
		state = "locked"
	}
	p.mu.Lock()
	_, _ = fmt.Fprintf(p.f, "%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), p.Name(), l, state)
	p.mu.Unlock()
	return p.PinIO.Out(l)
}

// levelFor is the level an input reads when its function is active or not.
func levelFor(sw door.Switch, p gpio.Pull, active bool) gpio.Level {
	closed := active
	if sw == door.NormallyClosed {
		closed = !active
	}
	if p == gpio.PullDown {
		return gpio.Level(closed)
	}
	return gpio.Level(!closed)
}

// simControls are the hands of the person trying the simulated door: they
// hold cards to the simulated MFRC522 and flip the simulated switches.
type simControls struct {
	chip         *mfrc522sim.Sim
	contact, rex *simPin
	cfg          *agent.Config
	fault        atomic.Pointer[error] // the simulated reader fault, nil when healthy
}

// simTap is how long a simulated card stays on the reader: far more than two
// poll intervals of the driver plus one read (see mfrc522sim's package doc),
// and more than the agent's longest retry wait after a reader fault, so the
// tap is seen even by an agent that is backing off. One presentation is one
// tap however long the card stays.
const simTap = 6 * time.Second

// simAway is how long a card is taken away before it is presented again, as
// a person pulling a badge back and tapping again. The driver need not poll
// meanwhile: a badge that was asleep on the reader and answers REQA again
// came back, and is a new tap (on a loaded host the driver's goroutine may
// well sleep through these 200 ms).
const simAway = 200 * time.Millisecond

var _ agent.SecureSimControls = (*simControls)(nil)

func (s *simControls) Present(uid []byte) error {
	return s.present(mfrc522sim.NewCard(uid, mfrc522sim.MifareClassic1K))
}

// PresentCard presents a simulated ISO 14443-4 card: the driver talks to
// card through the simulated chip (RATS, blocks, S(DESELECT)), as to a
// real one. It powers up afresh (desfiresim.Card.Reset).
func (s *simControls) PresentCard(uid []byte, card *desfiresim.Card) error {
	spec := mfrc522sim.NewCard(uid, mfrc522sim.DESFire)
	spec.ISODEP = &mfrc522sim.ISODEP{App: card, ATS: mfrc522sim.DESFireATS}
	if card.Kind() == desfiresim.NTAG424DNA {
		spec.ISODEP.ATS = mfrc522sim.NTAG424ATS
	}
	card.Reset()
	return s.present(spec)
}

func (s *simControls) present(spec mfrc522sim.CardSpec) error {
	if f := s.fault.Load(); f != nil {
		return fmt.Errorf("reader not answering: %w", *f)
	}
	// A person holds one badge at a time: the previous one is taken away
	// first, for long enough that the reader sees it go.
	if cards := s.chip.Cards(); len(cards) > 0 {
		for _, c := range cards {
			s.chip.Remove(c)
		}
		time.Sleep(simAway)
	}
	_, err := s.chip.PresentFor(spec, simTap)
	return err
}

// SetReaderFault makes the simulated chip stop answering (its MISO line
// reads all ones, as with a loose wire); nil heals it.
func (s *simControls) SetReaderFault(err error) {
	if err != nil {
		s.fault.Store(&err)
		s.chip.SetChipFault(mfrc522sim.BusStuckHigh)
		return
	}
	s.fault.Store(nil)
	s.chip.SetChipFault(mfrc522sim.ChipOK)
}
func (s *simControls) SetInput(name string, active bool) error {
	switch name {
	case "contact":
		if s.contact == nil {
			return errors.New("no door contact: set door.contact_pin")
		}
		s.contact.set(levelFor(door.Switch(s.cfg.Door.Contact), pull(s.cfg), active))
	case "rex":
		if s.rex == nil {
			return errors.New("no exit button: set door.rex_pin")
		}
		s.rex.set(levelFor(door.Switch(s.cfg.Door.REX), pull(s.cfg), active))
	default:
		return fmt.Errorf("input %q: want \"contact\" or \"rex\"", name)
	}
	return nil
}

// openSim builds a simulated door: gpiotest pins named as configured (the
// door shut, the exit button released) and the simulated reader, with the
// chip version and faults of the [sim] section. For the technician's
// checks (forCheck), a reader that does not answer is opened all the same,
// with its bus stuck, so that the reader check finds the fault.
func openSim(cfg *agent.Config, events func(protocol.EventKind), log *slog.Logger, forCheck bool) (*hardware, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir = %q: %w", cfg.DataDir, err)
	}
	f, err := os.OpenFile(filepath.Join(cfg.DataDir, "sim-gpio.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("simulated GPIO journal: %w", err)
	}
	lockedLevel := gpio.Level(cfg.Door.LockActiveLow) // relay released: high for an active-low board
	if cfg.Door.LockType == string(door.FailSafe) {
		lockedLevel = !lockedLevel // relay energised
	}
	pins := map[string]gpio.PinIO{}
	lockSim := &simPin{&gpiotest.Pin{N: cfg.Door.LockPin, L: !lockedLevel}} // as if left unlocked
	pins[cfg.Door.LockPin] = journalPin{PinIO: lockSim, mu: &sync.Mutex{}, f: f, locked: lockedLevel}
	sc := &simControls{cfg: cfg}
	if p := cfg.Door.ContactPin; p != "" {
		sc.contact = &simPin{&gpiotest.Pin{N: p, L: levelFor(door.Switch(cfg.Door.Contact), pull(cfg), false)}}
		pins[p] = sc.contact
	}
	if p := cfg.Door.REXPin; p != "" {
		sc.rex = &simPin{&gpiotest.Pin{N: p, L: levelFor(door.Switch(cfg.Door.REX), pull(cfg), false)}}
		pins[p] = sc.rex
	}
	for _, p := range []string{cfg.Door.BuzzerPin, cfg.Door.LEDPin} {
		if p != "" {
			pins[p] = &simPin{&gpiotest.Pin{N: p}}
		}
	}
	d, err := door.New(doorConfig(cfg, pins, events, log))
	if err != nil {
		f.Close()
		return nil, err
	}
	if cfg.Sim.ReaderFaultAtStart && !forCheck {
		_ = d.Close()
		f.Close()
		return nil, errors.New("reader: the badge reader does not answer (simulated by sim.reader_fault_at_start = true); " +
			"on a real door check the reader's 3.3 V and GND, its SDA wire to CE0 (GPIO8), and reader.spi_bus/spi_device")
	}
	// The simulated reader is the real MFRC522 driver on the register-level
	// simulator of the chip, running on the wall clock.
	sc.chip = mfrc522sim.New(mfrc522sim.Options{WallClock: true, Version: byte(cfg.Sim.ReaderVersion), FaultySelfTest: cfg.Sim.ReaderSelfTestFails})
	if cfg.Sim.ReaderFaultAtStart {
		sc.chip.SetChipFault(mfrc522sim.BusStuckHigh)
	}
	r, err := mfrc522.New(sc.chip, nil)
	if err != nil {
		_ = d.Close()
		f.Close()
		return nil, fmt.Errorf("reader: %w", err)
	}
	return &hardware{door: d, reader: r, sim: sc, close: func() { _ = r.Close(); _ = d.Close(); f.Close() }}, nil
}
