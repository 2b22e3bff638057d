package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smartworkcenters/swc/edge/credential"
	"github.com/smartworkcenters/swc/edge/decide"
	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// SimControls are the hands of a person trying a simulated door: present a
// badge, break the reader, open the door or press the exit button. The
// wiring provides them for reader.driver = "sim"; the local API serves them.
type SimControls interface {
	Present(uid []byte) error
	SetReaderFault(err error)
	// SetInput sets "contact" (active = door open) or "rex" (active =
	// button pressed).
	SetInput(name string, active bool) error
}

// SecureSimControls are SimControls that can also present a simulated
// ISO 14443-4 smart card (an NTAG 424 DNA, a DESFire EV2 or a magic clone,
// package desfiresim) with uid: POST /v1/sim/tap with a card.
type SecureSimControls interface {
	SimControls
	PresentCard(uid []byte, card *desfiresim.Card) error
}

// Component is one more long-running part started from the configuration,
// such as the MQTT sync. Run returns when ctx ends; an error return is
// logged and the component restarted after a backoff (the door keeps
// working offline); a panic is fatal like any panic in the agent.
type Component interface {
	Run(ctx context.Context) error
}

// ComponentFactory builds a Component when its configuration section is
// present. New reads its section with Config.DecodeSection; an error there
// stops the agent at start, like any configuration error.
type ComponentFactory struct {
	Section string // top-level TOML section, one of ExtraSections()
	Name    string // for logs and metrics
	New     func(ctx context.Context, h Host) (Component, error)
}

// Deps are what the wiring hands the agent. The door controller has already
// locked the relay.
type Deps struct {
	Config     *Config
	Door       *door.Controller
	Reader     reader.Reader
	Store      *store.Store
	Clock      *Clock       // nil: SystemClock(Config.Clock.NTP, the stored last trusted time)
	Sim        SimControls  // nil unless reader.driver = "sim"
	Listener   net.Listener // nil: listen on Config.HTTP.Listen
	Logger     *slog.Logger
	Registry   *metrics.Registry // nil: a new one
	Components []ComponentFactory
	Firmware   string
	// ReaderBackoff bounds the retry interval after reader errors (default
	// 100 ms doubling to 5 s).
	ReaderBackoff [2]time.Duration
}

// Agent is a running door.
type Agent struct {
	cfg      *Config
	door     *door.Controller
	reader   reader.Reader
	store    *store.Store
	clock    *Clock
	sim      SimControls
	simCards simCards // the simulated secure badges presented, kept so that their counters go on
	log      *slog.Logger
	reg      *metrics.Registry
	m        *agentMetrics
	policy   decide.Policy
	debounce *decide.Debouncer
	keys     *protocol.KeyRing
	firmware string
	backoff  [2]time.Duration
	deps     Deps

	boot       string
	started    time.Time
	wlVersion  atomic.Uint64
	heldFromWL atomic.Bool // the held-open time in force is the whitelist's
	readerOK   atomic.Bool
	readerErr  atomic.Value // string
	storeOK    atomic.Bool
	alarmed    atomic.Bool
	appended   chan struct{}
	fatal      chan error
	components []namedComponent

	waitMu  sync.Mutex
	waiters []*tapWaiter
}

type namedComponent struct {
	name string
	c    Component
}

