package whitelist

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// sharedWorld is world with more doors sharing audiences: c1 has two
// entrances (d1, and the exit door d1x), two doors on room r1 (d1r1, d1r1b)
// and one on room r2 (d1r2); c2 has its entrance d2.
func sharedWorld() Input {
	in := world()
	in.Doors = append(in.Doors,
		domain.Door{ID: "d1x", CenterID: "c1", Name: "Exit", Exit: true},
		domain.Door{ID: "d1r1b", CenterID: "c1", Name: "Room 1 back", RoomID: "r1"},
		domain.Door{ID: "d1r2", CenterID: "c1", Name: "Room 2", RoomID: "r2"},
	)
	return in
}

// audienceOf returns the audience a door publishes from and its version.
func (f *fixture) audienceOf(door string) (*audience, uint64) {
	f.t.Helper()
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	d := f.c.doors[door]
	require.NotNil(f.t, d, door)
	return d.caud, d.cav
}

// snapshotEntries returns what a door starting empty holds after its
// snapshot, checking each message's signature and header.
func (f *fixture) snapshotEntries(door string) []protocol.Entry {
	f.t.Helper()
	var ds doorState
	ds.applySync(f.t, f.keys, door, must(f.c.ForSync(context.Background(), door, 0)), f.c.Now())
	return ds.sorted()
}

func TestDoorsOfOneAudienceHoldTheSameEntries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sharedWorld())
	groups := [][]string{{"d1", "d1x"}, {"d1r1", "d1r1b"}}
	r := rand.New(rand.NewPCG(3, 5))
	check := func(step int) {
		for _, g := range groups {
			a0, v0 := f.audienceOf(g[0])
			want, _, err := f.c.Entries(g[0])
			require.NoError(t, err)
			for _, id := range g[1:] {
				a, v := f.audienceOf(id)
				require.Same(t, a0, a, "step %d: %s and %s share one audience", step, g[0], id)
				if v != v0 {
					continue // only a door whose save failed lags
				}
				got, _, err := f.c.Entries(id)
				require.NoError(t, err)
				require.Equal(t, want, got, "step %d: %s and %s at audience version %d", step, g[0], id, v)
				require.Equal(t, f.snapshotEntries(g[0]), f.snapshotEntries(id), "step %d: signed snapshots of %s and %s", step, g[0], id)
			}
		}
	}
	check(0)
	now := t0
	for step := range 120 {
		member := fmt.Sprintf("m%02d", r.IntN(6))
		var ch domain.Change
		switch r.IntN(5) {
		case 0:
			ch = domain.Change{Kind: domain.KindMember, Member: &domain.Member{ID: member, Name: member, Status: domain.MemberActive}}
		case 1:
			ch = domain.Change{Kind: domain.KindBadge, Badge: &domain.Badge{UID: protocol.UID(fmt.Sprintf("5%07X", r.IntN(8))), MemberID: member, Revoked: r.IntN(4) == 0}}
		case 2:
			room := []string{"", "r1", "r2"}[r.IntN(3)]
			start := now.Add(time.Duration(r.IntN(48)) * time.Hour)
			ch = domain.Change{Kind: domain.KindBooking, Booking: &domain.Booking{ID: fmt.Sprintf("bk%d", r.IntN(10)), MemberID: member, CenterID: "c1", RoomID: room,
				Start: start, End: start.Add(time.Hour), Status: domain.BookingConfirmed}}
		case 3:
			ch = domain.Change{Kind: domain.KindPass, Pass: &domain.Pass{ID: fmt.Sprintf("p%d", r.IntN(4)), MemberID: member,
				ValidFrom: now, ValidUntil: now.Add(time.Duration(1+r.IntN(72)) * time.Hour), CenterIDs: []string{"c1"}}}
		default:
			now = now.Add(time.Duration(r.IntN(6*60)) * time.Minute)
			require.NoError(t, f.c.Tick(ctx, now))
			check(step)
			continue
		}
		// Now and then one door's save fails: it lags behind its audience
		// and catches up on the next change.
		if step%17 == 0 {
			f.states.setFail(errors.New("disk full"))
			_ = f.c.Apply(ctx, ch)
			f.states.setFail(nil)
		} else {
			f.apply(ch)
		}
		check(step)
	}
	for _, g := range groups {
		_, v0 := f.audienceOf(g[0])
		_, v1 := f.audienceOf(g[1])
		assert.Equal(t, v0, v1, "%v: caught up in the end", g)
	}
}

