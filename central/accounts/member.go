package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// Errors of the members' sign-in. Pages show each as its own message;
// none of them tells whether an address belongs to a member.
var (
	// ErrMailDisabled: no SMTP relay is configured, so no code can be sent
	// (passkeys still work).
	ErrMailDisabled = errors.New("accounts: e-mail sign-in is not available (no SMTP relay configured)")
	// ErrRateLimited: too many requests or attempts for the address or
	// from the client in the current window.
	ErrRateLimited = errors.New("accounts: too many attempts; try again later")
	// ErrWrongCode: the code does not match; others may be tried
	// (WrongCodeError says how many).
	ErrWrongCode = errors.New("accounts: wrong code")
	// ErrCodeDead: the pending sign-in is unknown, expired, used, or its
	// code was tried too often: ask for a new code.
	ErrCodeDead = errors.New("accounts: the code expired or was used; ask for a new one")
	// ErrPasskeysDisabled: no public URL is configured, so the relying
	// party is unknown.
	ErrPasskeysDisabled = errors.New("accounts: passkeys are not available (no public URL configured)")
	// ErrPasskeyRefused: the passkey ceremony failed (unknown credential,
	// bad signature, expired ceremony, suspected clone).
	ErrPasskeyRefused = errors.New("accounts: passkey refused")
)

// WrongCodeError is ErrWrongCode with the tries left.
type WrongCodeError struct{ Left int }

func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("%v (%d tries left)", ErrWrongCode, e.Left)
}

// Is makes errors.Is(err, ErrWrongCode) true.
func (e *WrongCodeError) Is(target error) bool { return target == ErrWrongCode }

// Limits bound code requests and sign-in attempts per fixed window. Zero
// fields take the defaults.
type Limits struct {
	Window              time.Duration // default 1 h
	CodesPerAddress     int           // code requests per address (default 5)
	CodesPerClient      int           // code requests per client IP (default 20)
	AttemptsPerAddress  int           // wrong codes per address (default 10; each code also dies after 5); past it, wrong codes answer ErrRateLimited
	AttemptsPerClient   int           // code and passkey sign-in attempts per client IP (default 30)
	CeremoniesPerClient int           // passkey sign-ins begun per client IP (default 60)
}

func (l *Limits) defaults() {
	if l.Window <= 0 {
		l.Window = time.Hour
	}
	for _, f := range []struct {
		v *int
		d int
	}{{&l.CodesPerAddress, 5}, {&l.CodesPerClient, 20}, {&l.AttemptsPerAddress, 10}, {&l.AttemptsPerClient, 30}, {&l.CeremoniesPerClient, 60}} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
}

// Code lifetime and tries.
const (
	CodeTTL         = 10 * time.Minute
	MaxCodeAttempts = 5
	ceremonyTTL     = 5 * time.Minute
)

// MemberConfig configures Members.
type MemberConfig struct {
	Store store.Store
	// Mail sends the codes; nil: e-mail sign-in is not available.
	Mail *mail.Outbox
	// PublicURL is the address members reach the site at
	// ("https://swc.example.org", "http://localhost:8080" in tests): its
	// host is the WebAuthn relying party's ID and the URL's origin the only
	// one accepted. "": passkeys are not available (ErrPasskeysDisabled).
	PublicURL string
	// SiteName is shown by authenticators (default "Smart Work Centers").
	SiteName string
	Limits   Limits
	Metrics  *metrics.Registry
	Logger   *slog.Logger
	Now      func() time.Time
}

// Members signs members in with e-mail codes and passkeys.
type Members struct {
	cfg MemberConfig
	st  store.MemberAuthStore
	all store.Store
	wa  *webauthn.WebAuthn
	log *slog.Logger

	codes, signins, limited *metrics.CounterVec
	clones                  *metrics.Counter
}

