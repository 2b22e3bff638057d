package api

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
)

// Network settings (package settings), versioned:
//
//   - GET /settings: the version in force now (or for ?period=YYYY-MM),
//     with the versions stored to apply later ("upcoming"). An admin sees
//     the network's settings whole; a manager sees their center's
//     effective settings (?center= when they have several): the center's
//     rate as default_rate_cents and no other center's rate.
//   - PUT /settings (admins): stores a new version applying from
//     effective_from (a period, YYYY-MM; default the current one) until a
//     later one. Settings change at period boundaries only: a date within
//     a month is refused, and so is a closed period (it keeps the
//     settings it was computed with). Open periods from effective_from on
//     are recomputed by the crediting with the new version.
//   - GET /settings/history: every version, oldest first (a manager's
//     as above).

// maxAhead bounds how far ahead a version may start, in periods.
const maxAhead = 24

// settingsView is a version as the API answers it.
type settingsView struct {
	settings.Version
	// CenterID is set for a manager's view: Settings are that center's.
	CenterID string `json:"center_id,omitempty"`
}

// currentSettings is the answer of GET /settings.
type currentSettings struct {
	// Period is the period asked for (the current one by default).
	Period   credit.Period  `json:"period"`
	Current  settingsView   `json:"current"`
	Upcoming []settingsView `json:"upcoming"`
}

// putSettings is the body of PUT /settings.
type putSettings struct {
	EffectiveFrom string             `json:"effective_from"`
	Settings      *settings.Settings `json:"settings"`
	Note          string             `json:"note"`
}

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)

// settingsCenter is the center whose view a manager gets ("" for an admin).
func settingsCenter(r *http.Request, p *principal) (string, error) {
	q := newQuery(r, "center", "period")
	c := q.id("center")
	if q.err != nil {
		return "", q.err
	}
	switch {
	case p.admin() && c == "":
		return "", nil
	case c != "" && !p.in(c):
		return "", outside("center " + c)
	case c != "":
		return c, nil
	case len(p.Centers) == 1:
		return p.Centers[0], nil
	}
	return "", errInvalid("center", "you have several centers: give ?center=ID")
}

// view is v as the caller sees it.
func (s *Server) view(r *http.Request, v settings.Version, center string) (settingsView, error) {
	if center == "" {
		return settingsView{Version: v}, nil
	}
	c, err := s.st.Center(r.Context(), center)
	if err != nil {
		return settingsView{}, err
	}
	v.Settings = v.Settings.ForCenter(center, c.RateCents)
	return settingsView{Version: v, CenterID: center}, nil
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	center, err := settingsCenter(r, p)
	if err != nil {
		return err
	}
	period := credit.PeriodOf(s.now(), settings.Location())
	if v := r.URL.Query().Get("period"); v != "" {
		if period, err = credit.ParsePeriod(v); err != nil {
			return errInvalid("period", "%q: want YYYY-MM, such as 2026-12", v)
		}
	}
	h, err := s.st.SettingsHistory(r.Context())
	if err != nil {
		return err
	}
	cur, err := s.view(r, h.For(period), center)
	if err != nil {
		return err
	}
	out := currentSettings{Period: period, Current: cur, Upcoming: []settingsView{}}
	for _, v := range h {
		if period.Before(v.EffectiveFrom) {
			uv, err := s.view(r, v, center)
			if err != nil {
				return err
			}
			out.Upcoming = append(out.Upcoming, uv)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) settingsHistory(w http.ResponseWriter, r *http.Request, p *principal) error {
	center, err := settingsCenter(r, p)
	if err != nil {
		return err
	}
	h, err := s.st.SettingsHistory(r.Context())
	if err != nil {
		return err
	}
	out := make([]settingsView, 0, len(h))
	for _, v := range h {
		vv, err := s.view(r, v, center)
		if err != nil {
			return err
		}
		out = append(out, vv)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (s *Server) putSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	var body putSettings
	if err := s.decode(w, r, &body); err != nil {
		return err
	}
	if body.Settings == nil {
		return errInvalid("settings", "required: the whole settings object (GET /api/v1/settings gives the current one to edit)")
	}
	current := credit.PeriodOf(s.now(), settings.Location())
	from := current
	if body.EffectiveFrom != "" {
		if datePattern.MatchString(body.EffectiveFrom) {
			return errInvalid("effective_from", "%q: settings change at a period boundary, the first of a month: give the month, such as %s (from its first day) or %s",
				body.EffectiveFrom, current, current.Next())
		}
		var err error
		if from, err = credit.ParsePeriod(body.EffectiveFrom); err != nil {
			return errInvalid("effective_from", "%q: want a month YYYY-MM, such as %s", body.EffectiveFrom, current)
		}
	}
	limit := current
	for range maxAhead {
		limit = limit.Next()
	}
	if limit.Before(from) {
		return errInvalid("effective_from", "%s is more than %d months ahead", from, maxAhead)
	}
	for _, id := range slices.Sorted(maps.Keys(body.Settings.CenterRates)) {
		if _, err := s.st.Center(r.Context(), id); errors.Is(err, store.ErrNotFound) {
			return errInvalid("settings.center_rates."+id, "no center %s", id)
		} else if err != nil {
			return err
		}
	}
	v, err := s.st.SaveSettings(r.Context(), settings.Version{EffectiveFrom: from, Settings: *body.Settings, CreatedBy: p.ID, Note: body.Note})
	if err != nil {
		var fe *domain.FieldError
		if errors.As(err, &fe) {
			return errInvalid(settingsField(fe.Field), "%s", fe.Message)
		}
		return err
	}
	b, _ := json.Marshal(v.Settings)
	s.log.InfoContext(r.Context(), "api: network settings changed", "version", v.Number, "effective_from", v.EffectiveFrom.String(),
		"by", p.ID, "settings", string(b))
	return created(w, settingsView{Version: v})
}

// settingsField names a field of the settings object as the request has
// it ("settings.grace_minutes"); effective_from and note are top level.
func settingsField(f string) string {
	switch f {
	case "effective_from", "note":
		return f
	}
	return "settings." + f
}
