package i18n

import (
	"slices"
	"strconv"
	"strings"
)

// Parse maps a language tag to one of ours: any French (fr, fr-FR, fr-BE)
// is French, any Dutch (nl, nl-NL, nl-BE, and Flemish "vls") is Dutch, any
// English is English.
func Parse(tag string) (Lang, bool) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	primary, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	switch primary {
	case "fr":
		return French, true
	case "nl", "vls":
		return Dutch, true
	case "en":
		return English, true
	}
	return "", false
}

// Negotiate picks the page's language: the first explicit choice that is
// one of ours (the language switch's cookie, the session's stored choice,
// in the caller's order of precedence) wins; else the browser's
// Accept-Language, by quality and then order; else def.
func Negotiate(def Lang, acceptLanguage string, explicit ...string) Lang {
	for _, e := range explicit {
		if l, ok := Parse(e); ok && e != "" {
			return l
		}
	}
	type pref struct {
		lang Lang
		q    float64
		i    int
	}
	var prefs []pref
	for i, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.TrimSpace(k) == "q" {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		if l, ok := Parse(tag); ok && q > 0 {
			prefs = append(prefs, pref{l, q, i})
		}
	}
	if len(prefs) == 0 {
		return def
	}
	slices.SortStableFunc(prefs, func(a, b pref) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return a.i - b.i
	})
	return prefs[0].lang
}
