package whitelist

import (
	"container/heap"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
)

// item is a moment when a booking or pass enters the horizon (enter) or ends.
// Items are never removed when their object changes: the object pointer is
// compared with the current one when the item is due, and stale items are
// skipped.
type item struct {
	at      time.Time
	seq     uint64
	enter   bool
	booking *domain.Booking
	pass    *domain.Pass
}

// timeline is a min-heap of items by time (then insertion order).
type timeline struct {
	items []item
	seq   uint64
}

func (t *timeline) Len() int { return len(t.items) }
func (t *timeline) Less(i, j int) bool {
	a, b := &t.items[i], &t.items[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}
func (t *timeline) Swap(i, j int) { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *timeline) Push(x any)    { t.items = append(t.items, x.(item)) }
func (t *timeline) Pop() any {
	n := len(t.items) - 1
	it := t.items[n]
	t.items[n] = item{}
	t.items = t.items[:n]
	return it
}

func (t *timeline) push(it item) {
	t.seq++
	it.seq = t.seq
	heap.Push(t, it)
}

// due pops every item at or before now, in time order.
func (t *timeline) due(now time.Time) []item {
	var out []item
	for len(t.items) > 0 && !t.items[0].at.After(now) {
		out = append(out, heap.Pop(t).(item))
	}
	return out
}

// compact drops stale items when they outnumber the live objects (each live
// object has at most two items) by far, so that frequently edited bookings do
// not grow the heap without bound.
func (t *timeline) compact(live int, current func(item) bool) {
	if len(t.items) <= 4*live+1024 {
		return
	}
	kept := t.items[:0]
	for _, it := range t.items {
		if current(it) {
			kept = append(kept, it)
		}
	}
	clear(t.items[len(kept):])
	t.items = kept
	heap.Init(t)
}
