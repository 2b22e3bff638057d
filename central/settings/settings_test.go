package settings_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
)

func month(y int, m time.Month) credit.Period { return credit.Period{Year: y, Month: m} }

// TestDefaultsAreTheCreditingDefaults: one table of defaults, shared with
// credit.DefaultConfig, and valid.
func TestDefaultsAreTheCreditingDefaults(t *testing.T) {
	d := settings.Defaults()
	require.NoError(t, d.Validate())
	rules, err := credit.DefaultConfig(settings.DefaultRateCents)
	require.NoError(t, err)
	got, err := d.Apply(rules, 0)
	require.NoError(t, err)
	assert.Equal(t, rules, got, "the default settings give the default crediting rules")
	assert.Equal(t, "EUR", d.Currency)
	assert.Equal(t, 15, d.GraceMinutes)
	assert.Equal(t, 240, d.DefaultVisitMinutes)
	assert.Equal(t, credit.NoShowZero, d.NoShow)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *settings.Settings)
		field  string // "" when valid
	}{
		{"defaults", func(*settings.Settings) {}, ""},
		{"rate 1 cent", func(s *settings.Settings) { s.DefaultRateCents = 1 }, ""},
		{"rate 0", func(s *settings.Settings) { s.DefaultRateCents = 0 }, "default_rate_cents"},
		{"rate negative", func(s *settings.Settings) { s.DefaultRateCents = -400 }, "default_rate_cents"},
		{"rate above the limit", func(s *settings.Settings) { s.DefaultRateCents = settings.MaxRateCents + 1 }, "default_rate_cents"},
		{"currency USD", func(s *settings.Settings) { s.Currency = "USD" }, ""},
		{"currency two letters", func(s *settings.Settings) { s.Currency = "EU" }, "currency"},
		{"currency lower case", func(s *settings.Settings) { s.Currency = "eur" }, "currency"},
		{"currency symbol", func(s *settings.Settings) { s.Currency = "€" }, "currency"},
		{"grace 0", func(s *settings.Settings) { s.GraceMinutes = 0 }, ""},
		{"grace a day", func(s *settings.Settings) { s.GraceMinutes = 24 * 60 }, ""},
		{"grace over a day", func(s *settings.Settings) { s.GraceMinutes = 24*60 + 1 }, "grace_minutes"},
		{"grace negative", func(s *settings.Settings) { s.GraceMinutes = -1 }, "grace_minutes"},
		{"no-show booked", func(s *settings.Settings) { s.NoShow = credit.NoShowBooked }, ""},
		{"no-show empty", func(s *settings.Settings) { s.NoShow = "" }, "no_show"},
		{"no-show unknown", func(s *settings.Settings) { s.NoShow = "half" }, "no_show"},
		{"default visit 0", func(s *settings.Settings) { s.DefaultVisitMinutes = 0 }, "default_visit_minutes"},
		{"default visit over a day", func(s *settings.Settings) { s.DefaultVisitMinutes = 24*60 + 1 }, "default_visit_minutes"},
		{"horizon 0", func(s *settings.Settings) { s.WhitelistHorizonDays = 0 }, "whitelist_horizon_days"},
		{"horizon 90", func(s *settings.Settings) { s.WhitelistHorizonDays = 90 }, ""},
		{"door offline 0", func(s *settings.Settings) { s.Alerts.DoorOfflineMinutes = 0 }, "alerts.door_offline_minutes"},
		{"held open 0", func(s *settings.Settings) { s.Alerts.HeldOpenSeconds = 0 }, "alerts.held_open_seconds"},
		{"cert expiry over a year", func(s *settings.Settings) { s.Alerts.CertExpiryDays = 366 }, "alerts.cert_expiry_days"},
		{"whitelist behind 0", func(s *settings.Settings) { s.Alerts.WhitelistBehindMinutes = 0 }, "alerts.whitelist_behind_minutes"},
		{"whitelist behind over a week", func(s *settings.Settings) { s.Alerts.WhitelistBehindMinutes = 7*24*60 + 1 }, "alerts.whitelist_behind_minutes"},
		{"center rate", func(s *settings.Settings) { s.CenterRates = map[string]int64{"gent": 500} }, ""},
		{"center rate 0", func(s *settings.Settings) { s.CenterRates = map[string]int64{"gent": 0} }, "center_rates.gent"},
		{"center id invalid", func(s *settings.Settings) { s.CenterRates = map[string]int64{"a b": 500} }, "center_rates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := settings.Defaults()
			tc.change(&s)
			err := s.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *domain.FieldError
			require.True(t, errors.As(err, &fe), "error %v", err)
			assert.Equal(t, tc.field, fe.Field)
			assert.ErrorIs(t, err, domain.ErrValidation)
		})
	}
}

