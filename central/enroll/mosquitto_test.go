package enroll

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// startShippedMosquitto starts Mosquitto with scripts/mosquitto/swc.conf and
// swc.acl as shipped; only the install paths and the port are moved into the
// test's folder.
//
// service receives the central's own client certificate, written with the
// broker's.
func startShippedMosquitto(t *testing.T, ca *CA, service *tls.Certificate) *servicetest.Mosquitto {
	t.Helper()
	conf, err := os.ReadFile(filepath.Join("..", "..", "scripts", "mosquitto", "swc.conf"))
	require.NoError(t, err)
	acl, err := os.ReadFile(filepath.Join("..", "..", "scripts", "mosquitto", "swc.acl"))
	require.NoError(t, err)

	moved := strings.NewReplacer(
		"listener 8883", "listener {{port}} 127.0.0.1",
		"/etc/mosquitto/swc.acl", "{{dir}}/swc.acl",
		"/etc/mosquitto/swc/", "{{dir}}/",
		"persistence_location /var/lib/mosquitto/", "persistence_location {{dir}}/",
	).Replace(string(conf))
	require.Contains(t, moved, "{{port}}", "the shipped config changed its listener line")

	// The files the config points at must be in the broker's folder before it
	// starts, so start it from a config written after the folder is known.
	// They are what `swc-central broker-cert` writes (WriteBrokerFiles).
	var m *servicetest.Mosquitto
	files := func(dir string) {
		f, err := ca.WriteBrokerFiles(dir, []string{"127.0.0.1", "localhost"}, "swc-central", time.Now())
		require.NoError(t, err)
		svc, err := tls.LoadX509KeyPair(f.ServiceCert, f.ServiceKey)
		require.NoError(t, err)
		*service = svc
		require.NoError(t, os.WriteFile(filepath.Join(dir, "swc.acl"), acl, 0o600))
	}
	m = servicetest.StartMosquittoConfigWith(t, moved, files)
	return m
}

type client struct {
	c   mqtt.Client
	mu  sync.Mutex
	got map[string][]string
}

func connect(t *testing.T, m *servicetest.Mosquitto, ca *CA, cert tls.Certificate, id string) (*client, error) {
	t.Helper()
	tc := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert.Certificate != nil {
		tc.Certificates = []tls.Certificate{cert}
	}
	cl := &client{got: map[string][]string{}}
	opts := mqtt.NewClientOptions().AddBroker("ssl://" + m.Addr).SetClientID(id).SetTLSConfig(tc).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetOrderMatters(false)
	opts.SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) { cl.record(msg) })
	cl.c = mqtt.NewClient(opts)
	tok := cl.c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { cl.c.Disconnect(0) })
	return cl, nil
}

func (c *client) record(msg mqtt.Message) {
	c.mu.Lock()
	c.got[msg.Topic()] = append(c.got[msg.Topic()], string(msg.Payload()))
	c.mu.Unlock()
}

func (c *client) received(topic string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got[topic]...)
}

// subscribe returns the granted QoS (0x80 is a refusal).
func (c *client) subscribe(t *testing.T, filter string) byte {
	t.Helper()
	tok := c.c.Subscribe(filter, 1, func(_ mqtt.Client, msg mqtt.Message) { c.record(msg) })
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	key := filter
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		_, key, _ = strings.Cut(rest, "/") // paho keys shared subscriptions without the prefix
	}
	return tok.(*mqtt.SubscribeToken).Result()[key]
}

func (c *client) publish(t *testing.T, topic, payload string) {
	t.Helper()
	tok := c.c.Publish(topic, 1, false, payload)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
}

func doorCert(t *testing.T, ca *CA, door string) tls.Certificate {
	t.Helper()
	key, err := NewKey()
	require.NoError(t, err)
	csr, err := NewCSR(key, door)
	require.NoError(t, err)
	certPEM, err := ca.SignDoorCSR(csr, door, DoorValidity, time.Now())
	require.NoError(t, err)
	kp, err := KeyPair(certPEM, key)
	require.NoError(t, err)
	return kp
}

