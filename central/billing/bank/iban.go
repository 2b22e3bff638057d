package bank

import (
	"errors"
	"fmt"
	"strings"
)

// ErrIBAN is matched (errors.Is) by every error about an IBAN.
var ErrIBAN = errors.New("invalid IBAN")

// ErrBIC is matched (errors.Is) by every error about a BIC.
var ErrBIC = errors.New("invalid BIC")

// ibanLengths is the length of the IBAN of each country of the SWIFT IBAN
// registry (SEPA countries first), used read-only.
var ibanLengths = map[string]int{
	// SEPA
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24,
	"DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22,
	"GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27,
	"LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
	"NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24,
	"SM": 27, "VA": 22, "AL": 28, "MD": 24, "ME": 22, "MK": 19, "RS": 22,
	// others of the registry
	"AE": 23, "AZ": 28, "BA": 20, "BH": 22, "BI": 27, "BR": 29, "BY": 28,
	"CR": 22, "DJ": 27, "DO": 28, "EG": 29, "FK": 18, "FO": 18, "GE": 22,
	"GL": 18, "GT": 28, "IL": 23, "IQ": 23, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LY": 25, "MN": 20, "MR": 27, "MU": 30, "NI": 28,
	"OM": 23, "PK": 24, "PS": 29, "QA": 29, "RU": 33, "SA": 24, "SC": 31,
	"SD": 18, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26,
	"UA": 29, "VG": 24, "XK": 20, "YE": 30,
}

// sepaCountries are the IBAN countries of the SEPA scheme.
var sepaCountries = "AD AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL PT RO SE SI SK SM VA AL MD ME MK"

// IBAN is a checked International Bank Account Number in electronic form
// (no spaces, upper case).
type IBAN string

// ParseIBAN normalises s (spaces removed, upper-cased) and checks its
// country, length, characters and mod-97 check.
func ParseIBAN(s string) (IBAN, error) {
	t := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	bad := func(why string) (IBAN, error) { return "", fmt.Errorf("%w %q: %s", ErrIBAN, s, why) }
	if len(t) < 5 {
		return bad("too short")
	}
	want, ok := ibanLengths[t[:2]]
	if !ok {
		return bad("unknown country " + t[:2])
	}
	if len(t) != want {
		return bad(fmt.Sprintf("%d characters; %s IBANs have %d", len(t), t[:2], want))
	}
	if t[2] < '0' || t[2] > '9' || t[3] < '0' || t[3] > '9' {
		return bad("check digits are not digits")
	}
	rem := 0
	for _, c := range t[4:] + t[:4] {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return bad(fmt.Sprintf("character %q", c))
		}
	}
	if rem != 1 {
		return bad("check digits do not match (mod 97)")
	}
	return IBAN(t), nil
}

// Country is the IBAN's two-letter country code.
func (i IBAN) Country() string {
	if len(i) < 2 {
		return ""
	}
	return string(i[:2])
}

// SEPA reports whether the IBAN's country belongs to the SEPA scheme.
func (i IBAN) SEPA() bool {
	return len(i) >= 2 && strings.Contains(sepaCountries, i.Country())
}

// Printed is the IBAN in groups of four, as printed on paper.
func (i IBAN) Printed() string {
	var b strings.Builder
	for n, c := range string(i) {
		if n > 0 && n%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ParseBIC checks a BIC (ISO 9362): four letters or digits of institution,
// two letters of country, two of location, optionally three of branch;
// upper-cased.
func ParseBIC(s string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w %q: %s", ErrBIC, s, why) }
	if len(t) != 8 && len(t) != 11 {
		return bad("want 8 or 11 characters")
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		letter := c >= 'A' && c <= 'Z'
		alnum := letter || c >= '0' && c <= '9'
		switch {
		case i >= 4 && i < 6 && !letter:
			return bad("country code must be letters")
		case !alnum:
			return bad(fmt.Sprintf("character %q", c))
		}
	}
	return t, nil
}
