package credit

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/smartworkcenters/swc/central/domain"
)

// Result is a computation from scratch over a set of events: every member's
// visits and counts in every period the events touch.
type Result struct {
	cfg      Config
	dir      *Directory
	byPeriod map[Period][]MemberPeriod // sorted by member id
}

// Compute credits events from scratch. The events may come in any order and
// may contain duplicates (same door and seq): the first received is kept
// (ties broken on content, so the choice never depends on order), and each
// other copy is counted as duplicate_event or conflicting_duplicate. The
// result depends only on the configuration, the directory and the set of
// events.
func Compute(cfg Config, dir *Directory, events []domain.Event) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dir == nil {
		return nil, fmt.Errorf("credit: compute: nil directory")
	}
	e := &engine{cfg: cfg, dir: dir}
	kept, dups := dedup(events)

	// Number the member ids and count each one's events.
	memberIdx := map[string]int32{}
	var ids []string
	member := func(id string) int32 {
		m, ok := memberIdx[id]
		if !ok {
			m = int32(len(ids))
			memberIdx[id] = m
			ids = append(ids, id)
		}
		return m
	}
	owner := make([]int32, len(events))
	var perMember []int
	for i := range events {
		if !kept[i] {
			continue
		}
		m := member(events[i].Member)
		owner[i] = m
		if int(m) == len(perMember) {
			perMember = append(perMember, 0)
		}
		perMember[m]++
	}
	// Members with bookings and no events still get their no-shows.
	for id := range dir.bookings {
		member(id)
	}
	perMember = append(perMember, make([]int, len(ids)-len(perMember))...)
	start := make([]int, len(ids)+1)
	for m, n := range perMember {
		start[m+1] = start[m] + n
	}
	// Classify in input order (sequential memory access), writing each
	// usable tap in its member's part of one array.
	counters := make([]counter, len(ids))
	for m := range counters {
		counters[m].loc = cfg.Location
	}
	grouped := make([]tap, start[len(ids)])
	fill := slices.Clone(start[:len(ids)])
	for i := range events {
		if !kept[i] {
			continue
		}
		m := owner[i]
		if t, ok := e.classify(&events[i], &counters[m]); ok {
			grouped[fill[m]] = t
			fill[m]++
		}
	}
	for _, d := range dups {
		counters[owner[d.kept]].add(events[d.dup].ReceivedMs, d.kind)
	}

	r := &Result{cfg: cfg, dir: dir, byPeriod: map[Period][]MemberPeriod{}}
	order := make([]int32, len(ids))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(ids[a], ids[b]) })
	for _, m := range order {
		res := e.memberTaps(ids[m], grouped[start[m]:fill[m]], &counters[m], math.MinInt64/4, math.MaxInt64/4)
		for p, mp := range res {
			if !mp.empty() {
				r.byPeriod[p] = append(r.byPeriod[p], *mp)
			}
		}
	}
	return r, nil
}

// duplicate is an event set aside as a copy of a kept one.
type duplicate struct {
	dup, kept int
	kind      countIndex // ixDuplicate or ixConflict
}

// dedup keeps one event per (door, seq): the first received, ties broken on
// content, so the choice does not depend on order. Doors number their
// events densely, so each door's sequence range is indexed directly; a door
// whose range is too sparse falls back to a map.
func dedup(events []domain.Event) (kept []bool, dups []duplicate) {
	type doorRange struct {
		min, max uint64
		n        int
		dense    []int32
		sparse   map[uint64]int32
	}
	doorIdx := map[string]int32{}
	var doors []*doorRange
	idx := make([]int32, len(events))
	for i := range events {
		d, ok := doorIdx[events[i].Door]
		if !ok {
			d = int32(len(doors))
			doorIdx[events[i].Door] = d
			doors = append(doors, &doorRange{min: events[i].Seq, max: events[i].Seq})
		}
		idx[i] = d
		r := doors[d]
		r.min, r.max, r.n = min(r.min, events[i].Seq), max(r.max, events[i].Seq), r.n+1
	}
	for _, r := range doors {
		if span := r.max - r.min; span < uint64(2*r.n+1024) {
			r.dense = make([]int32, span+1)
			for i := range r.dense {
				r.dense[i] = -1
			}
		} else {
			r.sparse = make(map[uint64]int32, r.n)
		}
	}
	kept = make([]bool, len(events))
	var losers []int
	for i := range events {
		r := doors[idx[i]]
		seq := events[i].Seq
		prev := int32(-1)
		if r.dense != nil {
			prev = r.dense[seq-r.min]
		} else if p, ok := r.sparse[seq]; ok {
			prev = p
		}
		win := int32(i)
		switch {
		case prev < 0:
		case compareEventContent(&events[i], &events[prev]) < 0:
			kept[prev] = false
			losers = append(losers, int(prev))
		default:
			win = prev
			losers = append(losers, i)
		}
		kept[win] = true
		if r.dense != nil {
			r.dense[seq-r.min] = win
		} else {
			r.sparse[seq] = win
		}
	}
	for _, l := range losers {
		r := doors[idx[l]]
		var w int32
		if r.dense != nil {
			w = r.dense[events[l].Seq-r.min]
		} else {
			w = r.sparse[events[l].Seq]
		}
		kind := ixConflict
		if compareEventContent(&events[l], &events[w]) == 0 {
			kind = ixDuplicate
		}
		dups = append(dups, duplicate{dup: l, kept: int(w), kind: kind})
	}
	return kept, dups
}

// compareEventContent orders events of the same door and seq: first
// received first, then by every other field.
func compareEventContent(a, b *domain.Event) int {
	bool2int := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return cmp.Or(
		cmp.Compare(a.ReceivedMs, b.ReceivedMs),
		cmp.Compare(a.TimeMs, b.TimeMs),
		cmp.Compare(bool2int(a.Trusted), bool2int(b.Trusted)),
		cmp.Compare(a.Member, b.Member),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Reason, b.Reason),
		cmp.Compare(a.UID, b.UID),
		cmp.Compare(a.Boot, b.Boot),
		cmp.Compare(a.UptimeMs, b.UptimeMs),
		cmp.Compare(a.WLVersion, b.WLVersion),
		cmp.Compare(a.Command, b.Command),
	)
}

// Periods lists the periods with visits or counts, in order.
func (r *Result) Periods() []Period {
	ps := slices.Collect(maps.Keys(r.byPeriod))
	slices.SortFunc(ps, comparePeriods)
	return ps
}

// MemberPeriods returns every member's result in the period, by member id.
func (r *Result) MemberPeriods(p Period) []MemberPeriod { return r.byPeriod[p] }

// MemberPeriod returns one member's result in the period (empty when none).
func (r *Result) MemberPeriod(member string, p Period) MemberPeriod {
	mps := r.byPeriod[p]
	i, ok := slices.BinarySearchFunc(mps, member, func(mp MemberPeriod, id string) int { return cmp.Compare(mp.MemberID, id) })
	if !ok {
		return MemberPeriod{MemberID: member, Period: p}
	}
	return mps[i]
}

// Settlement is the period's settlement as computed from scratch (open: no
// adjustments, nothing frozen).
func (r *Result) Settlement(p Period) *Settlement {
	return buildSettlement(&r.cfg, r.dir, p, r.byPeriod[p], nil, false)
}

// Statement is the member's statement for the period as computed from scratch.
func (r *Result) Statement(member string, p Period) *Statement {
	mp := r.MemberPeriod(member, p)
	return buildStatement(&r.cfg, r.dir, &mp, nil)
}
