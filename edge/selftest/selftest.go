// Package selftest is the technician's checks of a door's hardware, one
// per part: the badge reader (chip version, digital self-test, a badge
// read), the lock relay (a pulse the technician confirms) and the door's
// inputs (contact and exit button changes, shown live). Each check prints
// what it does as it goes and, when it fails, a Failure that says what to
// check: wiring, SPI enabled in config.txt, permissions on /dev/spidev*
// and /dev/gpiomem.
package selftest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
)

// Failure is a check that failed: what failed, why, and what to check.
type Failure struct {
	What  string
	Err   error
	Check []string
}

func (f *Failure) Error() string {
	var b strings.Builder
	b.WriteString(f.What)
	if f.Err != nil {
		b.WriteString(": ")
		b.WriteString(f.Err.Error())
	}
	return b.String()
}

func (f *Failure) Unwrap() error { return f.Err }

// Report prints the failure for a technician.
func (f *Failure) Report(w io.Writer) {
	fmt.Fprintf(w, "FAILED: %s\n", f.Error())
	if len(f.Check) > 0 {
		fmt.Fprintln(w, "Check:")
		for _, c := range f.Check {
			fmt.Fprintf(w, "  - %s\n", c)
		}
	}
}

// Wiring describes where the reader is, for the hints.
type Wiring struct {
	SPIBus, SPIDevice int
	ResetPin          string // "" when not wired
	IRQPin            string
}

// Device is the reader's SPI device file.
func (w Wiring) Device() string { return fmt.Sprintf("/dev/spidev%d.%d", w.SPIBus, w.SPIDevice) }

// header pins of SPI0 and SPI1, by function, for the hints.
var spiHeader = map[int]map[string]string{
	0: {"MOSI": "GPIO10 (pin 19)", "MISO": "GPIO9 (pin 21)", "SCK": "GPIO11 (pin 23)", "CE0": "GPIO8 (pin 24)", "CE1": "GPIO7 (pin 26)"},
	1: {"MOSI": "GPIO20 (pin 38)", "MISO": "GPIO19 (pin 35)", "SCK": "GPIO21 (pin 40)", "CE0": "GPIO18 (pin 12)", "CE1": "GPIO17 (pin 11)", "CE2": "GPIO16 (pin 36)"},
}

// WiringHints say how the RC522 must be wired.
func (w Wiring) WiringHints() []string {
	h := spiHeader[w.SPIBus]
	ce := fmt.Sprintf("CE%d", w.SPIDevice)
	hints := []string{
		"the RC522's 3.3V pin on the Pi's 3.3 V (pin 1 or 17, never 5 V) and GND on a ground pin (pin 20)",
		fmt.Sprintf("SDA to %s, SCK to %s, MOSI to %s, MISO to %s (SPI%d); wires short and firmly seated", h[ce], h["SCK"], h["MOSI"], h["MISO"], w.SPIBus),
	}
	if w.ResetPin != "" {
		hints = append(hints, fmt.Sprintf("RST to %s (%s; reader.reset_pin)", w.ResetPin, HeaderPin(w.ResetPin)))
	}
	return hints
}

// SPIHints say how SPI must be enabled and opened.
func (w Wiring) SPIHints() []string {
	return []string{
		fmt.Sprintf("SPI is enabled: dtparam=spi=on in /boot/firmware/config.txt (or `sudo raspi-config nonint do_spi 0`), then reboot; `ls -l %s` must list the device", w.Device()),
		fmt.Sprintf("the user running swc-edge may open %s and /dev/gpiomem: it is in the groups spi and gpio (`sudo usermod -aG spi,gpio USER`, then log in again; the swc-edge service user is set up by the package)", w.Device()),
		fmt.Sprintf("reader.spi_bus = %d and reader.spi_device = %d match the wiring", w.SPIBus, w.SPIDevice),
	}
}

// Chip is the reader as the reader check uses it (the MFRC522 driver).
type Chip interface {
	Version(ctx context.Context) (mfrc522.Version, error)
	SelfTest(ctx context.Context) error
	Init(ctx context.Context) error
	Next(ctx context.Context) (reader.Card, error)
}

// ReaderCheck is the reader check's setup.
type ReaderCheck struct {
	Chip    Chip
	Wiring  Wiring
	TapWait time.Duration // how long to wait for a badge (default 30 s)
	Out     io.Writer
	// Prompt is printed when the check waits for a badge (default "Tap a
	// badge on the reader").
	Prompt string
}

