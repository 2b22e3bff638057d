package enroll_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

type fixture struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	ca    *enroll.CA
	svc   *enroll.Service
	clock time.Time
	key   string // the signing key doors pin
	path  string // the SQLite file
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "swc.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var h domain.OpeningHours
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "C1", TimeZone: "Europe/Brussels", Hours: h}))
	for _, d := range []string{"door-a", "door-b", "swc-central-x"} {
		require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: d, CenterID: "c1", Name: d}))
	}
	f := &fixture{t: t, ctx: ctx, st: st, path: path, clock: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	f.ca, _, err = enroll.NewCA("test CA", f.clock)
	require.NoError(t, err)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	f.key = protocol.FormatPublicKey(pub)
	f.svc, err = enroll.NewService(enroll.Config{CA: f.ca, Store: st, SigningKeys: []string{f.key}, Broker: "mqtts://central.test:8883",
		ServiceUsername: "swc-central", Now: func() time.Time { return f.clock }})
	require.NoError(t, err)
	return f
}

func (f *fixture) token(door string, ttl time.Duration) enroll.Token {
	f.t.Helper()
	tok, err := f.svc.NewToken(f.ctx, door, ttl, "tech-1", "https://central.test:8443", true)
	require.NoError(f.t, err)
	return tok
}

// doorKey is a door's own key and a request for it.
func doorKey(t *testing.T) (keyPEM []byte, csr string) {
	t.Helper()
	keyPEM, err := enroll.NewKey()
	require.NoError(t, err)
	csrPEM, err := enroll.NewCSR(keyPEM, "")
	require.NoError(t, err)
	return keyPEM, string(csrPEM)
}

func TestEnroll(t *testing.T) {
	f := newFixture(t)
	// The central holds events 1..5 and 7 of door-a (6 was lost with its
	// old SD card): the door must go on from 8.
	_, err := f.st.AppendEvents(f.ctx, "door-a", 1, append(storetest.Events(1, 5), storetest.Events(7, 1)...))
	require.NoError(t, err)

	tok := f.token("door-a", time.Hour)
	assert.True(t, strings.HasPrefix(tok.Secret, enroll.TokenPrefix))
	assert.Equal(t, f.ca.Fingerprint(), tok.CAFingerprint)
	assert.Equal(t, "sudo swc-edge provision --central https://central.test:8443 --door door-a --token "+tok.Secret+" --ca-fingerprint "+f.ca.Fingerprint(), tok.Provision)

	keyPEM, csr := doorKey(t)
	f.clock = f.clock.Add(10 * time.Minute)
	e, err := f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
	require.NoError(t, err)
	require.NoError(t, e.Validate())
	assert.Equal(t, "door-a", e.Door)
	assert.Equal(t, uint64(8), e.NextSeq)
	assert.Equal(t, "mqtts://central.test:8883", e.Broker)
	assert.Equal(t, []string{f.key}, e.SigningKeys)
	assert.Equal(t, string(f.ca.CertPEM()), e.CA)
	cert, err := pki.ParseCertificate([]byte(e.Certificate))
	require.NoError(t, err)
	assert.Equal(t, "door-a", cert.Subject.CommonName)
	assert.Equal(t, f.clock.Add(enroll.DoorValidity).UnixMilli(), e.NotAfterMs)
	kp, err := enroll.KeyPair([]byte(e.Certificate), keyPEM)
	require.NoError(t, err, "the certificate carries the door's own key")
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	require.NoError(t, err)
	name, service, err := f.svc.IdentifyClient(f.ctx, leaf)
	require.NoError(t, err)
	assert.Equal(t, "door-a", name)
	assert.False(t, service)

	// The token is spent.
	_, csr2 := doorKey(t)
	_, err = f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr2})
	assert.ErrorIs(t, err, store.ErrTokenUsed)
	assert.ErrorContains(t, err, "door-a")
}

