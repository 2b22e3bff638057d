package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// fakeClock is a clock that moves only when the test says so.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logBuffer collects log output written from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// startOn starts an ingest on broker with the test's clock and log, and
// waits until it answers sync requests (like start).
func startOn(t *testing.T, b testBroker, clock *fakeClock, logw io.Writer) *harness {
	t.Helper()
	h := &harness{store: newMemStore(), wl: newCompiler(t), reg: metrics.NewRegistry(), broker: b.addr}
	in, err := New(b.config(Config{ShareGroup: "ingest", RetryBackoff: 5 * time.Millisecond, Now: clock.Now}),
		h.store, h.wl, slog.New(slog.NewTextHandler(logw, nil)), h.reg)
	require.NoError(t, err)
	h.in = in
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.stopped = cancel, make(chan error, 1)
	go func() { h.stopped <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.stopped:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("ingest did not stop")
		}
	})
	// Wait until the ingest reads the events, status and sync topics: a bad
	// message on each is rejected. (A valid sync request, as start sends,
	// would count in the sync metrics the tests look at.)
	d := h.door(t, "probe")
	probes := map[string]string{ // reason: topic kind
		"truncated":           protocol.TopicEvents,
		"unsupported_version": protocol.TopicStatus,
		"wrong_door":          protocol.TopicSync,
	}
	payloads := map[string]string{"truncated": `{"v":1`, "unsupported_version": `{"v":2}`, "wrong_door": `{"v":1,"door":"door-z","from":0}`}
	require.Eventually(t, func() bool {
		ok := true
		for reason, kind := range probes {
			if !strings.Contains(h.metrics(), fmt.Sprintf("swc_ingest_rejected_messages_total{reason=%q}", reason)) {
				d.publish(t, kind, payloads[reason])
				ok = false
			}
		}
		return ok
	}, 10*time.Second, 50*time.Millisecond, "the ingest never subscribed")
	return h
}

func (h *harness) counter(name string) string {
	for _, line := range strings.Split(h.metrics(), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

// TestRejectionFloodIsBoundedInTheLog floods the ingest with big bad
// messages on every topic it reads (events, sync and status), each of which
// carries its 250 KiB payload into the rejection's error: the log stays
// small, every rejection is counted by reason, another door's rejection is
// still logged, and the suppressed ones are summarised once the window ends.
func TestRejectionFloodIsBoundedInTheLog(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		clock := newFakeClock()
		var logs logBuffer
		h := startOn(t, tb, clock, &logs)
		a := h.door(t, "door-a")
		big := strings.Repeat("x", 250<<10)
		bad := []struct{ kind, payload, reason string }{
			{protocol.TopicEvents, `{"v":1,"door":"door-a","events":[],"` + big + `":1}`, "unknown_field"},
			{protocol.TopicSync, `{"v":1,"door":"` + big + `","from":0}`, "invalid"},
			{protocol.TopicStatus, `{"v":1,"door":"` + big + `","state":"online"}`, "invalid"},
		}
		const rounds = 50
		for i := 0; i < rounds; i++ {
			for _, m := range bad {
				a.publish(t, m.kind, m.payload)
			}
		}
		require.Eventually(t, func() bool {
			return strings.Contains(h.metrics(), fmt.Sprintf(`swc_ingest_rejected_messages_total{reason="unknown_field"} %d`, rounds)) &&
				strings.Contains(h.metrics(), fmt.Sprintf(`swc_ingest_rejected_messages_total{reason="invalid"} %d`, 2*rounds))
		}, 30*time.Second, 20*time.Millisecond, "every rejection is counted; metrics: %s", h.metrics())

		// Another door's rejection in the same window is logged: the limit is per door.
		b := h.door(t, "door-b")
		b.publish(t, protocol.TopicEvents, `{"v":1,"door":"door-b","events":[`)
		require.Eventually(t, func() bool {
			return strings.Contains(logs.String(), "door=door-b")
		}, 10*time.Second, 10*time.Millisecond, "door-b's rejection is logged")

		assert.Less(t, logs.Len(), 32<<10, "150 rejections of 250 KiB wrote a bounded log")
		longest := ""
		for _, line := range strings.Split(logs.String(), "\n") {
			if len(line) > len(longest) {
				longest = line
			}
		}
		assert.Less(t, len(longest), 2048, "a log line holds an excerpt, not the payload: %.300s", longest)
		assert.True(t, strings.Contains(logs.String(), "payload_bytes="), "the excerpt names the message's size")

		// After the window, the next rejection brings the summary of what was
		// suppressed, by reason.
		clock.Advance(time.Minute)
		a.publish(t, protocol.TopicEvents, `{"v":1,"door":"door-a","events":[`)
		require.Eventually(t, func() bool {
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "rejections suppressed") && strings.Contains(line, "door=door-a") &&
					strings.Contains(line, fmt.Sprintf("suppressed=%d", 3*rounds-rejectLogBurst)) &&
					strings.Contains(line, "unknown_field=") && strings.Contains(line, "invalid=") {
					return true
				}
			}
			return false
		}, 10*time.Second, 10*time.Millisecond, "summary of the suppressed rejections; log:\n%.8000s", logs.String())
	})
}

