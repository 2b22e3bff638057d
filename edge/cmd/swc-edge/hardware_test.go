package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

const piConfig = `
door_id = "door-1"
data_dir = "/nonexistent"
[reader]
driver = "mfrc522"
[door]
lock_pin = "GPIO5"
contact_pin = "GPIO6"
rex_pin = "GPIO13"
buzzer_pin = "GPIO12"
`

// testBoard is a board of gpiotest pins; the relay pin starts unlocked
// (low, for the active-low relay), as a pin left behind by a crash would.
type testBoard struct {
	pins  map[string]*gpiotest.Pin
	spi   func(string) (spi.PortCloser, error)
	lock  *gpiotest.Pin
	order []string
}

func newTestBoard(missing ...string) *testBoard {
	b := &testBoard{pins: map[string]*gpiotest.Pin{}}
	for _, n := range []string{"GPIO5", "GPIO6", "GPIO13", "GPIO12", "GPIO25"} {
		b.pins[n] = &gpiotest.Pin{N: n}
	}
	for _, n := range missing {
		delete(b.pins, n)
	}
	if p, ok := b.pins["GPIO5"]; ok {
		p.L = gpio.Low
		b.lock = p
	}
	return b
}

func (b *testBoard) board() board {
	return board{
		init: func() error { return nil },
		pin: func(name string) gpio.PinIO {
			b.order = append(b.order, name)
			if p, ok := b.pins[name]; ok {
				return p
			}
			return nil
		},
		spi: b.spi,
	}
}

func parse(t *testing.T, text string) *agent.Config {
	t.Helper()
	cfg, err := agent.Parse([]byte(text))
	require.NoError(t, err)
	return cfg
}

func TestOpenBoard(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name    string
		missing []string
		spi     func(string) (spi.PortCloser, error)
		want    []string
		locked  bool
	}{
		{"SPI device missing", nil, spireg.Open, // periph's registry, empty here: no host driver registered a port
			[]string{"reader: SPI port SPI0.0 cannot be opened", "/dev/spidev0.0 does not exist: enable SPI with `sudo raspi-config nonint do_spi 0`"}, true},
		{"SPI present, reader silent (MISO reads zeros)", nil, func(string) (spi.PortCloser, error) {
			chip := mfrc522sim.New(mfrc522sim.Options{WallClock: true})
			chip.SetChipFault(mfrc522sim.BusStuckLow)
			return simPort{chip}, nil
		}, []string{"reader: the MFRC522 on SPI0.0 does not start", "chip not responding", "VersionReg reads 0x00", "MISO/MOSI/SCK/SDA"}, true},
		{"SPI refuses the speed", nil, func(string) (spi.PortCloser, error) { return &refusingPort{}, nil },
			[]string{"at 1000000 Hz", "try a lower reader.spi_speed_hz"}, true},
		{"no lock pin", []string{"GPIO5"}, nil, []string{`door.lock_pin = "GPIO5": this machine has no such GPIO`, "the relay was not touched"}, false},
		{"no exit button pin", []string{"GPIO13"}, nil, []string{`door.rex_pin = "GPIO13": this machine has no such GPIO`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBoard(tt.missing...)
			b.spi = tt.spi
			hw, err := openBoard(b.board(), parse(t, piConfig), nil, log)
			require.Error(t, err)
			assert.Nil(t, hw)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, "GPIO5", b.order[0], "the relay pin is looked up first")
			if tt.locked {
				assert.Equal(t, gpio.High, b.lock.Read(), "relay locked (active-low relay released)")
			} else if b.lock != nil {
				assert.Equal(t, gpio.Low, b.lock.Read(), "relay untouched")
			}
		})
	}
}

// TestOpenBoardWithChip opens the board with an MFRC522 (the register-level
// simulator behind the SPI port) and reads a card through what openBoard
// returned.
func TestOpenBoardWithChip(t *testing.T) {
	chip := mfrc522sim.New(mfrc522sim.Options{WallClock: true})
	b := newTestBoard()
	b.spi = func(string) (spi.PortCloser, error) { return simPort{chip}, nil }
	hw, err := openBoard(b.board(), parse(t, piConfig), nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer hw.close()
	assert.Equal(t, gpio.High, b.lock.Read(), "relay locked (active-low relay released)")

	_, err = chip.PresentFor(mfrc522sim.NewCard([]byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}, mfrc522sim.MifareUltralight), 300*time.Millisecond)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	card, err := hw.reader.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, "04A1B2C3D4E5F6", string(card.ID()))
}

// simPort is the simulator as a closable SPI port.
type simPort struct{ *mfrc522sim.Sim }

func (simPort) Close() error                      { return nil }
func (simPort) LimitSpeed(physic.Frequency) error { return nil }

type refusingPort struct{ spitest.Record }

func (*refusingPort) Connect(physic.Frequency, spi.Mode, int) (spi.Conn, error) {
	return nil, errors.New("unsupported")
}

func TestLevelFor(t *testing.T) {
	tests := []struct {
		sw     door.Switch
		p      gpio.Pull
		active bool
		want   gpio.Level
	}{
		{door.NormallyClosed, gpio.PullUp, false, gpio.Low}, // door shut: contact closed to GND
		{door.NormallyClosed, gpio.PullUp, true, gpio.High},
		{door.NormallyOpen, gpio.PullUp, true, gpio.Low}, // button pressed to GND
		{door.NormallyOpen, gpio.PullUp, false, gpio.High},
		{door.NormallyOpen, gpio.PullDown, true, gpio.High}, // button pressed to 3.3 V
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.sw, tt.p, tt.active), func(t *testing.T) {
			assert.Equal(t, tt.want, levelFor(tt.sw, tt.p, tt.active))
		})
	}
}

// TestRealHostOnThisMachine opens the real periph host drivers with an
// MFRC522 configuration on the test machine (no Raspberry Pi GPIO): the
// error names what is missing, in words.
func TestRealHostOnThisMachine(t *testing.T) {
	_, err := openHardware(parse(t, piConfig), nil, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, strings.Contains(msg, "no such GPIO") || strings.Contains(msg, "SPI port") || strings.Contains(msg, "failed to start"), msg)
}

// TestSimTapSameBadgeWhileTheReaderSleeps: the simulated hands take the
// resting badge away and tap it again while the reader's loop does not
// poll (held up, as the agent's goroutine is on a loaded machine for longer
// than simAway): the driver still reads it as a new tap, once. (The e2e test
// TestWhitelistChangesReachDoors lost that tap on a loaded CI machine: the
// agent answered "the tap was not decided within 30s".)
func TestSimTapSameBadgeWhileTheReaderSleeps(t *testing.T) {
	sc := &simControls{chip: mfrc522sim.New(mfrc522sim.Options{WallClock: true})}
	r, err := mfrc522.New(sc.chip, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	uid := []byte{0x04, 0xD1, 0xD2, 0xD3}
	next := func(d time.Duration) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		c, err := r.Next(ctx)
		return c.UID, err
	}
	for i := range 3 {
		require.NoError(t, sc.Present(uid))
		got, err := next(5 * time.Second)
		require.NoError(t, err, "tap %d decided", i+1)
		assert.Equal(t, uid, got)
		_, err = next(300 * time.Millisecond)
		require.ErrorIs(t, err, mfrc522.ErrTimeout, "tap %d: resting, it counts once", i+1)
	}
}