func TestEnrollRefusals(t *testing.T) {
	f := newFixture(t)
	_, csr := doorKey(t)

	_, err := f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: "swce_unknown", CSR: csr})
	assert.ErrorIs(t, err, store.ErrBadCredentials)

	expiring := f.token("door-a", time.Minute)
	f.clock = f.clock.Add(time.Minute)
	_, err = f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: expiring.Secret, CSR: csr})
	assert.ErrorIs(t, err, store.ErrTokenExpired)

	// A bad request does not spend the token: everything that can be
	// checked is checked before it is, the door the request names too.
	tok := f.token("door-b", time.Hour)
	otherDoor := func(door string) string { k, _ := enroll.NewKey(); c, _ := enroll.NewCSR(k, door); return string(c) }
	for name, bad := range map[string]string{
		"not PEM":        "hello",
		"a certificate":  string(f.ca.CertPEM()),
		"forged request": strings.Replace(csr, csr[len(csr)-80:len(csr)-70], "AAAAAAAAAA", 1),
		"wrong door":     otherDoor("door-a"),
		"unknown door":   otherDoor("door-z"),
	} {
		_, err := f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: bad})
		assert.ErrorIs(t, err, enroll.ErrInvalid, name)
		if name == "wrong door" {
			// The mistake is said plainly.
			assert.ErrorIs(t, err, enroll.ErrWrongDoor)
			assert.ErrorContains(t, err, `names "door-a" but the token is for door "door-b"`)
		}
	}
	_, err = f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: otherDoor("door-b")})
	require.NoError(t, err, "the token still works after refused requests")

	// A token for a door id in the central's namespace (made before such
	// ids were refused) is refused, and not spent either.
	old := store.EnrollmentToken{ID: "enr-old", Door: "swc-central-x", CreatedBy: "admin", CreatedMs: f.clock.UnixMilli(), ExpiresMs: f.clock.Add(time.Hour).UnixMilli()}
	secret := store.NewSecret(enroll.TokenPrefix)
	require.NoError(t, f.st.CreateEnrollmentToken(f.ctx, old, secret))
	_, err = f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: secret, CSR: csr})
	assert.ErrorIs(t, err, enroll.ErrInvalid)
	_, err = f.st.CheckEnrollment(f.ctx, secret, f.clock.UnixMilli())
	assert.NoError(t, err, "the token is not spent")

	_, err = f.svc.NewToken(f.ctx, "swc-central-x", time.Hour, "admin", "https://x", false)
	assert.ErrorIs(t, err, enroll.ErrInvalid, "a door id the brokers would take for the central")
	_, err = f.svc.NewToken(f.ctx, "nope", time.Hour, "admin", "https://x", false)
	assert.ErrorIs(t, err, store.ErrMissingRef)
	_, err = f.svc.NewToken(f.ctx, "door-a", 8*24*time.Hour, "admin", "https://x", false)
	var fe *domain.FieldError
	assert.ErrorAs(t, err, &fe)
}

