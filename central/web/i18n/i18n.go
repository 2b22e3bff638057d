// Package i18n is the web layer's one translation catalog (French, Dutch
// and English, as spoken in Belgium) with the language choice and the
// locale's formatting of numbers, money, dates and times.
//
// The catalog is one flat JSON file per language in catalog/ (fr-BE.json,
// nl-BE.json, en.json), embedded in the binary: key → message. Translators
// edit these files directly or through a tool that reads "i18next JSON"
// (Weblate, Crowdin, POEditor). Messages name their parameters in braces,
// "{door}"; a message that depends on a count has the forms key_one and
// key_other and is chosen by the parameter "n". Every language has exactly
// the same keys and the same placeholders (New refuses a catalog that does
// not, and the package's tests check the templates against it).
//
// Use:
//
//	cat, _ := i18n.New()
//	lang := i18n.Negotiate(i18n.English, r.Header.Get("Accept-Language"), cookieLang, sessionLang)
//	loc := cat.Locale(lang)
//	loc.T("door.sent", "what", "unlock", "id", cmd.ID)  // a message
//	loc.T("overview.doors", "n", 3)                      // "3 doors" / "3 portes" / "3 deuren"
//	loc.DateTime(t, center.Location())                   // "7 déc. 2026 14:05 CET"
//
// In templates, FuncMap gives {{t "key" "name" value ...}} and the
// formatting functions (see FuncMap).
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Lang is a language of the web layer, as a BCP 47 tag.
type Lang string

// The languages. Belgian French and Dutch; English for everyone else.
const (
	French  Lang = "fr-BE"
	Dutch   Lang = "nl-BE"
	English Lang = "en"
)

// Langs are the languages in the order the language switch shows them.
func Langs() []Lang { return []Lang{French, Dutch, English} }

// Name is the language's name in itself (for the language switch).
func (l Lang) Name() string {
	switch l {
	case French:
		return "Français"
	case Dutch:
		return "Nederlands"
	}
	return "English"
}

// Short is the switch's short label: FR, NL, EN.
func (l Lang) Short() string { return strings.ToUpper(string(l)[:2]) }

//go:embed catalog/*.json
var catalogFS embed.FS

// Catalog holds every message in every language. It is read-only after New
// and safe for concurrent use.
type Catalog struct {
	msgs map[Lang]map[string]string
}

// placeholderRE finds a message's parameters.
var placeholderRE = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

// New loads the embedded catalog and checks that every language has the
// same keys, with the same placeholders, and both plural forms together.
func New() (*Catalog, error) {
	c := &Catalog{msgs: map[Lang]map[string]string{}}
	for _, l := range Langs() {
		b, err := catalogFS.ReadFile("catalog/" + string(l) + ".json")
		if err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", l, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", l, err)
		}
		c.msgs[l] = m
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// check compares every language with English.
func (c *Catalog) check() error {
	ref := c.msgs[English]
	var problems []string
	for _, l := range Langs() {
		m := c.msgs[l]
		for k, v := range m {
			if strings.TrimSpace(v) == "" {
				problems = append(problems, fmt.Sprintf("%s: %s is empty", l, k))
			}
			if base, ok := strings.CutSuffix(k, "_one"); ok {
				if _, ok := m[base+"_other"]; !ok {
					problems = append(problems, fmt.Sprintf("%s: %s has no %s_other", l, k, base))
				}
			}
			if l == English {
				continue
			}
			rv, ok := ref[k]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: %s is not in en", l, k))
				continue
			}
			if a, b := Placeholders(v), Placeholders(rv); !slices.Equal(a, b) {
				problems = append(problems, fmt.Sprintf("%s: %s has placeholders %v, en has %v", l, k, a, b))
			}
		}
		for k := range ref {
			if _, ok := m[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s: %s is missing", l, k))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("i18n: catalog: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Placeholders lists a message's parameter names, sorted, once each.
func Placeholders(msg string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(msg, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// Keys returns the language's keys, sorted. A plural message is listed
// under its forms (key_one, key_other).
func (c *Catalog) Keys(l Lang) []string { return slices.Sorted(maps.Keys(c.msgs[l])) }

// Has reports whether key (or its plural forms) exists in the language.
func (c *Catalog) Has(l Lang, key string) bool {
	m := c.msgs[l]
	if _, ok := m[key]; ok {
		return true
	}
	_, ok := m[key+"_other"]
	return ok
}

// Message returns key's message in l with the parameters filled in. args
// are name, value pairs; the parameter "n" (an integer) selects a plural
// form. A key the catalog lacks comes out as "⟦key⟧", visible on the page
// and caught by the tests.
func (c *Catalog) Message(l Lang, key string, args ...any) string {
	m, ok := c.msgs[l]
	if !ok {
		m = c.msgs[English]
	}
	params := map[string]string{}
	n, hasN := int64(0), false
	for i := 0; i+1 < len(args); i += 2 {
		name := fmt.Sprint(args[i])
		params[name] = fmt.Sprint(args[i+1])
		if name == "n" {
			n, hasN = toInt(args[i+1])
		}
	}
	msg, ok := m[key]
	if !ok && hasN {
		msg, ok = m[key+"_"+pluralForm(l, n)]
	}
	if !ok {
		return "⟦" + key + "⟧"
	}
	return placeholderRE.ReplaceAllStringFunc(msg, func(p string) string {
		if v, ok := params[p[1:len(p)-1]]; ok {
			return v
		}
		return p
	})
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case uint64:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		return int64(x), true
	}
	return 0, false
}

// pluralForm is CLDR's cardinal rule for integers: French says "one" for 0
// and 1, Dutch and English for 1 only.
func pluralForm(l Lang, n int64) string {
	if n == 1 || (l == French && n == 0) {
		return "one"
	}
	return "other"
}
