package broker

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// rawSubscribe connects door-a over a bare socket with a tiny receive buffer,
// subscribes to its whitelist at qos and then never reads again: a door that
// hangs.
func rawSubscribe(t *testing.T, addr string, qos byte, keepalive uint16) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4096))
	var buf bytes.Buffer
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: keepalive, ClientIdentifier: "door-a",
			UsernameFlag: true, Username: []byte("door-a"), PasswordFlag: true, Password: []byte(testDoors["door-a"])}}
	require.NoError(t, connect.ConnectEncode(&buf))
	sub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: tp.Door("door-a", protocol.TopicWhitelist), Qos: qos}}}
	require.NoError(t, sub.SubscribeEncode(&buf))
	_, err = conn.Write(buf.Bytes())
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(wait)))
	acks := make([]byte, 4+5) // CONNACK, SUBACK with one code
	_, err = io.ReadFull(conn, acks)
	require.NoError(t, err)
	require.Equal(t, []byte{0x20, 2, 0, 0}, acks[:4], "CONNACK accepted")
	require.Equal(t, qos, acks[8], "SUBACK granted")
	return conn
}

const floodN, floodSize = 100, 200 << 10 // 20 MB: far more than the socket buffers

// TestWriteQueueFullDropsAreCounted: a subscriber (QoS 0) stops reading; its
// write queue fills; the broker does not wait, it drops the message for that
// subscriber and counts it.
func TestWriteQueueFullDropsAreCounted(t *testing.T) {
	tg := startBroker(t, func(c *Config) { c.MaxWritesPending = 4 })
	rawSubscribe(t, tg.addr, 0, 600)
	svc := tg.service(t, serviceUser)
	payload := bytes.Repeat([]byte("w"), floodSize)
	for range floodN {
		svc.publish(t, tp.Door("door-a", protocol.TopicWhitelist), payload, false)
	}
	// mochi fans a message out after acknowledging it, on the publisher's
	// connection: one more round trip makes sure the last fan-out is done.
	_, in := svc.subscribe(t, tp.Door("door-b", protocol.TopicWhitelist))
	svc.publish(t, tp.Door("door-b", protocol.TopicWhitelist), []byte("after"), false)
	recv(t, in)

	dropped := tg.counter(t, "swc_broker_dropped_total", "reason", "write_queue_full")
	assert.Greater(t, dropped, uint64(0), "a full queue drops")
	assert.Less(t, dropped, uint64(floodN), "the first messages were queued and written")
	assert.Equal(t, uint64(atomic.LoadInt64(&tg.broker.server.Info.MessagesDropped)), dropped, "every drop mochi makes is counted")
}

// TestHungSubscriberHoldsPublisherUntilDeadline documents mochi's behaviour
// with a QoS 1 subscriber that stops reading: the publisher is held (see the
// package documentation) until the hung client's keepalive deadline closes
// it; then publishing goes on and the hung client is gone.
func TestHungSubscriberHoldsPublisherUntilDeadline(t *testing.T) {
	tg := startBroker(t)
	rawSubscribe(t, tg.addr, 1, 2) // keepalive 2 s: mochi's deadline is 3 s of silence
	svc := tg.service(t, serviceUser)
	payload := bytes.Repeat([]byte("w"), floodSize)
	for range floodN {
		svc.publish(t, tp.Door("door-a", protocol.TopicWhitelist), payload, false) // fails after `wait` if held for good
	}
	// Its reader and writer hit the same deadline; wait for the reader to
	// finish removing it.
	require.Eventually(t, func() bool {
		_, present := tg.broker.server.Clients.Get("door-a")
		return !present && atomic.LoadInt64(&tg.broker.server.Info.ClientsConnected) == 1
	}, wait, 10*time.Millisecond, "the hung door was disconnected at its deadline, the central was not")
	assert.True(t, svc.IsConnectionOpen())
}

// TestKeepAliveCapped: a client asking for no keepalive, or a long one, gets
// MaxKeepAlive, so a silent connection is closed.
func TestKeepAliveCapped(t *testing.T) {
	tg := startBroker(t, func(c *Config) { c.MaxKeepAlive = time.Second })
	for _, ka := range []uint16{0, 600} {
		t.Run(strconv.Itoa(int(ka)), func(t *testing.T) {
			conn := rawSubscribe(t, tg.addr, 1, ka)
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(wait)))
			_, err := conn.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "closed by the broker, not timed out here")
		})
	}
}

func TestTLSListener(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "swc-central"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	tg := startBroker(t, func(c *Config) {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	})
	tg.scheme = "ssl"
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	withCA := func(o *paho.ClientOptions) { o.SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}) }

	a := tg.door(t, "door-a", withCA)
	code, _ := a.subscribe(t, tp.Door("door-a", protocol.TopicAck))
	assert.Equal(t, byte(1), code)
	_, err = tg.dial(t, "door-a", "secret-b", "door-a", withCA)
	assert.Error(t, err, "TLS does not replace the secret")
	_, err = tg.dial(t, "door-b", testDoors["door-b"], "door-b") // no CA: the certificate is not trusted
	assert.Error(t, err)
	tg.scheme = "tcp"
	_, err = tg.dial(t, "door-b", testDoors["door-b"], "door-b")
	assert.Error(t, err, "plain MQTT on the TLS listener")
}
