package enroll_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/store"
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
// moment of the change; it is computed from the store (a restart or
// another replica's folder gives the same list and number), is not
// rewritten when nothing changed, is rewritten each CRLPeriod with a
// higher number, and drops certificates once they expire.
func TestRevocations(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	newRev := func(dir string) *enroll.Revocations {
		rev, err := enroll.NewRevocations(enroll.RevocationsConfig{CA: f.ca, Dir: dir, Certs: f.st.DoorCerts(), Now: func() time.Time { return f.clock }})
		require.NoError(t, err)
		return rev
	}
	rev := newRev(dir)
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

	// Nothing changed: the file stays as it is. A restart writes nothing.
	before, err := os.ReadFile(filepath.Join(dir, enroll.CRLFile))
	require.NoError(t, err)
	rev = newRev(dir)
	written, err = rev.Refresh(f.ctx)
	require.NoError(t, err)
	assert.False(t, written)
	after, err := os.ReadFile(filepath.Join(dir, enroll.CRLFile))
	require.NoError(t, err)
	assert.Equal(t, before, after)
	crl, err := enroll.ParseCRL(after)
	require.NoError(t, err)
	assert.Equal(t, enroll.CRLNumber(f.clock, 2), crl.Number, "the period and the two revocations")

	// Another replica's folder, the same store: the same list and number.
	other := t.TempDir()
	written, err = newRev(other).Refresh(f.ctx)
	require.NoError(t, err)
	require.True(t, written)
	assert.ElementsMatch(t, revoked(t, f.ca, dir), revoked(t, f.ca, other))
	crl2, err := enroll.ParseCRL(must(os.ReadFile(filepath.Join(other, enroll.CRLFile))))
	require.NoError(t, err)
	assert.Equal(t, crl.Number, crl2.Number)

	// The next period: the same list, written again with a higher number.
	f.clock = f.clock.Add(enroll.CRLPeriod)
	written, err = rev.Refresh(f.ctx)
	require.NoError(t, err)
	assert.True(t, written, "written again each period")
	crl2, err = enroll.ParseCRL(must(os.ReadFile(filepath.Join(dir, enroll.CRLFile))))
	require.NoError(t, err)
	assert.Equal(t, 1, crl2.Number.Cmp(crl.Number), "the number grows")
	assert.True(t, crl2.NextUpdate.After(f.clock.Add(enroll.CRLRenewBefore)))
	assert.ElementsMatch(t, []string{serialOf(t, a1.Certificate), serialOf(t, b1.Certificate)}, revoked(t, f.ca, dir))

	// A clock that went back: a new revocation is still written, with a higher number.
	f.clock = f.clock.Add(-enroll.CRLPeriod)
	a3 := enrollDoor("door-a")
	crl3, err := enroll.ParseCRL(must(os.ReadFile(filepath.Join(dir, enroll.CRLFile))))
	require.NoError(t, err)
	assert.Equal(t, 1, crl3.Number.Cmp(crl2.Number))
	assert.Contains(t, revoked(t, f.ca, dir), serialOf(t, a2.Certificate))
	assert.NotContains(t, revoked(t, f.ca, dir), serialOf(t, a3.Certificate))

	// Two periods later the door certificates (30 days) expired and left the list.
	f.clock = f.clock.Add(2*enroll.CRLPeriod + time.Minute)
	written, err = rev.Refresh(f.ctx)
	require.NoError(t, err)
	assert.True(t, written)
	assert.Empty(t, revoked(t, f.ca, dir))
}