// Reader checks the reader: its chip version, the digital self-test, then
// one badge read, printed with its UID, ATQA, SAK and card type. It returns
// the card read. A card error (reader.ErrCard: the badge moved during its
// read) is printed and the badge read again until TapWait ends.
func Reader(ctx context.Context, c ReaderCheck) (reader.Card, error) {
	if c.TapWait <= 0 {
		c.TapWait = 30 * time.Second
	}
	if c.Prompt == "" {
		c.Prompt = "Tap a badge on the reader"
	}
	out := c.Out
	fmt.Fprintf(out, "Reader: MFRC522 on SPI%d.%d (%s)\n", c.Wiring.SPIBus, c.Wiring.SPIDevice, c.Wiring.Device())

	v, err := c.Chip.Version(ctx)
	if err == nil && (v == 0x00 || v == 0xFF) {
		err = fmt.Errorf("VersionReg reads %#02x: nothing answers on the SPI bus", byte(v))
	}
	if err != nil {
		return reader.Card{}, &Failure{What: "the reader's chip does not answer", Err: err,
			Check: append(c.Wiring.WiringHints(), c.Wiring.SPIHints()...)}
	}
	if !v.Known() {
		return reader.Card{}, &Failure{What: fmt.Sprintf("the chip answers with version %#02x, which no MFRC522 or known clone has", byte(v)),
			Check: append([]string{"a loose or swapped MISO/MOSI/SCK wire garbles what is read: reseat them"}, c.Wiring.WiringHints()...)}
	}
	fmt.Fprintf(out, "  chip version:   %s\n", v)

	switch err := c.Chip.SelfTest(ctx); {
	case err == nil:
		fmt.Fprintln(out, "  self-test:      passed")
	case errors.Is(err, mfrc522.ErrNoSelfTestReference):
		fmt.Fprintf(out, "  self-test:      not conclusive (no reference for %s; counterfeit boards read badges all the same)\n", v)
	case errors.Is(err, mfrc522.ErrSelfTest):
		return reader.Card{}, &Failure{What: "the chip's digital self-test failed", Err: err,
			Check: []string{"the reader board is damaged or a poor counterfeit: replace it", "its 3.3 V supply is steady (a long or thin power wire drops voltage)"}}
	default:
		return reader.Card{}, &Failure{What: "the chip stopped answering during its self-test", Err: err,
			Check: append(c.Wiring.WiringHints(), c.Wiring.SPIHints()...)}
	}
	if err := c.Chip.Init(ctx); err != nil {
		return reader.Card{}, &Failure{What: "the chip does not start", Err: err, Check: append(c.Wiring.WiringHints(), c.Wiring.SPIHints()...)}
	}

	fmt.Fprintf(out, "%s (waiting up to %s)...\n", c.Prompt, c.TapWait.Round(time.Second))
	tctx, cancel := context.WithTimeout(ctx, c.TapWait)
	defer cancel()
	card, err := c.Chip.Next(tctx)
	for errors.Is(err, reader.ErrCard) && tctx.Err() == nil {
		// A card error: the badge moved or was taken away during its read.
		// The reader works; the badge is read again at the next poll.
		fmt.Fprintf(out, "  badge not read (%v): hold it still on the reader\n", err)
		card, err = c.Chip.Next(tctx)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, mfrc522.ErrTimeout) {
			return reader.Card{}, &Failure{What: fmt.Sprintf("no badge was read within %s", c.TapWait.Round(time.Second)), Check: []string{
				"hold the badge flat on the reader's antenna (the printed coil), within 2 to 3 cm, for a second",
				"the badge is a 13.56 MHz ISO 14443A card (MIFARE, NTAG, DESFire): 125 kHz proximity badges cannot be read by an RC522",
				"no metal plate directly behind the reader (it detunes the antenna)",
				"the chip answered above, so SPI works; a damaged antenna track or a loose antenna solder joint remains",
			}}
		}
		return reader.Card{}, &Failure{What: "reading the badge failed", Err: err, Check: []string{
			"hold the badge still until it is read; take it away and tap again",
			"only one badge in the field at a time",
		}}
	}
	fmt.Fprintf(out, "  badge:          UID %s  ATQA %02X%02X  SAK %02X  %s (%d-byte UID)\n", card.ID(), card.ATQA[0], card.ATQA[1], card.SAK, card.Type(), len(card.UID))
	fmt.Fprintln(out, "Reader OK.")
	return card, nil
}

