package i18n

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatalogIsComplete: the embedded catalog loads, every language has
// exactly English's keys, each message the same placeholders, and both
// plural forms together.
func TestCatalogIsComplete(t *testing.T) {
	c, err := New()
	require.NoError(t, err)
	en := c.Keys(English)
	require.Greater(t, len(en), 100)
	for _, l := range Langs() {
		assert.Equal(t, en, c.Keys(l), "%s has English's keys", l)
		for _, k := range en {
			assert.Equal(t, Placeholders(c.msgs[English][k]), Placeholders(c.msgs[l][k]), "%s %s placeholders", l, k)
		}
	}
}

// TestCatalogCheck: check names each kind of mistake.
func TestCatalogCheck(t *testing.T) {
	good := func() map[Lang]map[string]string {
		return map[Lang]map[string]string{
			English: {"a": "Hello {name}", "n_one": "{n} door", "n_other": "{n} doors"},
			French:  {"a": "Bonjour {name}", "n_one": "{n} porte", "n_other": "{n} portes"},
			Dutch:   {"a": "Hallo {name}", "n_one": "{n} deur", "n_other": "{n} deuren"},
		}
	}
	tests := []struct {
		name string
		edit func(m map[Lang]map[string]string)
		want string // "" = accepted
	}{
		{"good", func(map[Lang]map[string]string) {}, ""},
		{"missing", func(m map[Lang]map[string]string) { delete(m[Dutch], "a") }, "nl-BE: a is missing"},
		{"extra", func(m map[Lang]map[string]string) { m[French]["b"] = "en trop" }, "fr-BE: b is not in en"},
		{"placeholder", func(m map[Lang]map[string]string) { m[French]["a"] = "Bonjour {nom}" }, "fr-BE: a has placeholders [nom], en has [name]"},
		{"empty", func(m map[Lang]map[string]string) { m[Dutch]["a"] = " " }, "nl-BE: a is empty"},
		{"lone plural", func(m map[Lang]map[string]string) {
			for _, l := range Langs() {
				delete(m[l], "n_other")
			}
		}, "en: n_one has no n_other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.edit(m)
			err := (&Catalog{msgs: m}).check()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestMessage: parameters, plural forms per language, a missing key.
func TestMessage(t *testing.T) {
	c, err := New()
	require.NoError(t, err)
	tests := []struct {
		lang Lang
		key  string
		args []any
		want string
	}{
		{English, "overview.doors", []any{"n", 1}, "1 door"},
		{English, "overview.doors", []any{"n", 0}, "0 doors"},
		{English, "overview.doors", []any{"n", 2}, "2 doors"},
		{French, "overview.doors", []any{"n", 0}, "0 porte"}, // French: 0 is singular
		{French, "overview.doors", []any{"n", 1}, "1 porte"},
		{French, "overview.doors", []any{"n", 2}, "2 portes"},
		{Dutch, "overview.doors", []any{"n", 0}, "0 deuren"},
		{Dutch, "overview.doors", []any{"n", 1}, "1 deur"},
		{Dutch, "overview.doors", []any{"n", uint64(7)}, "7 deuren"},
		{French, "door.room", []any{"room", "Salle 2"}, "salle Salle 2"},
		{Dutch, "member.local", []any{"center", "gnt"}, "Lokaal lid van gnt"},
		{English, "member.local", nil, "Local member of {center}"}, // a missing parameter shows
		{French, "no.such.key", nil, "⟦no.such.key⟧"},
		{"de", "login.title", nil, "Log in"}, // not ours: English
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, c.Message(tc.lang, tc.key, tc.args...), "%s %s %v", tc.lang, tc.key, tc.args)
	}
}

// TestNegotiate: an explicit choice wins, then Accept-Language by quality
// and order, then the default.
func TestNegotiate(t *testing.T) {
	tests := []struct {
		name     string
		accept   string
		explicit []string
		want     Lang
	}{
		{"nothing", "", nil, English},
		{"browser French", "fr-BE,fr;q=0.9,en;q=0.8", nil, French},
		{"browser Dutch of the Netherlands", "nl-NL", nil, Dutch},
		{"browser Flemish", "vls", nil, Dutch},
		{"quality wins over order", "en;q=0.5, nl;q=0.8", nil, Dutch},
		{"order breaks ties", "nl, fr", nil, Dutch},
		{"unknown languages skipped", "de-DE, it;q=0.9, fr;q=0.1", nil, French},
		{"only unknown", "de, *", nil, English},
		{"q=0 refuses", "fr;q=0, nl;q=0.1", nil, Dutch},
		{"bad q ignored", "fr;q=abc, en;q=0.2", nil, English},
		{"underscore", "fr_BE", nil, French},
		{"cookie wins", "nl", []string{"fr-BE", "en"}, French},
		{"session when no cookie", "nl", []string{"", "en"}, English},
		{"bad cookie falls through", "nl", []string{"klingon", ""}, Dutch},
		{"case", "", []string{"NL-be"}, Dutch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Negotiate(English, tc.accept, tc.explicit...))
		})
	}
	assert.Equal(t, French, Negotiate(French, "de"), "the default is the caller's")
}

