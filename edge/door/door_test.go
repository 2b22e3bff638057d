package door

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// journal records pin writes across pins, in order.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, s)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

// pin is a gpiotest pin that journals its configuration and writes and can
// be told to fail writes.
type pin struct {
	*gpiotest.Pin
	j    *journal
	fail atomic.Bool
}

func newPin(j *journal, name string, l gpio.Level) *pin {
	return &pin{Pin: &gpiotest.Pin{N: name, L: l}, j: j}
}

func (p *pin) Out(l gpio.Level) error {
	if p.fail.Load() {
		return errors.New("gpio write failed")
	}
	p.j.add(fmt.Sprintf("%s out %s", p.N, l))
	return p.Pin.Out(l)
}

// In configures the pin but keeps its level: the switch wired to it, not
// the pull resistor, decides what it reads (gpiotest would force the pull's
// level).
func (p *pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.j.add(fmt.Sprintf("%s in %s", p.N, pull))
	l := p.Read()
	err := p.Pin.In(pull, edge)
	p.set(l)
	return err
}

func (p *pin) set(l gpio.Level) {
	p.Lock()
	defer p.Unlock()
	p.L = l
}

func (p *pin) level() gpio.Level { return p.Read() }

// events collects door events.
type events struct {
	mu   sync.Mutex
	list []protocol.EventKind
}

func (e *events) add(k protocol.EventKind) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, k)
}

func (e *events) get() []protocol.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]protocol.EventKind(nil), e.list...)
}

// rig is a door on gpiotest pins: an active-low relay for a fail-secure
// strike, an NC door contact, an NO exit button, a buzzer and an LED.
type rig struct {
	j                          *journal
	lock, contact, rex, buzzer *pin
	led                        *pin
	ev                         *events
	c                          *Controller
	cancel                     context.CancelFunc
	done                       chan error
}

const (
	lockedLevel   = gpio.High // active-low relay released: strike unpowered
	unlockedLevel = gpio.Low
)

func newRig(t *testing.T, mutate func(*Config)) *rig {
	t.Helper()
	j := &journal{}
	r := &rig{j: j, ev: &events{},
		// With the pull-up, a closed NC contact (door shut) reads low and a
		// released NO button high.
		lock: newPin(j, "LOCK", unlockedLevel), contact: newPin(j, "CONTACT", gpio.Low),
		rex: newPin(j, "REX", gpio.High), buzzer: newPin(j, "BUZZ", gpio.Low), led: newPin(j, "LED", gpio.Low)}
	cfg := Config{
		Lock: Output{Pin: r.lock, ActiveLow: true}, LockKind: FailSecure,
		Contact: &Input{Pin: r.contact, Switch: NormallyClosed},
		REX:     &Input{Pin: r.rex, Switch: NormallyOpen},
		Buzzer:  &Output{Pin: r.buzzer}, LED: &Output{Pin: r.led},
		HeldOpen: 10 * time.Second,
		Events:   r.ev.add,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	r.c = c
	return r
}

func (r *rig) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan error, 1)
	go func() { r.done <- r.c.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	synctest.Wait()
}

func (r *rig) stop() error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	return <-r.done
}

func TestNewLocksBeforeAnythingElse(t *testing.T) {
	tests := []struct {
		kind      LockKind
		activeLow bool
		locked    gpio.Level
	}{
		{FailSecure, true, gpio.High}, // relay released
		{FailSecure, false, gpio.Low}, // relay released
		{FailSafe, true, gpio.Low},    // relay energised: maglock powered
		{FailSafe, false, gpio.High},  // relay energised: maglock powered
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s active-low=%v", tt.kind, tt.activeLow), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				j := &journal{}
				lock := newPin(j, "LOCK", !tt.locked) // as if left unlocked
				contact := newPin(j, "CONTACT", gpio.Low)
				buzzer := newPin(j, "BUZZ", gpio.High)
				c, err := New(Config{Lock: Output{Pin: lock, ActiveLow: tt.activeLow}, LockKind: tt.kind,
					Contact: &Input{Pin: contact, Switch: NormallyClosed}, Buzzer: &Output{Pin: buzzer}})
				require.NoError(t, err)
				lines := j.get()
				require.NotEmpty(t, lines)
				assert.Equal(t, "LOCK out "+tt.locked.String(), lines[0], "the relay is locked first: %v", lines)
				assert.Equal(t, tt.locked, lock.level())

				d, err := c.Unlock(0)
				require.NoError(t, err)
				assert.Equal(t, DefaultUnlock, d)
				assert.Equal(t, !tt.locked, lock.level())
				require.NoError(t, c.Close())
				assert.Equal(t, tt.locked, lock.level())
			})
		})
	}
}

