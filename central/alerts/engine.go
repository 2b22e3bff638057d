// Package alerts keeps the health of every door and raises alerts about it
// (issue 16): it persists each door's last known state (store.DoorHealth)
// from the doors' statuses and events, so that an offline door's page still
// shows what it last reported, after a restart and on every replica; it
// raises an alert once when a condition starts and resolves it when the
// condition ends, and hands both to Notifiers (signed webhooks, e-mail).
//
// Rules (store.AlertKinds):
//
//   - door_offline: the door's status has said offline for the settings'
//     alerts.door_offline_minutes, or the door has sent nothing for that
//     long; resolved by an online status.
//   - door_forced, door_held_open: the door's event (or status door_state);
//     resolved by a door_closed event or a status with the door closed. The
//     door judges held open against alerts.held_open_seconds, which its
//     whitelist carries (central/whitelist; until a door has received it,
//     its own door.held_open_time).
//   - reader_fault: a reader_fault event or a status with reader "fault";
//     resolved by reader_ok or a status with reader "ok".
//   - clock_untrusted: an online status, or the last event of a batch, with
//     an untrusted clock; resolved when the clock is trusted again.
//   - whitelist_behind: an online door whose whitelist version has been below
//     the central's (Config.Version) for alerts.whitelist_behind_minutes.
//   - suspected_clone: a suspected_clone event (a badge listed as secure
//     failed its authentication, or replayed its read counter), with the
//     badge's uid and member; resolved when that badge is next granted at
//     that door (the genuine card authenticated there again).
//   - cert_expiring: the door's certificate (CertificateIssued, from
//     enrollment and renewals) expires within alerts.cert_expiry_days;
//     resolved by a renewal.
//
// The thresholds are the network settings' (central/settings, the one
// table of their defaults), the version in force now: the engine reads
// them at its first check, again when the store notifies a new version
// (subscribe Changed to the store's Feed) and when the month, and so
// possibly the version in force, changes. alerts.held_open_seconds is not
// applied here but at the doors: the whitelist compiler sends every door
// the value in force with its whitelist (a new version for every door when
// it changes), and the door raises door_held_open by it.
//
// Every replica runs an Engine; an open alert is unique per (door, kind) in
// the database, so an alert that several replicas see is stored and
// notified once, by the replica whose write won.
//
// Use:
//
//	eng := alerts.New(alerts.Config{Version: compiler.Version}, st, []alerts.Notifier{hooks, mail}, log, reg)
//	go eng.Run(ctx)
//	ingestCfg.StatusSeen = eng.ObserveStatus    // every door status
//	commitFeed.Subscribe(eng.Committed)          // every committed event batch
//	changes.Subscribe(eng.Changed)               // new settings versions (store.Feed)
//	enrollCfg.CertIssued = eng.CertificateIssued // door certificate expiries
package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Defaults of Config.
const (
	DefaultStateWriteInterval = time.Minute
	DefaultCheckInterval      = 30 * time.Second
)

