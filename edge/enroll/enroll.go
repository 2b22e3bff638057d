// Package enroll is the door's side of enrollment: its own key pair, the
// certificate request, the HTTPS exchange with the central that turns a
// one-time token into the door's certificate and settings, the checks on
// every certificate the door is handed, and the files and configuration
// `swc-edge provision` writes. The MQTT sync uses it to renew the
// certificate before it expires.
package enroll

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smartworkcenters/swc/shared/atomicfile"
	"github.com/smartworkcenters/swc/shared/pki"
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

// LoadKey reads the door's key file.
func LoadKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enroll: key file: %w", err)
	}
	k, err := pki.ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// CheckCertificate checks a certificate handed to the door: it chains to
// the CA (at now, for client authentication), names this door, and carries
// the door's own public key.
func CheckCertificate(certPEM, caPEM []byte, door string, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	cert, err := pki.ParseCertificate(certPEM)
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
	csr, err := pki.NewCSR(key, door)
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
		if old, err := pki.ParseCertificate(cur); err == nil && !cert.NotAfter.After(old.NotAfter) {
			return nil, fmt.Errorf("the renewed certificate ends %s, not after the current one (%s)", cert.NotAfter.UTC().Format(time.RFC3339), old.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	if err := atomicfile.Write(f.Cert, certPEM, 0o644); err != nil {
		return nil, err
	}
	return cert, nil
}
