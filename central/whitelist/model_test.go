package whitelist

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// model is the domain as a store would hold it, for the randomized test.
type model struct {
	members  map[string]domain.Member
	badges   map[protocol.UID]domain.Badge
	bookings map[string]domain.Booking
	passes   map[string]domain.Pass
	staff    map[domain.Staff]bool
	doors    map[string]domain.Door
}

func (m *model) input() Input {
	var in Input
	for _, c := range []string{"c0", "c1", "c2"} {
		in.Centers = append(in.Centers, domain.Center{ID: c, Name: c, TimeZone: "Europe/Brussels"})
	}
	for _, k := range sortedKeys(m.members) {
		in.Members = append(in.Members, m.members[k])
	}
	for _, b := range m.badges {
		in.Badges = append(in.Badges, b)
	}
	for _, k := range sortedKeys(m.bookings) {
		in.Bookings = append(in.Bookings, m.bookings[k])
	}
	for _, k := range sortedKeys(m.passes) {
		in.Passes = append(in.Passes, m.passes[k])
	}
	for s := range m.staff {
		in.Staff = append(in.Staff, s)
	}
	for _, k := range sortedKeys(m.doors) {
		in.Doors = append(in.Doors, m.doors[k])
	}
	return in
}

// TestIncrementalEqualsFullCompile drives the compiler with random changes
// and ticks and checks, again and again, that (1) what it holds equals a
// compiler built from scratch from the same domain at the same time, and
// (2) simulated doors that follow only the signed messages (deltas when
// online, catching up from their own version after being offline or
// restarting empty) hold exactly that content.
func TestIncrementalEqualsFullCompile(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 11))
	centers := []string{"c0", "c1", "c2"}
	m := &model{
		members: map[string]domain.Member{}, badges: map[protocol.UID]domain.Badge{},
		bookings: map[string]domain.Booking{}, passes: map[string]domain.Pass{},
		staff: map[domain.Staff]bool{}, doors: map[string]domain.Door{},
	}
	for i, c := range centers {
		m.doors["in-"+c] = domain.Door{ID: "in-" + c, CenterID: c, Name: "entrance"}
		m.doors[fmt.Sprintf("room-%d", i)] = domain.Door{ID: fmt.Sprintf("room-%d", i), CenterID: c, Name: "room", RoomID: c + "-r1"}
	}
	for i := range 20 {
		id := fmt.Sprintf("m%02d", i)
		m.members[id] = domain.Member{ID: id, Name: id, Status: domain.MemberActive}
	}
	f := newFixture(t, m.input(), func(c *Config) { c.MaxLogDeltas = 8 })
	w := f.c.Watch()
	defer w.Close()
	now := t0

	doors := map[string]*doorState{}
	offline := map[string]bool{}
	follow := func() {
		for _, u := range w.Take() {
			if offline[u.Door] {
				continue
			}
			ds := doors[u.Door]
			if ds == nil {
				ds = &doorState{}
				doors[u.Door] = ds
			}
			s, err := f.c.ForSync(ctx, u.Door, ds.version)
			if _, exists := m.doors[u.Door]; !exists {
				continue // deleted after the update
			}
			require.NoError(t, err)
			ds.applySync(t, f.keys, u.Door, s, now)
		}
	}
	check := func(step int) {
		fresh, err := New(ctx, Config{Signer: f.cfg.Signer, States: newMemStates(), Logger: quietLogger()}, m.input(), now)
		require.NoError(t, err)
		for id := range m.doors {
			want, _, err := fresh.Entries(id)
			require.NoError(t, err)
			got, v, err := f.c.Entries(id)
			require.NoError(t, err)
			require.Equal(t, want, got, "step %d door %s: incremental differs from a full compile", step, id)
			if offline[id] {
				continue
			}
			ds := doors[id]
			require.NotNil(t, ds, "step %d door %s never synced", step, id)
			require.Equal(t, v, ds.version, "step %d door %s", step, id)
			require.Equal(t, got, ds.sorted(), "step %d door %s: the door's copy differs", step, id)
		}
	}
	// Every door starts empty and asks for a snapshot.
	for id := range m.doors {
		doors[id] = &doorState{}
		ds := doors[id]
		ds.applySync(t, f.keys, id, must(f.c.ForSync(ctx, id, 0)), now)
	}

	pick := func(n int) int { return r.IntN(n) }
	member := func() string { return fmt.Sprintf("m%02d", pick(22)) } // m20, m21 do not exist
	uid := func() protocol.UID { return protocol.UID(fmt.Sprintf("%08X", 0x10000000+pick(40))) }
	center := func() string { return centers[pick(len(centers))] }
	for step := range 600 {
		var ch domain.Change
		switch op := pick(100); {
		case op < 30:
			id := fmt.Sprintf("bk%03d", pick(80))
			c := center()
			room := ""
			if pick(2) == 0 {
				room = fmt.Sprintf("%s-r%d", c, 1+pick(2))
			}
			start := now.Add(time.Duration(pick(24*20)-24) * time.Hour)
			b := domain.Booking{ID: id, MemberID: member(), CenterID: c, RoomID: room, Start: start,
				End: start.Add(time.Duration(1+pick(8)) * time.Hour), Status: domain.BookingConfirmed}
			if pick(6) == 0 {
				b.Status = domain.BookingCancelled
			}
			if old, ok := m.bookings[id]; ok && pick(4) == 0 {
				delete(m.bookings, id)
				ch = domain.Change{Kind: domain.KindBooking, Deleted: true, Booking: &old}
				break
			}
			m.bookings[id] = b
			ch = domain.Change{Kind: domain.KindBooking, Booking: &b}
		case op < 40:
			id := fmt.Sprintf("p%02d", pick(15))
			from := now.Add(time.Duration(pick(24*30)-24*10) * time.Hour)
			p := domain.Pass{ID: id, MemberID: member(), ValidFrom: from, ValidUntil: from.Add(time.Duration(1+pick(24*10)) * time.Hour)}
			if pick(3) > 0 {
				p.CenterIDs = []string{center()}
			}
			if old, ok := m.passes[id]; ok && pick(4) == 0 {
				delete(m.passes, id)
				ch = domain.Change{Kind: domain.KindPass, Deleted: true, Pass: &old}
				break
			}
			m.passes[id] = p
			ch = domain.Change{Kind: domain.KindPass, Pass: &p}
		case op < 48:
			s := domain.Staff{MemberID: member()}
			if pick(4) > 0 {
				s.CenterID = center()
			}
			if m.staff[s] {
				delete(m.staff, s)
				ch = domain.Change{Kind: domain.KindStaff, Deleted: true, Staff: &s}
			} else {
				m.staff[s] = true
				ch = domain.Change{Kind: domain.KindStaff, Staff: &s}
			}
		case op < 56:
			id := member()
			mm := domain.Member{ID: id, Name: id, Status: domain.MemberActive}
			if pick(3) == 0 {
				mm.Status = domain.MemberSuspended
			}
			if old, ok := m.members[id]; ok && pick(5) == 0 {
				delete(m.members, id)
				ch = domain.Change{Kind: domain.KindMember, Deleted: true, Member: &old}
				break
			}
			m.members[id] = mm
			ch = domain.Change{Kind: domain.KindMember, Member: &mm}
		case op < 72:
			b := domain.Badge{UID: uid(), MemberID: member(), Revoked: pick(5) == 0}
			if old, ok := m.badges[b.UID]; ok && pick(4) == 0 {
				delete(m.badges, b.UID)
				ch = domain.Change{Kind: domain.KindBadge, Deleted: true, Badge: &old}
				break
			}
			m.badges[b.UID] = b
			ch = domain.Change{Kind: domain.KindBadge, Badge: &b}
		case op < 76:
			id := fmt.Sprintf("extra-%d", pick(3))
			d := domain.Door{ID: id, CenterID: center(), Name: "extra"}
			if pick(2) == 0 {
				d.RoomID = d.CenterID + "-r2"
			}
			if old, ok := m.doors[id]; ok && pick(3) == 0 {
				delete(m.doors, id)
				ch = domain.Change{Kind: domain.KindDoor, Deleted: true, Door: &old}
				break
			}
			m.doors[id] = d
			ch = domain.Change{Kind: domain.KindDoor, Door: &d}
		case op < 82:
			// A door goes offline, or comes back and catches up from its
			// version, or restarts empty.
			ids := sortedKeys(m.doors)
			id := ids[pick(len(ids))]
			if !offline[id] {
				offline[id] = true
				continue
			}
			delete(offline, id)
			ds := doors[id]
			if ds == nil || pick(3) == 0 {
				ds = &doorState{}
				doors[id] = ds
			}
			ds.applySync(t, f.keys, id, must(f.c.ForSync(ctx, id, ds.version)), now)
			continue
		default:
			now = now.Add(time.Duration(pick(13*60)) * time.Minute)
			require.NoError(t, f.c.Tick(ctx, now))
			follow()
			if step%5 == 0 {
				check(step)
			}
			continue
		}
		require.NoError(t, f.c.Apply(ctx, ch), "step %d %s", step, ch.Kind)
		follow()
		if step%5 == 0 {
			check(step)
		}
	}
	check(-1)
	var versions []string
	for _, id := range sortedKeys(m.doors) {
		v, _ := f.c.Version(id)
		versions = append(versions, fmt.Sprintf("%s=%d", id, v))
	}
	sort.Strings(versions)
	t.Logf("final versions: %v; delta answers %d, snapshots %d", versions,
		f.counter("swc_whitelist_syncs_total", "result", "delta"), f.counter("swc_whitelist_syncs_total", "result", "snapshot"))
}
