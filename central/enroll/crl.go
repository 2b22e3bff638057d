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
	// step, whenever a certificate is revoked and once a month.
	CRLFile = "crl.pem"
	// IssuedFile is where a central kept the door certificates it issued
	// before the store did (migration 0023). Revocations.ImportFile moves
	// its records into the store once, then renames it IssuedFile +
	// ImportedSuffix (kept as a backup, never written again).
	IssuedFile     = "door-certs.json"
	ImportedSuffix = ".imported"
)

// CRLValidity is the CRL's NextUpdate from when it is written; the list is
// written again once per CRLPeriod, so that less than CRLRenewBefore is
// never left. A broker must never hold an expired CRL: OpenSSL then
// refuses every door ("CRL has expired"), so the margin is long enough for
// a central that is down for months.
const (
	CRLValidity    = 365 * 24 * time.Hour
	CRLRenewBefore = 335 * 24 * time.Hour
	// CRLPeriod: the periods are counted from the Unix epoch, the same for
	// every replica, and number the CRL (CRLNumber).
	CRLPeriod = CRLValidity - CRLRenewBefore
)

// CRLNumber is the number of the CRL of the store's revision during the
// period that holds now: period × 10^12 + revision, where period counts
// CRLPeriods since the Unix epoch and revision counts the certificates
// ever revoked (store.Revocations.Revision). Every replica computes the
// same number for the same store state, it grows with each revocation and
// each month, and it never goes down (revocations are never undone nor
// their records deleted); a number read in decimal shows both parts.
func CRLNumber(now time.Time, revision int64) *big.Int {
	n := new(big.Int).Mul(big.NewInt(now.UnixMilli()/CRLPeriod.Milliseconds()), big.NewInt(1_000_000_000_000))
	return n.Add(n, big.NewInt(revision))
}

// periodStart is the start of the CRLPeriod that holds now.
func periodStart(now time.Time) time.Time {
	p := CRLPeriod.Milliseconds()
	return time.UnixMilli(now.UnixMilli() / p * p)
}

// Revocations keeps the door CA's certificate revocation list for an
// external Mosquitto. It records every door certificate the CA issues in
// the store (store.DoorCertStore), which revokes them: a door enrolled
// again with another key (as after a stolen SD card) supersedes the
// certificates of its earlier keys, a removed door's certificates are
// revoked, and a certificate can be revoked explicitly. This is the rule
// the embedded broker applies on every connection (DoorIdentity); a
// renewal keeps the door's key, so the certificate it replaces stays
// valid until it expires, as on the embedded broker.
//
// The list is computed from the store alone: every replica writes the
// same entries and the same number (CRLNumber) for the same store state,
// into its own data folder (CRLFile, replaced in one step). It lists the
// revoked certificates unexpired at the start of the current CRLPeriod;
// they leave it, with the next period, once expired.
type Revocations struct {
	ca    *CA
	dir   string
	certs store.DoorCertStore
	now   func() time.Time
	log   *slog.Logger

	written *metrics.CounterVec
	revoked *metrics.Gauge

	mu sync.Mutex // one Refresh at a time
}

// RevocationsConfig configures NewRevocations.
type RevocationsConfig struct {
	CA      *CA
	Dir     string              // the central's data folder
	Certs   store.DoorCertStore // the store's record of door certificates
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *metrics.Registry
}

// NewRevocations checks the configuration.
func NewRevocations(cfg RevocationsConfig) (*Revocations, error) {
	if cfg.CA == nil || cfg.Certs == nil || cfg.Dir == "" {
		return nil, errors.New("enroll: RevocationsConfig.CA, Certs and Dir are required")
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
	return &Revocations{
		ca: cfg.CA, dir: cfg.Dir, certs: cfg.Certs, now: cfg.Now, log: cfg.Logger.With("component", "crl"),
		written: cfg.Metrics.CounterVec("swc_crl_writes_total", "Writes of the door CA's certificate revocation list (crl.pem), by result.", "result"),
		revoked: cfg.Metrics.Gauge("swc_crl_revoked_certificates", "Unexpired door certificates on the revocation list."),
	}, nil
}

// Path returns the CRL file's path.
func (r *Revocations) Path() string { return filepath.Join(r.dir, CRLFile) }

// Issued records a door certificate the CA just issued (PEM); renewal
// tells a renewal (the door's enrolled key) from an enrollment's
// certificate (store.DoorCertStore.RecordDoorCert).
func (r *Revocations) Issued(ctx context.Context, certPEM []byte, renewal bool) error {
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		return fmt.Errorf("enroll: issued certificate: %w", err)
	}
	fp, err := KeyFingerprint(cert.PublicKey)
	if err != nil {
		return err
	}
	c, err := r.certs.RecordDoorCert(ctx, store.DoorCert{Serial: cert.SerialNumber.Text(16), Door: cert.Subject.CommonName, KeySHA256: fp,
		NotBeforeMs: cert.NotBefore.UnixMilli(), NotAfterMs: cert.NotAfter.UnixMilli(), IssuedMs: r.now().UnixMilli()}, renewal)
	if err != nil {
		return fmt.Errorf("enroll: recording certificate %s of %s: %w", cert.SerialNumber.Text(16), cert.Subject.CommonName, err)
	}
	if c.RevokedMs != 0 {
		r.log.WarnContext(ctx, "door certificate revoked as it was issued", "door", c.Door, "serial", c.Serial, "reason", c.Reason)
		_, _ = r.Refresh(ctx) // logged and counted; the periodic refresh tries again
	}
	return nil
}

