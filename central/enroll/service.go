package enroll

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Store is what enrollment needs from the central's store.
type Store interface {
	Door(ctx context.Context, id string) (domain.Door, error)
	CreateEnrollmentToken(ctx context.Context, e store.EnrollmentToken, secret string) error
	RedeemEnrollment(ctx context.Context, secret string, key store.DoorKey) (store.EnrollmentToken, error)
	CheckEnrollment(ctx context.Context, secret string, atMs int64) (store.EnrollmentToken, error)
	DoorKey(ctx context.Context, door string) (store.DoorKey, error)
	EventSeq(ctx context.Context, door string) (store.SeqState, error)
}

// ErrInvalid marks a request refused for its contents (a bad certificate
// request, a door id the CA does not certify); test with errors.Is.
var ErrInvalid = errors.New("invalid enrollment request")

// ErrWrongDoor refuses a certificate request that names another door than
// the one its token was made for (it wraps ErrInvalid too).
var ErrWrongDoor = fmt.Errorf("%w: the request names another door than its token", ErrInvalid)

// TokenPrefix starts every enrollment token, so a technician (and a log
// scanner) can tell it from an API token.
const TokenPrefix = "swce_"

// Config configures the enrollment service.
type Config struct {
	CA    *CA
	Store Store
	// SigningKeys are the central's signing keys ("ed25519:<base64>") that
	// doors pin.
	SigningKeys []string
	// Broker is the address doors connect to, such as
	// mqtts://central.example.org:8883.
	Broker string
	// TopicPrefix is the MQTT topic prefix ("" for the default).
	TopicPrefix string
	// DoorValidity is the lifetime of door certificates (DoorValidity).
	DoorValidity time.Duration
	// ServiceUsername is the central's MQTT user: door ids starting with it
	// get no certificate (brokers would take them for the central).
	ServiceUsername string
	// CertIssued, when set, is told the expiry of every certificate issued
	// to a door (enrollment and renewal; central/alerts watches it). Its
	// error is logged: the door still gets its certificate.
	CertIssued func(ctx context.Context, door string, notAfter time.Time) error
	// Revocations, when set, records every door certificate issued (an
	// enrollment or renewal fails when it cannot) and is refreshed after
	// each enrollment, which revokes the door's earlier certificates.
	Revocations *Revocations
	Now         func() time.Time
	Logger      *slog.Logger
	Metrics     *metrics.Registry
}

// Service enrolls doors and renews their certificates.
type Service struct {
	cfg      Config
	log      *slog.Logger
	enrolls  *metrics.CounterVec
	renewals *metrics.CounterVec
}

// NewService checks the configuration.
func NewService(cfg Config) (*Service, error) {
	if cfg.CA == nil || cfg.Store == nil {
		return nil, errors.New("enroll: Config.CA and Config.Store are required")
	}
	if len(cfg.SigningKeys) == 0 {
		return nil, errors.New("enroll: Config.SigningKeys is empty")
	}
	for _, k := range cfg.SigningKeys {
		if _, err := protocol.ParsePublicKey(k); err != nil {
			return nil, fmt.Errorf("enroll: signing key %q: %w", k, err)
		}
	}
	if u, err := url.Parse(cfg.Broker); err != nil || u.Host == "" {
		return nil, fmt.Errorf("enroll: broker address %q: want mqtts://host:port", cfg.Broker)
	}
	if cfg.DoorValidity == 0 {
		cfg.DoorValidity = DoorValidity
	}
	if cfg.DoorValidity < time.Hour || cfg.DoorValidity > 365*24*time.Hour {
		return nil, fmt.Errorf("enroll: door certificate validity %v: want 1h to 365 days", cfg.DoorValidity)
	}
	if err := protocol.ValidID(cfg.ServiceUsername); err != nil {
		return nil, fmt.Errorf("enroll: service username %q: %w", cfg.ServiceUsername, err)
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
	return &Service{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "enroll"),
		enrolls:  cfg.Metrics.CounterVec("swc_enrollments_total", "Door enrollments (swc-edge provision), by result.", "result"),
		renewals: cfg.Metrics.CounterVec("swc_cert_renewals_total", "Door certificate renewals over MQTT, by result.", "result"),
	}, nil
}

