package credit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// benchNetwork is one month (November 2026) of a 30-center network: 800
// workspaces, 80 meeting rooms, 5,000 members, about 18,000 bookings and
// 1,000,000 door events, generated from a fixed seed.
type benchNetwork struct {
	cfg    credit.Config
	dir    *credit.Directory
	period credit.Period
	events []domain.Event
}

const (
	benchCenters   = 30
	benchMembers   = 5000
	benchEvents    = 1_000_000
	benchRooms     = 80
	benchWorkspace = 800
)

var (
	benchOnce sync.Once
	benchData *benchNetwork
)

func loadBenchNetwork(b *testing.B) *benchNetwork {
	b.Helper()
	benchOnce.Do(func() { benchData = makeBenchNetwork(b) })
	return benchData
}

func makeBenchNetwork(b *testing.B) *benchNetwork {
	rng := rand.New(rand.NewPCG(2026, 11))
	cfg := testConfig(b)
	period := mustPeriod(b, "2026-11")
	var centers []domain.Center
	type centerDoors struct {
		in, out string
		rooms   []string
	}
	doorsOf := make([]centerDoors, benchCenters)
	var doors []domain.Door
	for c := range benchCenters {
		id := fmt.Sprintf("ctr-%02d", c)
		hours := everyDay(7*60, 22*60)
		hours[time.Sunday] = nil
		centers = append(centers, domain.Center{ID: id, Name: id, TimeZone: "Europe/Brussels", Hours: hours,
			RateCents: int64(rng.IntN(3)) * 250})
		cd := centerDoors{in: id + "-in", out: id + "-out"}
		doors = append(doors, domain.Door{ID: cd.in, CenterID: id, Name: "entrance"},
			domain.Door{ID: cd.out, CenterID: id, Name: "exit", Exit: true})
		for r := c; r < benchRooms; r += benchCenters {
			rid := fmt.Sprintf("%s-room-%d", id, r)
			cd.rooms = append(cd.rooms, rid)
			doors = append(doors, domain.Door{ID: rid, CenterID: id, Name: "room", RoomID: rid})
		}
		doorsOf[c] = cd
	}
	start := period.Start(brussels)
	var members []domain.Member
	var passes []domain.Pass
	favorites := make([][]int, benchMembers)
	for m := range benchMembers {
		id := fmt.Sprintf("mem-%04d", m)
		home := ""
		if m%5 >= 2 { // 60 % local members
			home = centers[m%benchCenters].ID
		}
		members = append(members, domain.Member{ID: id, Name: id, HomeCenterID: home, Status: domain.MemberActive})
		favorites[m] = []int{m % benchCenters, rng.IntN(benchCenters), rng.IntN(benchCenters)}
		if m%10 < 7 {
			passes = append(passes, domain.Pass{ID: "pass-" + id, MemberID: id,
				ValidFrom: start.AddDate(0, -1, 0), ValidUntil: start.AddDate(0, 2, 0)})
		}
	}
	var bookings []domain.Booking
	for d := range 30 {
		day := start.AddDate(0, 0, d)
		for w := range benchWorkspace * 3 / 4 {
			m := rng.IntN(benchMembers)
			c := favorites[m][rng.IntN(3)]
			from := day.Add(time.Duration(7*60+rng.IntN(8*60)) * time.Minute)
			bookings = append(bookings, domain.Booking{ID: fmt.Sprintf("bk-%d-%d", d, w), MemberID: members[m].ID,
				CenterID: centers[c].ID, Start: from, End: from.Add(time.Duration(60+rng.IntN(7*60)) * time.Minute),
				Status: domain.BookingConfirmed})
		}
	}
	seq := map[string]uint64{}
	events := make([]domain.Event, 0, benchEvents)
	for len(events) < benchEvents {
		m := rng.IntN(benchMembers)
		c := favorites[m][rng.IntN(3)]
		cd := doorsOf[c]
		t := start.AddDate(0, 0, rng.IntN(30)).Add(time.Duration(7*3600+rng.IntN(14*3600)) * time.Second)
		door, reason := cd.in, protocol.GrantedPass
		switch k := rng.IntN(100); {
		case k < 35:
			door = cd.out
		case k < 40:
			reason = protocol.DeniedNoBooking
		case k < 45 && len(cd.rooms) > 0:
			door, reason = cd.rooms[rng.IntN(len(cd.rooms))], protocol.GrantedBooking
		}
		seq[door]++
		events = append(events, domain.Event{Door: door, ReceivedMs: t.Add(time.Duration(rng.IntN(120)) * time.Second).UnixMilli(),
			Event: protocol.Event{Seq: seq[door], TimeMs: t.UnixMilli(), Trusted: rng.IntN(50) != 0, Boot: "boot",
				Kind: protocol.EventTap, UID: "04A1B2C3", Member: members[m].ID, Reason: reason, WLVersion: 1}})
	}
	return &benchNetwork{cfg: cfg, dir: credit.NewDirectory(centers, doors, members, bookings, passes),
		period: period, events: events}
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
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
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
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
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