// TestSyncFloodIsCoalescedAndRateLimited has one door send thousands of
// sync requests: it is answered a bounded number of times (with the clock
// standing still, at most the burst), its requests are counted as merged,
// another door's request is answered meanwhile, and once the door's rate
// allows, its one pending request is answered.
func TestSyncFloodIsCoalescedAndRateLimited(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		clock := newFakeClock()
		h := startOn(t, tb, clock, io.Discard)
		a := h.door(t, "door-a")
		const flood = 2000
		for i := 0; i < flood; i++ {
			a.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
		}

		b := h.door(t, "door-b")
		b.publish(t, protocol.TopicSync, `{"v":1,"door":"door-b","from":0}`)
		require.Eventually(t, func() bool { return len(b.whitelists(t)) == 1 }, 10*time.Second, 10*time.Millisecond,
			"the other door's sync is answered during the flood")

		// Wait until every request is queued, no answer is being sent and
		// every answer sent has arrived: with the clock standing still,
		// nothing more happens.
		assert.Eventually(t, func() bool {
			if h.counter("swc_whitelist_sync_requests_received_total") != fmt.Sprint(flood+1) {
				return false
			}
			h.in.syncq.mu.Lock()
			for _, d := range h.in.syncq.doors {
				if d.serving {
					h.in.syncq.mu.Unlock()
					return false
				}
			}
			h.in.syncq.mu.Unlock()
			return uint64(len(a.whitelists(t))+len(b.whitelists(t))) == h.in.syncs.Value()
		}, 10*time.Second, 10*time.Millisecond, "every request of the flood reached the ingest")
		answered := len(a.whitelists(t))
		assert.GreaterOrEqual(t, answered, 1, "the flooding door is answered")
		require.LessOrEqual(t, answered, syncBurst, "the flooding door got at most its burst of snapshots")
		// Every request but the answered ones and (at most) one pending was merged.
		merged, err := strconv.Atoi(h.counter("swc_whitelist_sync_requests_coalesced_total"))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, merged, flood-answered-1, "merged requests are counted")
		assert.LessOrEqual(t, merged, flood-answered)

		// The door's rate allows another answer: its pending request (all
		// the merged ones, and one more) is answered once.
		clock.Advance(syncInterval)
		a.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
		require.Eventually(t, func() bool { return len(a.whitelists(t)) == answered+1 }, 10*time.Second, 10*time.Millisecond)
		clock.Advance(time.Minute)
		b.publish(t, protocol.TopicSync, `{"v":1,"door":"door-b","from":0}`)
		require.Eventually(t, func() bool { return len(b.whitelists(t)) == 2 }, 10*time.Second, 10*time.Millisecond)
		assert.Len(t, a.whitelists(t), answered+1, "nothing more was pending for the flooding door")
	})
}
