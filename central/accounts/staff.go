package accounts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// Errors of the staff sign-in and management. They wrap into *Error with
// the field concerned where there is one.
var (
	// ErrBadCredentials: wrong e-mail, password, code or link (the answer
	// never tells which).
	ErrBadCredentials = store.ErrBadCredentials
	// ErrForbidden: the caller's role may not do this (a manager inviting
	// an admin; a technician managing accounts).
	ErrForbidden = errors.New("not allowed for this role")
	// ErrExpired: the link is too old.
	ErrExpired = store.ErrTokenExpired
)

// Error is a refusal naming the field concerned.
type Error struct {
	Kind    error
	Field   string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("accounts: %s: %s", e.Field, e.Message) }
func (e *Error) Unwrap() error { return e.Kind }

// Limits of sign-in (per account, per client address), and lifetimes.
const (
	AccountFailures = 5                // failed steps of one account within FailureWindow
	AddressFailures = 30               // failed steps from one address within FailureWindow
	FailureWindow   = 15 * time.Minute // a lock lifts when its failures age out
	InviteTTL       = 72 * time.Hour
	ResetTTL        = time.Hour
	ResetMails      = 3               // reset links sent per account and hour
	TicketTTL       = 5 * time.Minute // between the password and the second factor
	// StaffPrincipalPrefix starts the id of an account's principal
	// (Principal): API token ids may not start with it
	// (store.StaffPrincipalPrefix), so the two never collide, and the id
	// stays a valid id where one is recorded (a command's sender, a
	// badge's AddedBy).
	StaffPrincipalPrefix = store.StaffPrincipalPrefix
	// DefaultIssuer names the service in authenticator apps.
	DefaultIssuer = "Smart Work Centers"
)

// Config configures a Service.
type Config struct {
	Store store.Store
	// Mail sends invitations and reset links (nil: not sent; Invite still
	// returns the link, for the CLI).
	Mail *mail.Outbox
	// BaseURL is the central's public address, for links in e-mails
	// (such as "https://central.example"; "" makes relative links).
	BaseURL string
	Issuer  string         // shown in authenticator apps (default DefaultIssuer)
	Params  PasswordParams // argon2id costs (zero: DefaultParams)
	// TOTPKey (32 bytes) encrypts the TOTP secrets at rest (totp_key.go;
	// serve keeps it in TOTPKeyFile); nil stores them as they are.
	TOTPKey []byte
	Metrics *metrics.Registry
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service runs staff accounts over the store.
type Service struct {
	cfg       Config
	st        store.StaffAccountStore
	log       *slog.Logger
	common    map[string]bool
	dummyHash string // verified for unknown e-mails, so timing does not tell them apart

	signIns     *metrics.CounterVec
	invitations *metrics.Counter
	resets      *metrics.Counter
}

// NewService returns a Service; it registers the swc_staff_* metrics.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("accounts: no store")
	}
	if cfg.Params == (PasswordParams{}) {
		cfg.Params = DefaultParams()
	}
	if n := len(cfg.TOTPKey); n != 0 && n != 32 {
		return nil, fmt.Errorf("accounts: the TOTP key has %d bytes; want 32", n)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
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
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	s := &Service{cfg: cfg, st: cfg.Store.StaffAccounts(), log: cfg.Logger, common: commonPasswords(),
		signIns:     cfg.Metrics.CounterVec("swc_staff_sign_ins_total", "Staff sign-in steps by result (ok, bad_credentials, rate_limited, replayed).", "step", "result"),
		invitations: cfg.Metrics.Counter("swc_staff_invitations_total", "Staff invitations sent."),
		resets:      cfg.Metrics.Counter("swc_staff_password_resets_total", "Staff passwords reset by e-mail link."),
	}
	s.dummyHash = unmatchableHash(cfg.Params)
	return s, nil
}

// Issuer is the name authenticator apps show.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Principal is the account as an API token (role and centers), for
// central/api's authorization helpers. Its ID is the account's id with
// StaffPrincipalPrefix.
func Principal(a store.StaffAccount) store.Token {
	return store.Token{ID: StaffPrincipalPrefix + a.ID, Name: a.Name, Role: a.Role, Centers: slices.Clone(a.Centers), CreatedMs: a.CreatedMs}
}

// Actor is the account as the audit log's actor (add the request's address
// with audit.FromRequest).
func Actor(a store.StaffAccount) audit.Actor {
	return audit.Actor{Kind: audit.KindStaffAccount, ID: a.ID, Name: a.Email, Role: string(a.Role), Centers: slices.Clone(a.Centers)}
}