// New builds the agent; nothing runs until Run.
func New(d Deps) (*Agent, error) {
	if d.Config == nil || d.Door == nil || d.Reader == nil || d.Store == nil {
		return nil, errors.New("agent: config, door, reader and store are required")
	}
	a := &Agent{
		cfg: d.Config, door: d.Door, reader: d.Reader, store: d.Store, clock: d.Clock, sim: d.Sim,
		log: d.Logger, reg: d.Registry, policy: d.Config.DecidePolicy(), keys: d.Config.KeyRing(),
		firmware: d.Firmware, backoff: d.ReaderBackoff, deps: d,
		appended: make(chan struct{}, 1), fatal: make(chan error, 1),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.reg == nil {
		a.reg = metrics.NewRegistry()
	}
	if a.backoff[0] <= 0 {
		a.backoff = [2]time.Duration{100 * time.Millisecond, 5 * time.Second}
	}
	a.debounce = decide.NewDebouncer(a.policy.Debounce)
	a.readerOK.Store(true)
	a.storeOK.Store(true)
	a.readerErr.Store("")
	a.m = newAgentMetrics(a.reg)
	a.registerGauges()
	return a, nil
}

// Run runs the door until ctx ends (SIGTERM, SIGINT) or a fatal error or
// panic. On every way out the relay is locked first, before anything else is
// stopped. It returns nil after a clean stop.
func (a *Agent) Run(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			lockErr := a.door.Close()
			err = errors.Join(fmt.Errorf("agent: panic: %v\n%s", r, debug.Stack()), lockErr)
		}
	}()
	if err := a.door.Lock(); err != nil {
		return err
	}
	if err := a.start(ctx); err != nil {
		return errors.Join(err, a.door.Close())
	}
	ln := a.deps.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", a.cfg.HTTP.Listen); err != nil {
			return errors.Join(fmt.Errorf("http.listen = %q: cannot listen: %w (is another swc-edge running, or the port taken?)", a.cfg.HTTP.Listen, err), a.door.Close())
		}
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	a.spawn(runCtx, &wg, "door", a.door.Run)
	a.spawn(runCtx, &wg, "reader", a.readLoop)
	a.spawn(runCtx, &wg, "clock", a.keepTrustedTime)
	a.spawn(runCtx, &wg, "outbox alarm", a.watchOutbox)
	a.spawn(runCtx, &wg, "http", func(context.Context) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	for _, c := range a.components {
		a.spawn(runCtx, &wg, c.name, a.superviseComponent(c))
	}
	a.log.Info("door agent running", "door", a.cfg.DoorID, "boot", a.boot, "listen", ln.Addr().String(),
		"reader", a.cfg.Reader.Driver, "whitelist_version", a.wlVersion.Load())

	select {
	case <-ctx.Done():
		a.log.Info("stopping", "cause", context.Cause(ctx))
	case err = <-a.fatal:
	}
	// The way out: lock first of all.
	lockErr := a.door.Close()
	if lockErr != nil {
		a.log.Error("relay could not be locked on the way out", "err", lockErr)
	} else {
		a.log.Info("relay locked")
	}
	if err != nil {
		a.log.Error("stopping after a fatal error; the relay is locked", "err", err)
	}
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	_ = srv.Shutdown(shutdownCtx)
	stop()
	_ = a.reader.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		a.log.Error("some goroutines did not stop within 10s")
	}
	if r := a.clock.Now(); r.Trusted {
		_, _ = a.store.AdvanceTrustedTime(context.Background(), r.Time)
	}
	return errors.Join(err, lockErr)
}

// start prepares the run: boot id, clock, whitelist version, components.
func (a *Agent) start(ctx context.Context) error {
	boot, err := a.store.StartBoot(ctx)
	if err != nil {
		return err
	}
	a.boot, a.started = boot.ID, time.Now()
	floor, err := a.store.TrustedTime(ctx)
	if err != nil {
		return err
	}
	if a.clock == nil {
		a.clock = SystemClock(a.cfg.Clock.NTP, floor)
	} else {
		a.clock.Observe(floor, false)
	}
	wi, err := a.store.Whitelist(ctx)
	if err != nil {
		return err
	}
	a.wlVersion.Store(wi.Version)
	a.setHeldOpen(wi.HeldOpen)
	for _, w := range a.cfg.Warnings {
		a.log.Warn(w)
	}
	for _, f := range a.deps.Components {
		if !a.cfg.HasSection(f.Section) {
			continue
		}
		c, err := f.New(ctx, a)
		if err != nil {
			return fmt.Errorf("[%s]: %w", f.Section, err)
		}
		a.components = append(a.components, namedComponent{f.Name, c})
	}
	return nil
}

// spawn runs fn in a goroutine the agent owns: a panic there locks the
// relay and stops the agent, and so does an error return while running.
func (a *Agent) spawn(ctx context.Context, wg *sync.WaitGroup, name string, fn func(context.Context) error) {
	wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				lockErr := a.door.Close()
				a.fail(errors.Join(fmt.Errorf("panic in %s: %v\n%s", name, r, debug.Stack()), lockErr))
			}
		}()
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			a.fail(fmt.Errorf("%s: %w", name, err))
		}
	})
}

