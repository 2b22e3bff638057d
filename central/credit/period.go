package credit

import (
	"errors"
	"fmt"
	"time"
)

// ErrPeriod is matched (errors.Is) by every error of ParsePeriod.
var ErrPeriod = errors.New("invalid period")

// Bounds of the periods the engine accepts.
const (
	minPeriodYear = 2000
	maxPeriodYear = 2199
)

// Period is one calendar month in the network's time zone. The zero Period
// means "none" (for example, no period closed yet).
type Period struct {
	Year  int
	Month time.Month
}

// ParsePeriod parses "YYYY-MM" (such as "2026-11"). Years 2000–2199 are
// accepted; anything else, including extra spaces or a day, is an error
// matching ErrPeriod.
func ParsePeriod(s string) (Period, error) {
	bad := func(why string) (Period, error) {
		return Period{}, fmt.Errorf("%w %q: %s; want YYYY-MM such as 2026-11", ErrPeriod, s, why)
	}
	if len(s) != 7 || s[4] != '-' {
		return bad("wrong shape")
	}
	digits := func(part string) (int, bool) {
		n := 0
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := digits(s[:4])
	m, ok2 := digits(s[5:])
	if !ok1 || !ok2 {
		return bad("not digits")
	}
	if m < 1 || m > 12 {
		return bad("month out of range")
	}
	if y < minPeriodYear || y > maxPeriodYear {
		return bad(fmt.Sprintf("year outside %d–%d", minPeriodYear, maxPeriodYear))
	}
	return Period{Year: y, Month: time.Month(m)}, nil
}

// String formats the period as "YYYY-MM"; the zero Period is "".
func (p Period) String() string {
	if p.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d", p.Year, int(p.Month))
}

// IsZero reports whether p is the zero Period.
func (p Period) IsZero() bool { return p == Period{} }

// MarshalText implements encoding.TextMarshaler ("2026-11").
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; "" is the zero Period.
func (p *Period) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = Period{}
		return nil
	}
	q, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// index numbers months consecutively, for arithmetic and ordering.
func (p Period) index() int { return p.Year*12 + int(p.Month) - 1 }

func periodFromIndex(i int) Period { return Period{Year: i / 12, Month: time.Month(i%12 + 1)} }

// Next is the following month.
func (p Period) Next() Period { return periodFromIndex(p.index() + 1) }

// Prev is the previous month.
func (p Period) Prev() Period { return periodFromIndex(p.index() - 1) }

// Before reports whether p is earlier than q.
func (p Period) Before(q Period) bool { return p.index() < q.index() }

// Start is the first instant of the period in loc (local midnight of the 1st).
func (p Period) Start(loc *time.Location) time.Time {
	return time.Date(p.Year, p.Month, 1, 0, 0, 0, 0, loc)
}

// End is the first instant after the period in loc.
func (p Period) End(loc *time.Location) time.Time { return p.Next().Start(loc) }

// PeriodOf is the period containing t in loc.
func PeriodOf(t time.Time, loc *time.Location) Period {
	y, m, _ := t.In(loc).Date()
	return Period{Year: y, Month: m}
}

// comparePeriods orders periods for slices.SortFunc.
func comparePeriods(a, b Period) int { return a.index() - b.index() }
