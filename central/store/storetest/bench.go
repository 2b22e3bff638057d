package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// BenchmarkAppendEvents measures the ingest hot path: batches of batch
// events from doors doors, each batch one AppendEvents call (one
// transaction), as the ingest delivers them. It reports events/s.
func BenchmarkAppendEvents(b *testing.B, open Factory, doors, batch int) {
	s := open(b, store.Options{})
	ctx := context.Background()
	next := make([]uint64, doors)
	for i := range next {
		next[i] = 1
	}
	evs := make([]protocol.Event, batch)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		d := i % doors
		for j := range evs {
			evs[j] = Events(next[d]+uint64(j), 1)[0]
		}
		res, err := s.AppendEvents(ctx, fmt.Sprintf("door-%04d", d), time.Now().UnixMilli(), evs)
		if err != nil {
			b.Fatal(err)
		}
		if res.New != batch {
			b.Fatalf("stored %d new events of %d", res.New, batch)
		}
		next[d] += uint64(batch)
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkAppendBatches measures the ingest storing perTx batches of
// batch events, each of another door, in one AppendBatches transaction.
// Every event is of the same member.
func BenchmarkAppendBatches(b *testing.B, open Factory, doors, perTx, batch int) {
	benchmarkAppendBatches(b, open, doors, perTx, batch, 1)
}

// BenchmarkAppendBatchesMembers is BenchmarkAppendBatches with the taps
// spread over members members, as a network's are: indexes that start with
// the member then cost what they cost in production (with one member, their
// inserts all land on the same B-tree page).
func BenchmarkAppendBatchesMembers(b *testing.B, open Factory, doors, perTx, batch, members int) {
	benchmarkAppendBatches(b, open, doors, perTx, batch, members)
}

func benchmarkAppendBatches(b *testing.B, open Factory, doors, perTx, batch, members int) {
	s := open(b, store.Options{})
	ids := make([]string, members)
	for i := range ids {
		ids[i] = fmt.Sprintf("m%05d", i)
	}
	rng := rand.New(rand.NewPCG(7, uint64(members)))
	ctx := context.Background()
	next := make([]uint64, doors)
	for i := range next {
		next[i] = 1
	}
	in := make([]store.DoorEvents, perTx)
	for i := range in {
		in[i].Events = make([]protocol.Event, batch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	d := 0
	for b.Loop() {
		for i := range in {
			d = (d + 1) % doors
			in[i].Door = fmt.Sprintf("door-%04d", d)
			for j := range in[i].Events {
				in[i].Events[j] = Events(next[d]+uint64(j), 1)[0]
				if members > 1 {
					in[i].Events[j].Member = ids[rng.IntN(members)]
				}
			}
			next[d] += uint64(batch)
		}
		res, err := s.AppendBatches(ctx, time.Now().UnixMilli(), in)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.New != batch {
				b.Fatalf("stored %d new events of %d", r.New, batch)
			}
		}
	}
	b.ReportMetric(float64(b.N*perTx*batch)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkImportBookings measures an all-or-nothing import of n bookings
// (a fifth of them room bookings, which are checked for overlaps) into a
// store holding their members, centers and rooms. It reports rows/s.
func BenchmarkImportBookings(b *testing.B, open Factory, n int) {
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		s := open(b, store.Options{})
		in := seedImport(b, s, n)
		b.StartTimer()
		t0 := time.Now()
		got, err := s.ImportBookings(ctx, in)
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("imported %d of %d", got, n)
		}
		b.StopTimer()
		require.NoError(b, s.Close())
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*n)/total.Seconds(), "rows/s")
}

// seedImport creates 20 centers with 4 rooms each and n/10 members, and
// returns n bookings spread over them without room overlaps.
func seedImport(b *testing.B, s store.Store, n int) []domain.Booking {
	ctx := context.Background()
	const centers, roomsPer = 20, 4
	for c := range centers {
		require.NoError(b, s.CreateCenter(ctx, center(fmt.Sprintf("c%02d", c))))
		for r := range roomsPer {
			require.NoError(b, s.CreateRoom(ctx, domain.Room{ID: fmt.Sprintf("c%02d-r%d", c, r), CenterID: fmt.Sprintf("c%02d", c), Name: "R"}))
		}
	}
	members := max(1, n/10)
	for m := range members {
		require.NoError(b, s.CreateMember(ctx, domain.Member{ID: fmt.Sprintf("m%06d", m), Name: "M", Status: domain.MemberActive}))
	}
	out := make([]domain.Booking, n)
	slot := map[string]int{}
	for i := range out {
		c := fmt.Sprintf("c%02d", i%centers)
		bk := domain.Booking{ID: fmt.Sprintf("b%07d", i), MemberID: fmt.Sprintf("m%06d", i%members), CenterID: c, Status: domain.BookingConfirmed}
		h := i / centers
		if i%5 == 0 {
			bk.RoomID = fmt.Sprintf("%s-r%d", c, (i/centers)%roomsPer)
			h = slot[bk.RoomID]
			slot[bk.RoomID]++
		}
		bk.Start = base().Add(time.Duration(h) * time.Hour)
		bk.End = bk.Start.Add(time.Hour)
		out[i] = bk
	}
	return out
}
