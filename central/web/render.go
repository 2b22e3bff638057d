package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/web/i18n"
)

// pageNames are the templates, each with the layout.
func pageNames() []string {
	names := append([]string{"login", "overview", "live", "hours", "door", "members", "member", "error",
		"signin", "signin_code", "passkeys",
		"console_events", "console_settings", "console_settlements", "console_alerts", "console_webhooks", "console_webhook", "console_audit",
		"staff_login", "staff_totp", "staff_forgot", "staff_reset", "staff_invite", "staff_codes", "staff_account", "staff_accounts"},
		sitePageNames()...)
	return append(append(names, consolePages()...), billingPages()...)
}

// Areas of the web layer: the layout shows the navigation of the page's area.
const (
	AreaStaff  = "staff"  // dashboard and staff console
	AreaMember = "member" // the members' booking site
)

// templateFuncs are the functions of the templates beside the locale's
// (i18n.Locale.FuncMap).
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"f1": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		// ms is a time in Unix milliseconds; list makes a list of strings (console pages)
		"ms":   time.UnixMilli,
		"list": func(s ...string) []string { return s },
		// centerFilter is what the "centerfilter" select of a filter form shows
		"centerFilter": func(centers []domain.Center, selected string) centerFilter {
			return centerFilter{Centers: centers, Selected: selected}
		},
	}
}

// centerFilter is a filter form's center select: the centers offered and
// the one chosen ("" for all).
type centerFilter struct {
	Centers  []domain.Center
	Selected string
}

// parseTemplates parses every page once per language, with the language's
// functions bound.
func (w *Web) parseTemplates() (map[i18n.Lang]map[string]*template.Template, error) {
	out := map[i18n.Lang]map[string]*template.Template{}
	for _, l := range i18n.Langs() {
		funcs := w.cat.Locale(l).FuncMap(w.loc, w.now)
		for k, f := range templateFuncs() {
			funcs[k] = f
		}
		out[l] = map[string]*template.Template{}
		for _, name := range pageNames() {
			t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
			if err != nil {
				return nil, fmt.Errorf("web: template %s: %w", name, err)
			}
			out[l][name] = t
		}
	}
	return out, nil
}

// lang is the request's language: the language switch's cookie, else the
// session's stored choice, else the browser's Accept-Language, else
// Config.Lang.
func (w *Web) lang(r *http.Request, v *viewer) i18n.Lang {
	var explicit []string
	if c, err := r.Cookie(langCookie); err == nil {
		explicit = append(explicit, c.Value)
	}
	if v != nil {
		explicit = append(explicit, v.Lang)
	}
	return i18n.Negotiate(w.cfg.Lang, r.Header.Get("Accept-Language"), explicit...)
}

// locale is the request's locale (messages and formats).
func (w *Web) locale(r *http.Request, v *viewer) i18n.Locale { return w.cat.Locale(w.lang(r, v)) }

// switchLang is the layout's language switch: GET /lang/{lang}?next=PATH
// stores the choice in a cookie (a year) and in the session, if any, and
// goes back to the page.
func (w *Web) switchLang(rw http.ResponseWriter, r *http.Request) {
	l, ok := i18n.Parse(r.PathValue("lang"))
	if !ok {
		w.errorPage(rw, r, nil, pageErr(http.StatusNotFound, "error.no_page"))
		return
	}
	http.SetCookie(rw, &http.Cookie{Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: w.secure(r), SameSite: http.SameSiteLaxMode, HttpOnly: true})
	if _, id, err := w.session(r, false); err == nil {
		if err := w.st.Sessions().SetSessionLang(r.Context(), id, string(l)); err != nil {
			w.log.WarnContext(r.Context(), "web: store the session's language", "err", err)
		}
	}
	http.Redirect(rw, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// render writes a page in the request's language. data is handed to the
// template as .Data, with the viewer as .Viewer.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, v *viewer, data any) {
	lang := w.lang(r, v)
	t, ok := w.pages[lang][name]
	if !ok {
		panic("web: no template " + name)
	}
	pd := pageData{Viewer: v, Data: data, Title: "title." + name, Now: w.now().In(w.loc), Path: r.URL.Path,
		Area: areaOf(name), Zone: w.now().In(w.loc).Format("MST"), Nav: navFor(areaOf(name), v, r.URL.Path)}
	here := r.URL.RequestURI()
	if name == "login" || name == "error" {
		here = r.URL.Path
		if q := r.URL.Query().Get("next"); name == "login" && q != "" {
			here = "/login?next=" + urlQueryEscape(q)
		}
	}
	for _, l := range i18n.Langs() {
		pd.Langs = append(pd.Langs, langLink{Tag: string(l), Name: l.Name(), Short: l.Short(), Current: l == lang,
			Href: "/lang/" + string(l) + "?next=" + urlQueryEscape(here)})
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", pd); err != nil {
		w.log.ErrorContext(r.Context(), "web: render", "page", name, "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Content-Language", string(lang))
	rw.Header().Add("Vary", "Accept-Language, Cookie")
	rw.WriteHeader(status)
	_, _ = fmt.Fprint(rw, buf.String())
}

// pageData is what every template gets.
type pageData struct {
	Viewer *viewer
	Data   any
	Title  string // catalog key of the page's title
	Now    time.Time
	Path   string
	// Area is the part of the web layer (AreaStaff, AreaMember): the body's
	// class and the navigation shown.
	Area  string
	Nav   []navItem
	Langs []langLink
	Zone  string // the abbreviation of the page's time zone now
}

// navItem is a link of the main navigation.
type navItem struct {
	Href, Key string // Key: catalog key of the label
	Current   bool
}

// langLink is a link of the language switch.
type langLink struct {
	Tag, Name, Short, Href string
	Current                bool
}

// areaOf is the area of a page: today every page is the staff's; the
// booking site's pages return AreaMember here when they are added.
func areaOf(page string) string {
	if strings.HasPrefix(page, "site_") || strings.HasPrefix(page, "signin") || page == "passkeys" {
		return AreaMember
	}
	return AreaStaff
}

// navFor is the main navigation of an area for the viewer (none when
// signed out). The booking site adds its member entries under AreaMember.
func navFor(area string, v *viewer, path string) []navItem {
	if v == nil {
		return nil
	}
	var items []navItem
	switch area {
	case AreaStaff:
		items = append(items, navItem{Href: "/", Key: "nav.network"})
		if v.SeesEvents() {
			items = append(items, navItem{Href: "/live", Key: "nav.live"}, navItem{Href: "/hours", Key: "nav.hours"},
				navItem{Href: "/members", Key: "nav.members"})
		}
		items = append(items, opsNav(v)...)
		items = append(items, consoleNav(v)...)
		if v.SeesEvents() || v.Account != nil {
			items = append(items, staffNav(v)...)
		}
	case AreaMember:
		items = append(items, siteNav()...)
		items = append(items, navItem{Href: SitePrefix + "passkeys", Key: "nav.passkeys"})
	}
	for i := range items {
		items[i].Current = items[i].Href == path
	}
	return items
}
