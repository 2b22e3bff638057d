package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/smartworkcenters/swc/shared/metrics"
)

// Accept back-off: after a failed accept the listener waits
// minAcceptBackoff, doubling up to maxAcceptBackoff while accepts keep
// failing (the figures of net/http's Server).
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
	// acceptProbe is the deadline of the accept after a failed one: when
	// it expires, the kernel found no connection waiting, which it checks
	// only after it found a descriptor for one, so accepting works again.
	acceptProbe = 100 * time.Millisecond
)

// listenerMetrics are the listeners' counters, labelled by listener id.
type listenerMetrics struct {
	acceptErrors *metrics.CounterVec
	timeouts     *metrics.CounterVec
	connecting   *metrics.GaugeVec
	shed         *metrics.CounterVec
}

func newListenerMetrics(r *metrics.Registry) *listenerMetrics {
	return &listenerMetrics{
		acceptErrors: r.CounterVec("swc_broker_accept_errors_total",
			"Failed accepts of an MQTT listener (such as EMFILE: no file descriptor left); the listener backs off and retries.", "listener"),
		timeouts: r.CounterVec("swc_broker_connect_timeouts_total",
			"MQTT connections closed because they had not completed the TLS handshake and sent CONNECT within the connect timeout.", "listener"),
		connecting: r.GaugeVec("swc_broker_connecting",
			"MQTT connections accepted that have not sent CONNECT yet.", "listener"),
		shed: r.CounterVec("swc_broker_connects_shed_total",
			"MQTT connections closed at once because the listener already had its maximum of connections without CONNECT.", "listener"),
	}
}

// listener is the broker's mochi listener (listeners.Listener) over TCP,
// TLS optionally. It replaces mochi's listeners.TCP, which has two flaws
// that let idle clients take the broker down (issue 14):
//
//   - mochi sets a read deadline only after CONNECT (from the keepalive), so
//     a connection that never completes its TLS handshake or never sends
//     CONNECT is kept forever, with its buffers and goroutines (about 27 KiB)
//     and a file descriptor. Here every accepted connection has connectTimeout
//     to get its CONNECT read (the hook's OnConnect calls connectDone);
//     otherwise the listener closes it and counts it. After CONNECT, mochi's
//     keepalive deadline takes over (the hook caps the keepalive, so there
//     always is one).
//   - mochi's accept loop returns on the first accept error (EMFILE when the
//     process is out of descriptors), and the listener never accepts again
//     while the broker looks alive. Here an accept error is counted and
//     logged, and the loop backs off (5 ms doubling to 1 s) and retries; it
//     returns only when the listener is closed.
//
// A third limit has no counterpart in mochi: at most maxConnecting
// connections without CONNECT per listener; a new one beyond it is closed
// at once and counted. The connect deadline bounds how long an idle client
// holds a descriptor, this bounds how many it holds, so that a flood of
// them (thousands a second) cannot take the descriptors the process needs
// for its connected doors, its database and its API. Doors that meet the
// limit retry, as after any refused connection.
//
// ready reports whether the listener is accepting: not while its last
// accept failed, nor once its loop has stopped. Linux takes a descriptor
// before it looks for a waiting connection, so under EMFILE every accept
// fails, whether a client waits or not. After a failure the retry has a
// short deadline (acceptProbe): if it expires, the kernel got past the
// descriptor and found the queue empty, so the listener is healthy again
// even when no client connects.
type listener struct {
	id             string
	address        string
	tls            *tls.Config // nil: plain TCP
	connectTimeout time.Duration
	maxConnecting  int
	m              *listenerMetrics
	log            *slog.Logger
	// disconnect disconnects the listener's clients at Close, instead of
	// the CloseFn mochi passes (see Close).
	disconnect func(listener string)

	ln      net.Listener
	closing atomic.Bool
	closeMu sync.Mutex

	pendingMu sync.Mutex
	pending   map[*connectConn]struct{} // accepted, CONNECT not read yet
	shedding  bool                      // the last accepted connection was over maxConnecting

	stateMu  sync.Mutex
	stopped  bool      // Serve's loop has returned
	failErr  error     // the last accept error, nil after a success
	failFrom time.Time // when accepts started failing
}

var _ listeners.Listener = (*listener)(nil)

func newListener(id, address string, tc *tls.Config, connectTimeout time.Duration, maxConnecting int, m *listenerMetrics,
	disconnect func(listener string)) *listener {
	return &listener{id: id, address: address, tls: tc, connectTimeout: connectTimeout, maxConnecting: maxConnecting, m: m,
		disconnect: disconnect, pending: map[*connectConn]struct{}{}}
}

// ID returns the listener's id.
func (l *listener) ID() string { return l.id }

// Protocol returns "tcp".
func (l *listener) Protocol() string { return "tcp" }

