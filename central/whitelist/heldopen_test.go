package whitelist

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// fakeSettings is a Config.NetworkSettings whose value a test changes.
type fakeSettings struct {
	mu    sync.Mutex
	ds    DoorSettings
	err   error
	reads int
}

func (s *fakeSettings) read(context.Context, time.Time) (DoorSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.ds, s.err
}

func (s *fakeSettings) set(held int, until time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ds, s.err = DoorSettings{HeldOpenS: held, Until: until}, err
}

// TestHeldOpenReachesEveryDoor: the network's held-open threshold is in
// every message of every door; a settings change that changes it gives
// every door a new version whose header carries the new value (one that
// does not, nothing); a restart keeps the versions when it is unchanged
// and moves them on when it changed meanwhile.
func TestHeldOpenReachesEveryDoor(t *testing.T) {
	ctx := context.Background()
	in := world()
	fs := &fakeSettings{}
	fs.set(30, time.Time{}, nil)
	f := newFixture(t, in, func(c *Config) { c.NetworkSettings = fs.read })
	doors := []string{"d1", "d1r1", "d2"}
	for _, id := range doors {
		s, err := f.c.ForSync(ctx, id, 0)
		require.NoError(t, err)
		for _, w := range f.open(s, t0) {
			assert.Equal(t, 30, w.HeldOpenS, id)
		}
	}

	before := map[string]uint64{}
	for _, id := range doors {
		before[id] = f.version(id)
	}
	fs.set(5, time.Time{}, nil)
	f.apply(domain.Change{Kind: domain.KindSettings, SettingsVersion: 2})
	for _, id := range doors {
		require.Equal(t, before[id]+1, f.version(id), id)
		w := f.delta(id, before[id])
		assert.Equal(t, 5, w.HeldOpenS, id)
		assert.Empty(t, w.Entries, "a heartbeat: no entry changes")
		s, err := f.c.ForSync(ctx, id, 0)
		require.NoError(t, err)
		for _, w := range f.open(s, t0) {
			assert.Equal(t, 5, w.HeldOpenS, "the snapshot of %s", id)
		}
	}
	// Another setting changed (the same threshold): no new version.
	f.apply(domain.Change{Kind: domain.KindSettings, SettingsVersion: 3})
	assert.Equal(t, before["d1"]+1, f.version("d1"))
	// An entry change carries the threshold too.
	m := in.Members[1]
	m.Status = domain.MemberSuspended
	f.apply(domain.Change{Kind: domain.KindMember, Member: &m})
	assert.Equal(t, 5, f.delta("d1", before["d1"]+1).HeldOpenS)
	in.Members[1] = m
	v := f.version("d1")

	// A restart with the threshold unchanged keeps the versions.
	c2 := f.restart(in, t0)
	got, _ := c2.Version("d1")
	assert.Equal(t, v, got, "saved hash: kept across a restart")
	// Changed while the central was down: a new version at start.
	fs.set(45, time.Time{}, nil)
	c3 := f.restart(in, t0)
	got, _ = c3.Version("d1")
	assert.Equal(t, v+1, got)
	s, err := c3.ForSync(ctx, "d1", v)
	require.NoError(t, err)
	ws := f.open(s, t0)
	require.NotEmpty(t, ws)
	assert.Equal(t, 45, ws[0].HeldOpenS)
}

// TestHeldOpenSettingsPeriods: a value that holds until the next settings
// period is read again by the first Tick after it; a failed read keeps the
// value in force and is retried at the next Tick; a value out of the
// protocol's bounds is refused.
func TestHeldOpenSettingsPeriods(t *testing.T) {
	ctx := context.Background()
	fs := &fakeSettings{}
	next := t0.Add(time.Hour)
	fs.set(30, next, nil)
	f := newFixture(t, world(), func(c *Config) { c.NetworkSettings = fs.read })
	v := f.version("d2")
	reads := fs.reads

	fs.set(20, next.Add(30*24*time.Hour), nil) // the version of the next month
	require.NoError(t, f.c.Tick(ctx, t0.Add(time.Minute)))
	assert.Equal(t, reads, fs.reads, "not read again before the period ends")
	assert.Equal(t, v, f.version("d2"))
	require.NoError(t, f.c.Tick(ctx, next))
	assert.Equal(t, v+1, f.version("d2"))
	assert.Equal(t, 20, f.delta("d2", v).HeldOpenS)

	fs.set(0, time.Time{}, errors.New("database down"))
	f.apply(domain.Change{Kind: domain.KindCenter, Center: &world().Centers[1]}) // keeps working
	require.Error(t, f.c.Apply(ctx, domain.Change{Kind: domain.KindSettings, SettingsVersion: 4}))
	assert.Equal(t, v+1, f.version("d2"), "the value in force stays")
	fs.set(10, time.Time{}, nil)
	require.NoError(t, f.c.Tick(ctx, next.Add(time.Minute)))
	assert.Equal(t, v+2, f.version("d2"), "read again at the next tick")
	assert.Equal(t, 10, f.delta("d2", v+1).HeldOpenS)

	fs.set(86401, time.Time{}, nil)
	require.Error(t, f.c.Apply(ctx, domain.Change{Kind: domain.KindSettings, SettingsVersion: 5}))
	assert.Equal(t, v+2, f.version("d2"))
	assert.Positive(t, f.counter("swc_whitelist_rejected_objects_total", "kind", "settings"))

	// Without NetworkSettings, messages carry none (doors keep their own).
	g := newFixture(t, world())
	s, err := g.c.ForSync(ctx, "d1", 0)
	require.NoError(t, err)
	for _, w := range g.open(s, t0) {
		assert.Zero(t, w.HeldOpenS)
	}
}

// BenchmarkHeldOpenChange is a settings change of the held-open threshold
// on a network of 10,000 doors: one heartbeat version per door, saved and
// published. ms/change is the time one Apply takes; versions/change the
// door versions it saved.
func BenchmarkHeldOpenChange(b *testing.B) {
	ctx := context.Background()
	fs := &fakeSettings{}
	fs.set(30, time.Time{}, nil)
	in := network(10_000)
	st := newMemStates()
	c, err := New(ctx, Config{Signer: protocol.NewSigner(testKey), States: st, Logger: quietLogger(), NetworkSettings: fs.read}, in, t0)
	if err != nil {
		b.Fatal(err)
	}
	door := in.Doors[0].ID
	v0, _ := c.Version(door)
	saves := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.saves
	}
	saves0 := saves()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		fs.set(5+i%2, time.Time{}, nil)
		if err := c.Apply(ctx, domain.Change{Kind: domain.KindSettings}); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(start)
	b.StopTimer()
	v, _ := c.Version(door)
	if v != v0+uint64(b.N) {
		b.Fatalf("door %s at version %d after %d changes from %d", door, v, b.N, v0)
	}
	b.ReportMetric(took.Seconds()*1000/float64(b.N), "ms/change")
	b.ReportMetric(float64(saves()-saves0)/float64(b.N), "versions/change")
}
