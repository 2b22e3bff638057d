package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Host is what the agent offers a Component such as the MQTT sync. *Agent
// implements it.
//
// A sync built on it publishes Pending events in seq order, deletes them on
// the central's cumulative Ack (never on a broker PUBACK), hands every signed
// whitelist and command message to ReceiveWhitelist / ReceiveCommand (which
// verify, apply and execute), asks for a snapshot from WhitelistVersion when
// ReceiveWhitelist reports protocol.ErrGap or a resync command, wakes up on
// Appended, and publishes Status.
type Host interface {
	DoorID() string
	Config() *Config
	Logger() *slog.Logger
	Metrics() *metrics.Registry
	// Now is the door's clock; TrustedNow judges signed messages' expiry.
	Now() Reading
	TrustedNow() time.Time
	// Pending returns up to max waiting events of one store after outbox
	// position after (0: the oldest), in order (store.Store.Pending).
	Pending(ctx context.Context, after uint64, max int) (store.Pending, error)
	// Appended is signalled (coalesced) after each event appended.
	Appended() <-chan struct{}
	// Ack applies the central's cumulative acknowledgement: deletes the
	// events of store ack.Store through ack.Through and learns the exact
	// time from ack.ServerMs.
	Ack(ctx context.Context, ack *protocol.Ack) (deleted int, err error)
	// AdvanceTrustedTime learns a trusted time from the central: exact (a
	// server timestamp just received) or a lower bound (a signed issued-at);
	// Ack and the whitelist intake already do this for their own messages.
	AdvanceTrustedTime(ctx context.Context, t time.Time, exact bool) error
	// WhitelistVersion is the version held (0: none), for SyncRequest.From.
	WhitelistVersion(ctx context.Context) (uint64, error)
	// ReceiveWhitelist verifies a signed whitelist message against the
	// pinned keys and applies it (staged snapshot part, or delta).
	ReceiveWhitelist(ctx context.Context, msg []byte) (store.ApplyResult, error)
	// ApplyWhitelist applies a whitelist body the caller has verified.
	ApplyWhitelist(ctx context.Context, w *protocol.Whitelist) (store.ApplyResult, error)
	// ReceiveCommand verifies a signed command and executes it.
	ReceiveCommand(ctx context.Context, msg []byte) (*protocol.Command, error)
	// Execute runs a verified command at most once.
	Execute(ctx context.Context, c *protocol.Command) error
	// Status is the door's status for the retained status topic.
	Status(ctx context.Context) (protocol.Status, error)
	// Report is the fuller status of the local API and `swc-edge status`.
	Report(ctx context.Context) (Report, error)
}

var _ Host = (*Agent)(nil)

// DoorID returns the door's id.
func (a *Agent) DoorID() string { return a.cfg.DoorID }

// Config returns the configuration.
func (a *Agent) Config() *Config { return a.cfg }

// Logger returns the agent's logger.
func (a *Agent) Logger() *slog.Logger { return a.log }

// Metrics returns the registry served at /metrics.
func (a *Agent) Metrics() *metrics.Registry { return a.reg }

// Now reads the door's clock.
func (a *Agent) Now() Reading { return a.clock.Now() }

// TrustedNow is the time to judge signed messages' expiry by.
func (a *Agent) TrustedNow() time.Time { return a.clock.TrustedNow() }

// Pending returns waiting events of one store after an outbox position.
func (a *Agent) Pending(ctx context.Context, after uint64, max int) (store.Pending, error) {
	return a.store.Pending(ctx, after, max)
}

// Appended is signalled after events are appended.
func (a *Agent) Appended() <-chan struct{} { return a.appended }

// Ack deletes acknowledged events and learns the central's time.
func (a *Agent) Ack(ctx context.Context, ack *protocol.Ack) (int, error) {
	if err := ack.Validate(); err != nil {
		return 0, err
	}
	if ack.Door != a.cfg.DoorID {
		return 0, &protocol.Error{Kind: protocol.ErrWrongDoor, Field: "door", Detail: fmt.Sprintf("%q, this door is %q", ack.Door, a.cfg.DoorID)}
	}
	n, err := a.store.Ack(ctx, ack.Store, ack.Through)
	if err != nil {
		a.storeFailed("ack", err)
		return 0, err
	}
	_ = a.AdvanceTrustedTime(ctx, time.UnixMilli(ack.ServerMs), true)
	return n, nil
}