// LockRelay is the lock relay as the relay check drives it.
type LockRelay interface {
	Unlock(d time.Duration) (time.Duration, error)
	Lock() error
}

// RelayCheck is the relay check's setup.
type RelayCheck struct {
	Relay     LockRelay
	Pulse     time.Duration // how long the lock is released (default 2 s)
	Pin       string        // door.lock_pin
	ActiveLow bool
	LockKind  door.LockKind
	In        io.Reader // the technician's answer
	Out       io.Writer
	Note      string // printed after the pulse (the simulated relay's journal)
}

// Relay pulses the relay and asks the technician to confirm.
func Relay(ctx context.Context, c RelayCheck) error {
	if c.Pulse <= 0 {
		c.Pulse = 2 * time.Second
	}
	out := c.Out
	level := "high"
	if c.ActiveLow {
		level = "low"
	}
	fmt.Fprintf(out, "Relay: %s drives the relay (on when %s), %s lock.\n", c.Pin, level, c.LockKind)
	fmt.Fprintf(out, "Releasing the lock for %s: listen for the relay's click and watch its LED; the lock should open.\n", c.Pulse)
	if _, err := c.Relay.Unlock(c.Pulse); err != nil {
		return &Failure{What: "driving the relay failed", Err: err, Check: gpioHints(c.Pin)}
	}
	select {
	case <-time.After(c.Pulse + 100*time.Millisecond):
	case <-ctx.Done():
		_ = c.Relay.Lock()
		return ctx.Err()
	}
	if err := c.Relay.Lock(); err != nil {
		return &Failure{What: "locking again failed", Err: err, Check: gpioHints(c.Pin)}
	}
	fmt.Fprintln(out, "Locked again.")
	if c.Note != "" {
		fmt.Fprintln(out, c.Note)
	}
	fmt.Fprint(out, "Did the relay click and the lock release, then lock again? [y/n] ")
	answer, err := readLine(ctx, c.In)
	fmt.Fprintln(out)
	if err != nil {
		return &Failure{What: "no answer from the technician", Err: err, Check: []string{"run the check in a terminal and answer y or n"}}
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a == "y" || a == "yes" {
		fmt.Fprintln(out, "Relay OK.")
		return nil
	}
	return &Failure{What: "the technician saw no relay action", Check: append([]string{
		"the relay board: VCC to 5 V (pin 2 or 4), GND to a ground pin (pin 6), IN1 to " + c.Pin + "; the JD-VCC jumper in place unless the coils have their own supply",
		fmt.Sprintf("door.lock_active_low = %v matches the board: most opto-isolated boards switch on when IN is low (true); with the wrong setting the relay is on while 'locked' and off during the pulse", c.ActiveLow),
		"the lock on the relay's COM and NO contacts, with its own power supply switched through them",
	}, gpioHints(c.Pin)...)}
}

func gpioHints(pin string) []string {
	return []string{
		"door.lock_pin = " + pin + " is the GPIO the relay's IN is wired to (Broadcom numbering, not the header pin number)",
		"the user running swc-edge may use the GPIOs: it is in the group gpio, which owns /dev/gpiomem and /dev/gpiochip*",
	}
}

// readLine reads one line, or fails when ctx ends first.
func readLine(ctx context.Context, in io.Reader) (string, error) {
	if in == nil {
		return "", errors.New("no input")
	}
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(in).ReadString('\n')
		if err == io.EOF && s != "" {
			err = nil
		}
		ch <- line{s, err}
	}()
	select {
	case l := <-ch:
		return l.s, l.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Input is one of the door's inputs.
type Input struct {
	Name            string // "door contact", "exit button"
	Key             string // its configuration key, door.contact_pin
	PinName         string // GPIO6; "" when not fitted
	Pin             gpio.PinIO
	Switch          door.Switch
	Pull            gpio.Pull
	Active, Resting string // what its states mean: "OPEN" / "closed", "PRESSED" / "released"
}

// headerPins maps Broadcom GPIOs to the 40-pin header.
var headerPins = map[string]int{
	"GPIO2": 3, "GPIO3": 5, "GPIO4": 7, "GPIO17": 11, "GPIO27": 13, "GPIO22": 15, "GPIO10": 19, "GPIO9": 21, "GPIO11": 23,
	"GPIO0": 27, "GPIO5": 29, "GPIO6": 31, "GPIO13": 33, "GPIO19": 35, "GPIO26": 37, "GPIO14": 8, "GPIO15": 10, "GPIO18": 12,
	"GPIO23": 16, "GPIO24": 18, "GPIO25": 22, "GPIO8": 24, "GPIO7": 26, "GPIO1": 28, "GPIO12": 32, "GPIO16": 36, "GPIO20": 38, "GPIO21": 40,
}

// HeaderPin names a GPIO's header pin, such as "pin 31".
func HeaderPin(gpioName string) string {
	if n, ok := headerPins[gpioName]; ok {
		return fmt.Sprintf("pin %d", n)
	}
	return "see pinout.xyz"
}

// active reads whether the input's function is active at level l (door
// open, button pressed), as the door controller does.
func (in *Input) active(l gpio.Level) bool {
	closed := l == gpio.Low
	if in.Pull == gpio.PullDown {
		closed = l == gpio.High
	}
	if in.Switch == door.NormallyClosed {
		return !closed
	}
	return closed
}

func (in *Input) state(active bool) string {
	if active {
		return in.Active
	}
	return in.Resting
}

// InputsCheck is the inputs check's setup.
type InputsCheck struct {
	Inputs   []Input
	Duration time.Duration // how long to watch (default 60 s); ctx ending stops it too
	Debounce time.Duration // a change counts once stable this long
	Poll     time.Duration // default 10 ms
	Out      io.Writer
}

// Inputs shows every change of the door's inputs as it happens, until the
// duration passes or ctx ends; it fails for a fitted input that never
// changed, saying what to check.
func Inputs(ctx context.Context, c InputsCheck) error {
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 10 * time.Millisecond
	}
	out := c.Out
	type watched struct {
		*Input
		stable      bool
		seen        bool
		since       time.Time
		changes     int
		lastPending bool
	}
	var ins []*watched
	for i := range c.Inputs {
		in := &c.Inputs[i]
		if in.PinName == "" || in.Pin == nil {
			fmt.Fprintf(out, "%-13s not fitted (%s is empty)\n", in.Name+":", in.Key)
			continue
		}
		w := &watched{Input: in, stable: in.active(in.Pin.Read())}
		fmt.Fprintf(out, "%-13s %s (%s, %s switch)\n", in.Name+":", in.state(w.stable), in.PinName, in.Switch)
		ins = append(ins, w)
	}
	if len(ins) == 0 {
		return &Failure{What: "no input is configured", Check: []string{"set door.contact_pin and/or door.rex_pin to the GPIOs the door contact and exit button are wired to"}}
	}
	fmt.Fprintf(out, "Watching for %s: open and close the door, press the exit button (Ctrl-C ends early).\n", c.Duration.Round(time.Second))
	start := time.Now()
	deadline := time.NewTimer(c.Duration)
	defer deadline.Stop()
	tick := time.NewTicker(c.Poll)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-deadline.C:
			break loop
		case now := <-tick.C:
			for _, w := range ins {
				a := w.active(w.Pin.Read())
				if a == w.stable {
					w.seen = false
					continue
				}
				if !w.seen || a != w.lastPending {
					w.seen, w.since, w.lastPending = true, now, a
				}
				if now.Sub(w.since) >= c.Debounce {
					w.stable, w.seen = a, false
					w.changes++
					fmt.Fprintf(out, "%7.1fs  %-13s %s\n", now.Sub(start).Seconds(), w.Name+":", w.state(a))
				}
			}
		}
	}
	var still []string
	var check []string
	for _, w := range ins {
		if w.changes > 0 {
			fmt.Fprintf(out, "%-13s OK (%d changes)\n", w.Name+":", w.changes)
			continue
		}
		still = append(still, w.Name)
		other := "GND"
		if w.Pull == gpio.PullDown {
			other = "3.3 V"
		}
		check = append(check, fmt.Sprintf("the %s is wired between %s (header %s) and %s, as %s = %q says",
			w.Name, w.PinName, HeaderPin(w.PinName), other, w.Key, w.PinName))
	}
	if len(still) == 0 {
		fmt.Fprintln(out, "Inputs OK.")
		return nil
	}
	check = append(check,
		"door.contact / door.rex say how each switch is wired (\"nc\" or \"no\") and door.input_pull how it is pulled (\"up\": switch to GND)",
		"a reed contact closes only with its magnet within about 1 cm",
		"the user running swc-edge is in the group gpio (it owns /dev/gpiomem and /dev/gpiochip*)")
	return &Failure{What: "no change seen on the " + strings.Join(still, " and ") + " (did you operate it during the check?)", Check: check}
}
