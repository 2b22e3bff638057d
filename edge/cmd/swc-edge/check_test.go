package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// testCA issues certificates for the check's tests.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	ca := &testCA{t: t, dir: dir, cert: cert, key: key, file: filepath.Join(dir, name+".pem")}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600))
}

// issue writes name.pem and name-key.pem, valid until notAfter.
func (ca *testCA) issue(name string, notAfter time.Time, server bool) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(ca.t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(ca.t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(ca.t, err)
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+"-key.pem")
	writePEM(ca.t, certFile, "CERTIFICATE", der)
	writePEM(ca.t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

// checkOutput runs swc-edge check on the site with extra configuration.
func (s *site) check(t *testing.T, extra string, flags ...string) (string, int) {
	t.Helper()
	cfg, err := os.ReadFile(s.config)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "check.toml")
	require.NoError(t, os.WriteFile(path, append(cfg, []byte("\n"+extra)...), 0o600))
	out, errOut, code := runCLI(append([]string{"check", "--config", path, "--timeout", "5s"}, flags...)...)
	require.NotEqual(t, 2, code, errOut)
	return out, code
}

// line returns the output line that starts with result and mentions what.
func line(out, result, what string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, result+" ") && strings.Contains(l, what) {
			return l
		}
	}
	return ""
}

// TestCheckHardware: the reader's version register is read through the
// configured (simulated) SPI; a silent or unknown chip fails with what to
// look at; the pins are opened and named with their header pins.
func TestCheckHardware(t *testing.T) {
	s := newSite(t, "")
	out, _ := s.check(t, "")
	assert.NotEmpty(t, line(out, "OK", "configuration "), out)
	assert.NotEmpty(t, line(out, "OK", "pins: lock relay GPIO5 (pin 29), door contact GPIO6 (pin 31), exit button GPIO13 (pin 33) opened"), out)
	assert.NotEmpty(t, line(out, "OK", "reader on SPI0.0 (/dev/spidev0.0) answers: MFRC522 v2.0"), out)

	out, code := s.check(t, "[sim]\nreader_version = 0x55\n")
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, line(out, "FAIL", "answers with version 0x55, which no MFRC522 or known clone has"), out)
	assert.Contains(t, out, "-> a loose or swapped MISO/MOSI/SCK wire")
}

// TestCheckCertificateAndBroker: the door's certificate is checked for its
// CA and its expiry, and the broker for a TLS connection with it and an
// MQTT CONNECT (a real Mosquitto).
func TestCheckCertificateAndBroker(t *testing.T) {
	s := newSite(t, "")
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	brokerCert, brokerKey := ca.issue("broker", time.Now().Add(90*24*time.Hour), true)
	doorCert, doorKey := ca.issue("door-7", time.Now().Add(30*24*time.Hour), false)
	soonCert, soonKey := ca.issue("door-7-soon", time.Now().Add(3*24*time.Hour), false)
	other := newTestCA(t, dir, "other")
	strangerCert, strangerKey := other.issue("stranger", time.Now().Add(30*24*time.Hour), false)

	m := servicetest.StartMosquittoConfig(t, fmt.Sprintf("listener {{port}} 127.0.0.1\npersistence false\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\nallow_anonymous false\n",
		ca.file, brokerCert, brokerKey))
	mqttSection := func(cert, key string) string {
		return fmt.Sprintf("[mqtt]\nbroker = \"mqtts://%s\"\nca_file = %q\ncert_file = %q\nkey_file = %q\n", m.Addr, ca.file, cert, key)
	}

	out, _ := s.check(t, mqttSection(doorCert, doorKey))
	assert.NotEmpty(t, line(out, "OK", "certificate "+doorCert+" (door-7, valid until"), out)
	assert.NotEmpty(t, line(out, "OK", "broker mqtts://"+m.Addr+": connected as door-7"), out)

	out, code := s.check(t, mqttSection(soonCert, soonKey))
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, line(out, "FAIL", "expires in"), out)
	assert.Contains(t, line(out, "FAIL", "expires in"), "within 14 days")
	assert.Contains(t, out, "-> keep the door online so it renews its certificate")
	out, _ = s.check(t, mqttSection(soonCert, soonKey), "--cert-days", "2")
	assert.NotEmpty(t, line(out, "OK", "certificate "+soonCert), out)

	out, code = s.check(t, mqttSection(strangerCert, strangerKey))
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, line(out, "FAIL", "not signed by the CA in "+ca.file), out)
	assert.NotEmpty(t, line(out, "FAIL", "broker mqtts://"+m.Addr), out, "the broker refuses a certificate of another CA")

	m.Stop()
	out, code = s.check(t, mqttSection(doorCert, doorKey))
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, line(out, "FAIL", "broker mqtts://"+m.Addr+": "), out)
	assert.Contains(t, out, "-> check the broker runs and is reachable from this Pi")

	out, _ = s.check(t, "")
	assert.NotEmpty(t, line(out, "WARN", "certificate: no [mqtt] section: the door works offline only"), out)
}

// TestCheckClockAndWhitelist: no database, no whitelist, an untrusted clock
// and a whitelist older than policy.max_whitelist_age each fail with what
// to do; a fresh whitelist and a synchronised clock pass. With the agent
// running, its status is read and the hardware left alone.
func TestCheckClockAndWhitelist(t *testing.T) {
	s := newSite(t, "")
	out, code := s.check(t, "")
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, line(out, "FAIL", "clock and whitelist: no database at"), out)

	p := s.start()
	out, code = s.check(t, "")
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, line(out, "SKIP", "reader and pins: the door agent is running"), out)
	assert.NotEmpty(t, line(out, "OK", "clock: trusted"), out)
	assert.NotEmpty(t, line(out, "FAIL", "whitelist: none loaded"), out)
	assert.Contains(t, out, "-> connect the door to the central")

	_, errOut, code := swcEdge(t, "whitelist", "load", "--config", s.config, s.sign(1, []protocol.Entry{{UID: "04A1B2C3", Member: "m1"}}))
	require.Equal(t, 0, code, errOut)
	out, code = s.check(t, "")
	assert.Equal(t, 0, code, out)
	assert.NotEmpty(t, line(out, "OK", "whitelist: version 1 issued"), out)
	require.Equal(t, 0, p.stop(t, syscall.SIGTERM))

	// The agent stopped: the database is read, with the configured clock.
	raw, err := os.ReadFile(s.config)
	require.NoError(t, err)
	require.Contains(t, string(raw), `ntp = "assume_synced"`)
	cfg, err := agent.Parse([]byte(strings.Replace(string(raw), `ntp = "assume_synced"`, `ntp = "never"`, 1)))
	require.NoError(t, err)
	cfg.Path = s.config
	var buf bytes.Buffer
	c := &doorCheck{cfg: cfg, now: time.Now(), certDays: 14, timeout: time.Second, log: &buf}
	lines := c.clockAndWhitelist(context.Background(), false)
	require.Len(t, lines, 2)
	assert.Equal(t, checkFail, lines[0].result)
	assert.Contains(t, lines[0].what, `clock: not trusted (clock.ntp = "never")`)
	assert.Contains(t, lines[0].do, "timedatectl")
	assert.Equal(t, checkOK, lines[1].result, lines[1].what)

	c.now = time.Now().Add(cfg.Policy.MaxWhitelistAge + time.Hour)
	lines = c.clockAndWhitelist(context.Background(), false)
	assert.Equal(t, checkFail, lines[1].result)
	assert.Contains(t, lines[1].what, "older than policy.max_whitelist_age")
	assert.Contains(t, lines[1].do, "it sends a fresh whitelist")
}
