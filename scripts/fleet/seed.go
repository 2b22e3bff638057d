package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// timeZone is center i's time zone: a few zones of the network's reach,
// taken in turn.
func timeZone(i int) string {
	zones := []string{"Europe/Brussels", "Europe/Lisbon", "Europe/Helsinki", "Europe/Paris",
		"Europe/London", "Europe/Berlin", "Europe/Madrid", "Europe/Amsterdam"}
	return zones[i%len(zones)]
}

// network is what the fleet seeded into the central.
type network struct {
	centers []string
	doors   []doorSpec
	members []domain.Member // those with a booking first (booked), then the badge-only ones
	// rights holds, per center, the badges that open its doors now (a
	// booking there or a pass); others are denied.
	rights map[string][]protocol.UID
	all    []protocol.UID // every badge of a member with a booking (the taps' badges)
	// booked is how many of members come first with a booking each (and
	// some with a pass); the rest, up to --badges, hold a badge and
	// nothing else.
	booked int
}

func memberUID(i int) protocol.UID { return protocol.UID(fmt.Sprintf("0A%06X", i)) }

// badgeOnlyUID is the badge of the i-th member with neither booking nor
// pass (--badges above --members): a prefix of its own, apart from
// memberUID's and unknownUID's, so that no tap presents it and the taps'
// outcomes stay those of the members with a booking.
func badgeOnlyUID(i int) protocol.UID { return protocol.UID(fmt.Sprintf("0B%06X", i)) }

// unknownUID is a badge no member holds.
func unknownUID(r *rand.Rand) protocol.UID {
	return protocol.UID(fmt.Sprintf("EE%06X", r.IntN(1<<24)))
}

// seedPlan is the network to create: centers, members (60 % nomadic,
// the rest local to a center), a badge each, a pass at every center for a
// third of the nomadic members, and for every member a booking at one
// center open now, so that taps are granted by booking and by pass and
// denied for lack of either, and the crediting has nomadic, cross-center
// and home hours to count.
//
// When badges is above members, badges − members more members follow,
// each with a badge and neither booking nor pass: the central holds them
// (directory, badges, the whitelist compiler's input) but no door lists
// them, so the doors' lists stay those of members alone. Their badges are
// not in n.all: no tap presents them. badges 0 is one badge per member.
func seedPlan(centers, members, badges, doors int, now time.Time) (*network, []domain.Center, []domain.Badge, []domain.Pass, []domain.Booking) {
	n := &network{rights: map[string][]protocol.UID{}, booked: members}
	var cs []domain.Center
	for i := range centers {
		id := fmt.Sprintf("c%02d", i)
		n.centers = append(n.centers, id)
		cs = append(cs, domain.Center{ID: id, Name: "Center " + id, TimeZone: timeZone(i)})
	}
	var bs []domain.Badge
	var passes []domain.Pass
	var bookings []domain.Booking
	start := now.Add(-time.Hour).Truncate(time.Minute).UTC()
	for i := range members {
		m := domain.Member{ID: fmt.Sprintf("m%05d", i), Name: fmt.Sprintf("Member %d", i), Status: domain.MemberActive}
		if i%5 >= 3 {
			m.HomeCenterID = n.centers[i%centers]
		}
		n.members = append(n.members, m)
		uid := memberUID(i)
		n.all = append(n.all, uid)
		bs = append(bs, domain.Badge{UID: uid, MemberID: m.ID})
		if m.Nomadic() && i%3 == 0 {
			passes = append(passes, domain.Pass{ID: "p-" + m.ID, MemberID: m.ID, ValidFrom: now.Add(-24 * time.Hour).UTC(), ValidUntil: now.Add(30 * 24 * time.Hour).UTC()})
			for _, c := range n.centers {
				n.rights[c] = append(n.rights[c], uid)
			}
		}
		c := n.centers[(i*7+1)%centers]
		if !m.Nomadic() && i%4 == 0 {
			c = m.HomeCenterID // at home: recorded, not credited
		}
		bookings = append(bookings, domain.Booking{ID: "b-" + m.ID, MemberID: m.ID, CenterID: c, Start: start, End: start.Add(4 * time.Hour), Status: domain.BookingConfirmed})
		n.rights[c] = append(n.rights[c], uid)
	}
	for i := range max(0, badges-members) {
		m := domain.Member{ID: fmt.Sprintf("mb%06d", i), Name: fmt.Sprintf("Badge-only member %d", i), Status: domain.MemberActive}
		if i%5 >= 3 {
			m.HomeCenterID = n.centers[i%centers]
		}
		n.members = append(n.members, m)
		bs = append(bs, domain.Badge{UID: badgeOnlyUID(i), MemberID: m.ID})
	}
	for i := range doors {
		n.doors = append(n.doors, doorSpec{ID: fmt.Sprintf("door-%05d", i), Center: n.centers[i%centers]})
	}
	return n, cs, bs, passes, bookings
}

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// seedWorkers is how many API requests are in flight while seeding: the
// central's SQLite takes one writer at a time, more only queue.
const seedWorkers = 8

