// Package enroll gives doors their identity: the central's small certificate
// authority, which signs each door's own key as a client certificate whose
// subject is the door id, and the broker's server certificate.
package enroll

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// File names of the CA inside the central's data folder.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// Default validities.
const (
	CAValidity     = 10 * 365 * 24 * time.Hour
	DoorValidity   = 30 * 24 * time.Hour // short: doors renew over their connection
	ServerValidity = 365 * 24 * time.Hour
)

// CA is the central's certificate authority.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// LoadOrCreateCA loads the CA from dir, or creates it (key 0600) when absent.
func LoadOrCreateCA(dir, name string, now time.Time) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, errC := os.ReadFile(certPath)
	keyPEM, errK := os.ReadFile(keyPath)
	switch {
	case errC == nil && errK == nil:
		return ParseCA(certPEM, keyPEM)
	case errors.Is(errC, os.ErrNotExist) && errors.Is(errK, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("enroll: CA in %s is incomplete (%s: %v, %s: %v); restore both files or remove both to make a new CA (every door must then be provisioned again)",
			dir, CACertFile, errC, CAKeyFile, errK)
	}
	ca, keyPEM, err := NewCA(name, now)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("enroll: write CA key: %w", err)
	}
	if err := os.WriteFile(certPath, ca.certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("enroll: write CA certificate: %w", err)
	}
	return ca, nil
}

// NewCA creates a CA and returns it with its private key in PEM.
func NewCA(name string, now time.Time) (*CA, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Smart Work Centers"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: CA key: %w", err)
	}
	ca, err := ParseCA(pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER))
	if err != nil {
		return nil, nil, err
	}
	return ca, pemBlock("PRIVATE KEY", keyDER), nil
}

// ParseCA parses a CA certificate and its key.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("enroll: CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("enroll: CA certificate is not a CA")
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("enroll: CA key: %w", err)
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok || !ek.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("enroll: CA key does not match the CA certificate")
	}
	return &CA{cert: cert, key: ek, certPEM: pemBlock("CERTIFICATE", cert.Raw)}, nil
}

// CertPEM returns the CA certificate, which doors and brokers trust.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool returns a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Organizational units of the certificate subjects this CA issues: they tell
// a door's certificate from a service's, whatever the CN.
const (
	UnitDoor    = "door"
	UnitService = "service"
)

// CheckCSR parses a PEM certificate request and checks it: signed by the
// key it carries, an ECDSA P-256 or Ed25519 key.
func CheckCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("enroll: csr: not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("enroll: csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("enroll: csr: signature: %w", err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("enroll: csr: ECDSA keys must use P-256")
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("enroll: csr: unsupported key type %T (want ECDSA P-256 or Ed25519)", csr.PublicKey)
	}
	return csr, nil
}

// KeyFingerprint is the SHA-256 of a public key's SubjectPublicKeyInfo, in
// lower-case hex: how the central remembers the key a door enrolled with.
func KeyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("enroll: public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// SignDoorCSR checks a door's certificate request and issues its client
// certificate: subject CN = door id, client authentication only, valid for
// validity from now. The request must be signed by the key it carries and
// name the same door (an empty CN is allowed and filled in).
func (ca *CA) SignDoorCSR(csrPEM []byte, door string, validity time.Duration, now time.Time) ([]byte, error) {
	if err := protocol.ValidID(door); err != nil {
		return nil, fmt.Errorf("enroll: door id %q: %w", door, err)
	}
	csr, err := CheckCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if cn := csr.Subject.CommonName; cn != "" && cn != door {
		return nil, fmt.Errorf("enroll: csr names %q but the token is for door %q", cn, door)
	}
	if validity <= 0 || validity > 365*24*time.Hour {
		return nil, fmt.Errorf("enroll: door certificate validity %v out of range", validity)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: door, OrganizationalUnit: []string{UnitDoor}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("enroll: sign door certificate: %w", err)
	}
	return pemBlock("CERTIFICATE", der), nil
}

// IssueServer issues a TLS server certificate (and a new key, PEM) for the
// broker, valid for the given DNS names and IP addresses.
func (ca *CA) IssueServer(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	return ca.issue(pkix.Name{CommonName: "swc-broker"}, hosts, x509.ExtKeyUsageServerAuth, ServerValidity, now)
}

// IssueClient issues a client certificate (and a new key) for a service such
// as the central's own MQTT client; name becomes the subject CN, which
// Mosquitto uses as the user name.
func (ca *CA) IssueClient(name string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	if err := protocol.ValidID(name); err != nil {
		return nil, nil, fmt.Errorf("enroll: client name %q: %w", name, err)
	}
	return ca.issue(pkix.Name{CommonName: name, OrganizationalUnit: []string{UnitService}}, nil, x509.ExtKeyUsageClientAuth, validity, now)
}

func (ca *CA) issue(subject pkix.Name, hosts []string, usage x509.ExtKeyUsage, validity time.Duration, now time.Time) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: key: %w", err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
}

// VerifyDoor checks a client certificate chain against the CA and returns the
// door id in its subject. Brokers call it on every TLS connection.
func (ca *CA) VerifyDoor(cert *x509.Certificate, now time.Time) (string, error) {
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return "", fmt.Errorf("enroll: client certificate: %w", err)
	}
	door := cert.Subject.CommonName
	if err := protocol.ValidID(door); err != nil {
		return "", fmt.Errorf("enroll: client certificate subject %q: %w", door, err)
	}
	return door, nil
}

// IdentifyClient is Identify now. It implements broker.ClientIdentifier.
func (ca *CA) IdentifyClient(_ context.Context, cert *x509.Certificate) (name string, service bool, err error) {
	return ca.Identify(cert, time.Now())
}

// Identify verifies a client certificate against the CA at now and returns
// whom it names: a door (OU door, CN = door id) or a service (OU service,
// CN = the service's name, service true).
func (ca *CA) Identify(cert *x509.Certificate, now time.Time) (name string, service bool, err error) {
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return "", false, fmt.Errorf("enroll: client certificate: %w", err)
	}
	name = cert.Subject.CommonName
	if err := protocol.ValidID(name); err != nil {
		return "", false, fmt.Errorf("enroll: client certificate subject %q: %w", name, err)
	}
	switch ou := cert.Subject.OrganizationalUnit; {
	case len(ou) == 1 && ou[0] == UnitDoor:
		return name, false, nil
	case len(ou) == 1 && ou[0] == UnitService:
		return name, true, nil
	default:
		return "", false, fmt.Errorf("enroll: client certificate %q: organizational unit %q is neither %q nor %q", name, ou, UnitDoor, UnitService)
	}
}

// Fingerprint is the SHA-256 of the CA certificate, "sha256:<hex>": what a
// technician gives `swc-edge provision --ca-fingerprint` to trust the
// central's HTTPS certificate.
func (ca *CA) Fingerprint() string { return pki.Fingerprint(ca.cert) }

// Cert returns the CA certificate.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// NewKey creates a door's own P-256 key, in PEM.
func NewKey() ([]byte, error) {
	_, keyPEM, err := pki.NewKey()
	return keyPEM, err
}

// NewCSR makes a certificate request for door signed by keyPEM.
func NewCSR(keyPEM []byte, door string) ([]byte, error) {
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return pki.NewCSR(key, door)
}

// KeyPair builds a tls.Certificate from PEM certificate and key.
func KeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("enroll: key pair: %w", err)
	}
	return c, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("enroll: crypto/rand failed: %v", err))
	}
	return n
}

func keyID(pub *ecdsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return sum[:20]
}
