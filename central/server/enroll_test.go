package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// tlsCentral is serve with HTTPS and only the certificate listener.
type tlsCentral struct {
	t      *testing.T
	dir    string // the data folder
	s      *server.Server
	token  string
	client *http.Client
}

func startTLS(t *testing.T) *tlsCentral {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", MQTTSAddr: "127.0.0.1:0",
		HTTPS: true, Hosts: []string{"127.0.0.1"}, Out: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	caPEM, err := os.ReadFile(filepath.Join(dir, enroll.CACertFile))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM), "the CA is in the data folder")
	return &tlsCentral{t: t, dir: dir, s: s, token: strings.TrimSpace(string(raw)),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

func (c *tlsCentral) call(token, method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "https://"+c.s.HTTPAddr()+path, rd)
	require.NoError(c.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.client.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res.StatusCode, b
}

func (c *tlsCentral) must(method, path string, body any) []byte {
	c.t.Helper()
	code, b := c.call(c.token, method, path, body)
	require.Less(c.t, code, 300, "%s %s: %s", method, path, b)
	return b
}

// enrollDoor creates a token through the API and enrolls a new key with
// it, as swc-edge provision does.
func (c *tlsCentral) enrollDoor(door string) (*protocol.Enrollment, []byte, enroll.Token) {
	c.t.Helper()
	var tok enroll.Token
	require.NoError(c.t, json.Unmarshal(c.must("POST", "/api/v1/doors/"+door+"/enrollments", nil), &tok))
	key, err := enroll.NewKey()
	require.NoError(c.t, err)
	csr, err := enroll.NewCSR(key, "")
	require.NoError(c.t, err)
	code, b := c.call("", "POST", "/api/v1/enroll", protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: string(csr)})
	require.Equal(c.t, http.StatusOK, code, "%s", b)
	e, err := protocol.DecodeEnrollment(b)
	require.NoError(c.t, err)
	return e, key, tok
}

// certDoor is a paho client of a door presenting its certificate.
type certDoor struct {
	id   string
	c    mqtt.Client
	lost chan error
	mu   sync.Mutex
	got  map[string][][]byte
}

func dialCertDoor(t *testing.T, e *protocol.Enrollment, certPEM string, key []byte) (*certDoor, error) {
	t.Helper()
	kp, err := enroll.KeyPair([]byte(certPEM), key)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM([]byte(e.CA)))
	d := &certDoor{id: e.Door, got: map[string][][]byte{}, lost: make(chan error, 1)}
	opts := mqtt.NewClientOptions().AddBroker(strings.Replace(e.Broker, "mqtts://", "ssl://", 1)).SetClientID(e.Door).
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { d.lost <- err })
	d.c = mqtt.NewClient(opts)
	tok := d.c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, context.DeadlineExceeded
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { d.c.Disconnect(0) })
	for _, topic := range protocol.DefaultTopics().DoorTopics(e.Door) {
		tok := d.c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
			d.mu.Lock()
			d.got[m.Topic()] = append(d.got[m.Topic()], m.Payload())
			d.mu.Unlock()
		})
		require.True(t, tok.WaitTimeout(5*time.Second))
		require.NoError(t, tok.Error())
		require.Equal(t, byte(1), tok.(*mqtt.SubscribeToken).Result()[topic], "door may subscribe to %s", topic)
	}
	return d, nil
}

func (d *certDoor) publish(t *testing.T, topic string, v any) {
	t.Helper()
	b, err := protocol.Encode(v)
	require.NoError(t, err)
	tok := d.c.Publish(topic, 1, false, b)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
}

func (d *certDoor) received(kind string) [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.got[protocol.DefaultTopics().Door(d.id, kind)]...)
}

