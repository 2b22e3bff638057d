// Package enroll is the door's side of enrollment: its own key pair, the
// certificate request, the HTTPS exchange with the central that turns a
// one-time token into the door's certificate and settings, the checks on
// every certificate the door is handed, and the files and configuration
// `swc-edge provision` writes. The MQTT sync uses it to renew the
// certificate before it expires.
package enroll

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// File names in the door's data folder.
const (
	KeyFile  = "door-key.pem" // the door's private key (0600; it never leaves the door)
	CertFile = "door.pem"     // the door's client certificate (CN = door id)
	CAFile   = "ca.pem"       // the central's CA
)

// Files are the paths of the door's identity files.
type Files struct{ Key, Cert, CA string }

// FilesIn returns the identity files in a data folder.
func FilesIn(dataDir string) Files {
	return Files{Key: filepath.Join(dataDir, KeyFile), Cert: filepath.Join(dataDir, CertFile), CA: filepath.Join(dataDir, CAFile)}
}

// NewKey makes a door key: ECDSA P-256, PKCS #8 PEM.
func NewKey() (crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey parses a PKCS #8 PEM private key.
func ParseKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("enroll: not a PEM PRIVATE KEY")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("enroll: private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("enroll: private key cannot sign")
	}
	return s, nil
}

// LoadKey reads the door's key file.
func LoadKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enroll: key file: %w", err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// NewCSR makes a PEM certificate request signed by key; cn may be empty
// (at enrollment the token names the door).
func NewCSR(key crypto.Signer, cn string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return nil, fmt.Errorf("enroll: certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ParseCertificate parses the first PEM certificate.
func ParseCertificate(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM CERTIFICATE")
	}
	return x509.ParseCertificate(block.Bytes)
}

// Fingerprint is a certificate's SHA-256, "sha256:<hex>", as the central
// shows its CA's.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CheckCertificate checks a certificate handed to the door: it chains to
// the CA (at now, for client authentication), names this door, and carries
// the door's own public key.
func CheckCertificate(certPEM, caPEM []byte, door string, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("CA: no PEM certificate in it")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if cert.Subject.CommonName != door {
		return nil, fmt.Errorf("certificate names %q, not this door %q", cert.Subject.CommonName, door)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if k, ok := pub.(equaler); !ok || !k.Equal(cert.PublicKey) {
		return nil, errors.New("certificate carries another key than the door's")
	}
	return cert, nil
}

// NeedsRenewal reports whether less than a third of the certificate's
// lifetime is left at now.
func NeedsRenewal(cert *x509.Certificate, now time.Time) bool {
	life := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotAfter.Sub(now) < life/3
}

// RenewalRequest builds the door's renewal request from its key file.
func RenewalRequest(f Files, door string) (*protocol.CertRequest, error) {
	key, err := LoadKey(f.Key)
	if err != nil {
		return nil, err
	}
	csr, err := NewCSR(key, door)
	if err != nil {
		return nil, err
	}
	return &protocol.CertRequest{V: protocol.Version, Door: door, CSR: string(csr)}, nil
}

// InstallRenewed checks a renewed certificate (CheckCertificate against the
// CA file and key file, and it must last longer than the one in place) and
// replaces the certificate file with it, atomically: the next connection
// uses it.
func InstallRenewed(f Files, door string, certPEM []byte, now time.Time) (*x509.Certificate, error) {
	key, err := LoadKey(f.Key)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	cert, err := CheckCertificate(certPEM, caPEM, door, key.Public(), now)
	if err != nil {
		return nil, err
	}
	if cur, err := os.ReadFile(f.Cert); err == nil {
		if old, err := ParseCertificate(cur); err == nil && !cert.NotAfter.After(old.NotAfter) {
			return nil, fmt.Errorf("the renewed certificate ends %s, not after the current one (%s)", cert.NotAfter.UTC().Format(time.RFC3339), old.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	if err := WriteFileAtomic(f.Cert, certPEM, 0o644); err != nil {
		return nil, err
	}
	return cert, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder, synced and renamed over path, with the given mode; the folder is
// synced too, so the new file survives a power cut.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	fail := func(err error) error {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