// TestImportFile: the records of an older central's door-certs.json move
// into the store once (the file is renamed; a second import of the same
// records adds nothing), with the revocations the file held and those the
// store's state implies; a damaged file is an error, not an empty record.
func TestImportFile(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	rev, err := enroll.NewRevocations(enroll.RevocationsConfig{CA: f.ca, Dir: dir, Certs: f.st.DoorCerts(), Now: func() time.Time { return f.clock }})
	require.NoError(t, err)
	n, err := rev.ImportFile(f.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "no file")

	// door-a enrolled with key A (its certificate 0a valid, 0b revoked in
	// the file); 0c is door-a's with another key; 0d is door-b's, never
	// enrolled (its enrollment failed); 0e of a door removed.
	tok := f.token("door-a", time.Hour)
	keyA := strings.Repeat("a", 64)
	_, err = f.st.RedeemEnrollment(f.ctx, tok.Secret, store.DoorKey{KeySHA256: keyA, EnrolledMs: f.clock.UnixMilli()})
	require.NoError(t, err)
	notAfter := f.clock.Add(20 * 24 * time.Hour).UnixMilli()
	file := fmt.Sprintf(`{"crl_number": 4, "certs": [
 {"serial": "0a", "door": "door-a", "key_sha256": %[1]q, "not_after_ms": %[2]d},
 {"serial": "b", "door": "door-a", "key_sha256": %[1]q, "not_after_ms": %[2]d, "revoked_ms": 1000},
 {"serial": "c", "door": "door-a", "key_sha256": %[3]q, "not_after_ms": %[2]d},
 {"serial": "d", "door": "door-b", "key_sha256": %[3]q, "not_after_ms": %[2]d},
 {"serial": "e", "door": "door-gone", "key_sha256": %[3]q, "not_after_ms": %[2]d}]}`, keyA, notAfter, strings.Repeat("c", 64))
	path := filepath.Join(dir, enroll.IssuedFile)
	require.NoError(t, os.WriteFile(path, []byte(file), 0o600))
	n, err = rev.ImportFile(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "renamed")
	for serial, reason := range map[string]string{"a": "", "b": store.RevokedSuperseded, "c": store.RevokedSuperseded, "d": store.RevokedDoorRemoved, "e": store.RevokedDoorRemoved} {
		c, err := f.st.DoorCerts().DoorCert(f.ctx, serial)
		require.NoError(t, err, serial)
		assert.Equal(t, reason, c.Reason, serial)
	}
	written, err := rev.Refresh(f.ctx)
	require.NoError(t, err)
	require.True(t, written)
	assert.ElementsMatch(t, []string{"b", "c", "d", "e"}, revoked(t, f.ca, dir))

	// The rename failed: the same file again adds nothing.
	require.NoError(t, os.Rename(path+enroll.ImportedSuffix, path))
	n, err = rev.ImportFile(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n)

	require.NoError(t, os.WriteFile(path, []byte("{"), 0o600))
	_, err = rev.ImportFile(f.ctx)
	assert.ErrorContains(t, err, enroll.IssuedFile)
	require.NoError(t, os.WriteFile(path, []byte(`{"certs": [{"serial": "zz", "door": "door-a", "key_sha256": "`+keyA+`", "not_after_ms": 5}]}`), 0o600))
	_, err = rev.ImportFile(f.ctx)
	assert.ErrorContains(t, err, "certificate 1")
}

// revokingService is an enrollment service over f whose certificates are
// recorded for the revocation list kept in the folder it returns.
func revokingService(t *testing.T, f *fixture) (string, *enroll.Revocations, *enroll.Service) {
	t.Helper()
	dir := t.TempDir()
	rev, err := enroll.NewRevocations(enroll.RevocationsConfig{CA: f.ca, Dir: dir, Certs: f.st.DoorCerts(), Now: func() time.Time { return f.clock }})
	require.NoError(t, err)
	svc, err := enroll.NewService(enroll.Config{CA: f.ca, Store: f.st, SigningKeys: []string{f.key}, Broker: "mqtts://central.test:8883",
		ServiceUsername: "swc-central", Now: func() time.Time { return f.clock }, Revocations: rev})
	require.NoError(t, err)
	return dir, rev, svc
}

// TestRenewalIsRecorded: a renewed certificate is recorded too, stays
// valid (a renewal keeps the door's key, as the embedded broker does), and
// is revoked with the others when its door is enrolled again.
func TestRenewalIsRecorded(t *testing.T) {
	f := newFixture(t)
	dir, rev, svc := revokingService(t, f)
	tok, err := svc.NewToken(f.ctx, "door-a", time.Hour, "tech-1", "https://central.test:8443", true)
	require.NoError(t, err)
	keyPEM, csr := doorKey(t)
	first, err := svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
	require.NoError(t, err)
	renewCSR, err := enroll.NewCSR(keyPEM, "door-a")
	require.NoError(t, err)
	renewed, err := svc.Renew(f.ctx, "door-a", &protocol.CertRequest{V: 1, Door: "door-a", CSR: string(renewCSR)})
	require.NoError(t, err)
	c, err := f.st.DoorCerts().DoorCert(f.ctx, serialOf(t, string(renewed)))
	require.NoError(t, err)
	assert.Zero(t, c.RevokedMs)
	_, err = rev.Refresh(f.ctx)
	require.NoError(t, err)
	assert.Empty(t, revoked(t, f.ca, dir), "a renewal revokes nothing")

	tok, err = svc.NewToken(f.ctx, "door-a", time.Hour, "tech-1", "https://central.test:8443", true)
	require.NoError(t, err)
	_, csr = doorKey(t)
	_, err = svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{serialOf(t, first.Certificate), serialOf(t, string(renewed))}, revoked(t, f.ca, dir))

	// An enrollment whose token is taken between its check and its
	// redemption (a concurrent use): its certificate, recorded first, is
	// revoked.
	racing, err := enroll.NewService(enroll.Config{CA: f.ca, Store: usedOnRedeem{f.st}, SigningKeys: []string{f.key}, Broker: "mqtts://central.test:8883",
		ServiceUsername: "swc-central", Now: func() time.Time { return f.clock }, Revocations: rev})
	require.NoError(t, err)
	tok, err = svc.NewToken(f.ctx, "door-a", time.Hour, "tech-1", "https://central.test:8443", true)
	require.NoError(t, err)
	_, csr = doorKey(t)
	_, err = racing.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
	require.ErrorIs(t, err, store.ErrTokenUsed)
	r, err := f.st.DoorCerts().RevokedDoorCerts(f.ctx, 0)
	require.NoError(t, err)
	require.Len(t, r.Certs, 3)
	assert.Len(t, revoked(t, f.ca, dir), 3)
	assert.Contains(t, []string{r.Certs[0].Reason, r.Certs[1].Reason, r.Certs[2].Reason}, store.RevokedExplicit)
}

