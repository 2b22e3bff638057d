package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
)

// Paths of the links sent by e-mail (the web layer serves them).
const (
	InvitePath = "/invite/"
	ResetPath  = "/reset/"
)

// Invitation is who to invite.
type Invitation struct {
	Email   string     `json:"email"`
	Name    string     `json:"name"`
	Role    store.Role `json:"role"`
	Centers []string   `json:"centers,omitempty"`
}

// mayManage checks that by may give an account role and centers: an admin
// any; a manager only managers and technicians of their own center (another
// center is refused as a missing one, as central/api does); a technician
// nothing.
func mayManage(by store.Token, role store.Role, centers []string) error {
	switch by.Role {
	case store.RoleAdmin:
		return nil
	case store.RoleManager:
		if role != store.RoleManager && role != store.RoleTechnician {
			return &Error{Kind: ErrForbidden, Field: "role", Message: "a manager invites managers and technicians only"}
		}
		for i, c := range centers {
			if !slices.Contains(by.Centers, c) {
				return store.Errf(store.ErrMissingRef, fmt.Sprintf("centers[%d]", i), "center %s does not exist", c)
			}
		}
		return nil
	}
	return &Error{Kind: ErrForbidden, Field: "role", Message: "only admins and managers manage accounts"}
}

// sees reports whether by may see the account (a manager: accounts bound
// to their center only).
func sees(by store.Token, a store.StaffAccount) bool {
	if by.Role == store.RoleAdmin {
		return true
	}
	if by.Role != store.RoleManager || len(a.Centers) == 0 {
		return false
	}
	for _, c := range a.Centers {
		if !slices.Contains(by.Centers, c) {
			return false
		}
	}
	return true
}

// Invite creates an invited account and e-mails its holder a one-time link
// (valid InviteTTL) to set a password and enrol TOTP. It returns the
// account and the link (the CLI prints it; the API never returns it).
func (s *Service) Invite(ctx context.Context, by store.Token, in Invitation) (store.StaffAccount, string, error) {
	if err := mayManage(by, in.Role, in.Centers); err != nil {
		return store.StaffAccount{}, "", err
	}
	now := s.cfg.Now()
	a := store.StaffAccount{ID: newID("sa-"), Email: NormalizeEmail(in.Email), Name: strings.TrimSpace(in.Name), Role: in.Role,
		Centers: in.Centers, Status: store.AccountInvited, CreatedMs: now.UnixMilli(), UpdatedMs: now.UnixMilli()}
	if err := a.Validate(); err != nil {
		return store.StaffAccount{}, "", err
	}
	if err := s.st.CreateAccount(ctx, a); err != nil {
		return store.StaffAccount{}, "", err
	}
	secret := store.NewSecret("swci_")
	if err := s.st.CreateAccountToken(ctx, store.StaffAccountToken{AccountID: a.ID, Purpose: store.PurposeInvite,
		CreatedMs: now.UnixMilli(), ExpiresMs: now.Add(InviteTTL).UnixMilli()}, secret); err != nil {
		return store.StaffAccount{}, "", err
	}
	link := s.cfg.BaseURL + InvitePath + secret
	if s.cfg.Mail != nil {
		_, _, err := s.cfg.Mail.Enqueue(ctx, fmt.Sprintf("staff-invite:%s:%d", a.ID, now.UnixMilli()), mail.Message{
			To:      a.Email,
			Subject: "Your Smart Work Centers staff account",
			Text: fmt.Sprintf("Hello %s,\n\nYou are invited to the Smart Work Centers staff console as %s.\n"+
				"Open this link within %d hours to choose your password and set up your authenticator app:\n\n%s\n\n"+
				"If you did not expect this, ignore this message.\n", a.Name, a.Role, int(InviteTTL.Hours()), link),
		})
		if err != nil {
			return store.StaffAccount{}, "", fmt.Errorf("accounts: invitation mail: %w", err)
		}
	}
	s.invitations.Inc()
	s.log.InfoContext(ctx, "accounts: staff invited", "account", a.ID, "role", a.Role, "centers", a.Centers, "by", by.ID)
	return a, link, nil
}

