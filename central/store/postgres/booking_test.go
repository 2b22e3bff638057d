package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/storetest"
)

// seedPlaces makes center c1 with room r1, a one-desk pool and member n1.
func seedPlaces(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateCenter(ctx, domain.Center{ID: "c1", Name: "C1", TimeZone: "Europe/Brussels"}))
	require.NoError(t, s.CreateRoom(ctx, domain.Room{ID: "r1", CenterID: "c1", Name: "R1", Capacity: 4}))
	require.NoError(t, s.CreateMember(ctx, domain.Member{ID: "n1", Name: "N", Status: domain.MemberActive}))
	require.NoError(t, s.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 1}))
}

// TestRoomExclusionConstraint checks the database itself refuses two
// overlapping confirmed bookings of a room, even written past the store's
// check, and lets a cancelled one or a back-to-back one through.
func TestRoomExclusionConstraint(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, storetest.PostgresSchema(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	seedPlaces(t, s)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixMilli()
	hour := time.Hour.Milliseconds()
	insert := `INSERT INTO bookings (id, member_id, center_id, room_id, start_ms, end_ms, status) VALUES ($1, 'n1', 'c1', 'r1', $2, $3, $4)`
	for _, tc := range []struct {
		id         string
		start, end int64
		status     string
		violates   bool
	}{
		{"a", t0, t0 + 2*hour, "confirmed", false},
		{"b", t0 + hour, t0 + 3*hour, "confirmed", true},
		{"c", t0 + hour, t0 + 3*hour, "cancelled", false},
		{"d", t0 + 2*hour, t0 + 3*hour, "confirmed", false},
	} {
		_, err := s.Writer().ExecContext(ctx, insert, tc.id, tc.start, tc.end, tc.status)
		if !tc.violates {
			require.NoError(t, err, tc.id)
			continue
		}
		var pe *pgconn.PgError
		require.ErrorAs(t, err, &pe, tc.id)
		require.Equal(t, "23P01", pe.Code, tc.id)
	}
}

// TestLastPlaceAcrossReplicas races 100 bookings of the last desk, then of
// a room, through two stores on one schema (two central replicas): exactly
// one of each is made, the others are refused.
func TestLastPlaceAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresSchema(t)
	var replicas [2]*postgres.Store
	for i := range replicas {
		s, err := postgres.Open(ctx, url, store.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		replicas[i] = s
	}
	seedPlaces(t, replicas[0])
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		room string
		want error
	}{{"", store.ErrFull}, {"r1", store.ErrOverlap}} {
		var wg sync.WaitGroup
		errs := make([]error, 100)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := domain.Booking{ID: fmt.Sprintf("b%s-%d", tc.room, i), MemberID: "n1", CenterID: "c1", RoomID: tc.room,
					Start: t0, End: t0.Add(8 * time.Hour), Status: domain.BookingConfirmed}
				errs[i] = replicas[i%2].CreateBooking(ctx, b)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.ErrorIs(t, err, tc.want)
		}
		require.Equal(t, 1, ok, "room %q", tc.room)
	}
}