// CA returns the service's CA.
func (s *Service) CA() *CA { return s.cfg.CA }

// Token is a new enrollment token as shown, once, to the person who asked
// for it.
type Token struct {
	store.EnrollmentToken
	// Secret is the token itself; only its hash is stored.
	Secret string `json:"token"`
	// CAFingerprint identifies the central's CA, which signs its HTTPS
	// certificate: `swc-edge provision --ca-fingerprint` checks it.
	CAFingerprint string `json:"ca_fingerprint"`
	// Provision is the command the technician runs on the Pi.
	Provision string `json:"provision"`
}

// NewToken creates a one-time enrollment token for door, valid for ttl
// (store.DefaultEnrollmentTTL when 0), on behalf of the API token by.
// central is the URL technicians reach the API at (for the provision
// command); pinCA adds the CA fingerprint to it (when the central serves
// HTTPS with a certificate of its own CA).
func (s *Service) NewToken(ctx context.Context, door string, ttl time.Duration, by, central string, pinCA bool) (Token, error) {
	if ttl == 0 {
		ttl = store.DefaultEnrollmentTTL
	}
	if ttl < time.Minute || ttl > store.MaxEnrollmentTTL {
		return Token{}, &domain.FieldError{Field: "ttl_minutes", Message: fmt.Sprintf("%v; want 1 minute to %v", ttl, store.MaxEnrollmentTTL)}
	}
	if s.reserved(door) {
		return Token{}, fmt.Errorf("%w: door id %q starts with %q, the central's own MQTT user; give the door another id", ErrInvalid, door, s.cfg.ServiceUsername)
	}
	now := s.cfg.Now()
	t := Token{
		EnrollmentToken: store.EnrollmentToken{ID: "enr-" + randomID(), Door: door, CreatedBy: by, CreatedMs: now.UnixMilli(), ExpiresMs: now.Add(ttl).UnixMilli()},
		Secret:          store.NewSecret(TokenPrefix),
		CAFingerprint:   s.cfg.CA.Fingerprint(),
	}
	if err := s.cfg.Store.CreateEnrollmentToken(ctx, t.EnrollmentToken, t.Secret); err != nil {
		return Token{}, err
	}
	t.Provision = fmt.Sprintf("sudo swc-edge provision --central %s --door %s --token %s", central, door, t.Secret)
	if pinCA {
		t.Provision += " --ca-fingerprint " + t.CAFingerprint
	}
	s.log.InfoContext(ctx, "enrollment token created", "door", door, "token_id", t.ID, "by", by, "expires", time.UnixMilli(t.ExpiresMs).UTC())
	return t, nil
}

func (s *Service) reserved(door string) bool { return strings.HasPrefix(door, s.cfg.ServiceUsername) }