func TestAChangeTouchesOnlyItsAudience(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name       string
		change     domain.Change
		touched    []string // doors that get a new version, in order
		recomputes uint64   // one per audience, whatever its number of doors
	}{
		{"a pass for c1 touches c1's entrances only",
			domain.Change{Kind: domain.KindPass, Pass: &domain.Pass{ID: "pass-gina", MemberID: "gina", ValidFrom: t0, ValidUntil: t0.Add(day), CenterIDs: []string{"c1"}}},
			[]string{"d1", "d1x"}, 1},
		{"a booking at c1 touches every door of c1, not c2",
			domain.Change{Kind: domain.KindBooking, Booking: &domain.Booking{ID: "bk-gina", MemberID: "gina", CenterID: "c1", RoomID: "r1", Start: t0, End: t0.Add(time.Hour), Status: domain.BookingConfirmed}},
			[]string{"d1", "d1r1", "d1r1b", "d1r2", "d1x"}, 3},
		{"staff of c2 touches d2 only",
			domain.Change{Kind: domain.KindStaff, Staff: &domain.Staff{MemberID: "gina", CenterID: "c2"}},
			[]string{"d2"}, 1},
		{"a door moved into room r2 touches that door only",
			domain.Change{Kind: domain.KindDoor, Door: &domain.Door{ID: "d1r1b", CenterID: "c1", Name: "Room 2 back", RoomID: "r2"}},
			[]string{"d1r1b"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, sharedWorld())
			w := f.c.Watch()
			defer w.Close()
			before := map[string]uint64{}
			for _, id := range []string{"d1", "d1x", "d1r1", "d1r1b", "d1r2", "d2"} {
				before[id] = f.version(id)
			}
			recomputes := f.counter("swc_whitelist_member_recomputes_total")
			saves := f.states.saves
			f.apply(tc.change)

			var want []Update
			for _, id := range tc.touched {
				want = append(want, Update{Door: id, Base: before[id], Version: before[id] + 1})
			}
			assert.Equal(t, want, w.Take(), "published to the touched doors only")
			for id, v := range before {
				if !slices.Contains(tc.touched, id) {
					assert.Equal(t, v, f.version(id), "%s untouched", id)
				}
			}
			assert.Equal(t, len(tc.touched), f.states.saves-saves, "one saved state per touched door")
			if tc.recomputes > 0 {
				assert.Equal(t, tc.recomputes, f.counter("swc_whitelist_member_recomputes_total")-recomputes, "one recompute per audience")
			}
		})
	}
}

func TestDoorMovedChangesAudience(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		to       domain.Door
		like     string // a door of the audience it joins
		from     string // a door of the audience it leaves
		sameList bool   // both audiences list the same entries (only the header differs)
	}{
		{"entrance of c1 to entrance of c2", domain.Door{ID: "d1x", CenterID: "c2", Name: "Exit"}, "d2", "d1", false},
		{"room r1 to room r2", domain.Door{ID: "d1r1b", CenterID: "c1", Name: "Back", RoomID: "r2"}, "d1r2", "d1r1", true},
		{"room r1 of c1 to the entrance of c2", domain.Door{ID: "d1r1b", CenterID: "c2", Name: "Back"}, "d2", "d1r1", false},
		{"entrance to room r2", domain.Door{ID: "d1x", CenterID: "c1", Name: "Exit", RoomID: "r2"}, "d1r2", "d1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, sharedWorld())
			id := tc.to.ID
			// The door holds its current version, as it would at the edge.
			var ds doorState
			ds.applySync(t, f.keys, id, must(f.c.ForSync(ctx, id, 0)), t0)
			old, oldV := ds.sorted(), ds.version
			stay, _, _ := f.c.Entries(tc.from)
			stayV := f.version(tc.from)

			f.apply(domain.Change{Kind: domain.KindDoor, Door: &tc.to})
			assert.Equal(t, oldV+1, f.version(id), "the moved door's version goes up")
			a, _ := f.audienceOf(id)
			b, _ := f.audienceOf(tc.like)
			assert.Same(t, b, a, "it joined the audience of %s", tc.like)

			s := must(f.c.ForSync(ctx, id, oldV))
			ds.applySync(t, f.keys, id, s, t0)
			want, _, _ := f.c.Entries(tc.like)
			assert.Equal(t, want, ds.sorted(), "from the old audience's entries to the new one's")
			if !tc.sameList {
				assert.NotEqual(t, old, ds.sorted())
			}
			hdr := f.open(s, t0)[0]
			assert.Equal(t, tc.to.CenterID, hdr.Center)
			assert.Equal(t, tc.to.RoomID, hdr.Room)

			got, _, _ := f.c.Entries(tc.from)
			assert.Equal(t, stay, got, "the audience it left is unchanged")
			assert.Equal(t, stayV, f.version(tc.from))

			// It follows its new audience from now on, with deltas, and no
			// longer the old one.
			v := f.version(id)
			f.apply(domain.Change{Kind: domain.KindStaff, Staff: &domain.Staff{MemberID: "gina", CenterID: tc.to.CenterID}})
			require.Equal(t, v+1, f.version(id))
			ds.applySync(t, f.keys, id, must(f.c.ForSync(ctx, id, v)), t0)
			want, _, _ = f.c.Entries(tc.like)
			assert.Equal(t, want, ds.sorted())
			other := "c1"
			if tc.to.CenterID == "c1" {
				other = "c2"
			}
			f.apply(domain.Change{Kind: domain.KindStaff, Staff: &domain.Staff{MemberID: "henry", CenterID: other}})
			assert.Equal(t, v+1, f.version(id), "a change at %s does not touch it", other)
		})
	}
}