// TestFormats: dates, times with their zone, numbers and money per locale.
func TestFormats(t *testing.T) {
	c, err := New()
	require.NoError(t, err)
	brussels, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	winter := time.Date(2026, 12, 7, 13, 5, 0, 0, time.UTC) // 14:05 in Brussels (CET)
	summer := time.Date(2026, 7, 6, 13, 5, 0, 0, time.UTC)  // 15:05 (CEST)
	tests := []struct {
		lang                                Lang
		dateTime, summerTime, day, month    string
		number, negative, money, moneyOther string
		moneyBack                           string // a credit note's
	}{
		{French, "7 déc. 2026 14:05 CET", "6 juil. 2026 15:05 CEST", "lun. 7 déc. 14:05", "décembre 2026",
			"1\u202f234\u202f567,89", "-0,50", "1\u202f234,50\u00a0€", "12,00\u00a0CHF", "-817,66\u00a0€"},
		{Dutch, "7 dec. 2026 14:05 CET", "6 jul. 2026 15:05 CEST", "ma 7 dec. 14:05", "december 2026",
			"1.234.567,89", "-0,50", "€\u00a01.234,50", "CHF\u00a012,00", "€\u00a0-817,66"},
		{English, "7 Dec 2026 14:05 CET", "6 Jul 2026 15:05 CEST", "Mon 7 Dec 14:05", "December 2026",
			"1,234,567.89", "-0.50", "€1,234.50", "CHF\u00a012.00", "-€817.66"},
	}
	for _, tc := range tests {
		l := c.Locale(tc.lang)
		assert.Equal(t, tc.dateTime, l.DateTime(winter, brussels), tc.lang)
		assert.Equal(t, tc.summerTime, l.DateTime(summer, brussels), tc.lang)
		assert.Equal(t, tc.day, l.Day(winter, brussels), tc.lang)
		assert.Equal(t, tc.month, l.Month(winter.In(brussels)), tc.lang)
		assert.Equal(t, tc.number, l.Number(1234567.891, 2), tc.lang)
		assert.Equal(t, tc.negative, l.Number(-0.5, 2), tc.lang)
		assert.Equal(t, tc.money, l.Money(123450, "EUR"), tc.lang)
		assert.Equal(t, tc.moneyOther, l.Money(1200, "CHF"), tc.lang)
		assert.Equal(t, tc.moneyBack, l.Money(-81766, "EUR"), tc.lang)
		assert.Equal(t, "—", l.DateTime(time.Time{}, brussels))
	}
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	assert.Equal(t, "7 Dec 2026 08:05 EST", c.Locale(English).DateTime(winter, ny), "a center's own zone, labelled")
	assert.Equal(t, "0", c.Locale(English).Number(-0.0001, 0), "no minus zero")
	assert.Equal(t, "1.50", c.Locale(English).Hours(90))
}
