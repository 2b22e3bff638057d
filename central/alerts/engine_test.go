package alerts_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// backend opens a store on a location; reopening the same location is a
// restart of the central (or another replica).
type backend struct {
	name     string
	location func(t *testing.T) string
	open     func(t *testing.T, loc string) store.Store
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "swc.db") },
			func(t *testing.T, loc string) store.Store {
				s, err := sqlite.Open(context.Background(), loc, sqlite.Options{})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				return s
			}},
		{"postgres", func(t *testing.T) string { return storetest.PostgresSchema(t) },
			func(t *testing.T, loc string) store.Store {
				s, err := postgres.Open(context.Background(), loc, store.Options{})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				return s
			}},
	}
}

// seed creates center c1 with doors d1, d2 and center c2 with door e1.
func seed(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []string{"c1", "c2"} {
		require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: c, Name: c, TimeZone: "Europe/Brussels"}))
	}
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "d1", CenterID: "c1", Name: "Front"}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "d2", CenterID: "c1", Name: "Back"}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "e1", CenterID: "c2", Name: "Front"}))
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// recorder is a Notifier that keeps what it is given.
type recorder struct {
	mu sync.Mutex
	ns []alerts.Notification
}

func (r *recorder) Notify(_ context.Context, n alerts.Notification) error {
	r.mu.Lock()
	r.ns = append(r.ns, n)
	r.mu.Unlock()
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.ns {
		out = append(out, n.Event+" "+string(n.Alert.Kind)+" "+n.Alert.Door)
	}
	r.ns = nil
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func online(door string) protocol.Status {
	return protocol.Status{V: 1, Door: door, State: protocol.StateOnline, Firmware: "1.4.0", Boot: "boot1", WLVersion: 10,
		ClockTrusted: true, DoorState: "locked", Reader: "ok", OutboxDepth: 0}
}

func ev(seq uint64, kind protocol.EventKind) protocol.Event {
	return protocol.Event{Seq: seq, TimeMs: t0().UnixMilli(), Trusted: true, Boot: "boot1", Kind: kind, WLVersion: 10}
}

func tapOf(seq uint64, uid protocol.UID, r protocol.Reason) protocol.Event {
	e := ev(seq, protocol.EventTap)
	e.UID, e.Member, e.Reason = uid, "m1", r
	return e
}

func cloneOf(seq uint64, uid protocol.UID) protocol.Event {
	e := ev(seq, protocol.EventSuspectedClone)
	e.UID, e.Member, e.ReadCounter = uid, "m1", 7
	return e
}

func t0() time.Time { return time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) }