// Enroll exchanges a one-time token and a certificate request for the
// door's certificate and everything else the door needs. A used, expired or
// unknown token fails with store.ErrTokenUsed, ErrTokenExpired or
// ErrBadCredentials; a bad request with ErrInvalid (ErrWrongDoor when it
// names another door than the token's).
//
// Everything that can be checked is checked before the token is spent, so
// that a refused request leaves the token usable: the request and its key,
// the token (looked up, not spent), its door id, the door the request names
// (its subject must be empty or the token's door: `swc-edge provision
// --door` puts the door there), and the certificate itself is issued. Only
// then is the token redeemed, atomically; a certificate issued for a request
// whose redemption then fails (a concurrent use) is thrown away.
func (s *Service) Enroll(ctx context.Context, req *protocol.EnrollRequest) (_ *protocol.Enrollment, err error) {
	defer func() { s.enrolls.With(result(err)).Inc() }()
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	csr, err := CheckCSR([]byte(req.CSR))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	fp, err := KeyFingerprint(csr.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	now := s.cfg.Now()
	pending, err := s.cfg.Store.CheckEnrollment(ctx, req.Token, now.UnixMilli())
	if err != nil {
		s.log.WarnContext(ctx, "enrollment refused", "reason", result(err), "err", err)
		return nil, err
	}
	door := pending.Door
	if s.reserved(door) {
		return nil, fmt.Errorf("%w: door id %q starts with %q, the central's own MQTT user", ErrInvalid, door, s.cfg.ServiceUsername)
	}
	if cn := csr.Subject.CommonName; cn != "" && cn != door {
		s.log.WarnContext(ctx, "enrollment refused: the request names another door; the token is not spent", "door", door, "csr_door", cn, "token_id", pending.ID)
		return nil, fmt.Errorf("%w: the request names %q but the token is for door %q; the token was not spent", ErrWrongDoor, cn, door)
	}
	certPEM, err := s.cfg.CA.SignDoorCSR([]byte(req.CSR), door, s.cfg.DoorValidity, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// Recorded before the token is spent: a certificate the CRL cannot
	// know of is never handed out, and one recorded but not handed out
	// (the redemption fails) is revoked.
	if err := s.recordIssued(ctx, certPEM, false); err != nil {
		return nil, err
	}
	tok, err := s.cfg.Store.RedeemEnrollment(ctx, req.Token, store.DoorKey{KeySHA256: fp, EnrolledMs: now.UnixMilli()})
	if err != nil {
		s.log.WarnContext(ctx, "enrollment refused", "reason", result(err), "err", err)
		s.revokeUnused(ctx, certPEM)
		return nil, err
	}
	if tok.Door != door {
		return nil, fmt.Errorf("enroll: token %s is for door %s, checked for %s", tok.ID, tok.Door, door)
	}
	next := s.nextSeq(ctx, door)
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	e := &protocol.Enrollment{
		V: protocol.Version, Door: door, Certificate: string(certPEM), CA: string(s.cfg.CA.CertPEM()),
		Broker: s.cfg.Broker, SigningKeys: append([]string(nil), s.cfg.SigningKeys...), NextSeq: next,
		NotAfterMs: cert.NotAfter.UnixMilli(), TopicPrefix: s.cfg.TopicPrefix,
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("enroll: answer for %s: %w", door, err)
	}
	s.log.InfoContext(ctx, "door enrolled", "door", door, "token_id", tok.ID, "key_sha256", fp, "next_seq", e.NextSeq, "not_after", cert.NotAfter.UTC())
	s.certIssued(ctx, door, cert.NotAfter)
	if s.cfg.Revocations != nil {
		// Logged and counted by Refresh; the periodic refresh tries again.
		_, _ = s.cfg.Revocations.Refresh(ctx)
	}
	return e, nil
}

// nextSeq is the Enrollment's NextSeq: one above the highest seq the
// central holds for the door, for doors from before store identities (a
// door of today numbers every database's events in a store of its own and
// does not use it). It is bounded to 1..protocol.MaxSeq whatever the central
// holds (numbers stored before seqs were bounded, such as a forged 2^63-1),
// and a failure to read it gives 1 rather than failing an enrollment whose
// token is already spent: an old door that reuses numbers is refused as a
// conflict by the ingest, never acknowledged as duplicates.
func (s *Service) nextSeq(ctx context.Context, door string) uint64 {
	seq, err := s.cfg.Store.EventSeq(ctx, door)
	if err != nil {
		s.log.WarnContext(ctx, "enrollment: the door's event sequence could not be read; answering 1", "door", door, "err", err)
		return 1
	}
	return min(seq.Max, protocol.MaxSeq-1) + 1
}

// result labels an outcome for the counters.
func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrBadCredentials):
		return "token_unknown"
	case errors.Is(err, store.ErrTokenUsed):
		return "token_used"
	case errors.Is(err, store.ErrTokenExpired):
		return "token_expired"
	case errors.Is(err, ErrWrongDoor):
		return "wrong_door"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, store.ErrNotFound):
		return "unknown_door"
	case errors.Is(err, ErrWrongKey):
		return "wrong_key"
	case errors.Is(err, ErrRevoked):
		return "revoked"
	}
	return "error"
}

// ErrWrongKey refuses a renewal or a connection with a key other than the
// one the door enrolled with.
var ErrWrongKey = errors.New("not the key the door enrolled with")

// ErrRevoked refuses a renewal or a connection of a door whose certificate
// was revoked explicitly (swc-central door-cert revoke): the door must be
// enrolled again.
var ErrRevoked = errors.New("the door's certificate was revoked")

