package postgres_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/storetest"
)

func open(t testing.TB, opts store.Options) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), storetest.PostgresSchema(t), opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() }) // runs before the schema is dropped
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

// TestReopen checks migrations are applied once, also by replicas starting
// together, and data survives a restart.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	u := storetest.PostgresSchema(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, u, store.Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	s, err := postgres.Open(ctx, u, store.Options{})
	require.NoError(t, err)
	require.NoError(t, s.CreateMember(ctx, domain.Member{ID: "m1", Name: "M", Status: domain.MemberActive}))
	require.NoError(t, s.Close())

	s, err = postgres.Open(ctx, u, store.Options{})
	require.NoError(t, err)
	defer s.Close()
	last, count := migrations(t)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, last, v)
	var n int
	require.NoError(t, s.Writer().QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n))
	require.Equal(t, count, n)
	_, err = s.Member(ctx, "m1")
	require.NoError(t, err)
}

func BenchmarkAppendEvents(b *testing.B) {
	for _, batch := range []int{100, 500} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			storetest.BenchmarkAppendEvents(b, open, 100, batch)
		})
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
