package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/shared/protocol"
)

var (
	uidBooked  = protocol.UID("04A1B2C3")
	uidLater   = protocol.UID("04A1B2C4")
	uidRevoked = protocol.UID("04A1B2C5")
	uidStaff   = protocol.UID("04A1B2C6")
	uidPass    = protocol.UID("04A1B2C7")
	uidUnknown = protocol.UID("04FFFFFF")
)

func demoEntries(now time.Time) []protocol.Entry {
	h := time.Hour
	return []protocol.Entry{
		{UID: uidBooked, Member: "m-booked", Grants: []protocol.Grant{{Kind: protocol.GrantBooking, From: now.Add(-h).Unix(), To: now.Add(h).Unix()}}},
		{UID: uidLater, Member: "m-later", Grants: []protocol.Grant{{Kind: protocol.GrantBooking, From: now.Add(3 * h).Unix(), To: now.Add(4 * h).Unix()}}},
		{UID: uidRevoked, Member: "m-revoked", Revoked: true, Grants: []protocol.Grant{{Kind: protocol.GrantStaff}}},
		{UID: uidStaff, Member: "m-staff", Grants: []protocol.Grant{{Kind: protocol.GrantStaff}}},
		{UID: uidPass, Member: "m-pass", Grants: []protocol.Grant{{Kind: protocol.GrantPass, From: now.Add(-h).Unix(), To: now.Add(24 * h).Unix()}}},
	}
}

func (h *harness) loadDemo() {
	h.t.Helper()
	for _, m := range h.snapshot(1, h.time.wall.Add(-time.Minute), demoEntries(h.time.wall)) {
		code, body := h.post("/v1/whitelist", m)
		require.Equal(h.t, http.StatusOK, code, "%s", body)
	}
}

func TestTapsDecideRecordAndDriveTheRelay(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	assert.Equal(t, protocol.DeniedNoWhitelist, h.tap(uidBooked).Reason)
	h.later(3 * time.Second) // past the debounce window for uidBooked
	h.loadDemo()

	ev := h.tap(uidBooked)
	assert.Equal(t, protocol.GrantedBooking, ev.Reason)
	assert.Equal(t, "m-booked", ev.Member)
	h.eventually(func() bool { return !h.lock.locked() }, "relay unlocked after the grant")
	assert.Equal(t, "unlocked", h.report().Door.Relay)
	h.eventually(h.lock.locked, "relay locked again after unlock_time")

	tests := []struct {
		uid  protocol.UID
		want protocol.Reason
	}{
		{uidUnknown, protocol.DeniedUnknownBadge},
		{uidRevoked, protocol.DeniedRevoked},
		{uidLater, protocol.DeniedOutsideWindow},
		{uidPass, protocol.GrantedPass},
		{uidPass, protocol.DeniedDebounce},
		{uidStaff, protocol.GrantedStaff},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, h.tap(tt.uid).Reason, "badge %s", tt.uid)
	}

	evs := h.outbox()
	require.Len(t, evs, 8)
	assert.Equal(t, "tap:denied_no_whitelist tap:granted_booking tap:denied_unknown_badge tap:denied_revoked tap:denied_outside_window tap:granted_pass tap:denied_debounce tap:granted_staff", kinds(evs))
	for i, e := range evs {
		assert.Equal(t, uint64(i+1), e.Seq)
		assert.True(t, e.Trusted)
		assert.Equal(t, h.agent.boot, e.Boot)
		require.NoError(t, e.Validate(""))
	}
	assert.Equal(t, uint64(1), evs[1].WLVersion)

	// Untrusted clock: only staff.
	h.later(3 * time.Second)
	h.time.synced = false
	assert.Equal(t, protocol.DeniedClockUntrusted, h.tap(uidBooked).Reason)
	ev = h.tap(uidStaff)
	assert.Equal(t, protocol.GrantedStaff, ev.Reason, "staff pass on an untrusted clock")
	assert.False(t, ev.Trusted)
	h.time.synced = true

	// Eight days later the whitelist is stale: only staff.
	h.later(3 * time.Second)
	h.time.wall = h.time.wall.Add(8 * 24 * time.Hour)
	assert.Equal(t, protocol.DeniedStaleWhitelist, h.tap(uidPass).Reason)
	rep := h.report()
	assert.True(t, rep.Whitelist.Stale)
	assert.Equal(t, uint64(11), rep.Outbox.Depth)
	assert.True(t, rep.Clock.Trusted)

	var metrics strings.Builder
	require.NoError(t, h.agent.Metrics().WriteText(&metrics))
	for _, want := range []string{`swc_edge_taps_total{reason="granted_booking"} 1`, "swc_edge_outbox_events 11", "swc_edge_whitelist_version 1", "swc_edge_tap_duration_seconds_count 11"} {
		assert.Contains(t, metrics.String(), want)
	}
	h.cancel()
	require.NoError(t, h.runErr())
	assert.True(t, h.lock.locked())
}