func TestShippedMosquittoConfig(t *testing.T) {
	ca, _, err := NewCA("swc test CA", time.Now())
	require.NoError(t, err)
	var svcCert tls.Certificate
	m := startShippedMosquitto(t, ca, &svcCert)
	tp := protocol.DefaultTopics()

	central, err := connect(t, m, ca, svcCert, "central-1")
	require.NoError(t, err, "the central's service certificate connects")
	require.Equal(t, byte(1), central.subscribe(t, protocol.Shared("ingest", tp.All(protocol.TopicEvents))))

	a, err := connect(t, m, ca, doorCert(t, ca, "door-a"), "door-a")
	require.NoError(t, err, "a door with a certificate from the central CA connects")
	b, err := connect(t, m, ca, doorCert(t, ca, "door-b"), "door-b")
	require.NoError(t, err)

	// Door A may use its own topics.
	assert.Equal(t, byte(1), a.subscribe(t, tp.Door("door-a", protocol.TopicAck)))
	a.publish(t, tp.Door("door-a", protocol.TopicEvents), "from-a")
	require.Eventually(t, func() bool { return len(central.received(tp.Door("door-a", protocol.TopicEvents))) == 1 }, 5*time.Second, 10*time.Millisecond)
	central.publish(t, tp.Door("door-a", protocol.TopicAck), "ack-a")
	require.Eventually(t, func() bool { return len(a.received(tp.Door("door-a", protocol.TopicAck))) == 1 }, 5*time.Second, 10*time.Millisecond)

	// The central's user has only the other side of the door rules: it
	// cannot publish as a door (its own shared subscription would get the
	// forged event) nor use a topic outside the door layout.
	central.publish(t, tp.Door("door-a", protocol.TopicEvents), "forged-by-central")
	central.publish(t, tp.Door("door-a", protocol.TopicStatus), "forged-status-by-central")
	require.Equal(t, byte(1), central.subscribe(t, tp.All(protocol.TopicStatus)))
	// Nor read what it writes (Mosquitto 2.0 may grant the subscription and
	// deliver nothing).
	assert.Contains(t, []byte{0x80, 1}, central.subscribe(t, tp.All(protocol.TopicAck)))
	central.publish(t, tp.Door("door-a", protocol.TopicAck), "ack-a-2")
	require.Eventually(t, func() bool { return len(a.received(tp.Door("door-a", protocol.TopicAck))) == 2 }, 5*time.Second, 10*time.Millisecond)

	// Door A cannot read door B's topics: Mosquitto 2.0 grants the
	// subscription (or refuses it with 0x80) and never delivers B's messages.
	for _, f := range []string{tp.Door("door-b", protocol.TopicAck), tp.All(protocol.TopicWhitelist), "swc/v1/#", "#"} {
		granted := a.subscribe(t, f)
		assert.Contains(t, []byte{0x80, 1}, granted, "door-a subscribing to %s", f)
	}
	// Nor can it publish as door B: B's real event arrives, the forged one never does.
	a.publish(t, tp.Door("door-b", protocol.TopicEvents), "forged-by-a")
	a.publish(t, tp.Door("door-b", protocol.TopicAck), "forged-ack-by-a")
	b.publish(t, tp.Door("door-b", protocol.TopicEvents), "from-b")
	require.Eventually(t, func() bool { return len(central.received(tp.Door("door-b", protocol.TopicEvents))) >= 1 }, 5*time.Second, 10*time.Millisecond)
	central.publish(t, tp.Door("door-b", protocol.TopicAck), "ack-b")
	central.publish(t, tp.Door("door-b", protocol.TopicWhitelist), "whitelist-b")
	central.publish(t, tp.Door("door-a", protocol.TopicWhitelist), "whitelist-a")
	require.Eventually(t, func() bool { return len(a.received(tp.Door("door-a", protocol.TopicWhitelist))) >= 1 }, 5*time.Second, 10*time.Millisecond,
		"door-a's own whitelist reaches it through its wildcard subscription")
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, []string{"from-b"}, central.received(tp.Door("door-b", protocol.TopicEvents)))
	assert.Equal(t, []string{"from-a"}, central.received(tp.Door("door-a", protocol.TopicEvents)), "the central published as door-a")
	assert.Empty(t, central.received(tp.Door("door-a", protocol.TopicStatus)), "the central published door-a's status")
	assert.Empty(t, central.received(tp.Door("door-a", protocol.TopicAck)), "the central read door-a's acks")
	a.mu.Lock()
	for topic := range a.got {
		assert.NotContains(t, topic, "door-b", "door-a received a message of door-b")
	}
	a.mu.Unlock()

	// Certificate renewal topics: a door renews its own certificate only.
	require.Equal(t, byte(1), central.subscribe(t, protocol.Shared("renew", tp.All(protocol.TopicRenew))))
	assert.Equal(t, byte(1), a.subscribe(t, tp.Door("door-a", protocol.TopicCert)))
	assert.Contains(t, []byte{0x80, 1}, a.subscribe(t, tp.Door("door-b", protocol.TopicCert)))
	a.publish(t, tp.Door("door-b", protocol.TopicRenew), "forged-renew-by-a")
	a.publish(t, tp.Door("door-a", protocol.TopicRenew), "renew-a")
	require.Eventually(t, func() bool { return len(central.received(tp.Door("door-a", protocol.TopicRenew))) == 1 }, 5*time.Second, 10*time.Millisecond)
	central.publish(t, tp.Door("door-b", protocol.TopicCert), "cert-b")
	central.publish(t, tp.Door("door-a", protocol.TopicCert), "cert-a")
	require.Eventually(t, func() bool { return len(a.received(tp.Door("door-a", protocol.TopicCert))) >= 1 }, 5*time.Second, 10*time.Millisecond,
		"door-a gets its own certificate reply (once per matching subscription)")
	time.Sleep(200 * time.Millisecond)
	assert.Empty(t, central.received(tp.Door("door-b", protocol.TopicRenew)), "door-a renewed door-b's certificate")
	assert.Empty(t, a.received(tp.Door("door-b", protocol.TopicCert)), "door-a read door-b's certificate")

	// An unknown certificate (another CA) and no certificate are refused.
	rogue, _, err := NewCA("rogue", time.Now())
	require.NoError(t, err)
	_, err = connect(t, m, ca, doorCert(t, rogue, "door-a"), "door-a-rogue")
	assert.Error(t, err, "a certificate from another CA connected")
	_, err = connect(t, m, ca, tls.Certificate{}, "anonymous")
	assert.Error(t, err, "a client without a certificate connected")
	assert.Contains(t, m.Log(), "certificate", "mosquitto logged the refusal")
}

