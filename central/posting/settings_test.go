package posting_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
)

// TestSettingsChangeOpenPeriodOnly: the crediting computes each period
// with the stored settings in force for it. A new version from December
// (rate 6.00 instead of 4.00, walk-ins of 2 h instead of 4 h) changes
// December's settlement at once and never closed November's: its frozen
// settlement keeps version 1, and a late November event becomes a December
// adjustment computed with November's rules and rate.
func TestSettingsChangeOpenPeriodOnly(t *testing.T) {
	ctx := context.Background()
	feed := &store.Feed{}
	st := openSQLite(t, feed.Notify)
	scenario(t, st)
	var hours domain.OpeningHours
	for d := range hours {
		hours[d] = []domain.Span{{Open: 8 * 60, Close: 18 * 60}}
	}
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "leuven", Name: "Leuven", TimeZone: "Europe/Brussels", Hours: hours}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "leuven-in", CenterID: "leuven", Name: "in"}))
	v1 := settings.Defaults()
	v1.DefaultRateCents = 400
	_, err := st.SaveSettings(ctx, settings.Version{EffectiveFrom: period(t, "2026-10"), Settings: v1})
	require.NoError(t, err)

	s := start(t, st, feed, at(t, "2026-12-05 10:00"))
	commit(t, st, []domain.Event{
		tap("leuven-in", 1, "ann", at(t, "2026-11-10 09:00")), // a walk-in without exit: the default visit
		tap("leuven-in", 2, "ann", at(t, "2026-12-02 09:00")),
	}, s.Committed)
	nov, dec := period(t, "2026-11"), period(t, "2026-12")
	frozen, err := s.Close(ctx, nov)
	require.NoError(t, err)
	leuven, _ := frozen.Center("leuven")
	assert.Equal(t, int64(240), leuven.NomadicMinutes)
	assert.Equal(t, int64(400), leuven.RateCents)
	assert.Equal(t, int64(1600), leuven.TotalCents)
	assert.Equal(t, int64(1), frozen.SettingsVersion, "closing records the settings version used")
	assert.Equal(t, "EUR", frozen.Currency)
	before, err := s.Settlement(ctx, dec)
	require.NoError(t, err)
	leuven, _ = before.Center("leuven")
	assert.Equal(t, int64(240), leuven.NomadicMinutes)
	assert.Equal(t, int64(1600), leuven.TotalCents)

	v2 := v1
	v2.DefaultRateCents = 600
	v2.DefaultVisitMinutes = 120
	_, err = st.SaveSettings(ctx, settings.Version{EffectiveFrom: dec, Settings: v2, Note: "December"})
	require.NoError(t, err)
	flush(t, s)

	after, err := s.Settlement(ctx, dec)
	require.NoError(t, err)
	leuven, _ = after.Center("leuven")
	assert.Equal(t, int64(120), leuven.NomadicMinutes, "December recomputed with the new default visit")
	assert.Equal(t, int64(600), leuven.RateCents)
	assert.Equal(t, int64(1200), leuven.TotalCents)
	assert.Equal(t, int64(2), after.SettingsVersion)
	gent, _ := after.Center("gent")
	assert.Equal(t, int64(1200), gent.RateCents, "a center's own rate still applies when the settings do not name it")

	again, err := s.Settlement(ctx, nov)
	require.NoError(t, err)
	assert.Equal(t, canon(t, frozen), canon(t, again), "closed November never changes")

	// The ledger agrees with a computation from scratch under December's
	// stored settings.
	base, err := credit.DefaultConfig(settings.DefaultRateCents)
	require.NoError(t, err)
	rules, _, err := posting.LoadRules(ctx, st, base)
	require.NoError(t, err)
	r, err := posting.FromScratch(ctx, st, rules(dec), dec)
	require.NoError(t, err)
	assert.Equal(t, canon(t, r.Settlement(dec)), canon(t, after))

	// A late November tap: a December adjustment under November's rules
	// (a 4 h walk-in) at November's frozen rate.
	commit(t, st, []domain.Event{tap("leuven-in", 3, "ann", at(t, "2026-11-12 09:00"))}, s.Committed)
	flush(t, s)
	late, err := s.Settlement(ctx, dec)
	require.NoError(t, err)
	require.Len(t, late.Adjustments, 1)
	adj := late.Adjustments[0]
	assert.Equal(t, nov, adj.BelongsTo)
	assert.Equal(t, int64(240), adj.Minutes)
	assert.Equal(t, int64(400), adj.RateCents)
	again, err = s.Settlement(ctx, nov)
	require.NoError(t, err)
	assert.Equal(t, canon(t, frozen), canon(t, again))
}

// TestSettingsCenterRate: a per-center rate of the settings beats the
// center's own rate and the network default, from its period on.
func TestSettingsCenterRate(t *testing.T) {
	ctx := context.Background()
	feed := &store.Feed{}
	st := openSQLite(t, feed.Notify)
	scenario(t, st) // gent has its own rate, 12.00
	s := start(t, st, feed, at(t, "2026-12-05 10:00"))
	commit(t, st, []domain.Event{
		tap("gent-in", 1, "ann", at(t, "2026-11-10 09:00")),
		tap("gent-out", 1, "ann", at(t, "2026-11-10 11:00")),
	}, s.Committed)
	flush(t, s)
	nov := period(t, "2026-11")
	got, err := s.Settlement(ctx, nov)
	require.NoError(t, err)
	gent, _ := got.Center("gent")
	assert.Equal(t, int64(1200), gent.RateCents)
	assert.Equal(t, int64(0), got.SettingsVersion, "no settings stored: the defaults")

	v := settings.Defaults()
	v.CenterRates = map[string]int64{"gent": 900}
	_, err = st.SaveSettings(ctx, settings.Version{EffectiveFrom: nov, Settings: v})
	require.NoError(t, err)
	flush(t, s)
	got, err = s.Settlement(ctx, nov)
	require.NoError(t, err)
	gent, _ = got.Center("gent")
	assert.Equal(t, int64(900), gent.RateCents)
	assert.Equal(t, int64(1800), gent.TotalCents, "2 h at 9.00")
}

// TestSettingsFromAnotherReplica: a version stored without a notification
// here (through another PostgreSQL replica) is followed by the next read.
func TestSettingsFromAnotherReplica(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, nil) // no feed: this service hears of no change
	scenario(t, st)
	s := start(t, st, nil, at(t, "2026-12-05 10:00"))
	commit(t, st, []domain.Event{
		tap("gent-in", 1, "ann", at(t, "2026-12-02 09:00")), // a 4 h walk-in
	}, s.Committed)
	flush(t, s)
	dec := period(t, "2026-12")
	got, err := s.Settlement(ctx, dec)
	require.NoError(t, err)
	gent, _ := got.Center("gent")
	assert.Equal(t, int64(240), gent.NomadicMinutes)

	v := settings.Defaults()
	v.DefaultVisitMinutes = 60
	_, err = st.SaveSettings(ctx, settings.Version{EffectiveFrom: dec, Settings: v})
	require.NoError(t, err)
	got, err = s.Settlement(ctx, dec)
	require.NoError(t, err)
	gent, _ = got.Center("gent")
	assert.Equal(t, int64(60), gent.NomadicMinutes, "the read followed the new version")
	assert.Equal(t, int64(1), got.SettingsVersion)
}
