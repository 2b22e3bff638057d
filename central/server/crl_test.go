package server_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/shared/pki"
)

// TestRevocationListFile: serve keeps crl.pem in its data folder from the
// start, lists a door's old certificate as soon as the door is enrolled
// again, and a removed door's certificate as soon as the door is deleted
// through the API.
func TestRevocationListFile(t *testing.T) {
	c := startTLS(t)
	listed := func() []string {
		b, err := os.ReadFile(filepath.Join(c.dir, enroll.CRLFile))
		require.NoError(t, err)
		crl, err := enroll.ParseCRL(b)
		require.NoError(t, err)
		require.NoError(t, crl.CheckSignatureFrom(c.s.CA.Cert()))
		serials := []string{}
		for _, e := range crl.RevokedCertificateEntries {
			serials = append(serials, e.SerialNumber.Text(16))
		}
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