func certKey(t *testing.T, c tls.Certificate) string {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	require.NoError(t, err)
	fp, err := KeyFingerprint(leaf.PublicKey)
	require.NoError(t, err)
	return fp
}

func certPEM(c tls.Certificate) []byte { return pemBlock("CERTIFICATE", c.Certificate[0]) }

// replica is one central of a test: its store and its revocation list.
type replica struct {
	st  store.Store
	rev *Revocations
}

func newReplica(t *testing.T, ca *CA, st store.Store) replica {
	t.Helper()
	rev, err := NewRevocations(RevocationsConfig{CA: ca, Dir: t.TempDir(), Certs: st.DoorCerts()})
	require.NoError(t, err)
	return replica{st: st, rev: rev}
}

// enroll issues door a certificate through the replica as an enrollment
// does: the certificate recorded, then the door's token redeemed with its
// key.
func (r replica) enroll(t *testing.T, ca *CA, door string) tls.Certificate {
	t.Helper()
	ctx := context.Background()
	c := doorCert(t, ca, door)
	require.NoError(t, r.rev.Issued(ctx, certPEM(c), false))
	secret := store.NewSecret(TokenPrefix)
	now := time.Now().UnixMilli()
	require.NoError(t, r.st.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "enr-" + randomID(), Door: door, CreatedBy: "test", CreatedMs: now - 1000, ExpiresMs: now + 60_000}, secret))
	_, err := r.st.RedeemEnrollment(ctx, secret, store.DoorKey{KeySHA256: certKey(t, c), EnrolledMs: now})
	require.NoError(t, err)
	return c
}