// How the fleet seeds the central (--seed-via).
const (
	seedImport = "import"
	seedAPI    = "api"
)

// seed creates the network and returns it with every door's broker secret:
// by bulk import (the directory, the bookings, then the doors a thousand
// at a time), or through the API one object at a time.
func seed(ctx context.Context, c *launch.Central, o options, now time.Time, log *slog.Logger) (*network, error) {
	n, centers, badges, passes, bookings := seedPlan(o.centers, o.members, o.badges, o.doors, now)
	if o.seedVia == seedAPI {
		return n, seedOneByOne(ctx, c, n, centers, badges, passes, bookings, log)
	}
	t0 := time.Now()
	// The directory, then the bookings (which name its members), then the
	// doors: each door is compiled once, with everything, when the last
	// import lands.
	b := n.booked
	dir := map[string]any{"centers": centers, "members": n.members[:b], "badges": badges[:b], "passes": passes}
	if err := c.API(ctx, "POST", "/import", dir, nil); err != nil {
		return nil, fmt.Errorf("seeding the directory: %w", err)
	}
	if err := importBadgeOnly(ctx, c, n.members[b:], badges[b:]); err != nil {
		return nil, err
	}
	if err := importBookings(ctx, c, bookings); err != nil {
		return nil, err
	}
	log.Info("directory seeded by import", "centers", len(centers), "members", len(n.members), "badges", len(badges), "passes", len(passes), "bookings", len(bookings), "took", time.Since(t0).Round(time.Millisecond))
	t1 := time.Now()
	doors := make([]domain.Door, len(n.doors))
	for i, d := range n.doors {
		doors[i] = domain.Door{ID: d.ID, CenterID: d.Center, Name: "Door " + d.ID}
	}
	// A thousand doors a request: the central compiles each door's
	// whitelist before it answers, and the launcher's client waits a minute.
	const chunk = 1000
	for i := 0; i < len(doors); i += chunk {
		var res struct {
			DoorSecrets map[string]string `json:"door_secrets"`
		}
		if err := c.API(ctx, "POST", "/import?door_secrets=true", map[string]any{"doors": doors[i:min(i+chunk, len(doors))]}, &res); err != nil {
			return nil, fmt.Errorf("seeding doors: %w", err)
		}
		for j := i; j < min(i+chunk, len(doors)); j++ {
			d := &n.doors[j]
			if d.Secret = res.DoorSecrets[d.ID]; d.Secret == "" {
				return nil, fmt.Errorf("seeding doors: the import answered no secret for door %s", d.ID)
			}
		}
	}
	log.Info("doors seeded by import", "doors", len(doors), "took", time.Since(t1).Round(time.Millisecond))
	return n, nil
}

