package doorqueue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/doorqueue"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newestWins(_, next int) int { return next }

// serveAll takes every request that may be served now, in order, and ends
// each at once.
func serveAll(q *doorqueue.Queue[int]) []string {
	var out []string
	for {
		id, req, ok, _ := q.TryNext()
		if !ok {
			return out
		}
		out = append(out, id+":"+string(rune('0'+req)))
		q.Done(id)
	}
}

// TestBurstThenRate: a door is served Burst times at once, then once per
// Interval; requests in between merge into one (the newest here).
func TestBurstThenRate(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	q := doorqueue.New(doorqueue.Config{Burst: 2, Interval: time.Minute, Now: c.Now}, newestWins)
	for _, step := range []struct {
		name   string
		add    []int // requests of door a
		after  time.Duration
		served []string
		merged int
	}{
		{"burst", []int{1}, 0, []string{"a:1"}, 0},
		{"burst again", []int{2}, 0, []string{"a:2"}, 0},
		{"over the rate: merged, none served", []int{3, 4, 5}, 0, nil, 2},
		{"half an interval: still none", nil, 30 * time.Second, nil, 0},
		{"a whole interval: the newest is served", nil, 30 * time.Second, []string{"a:5"}, 0},
		{"the next waits an interval", []int{6}, 59 * time.Second, nil, 0},
		{"and is served after it", nil, time.Second, []string{"a:6"}, 0},
	} {
		merged := 0
		for _, r := range step.add {
			if q.Add("a", r) {
				merged++
			}
		}
		c.Add(step.after)
		require.Equal(t, step.served, serveAll(q), step.name)
		require.Equal(t, step.merged, merged, step.name)
	}
}

// TestFloodingDoorDoesNotDelayOthers: a door over its rate holds one place
// and does not stop a door behind it from being served at once.
func TestFloodingDoorDoesNotDelayOthers(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	q := doorqueue.New(doorqueue.Config{Burst: 1, Interval: time.Hour, Now: c.Now}, newestWins)
	q.Add("flood", 1)
	require.Equal(t, []string{"flood:1"}, serveAll(q))
	for i := range 1000 {
		q.Add("flood", i%10)
	}
	q.Add("quiet", 7)
	require.Equal(t, []string{"quiet:7"}, serveAll(q), "the other door is served; the flood waits its hour")
	c.Add(time.Hour)
	require.Equal(t, []string{"flood:9"}, serveAll(q), "the flood is served once, its newest request")
}

// TestServedOnceAtATime: a request arriving while the door is being
// served waits for Done, then is served.
func TestServedOnceAtATime(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	q := doorqueue.New(doorqueue.Config{Burst: 5, Interval: time.Second, Now: c.Now}, newestWins)
	q.Add("a", 1)
	id, req, ok, _ := q.TryNext()
	require.True(t, ok)
	require.Equal(t, "a", id)
	require.Equal(t, 1, req)
	require.False(t, q.Add("a", 2), "a new pending request, not merged")
	_, _, ok, _ = q.TryNext()
	require.False(t, ok, "not while the door is being served")
	q.Done("a")
	require.Equal(t, []string{"a:2"}, serveAll(q))
}

// TestForgetsIdleDoors: the queue remembers only doors that asked within
// their bucket's refill time.
func TestForgetsIdleDoors(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	q := doorqueue.New(doorqueue.Config{Burst: 2, Interval: time.Minute, Now: c.Now}, newestWins)
	for _, d := range []string{"a", "b", "c"} {
		q.Add(d, 1)
	}
	require.Len(t, serveAll(q), 3)
	require.Equal(t, 3, q.Doors())
	c.Add(time.Minute)
	serveAll(q)
	require.Equal(t, 0, q.Doors(), "full buckets, nothing pending: forgotten")
}

// TestServe: workers serve every door's requests with the function given
// and stop with the context.
func TestServe(t *testing.T) {
	q := doorqueue.New(doorqueue.Config{Burst: 10, Interval: time.Hour}, newestWins)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	got := map[string]int{}
	all := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Serve(ctx, 3, func(_ context.Context, door string, req int) {
			mu.Lock()
			defer mu.Unlock()
			got[door] = req
			if len(got) == 20 {
				close(all)
			}
		})
	}()
	for i := range 20 {
		q.Add(string(rune('a'+i)), i)
	}
	<-all
	cancel()
	<-done
	require.Len(t, got, 20)
	require.Equal(t, 19, got["t"])
}