// TestEnrollOverTLS: the API over HTTPS gives a token, the door enrolls,
// connects with its certificate only, its events are acknowledged, it
// renews its certificate over the connection, and door A's certificate
// gets nowhere near door B's topics.
func TestEnrollOverTLS(t *testing.T) {
	c := startTLS(t)
	tp := protocol.DefaultTopics()
	require.Empty(t, c.s.Broker.Addr(), "no per-door secret listener unless asked for")
	c.must("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	for _, d := range []string{"door-a", "door-b"} {
		c.must("POST", "/api/v1/doors", map[string]any{"id": d, "center_id": "c1", "name": d})
	}

	ea, keyA, tokA := c.enrollDoor("door-a")
	assert.Contains(t, tokA.Provision, "--ca-fingerprint "+c.s.CA.Fingerprint(), "over HTTPS the command pins the CA")
	assert.Contains(t, tokA.Provision, "--central https://"+c.s.HTTPAddr())
	assert.Equal(t, "mqtts://127.0.0.1:"+strings.Split(c.s.Broker.CertAddr(), ":")[1], ea.Broker)
	assert.Equal(t, []string{protocol.FormatPublicKey(c.s.Signer.PublicKey())}, ea.SigningKeys)
	assert.Equal(t, uint64(1), ea.NextSeq)

	// The token is spent.
	key2, err := enroll.NewKey()
	require.NoError(t, err)
	csr2, err := enroll.NewCSR(key2, "")
	require.NoError(t, err)
	code, b := c.call("", "POST", "/api/v1/enroll", protocol.EnrollRequest{V: 1, Token: tokA.Secret, CSR: string(csr2)})
	require.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, string(b), `"code":"token_used"`)

	a, err := dialCertDoor(t, ea, ea.Certificate, keyA)
	require.NoError(t, err, "door-a connects with its certificate")
	now := time.Now().UnixMilli()
	batch := &protocol.EventBatch{V: 1, Door: "door-a", Events: []protocol.Event{
		{Seq: 1, TimeMs: now, Trusted: true, Boot: "b1", Kind: protocol.EventDoorClosed}}}
	// As a door does, the batch is sent again until it is acknowledged: the
	// central's ingest may still be subscribing when the door comes.
	require.Eventually(t, func() bool {
		if len(a.received(protocol.TopicAck)) >= 1 {
			return true
		}
		a.publish(t, tp.Door("door-a", protocol.TopicEvents), batch)
		return false
	}, 30*time.Second, 500*time.Millisecond)

	// Renewal over the connection, with the door's own key.
	renewCSR, err := enroll.NewCSR(keyA, "door-a")
	require.NoError(t, err)
	a.publish(t, tp.Door("door-a", protocol.TopicRenew), &protocol.CertRequest{V: 1, Door: "door-a", CSR: string(renewCSR)})
	require.Eventually(t, func() bool { return len(a.received(protocol.TopicCert)) >= 1 }, 10*time.Second, 10*time.Millisecond)
	reply, err := protocol.DecodeCertReply(a.received(protocol.TopicCert)[0])
	require.NoError(t, err)
	require.Empty(t, reply.Error)
	_, err = enroll.KeyPair([]byte(reply.Certificate), keyA)
	require.NoError(t, err, "the renewed certificate carries the door's key")
	a2, err := dialCertDoor(t, ea, reply.Certificate, keyA)
	require.NoError(t, err, "the renewed certificate connects")
	a2.c.Disconnect(0)

	// Door B enrolls; door A's certificate publishing on door B's topic is
	// refused (the broker closes A's connection) and nothing is stored.
	eb, keyB, _ := c.enrollDoor("door-b")
	bDoor, err := dialCertDoor(t, eb, eb.Certificate, keyB)
	require.NoError(t, err)
	a, err = dialCertDoor(t, ea, ea.Certificate, keyA)
	require.NoError(t, err)
	forged, err := protocol.Encode(&protocol.EventBatch{V: 1, Door: "door-b", Events: []protocol.Event{
		{Seq: 1, TimeMs: now, Trusted: true, Boot: "forged", Kind: protocol.EventRexExit}}})
	require.NoError(t, err)
	a.c.Publish(tp.Door("door-b", protocol.TopicEvents), 1, false, forged).WaitTimeout(5 * time.Second)
	select {
	case <-a.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("door-a's connection survived publishing on door-b's topic")
	}
	time.Sleep(200 * time.Millisecond)
	assert.Empty(t, bDoor.received(protocol.TopicAck), "no ack for door-b: nothing of door-a's reached the ingest")
	code, b = c.call(c.token, "GET", "/api/v1/events?door=door-b", nil)
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"items":[]}`, string(b))

	// Enrolling door A again (a new SD card) shuts out the old key at once.
	_, _, _ = c.enrollDoor("door-a")
	_, err = dialCertDoor(t, ea, ea.Certificate, keyA)
	assert.Error(t, err, "the certificate of door-a's previous key")
}
