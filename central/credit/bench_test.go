package credit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
)

// benchNetwork is one month (November 2026) of a 30-center network: 800
// workspaces, 80 meeting rooms, 5,000 members, about 18,000 bookings and
// 1,000,000 door events, generated from a fixed seed (credittest.MonthSize()).
type benchNetwork struct {
	cfg    credit.Config
	dir    *credit.Directory
	period credit.Period
	events []domain.Event
}

var (
	benchOnce sync.Once
	benchData *benchNetwork
)

func loadBenchNetwork(b *testing.B) *benchNetwork {
	b.Helper()
	benchOnce.Do(func() {
		n, err := credittest.NewNetwork(credittest.MonthSize())
		if err != nil {
			b.Fatal(err)
		}
		benchData = &benchNetwork{cfg: n.Config, dir: n.Directory(), period: n.Period, events: n.Events}
	})
	if benchData == nil {
		b.Fatal("no bench network")
	}
	return benchData
}

// BenchmarkSettleMonthFromScratch credits one month of the 30-center
// network from its 1,000,000 events and builds the settlement, in memory.
func BenchmarkSettleMonthFromScratch(b *testing.B) {
	n := loadBenchNetwork(b)
	b.ReportAllocs()
	b.ResetTimer()
	var visits int
	for b.Loop() {
		r, err := credit.Compute(n.cfg, n.dir, n.events)
		if err != nil {
			b.Fatal(err)
		}
		s := r.Settlement(n.period)
		if s.TotalCents <= 0 {
			b.Fatal("nothing credited")
		}
		visits = 0
		for _, mp := range r.MemberPeriods(n.period) {
			visits += len(mp.Visits)
		}
	}
	b.ReportMetric(float64(len(n.events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(visits), "visits")
}

// filledLedger is a MemStore holding the whole month, rebuilt.
func filledLedger(b *testing.B, n *benchNetwork) (*credit.Ledger, *credit.MemStore) {
	b.Helper()
	st := credit.NewMemStore()
	st.AddEvents(n.events)
	l, err := credit.NewLedger(n.cfg, st)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.Rebuild(context.Background(), n.dir, n.period); err != nil {
		b.Fatal(err)
	}
	return l, st
}

// BenchmarkLedgerRebuildMonth recomputes the month through the Ledger and
// its in-memory Store, as closing a period does.
func BenchmarkLedgerRebuildMonth(b *testing.B) {
	n := loadBenchNetwork(b)
	l, _ := filledLedger(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Rebuild(context.Background(), n.dir, n.period); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(n.events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLedgerUpdate credits a batch of new events into a month that
// already holds 1,000,000: the incremental path. Each batch's events are
// new taps of random members (already in the store, as after the central's
// commit).
func BenchmarkLedgerUpdate(b *testing.B) {
	n := loadBenchNetwork(b)
	l, _ := filledLedger(b, n)
	for _, size := range []int{1, 500, 20_000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, uint64(size)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				off := rng.IntN(len(n.events) - size)
				if _, err := l.Update(context.Background(), n.dir, n.events[off:off+size]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