func TestRenewAndReenroll(t *testing.T) {
	f := newFixture(t)
	key1, csr1 := doorKey(t)
	_, err := f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: f.token("door-a", time.Hour).Secret, CSR: csr1})
	require.NoError(t, err)

	// Renewal with the enrolled key.
	f.clock = f.clock.Add(20 * 24 * time.Hour)
	renewCSR, err := enroll.NewCSR(key1, "door-a")
	require.NoError(t, err)
	reply := f.svc.HandleRenewal(f.ctx, "door-a", mustEncode(t, &protocol.CertRequest{V: 1, Door: "door-a", CSR: string(renewCSR)}))
	rep, err := protocol.DecodeCertReply(reply)
	require.NoError(t, err)
	require.Empty(t, rep.Error)
	cert, err := pki.ParseCertificate([]byte(rep.Certificate))
	require.NoError(t, err)
	assert.Equal(t, "door-a", cert.Subject.CommonName)
	assert.Equal(t, f.clock.Add(enroll.DoorValidity).Unix(), cert.NotAfter.Unix())

	// Refusals come back as a reply with the reason.
	key2, csr2 := doorKey(t)
	for name, tc := range map[string]struct {
		topicDoor string
		req       protocol.CertRequest
		want      string
	}{
		"another key":                {"door-a", protocol.CertRequest{V: 1, Door: "door-a", CSR: csr2}, "not the key the door enrolled with"},
		"another door's request":     {"door-b", protocol.CertRequest{V: 1, Door: "door-a", CSR: string(renewCSR)}, `names door "door-a" on the topic of "door-b"`},
		"a door that never enrolled": {"door-b", protocol.CertRequest{V: 1, Door: "door-b", CSR: csr2}, "has not enrolled"},
	} {
		rep, err := protocol.DecodeCertReply(f.svc.HandleRenewal(f.ctx, tc.topicDoor, mustEncode(t, &tc.req)))
		require.NoError(t, err, name)
		assert.Empty(t, rep.Certificate, name)
		assert.Contains(t, rep.Error, tc.want, name)
	}
	assert.Nil(t, f.svc.HandleRenewal(f.ctx, "door-a", []byte(`{"v":1,"door":"door-a"}`)), "a malformed request gets no reply")

	// The door enrolls again with a new key (its SD card was replaced): the
	// old key's certificate and renewals are refused from then on.
	oldLeaf := cert
	_, err = f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: f.token("door-a", time.Hour).Secret, CSR: csr2})
	require.NoError(t, err)
	_, _, err = f.svc.IdentifyClient(f.ctx, oldLeaf)
	assert.ErrorIs(t, err, enroll.ErrWrongKey)
	rep, err = protocol.DecodeCertReply(f.svc.HandleRenewal(f.ctx, "door-a", mustEncode(t, &protocol.CertRequest{V: 1, Door: "door-a", CSR: string(renewCSR)})))
	require.NoError(t, err)
	assert.Contains(t, rep.Error, "not the key the door enrolled with")
	renew2, err := enroll.NewCSR(key2, "")
	require.NoError(t, err)
	rep, err = protocol.DecodeCertReply(f.svc.HandleRenewal(f.ctx, "door-a", mustEncode(t, &protocol.CertRequest{V: 1, Door: "door-a", CSR: string(renew2)})))
	require.NoError(t, err)
	assert.NotEmpty(t, rep.Certificate)

	// A deleted door is refused at once.
	require.NoError(t, f.st.DeleteDoor(f.ctx, "door-a"))
	c2, err := pki.ParseCertificate([]byte(rep.Certificate))
	require.NoError(t, err)
	_, _, err = f.svc.IdentifyClient(f.ctx, c2)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestIdentifyClient(t *testing.T) {
	f := newFixture(t)
	svcPEM, _, err := f.ca.IssueClient("swc-central", time.Hour, f.clock)
	require.NoError(t, err)
	svc, err := pki.ParseCertificate(svcPEM)
	require.NoError(t, err)
	name, service, err := f.svc.IdentifyClient(f.ctx, svc)
	require.NoError(t, err)
	assert.Equal(t, "swc-central", name)
	assert.True(t, service)

	rogue, _, err := enroll.NewCA("rogue", f.clock)
	require.NoError(t, err)
	_, csr := doorKey(t)
	roguePEM, err := rogue.SignDoorCSR([]byte(csr), "door-a", time.Hour, f.clock)
	require.NoError(t, err)
	rc, err := pki.ParseCertificate(roguePEM)
	require.NoError(t, err)
	_, _, err = f.svc.IdentifyClient(f.ctx, rc)
	assert.ErrorContains(t, err, "certificate signed by unknown authority")

	srvPEM, _, err := f.ca.IssueServer([]string{"localhost"}, f.clock)
	require.NoError(t, err)
	sc, err := pki.ParseCertificate(srvPEM)
	require.NoError(t, err)
	_, _, err = f.svc.IdentifyClient(f.ctx, sc)
	assert.Error(t, err, "a server certificate is not a client's")
}

func TestServerCertsAndBrokerFiles(t *testing.T) {
	f := newFixture(t)
	clock := time.Now()
	sc, err := f.ca.ServerCerts([]string{"central.test", "127.0.0.1"}, func() time.Time { return clock })
	require.NoError(t, err)
	c1, err := sc.GetCertificate(nil)
	require.NoError(t, err)
	require.Len(t, c1.Certificate, 2, "leaf and CA")
	ca, err := x509.ParseCertificate(c1.Certificate[1])
	require.NoError(t, err)
	assert.Equal(t, f.ca.Fingerprint(), pki.Fingerprint(ca))
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: f.ca.Pool(), DNSName: "central.test", CurrentTime: clock})
	require.NoError(t, err)
	again, err := sc.GetCertificate(&tls.ClientHelloInfo{})
	require.NoError(t, err)
	assert.Same(t, c1, again)
	clock = clock.Add(enroll.ServerValidity * 2 / 3)
	c2, err := sc.GetCertificate(nil)
	require.NoError(t, err)
	assert.NotSame(t, c1, c2, "renewed when a third of its life is left")

	dir := filepath.Join(t.TempDir(), "mosquitto")
	files, err := f.ca.WriteBrokerFiles(dir, []string{"mqtt.test"}, "swc-central", time.Now())
	require.NoError(t, err)
	for path, mode := range map[string]os.FileMode{files.CA: 0o644, files.BrokerCert: 0o644, files.BrokerKey: 0o600, files.ServiceCert: 0o644, files.ServiceKey: 0o600} {
		fi, err := os.Stat(path)
		require.NoError(t, err, path)
		assert.Equal(t, mode, fi.Mode().Perm(), path)
	}
	_, err = tls.LoadX509KeyPair(files.ServiceCert, files.ServiceKey)
	require.NoError(t, err)
	_, err = tls.LoadX509KeyPair(files.BrokerCert, files.BrokerKey)
	require.NoError(t, err)
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := protocol.Encode(v)
	require.NoError(t, err)
	return b
}