// TestAlertKinds raises every kind of alert once, however often its
// condition is seen, and resolves it once when the condition ends.
func TestAlertKinds(t *testing.T) {
	ctx := context.Background()
	type step struct {
		do   func(e *alerts.Engine, c *clock) error
		want []string // notifications after the step
	}
	status := func(mut func(*protocol.Status)) func(e *alerts.Engine, c *clock) error {
		return func(e *alerts.Engine, c *clock) error {
			st := online("d1")
			mut(&st)
			return e.ApplyStatus(ctx, st, c.Now())
		}
	}
	events := func(evs ...protocol.Event) func(e *alerts.Engine, c *clock) error {
		return func(e *alerts.Engine, c *clock) error { return e.ApplyEvents(ctx, "d1", c.Now().UnixMilli(), evs) }
	}
	after := func(d time.Duration) func(e *alerts.Engine, c *clock) error {
		return func(e *alerts.Engine, c *clock) error { c.Add(d); return e.Check(ctx) }
	}
	cert := func(d time.Duration) func(e *alerts.Engine, c *clock) error {
		return func(e *alerts.Engine, c *clock) error { return e.CertificateIssued(ctx, "d1", c.Now().Add(d)) }
	}
	untrusted := ev(5, protocol.EventTap)
	untrusted.Trusted = false
	// The thresholds: the settings' defaults (no version stored).
	defaults := settings.Defaults().Alerts
	offline, certExpiring := defaults.DoorOffline(), defaults.CertExpiry()
	require.Equal(t, 10*time.Minute, defaults.WhitelistBehind(), "the whitelist steps below")
	for i, tc := range []struct {
		kind  store.AlertKind
		steps []step
	}{
		{store.AlertOffline, []step{
			{status(func(*protocol.Status) {}), nil},
			{status(func(s *protocol.Status) { *s = protocol.Status{V: 1, Door: "d1", State: protocol.StateOffline} }), nil},
			{after(offline - time.Minute), nil},
			{after(time.Minute), []string{"raised door_offline d1"}},
			{after(time.Minute), nil},
			{status(func(s *protocol.Status) { *s = protocol.Status{V: 1, Door: "d1", State: protocol.StateOffline} }), nil},
			{after(time.Minute), nil},
			{status(func(*protocol.Status) {}), []string{"resolved door_offline d1"}},
			{after(time.Minute), nil},
		}},
		{store.AlertOffline, []step{ // silent: online, then nothing at all
			{status(func(*protocol.Status) {}), nil},
			{after(offline - time.Minute), nil},
			{after(time.Minute), []string{"raised door_offline d1"}},
			{after(time.Minute), nil},
			{status(func(*protocol.Status) {}), []string{"resolved door_offline d1"}},
			{after(time.Minute), nil},
		}},
		{store.AlertForced, []step{
			{events(ev(1, protocol.EventDoorForced)), []string{"raised door_forced d1"}},
			{events(ev(2, protocol.EventDoorForced)), nil},
			{status(func(s *protocol.Status) { s.DoorState = "forced" }), nil},
			{events(ev(3, protocol.EventDoorClosed)), []string{"resolved door_forced d1"}},
			{status(func(*protocol.Status) {}), nil},
		}},
		{store.AlertHeldOpen, []step{
			{status(func(s *protocol.Status) { s.DoorState = "held_open" }), []string{"raised door_held_open d1"}},
			{events(ev(1, protocol.EventDoorHeldOpen)), nil},
			{status(func(*protocol.Status) {}), []string{"resolved door_held_open d1"}},
			{events(ev(2, protocol.EventDoorClosed)), nil},
		}},
		{store.AlertReaderFault, []step{
			{events(ev(1, protocol.EventReaderFault)), []string{"raised reader_fault d1"}},
			{status(func(s *protocol.Status) { s.Reader = "fault" }), nil},
			{events(ev(2, protocol.EventReaderOK)), []string{"resolved reader_fault d1"}},
			{status(func(*protocol.Status) {}), nil},
		}},
		{store.AlertClockUntrusted, []step{
			{status(func(s *protocol.Status) { s.ClockTrusted = false }), []string{"raised clock_untrusted d1"}},
			{status(func(s *protocol.Status) { s.ClockTrusted = false; s.OutboxDepth = 3 }), nil},
			{events(untrusted), nil},
			{status(func(*protocol.Status) {}), []string{"resolved clock_untrusted d1"}},
			{events(ev(6, protocol.EventTap)), nil},
			{events(ev(7, protocol.EventTap), untrusted), []string{"raised clock_untrusted d1"}},
			{events(untrusted, ev(8, protocol.EventTap)), []string{"resolved clock_untrusted d1"}},
		}},
		{store.AlertWhitelistBehind, []step{
			{status(func(s *protocol.Status) { s.WLVersion = 9 }), nil},
			{after(0), nil},
			{after(4 * time.Minute), nil},
			{status(func(s *protocol.Status) { s.WLVersion = 9 }), nil},
			{after(4 * time.Minute), nil},
			{status(func(s *protocol.Status) { s.WLVersion = 9 }), nil},
			{after(3 * time.Minute), []string{"raised whitelist_behind d1"}},
			{after(time.Minute), nil},
			{status(func(s *protocol.Status) { s.WLVersion = 11 }), nil},
			{after(0), []string{"resolved whitelist_behind d1"}},
		}},
		{store.AlertSuspectedClone, []step{
			{events(tapOf(1, "04A1B2C3", protocol.GrantedStaff)), nil},
			{events(tapOf(2, "04A1B2C3", protocol.DeniedAuthFailed), cloneOf(3, "04A1B2C3")), []string{"raised suspected_clone d1"}},
			{events(tapOf(4, "04A1B2C3", protocol.DeniedAuthFailed), cloneOf(5, "04A1B2C3")), nil},
			{events(tapOf(6, "0A0B0C0D", protocol.GrantedPass)), nil},                          // another badge
			{events(cloneOf(7, "04A1B2C3"), tapOf(8, "04A1B2C3", protocol.GrantedStaff)), nil}, // the clone's batch
			{events(tapOf(9, "04A1B2C3", protocol.GrantedStaff)), []string{"resolved suspected_clone d1"}},
		}},
		{store.AlertCertExpiring, []step{
			{cert(30 * 24 * time.Hour), nil},
			{after(time.Hour), nil},
			{after(30*24*time.Hour - certExpiring - 2*time.Hour), nil},
			{after(time.Hour), []string{"raised cert_expiring d1"}},
			{after(time.Hour), nil},
			{cert(30 * 24 * time.Hour), []string{"resolved cert_expiring d1"}},
			{after(time.Hour), nil},
		}},
	} {
		for _, b := range backends() {
			t.Run(fmt.Sprintf("%s-%d/%s", tc.kind, i, b.name), func(t *testing.T) {
				st := b.open(t, b.location(t))
				seed(t, st)
				c := &clock{t: t0()}
				rec := &recorder{}
				e := alerts.New(alerts.Config{Now: c.Now, Version: func(d string) (uint64, bool) { return 10, d == "d1" }},
					st, []alerts.Notifier{rec}, quiet(), nil)
				for i, s := range tc.steps {
					require.NoError(t, s.do(e, c), "step %d", i)
					require.Equal(t, s.want, rec.take(), "step %d", i)
				}
				page, err := st.Health().ListAlerts(ctx, store.AlertFilter{Kind: tc.kind})
				require.NoError(t, err)
				require.NotEmpty(t, page.Items)
				for _, a := range page.Items {
					require.False(t, a.Open(), "every %s alert ended resolved", tc.kind)
					require.Equal(t, "c1", a.Center)
				}
				all, err := st.Health().ListAlerts(ctx, store.AlertFilter{})
				require.NoError(t, err)
				require.Len(t, all.Items, len(page.Items), "no alert of another kind")
			})
		}
	}
}