// Renew issues a new certificate for door (from the topic the request came
// on) from a renewal request, which must carry the key the door enrolled
// with.
func (s *Service) Renew(ctx context.Context, door string, req *protocol.CertRequest) (_ []byte, err error) {
	defer func() { s.renewals.With(result(err)).Inc() }()
	if req.Door != door {
		return nil, fmt.Errorf("%w: request names door %q on the topic of %q", ErrInvalid, req.Door, door)
	}
	if s.reserved(door) {
		return nil, fmt.Errorf("%w: door id %q is in the central's namespace", ErrInvalid, door)
	}
	csr, err := CheckCSR([]byte(req.CSR))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := s.checkKey(ctx, door, csr.PublicKey); err != nil {
		return nil, err
	}
	if err := s.checkNotRevoked(ctx, door, csr.PublicKey); err != nil {
		return nil, err
	}
	cert, err := s.cfg.CA.SignDoorCSR([]byte(req.CSR), door, s.cfg.DoorValidity, s.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := s.recordIssued(ctx, cert, true); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "door certificate renewed", "door", door)
	if c, err := pki.ParseCertificate(cert); err == nil {
		s.certIssued(ctx, door, c.NotAfter)
	}
	return cert, nil
}

// certs is the record of door certificates of Config.Revocations, if any.
func (s *Service) certs() DoorCerts {
	if s.cfg.Revocations == nil {
		return nil
	}
	return s.cfg.Revocations.certs
}

// checkNotRevoked refuses a renewal with a key whose newest certificate
// was revoked explicitly (Revocations.KeyRevoked).
func (s *Service) checkNotRevoked(ctx context.Context, door string, pub any) error {
	if s.cfg.Revocations == nil {
		return nil
	}
	fp, err := KeyFingerprint(pub)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	revoked, err := s.cfg.Revocations.KeyRevoked(ctx, door, fp)
	if err != nil {
		return err
	}
	if revoked {
		return fmt.Errorf("door %s: %w; enroll the door again (a new enrollment token) to bring it back", door, ErrRevoked)
	}
	return nil
}

// recordIssued records a new door certificate in Config.Revocations
// (renewal: it carries the door's enrolled key).
func (s *Service) recordIssued(ctx context.Context, certPEM []byte, renewal bool) error {
	if s.cfg.Revocations == nil {
		return nil
	}
	if err := s.cfg.Revocations.Issued(ctx, certPEM, renewal); err != nil {
		return fmt.Errorf("enroll: the certificate could not be recorded for revocation, so it is not issued: %w", err)
	}
	return nil
}

// revokeUnused revokes a recorded certificate that is not handed out (its
// enrollment failed). Nobody holds it, so a failure is only logged: the
// door's next enrollment with another key supersedes it anyway.
func (s *Service) revokeUnused(ctx context.Context, certPEM []byte) {
	if s.cfg.Revocations == nil {
		return
	}
	cert, err := pki.ParseCertificate(certPEM)
	if err == nil {
		err = s.cfg.Revocations.Revoke(ctx, cert.SerialNumber.Text(16))
	}
	if err != nil {
		s.log.WarnContext(ctx, "enrollment: the certificate not handed out was not revoked", "err", err)
	}
}

// certIssued hands a new certificate's expiry to Config.CertIssued.
func (s *Service) certIssued(ctx context.Context, door string, notAfter time.Time) {
	if s.cfg.CertIssued == nil {
		return
	}
	if err := s.cfg.CertIssued(ctx, door, notAfter); err != nil {
		s.log.WarnContext(ctx, "door certificate expiry not recorded", "door", door, "not_after", notAfter.UTC(), "err", err)
	}
}

// checkKey checks that pub is the key door enrolled with.
func (s *Service) checkKey(ctx context.Context, door string, pub any) error {
	return s.identity().CheckKey(ctx, door, pub)
}

func (s *Service) identity() *DoorIdentity {
	return &DoorIdentity{CA: s.cfg.CA, Keys: s.cfg.Store, ServiceUsername: s.cfg.ServiceUsername, Now: s.cfg.Now, Certs: s.certs()}
}

