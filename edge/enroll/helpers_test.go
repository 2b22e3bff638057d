package enroll

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// testCA is a certificate authority of the test's own (the edge does not
// import the central): it signs door certificates as the central's does.
type testCA struct {
	t    *testing.T
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{t: t, cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

var serial = struct {
	sync.Mutex
	n int64
}{n: 100}

func (ca *testCA) sign(tmpl *x509.Certificate, pub any) []byte {
	ca.t.Helper()
	serial.Lock()
	serial.n++
	tmpl.SerialNumber = big.NewInt(serial.n)
	serial.Unlock()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	require.NoError(ca.t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// door signs a CSR as door's certificate valid from notBefore to notAfter.
func (ca *testCA) door(csrPEM []byte, door string, notBefore, notAfter time.Time) []byte {
	ca.t.Helper()
	block, _ := pem.Decode(csrPEM)
	require.NotNil(ca.t, block)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	require.NoError(ca.t, err)
	require.NoError(ca.t, csr.CheckSignature())
	return ca.sign(&x509.Certificate{Subject: pkix.Name{CommonName: door, OrganizationalUnit: []string{"door"}}, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, csr.PublicKey)
}

// server returns a TLS server certificate for 127.0.0.1 with the CA in its
// chain.
func (ca *testCA) server() tls.Certificate {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(ca.t, err)
	certPEM := ca.sign(&x509.Certificate{Subject: pkix.Name{CommonName: "central"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, &key.PublicKey)
	block, _ := pem.Decode(certPEM)
	return tls.Certificate{Certificate: [][]byte{block.Bytes, ca.cert.Raw}, PrivateKey: key}
}

// fakeCentral plays the central's POST /api/v1/enroll: one token, usable
// once, for one door.
type fakeCentral struct {
	t       *testing.T
	ca      *testCA
	srv     *httptest.Server
	door    string
	token   string
	nextSeq uint64
	signing string

	mu    sync.Mutex
	calls int
	used  bool
}

func newFakeCentral(t *testing.T, ca *testCA, tlsOn bool) *fakeCentral {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	f := &fakeCentral{t: t, ca: ca, door: "door-7", token: "swce_good-token", nextSeq: 42, signing: protocol.FormatPublicKey(pub)}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	if tlsOn {
		f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.server()}}
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCentral) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	fail := func(status int, code, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
	}
	if r.Method != http.MethodPost || r.URL.Path != EnrollPath {
		fail(404, "not_found", "no such endpoint")
		return
	}
	b, _ := io.ReadAll(r.Body)
	req, err := protocol.DecodeEnrollRequest(b)
	switch {
	case err != nil:
		fail(400, "invalid", err.Error())
		return
	case req.Token != f.token:
		fail(401, "token_unknown", "unknown enrollment token")
		return
	case f.used:
		fail(401, "token_used", "this enrollment token was already used")
		return
	}
	// As the central does: a request naming another door is refused
	// before the token is spent.
	if csr, err := x509.ParseCertificateRequest(pemBytes(req.CSR)); err != nil || (csr.Subject.CommonName != "" && csr.Subject.CommonName != f.door) {
		fail(400, "wrong_door", "the request names another door than the token's "+f.door+"; the token was not spent")
		return
	}
	f.used = true
	cert := f.ca.door([]byte(req.CSR), f.door, time.Now().Add(-5*time.Minute), time.Now().Add(30*24*time.Hour))
	c, _ := pki.ParseCertificate(cert)
	_ = json.NewEncoder(w).Encode(protocol.Enrollment{V: 1, Door: f.door, Certificate: string(cert), CA: string(f.ca.pem),
		Broker: "mqtts://127.0.0.1:8883", SigningKeys: []string{f.signing}, NextSeq: f.nextSeq, NotAfterMs: c.NotAfter.UnixMilli()})
}

func (f *fakeCentral) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// pemBytes is the DER of the first PEM block of s (nil when there is none).
func pemBytes(s string) []byte {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil
	}
	return b.Bytes
}
