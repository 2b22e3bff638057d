package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/scripts/internal/launch"
)

// BenchmarkSeed measures how long the fleet takes to seed a network of
// doors (the fleet's default centers and members) into a running central:
// by bulk import (--seed-via import: the directory, the bookings, then the
// doors with their broker secrets), and for comparison through the API one
// object at a time (--seed-via api). It reports s/seed. 1,000 doors keep it
// within make bench's budget; the 10,000-door fleet reports its seeding as
// seed_s.
func BenchmarkSeed(b *testing.B) {
	root, err := launch.RepoRoot()
	require.NoError(b, err)
	bins, err := launch.Build(b.Context(), root, filepath.Join(b.TempDir(), "bin"))
	require.NoError(b, err)
	for _, run := range []struct {
		via   string
		doors int
	}{{seedImport, 1000}, {seedAPI, 1000}} {
		doors := run.doors
		b.Run("via="+run.via+"/doors="+strconv.Itoa(doors), func(b *testing.B) {
			o := defaultOptions()
			o.doors, o.seedVia = doors, run.via
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				tmp := b.TempDir()
				f := &fleet{o: o, log: log, tmp: tmp, bins: bins}
				require.NoError(b, os.MkdirAll(filepath.Join(tmp, "central"), 0o700))
				require.NoError(b, f.startServices(b.Context()))
				b.StartTimer()
				t0 := time.Now()
				n, err := seed(b.Context(), f.central, o, time.Now(), log)
				total += time.Since(t0)
				b.StopTimer()
				require.NoError(b, err)
				require.Len(b, n.doors, doors)
				f.central.Stop()
				b.StartTimer()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s/seed")
		})
	}
}
