package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/keys"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/pki"
)

// TestRevocationListFile: serve keeps crl.pem in its data folder from the
// start, lists a door's old certificate as soon as the door is enrolled
// again, and a removed door's certificate as soon as the door is deleted
// through the API.
func TestRevocationListFile(t *testing.T) {
	c := startTLS(t)
	listed := func() []string {
		serials, _ := crlSerials(t, c)
		return serials
	}
	serial := func(certPEM string) string {
		cert, err := pki.ParseCertificate([]byte(certPEM))
		require.NoError(t, err)
		return cert.SerialNumber.Text(16)
	}
	assert.Empty(t, listed(), "written at start, empty")

	c.must("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	for _, d := range []string{"door-a", "door-b"} {
		c.must("POST", "/api/v1/doors", map[string]any{"id": d, "center_id": "c1", "name": d})
	}
	a1, _, _ := c.enrollDoor("door-a")
	b1, _, _ := c.enrollDoor("door-b")
	assert.Empty(t, listed())
	a2, _, _ := c.enrollDoor("door-a")
	assert.Equal(t, []string{serial(a1.Certificate)}, listed(), "the old certificate, at once")

	c.must("DELETE", "/api/v1/doors/door-b", nil)
	require.Eventually(t, func() bool { return len(listed()) == 2 }, 10*time.Second, 20*time.Millisecond, "the removed door's certificate")
	assert.ElementsMatch(t, []string{serial(a1.Certificate), serial(b1.Certificate)}, listed())
	assert.NotContains(t, listed(), serial(a2.Certificate))
}

// TestRevocationListReplicas: two replicas on one PostgreSQL, sharing the
// CA. A door enrolled through A and enrolled again through B, and a door
// enrolled through A and removed through B: A's crl.pem lists both old
// certificates promptly (B's changes reach A through the store's NOTIFY,
// not the 10-minute refresh), and both replicas write the same list with
// the same number.
func TestRevocationListReplicas(t *testing.T) {
	db := storetest.PostgresSchema(t)
	startReplica := func(dir string) *tlsCentral {
		s, err := server.Start(context.Background(), server.Config{DataDir: dir, DBURL: db, HTTPAddr: "127.0.0.1:0", MQTTSAddr: "127.0.0.1:0",
			HTTPS: true, Hosts: []string{"127.0.0.1"}, Out: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		caPEM, err := os.ReadFile(filepath.Join(dir, enroll.CACertFile))
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(caPEM))
		return &tlsCentral{t: t, dir: dir, s: s,
			client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	}
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	a := startReplica(dirA)
	raw, err := os.ReadFile(filepath.Join(dirA, server.AdminTokenFile))
	require.NoError(t, err)
	a.token = strings.TrimSpace(string(raw))
	// Replicas share the CA and the signing key (copied, as an operator does).
	require.NoError(t, os.MkdirAll(dirB, 0o700))
	for _, f := range []string{enroll.CACertFile, enroll.CAKeyFile, keys.FileName} {
		b, err := os.ReadFile(filepath.Join(dirA, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dirB, f), b, 0o600))
	}
	b := startReplica(dirB)
	b.token = a.token

	listed := func(c *tlsCentral) ([]string, *big.Int) {
		serials, number := crlSerials(t, c)
		slices.Sort(serials)
		return serials, number
	}
	serial := func(certPEM string) string {
		cert, err := pki.ParseCertificate([]byte(certPEM))
		require.NoError(t, err)
		return cert.SerialNumber.Text(16)
	}

	a.must("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	for _, d := range []string{"door-a", "door-b"} {
		a.must("POST", "/api/v1/doors", map[string]any{"id": d, "center_id": "c1", "name": d})
	}
	a1, _, _ := a.enrollDoor("door-a")
	b1, _, _ := a.enrollDoor("door-b")
	a2, _, _ := b.enrollDoor("door-a") // enrolled again through B
	want := []string{serial(a1.Certificate)}
	require.Eventually(t, func() bool { l, _ := listed(a); return slices.Equal(l, want) }, 10*time.Second, 20*time.Millisecond,
		"A lists the certificate it issued, superseded through B")

	b.must("DELETE", "/api/v1/doors/door-b", nil)
	want = []string{serial(a1.Certificate), serial(b1.Certificate)}
	slices.Sort(want)
	require.Eventually(t, func() bool { l, _ := listed(a); return slices.Equal(l, want) }, 10*time.Second, 20*time.Millisecond,
		"A lists the certificate of the door removed through B")
	require.Eventually(t, func() bool { l, _ := listed(b); return slices.Equal(l, want) }, 10*time.Second, 20*time.Millisecond)
	la, na := listed(a)
	lb, nb := listed(b)
	assert.Equal(t, la, lb)
	assert.Equal(t, na, nb, "the same number on both replicas")
	assert.NotContains(t, la, serial(a2.Certificate))
}

// crlSerials returns the serials (hex) and the number of the CRL in c's
// data folder, after checking that c's CA signed it.
func crlSerials(t *testing.T, c *tlsCentral) ([]string, *big.Int) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.dir, enroll.CRLFile))
	require.NoError(t, err)
	crl, err := enroll.ParseCRL(raw)
	require.NoError(t, err)
	require.NoError(t, crl.CheckSignatureFrom(c.s.CA.Cert()))
	serials := []string{}
	for _, e := range crl.RevokedCertificateEntries {
		serials = append(serials, e.SerialNumber.Text(16))
	}
	return serials, crl.Number
}
