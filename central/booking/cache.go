package booking

import (
	"sync"
	"time"
)

// expiring is a map whose entries last a fixed time: the check-in reads
// the grace in force and each door's center for every batch of taps, and
// both change seldom (settings at month starts; a door's center never).
type expiring[K comparable, V any] struct {
	mu     sync.Mutex
	ttl    time.Duration
	m      map[K]expiringValue[V]
	pruned time.Time
}

type expiringValue[V any] struct {
	v     V
	until time.Time
}

func newExpiring[K comparable, V any](ttl time.Duration) *expiring[K, V] {
	return &expiring[K, V]{ttl: ttl, m: map[K]expiringValue[V]{}}
}

// get returns k's value when it was put less than ttl before now.
func (e *expiring[K, V]) get(now time.Time, k K) (V, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[k]
	if !ok || !now.Before(x.until) {
		var zero V
		return zero, false
	}
	return x.v, true
}

// put keeps v as k's value for ttl. Expired entries go at most once per
// ttl, so the map holds only what was put within the last two ttl.
func (e *expiring[K, V]) put(now time.Time, k K, v V) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Sub(e.pruned) >= e.ttl {
		for key, x := range e.m {
			if !now.Before(x.until) {
				delete(e.m, key)
			}
		}
		e.pruned = now
	}
	e.m[k] = expiringValue[V]{v: v, until: now.Add(e.ttl)}
}