// Address returns the address listened on (its real port once Init has run).
func (l *listener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

// Init listens on the address. mochi's log already names the listener.
func (l *listener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.ln = ln
	return nil
}

// Serve accepts connections and hands them to establish until Close.
func (l *listener) Serve(establish listeners.EstablishFn) {
	defer l.setStopped()
	deadline, _ := l.ln.(interface{ SetDeadline(time.Time) error })
	backoff := time.Duration(0)
	recovered := func() {
		if backoff == 0 {
			return
		}
		backoff = 0
		if deadline != nil {
			_ = deadline.SetDeadline(time.Time{})
		}
		l.setAccepting()
		l.log.Info("broker: accepting again")
	}
	for {
		raw, err := l.ln.Accept()
		if l.closing.Load() {
			if err == nil {
				_ = raw.Close()
			}
			return
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && backoff > 0 {
				recovered() // the probe: nothing to accept, but accept works
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				l.log.Error("broker: listener closed under it; it no longer accepts", "err", err)
				return
			}
			backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
			l.m.acceptErrors.With(l.id).Inc()
			l.setFailing(err)
			l.log.Warn("broker: accept failed; retrying", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			if deadline != nil {
				_ = deadline.SetDeadline(time.Now().Add(acceptProbe))
			}
			continue
		}
		recovered()
		c := l.track(raw)
		if c == nil {
			continue
		}
		go func() {
			if err := establish(l.id, c); err != nil {
				l.log.Debug("broker: connection ended", "remote", raw.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// track wraps an accepted connection: it starts its connect deadline and
// adds TLS when the listener has it (the handshake runs on mochi's first
// read, within the deadline). Over maxConnecting it closes the connection
// and returns nil.
func (l *listener) track(raw net.Conn) net.Conn {
	l.pendingMu.Lock() // expire (leave) waits for the map and the timer
	if len(l.pending) >= l.maxConnecting {
		first := !l.shedding
		l.shedding = true
		l.pendingMu.Unlock()
		// Counted before it is closed: whoever sees the close (the
		// client, a test) finds it counted.
		l.m.shed.With(l.id).Inc()
		_ = raw.Close()
		if first {
			l.log.Warn("broker: too many connections without CONNECT; closing new ones until some go",
				"max_connecting", l.maxConnecting)
		}
		return nil
	}
	if l.shedding {
		l.shedding = false
		l.log.Info("broker: accepting new connections again", "max_connecting", l.maxConnecting)
	}
	cc := &connectConn{Conn: raw, l: l}
	l.m.connecting.With(l.id).Add(1)
	l.pending[cc] = struct{}{}
	cc.timer = time.AfterFunc(l.connectTimeout, cc.expire)
	l.pendingMu.Unlock()
	if l.tls != nil {
		return tls.Server(cc, l.tls)
	}
	return cc
}

// Close stops accepting, then closes the listener's clients and the
// connections that have not sent CONNECT yet: mochi's Server.Close waits
// for every connection it was handed, and mochi closes only its clients.
// The clients are closed by l.disconnect, not by mochi's CloseFn: in
// mochi v2.7.9 that function (closeListenerClients) lists the clients with
// Clients.GetByListener, which takes the clients' read lock twice and so
// deadlocks when a client's Delete waits for the write lock in between
// (a door leaving while the broker closes).
func (l *listener) Close(_ listeners.CloseFn) {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.ln != nil {
		_ = l.ln.Close()
	}
	if l.closing.CompareAndSwap(false, true) {
		l.disconnect(l.id)
	}
	l.pendingMu.Lock()
	pending := make([]*connectConn, 0, len(l.pending))
	for cc := range l.pending {
		pending = append(pending, cc)
	}
	l.pendingMu.Unlock()
	for _, cc := range pending {
		_ = cc.Close()
	}
}

func (l *listener) setStopped() {
	l.stateMu.Lock()
	l.stopped = true
	l.stateMu.Unlock()
}

func (l *listener) setFailing(err error) {
	l.stateMu.Lock()
	if l.failErr == nil {
		l.failFrom = time.Now()
	}
	l.failErr = err
	l.stateMu.Unlock()
}

func (l *listener) setAccepting() {
	l.stateMu.Lock()
	l.failErr = nil
	l.stateMu.Unlock()
}

// ready returns nil when the listener accepts connections, else why not.
func (l *listener) ready() error {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	switch {
	case l.closing.Load() || l.stopped:
		return fmt.Errorf("listener %s (%s): not accepting: stopped", l.id, l.Address())
	case l.ln == nil:
		return fmt.Errorf("listener %s (%s): not listening", l.id, l.Address())
	case l.failErr != nil:
		return fmt.Errorf("listener %s (%s): accept failing since %s: %w",
			l.id, l.Address(), l.failFrom.UTC().Format(time.RFC3339), l.failErr)
	}
	return nil
}

// connectConn is an accepted connection until its CONNECT is read: expire
// (its timer) closes it unless connectDone came first.
type connectConn struct {
	net.Conn
	l     *listener
	timer *time.Timer
	state atomic.Int32 // connPending, then one of the others
}

const (
	connPending int32 = iota
	connConnected
	connExpired
	connClosed
)

// leave moves the connection out of the pending state (once) and updates
// the gauge; it reports whether this call did. The callers other than the
// timer's own function (expire) stop the timer.
func (c *connectConn) leave(to int32) bool {
	if !c.state.CompareAndSwap(connPending, to) {
		return false
	}
	c.l.pendingMu.Lock()
	delete(c.l.pending, c)
	c.l.pendingMu.Unlock()
	c.l.m.connecting.With(c.l.id).Add(-1)
	return true
}

func (c *connectConn) expire() {
	if !c.leave(connExpired) {
		return
	}
	c.l.m.timeouts.With(c.l.id).Inc()
	c.l.log.Debug("broker: closing a connection without CONNECT",
		"remote", c.RemoteAddr().String(), "connect_timeout", c.l.connectTimeout)
	_ = c.Conn.Close()
}

// Close closes the connection.
func (c *connectConn) Close() error {
	if c.leave(connClosed) {
		c.timer.Stop()
	}
	return c.Conn.Close()
}

// connectDone ends the connect deadline of a connection whose CONNECT has
// been read (called by the hook's OnConnect with mochi's connection: ours,
// or a *tls.Conn over ours). mochi sets its keepalive deadline right after.
func connectDone(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if cc, ok := conn.(*connectConn); ok {
		if cc.leave(connConnected) {
			cc.timer.Stop()
		}
	}
}