// fail stops the agent with err (the first fatal error wins). The relay is
// locked at once, not only when Run gets to it.
func (a *Agent) fail(err error) {
	_ = a.door.Close()
	select {
	case a.fatal <- err:
	default:
	}
}

func (a *Agent) superviseComponent(c namedComponent) func(context.Context) error {
	return func(ctx context.Context) error {
		wait := time.Second
		for {
			err := c.c.Run(ctx)
			if ctx.Err() != nil {
				return nil
			}
			a.m.componentFails.With(c.name).Inc()
			a.log.Error("component stopped; restarting", "component", c.name, "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, time.Minute)
		}
	}
}

// cardErrorStreak is how many card errors in a row, without a card read in
// between, make the agent warn once: a broken card lying on the reader, or
// interference near the antenna.
const cardErrorStreak = 50

// cardErrorRetries is how many card errors in a row are retried at once (a
// quick tap gives one or two); after them the agent waits the reader
// backoff's first step between tries.
const cardErrorRetries = 3

// readLoop reads badges until ctx ends. Card errors (reader.ErrCard: a card
// taken away in the middle of its read, a garbled or colliding answer) are
// part of normal use: they are counted, logged at debug level, and Next is
// called again at once (the driver reads the card afresh; after a few in a
// row, after the backoff's first step); a long streak of them is logged once
// as a warning. Any other error is a reader fault: it
// keeps the door locked (nothing unlocks it), is recorded once as
// reader_fault, logged with the wires to check, and retried with backoff.
// The first card (or card error, which needs a chip that answers) after a
// fault records reader_ok.
func (a *Agent) readLoop(ctx context.Context) error {
	wait := a.backoff[0]
	streak := 0
	for {
		card, err := a.reader.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, reader.ErrClosed) {
			return err
		}
		if errors.Is(err, reader.ErrCard) {
			a.m.cardErrors.Inc()
			a.log.Debug("card not read; the card is read again at its next poll", "err", err)
			if streak++; streak == cardErrorStreak {
				a.log.Warn("many card errors in a row without a card read: a broken card lying on the reader, or interference near the antenna", "errors", streak, "last", err)
			}
			wait = a.backoff[0]
			a.readerAnswers(ctx)
			if streak > cardErrorRetries {
				// More than a quick tap gives: do not spin on a reader that
				// keeps failing a card at once.
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(a.backoff[0]):
				}
			}
			continue
		}
		if err != nil {
			if a.readerOK.Swap(false) {
				a.m.readerFaults.Inc()
				a.readerErr.Store(err.Error())
				a.log.Error("badge reader not answering; the door stays locked and the agent retries. "+
					"Check the reader's wires (SDA to CE0/GPIO8, SCK GPIO11, MOSI GPIO10, MISO GPIO9, RST, 3.3 V, GND) and reader.spi_bus/spi_device",
					"err", err)
				a.record(ctx, protocol.EventReaderFault, "")
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, a.backoff[1])
			continue
		}
		wait, streak = a.backoff[0], 0
		a.readerAnswers(ctx)
		a.handleCard(ctx, card)
	}
}

// readerAnswers records reader_ok if the reader was in fault.
func (a *Agent) readerAnswers(ctx context.Context) {
	if !a.readerOK.Swap(true) {
		a.readerErr.Store("")
		a.log.Info("badge reader answers again")
		a.record(ctx, protocol.EventReaderOK, "")
	}
}