func TestReaderFaultKeepsTheDoorLockedAndRetries(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	h.loadDemo()
	before := h.lock.unlockedWrites()

	code, _ := h.post("/v1/sim/reader", SimReader{Fault: true})
	require.Equal(t, http.StatusOK, code)
	h.eventually(func() bool { return h.report().Reader.State == "fault" }, "reader fault reported")
	var health Health
	assert.Equal(t, http.StatusServiceUnavailable, h.get("/healthz", &health))
	assert.Equal(t, "fault", health.Reader)
	code, _ = h.post("/v1/sim/tap", SimTap{UID: string(uidBooked)})
	assert.Equal(t, http.StatusServiceUnavailable, code, "a faulted reader sees no card")
	time.Sleep(300 * time.Millisecond) // many retries at the test's 5-50 ms backoff
	assert.Equal(t, before, h.lock.unlockedWrites(), "the relay never unlocked during the fault")
	assert.True(t, h.lock.locked())

	code, _ = h.post("/v1/sim/reader", SimReader{Fault: false})
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, protocol.GrantedBooking, h.tap(uidBooked).Reason)
	assert.Equal(t, "reader_fault reader_ok tap:granted_booking", kinds(h.outbox()), "one fault event however many retries")
	assert.Equal(t, http.StatusOK, h.get("/healthz", &health))
}

func TestDoorInputsAreRecorded(t *testing.T) {
	h := newHarness(t, harnessOpts{extraConfig: "[sim]\n"})
	h.start()
	post := func(in string, active bool) {
		code, body := h.post("/v1/sim/input", SimInput{Input: in, Active: active})
		require.Equal(t, http.StatusOK, code, "%s", body)
	}
	post("contact", true)
	h.eventually(func() bool { return h.report().Door.State == "forced" }, "forced")
	post("contact", false)
	h.eventually(func() bool { return len(h.outbox()) == 2 }, "door_closed")
	post("rex", true)
	h.eventually(func() bool { return !h.lock.locked() }, "the exit button unlocks")
	post("rex", false)
	post("contact", true)
	h.eventually(func() bool { return h.report().Door.State == "open" }, "opened under the exit unlock")
	post("contact", false)
	h.eventually(func() bool { return len(h.outbox()) == 4 }, "door_closed")
	assert.Equal(t, "door_forced door_closed rex_exit door_closed", kinds(h.outbox()))
	h.eventually(h.lock.locked, "relocked when the door closed")
	code, _ := h.post("/v1/sim/input", SimInput{Input: "window", Active: true})
	assert.Equal(t, http.StatusBadRequest, code)
}

