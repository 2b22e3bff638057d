package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
)

// settingsForm is the settings form's values as typed (re-shown when
// refused).
type settingsForm struct {
	DefaultRate, Currency, Grace, NoShow, DefaultVisit, Horizon string
	Offline, HeldOpen, CertExpiry, Behind, EffectiveFrom, Note  string
	CenterRates                                                 map[string]string
}

// settingsFields are the form's numeric fields: name, label key (the
// settings field's JSON name), bounds.
type numField struct {
	name     string
	min, max int
}

func settingsNumFields() []numField {
	return []numField{
		{"grace_minutes", 0, settings.MaxGraceMinutes},
		{"default_visit_minutes", 1, settings.MaxDefaultVisitMinutes},
		{"whitelist_horizon_days", 1, settings.MaxWhitelistHorizonDays},
		{"alerts.door_offline_minutes", 1, settings.MaxDoorOfflineMinutes},
		{"alerts.held_open_seconds", 1, settings.MaxHeldOpenSeconds},
		{"alerts.cert_expiry_days", 1, settings.MaxCertExpiryDays},
		{"alerts.whitelist_behind_minutes", 1, settings.MaxWhitelistBehindMins},
	}
}

// fieldLabel is the catalog key of a settings field's label (JSON name,
// dots as underscores; center_rates.X is the centers' rate).
func fieldLabel(field string) string {
	if strings.HasPrefix(field, "center_rates") {
		return "console.settings.f.center_rates"
	}
	return "console.settings.f." + strings.ReplaceAll(field, ".", "_")
}

func formOf(s settings.Settings, from credit.Period) settingsForm {
	f := settingsForm{DefaultRate: centsText(s.DefaultRateCents), Currency: s.Currency, Grace: strconv.Itoa(s.GraceMinutes),
		NoShow: string(s.NoShow), DefaultVisit: strconv.Itoa(s.DefaultVisitMinutes), Horizon: strconv.Itoa(s.WhitelistHorizonDays),
		Offline: strconv.Itoa(s.Alerts.DoorOfflineMinutes), HeldOpen: strconv.Itoa(s.Alerts.HeldOpenSeconds),
		CertExpiry: strconv.Itoa(s.Alerts.CertExpiryDays), Behind: strconv.Itoa(s.Alerts.WhitelistBehindMinutes),
		EffectiveFrom: from.String(), CenterRates: map[string]string{}}
	for c, r := range s.CenterRates {
		f.CenterRates[c] = centsText(r)
	}
	return f
}

func centsText(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

// parseCents reads an amount such as 4, 4.5, 4.00 or 4,00 (comma or point)
// as cents; ok is false for anything else.
func parseCents(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", ".")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || len(whole) > 9 {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, false
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil || f < 0 {
			return 0, false
		}
		if len(frac) == 1 {
			f *= 10
		}
	}
	return w*100 + f, true
}

// settingsPage is GET /settings: the settings in force (a manager's: their
// center's effective settings), the versions to come, the history, and
// for an admin the form of a new version.
func (w *Web) settingsPage(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	return w.showSettings(rw, r, v, http.StatusOK, nil, "", "")
}

func (w *Web) showSettings(rw http.ResponseWriter, r *http.Request, v *viewer, status int, form *settingsForm, problem, badField string) error {
	ctx, cancel := w.context(r)
	defer cancel()
	h, err := w.st.SettingsHistory(ctx)
	if err != nil {
		return err
	}
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	now := credit.PeriodOf(w.now(), w.loc)
	cur := h.For(now)
	// A manager reads their center's effective settings (the center's
	// rate as the rate, no other center's).
	narrow := func(s settings.Settings) settings.Settings {
		if v.Admin() || len(centers) == 0 {
			return s
		}
		return s.ForCenter(centers[0].ID, centers[0].RateCents)
	}
	type row struct {
		settings.Version
		Current bool
	}
	var history []row
	for i := len(h) - 1; i >= 0; i-- {
		x := h[i]
		x.Settings = narrow(x.Settings)
		history = append(history, row{Version: x, Current: x.Number == cur.Number})
	}
	cur.Settings = narrow(cur.Settings)
	data := map[string]any{"Current": cur, "History": history, "Centers": centers, "Period": now, "Flash": w.takeFlash(r, v),
		"Problem": problem, "Bad": badField, "NoShows": []credit.NoShowPolicy{credit.NoShowZero, credit.NoShowBooked}}
	if !v.Admin() && len(centers) > 0 {
		data["CenterName"] = centers[0].Name
	}
	if v.Admin() {
		last, err := w.st.Credit().LastClosed(ctx)
		if err != nil {
			return err
		}
		// The months a version may start: the open periods of the last
		// year (their settlements are recomputed), this one, and the next
		// twelve.
		var months []credit.Period
		first := now
		for range 11 {
			if !last.IsZero() && !last.Before(first.Prev()) {
				break
			}
			first = first.Prev()
		}
		end := now
		for range 12 {
			end = end.Next()
		}
		for p := first; !end.Before(p); p = p.Next() {
			months = append(months, p)
		}
		data["Months"] = months
		if form == nil {
			f := formOf(h.Latest().Settings, now.Next())
			if len(h) == 0 {
				f = formOf(settings.Defaults(), now.Next())
			}
			form = &f
		}
		data["Form"] = form
	}
	w.render(rw, r, status, "console_settings", v, data)
	return nil
}

