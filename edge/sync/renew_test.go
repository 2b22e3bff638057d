package sync_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/enroll"
	"github.com/smartworkcenters/swc/shared/atomicfile"
	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// testCA is the test's certificate authority (the edge does not import the
// central's): it signs the broker's certificate and doors' certificates.
type testCA struct {
	t      *testing.T
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pem    []byte
	serial atomic.Int64
}

func newPKI(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-60 * 24 * time.Hour),
		NotAfter: time.Now().Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	p := &testCA{t: t, cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	p.serial.Store(1)
	return p
}

func (p *testCA) issue(tmpl *x509.Certificate, pub any) ([]byte, *x509.Certificate) {
	p.t.Helper()
	tmpl.SerialNumber = big.NewInt(p.serial.Add(1))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, pub, p.key)
	require.NoError(p.t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(p.t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), c
}

func (p *testCA) client(cn string, pub any, from, to time.Time) ([]byte, *x509.Certificate) {
	return p.issue(&x509.Certificate{Subject: pkix.Name{CommonName: cn, OrganizationalUnit: []string{"door"}}, NotBefore: from, NotAfter: to,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, pub)
}

func (p *testCA) keyPair(certPEM []byte, key *ecdsa.PrivateKey) tls.Certificate {
	block, _ := pem.Decode(certPEM)
	return tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key}
}

// tlsBroker is mochi over mutual TLS on a fixed port: client certificates
// must come from the test CA and not be revoked; it records the serial of
// every certificate it accepted.
type tlsBroker struct {
	t    *testing.T
	ca   *testCA
	addr string
	srv  *mochi.Server

	mu       gosync.Mutex
	revoked  map[string]bool
	accepted []string
}