func TestNewRefusesBadConfigWithRelayLocked(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"unknown lock kind", func(c *Config) { c.LockKind = "magnetic" }, `door.lock_type = "magnetic": want "fail_secure" or "fail_safe"`},
		{"unlock too long", func(c *Config) { c.UnlockTime = 31 * time.Second }, "door.unlock_time = 31s: want more than 0 and at most 30s"},
		{"bad switch", func(c *Config) { c.Contact.Switch = "nx" }, `door.contact = "nx": want "no" or "nc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &journal{}
			lock := newPin(j, "LOCK", unlockedLevel)
			cfg := Config{Lock: Output{Pin: lock, ActiveLow: true}, Contact: &Input{Pin: newPin(j, "C", gpio.Low), Switch: NormallyClosed}}
			tt.mutate(&cfg)
			_, err := New(cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, lockedLevel, lock.level(), "relay left locked")
		})
	}
	_, err := New(Config{})
	require.ErrorContains(t, err, "no lock relay pin")

	lock := newPin(&journal{}, "LOCK", unlockedLevel)
	lock.fail.Store(true)
	_, err = New(Config{Lock: Output{Pin: lock, ActiveLow: true}})
	require.ErrorContains(t, err, "lock relay LOCK(0): cannot drive it locked")
}

func TestUnlockPulse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		d, err := r.c.Unlock(0)
		require.NoError(t, err)
		assert.Equal(t, 5*time.Second, d)
		assert.Equal(t, unlockedLevel, r.lock.level())
		assert.Equal(t, gpio.High, r.led.level(), "LED lit while unlocked")
		assert.Equal(t, Unlocked, r.c.Status().State)
		time.Sleep(5*time.Second - time.Millisecond)
		assert.Equal(t, unlockedLevel, r.lock.level())
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, lockedLevel, r.lock.level(), "relocked after the pulse")
		assert.Equal(t, gpio.Low, r.led.level())
		assert.Equal(t, Locked, r.c.Status().State)

		// The hard maximum.
		d, err = r.c.Unlock(time.Hour)
		require.NoError(t, err)
		assert.Equal(t, MaxUnlock, d)
		time.Sleep(MaxUnlock - time.Millisecond)
		assert.Equal(t, unlockedLevel, r.lock.level())
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, lockedLevel, r.lock.level())

		// A new unlock restarts the pulse; Lock ends it at once.
		_, err = r.c.Unlock(2 * time.Second)
		require.NoError(t, err)
		time.Sleep(time.Second)
		_, err = r.c.Unlock(2 * time.Second)
		require.NoError(t, err)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, unlockedLevel, r.lock.level(), "the first pulse's timer does not cut the second")
		require.NoError(t, r.c.Lock())
		assert.Equal(t, lockedLevel, r.lock.level())
	})
}

func TestDoorStateMachine(t *testing.T) {
	type step struct {
		do    func(r *rig)
		wait  time.Duration
		state State
		want  []protocol.EventKind // events so far
		relay gpio.Level
	}
	open := func(r *rig) { r.contact.set(gpio.High) } // NC contact opens
	closeDoor := func(r *rig) { r.contact.set(gpio.Low) }
	press := func(r *rig) { r.rex.set(gpio.Low) }
	release := func(r *rig) { r.rex.set(gpio.High) }
	unlock := func(r *rig) { _, _ = r.c.Unlock(20 * time.Second) }
	nothing := func(*rig) {}
	F, C, H, X := protocol.EventDoorForced, protocol.EventDoorClosed, protocol.EventDoorHeldOpen, protocol.EventRexExit

	tests := []struct {
		name  string
		steps []step
	}{
		{"forced open then closed", []step{
			{open, 200 * time.Millisecond, Forced, []protocol.EventKind{F}, lockedLevel},
			{closeDoor, 200 * time.Millisecond, Locked, []protocol.EventKind{F, C}, lockedLevel},
		}},
		{"entry under an unlock relocks on close", []step{
			{unlock, 0, Unlocked, nil, unlockedLevel},
			{open, 200 * time.Millisecond, Open, nil, unlockedLevel},
			{closeDoor, 200 * time.Millisecond, Locked, []protocol.EventKind{C}, lockedLevel},
		}},
		{"held open after the allowed time", []step{
			{unlock, 0, Unlocked, nil, unlockedLevel},
			{open, 9 * time.Second, Open, nil, unlockedLevel},
			{nothing, 2 * time.Second, HeldOpen, []protocol.EventKind{H}, unlockedLevel},
			{nothing, 20 * time.Second, HeldOpen, []protocol.EventKind{H}, lockedLevel},
			{closeDoor, 200 * time.Millisecond, Locked, []protocol.EventKind{H, C}, lockedLevel},
		}},
		{"forced and held open", []step{
			{open, 11 * time.Second, HeldOpen, []protocol.EventKind{F, H}, lockedLevel},
			{closeDoor, 200 * time.Millisecond, Locked, []protocol.EventKind{F, H, C}, lockedLevel},
		}},
		{"exit button opens and is recorded", []step{
			{press, 200 * time.Millisecond, Unlocked, []protocol.EventKind{X}, unlockedLevel},
			{release, 200 * time.Millisecond, Unlocked, []protocol.EventKind{X}, unlockedLevel},
			{open, 200 * time.Millisecond, Open, []protocol.EventKind{X}, unlockedLevel},
			{closeDoor, 200 * time.Millisecond, Locked, []protocol.EventKind{X, C}, lockedLevel},
		}},
		{"a bounce shorter than the debounce is ignored", []step{
			{func(r *rig) { open(r); time.Sleep(DefaultPoll + 10*time.Millisecond); closeDoor(r) }, 500 * time.Millisecond, Locked, nil, lockedLevel},
		}},
		{"exit button held does not repeat", []step{
			{press, 3 * time.Second, Unlocked, []protocol.EventKind{X}, unlockedLevel},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, nil)
				r.run(t)
				for i, s := range tt.steps {
					s.do(r)
					time.Sleep(s.wait)
					synctest.Wait()
					assert.Equal(t, s.state, r.c.Status().State, "step %d state", i)
					assert.Equal(t, s.want, r.ev.get(), "step %d events", i)
					assert.Equal(t, s.relay, r.lock.level(), "step %d relay", i)
				}
				require.NoError(t, r.stop())
			})
		})
	}
}

// TestSetHeldOpen: the held-open threshold changes while the door runs; an
// opening in progress is judged from when it began; 0 returns to the
// configured value (10 s in the rig).
func TestSetHeldOpen(t *testing.T) {
	H := protocol.EventDoorHeldOpen
	tests := []struct {
		name     string
		before   time.Duration // SetHeldOpen before the door opens (-1: none)
		openFor  time.Duration // then, with the door open, SetHeldOpen(during)
		during   time.Duration // -1: none
		check    time.Duration // wait after that
		want     []protocol.EventKind
		inForce  time.Duration
		notYet   bool // also assert nothing fired just before the threshold
		notYetAt time.Duration
	}{
		{"shorter before opening", 5 * time.Second, 0, -1, 5*time.Second + 200*time.Millisecond, []protocol.EventKind{H}, 5 * time.Second, true, 4800 * time.Millisecond},
		{"longer before opening", 20 * time.Second, 0, -1, 15 * time.Second, nil, 20 * time.Second, false, 0},
		{"lowered below the time already open fires at once", -1, 7 * time.Second, 5 * time.Second, 200 * time.Millisecond, []protocol.EventKind{H}, 5 * time.Second, false, 0},
		{"lowered while open fires at the new threshold from the opening", -1, 2 * time.Second, 5 * time.Second, 3*time.Second + 200*time.Millisecond, []protocol.EventKind{H}, 5 * time.Second, true, 2800 * time.Millisecond},
		{"raised while open waits for the new threshold", -1, 2 * time.Second, 30 * time.Second, 20 * time.Second, nil, 30 * time.Second, false, 0},
		{"zero returns to the configured value", 5 * time.Second, 0, 0, 9 * time.Second, nil, 10 * time.Second, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, nil)
				r.run(t)
				assert.Equal(t, 10*time.Second, r.c.HeldOpen())
				if tt.before >= 0 {
					require.NoError(t, r.c.SetHeldOpen(tt.before))
				}
				start := time.Now()
				r.contact.set(gpio.High)
				time.Sleep(tt.openFor)
				synctest.Wait()
				if tt.during >= 0 {
					require.NoError(t, r.c.SetHeldOpen(tt.during))
				}
				if tt.notYet {
					time.Sleep(tt.notYetAt - time.Since(start))
					synctest.Wait()
					assert.NotContains(t, r.ev.get(), H, "not before the threshold")
				}
				time.Sleep(tt.openFor + tt.check - time.Since(start))
				synctest.Wait()
				got := slices.DeleteFunc(r.ev.get(), func(k protocol.EventKind) bool { return k == protocol.EventDoorForced })
				assert.Equal(t, tt.want, append([]protocol.EventKind(nil), got...), "events (nil: none)")
				assert.Equal(t, tt.inForce, r.c.HeldOpen())
				require.NoError(t, r.stop())
			})
		})
	}
	r := newRig(t, nil)
	assert.Error(t, r.c.SetHeldOpen(-time.Second))
	assert.Equal(t, 10*time.Second, r.c.HeldOpen())
}

func TestSwitchWiring(t *testing.T) {
	tests := []struct {
		sw     Switch
		pull   gpio.Pull
		level  gpio.Level
		active bool
	}{
		{NormallyClosed, gpio.PullUp, gpio.Low, false}, // reed closed by the magnet: door shut
		{NormallyClosed, gpio.PullUp, gpio.High, true}, // contact open or wire cut: door open
		{NormallyOpen, gpio.PullUp, gpio.Low, true},    // button pressed
		{NormallyOpen, gpio.PullUp, gpio.High, false},
		{NormallyOpen, gpio.PullDown, gpio.High, true}, // switch to 3.3 V
		{NormallyClosed, gpio.PullDown, gpio.High, false},
	}
	for _, tt := range tests {
		in := Input{Switch: tt.sw, Pull: tt.pull}
		assert.Equal(t, tt.active, in.active(tt.level), "%s %s %s", tt.sw, tt.pull, tt.level)
	}
}

func TestDoorOpenAtStartIsNotForced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(c *Config) { c.Contact.Pin.(*pin).set(gpio.High) })
		r.run(t)
		assert.Equal(t, Forced, r.c.Status().State, "opened without an unlock")
		assert.Empty(t, r.ev.get(), "but not reported as forced: it was open before the agent started")
		time.Sleep(11 * time.Second)
		synctest.Wait()
		assert.Equal(t, []protocol.EventKind{protocol.EventDoorHeldOpen}, r.ev.get())
	})
}

func TestCloseLocksAndRefusesUnlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		r.run(t)
		_, err := r.c.Unlock(30 * time.Second)
		require.NoError(t, err)
		require.NoError(t, r.c.Close())
		assert.Equal(t, lockedLevel, r.lock.level())
		_, err = r.c.Unlock(0)
		require.ErrorIs(t, err, ErrClosed)
		assert.Equal(t, lockedLevel, r.lock.level())
		// The exit button no longer unlocks either, but is still recorded.
		r.rex.set(gpio.Low)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, lockedLevel, r.lock.level())
		assert.Equal(t, []protocol.EventKind{protocol.EventRexExit}, r.ev.get())
		require.NoError(t, r.c.Close(), "idempotent")
	})
}

func TestPanicInControllerGoroutinesLocks(t *testing.T) {
	tests := []struct {
		name    string
		panicOn protocol.EventKind
		trigger func(r *rig)
	}{
		{"input watcher", protocol.EventDoorClosed, func(r *rig) {
			r.contact.set(gpio.High)
			time.Sleep(time.Second)
			r.contact.set(gpio.Low)
		}},
		{"held-open timer", protocol.EventDoorHeldOpen, func(r *rig) {
			r.contact.set(gpio.High)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, func(c *Config) {
					c.Events = func(k protocol.EventKind) {
						if k == tt.panicOn {
							panic("boom in " + string(k))
						}
					}
				})
				r.run(t)
				_, err := r.c.Unlock(30 * time.Second)
				require.NoError(t, err)
				tt.trigger(r)
				err = <-r.done
				r.cancel = nil
				require.Error(t, err)
				assert.Contains(t, err.Error(), "boom in "+string(tt.panicOn))
				assert.Equal(t, lockedLevel, r.lock.level(), "relay locked after the panic")
				_, err = r.c.Unlock(0)
				require.ErrorIs(t, err, ErrClosed, "no unlock after a panic")
			})
		})
	}
}

func TestRelayWriteFailureIsAFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		r.run(t)
		_, err := r.c.Unlock(time.Second)
		require.NoError(t, err)
		r.lock.fail.Store(true)
		time.Sleep(2 * time.Second)
		err = <-r.done
		r.cancel = nil
		require.ErrorContains(t, err, "cannot drive it locked")

		_, err = r.c.Unlock(0)
		require.ErrorContains(t, err, "gpio write failed", "an unlock that cannot be driven is an error")
		assert.False(t, r.c.Status().RelayUnlocked)
	})
}

func TestFeedback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		r.c.Feedback(true)
		synctest.Wait()
		assert.Equal(t, gpio.High, r.buzzer.level(), "beeping")
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, gpio.Low, r.buzzer.level(), "quiet after the pattern")

		r.c.Feedback(false)
		time.Sleep(time.Second)
		synctest.Wait()
		var beeps int
		for _, l := range r.j.get() {
			if l == "BUZZ out High" {
				beeps++
			}
		}
		assert.Equal(t, 1+3, beeps, "one beep for a grant, three for a denial")
		assert.Equal(t, gpio.Low, r.buzzer.level())
	})
}