// Config configures the engine; zero values take the defaults. The alert
// thresholds are not here: they are the network settings' (see the package
// documentation).
type Config struct {
	// StateWriteInterval bounds the store writes of one door's state: a
	// status that changes nothing but counters (outbox depth, clock
	// reading) is written at most once per interval; a change of state,
	// whitelist version, clock trust, door, reader, firmware or boot at once.
	StateWriteInterval time.Duration
	// CheckInterval is how often Run evaluates the time rules.
	CheckInterval time.Duration
	// Version returns the central's whitelist version of a door, false
	// when it has none (nil: the whitelist_behind rule is off).
	Version func(door string) (uint64, bool)
	// Republish, when set, hands a signed command to the broker again
	// (the ingest's PublishCommand): commands issued while their door was
	// offline are sent again when it comes back, until they expire (doors
	// keep no MQTT session, so the broker does not keep them).
	Republish func(ctx context.Context, door string, signed []byte) error
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.StateWriteInterval <= 0 {
		c.StateWriteInterval = DefaultStateWriteInterval
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Events of a Notification.
const (
	Raised   = "raised"
	Resolved = "resolved"
)

// Notification is an alert that was raised or resolved.
type Notification struct {
	Event string      `json:"event"` // raised or resolved
	Alert store.Alert `json:"alert"`
}

// Notifier delivers notifications. Notify must not block for long: a
// notifier that retries does it on its own goroutines.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// doorMem is what the engine remembers of a door between writes.
type doorMem struct {
	h         store.DoorHealth
	loaded    bool  // h came from the store or a status
	writtenMs int64 // last store write (0: none by this engine)
	written   string
	behindMs  int64 // since when the whitelist has been behind (0: not)
}

// fingerprint is the part of a door's state whose change is written at once.
// Whether the outbox is empty is part of it: the release of room no-shows
// (central/booking) waits for a door's stored state to say every event was
// delivered.
func fingerprint(h store.DoorHealth) string {
	return h.State + "|" + strconv.FormatUint(h.WLVersion, 10) + "|" + strconv.FormatBool(h.ClockTrusted) + "|" +
		h.DoorState + "|" + h.Reader + "|" + h.Firmware + "|" + h.Boot + "|" + strconv.FormatBool(h.OutboxDepth == 0)
}

// Engine observes doors, persists their state and raises and resolves alerts.
type Engine struct {
	cfg       Config
	st        store.Store
	hs        store.HealthStore
	notifiers []Notifier
	log       *slog.Logger
	inbox     *inbox // what the ingest observed, waiting for Run

	mu    sync.Mutex
	doors map[string]*doorMem

	thrMu sync.Mutex
	thr   settings.Alerts // the thresholds in force
	thrOf thrSource       // where thr came from; zero: to be read

	raised, resolvedC, notifyErrs, writes, skipped *metrics.CounterVec
	openGauge                                      *metrics.GaugeVec
	settingsErrs                                   *metrics.Counter
}

// New returns an engine over the store; notifiers may be empty.
func New(cfg Config, st store.Store, notifiers []Notifier, log *slog.Logger, reg *metrics.Registry) *Engine {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	in := newInbox()
	reg.GaugeFunc("swc_alerts_inbox_doors", "Doors whose statuses or committed events wait for the alert engine.",
		func() float64 { return float64(in.len()) })
	return &Engine{cfg: cfg, st: st, hs: st.Health(), notifiers: notifiers, log: log.With("component", "alerts"),
		inbox:      in,
		doors:      map[string]*doorMem{},
		raised:     reg.CounterVec("swc_alerts_raised_total", "Alerts raised by this replica, by kind.", "kind"),
		resolvedC:  reg.CounterVec("swc_alerts_resolved_total", "Alerts resolved by this replica, by kind.", "kind"),
		notifyErrs: reg.CounterVec("swc_alert_notify_errors_total", "Notifications a notifier refused, by notifier.", "notifier"),
		writes:     reg.CounterVec("swc_door_state_writes_total", "Door state writes to the store, by cause (change, interval, error).", "cause"),
		skipped:    reg.CounterVec("swc_door_state_writes_skipped_total", "Door statuses not written (nothing but counters changed within the write interval).", "reason"),
		openGauge:  reg.GaugeVec("swc_alerts_open", "Open alerts in the network, by kind (as of the last check).", "kind"),
		settingsErrs: reg.Counter("swc_alerts_settings_errors_total",
			"Failed reads of the alert thresholds from the stored settings (the last ones read stay in force)."),
	}
}

// Run serves the observations handed to the engine and evaluates the time
// rules every CheckInterval until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	tick := time.NewTicker(e.cfg.CheckInterval)
	defer tick.Stop()
	if err := e.Check(ctx); err != nil && ctx.Err() == nil {
		e.log.Warn("alert check failed", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.inbox.wake:
			e.drain(ctx)
		case <-tick.C:
			if err := e.Check(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("alert check failed", "err", err)
			}
		}
	}
}

// thrSource is where the thresholds in force were read: the settings
// version, of the month it is in force for.
type thrSource struct {
	read    bool
	version int64
	period  credit.Period
}

// thresholds returns the alert thresholds in force at now: the stored
// settings' version of now's month, read again after Changed saw a new
// version and when the month changes. A failed read is logged and counted,
// and the thresholds read last stay in force (the defaults, before any).
func (e *Engine) thresholds(ctx context.Context, now time.Time) settings.Alerts {
	period := credit.PeriodOf(now, settings.Location())
	e.thrMu.Lock()
	defer e.thrMu.Unlock()
	if e.thrOf.read && e.thrOf.period == period {
		return e.thr
	}
	cur, err := settings.Current(ctx, e.st, now)
	if err != nil {
		e.settingsErrs.Inc()
		if !e.thrOf.read && e.thr == (settings.Alerts{}) {
			e.thr = settings.Defaults().Alerts
		}
		e.log.Warn("alerts: could not read the thresholds from the settings; keeping the last ones", "err", err,
			"door_offline", e.thr.DoorOffline())
		return e.thr
	}
	if !e.thrOf.read || cur.Number != e.thrOf.version || cur.Settings.Alerts != e.thr {
		e.log.Info("alerts: thresholds from the network settings", "settings_version", cur.Number,
			"door_offline", cur.Settings.Alerts.DoorOffline(), "cert_expiring", cur.Settings.Alerts.CertExpiry(),
			"whitelist_behind", cur.Settings.Alerts.WhitelistBehind())
	}
	e.thr, e.thrOf = cur.Settings.Alerts, thrSource{read: true, version: cur.Number, period: period}
	return e.thr
}

// Changed is a store.Feed subscriber: a new settings version has the
// thresholds read again at their next use.
func (e *Engine) Changed(_ context.Context, ch domain.Change) {
	if ch.Kind != domain.KindSettings {
		return
	}
	e.thrMu.Lock()
	e.thrOf.read = false
	e.thrMu.Unlock()
}

// ObserveStatus takes a door's status received at at (the ingest's
// StatusSeen hook). It returns at once, never waiting for Run (see inbox);
// Run applies it.
func (e *Engine) ObserveStatus(st protocol.Status, at time.Time) {
	e.inbox.status(st, at)
}

// Committed takes a commit of the ingest (subscribe it to the CommitFeed).
// It returns at once, never waiting for Run (see inbox); Run applies it.
func (e *Engine) Committed(receivedMs int64, batches []ingest.Batch) {
	for _, b := range batches {
		e.inbox.events(b.Door, receivedMs, b.Events)
	}
}

// drain applies what the inbox holds, a door at a time in the order the
// doors came in: the doors waiting when it starts, so that Run's checks
// take their turn under a steady intake (the inbox wakes Run again for the
// rest).
func (e *Engine) drain(ctx context.Context) {
	for n := e.inbox.len(); n > 0 && ctx.Err() == nil; n-- {
		door, obs, ok := e.inbox.next()
		if !ok {
			return
		}
		for _, o := range obs {
			if o.events == nil {
				if err := e.ApplyStatus(ctx, o.st, o.at); err != nil {
					e.log.Warn("door status not applied", "door", door, "err", err)
				}
			} else if err := e.ApplyEvents(ctx, door, o.receivedMs, o.events); err != nil {
				e.log.Warn("door events not applied", "door", door, "err", err)
			}
		}
	}
}

// CertificateIssued records the expiry of a certificate just issued to the
// door (enrollment or renewal) and resolves its cert_expiring alert when
// the new one is far from expiry.
func (e *Engine) CertificateIssued(ctx context.Context, door string, notAfter time.Time) error {
	if err := e.hs.SetDoorCertificate(ctx, door, notAfter.UnixMilli()); err != nil {
		return fmt.Errorf("alerts: certificate of %s: %w", door, err)
	}
	e.mu.Lock()
	if m := e.doors[door]; m != nil {
		m.h.CertNotAfterMs = notAfter.UnixMilli()
	}
	e.mu.Unlock()
	now := e.cfg.Now()
	if notAfter.Sub(now) > e.thresholds(ctx, now).CertExpiry() {
		open, err := e.openOf(ctx, door)
		if err != nil {
			return err
		}
		return e.resolve(ctx, open, door, store.AlertCertExpiring, now)
	}
	return nil
}

// openOf returns the door's open alerts by kind, as stored now.
func (e *Engine) openOf(ctx context.Context, door string) (map[store.AlertKind]bool, error) {
	yes := true
	page, err := e.hs.ListAlerts(ctx, store.AlertFilter{Door: door, Open: &yes})
	if err != nil {
		return nil, fmt.Errorf("alerts: open alerts of %s: %w", door, err)
	}
	open := map[store.AlertKind]bool{}
	for _, a := range page.Items {
		open[a.Kind] = true
	}
	return open, nil
}

// mem returns the door's memory, loading its stored state the first time.
func (e *Engine) mem(ctx context.Context, door string) (*doorMem, error) {
	e.mu.Lock()
	m := e.doors[door]
	e.mu.Unlock()
	if m != nil && m.loaded {
		return m, nil
	}
	h, err := e.hs.DoorHealth(ctx, door)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if errors.Is(err, store.ErrNotFound) {
		h = store.DoorHealth{Door: door}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if m = e.doors[door]; m == nil {
		m = &doorMem{}
		e.doors[door] = m
	}
	m.h, m.loaded, m.written = h, true, fingerprint(h)
	return m, nil
}

// ApplyStatus is ObserveStatus done now: it updates the door's state (an
// offline status keeps everything the door last reported), writes it when
// it changed or the write interval passed, and applies the status rules.
func (e *Engine) ApplyStatus(ctx context.Context, st protocol.Status, at time.Time) error {
	if err := protocol.ValidID(st.Door); err != nil {
		return fmt.Errorf("alerts: status of door %q: %w", st.Door, err)
	}
	m, err := e.mem(ctx, st.Door)
	if err != nil {
		return err
	}
	e.mu.Lock()
	prev := m.h
	h := prev
	switch st.State {
	case protocol.StateOffline:
		h.State = store.DoorOffline
		if prev.State != store.DoorOffline || prev.OfflineSinceMs == 0 {
			h.OfflineSinceMs = at.UnixMilli()
		}
	default:
		cert := prev.CertNotAfterMs
		h.FromStatus(st)
		h.CertNotAfterMs, h.OfflineSinceMs, h.LastSeenMs = cert, 0, at.UnixMilli()
	}
	h.UpdatedMs = at.UnixMilli()
	m.h = h
	write := fingerprint(h) != m.written || at.UnixMilli()-m.writtenMs >= e.cfg.StateWriteInterval.Milliseconds()
	cause := "change"
	if fingerprint(h) == m.written {
		cause = "interval"
	}
	e.mu.Unlock()
	if write {
		if err := e.hs.SaveDoorHealth(ctx, h); err != nil {
			e.writes.With("error").Inc()
			if errors.Is(err, store.ErrMissingRef) {
				return nil // a door the store does not know (deleted): nothing to keep
			}
			return fmt.Errorf("alerts: state of %s: %w", h.Door, err)
		}
		e.writes.With(cause).Inc()
		e.mu.Lock()
		m.writtenMs, m.written = at.UnixMilli(), fingerprint(h)
		e.mu.Unlock()
	} else {
		e.skipped.With("unchanged").Inc()
	}
	if h.State != store.DoorOnline {
		return nil
	}
	if prev.State != store.DoorOnline {
		e.resendQueued(ctx, h.Door, at)
	}
	open, err := e.openOf(ctx, h.Door)
	if err != nil {
		return err
	}
	return e.stateRules(ctx, open, h, at)
}

// resendQueued sends again the door's commands queued while it was
// offline. A door executes a command id at most once, so replicas sending
// the same command again do no harm.
func (e *Engine) resendQueued(ctx context.Context, door string, at time.Time) {
	if e.cfg.Republish == nil {
		return
	}
	pending, err := e.hs.PendingCommands(ctx, door, at.UnixMilli())
	if err != nil {
		e.log.Warn("queued commands not read", "door", door, "err", err)
		return
	}
	for _, c := range pending {
		if err := e.cfg.Republish(ctx, door, c.Signed); err != nil {
			e.log.Warn("queued command not sent; it is sent when the door is back again", "door", door, "command", c.ID, "err", err)
			continue
		}
		if err := e.hs.MarkCommandSent(ctx, c.ID); err != nil {
			e.log.Warn("queued command sent but not marked", "door", door, "command", c.ID, "err", err)
		}
		e.log.Info("queued command sent to the door, back online", "door", door, "command", c.ID, "action", c.Action)
	}
}

// stateRules applies the rules that follow from a door's reported state.
func (e *Engine) stateRules(ctx context.Context, open map[store.AlertKind]bool, h store.DoorHealth, at time.Time) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	add(e.resolve(ctx, open, h.Door, store.AlertOffline, at))
	if h.ClockTrusted {
		add(e.resolve(ctx, open, h.Door, store.AlertClockUntrusted, at))
	} else {
		add(e.raise(ctx, open, h, store.AlertClockUntrusted, at, map[string]string{"source": "status"}))
	}
	switch h.Reader {
	case "fault":
		add(e.raise(ctx, open, h, store.AlertReaderFault, at, map[string]string{"source": "status"}))
	case "ok":
		add(e.resolve(ctx, open, h.Door, store.AlertReaderFault, at))
	}
	switch h.DoorState {
	case "forced":
		add(e.raise(ctx, open, h, store.AlertForced, at, map[string]string{"source": "status"}))
	case "held_open":
		add(e.raise(ctx, open, h, store.AlertHeldOpen, at, map[string]string{"source": "status"}))
	case "locked", "unlocked":
		add(e.resolve(ctx, open, h.Door, store.AlertForced, at))
		add(e.resolve(ctx, open, h.Door, store.AlertHeldOpen, at))
	}
	return errors.Join(errs...)
}

// ApplyEvents is Committed done now for one door's events: it notes the
// door as seen, marks remote commands executed, and applies the event rules
// in sequence order.
func (e *Engine) ApplyEvents(ctx context.Context, door string, receivedMs int64, events []protocol.Event) error {
	if len(events) == 0 {
		return nil
	}
	m, err := e.mem(ctx, door)
	if err != nil {
		return err
	}
	e.mu.Lock()
	m.h.LastSeenMs = max(m.h.LastSeenMs, receivedMs)
	h := m.h
	e.mu.Unlock()
	at := time.UnixMilli(receivedMs)
	open, err := e.openOf(ctx, door)
	if err != nil {
		return err
	}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	cloned := map[protocol.UID]bool{} // badges with a suspected_clone in this batch
	for _, ev := range events {
		details := map[string]string{"source": "event", "seq": strconv.FormatUint(ev.Seq, 10),
			"door_time": time.UnixMilli(ev.TimeMs).UTC().Format(time.RFC3339)}
		if !ev.Trusted {
			details["door_time_trusted"] = "false"
		}
		switch ev.Kind {
		case protocol.EventDoorForced:
			add(e.raise(ctx, open, h, store.AlertForced, at, details))
		case protocol.EventDoorHeldOpen:
			add(e.raise(ctx, open, h, store.AlertHeldOpen, at, details))
		case protocol.EventDoorClosed:
			add(e.resolve(ctx, open, door, store.AlertForced, at))
			add(e.resolve(ctx, open, door, store.AlertHeldOpen, at))
		case protocol.EventReaderFault:
			add(e.raise(ctx, open, h, store.AlertReaderFault, at, details))
		case protocol.EventReaderOK:
			add(e.resolve(ctx, open, door, store.AlertReaderFault, at))
		case protocol.EventRemoteUnlock:
			add(e.hs.CommandExecuted(ctx, door, ev.Command, receivedMs))
		case protocol.EventSuspectedClone:
			details["uid"], details["member"] = string(ev.UID), ev.Member
			if ev.ReadCounter != 0 {
				details["read_ctr"] = strconv.FormatUint(uint64(ev.ReadCounter), 10)
			}
			add(e.raise(ctx, open, h, store.AlertSuspectedClone, at, details))
			cloned[ev.UID] = true
		case protocol.EventTap:
			if ev.Reason.Granted() && open[store.AlertSuspectedClone] && !cloned[ev.UID] && e.cloneOf(ctx, door, ev.UID) {
				add(e.resolve(ctx, open, door, store.AlertSuspectedClone, at))
			}
		}
	}
	// The clock: only the batch's last event counts (a door catching up
	// sends old untrusted events followed by trusted ones).
	last := events[len(events)-1]
	if last.Trusted {
		add(e.resolve(ctx, open, door, store.AlertClockUntrusted, at))
	} else {
		add(e.raise(ctx, open, h, store.AlertClockUntrusted, at, map[string]string{"source": "event", "seq": strconv.FormatUint(last.Seq, 10)}))
	}
	return errors.Join(errs...)
}

// cloneOf reports whether the door's open suspected_clone alert is about uid.
func (e *Engine) cloneOf(ctx context.Context, door string, uid protocol.UID) bool {
	yes := true
	pg, err := e.hs.ListAlerts(ctx, store.AlertFilter{Door: door, Kind: store.AlertSuspectedClone, Open: &yes, PageRequest: store.PageRequest{Limit: 1}})
	return err == nil && len(pg.Items) == 1 && pg.Items[0].Details["uid"] == string(uid)
}

// Check evaluates the time rules over every door's stored state (offline
// threshold, certificate expiry, whitelist behind) and refreshes the open
// alerts and their gauge. Run calls it every CheckInterval.
func (e *Engine) Check(ctx context.Context) error {
	now := e.cfg.Now()
	thr := e.thresholds(ctx, now)
	open, err := store.All(ctx, func(p store.PageRequest) (store.Page[store.Alert], error) {
		yes := true
		return e.hs.ListAlerts(ctx, store.AlertFilter{Open: &yes, PageRequest: p})
	})
	if err != nil {
		return fmt.Errorf("alerts: open alerts: %w", err)
	}
	counts := map[store.AlertKind]int{}
	byDoor := map[string]map[store.AlertKind]bool{}
	for _, a := range open {
		if byDoor[a.Door] == nil {
			byDoor[a.Door] = map[store.AlertKind]bool{}
		}
		byDoor[a.Door][a.Kind] = true
		counts[a.Kind]++
	}
	for _, k := range store.AlertKinds() {
		e.openGauge.With(string(k)).Set(float64(counts[k]))
	}
	doors, err := e.hs.ListDoorHealth(ctx, nil)
	if err != nil {
		return fmt.Errorf("alerts: door states: %w", err)
	}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	for _, h := range doors {
		open := byDoor[h.Door]
		if open == nil {
			open = map[store.AlertKind]bool{}
		}
		// A door that says online but has sent nothing (doors republish
		// their status every 30 s) for the threshold is offline too: its
		// last will may have been lost with a broker that restarted.
		silent := h.State == store.DoorOnline && h.LastSeenMs != 0 && now.Sub(time.UnixMilli(h.LastSeenMs)) >= thr.DoorOffline()
		switch {
		case h.State == store.DoorOffline && h.OfflineFor(now) >= thr.DoorOffline():
			add(e.raise(ctx, open, h, store.AlertOffline, now, map[string]string{
				"offline_since": time.UnixMilli(h.OfflineSinceMs).UTC().Format(time.RFC3339),
				"last_seen":     time.UnixMilli(h.LastSeenMs).UTC().Format(time.RFC3339)}))
		case silent:
			add(e.raise(ctx, open, h, store.AlertOffline, now, map[string]string{
				"silent_since": time.UnixMilli(h.LastSeenMs).UTC().Format(time.RFC3339),
				"last_seen":    time.UnixMilli(h.LastSeenMs).UTC().Format(time.RFC3339)}))
		case h.State == store.DoorOnline:
			add(e.resolve(ctx, open, h.Door, store.AlertOffline, now))
		}
		if h.CertNotAfterMs != 0 {
			if left := time.UnixMilli(h.CertNotAfterMs).Sub(now); left <= thr.CertExpiry() {
				add(e.raise(ctx, open, h, store.AlertCertExpiring, now, map[string]string{
					"not_after": time.UnixMilli(h.CertNotAfterMs).UTC().Format(time.RFC3339)}))
			} else {
				add(e.resolve(ctx, open, h.Door, store.AlertCertExpiring, now))
			}
		}
		if e.cfg.Version != nil && h.State == store.DoorOnline {
			add(e.whitelistRule(ctx, open, h, now, thr))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) whitelistRule(ctx context.Context, open map[store.AlertKind]bool, h store.DoorHealth, now time.Time, thr settings.Alerts) error {
	want, ok := e.cfg.Version(h.Door)
	e.mu.Lock()
	m := e.doors[h.Door]
	if m == nil {
		m = &doorMem{}
		e.doors[h.Door] = m
	}
	behind := ok && h.WLVersion < want
	if !behind {
		m.behindMs = 0
	} else if m.behindMs == 0 {
		m.behindMs = now.UnixMilli()
	}
	since := m.behindMs
	e.mu.Unlock()
	if !behind {
		return e.resolve(ctx, open, h.Door, store.AlertWhitelistBehind, now)
	}
	if now.Sub(time.UnixMilli(since)) < thr.WhitelistBehind() {
		return nil
	}
	return e.raise(ctx, open, h, store.AlertWhitelistBehind, now, map[string]string{
		"door_version": strconv.FormatUint(h.WLVersion, 10), "central_version": strconv.FormatUint(want, 10)})
}

// raise stores the alert unless open (the door's open alerts) holds it,
// and notifies when this call stored it: the store's unique open alert
// per (door, kind) decides between replicas.
func (e *Engine) raise(ctx context.Context, open map[store.AlertKind]bool, h store.DoorHealth, kind store.AlertKind, at time.Time, details map[string]string) error {
	if open[kind] {
		return nil
	}
	a, raised, err := e.hs.RaiseAlert(ctx, store.Alert{Door: h.Door, Center: h.Center, Kind: kind, Details: details, RaisedMs: at.UnixMilli()})
	if err != nil {
		return fmt.Errorf("alerts: raise %s of %s: %w", kind, h.Door, err)
	}
	open[kind] = true
	if raised {
		e.raised.With(string(kind)).Inc()
		e.log.Info("alert raised", "door", a.Door, "center", a.Center, "kind", kind, "alert", a.ID)
		e.notify(ctx, Notification{Event: Raised, Alert: a})
	}
	return nil
}

// resolve closes the open alert when open (the door's open alerts) holds
// it, and notifies when this call closed it (not another replica's).
func (e *Engine) resolve(ctx context.Context, open map[store.AlertKind]bool, door string, kind store.AlertKind, at time.Time) error {
	if !open[kind] {
		return nil
	}
	a, resolved, err := e.hs.ResolveAlert(ctx, door, kind, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("alerts: resolve %s of %s: %w", kind, door, err)
	}
	delete(open, kind)
	if resolved {
		e.resolvedC.With(string(kind)).Inc()
		e.log.Info("alert resolved", "door", a.Door, "center", a.Center, "kind", kind, "alert", a.ID)
		e.notify(ctx, Notification{Event: Resolved, Alert: a})
	}
	return nil
}

func (e *Engine) notify(ctx context.Context, n Notification) {
	for _, nt := range e.notifiers {
		if err := nt.Notify(ctx, n); err != nil {
			e.notifyErrs.With(fmt.Sprintf("%T", nt)).Inc()
			e.log.Warn("alert notification failed", "alert", n.Alert.ID, "event", n.Event, "notifier", fmt.Sprintf("%T", nt), "err", err)
		}
	}
}
