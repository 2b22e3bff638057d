package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/selftest"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// check is an open hardware check: the configuration, the hardware and,
// with simulated hardware, the local listener through which `swc-edge tap`
// and `swc-edge sim` reach it.
type check struct {
	cfg *agent.Config
	hw  *checkHardware
	out io.Writer
}

// openCheck loads the configuration, makes sure no agent holds the
// hardware, and opens it. It prints failures itself and returns the exit
// status when it fails.
func openCheck(ctx context.Context, cfg *agent.Config, stdout, stderr io.Writer) (*check, func(), int) {
	if running(ctx, cfg) {
		return nil, nil, exitErr(stderr, 1, "the door agent (or another check) is running on %s and holds the hardware: stop it first (sudo systemctl stop swc-edge)", cfg.HTTP.Listen)
	}
	log, err := newLogger(cfg.Log, "", stderr)
	if err != nil {
		return nil, nil, exitErr(stderr, 2, "%v", err)
	}
	hw, err := openCheckHardware(cfg, log)
	if err != nil {
		f := &selftest.Failure{What: "the door's GPIOs cannot be opened", Err: err, Check: []string{
			"this is a Raspberry Pi and /dev/gpiomem (or /dev/gpiochip0) exists",
			"the user running swc-edge is in the group gpio (`sudo usermod -aG gpio USER`, then log in again)",
			"the pins in the [door] section are Broadcom GPIO names (GPIO5, not header pin 29)",
		}}
		f.Report(stdout)
		return nil, nil, 1
	}
	c := &check{cfg: cfg, hw: hw, out: stdout}
	closeAll := hw.close
	if hw.sim != nil {
		stop, err := serveSimHands(cfg, hw.sim)
		if err != nil {
			hw.close()
			return nil, nil, exitErr(stderr, 1, "simulated hardware: %v", err)
		}
		closeAll = func() { stop(); hw.close() }
		fmt.Fprintf(stdout, "(Simulated hardware: use `swc-edge tap --config %s --uid HEX` and `swc-edge sim --config %s door open|close | exit` from another terminal.)\n", cfg.Path, cfg.Path)
	}
	return c, closeAll, 0
}

// running reports whether something answers on the agent's local listener.
func running(ctx context.Context, cfg *agent.Config) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := newClient(cfg).do(ctx, http.MethodGet, "/healthz", nil, nil)
	return err == nil || !errors.Is(err, errNoAgent)
}

