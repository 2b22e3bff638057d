package enroll

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ServerCerts hands out the central's TLS server certificate (for the API
// and the embedded broker), issued by the CA in memory for the given host
// names and addresses, and issues a new one when a third of its lifetime is
// left. The chain it serves includes the CA certificate, so that a client
// pinning the CA's fingerprint finds it.
type ServerCerts struct {
	ca    *CA
	hosts []string
	now   func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	renewAt time.Time
}

// ServerCerts issues a first certificate for hosts (names and IP addresses).
func (ca *CA) ServerCerts(hosts []string, now func() time.Time) (*ServerCerts, error) {
	if len(hosts) == 0 {
		return nil, errors.New("enroll: a server certificate needs at least one host name or address")
	}
	if now == nil {
		now = time.Now
	}
	s := &ServerCerts{ca: ca, hosts: append([]string(nil), hosts...), now: now}
	if _, err := s.GetCertificate(nil); err != nil {
		return nil, err
	}
	return s, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (s *ServerCerts) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cert != nil && now.Before(s.renewAt) {
		return s.cert, nil
	}
	certPEM, keyPEM, err := s.ca.IssueServer(s.hosts, now)
	if err != nil {
		return nil, err
	}
	kp, err := KeyPair(append(certPEM, s.ca.CertPEM()...), keyPEM)
	if err != nil {
		return nil, err
	}
	s.cert, s.renewAt = &kp, now.Add(ServerValidity*2/3)
	return s.cert, nil
}

// TLSConfig is a server configuration serving these certificates.
func (s *ServerCerts) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.GetCertificate}
}

// Files that `swc-central broker-cert` writes for an external broker.
const (
	BrokerCertFile     = "broker.pem"
	BrokerKeyFile      = "broker-key.pem"
	ServiceCertFile    = "swc-central.pem"
	ServiceKeyFile     = "swc-central-key.pem"
	ServiceCertDefault = 365 * 24 * time.Hour
)

// BrokerFiles are the paths WriteBrokerFiles wrote.
type BrokerFiles struct {
	CA, BrokerCert, BrokerKey, ServiceCert, ServiceKey string
	NotAfter                                           time.Time
}

// WriteBrokerFiles writes what an operator installing Mosquitto needs into
// dir: the CA certificate (ca.pem), the broker's server certificate for
// hosts and its key (broker.pem, broker-key.pem), and the central's own
// client certificate with CN service and its key (swc-central.pem,
// swc-central-key.pem), which `swc-central serve --broker mqtts://...`
// presents. Keys are written 0600. Existing files are replaced.
func (ca *CA) WriteBrokerFiles(dir string, hosts []string, service string, now time.Time) (BrokerFiles, error) {
	if len(hosts) == 0 {
		return BrokerFiles{}, errors.New("enroll: the broker certificate needs at least one host name or address")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return BrokerFiles{}, fmt.Errorf("enroll: %w", err)
	}
	srv, srvKey, err := ca.IssueServer(hosts, now)
	if err != nil {
		return BrokerFiles{}, err
	}
	svc, svcKey, err := ca.IssueClient(service, ServiceCertDefault, now)
	if err != nil {
		return BrokerFiles{}, err
	}
	f := BrokerFiles{
		CA: filepath.Join(dir, CACertFile), BrokerCert: filepath.Join(dir, BrokerCertFile), BrokerKey: filepath.Join(dir, BrokerKeyFile),
		ServiceCert: filepath.Join(dir, ServiceCertFile), ServiceKey: filepath.Join(dir, ServiceKeyFile), NotAfter: now.Add(ServerValidity),
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.CA, ca.CertPEM(), 0o644}, {f.BrokerKey, srvKey, 0o600}, {f.BrokerCert, srv, 0o644},
		{f.ServiceKey, svcKey, 0o600}, {f.ServiceCert, svc, 0o644},
	} {
		if err := WriteFileAtomic(w.path, w.data, w.mode); err != nil {
			return BrokerFiles{}, err
		}
	}
	return f, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder, synced and renamed over path, with the given mode.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
