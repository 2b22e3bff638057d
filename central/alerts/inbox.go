package alerts

import (
	"sync"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// inbox holds what the ingest observed (door statuses and committed
// events) until the engine's Run applies it. Handing over never waits: the
// callers are the broker's connection goroutines (a status is handled on
// the publishing door's connection) and the ingest's writer, and a wait
// there stalls doors (their SUBSCRIBE, their events) and every commit for
// as long as the engine is behind, as with a fixed queue that filled when
// 10,000 doors reconnected at once (each status costs the engine store
// queries). Nothing is dropped instead; what a door's later statuses
// supersede is merged:
//
//   - a status replaces the door's status waiting before it when both are
//     of the same state (online, offline): only the latest counts, and the
//     change of state in between is kept (a door back online after an
//     offline status still has its queued commands sent again);
//   - events are kept, in order, each batch with its receipt time.
//
// So a door holds at most a status per change of state plus its events in
// the inbox, and the doors are served in the order they came in.
type inbox struct {
	wake chan struct{} // one token: the inbox has something

	mu    sync.Mutex
	doors map[string][]observation // per door, in arrival order
	order []string                 // the doors with observations, first come first
}

// observation is a status (events nil) or a batch of committed events.
type observation struct {
	st         protocol.Status
	at         time.Time
	receivedMs int64
	events     []protocol.Event
}

func newInbox() *inbox {
	return &inbox{wake: make(chan struct{}, 1), doors: map[string][]observation{}}
}

// status adds a door's status, merging it into a waiting status of the
// same state.
func (b *inbox) status(st protocol.Status, at time.Time) {
	b.mu.Lock()
	q := b.doors[st.Door]
	if n := len(q); n > 0 && q[n-1].events == nil && online(q[n-1].st) == online(st) {
		q[n-1] = observation{st: st, at: at}
	} else {
		b.add(st.Door, observation{st: st, at: at})
	}
	b.mu.Unlock()
	b.poke()
}

// events adds a door's committed events.
func (b *inbox) events(door string, receivedMs int64, evs []protocol.Event) {
	if len(evs) == 0 {
		return
	}
	b.mu.Lock()
	b.add(door, observation{receivedMs: receivedMs, events: evs})
	b.mu.Unlock()
	b.poke()
}

// add appends o to the door's observations; b.mu is held.
func (b *inbox) add(door string, o observation) {
	q, ok := b.doors[door]
	if !ok {
		b.order = append(b.order, door)
	}
	b.doors[door] = append(q, o)
}

// poke wakes Run; a token already waiting is enough.
func (b *inbox) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// next takes the first door's observations; ok is false when the inbox is
// empty.
func (b *inbox) next() (door string, obs []observation, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.order) == 0 {
		return "", nil, false
	}
	door = b.order[0]
	b.order[0] = ""
	b.order = b.order[1:]
	obs = b.doors[door]
	delete(b.doors, door)
	if len(b.order) > 0 {
		b.poke() // more for the next turn
	}
	return door, obs, true
}

// len is the number of doors with observations waiting.
func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.order)
}

func online(st protocol.Status) bool { return st.State != protocol.StateOffline }
