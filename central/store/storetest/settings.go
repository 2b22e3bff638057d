package storetest

import (
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
)

func period(y int, m time.Month) credit.Period { return credit.Period{Year: y, Month: m} }

// testSettings: versions are numbered in order, read back whole, notified,
// validated with the field named, and never start in a closed period.
func testSettings(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	h, err := s.SettingsHistory(ctx)
	require.NoError(t, err)
	require.Empty(t, h, "a new store holds no settings")

	v := settings.Version{EffectiveFrom: period(2026, 3), Settings: settings.Defaults(), CreatedBy: "t-admin", Note: "first"}
	v.Settings.DefaultRateCents = 400
	v.Settings.CenterRates = map[string]int64{"c1": 650}
	got, err := s.SaveSettings(ctx, v)
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Number)
	require.NotZero(t, got.CreatedMs)
	require.Equal(t, []domain.Change{{Kind: domain.KindSettings, SettingsVersion: 1}}, e.rec.take())

	bad := v
	bad.Settings.Currency = "euro"
	_, err = s.SaveSettings(ctx, bad)
	requireKind(t, err, domain.ErrValidation, "currency")
	bad = v
	bad.Settings.Alerts.DoorOfflineMinutes = 0
	_, err = s.SaveSettings(ctx, bad)
	requireKind(t, err, domain.ErrValidation, "alerts.door_offline_minutes")
	require.Empty(t, e.rec.take(), "a refused version is not notified")

	v2 := settings.Version{EffectiveFrom: period(2026, 5), Settings: settings.Defaults(), CreatedBy: "t-admin"}
	v2.Settings.GraceMinutes = 30
	got2, err := s.SaveSettings(ctx, v2)
	require.NoError(t, err)
	require.Equal(t, int64(2), got2.Number)

	h, err = s.SettingsHistory(ctx)
	require.NoError(t, err)
	require.Equal(t, settings.History{got, got2}, h, "history reads back every version whole, in order")
	require.Equal(t, int64(400), h.For(period(2026, 4)).Settings.DefaultRateCents)
	require.Equal(t, 30, h.For(period(2026, 6)).Settings.GraceMinutes)

	// Close March: no version may start in it any more, April still may.
	require.NoError(t, s.Credit().Close(ctx, credit.Period{}, &credit.Settlement{Period: period(2026, 3)}))
	e.rec.take()
	late := v
	late.Settings.DefaultRateCents = 900
	_, err = s.SaveSettings(ctx, late)
	require.ErrorIs(t, err, settings.ErrClosedPeriod)
	requireKind(t, err, domain.ErrValidation, "effective_from")
	h, err = s.SettingsHistory(ctx)
	require.NoError(t, err)
	require.Len(t, h, 2, "a refused version stores nothing")
	late.EffectiveFrom = period(2026, 4)
	got3, err := s.SaveSettings(ctx, late)
	require.NoError(t, err)
	require.Equal(t, int64(3), got3.Number)
}

// testSettingsConcurrent: concurrent saves take distinct consecutive numbers.
func testSettingsConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	const n = 8
	var wg sync.WaitGroup
	nums := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := settings.Version{EffectiveFrom: period(2026, 3), Settings: settings.Defaults()}
			v.Settings.DefaultRateCents = int64(100 + i)
			got, err := s.SaveSettings(ctx, v)
			nums[i], errs[i] = got.Number, err
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		seen[nums[i]] = true
	}
	for k := int64(1); k <= n; k++ {
		require.True(t, seen[k], "version %d taken", k)
	}
	h, err := s.SettingsHistory(ctx)
	require.NoError(t, err)
	require.Len(t, h, n)
}