// HandleRenewal answers a renewal request that arrived on door's renew
// topic: the reply to publish on the door's cert topic (a certificate or the
// reason for refusing), or nil when the payload is not a renewal request of
// this door at all (it is only logged and counted).
func (s *Service) HandleRenewal(ctx context.Context, door string, payload []byte) []byte {
	req, err := protocol.DecodeCertRequest(payload)
	if err != nil {
		s.renewals.With("malformed").Inc()
		// The decoding error may quote the payload (an unknown field's name): an excerpt.
		s.log.WarnContext(ctx, "certificate renewal request refused", "door", door, "reason", protocol.Code(err),
			"err", protocol.Excerpt(err.Error(), 256), "payload_bytes", len(payload))
		return nil
	}
	reply := &protocol.CertReply{V: protocol.Version, Door: door}
	cert, err := s.Renew(ctx, door, req)
	if err != nil {
		s.log.WarnContext(ctx, "certificate renewal refused", "door", door, "reason", result(err), "err", protocol.Excerpt(err.Error(), 256))
		reply.Error = truncate("renewal refused: "+err.Error(), 256)
	} else {
		reply.Certificate = string(cert)
	}
	b, err := protocol.Encode(reply)
	if err != nil {
		s.log.ErrorContext(ctx, "certificate renewal: encoding the reply failed", "door", door, "err", err)
		return nil
	}
	return b
}

// IdentifyClient is DoorIdentity.IdentifyClient with the service's CA,
// store and clock.
func (s *Service) IdentifyClient(ctx context.Context, cert *x509.Certificate) (string, bool, error) {
	return s.identity().IdentifyClient(ctx, cert)
}

// DoorKeys gives the key each door enrolled with (the central's store).
type DoorKeys interface {
	DoorKey(ctx context.Context, door string) (store.DoorKey, error)
}

// DoorIdentity tells who a client certificate is, for the embedded
// broker's certificate listener: the CA's Identify plus, for a door, the
// check that the certificate carries the key the door enrolled with, so
// that enrolling a door again shuts out the certificates of its earlier
// keys (a stolen SD card's) and a deleted door is refused at once. It
// implements broker.ClientIdentifier.
type DoorIdentity struct {
	CA   *CA
	Keys DoorKeys
	// ServiceUsername: door ids starting with it are refused.
	ServiceUsername string
	Now             func() time.Time // default time.Now
	// Certs, when set, is the store's record of door certificates: a
	// certificate recorded as revoked is refused (an explicit revocation,
	// whose door's enrolled key still matches).
	Certs DoorCerts
}

// DoorCerts reads the store's record of door certificates
// (store.DoorCertStore).
type DoorCerts interface {
	DoorCert(ctx context.Context, serial string) (store.DoorCert, error)
}

// IdentifyClient implements broker.ClientIdentifier.
func (d *DoorIdentity) IdentifyClient(ctx context.Context, cert *x509.Certificate) (string, bool, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	name, service, err := d.CA.Identify(cert, now())
	if err != nil || service {
		return name, service, err
	}
	if d.ServiceUsername == "" || strings.HasPrefix(name, d.ServiceUsername) {
		return "", false, fmt.Errorf("door id %q is in the central's namespace", name)
	}
	if err := d.CheckKey(ctx, name, cert.PublicKey); err != nil {
		return "", false, err
	}
	if d.Certs != nil {
		serial := cert.SerialNumber.Text(16)
		c, err := d.Certs.DoorCert(ctx, serial)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Issued before the store kept a record: the key check holds.
		case err != nil:
			return "", false, fmt.Errorf("enroll: certificate %s of %s: %w", serial, name, err)
		case c.RevokedMs != 0:
			return "", false, fmt.Errorf("door %s: certificate %s (%s): %w", name, serial, c.Reason, ErrRevoked)
		}
	}
	return name, false, nil
}

// CheckKey checks that pub is the key door enrolled with.
func (d *DoorIdentity) CheckKey(ctx context.Context, door string, pub any) error {
	fp, err := KeyFingerprint(pub)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	k, err := d.Keys.DoorKey(ctx, door)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("door %s has not enrolled (or was deleted): %w", door, err)
	}
	if err != nil {
		return fmt.Errorf("enroll: key of %s: %w", door, err)
	}
	if k.KeySHA256 != fp {
		return fmt.Errorf("door %s: key %s…: %w (enrolled %s); provision the door again if its SD card was replaced",
			door, fp[:12], ErrWrongKey, time.UnixMilli(k.EnrolledMs).UTC().Format(time.RFC3339))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