func TestSimBurst(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	h.loadDemo()
	var res SimBurstResult
	code, body := h.post("/v1/sim/burst", SimBurst{Count: 50, UID: string(uidBooked)})
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.NoError(t, json.Unmarshal(body, &res))
	assert.Equal(t, SimBurstResult{Recorded: 50, FirstSeq: 1, LastSeq: 50}, res)
	var evs []protocol.Event
	require.Equal(t, http.StatusOK, h.get("/v1/outbox?max=100", &evs))
	require.Len(t, evs, 50)
	assert.Equal(t, protocol.GrantedBooking, evs[0].Reason, "the first tap is decided by the rules")
	assert.Equal(t, protocol.DeniedDebounce, evs[1].Reason, "the same badge at once is a repeat")
}

func TestLocalAPIRefusesBadInput(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	h.loadDemo()
	tests := []struct {
		name, path string
		body       any
		code       int
		want       string
	}{
		{"not json", "/v1/sim/tap", "uid=04A1B2C3", 400, "body"},
		{"unknown field", "/v1/sim/tap", `{"uid":"04A1B2C3","door":"x"}`, 400, "unknown field"},
		{"two objects", "/v1/sim/tap", `{"uid":"04A1B2C3"}{}`, 400, "data after"},
		{"bad uid", "/v1/sim/tap", SimTap{UID: "XYZ"}, 400, "not hexadecimal"},
		{"short uid", "/v1/sim/tap", SimTap{UID: "04A1B2"}, 400, "ISO 14443A UIDs have 4, 7 or 10"},
		{"burst of none", "/v1/sim/burst", SimBurst{Count: 0, UID: "04A1B2C3"}, 400, "count 0"},
		{"burst too big", "/v1/sim/burst", SimBurst{Count: MaxSimBurst + 1, UID: "04A1B2C3"}, 400, "want 1 to"},
		{"burst bad uid", "/v1/sim/burst", SimBurst{Count: 3, UID: "zz"}, 400, "not hexadecimal"},
		{"huge body", "/v1/sim/tap", `{"uid":"` + strings.Repeat("0", 5000) + `"}`, 400, "larger than 4096"},
		{"unsigned whitelist", "/v1/whitelist", `{"v":1,"door":"door-1"}`, 422, "unsigned"},
		{"forged whitelist", "/v1/whitelist", forge(h), 422, "bad_signature"},
		{"replayed whitelist", "/v1/whitelist", h.snapshot(1, h.time.wall.Add(-time.Minute), nil)[0], 422, "replay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := h.post(tt.path, tt.body)
			assert.Equal(t, tt.code, code, "%s", body)
			assert.Contains(t, string(body), tt.want)
		})
	}
	var bad []protocol.Event
	assert.Equal(t, http.StatusBadRequest, h.get("/v1/outbox?max=9999", nil))
	assert.Equal(t, http.StatusOK, h.get("/v1/outbox", &bad))
	assert.Empty(t, bad, "nothing was recorded by refused requests")
	rep := h.report()
	assert.Equal(t, uint64(1), rep.Whitelist.Version, "the whitelist held is intact")
	assert.Equal(t, uint64(5), rep.Whitelist.Badges)
	var metrics strings.Builder
	require.NoError(t, h.agent.Metrics().WriteText(&metrics))
	assert.Contains(t, metrics.String(), `swc_edge_http_rejected_total{reason="bad_uid"} 3`)
	assert.Contains(t, metrics.String(), `swc_edge_http_rejected_total{reason="bad_count"} 2`)
	assert.Contains(t, metrics.String(), `swc_edge_whitelist_messages_total{result="bad_signature"} 1`)
}

// forge signs a snapshot with the right key, then changes the body.
func forge(h *harness) []byte {
	m := h.snapshot(2, h.time.wall, demoEntries(h.time.wall))[0]
	return []byte(strings.Replace(string(m), `"m-booked"`, `"m-forged"`, 1))
}