// handleCard decides and records one presentation, then drives the relay.
func (a *Agent) handleCard(ctx context.Context, card reader.Card) {
	uid := card.ID()
	if err := uid.Validate(); err != nil {
		a.m.badCards.Inc()
		a.log.Warn("card refused: malformed UID", "uid", string(uid), "err", err)
		a.door.Feedback(false)
		a.deliver(uid, protocol.Event{}, fmt.Errorf("card UID %q: %w", uid, err))
		return
	}
	r := a.clock.Now()
	// Debounce on the monotonic uptime: a wall-clock step neither opens nor
	// closes the window.
	repeat := a.debounce.Repeat(uid, time.Time{}.Add(r.Uptime))
	req := store.TapRequest{UID: uid, Time: r.Time, Trusted: r.Trusted, Boot: a.boot, UptimeMs: r.Uptime.Milliseconds(), Repeat: repeat}
	if !repeat {
		if err := a.authenticate(ctx, card, &req); err != nil {
			// No decision, nothing recorded, nothing opens: as a card read
			// error, and the next presentation is not a repeat.
			a.debounce.Forget(uid)
			a.door.Feedback(false)
			a.deliver(uid, protocol.Event{}, err)
			return
		}
	}
	start := time.Now()
	ev, err := a.store.Tap(ctx, req, a.policy)
	a.m.tapSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		// Nothing recorded, so nothing opens.
		a.storeFailed("tap", err)
		a.door.Feedback(false)
		a.deliver(uid, protocol.Event{}, err)
		return
	}
	a.notifyAppended()
	a.m.taps.With(string(ev.Reason)).Inc()
	a.m.events.With(string(protocol.EventTap)).Inc()
	if ev.Reason == protocol.DeniedAuthFailed {
		a.m.events.With(string(protocol.EventSuspectedClone)).Inc()
		a.log.Warn("suspected clone: a badge listed as secure failed its authentication or replayed its read counter; the door stays locked and the alarm goes to the central",
			"uid", string(uid), "member", ev.Member, "read_ctr", ev.ReadCounter)
	}
	a.log.Info("tap", "uid", string(uid), "reason", string(ev.Reason), "member", ev.Member, "seq", ev.Seq, "trusted", ev.Trusted, "wl_version", ev.WLVersion)
	switch {
	case ev.Reason.Granted():
		if _, err := a.door.Unlock(0); err != nil {
			a.log.Error("granted, but the relay could not be unlocked", "err", err)
		}
		a.door.Feedback(true)
	case ev.Reason != protocol.DeniedDebounce:
		a.door.Feedback(false)
	}
	a.deliver(uid, ev, nil)
}

// authTimeout bounds one secure badge's authentication (a handful of
// APDUs: tens of milliseconds on a real reader).
const authTimeout = 2 * time.Second

