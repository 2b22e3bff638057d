package ingest

import (
	"context"
	"sync"
	"time"
)

// Defaults of the sync request throttle (Config.SyncBurst, SyncInterval,
// SyncWorkers). A door asks for its whitelist when it starts, reconnects or
// finds a gap: a few requests a minute. The burst covers those; a door
// asking faster is answered once per interval.
const (
	syncBurst    = 3
	syncInterval = 2 * time.Second
	syncWorkers  = 8
	// syncAckWait bounds how long a door's answer counts in the window of
	// unacknowledged answers (see ackWindow).
	syncAckWait = 10 * time.Second
)

// syncQueue coalesces and rate-limits whitelist sync requests per door, so
// that a door flooding requests costs the central one signed answer per
// interval and never delays the other doors.
//
// Design:
//   - Coalescing: a door has at most one pending request. A request that
//     arrives while one is pending merges into it, keeping the lowest from
//     (the answer brings the door up to date from the oldest version it
//     claimed, which covers every merged request). A request arriving while
//     the door's previous one is being answered becomes the door's next
//     pending request.
//   - Fairness: the queue holds doors, not requests, in the order their
//     pending request arrived, so a flooding door holds one place in it; the
//     workers take the first door whose rate allows an answer, so a door
//     that must wait does not hold up those behind it.
//   - Rate: each door has a token bucket (burst answers, then one per
//     interval), refilled from the ingest's clock. A door is answered by one
//     worker at a time.
//
// Its memory is bounded by the doors that asked in the last
// burst×interval: a door idle with a full bucket is forgotten.
type syncQueue struct {
	now      func() time.Time
	burst    float64
	interval time.Duration

	mu    sync.Mutex
	doors map[string]*syncDoor
	order []string      // doors with a pending request not being answered, oldest first
	wake  chan struct{} // a door became ready
}

// syncDoor is one door's throttle state.
type syncDoor struct {
	pending bool   // a request waits
	from    uint64 // the lowest from of the waiting requests
	serving bool   // a worker is answering the door
	tokens  float64
	at      time.Time // when tokens was computed
}

func newSyncQueue(now func() time.Time, burst int, interval time.Duration) *syncQueue {
	return &syncQueue{now: now, burst: float64(burst), interval: interval,
		doors: map[string]*syncDoor{}, wake: make(chan struct{}, 1)}
}

// add queues a request of door's from version from, and reports whether it
// merged into a request already pending.
func (q *syncQueue) add(door string, from uint64) (merged bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.doors[door]
	if d == nil {
		d = &syncDoor{tokens: q.burst, at: q.now()}
		q.doors[door] = d
	}
	if d.pending {
		d.from = min(d.from, from)
		return true
	}
	d.pending, d.from = true, from
	if !d.serving {
		q.order = append(q.order, door)
		q.signal()
	}
	return false
}

func (q *syncQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// refill brings d's tokens to now.
func (q *syncQueue) refill(d *syncDoor, now time.Time) {
	if el := now.Sub(d.at); el > 0 {
		d.tokens = min(q.burst, d.tokens+float64(el)/float64(q.interval))
		d.at = now
	}
}

// next waits for a door whose pending request may be answered now and
// returns it with the from to answer; the caller calls done(door) after
// answering. It returns false when ctx ends.
func (q *syncQueue) next(ctx context.Context) (door string, from uint64, ok bool) {
	for {
		wait := q.take(&door, &from)
		if door != "" {
			return door, from, true
		}
		t := time.NewTimer(wait)
		select {
		case <-q.wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", 0, false
		}
		t.Stop()
	}
}

// take removes the first door in order whose rate allows an answer, or,
// when none does, returns how long until one may (an hour when no door
// waits: a request wakes the workers).
func (q *syncQueue) take(door *string, from *uint64) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	wait := time.Hour
	for i, id := range q.order {
		d := q.doors[id]
		q.refill(d, now)
		if d.tokens >= 1 {
			d.tokens--
			d.pending, d.serving = false, true
			q.order = append(q.order[:i], q.order[i+1:]...)
			*door, *from = id, d.from
			if len(q.order) > 0 {
				q.signal() // another worker may take the next door
			}
			return 0
		}
		wait = min(wait, time.Duration((1-d.tokens)*float64(q.interval)))
	}
	if len(q.order) == 0 {
		q.forgetIdle(now)
	}
	return max(wait, 10*time.Millisecond)
}

// done ends the answer to door: a request that arrived meanwhile is queued.
func (q *syncQueue) done(door string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.doors[door]
	d.serving = false
	if d.pending {
		q.order = append(q.order, door)
		q.signal()
	}
}

