package enroll

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/shared/atomicfile"
)

// Certs hands out a certificate issued by the CA in memory, and issues a
// new one when a third of its lifetime is left: the central's TLS server
// certificate (for the API and the embedded broker) or its own MQTT client
// certificate. The chain includes the CA certificate, so that a client
// pinning the CA's fingerprint finds it.
type Certs struct {
	issue    func(now time.Time) (certPEM, keyPEM []byte, err error)
	validity time.Duration
	now      func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	renewAt time.Time
}

func (ca *CA) certs(issue func(time.Time) ([]byte, []byte, error), validity time.Duration, now func() time.Time) (*Certs, error) {
	if now == nil {
		now = time.Now
	}
	c := &Certs{issue: issue, validity: validity, now: now}
	if _, err := c.get(); err != nil {
		return nil, err
	}
	return c, nil
}

// ServerCerts issues server certificates for hosts (names and IP
// addresses); now is the clock (nil: time.Now).
func (ca *CA) ServerCerts(hosts []string, now func() time.Time) (*Certs, error) {
	if len(hosts) == 0 {
		return nil, errors.New("enroll: a server certificate needs at least one host name or address")
	}
	hosts = append([]string(nil), hosts...)
	return ca.certs(func(t time.Time) ([]byte, []byte, error) {
		c, k, err := ca.IssueServer(hosts, t)
		return append(c, ca.CertPEM()...), k, err
	}, ServerValidity, now)
}

// ServiceCerts issues client certificates for the central's own service
// user (OU service).
func (ca *CA) ServiceCerts(name string, now func() time.Time) (*Certs, error) {
	return ca.certs(func(t time.Time) ([]byte, []byte, error) {
		c, k, err := ca.IssueClient(name, ServiceCertDefault, t)
		return append(c, ca.CertPEM()...), k, err
	}, ServiceCertDefault, now)
}

func (c *Certs) get() (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.cert != nil && now.Before(c.renewAt) {
		return c.cert, nil
	}
	certPEM, keyPEM, err := c.issue(now)
	if err != nil {
		return nil, err
	}
	kp, err := KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	c.cert, c.renewAt = &kp, now.Add(c.validity*2/3)
	return c.cert, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.get() }

// GetClientCertificate is tls.Config.GetClientCertificate.
func (c *Certs) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return c.get()
}

// TLSConfig is a server configuration serving these certificates.
func (c *Certs) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
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
	// CRL is the revocation list Mosquitto's crlfile names: left as it is
	// when dir holds one, else a list of no certificates, which the central's
	// own (CRLFile in its data folder) replaces.
	CRL      string
	NotAfter time.Time
}

// WriteBrokerFiles writes what an operator installing Mosquitto needs into
// dir: the CA certificate (ca.pem), the broker's server certificate for
// hosts and its key (broker.pem, broker-key.pem), and the central's own
// client certificate with CN service and its key (swc-central.pem,
// swc-central-key.pem), which `swc-central serve --broker mqtts://...`
// presents, and a certificate revocation list (crl.pem, Mosquitto's
// crlfile) when dir holds none. Keys are written 0600. Existing files are
// replaced, except crl.pem: the central's own list is newer.
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
		CRL: filepath.Join(dir, CRLFile),
	}
	if _, err := os.Stat(f.CRL); errors.Is(err, os.ErrNotExist) {
		crl, err := ca.crl(big.NewInt(0), nil, now)
		if err != nil {
			return BrokerFiles{}, err
		}
		if err := atomicfile.Write(f.CRL, pemBlock("X509 CRL", crl), 0o644); err != nil {
			return BrokerFiles{}, err
		}
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.CA, ca.CertPEM(), 0o644}, {f.BrokerKey, srvKey, 0o600}, {f.BrokerCert, srv, 0o644},
		{f.ServiceKey, svcKey, 0o600}, {f.ServiceCert, svc, 0o644},
	} {
		if err := atomicfile.Write(w.path, w.data, w.mode); err != nil {
			return BrokerFiles{}, err
		}
	}
	return f, nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