// linkErr maps a bad or expired link to one answer.
func linkErr(err error) error {
	if errors.Is(err, store.ErrBadCredentials) || errors.Is(err, store.ErrTokenExpired) {
		return &Error{Kind: ErrExpired, Field: "token", Message: "this link is unknown, used or expired"}
	}
	return err
}

// OpenInvitation returns the invited account of the link, with a pending
// TOTP secret to enrol (made at the first visit, kept on later ones so
// that the QR code scanned stays valid).
func (s *Service) OpenInvitation(ctx context.Context, secret string) (store.StaffAccount, error) {
	tk, err := s.st.CheckAccountToken(ctx, store.PurposeInvite, secret, s.cfg.Now().UnixMilli())
	if err != nil {
		return store.StaffAccount{}, linkErr(err)
	}
	a, err := s.account(ctx, tk.AccountID)
	if err != nil {
		return store.StaffAccount{}, err
	}
	if a.Status != store.AccountInvited {
		return store.StaffAccount{}, linkErr(store.ErrBadCredentials)
	}
	if a.TOTPSecret == "" || a.TOTPConfirmed {
		a.TOTPSecret, a.TOTPConfirmed = NewTOTPSecret(), false
		if err := s.setTOTP(ctx, a.ID, a.TOTPSecret, false, nil); err != nil {
			return store.StaffAccount{}, err
		}
	}
	return a, nil
}

// AcceptInvitation completes an invitation: the password must pass the
// rules and the code must come from the pending TOTP secret. The account
// becomes active and the link is spent; it returns the account and its
// recovery codes (shown once). The code's step is recorded, so it cannot
// also sign in.
func (s *Service) AcceptInvitation(ctx context.Context, secret, password, code string) (store.StaffAccount, []string, error) {
	a, err := s.OpenInvitation(ctx, secret)
	if err != nil {
		return store.StaffAccount{}, nil, err
	}
	if err := s.CheckNewPassword(ctx, a, password); err != nil {
		return store.StaffAccount{}, nil, err
	}
	now := s.cfg.Now()
	step, ok := matchTOTP(a.TOTPSecret, strings.TrimSpace(code), now)
	if !ok {
		return store.StaffAccount{}, nil, &Error{Kind: ErrBadCredentials, Field: "code", Message: "this code does not match: check your app's time and the account you scanned"}
	}
	if _, err := s.st.SpendAccountToken(ctx, store.PurposeInvite, secret, now.UnixMilli()); err != nil {
		return store.StaffAccount{}, nil, linkErr(err)
	}
	ctx = audit.WithActor(ctx, actorOr(ctx, a))
	if err := s.st.SetPassword(ctx, a.ID, HashPassword(s.cfg.Params, password)); err != nil {
		return store.StaffAccount{}, nil, err
	}
	codes, hashes := newRecoveryCodes()
	if err := s.setTOTP(ctx, a.ID, a.TOTPSecret, true, hashes); err != nil {
		return store.StaffAccount{}, nil, err
	}
	if err := s.st.UseTOTPStep(ctx, a.ID, step); err != nil {
		return store.StaffAccount{}, nil, err
	}
	a, err = s.account(ctx, a.ID)
	if err != nil {
		return store.StaffAccount{}, nil, err
	}
	s.log.InfoContext(ctx, "accounts: invitation accepted", "account", a.ID)
	return a, codes, nil
}

// InvitationQR is the PNG QR code of the link's pending TOTP secret.
func (s *Service) InvitationQR(ctx context.Context, secret string) ([]byte, error) {
	a, err := s.OpenInvitation(ctx, secret)
	if err != nil {
		return nil, err
	}
	return TOTPQR(s.cfg.Issuer, a.Email, a.TOTPSecret, 240)
}