func TestRemoteCommands(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	now := h.time.wall
	sign := func(c protocol.Command) []byte {
		c.Door, c.IssuedMs, c.ExpiresMs = "door-1", now.UnixMilli(), now.Add(time.Hour).UnixMilli()
		m, err := h.signer.SignCommand(&c)
		require.NoError(t, err)
		return m
	}
	ctx := context.Background()
	c, err := h.agent.ReceiveCommand(ctx, sign(protocol.Command{ID: "cmd-1", Action: protocol.ActionUnlock, Seconds: 30}))
	require.NoError(t, err)
	assert.Equal(t, "cmd-1", c.ID)
	assert.False(t, h.lock.locked(), "unlocked by the command")
	until := h.report().Door.UnlockedUntil
	assert.WithinDuration(t, time.Now().Add(30*time.Second), until, 5*time.Second)

	_, err = h.agent.ReceiveCommand(ctx, sign(protocol.Command{ID: "cmd-1", Action: protocol.ActionUnlock, Seconds: 30}))
	require.ErrorIs(t, err, ErrCommandSeen, "at most once")
	_, err = h.agent.ReceiveCommand(ctx, sign(protocol.Command{ID: "cmd-2", Action: protocol.ActionRelock}))
	require.NoError(t, err)
	assert.True(t, h.lock.locked(), "relocked by the command")
	_, err = h.agent.ReceiveCommand(ctx, sign(protocol.Command{ID: "cmd-3", Action: protocol.ActionResync}))
	require.NoError(t, err)

	other := protocol.Command{V: 1, ID: "cmd-4", Door: "door-2", Action: protocol.ActionUnlock, Seconds: 5, IssuedMs: now.UnixMilli(), ExpiresMs: now.Add(time.Hour).UnixMilli()}
	require.ErrorIs(t, h.agent.Execute(ctx, &other), protocol.ErrWrongDoor)
	expired := protocol.Command{V: 1, ID: "cmd-5", Door: "door-1", Action: protocol.ActionUnlock, Seconds: 5, IssuedMs: now.Add(-2 * time.Hour).UnixMilli(), ExpiresMs: now.Add(-time.Hour).UnixMilli()}
	require.ErrorIs(t, h.agent.Execute(ctx, &expired), protocol.ErrExpired)
	assert.True(t, h.lock.locked())

	evs := h.outbox()
	require.Len(t, evs, 1, "one remote_unlock event: %s", kinds(evs))
	assert.Equal(t, protocol.EventRemoteUnlock, evs[0].Kind)
	assert.Equal(t, "cmd-1", evs[0].Command)
}

func TestHostOutboxAckAndClock(t *testing.T) {
	never := false
	h := newHarness(t, harnessOpts{ntpSynced: &never})
	h.start()
	h.loadDemo()
	ctx := context.Background()
	assert.False(t, h.agent.Now().Trusted)
	for i := 0; i < 3; i++ {
		h.tap(uidStaff)
		h.later(3 * time.Second)
	}
	select {
	case <-h.agent.Appended():
	case <-time.After(wait):
		t.Fatal("no append signal")
	}
	p, err := h.agent.Pending(ctx, 0, 2)
	require.NoError(t, err)
	evs := p.Events
	require.Len(t, evs, 2)
	n, err := h.agent.Ack(ctx, &protocol.Ack{V: 1, Door: "door-1", Store: p.Store, Through: evs[1].Seq, ServerMs: h.time.wall.UnixMilli()})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.True(t, h.agent.Now().Trusted, "the ack's server time makes the clock trusted")
	assert.Equal(t, "central", h.agent.Now().Source)
	_, err = h.agent.Ack(ctx, &protocol.Ack{V: 1, Door: "door-2", Through: 1, ServerMs: h.time.wall.UnixMilli()})
	require.ErrorIs(t, err, protocol.ErrWrongDoor)
	h.eventually(h.lock.locked, "relocked after the staff taps")
	st, err := h.agent.Status(ctx)
	require.NoError(t, err)
	require.NoError(t, st.Validate())
	assert.Equal(t, uint64(1), st.OutboxDepth)
	assert.Equal(t, uint64(1), st.WLVersion)
	assert.Equal(t, "ok", st.Reader)
	assert.Equal(t, "locked", st.DoorState)
	v, err := h.agent.WhitelistVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v)

	// A later server time moves the persisted floor; an earlier one does not.
	later := h.time.wall.Add(time.Hour)
	require.NoError(t, h.agent.AdvanceTrustedTime(ctx, later, false))
	require.NoError(t, h.agent.AdvanceTrustedTime(ctx, later.Add(-2*time.Hour), false))
	floor, err := h.st.TrustedTime(ctx)
	require.NoError(t, err)
	assert.Equal(t, later.UnixMilli(), floor.UnixMilli())
	assert.False(t, h.agent.Now().Time.Before(later), "the clock never reads before the floor")
}

