package whitelist

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

func booking(from, to time.Time, room, ref string) protocol.Grant {
	return protocol.Grant{Kind: protocol.GrantBooking, From: from.Unix(), To: to.Unix(), Room: room, Ref: ref}
}

func pass(from, to time.Time, ref string) protocol.Grant {
	return protocol.Grant{Kind: protocol.GrantPass, From: from.Unix(), To: to.Unix(), Ref: ref}
}

var staff = protocol.Grant{Kind: protocol.GrantStaff}

func entry(uid, member string, gs ...protocol.Grant) protocol.Entry {
	return protocol.Entry{UID: protocol.UID(uid), Member: member, Grants: gs}
}

func revoked(uid, member string) protocol.Entry {
	return protocol.Entry{UID: protocol.UID(uid), Member: member, Revoked: true}
}

func TestCompileRules(t *testing.T) {
	h, day := time.Hour, 24*time.Hour
	f := newFixture(t, world())
	aliceDesk := booking(t0, t0.Add(8*h), "", "bk-alice")
	frankR2 := booking(t0.Add(h), t0.Add(2*h), "r2", "bk-frank")
	kimR1 := booking(t0.Add(day), t0.Add(day+h), "r1", "bk-kim")
	bobPass := pass(t0.Add(-day), t0.Add(30*day), "pass-bob")
	judyPass := pass(t0.Add(-day), t0.Add(30*day), "pass-judy")

	tests := []struct {
		door string
		want []protocol.Entry
	}{
		{"d1", []protocol.Entry{ // entrance of c1: staff, passes, every booking of c1 in the horizon
			entry("0D000001", "judy", judyPass),
			entry("0E000001", "kim", kimR1),
			entry("A1000001", "alice", aliceDesk),
			revoked("A2000002", "alice"), // revoked badge of a member with a right here
			entry("B1000001", "bob", bobPass),
			entry("C1000001", "carol", staff),
			entry("D1000001", "dave", staff),
			revoked("E1000001", "erin"), // suspended member
			entry("F1000001", "frank", frankR2),
			// gina (no right), henry (beyond the horizon), ivan (ended) are not listed
		}},
		{"d1r1", []protocol.Entry{ // room r1: staff and every booking of c1 (the door checks Room); no passes
			entry("0E000001", "kim", kimR1),
			entry("A1000001", "alice", aliceDesk),
			revoked("A2000002", "alice"),
			entry("C1000001", "carol", staff),
			entry("D1000001", "dave", staff),
			revoked("E1000001", "erin"),
			entry("F1000001", "frank", frankR2),
		}},
		{"d2", []protocol.Entry{ // c2: network staff and the network pass only
			entry("0D000001", "judy", judyPass),
			entry("D1000001", "dave", staff),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.door, func(t *testing.T) {
			got, v, err := f.c.Entries(tc.door)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), v)
			assert.Equal(t, tc.want, got)

			s, err := f.c.ForSync(context.Background(), tc.door, 0)
			require.NoError(t, err)
			var ds doorState
			ds.applySync(t, f.keys, tc.door, s, t0)
			assert.Equal(t, tc.want, ds.sorted(), "the signed snapshot carries the same entries")
			w := f.open(s, t0)[0]
			assert.Equal(t, t0.UnixMilli(), w.IssuedMs)
			assert.Equal(t, t0.Add(DefaultExpiry).UnixMilli(), w.ExpiresMs, "messages expire after 7 days")
		})
	}
	_, _, err := f.c.Entries("nope")
	assert.ErrorIs(t, err, ErrUnknownDoor)

	hdr := f.open(must(f.c.ForSync(context.Background(), "d1r1", 0)), t0)[0]
	assert.Equal(t, "c1", hdr.Center)
	assert.Equal(t, "r1", hdr.Room, "a room door's whitelist names its room")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestDeterministic(t *testing.T) {
	in := world()
	a := newFixture(t, in)
	shuffled := world()
	r := rand.New(rand.NewPCG(1, 2))
	shuffle := func(n int, swap func(i, j int)) { r.Shuffle(n, swap) }
	shuffle(len(shuffled.Badges), func(i, j int) { shuffled.Badges[i], shuffled.Badges[j] = shuffled.Badges[j], shuffled.Badges[i] })
	shuffle(len(shuffled.Bookings), func(i, j int) {
		shuffled.Bookings[i], shuffled.Bookings[j] = shuffled.Bookings[j], shuffled.Bookings[i]
	})
	shuffle(len(shuffled.Members), func(i, j int) { shuffled.Members[i], shuffled.Members[j] = shuffled.Members[j], shuffled.Members[i] })
	shuffle(len(shuffled.Doors), func(i, j int) { shuffled.Doors[i], shuffled.Doors[j] = shuffled.Doors[j], shuffled.Doors[i] })
	b := newFixture(t, shuffled)
	for _, door := range []string{"d1", "d1r1", "d2"} {
		assert.Equal(t, a.states.get(door).Hash, b.states.get(door).Hash, door)
		sa := must(a.c.ForSync(context.Background(), door, 0))
		sb := must(b.c.ForSync(context.Background(), door, 0))
		assert.Equal(t, sa.Messages, sb.Messages, "same input, same time: byte-identical signed snapshot")
	}
	assert.NotEqual(t, a.states.get("d1").Hash, a.states.get("d2").Hash)
}

