package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/store"
	edgesync "github.com/smartworkcenters/swc/edge/sync"
	"github.com/smartworkcenters/swc/shared/linkproxy"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// doorSpec is one door of the seeded network.
type doorSpec struct {
	ID     string
	Center string
	Secret string // the door's broker password
}

// simDoor is one door agent running in the fleet's process: the real agent
// (reader loop, decision, bbolt outbox, relay) on simulated hardware, with
// the real MQTT sync reaching the broker through its own link.
type simDoor struct {
	spec   doorSpec
	link   *linkproxy.Proxy // nil when the door connects straight to the broker
	reader *simReader
	store  *store.Store
	ctrl   *door.Controller
	cancel context.CancelFunc
	done   chan error
}

// doorConfig is the agent configuration of a fleet door. The MQTT settings
// are the production defaults: the fleet measures the product as shipped.
func doorConfig(spec doorSpec, dataDir, broker, key string) string {
	return fmt.Sprintf(`door_id = %q
data_dir = %q
[reader]
driver = "sim"
[door]
lock_pin = "GPIO5"
unlock_time = "1s"
[clock]
ntp = "assume_synced"
[whitelist]
keys = [%q]
[mqtt]
broker = "tcp://%s"
password = %q
`, spec.ID, dataDir, key, broker, spec.Secret)
}

// startDoor opens the door's store and starts its agent. broker is the
// broker's host:port; with cuttable the door reaches it through a link of
// its own that the fleet can cut (three more sockets per door), else
// straight.
func startDoor(ctx context.Context, spec doorSpec, dir, broker, key string, cuttable bool, log *slog.Logger) (_ *simDoor, err error) {
	d := &simDoor{spec: spec, reader: newSimReader(), done: make(chan error, 1)}
	defer func() {
		if err != nil {
			d.release()
		}
	}()
	if cuttable {
		if d.link, err = linkproxy.New(broker); err != nil {
			return nil, err
		}
		broker = d.link.Addr()
	}
	cfg, err := agent.Parse([]byte(doorConfig(spec, filepath.Join(dir, spec.ID), broker, key)))
	if err != nil {
		return nil, fmt.Errorf("door %s: configuration: %w", spec.ID, err)
	}
	log = log.With("door", spec.ID)
	lock := &gpiotest.Pin{N: cfg.Door.LockPin}
	if d.ctrl, err = door.New(door.Config{Lock: door.Output{Pin: lock, ActiveLow: cfg.Door.LockActiveLow}, LockKind: door.LockKind(cfg.Door.LockType),
		UnlockTime: cfg.Door.UnlockTime, HeldOpen: cfg.Door.HeldOpenTime, Debounce: cfg.Door.InputDebounce, Logger: log}); err != nil {
		return nil, fmt.Errorf("door %s: %w", spec.ID, err)
	}
	if d.store, err = store.Open(ctx, cfg.DBPath(), cfg.StoreOptions()); err != nil {
		return nil, fmt.Errorf("door %s: store: %w", spec.ID, err)
	}
	a, err := agent.New(agent.Deps{Config: cfg, Door: d.ctrl, Reader: d.reader, Store: d.store, Listener: newIdleListener(),
		Logger: log, Components: []agent.ComponentFactory{edgesync.Factory()}, Firmware: "swc-fleet"})
	if err != nil {
		return nil, fmt.Errorf("door %s: %w", spec.ID, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	go func() { d.done <- a.Run(runCtx) }()
	return d, nil
}

// stop stops the agent (the relay locks), then closes its store and link.
func (d *simDoor) stop() error {
	var err error
	if d.cancel != nil {
		d.cancel()
		err = <-d.done
	}
	d.release()
	if err != nil {
		return fmt.Errorf("door %s: %w", d.spec.ID, err)
	}
	return nil
}

func (d *simDoor) release() {
	if d.store != nil {
		_ = d.store.Close()
	}
	if d.ctrl != nil {
		_ = d.ctrl.Close()
	}
	if d.link != nil {
		d.link.Close()
	}
}

// outbox is what the door recorded (its last seq) and still holds.
func (d *simDoor) outbox(ctx context.Context) (store.OutboxStats, error) {
	return d.store.OutboxStats(ctx)
}

// failed returns the agent's error if it stopped on its own.
func (d *simDoor) failed() error {
	select {
	case err := <-d.done:
		d.done <- err
		if err == nil {
			err = errors.New("stopped")
		}
		return fmt.Errorf("door %s: agent: %w", d.spec.ID, err)
	default:
		return nil
	}
}

// simReader is the door's simulated badge reader: each Present is one
// presentation, returned once by Next, as the MFRC522 driver returns a
// card newly put on the reader.
type simReader struct {
	cards     chan reader.Card
	closed    chan struct{}
	closeOnce sync.Once
	presented atomic.Int64
	handled   atomic.Int64 // cards the agent finished with (it asked for the next)
	taken     atomic.Int64
}

func newSimReader() *simReader {
	return &simReader{cards: make(chan reader.Card, 256), closed: make(chan struct{})}
}

// Next implements reader.Reader. The agent handles a card completely before
// it asks for the next, so a call means the previous card is done.
func (r *simReader) Next(ctx context.Context) (reader.Card, error) {
	r.handled.Store(r.taken.Load())
	select {
	case c := <-r.cards:
		r.taken.Add(1)
		return c, nil
	case <-ctx.Done():
		return reader.Card{}, ctx.Err()
	case <-r.closed:
		return reader.Card{}, reader.ErrClosed
	}
}

// Close implements reader.Reader.
func (r *simReader) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}

// Present holds a badge to the reader.
func (r *simReader) Present(ctx context.Context, uid protocol.UID) error {
	if err := uid.Validate(); err != nil {
		return err
	}
	select {
	case r.cards <- reader.Card{UID: uid.Bytes(), ATQA: [2]byte{0x04, 0x00}, SAK: 0x08}:
		r.presented.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.closed:
		return reader.ErrClosed
	}
}

// idle reports whether every presented badge has been decided and recorded.
func (r *simReader) idle() bool { return r.handled.Load() == r.presented.Load() }

// idleListener is the agent's local HTTP listener in the fleet: it never
// accepts (the fleet drives its doors in-process), so a thousand doors hold
// no thousand listening sockets.
type idleListener struct {
	closed chan struct{}
	once   sync.Once
}

func newIdleListener() *idleListener { return &idleListener{closed: make(chan struct{})} }

func (l *idleListener) Accept() (net.Conn, error) {
	<-l.closed
	return nil, net.ErrClosed
}

func (l *idleListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *idleListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// waitIdle waits until the door's reader has no badge left to decide.
func (d *simDoor) waitIdle(ctx context.Context) error {
	for !d.reader.idle() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("door %s: badges still on the reader: %w", d.spec.ID, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
