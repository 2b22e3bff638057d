package accounts

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// MaxCeremonyBody bounds a browser's WebAuthn response.
const MaxCeremonyBody = 64 << 10

// memberUser is a member as go-webauthn sees them: the user handle is the
// member's id.
type memberUser struct {
	m     domain.Member
	creds []webauthn.Credential
}

func (u *memberUser) WebAuthnID() []byte                         { return []byte(u.m.ID) }
func (u *memberUser) WebAuthnName() string                       { return cmpOr(u.m.Email, u.m.ID) }
func (u *memberUser) WebAuthnDisplayName() string                { return u.m.Name }
func (u *memberUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// user loads the member's stored credentials.
func (m *Members) user(ctx context.Context, member domain.Member) (*memberUser, error) {
	pks, err := m.st.ListPasskeys(ctx, member.ID)
	if err != nil {
		return nil, err
	}
	u := &memberUser{m: member}
	for _, p := range pks {
		var c webauthn.Credential
		if err := json.Unmarshal(p.Data, &c); err != nil {
			return nil, fmt.Errorf("accounts: passkey %s: stored credential: %w", p.ID, err)
		}
		c.Authenticator.SignCount = p.SignCount // the column is the record; clone checks compare with it
		u.creds = append(u.creds, c)
	}
	return u, nil
}

// saveCeremony keeps a ceremony's state in the store and returns its id.
func (m *Members) saveCeremony(ctx context.Context, sd *webauthn.SessionData) (string, error) {
	data, err := json.Marshal(sd)
	if err != nil {
		return "", fmt.Errorf("accounts: ceremony: %w", err)
	}
	id := store.NewSecret("")
	now := m.cfg.Now()
	if err := m.st.PutCeremony(ctx, store.HashSecret(id), data, now.UnixMilli(), now.Add(ceremonyTTL).UnixMilli()); err != nil {
		return "", err
	}
	return id, nil
}

// takeCeremony returns a ceremony's state once.
func (m *Members) takeCeremony(ctx context.Context, id string) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if id == "" {
		return sd, ErrPasskeyRefused
	}
	data, err := m.st.TakeCeremony(ctx, store.HashSecret(id), m.cfg.Now().UnixMilli())
	if errors.Is(err, store.ErrNotFound) {
		return sd, fmt.Errorf("%w: the ceremony expired or was used", ErrPasskeyRefused)
	}
	if err != nil {
		return sd, err
	}
	if err := json.Unmarshal(data, &sd); err != nil {
		return sd, fmt.Errorf("accounts: ceremony: %w", err)
	}
	return sd, nil
}

// BeginPasskeyRegistration starts adding a passkey for a signed-in member:
// it returns the options for navigator.credentials.create (JSON, the
// "publicKey" member inside) and the ceremony's id for
// FinishPasskeyRegistration. The credential must be discoverable, so that
// the member signs in later without typing their address.
func (m *Members) BeginPasskeyRegistration(ctx context.Context, member domain.Member) (json.RawMessage, string, error) {
	if m.wa == nil {
		return nil, "", ErrPasskeysDisabled
	}
	u, err := m.user(ctx, member)
	if err != nil {
		return nil, "", err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sd, err := m.wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, "", fmt.Errorf("accounts: begin registration: %w", err)
	}
	id, err := m.saveCeremony(ctx, sd)
	if err != nil {
		return nil, "", err
	}
	out, err := json.Marshal(opts)
	return out, id, err
}

// FinishPasskeyRegistration checks the browser's response (body: the
// PublicKeyCredential as JSON) and stores the new credential under name.
func (m *Members) FinishPasskeyRegistration(ctx context.Context, member domain.Member, ceremony string, body io.Reader, name string) (store.Passkey, error) {
	if m.wa == nil {
		return store.Passkey{}, ErrPasskeysDisabled
	}
	sd, err := m.takeCeremony(ctx, ceremony)
	if err != nil {
		return store.Passkey{}, err
	}
	if !bytes.Equal(sd.UserID, []byte(member.ID)) {
		return store.Passkey{}, fmt.Errorf("%w: the ceremony is another member's", ErrPasskeyRefused)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(io.LimitReader(body, MaxCeremonyBody))
	if err != nil {
		return store.Passkey{}, fmt.Errorf("%w: %v", ErrPasskeyRefused, detail(err))
	}
	u, err := m.user(ctx, member)
	if err != nil {
		return store.Passkey{}, err
	}
	cred, err := m.wa.CreateCredential(u, sd, parsed)
	if err != nil {
		return store.Passkey{}, fmt.Errorf("%w: %v", ErrPasskeyRefused, detail(err))
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return store.Passkey{}, fmt.Errorf("accounts: credential: %w", err)
	}
	var transports []string
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	name = strings.TrimSpace(name)
	if len(name) > 100 {
		name = name[:100]
	}
	now := m.cfg.Now().UnixMilli()
	p := store.Passkey{ID: base64.RawURLEncoding.EncodeToString(cred.ID), MemberID: member.ID, Name: name,
		Transports: strings.Join(transports, ","), SignCount: cred.Authenticator.SignCount, CreatedMs: now, Data: data}
	if err := m.st.CreatePasskey(ctx, p); err != nil {
		return store.Passkey{}, err
	}
	m.log.InfoContext(ctx, "accounts: passkey added", "member", member.ID, "credential", p.ID)
	return p, nil
}

// BeginPasskeyLogin starts a sign-in with a discoverable credential (the
// browser offers the member's passkeys for this site) from client: it
// returns the options for navigator.credentials.get and the ceremony's id.
// Ceremonies are stored, so they are limited per client
// (ErrRateLimited).
func (m *Members) BeginPasskeyLogin(ctx context.Context, client string) (json.RawMessage, string, error) {
	if m.wa == nil {
		return nil, "", ErrPasskeysDisabled
	}
	if err := m.limit(ctx, "ceremony-client", client, m.cfg.Limits.CeremoniesPerClient); err != nil {
		return nil, "", err
	}
	opts, sd, err := m.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, "", fmt.Errorf("accounts: begin login: %w", err)
	}
	id, err := m.saveCeremony(ctx, sd)
	if err != nil {
		return nil, "", err
	}
	out, err := json.Marshal(opts)
	return out, id, err
}