// badgeOnlyChunk is how many badge-only members (each with its badge) go
// in one POST /import: 40,000 objects of about 2 MB, far within the
// central's limits of 500,000 objects (store.MaxBundleObjects) and 64 MiB
// (api.DefaultMaxImportBody) a request. 50,000 members took 9 to 17 s a
// request here (the crediting following the previous request's members
// meanwhile), so 20,000 leave the launcher's one-minute client timeout a
// wide margin on a busy machine.
const badgeOnlyChunk = 20000

// importBadgeOnly imports the members with a badge and nothing else, with
// their badges (badges[i] is members[i]'s), badgeOnlyChunk per request.
func importBadgeOnly(ctx context.Context, c *launch.Central, members []domain.Member, badges []domain.Badge) error {
	for i := 0; i < len(members); i += badgeOnlyChunk {
		j := min(i+badgeOnlyChunk, len(members))
		body := map[string]any{"members": members[i:j], "badges": badges[i:j]}
		if err := c.API(ctx, "POST", "/import", body, nil); err != nil {
			return fmt.Errorf("seeding the badge-only members %d to %d: %w", i, j-1, err)
		}
	}
	return nil
}

// importBookings imports the bookings a few thousand per request.
func importBookings(ctx context.Context, c *launch.Central, bookings []domain.Booking) error {
	const chunk = 5000
	for i := 0; i < len(bookings); i += chunk {
		body := map[string]any{"bookings": bookings[i:min(i+chunk, len(bookings))]}
		if err := c.API(ctx, "POST", "/bookings/import", body, nil); err != nil {
			return fmt.Errorf("seeding bookings: %w", err)
		}
	}
	return nil
}

// seedOneByOne creates the network through the API one object at a time
// (--seed-via api), and fills every door's broker secret.
func seedOneByOne(ctx context.Context, c *launch.Central, n *network, centers []domain.Center, badges []domain.Badge, passes []domain.Pass, bookings []domain.Booking, log *slog.Logger) error {
	t0 := time.Now()
	post := func(path string, items int, body func(i int) any) error {
		return parallel(ctx, items, seedWorkers, func(ctx context.Context, i int) error {
			return c.API(ctx, "POST", path, body(i), nil)
		})
	}
	if err := post("/centers", len(centers), func(i int) any { return centers[i] }); err != nil {
		return fmt.Errorf("seeding centers: %w", err)
	}
	if err := post("/members", len(n.members), func(i int) any { return n.members[i] }); err != nil {
		return fmt.Errorf("seeding members: %w", err)
	}
	if err := post("/badges", len(badges), func(i int) any { return badges[i] }); err != nil {
		return fmt.Errorf("seeding badges: %w", err)
	}
	if err := post("/passes", len(passes), func(i int) any { return passes[i] }); err != nil {
		return fmt.Errorf("seeding passes: %w", err)
	}
	if err := importBookings(ctx, c, bookings); err != nil {
		return err
	}
	log.Info("directory seeded", "centers", len(centers), "members", len(n.members), "badges", len(badges), "passes", len(passes), "bookings", len(bookings), "took", time.Since(t0).Round(time.Millisecond))
	t1 := time.Now()
	// Doors last, so that the directory above reaches each door once, in
	// its first snapshot, rather than as a delta per change.
	err := parallel(ctx, len(n.doors), seedWorkers, func(ctx context.Context, i int) error {
		d := &n.doors[i]
		if err := c.API(ctx, "POST", "/doors", domain.Door{ID: d.ID, CenterID: d.Center, Name: "Door " + d.ID}, nil); err != nil {
			return err
		}
		var err error
		d.Secret, err = c.DoorSecret(ctx, d.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("seeding doors: %w", err)
	}
	log.Info("doors seeded", "doors", len(n.doors), "took", time.Since(t1).Round(time.Millisecond))
	return nil
}
