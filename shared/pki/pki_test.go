package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyAndRequestRoundTrip(t *testing.T) {
	key, keyPEM, err := NewKey()
	require.NoError(t, err)
	parsed, err := ParseKey(keyPEM)
	require.NoError(t, err)
	assert.True(t, key.Public().(*ecdsa.PublicKey).Equal(parsed.Public()))

	csrPEM, err := NewCSR(parsed, "door-7")
	require.NoError(t, err)
	csr, err := x509.ParseCertificateRequest(decode(t, csrPEM))
	require.NoError(t, err)
	require.NoError(t, csr.CheckSignature())
	assert.Equal(t, "door-7", csr.Subject.CommonName)
}

func TestParseRefusesWhatIsNotPEM(t *testing.T) {
	for name, in := range map[string]string{"empty": "", "garbage": "not pem", "wrong type": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKey([]byte(in))
			assert.Error(t, err)
		})
	}
	_, err := ParseCertificate([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	assert.ErrorContains(t, err, "CERTIFICATE")
}

func TestFingerprint(t *testing.T) {
	fp := Fingerprint(&x509.Certificate{Raw: []byte("abc")})
	assert.Equal(t, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", fp)
	assert.True(t, strings.HasPrefix(fp, "sha256:"))
}

func decode(t *testing.T, b []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	return block.Bytes
}
