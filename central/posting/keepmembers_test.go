package posting_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// countingMembers is a store that counts the pages of members listed.
type countingMembers struct {
	store.Store
	pages *atomic.Int64
}

func (c countingMembers) ListMembers(ctx context.Context, f store.MemberFilter) (store.Page[domain.Member], error) {
	c.pages.Add(1)
	return c.Store.ListMembers(ctx, f)
}

// TestBookingChangeKeepsMembers: a change of bookings alone (a check-in is
// one) reloads the directory without reading every member again, and the
// ledger still equals the computation from scratch; a change of a member
// reads them again.
func TestBookingChangeKeepsMembers(t *testing.T) {
	ctx := context.Background()
	n := smallNetwork(t)
	feed := &store.Feed{}
	raw := openSQLite(t, feed.Notify)
	loadDomain(t, raw, n)
	var pages atomic.Int64
	st := countingMembers{Store: raw, pages: &pages}
	now := n.Period.End(n.Config.Location).Add(5 * 24 * time.Hour)
	s := start(t, st, feed, now)
	commit(t, raw, n.Events, s.Committed)
	flush(t, s)
	require.Positive(t, pages.Load(), "the start reads the members")

	check := func(step string) {
		t.Helper()
		got, err := s.Settlement(ctx, n.Period)
		require.NoError(t, err)
		require.Equal(t, canon(t, fromScratch(t, raw, n.Period)), canon(t, got), step)
	}
	e := n.Events[len(n.Events)/2]
	bk := domain.Booking{ID: "keep-bk", MemberID: n.Members[5].ID, CenterID: n.Centers[1].ID,
		Start: time.UnixMilli(e.TimeMs).Add(-time.Hour), Status: domain.BookingConfirmed}
	bk.End = bk.Start.Add(4 * time.Hour)

	pages.Store(0)
	require.NoError(t, raw.CreateBooking(ctx, bk))
	flush(t, s)
	require.Zero(t, pages.Load(), "a booking change reads no member")
	check("booking created")

	m := n.Members[5]
	m.HomeCenterID = n.Centers[1].ID
	require.NoError(t, raw.UpdateMember(ctx, m))
	flush(t, s)
	require.Positive(t, pages.Load(), "a member change reads the members")
	check("member moves home")

	pages.Store(0)
	bk.End = bk.End.Add(time.Hour)
	require.NoError(t, raw.UpdateBooking(ctx, bk))
	flush(t, s)
	require.Zero(t, pages.Load(), "a booking change reads no member")
	check("booking longer, with the member's new home")
}
