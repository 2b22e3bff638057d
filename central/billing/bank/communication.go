package bank

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCommunication is matched (errors.Is) by every error about a
// structured communication.
var ErrCommunication = errors.New("invalid structured communication")

// MaxReference is the largest reference a structured communication holds
// (ten digits).
const MaxReference = 9_999_999_999

// Communication is a Belgian structured communication: the twelve digits,
// check included. Its zero value is not valid.
type Communication struct {
	digits string
}

// NewCommunication builds the structured communication of reference ref,
// 0 ≤ ref ≤ MaxReference, written on ten digits with leading zeros.
// A reference of 0 is refused: its check would be 97 and banks reject it.
func NewCommunication(ref int64) (Communication, error) {
	if ref <= 0 || ref > MaxReference {
		return Communication{}, fmt.Errorf("%w: reference %d; want 1 to %d", ErrCommunication, ref, int64(MaxReference))
	}
	return Communication{digits: fmt.Sprintf("%010d%02d", ref, communicationCheck(ref))}, nil
}

// communicationCheck is ref mod 97, with 97 for a remainder of 0.
func communicationCheck(ref int64) int64 {
	if c := ref % 97; c != 0 {
		return c
	}
	return 97
}

// ParseCommunication reads a structured communication written as
// +++ddd/dddd/ddddd+++ (or ***…*** as some banks print it), or as its
// twelve digits alone, and checks its check digits.
func ParseCommunication(s string) (Communication, error) {
	bad := func(why string) (Communication, error) {
		return Communication{}, fmt.Errorf("%w %q: %s", ErrCommunication, s, why)
	}
	t := strings.TrimSpace(s)
	if len(t) == 20 {
		for _, m := range []string{"+++", "***"} {
			if strings.HasPrefix(t, m) && strings.HasSuffix(t, m) {
				body := t[3:17]
				if body[3] != '/' || body[8] != '/' {
					return bad("want +++ddd/dddd/ddddd+++")
				}
				t = body[:3] + body[4:8] + body[9:]
				break
			}
		}
	}
	if len(t) != 12 {
		return bad("want 12 digits or +++ddd/dddd/ddddd+++")
	}
	var ref, check int64
	for i := 0; i < 12; i++ {
		c := t[i]
		if c < '0' || c > '9' {
			return bad("not a digit at " + fmt.Sprint(i+1))
		}
		if i < 10 {
			ref = ref*10 + int64(c-'0')
		} else {
			check = check*10 + int64(c-'0')
		}
	}
	if ref == 0 {
		return bad("reference 0")
	}
	if want := communicationCheck(ref); check != want {
		return bad(fmt.Sprintf("check digits %02d; want %02d", check, want))
	}
	return Communication{digits: t}, nil
}

// IsZero reports whether c is the zero value (no communication).
func (c Communication) IsZero() bool { return c.digits == "" }

// Digits is the twelve digits, as bank files carry them.
func (c Communication) Digits() string { return c.digits }

// Reference is the ten-digit reference without its check.
func (c Communication) Reference() int64 {
	var r int64
	for i := 0; i < 10 && i < len(c.digits); i++ {
		r = r*10 + int64(c.digits[i]-'0')
	}
	return r
}

// String is the printed form +++ddd/dddd/ddddd+++ ("" for the zero value).
func (c Communication) String() string {
	if c.IsZero() {
		return ""
	}
	return "+++" + c.digits[:3] + "/" + c.digits[3:7] + "/" + c.digits[7:] + "+++"
}