// Revoke revokes a recorded certificate (serial in hex) and refreshes the
// list.
func (r *Revocations) Revoke(ctx context.Context, serial string) error {
	if err := r.certs.RevokeDoorCert(ctx, serial, r.now().UnixMilli()); err != nil {
		return fmt.Errorf("enroll: revoking certificate %s: %w", serial, err)
	}
	_, err := r.Refresh(ctx)
	return err
}

// RevokeDoor revokes every recorded certificate of a door that is neither
// revoked nor expired (store.RevokedExplicit) and refreshes the list: a
// door taken out of service, or whose certificate leaked, connects no more
// through a broker that reads the list. It returns the certificates it
// revoked (none is no error: the door may have none, or all revoked).
// KeyRevoked then refuses the door's renewals with that key: only a new
// enrollment (a new key) brings the door back.
func (r *Revocations) RevokeDoor(ctx context.Context, door string) ([]store.DoorCert, error) {
	certs, err := r.certs.DoorCertsOf(ctx, door)
	if err != nil {
		return nil, fmt.Errorf("enroll: revoking the certificates of %s: %w", door, err)
	}
	now := r.now().UnixMilli()
	var out []store.DoorCert
	for _, c := range certs {
		if c.RevokedMs != 0 || c.NotAfterMs <= now {
			continue
		}
		if err := r.certs.RevokeDoorCert(ctx, c.Serial, now); err != nil {
			return out, fmt.Errorf("enroll: revoking certificate %s of %s: %w", c.Serial, door, err)
		}
		c.RevokedMs, c.Reason = now, store.RevokedExplicit
		out = append(out, c)
	}
	if _, err := r.Refresh(ctx); err != nil {
		return out, err
	}
	return out, nil
}

// KeyRevoked reports whether the newest recorded certificate of the door
// with this key (store.DoorKey's KeySHA256) was revoked explicitly
// (RevokeDoor, Revoke): the door's renewals with that key are refused
// until it enrolls again. (An enrollment that failed revokes the
// certificate it did not hand out; the door's next enrollment records a
// newer one.)
func (r *Revocations) KeyRevoked(ctx context.Context, door, keySHA256 string) (bool, error) {
	certs, err := r.certs.DoorCertsOf(ctx, door)
	if err != nil {
		return false, fmt.Errorf("enroll: certificates of %s: %w", door, err)
	}
	var newest *store.DoorCert
	for i := range certs {
		c := &certs[i]
		if c.KeySHA256 == keySHA256 && (newest == nil || c.IssuedMs > newest.IssuedMs) {
			newest = c
		}
	}
	return newest != nil && newest.Reason == store.RevokedExplicit, nil
}

// legacyCert is a record of IssuedFile.
type legacyCert struct {
	Serial     string `json:"serial"` // hex
	Door       string `json:"door"`
	KeySHA256  string `json:"key_sha256"`
	NotAfterMs int64  `json:"not_after_ms"`
	RevokedMs  int64  `json:"revoked_ms,omitempty"`
}