// TestHistoryFor: which version applies to a period.
func TestHistoryFor(t *testing.T) {
	v := func(n int64, from credit.Period, rate int64) settings.Version {
		s := settings.Defaults()
		s.DefaultRateCents = rate
		return settings.Version{Number: n, EffectiveFrom: from, Settings: s}
	}
	h := settings.History{
		v(1, month(2026, 3), 400),  // the seed
		v(2, month(2026, 6), 500),  // from June
		v(3, month(2026, 9), 600),  // from September
		v(4, month(2026, 6), 550),  // June again, stored later: replaces 2
		v(5, month(2027, 1), 700),  // upcoming
		v(6, month(2026, 12), 650), // stored after 5, starting before it
	}
	tests := []struct {
		p    credit.Period
		want int64
	}{
		{month(2025, 1), 1}, // before the seed: the seed
		{month(2026, 3), 1},
		{month(2026, 5), 1},
		{month(2026, 6), 4},
		{month(2026, 8), 4},
		{month(2026, 9), 3},
		{month(2026, 11), 3},
		{month(2026, 12), 6},
		{month(2027, 1), 5}, // 5 starts later than 6
		{month(2030, 1), 5},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, h.For(tc.p).Number, "period %s", tc.p)
	}
	assert.Equal(t, int64(0), settings.History(nil).For(month(2026, 1)).Number)
	assert.Equal(t, settings.Defaults(), settings.History(nil).For(month(2026, 1)).Settings)
	assert.Equal(t, int64(6), h.Latest().Number)
	loc := settings.Location()
	assert.Equal(t, int64(3), h.At(time.Date(2026, 11, 30, 23, 30, 0, 0, loc), loc).Number)
	assert.Equal(t, int64(6), h.At(time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC), loc).Number, "December already in Brussels")

	base, err := credit.DefaultConfig(1)
	require.NoError(t, err)
	rules, err := h.RulesFunc(base)
	require.NoError(t, err)
	assert.Equal(t, int64(550), rules(month(2026, 7)).DefaultRateCents)
	assert.Equal(t, int64(4), rules(month(2026, 7)).SettingsVersion)
	r, err := h.Rules(base, month(2026, 10))
	require.NoError(t, err)
	assert.Equal(t, int64(600), r.DefaultRateCents)
}

// TestCheckNew: a version must start in an open period.
func TestCheckNew(t *testing.T) {
	tests := []struct {
		name       string
		from, last credit.Period
		closed     bool
		field      string
	}{
		{"no period closed", month(2026, 1), credit.Period{}, false, ""},
		{"after the last closed", month(2026, 4), month(2026, 3), false, ""},
		{"the last closed", month(2026, 3), month(2026, 3), true, "effective_from"},
		{"before the last closed", month(2025, 12), month(2026, 3), true, "effective_from"},
		{"no period", credit.Period{}, credit.Period{}, false, "effective_from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := settings.Version{EffectiveFrom: tc.from, Settings: settings.Defaults()}
			err := v.CheckNew(tc.last)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *domain.FieldError
			require.True(t, errors.As(err, &fe), "error %v", err)
			assert.Equal(t, tc.field, fe.Field)
			assert.Equal(t, tc.closed, errors.Is(err, settings.ErrClosedPeriod))
		})
	}
}

func TestForCenter(t *testing.T) {
	s := settings.Defaults()
	s.DefaultRateCents = 400
	s.CenterRates = map[string]int64{"gent": 650, "leuven": 700}
	assert.Equal(t, int64(650), s.ForCenter("gent", 1200).DefaultRateCents, "the settings' center rate first")
	assert.Equal(t, int64(1200), s.ForCenter("brugge", 1200).DefaultRateCents, "then the center's own")
	assert.Equal(t, int64(400), s.ForCenter("brugge", 0).DefaultRateCents, "then the network's")
	assert.Nil(t, s.ForCenter("gent", 0).CenterRates, "no other center's rate")
	assert.Len(t, s.CenterRates, 2, "the original is untouched")
}

type fakeSource struct {
	h   settings.History
	err error
}

func (f fakeSource) SettingsHistory(context.Context) (settings.History, error) { return f.h, f.err }

func TestCurrent(t *testing.T) {
	s := settings.Defaults()
	s.Alerts.DoorOfflineMinutes = 45
	src := fakeSource{h: settings.History{{Number: 1, EffectiveFrom: month(2026, 3), Settings: settings.Defaults()},
		{Number: 2, EffectiveFrom: month(2026, 12), Settings: s}}}
	cur, err := settings.Current(context.Background(), src, time.Date(2026, 12, 1, 0, 30, 0, 0, settings.Location()))
	require.NoError(t, err)
	assert.Equal(t, int64(2), cur.Number)
	assert.Equal(t, 45*time.Minute, cur.Settings.Alerts.DoorOffline())
	cur, err = settings.Current(context.Background(), src, time.Date(2026, 11, 30, 23, 30, 0, 0, settings.Location()))
	require.NoError(t, err)
	assert.Equal(t, int64(1), cur.Number)
	_, err = settings.Current(context.Background(), fakeSource{err: errors.New("down")}, time.Now())
	require.ErrorContains(t, err, "down")
}