func TestRestartKeepsVersionWhenContentIsTheSame(t *testing.T) {
	ctx := context.Background()
	in := world()
	f := newFixture(t, in)
	for _, d := range []string{"d1", "d1r1", "d2"} {
		assert.Equal(t, uint64(1), f.states.get(d).Version, "a new door starts at version 1, saved")
	}
	// gina books at c2: d2 moves to version 2.
	bk := domain.Booking{ID: "bk-gina", MemberID: "gina", CenterID: "c2", Start: t0, End: t0.Add(time.Hour), Status: domain.BookingConfirmed}
	f.apply(domain.Change{Kind: domain.KindBooking, Booking: &bk})
	assert.Equal(t, uint64(2), f.version("d2"))
	assert.Equal(t, uint64(1), f.version("d1"), "a booking at c2 does not touch c1's doors")
	assert.Equal(t, uint64(2), f.states.get("d2").Version, "saved before it is published")

	in.Bookings = append(in.Bookings, bk)
	saves := f.states.saves
	c2 := f.restart(in, t0.Add(time.Minute))
	for _, d := range []string{"d1", "d1r1", "d2"} {
		v, _ := c2.Version(d)
		assert.Equal(t, f.version(d), v, "door %s: same content after a restart keeps the version", d)
	}
	assert.Equal(t, saves, f.states.saves, "nothing to save")
	s, err := c2.ForSync(ctx, "d2", 2)
	require.NoError(t, err)
	assert.Empty(t, s.Kind, "the door is up to date")
	s, err = c2.ForSync(ctx, "d2", 1)
	require.NoError(t, err)
	assert.Equal(t, protocol.Snapshot, s.Kind, "after a restart the delta log is empty: a snapshot")

	// Restart two hours later: alice's and frank's bookings ended meanwhile.
	c3 := f.restart(in, t0.Add(9*time.Hour))
	v, _ := c3.Version("d1")
	assert.Equal(t, uint64(2), v, "content changed while down: version+1")
	v, _ = c3.Version("d2")
	assert.Equal(t, uint64(3), v, "gina's booking at c2 ended too")
	assert.Equal(t, uint64(2), f.states.get("d1").Version)
}

