package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/store/storetest"
)

func open(t testing.TB, opts store.Options) store.Store {
	return openWith(t, sqlite.Options{Options: opts})
}

func openWith(t testing.TB, opts sqlite.Options) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "swc.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestCreditConformance(t *testing.T) { storetest.RunCredit(t, open) }

// migrations returns the highest migration version in the migrations
// folder and how many migrations there are.
func migrations(t *testing.T) (last, count int) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	require.NoError(t, err)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		require.NoError(t, err, name)
		last = max(last, v)
	}
	require.NotZero(t, len(names))
	return last, len(names)
}

// TestReopen checks migrations are applied once and data survives a restart.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "swc.db")
	last, _ := migrations(t)
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, last, v)
	require.NoError(t, s.CreateMember(ctx, domain.Member{ID: "m1", Name: "M", Status: domain.MemberActive}))
	require.NoError(t, s.Close())

	s, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	v, err = s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, last, v)
	m, err := s.Member(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, "M", m.Name)

	var mode string
	require.NoError(t, s.Writer().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
	_, err = os.Stat(path + "-wal")
	require.NoError(t, err)
}

func TestOpenRejects(t *testing.T) {
	_, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a?b"), sqlite.Options{})
	require.Error(t, err)
	_, err = sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Synchronous: "OFF"})
	require.Error(t, err)
}

func BenchmarkAppendEvents(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, batch := range []int{100, 500} {
			b.Run("sync="+sync+"/batch="+itoa(batch), func(b *testing.B) {
				storetest.BenchmarkAppendEvents(b, func(t testing.TB, o store.Options) store.Store {
					return openWith(t, sqlite.Options{Options: o, Synchronous: sync})
				}, 100, batch)
			})
		}
	}
}

func BenchmarkAppendBatches(b *testing.B) {
	storetest.BenchmarkAppendBatches(b, open, 1000, 20, 50)
}

// BenchmarkAppendBatchesMembers is BenchmarkAppendBatches with taps of
// 5,000 members, as a network's: it shows what indexes on the member cost
// the ingest.
func BenchmarkAppendBatchesMembers(b *testing.B) {
	storetest.BenchmarkAppendBatchesMembers(b, open, 1000, 20, 50, 5000)
}

func BenchmarkImportBookings(b *testing.B) {
	storetest.BenchmarkImportBookings(b, open, 100_000)
}

// BenchmarkImport is the onboarding of a region by bulk import: doors/10
// centers, as many members with badges (storetest.BenchmarkImport).
func BenchmarkImport(b *testing.B) {
	for _, doors := range []int{1000, 10_000} {
		b.Run("doors="+strconv.Itoa(doors), func(b *testing.B) { storetest.BenchmarkImport(b, open, doors) })
	}
}

func itoa(n int) string {
	return strconv.Itoa(n)
}