// TOTPURIOf is the otpauth:// URI of the account's TOTP secret (shown as
// text beside the QR code during enrolment only).
func (s *Service) TOTPURIOf(a store.StaffAccount) (string, error) {
	return TOTPURI(s.cfg.Issuer, a.Email, a.TOTPSecret)
}

// RequestReset e-mails a one-time password reset link (valid ResetTTL) to
// an active account of this address. It answers nil whether or not there
// is one (the page says the same either way); the link is returned for the
// logs of tests only ("" when none was made).
func (s *Service) RequestReset(ctx context.Context, email, ip string) (string, error) {
	a, err := s.st.AccountByEmail(ctx, NormalizeEmail(email))
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.Status != store.AccountActive) {
		s.log.InfoContext(ctx, "accounts: reset asked for no active account", "ip", ip)
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if err := s.limited(ctx, a.ID, ip); err != nil {
		return "", err
	}
	// At most ResetMails links an hour per account: the form cannot be
	// used to flood someone's mailbox (further asks are answered alike).
	now := s.cfg.Now()
	key := "reset:" + a.ID
	n, err := s.st.SignInFailures(ctx, key, now.Add(-time.Hour).UnixMilli())
	if err != nil {
		return "", err
	}
	if n >= ResetMails {
		s.log.WarnContext(ctx, "accounts: reset link not sent: too many this hour", "account", a.ID, "ip", ip)
		return "", nil
	}
	if err := s.st.RecordSignInFailure(ctx, []string{key}, now.UnixMilli()); err != nil {
		return "", err
	}
	secret := store.NewSecret("swcr_")
	if err := s.st.CreateAccountToken(ctx, store.StaffAccountToken{AccountID: a.ID, Purpose: store.PurposeReset,
		CreatedMs: now.UnixMilli(), ExpiresMs: now.Add(ResetTTL).UnixMilli()}, secret); err != nil {
		return "", err
	}
	link := s.cfg.BaseURL + ResetPath + secret
	if s.cfg.Mail != nil {
		_, _, err := s.cfg.Mail.Enqueue(ctx, fmt.Sprintf("staff-reset:%s:%d", a.ID, now.UnixMilli()), mail.Message{
			To:      a.Email,
			Subject: "Reset your Smart Work Centers password",
			Text: fmt.Sprintf("Hello %s,\n\nSomeone (we hope you) asked to reset the password of your staff account.\n"+
				"Open this link within one hour to choose a new password:\n\n%s\n\n"+
				"You will still need your authenticator app to sign in. If you did not ask, ignore this message.\n", a.Name, link),
		})
		if err != nil {
			return "", fmt.Errorf("accounts: reset mail: %w", err)
		}
	}
	return link, nil
}

// Reset sets a new password with a reset link and ends every session of
// the account. The second factor stays as it was: signing in still needs
// the TOTP code.
func (s *Service) Reset(ctx context.Context, secret, password string) (store.StaffAccount, error) {
	now := s.cfg.Now()
	tk, err := s.st.CheckAccountToken(ctx, store.PurposeReset, secret, now.UnixMilli())
	if err != nil {
		return store.StaffAccount{}, linkErr(err)
	}
	a, err := s.st.Account(ctx, tk.AccountID)
	if err != nil {
		return store.StaffAccount{}, err
	}
	if a.Status != store.AccountActive {
		return store.StaffAccount{}, linkErr(store.ErrBadCredentials)
	}
	if err := s.CheckNewPassword(ctx, a, password); err != nil {
		return store.StaffAccount{}, err
	}
	if _, err := s.st.SpendAccountToken(ctx, store.PurposeReset, secret, now.UnixMilli()); err != nil {
		return store.StaffAccount{}, linkErr(err)
	}
	if err := s.st.SetPassword(audit.WithActor(ctx, actorOr(ctx, a)), a.ID, HashPassword(s.cfg.Params, password)); err != nil {
		return store.StaffAccount{}, err
	}
	s.resets.Inc()
	s.log.InfoContext(ctx, "accounts: password reset by e-mail link", "account", a.ID)
	return a, nil
}

