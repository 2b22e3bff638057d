package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/smartworkcenters/swc/edge/decide"
	"github.com/smartworkcenters/swc/shared/protocol"
)

const benchBadges = 100_000

// benchDir is a folder on a real disk: SWC_BENCH_DIR, or the test's temp
// folder. A tmpfs would make every fsync free and the figures meaningless,
// so the benchmark refuses one.
func benchDir(b *testing.B) string {
	dir := os.Getenv("SWC_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		var err error
		if dir, err = os.MkdirTemp(dir, "swc-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err == nil && fs.Type == unix.TMPFS_MAGIC {
		b.Fatalf("%s is on tmpfs, where fsync costs nothing; set SWC_BENCH_DIR to a folder on a disk", dir)
	}
	return dir
}

func benchStore(b *testing.B, badges int) *Store { return benchStoreOf(b, entries(badges)) }

func benchStoreOf(b *testing.B, es []protocol.Entry) *Store {
	badges := len(es)
	b.Helper()
	s, err := Open(context.Background(), filepath.Join(benchDir(b), "edge.db"), Options{Door: testDoor})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for _, p := range snapshotParts(1, es, (badges+2499)/2500) {
		if _, err := s.StageSnapshot(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkDecide is the whitelist lookup and the rules on 100,000 badges,
// without a write: a read transaction, a B+tree get, decoding the entry and
// deciding. Nine taps in ten are listed badges, one in ten unknown.
// Target (PRODUCT.md 5): ≤ 5 µs mean.
//
// Sub-benchmarks: uid_only (today's entries) and secure (every entry an
// NTAG 424 DNA or DESFire badge with one or two door keys, decided after
// a successful authentication: the key material's decoding cost).
func BenchmarkDecide(b *testing.B) {
	b.Run("uid_only", func(b *testing.B) { benchDecide(b, entries(benchBadges), decide.AuthNone) })
	b.Run("secure", func(b *testing.B) { benchDecide(b, secureEntries(benchBadges), decide.AuthOK) })
}

func benchDecide(b *testing.B, es []protocol.Entry, auth decide.Auth) {
	s := benchStoreOf(b, es)
	p := decide.DefaultPolicy()
	uids := make([]protocol.UID, 1000)
	for i := range uids {
		uids[i] = uidN((i * 7919) % (benchBadges * 10 / 9))
	}
	ctx := context.Background()
	granted := 0
	i := 0
	for b.Loop() {
		ev, err := s.Decide(ctx, TapRequest{UID: uids[i%len(uids)], Time: t0, Trusted: true, Boot: "1-a", Auth: auth}, p)
		if err != nil {
			b.Fatal(err)
		}
		if ev.Reason.Granted() {
			granted++
		}
		i++
	}
	if i >= len(uids) && (granted == 0 || granted == i) {
		b.Fatalf("%d of %d granted: the mix of known and unknown badges is wrong", granted, i)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/decision")
}

// BenchmarkTap measures a tap recorded durably (decision and fsynced append
// in one transaction) against one bare fsynced bbolt put of an event-sized
// value into another file in the same folder, alternating the two in the
// same run. Target (PRODUCT.md 5): tap ≤ 2× bare put.
func BenchmarkTap(b *testing.B) {
	s := benchStore(b, benchBadges)
	bare, err := bolt.Open(filepath.Join(benchDir(b), "bare.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	if err := bare.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 220) // about one JSON event
	ctx := context.Background()
	p := decide.DefaultPolicy()
	var taps, puts []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		err := bare.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket([]byte("b"))
			seq, _ := bk.NextSequence()
			return bk.Put(u64(seq), value)
		})
		if err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := s.Tap(ctx, TapRequest{UID: uidN(i % benchBadges), Time: t0, Trusted: true, Boot: "1-a"}, p); err != nil {
			b.Fatal(err)
		}
		end := time.Now()
		puts = append(puts, mid.Sub(start))
		taps = append(taps, end.Sub(mid))
		i++
	}
	tapMean, putMean := mean(taps), mean(puts)
	b.ReportMetric(float64(tapMean.Microseconds()), "tap-µs")
	b.ReportMetric(float64(putMean.Microseconds()), "bare-put-µs")
	b.ReportMetric(float64(p50(taps).Microseconds()), "tap-p50-µs")
	b.ReportMetric(float64(p50(puts).Microseconds()), "bare-put-p50-µs")
	b.ReportMetric(float64(tapMean)/float64(putMean), "tap/put")
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(max(len(ds), 1))
}

func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkApplySnapshot stages and applies a full snapshot of 100,000
// badges (40 parts, each its own fsynced transaction, the last one replacing
// the previous 100,000) onto a door that holds 100,000 badges. The parts are
// verified beforehand, as the sync hands them over. Target (PRODUCT.md 5):
// ≤ 2 s.
func BenchmarkApplySnapshot(b *testing.B) {
	s := benchStore(b, benchBadges)
	parts := snapshotParts(2, entries(benchBadges), benchBadges/2500)
	ctx := context.Background()
	version := uint64(1)
	for b.Loop() {
		version++
		var res ApplyResult
		for _, p := range parts {
			p.Version = version
			var err error
			if res, err = s.StageSnapshot(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		if !res.Applied {
			b.Fatal("not applied")
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(version-1), "s/snapshot")
	fi, err := os.Stat(s.Path())
	if err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	}
}
