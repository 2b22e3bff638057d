package web

import (
	"fmt"
	"html/template"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/central/store"
)

// pageNames are the templates, each with the layout.
func pageNames() []string {
	return []string{"login", "overview", "live", "hours", "door", "members", "member", "error"}
}

func (w *Web) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"hours": func(minutes int64) string { return strconv.FormatFloat(float64(minutes)/60, 'f', 2, 64) },
		"money": func(cents int64) string {
			sign := ""
			if cents < 0 {
				sign, cents = "-", -cents
			}
			return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
		},
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(w.loc).Format("2006-01-02 15:04")
		},
		"day":   func(t time.Time) string { return t.In(w.loc).Format("Mon 2 Jan 15:04") },
		"clock": func(t time.Time) string { return t.In(w.loc).Format("15:04") },
		"role":  func(r store.Role) string { return string(r) },
		"f1":    func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"zone":  func() string { return w.loc.String() },
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames() {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