// saveSettings is POST /settings (admins): a new version from the form.
// Every field is checked here first, so that a refusal names the field in
// the viewer's language; the store checks again (and refuses a closed
// period, locked against a concurrent close).
func (w *Web) saveSettings(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	loc := w.locale(r, v)
	pf := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	form := settingsForm{DefaultRate: pf("default_rate_cents"), Currency: strings.ToUpper(pf("currency")), Grace: pf("grace_minutes"),
		NoShow: pf("no_show"), DefaultVisit: pf("default_visit_minutes"), Horizon: pf("whitelist_horizon_days"),
		Offline: pf("alerts.door_offline_minutes"), HeldOpen: pf("alerts.held_open_seconds"), CertExpiry: pf("alerts.cert_expiry_days"),
		Behind: pf("alerts.whitelist_behind_minutes"), EffectiveFrom: pf("effective_from"), Note: pf("note"), CenterRates: map[string]string{}}
	ctx, cancel := w.context(r)
	defer cancel()
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	refuse := func(field, key string, args ...any) error {
		w.log.WarnContext(ctx, "web: settings refused", "field", field)
		w.opsRefused.With("settings", field).Inc()
		msg := loc.T(key, append([]any{"field", loc.T(fieldLabel(field))}, args...)...)
		return w.showSettings(rw, r, v, http.StatusBadRequest, &form, msg, field)
	}
	maxMoney := centsText(settings.MaxRateCents)
	s := settings.Settings{Currency: form.Currency, NoShow: credit.NoShowPolicy(form.NoShow), CenterRates: map[string]int64{}}
	var ok bool
	if s.DefaultRateCents, ok = parseCents(form.DefaultRate); !ok || s.DefaultRateCents <= 0 || s.DefaultRateCents > settings.MaxRateCents {
		return refuse("default_rate_cents", "console.settings.bad_money", "max", maxMoney)
	}
	for _, c := range centers {
		raw := pf("rate." + c.ID)
		form.CenterRates[c.ID] = raw
		if raw == "" {
			continue
		}
		cents, ok := parseCents(raw)
		if !ok || cents <= 0 || cents > settings.MaxRateCents {
			return refuse("center_rates."+c.ID, "console.settings.bad_center_rate", "center", c.Name, "max", maxMoney)
		}
		s.CenterRates[c.ID] = cents
	}
	if len(form.Currency) != 3 || strings.IndexFunc(form.Currency, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return refuse("currency", "console.settings.bad_currency")
	}
	if s.NoShow != credit.NoShowZero && s.NoShow != credit.NoShowBooked {
		return refuse("no_show", "console.settings.bad_choice")
	}
	nums := map[string]*int{"grace_minutes": &s.GraceMinutes, "default_visit_minutes": &s.DefaultVisitMinutes,
		"whitelist_horizon_days": &s.WhitelistHorizonDays, "alerts.door_offline_minutes": &s.Alerts.DoorOfflineMinutes,
		"alerts.held_open_seconds": &s.Alerts.HeldOpenSeconds, "alerts.cert_expiry_days": &s.Alerts.CertExpiryDays,
		"alerts.whitelist_behind_minutes": &s.Alerts.WhitelistBehindMinutes}
	for _, f := range settingsNumFields() {
		n, err := strconv.Atoi(pf(f.name))
		if err != nil || n < f.min || n > f.max {
			return refuse(f.name, "console.settings.bad_number", "min", f.min, "max", f.max)
		}
		*nums[f.name] = n
	}
	from, err := credit.ParsePeriod(form.EffectiveFrom)
	if err != nil {
		return refuse("effective_from", "console.settings.bad_month")
	}
	if len(form.Note) > settings.MaxNote {
		return refuse("note", "console.settings.bad_note", "max", settings.MaxNote)
	}
	if len(s.CenterRates) == 0 {
		s.CenterRates = nil
	}
	ver, err := w.st.SaveSettings(ctx, settings.Version{EffectiveFrom: from, Settings: s, CreatedBy: v.ID, Note: form.Note})
	if err != nil {
		var fe *domain.FieldError
		switch {
		case errors.Is(err, settings.ErrClosedPeriod):
			last, lerr := w.st.Credit().LastClosed(ctx)
			if lerr != nil {
				return lerr
			}
			return refuse("effective_from", "console.settings.closed", "period", from.String(), "next", last.Next().String())
		case errors.As(err, &fe):
			return refuse(fe.Field, "console.settings.refused", "why", fe.Message)
		}
		return err
	}
	w.log.InfoContext(ctx, "web: network settings changed", "version", ver.Number, "effective_from", ver.EffectiveFrom.String(), "by", v.ID)
	w.setFlash(r, v, loc.T("console.settings.saved", "v", ver.Number, "period", ver.EffectiveFrom.String()))
	http.Redirect(rw, r, "/settings", http.StatusSeeOther)
	return nil
}
