package enroll

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/pki"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestLoadOrCreateCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, "test CA", now)
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(dir, CAKeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the CA key is private")

	again, err := LoadOrCreateCA(dir, "test CA", now)
	require.NoError(t, err)
	assert.Equal(t, ca.CertPEM(), again.CertPEM(), "a second start reuses the CA")

	require.NoError(t, os.Remove(filepath.Join(dir, CAKeyFile)))
	_, err = LoadOrCreateCA(dir, "test CA", now)
	assert.ErrorContains(t, err, "incomplete", "a CA without its key is not silently replaced")

	other, _, err := NewCA("other", now)
	require.NoError(t, err)
	otherKey := filepath.Join(t.TempDir(), "k")
	_, otherKeyPEM, err := NewCA("other2", now)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(otherKey, otherKeyPEM, 0o600))
	_, err = ParseCA(other.CertPEM(), otherKeyPEM)
	assert.ErrorContains(t, err, "does not match")
}

func TestDoorCertificate(t *testing.T) {
	ca, _, err := NewCA("test CA", now)
	require.NoError(t, err)
	key, err := NewKey()
	require.NoError(t, err)
	csr, err := NewCSR(key, "door-a")
	require.NoError(t, err)

	certPEM, err := ca.SignDoorCSR(csr, "door-a", DoorValidity, now)
	require.NoError(t, err)
	cert, err := pki.ParseCertificate(certPEM)
	require.NoError(t, err)
	assert.Equal(t, "door-a", cert.Subject.CommonName)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, cert.ExtKeyUsage)
	assert.WithinDuration(t, now.Add(DoorValidity), cert.NotAfter, time.Second)

	door, err := ca.VerifyDoor(cert, now)
	require.NoError(t, err)
	assert.Equal(t, "door-a", door)
	_, err = ca.VerifyDoor(cert, now.Add(DoorValidity+time.Hour))
	assert.Error(t, err, "an expired door certificate is refused")

	_, err = KeyPair(certPEM, key)
	require.NoError(t, err)

	other, _, err := NewCA("other CA", now)
	require.NoError(t, err)
	_, err = other.VerifyDoor(cert, now)
	assert.Error(t, err, "a certificate of another CA is refused")

	t.Run("bad requests", func(t *testing.T) {
		_, err := ca.SignDoorCSR(csr, "door-b", DoorValidity, now)
		assert.ErrorContains(t, err, "door-b", "a request for door-a cannot get door-b's certificate")
		_, err = ca.SignDoorCSR([]byte("junk"), "door-a", DoorValidity, now)
		assert.Error(t, err)
		_, err = ca.SignDoorCSR(csr, "door/a", DoorValidity, now)
		assert.Error(t, err)
		tampered := append([]byte(nil), csr...)
		tampered[len(tampered)/2] ^= 1
		_, err = ca.SignDoorCSR(tampered, "door-a", DoorValidity, now)
		assert.Error(t, err)
		_, err = ca.SignDoorCSR(csr, "door-a", 0, now)
		assert.Error(t, err)
	})

	t.Run("server and service certificates", func(t *testing.T) {
		srv, srvKey, err := ca.IssueServer([]string{"127.0.0.1", "broker.example"}, now)
		require.NoError(t, err)
		c, err := pki.ParseCertificate(srv)
		require.NoError(t, err)
		_, err = c.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "broker.example", CurrentTime: now})
		assert.NoError(t, err)
		_, err = KeyPair(srv, srvKey)
		assert.NoError(t, err)

		svc, _, err := ca.IssueClient("swc-central", DoorValidity, now)
		require.NoError(t, err)
		c, err = pki.ParseCertificate(svc)
		require.NoError(t, err)
		assert.Equal(t, "swc-central", c.Subject.CommonName)
	})
}
