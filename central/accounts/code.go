package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	netmail "net/mail"
	"strings"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
)

// codeDigits is the length of an e-mail code.
const codeDigits = 6

// newCode returns a uniformly random code of codeDigits digits.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("accounts: code: %w", err)
	}
	return fmt.Sprintf("%0*d", codeDigits, n.Int64()), nil
}

// codeHash is the stored form of a code: keyed by the browser's nonce,
// which the store never sees, so a copy of the database does not let
// anyone try the million codes offline.
func codeHash(nonce, code string) string {
	mac := hmac.New(sha256.New, []byte(nonce))
	mac.Write([]byte(code))
	return hex.EncodeToString(mac.Sum(nil))
}

// checkEmail validates an address a member typed.
func checkEmail(s string) (string, error) {
	s = normEmail(s)
	if s == "" || len(s) > 254 {
		return "", &domain.FieldError{Field: "email", Message: "an e-mail address of at most 254 bytes is required"}
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", &domain.FieldError{Field: "email", Message: "not an e-mail address"}
	}
	return s, nil
}

// RequestCode starts an e-mail sign-in from the client (its IP address)
// and returns the nonce the browser must keep (a cookie) and bring back
// with the code. When an active member has the address, a code is mailed
// in lang ("fr", "nl", else English); otherwise the answer is the same and
// nothing is sent. Errors: a *domain.FieldError (field email),
// ErrMailDisabled, ErrRateLimited.
func (m *Members) RequestCode(ctx context.Context, email, client, lang string) (string, error) {
	if m.cfg.Mail == nil {
		m.codes.With("refused").Inc()
		return "", ErrMailDisabled
	}
	email, err := checkEmail(email)
	if err != nil {
		m.codes.With("refused").Inc()
		return "", err
	}
	if err := m.limit(ctx, "code-client", client, m.cfg.Limits.CodesPerClient); err != nil {
		m.codes.With("limited").Inc()
		return "", err
	}
	if err := m.limit(ctx, "code-address", addressKey(email), m.cfg.Limits.CodesPerAddress); err != nil {
		m.codes.With("limited").Inc()
		return "", err
	}
	if err := m.Purge(ctx); err != nil {
		m.log.WarnContext(ctx, "accounts: purge", "err", err)
	}
	member, err := m.st.MemberByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	known := err == nil && member.Status == domain.MemberActive
	nonce := store.NewSecret("")
	code, err := newCode()
	if err != nil {
		return "", err
	}
	now := m.cfg.Now()
	c := store.SignInCode{NonceHash: store.HashSecret(nonce), Email: email, CodeHash: codeHash(nonce, code),
		CreatedMs: now.UnixMilli(), ExpiresMs: now.Add(CodeTTL).UnixMilli()}
	if known {
		c.MemberID = member.ID
	} else {
		// A pending sign-in that no code opens: the page that follows is
		// the same as for a member, and wrong tries are counted alike.
		c.CodeHash = codeHash(nonce, store.NewSecret(""))
	}
	if err := m.st.PutSignInCode(ctx, c); err != nil {
		return "", err
	}
	if !known {
		m.codes.With("no_member").Inc()
		m.log.InfoContext(ctx, "accounts: code asked for an address of no active member; nothing sent", "address", addressKey(email), "client", client)
		return nonce, nil
	}
	msg := codeMail(lang, member, email, code)
	if _, _, err := m.cfg.Mail.Enqueue(ctx, "signin-code:"+c.NonceHash[:32], msg); err != nil {
		return "", fmt.Errorf("accounts: mail the code: %w", err)
	}
	m.codes.With("sent").Inc()
	m.log.InfoContext(ctx, "accounts: sign-in code mailed", "member", member.ID, "client", client)
	return nonce, nil
}

// VerifyCode checks the code typed in the browser that holds nonce and
// returns the member it signs in. Errors: ErrWrongCode (a
// *WrongCodeError), ErrCodeDead, ErrRateLimited, a *domain.FieldError
// (field code) for input that is no code at all.
func (m *Members) VerifyCode(ctx context.Context, nonce, code, client string) (domain.Member, error) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != codeDigits || strings.Trim(code, "0123456789") != "" {
		m.signins.With("code", "wrong").Inc()
		return domain.Member{}, &domain.FieldError{Field: "code", Message: fmt.Sprintf("the code has %d digits", codeDigits)}
	}
	if nonce == "" {
		m.signins.With("code", "dead").Inc()
		return domain.Member{}, ErrCodeDead
	}
	if err := m.overLimit(ctx, "signin-client", client, m.cfg.Limits.AttemptsPerClient); err != nil {
		m.signins.With("code", "limited").Inc()
		return domain.Member{}, err
	}
	c, left, err := m.st.TrySignInCode(ctx, store.HashSecret(nonce), codeHash(nonce, code), m.cfg.Now().UnixMilli(), MaxCodeAttempts)
	switch {
	case errors.Is(err, store.ErrNotFound):
		m.signins.With("code", "dead").Inc()
		m.failed(ctx, "signin-client", client)
		return domain.Member{}, ErrCodeDead
	case errors.Is(err, store.ErrBadCredentials):
		m.signins.With("code", "wrong").Inc()
		m.failed(ctx, "signin-client", client)
		m.log.WarnContext(ctx, "accounts: wrong sign-in code", "client", client, "left", left)
		if err := m.limit(ctx, "signin-address", addressKey(c.Email), m.cfg.Limits.AttemptsPerAddress); err != nil {
			return domain.Member{}, err
		}
		if left <= 0 {
			return domain.Member{}, ErrCodeDead
		}
		return domain.Member{}, &WrongCodeError{Left: left}
	case err != nil:
		return domain.Member{}, err
	}
	member, err := m.all.Member(ctx, c.MemberID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && member.Status != domain.MemberActive) {
		m.signins.With("code", "refused").Inc()
		return domain.Member{}, ErrCodeDead
	}
	if err != nil {
		return domain.Member{}, err
	}
	m.signins.With("code", "ok").Inc()
	m.log.InfoContext(ctx, "accounts: member signed in with an e-mail code", "member", member.ID, "client", client)
	return member, nil
}

// codeMail is the code's e-mail in the member's language.
func codeMail(lang string, member domain.Member, email, code string) mail.Message {
	to := (&netmail.Address{Name: member.Name, Address: email}).String()
	switch {
	case strings.HasPrefix(lang, "fr"):
		return mail.Message{To: to, Subject: "Votre code de connexion : " + code,
			Text: fmt.Sprintf("Bonjour %s,\n\nVotre code de connexion à Smart Work Centers : %s\n\nIl est valable 10 minutes, une seule fois, dans le navigateur où vous l'avez demandé.\nSi vous n'avez rien demandé, ignorez ce message.\n", member.Name, code)}
	case strings.HasPrefix(lang, "nl"):
		return mail.Message{To: to, Subject: "Uw aanmeldcode: " + code,
			Text: fmt.Sprintf("Hallo %s,\n\nUw aanmeldcode voor Smart Work Centers: %s\n\nHij is 10 minuten geldig, één keer, in de browser waarin u hem vroeg.\nHebt u niets gevraagd? Negeer dan dit bericht.\n", member.Name, code)}
	}
	return mail.Message{To: to, Subject: "Your sign-in code: " + code,
		Text: fmt.Sprintf("Hello %s,\n\nYour Smart Work Centers sign-in code: %s\n\nIt is valid for 10 minutes, once, in the browser where you asked for it.\nIf you did not ask for it, ignore this message.\n", member.Name, code)}
}