func TestLaggingDoorCatchesUpWithADelta(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sharedWorld())
	w := f.c.Watch()
	defer w.Close()
	// d1x's saves fail while three changes reach c1's entrances; d1 moves on.
	failing := &failFor{States: f.states, door: "d1x"}
	f.c.cfg.States = failing
	for i := range 3 {
		p := domain.Pass{ID: fmt.Sprintf("p%d", i), MemberID: "gina", ValidFrom: t0, ValidUntil: t0.Add(time.Duration(i+1) * time.Hour), CenterIDs: []string{"c1"}}
		require.Error(t, f.c.Apply(ctx, domain.Change{Kind: domain.KindPass, Pass: &p}))
	}
	assert.Equal(t, uint64(4), f.version("d1"))
	assert.Equal(t, uint64(1), f.version("d1x"), "not saved, not published")
	var ds doorState
	ds.applySync(t, f.keys, "d1x", must(f.c.ForSync(ctx, "d1x", 0)), t0)
	v1 := newFixture(t, sharedWorld())
	want, _, _ := v1.c.Entries("d1x")
	assert.Equal(t, want, ds.sorted(), "the lagging door still publishes version 1's content")

	failing.door = ""
	require.NoError(t, f.c.Tick(ctx, t0.Add(time.Second)))
	assert.Equal(t, uint64(2), f.version("d1x"), "one version for the three audience steps")
	s := must(f.c.ForSync(ctx, "d1x", 1))
	assert.Equal(t, protocol.Delta, s.Kind)
	ds.applySync(t, f.keys, "d1x", s, t0)
	want, _, _ = f.c.Entries("d1")
	assert.Equal(t, want, ds.sorted())
}

// failFor fails the saves of one door.
type failFor struct {
	States
	door string
}

func (s *failFor) SaveWhitelistState(ctx context.Context, st domain.WhitelistState) error {
	if st.Door == s.door {
		return errors.New("disk full")
	}
	return s.States.SaveWhitelistState(ctx, st)
}

// batchStates is memStates saving batches all or none, refusing any batch
// or save that holds the door refuse.
type batchStates struct {
	*memStates
	batches [][]string
	refuse  string
}