// authenticate authenticates the card when the whitelist lists its UID as a
// secure badge, and fills req.Auth (and the NTAG 424 DNA read counter). A
// card that fails to prove its key is decided (denied_auth_failed); an error
// return is a transport error or a store error: no decision at all.
func (a *Agent) authenticate(ctx context.Context, card reader.Card, req *store.TapRequest) error {
	e, found, err := a.store.Entry(ctx, req.UID)
	if err != nil {
		a.storeFailed("entry", err)
		return err
	}
	if !found || !e.Card.Secure() {
		return nil
	}
	if card.APDU == nil {
		a.m.secureAuth.With("no_apdu").Inc()
		a.log.Warn("a badge listed as secure answered without ISO 14443-4 (a UID clone, or a reader driver without APDU support)",
			"uid", string(req.UID), "card", card.String())
		req.Auth = decide.AuthFailed
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	res, err := credential.Authenticate(actx, card.APDU, &e, req.Time, nil)
	switch {
	case err == nil:
		a.m.secureAuth.With("ok").Inc()
		req.Auth, req.ReadCounter, req.HasCounter = decide.AuthOK, res.ReadCounter, res.HasCounter
		return nil
	case errors.Is(err, credential.ErrAuthFailed):
		a.m.secureAuth.With("failed").Inc()
		a.log.Warn("secure badge failed authentication", "uid", string(req.UID), "err", err)
		req.Auth = decide.AuthFailed
		return nil
	}
	a.m.secureAuth.With("card_error").Inc()
	a.m.cardErrors.Inc()
	a.log.Debug("secure badge left before its authentication ended; it is read again at its next presentation", "uid", string(req.UID), "err", err)
	return fmt.Errorf("secure badge %s: %w", req.UID, err)
}

// storeFailed counts a store error; a closed or broken store is fatal.
func (a *Agent) storeFailed(op string, err error) {
	a.m.storeErrors.With(op).Inc()
	a.log.Error("store operation failed; the door stays locked", "op", op, "err", err)
	if errors.Is(err, store.ErrClosed) {
		a.storeOK.Store(false)
		a.fail(fmt.Errorf("store: %w", err))
	}
}

// record appends a non-tap event.
func (a *Agent) record(ctx context.Context, kind protocol.EventKind, command string) {
	r := a.clock.Now()
	ev := protocol.Event{TimeMs: r.Time.UnixMilli(), Trusted: r.Trusted, Boot: a.boot, UptimeMs: r.Uptime.Milliseconds(), Kind: kind, WLVersion: a.wlVersion.Load(), Command: command}
	if _, err := a.store.Append(ctx, ev); err != nil {
		a.storeFailed("append", err)
		return
	}
	a.m.events.With(string(kind)).Inc()
	a.notifyAppended()
}

// DoorEvent records a door event; the wiring passes it to the door
// controller as door.Config.Events.
func (a *Agent) DoorEvent(kind protocol.EventKind) {
	level := slog.LevelInfo
	if kind == protocol.EventDoorForced || kind == protocol.EventDoorHeldOpen {
		level = slog.LevelWarn
	}
	a.log.Log(context.Background(), level, "door event", "kind", string(kind))
	a.record(context.Background(), kind, "")
}

func (a *Agent) notifyAppended() {
	select {
	case a.appended <- struct{}{}:
	default:
	}
}

// keepTrustedTime persists a trusted reading every ten minutes, so that a
// door without taps still has a recent last trusted time after a reboot.
func (a *Agent) keepTrustedTime(ctx context.Context) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if r := a.clock.Now(); r.Trusted {
			if _, err := a.store.AdvanceTrustedTime(ctx, r.Time); err != nil && ctx.Err() == nil {
				a.storeFailed("trusted_time", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// watchOutbox logs the outbox alarm when its depth crosses the threshold.
func (a *Agent) watchOutbox(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		st, err := a.store.OutboxStats(ctx)
		if err == nil {
			if st.Alarm && !a.alarmed.Swap(true) {
				a.log.Error("outbox alarm: events are piling up unacknowledged; nothing is dropped, but the disk will fill. Check the network and the central service",
					"depth", st.Depth, "alarm_at", st.AlarmAt, "oldest", st.Oldest)
			} else if !st.Alarm && a.alarmed.Swap(false) {
				a.log.Info("outbox alarm cleared", "depth", st.Depth)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tapWaiter waits for the outcome of one presented UID (local API).
type tapWaiter struct {
	uid protocol.UID
	ch  chan tapOutcome
}

type tapOutcome struct {
	ev  protocol.Event
	err error
}

func (a *Agent) wait(uid protocol.UID) *tapWaiter {
	w := &tapWaiter{uid: uid, ch: make(chan tapOutcome, 1)}
	a.waitMu.Lock()
	a.waiters = append(a.waiters, w)
	a.waitMu.Unlock()
	return w
}

func (a *Agent) unwait(w *tapWaiter) {
	a.waitMu.Lock()
	defer a.waitMu.Unlock()
	for i, x := range a.waiters {
		if x == w {
			a.waiters = append(a.waiters[:i], a.waiters[i+1:]...)
			return
		}
	}
}

func (a *Agent) deliver(uid protocol.UID, ev protocol.Event, err error) {
	a.waitMu.Lock()
	defer a.waitMu.Unlock()
	for i, w := range a.waiters {
		if w.uid == uid {
			w.ch <- tapOutcome{ev, err}
			a.waiters = append(a.waiters[:i], a.waiters[i+1:]...)
			return
		}
	}
}

// DoorEvents forwards the door controller's events to the agent, which is
// built after the controller (the controller locks the relay before
// anything else exists). Events come only while Run runs, after Attach.
type DoorEvents struct{ a atomic.Pointer[Agent] }

// Attach directs events to a.
func (d *DoorEvents) Attach(a *Agent) { d.a.Store(a) }

// Record records a door event; pass it as door.Config.Events.
func (d *DoorEvents) Record(kind protocol.EventKind) {
	if a := d.a.Load(); a != nil {
		a.DoorEvent(kind)
	}
}
