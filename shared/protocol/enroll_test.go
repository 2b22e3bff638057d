package protocol

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCSR is a PEM certificate request signed by testKey(n) (Ed25519, so
// the bytes are the same on every run).
func testCSR(n byte) string {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "door-a"}}, testKey(n))
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// testCert is a self-signed PEM certificate of testKey(n).
func testCert(n byte) string {
	k := testKey(n)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(n)), Subject: pkix.Name{CommonName: "door-a"},
		NotBefore: testNow, NotAfter: testNow.Add(30 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func sampleEnrollment() *Enrollment {
	return &Enrollment{V: Version, Door: "door-a", Certificate: testCert(1), CA: testCert(2), Broker: "mqtts://central.example:8883",
		SigningKeys: []string{FormatPublicKey(NewSigner(testKey(3)).PublicKey())}, NextSeq: 1, NotAfterMs: ms(testNow.Add(30 * 24 * time.Hour))}
}

func TestEnrollmentMessages(t *testing.T) {
	csr, cert := testCSR(1), testCert(1)
	tests := []struct {
		name   string
		decode func([]byte) error
		msg    any
		field  string // "" when valid
	}{
		{"request", decER, &EnrollRequest{V: 1, Token: "swce_abc", CSR: csr}, ""},
		{"request without token", decER, &EnrollRequest{V: 1, CSR: csr}, "token"},
		{"request with a space in the token", decER, &EnrollRequest{V: 1, Token: "swce abc", CSR: csr}, "token"},
		{"request with a long token", decER, &EnrollRequest{V: 1, Token: strings.Repeat("a", MaxTokenLen+1), CSR: csr}, "token"},
		{"request with a certificate for a CSR", decER, &EnrollRequest{V: 1, Token: "t", CSR: cert}, "csr"},
		{"request with text for a CSR", decER, &EnrollRequest{V: 1, Token: "t", CSR: "hello"}, "csr"},
		{"request with two CSRs", decER, &EnrollRequest{V: 1, Token: "t", CSR: csr + csr}, "csr"},

		{"enrollment", decE, sampleEnrollment(), ""},
		{"enrollment with a bad door", decE, with(sampleEnrollment(), func(e *Enrollment) { e.Door = "a/b" }), "door"},
		{"enrollment without a certificate", decE, with(sampleEnrollment(), func(e *Enrollment) { e.Certificate = "" }), "certificate"},
		{"enrollment with a CSR for a CA", decE, with(sampleEnrollment(), func(e *Enrollment) { e.CA = csr }), "ca"},
		{"enrollment with an http broker", decE, with(sampleEnrollment(), func(e *Enrollment) { e.Broker = "http://x:1" }), "broker"},
		{"enrollment with a broker password", decE, with(sampleEnrollment(), func(e *Enrollment) { e.Broker = "mqtts://u:p@x:1" }), "broker"},
		{"enrollment without keys", decE, with(sampleEnrollment(), func(e *Enrollment) { e.SigningKeys = nil }), "signing_keys"},
		{"enrollment with a bad key", decE, with(sampleEnrollment(), func(e *Enrollment) { e.SigningKeys = append(e.SigningKeys, "rsa:x") }), "signing_keys[1]"},
		{"enrollment with seq 0", decE, with(sampleEnrollment(), func(e *Enrollment) { e.NextSeq = 0 }), "next_seq"},
		{"enrollment expired in 1970", decE, with(sampleEnrollment(), func(e *Enrollment) { e.NotAfterMs = 1 }), "not_after_ms"},
		{"enrollment with a bad prefix", decE, with(sampleEnrollment(), func(e *Enrollment) { e.TopicPrefix = "a/+" }), "topic_prefix"},

		{"renewal request", decCR, &CertRequest{V: 1, Door: "door-a", CSR: csr}, ""},
		{"renewal request without a CSR", decCR, &CertRequest{V: 1, Door: "door-a"}, "csr"},
		{"renewal request of a bad door", decCR, &CertRequest{V: 1, Door: "#", CSR: csr}, "door"},
		{"renewal request with a huge CSR", decCR, &CertRequest{V: 1, Door: "d", CSR: csr + strings.Repeat(" ", MaxCSRSize)}, "csr"},

		{"renewal reply", decRep, &CertReply{V: 1, Door: "door-a", Certificate: cert}, ""},
		{"renewal refusal", decRep, &CertReply{V: 1, Door: "door-a", Error: "door unknown"}, ""},
		{"empty renewal reply", decRep, &CertReply{V: 1, Door: "door-a"}, "certificate"},
		{"renewal reply with both", decRep, &CertReply{V: 1, Door: "door-a", Certificate: cert, Error: "x"}, "error"},
		{"renewal reply with a CSR", decRep, &CertReply{V: 1, Door: "door-a", Certificate: csr}, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.msg)
			require.NoError(t, err)
			err = tc.decode(b)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, tc.field, pe.Field, "%v", err)
		})
	}

	// Strict decoding: other versions, unknown fields, trailing data.
	for _, bad := range []string{
		`{"v":2,"door":"d","csr":"x"}`,
		`{"v":1,"door":"d","csr":"x","extra":1}`,
		`{"v":1,"door":"d"} {}`,
		`{"v":1,"door":`,
	} {
		_, err := DecodeCertRequest([]byte(bad))
		assert.Error(t, err, bad)
		assert.NotEqual(t, "other", Code(err), bad)
	}
}

func with[T any](v *T, f func(*T)) *T { f(v); return v }

func decER(b []byte) error  { _, err := DecodeEnrollRequest(b); return err }
func decE(b []byte) error   { _, err := DecodeEnrollment(b); return err }
func decCR(b []byte) error  { _, err := DecodeCertRequest(b); return err }
func decRep(b []byte) error { _, err := DecodeCertReply(b); return err }
