package decide

import (
	"sync"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Debouncer remembers when each badge was last counted, so that a badge
// presented again within the debounce time counts once (PRODUCT.md 4.1).
// Times should carry a monotonic reading (time.Now), so that a wall-clock
// step does not open or close the window. It is safe for concurrent use and
// never holds more than the badges seen within one window.
type Debouncer struct {
	window time.Duration

	mu    sync.Mutex
	last  map[protocol.UID]time.Time
	prune time.Time
}

// NewDebouncer returns a debouncer for the window (0 disables debouncing).
func NewDebouncer(window time.Duration) *Debouncer {
	return &Debouncer{window: window, last: make(map[protocol.UID]time.Time)}
}

// Repeat reports whether uid was counted less than the window before now;
// when it was not, now becomes its counted time. A repeat does not extend
// the window: a badge held out every second counts again once the window
// after its counted presentation has passed.
func (d *Debouncer) Repeat(uid protocol.UID, now time.Time) bool {
	if d.window <= 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.prune) > d.window {
		for k, t := range d.last {
			if now.Sub(t) >= d.window {
				delete(d.last, k)
			}
		}
		d.prune = now
	}
	if t, ok := d.last[uid]; ok && now.Sub(t) < d.window && !now.Before(t) {
		return true
	}
	d.last[uid] = now
	return false
}

// Forget un-counts uid: its last presentation ended without a decision (a
// secure badge pulled away in the middle of its authentication), so that
// presenting it again at once is not a repeat.
func (d *Debouncer) Forget(uid protocol.UID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.last, uid)
}

// Len returns how many badges are remembered.
func (d *Debouncer) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.last)
}
