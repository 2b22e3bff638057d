package posting_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestStartCreditsEarlierPeriodsWithTheirBookings: the start credits
// events stored before it (a first start, or after a crash, or a commit
// that the ingest stored while the crediting started) whose period lies
// before the first open one it knew of, here October while the current
// period is December and nothing was credited yet. Their bookings are
// older than the directory the start loaded for December: the start then
// rebuilds the open periods, now October to December, with a directory
// that holds October's bookings, and the booked hour is credited as a
// computation from scratch credits it.
func TestStartCreditsEarlierPeriodsWithTheirBookings(t *testing.T) {
	tests := []struct {
		name string
		open func(t *testing.T) (store.Store, bool)
	}{
		{"SQLite", func(t *testing.T) (store.Store, bool) { return openSQLite(t, nil), false }},
		{"PostgreSQL cursor", func(t *testing.T) (store.Store, bool) {
			st, err := postgres.Open(context.Background(), storetest.PostgresSchema(t), store.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			return st, true
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, cursor := tc.open(t)
			scenario(t, st)
			require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "bob", Name: "Bob", Status: domain.MemberActive}))
			require.NoError(t, st.CreateBooking(ctx, domain.Booking{ID: "bk-oct", MemberID: "bob", CenterID: "gent",
				Status: domain.BookingConfirmed, Start: at(t, "2026-10-14 10:00"), End: at(t, "2026-10-14 11:00")}))
			ev := tap("gent-in", 1, "bob", at(t, "2026-10-14 10:05"))
			ev.Reason = protocol.GrantedBooking
			commit(t, st, []domain.Event{ev}, nil)

			s := startWith(t, st, at(t, "2026-12-05 10:00"), cursor)
			flush(t, s)
			oct := period(t, "2026-10")
			got, err := s.Settlement(ctx, oct)
			require.NoError(t, err)
			line, ok := got.Center("gent")
			require.True(t, ok, "%+v", got)
			assert.Equal(t, int64(60), line.NomadicMinutes, "bob's booked hour")
			assert.Equal(t, canon(t, fromScratch(t, st, oct)), canon(t, got))
		})
	}
}

// startWith runs a crediting over st until the test ends, as the leader of
// replicas sharing a PostgreSQL store when cursor.
func startWith(t *testing.T, st store.Store, now time.Time, cursor bool) *service {
	t.Helper()
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	s := &service{reg: metrics.NewRegistry(), log: &bytes.Buffer{}}
	s.Service, err = posting.New(posting.Config{Rules: rules, Store: st, Metrics: s.reg, Cursor: cursor,
		Logger: slog.New(slog.NewTextHandler(s.log, nil)), Now: func() time.Time { return now },
		Every: time.Millisecond, Debounce: time.Millisecond, PollEvery: 20 * time.Millisecond, Build: "test-build"})
	require.NoError(t, err)
	run(t, s.Service)
	return s
}
