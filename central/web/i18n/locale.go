package i18n

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Locale is a language with its catalog: messages and formatting.
type Locale struct {
	Lang Lang
	cat  *Catalog
}

// Locale returns the locale of l.
func (c *Catalog) Locale(l Lang) Locale { return Locale{Lang: l, cat: c} }

// T is the message key in the locale's language (see Catalog.Message).
func (l Locale) T(key string, args ...any) string { return l.cat.Message(l.Lang, key, args...) }

// calendar words per language (CLDR abbreviated and wide forms).
var (
	monthsShort = map[Lang][12]string{
		French:  {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
		Dutch:   {"jan.", "feb.", "mrt.", "apr.", "mei", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.", "dec."},
		English: {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	}
	monthsWide = map[Lang][12]string{
		French:  {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		Dutch:   {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
		English: {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	}
	weekdaysShort = map[Lang][7]string{
		French:  {"dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."},
		Dutch:   {"zo", "ma", "di", "wo", "do", "vr", "za"},
		English: {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
	}
)

func (l Locale) lang() Lang {
	if _, ok := monthsShort[l.Lang]; ok {
		return l.Lang
	}
	return English
}

// Date is t's day in loc: "7 déc. 2026", "7 dec. 2026", "7 Dec 2026".
func (l Locale) Date(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return fmt.Sprintf("%d %s %d", t.Day(), monthsShort[l.lang()][t.Month()-1], t.Year())
}

// Clock is t's time of day in loc, 24-hour: "14:05".
func (l Locale) Clock(t time.Time, loc *time.Location) string { return t.In(loc).Format("15:04") }

// Zone is loc's abbreviation at t, the label of times shown in it: "CET".
func (l Locale) Zone(t time.Time, loc *time.Location) string { return t.In(loc).Format("MST") }

// DateTime is t in loc with its zone: "7 déc. 2026 14:05 CET"; "—" for the zero time.
func (l Locale) DateTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return l.Date(t, loc) + " " + l.Clock(t, loc) + " " + l.Zone(t, loc)
}

// Stamp is an event's moment in loc, with seconds and the zone:
// "7 déc. 2026 14:05:03 CET"; "—" for the zero time.
func (l Locale) Stamp(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return l.Date(t, loc) + " " + t.In(loc).Format("15:04:05") + " " + l.Zone(t, loc)
}

// Day is a weekday, day and time in loc without the year: "lun. 7 déc. 14:05".
func (l Locale) Day(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	lg := l.lang()
	return fmt.Sprintf("%s %d %s %s", weekdaysShort[lg][t.Weekday()], t.Day(), monthsShort[lg][t.Month()-1], t.Format("15:04"))
}

// Month is a month and year: "décembre 2026", "december 2026", "December 2026".
func (l Locale) Month(t time.Time) string {
	return fmt.Sprintf("%s %d", monthsWide[l.lang()][t.Month()-1], t.Year())
}

// separators are the group and decimal marks.
func (l Locale) separators() (group, decimal string) {
	switch l.lang() {
	case French:
		return "\u202f", "," // narrow no-break space, as CLDR for fr
	case Dutch:
		return ".", ","
	}
	return ",", "."
}

// Number formats v with the given decimals: "1 234,50", "1.234,50", "1,234.50".
func (l Locale) Number(v float64, decimals int) string {
	group, dec := l.separators()
	s := strconv.FormatFloat(math.Abs(v), 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 && strings.Trim(s, "0.") != "" {
		b.WriteString("-")
	}
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString(dec + frac)
	}
	return b.String()
}

// Int formats an integer with group marks.
func (l Locale) Int(n int64) string { return l.Number(float64(n), 0) }

// Money formats an amount in cents with its currency (ISO 4217 code):
// "12,50 €" in French, "€ 12,50" in Dutch, "€12.50" in English; other
// currencies by their code. A negative amount (a credit note) is
// "-12,50 €", "€ -12,50" and "-€12.50", as CLDR writes them.
func (l Locale) Money(cents int64, currency string) string {
	num := l.Number(float64(cents)/100, 2)
	sym := currency
	if currency == "EUR" || currency == "" {
		sym = "€"
	}
	switch l.lang() {
	case French:
		return num + "\u00a0" + sym
	case Dutch:
		return sym + "\u00a0" + num
	}
	sign := ""
	if rest, ok := strings.CutPrefix(num, "-"); ok {
		sign, num = "-", rest
	}
	if sym == "€" {
		return sign + sym + num
	}
	return sign + sym + "\u00a0" + num
}

// Hours formats minutes as hours with two decimals, without the unit.
func (l Locale) Hours(minutes int64) string { return l.Number(float64(minutes)/60, 2) }

// FuncMap is what templates call, in the locale and with times in loc
// (the zone of the page: the center's own, or the network's):
//
//	{{t "key" "name" value ...}}  message (see Catalog.Message)
//	{{date .T}} {{clock .T}} {{when .T}} {{day .T}} {{month .T}}  times in loc (when is labelled with the zone)
//	{{stamp .T .Loc}}             a moment with seconds in another zone (a center's), labelled; nil Loc: loc
//	{{zone}}                      loc's abbreviation now, e.g. CET
//	{{num 1234.5 1}} {{int 1234}} {{hours minutes}} {{money cents}} (money in EUR; moneyIn cents "CHF")
//	{{lang}}                      the page's language tag, for <html lang>
func (l Locale) FuncMap(loc *time.Location, now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"t":     l.T,
		"lang":  func() string { return string(l.Lang) },
		"date":  func(t time.Time) string { return l.Date(t, loc) },
		"clock": func(t time.Time) string { return l.Clock(t, loc) },
		"when":  func(t time.Time) string { return l.DateTime(t, loc) },
		"day":   func(t time.Time) string { return l.Day(t, loc) },
		"month": func(t time.Time) string { return l.Month(t.In(loc)) },
		"zone":  func() string { return l.Zone(now(), loc) },
		"stamp": func(t time.Time, in *time.Location) string {
			if in == nil {
				in = loc
			}
			return l.Stamp(t, in)
		},
		"num":     func(v float64, decimals int) string { return l.Number(v, decimals) },
		"int":     func(n int64) string { return l.Int(n) },
		"hours":   l.Hours,
		"money":   func(cents int64) string { return l.Money(cents, "EUR") },
		"moneyIn": func(cents int64, currency string) string { return l.Money(cents, currency) },
	}
}
