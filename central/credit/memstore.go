package credit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/smartworkcenters/swc/central/domain"
)

// MemStore is an in-memory Store, for tests, benchmarks and one-off
// computations. It also holds the events (AddEvents), as the central's
// event table would. Values are copied in and out, as a database would.
type MemStore struct {
	mu          sync.Mutex
	seen        map[doorSeq]int // index into events
	events      []domain.Event
	byMember    map[string][]int
	results     map[Period]map[string]MemberPeriod
	adjustments map[adjKey][]Adjustment
	lastClosed  Period
	closed      map[Period][]byte // JSON of the frozen settlement
}

type doorSeq struct {
	door string
	seq  uint64
}

type adjKey struct {
	member    string
	belongsTo Period
	bookedIn  Period
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		seen:        map[doorSeq]int{},
		byMember:    map[string][]int{},
		results:     map[Period]map[string]MemberPeriod{},
		adjustments: map[adjKey][]Adjustment{},
		closed:      map[Period][]byte{},
	}
}

var _ Store = (*MemStore)(nil)

// AddEvents stores events idempotently on (door, seq), as the central's
// ingest does: the first stored copy is kept. It returns the events that
// were new.
func (s *MemStore) AddEvents(events []domain.Event) []domain.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var fresh []domain.Event
	for _, ev := range events {
		k := doorSeq{ev.Door, ev.Seq}
		if _, ok := s.seen[k]; ok {
			continue
		}
		s.seen[k] = len(s.events)
		s.byMember[ev.Member] = append(s.byMember[ev.Member], len(s.events))
		s.events = append(s.events, ev)
		fresh = append(fresh, ev)
	}
	return fresh
}

// MemberEvents implements Store.
func (s *MemStore) MemberEvents(ctx context.Context, member string, fromMs, toMs int64) ([]domain.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Event
	for _, i := range s.byMember[member] {
		ev := &s.events[i]
		if (ev.TimeMs >= fromMs && ev.TimeMs < toMs) || (ev.ReceivedMs >= fromMs && ev.ReceivedMs < toMs) {
			out = append(out, *ev)
		}
	}
	return out, ctx.Err()
}

// EventsOfMembers implements Store.
func (s *MemStore) EventsOfMembers(ctx context.Context, members []string, fromMs, toMs int64) ([]domain.Event, error) {
	var out []domain.Event
	for _, m := range members {
		evs, err := s.MemberEvents(ctx, m, fromMs, toMs)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

// LastClosed implements Store.
func (s *MemStore) LastClosed(ctx context.Context) (Period, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastClosed, ctx.Err()
}

// EarliestPeriod implements Store.
func (s *MemStore) EarliestPeriod(ctx context.Context) (Period, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first Period
	for p, byMember := range s.results {
		if len(byMember) > 0 && (first.IsZero() || p.Before(first)) {
			first = p
		}
	}
	return first, ctx.Err()
}

// MemberPeriod implements Store.
func (s *MemStore) MemberPeriod(ctx context.Context, member string, p Period) (MemberPeriod, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp, ok := s.results[p][member]
	if !ok {
		return MemberPeriod{MemberID: member, Period: p}, ctx.Err()
	}
	return cloneMemberPeriod(mp), ctx.Err()
}

// MemberPeriods implements Store.
func (s *MemStore) MemberPeriods(ctx context.Context, p Period) ([]MemberPeriod, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.results[p]))
	out := make([]MemberPeriod, 0, len(ids))
	for _, id := range ids {
		out = append(out, cloneMemberPeriod(s.results[p][id]))
	}
	return out, ctx.Err()
}

// Adjustments implements Store.
func (s *MemStore) Adjustments(ctx context.Context, member string, belongsTo Period) ([]Adjustment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Adjustment
	for k, lines := range s.adjustments {
		if k.member == member && k.belongsTo == belongsTo {
			out = append(out, lines...)
		}
	}
	sortAdjustments(out)
	return out, ctx.Err()
}

// BookedAdjustments implements Store.
func (s *MemStore) BookedAdjustments(ctx context.Context, bookedIn Period, member string) ([]Adjustment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Adjustment
	for k, lines := range s.adjustments {
		if k.bookedIn == bookedIn && (member == "" || k.member == member) {
			out = append(out, lines...)
		}
	}
	sortAdjustments(out)
	return out, ctx.Err()
}

func sortAdjustments(a []Adjustment) {
	slices.SortFunc(a, func(x, y Adjustment) int {
		return cmp.Or(cmp.Compare(x.MemberID, y.MemberID), comparePeriods(x.BelongsTo, y.BelongsTo),
			comparePeriods(x.BookedIn, y.BookedIn), cmp.Compare(x.CenterID, y.CenterID),
			cmp.Compare(x.Class, y.Class), cmp.Compare(x.HomeCenterID, y.HomeCenterID))
	})
}

// Save implements Store.
func (s *MemStore) Save(ctx context.Context, c *Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.LastClosed != s.lastClosed {
		return fmt.Errorf("%w: commit against %q, store at %q", ErrStale, c.LastClosed, s.lastClosed)
	}
	closed := func(p Period) bool { return !s.lastClosed.IsZero() && !s.lastClosed.Before(p) }
	for _, r := range c.Results {
		if closed(r.Period) {
			return fmt.Errorf("%w: result of %q for %s", ErrFrozen, r.MemberID, r.Period)
		}
	}
	for _, a := range c.Adjustments {
		if closed(a.BookedIn) {
			return fmt.Errorf("%w: adjustment of %q booked in %s", ErrFrozen, a.MemberID, a.BookedIn)
		}
	}
	for _, r := range c.Results {
		if r.empty() {
			delete(s.results[r.Period], r.MemberID)
			continue
		}
		if s.results[r.Period] == nil {
			s.results[r.Period] = map[string]MemberPeriod{}
		}
		s.results[r.Period][r.MemberID] = cloneMemberPeriod(r)
	}
	for _, a := range c.Adjustments {
		k := adjKey{a.MemberID, a.BelongsTo, a.BookedIn}
		if len(a.Lines) == 0 {
			delete(s.adjustments, k)
			continue
		}
		s.adjustments[k] = slices.Clone(a.Lines)
	}
	return nil
}

// Close implements Store.
func (s *MemStore) Close(ctx context.Context, prev Period, st *Settlement) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("credit: memstore: encode settlement: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev != s.lastClosed {
		return fmt.Errorf("%w: close against %q, store at %q", ErrStale, prev, s.lastClosed)
	}
	if !s.lastClosed.IsZero() && !s.lastClosed.Before(st.Period) {
		return fmt.Errorf("%w: %s", ErrAlreadyClosed, st.Period)
	}
	s.closed[st.Period] = b
	s.lastClosed = st.Period
	return nil
}

// ClosedSettlement implements Store.
func (s *MemStore) ClosedSettlement(ctx context.Context, p Period) (*Settlement, error) {
	s.mu.Lock()
	b, ok := s.closed[p]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotClosed, p)
	}
	var st Settlement
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("credit: memstore: decode settlement: %w", err)
	}
	return &st, ctx.Err()
}

func cloneMemberPeriod(mp MemberPeriod) MemberPeriod {
	mp.Visits = slices.Clone(mp.Visits)
	for i := range mp.Visits {
		mp.Visits[i].Bookings = slices.Clone(mp.Visits[i].Bookings)
	}
	mp.Counts = mp.Counts.clone()
	return mp
}
