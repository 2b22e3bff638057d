package broker

import (
	"crypto/tls"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// certs issues client certificates from one CA, one per name, as the
// central issues them to doors (SignDoorCSR) and to itself (IssueClient).
type certs struct {
	t  *testing.T
	ca *enroll.CA
	mu sync.Mutex
	by map[string]tls.Certificate
}

func (c *certs) door(name string) tls.Certificate {
	c.t.Helper()
	key, err := enroll.NewKey()
	require.NoError(c.t, err)
	csr, err := enroll.NewCSR(key, "")
	require.NoError(c.t, err)
	certPEM, err := c.ca.SignDoorCSR(csr, name, time.Hour, time.Now())
	require.NoError(c.t, err)
	kp, err := enroll.KeyPair(certPEM, key)
	require.NoError(c.t, err)
	return kp
}

func (c *certs) service(name string) tls.Certificate {
	c.t.Helper()
	certPEM, key, err := c.ca.IssueClient(name, time.Hour, time.Now())
	require.NoError(c.t, err)
	kp, err := enroll.KeyPair(certPEM, key)
	require.NoError(c.t, err)
	return kp
}

// forUser returns the certificate of a client connecting as user: the
// service's for the service user, a door's otherwise (issued once).
func (c *certs) forUser(user string) tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if kp, ok := c.by[user]; ok {
		return kp
	}
	var kp tls.Certificate
	if user == serviceUser {
		kp = c.service(user)
	} else {
		kp = c.door(user)
	}
	c.by[user] = kp
	return kp
}

func (c *certs) config(kp *tls.Certificate) *tls.Config {
	tc := &tls.Config{RootCAs: c.ca.Pool(), MinVersion: tls.VersionTLS12}
	if kp != nil {
		tc.Certificates = []tls.Certificate{*kp}
	}
	return tc
}

// startCertBroker starts the embedded broker with only its certificate
// listener.
func startCertBroker(t *testing.T) (*target, *certs) {
	t.Helper()
	ca, _, err := enroll.NewCA("test CA", time.Now())
	require.NoError(t, err)
	sc, err := ca.ServerCerts([]string{"127.0.0.1"}, nil)
	require.NoError(t, err)
	c := &certs{t: t, ca: ca, by: map[string]tls.Certificate{}}
	reg := metrics.NewRegistry()
	b, err := New(Config{CertAddr: "127.0.0.1:0", CertTLS: sc.TLSConfig(), Certs: ca, ServiceUsername: serviceUser,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: reg})
	require.NoError(t, err)
	require.NoError(t, b.Start(t.Context()))
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	assert.Empty(t, b.Addr(), "no secret listener unless asked for")
	tg := &target{name: "mochi-mtls", addr: b.CertAddr(), scheme: "ssl", reg: reg, broker: b,
		tlsFor: func(user string) *tls.Config { kp := c.forUser(user); return c.config(&kp) }}
	return tg, c
}

// TestDoorIsolationCertificates runs the ACL suite with identities from
// certificates: the subject is the door, and door A's certificate never
// reaches door B's topics.
func TestDoorIsolationCertificates(t *testing.T) {
	tg, _ := startCertBroker(t)
	doorIsolation(t, tg)
	assert.Equal(t, uint64(6), tg.counter(t, "swc_broker_acl_denied_total", "action", "subscribe"))
	assert.Equal(t, uint64(4), tg.counter(t, "swc_broker_acl_denied_total", "action", "publish"))
}

func TestCertListenerRefusals(t *testing.T) {
	tg, c := startCertBroker(t)
	rogue, _, err := enroll.NewCA("rogue", time.Now())
	require.NoError(t, err)
	rc := &certs{t: t, ca: rogue, by: map[string]tls.Certificate{}}
	doorA := c.forUser("door-a")
	reserved := c.door(serviceUser + "-x")
	otherService := c.service("other-service")
	rogueA := rc.door("door-a")

	tests := []struct {
		name, user, id, reason string
		tls                    *tls.Config
	}{
		{"no certificate", "door-a", "door-a", refusedNoCert, c.config(nil)},
		{"certificate of another CA", "door-a", "door-a", refusedCert, &tls.Config{RootCAs: c.ca.Pool(), Certificates: []tls.Certificate{rogueA}}},
		{"user name of another door", "door-b", "door-b", refusedUsername, c.config(&doorA)},
		{"client id of another door", "door-a", "door-b", refusedClientID, c.config(&doorA)},
		{"client id of another door, no user name", "", "door-b", refusedClientID, c.config(&doorA)},
		{"door id in the service's namespace", "", serviceUser + "-x", refusedReservedID, c.config(&reserved)},
		{"service certificate of another service", "", serviceUser, refusedCert, c.config(&otherService)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tg.counter(t, "swc_broker_connects_refused_total", "reason", tc.reason)
			_, err := tg.dial(t, tc.user, "", tc.id, func(o *paho.ClientOptions) { o.SetTLSConfig(tc.tls) })
			require.Error(t, err)
			assert.Eventually(t, func() bool {
				return tg.counter(t, "swc_broker_connects_refused_total", "reason", tc.reason) == before+1
			}, wait, 10*time.Millisecond, "refusal counted as %s", tc.reason)
		})
	}

	// A door's certificate connects without a user name: the subject is
	// the identity, and the ACL applies to it.
	a := tg.mustDial(t, "", "", "door-a", func(o *paho.ClientOptions) { o.SetTLSConfig(c.config(&doorA)) })
	code, _ := a.subscribe(t, tp.Door("door-a", protocol.TopicCert))
	assert.Equal(t, byte(1), code)
	code, _ = a.subscribe(t, tp.Door("door-b", protocol.TopicCert))
	assert.Equal(t, byte(0x80), code)
	// Publishing on door B's renew topic with door A's certificate ends A's
	// connection (QoS 1) and is counted.
	before := tg.counter(t, "swc_broker_acl_denied_total", "action", "publish")
	a.Publish(tp.Door("door-b", protocol.TopicRenew), 1, false, []byte("forged")).WaitTimeout(wait)
	select {
	case err := <-a.lost:
		assert.Error(t, err)
	case <-time.After(wait):
		t.Fatal("the forged publish did not end door-a's connection")
	}
	assert.Equal(t, before+1, tg.counter(t, "swc_broker_acl_denied_total", "action", "publish"))

	// Plain MQTT on the TLS listener gets nowhere.
	tg.scheme = "tcp"
	_, err = tg.dial(t, "door-a", "", "door-a")
	assert.Error(t, err)
}
