package whitelist

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// network builds a national network of the given number of doors (a
// multiple of 10), ten doors per center, ten badges per door:
//
//   - every center has two entrance doors (one of them an exit door) and six
//     rooms, four with one door and two with two doors: 10 doors and
//     7 audiences (the entrances, and each room);
//   - every center has 100 local members with one badge each: 5 staff of
//     the center, 60 holders of a pass for the center (every third of them
//     also books one of its rooms in the next 14 days), 30 members with two
//     bookings each in the next 14 days (a desk, and one of its rooms), and
//     5 members without any current right (listed nowhere);
//   - network-wide, 20 staff of the whole network and 200 holders of a pass
//     for every center: the no-right members of the first 44 centers. They
//     are listed at every entrance (and the staff at every room door) of
//     the network, whatever its size.
//
// So 10,000 doors are 1,000 centers, 7,000 audiences, 100,000 badges,
// 80,000 bookings and 60,200 passes; 100,000 doors are 10,000 centers and
// 1,000,000 badges. An entrance lists 315 badges, a room door 75.
func network(doors int) Input {
	centers := doors / 10
	h, day := time.Hour, 24*time.Hour
	in := Input{
		Centers:  make([]domain.Center, 0, centers),
		Rooms:    make([]domain.Room, 0, 6*centers),
		Doors:    make([]domain.Door, 0, doors),
		Members:  make([]domain.Member, 0, 100*centers),
		Badges:   make([]domain.Badge, 0, 100*centers),
		Bookings: make([]domain.Booking, 0, 40*centers),
		Passes:   make([]domain.Pass, 0, 60*centers+200),
	}
	for ci := range centers {
		c := fmt.Sprintf("c%05d", ci)
		in.Centers = append(in.Centers, domain.Center{ID: c, Name: "Center " + c, TimeZone: "Europe/Brussels"})
		in.Doors = append(in.Doors,
			domain.Door{ID: c + "-in", CenterID: c, Name: "Entrance"},
			domain.Door{ID: c + "-out", CenterID: c, Name: "Exit", Exit: true})
		for r := range 6 {
			room := fmt.Sprintf("%s-r%d", c, r)
			in.Rooms = append(in.Rooms, domain.Room{ID: room, CenterID: c, Name: "Room " + room})
			in.Doors = append(in.Doors, domain.Door{ID: room + "-a", CenterID: c, RoomID: room, Name: "Room door"})
			if r >= 4 {
				in.Doors = append(in.Doors, domain.Door{ID: room + "-b", CenterID: c, RoomID: room, Name: "Room back door"})
			}
		}
		for j := range 100 {
			i := ci*100 + j
			m := fmt.Sprintf("m%07d", i)
			in.Members = append(in.Members, domain.Member{ID: m, Name: m, Status: domain.MemberActive, HomeCenterID: c})
			in.Badges = append(in.Badges, domain.Badge{UID: protocol.UID(fmt.Sprintf("04%012X", i)), MemberID: m})
			book := func(k int, room string) {
				start := t0.Add(time.Duration((i*7+k*29)%(13*24)) * h)
				in.Bookings = append(in.Bookings, domain.Booking{ID: fmt.Sprintf("bk%07d-%d", i, k), MemberID: m, CenterID: c, RoomID: room,
					Start: start, End: start.Add(time.Duration(1+k%4) * h), Status: domain.BookingConfirmed})
			}
			room := fmt.Sprintf("%s-r%d", c, j%6)
			switch {
			case j < 5:
				in.Staff = append(in.Staff, domain.Staff{MemberID: m, CenterID: c})
			case j < 65:
				in.Passes = append(in.Passes, domain.Pass{ID: "p" + m, MemberID: m, ValidFrom: t0.Add(-day), ValidUntil: t0.Add(30 * day), CenterIDs: []string{c}})
				if j%3 == 0 {
					book(0, room)
				}
			case j < 95:
				book(0, "")
				book(1, room)
			case ci < 4:
				in.Staff = append(in.Staff, domain.Staff{MemberID: m})
			case ci < 44:
				in.Passes = append(in.Passes, domain.Pass{ID: "p" + m, MemberID: m, ValidFrom: t0.Add(-day), ValidUntil: t0.Add(60 * day)})
			}
		}
	}
	return in
}

// BenchmarkCompileNetwork is the central's start-up compile of a whole
// network (see network for the mix) from a full load, without connections:
// s/compile is the time New takes, MiB the heap in use once it returned,
// after a garbage collection, with the loaded input released (what the
// compiler keeps). cpu-s/compile is the process's CPU time during New (the
// garbage collector's included): on a shared machine, s/compile also
// counts the time other processes held the cores.
func BenchmarkCompileNetwork(b *testing.B) {
	for _, doors := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("doors=%d", doors), func(b *testing.B) {
			ctx := context.Background()
			signer := protocol.NewSigner(testKey)
			var took, cpu time.Duration
			var heap uint64
			for range b.N {
				b.StopTimer()
				in := network(doors)
				runtime.GC()
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime(b)
				c, err := New(ctx, Config{Signer: signer, States: newMemStates(), Logger: quietLogger()}, in, t0)
				took += time.Since(start)
				cpu += cpuTime(b) - cpu0
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if v, ok := c.Version(in.Doors[len(in.Doors)-1].ID); !ok || v != 1 {
					b.Fatalf("last door at version %d (%v)", v, ok)
				}
				in = Input{}
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heap += ms.HeapInuse
				runtime.KeepAlive(c)
				b.StartTimer()
			}
			b.ReportMetric(float64(heap)/float64(b.N)/(1<<20), "MiB")
			b.ReportMetric(took.Seconds()/float64(b.N), "s/compile")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/compile")
		})
	}
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdleMembers measures what the compiler keeps per idle member: a
// member with one badge and neither booking, pass nor staff grant, listed at
// no door (most of a network's members: 80,000 of the 100,000 badges of
// the fleet's --members 20000 --badges 100000). B/idle-member is the heap
// in use after New and a garbage collection with 100,000 idle members added
// to network(1_000), less the heap without them, per idle member; the
// loaded input is released first, as in BenchmarkCompileNetwork.
func BenchmarkIdleMembers(b *testing.B) {
	const idle = 100_000
	ctx := context.Background()
	signer := protocol.NewSigner(testKey)
	heapAfter := func(in Input) uint64 {
		c, err := New(ctx, Config{Signer: signer, States: newMemStates(), Logger: quietLogger()}, in, t0)
		if err != nil {
			b.Fatal(err)
		}
		in = Input{}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		runtime.KeepAlive(c)
		return ms.HeapAlloc
	}
	var base, with uint64
	for range b.N {
		runtime.GC()
		base += heapAfter(network(1_000))
		in := network(1_000)
		for i := range idle {
			m := fmt.Sprintf("idle%07d", i)
			in.Members = append(in.Members, domain.Member{ID: m, Name: "Idle member " + m, Email: m + "@example.org", Status: domain.MemberActive, HomeCenterID: "c00001"})
			in.Badges = append(in.Badges, domain.Badge{UID: protocol.UID(fmt.Sprintf("08%012X", i)), MemberID: m, AddedBy: "tok-0123456789abcdef"})
		}
		runtime.GC()
		with += heapAfter(in)
	}
	b.ReportMetric(float64(with)/float64(b.N)/(1<<20), "MiB")
	b.ReportMetric((float64(with)-float64(base))/float64(b.N)/idle, "B/idle-member")
}