// forgetIdle drops the doors with nothing to do and a full bucket, which are
// the same as doors never seen.
func (q *syncQueue) forgetIdle(now time.Time) {
	for id, d := range q.doors {
		if d.pending || d.serving {
			continue
		}
		q.refill(d, now)
		if d.tokens >= q.burst {
			delete(q.doors, id)
		}
	}
}

// queueSync queues a door's sync request; a request merged into a pending
// one is counted, and logged once per window and door.
func (in *Ingest) queueSync(door string, from uint64) {
	if !in.syncq.add(door, from) {
		return
	}
	in.syncsMerged.Inc()
	if in.mergeLog.allow(door, "coalesced") {
		in.log.Warn("door asks for its whitelist faster than it is answered; merging its requests",
			"door", door, "burst", in.cfg.SyncBurst, "interval", in.cfg.SyncInterval.String())
	}
}

// syncWorker answers the doors' queued sync requests until ctx ends. A
// request taken while this ingest is no longer the whitelist publisher is
// dropped: the door asks again.
func (in *Ingest) syncWorker(ctx context.Context) {
	for {
		door, from, ok := in.syncq.next(ctx)
		if !ok {
			return
		}
		if src := in.source(); src != nil {
			if !in.window.acquire(ctx) {
				in.syncq.done(door)
				return
			}
			in.window.release(door, in.sendWhitelist(ctx, src, door, from))
			in.syncs.Inc()
		}
		in.syncq.done(door)
	}
}

// ackWindow bounds the answers the broker holds unacknowledged: a door's
// answer can be a whole snapshot (about 1 MB at 6,000 badges), and the
// broker keeps a copy of each message until the door's PUBACK. Without a
// bound the workers sign and queue answers as fast as they can while
// thousands of doors connect, faster than slow doors read and acknowledge
// them: at 10,000 starting doors the broker held 200 MB of unacknowledged
// snapshots, the central's largest memory use. With it, a worker waits
// before answering while syncWindow doors have not acknowledged theirs
// (for at most syncAckWait each, or until they leave). Waiting per worker
// for its own door instead made the answers as slow as the slowest doors'
// acknowledgements (8 workers answered a few doors a second). Only the
// embedded broker can tell (Unacked); through an external broker there
// is no window.
type ackWindow struct {
	unacked func(door string) (int, bool)
	max     int

	mu      sync.Mutex
	doors   map[string]time.Time // door: when to stop waiting for it
	sending int                  // places taken by answers being sent (acquire, not yet released)
	freed   chan struct{}        // a place in the window was freed
}

// syncWindow is Config.SyncWindow's default.
const syncWindow = 64

func newAckWindow(link Link, max int) *ackWindow {
	u, ok := link.(interface{ Unacked(string) (int, bool) })
	if !ok {
		return nil
	}
	return &ackWindow{unacked: u.Unacked, max: max, doors: map[string]time.Time{}, freed: make(chan struct{}, 1)}
}

// acquire waits until the window has room and takes a place in it for
// the answer about to be sent, looking at the doors in it every few
// milliseconds; false when ctx ended first. The place is taken at once,
// under the window's lock: workers waiting together must not all see the
// same free place and all send (the window would then hold up to
// SyncWorkers answers beyond its size), nor a door's answer, published
// but not yet released, count for nothing. release gives it back.
func (w *ackWindow) acquire(ctx context.Context) bool {
	if w == nil {
		return true
	}
	for {
		if w.take() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-w.freed:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// take takes a place if the window has room.
func (w *ackWindow) take() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reap()+w.sending >= w.max {
		return false
	}
	w.sending++
	return true
}

// release ends the answer to door of a place taken by acquire: a door that
// was sent an answer stays in the window until it acknowledges it (or
// leaves, or syncAckWait passed); a place not used is free again.
func (w *ackWindow) release(door string, sent bool) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.sending--
	if sent {
		w.doors[door] = time.Now().Add(syncAckWait)
	}
	w.mu.Unlock()
	w.signal()
}

// signal wakes a worker waiting for a place.
func (w *ackWindow) signal() {
	select {
	case w.freed <- struct{}{}:
	default:
	}
}

// reap takes out the doors that acknowledged everything, left, or were
// waited for long enough, and returns how many remain; w.mu is held.
func (w *ackWindow) reap() int {
	now := time.Now()
	for door, until := range w.doors {
		if n, ok := w.unacked(door); !ok || n == 0 || now.After(until) {
			delete(w.doors, door)
			w.signal()
		}
	}
	return len(w.doors)
}