// ImportFile moves the records of IssuedFile, when the data folder holds
// one, into the store (store.DoorCertStore.ImportDoorCerts: what the store
// knows is skipped, so a second import, as after a failed rename, changes
// nothing), then renames the file with ImportedSuffix. It returns how many
// certificates were new to the store. A damaged file is an error (restore
// it from a backup), so that revocations are never silently forgotten.
// The file knew neither when a certificate was issued nor its NotBefore:
// they are 0 in the store.
func (r *Revocations) ImportFile(ctx context.Context) (int, error) {
	path := filepath.Join(r.dir, IssuedFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("enroll: %w", err)
	}
	var st struct {
		Certs []legacyCert `json:"certs"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("enroll: %s: %w (restore it from a backup; without it re-enrolled doors' old certificates are not revoked)", path, err)
	}
	now := r.now().UnixMilli()
	certs := make([]store.DoorCert, 0, len(st.Certs))
	for i, c := range st.Certs {
		serial, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok || serial.Sign() <= 0 {
			return 0, fmt.Errorf("enroll: %s: certificate %d: serial %q: not a hexadecimal number", path, i+1, c.Serial)
		}
		dc := store.DoorCert{Serial: serial.Text(16), Door: c.Door, KeySHA256: c.KeySHA256, NotAfterMs: c.NotAfterMs, RevokedMs: c.RevokedMs}
		if c.RevokedMs != 0 {
			dc.Reason = store.RevokedSuperseded // the file did not say; the store's rule of the time
		}
		if err := dc.Validate(); err != nil {
			return 0, fmt.Errorf("enroll: %s: certificate %d: %w", path, i+1, err)
		}
		certs = append(certs, dc)
	}
	n, err := r.certs.ImportDoorCerts(ctx, certs, now)
	if err != nil {
		return 0, fmt.Errorf("enroll: %s: %w", path, err)
	}
	r.log.InfoContext(ctx, "door certificates moved from the data folder into the store", "path", path, "certificates", len(certs), "new", n)
	if err := os.Rename(path, path+ImportedSuffix); err != nil {
		return n, fmt.Errorf("enroll: %s imported but not renamed (it is imported again, harmlessly, at the next start): %w", path, err)
	}
	return n, nil
}

// Refresh writes the CRL when the store's revocations differ from the
// file's, when the file is missing, damaged or not this CA's, when a new
// CRLPeriod began, or when the file's NextUpdate is near (a clock that
// jumped). It reports whether a CRL was written.
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
	revs, err := r.certs.RevokedDoorCerts(ctx, periodStart(now).UnixMilli())
	if err != nil {
		return false, fmt.Errorf("enroll: crl: %w", err)
	}
	r.revoked.Set(float64(len(revs.Certs)))
	number := CRLNumber(now, revs.Revision)
	old := r.current()
	listed := map[string]bool{}
	if old != nil {
		for _, e := range old.RevokedCertificateEntries {
			listed[e.SerialNumber.Text(16)] = true
		}
	}
	same := old != nil && len(listed) == len(revs.Certs) && !slices.ContainsFunc(revs.Certs, func(c store.DoorCert) bool { return !listed[c.Serial] })
	if same && old.Number != nil && old.Number.Cmp(number) >= 0 && old.NextUpdate.Sub(now) >= CRLRenewBefore {
		return false, nil
	}
	if old != nil && old.Number != nil && old.Number.Cmp(number) >= 0 {
		// The clock went back across a period: the number still grows.
		number = new(big.Int).Add(old.Number, big.NewInt(1))
	}
	der, err := r.ca.crl(number, revs.Certs, now)
	if err != nil {
		return false, err
	}
	if err := atomicfile.Write(r.Path(), pemBlock("X509 CRL", der), 0o644); err != nil {
		return false, fmt.Errorf("enroll: crl: %w", err)
	}
	for _, c := range revs.Certs {
		if !listed[c.Serial] {
			r.log.InfoContext(ctx, "door certificate revoked", "door", c.Door, "serial", c.Serial, "reason", c.Reason,
				"revoked", time.UnixMilli(c.RevokedMs).UTC())
		}
	}
	r.log.InfoContext(ctx, "certificate revocation list written", "path", r.Path(), "number", number, "revoked", len(revs.Certs))
	return true, nil
}

// Run refreshes the CRL every interval until ctx ends (changes whose
// notice was lost, and the CRL's monthly rewrite).
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

// current returns the CRL file's list, or nil when it is missing,
// unreadable or not this CA's.
func (r *Revocations) current() *x509.RevocationList {
	b, err := os.ReadFile(r.Path())
	if err != nil {
		return nil
	}
	crl, err := ParseCRL(b)
	if err != nil || crl.CheckSignatureFrom(r.ca.cert) != nil {
		return nil
	}
	return crl
}

// crl signs a CRL of certs numbered number. ThisUpdate is a little in the
// past, for brokers whose clock is a little behind.
func (ca *CA) crl(number *big.Int, certs []store.DoorCert, now time.Time) ([]byte, error) {
	tmpl := &x509.RevocationList{
		Number:     number,
		ThisUpdate: now.Add(-5 * time.Minute),
		NextUpdate: now.Add(CRLValidity),
	}
	for _, c := range certs {
		serial, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("enroll: crl: serial %q of %s: not hexadecimal", c.Serial, c.Door)
		}
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
