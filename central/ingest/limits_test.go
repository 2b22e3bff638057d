package ingest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogLimiterSummarisesPerDoorAndForgets(t *testing.T) {
	clock := newFakeClock()
	var logs logBuffer
	l := newLogLimiter(clock.Now, 10*time.Second, 2, slog.New(slog.NewTextHandler(&logs, nil)), "rejections suppressed")

	var allowed []bool
	for _, r := range []string{"invalid", "invalid", "invalid", "malformed", "invalid"} {
		allowed = append(allowed, l.allow("door-a", r))
	}
	assert.Equal(t, []bool{true, true, false, false, false}, allowed, "two lines per window, the rest suppressed")
	assert.True(t, l.allow("door-b", "invalid"), "the limit is per door")

	l.flush()
	assert.Empty(t, logs.String(), "nothing is summarised before the window has passed")
	clock.Advance(10 * time.Second)
	l.flush()
	assert.Contains(t, logs.String(), "door=door-a suppressed=3 reasons.invalid=2 reasons.malformed=1")
	assert.NotContains(t, logs.String(), "door=door-b", "a door with nothing suppressed has no summary")
	assert.Empty(t, l.doors, "doors whose window has passed are forgotten")
	assert.True(t, l.allow("door-a", "invalid"), "a new window starts")
}

func TestSyncQueueCoalescesAndIsFair(t *testing.T) {
	clock := newFakeClock()
	q := newSyncQueue(clock.Now, 1, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	assert.False(t, q.add("door-a", 7))
	assert.True(t, q.add("door-a", 3), "a second request merges")
	assert.True(t, q.add("door-a", 9))
	door, from, ok := q.next(ctx)
	require.True(t, ok)
	assert.Equal(t, "door-a", door)
	assert.Equal(t, uint64(3), from, "the merged request answers from the lowest version")

	// Asked again while being answered: queued once the answer is done, but
	// the door's bucket is empty, so door-b, asking later, goes first.
	assert.False(t, q.add("door-a", 5))
	q.done("door-a")
	assert.False(t, q.add("door-b", 0))
	door, from, ok = q.next(ctx)
	require.True(t, ok)
	assert.Equal(t, "door-b", door)
	assert.Equal(t, uint64(0), from)
	q.done("door-b")

	// door-a waits for its rate: nothing is ready until the clock moves.
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	_, _, ok = q.next(short)
	stop()
	assert.False(t, ok, "the rate-limited door is not answered before its time")
	clock.Advance(time.Second)
	door, from, ok = q.next(ctx)
	require.True(t, ok)
	assert.Equal(t, "door-a", door)
	assert.Equal(t, uint64(5), from)
	q.done("door-a")

	// Idle doors with a full bucket are forgotten.
	clock.Advance(time.Minute)
	short, stop = context.WithTimeout(ctx, 20*time.Millisecond)
	_, _, ok = q.next(short)
	stop()
	assert.False(t, ok)
	assert.Empty(t, q.doors)
}

// fakeUnacked is what the broker would say of each door's unacknowledged
// messages (a door not in it is not connected).
type fakeUnacked struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *fakeUnacked) unacked(door string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.n[door]
	return n, ok
}

func (f *fakeUnacked) set(door string, n int) {
	f.mu.Lock()
	f.n[door] = n
	f.mu.Unlock()
}

// The window counts the answers being sent as well as the doors that have
// not acknowledged theirs: a worker that acquired its place holds it until
// it releases it, so that workers waiting together never all take the same
// free place. acquire with an ended context only tells whether there is
// room now.
func TestAckWindowPlacesAreTakenAtOnce(t *testing.T) {
	doors := &fakeUnacked{n: map[string]int{"door-a": 0, "door-b": 0, "door-c": 0}}
	w := &ackWindow{unacked: doors.unacked, max: 2, doors: map[string]time.Time{}, freed: make(chan struct{}, 1)}
	ended, cancel := context.WithCancel(context.Background())
	cancel()

	require.True(t, w.acquire(ended), "an empty window has room")
	require.True(t, w.acquire(ended), "a window of two has room for a second answer")
	assert.False(t, w.acquire(ended), "two answers being sent fill a window of two")

	// door-a's answer left and was not acknowledged: it keeps its place.
	doors.set("door-a", 1)
	w.release("door-a", true)
	assert.False(t, w.acquire(ended), "door-a's unacknowledged answer and one being sent fill the window")
	// Nothing was sent to door-b: its place is free again.
	w.release("door-b", false)
	require.True(t, w.acquire(ended), "an unused place is free again")
	doors.set("door-c", 1)
	w.release("door-c", true)
	assert.False(t, w.acquire(ended), "door-a and door-c have not acknowledged")

	// door-a acknowledges, door-c leaves: both places are free.
	doors.set("door-a", 0)
	require.True(t, w.acquire(ended))
	doors.mu.Lock()
	delete(doors.n, "door-c")
	doors.mu.Unlock()
	require.True(t, w.acquire(ended))
	assert.False(t, w.acquire(ended))
}
