// Package door drives a door's hardware through periph gpio.PinIO pins: the
// lock relay (active-low or active-high, fail-secure strike or fail-safe
// maglock), an optional door-position contact and request-to-exit button
// (normally open or normally closed, debounced), and an optional buzzer and
// LED for feedback. Its state machine reports door_forced, door_held_open,
// door_closed and rex_exit (PRODUCT.md 4.2).
//
// Safety rules: New drives the relay to locked before it does anything else;
// an unlock never lasts more than MaxUnlock; Close locks and refuses every
// later unlock; a panic in any goroutine of the controller locks the relay
// and is returned by Run.
package door

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Limits and defaults of PRODUCT.md 4.1 and 4.2.
const (
	MaxUnlock       = 30 * time.Second // hard maximum of any unlock
	DefaultUnlock   = 5 * time.Second
	DefaultHeldOpen = 30 * time.Second
	DefaultDebounce = 50 * time.Millisecond
	DefaultPoll     = 20 * time.Millisecond
)

// LockKind says what the lock does without power.
type LockKind string

// Lock kinds. The relay is wired on its normally-open contact, so that a
// Pi that dies (relay released) leaves the lock unpowered.
const (
	// FailSecure is a strike that is locked without power: the relay is
	// energised to unlock.
	FailSecure LockKind = "fail_secure"
	// FailSafe is a maglock that is unlocked without power: the relay is
	// energised to hold the door locked.
	FailSafe LockKind = "fail_safe"
)

// Switch says how an input switch is wired, with the pin pulled to the
// inactive side (normally up) and the switch to ground.
type Switch string

// Switch kinds.
const (
	// NormallyOpen closes when active (button pressed, door open for a
	// door contact wired NO).
	NormallyOpen Switch = "no"
	// NormallyClosed opens when active (door open for the usual reed contact,
	// button pressed for an NC button). A cut wire then reads as active.
	NormallyClosed Switch = "nc"
)

// Output is an output pin and its polarity.
type Output struct {
	Pin       gpio.PinIO
	ActiveLow bool // the device acts when the pin is low (most relay boards)
}

func (o *Output) level(active bool) gpio.Level {
	return gpio.Level(active != o.ActiveLow)
}

// Input is an input pin and its wiring.
type Input struct {
	Pin    gpio.PinIO
	Switch Switch
	Pull   gpio.Pull // gpio.PullUp (switch to ground), gpio.PullDown (switch to 3.3 V) or gpio.Float (external resistor to 3.3 V)

	initial gpio.Level // read by New: the state Run starts from
}

// active reads whether the switch's function is active (door open, button
// pressed). With the pull-up and the switch to ground, a closed switch
// reads low.
func (in *Input) active(l gpio.Level) bool {
	closed := l == gpio.Low
	if in.Pull == gpio.PullDown {
		closed = l == gpio.High
	}
	if in.Switch == NormallyClosed {
		return !closed
	}
	return closed
}

// Config describes the door's hardware and timings.
type Config struct {
	Lock       Output
	LockKind   LockKind
	Contact    *Input  // door-position contact; nil when not fitted
	REX        *Input  // request-to-exit button; nil when not fitted
	Buzzer     *Output // nil when not fitted
	LED        *Output // nil when not fitted; lit while unlocked
	UnlockTime time.Duration
	HeldOpen   time.Duration
	Debounce   time.Duration
	Poll       time.Duration            // input polling when a pin has no edge detection
	Events     func(protocol.EventKind) // called for each door event, from the controller's goroutines
	Logger     *slog.Logger
}

// State is the door's state as reported in status.
type State string

// States.
const (
	Locked   State = "locked"    // relay locked, door closed (or no contact fitted)
	Unlocked State = "unlocked"  // relay unlocked, door closed
	Open     State = "open"      // door open after an unlock or exit request
	HeldOpen State = "held_open" // door open longer than allowed
	Forced   State = "forced"    // door opened without an unlock
)

// ErrClosed is returned by Unlock after Close.
var ErrClosed = errors.New("door controller closed: the door stays locked")

// Status is a snapshot of the door.
type Status struct {
	State         State
	RelayUnlocked bool
	DoorOpen      bool // false when no contact is fitted
	HasContact    bool
	UnlockedUntil time.Time // zero when locked
}