// serveSimHands serves, on the agent's local address, the simulated hands
// of `swc-edge tap` and `swc-edge sim` while a check runs.
func serveSimHands(cfg *agent.Config, sc *simControls) (func(), error) {
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen = %q: %w", cfg.HTTP.Listen, err)
	}
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, code int, err error) {
		reply(w, code, agent.APIError{Error: err.Error(), Code: "sim"})
	}
	mux.HandleFunc("POST /v1/sim/tap", func(w http.ResponseWriter, r *http.Request) {
		var req agent.SimTap
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		uid, err := protocol.ParseUID(req.UID)
		if err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		b, _ := hex.DecodeString(string(uid))
		if req.Card != "" {
			err = presentFactoryCard(sc, b, req.Card)
		} else {
			err = sc.Present(b)
		}
		if err != nil {
			fail(w, http.StatusServiceUnavailable, err)
			return
		}
		// A check reads the badge; there is no access decision.
		reply(w, http.StatusOK, protocol.Event{Kind: protocol.EventTap, UID: uid})
	})
	mux.HandleFunc("POST /v1/sim/input", func(w http.ResponseWriter, r *http.Request) {
		var req agent.SimInput
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		if err := sc.SetInput(req.Input, req.Active); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		reply(w, http.StatusOK, struct{}{})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// cmdTest runs one of the technician's hardware checks.
func cmdTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	run := map[string]func([]string) int{}
	for _, what := range []string{"reader", "relay", "inputs"} {
		run[what] = func(a []string) int { return cmdTestOne(ctx, what, a, stdout, stderr) }
	}
	return dispatch("test", run, args, stdout, stderr)
}

func cmdTestOne(ctx context.Context, what string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("test "+what, stdout, stderr)
	path := fs.String("config", defaultConfig, "configuration file")
	var wait, pulse, watch time.Duration
	switch what {
	case "reader":
		fs.DurationVar(&wait, "wait", 30*time.Second, "how long to wait for a badge")
	case "relay":
		fs.DurationVar(&pulse, "seconds", 2*time.Second, "how long the lock is released")
	case "inputs":
		fs.DurationVar(&watch, "for", time.Minute, "how long to watch the inputs")
	}
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if code, ok := noArgs(fs, stderr); !ok {
		return code
	}
	cfg, err := agent.Load(*path)
	if err != nil {
		return exitErr(stderr, 2, "%v", err)
	}
	if what == "relay" && (pulse < time.Second/2 || pulse > door.MaxUnlock) {
		return exitErr(stderr, 2, "--seconds %v: want 0.5s to %v", pulse, door.MaxUnlock)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, closeAll, code := openCheck(ctx, cfg, stdout, stderr)
	if c == nil {
		return code
	}
	defer closeAll()

	switch what {
	case "reader":
		err = c.reader(ctx, wait, "Tap a badge on the reader")
	case "relay":
		err = c.relay(ctx, pulse)
	case "inputs":
		err = c.inputs(ctx, watch)
	}
	return checkResult(err, stdout, stderr)
}

// checkResult prints a failure for the technician and returns the status.
func checkResult(err error, stdout, stderr io.Writer) int {
	var f *selftest.Failure
	switch {
	case err == nil:
		return 0
	case errors.As(err, &f):
		f.Report(stdout)
		return 1
	case errors.Is(err, context.Canceled):
		return exitErr(stderr, 1, "interrupted")
	}
	return exitErr(stderr, 1, "%v", err)
}

func (c *check) wiring() selftest.Wiring {
	r := c.cfg.Reader
	return selftest.Wiring{SPIBus: r.SPIBus, SPIDevice: r.SPIDevice, ResetPin: r.ResetPin, IRQPin: r.IRQPin}
}

func (c *check) reader(ctx context.Context, wait time.Duration, prompt string) error {
	_, err := c.readBadge(ctx, wait, prompt)
	return err
}

func (c *check) readBadge(ctx context.Context, wait time.Duration, prompt string) (protocol.UID, error) {
	card, err := c.readCard(ctx, wait, prompt)
	if err != nil {
		return "", err
	}
	return card.ID(), nil
}

// readCard reads one card; its APDU channel (when the driver gives one)
// works while it stays on the reader.
func (c *check) readCard(ctx context.Context, wait time.Duration, prompt string) (reader.Card, error) {
	w := c.wiring()
	if c.hw.reader == nil {
		return reader.Card{}, &selftest.Failure{What: "the reader cannot be opened", Err: c.hw.readerErr, Check: append(w.SPIHints(), w.WiringHints()...)}
	}
	return selftest.Reader(ctx, selftest.ReaderCheck{Chip: c.hw.reader, Wiring: w, TapWait: wait, Out: c.out, Prompt: prompt})
}

func (c *check) relay(ctx context.Context, pulse time.Duration) error {
	d := c.cfg.Door
	note := ""
	if c.hw.sim != nil {
		note = "(Simulated relay: every level driven is in " + filepath.Join(c.cfg.DataDir, "sim-gpio.log") + ".)"
	}
	return selftest.Relay(ctx, selftest.RelayCheck{Relay: c.hw.door, Pulse: pulse, Pin: d.LockPin, ActiveLow: d.LockActiveLow,
		LockKind: door.LockKind(d.LockType), In: os.Stdin, Out: c.out, Note: note})
}

func (c *check) inputs(ctx context.Context, watch time.Duration) error {
	d := c.cfg.Door
	return selftest.Inputs(ctx, selftest.InputsCheck{Duration: watch, Debounce: d.InputDebounce, Out: c.out, Inputs: []selftest.Input{
		{Name: "door contact", Key: "door.contact_pin", PinName: d.ContactPin, Pin: c.hw.inputs["door.contact_pin"], Switch: door.Switch(d.Contact),
			Pull: pull(c.cfg), Active: "OPEN", Resting: "closed"},
		{Name: "exit button", Key: "door.rex_pin", PinName: d.REXPin, Pin: c.hw.inputs["door.rex_pin"], Switch: door.Switch(d.REX),
			Pull: pull(c.cfg), Active: "PRESSED", Resting: "released"},
	}})
}

// presentFactoryCard presents, to a running check (enroll-badge --secure
// personalises it through the central, as at a station), a simulated secure
// card as it leaves the factory, or a magic clone.
func presentFactoryCard(sc *simControls, uid []byte, kind string) error {
	var card *desfiresim.Card
	var err error
	switch kind {
	case string(protocol.CardNTAG424DNA):
		card, err = desfiresim.NewNTAG424(uid, desfiresim.Options{})
	case string(protocol.CardDESFireEV2):
		card, err = desfiresim.NewDESFireEV2(uid, desfiresim.Options{})
	case agent.SimCardClone:
		card, err = desfiresim.NewMagicClone(uid, desfiresim.Options{})
	default:
		return fmt.Errorf("card %q: want %s, %s or %s", kind, protocol.CardNTAG424DNA, protocol.CardDESFireEV2, agent.SimCardClone)
	}
	if err != nil {
		return err
	}
	return sc.PresentCard(uid, card)
}