// seedDoors creates a center and the doors in st.
func seedDoors(t *testing.T, st store.Store, doors ...string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "C1", TimeZone: "Europe/Brussels"}))
	for _, d := range doors {
		require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: d, CenterID: "c1", Name: d}))
	}
}

// TestMosquittoRevocation runs the shipped configuration with the CRL the
// central writes: after a door is enrolled again and another removed, and
// the documented reload (the CRL copied to crlfile, then SIGHUP, which
// swc-central-crl.service does with systemctl reload), the re-enrolled
// door's old certificate and the removed door's certificate are refused, as
// on the embedded broker; the new certificate and the central's own still
// connect.
func TestMosquittoRevocation(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	mosquittoRevocation(t, st, st)
}

// TestMosquittoRevocationReplicas: two centrals on one PostgreSQL; door-a
// enrolled through A, enrolled again and door-b removed through B: the
// CRL replica A writes refuses the old certificates at Mosquitto.
func TestMosquittoRevocationReplicas(t *testing.T) {
	db := storetest.PostgresSchema(t)
	open := func() store.Store {
		st, err := postgres.Open(context.Background(), db, store.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	mosquittoRevocation(t, open(), open())
}

// mosquittoRevocation: the doors are first enrolled through stA, enrolled
// again and removed through stB, and Mosquitto gets replica A's CRL.
func mosquittoRevocation(t *testing.T, stA, stB store.Store) {
	ca, _, err := NewCA("swc test CA", time.Now())
	require.NoError(t, err)
	var svcCert tls.Certificate
	m := startShippedMosquitto(t, ca, &svcCert)
	seedDoors(t, stA, "door-a", "door-b")
	a, b := newReplica(t, ca, stA), newReplica(t, ca, stB)

	oldA, doorB := a.enroll(t, ca, "door-a"), a.enroll(t, ca, "door-b")
	written, err := a.rev.Refresh(context.Background())
	require.NoError(t, err)
	assert.True(t, written, "the first refresh writes the CRL")
	install := func(restart bool) {
		b, err := os.ReadFile(a.rev.Path())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(m.Dir, CRLFile), b, 0o644))
		if restart {
			m.Stop()
			m.Start()
			return
		}
		m.Reload()
		time.Sleep(300 * time.Millisecond) // the signal is handled in Mosquitto's loop
	}
	install(true)
	for name, c := range map[string]tls.Certificate{"door-a": oldA, "door-b": doorB, "swc-central": svcCert} {
		_, err := connect(t, m, ca, c, name)
		require.NoError(t, err, "%s before any revocation", name)
	}

	// A connection made before the revocation, under another client id
	// than the door's (as a thief's copy would be).
	thief, err := connect(t, m, ca, oldA, "door-a-copy")
	require.NoError(t, err)

	newA := b.enroll(t, ca, "door-a") // enrolled again with a new key, through B
	require.NoError(t, stB.DeleteDoor(context.Background(), "door-b"))
	written, err = a.rev.Refresh(context.Background())
	require.NoError(t, err)
	require.True(t, written)

	// Mosquitto reads crlfile when it starts and on SIGHUP only.
	require.NoError(t, os.WriteFile(filepath.Join(m.Dir, CRLFile), []byte("not yet reloaded"), 0o644))
	_, err = connect(t, m, ca, oldA, "door-a-before-reload")
	assert.NoError(t, err, "before the reload Mosquitto still holds the CRL it read")

	install(false) // the documented reload: copy, then SIGHUP (systemctl reload mosquitto)
	_, err = connect(t, m, ca, oldA, "door-a-old")
	assert.Error(t, err, "the re-enrolled door's old certificate is refused")
	_, err = connect(t, m, ca, doorB, "door-b")
	assert.Error(t, err, "the removed door's certificate is refused")
	_, err = connect(t, m, ca, newA, "door-a")
	assert.NoError(t, err, "the re-enrolled door's new certificate connects")
	_, err = connect(t, m, ca, svcCert, "swc-central-1")
	assert.NoError(t, err, "the central's own certificate connects")
	time.Sleep(500 * time.Millisecond)
	// What the documentation says: a reload refuses new connections of a
	// revoked certificate but leaves open the ones it has; a restart
	// closes them.
	assert.True(t, thief.c.IsConnectionOpen(), "Mosquitto closed a connection of a revoked certificate on SIGHUP: simplify the documentation")
	install(true)
	assert.Eventually(t, func() bool { return !thief.c.IsConnectionOpen() }, 5*time.Second, 10*time.Millisecond)
	_, err = connect(t, m, ca, oldA, "door-a-copy")
	assert.Error(t, err, "after a restart too")
	if t.Failed() {
		t.Log(m.Log())
	}
}

