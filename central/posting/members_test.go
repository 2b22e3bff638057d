package posting_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// TestLedgerOverManyMembers rebuilds and refreshes, on SQLite and
// PostgreSQL, a small network with 1,200 members imported in bulk (no
// events, bookings or passes) and member "zz-gone", whose one booking
// nobody attended (a no-show: a result without events), then is
// cancelled: the ledger's results are what a computation from scratch
// gives at each step, and zz-gone's stored result is deleted among the
// many empty results of the others.
func TestLedgerOverManyMembers(t *testing.T) {
	n, err := credittest.NewNetwork(credittest.NetworkSize{Centers: 3, Members: 60, Events: 3000, Rooms: 2, Workspaces: 12})
	require.NoError(t, err)
	n.Events = coarse(n.Events)
	members := slices.Clone(n.Members)
	for i := range 1200 {
		id := fmt.Sprintf("imp-%04d", i)
		members = append(members, domain.Member{ID: id, Name: id, HomeCenterID: n.Centers[i%len(n.Centers)].ID, Status: domain.MemberActive})
	}
	members = append(members, domain.Member{ID: "zz-gone", Name: "Gone", Status: domain.MemberActive})
	start := n.Period.Start(n.Config.Location).Add(10*24*time.Hour + 9*time.Hour)
	noShow := domain.Booking{ID: "bk-gone", MemberID: "zz-gone", CenterID: n.Centers[0].ID, Start: start,
		End: start.Add(2 * time.Hour), Status: domain.BookingConfirmed}
	booked := credit.NewDirectory(n.Centers, n.Doors, members, append(slices.Clone(n.Bookings), noShow), n.Passes)
	require.Empty(t, booked.Problems())
	noShow.Status = domain.BookingCancelled
	cancelled := credit.NewDirectory(n.Centers, n.Doors, members, append(slices.Clone(n.Bookings), noShow), n.Passes)
	p := n.Period
	from, to := p.Start(n.Config.Location), p.End(n.Config.Location)

	for _, be := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", func(t *testing.T) store.Store { return openSQLite(t, nil) }},
		{"postgres", func(t *testing.T) store.Store { return postgresStore(t) }},
	} {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			st := be.open(t)
			loadDomain(t, st, n)
			commit(t, st, n.Events, nil)
			_, err := st.Credit().StartTracking(ctx)
			require.NoError(t, err)
			l, err := credit.NewLedger(n.Config, st.Credit())
			require.NoError(t, err)
			check := func(dir *credit.Directory, step string) {
				t.Helper()
				r, err := credit.Compute(n.Config, dir, slices.Clone(n.Events))
				require.NoError(t, err)
				got, err := st.Credit().MemberPeriods(ctx, p)
				require.NoError(t, err)
				require.Equal(t, canon(t, r.MemberPeriods(p)), canon(t, got), step)
			}
			gone := func() credit.MemberPeriod {
				t.Helper()
				mp, err := st.Credit().MemberPeriod(ctx, "zz-gone", p)
				require.NoError(t, err)
				return mp
			}

			_, err = l.Rebuild(ctx, booked, p)
			require.NoError(t, err)
			check(booked, "rebuild")
			require.Len(t, gone().Visits, 1)
			assert.Equal(t, credit.WhyNoShow, gone().Visits[0].Why)

			// Refreshing every member (an import): nothing changes.
			_, err = l.Refresh(ctx, booked, booked.MemberIDs(), from, to)
			require.NoError(t, err)
			check(booked, "refresh")

			// The booking is cancelled: zz-gone's result becomes empty.
			_, err = l.Refresh(ctx, cancelled, cancelled.MemberIDs(), from, to)
			require.NoError(t, err)
			check(cancelled, "refresh after the cancellation")
			assert.Empty(t, gone().Visits, "the stored no-show is deleted")

			// And once more by a rebuild.
			_, err = l.Rebuild(ctx, booked, p)
			require.NoError(t, err)
			require.Len(t, gone().Visits, 1)
			_, err = l.Rebuild(ctx, cancelled, p)
			require.NoError(t, err)
			check(cancelled, "rebuild after the cancellation")
			assert.Empty(t, gone().Visits, "the stored no-show is deleted")
		})
	}
}
