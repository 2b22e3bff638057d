package accounts

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/smartworkcenters/swc/central/store"
)

// TOTP secrets at rest: with Config.TOTPKey set, the store holds each
// secret encrypted with AES-256-GCM under that key, the account id as
// associated data (a secret copied to another account's row does not
// open), as "enc1:" + base64(nonce | ciphertext). A database dump alone
// then gives no second factor. Without a key, secrets are stored as they
// are (tests); a stored encrypted secret without the key is an error.

const sealedPrefix = "enc1:"

// TOTPKeyFile is the key's file name in serve's data folder.
const TOTPKeyFile = "totp.key"

// LoadOrCreateTOTPKey reads the 32-byte key (base64) at path, creating it
// (mode 0600) when there is none. Replicas on one database share the file,
// as they share the signing key.
func LoadOrCreateTOTPKey(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateTOTPKey(path) // another process made it first
		}
		if err != nil {
			return nil, fmt.Errorf("accounts: create the TOTP key %s: %w", path, err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, fmt.Errorf("accounts: write the TOTP key %s: %w", path, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("accounts: read the TOTP key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("accounts: %s is not a base64 32-byte key", path)
	}
	return key, nil
}

func (s *Service) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.cfg.TOTPKey)
	if err != nil {
		return nil, fmt.Errorf("accounts: TOTP key: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealTOTP is the stored form of a secret.
func (s *Service) sealTOTP(accountID, secret string) (string, error) {
	if len(s.cfg.TOTPKey) == 0 {
		return secret, nil
	}
	g, err := s.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(secret), []byte(accountID))), nil
}

// openTOTP is the secret of a stored form.
func (s *Service) openTOTP(accountID, stored string) (string, error) {
	rest, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, nil
	}
	if len(s.cfg.TOTPKey) == 0 {
		return "", errors.New("accounts: the TOTP secrets are encrypted and no key is configured")
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("accounts: sealed TOTP secret of %s: %w", accountID, err)
	}
	g, err := s.aead()
	if err != nil {
		return "", err
	}
	if len(raw) < g.NonceSize() {
		return "", fmt.Errorf("accounts: sealed TOTP secret of %s is cut short", accountID)
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(accountID))
	if err != nil {
		return "", fmt.Errorf("accounts: the TOTP secret of %s does not open with this key: %w", accountID, err)
	}
	return string(plain), nil
}

// account reads an account with its TOTP secret opened.
func (s *Service) account(ctx context.Context, id string) (store.StaffAccount, error) {
	a, err := s.st.Account(ctx, id)
	if err != nil {
		return a, err
	}
	a.TOTPSecret, err = s.openTOTP(a.ID, a.TOTPSecret)
	return a, err
}

// setTOTP stores a secret sealed.
func (s *Service) setTOTP(ctx context.Context, id, secret string, confirmed bool, hashes []string) error {
	sealed, err := s.sealTOTP(id, secret)
	if err != nil {
		return err
	}
	return s.st.SetTOTP(ctx, id, sealed, confirmed, hashes)
}