// AdvanceTrustedTime raises the clock's and the store's last trusted time.
func (a *Agent) AdvanceTrustedTime(ctx context.Context, t time.Time, exact bool) error {
	a.clock.Observe(t, exact)
	if _, err := a.store.AdvanceTrustedTime(ctx, t); err != nil {
		a.storeFailed("trusted_time", err)
		return err
	}
	return nil
}

// WhitelistVersion returns the version held.
func (a *Agent) WhitelistVersion(ctx context.Context) (uint64, error) {
	wi, err := a.store.Whitelist(ctx)
	return wi.Version, err
}

// ReceiveWhitelist verifies and applies one signed whitelist message.
func (a *Agent) ReceiveWhitelist(ctx context.Context, msg []byte) (store.ApplyResult, error) {
	res, w, err := ReceiveWhitelist(ctx, a.store, a.keys, a.cfg.DoorID, a.clock.TrustedNow(), msg)
	a.afterWhitelist(w, res, err)
	return res, err
}

// ApplyWhitelist applies a verified whitelist body.
func (a *Agent) ApplyWhitelist(ctx context.Context, w *protocol.Whitelist) (store.ApplyResult, error) {
	res, err := a.store.ApplyWhitelist(ctx, w)
	a.afterWhitelist(w, res, err)
	return res, err
}

func (a *Agent) afterWhitelist(w *protocol.Whitelist, res store.ApplyResult, err error) {
	switch {
	case err != nil:
		a.m.whitelist.With(protocol.Code(err)).Inc()
		a.log.Warn("whitelist message refused", "code", protocol.Code(err), "err", err)
		if errors.Is(err, store.ErrClosed) {
			a.storeFailed("whitelist", err)
		}
	case res.Applied:
		a.m.whitelist.With("applied").Inc()
		a.wlVersion.Store(res.Version)
		a.clock.Observe(time.UnixMilli(w.IssuedMs), false)
		a.log.Info("whitelist applied", "version", res.Version, "kind", string(w.Kind))
		a.setHeldOpen(time.Duration(w.HeldOpenS) * time.Second)
		if w.Kind == protocol.Snapshot {
			debug.FreeOSMemory() // a 100k-badge snapshot leaves megabytes of garbage; give them back
		}
	default:
		a.m.whitelist.With("staged").Inc()
		a.log.Info("whitelist snapshot part staged", "version", w.Version, "staged", res.Staged, "parts", res.Parts)
	}
}

// setHeldOpen puts the held-open threshold of the whitelist held in force
// at the door: the network's value it carries, or (0) the door's own
// door.held_open_time. The store keeps it with the whitelist, so that a
// restart offline starts with it.
func (a *Agent) setHeldOpen(d time.Duration) {
	before := a.door.HeldOpen()
	if err := a.door.SetHeldOpen(d); err != nil {
		// The protocol and the store bound it (1 s to a day): a bug.
		a.log.Error("held-open time of the whitelist refused; the door keeps its current one", "held_open", d, "err", err)
		return
	}
	if now := a.door.HeldOpen(); now != before {
		source := "whitelist"
		if d == 0 {
			source = "config"
		}
		a.log.Info("held-open time changed", "held_open", now, "was", before, "source", source)
	}
	a.heldFromWL.Store(d != 0)
}

// ReceiveWhitelist verifies a signed whitelist message with the pinned keys
// (signature, strict body, expiry against now, door, newer version, delta
// base) and hands it to the store, which re-checks door and versions inside
// its transaction. It returns the verified body too (nil when refused
// before verification completed).
func ReceiveWhitelist(ctx context.Context, st *store.Store, keys *protocol.KeyRing, doorID string, now time.Time, msg []byte) (store.ApplyResult, *protocol.Whitelist, error) {
	w, err := keys.OpenWhitelist(msg, now)
	if err != nil {
		return store.ApplyResult{}, nil, err
	}
	wi, err := st.Whitelist(ctx)
	if err != nil {
		return store.ApplyResult{}, w, err
	}
	if err := w.CheckFor(doorID, wi.Version); err != nil {
		return store.ApplyResult{Version: wi.Version}, w, err
	}
	res, err := st.ApplyWhitelist(ctx, w)
	return res, w, err
}

