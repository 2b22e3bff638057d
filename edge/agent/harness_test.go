package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/readerfake"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

const wait = 20 * time.Second // generous: tests also run under qemu on a shared machine

// lockPin is a gpiotest relay pin that journals every write, so a test can
// tell whether the relay was ever unlocked.
type lockPin struct {
	*gpiotest.Pin
	mu     sync.Mutex
	writes []gpio.Level
}

func (p *lockPin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.writes = append(p.writes, l)
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *lockPin) unlockedWrites() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.writes {
		if l == gpio.Low { // active-low relay, fail-secure: low = unlocked
			n++
		}
	}
	return n
}

func (p *lockPin) locked() bool { return p.Read() == gpio.High }

// inputPin is a gpiotest input whose level the wired switch decides: In
// sets the pull but keeps the level (gpiotest would force the pull's level).
type inputPin struct{ *gpiotest.Pin }

func (p inputPin) In(pull gpio.Pull, edge gpio.Edge) error {
	l := p.Read()
	err := p.Pin.In(pull, edge)
	p.Lock()
	p.L = l
	p.Unlock()
	return err
}

// sim is SimControls over the fake reader and gpiotest input pins.
type sim struct {
	r            *readerfake.Reader
	contact, rex *gpiotest.Pin
	presentHook  func()
}

func (s *sim) Present(uid []byte) error {
	if s.presentHook != nil {
		s.presentHook()
	}
	return s.r.PresentUID(uid)
}
func (s *sim) PresentCard(_ []byte, card *desfiresim.Card) error {
	if s.presentHook != nil {
		s.presentHook()
	}
	return s.r.PresentSecure(card, 0)
}
func (s *sim) SetReaderFault(err error) { s.r.SetFault(err) }
func (s *sim) SetInput(name string, active bool) error {
	var p *gpiotest.Pin
	switch name {
	case "contact":
		p = s.contact // NC contact: an open door reads high
	case "rex":
		p, active = s.rex, !active // NO button: pressed reads low
	default:
		return fmt.Errorf("input %q: want contact or rex", name)
	}
	p.Lock()
	p.L = gpio.Level(active)
	p.Unlock()
	return nil
}

type harness struct {
	t      *testing.T
	cfg    *Config
	st     *store.Store
	lock   *lockPin
	reader reader.Reader
	fake   *readerfake.Reader
	sim    *sim
	door   *door.Controller
	agent  *Agent
	base   string
	signer *protocol.Signer
	time   *fakeTime
	skip   atomic.Int64 // added to the real uptime: lets tests pass the debounce window
	cancel context.CancelFunc
	done   chan error
}

