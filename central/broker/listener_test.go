package broker

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
)

// startBothBroker starts the embedded broker with both listeners: the
// secret listener (target "mochi", plain TCP) and the certificate listener
// (target "mochi-mtls").
func startBothBroker(t *testing.T, mod ...func(*Config)) (secret, cert *target) {
	t.Helper()
	ca, _, err := enroll.NewCA("test CA", time.Now())
	require.NoError(t, err)
	sc, err := ca.ServerCerts([]string{"127.0.0.1"}, nil)
	require.NoError(t, err)
	c := &certs{t: t, ca: ca, by: map[string]tls.Certificate{}}
	secret = startBroker(t, append([]func(*Config){func(cfg *Config) {
		cfg.CertAddr, cfg.CertTLS, cfg.Certs = "127.0.0.1:0", sc.TLSConfig(), ca
	}}, mod...)...)
	cert = &target{name: "mochi-mtls", addr: secret.broker.CertAddr(), scheme: "ssl", reg: secret.reg, broker: secret.broker,
		tlsFor: func(user string) *tls.Config { kp := c.forUser(user); return c.config(&kp) }}
	return secret, cert
}

// listenerID is the metrics label of a target's listener.
func (tg *target) listenerID() string {
	if tg.scheme == "ssl" {
		return listenerCert
	}
	return listenerSecret
}

// requireClosedByBroker reads from c until the broker closes it, failing
// the test if the connection is still open after wait.
func requireClosedByBroker(t *testing.T, c net.Conn, what string) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(wait)))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "%s: the broker still holds the connection after %v", what, wait)
		return
	}
}

// TestConnectDeadline: on both listeners, a connection that does not
// complete the TLS handshake and its CONNECT within ConnectTimeout is
// closed by the broker and counted; a door that connected in time is not
// affected by the deadline afterwards.
func TestConnectDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	secret, cert := startBothBroker(t, func(c *Config) { c.ConnectTimeout = timeout })
	for _, tg := range []*target{secret, cert} {
		t.Run(tg.name, func(t *testing.T) {
			door := tg.door(t, "door-a")

			idle := make([]net.Conn, 3)
			for i := range idle {
				c, err := net.Dial("tcp", tg.addr)
				require.NoError(t, err)
				defer c.Close()
				idle[i] = c
			}
			partial, err := net.Dial("tcp", tg.addr)
			require.NoError(t, err)
			defer partial.Close()
			if tg.scheme == "ssl" {
				// The TLS handshake completes, with a door's certificate,
				// but no CONNECT follows.
				tcfg := tg.tlsFor("door-a")
				tcfg.ServerName = "127.0.0.1"
				tc := tls.Client(partial, tcfg)
				require.NoError(t, tc.Handshake())
				partial = tc
			} else {
				// The first byte of a CONNECT, then nothing.
				_, err = partial.Write([]byte{0x10})
				require.NoError(t, err)
			}

			for i, c := range idle {
				requireClosedByBroker(t, c, "idle connection "+string(rune('0'+i)))
			}
			requireClosedByBroker(t, partial, "connection with an unfinished CONNECT")
			assert.Equal(t, uint64(4), tg.counter(t, "swc_broker_connect_timeouts_total", "listener", tg.listenerID()))

			// The door connected before the idle ones were closed, and
			// more than ConnectTimeout ago: it is still connected.
			require.True(t, door.IsConnectionOpen())
			door.publish(t, tp.Door("door-a", "status"), []byte("online"), false)
			select {
			case err := <-door.lost:
				t.Fatalf("the door lost its connection: %v", err)
			default:
			}
			assert.Zero(t, tg.counter(t, "swc_broker_connecting", "listener", tg.listenerID()), "no connection is left waiting for CONNECT")
		})
	}
}

// exhaustFDs lowers the test process's soft open-file limit to what it has
// open now plus a few, then opens connections to addr until none can be
// opened, so that the broker (in this process) cannot accept the last one:
// its accept fails with EMFILE. release closes them and restores the limit.
// The broker's ConnectTimeout must be longer than the test, so that it does
// not free descriptors on its own. The limit is the whole test process's:
// tests that use it must not run in parallel with others (none in this
// package do).
func exhaustFDs(t *testing.T, addr string) (release func()) {
	t.Helper()
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old))
	open, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var conns []net.Conn
	var spares []*os.File
	restored := false
	release = func() {
		if restored {
			return
		}
		restored = true
		for _, c := range conns {
			_ = c.Close()
		}
		for _, f := range spares {
			_ = f.Close()
		}
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old))
	}
	t.Cleanup(release)
	for range 2 {
		f, err := os.Open(os.DevNull)
		require.NoError(t, err)
		spares = append(spares, f)
	}
	lim := old
	lim.Cur = uint64(len(open)) + 40
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	dial := func() bool {
		c, err := net.DialTimeout("tcp", addr, wait)
		if err != nil {
			require.ErrorIs(t, err, syscall.EMFILE, "dialing until no descriptor is left")
			return false
		}
		conns = append(conns, c)
		return true
	}
	for i := 0; dial(); i++ {
		require.Less(t, i, 1000, "the open-file limit did not apply")
	}
	// Every descriptor is taken. Free one and dial: the client's socket
	// takes it, and the broker cannot accept the connection. (The broker
	// may win the descriptor for a connection it failed to accept before:
	// then the second spare does it.)
	for _, f := range spares {
		require.NoError(t, f.Close())
		if dial() {
			break
		}
	}
	spares = nil
	return release
}

