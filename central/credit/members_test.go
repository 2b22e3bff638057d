package credit_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
)

// countingStore counts the reads of events.
type countingStore struct {
	*credit.MemStore
	reads atomic.Int64
}

func (s *countingStore) MemberEvents(ctx context.Context, member string, fromMs, toMs int64) ([]domain.Event, error) {
	s.reads.Add(1)
	return s.MemStore.MemberEvents(ctx, member, fromMs, toMs)
}

func (s *countingStore) EventsOfMembers(ctx context.Context, members []string, fromMs, toMs int64) ([]domain.Event, error) {
	s.reads.Add(1)
	return s.MemStore.EventsOfMembers(ctx, members, fromMs, toMs)
}

// manyMembers is a small generated network and 1,200 members without
// events, bookings or passes (imported in bulk), and member "zz-gone" whose
// one booking nobody attended (a no-show: a result without events); in
// the second directory that booking is cancelled.
func manyMembers(t *testing.T) (n *credittest.Network, dir, cancelled *credit.Directory) {
	t.Helper()
	n, err := credittest.NewNetwork(credittest.NetworkSize{Centers: 3, Members: 60, Events: 3000, Rooms: 2, Workspaces: 12})
	require.NoError(t, err)
	members := slices.Clone(n.Members)
	for i := range 1200 {
		id := fmt.Sprintf("imp-%04d", i)
		members = append(members, domain.Member{ID: id, Name: id, HomeCenterID: n.Centers[i%len(n.Centers)].ID, Status: domain.MemberActive})
	}
	members = append(members, domain.Member{ID: "zz-gone", Name: "Gone", Status: domain.MemberActive})
	start := n.Period.Start(n.Config.Location).Add(10*24*time.Hour + 9*time.Hour)
	noShow := domain.Booking{ID: "bk-gone", MemberID: "zz-gone", CenterID: n.Centers[0].ID, Start: start,
		End: start.Add(2 * time.Hour), Status: domain.BookingConfirmed}
	dir = credit.NewDirectory(n.Centers, n.Doors, members, append(slices.Clone(n.Bookings), noShow), n.Passes)
	require.Empty(t, dir.Problems())
	noShow.Status = domain.BookingCancelled
	cancelled = credit.NewDirectory(n.Centers, n.Doors, members, append(slices.Clone(n.Bookings), noShow), n.Passes)
	return n, dir, cancelled
}

// TestLedgerReadsEventsOfManyMembersTogether checks that a rebuild and a
// refresh of 1,261 members, most without events, read the events of many
// members at a time (not once per member), and still give every member
// what a computation from scratch gives: the no-show of a member without
// events, then nothing once its booking is cancelled (its stored result is
// deleted).
func TestLedgerReadsEventsOfManyMembersTogether(t *testing.T) {
	ctx := context.Background()
	n, dir, cancelled := manyMembers(t)
	st := &countingStore{MemStore: credit.NewMemStore()}
	st.AddEvents(n.Events)
	l, err := credit.NewLedger(n.Config, st)
	require.NoError(t, err)
	p := n.Period
	fromScratch := func(dir *credit.Directory) []credit.MemberPeriod {
		r, err := credit.Compute(n.Config, dir, slices.Clone(n.Events))
		require.NoError(t, err)
		return r.MemberPeriods(p)
	}

	rep, err := l.Rebuild(ctx, dir, p)
	require.NoError(t, err)
	assert.Equal(t, 1262, rep.Members, "every member and the events without one")
	assert.LessOrEqual(t, st.reads.Load(), int64(6), "events read for many members at once")
	got, err := st.MemberPeriods(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, fromScratch(dir), got)
	gone, err := st.MemberPeriod(ctx, "zz-gone", p)
	require.NoError(t, err)
	require.Len(t, gone.Visits, 1)
	assert.Equal(t, credit.WhyNoShow, gone.Visits[0].Why)

	st.reads.Store(0)
	rep, err = l.Refresh(ctx, cancelled, cancelled.MemberIDs(), p.Start(n.Config.Location), p.End(n.Config.Location))
	require.NoError(t, err)
	assert.Equal(t, 1261, rep.Members)
	assert.LessOrEqual(t, st.reads.Load(), int64(6), "events read for many members at once")
	got, err = st.MemberPeriods(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, fromScratch(cancelled), got)
	gone, err = st.MemberPeriod(ctx, "zz-gone", p)
	require.NoError(t, err)
	assert.Empty(t, gone.Visits, "the stored no-show is deleted")
}