// TestShippedMosquittoConfigOptions: the shipped configuration uses no
// option that Mosquitto 2.0's mosquitto.conf(5) calls deprecated, nor
// per_listener_settings (deprecated in 2.1), and names the CRL.
func TestShippedMosquittoConfigOptions(t *testing.T) {
	conf, err := os.ReadFile(filepath.Join("..", "..", "scripts", "mosquitto", "swc.conf"))
	require.NoError(t, err)
	deprecated := map[string]string{
		"allow_duplicate_messages": "2.0", "clientid_prefixes": "2.0", "bind_address": "2.0", "port": "2.0",
		"per_listener_settings": "2.1", "auth_plugin": "2.1 (plugin)",
	}
	options := map[string]string{}
	for _, line := range strings.Split(string(conf), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if v, ok := deprecated[f[0]]; ok {
			t.Errorf("%s is deprecated since Mosquitto %s", f[0], v)
		}
		assert.False(t, strings.HasPrefix(f[0], "auth_opt_"), "%s: deprecated since Mosquitto 2.1 (plugin_opt_)", f[0])
		options[f[0]] = strings.Join(f[1:], " ")
	}
	assert.Equal(t, "/etc/mosquitto/swc/crl.pem", options["crlfile"])
	assert.Equal(t, "true", options["require_certificate"])
	assert.Equal(t, "false", options["allow_anonymous"])
}

// TestMosquittoManualRevocation: a door whose certificates are revoked by
// hand (Revocations.RevokeDoor, what `swc-central door-cert revoke` runs)
// can no longer connect to the shipped Mosquitto once it reloads the CRL
// (copy, then SIGHUP); another door still connects.
func TestMosquittoManualRevocation(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	ca, _, err := NewCA("swc test CA", time.Now())
	require.NoError(t, err)
	var svcCert tls.Certificate
	m := startShippedMosquitto(t, ca, &svcCert)
	seedDoors(t, st, "door-a", "door-b")
	r := newReplica(t, ca, st)
	a, b := r.enroll(t, ca, "door-a"), r.enroll(t, ca, "door-b")
	install := func() {
		_, err := r.rev.Refresh(context.Background())
		require.NoError(t, err)
		crl, err := os.ReadFile(r.rev.Path())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(m.Dir, CRLFile), crl, 0o644))
		m.Reload()
		time.Sleep(300 * time.Millisecond) // the signal is handled in Mosquitto's loop
	}
	install()
	for name, c := range map[string]tls.Certificate{"door-a": a, "door-b": b} {
		_, err := connect(t, m, ca, c, name)
		require.NoError(t, err, "%s before the revocation", name)
	}

	got, err := r.rev.RevokeDoor(context.Background(), "door-a")
	require.NoError(t, err)
	require.Len(t, got, 1)
	install()
	_, err = connect(t, m, ca, a, "door-a-revoked")
	assert.Error(t, err, "the revoked door connected")
	_, err = connect(t, m, ca, b, "door-b-again")
	assert.NoError(t, err, "another door still connects")
	if t.Failed() {
		t.Log(m.Log())
	}
}