// TestReplicasRaiseOnce runs two engines on two store handles of one
// PostgreSQL schema (two replicas); both see the same statuses (every
// replica subscribes to them) and raise the same alerts at once: each
// alert is stored and notified once, and resolved once.
func TestReplicasRaiseOnce(t *testing.T) {
	ctx := context.Background()
	b := backends()[1]
	loc := b.location(t)
	st1, st2 := b.open(t, loc), b.open(t, loc)
	seed(t, st1)
	c := &clock{t: t0()}
	rec := &recorder{}
	engines := []*alerts.Engine{
		alerts.New(alerts.Config{Now: c.Now}, st1, []alerts.Notifier{rec}, quiet(), nil),
		alerts.New(alerts.Config{Now: c.Now}, st2, []alerts.Notifier{rec}, quiet(), nil),
	}
	both := func(fn func(e *alerts.Engine) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(engines))
		for i, e := range engines {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = fn(e) }()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	}
	bad := online("d1")
	bad.ClockTrusted, bad.Reader = false, "fault"
	both(func(e *alerts.Engine) error {
		return e.ApplyStatus(ctx, protocol.Status{V: 1, Door: "d2", State: protocol.StateOffline}, c.Now())
	})
	c.Add(10 * time.Minute)
	for range 3 {
		both(func(e *alerts.Engine) error { return e.ApplyStatus(ctx, bad, c.Now()) })
	}
	both(func(e *alerts.Engine) error { return e.Check(ctx) })
	both(func(e *alerts.Engine) error { return e.Check(ctx) })
	got := rec.take()
	require.ElementsMatch(t, []string{"raised clock_untrusted d1", "raised reader_fault d1", "raised door_offline d2"}, got)
	yes := true
	page, err := st1.Health().ListAlerts(ctx, store.AlertFilter{Open: &yes})
	require.NoError(t, err)
	require.Len(t, page.Items, 3)

	both(func(e *alerts.Engine) error { return e.ApplyStatus(ctx, online("d1"), c.Now()) })
	both(func(e *alerts.Engine) error { return e.ApplyStatus(ctx, online("d2"), c.Now()) })
	require.ElementsMatch(t, []string{"resolved clock_untrusted d1", "resolved reader_fault d1", "resolved door_offline d2"}, rec.take())
}

