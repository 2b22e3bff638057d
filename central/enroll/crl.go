package enroll

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/atomicfile"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/pki"
)

// File names of the revocation state inside the central's data folder.
const (
	// CRLFile is the certificate revocation list of the door CA (PEM "X509
	// CRL"), for an external Mosquitto's crlfile. It is rewritten, in one
	// step, whenever a certificate is revoked and before it expires.
	CRLFile = "crl.pem"
	// IssuedFile records the door certificates the CA issued (serial,
	// door, key, expiry), which the CRL is computed from.
	IssuedFile = "door-certs.json"
)

// CRLValidity is the CRL's NextUpdate from its ThisUpdate; the list is
// written again (with the same entries) when less than CRLRenewBefore is
// left, once a month. A broker must never hold an expired CRL: OpenSSL
// then refuses every door ("CRL has expired"), so the margin is long
// enough for a central that is down for months.
const (
	CRLValidity    = 365 * 24 * time.Hour
	CRLRenewBefore = 335 * 24 * time.Hour
)

// IssuedCert is a door certificate the CA issued.
type IssuedCert struct {
	Serial     string `json:"serial"` // hex
	Door       string `json:"door"`
	KeySHA256  string `json:"key_sha256"`
	NotAfterMs int64  `json:"not_after_ms"`
	// RevokedMs is when the certificate was found revoked (its door was
	// enrolled again with another key, or removed); 0 while it is valid.
	// A revocation is never undone.
	RevokedMs int64 `json:"revoked_ms,omitempty"`
}

// issuedState is IssuedFile's content.
type issuedState struct {
	// CRLNumber is the number of the last CRL written (RFC 5280 cRLNumber).
	CRLNumber int64        `json:"crl_number"`
	Certs     []IssuedCert `json:"certs"`
}

// Revocations keeps the door CA's certificate revocation list: it records
// every door certificate the CA issues, and a certificate is revoked once
// the key it carries is no longer the key its door is enrolled with (the
// door was enrolled again, as after a stolen SD card) or its door has no key
// any more (the door was removed). This is the rule the embedded broker
// applies on every connection (DoorIdentity); the CRL carries it to an
// external Mosquitto. Certificates leave the list once they expire.
//
// The state lives in the central's data folder (IssuedFile, CRLFile), each
// file replaced in one step. Certificates issued before the central kept
// this record are not known to it; they expire within DoorValidity.
type Revocations struct {
	ca   *CA
	dir  string
	keys DoorKeys
	now  func() time.Time
	log  *slog.Logger

	written *metrics.CounterVec
	revoked *metrics.Gauge

	mu    sync.Mutex
	state issuedState
}

// RevocationsConfig configures NewRevocations.
type RevocationsConfig struct {
	CA      *CA
	Dir     string   // the central's data folder
	Keys    DoorKeys // the key each door enrolled with
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *metrics.Registry
}