func TestApplyOneBookingTouchesOnlyItsDoors(t *testing.T) {
	f := newFixture(t, world())
	v1, vr, v2 := f.version("d1"), f.version("d1r1"), f.version("d2")
	before := f.counter("swc_whitelist_member_recomputes_total")

	bk := domain.Booking{ID: "bk-gina", MemberID: "gina", CenterID: "c1", RoomID: "r1", Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour), Status: domain.BookingConfirmed}
	f.apply(domain.Change{Kind: domain.KindBooking, Booking: &bk})

	assert.Equal(t, uint64(2), f.counter("swc_whitelist_member_recomputes_total")-before,
		"one member at the two doors of c1 is recomputed, nothing else")
	assert.Equal(t, v1+1, f.version("d1"))
	assert.Equal(t, vr+1, f.version("d1r1"))
	assert.Equal(t, v2, f.version("d2"))
	want := []protocol.Entry{entry("0A000001", "gina", booking(bk.Start, bk.End, "r1", "bk-gina"))}
	for _, d := range []string{"d1", "d1r1"} {
		w := f.delta(d, 1)
		assert.Equal(t, want, w.Entries, d)
		assert.Empty(t, w.Removed)
	}

	// Cancelling it removes gina again.
	bk.Status = domain.BookingCancelled
	f.apply(domain.Change{Kind: domain.KindBooking, Booking: &bk})
	w := f.delta("d1", 2)
	assert.Empty(t, w.Entries)
	assert.Equal(t, []protocol.UID{"0A000001"}, w.Removed)
	// Merged from 1: added then removed is nothing at all.
	w = f.delta("d1", 1)
	assert.Empty(t, w.Entries)
	assert.Empty(t, w.Removed)

	// A change that lists nobody new (a booking of a member without badges)
	// does not make a version.
	nb := domain.Member{ID: "nobadge", Name: "No Badge", Status: domain.MemberActive}
	f.apply(domain.Change{Kind: domain.KindMember, Member: &nb})
	bk2 := domain.Booking{ID: "bk-nobadge", MemberID: "nobadge", CenterID: "c1", Start: t0, End: t0.Add(time.Hour), Status: domain.BookingConfirmed}
	f.apply(domain.Change{Kind: domain.KindBooking, Booking: &bk2})
	assert.Equal(t, uint64(3), f.version("d1"))
}

func TestRevocationIsInTheNextDelta(t *testing.T) {
	tests := []struct {
		name   string
		change domain.Change
		uid    protocol.UID
		doors  []string
	}{
		{"badge revoked", domain.Change{Kind: domain.KindBadge, Badge: &domain.Badge{UID: "D1000001", MemberID: "dave", Revoked: true}}, "D1000001", []string{"d1", "d1r1", "d2"}},
		{"member suspended", domain.Change{Kind: domain.KindMember, Member: &domain.Member{ID: "bob", Name: "Bob", Status: domain.MemberSuspended}}, "B1000001", []string{"d1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, world())
			w := f.c.Watch()
			defer w.Close()
			f.apply(tc.change)
			ups := w.Take()
			require.Len(t, ups, len(tc.doors))
			for i, d := range tc.doors {
				assert.Equal(t, Update{Door: d, Base: 1, Version: 2}, ups[i])
				dw := f.delta(d, 1)
				require.Len(t, dw.Entries, 1, d)
				assert.Equal(t, tc.uid, dw.Entries[0].UID)
				assert.True(t, dw.Entries[0].Revoked, "%s: listed as revoked", d)
				assert.Empty(t, dw.Entries[0].Grants, "a revoked entry carries no grant")
			}
		})
	}
}

func TestBadgeMovesToAnotherMember(t *testing.T) {
	f := newFixture(t, world())
	// Carol's badge is given to gina (no right anywhere): it leaves c1's doors.
	f.apply(domain.Change{Kind: domain.KindBadge, Badge: &domain.Badge{UID: "C1000001", MemberID: "gina"}})
	w := f.delta("d1", 1)
	assert.Equal(t, []protocol.UID{"C1000001"}, w.Removed)
	// And to dave (network staff): it comes back everywhere, as dave's.
	f.apply(domain.Change{Kind: domain.KindBadge, Badge: &domain.Badge{UID: "C1000001", MemberID: "dave"}})
	for _, d := range []string{"d1", "d2"} {
		got, _, err := f.c.Entries(d)
		require.NoError(t, err)
		assert.Contains(t, got, entry("C1000001", "dave", staff), d)
	}
	// Deleting the badge removes it.
	f.apply(domain.Change{Kind: domain.KindBadge, Deleted: true, Badge: &domain.Badge{UID: "C1000001", MemberID: "dave"}})
	w = f.delta("d2", 2)
	assert.Equal(t, []protocol.UID{"C1000001"}, w.Removed)
}