// usedOnRedeem is a store whose tokens are taken by someone else between
// their check and their redemption.
type usedOnRedeem struct{ enroll.Store }

func (usedOnRedeem) RedeemEnrollment(context.Context, string, store.DoorKey) (store.EnrollmentToken, error) {
	return store.EnrollmentToken{}, store.ErrTokenUsed
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestRevokeDoor: revoking a door's certificates by hand lists the valid
// ones (not those already revoked) on the CRL, audited with the actor;
// the door's renewals with that key are refused, and so is its connection
// to the embedded broker's certificate listener; enrolling the door again
// (a new key) brings it back.
func TestRevokeDoor(t *testing.T) {
	f := newFixture(t)
	dir, rev, svc := revokingService(t, f)
	enrollDoor := func() (string, []byte) {
		tok, err := svc.NewToken(f.ctx, "door-a", time.Hour, "tech-1", "https://central.test:8443", true)
		require.NoError(t, err)
		keyPEM, csr := doorKey(t)
		reply, err := svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
		require.NoError(t, err)
		return reply.Certificate, keyPEM
	}
	renew := func(keyPEM []byte) (string, error) {
		csr, err := enroll.NewCSR(keyPEM, "door-a")
		require.NoError(t, err)
		c, err := svc.Renew(f.ctx, "door-a", &protocol.CertRequest{V: 1, Door: "door-a", CSR: string(csr)})
		return string(c), err
	}
	identity := &enroll.DoorIdentity{CA: f.ca, Keys: f.st, ServiceUsername: "swc-central", Now: func() time.Time { return f.clock }, Certs: f.st.DoorCerts()}
	identify := func(certPEM string) error {
		c, err := pki.ParseCertificate([]byte(certPEM))
		require.NoError(t, err)
		_, _, err = identity.IdentifyClient(f.ctx, c)
		return err
	}

	old, _ := enrollDoor()
	first, key := enrollDoor() // old is superseded
	second, err := renew(key)
	require.NoError(t, err)
	require.NoError(t, identify(first))
	require.NoError(t, identify(second))

	ctx := audit.WithSystem(f.ctx, "door-cert-cli")
	got, err := rev.RevokeDoor(ctx, "door-a")
	require.NoError(t, err)
	serials := func(cs []store.DoorCert) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Serial)
		}
		return out
	}
	assert.ElementsMatch(t, []string{serialOf(t, first), serialOf(t, second)}, serials(got), "the valid ones only")
	for _, c := range got {
		assert.Equal(t, store.RevokedExplicit, c.Reason)
	}
	assert.ElementsMatch(t, []string{serialOf(t, old), serialOf(t, first), serialOf(t, second)}, revoked(t, f.ca, dir))
	page, err := f.st.ListAudit(f.ctx, store.AuditFilter{ActorKind: audit.KindSystem, ActorID: "door-cert-cli"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2, "one audit row per certificate revoked")
	assert.Equal(t, audit.Revoke, page.Items[0].Action)

	again, err := rev.RevokeDoor(ctx, "door-a")
	require.NoError(t, err)
	assert.Empty(t, again, "nothing left to revoke")
	_, err = renew(key)
	require.ErrorIs(t, err, enroll.ErrRevoked, "a renewal with the revoked key")
	require.ErrorIs(t, identify(second), enroll.ErrRevoked, "the embedded broker refuses the revoked certificate")

	back, key := enrollDoor()
	require.NoError(t, identify(back))
	_, err = renew(key)
	require.NoError(t, err, "enrolled again with a new key")
}