// NewRevocations loads the record of issued certificates from the data
// folder (an absent file is an empty record; a damaged one is an error, so
// that revocations are never silently forgotten).
func NewRevocations(cfg RevocationsConfig) (*Revocations, error) {
	if cfg.CA == nil || cfg.Keys == nil || cfg.Dir == "" {
		return nil, errors.New("enroll: RevocationsConfig.CA, Keys and Dir are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	r := &Revocations{
		ca: cfg.CA, dir: cfg.Dir, keys: cfg.Keys, now: cfg.Now, log: cfg.Logger.With("component", "crl"),
		written: cfg.Metrics.CounterVec("swc_crl_writes_total", "Writes of the door CA's certificate revocation list (crl.pem), by result.", "result"),
		revoked: cfg.Metrics.Gauge("swc_crl_revoked_certificates", "Unexpired door certificates on the revocation list."),
	}
	b, err := os.ReadFile(filepath.Join(cfg.Dir, IssuedFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("enroll: %w", err)
	default:
		if err := json.Unmarshal(b, &r.state); err != nil {
			return nil, fmt.Errorf("enroll: %s: %w (restore it from a backup; without it re-enrolled doors' old certificates are not revoked)", IssuedFile, err)
		}
		for i, c := range r.state.Certs {
			if _, ok := new(big.Int).SetString(c.Serial, 16); !ok || c.Door == "" || c.KeySHA256 == "" {
				return nil, fmt.Errorf("enroll: %s: certificate %d: serial %q, door %q, key %q: incomplete entry", IssuedFile, i, c.Serial, c.Door, c.KeySHA256)
			}
		}
	}
	return r, nil
}

// Path returns the CRL file's path.
func (r *Revocations) Path() string { return filepath.Join(r.dir, CRLFile) }

// Issued records a door certificate the CA just issued (PEM).
func (r *Revocations) Issued(certPEM []byte) error {
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		return fmt.Errorf("enroll: issued certificate: %w", err)
	}
	fp, err := KeyFingerprint(cert.PublicKey)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	next := r.state
	next.Certs = append(slices.Clip(r.state.Certs), IssuedCert{
		Serial: cert.SerialNumber.Text(16), Door: cert.Subject.CommonName, KeySHA256: fp, NotAfterMs: cert.NotAfter.UnixMilli(),
	})
	if err := r.save(next); err != nil {
		return err
	}
	r.state = next
	return nil
}

// Refresh revokes the recorded certificates whose door is now enrolled
// with another key or removed, drops the expired ones, and writes the CRL
// when its entries changed, when it is missing, or when it nears its
// NextUpdate. It reports whether a CRL was written.
func (r *Revocations) Refresh(ctx context.Context) (written bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		switch {
		case err != nil:
			r.written.With("error").Inc()
			r.log.ErrorContext(ctx, "the certificate revocation list was not updated", "path", r.Path(), "err", err)
		case written:
			r.written.With("ok").Inc()
		}
	}()
	now := r.now()
	next := issuedState{CRLNumber: r.state.CRLNumber}
	changed := false
	keys := map[string]store.DoorKey{}
	for _, c := range r.state.Certs {
		if c.NotAfterMs <= now.UnixMilli() {
			changed = changed || c.RevokedMs != 0
			continue
		}
		if c.RevokedMs == 0 {
			k, seen := keys[c.Door]
			if !seen {
				k, err = r.keys.DoorKey(ctx, c.Door)
				switch {
				case errors.Is(err, store.ErrNotFound):
					k = store.DoorKey{}
				case err != nil:
					return false, fmt.Errorf("enroll: crl: key of %s: %w", c.Door, err)
				}
				keys[c.Door] = k
			}
			if k.KeySHA256 != c.KeySHA256 {
				c.RevokedMs = now.UnixMilli()
				changed = true
				r.log.InfoContext(ctx, "door certificate revoked", "door", c.Door, "serial", c.Serial,
					"reason", map[bool]string{true: "door removed", false: "door enrolled again"}[k.KeySHA256 == ""])
			}
		}
		next.Certs = append(next.Certs, c)
	}
	if !changed && !r.crlDue(now) {
		if len(next.Certs) != len(r.state.Certs) {
			if err := r.save(next); err != nil {
				return false, err
			}
			r.state = next
		}
		return false, nil
	}
	next.CRLNumber++
	der, err := r.crl(next, now)
	if err != nil {
		return false, err
	}
	// The record first: a CRL never lists what the record forgot.
	if err := r.save(next); err != nil {
		return false, err
	}
	r.state = next
	if err := atomicfile.Write(r.Path(), pemBlock("X509 CRL", der), 0o644); err != nil {
		return false, fmt.Errorf("enroll: crl: %w", err)
	}
	r.revoked.Set(float64(countRevoked(next)))
	r.log.InfoContext(ctx, "certificate revocation list written", "path", r.Path(), "number", next.CRLNumber, "revoked", countRevoked(next))
	return true, nil
}

// Run refreshes the CRL every interval until ctx ends (door removals that
// no change notice reported, and the CRL's own NextUpdate).
func (r *Revocations) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_, _ = r.Refresh(ctx) // logged and counted by Refresh
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// crlDue reports whether the CRL file is missing, unreadable, not this
// CA's, or near its NextUpdate.
func (r *Revocations) crlDue(now time.Time) bool {
	b, err := os.ReadFile(r.Path())
	if err != nil {
		return true
	}
	crl, err := ParseCRL(b)
	if err != nil || crl.CheckSignatureFrom(r.ca.cert) != nil {
		return true
	}
	return crl.NextUpdate.Sub(now) < CRLRenewBefore
}

func (r *Revocations) crl(st issuedState, now time.Time) ([]byte, error) { return r.ca.crl(st, now) }

// crl signs the CRL of the revoked certificates of st.
func (ca *CA) crl(st issuedState, now time.Time) ([]byte, error) {
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(st.CRLNumber),
		ThisUpdate: now.Add(-5 * time.Minute),
		NextUpdate: now.Add(CRLValidity),
	}
	for _, c := range st.Certs {
		if c.RevokedMs == 0 {
			continue
		}
		serial, _ := new(big.Int).SetString(c.Serial, 16) // checked when loaded or recorded
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: serial, RevocationTime: time.UnixMilli(c.RevokedMs).UTC(),
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("enroll: crl: %w", err)
	}
	return der, nil
}

func (r *Revocations) save(st issuedState) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("enroll: %s: %w", IssuedFile, err)
	}
	if err := atomicfile.Write(filepath.Join(r.dir, IssuedFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	return nil
}

func countRevoked(st issuedState) int {
	n := 0
	for _, c := range st.Certs {
		if c.RevokedMs != 0 {
			n++
		}
	}
	return n
}

// ParseCRL parses a PEM "X509 CRL".
func ParseCRL(pemBytes []byte) (*x509.RevocationList, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "X509 CRL" {
		return nil, errors.New("enroll: not a PEM X509 CRL")
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("enroll: crl: %w", err)
	}
	return crl, nil
}
