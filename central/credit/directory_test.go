package credit_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
)

// TestWithRecordsIsNewDirectory: a directory built with the members of
// another one (WithRecords) and new bookings and passes is the directory
// NewDirectory builds from the same records, problems included (an invalid
// member, a duplicate, an unknown home center, a booking of an unknown
// member), in the same order.
func TestWithRecordsIsNewDirectory(t *testing.T) {
	n, err := credittest.NewNetwork(credittest.NetworkSize{Centers: 3, Members: 60, Events: 10, Rooms: 2, Workspaces: 12})
	require.NoError(t, err)
	members := append(slices.Clone(n.Members),
		domain.Member{ID: "no-name", Status: domain.MemberActive},
		domain.Member{ID: "far", Name: "Far", HomeCenterID: "nowhere", Status: domain.MemberSuspended},
		n.Members[3])
	older := credit.NewDirectory(n.Centers, n.Doors, members, n.Bookings, n.Passes)

	start := n.Period.Start(n.Config.Location).Add(50 * time.Hour)
	bookings := append(slices.Clone(n.Bookings[len(n.Bookings)/2:]),
		domain.Booking{ID: "bk-far", MemberID: "far", CenterID: n.Centers[0].ID, Start: start, End: start.Add(time.Hour), Status: domain.BookingConfirmed},
		domain.Booking{ID: "bk-ghost", MemberID: "ghost", CenterID: n.Centers[0].ID, Start: start, End: start.Add(time.Hour), Status: domain.BookingConfirmed})
	passes := slices.Clone(n.Passes[1:])

	want := credit.NewDirectory(n.Centers, n.Doors, members, bookings, passes)
	got := older.WithRecords(n.Centers, n.Doors, bookings, passes)
	require.Equal(t, want.Problems(), got.Problems())
	require.Len(t, got.Problems(), 4)
	require.Equal(t, want, got)
	require.Equal(t, want.Member("far"), got.Member("far"))
	require.Equal(t, domain.MemberSuspended, got.Member("far").Status)
	require.Nil(t, got.Member("no-name"))
	home, ok := got.Home("far")
	require.True(t, ok)
	require.Equal(t, "nowhere", home)
	_, ok = got.Home("no-name")
	require.False(t, ok)
}