func TestTickRollsTheHorizon(t *testing.T) {
	ctx := context.Background()
	h, day := time.Hour, 24*time.Hour
	f := newFixture(t, world())

	// Two hours on: frank's booking (r2, t0+1h..t0+2h) ended and leaves.
	require.NoError(t, f.c.Tick(ctx, t0.Add(2*h)))
	w := f.delta("d1", 1)
	assert.Equal(t, []protocol.UID{"F1000001"}, w.Removed)
	assert.Empty(t, w.Entries)

	// Six days on: henry's booking (t0+20d) enters the 14-day horizon; alice's
	// (ended at t0+8h), kim's (t0+1d) and erin's ended. Before that moment
	// nothing about henry.
	require.NoError(t, f.c.Tick(ctx, t0.Add(6*day-time.Second)))
	got, _, _ := f.c.Entries("d1")
	assert.NotContains(t, uids(got), protocol.UID("0B000001"))
	v := f.version("d1")
	require.NoError(t, f.c.Tick(ctx, t0.Add(6*day)))
	assert.Equal(t, v+1, f.version("d1"))
	w = f.delta("d1", v)
	assert.Equal(t, []protocol.Entry{entry("0B000001", "henry", booking(t0.Add(20*day), t0.Add(20*day+h), "", "bk-henry"))}, w.Entries)

	got, _, _ = f.c.Entries("d1")
	assert.Equal(t, []protocol.UID{"0B000001", "0D000001", "B1000001", "C1000001", "D1000001"}, uids(got),
		"ended bookings left the list; passes and staff stay")

	// A clock going back is ignored.
	require.NoError(t, f.c.Tick(ctx, t0))
	assert.Equal(t, t0.Add(6*day), f.c.Now())
}

func uids(es []protocol.Entry) []protocol.UID {
	out := make([]protocol.UID, len(es))
	for i, e := range es {
		out[i] = e.UID
	}
	return out
}

func TestHeartbeat(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Input{
		Doors:   []domain.Door{{ID: "d1", CenterID: "c1", Name: "Entrance"}},
		Members: []domain.Member{{ID: "m", Name: "M", Status: domain.MemberActive}},
		Badges:  []domain.Badge{{UID: "01020304", MemberID: "m"}},
		Staff:   []domain.Staff{{MemberID: "m"}},
	})
	require.NoError(t, f.c.Tick(ctx, t0.Add(DefaultRefresh-time.Minute)))
	assert.Equal(t, uint64(1), f.version("d1"), "nothing changed, not yet time")
	require.NoError(t, f.c.Tick(ctx, t0.Add(DefaultRefresh)))
	assert.Equal(t, uint64(2), f.version("d1"), "a heartbeat version after Refresh")
	w := f.delta("d1", 1)
	assert.Empty(t, w.Entries)
	assert.Empty(t, w.Removed)
	assert.Equal(t, t0.Add(DefaultRefresh).UnixMilli(), w.IssuedMs, "the door's whitelist is fresh again")
	assert.Equal(t, t0.Add(DefaultRefresh).UnixMilli(), f.states.get("d1").IssuedMs)
}