func startTLSBroker(t *testing.T, p *testCA) *tlsBroker {
	t.Helper()
	b := &tlsBroker{t: t, ca: p, addr: fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t)), revoked: map[string]bool{}}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *tlsBroker) start() {
	b.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b.t, err)
	srvPEM, _ := b.ca.issue(&x509.Certificate{Subject: pkix.Name{CommonName: "broker"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, &key.PublicKey)
	pool := x509.NewCertPool()
	pool.AddCert(b.ca.cert)
	tc := &tls.Config{Certificates: []tls.Certificate{b.ca.keyPair(srvPEM, key)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		MinVersion: tls.VersionTLS12,
		VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
			serial := chains[0][0].SerialNumber.String()
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.revoked[serial] {
				return fmt.Errorf("certificate %s revoked", serial)
			}
			b.accepted = append(b.accepted, serial)
			return nil
		}}
	srv := mochi.New(&mochi.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(b.t, srv.AddHook(new(auth.AllowHook), nil))
	require.NoError(b.t, srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tls", Address: b.addr, TLSConfig: tc})))
	require.NoError(b.t, srv.Serve())
	b.srv = srv
}

func (b *tlsBroker) stop() {
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

func (b *tlsBroker) revoke(serial string) {
	b.mu.Lock()
	b.revoked[serial] = true
	b.mu.Unlock()
}

func (b *tlsBroker) acceptedSerial(serial string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.accepted {
		if s == serial {
			return true
		}
	}
	return false
}

// TestCertificateRenewal: a door whose certificate has less than a third
// of its life left asks for a new one over its connection; a certificate
// for another key is rejected and the current one kept; the right one
// replaces the file, and after the broker restarts the door connects with
// the new certificate (the old one is revoked by then).
func TestCertificateRenewal(t *testing.T) {
	p := newPKI(t)
	b := startTLSBroker(t, p)
	dir := t.TempDir()
	files := enroll.FilesIn(dir)
	key, keyPEM, err := pki.NewKey()
	require.NoError(t, err)
	require.NoError(t, atomicfile.Write(files.Key, keyPEM, 0o600))
	require.NoError(t, os.WriteFile(files.CA, p.pem, 0o644))
	now := time.Now()
	oldPEM, oldCert := p.client("door-a", key.Public(), now.Add(-25*24*time.Hour), now.Add(5*24*time.Hour))
	require.NoError(t, os.WriteFile(files.Cert, oldPEM, 0o644))

	// The central: a service client that answers renewal requests, the
	// first one with a certificate for another key.
	svcKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	svcPEM, _ := p.client("swc-central", &svcKey.PublicKey, now.Add(-time.Hour), now.Add(time.Hour))
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	tp := protocol.DefaultTopics()
	var requests atomic.Int32
	var renewedSerial atomic.Value
	otherKey, _, err := pki.NewKey()
	require.NoError(t, err)
	opts := mqtt.NewClientOptions().AddBroker("ssl://" + b.addr).SetClientID("central").SetCleanSession(true).
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{p.keyPair(svcPEM, svcKey)}, MinVersion: tls.VersionTLS12}).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond)
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		c.Subscribe(tp.Door("door-a", protocol.TopicRenew), 1, func(c mqtt.Client, m mqtt.Message) {
			req, err := protocol.DecodeCertRequest(m.Payload())
			if !assert.NoError(t, err) {
				return
			}
			block, _ := pem.Decode([]byte(req.CSR))
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if !assert.NoError(t, err) || !assert.NoError(t, csr.CheckSignature()) {
				return
			}
			pub := csr.PublicKey
			if requests.Add(1) == 1 {
				pub = otherKey.Public()
			}
			certPEM, cert := p.client("door-a", pub, time.Now().Add(-time.Minute), time.Now().Add(30*24*time.Hour))
			if requests.Load() > 1 {
				renewedSerial.Store(cert.SerialNumber.String())
			}
			reply, err := protocol.Encode(&protocol.CertReply{V: 1, Door: "door-a", Certificate: string(certPEM)})
			if assert.NoError(t, err) {
				c.Publish(tp.Door("door-a", protocol.TopicCert), 1, false, reply)
			}
		})
	})
	central := mqtt.NewClient(opts)
	require.True(t, central.Connect().WaitTimeout(wait))
	t.Cleanup(func() { central.Disconnect(0) })

	d := startDoorIn(t, dir, "ssl://"+b.addr, newSigner(t), fmt.Sprintf("ca_file = %q\ncert_file = %q\nkey_file = %q\nrenew_retry = \"1s\"\n", files.CA, files.Cert, files.Key))
	eventually(t, func() bool { return b.acceptedSerial(oldCert.SerialNumber.String()) }, "the door connects with its current certificate")

	// The wrong certificate is rejected, the request repeated, the right
	// one installed.
	eventually(t, func() bool { return requests.Load() >= 2 }, "the door asks again after a rejected answer")
	eventually(t, func() bool {
		cur, err := os.ReadFile(files.Cert)
		if err != nil {
			return false
		}
		c, err := pki.ParseCertificate(cur)
		return err == nil && c.SerialNumber.String() == renewedSerial.Load()
	}, "the renewed certificate replaces the file")
	cur, err := os.ReadFile(files.Cert)
	require.NoError(t, err)
	_, err = enroll.CheckCertificate(cur, p.pem, "door-a", key.Public(), time.Now())
	require.NoError(t, err, "the file holds a certificate of the door's own key")
	// The counter follows the file's replacement.
	eventually(t, func() bool {
		return strings.Contains(metricsText(t, d), `swc_edge_cert_renewals_total{result="renewed"} 1`)
	}, "the renewal is counted")
	assert.Contains(t, metricsText(t, d), `swc_edge_cert_renewals_total{result="rejected"} 1`)

	// The next connection uses the new certificate: with the old one
	// revoked, the door still gets in after the broker restarts.
	b.revoke(oldCert.SerialNumber.String())
	b.stop()
	b.start()
	eventually(t, func() bool { return b.acceptedSerial(renewedSerial.Load().(string)) }, "the door reconnects with the renewed certificate")
	time.Sleep(1500 * time.Millisecond) // longer than renew_retry
	assert.Equal(t, int32(2), requests.Load(), "no renewal asked for once renewed")
}

func metricsText(t *testing.T, d *edgeDoor) string {
	t.Helper()
	resp, err := http.Get(d.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
