package agent

import (
	"sync"
	"time"
)

// Clock is the door's idea of the time (PRODUCT.md 4.4). A Raspberry Pi has
// no real-time clock, so the wall clock may be hours or years off until NTP
// has synchronised it. The clock
//
//   - is trusted when NTP says the kernel clock is synchronised (adjtimex
//     without STA_UNSYNC), or when this run has learnt the exact time from
//     the central (an acknowledgement's server time), from which it then
//     runs on the monotonic clock;
//   - never reads earlier than the last trusted time, which persists across
//     runs in the store and rises with every trusted reading, signed
//     whitelist issued-at and acknowledgement.
type Clock struct {
	wall   func() time.Time
	synced func() bool
	uptime func() time.Duration

	mu          sync.Mutex
	floor       time.Time     // last trusted time
	anchor      time.Time     // exact time learnt this run, or zero
	anchorUp    time.Duration // uptime when anchor was learnt
	lastTrusted bool
}

// Reading is one clock reading.
type Reading struct {
	Time     time.Time // never before the last trusted time
	Trusted  bool
	Source   string        // "ntp", "central" (learnt from an acknowledgement) or "untrusted"
	Uptime   time.Duration // monotonic time since the agent started
	Floor    time.Time     // the last trusted time
	WallTime time.Time     // the raw wall clock
}

// floorTolerance lets an NTP-synchronised clock stay trusted when the
// central's clock (whose issued-at raised the floor) runs a little ahead.
const floorTolerance = time.Minute

// NewClock returns a clock over the wall clock, an NTP-sync probe and the
// monotonic uptime, starting from the persisted last trusted time.
func NewClock(wall func() time.Time, synced func() bool, uptime func() time.Duration, floor time.Time) *Clock {
	return &Clock{wall: wall, synced: synced, uptime: uptime, floor: floor}
}

// SystemClock returns the clock of this machine for an NTP mode.
func SystemClock(mode string, floor time.Time) *Clock {
	start := time.Now()
	synced := func() bool { return false }
	switch mode {
	case NTPAdjtimex:
		synced = ntpSynced
	case NTPAssumeSynced:
		synced = func() bool { return true }
	}
	return NewClock(time.Now, synced, func() time.Duration { return time.Since(start) }, floor)
}

// Now reads the clock.
func (c *Clock) Now() Reading {
	w := c.wall()
	synced := c.synced()
	up := c.uptime()
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Reading{Uptime: up, WallTime: w}
	switch {
	case synced && !w.Before(c.floor.Add(-floorTolerance)):
		r.Time, r.Trusted, r.Source = w, true, "ntp"
	case !c.anchor.IsZero():
		r.Time, r.Trusted, r.Source = c.anchor.Add(up-c.anchorUp), true, "central"
	default:
		r.Time, r.Source = w, "untrusted"
	}
	if r.Time.Before(c.floor) {
		r.Time = c.floor
	}
	if r.Trusted {
		c.floor = r.Time
	}
	r.Floor = c.floor
	c.lastTrusted = r.Trusted
	return r
}

// Observe learns a trusted time: exact (an acknowledgement's server time)
// or only a lower bound (a signed whitelist's issued-at). The floor never
// goes back.
func (c *Clock) Observe(t time.Time, exact bool) {
	up := c.uptime()
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.floor) {
		c.floor = t
	}
	if exact {
		c.anchor, c.anchorUp = t, up
	}
}

// TrustedNow is the time to judge signed messages' expiry by: the reading
// when trusted, the last trusted time otherwise (zero when there is none,
// so that a fresh door accepts its first whitelist).
func (c *Clock) TrustedNow() time.Time {
	r := c.Now()
	if r.Trusted {
		return r.Time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.floor
}

// Floor returns the last trusted time.
func (c *Clock) Floor() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.floor
}
