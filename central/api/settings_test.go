package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
)

type settingsAnswer struct {
	Period   string `json:"period"`
	Current  view   `json:"current"`
	Upcoming []view `json:"upcoming"`
}

type view struct {
	Version       int64             `json:"version"`
	EffectiveFrom string            `json:"effective_from"`
	Settings      settings.Settings `json:"settings"`
	CreatedBy     string            `json:"created_by"`
	Note          string            `json:"note"`
	CenterID      string            `json:"center_id"`
}

func (f *fixture) settings(who, query string) settingsAnswer {
	f.t.Helper()
	res := f.do(who, "GET", "/settings"+query, nil)
	require.Equal(f.t, http.StatusOK, res.Status, "%s", res.Body)
	var a settingsAnswer
	require.NoError(f.t, json.Unmarshal(res.Body, &a))
	return a
}

// TestSettingsAPI: admins read and change the network settings from a
// period on; managers read their center's effective settings and change
// nothing; technicians see none.
func TestSettingsAPI(t *testing.T) {
	f := newFixture(t) // now: 2 March 2026

	a := f.settings("admin", "")
	assert.Equal(t, "2026-03", a.Period)
	assert.Equal(t, int64(0), a.Current.Version, "nothing stored: the defaults")
	assert.Equal(t, settings.Defaults(), a.Current.Settings)
	assert.Empty(t, a.Upcoming)

	s := settings.Defaults()
	s.DefaultRateCents = 400
	s.CenterRates = map[string]int64{"c1": 650}
	s.Alerts.DoorOfflineMinutes = 30
	res := f.do("admin", "PUT", "/settings", map[string]any{"effective_from": "2026-03", "settings": s, "note": "4.00 from March"})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var v view
	require.NoError(t, json.Unmarshal(res.Body, &v))
	assert.Equal(t, int64(1), v.Version)
	assert.Equal(t, "admin", v.CreatedBy, "the token that changed it")
	assert.Equal(t, []domain.Change{{Kind: domain.KindSettings, SettingsVersion: 1}}, f.changes)
	assert.Contains(t, f.log.String(), "api: network settings changed")

	a = f.settings("admin", "")
	assert.Equal(t, int64(1), a.Current.Version)
	assert.Equal(t, s, a.Current.Settings)

	// A manager: their center's rate, no other center's.
	m := f.settings("mgr1", "")
	assert.Equal(t, "c1", m.Current.CenterID)
	assert.Equal(t, int64(650), m.Current.Settings.DefaultRateCents)
	assert.Nil(t, m.Current.Settings.CenterRates)
	assert.Equal(t, 30, m.Current.Settings.Alerts.DoorOfflineMinutes)
	assert.Equal(t, http.StatusForbidden, f.do("mgr1", "GET", "/settings?center=c2", nil).Status)
	assert.Equal(t, http.StatusForbidden, f.do("mgr1", "PUT", "/settings", map[string]any{"settings": s}).Status, "managers change no network setting")
	assert.Equal(t, http.StatusForbidden, f.do("tech1", "GET", "/settings", nil).Status)
	assert.Equal(t, http.StatusForbidden, f.do("tech1", "GET", "/settings/history", nil).Status)
	// An admin may look at one center's view.
	assert.Equal(t, int64(400), f.settings("admin", "?center=c2").Current.Settings.DefaultRateCents)

	// A version from May: upcoming now, current for May.
	later := s
	later.GraceMinutes = 30
	res = f.do("admin", "PUT", "/settings", map[string]any{"effective_from": "2026-05", "settings": later})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	a = f.settings("admin", "")
	assert.Equal(t, int64(1), a.Current.Version)
	require.Len(t, a.Upcoming, 1)
	assert.Equal(t, int64(2), a.Upcoming[0].Version)
	assert.Equal(t, 30, f.settings("admin", "?period=2026-06").Current.Settings.GraceMinutes)
	assert.Equal(t, 15, f.settings("admin", "?period=2026-04").Current.Settings.GraceMinutes)

	// History: every version; a manager's view of each.
	items := f.items("admin", "/settings/history")
	require.Len(t, items, 2)
	assert.Equal(t, []string{"2026-03", "2026-05"}, field(items, "effective_from"))
	for _, it := range f.items("mgr1", "/settings/history") {
		assert.Equal(t, "c1", it["center_id"])
		assert.NotContains(t, it["settings"], "center_rates")
	}

	// A closed period keeps its settings.
	require.NoError(t, f.st.Credit().Close(context.Background(), credit.Period{}, &credit.Settlement{Period: credit.Period{Year: 2026, Month: 3}}))
	res = f.do("admin", "PUT", "/settings", map[string]any{"effective_from": "2026-03", "settings": s})
	require.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Body)
	assert.Equal(t, "effective_from", res.Err.Field)
	assert.Contains(t, res.Err.Message, "closed")
	assert.Len(t, f.items("admin", "/settings/history"), 2, "nothing stored")
}

