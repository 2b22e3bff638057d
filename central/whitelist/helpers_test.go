package whitelist

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// memStates is the in-memory implementation of States used by the tests. It
// can be told to fail.
type memStates struct {
	mu     sync.Mutex
	states map[string]domain.WhitelistState
	saves  int
	fail   error
}

func newMemStates() *memStates { return &memStates{states: map[string]domain.WhitelistState{}} }

func (m *memStates) WhitelistStates(context.Context) ([]domain.WhitelistState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	out := make([]domain.WhitelistState, 0, len(m.states))
	for _, st := range m.states {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Door < out[j].Door })
	return out, nil
}

func (m *memStates) SaveWhitelistState(_ context.Context, st domain.WhitelistState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if old, ok := m.states[st.Door]; ok && st.Version <= old.Version {
		return errors.New("memStates: version does not increase")
	}
	m.states[st.Door] = st
	m.saves++
	return nil
}

func (m *memStates) get(door string) domain.WhitelistState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[door]
}

func (m *memStates) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

var (
	t0      = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday
	testKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type fixture struct {
	t      testing.TB
	states *memStates
	reg    *metrics.Registry
	keys   *protocol.KeyRing
	cfg    Config
	c      *Compiler
}

func newFixture(t testing.TB, in Input, mod ...func(*Config)) *fixture {
	t.Helper()
	signer := protocol.NewSigner(testKey)
	f := &fixture{t: t, states: newMemStates(), reg: metrics.NewRegistry(), keys: protocol.NewKeyRing(signer.PublicKey())}
	f.cfg = Config{Signer: signer, States: f.states, Logger: quietLogger(), Metrics: f.reg}
	for _, m := range mod {
		m(&f.cfg)
	}
	c, err := New(context.Background(), f.cfg, in, t0)
	require.NoError(t, err)
	f.c = c
	return f
}

// restart builds a new compiler on the same states, as a process restart.
func (f *fixture) restart(in Input, now time.Time) *Compiler {
	f.t.Helper()
	cfg := f.cfg
	cfg.Metrics = metrics.NewRegistry()
	c, err := New(context.Background(), cfg, in, now)
	require.NoError(f.t, err)
	return c
}

func (f *fixture) apply(ch domain.Change) {
	f.t.Helper()
	require.NoError(f.t, f.c.Apply(context.Background(), ch))
}

func (f *fixture) version(door string) uint64 {
	f.t.Helper()
	v, ok := f.c.Version(door)
	require.True(f.t, ok, "door %s", door)
	return v
}

// open verifies every message of a sync as a door would and returns the
// bodies.
func (f *fixture) open(s Sync, now time.Time) []*protocol.Whitelist {
	f.t.Helper()
	var out []*protocol.Whitelist
	for i, m := range s.Messages {
		require.LessOrEqual(f.t, len(m), protocol.MaxMessageSize)
		w, err := f.keys.OpenWhitelist(m, now)
		require.NoError(f.t, err, "message %d", i)
		require.Equal(f.t, s.Door, w.Door)
		require.Equal(f.t, s.Version, w.Version)
		require.Equal(f.t, s.Kind, w.Kind)
		out = append(out, w)
	}
	return out
}

// delta asks for the delta from base and returns its body.
func (f *fixture) delta(door string, base uint64) *protocol.Whitelist {
	f.t.Helper()
	s, err := f.c.ForSync(context.Background(), door, base)
	require.NoError(f.t, err)
	require.Equal(f.t, protocol.Delta, s.Kind, "want a delta from %d", base)
	ws := f.open(s, f.c.Now())
	require.Len(f.t, ws, 1)
	require.NoError(f.t, ws[0].CheckFor(door, base))
	return ws[0]
}

func (f *fixture) counter(name string, labels ...string) uint64 {
	f.t.Helper()
	var b strings.Builder
	require.NoError(f.t, f.reg.WriteText(&b))
	return scrape(f.t, b.String(), name, labels...)
}

// doorState is what a door holds after applying messages: the test's
// stand-in for the edge's store, following the protocol's rules.
type doorState struct {
	version uint64
	entries map[protocol.UID]protocol.Entry
}

func (ds *doorState) applySync(t testing.TB, keys *protocol.KeyRing, door string, s Sync, now time.Time) {
	t.Helper()
	if s.Kind == "" {
		require.Equal(t, ds.version, s.Version, "up to date means the same version")
		return
	}
	var staged map[protocol.UID]protocol.Entry
	for i, m := range s.Messages {
		w, err := keys.OpenWhitelist(m, now)
		require.NoError(t, err)
		require.NoError(t, w.CheckFor(door, ds.version), "message %d of %s %d→%d", i, s.Kind, s.Base, s.Version)
		switch w.Kind {
		case protocol.Snapshot:
			if staged == nil {
				staged = map[protocol.UID]protocol.Entry{}
			}
			require.Equal(t, i+1, w.Part)
			for _, e := range w.Entries {
				staged[e.UID] = e
			}
			if w.Part == w.Parts {
				ds.entries, ds.version = staged, w.Version
			}
		case protocol.Delta:
			if ds.entries == nil {
				ds.entries = map[protocol.UID]protocol.Entry{}
			}
			for _, e := range w.Entries {
				ds.entries[e.UID] = e
			}
			for _, u := range w.Removed {
				delete(ds.entries, u)
			}
			ds.version = w.Version
		}
	}
}

func (ds *doorState) sorted() []protocol.Entry {
	out := make([]protocol.Entry, 0, len(ds.entries))
	for _, e := range ds.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// scrape reads one sample from the text exposition; 0 when absent.
func scrape(t testing.TB, text, name string, labels ...string) uint64 {
	t.Helper()
	want := name
	if len(labels) > 0 {
		var pairs []string
		for i := 0; i+1 < len(labels); i += 2 {
			pairs = append(pairs, labels[i]+`="`+labels[i+1]+`"`)
		}
		want += "{" + strings.Join(pairs, ",") + "}"
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, want+" "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			require.NoError(t, err, line)
			return n
		}
	}
	return 0
}

// world is a small network used by most tests:
//
//	c1: entrance door d1, room door d1r1 (room r1); c2: entrance d2.
//	alice   desk booking at c1 now             badges A1, A2 (A2 revoked)
//	bob     pass for c1 (and nothing else)     badge B1
//	carol   staff of c1                        badge C1
//	dave    network staff                      badge D1
//	erin    suspended, booking at c1           badge E1
//	frank   booking of room r2 at c1           badge F1
//	gina    no rights                          badge G1
//	henry   booking at c1 beyond the horizon   badge H1
//	ivan    booking at c1 that ended           badge I1
//	judy    pass for every center              badge J1
//	kim     booking of room r1 at c1 tomorrow  badge K1
func world() Input {
	h := time.Hour
	day := 24 * h
	return Input{
		Centers: []domain.Center{
			{ID: "c1", Name: "Center 1", TimeZone: "Europe/Brussels"},
			{ID: "c2", Name: "Center 2", TimeZone: "Europe/Brussels"},
		},
		Rooms: []domain.Room{{ID: "r1", CenterID: "c1", Name: "Room 1"}, {ID: "r2", CenterID: "c1", Name: "Room 2"}},
		Doors: []domain.Door{
			{ID: "d1", CenterID: "c1", Name: "Entrance"},
			{ID: "d1r1", CenterID: "c1", Name: "Room 1", RoomID: "r1"},
			{ID: "d2", CenterID: "c2", Name: "Entrance"},
		},
		Members: []domain.Member{
			{ID: "alice", Name: "Alice", Status: domain.MemberActive},
			{ID: "bob", Name: "Bob", Status: domain.MemberActive, HomeCenterID: "c1"},
			{ID: "carol", Name: "Carol", Status: domain.MemberActive, HomeCenterID: "c1"},
			{ID: "dave", Name: "Dave", Status: domain.MemberActive},
			{ID: "erin", Name: "Erin", Status: domain.MemberSuspended},
			{ID: "frank", Name: "Frank", Status: domain.MemberActive},
			{ID: "gina", Name: "Gina", Status: domain.MemberActive},
			{ID: "henry", Name: "Henry", Status: domain.MemberActive},
			{ID: "ivan", Name: "Ivan", Status: domain.MemberActive},
			{ID: "judy", Name: "Judy", Status: domain.MemberActive},
			{ID: "kim", Name: "Kim", Status: domain.MemberActive},
		},
		Badges: []domain.Badge{
			{UID: "A1000001", MemberID: "alice"}, {UID: "A2000002", MemberID: "alice", Revoked: true},
			{UID: "B1000001", MemberID: "bob"}, {UID: "C1000001", MemberID: "carol"},
			{UID: "D1000001", MemberID: "dave"}, {UID: "E1000001", MemberID: "erin"},
			{UID: "F1000001", MemberID: "frank"}, {UID: "0A000001", MemberID: "gina"},
			{UID: "0B000001", MemberID: "henry"}, {UID: "0C000001", MemberID: "ivan"},
			{UID: "0D000001", MemberID: "judy"}, {UID: "0E000001", MemberID: "kim"},
		},
		Bookings: []domain.Booking{
			{ID: "bk-alice", MemberID: "alice", CenterID: "c1", Start: t0, End: t0.Add(8 * h), Status: domain.BookingConfirmed},
			{ID: "bk-erin", MemberID: "erin", CenterID: "c1", Start: t0, End: t0.Add(8 * h), Status: domain.BookingConfirmed},
			{ID: "bk-frank", MemberID: "frank", CenterID: "c1", RoomID: "r2", Start: t0.Add(h), End: t0.Add(2 * h), Status: domain.BookingConfirmed},
			{ID: "bk-henry", MemberID: "henry", CenterID: "c1", Start: t0.Add(20 * day), End: t0.Add(20*day + h), Status: domain.BookingConfirmed},
			{ID: "bk-ivan", MemberID: "ivan", CenterID: "c1", Start: t0.Add(-3 * h), End: t0.Add(-h), Status: domain.BookingConfirmed},
			{ID: "bk-kim", MemberID: "kim", CenterID: "c1", RoomID: "r1", Start: t0.Add(day), End: t0.Add(day + h), Status: domain.BookingConfirmed},
			{ID: "bk-gina-cancelled", MemberID: "gina", CenterID: "c1", Start: t0, End: t0.Add(h), Status: domain.BookingCancelled},
		},
		Passes: []domain.Pass{
			{ID: "pass-bob", MemberID: "bob", ValidFrom: t0.Add(-day), ValidUntil: t0.Add(30 * day), CenterIDs: []string{"c1"}},
			{ID: "pass-judy", MemberID: "judy", ValidFrom: t0.Add(-day), ValidUntil: t0.Add(30 * day)},
		},
		Staff: []domain.Staff{{MemberID: "carol", CenterID: "c1"}, {MemberID: "dave"}},
	}
}