func TestForSync(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, world(), func(c *Config) { c.MaxLogDeltas = 3 })
	// Five versions of d2: bookings of gina at c2, one after the other.
	for i := range 5 {
		bk := domain.Booking{ID: fmt.Sprintf("bk-%d", i), MemberID: "gina", CenterID: "c2", Start: t0, End: t0.Add(time.Duration(i+1) * time.Hour), Status: domain.BookingConfirmed}
		f.apply(domain.Change{Kind: domain.KindBooking, Booking: &bk})
	}
	require.Equal(t, uint64(6), f.version("d2"))

	tests := []struct {
		name string
		from uint64
		kind protocol.WhitelistKind
		base uint64
	}{
		{"empty door", 0, protocol.Snapshot, 0},
		{"up to date", 6, "", 0},
		{"one behind", 5, protocol.Delta, 5},
		{"three behind: the whole log", 3, protocol.Delta, 3},
		{"four behind: older than the log", 2, protocol.Snapshot, 0},
		{"version 1", 1, protocol.Snapshot, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := f.c.ForSync(ctx, "d2", tc.from)
			require.NoError(t, err)
			assert.Equal(t, tc.kind, s.Kind)
			assert.Equal(t, uint64(6), s.Version)
			assert.Equal(t, tc.base, s.Base)
			if tc.kind == "" {
				assert.Empty(t, s.Messages)
				return
			}
			f.open(s, t0)
			// A door at tc.from that applies the answer holds exactly version 6.
			ds := doorState{version: tc.from}
			if tc.from > 0 {
				ds.entries = map[protocol.UID]protocol.Entry{}
				old := f.restartAt(t, tc.from)
				for _, e := range old {
					ds.entries[e.UID] = e
				}
			}
			ds.applySync(t, f.keys, "d2", s, t0)
			want, _, _ := f.c.Entries("d2")
			assert.Equal(t, want, ds.sorted())
		})
	}

	t.Run("unknown door", func(t *testing.T) {
		_, err := f.c.ForSync(ctx, "nope", 0)
		assert.ErrorIs(t, err, ErrUnknownDoor)
	})
	t.Run("door above the central: version moves past it", func(t *testing.T) {
		s, err := f.c.ForSync(ctx, "d1", 40)
		require.NoError(t, err)
		assert.Equal(t, protocol.Snapshot, s.Kind)
		assert.Equal(t, uint64(41), s.Version)
		assert.Equal(t, uint64(41), f.states.get("d1").Version, "saved before it is sent")
		ds := doorState{version: 40}
		ds.applySync(t, f.keys, "d1", s, t0)
	})
	t.Run("absurd version refused", func(t *testing.T) {
		_, err := f.c.ForSync(ctx, "d1", 1<<62)
		assert.ErrorIs(t, err, ErrBadVersion)
		assert.Equal(t, uint64(41), f.version("d1"))
	})
	assert.Equal(t, uint64(1), f.counter("swc_whitelist_syncs_total", "result", "bad_version"))
	assert.Equal(t, uint64(1), f.counter("swc_whitelist_syncs_total", "result", "unknown_door"))
}

// restartAt returns d2's entries at version v of TestForSync's history: gina
// has bookings bk-0..bk-(v-2).
func (f *fixture) restartAt(t *testing.T, v uint64) []protocol.Entry {
	t.Helper()
	judy := entry("0D000001", "judy", pass(t0.Add(-24*time.Hour), t0.Add(30*24*time.Hour), "pass-judy"))
	dave := entry("D1000001", "dave", staff)
	if v == 1 {
		return []protocol.Entry{judy, dave}
	}
	var gs []protocol.Grant
	for i := range int(v) - 1 {
		gs = append(gs, booking(t0, t0.Add(time.Duration(i+1)*time.Hour), "", fmt.Sprintf("bk-%d", i)))
	}
	return []protocol.Entry{entry("0A000001", "gina", gs...), judy, dave}
}