// NewMembers checks cfg and returns Members.
func NewMembers(cfg MemberConfig) (*Members, error) {
	if cfg.Store == nil {
		return nil, errors.New("accounts: a store is required")
	}
	if cfg.SiteName == "" {
		cfg.SiteName = "Smart Work Centers"
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Limits.defaults()
	var wa *webauthn.WebAuthn
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
			return nil, fmt.Errorf("accounts: public URL %q: want https://host[:port] (the members' site)", cfg.PublicURL)
		}
		wa, err = webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: cfg.SiteName,
			RPOrigins: []string{u.Scheme + "://" + u.Host}})
		if err != nil {
			return nil, fmt.Errorf("accounts: webauthn: %w", err)
		}
	}
	r := cfg.Metrics
	return &Members{cfg: cfg, st: cfg.Store.MemberAuth(), all: cfg.Store, wa: wa, log: cfg.Logger.With("component", "accounts"),
		codes:   r.CounterVec("swc_member_code_requests_total", "Members' e-mail code requests, by result (sent, no_member, refused, limited).", "result"),
		signins: r.CounterVec("swc_member_signins_total", "Members' sign-in attempts, by method (code, passkey) and result (ok, wrong, dead, refused, limited).", "method", "result"),
		limited: r.CounterVec("swc_member_rate_limited_total", "Members' sign-in requests refused by a rate limit, by limit.", "limit"),
		clones:  r.Counter("swc_member_passkey_clone_warnings_total", "Passkey sign-ins refused because the signature counter did not increase (a cloned authenticator?)."),
	}, nil
}

// PasskeysEnabled reports whether passkeys can be used (a public URL is
// configured).
func (m *Members) PasskeysEnabled() bool { return m.wa != nil }

// MailEnabled reports whether codes can be sent by e-mail.
func (m *Members) MailEnabled() bool { return m.cfg.Mail != nil }

// limit counts one event against a limit and refuses it past max.
func (m *Members) limit(ctx context.Context, name, subject string, max int) error {
	n, err := m.st.Hit(ctx, name+":"+subject, m.cfg.Now().UnixMilli(), m.cfg.Limits.Window.Milliseconds())
	if err != nil {
		return err
	}
	if n > max {
		m.limited.With(name).Inc()
		m.log.WarnContext(ctx, "accounts: rate limit reached", "limit", name, "subject", subject, "count", n, "max", max)
		return ErrRateLimited
	}
	return nil
}

// overLimit reports whether the failures counted against a limit reached
// max already (the count is taken by failed).
func (m *Members) overLimit(ctx context.Context, name, subject string, max int) error {
	n, err := m.st.Hits(ctx, name+":"+subject, m.cfg.Now().UnixMilli(), m.cfg.Limits.Window.Milliseconds())
	if err != nil {
		return err
	}
	if n >= max {
		m.limited.With(name).Inc()
		m.log.WarnContext(ctx, "accounts: rate limit reached", "limit", name, "subject", subject, "count", n, "max", max)
		return ErrRateLimited
	}
	return nil
}

// failed counts a failed attempt against a limit.
func (m *Members) failed(ctx context.Context, name, subject string) {
	if _, err := m.st.Hit(ctx, name+":"+subject, m.cfg.Now().UnixMilli(), m.cfg.Limits.Window.Milliseconds()); err != nil {
		m.log.WarnContext(ctx, "accounts: count a failed sign-in", "limit", name, "err", err)
	}
}

// addressKey names an e-mail address in counters and logs without
// writing it out.
func addressKey(email string) string {
	h := sha256.Sum256([]byte(email))
	return hex.EncodeToString(h[:8])
}

// normEmail lower-cases and trims an address.
func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Purge deletes expired codes and rate-limit windows (run it now and then;
// serve does at each code request).
func (m *Members) Purge(ctx context.Context) error {
	now := m.cfg.Now().UnixMilli()
	if _, err := m.st.PurgeSignInCodes(ctx, now); err != nil {
		return err
	}
	_, err := m.st.PurgeHits(ctx, now)
	return err
}