// component counts its runs and fails the first time.
type component struct {
	runs  atomic.Int64
	panic bool
}

func (c *component) Run(ctx context.Context) error {
	if c.runs.Add(1) == 1 {
		return errors.New("broker unreachable")
	}
	if c.panic {
		panic("component exploded")
	}
	<-ctx.Done()
	return nil
}

func TestComponentFromConfig(t *testing.T) {
	c := &component{}
	var got struct {
		Broker string `toml:"broker"`
	}
	f := ComponentFactory{Section: "mqtt", Name: "sync", New: func(_ context.Context, host Host) (Component, error) {
		if err := host.Config().DecodeSection("mqtt", &got); err != nil {
			return nil, err
		}
		return c, nil
	}}
	h := newHarness(t, harnessOpts{extraConfig: "[mqtt]\nbroker = \"tcp://central:1883\"\n", components: []ComponentFactory{f}})
	h.start()
	assert.Equal(t, "tcp://central:1883", got.Broker)
	h.eventually(func() bool { return c.runs.Load() >= 2 }, "restarted after its error")

	// Without the section, nothing is started.
	c2 := &component{}
	f.New = func(context.Context, Host) (Component, error) { return c2, nil }
	h2 := newHarness(t, harnessOpts{components: []ComponentFactory{f}})
	h2.start()
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, c2.runs.Load())

	// A component that refuses its configuration stops the agent at start.
	f.New = func(context.Context, Host) (Component, error) { return nil, errors.New(`mqtt.broker: want a URL`) }
	h3 := newHarness(t, harnessOpts{extraConfig: "[mqtt]\nbroker = 1\n", components: []ComponentFactory{f}})
	err := h3.agent.Run(context.Background())
	require.ErrorContains(t, err, "[mqtt]: mqtt.broker: want a URL")
	assert.True(t, h3.lock.locked())
}

// panicReader panics in Next once armed.
type panicReader struct {
	reader.Reader
	armed atomic.Bool
}