// ErrCommandSeen is returned for a command id executed before.
var ErrCommandSeen = store.ErrCommandSeen

// ReceiveCommand verifies a signed command with the pinned keys and
// executes it.
func (a *Agent) ReceiveCommand(ctx context.Context, msg []byte) (*protocol.Command, error) {
	c, err := a.keys.OpenCommand(msg, a.cfg.DoorID, a.clock.TrustedNow())
	if err != nil {
		a.m.commands.With("unknown", protocol.Code(err)).Inc()
		a.log.Warn("remote command refused", "code", protocol.Code(err), "err", err)
		return nil, err
	}
	return c, a.Execute(ctx, c)
}

// Execute runs a verified command at most once: its id is recorded (with a
// remote_unlock event for an unlock) in one transaction before the door is
// driven. unlock opens for c.Seconds (at most 30 s), relock locks at once,
// resync only records the id: the caller then asks for a snapshot.
func (a *Agent) Execute(ctx context.Context, c *protocol.Command) error {
	err := a.execute(ctx, c)
	result := "ok"
	if err != nil {
		result = protocol.Code(err)
		if errors.Is(err, ErrCommandSeen) {
			result = "duplicate"
		}
		a.log.Warn("remote command refused", "id", c.ID, "action", c.Action, "result", result, "err", err)
	}
	a.m.commands.With(c.Action, result).Inc()
	return err
}

func (a *Agent) execute(ctx context.Context, c *protocol.Command) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Door != a.cfg.DoorID {
		return &protocol.Error{Kind: protocol.ErrWrongDoor, Field: "door", Detail: fmt.Sprintf("%q, this door is %q", c.Door, a.cfg.DoorID)}
	}
	r := a.clock.Now()
	if r.Time.UnixMilli() >= c.ExpiresMs {
		return &protocol.Error{Kind: protocol.ErrExpired, Field: "expires_ms", Detail: "command expired"}
	}
	var ev *protocol.Event
	if c.Action == protocol.ActionUnlock {
		ev = &protocol.Event{TimeMs: r.Time.UnixMilli(), Trusted: r.Trusted, Boot: a.boot, UptimeMs: r.Uptime.Milliseconds(), Kind: protocol.EventRemoteUnlock, WLVersion: a.wlVersion.Load(), Command: c.ID}
	}
	if _, err := a.store.RecordCommand(ctx, c.ID, time.UnixMilli(c.ExpiresMs), r.Time, ev); err != nil {
		if !errors.Is(err, ErrCommandSeen) {
			a.storeFailed("command", err)
		}
		return err
	}
	if ev != nil {
		a.m.events.With(string(protocol.EventRemoteUnlock)).Inc()
		a.notifyAppended()
	}
	a.log.Info("remote command", "id", c.ID, "action", c.Action, "seconds", c.Seconds, "by", c.By)
	switch c.Action {
	case protocol.ActionUnlock:
		_, err := a.door.Unlock(time.Duration(c.Seconds) * time.Second)
		return err
	case protocol.ActionRelock:
		return a.door.Lock()
	}
	return nil
}

// Status returns the door's status for the retained status topic.
func (a *Agent) Status(ctx context.Context) (protocol.Status, error) {
	rep, err := a.Report(ctx)
	if err != nil {
		return protocol.Status{}, err
	}
	st := protocol.Status{V: protocol.Version, Door: a.cfg.DoorID, State: protocol.StateOnline, TimeMs: rep.Clock.Time.UnixMilli(), Boot: a.boot,
		Firmware: a.firmware, WLVersion: rep.Whitelist.Version, OutboxDepth: rep.Outbox.Depth,
		ClockTrusted: rep.Clock.Trusted, DoorState: rep.Door.State, Reader: rep.Reader.State}
	if !rep.Whitelist.Issued.IsZero() {
		st.WLIssuedMs = rep.Whitelist.Issued.UnixMilli()
	}
	if !rep.Outbox.Oldest.IsZero() {
		st.OutboxOldestMs = rep.Outbox.Oldest.UnixMilli()
	}
	return st, nil
}