// NormalizeEmail is the stored form of an address (trimmed, lower case).
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// limited checks the failure counts of the account and the address.
func (s *Service) limited(ctx context.Context, accountID, ip string) error {
	since := s.cfg.Now().Add(-FailureWindow).UnixMilli()
	for _, c := range []struct {
		key string
		max int
	}{{"account:" + accountID, AccountFailures}, {"ip:" + ip, AddressFailures}} {
		if c.key == "account:" || c.key == "ip:" {
			continue
		}
		n, err := s.st.SignInFailures(ctx, c.key, since)
		if err != nil {
			return err
		}
		if n >= c.max {
			return &Error{Kind: ErrRateLimited, Field: "password", Message: "too many failed attempts; wait " + FailureWindow.String()}
		}
	}
	return nil
}

// fail records a failed step and returns the error to answer.
func (s *Service) fail(ctx context.Context, step, accountID, ip, field string) error {
	keys := []string{}
	if accountID != "" {
		keys = append(keys, "account:"+accountID)
	}
	if ip != "" {
		keys = append(keys, "ip:"+ip)
	}
	if len(keys) > 0 {
		if err := s.st.RecordSignInFailure(ctx, keys, s.cfg.Now().UnixMilli()); err != nil {
			return err
		}
	}
	s.signIns.With(step, "bad_credentials").Inc()
	s.log.WarnContext(ctx, "accounts: staff sign-in refused", "step", step, "account", accountID, "ip", ip)
	return &Error{Kind: ErrBadCredentials, Field: field, Message: "wrong e-mail, password or code"}
}

// SignIn checks an e-mail address and password (step 1) and returns a
// ticket for SecondFactor (valid TicketTTL). Unknown, invited and disabled
// accounts are refused exactly as a wrong password.
func (s *Service) SignIn(ctx context.Context, email, password, ip string) (string, error) {
	email = NormalizeEmail(email)
	a, err := s.st.AccountByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if err := s.limited(ctx, a.ID, ip); err != nil {
		s.signIns.With("password", "rate_limited").Inc()
		return "", err
	}
	hash := a.PasswordHash
	if hash == "" {
		hash = s.dummyHash
	}
	ok, verr := VerifyPassword(hash, password)
	if verr != nil {
		s.log.ErrorContext(ctx, "accounts: unreadable password hash", "account", a.ID, "err", verr)
	}
	if !ok || a.ID == "" || a.PasswordHash == "" || a.Status != store.AccountActive {
		return "", s.fail(ctx, "password", a.ID, ip, "password")
	}
	ticket := store.NewSecret("swcm_")
	now := s.cfg.Now()
	if err := s.st.CreateAccountToken(ctx, store.StaffAccountToken{AccountID: a.ID, Purpose: store.PurposeSignInMF,
		CreatedMs: now.UnixMilli(), ExpiresMs: now.Add(TicketTTL).UnixMilli()}, ticket); err != nil {
		return "", err
	}
	s.signIns.With("password", "ok").Inc()
	return ticket, nil
}

// SecondFactor checks the TOTP code (or a recovery code) of the ticket's
// account (step 2) and returns the account, signed in. A TOTP code is
// accepted once (a replay within its window is refused); a recovery code
// is spent.
func (s *Service) SecondFactor(ctx context.Context, ticket, code, ip string) (store.StaffAccount, error) {
	now := s.cfg.Now()
	tk, err := s.st.CheckAccountToken(ctx, store.PurposeSignInMF, ticket, now.UnixMilli())
	if errors.Is(err, store.ErrBadCredentials) || errors.Is(err, store.ErrTokenExpired) {
		s.signIns.With("code", "bad_ticket").Inc()
		return store.StaffAccount{}, &Error{Kind: ErrExpired, Field: "ticket", Message: "sign in again"}
	}
	if err != nil {
		return store.StaffAccount{}, err
	}
	if err := s.limited(ctx, tk.AccountID, ip); err != nil {
		s.signIns.With("code", "rate_limited").Inc()
		return store.StaffAccount{}, err
	}
	a, err := s.account(ctx, tk.AccountID)
	if err != nil {
		return store.StaffAccount{}, err
	}
	if a.Status != store.AccountActive {
		return store.StaffAccount{}, s.fail(ctx, "code", a.ID, ip, "code")
	}
	if err := s.checkCode(ctx, a, code, now); err != nil {
		if errors.Is(err, store.ErrStale) {
			s.signIns.With("code", "replayed").Inc()
		}
		if errors.Is(err, store.ErrStale) || errors.Is(err, ErrBadCredentials) {
			return store.StaffAccount{}, s.fail(ctx, "code", a.ID, ip, "code")
		}
		return store.StaffAccount{}, err
	}
	if _, err := s.st.SpendAccountToken(ctx, store.PurposeSignInMF, ticket, now.UnixMilli()); err != nil {
		return store.StaffAccount{}, &Error{Kind: ErrExpired, Field: "ticket", Message: "sign in again"}
	}
	if err := s.st.ClearSignInFailures(ctx, "account:"+a.ID); err != nil {
		return store.StaffAccount{}, err
	}
	s.signIns.With("code", "ok").Inc()
	s.log.InfoContext(ctx, "accounts: staff signed in", "account", a.ID, "role", a.Role, "ip", ip)
	return a, nil
}

