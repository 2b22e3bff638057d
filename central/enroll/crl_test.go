package enroll_test

import (
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// revoked returns the serials (hex) the CRL file in dir lists, after
// checking that the CA signed it.
func revoked(t *testing.T, ca *enroll.CA, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, enroll.CRLFile))
	require.NoError(t, err)
	crl, err := enroll.ParseCRL(b)
	require.NoError(t, err)
	require.NoError(t, crl.CheckSignatureFrom(ca.Cert()))
	serials := []string{}
	for _, e := range crl.RevokedCertificateEntries {
		serials = append(serials, e.SerialNumber.Text(16))
	}
	return serials
}

func serialOf(t *testing.T, certPEM string) string {
	t.Helper()
	c, err := pki.ParseCertificate([]byte(certPEM))
	require.NoError(t, err)
	return c.SerialNumber.Text(16)
}

// TestRevocations: the CRL the central writes lists the certificates of a
// door enrolled again (not its new one) and of a removed door, from the
// moment of the change; it survives a restart, is not rewritten when
// nothing changed, and drops certificates once they expire.
func TestRevocations(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	newRev := func() *enroll.Revocations {
		rev, err := enroll.NewRevocations(enroll.RevocationsConfig{CA: f.ca, Dir: dir, Keys: f.st, Now: func() time.Time { return f.clock }})
		require.NoError(t, err)
		return rev
	}
	rev := newRev()
	svc, err := enroll.NewService(enroll.Config{CA: f.ca, Store: f.st, SigningKeys: []string{f.key}, Broker: "mqtts://central.test:8883",
		ServiceUsername: "swc-central", Now: func() time.Time { return f.clock }, Revocations: rev})
	require.NoError(t, err)
	enrollDoor := func(door string) *protocol.Enrollment {
		tok, err := svc.NewToken(f.ctx, door, time.Hour, "tech-1", "https://central.test:8443", true)
		require.NoError(t, err)
		_, csr := doorKey(t)
		e, err := svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
		require.NoError(t, err)
		return e
	}

	written, err := rev.Refresh(f.ctx)
	require.NoError(t, err)
	assert.True(t, written, "the first refresh writes an empty CRL")
	assert.Empty(t, revoked(t, f.ca, dir))

	a1, b1 := enrollDoor("door-a"), enrollDoor("door-b")
	assert.Empty(t, revoked(t, f.ca, dir), "first enrollments revoke nothing")
	f.clock = f.clock.Add(time.Hour)
	a2 := enrollDoor("door-a")
	assert.Equal(t, []string{serialOf(t, a1.Certificate)}, revoked(t, f.ca, dir), "enrolling door-a again revokes its old certificate at once")

	require.NoError(t, f.st.DeleteDoor(f.ctx, "door-b"))
	written, err = rev.Refresh(f.ctx)
	require.NoError(t, err)
	assert.True(t, written)
	assert.ElementsMatch(t, []string{serialOf(t, a1.Certificate), serialOf(t, b1.Certificate)}, revoked(t, f.ca, dir), "the removed door's certificate")
	assert.NotContains(t, revoked(t, f.ca, dir), serialOf(t, a2.Certificate))

	// Nothing changed: the file stays as it is. A restart keeps the record.
	before, err := os.ReadFile(filepath.Join(dir, enroll.CRLFile))
	require.NoError(t, err)
	rev = newRev()
	written, err = rev.Refresh(f.ctx)
	require.NoError(t, err)
	assert.False(t, written)
	after, err := os.ReadFile(filepath.Join(dir, enroll.CRLFile))
	require.NoError(t, err)
	assert.Equal(t, before, after)
	crl, err := enroll.ParseCRL(after)
	require.NoError(t, err)
	assert.Equal(t, big.NewInt(3), crl.Number, "one CRL number per write")

	// Near NextUpdate the same list is written again; expired certificates leave it.
	f.clock = f.clock.Add(enroll.CRLValidity - enroll.CRLRenewBefore + time.Minute)
	written, err = rev.Refresh(f.ctx)
	require.NoError(t, err)
	assert.True(t, written, "written again before its NextUpdate")
	crl, err = enroll.ParseCRL(must(os.ReadFile(filepath.Join(dir, enroll.CRLFile))))
	require.NoError(t, err)
	assert.True(t, crl.NextUpdate.After(f.clock.Add(enroll.CRLRenewBefore)))
	assert.Empty(t, revoked(t, f.ca, dir), "the door certificates (30 days) expired and left the list")

	// A damaged record is an error, not an empty list.
	require.NoError(t, os.WriteFile(filepath.Join(dir, enroll.IssuedFile), []byte("{"), 0o600))
	_, err = enroll.NewRevocations(enroll.RevocationsConfig{CA: f.ca, Dir: dir, Keys: f.st})
	assert.ErrorContains(t, err, enroll.IssuedFile)
}

// TestRenewalIsRecorded: a renewed certificate is recorded too, and
// revoked with the others when its door is enrolled again.
func TestRenewalIsRecorded(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	rev, err := enroll.NewRevocations(enroll.RevocationsConfig{CA: f.ca, Dir: dir, Keys: f.st, Now: func() time.Time { return f.clock }})
	require.NoError(t, err)
	svc, err := enroll.NewService(enroll.Config{CA: f.ca, Store: f.st, SigningKeys: []string{f.key}, Broker: "mqtts://central.test:8883",
		ServiceUsername: "swc-central", Now: func() time.Time { return f.clock }, Revocations: rev})
	require.NoError(t, err)
	tok, err := svc.NewToken(f.ctx, "door-a", time.Hour, "tech-1", "https://central.test:8443", true)
	require.NoError(t, err)
	keyPEM, csr := doorKey(t)
	first, err := svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
	require.NoError(t, err)
	renewCSR, err := enroll.NewCSR(keyPEM, "door-a")
	require.NoError(t, err)
	renewed, err := svc.Renew(f.ctx, "door-a", &protocol.CertRequest{V: 1, Door: "door-a", CSR: string(renewCSR)})
	require.NoError(t, err)

	tok, err = svc.NewToken(f.ctx, "door-a", time.Hour, "tech-1", "https://central.test:8443", true)
	require.NoError(t, err)
	_, csr = doorKey(t)
	_, err = svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{serialOf(t, first.Certificate), serialOf(t, string(renewed))}, revoked(t, f.ca, dir))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
