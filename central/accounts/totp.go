package accounts

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/smartworkcenters/swc/central/store"
)

// TOTP (RFC 6238) as every authenticator app reads it: 30-second steps,
// 6 digits, HMAC-SHA-1, a 160-bit secret. github.com/pquerna/otp computes
// the codes and the otpauth:// key with its QR image (RFC 6238 and the
// Key URI format are easy to get subtly wrong; the library is small,
// widely used and has no further dependency than the QR encoder).
const (
	TOTPPeriod = 30
	TOTPDigits = 6
	// totpSkew: the codes of the previous and next step are accepted too
	// (a phone's clock a little off).
	totpSkew = 1
	// RecoveryCodes is how many recovery codes an account gets.
	RecoveryCodes = 10
)

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// NewTOTPSecret returns a new random base32 TOTP secret (160 bits).
func NewTOTPSecret() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// TOTPCode returns the code of secret at t (tests, and the demo).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts())
}

// totpKey is the otpauth:// key of secret for an authenticator app.
func totpKey(issuer, email, secret string) (*otp.Key, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		return nil, fmt.Errorf("accounts: totp secret: %w", err)
	}
	return totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: email, Period: TOTPPeriod, SecretSize: uint(len(raw)),
		Secret: raw, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// TOTPURI is the otpauth:// URI of the secret (what the QR code holds).
func TOTPURI(issuer, email, secret string) (string, error) {
	k, err := totpKey(issuer, email, secret)
	if err != nil {
		return "", err
	}
	return k.URL(), nil
}

// TOTPQR renders the otpauth:// URI as a PNG QR code (served from a
// same-origin URL by the web layer: no external asset, no data: URI).
func TOTPQR(issuer, email, secret string, size int) ([]byte, error) {
	k, err := totpKey(issuer, email, secret)
	if err != nil {
		return nil, err
	}
	img, err := k.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("accounts: qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("accounts: qr: %w", err)
	}
	return buf.Bytes(), nil
}

// matchTOTP returns the step whose code is code, within the skew around
// now, or false. Every candidate is compared, in constant time.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := now.Unix() / TOTPPeriod
	var found int64
	ok := false
	for off := int64(-totpSkew); off <= totpSkew; off++ {
		step := cur + off
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*TOTPPeriod, 0), totpOpts())
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !ok {
			found, ok = step, true
		}
	}
	return found, ok
}

// recoveryAlphabet has no look-alike characters (no 0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newRecoveryCodes returns RecoveryCodes codes ("xxxxx-xxxxx", about 49
// bits each) and their hashes. The store keeps the hashes; a fast hash is
// enough behind the sign-in rate limit.
func newRecoveryCodes() (codes, hashes []string) {
	for range RecoveryCodes {
		b := make([]byte, 10)
		_, _ = rand.Read(b)
		var sb strings.Builder
		for i, x := range b {
			if i == 5 {
				sb.WriteByte('-')
			}
			sb.WriteByte(recoveryAlphabet[int(x)%len(recoveryAlphabet)])
		}
		c := sb.String()
		codes = append(codes, c)
		hashes = append(hashes, recoveryHash(c))
	}
	return codes, hashes
}

// recoveryHash is the stored form of a recovery code as typed (case,
// spaces and dashes ignored).
func recoveryHash(code string) string {
	c := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	return store.HashSecret("swc-recovery:" + c)
}
