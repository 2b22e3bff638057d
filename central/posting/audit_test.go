package posting_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// TestCloseIsAudited: closing a period runs in the crediting's goroutine,
// yet its audit row names who asked (the API's caller), or the crediting
// itself when nobody did.
func TestCloseIsAudited(t *testing.T) {
	asker := audit.Actor{Kind: audit.KindAPIToken, ID: "admin1", Role: "admin"}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want audit.Actor
	}{
		{"asked by a token", audit.WithActor(context.Background(), asker), asker},
		{"no actor", context.Background(), audit.System("crediting")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openSQLite(t, nil)
			scenario(t, st)
			s := start(t, st, nil, at(t, "2026-12-05 10:00"))
			commit(t, st, []domain.Event{
				tap("gent-in", 1, "ann", at(t, "2026-11-10 09:00")),
				tap("gent-out", 1, "ann", at(t, "2026-11-10 11:00")),
			}, s.Committed)
			_, err := s.Close(tc.ctx, period(t, "2026-11"))
			require.NoError(t, err)
			pg, err := st.ListAudit(context.Background(), store.AuditFilter{Action: audit.Close})
			require.NoError(t, err)
			require.Len(t, pg.Items, 1)
			require.Equal(t, tc.want, pg.Items[0].Actor)
			require.Equal(t, "2026-11", pg.Items[0].ObjectID)
			require.Contains(t, pg.Items[0].Centers, "gent")
		})
	}
}