// acceptErrors is the value of the accept-errors counter of tg's listener.
func (tg *target) acceptErrors(t *testing.T) uint64 {
	return tg.counter(t, "swc_broker_accept_errors_total", "listener", tg.listenerID())
}

// TestListenerSurvivesAcceptErrors: when the process runs out of file
// descriptors, each listener's accept fails; it counts the error, backs
// off and accepts again once descriptors are free, so that a door connects
// afterwards.
func TestListenerSurvivesAcceptErrors(t *testing.T) {
	secret, cert := startBothBroker(t, func(c *Config) { c.ConnectTimeout = MaxConnectTimeout })
	for _, tg := range []*target{secret, cert} {
		t.Run(tg.name, func(t *testing.T) {
			release := exhaustFDs(t, tg.addr)
			assert.Eventually(t, func() bool { return tg.acceptErrors(t) > 0 }, wait, 10*time.Millisecond,
				"the broker's accept failed (EMFILE) and was counted")
			release()
			tg.door(t, "door-b", func(o *paho.ClientOptions) { o.SetConnectTimeout(wait) })
		})
	}
}

// TestReadyFailsWhileListenerCannotAccept: Ready reports a listener whose
// accept fails, and recovers when it accepts again; a closed broker is not
// ready.
func TestReadyFailsWhileListenerCannotAccept(t *testing.T) {
	secret, cert := startBothBroker(t, func(c *Config) { c.ConnectTimeout = MaxConnectTimeout })
	require.NoError(t, secret.broker.Ready())
	for _, tg := range []*target{secret, cert} {
		t.Run(tg.name, func(t *testing.T) {
			release := exhaustFDs(t, tg.addr)
			var err error
			require.Eventually(t, func() bool { err = tg.broker.Ready(); return err != nil }, wait, 10*time.Millisecond,
				"not ready while the listener cannot accept")
			assert.Contains(t, err.Error(), tg.listenerID()+" ")
			assert.True(t, strings.Contains(err.Error(), "too many open files"), err.Error())
			release()
			require.Eventually(t, func() bool { err = tg.broker.Ready(); return err == nil }, wait, 10*time.Millisecond,
				"ready again once the listener accepts: %v", err)
		})
	}
	require.NoError(t, secret.broker.Close())
	assert.Error(t, secret.broker.Ready(), "a closed broker is not ready")
}

// TestCloseEndsConnectionsWithoutConnect: closing the broker closes the
// connections that have not sent CONNECT (mochi's Close waits for every
// connection it was handed, and closes only its clients), on both
// listeners, long before their connect deadline.
func TestCloseEndsConnectionsWithoutConnect(t *testing.T) {
	secret, cert := startBothBroker(t, func(c *Config) { c.ConnectTimeout = MaxConnectTimeout })
	var idle []net.Conn
	for _, tg := range []*target{secret, cert} {
		c, err := net.Dial("tcp", tg.addr)
		require.NoError(t, err)
		defer c.Close()
		idle = append(idle, c)
		require.Eventually(t, func() bool { return tg.counter(t, "swc_broker_connecting", "listener", tg.listenerID()) == 1 },
			wait, 10*time.Millisecond, "the broker accepted the connection")
	}
	closed := make(chan error, 1)
	go func() { closed <- secret.broker.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(wait):
		t.Fatalf("Close still waits for connections without CONNECT after %v", wait)
	}
	for _, c := range idle {
		requireClosedByBroker(t, c, "a connection without CONNECT")
	}
	assert.Zero(t, secret.counter(t, "swc_broker_connect_timeouts_total", "listener", listenerSecret), "closed by Close, not by the deadline")
}

// TestMaxConnecting: on both listeners, beyond MaxConnecting connections
// without CONNECT a new connection is closed at once and counted, so idle
// clients cannot take every file descriptor of the process; once one of
// them goes, a door connects.
func TestMaxConnecting(t *testing.T) {
	secret, cert := startBothBroker(t, func(c *Config) { c.ConnectTimeout, c.MaxConnecting = MaxConnectTimeout, 3 })
	for _, tg := range []*target{secret, cert} {
		t.Run(tg.name, func(t *testing.T) {
			var idle []net.Conn
			for range 3 {
				c, err := net.Dial("tcp", tg.addr)
				require.NoError(t, err)
				defer c.Close()
				idle = append(idle, c)
			}
			require.Eventually(t, func() bool { return tg.counter(t, "swc_broker_connecting", "listener", tg.listenerID()) == 3 },
				wait, 10*time.Millisecond, "the broker accepted the idle connections")
			extra, err := net.Dial("tcp", tg.addr)
			require.NoError(t, err)
			defer extra.Close()
			requireClosedByBroker(t, extra, "a connection over MaxConnecting")
			assert.Equal(t, uint64(1), tg.counter(t, "swc_broker_connects_shed_total", "listener", tg.listenerID()))
			assert.Equal(t, uint64(3), tg.counter(t, "swc_broker_connecting", "listener", tg.listenerID()), "the first ones are kept")

			require.NoError(t, idle[0].Close())
			require.Eventually(t, func() bool { return tg.counter(t, "swc_broker_connecting", "listener", tg.listenerID()) == 2 },
				wait, 10*time.Millisecond, "the broker saw the idle connection go")
			tg.door(t, "door-a")
		})
	}
}
