package invoice

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// RoundingRule states how a Document's totals are computed (see the
// package comment); renderers may print it.
const RoundingRule = "line net = quantity × unit price ÷ base quantity, rounded to the cent, halves away from zero, once per line; VAT = taxable amount of each category and rate × rate, rounded to the cent, halves away from zero, once per category; every other total is an exact sum"

// Quantity is a quantity in thousandths of its unit: 1500 is 1.5.
type Quantity int64

// Units is a quantity of n whole units.
func Units(n int64) Quantity { return Quantity(n * 1000) }

// String is the quantity as a decimal without trailing zeros ("1.5", "60").
func (q Quantity) String() string { return decimal(int64(q), 3) }

// Rate is a VAT rate in hundredths of a percent: 2100 is 21 %.
type Rate int64

// Percent is a rate of n whole percent.
func Percent(n int64) Rate { return Rate(n * 100) }

// String is the rate as a decimal percent without trailing zeros ("21", "5.5").
func (r Rate) String() string { return decimal(int64(r), 2) }

// FormatCents writes an amount of cents with two decimals and a point:
// 123456 is "1234.56", -5 is "-0.05" (the form of UBL and ISO 20022).
func FormatCents(c int64) string {
	sign := ""
	u := uint64(c)
	if c < 0 {
		sign, u = "-", uint64(-c)
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// ParseCents reads an amount written with at most two decimals and a
// point ("12", "12.5", "-0.05").
func ParseCents(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" || len(frac) > 2 || strings.ContainsAny(whole+frac, "+-") {
		return 0, fmt.Errorf("amount %q: want digits with at most two decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	c := w*100 + f
	if neg {
		c = -c
	}
	return c, nil
}

// decimal writes v ÷ 10^places without trailing zeros.
func decimal(v int64, places int) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= places {
		s = strings.Repeat("0", places-len(s)+1) + s
	}
	whole, frac := s[:len(s)-places], strings.TrimRight(s[len(s)-places:], "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// LineNetCents applies the line rule of RoundingRule: quantity × unit price
// ÷ base quantity, rounded to the cent, halves away from zero. A base of 0
// means one unit.
func LineNetCents(q Quantity, unitPriceCents int64, base Quantity) int64 {
	if base == 0 {
		base = Units(1)
	}
	n := new(big.Int).Mul(big.NewInt(int64(q)), big.NewInt(unitPriceCents))
	return divRound(n, big.NewInt(int64(base)))
}

// VATCents applies the VAT rule of RoundingRule: taxable × rate, rounded
// to the cent, halves away from zero.
func VATCents(taxableCents int64, r Rate) int64 {
	n := new(big.Int).Mul(big.NewInt(taxableCents), big.NewInt(int64(r)))
	return divRound(n, big.NewInt(10000))
}

// divRound is n ÷ d (d > 0) rounded to the nearest integer, halves away
// from zero. The result fits int64 for every validated document.
func divRound(n, d *big.Int) int64 {
	neg := n.Sign() < 0
	a := new(big.Int).Abs(n)
	a.Mul(a, big.NewInt(2)).Add(a, d)
	a.Quo(a, new(big.Int).Mul(d, big.NewInt(2)))
	if neg {
		a.Neg(a)
	}
	return a.Int64()
}