// TestStateSurvivesRestart: an offline door's last known state is read
// back by a new store handle on the same file or schema (a restarted
// central), which then raises the offline alert from the stored time.
func TestStateSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			loc := b.location(t)
			st := b.open(t, loc)
			seed(t, st)
			c := &clock{t: t0()}
			e := alerts.New(alerts.Config{Now: c.Now}, st, nil, quiet(), nil)
			s := online("d1")
			s.OutboxDepth, s.WLVersion, s.Firmware = 12, 77, "2.0.1"
			require.NoError(t, e.ApplyStatus(ctx, s, c.Now()))
			require.NoError(t, e.ApplyEvents(ctx, "d1", c.Add(time.Second).UnixMilli(), []protocol.Event{ev(1, protocol.EventTap)}))
			require.NoError(t, e.CertificateIssued(ctx, "d1", t0().Add(30*24*time.Hour)))
			wentOffline := c.Add(time.Second)
			require.NoError(t, e.ApplyStatus(ctx, protocol.Status{V: 1, Door: "d1", State: protocol.StateOffline}, wentOffline))
			require.NoError(t, st.Close())

			st2 := b.open(t, loc)
			h, err := st2.Health().DoorHealth(ctx, "d1")
			require.NoError(t, err)
			require.Equal(t, store.DoorOffline, h.State)
			require.Equal(t, "2.0.1", h.Firmware, "the offline door keeps what it last reported")
			require.Equal(t, uint64(77), h.WLVersion)
			require.Equal(t, uint64(12), h.OutboxDepth)
			require.True(t, h.ClockTrusted)
			require.Equal(t, "ok", h.Reader)
			require.Equal(t, wentOffline.UnixMilli(), h.OfflineSinceMs)
			require.Equal(t, t0().Add(time.Second).UnixMilli(), h.LastSeenMs, "last seen: its last batch")
			require.Equal(t, t0().Add(30*24*time.Hour).UnixMilli(), h.CertNotAfterMs)
			require.Equal(t, 7*time.Minute, h.OfflineFor(wentOffline.Add(7*time.Minute)))

			rec := &recorder{}
			c.Add(settings.Defaults().Alerts.DoorOffline())
			e2 := alerts.New(alerts.Config{Now: c.Now}, st2, []alerts.Notifier{rec}, quiet(), nil)
			// The retained offline status is delivered again to the new
			// process: the door stays offline since the stored time.
			require.NoError(t, e2.ApplyStatus(ctx, protocol.Status{V: 1, Door: "d1", State: protocol.StateOffline}, c.Now()))
			require.NoError(t, e2.Check(ctx))
			require.Equal(t, []string{"raised door_offline d1"}, rec.take())
		})
	}
}

// TestStateWriteBound: statuses that change only counters are written at
// most once per StateWriteInterval per door; a change is written at once.
func TestStateWriteBound(t *testing.T) {
	ctx := context.Background()
	b := backends()[0]
	st := b.open(t, b.location(t))
	seed(t, st)
	c := &clock{t: t0()}
	reg := metrics.NewRegistry()
	e := alerts.New(alerts.Config{Now: c.Now, StateWriteInterval: time.Minute}, st, nil, quiet(), reg)
	s := online("d1")
	for i := range 20 {
		s.OutboxDepth = uint64(i + 1)
		require.NoError(t, e.ApplyStatus(ctx, s, c.Add(time.Second)))
	}
	h, err := st.Health().DoorHealth(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, uint64(1), h.OutboxDepth, "counters alone wait for the interval")
	s.OutboxDepth = 99
	require.NoError(t, e.ApplyStatus(ctx, s, c.Add(time.Minute)))
	h, err = st.Health().DoorHealth(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, uint64(99), h.OutboxDepth, "written once the interval passed")
	s.Reader = "fault"
	require.NoError(t, e.ApplyStatus(ctx, s, c.Add(time.Second)))
	h, err = st.Health().DoorHealth(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, "fault", h.Reader, "a change is written at once")

	var sb strings.Builder
	require.NoError(t, reg.WriteText(&sb))
	require.Contains(t, sb.String(), `swc_door_state_writes_total{cause="change"} 2`)
	require.Contains(t, sb.String(), `swc_door_state_writes_total{cause="interval"} 1`)
	require.Contains(t, sb.String(), `swc_door_state_writes_skipped_total{reason="unchanged"} 19`)

	// An outbox that empties is written at once (the release of room
	// no-shows waits for it, central/booking).
	s.OutboxDepth = 0
	require.NoError(t, e.ApplyStatus(ctx, s, c.Add(time.Second)))
	h, err = st.Health().DoorHealth(ctx, "d1")
	require.NoError(t, err)
	require.Zero(t, h.OutboxDepth, "an emptied outbox is written at once")

	// A status of a door the store does not know is not an error.
	require.NoError(t, e.ApplyStatus(ctx, online("ghost"), c.Now()))
}