func (b *batchStates) SaveWhitelistStates(ctx context.Context, sts []domain.WhitelistState) error {
	var doors []string
	for _, st := range sts {
		if st.Door == b.refuse {
			return fmt.Errorf("door %s refused", st.Door)
		}
		doors = append(doors, st.Door)
	}
	b.batches = append(b.batches, doors)
	for _, st := range sts {
		if err := b.memStates.SaveWhitelistState(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (b *batchStates) SaveWhitelistState(ctx context.Context, st domain.WhitelistState) error {
	if st.Door == b.refuse {
		return fmt.Errorf("door %s refused", st.Door)
	}
	return b.memStates.SaveWhitelistState(ctx, st)
}

func TestDoorsOfAChangeAreSavedInOneBatch(t *testing.T) {
	ctx := context.Background()
	bs := &batchStates{memStates: newMemStates()}
	f := newFixture(t, sharedWorld(), func(c *Config) { c.States = bs })
	f.states = bs.memStates
	require.Equal(t, [][]string{{"d1", "d1r1", "d1r1b", "d1r2", "d1x", "d2"}}, bs.batches, "the start saves every new door in one batch")
	saves := f.states.saves

	bk := domain.Booking{ID: "bk-gina", MemberID: "gina", CenterID: "c1", Start: t0, End: t0.Add(time.Hour), Status: domain.BookingConfirmed}
	f.apply(domain.Change{Kind: domain.KindBooking, Booking: &bk})
	assert.Equal(t, []string{"d1", "d1r1", "d1r1b", "d1r2", "d1x"}, bs.batches[1], "one batch for the five doors of c1")
	assert.Equal(t, saves+5, f.states.saves)

	// A batch holding a door whose save is refused is saved door by door:
	// only that door lags, and it catches up later.
	bs.refuse = "d1r2"
	bk.End = t0.Add(2 * time.Hour)
	require.Error(t, f.c.Apply(ctx, domain.Change{Kind: domain.KindBooking, Booking: &bk}))
	assert.Len(t, bs.batches, 2, "the refused batch saved nothing")
	for _, id := range []string{"d1", "d1r1", "d1r1b", "d1x"} {
		assert.Equal(t, uint64(3), f.version(id), id)
	}
	assert.Equal(t, uint64(2), f.version("d1r2"), "held back alone")
	var ds doorState
	ds.applySync(t, f.keys, "d1r2", must(f.c.ForSync(ctx, "d1r2", 0)), t0)
	assert.Equal(t, uint64(2), ds.version)
	bs.refuse = ""
	require.NoError(t, f.c.Tick(ctx, t0.Add(time.Second)))
	assert.Equal(t, uint64(3), f.version("d1r2"))
	s := must(f.c.ForSync(ctx, "d1r2", 2))
	assert.Equal(t, protocol.Delta, s.Kind)
	ds.applySync(t, f.keys, "d1r2", s, t0)
	want, _, _ := f.c.Entries("d1r2")
	assert.Equal(t, want, ds.sorted())
	assert.Contains(t, uids(want), protocol.UID("0A000001"), "gina's booking reached the door")
}

// TestStartCompilesInParallelAsOneByOne compares a start, which compiles
// the audiences of a 300-door network on several goroutines, with the same
// network whose doors are created one change at a time.
func TestStartCompilesInParallelAsOneByOne(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	in := network(300)
	f := newFixture(t, in)
	doors := in.Doors
	in.Doors = nil
	g := newFixture(t, in)
	for i := range doors {
		g.apply(domain.Change{Kind: domain.KindDoor, Door: &doors[i]})
	}
	require.Len(t, f.c.audiences, 210)
	for _, d := range doors {
		want, _, err := g.c.Entries(d.ID)
		require.NoError(t, err)
		got, _, err := f.c.Entries(d.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, d.ID)
		require.Equal(t, g.states.get(d.ID).Hash, f.states.get(d.ID).Hash, d.ID)
	}
}

// TestLaggingDoorBehindAnOversizeStep has a door's save fail on a step
// larger than MaxLogChanges: the audience keeps that step, so the door still
// publishes its previous content.
func TestLaggingDoorBehindAnOversizeStep(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sharedWorld(), func(c *Config) { c.MaxLogChanges = 1 })
	want, _, err := f.c.Entries("d1x")
	require.NoError(t, err)
	f.c.cfg.States = &failFor{States: f.states, door: "d1x"}
	// Nine hours on, alice's, erin's and frank's bookings have ended: one
	// step removes their four badges from c1's entrances.
	require.Error(t, f.c.Tick(ctx, t0.Add(9*time.Hour)))
	assert.Equal(t, uint64(2), f.version("d1"))
	dw := f.delta("d1", 1)
	assert.Len(t, dw.Removed, 4)
	got, v, err := f.c.Entries("d1x")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v)
	assert.Equal(t, want, got, "the lagging door still publishes version 1")
	var ds doorState
	ds.applySync(t, f.keys, "d1x", must(f.c.ForSync(ctx, "d1x", 0)), t0)
	assert.Equal(t, want, ds.sorted())
}
