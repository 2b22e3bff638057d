// Package doorqueue coalesces and rate-limits, per door, the requests that
// doors make of the central over MQTT (certificate renewals; whitelist
// syncs follow the same design in central/ingest), so that a door asking
// too often — a bug, a loop, a stolen key — costs the central a bounded
// number of answers and never delays the other doors.
//
// Design:
//   - Coalescing: a door has at most one pending request. A request that
//     arrives while one is pending merges into it (the caller's merge
//     function says how: keep the newest, the lowest version, ...). A
//     request arriving while the door's previous one is being served
//     becomes the door's next pending request.
//   - Fairness: the queue holds doors, not requests, in the order their
//     pending request arrived; a flooding door holds one place in it, and a
//     door that must wait for its rate does not hold up those behind it.
//   - Rate: each door has a token bucket: Burst answers at once, then one
//     per Interval. A door is served by one worker at a time.
//   - Memory: a door with nothing pending and a full bucket is forgotten
//     (it is the same as a door never seen), so the queue holds at most the
//     doors that asked within the last Burst×Interval.
//
// Use:
//
//	q := doorqueue.New(doorqueue.Config{Burst: 2, Interval: 30 * time.Second},
//		func(pending, next []byte) []byte { return next }) // keep the newest
//	go q.Serve(ctx, 2, func(ctx context.Context, door string, req []byte) { answer(ctx, door, req) })
//	if q.Add(door, payload) { coalesced.Inc() } // from the MQTT handler; never blocks
package doorqueue

import (
	"context"
	"sync"
	"time"
)

// Config configures a Queue.
type Config struct {
	// Burst is how many requests of a door are served at once (default 1).
	Burst int
	// Interval is the pace after the burst: one request per Interval
	// (default one second).
	Interval time.Duration
	// Now is the clock of the buckets (default time.Now).
	Now func() time.Time
}

// Queue is a per-door coalescing, rate-limited queue of requests of type T.
// Its methods are safe for concurrent use.
type Queue[T any] struct {
	now      func() time.Time
	burst    float64
	interval time.Duration
	merge    func(pending, next T) T

	mu    sync.Mutex
	doors map[string]*door[T]
	order []string      // doors with a pending request not being served, oldest first
	wake  chan struct{} // a door became ready
}

// door is one door's state.
type door[T any] struct {
	pending bool // a request waits
	req     T    // the waiting request (merged)
	serving bool // a worker is serving the door
	tokens  float64
	at      time.Time // when tokens was computed
}

// New returns a queue; merge combines a door's pending request with one
// that arrives before it is served.
func New[T any](cfg Config, merge func(pending, next T) T) *Queue[T] {
	if cfg.Burst <= 0 {
		cfg.Burst = 1
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue[T]{now: cfg.Now, burst: float64(cfg.Burst), interval: cfg.Interval, merge: merge,
		doors: map[string]*door[T]{}, wake: make(chan struct{}, 1)}
}

// Add queues a request of the door and reports whether it merged into the
// door's pending one. It never blocks.
func (q *Queue[T]) Add(id string, req T) (merged bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.doors[id]
	if d == nil {
		d = &door[T]{tokens: q.burst, at: q.now()}
		q.doors[id] = d
	}
	if d.pending {
		d.req = q.merge(d.req, req)
		return true
	}
	d.pending, d.req = true, req
	if !d.serving {
		q.order = append(q.order, id)
		q.signal()
	}
	return false
}

func (q *Queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// refill brings d's tokens to now.
func (q *Queue[T]) refill(d *door[T], now time.Time) {
	if el := now.Sub(d.at); el > 0 {
		d.tokens = min(q.burst, d.tokens+float64(el)/float64(q.interval))
		d.at = now
	}
}

// TryNext takes the first door in order whose rate allows serving its
// pending request now, without waiting; the caller calls Done(door) once
// served. Otherwise ok is false and wait says how long until a waiting
// door may be served (an hour when none waits).
func (q *Queue[T]) TryNext() (id string, req T, ok bool, wait time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	wait = time.Hour
	for i, did := range q.order {
		d := q.doors[did]
		q.refill(d, now)
		if d.tokens >= 1 {
			d.tokens--
			req = d.req
			var zero T
			d.pending, d.serving, d.req = false, true, zero
			q.order = append(q.order[:i], q.order[i+1:]...)
			if len(q.order) > 0 {
				q.signal() // another worker may take the next door
			}
			return did, req, true, 0
		}
		wait = min(wait, time.Duration((1-d.tokens)*float64(q.interval)))
	}
	if len(q.order) == 0 {
		q.forgetIdle(now)
	}
	return "", req, false, max(wait, 10*time.Millisecond)
}

// Next waits for a door whose pending request may be served now (see
// TryNext). It returns ok false when ctx ends.
func (q *Queue[T]) Next(ctx context.Context) (id string, req T, ok bool) {
	for {
		id, req, ok, wait := q.TryNext()
		if ok {
			return id, req, true
		}
		t := time.NewTimer(wait)
		select {
		case <-q.wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", req, false
		}
		t.Stop()
	}
}

// Done ends the service of the door: a request that arrived meanwhile is
// queued.
func (q *Queue[T]) Done(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.doors[id]
	if d == nil {
		return
	}
	d.serving = false
	if d.pending {
		q.order = append(q.order, id)
		q.signal()
	}
}

// Serve runs workers that serve the queued requests with fn until ctx
// ends, and returns when they have all returned.
func (q *Queue[T]) Serve(ctx context.Context, workers int, fn func(ctx context.Context, door string, req T)) {
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id, req, ok := q.Next(ctx)
				if !ok {
					return
				}
				fn(ctx, id, req)
				q.Done(id)
			}
		}()
	}
	wg.Wait()
}

// Doors returns how many doors the queue remembers (waiting, being served
// or refilling their bucket).
func (q *Queue[T]) Doors() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.doors)
}

// forgetIdle drops the doors with nothing to do and a full bucket.
func (q *Queue[T]) forgetIdle(now time.Time) {
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