// List returns the accounts by sees: all for an admin, those of their
// center for a manager (ErrForbidden for a technician).
func (s *Service) List(ctx context.Context, by store.Token, p store.PageRequest) (store.Page[store.StaffAccount], error) {
	f := store.AccountFilter{PageRequest: p}
	switch by.Role {
	case store.RoleAdmin:
	case store.RoleManager:
		f.CenterIDs = slices.Clone(by.Centers)
	default:
		return store.Page[store.StaffAccount]{}, &Error{Kind: ErrForbidden, Field: "role", Message: "only admins and managers manage accounts"}
	}
	page, err := s.st.ListAccounts(ctx, f)
	if err != nil {
		return page, err
	}
	kept := page.Items[:0]
	for _, a := range page.Items {
		if sees(by, a) {
			kept = append(kept, a)
		}
	}
	page.Items = kept
	return page, nil
}

// Get returns an account without its secrets; one by may not see is
// ErrNotFound, as a missing one.
func (s *Service) Get(ctx context.Context, by store.Token, id string) (store.StaffAccount, error) {
	a, err := s.st.Account(ctx, id)
	if err == nil && !sees(by, a) {
		err = store.Errf(store.ErrNotFound, "", "account %s", id)
	}
	if err != nil {
		return store.StaffAccount{}, err
	}
	a.PasswordHash, a.TOTPSecret, a.RecoveryHashes, a.TOTPLastStep = "", "", nil, 0
	return a, nil
}

// Change is a change of an account's role, centers or status (nil fields
// are kept).
type Change struct {
	Name    *string              `json:"name,omitempty"`
	Role    *store.Role          `json:"role,omitempty"`
	Centers []string             `json:"centers,omitempty"`
	Status  *store.AccountStatus `json:"status,omitempty"`
}

// Update changes an account within by's power (a manager: accounts of their
// center, to roles manager or technician of it). Disabling, or a new role
// or centers, ends the account's sessions. Status may be set to active or
// disabled only (an invited account stays invited until it accepts).
func (s *Service) Update(ctx context.Context, by store.Token, id string, ch Change) (store.StaffAccount, error) {
	a, err := s.Get(ctx, by, id)
	if err != nil {
		return a, err
	}
	if err := mayManage(by, a.Role, a.Centers); err != nil {
		return store.StaffAccount{}, err
	}
	next := a
	if ch.Name != nil {
		next.Name = strings.TrimSpace(*ch.Name)
	}
	if ch.Role != nil {
		next.Role = *ch.Role
	}
	if ch.Centers != nil || (ch.Role != nil && *ch.Role == store.RoleAdmin) {
		next.Centers = ch.Centers
	}
	if ch.Status != nil {
		switch *ch.Status {
		case store.AccountDisabled:
			next.Status = store.AccountDisabled
		case store.AccountActive:
			full, err := s.st.Account(ctx, id)
			if err != nil {
				return store.StaffAccount{}, err
			}
			if !full.TOTPConfirmed || full.PasswordHash == "" {
				next.Status = store.AccountInvited
			} else {
				next.Status = store.AccountActive
			}
		default:
			return store.StaffAccount{}, &Error{Kind: ErrForbidden, Field: "status", Message: "set active or disabled"}
		}
	}
	if err := mayManage(by, next.Role, next.Centers); err != nil {
		return store.StaffAccount{}, err
	}
	if by.ID == StaffPrincipalPrefix+id && (next.Status == store.AccountDisabled || next.Role != a.Role) {
		return store.StaffAccount{}, &Error{Kind: ErrForbidden, Field: "status", Message: "you cannot disable yourself or change your own role"}
	}
	if err := s.st.UpdateAccount(ctx, next); err != nil {
		return store.StaffAccount{}, err
	}
	s.log.InfoContext(ctx, "accounts: staff account changed", "account", id, "role", next.Role, "status", next.Status, "by", by.ID)
	return s.Get(ctx, by, id)
}
