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
	idx := make([]int32, len(events))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		ea, eb := &events[a], &events[b]
		return cmp.Or(cmp.Compare(ea.Door, eb.Door), cmp.Compare(ea.Seq, eb.Seq), compareEventContent(ea, eb))
	})
	byMember := map[string][]*domain.Event{}
	dups := map[string]*counter{}
	var last *domain.Event
	for _, i := range idx {
		ev := &events[i]
		if last != nil && ev.Door == last.Door && ev.Seq == last.Seq {
			c := dups[last.Member]
			if c == nil {
				c = &counter{loc: cfg.Location}
				dups[last.Member] = c
			}
			if compareEventContent(ev, last) == 0 {
				c.add(ev.ReceivedMs, CountDuplicate)
			} else {
				c.add(ev.ReceivedMs, CountConflict)
			}
			continue
		}
		last = ev
		byMember[ev.Member] = append(byMember[ev.Member], ev)
	}
	r := &Result{cfg: cfg, dir: dir, byPeriod: map[Period][]MemberPeriod{}}
	// Members with bookings and no events still get their no-shows.
	for id := range dir.bookings {
		if _, ok := byMember[id]; !ok {
			byMember[id] = nil
		}
	}
	ids := slices.Sorted(maps.Keys(byMember))
	for _, id := range ids {
		res := e.member(id, byMember[id], math.MinInt64/4, math.MaxInt64/4)
		if c := dups[id]; c != nil {
			for p, counts := range c.by {
				if res[p] == nil {
					res[p] = &MemberPeriod{MemberID: id, Period: p}
				}
				if res[p].Counts == nil {
					res[p].Counts = Counts{}
				}
				res[p].Counts.add(counts)
			}
		}
		for p, mp := range res {
			if !mp.empty() {
				r.byPeriod[p] = append(r.byPeriod[p], *mp)
			}
		}
	}
	return r, nil
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