// Controller drives one door. Its methods are safe for concurrent use.
type Controller struct {
	cfg    Config
	log    *slog.Logger
	faults chan error

	mu            sync.Mutex
	closed        bool
	unlocked      bool
	unlockedUntil time.Time
	pulse         *time.Timer
	pulseGen      uint64
	open          bool
	authorized    bool // the current opening began under an unlock
	held          bool
	heldTimer     *time.Timer
	openedAt      time.Time     // when the current opening began
	heldOpen      time.Duration // the held-open threshold in force (SetHeldOpen)
	openGen       uint64
	beepGen       uint64
}

// New drives the relay to locked first of all, then checks the rest of the
// configuration and sets up the other pins. If even the first write fails it
// returns an error naming the pin: the door's state is then unknown and the
// agent must not start.
func New(cfg Config) (*Controller, error) {
	if cfg.Lock.Pin == nil {
		return nil, errors.New("door: no lock relay pin")
	}
	if cfg.LockKind == "" {
		cfg.LockKind = FailSecure
	}
	c := &Controller{cfg: cfg, faults: make(chan error, 1)}
	switch cfg.LockKind {
	case FailSecure, FailSafe:
	default:
		// Unknown lock kind: drive the relay released (the safe side for a
		// fail-secure strike, the common case) and refuse.
		_ = cfg.Lock.Pin.Out(cfg.Lock.level(false))
		return nil, fmt.Errorf("door.lock_type = %q: want %q or %q", cfg.LockKind, FailSecure, FailSafe)
	}
	if err := cfg.Lock.Pin.Out(c.relayLevel(false)); err != nil {
		return nil, fmt.Errorf("door: lock relay %s: cannot drive it locked: %w", cfg.Lock.Pin, err)
	}
	c.log = cfg.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.UnlockTime == 0 {
		c.cfg.UnlockTime = DefaultUnlock
	}
	if c.cfg.HeldOpen == 0 {
		c.cfg.HeldOpen = DefaultHeldOpen
	}
	if c.cfg.Debounce == 0 {
		c.cfg.Debounce = DefaultDebounce
	}
	if c.cfg.Poll == 0 {
		c.cfg.Poll = DefaultPoll
	}
	if c.cfg.UnlockTime < 0 || c.cfg.UnlockTime > MaxUnlock {
		return nil, fmt.Errorf("door.unlock_time = %v: want more than 0 and at most %v", c.cfg.UnlockTime, MaxUnlock)
	}
	if c.cfg.HeldOpen < 0 {
		return nil, fmt.Errorf("door.held_open_time = %v: want more than 0", c.cfg.HeldOpen)
	}
	c.heldOpen = c.cfg.HeldOpen
	if c.cfg.Debounce < 0 || c.cfg.Debounce > time.Second {
		return nil, fmt.Errorf("door.input_debounce = %v: want 0 to 1s", c.cfg.Debounce)
	}
	for _, in := range []struct {
		name string
		in   **Input
	}{{"door.contact", &c.cfg.Contact}, {"door.rex", &c.cfg.REX}} {
		if *in.in == nil {
			continue
		}
		cp := **in.in // the controller keeps its own copy
		*in.in = &cp
		if cp.Pull == gpio.PullNoChange {
			cp.Pull = gpio.PullUp
		}
		if cp.Pin == nil {
			return nil, fmt.Errorf("%s_pin: no pin", in.name)
		}
		switch cp.Switch {
		case NormallyOpen, NormallyClosed:
		default:
			return nil, fmt.Errorf("%s = %q: want %q or %q", in.name, cp.Switch, NormallyOpen, NormallyClosed)
		}
		if err := cp.Pin.In(cp.Pull, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("%s_pin %s: cannot set it as an input: %w", in.name, cp.Pin, err)
		}
		cp.initial = cp.Pin.Read()
	}
	for _, out := range []struct {
		name string
		out  *Output
	}{{"door.buzzer_pin", cfg.Buzzer}, {"door.led_pin", cfg.LED}} {
		if out.out == nil {
			continue
		}
		if out.out.Pin == nil {
			return nil, fmt.Errorf("%s: no pin", out.name)
		}
		if err := out.out.Pin.Out(out.out.level(false)); err != nil {
			return nil, fmt.Errorf("%s %s: %w", out.name, out.out.Pin, err)
		}
	}
	return c, nil
}

// relayLevel is the lock pin's level for the wanted lock state.
func (c *Controller) relayLevel(unlocked bool) gpio.Level {
	energise := unlocked // a strike is energised to unlock
	if c.cfg.LockKind == FailSafe {
		energise = !unlocked // a maglock is energised to hold
	}
	return c.cfg.Lock.level(energise)
}

// HeldOpen returns the held-open threshold in force: the one SetHeldOpen
// gave, else the configured Config.HeldOpen.
func (c *Controller) HeldOpen() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heldOpen
}

