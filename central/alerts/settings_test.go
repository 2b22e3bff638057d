package alerts_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestOfflineThresholdFollowsSettings: door_offline is raised after the
// stored settings' alerts.door_offline_minutes, the defaults' before any
// version is stored; a version saved through the store (notified on its
// feed) moves the threshold at once, up or down.
func TestOfflineThresholdFollowsSettings(t *testing.T) {
	ctx := context.Background()
	opens := []struct {
		name string
		open func(t *testing.T, feed *store.Feed) store.Store
	}{
		{"sqlite", func(t *testing.T, feed *store.Feed) store.Store {
			s, err := sqlite.Open(ctx, backends()[0].location(t), sqlite.Options{Options: store.Options{Notify: feed.Notify}})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T, feed *store.Feed) store.Store {
			s, err := postgres.Open(ctx, storetest.PostgresSchema(t), store.Options{Notify: feed.Notify})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, b := range opens {
		t.Run(b.name, func(t *testing.T) {
			feed := &store.Feed{}
			st := b.open(t, feed)
			seed(t, st)
			c := &clock{t: t0()}
			rec := &recorder{}
			e := alerts.New(alerts.Config{Now: c.Now}, st, []alerts.Notifier{rec}, quiet(), nil)
			feed.Subscribe(e.Changed)

			for _, tc := range []struct {
				name    string
				minutes int // stored door_offline_minutes; 0: none stored (the defaults)
			}{
				{"defaults", 0},
				{"raised to 30 minutes", 30},
				{"lowered to 3 minutes", 3},
			} {
				threshold := settings.Defaults().Alerts.DoorOffline()
				if tc.minutes > 0 {
					v := settings.Version{Settings: settings.Defaults(), EffectiveFrom: credit.PeriodOf(c.Now(), settings.Location()), CreatedBy: "test"}
					v.Settings.Alerts.DoorOfflineMinutes = tc.minutes
					_, err := st.SaveSettings(ctx, v)
					require.NoError(t, err, tc.name)
					threshold = time.Duration(tc.minutes) * time.Minute
				}
				require.NoError(t, e.ApplyStatus(ctx, online("d1"), c.Now()), tc.name)
				require.NoError(t, e.ApplyStatus(ctx, protocol.Status{V: 1, Door: "d1", State: protocol.StateOffline}, c.Now()), tc.name)
				c.Add(threshold - time.Minute)
				require.NoError(t, e.Check(ctx))
				require.Empty(t, rec.take(), "%s: a minute before the threshold", tc.name)
				c.Add(time.Minute)
				require.NoError(t, e.Check(ctx))
				require.Equal(t, []string{"raised door_offline d1"}, rec.take(), "%s: at the threshold", tc.name)
				require.NoError(t, e.ApplyStatus(ctx, online("d1"), c.Now()), tc.name)
				require.Equal(t, []string{"resolved door_offline d1"}, rec.take(), tc.name)
			}
		})
	}
}