func TestDeltaTooLargeFallsBackToSnapshot(t *testing.T) {
	in := world()
	for i := range 5000 {
		in.Badges = append(in.Badges, domain.Badge{UID: protocol.UID(fmt.Sprintf("7%07X", i)), MemberID: "gina"})
	}
	f := newFixture(t, in)
	f.apply(domain.Change{Kind: domain.KindStaff, Staff: &domain.Staff{MemberID: "gina", CenterID: "c2"}})
	s, err := f.c.ForSync(context.Background(), "d2", 1)
	require.NoError(t, err)
	assert.Equal(t, protocol.Snapshot, s.Kind, "5000 new entries do not fit one delta")
	assert.Greater(t, len(s.Messages), 1)
	assert.Equal(t, 5003, s.Entries, "gina's 5001 badges, dave and judy")
	ds := doorState{version: 1, entries: map[protocol.UID]protocol.Entry{}}
	ds.applySync(t, f.keys, "d2", s, t0)
	assert.Equal(t, 5003, len(ds.entries))
	assert.Equal(t, uint64(1), f.counter("swc_whitelist_syncs_total", "result", "delta_too_large"))
}

func TestSaveFailureHoldsTheVersionBack(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, world())
	w := f.c.Watch()
	defer w.Close()
	f.states.setFail(errors.New("disk full"))
	err := f.c.Apply(ctx, domain.Change{Kind: domain.KindStaff, Staff: &domain.Staff{MemberID: "gina", CenterID: "c2"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk full")
	assert.Equal(t, uint64(1), f.version("d2"), "not saved, not published")
	assert.Empty(t, w.Take())
	s, err := f.c.ForSync(ctx, "d2", 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), s.Version)
	var ds doorState
	ds.applySync(t, f.keys, "d2", s, t0)
	assert.Len(t, ds.entries, 2, "the snapshot is version 1's content, without the unsaved change")
	assert.Equal(t, uint64(2), f.counter("swc_whitelist_save_errors_total"), "Apply, then ForSync's retry")

	f.states.setFail(nil)
	require.NoError(t, f.c.Tick(ctx, t0.Add(time.Second)), "the next tick saves and publishes")
	assert.Equal(t, uint64(2), f.version("d2"))
	assert.Equal(t, []Update{{Door: "d2", Base: 1, Version: 2}}, w.Take())
	dw := f.delta("d2", 1)
	assert.Equal(t, []protocol.Entry{entry("0A000001", "gina", staff)}, dw.Entries)
}

func TestWatcherCoalesces(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, world())
	w := f.c.Watch()
	for i := range 3 {
		bk := domain.Booking{ID: fmt.Sprintf("bk-%d", i), MemberID: "gina", CenterID: "c2", Start: t0, End: t0.Add(time.Duration(i+1) * time.Hour), Status: domain.BookingConfirmed}
		f.apply(domain.Change{Kind: domain.KindBooking, Booking: &bk})
	}
	ups, err := w.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, []Update{{Door: "d2", Base: 1, Version: 4}}, ups, "three versions, one update from the first base")
	dw := f.delta("d2", ups[0].Base)
	require.Len(t, dw.Entries, 1)
	assert.Len(t, dw.Entries[0].Grants, 3)

	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = w.Next(cctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "nothing new")
	w.Close()
	_, err = w.Next(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	f.apply(domain.Change{Kind: domain.KindStaff, Staff: &domain.Staff{MemberID: "gina", CenterID: "c2"}})
	assert.Empty(t, w.Take(), "a closed watcher gets nothing")
}

