package selftest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// lockedBuffer is an output the test reads while the check writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(l.String(), s) }, 20*time.Second, 5*time.Millisecond, "output %q never showed %q", l.String(), s)
}

var wiring = Wiring{SPIBus: 0, SPIDevice: 0, ResetPin: "GPIO25"}

func newChip(t *testing.T, opts mfrc522sim.Options) (*mfrc522sim.Sim, *mfrc522.Dev) {
	t.Helper()
	opts.WallClock = true
	sim := mfrc522sim.New(opts)
	dev, err := mfrc522.New(sim, nil)
	require.NoError(t, err)
	t.Cleanup(func() { dev.Close() })
	return sim, dev
}

func TestReader(t *testing.T) {
	tests := []struct {
		name    string
		opts    mfrc522sim.Options
		fault   mfrc522sim.ChipFault
		uid     []byte // presented after the prompt; nil: none
		typ     mfrc522sim.CardType
		faults  []mfrc522sim.Fault // in the badge's first answers
		want    []string           // in the output
		failure string             // "" when the check passes
		check   []string           // in the failure's hints
	}{
		{name: "a 7-byte badge", uid: []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}, typ: mfrc522sim.MifareUltralight,
			want: []string{"chip version:   MFRC522 v2.0 (0x92)", "self-test:      passed", "UID 04A1B2C3D4E5F6  ATQA 4400  SAK 00  MIFARE Ultralight / NTAG (7-byte UID)", "Reader OK."}},
		{name: "a counterfeit chip reads badges", opts: mfrc522sim.Options{Version: 0x12}, uid: []byte{0xDE, 0xAD, 0xBE, 0xEF}, typ: mfrc522sim.MifareClassic1K,
			want: []string{"counterfeit (0x12)", "self-test:      not conclusive", "UID DEADBEEF  ATQA 0400  SAK 08  MIFARE Classic 1K (4-byte UID)"}},
		{name: "nothing answers", fault: mfrc522sim.BusStuckHigh, failure: "the reader's chip does not answer",
			check: []string{"SDA to GPIO8 (pin 24)", "MISO to GPIO9 (pin 21)", "dtparam=spi=on in /boot/firmware/config.txt", "/dev/spidev0.0", "/dev/gpiomem", "RST to GPIO25 (pin 22"}},
		{name: "MISO stuck low", fault: mfrc522sim.BusStuckLow, failure: "the reader's chip does not answer", check: []string{"never 5 V"}},
		{name: "an unknown chip", opts: mfrc522sim.Options{Version: 0x55}, failure: "version 0x55", check: []string{"MISO/MOSI/SCK"}},
		{name: "a damaged chip", opts: mfrc522sim.Options{FaultySelfTest: true}, failure: "self-test failed", check: []string{"replace it"}},
		{name: "no badge", failure: "no badge was read within", check: []string{"13.56 MHz", "125 kHz"}},
		{name: "a badge whose first read fails (a card error), then read", uid: []byte{0x04, 0xA1, 0xB2, 0xC3}, typ: mfrc522sim.MifareClassic1K,
			faults: []mfrc522sim.Fault{{Kind: mfrc522sim.NoAnswer, On: mfrc522sim.Select}},
			want:   []string{"badge not read (mfrc522: SELECT CL1: timeout", "hold it still", "UID 04A1B2C3", "Reader OK."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, dev := newChip(t, tc.opts)
			sim.SetChipFault(tc.fault)
			out := &lockedBuffer{}
			if tc.uid != nil {
				go func() {
					out.waitFor(t, "Tap a badge")
					spec := mfrc522sim.NewCard(tc.uid, tc.typ)
					spec.Faults = tc.faults
					_, _ = sim.PresentFor(spec, 2*time.Second)
				}()
			}
			wait := 10 * time.Second
			if tc.uid == nil {
				wait = 300 * time.Millisecond
			}
			card, err := Reader(context.Background(), ReaderCheck{Chip: dev, Wiring: wiring, TapWait: wait, Out: out})
			for _, w := range tc.want {
				assert.Contains(t, out.String(), w)
			}
			if tc.failure == "" {
				require.NoError(t, err, out.String())
				assert.Equal(t, tc.uid, card.UID)
				return
			}
			var f *Failure
			require.ErrorAs(t, err, &f)
			assert.Contains(t, f.Error(), tc.failure)
			var rep bytes.Buffer
			f.Report(&rep)
			assert.True(t, strings.HasPrefix(rep.String(), "FAILED: "))
			for _, c := range tc.check {
				assert.Contains(t, rep.String(), c)
			}
		})
	}
}

// fakeRelay records what the check asks of the relay.
type fakeRelay struct {
	mu      sync.Mutex
	unlocks []time.Duration
	locks   int
	err     error
}

func (f *fakeRelay) Unlock(d time.Duration) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlocks = append(f.unlocks, d)
	return d, f.err
}

func (f *fakeRelay) Lock() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.locks++
	return nil
}