// TestSettingsValidation: each bad value is refused with the field named,
// logged and counted, and nothing is stored.
func TestSettingsValidation(t *testing.T) {
	f := newFixture(t)
	set := func(change func(s *settings.Settings)) settings.Settings {
		s := settings.Defaults()
		change(&s)
		return s
	}
	tests := []struct {
		name  string
		body  any
		code  string
		field string
		says  string
	}{
		{"rate zero", map[string]any{"settings": set(func(s *settings.Settings) { s.DefaultRateCents = 0 })}, "invalid", "settings.default_rate_cents", "want 1 to"},
		{"rate huge", map[string]any{"settings": set(func(s *settings.Settings) { s.DefaultRateCents = 10_000_000 })}, "invalid", "settings.default_rate_cents", "want 1 to"},
		{"currency lower case", map[string]any{"settings": set(func(s *settings.Settings) { s.Currency = "eur" })}, "invalid", "settings.currency", "ISO 4217"},
		{"currency empty", map[string]any{"settings": set(func(s *settings.Settings) { s.Currency = "" })}, "invalid", "settings.currency", "ISO 4217"},
		{"grace negative", map[string]any{"settings": set(func(s *settings.Settings) { s.GraceMinutes = -1 })}, "invalid", "settings.grace_minutes", "0 to 1440"},
		{"no-show policy", map[string]any{"settings": set(func(s *settings.Settings) { s.NoShow = "maybe" })}, "invalid", "settings.no_show", `"zero"`},
		{"default visit zero", map[string]any{"settings": set(func(s *settings.Settings) { s.DefaultVisitMinutes = 0 })}, "invalid", "settings.default_visit_minutes", "1 to 1440"},
		{"horizon", map[string]any{"settings": set(func(s *settings.Settings) { s.WhitelistHorizonDays = 91 })}, "invalid", "settings.whitelist_horizon_days", "1 to 90"},
		{"door offline", map[string]any{"settings": set(func(s *settings.Settings) { s.Alerts.DoorOfflineMinutes = 0 })}, "invalid", "settings.alerts.door_offline_minutes", "minutes"},
		{"held open", map[string]any{"settings": set(func(s *settings.Settings) { s.Alerts.HeldOpenSeconds = -5 })}, "invalid", "settings.alerts.held_open_seconds", "seconds"},
		{"cert expiry", map[string]any{"settings": set(func(s *settings.Settings) { s.Alerts.CertExpiryDays = 400 })}, "invalid", "settings.alerts.cert_expiry_days", "days"},
		{"center rate zero", map[string]any{"settings": set(func(s *settings.Settings) { s.CenterRates = map[string]int64{"c1": 0} })}, "invalid", "settings.center_rates.c1", "want 1 to"},
		{"unknown center", map[string]any{"settings": set(func(s *settings.Settings) { s.CenterRates = map[string]int64{"c9": 500} })}, "invalid", "settings.center_rates.c9", "no center"},
		{"no settings", map[string]any{"effective_from": "2026-04"}, "invalid", "settings", "required"},
		{"mid-month", map[string]any{"effective_from": "2026-03-15", "settings": settings.Defaults()}, "invalid", "effective_from", "period boundary"},
		{"not a month", map[string]any{"effective_from": "2026-13", "settings": settings.Defaults()}, "invalid", "effective_from", "YYYY-MM"},
		{"too far ahead", map[string]any{"effective_from": "2030-01", "settings": settings.Defaults()}, "invalid", "effective_from", "ahead"},
		{"long note", map[string]any{"settings": settings.Defaults(), "note": strings.Repeat("x", 501)}, "invalid", "note", "at most 500"},
		{"unknown field", map[string]any{"settings": settings.Defaults(), "rate": 5}, "unknown_field", "rate", "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			res := f.do("admin", "PUT", "/settings", tc.body)
			require.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Body)
			assert.Equal(t, tc.code, res.Err.Code)
			assert.Equal(t, tc.field, res.Err.Field)
			assert.Contains(t, res.Err.Message, tc.says)
		})
	}
	f.t = t
	assert.Empty(t, f.items("admin", "/settings/history"), "nothing stored")
	assert.Empty(t, f.changes)
	var text bytes.Buffer
	require.NoError(t, f.reg.WriteText(&text))
	assert.Contains(t, text.String(), `swc_api_rejects_total{code="invalid"} 18`)
	assert.Contains(t, f.log.String(), "api: request refused")
}
