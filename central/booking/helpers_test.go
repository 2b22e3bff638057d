package booking_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
)

// backends opens a fresh store of each kind.
var backends = []struct {
	name string
	open func(t testing.TB, opts store.Options) store.Store
}{
	{"sqlite", func(t testing.TB, opts store.Options) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{Options: opts})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(t testing.TB, opts store.Options) store.Store {
		s, err := postgres.Open(context.Background(), storetest.PostgresSchema(t), opts)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// forEachStore runs fn on SQLite and on PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t, store.Options{})) })
	}
}

var brussels = mustLoc("Europe/Brussels")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// now is the fixed clock of the tests: Monday 2 March 2026, 08:00 in Brussels.
var now = time.Date(2026, 3, 2, 8, 0, 0, 0, brussels)

// at is a local time in Brussels, days after Monday 2 March 2026.
func at(day, hh, mm int) time.Time { return time.Date(2026, 3, 2+day, hh, mm, 0, 0, brussels) }

func weekdays(open, close int) domain.OpeningHours {
	var h domain.OpeningHours
	for d := time.Monday; d <= time.Friday; d++ {
		h[d] = []domain.Span{{Open: open * 60, Close: close * 60}}
	}
	return h
}

// seed makes centers c1 (2 desks, room r1 for 6, room r2 for 2) and c2 (no
// desks, room r3), open weekdays 8–18, members m1 (local to c1), n1..n<k>
// (nomadic) and s1 (suspended), and returns a service on the fixed clock.
func seed(t *testing.T, st store.Store, nomads int) *booking.Service {
	t.Helper()
	ctx := context.Background()
	for _, c := range []string{"c1", "c2"} {
		require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: c, Name: "Center " + c, TimeZone: "Europe/Brussels", Hours: weekdays(8, 18)}))
	}
	require.NoError(t, st.CreateRoom(ctx, domain.Room{ID: "r1", CenterID: "c1", Name: "Big", Capacity: 6, Equipment: []string{"screen"}}))
	require.NoError(t, st.CreateRoom(ctx, domain.Room{ID: "r2", CenterID: "c1", Name: "Small", Capacity: 2}))
	require.NoError(t, st.CreateRoom(ctx, domain.Room{ID: "r3", CenterID: "c2", Name: "Other", Capacity: 4}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "m1", Name: "Ann", HomeCenterID: "c1", Status: domain.MemberActive}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "s1", Name: "Sam", Status: domain.MemberSuspended}))
	for i := 1; i <= nomads; i++ {
		require.NoError(t, st.CreateMember(ctx, domain.Member{ID: fmt.Sprintf("n%d", i), Name: "Nomad", Status: domain.MemberActive}))
	}
	svc := booking.New(st, booking.Options{Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, svc.SetDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 2}))
	return svc
}

// requireRefused checks err is a *booking.Error with the code and field.
func requireRefused(t *testing.T, err error, code, field string) {
	t.Helper()
	var be *booking.Error
	require.ErrorAs(t, err, &be, "error %v", err)
	require.Equal(t, code, be.Code, "%v", err)
	require.Equal(t, field, be.Field, "%v", err)
}