func TestRelay(t *testing.T) {
	tests := []struct {
		name, answer string
		err          error
		failure      string
		check        []string
	}{
		{name: "confirmed", answer: "y\n"},
		{name: "confirmed without a newline", answer: "yes"},
		{name: "no click", answer: "n\n", failure: "saw no relay action", check: []string{"IN1 to GPIO5", "door.lock_active_low = true", "COM and NO", "group gpio"}},
		{name: "no answer", answer: "", failure: "no answer", check: []string{"in a terminal"}},
		{name: "the pin refuses", err: errors.New("gpio: permission denied"), failure: "driving the relay failed", check: []string{"group gpio"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRelay{err: tc.err}
			var out bytes.Buffer
			err := Relay(context.Background(), RelayCheck{Relay: r, Pulse: 50 * time.Millisecond, Pin: "GPIO5", ActiveLow: true, LockKind: door.FailSecure,
				In: strings.NewReader(tc.answer), Out: &out})
			assert.Equal(t, []time.Duration{50 * time.Millisecond}, r.unlocks, "one pulse of the asked length")
			if tc.failure == "" {
				require.NoError(t, err)
				assert.Equal(t, 1, r.locks, "locked again")
				assert.Contains(t, out.String(), "Relay OK.")
				return
			}
			var f *Failure
			require.ErrorAs(t, err, &f)
			assert.Contains(t, f.Error(), tc.failure)
			var rep bytes.Buffer
			f.Report(&rep)
			for _, c := range tc.check {
				assert.Contains(t, rep.String(), c)
			}
		})
	}
}

func TestInputs(t *testing.T) {
	contact := &gpiotest.Pin{N: "GPIO6", L: gpio.Low}               // NC reed, pulled up: closed door reads low
	rex := &bouncePin{Pin: gpiotest.Pin{N: "GPIO13", L: gpio.High}} // NO button, pulled up: released reads high
	set := func(p *gpiotest.Pin, l gpio.Level) {
		p.Lock()
		p.L = l
		p.Unlock()
	}
	inputs := func() []Input {
		return []Input{
			{Name: "door contact", Key: "door.contact_pin", PinName: "GPIO6", Pin: contact, Switch: door.NormallyClosed, Pull: gpio.PullUp, Active: "OPEN", Resting: "closed"},
			{Name: "exit button", Key: "door.rex_pin", PinName: "GPIO13", Pin: rex, Switch: door.NormallyOpen, Pull: gpio.PullUp, Active: "PRESSED", Resting: "released"},
		}
	}

	// Each change waits until the check has printed the previous one, so
	// that a loaded machine (polls late, sleeps long) cannot make a change
	// too short to be seen; the watch ends when all are seen.
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := func(line string, n int) {
		require.Eventually(t, func() bool { return strings.Count(out.String(), line) >= n }, 20*time.Second, time.Millisecond,
			"output %q never showed %q %d times", out.String(), line, n)
	}
	go func() {
		defer cancel()
		out.waitFor(t, "Watching")
		set(contact, gpio.High) // door opens
		seen("door contact: OPEN", 1)
		set(contact, gpio.Low)
		seen("door contact: closed", 2) // the first is the starting state
		rex.bounce.Store(1)             // a bounce seen by one poll only is not a change, however late the polls come
		time.Sleep(100 * time.Millisecond)
		set(&rex.Pin, gpio.Low)
		seen("exit button:  PRESSED", 1)
		set(&rex.Pin, gpio.High)
		seen("exit button:  released", 2)
	}()
	err := Inputs(ctx, InputsCheck{Inputs: inputs(), Duration: 30 * time.Second, Debounce: 30 * time.Millisecond, Out: out})
	require.NoError(t, err, out.String())
	text := out.String()
	assert.Contains(t, text, "door contact: closed (GPIO6, nc switch)")
	assert.Contains(t, text, "exit button:  released (GPIO13, no switch)")
	for _, want := range []string{"door contact: OPEN", "door contact: closed", "exit button:  PRESSED", "exit button:  released", "door contact: OK (2 changes)", "exit button:  OK (2 changes)", "Inputs OK."} {
		assert.Contains(t, text, want)
	}

	// Nothing moves: the check says what to look at, per input.
	var quiet bytes.Buffer
	ins := inputs()
	ins = append(ins, Input{Name: "spare", Key: "door.spare_pin"})
	err = Inputs(context.Background(), InputsCheck{Inputs: ins, Duration: 200 * time.Millisecond, Debounce: 30 * time.Millisecond, Out: &quiet})
	var f *Failure
	require.ErrorAs(t, err, &f)
	assert.Contains(t, f.Error(), "no change seen on the door contact and exit button")
	var rep bytes.Buffer
	f.Report(&rep)
	assert.Contains(t, rep.String(), "between GPIO6 (header pin 31) and GND")
	assert.Contains(t, rep.String(), "between GPIO13 (header pin 33) and GND")
	assert.Contains(t, quiet.String(), "spare:        not fitted (door.spare_pin is empty)")

	// No input at all.
	err = Inputs(context.Background(), InputsCheck{Inputs: []Input{{Name: "door contact", Key: "door.contact_pin"}}, Duration: time.Millisecond, Out: &quiet})
	require.ErrorAs(t, err, &f)
	assert.Contains(t, f.Error(), "no input is configured")
}

// bouncePin is a pulled-up input whose next bounce reads read low (a
// contact bounce), whatever the level it rests at.
type bouncePin struct {
	gpiotest.Pin
	bounce atomic.Int32
}

func (p *bouncePin) Read() gpio.Level {
	if p.bounce.Load() > 0 {
		p.bounce.Add(-1)
		return gpio.Low
	}
	return p.Pin.Read()
}