// SetHeldOpen changes the held-open threshold while the door runs (the
// network's value, from the whitelist); 0 returns to the configured
// Config.HeldOpen. A door open now is judged by the new threshold from the
// moment it opened: door_held_open fires at once if it has been open that
// long already.
func (c *Controller) SetHeldOpen(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("door: held-open time %v: want more than 0", d)
	}
	if d == 0 {
		d = c.cfg.HeldOpen
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d == c.heldOpen {
		return nil
	}
	c.heldOpen = d
	if c.open && !c.held && !c.closed {
		c.armHeldLocked(max(0, time.Until(c.openedAt.Add(d))))
	}
	return nil
}

// UnlockTime is the configured unlock pulse.
func (c *Controller) UnlockTime() time.Duration { return c.cfg.UnlockTime }

// Unlock releases the lock for d (0: the configured unlock time), never
// longer than MaxUnlock, and returns the time granted. A new unlock while
// unlocked restarts the pulse. If the relay cannot be driven the controller
// tries to lock and returns the error.
func (c *Controller) Unlock(d time.Duration) (time.Duration, error) {
	if d <= 0 {
		d = c.cfg.UnlockTime
	}
	d = min(d, MaxUnlock)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	if err := c.cfg.Lock.Pin.Out(c.relayLevel(true)); err != nil {
		lockErr := c.lockLocked()
		return 0, fmt.Errorf("door: unlock relay %s: %w", c.cfg.Lock.Pin, errors.Join(err, lockErr))
	}
	c.unlocked = true
	c.unlockedUntil = time.Now().Add(d)
	c.pulseGen++
	gen := c.pulseGen
	if c.pulse != nil {
		c.pulse.Stop()
	}
	c.pulse = time.AfterFunc(d, func() {
		c.guard("unlock pulse", func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.pulseGen == gen && c.unlocked {
				if err := c.lockLocked(); err != nil {
					c.fault(err)
				}
			}
		})
	})
	c.setLED(true)
	return d, nil
}

// Lock locks now, ending any unlock.
func (c *Controller) Lock() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lockLocked()
}

func (c *Controller) lockLocked() error {
	c.pulseGen++
	if c.pulse != nil {
		c.pulse.Stop()
		c.pulse = nil
	}
	err := c.cfg.Lock.Pin.Out(c.relayLevel(false))
	c.unlocked = false
	c.unlockedUntil = time.Time{}
	c.setLED(false)
	if err != nil {
		return fmt.Errorf("door: lock relay %s: cannot drive it locked: %w", c.cfg.Lock.Pin, err)
	}
	return nil
}

// Close locks the door and refuses every later unlock. It is idempotent and
// is the first thing the agent does on every way out.
func (c *Controller) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.heldTimer != nil {
		c.heldTimer.Stop()
	}
	c.beepGen++
	if c.cfg.Buzzer != nil {
		_ = c.cfg.Buzzer.Pin.Out(c.cfg.Buzzer.level(false))
	}
	return c.lockLocked()
}

// Status returns the door's state.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{State: c.stateLocked(), RelayUnlocked: c.unlocked, DoorOpen: c.open, HasContact: c.cfg.Contact != nil, UnlockedUntil: c.unlockedUntil}
}

func (c *Controller) stateLocked() State {
	switch {
	case c.open && c.held:
		return HeldOpen
	case c.open && !c.authorized:
		return Forced
	case c.open:
		return Open
	case c.unlocked:
		return Unlocked
	}
	return Locked
}

func (c *Controller) setLED(on bool) {
	if c.cfg.LED != nil {
		if err := c.cfg.LED.Pin.Out(c.cfg.LED.level(on)); err != nil {
			c.log.Warn("LED pin write failed", "pin", c.cfg.LED.Pin.String(), "err", err)
		}
	}
}

// Feedback sounds the buzzer: one long beep for a grant, three short ones
// for a denial. A new pattern cuts the previous one short.
func (c *Controller) Feedback(granted bool) {
	if c.cfg.Buzzer == nil {
		return
	}
	c.mu.Lock()
	c.beepGen++
	gen := c.beepGen
	c.mu.Unlock()
	pattern := []time.Duration{300 * time.Millisecond}
	if !granted {
		pattern = []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	}
	b := c.cfg.Buzzer
	// step drives the buzzer unless a newer pattern took over.
	step := func(on bool) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.beepGen != gen {
			return false
		}
		if err := b.Pin.Out(b.level(on)); err != nil {
			c.log.Warn("buzzer pin write failed", "pin", b.Pin.String(), "err", err)
			return false
		}
		return true
	}
	go c.guard("buzzer", func() {
		for i, d := range pattern {
			if !step(i%2 == 0) {
				return
			}
			time.Sleep(d)
		}
		step(false)
	})
}