// checkCode accepts a TOTP code of a (recording its step) or one of its
// recovery codes (spending it).
func (s *Service) checkCode(ctx context.Context, a store.StaffAccount, code string, now time.Time) error {
	code = strings.TrimSpace(code)
	if len(code) > 40 {
		return ErrBadCredentials
	}
	if step, ok := matchTOTP(a.TOTPSecret, code, now); ok && a.TOTPSecret != "" {
		return s.st.UseTOTPStep(ctx, a.ID, step)
	}
	if len(strings.ReplaceAll(code, "-", "")) == 10 {
		ctx = audit.WithActor(ctx, Actor(a))
		if err := s.st.UseRecoveryCode(ctx, a.ID, recoveryHash(code)); err == nil {
			s.log.WarnContext(ctx, "accounts: recovery code used", "account", a.ID, "left", len(a.RecoveryHashes)-1)
			return nil
		}
	}
	return ErrBadCredentials
}

// CheckNewPassword applies the password rules for the account (its e-mail,
// name, and the names of its centers are context words).
func (s *Service) CheckNewPassword(ctx context.Context, a store.StaffAccount, password string) error {
	var extra []string
	for _, c := range a.Centers {
		if ce, err := s.cfg.Store.Center(ctx, c); err == nil {
			extra = append(extra, ce.Name)
		}
	}
	if err := checkPassword(NormalizePassword(password), s.common, contextWords(a.Email, a.Name, extra...)); err != nil {
		var pe *PasswordError
		errors.As(err, &pe)
		return &Error{Kind: err, Field: "password", Message: pe.Error()}
	}
	return nil
}

// ChangePassword sets a new password for a signed-in account after checking
// the current one. Every session of the account ends (the caller starts a
// new one for this browser).
func (s *Service) ChangePassword(ctx context.Context, accountID, current, next, ip string) error {
	a, err := s.st.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if err := s.limited(ctx, a.ID, ip); err != nil {
		return err
	}
	if ok, _ := VerifyPassword(a.PasswordHash, current); !ok {
		return s.fail(ctx, "change_password", a.ID, ip, "current")
	}
	if err := s.CheckNewPassword(ctx, a, next); err != nil {
		return err
	}
	return s.st.SetPassword(audit.WithActor(ctx, actorOr(ctx, a)), a.ID, HashPassword(s.cfg.Params, next))
}

// RegenerateRecoveryCodes replaces the account's recovery codes and
// returns the new ones (shown once).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, accountID string) ([]string, error) {
	codes, hashes := newRecoveryCodes()
	if err := s.st.SetRecoveryCodes(ctx, accountID, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// actorOr is the context's actor, or the account itself.
func actorOr(ctx context.Context, a store.StaffAccount) audit.Actor {
	if act, ok := audit.ActorFrom(ctx); ok {
		return act
	}
	return Actor(a)
}

// CreateActive creates an active account with a known password and TOTP
// secret ("" for a new one), for the demo and for operators setting up the
// first admin; it returns the account and its recovery codes. The
// password must pass the rules.
func (s *Service) CreateActive(ctx context.Context, in Invitation, password, totpSecret string) (store.StaffAccount, []string, error) {
	now := s.cfg.Now().UnixMilli()
	if totpSecret == "" {
		totpSecret = NewTOTPSecret()
	}
	if _, err := totpKey(s.cfg.Issuer, in.Email, totpSecret); err != nil {
		return store.StaffAccount{}, nil, &Error{Kind: ErrBadCredentials, Field: "totp_secret", Message: "not a base32 secret"}
	}
	a := store.StaffAccount{ID: newID("sa-"), Email: NormalizeEmail(in.Email), Name: strings.TrimSpace(in.Name), Role: in.Role,
		Centers: in.Centers, Status: store.AccountInvited, CreatedMs: now, UpdatedMs: now}
	if err := a.Validate(); err != nil {
		return store.StaffAccount{}, nil, err
	}
	if err := s.CheckNewPassword(ctx, a, password); err != nil {
		return store.StaffAccount{}, nil, err
	}
	if err := s.st.CreateAccount(ctx, a); err != nil {
		return store.StaffAccount{}, nil, err
	}
	if err := s.st.SetPassword(ctx, a.ID, HashPassword(s.cfg.Params, password)); err != nil {
		return store.StaffAccount{}, nil, err
	}
	codes, hashes := newRecoveryCodes()
	if err := s.setTOTP(ctx, a.ID, strings.ToUpper(totpSecret), true, hashes); err != nil {
		return store.StaffAccount{}, nil, err
	}
	a, err := s.account(ctx, a.ID)
	return a, codes, err
}