type harnessOpts struct {
	extraConfig string
	reader      reader.Reader // nil: the fake
	components  []ComponentFactory
	listener    net.Listener
	ntpSynced   *bool
	logger      *slog.Logger  // nil: discard
	dir         string        // data_dir; empty: a new one (another harness's, closed, to restart it)
	heldOpen    time.Duration // door.held_open_time; 0: the default
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	dir := o.dir
	if dir == "" {
		dir = t.TempDir()
	}
	cfg, err := Parse([]byte(fmt.Sprintf(`
door_id = "door-1"
data_dir = %q
[reader]
driver = "sim"
[door]
lock_pin = "GPIO5"
contact_pin = "GPIO6"
rex_pin = "GPIO13"
unlock_time = "1s"
input_debounce = "5ms"
[whitelist]
keys = [%q]
%s`, dir, protocol.FormatPublicKey(pub), o.extraConfig)))
	require.NoError(t, err)
	if o.heldOpen != 0 {
		cfg.Door.HeldOpenTime = o.heldOpen
	}
	h := &harness{t: t, cfg: cfg, signer: protocol.NewSigner(priv), time: &fakeTime{wall: time.Now(), synced: true}}
	if o.ntpSynced != nil {
		h.time.synced = *o.ntpSynced
	}
	h.st, err = store.Open(context.Background(), filepath.Join(dir, "edge.db"), cfg.StoreOptions())
	require.NoError(t, err)
	t.Cleanup(func() { h.st.Close() })

	h.lock = &lockPin{Pin: &gpiotest.Pin{N: "GPIO5", L: gpio.Low}} // as if unlocked before start
	contact := &gpiotest.Pin{N: "GPIO6", L: gpio.Low}              // NC contact, door shut
	rex := &gpiotest.Pin{N: "GPIO13", L: gpio.High}                // NO button, released
	events := &DoorEvents{}
	h.door, err = door.New(door.Config{
		Lock: door.Output{Pin: h.lock, ActiveLow: true}, LockKind: door.FailSecure,
		Contact: &door.Input{Pin: inputPin{contact}, Switch: door.NormallyClosed}, REX: &door.Input{Pin: inputPin{rex}, Switch: door.NormallyOpen},
		UnlockTime: cfg.Door.UnlockTime, HeldOpen: cfg.Door.HeldOpenTime, Debounce: cfg.Door.InputDebounce, Events: events.Record,
	})
	require.NoError(t, err)
	require.True(t, h.lock.locked(), "door.New locked the relay")

	h.fake = readerfake.New()
	h.sim = &sim{r: h.fake, contact: contact, rex: rex}
	h.reader = o.reader
	if h.reader == nil {
		h.reader = h.fake
	}
	ln := o.listener
	if ln == nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
	}
	h.base = "http://" + ln.Addr().String()
	up0 := time.Now()
	clock := NewClock(func() time.Time { return h.time.wall }, func() bool { return h.time.synced }, func() time.Duration { return time.Since(up0) + time.Duration(h.skip.Load()) }, time.Time{})
	h.agent, err = New(Deps{Config: cfg, Door: h.door, Reader: h.reader, Store: h.st, Clock: clock, Sim: h.sim, Listener: ln, Logger: o.logger,
		Components: o.components, Firmware: "test", ReaderBackoff: [2]time.Duration{5 * time.Millisecond, 50 * time.Millisecond}})
	require.NoError(t, err)
	events.Attach(h.agent)
	return h
}

func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.agent.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(wait):
		}
	})
	h.eventually(func() bool {
		resp, err := http.Get(h.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, "the agent listens")
}

// stop waits for Run to return and gives its error.
func (h *harness) runErr() error {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(wait):
		h.t.Fatal("the agent did not stop")
		return nil
	}
}

func (h *harness) eventually(cond func() bool, what string) {
	h.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) post(path string, body any) (int, []byte) {
	h.t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		b, err = json.Marshal(v)
		require.NoError(h.t, err)
	}
	resp, err := http.Post(h.base+path, "application/json", bytes.NewReader(b))
	require.NoError(h.t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (h *harness) get(path string, v any) int {
	h.t.Helper()
	resp, err := http.Get(h.base + path)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	if v != nil {
		require.NoError(h.t, json.NewDecoder(resp.Body).Decode(v))
	}
	return resp.StatusCode
}

// later moves the uptime (and so the debounce window) on by d.
func (h *harness) later(d time.Duration) { h.skip.Add(int64(d)) }

// tap presents a badge through the local API and returns the event.
func (h *harness) tap(uid protocol.UID) protocol.Event {
	h.t.Helper()
	code, body := h.post("/v1/sim/tap", SimTap{UID: string(uid)})
	require.Equal(h.t, http.StatusOK, code, "%s", body)
	var ev protocol.Event
	require.NoError(h.t, json.Unmarshal(body, &ev))
	return ev
}

func (h *harness) report() Report {
	h.t.Helper()
	var r Report
	require.Equal(h.t, http.StatusOK, h.get("/v1/status", &r))
	return r
}

func (h *harness) outbox() []protocol.Event {
	h.t.Helper()
	var evs []protocol.Event
	require.Equal(h.t, http.StatusOK, h.get("/v1/outbox?max=500", &evs))
	return evs
}

// snapshot signs a one-part snapshot for the door.
func (h *harness) snapshot(version uint64, issued time.Time, entries []protocol.Entry) [][]byte {
	h.t.Helper()
	msgs, err := h.signer.SignSnapshot(protocol.Whitelist{Door: "door-1", Version: version, IssuedMs: issued.UnixMilli(), ExpiresMs: issued.Add(30 * 24 * time.Hour).UnixMilli(), Center: "c-1"}, entries)
	require.NoError(h.t, err)
	return msgs
}

func kinds(evs []protocol.Event) string {
	var s []string
	for _, e := range evs {
		k := string(e.Kind)
		if e.Reason != "" {
			k += ":" + string(e.Reason)
		}
		s = append(s, k)
	}
	return strings.Join(s, " ")
}