// guard runs fn and turns a panic into a locked door and a fault for Run.
func (c *Controller) guard(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			c.mu.Lock()
			c.closed = true
			lockErr := c.lockLocked()
			c.mu.Unlock()
			c.fault(errors.Join(fmt.Errorf("door: panic in %s: %v\n%s", what, r, debug.Stack()), lockErr))
		}
	}()
	fn()
}

func (c *Controller) fault(err error) {
	select {
	case c.faults <- err:
	default:
	}
}

func (c *Controller) emit(kind protocol.EventKind) {
	if c.cfg.Events != nil {
		c.cfg.Events(kind)
	}
}

// Run watches the inputs until ctx ends or a fault (a panic in one of the
// controller's goroutines, a relay that cannot be locked) happens; it locks
// the door before it returns, and returns the fault.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if in := c.cfg.Contact; in != nil {
		c.mu.Lock()
		c.open = in.active(in.initial)
		if c.open {
			c.startHeldLocked()
		}
		c.mu.Unlock()
		wg.Go(func() { c.guard("door contact", func() { c.watch(ctx, in, c.onContact) }) })
	}
	if in := c.cfg.REX; in != nil {
		wg.Go(func() { c.guard("exit button", func() { c.watch(ctx, in, c.onREX) }) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-c.faults:
	}
	cancel()
	wg.Wait()
	if lockErr := c.Lock(); lockErr != nil {
		err = errors.Join(err, lockErr)
	}
	return err
}

// watch polls one input and calls onChange with the debounced active state
// whenever it changes from the level New read: a new level counts only if
// it still reads the same after the debounce time. Polling works with every
// pin driver (gpiotest, sysfs, /dev/gpiomem) at the cost of a wake-up every
// Poll.
func (c *Controller) watch(ctx context.Context, in *Input, onChange func(active bool)) {
	stable := in.initial
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.cfg.Poll):
		}
		l := in.Pin.Read()
		if l == stable {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.cfg.Debounce):
		}
		if in.Pin.Read() != l {
			continue // bounce
		}
		stable = l
		onChange(in.active(l))
	}
}

func (c *Controller) onContact(open bool) {
	var events []protocol.EventKind
	c.mu.Lock()
	switch {
	case open && !c.open:
		c.open, c.held, c.authorized = true, false, c.unlocked
		if !c.authorized {
			events = append(events, protocol.EventDoorForced)
		}
		c.startHeldLocked()
	case !open && c.open:
		wasAuthorized := c.authorized
		c.open, c.held, c.authorized = false, false, false
		c.openGen++
		if c.heldTimer != nil {
			c.heldTimer.Stop()
		}
		events = append(events, protocol.EventDoorClosed)
		if wasAuthorized && c.unlocked {
			// Relock as soon as the door closes after the entry.
			if err := c.lockLocked(); err != nil {
				c.fault(err)
			}
		}
	}
	c.mu.Unlock()
	for _, e := range events {
		c.emit(e)
	}
}

// startHeldLocked starts the held-open timer of an opening beginning now.
func (c *Controller) startHeldLocked() {
	c.openGen++
	c.openedAt = time.Now()
	c.armHeldLocked(c.heldOpen)
}

// armHeldLocked (re)schedules the current opening's held-open timer to
// fire after d.
func (c *Controller) armHeldLocked(d time.Duration) {
	gen := c.openGen
	if c.heldTimer != nil {
		c.heldTimer.Stop()
	}
	c.heldTimer = time.AfterFunc(d, func() {
		c.guard("held-open timer", func() {
			c.mu.Lock()
			fire := c.openGen == gen && c.open && !c.held
			if fire {
				c.held = true
			}
			c.mu.Unlock()
			if fire {
				c.emit(protocol.EventDoorHeldOpen)
			}
		})
	})
}

func (c *Controller) onREX(pressed bool) {
	if !pressed {
		return
	}
	// Record first, then open: egress never waits on anything but the
	// record, and does not depend on it succeeding.
	c.emit(protocol.EventRexExit)
	if _, err := c.Unlock(0); err != nil && !errors.Is(err, ErrClosed) {
		c.log.Error("exit button: unlock failed", "err", err)
		c.fault(err)
	}
}
