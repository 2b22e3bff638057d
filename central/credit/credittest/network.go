package credittest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// NetworkSize sizes a generated network.
type NetworkSize struct {
	Centers    int
	Members    int
	Events     int
	Rooms      int // meeting rooms, spread over the centers, one door each
	Workspaces int // three quarters of them are booked every day
}

// MonthSize is PRODUCT.md's network grown to 30 centers: 800 workspaces,
// 80 meeting rooms, 5,000 members and 1,000,000 door events in one month.
func MonthSize() NetworkSize {
	return NetworkSize{Centers: 30, Members: 5000, Events: 1_000_000, Rooms: 80, Workspaces: 800}
}

// Network is one month (November 2026) of a generated network, from a
// fixed seed: the same size gives the same data. Every record is valid for
// the central's store (rooms included), so benchmarks can load it there.
type Network struct {
	Config   credit.Config
	Period   credit.Period
	Centers  []domain.Center
	Rooms    []domain.Room
	Doors    []domain.Door
	Members  []domain.Member
	Bookings []domain.Booking
	Passes   []domain.Pass
	// Events are door taps (a third at exit readers, one in twenty denied,
	// one in twenty at room doors, one in fifty with an untrusted clock),
	// each door numbered from 1, received up to two minutes after the tap.
	Events []domain.Event
}

// Directory indexes the network for the engine.
func (n *Network) Directory() *credit.Directory {
	return credit.NewDirectory(n.Centers, n.Doors, n.Members, n.Bookings, n.Passes)
}

// NewNetwork generates a network of the given size, credited at 10.00 an
// hour by default (a third of the centers at 2.50 or 5.00 instead).
func NewNetwork(size NetworkSize) (*Network, error) {
	if size.Centers <= 0 || size.Members <= 0 || size.Events < 0 || size.Rooms < 0 || size.Workspaces < 0 {
		return nil, fmt.Errorf("credittest: network size %+v: want positive centers and members", size)
	}
	cfg, err := credit.DefaultConfig(1000)
	if err != nil {
		return nil, err
	}
	period, err := credit.ParsePeriod("2026-11")
	if err != nil {
		return nil, err
	}
	n := &Network{Config: cfg, Period: period}
	rng := rand.New(rand.NewPCG(2026, 11))
	type centerDoors struct {
		in, out string
		rooms   []string
	}
	doorsOf := make([]centerDoors, size.Centers)
	for c := range size.Centers {
		id := fmt.Sprintf("ctr-%02d", c)
		var hours domain.OpeningHours
		for d := range hours {
			hours[d] = []domain.Span{{Open: 7 * 60, Close: 22 * 60}}
		}
		hours[time.Sunday] = nil
		n.Centers = append(n.Centers, domain.Center{ID: id, Name: id, TimeZone: "Europe/Brussels", Hours: hours,
			RateCents: int64(rng.IntN(3)) * 250})
		cd := centerDoors{in: id + "-in", out: id + "-out"}
		n.Doors = append(n.Doors, domain.Door{ID: cd.in, CenterID: id, Name: "entrance"},
			domain.Door{ID: cd.out, CenterID: id, Name: "exit", Exit: true})
		for r := c; r < size.Rooms; r += size.Centers {
			rid := fmt.Sprintf("%s-room-%d", id, r)
			cd.rooms = append(cd.rooms, rid)
			n.Rooms = append(n.Rooms, domain.Room{ID: rid, CenterID: id, Name: "room"})
			n.Doors = append(n.Doors, domain.Door{ID: rid, CenterID: id, Name: "room", RoomID: rid})
		}
		doorsOf[c] = cd
	}
	start := period.Start(cfg.Location)
	favorites := make([][]int, size.Members)
	for m := range size.Members {
		id := fmt.Sprintf("mem-%04d", m)
		home := ""
		if m%5 >= 2 { // 60 % local members
			home = n.Centers[m%size.Centers].ID
		}
		n.Members = append(n.Members, domain.Member{ID: id, Name: id, HomeCenterID: home, Status: domain.MemberActive})
		favorites[m] = []int{m % size.Centers, rng.IntN(size.Centers), rng.IntN(size.Centers)}
		if m%10 < 7 {
			n.Passes = append(n.Passes, domain.Pass{ID: "pass-" + id, MemberID: id,
				ValidFrom: start.AddDate(0, -1, 0), ValidUntil: start.AddDate(0, 2, 0)})
		}
	}
	for d := range 30 {
		day := start.AddDate(0, 0, d)
		for w := range size.Workspaces * 3 / 4 {
			m := rng.IntN(size.Members)
			c := favorites[m][rng.IntN(3)]
			from := day.Add(time.Duration(7*60+rng.IntN(8*60)) * time.Minute)
			n.Bookings = append(n.Bookings, domain.Booking{ID: fmt.Sprintf("bk-%d-%d", d, w), MemberID: n.Members[m].ID,
				CenterID: n.Centers[c].ID, Start: from, End: from.Add(time.Duration(60+rng.IntN(7*60)) * time.Minute),
				Status: domain.BookingConfirmed})
		}
	}
	seq := map[string]uint64{}
	n.Events = make([]domain.Event, 0, size.Events)
	for len(n.Events) < size.Events {
		m := rng.IntN(size.Members)
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
		n.Events = append(n.Events, domain.Event{Door: door, ReceivedMs: t.Add(time.Duration(rng.IntN(120)) * time.Second).UnixMilli(),
			Event: protocol.Event{Seq: seq[door], TimeMs: t.UnixMilli(), Trusted: rng.IntN(50) != 0, Boot: "boot",
				Kind: protocol.EventTap, UID: "04A1B2C3", Member: n.Members[m].ID, Reason: reason, WLVersion: 1}})
	}
	return n, nil
}