func TestInvalidChangesAreRefused(t *testing.T) {
	f := newFixture(t, world())
	bad := []struct {
		name string
		ch   domain.Change
	}{
		{"no object", domain.Change{Kind: domain.KindBadge}},
		{"two objects", domain.Change{Kind: domain.KindBadge, Badge: &domain.Badge{UID: "01020304", MemberID: "gina"}, Member: &domain.Member{ID: "gina", Name: "G", Status: domain.MemberActive}}},
		{"kind mismatch", domain.Change{Kind: domain.KindBooking, Badge: &domain.Badge{UID: "01020304", MemberID: "gina"}}},
		{"unknown kind", domain.Change{Kind: "planet", Badge: &domain.Badge{UID: "01020304", MemberID: "gina"}}},
		{"lower-case uid", domain.Change{Kind: domain.KindBadge, Badge: &domain.Badge{UID: "0a0b0c0d", MemberID: "gina"}}},
		{"booking ends before it starts", domain.Change{Kind: domain.KindBooking, Booking: &domain.Booking{ID: "x", MemberID: "gina", CenterID: "c1", Start: t0, End: t0, Status: domain.BookingConfirmed}}},
		{"member with bad status", domain.Change{Kind: domain.KindMember, Member: &domain.Member{ID: "gina", Name: "G", Status: "vip"}}},
		{"staff with bad center", domain.Change{Kind: domain.KindStaff, Staff: &domain.Staff{MemberID: "gina", CenterID: "c/1"}}},
		{"door without name", domain.Change{Kind: domain.KindDoor, Door: &domain.Door{ID: "d9", CenterID: "c1"}}},
		{"pass with bad window", domain.Change{Kind: domain.KindPass, Pass: &domain.Pass{ID: "p", MemberID: "gina", ValidFrom: t0, ValidUntil: t0}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := f.c.Apply(context.Background(), tc.ch)
			assert.ErrorIs(t, err, ErrInvalidChange)
		})
	}
	for _, d := range []string{"d1", "d1r1", "d2"} {
		assert.Equal(t, uint64(1), f.version(d), "nothing changed")
	}
	assert.Equal(t, uint64(3), f.counter("swc_whitelist_rejected_objects_total", "kind", "badge"))
}

func TestInvalidInputIsSkipped(t *testing.T) {
	in := world()
	in.Badges = append(in.Badges,
		domain.Badge{UID: "C1000001", MemberID: "gina"}, // duplicate UID: carol keeps it
		domain.Badge{UID: "nothex!!", MemberID: "gina"}, // invalid
	)
	in.Bookings = append(in.Bookings, domain.Booking{ID: "bad", MemberID: "gina", CenterID: "c1", Start: t0, End: t0.Add(-time.Hour), Status: domain.BookingConfirmed})
	in.Doors = append(in.Doors, domain.Door{ID: "d1", CenterID: "c2", Name: "dup"})
	f := newFixture(t, in)
	got, _, err := f.c.Entries("d1")
	require.NoError(t, err)
	assert.Contains(t, got, entry("C1000001", "carol", staff))
	assert.NotContains(t, uids(got), protocol.UID("0A000001"))
	assert.Equal(t, uint64(2), f.counter("swc_whitelist_rejected_objects_total", "kind", "badge"))
	assert.Equal(t, uint64(1), f.counter("swc_whitelist_rejected_objects_total", "kind", "booking"))
	assert.Equal(t, uint64(1), f.counter("swc_whitelist_rejected_objects_total", "kind", "door"))
}

func TestDoorLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, world())
	w := f.c.Watch()
	defer w.Close()

	// A new door of c2 gets version 1 and a snapshot.
	nd := domain.Door{ID: "d3", CenterID: "c2", Name: "Back door"}
	f.apply(domain.Change{Kind: domain.KindDoor, Door: &nd})
	assert.Equal(t, uint64(1), f.version("d3"))
	assert.Equal(t, []Update{{Door: "d3", Base: 0, Version: 1}}, w.Take())
	s := must(f.c.ForSync(ctx, "d3", 0))
	assert.Equal(t, 2, s.Entries)

	// Renaming changes nothing a door holds.
	nd.Name = "Garden door"
	f.apply(domain.Change{Kind: domain.KindDoor, Door: &nd})
	assert.Equal(t, uint64(1), f.version("d3"))

	// Moving it to guard room r1 of c1: new content, new header, a snapshot
	// even for a door at the previous version.
	nd.CenterID, nd.RoomID = "c1", "r1"
	f.apply(domain.Change{Kind: domain.KindDoor, Door: &nd})
	assert.Equal(t, uint64(2), f.version("d3"))
	s = must(f.c.ForSync(ctx, "d3", 1))
	assert.Equal(t, protocol.Snapshot, s.Kind)
	hdr := f.open(s, t0)[0]
	assert.Equal(t, "r1", hdr.Room)
	want, _, _ := f.c.Entries("d1r1")
	got, _, _ := f.c.Entries("d3")
	assert.Equal(t, want, got)

	// Deleted, then created again: the version goes on.
	f.apply(domain.Change{Kind: domain.KindDoor, Deleted: true, Door: &nd})
	_, ok := f.c.Version("d3")
	assert.False(t, ok)
	_, err := f.c.ForSync(ctx, "d3", 2)
	assert.ErrorIs(t, err, ErrUnknownDoor)
	f.apply(domain.Change{Kind: domain.KindDoor, Door: &nd})
	assert.Equal(t, uint64(3), f.version("d3"))

	// And after a restart a door that was deleted keeps its saved version.
	c2 := f.restart(world(), t0)
	_, ok = c2.Version("d3")
	assert.False(t, ok)
	require.NoError(t, c2.Apply(ctx, domain.Change{Kind: domain.KindDoor, Door: &nd}))
	v, _ := c2.Version("d3")
	assert.Equal(t, uint64(4), v)
}

func TestGrantOrderAndLimit(t *testing.T) {
	in := world()
	// kim books room r2 70 times in the next days, and r1 once, last.
	for i := range 70 {
		start := t0.Add(time.Duration(i+2) * time.Hour)
		in.Bookings = append(in.Bookings, domain.Booking{ID: fmt.Sprintf("bk-k%02d", i), MemberID: "kim", CenterID: "c1", RoomID: "r2", Start: start, End: start.Add(30 * time.Minute), Status: domain.BookingConfirmed})
	}
	in.Staff = append(in.Staff, domain.Staff{MemberID: "kim", CenterID: "c1"})
	f := newFixture(t, in)

	find := func(door string) protocol.Entry {
		got, _, err := f.c.Entries(door)
		require.NoError(t, err)
		for _, e := range got {
			if e.Member == "kim" {
				return e
			}
		}
		t.Fatalf("kim not at %s", door)
		return protocol.Entry{}
	}
	e := find("d1r1")
	require.Len(t, e.Grants, protocol.MaxGrantsPerEntry)
	assert.Equal(t, staff, e.Grants[0], "staff first")
	assert.Equal(t, "bk-kim", e.Grants[1].Ref, "then this room's bookings, though it is not the earliest")
	assert.Equal(t, "bk-k00", e.Grants[2].Ref, "then the others by start")
	e = find("d1")
	require.Len(t, e.Grants, protocol.MaxGrantsPerEntry)
	assert.Equal(t, "bk-k00", e.Grants[1].Ref, "at an entrance, by start")
	assert.Equal(t, uint64(2), f.counter("swc_whitelist_grants_truncated_total"))
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, world())
	w := f.c.Watch()
	defer w.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				bk := domain.Booking{ID: fmt.Sprintf("bk-%d-%d", g, i), MemberID: "gina", CenterID: "c1", Start: t0, End: t0.Add(time.Hour), Status: domain.BookingConfirmed}
				assert.NoError(t, f.c.Apply(ctx, domain.Change{Kind: domain.KindBooking, Booking: &bk}))
				_, err := f.c.ForSync(ctx, "d1", uint64(i))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			assert.NoError(t, f.c.Tick(ctx, t0.Add(time.Duration(i)*time.Second)))
		}
	}()
	wg.Wait()
	ups := w.Take()
	require.NotEmpty(t, ups)
	// A door that was at version 1 catches up from the coalesced update.
	ds := doorState{version: 0}
	ds.applySync(t, f.keys, "d1", must(f.c.ForSync(ctx, "d1", 0)), f.c.Now())
	want, v, _ := f.c.Entries("d1")
	assert.Equal(t, want, ds.sorted())
	assert.Equal(t, v, ds.version)
}