// TestCommandExecuted: a remote_unlock event marks its command executed.
func TestCommandExecuted(t *testing.T) {
	ctx := context.Background()
	b := backends()[0]
	st := b.open(t, b.location(t))
	seed(t, st)
	e := alerts.New(alerts.Config{}, st, nil, quiet(), nil)
	require.NoError(t, st.Health().SaveCommand(ctx, store.CommandRecord{ID: "cmd-1", Door: "d1", Center: "c1", Action: "unlock", Seconds: 3,
		By: "tk", IssuedMs: t0().UnixMilli(), ExpiresMs: t0().Add(2 * time.Minute).UnixMilli(), Delivery: store.CommandQueued}))
	unlock := ev(1, protocol.EventRemoteUnlock)
	unlock.Command = "cmd-1"
	require.NoError(t, e.ApplyEvents(ctx, "d1", t0().Add(time.Minute).UnixMilli(), []protocol.Event{unlock}))
	cmd, err := st.Health().Command(ctx, "cmd-1")
	require.NoError(t, err)
	require.Equal(t, store.CommandDone, cmd.Status(t0().Add(time.Hour)))
}

// TestQueuedCommandResent: commands issued while the door was offline are
// sent again when its online status comes, unless they expired.
func TestQueuedCommandResent(t *testing.T) {
	ctx := context.Background()
	b := backends()[0]
	st := b.open(t, b.location(t))
	seed(t, st)
	var mu sync.Mutex
	var sent []string
	e := alerts.New(alerts.Config{Republish: func(_ context.Context, door string, signed []byte) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, door+":"+string(signed))
		return nil
	}}, st, nil, quiet(), nil)
	require.NoError(t, e.ApplyStatus(ctx, protocol.Status{V: 1, Door: "d1", State: protocol.StateOffline}, t0()))
	for _, c := range []struct {
		id      string
		expires time.Duration
	}{{"cmd-live", 2 * time.Minute}, {"cmd-old", 30 * time.Second}} {
		require.NoError(t, st.Health().SaveCommand(ctx, store.CommandRecord{ID: c.id, Door: "d1", Center: "c1", Action: "unlock", Seconds: 3,
			By: "tk", IssuedMs: t0().UnixMilli(), ExpiresMs: t0().Add(c.expires).UnixMilli(), Delivery: store.CommandQueued, Signed: []byte("signed-" + c.id)}))
	}
	require.NoError(t, e.ApplyStatus(ctx, online("d1"), t0().Add(time.Minute)))
	require.Equal(t, []string{"d1:signed-cmd-live"}, sent)
	live, err := st.Health().Command(ctx, "cmd-live")
	require.NoError(t, err)
	require.Equal(t, store.CommandSent, live.Delivery)
	old, err := st.Health().Command(ctx, "cmd-old")
	require.NoError(t, err)
	require.Equal(t, store.CommandExpired, old.Status(t0().Add(time.Minute)))
	require.NoError(t, e.ApplyStatus(ctx, online("d1"), t0().Add(2*time.Minute)))
	require.Len(t, sent, 1, "sent again only on the way back online")
}

// TestOpenAlertsGauge: the gauge counts the network's open alerts by kind
// as of the last check, and the counters what this replica raised.
func TestOpenAlertsGauge(t *testing.T) {
	ctx := context.Background()
	b := backends()[0]
	st := b.open(t, b.location(t))
	seed(t, st)
	reg := metrics.NewRegistry()
	e := alerts.New(alerts.Config{}, st, nil, quiet(), reg)
	require.NoError(t, e.ApplyEvents(ctx, "d1", t0().UnixMilli(), []protocol.Event{ev(1, protocol.EventDoorForced)}))
	require.NoError(t, e.ApplyEvents(ctx, "d2", t0().UnixMilli(), []protocol.Event{ev(1, protocol.EventDoorForced), ev(2, protocol.EventReaderFault)}))
	require.NoError(t, e.ApplyEvents(ctx, "e1", t0().UnixMilli(), []protocol.Event{ev(1, protocol.EventDoorHeldOpen), ev(2, protocol.EventDoorClosed)}))
	require.NoError(t, e.Check(ctx))
	var sb strings.Builder
	require.NoError(t, reg.WriteText(&sb))
	for _, want := range []string{
		`swc_alerts_open{kind="door_forced"} 2`, `swc_alerts_open{kind="reader_fault"} 1`, `swc_alerts_open{kind="door_held_open"} 0`,
		`swc_alerts_open{kind="door_offline"} 0`,
		`swc_alerts_raised_total{kind="door_held_open"} 1`, `swc_alerts_resolved_total{kind="door_held_open"} 1`,
	} {
		require.Contains(t, sb.String(), want)
	}
}