func (p *panicReader) Next(ctx context.Context) (reader.Card, error) {
	for !p.armed.Load() {
		select {
		case <-ctx.Done():
			return reader.Card{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	panic("reader driver bug")
}

// TestEveryWayOutLocksTheRelay unlocks the door (a remote unlock of 30 s,
// far longer than the test) and then leaves the agent by each way out; the
// relay must be locked when Run returns. Signals are the same context
// cancellation (swc-edge's main turns SIGTERM/SIGINT into it); the real
// signals are tested on the real process in cmd/swc-edge.
func TestEveryWayOutLocksTheRelay(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(*harnessOpts, *panicReader, *component)
		trigger func(h *harness, pr *panicReader)
		wantErr string
	}{
		{"context cancelled (signal)", nil, func(h *harness, _ *panicReader) { h.cancel() }, ""},
		{"panic in the reader goroutine", func(o *harnessOpts, pr *panicReader, _ *component) { o.reader = pr },
			func(_ *harness, pr *panicReader) { pr.armed.Store(true) }, "panic in reader: reader driver bug"},
		{"panic in a component", func(o *harnessOpts, _ *panicReader, c *component) {
			c.panic = true
			o.extraConfig = "[mqtt]\n"
			o.components = []ComponentFactory{{Section: "mqtt", Name: "sync", New: func(context.Context, Host) (Component, error) { return c, nil }}}
		}, func(*harness, *panicReader) {}, "panic in sync: component exploded"},
		{"panic in an HTTP handler", nil, func(h *harness, _ *panicReader) {
			h.sim.presentHook = func() { panic("handler bug") }
			_, _ = http.Post(h.base+"/v1/sim/tap", "application/json", strings.NewReader(`{"uid":"04A1B2C3"}`))
		}, "panic in HTTP handler POST /v1/sim/tap: handler bug"},
		{"fatal error: the store is gone", nil, func(h *harness, _ *panicReader) {
			require.NoError(t, h.st.Close())
			_, _ = http.Post(h.base+"/v1/sim/tap", "application/json", strings.NewReader(`{"uid":"04A1B2C3"}`))
		}, "store closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o harnessOpts
			pr := &panicReader{}
			c := &component{}
			if tt.opts != nil {
				tt.opts(&o, pr, c)
			}
			h := newHarness(t, o)
			pr.Reader = h.fake
			h.start()
			cmd := protocol.Command{V: 1, ID: "open-1", Door: "door-1", Action: protocol.ActionUnlock, Seconds: 30, IssuedMs: h.time.wall.UnixMilli(), ExpiresMs: h.time.wall.Add(time.Hour).UnixMilli()}
			require.NoError(t, h.agent.Execute(context.Background(), &cmd))
			require.False(t, h.lock.locked(), "unlocked before the way out")
			tt.trigger(h, pr)
			err := h.runErr()
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.wantErr)
			}
			assert.True(t, h.lock.locked(), "relay locked on the way out")
			_, err = h.door.Unlock(0)
			assert.Error(t, err, "nothing can unlock after the way out")
		})
	}
}

func TestStartFailuresLeaveTheRelayLocked(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	h := newHarness(t, harnessOpts{extraConfig: "[http]\nlisten = \"" + taken.Addr().String() + "\"\n", listener: nil})
	h.agent.deps.Listener = nil
	err = h.agent.Run(context.Background())
	require.ErrorContains(t, err, "cannot listen")
	assert.Contains(t, err.Error(), "is another swc-edge running")
	assert.True(t, h.lock.locked())
	assert.Zero(t, h.lock.unlockedWrites())
}

func TestStatusReportJSON(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	h.loadDemo()
	resp, err := http.Get(h.base + "/v1/status")
	require.NoError(t, err)
	defer resp.Body.Close()
	var raw map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	for _, k := range []string{"door_id", "boot", "clock", "whitelist", "outbox", "door", "reader"} {
		assert.Contains(t, raw, k)
	}
	rep := h.report()
	assert.Equal(t, "locked", rep.Door.State)
	assert.True(t, rep.Door.HasContact)
	assert.Equal(t, uint64(1), rep.Whitelist.Version)
	assert.False(t, rep.Whitelist.Stale)
	assert.Equal(t, "c-1", rep.Whitelist.Center)
}

// A panic on Run's own goroutine (here in a component's constructor, called
// while the agent starts) also locks the relay.
func TestPanicOnRunsGoroutineLocks(t *testing.T) {
	var h *harness
	unlocked := false
	f := ComponentFactory{Section: "mqtt", Name: "sync", New: func(context.Context, Host) (Component, error) {
		// Run locked the relay when it began; unlock it so that only the
		// panic's recovery can lock it again.
		_, err := h.door.Unlock(30 * time.Second)
		unlocked = err == nil && !h.lock.locked()
		panic("constructor bug")
	}}
	h = newHarness(t, harnessOpts{extraConfig: "[mqtt]\n", components: []ComponentFactory{f}})
	err := h.agent.Run(context.Background())
	require.True(t, unlocked, "the relay was unlocked when the panic struck")
	require.ErrorContains(t, err, "agent: panic: constructor bug")
	assert.True(t, h.lock.locked())
	_, err = h.door.Unlock(0)
	assert.Error(t, err)
}
