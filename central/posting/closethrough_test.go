package posting_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/storetest"
)

// TestCloseThrough closes October and November in one action on both
// stores: each frozen settlement is what closing them one by one gives,
// every close is audited, and a period already closed is refused.
func TestCloseThrough(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", func(t *testing.T) store.Store { return openSQLite(t, nil) }},
		{"postgres", func(t *testing.T) store.Store {
			st, err := postgres.Open(context.Background(), storetest.PostgresSchema(t), store.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			return st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindAPIToken, ID: "admin", Role: "admin"})
			st := tc.open(t)
			scenario(t, st)
			s := start(t, st, nil, at(t, "2026-12-05 10:00"))
			commit(t, st, []domain.Event{
				tap("gent-in", 1, "ann", at(t, "2026-10-13 09:00")), tap("gent-out", 1, "ann", at(t, "2026-10-13 10:00")), // 1 h
				tap("gent-in", 2, "ann", at(t, "2026-11-10 09:00")), tap("gent-out", 2, "ann", at(t, "2026-11-10 11:00")), // 2 h
			}, s.Committed)
			flush(t, s)
			oct, nov, dec := period(t, "2026-10"), period(t, "2026-11"), period(t, "2026-12")

			ps, err := s.ToClose(ctx, nov)
			require.NoError(t, err)
			assert.Equal(t, []credit.Period{oct, nov}, ps)
			_, err = s.CloseThrough(ctx, dec)
			require.ErrorIs(t, err, credit.ErrPeriodNotOver)
			ps, err = s.ToClose(ctx, nov)
			require.NoError(t, err)
			assert.Equal(t, []credit.Period{oct, nov}, ps, "nothing closed by a refused close")

			got, err := s.CloseThrough(ctx, nov)
			require.NoError(t, err)
			require.Len(t, got, 2)
			for i, want := range []int64{60, 120} {
				assert.True(t, got[i].Closed)
				line, ok := got[i].Center("gent")
				require.True(t, ok)
				assert.Equal(t, want, line.NomadicMinutes, "%s", got[i].Period)
				again, err := s.Settlement(ctx, got[i].Period)
				require.NoError(t, err)
				assert.Equal(t, canon(t, got[i]), canon(t, again), "the ledger serves the frozen settlement")
			}
			_, err = s.CloseThrough(ctx, oct)
			require.ErrorIs(t, err, credit.ErrAlreadyClosed)
			last, err := st.Credit().LastClosed(ctx)
			require.NoError(t, err)
			assert.Equal(t, nov, last)

			pg, err := st.ListAudit(ctx, store.AuditFilter{Action: audit.Close})
			require.NoError(t, err)
			var closed []string
			for _, e := range pg.Items {
				assert.Equal(t, "admin", e.Actor.ID)
				closed = append(closed, e.ObjectID)
			}
			assert.ElementsMatch(t, []string{"2026-10", "2026-11"}, closed, "each close is in the audit log")
		})
	}
}
