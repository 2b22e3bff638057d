package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// fakeTime is a settable wall clock, NTP state and uptime.
type fakeTime struct {
	wall   time.Time
	synced bool
	up     time.Duration
}

func (f *fakeTime) clock(floor time.Time) *Clock {
	return NewClock(func() time.Time { return f.wall }, func() bool { return f.synced }, func() time.Duration { return f.up }, floor)
}

func TestClockTrust(t *testing.T) {
	real := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	floor := real.Add(-time.Hour)
	tests := []struct {
		name        string
		wall        time.Time
		synced      bool
		floor       time.Time
		observe     *time.Time // exact time learnt before reading
		advance     time.Duration
		wantTime    time.Time
		wantTrusted bool
		wantSource  string
	}{
		{name: "ntp synced", wall: real, synced: true, floor: floor, wantTime: real, wantTrusted: true, wantSource: "ntp"},
		{name: "ntp synced, fresh door", wall: real, synced: true, wantTime: real, wantTrusted: true, wantSource: "ntp"},
		{name: "unsynced wall clock is not trusted", wall: real, floor: floor, wantTime: real, wantSource: "untrusted"},
		{name: "1970 after a power cut: never before the floor", wall: time.Unix(0, 0), floor: floor, wantTime: floor, wantSource: "untrusted"},
		{name: "synced but before the floor is not believed", wall: floor.Add(-2 * time.Hour), synced: true, floor: floor, wantTime: floor, wantSource: "untrusted"},
		{name: "synced, floor a little ahead (central's clock)", wall: floor.Add(-30 * time.Second), synced: true, floor: floor, wantTime: floor, wantTrusted: true, wantSource: "ntp"},
		{name: "learnt from the central, runs on the monotonic clock", wall: time.Unix(0, 0), floor: floor, observe: &real, advance: 90 * time.Second, wantTime: real.Add(90 * time.Second), wantTrusted: true, wantSource: "central"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTime{wall: tt.wall, synced: tt.synced, up: time.Hour}
			c := f.clock(tt.floor)
			if tt.observe != nil {
				c.Observe(*tt.observe, true)
			}
			f.up += tt.advance
			r := c.Now()
			assert.True(t, tt.wantTime.Equal(r.Time), "time %v, want %v", r.Time, tt.wantTime)
			assert.Equal(t, tt.wantTrusted, r.Trusted)
			assert.Equal(t, tt.wantSource, r.Source)
			assert.Equal(t, time.Hour+tt.advance, r.Uptime)
		})
	}
}

func TestClockFloorOnlyRises(t *testing.T) {
	real := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	f := &fakeTime{wall: real, synced: true}
	c := f.clock(time.Time{})
	assert.True(t, c.Now().Trusted)
	assert.True(t, c.Floor().Equal(real), "a trusted reading raises the floor")

	// NTP is lost and the wall clock jumps back: readings stay at the floor.
	f.synced, f.wall = false, real.Add(-24*time.Hour)
	r := c.Now()
	assert.False(t, r.Trusted)
	assert.True(t, r.Time.Equal(real))

	// A signed whitelist's issued-at raises the floor but does not make the
	// clock trusted; an older one does not lower it.
	c.Observe(real.Add(time.Hour), false)
	c.Observe(real.Add(-time.Hour), false)
	r = c.Now()
	assert.False(t, r.Trusted)
	assert.True(t, r.Time.Equal(real.Add(time.Hour)))
	assert.True(t, c.TrustedNow().Equal(real.Add(time.Hour)), "expiry is judged by the floor while untrusted")
}