// FinishPasskeyLogin checks the browser's assertion (body: the
// PublicKeyCredential as JSON) from client and returns the member it signs
// in. Errors: ErrPasskeyRefused, ErrRateLimited.
func (m *Members) FinishPasskeyLogin(ctx context.Context, ceremony string, body io.Reader, client string) (domain.Member, error) {
	if err := m.overLimit(ctx, "signin-client", client, m.cfg.Limits.AttemptsPerClient); err != nil {
		m.signins.With("passkey", "limited").Inc()
		return domain.Member{}, err
	}
	member, err := m.finishLogin(ctx, ceremony, body)
	if err != nil {
		m.signins.With("passkey", "refused").Inc()
		m.failed(ctx, "signin-client", client)
		m.log.WarnContext(ctx, "accounts: passkey sign-in refused", "client", client, "err", err)
		return domain.Member{}, err
	}
	m.signins.With("passkey", "ok").Inc()
	m.log.InfoContext(ctx, "accounts: member signed in with a passkey", "member", member.ID, "client", client)
	return member, nil
}

func (m *Members) finishLogin(ctx context.Context, ceremony string, body io.Reader) (domain.Member, error) {
	if m.wa == nil {
		return domain.Member{}, ErrPasskeysDisabled
	}
	sd, err := m.takeCeremony(ctx, ceremony)
	if err != nil {
		return domain.Member{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(body, MaxCeremonyBody))
	if err != nil {
		return domain.Member{}, fmt.Errorf("%w: %v", ErrPasskeyRefused, detail(err))
	}
	var pk store.Passkey
	var found *memberUser
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		p, err := m.st.Passkey(ctx, base64.RawURLEncoding.EncodeToString(rawID))
		if err != nil {
			return nil, fmt.Errorf("unknown credential: %w", err)
		}
		if string(userHandle) != p.MemberID {
			return nil, errors.New("the credential is another member's")
		}
		member, err := m.all.Member(ctx, p.MemberID)
		if err != nil {
			return nil, err
		}
		if member.Status != domain.MemberActive {
			return nil, errors.New("the member is not active")
		}
		u, err := m.user(ctx, member)
		if err != nil {
			return nil, err
		}
		pk, found = p, u
		return u, nil
	}
	_, cred, err := m.wa.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil {
		return domain.Member{}, fmt.Errorf("%w: %v", ErrPasskeyRefused, detail(err))
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return domain.Member{}, fmt.Errorf("accounts: credential: %w", err)
	}
	clone := cred.Authenticator.CloneWarning
	if err := m.st.UsePasskey(ctx, pk.ID, cred.Authenticator.SignCount, clone || pk.CloneWarning, data, m.cfg.Now().UnixMilli()); err != nil {
		return domain.Member{}, err
	}
	if clone {
		m.clones.Inc()
		m.log.WarnContext(ctx, "accounts: passkey signature counter went back: the authenticator may have been cloned; sign-in refused",
			"member", found.m.ID, "credential", pk.ID, "stored", pk.SignCount, "got", cred.Authenticator.SignCount)
		return domain.Member{}, fmt.Errorf("%w: the signature counter did not increase", ErrPasskeyRefused)
	}
	return found.m, nil
}

// detail is the developer's detail of a WebAuthn error, for logs.
func detail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return pe.Details + ": " + pe.DevInfo
	}
	return err.Error()
}

// Passkeys lists the member's passkeys, oldest first.
func (m *Members) Passkeys(ctx context.Context, memberID string) ([]store.Passkey, error) {
	return m.st.ListPasskeys(ctx, memberID)
}

// RemovePasskey deletes one of the member's passkeys (store.ErrNotFound
// when the member has none with this id). The store audits it.
func (m *Members) RemovePasskey(ctx context.Context, memberID, id string) error {
	if err := m.st.DeletePasskey(ctx, memberID, id); err != nil {
		return err
	}
	m.log.InfoContext(ctx, "accounts: passkey removed", "member", memberID, "credential", id)
	return nil
}
