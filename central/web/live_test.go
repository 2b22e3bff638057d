package web

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics"
)

// TestHubReplaysTheNewestEvents: a reconnecting stream gets the kept
// events after its last one, oldest first, also once the replay ring has
// wrapped around (the oldest then dropped), and only those it allows;
// a repeat of a door's sequence number is not kept twice.
func TestHubReplaysTheNewestEvents(t *testing.T) {
	for _, published := range []int{10, replayRing, replayRing + 1, 3*replayRing + 17} {
		h := &hub{subs: map[*subscriber]bool{}, seen: map[string]*seqSet{}, next: 1,
			clients: metrics.NewRegistry().Gauge("streams", "test")}
		for i := 1; i <= published; i++ {
			door := []string{"d1", "d2"}[i%2]
			h.publish(door, uint64(i), eventView{Door: door})
			h.publish(door, uint64(i), eventView{Door: door}) // sent again
		}
		all := func(*eventView) bool { return true }
		ids := func(vs []eventView) []uint64 {
			out := make([]uint64, len(vs))
			for i, v := range vs {
				out[i] = v.ID
			}
			return out
		}
		want := func(from, to uint64) []uint64 {
			var out []uint64
			for id := from; id <= to; id++ {
				out = append(out, id)
			}
			return out
		}
		last := uint64(published)
		oldest := last - uint64(min(published, replayRing)) + 1

		_, replay := h.subscribe(last-5, all)
		assert.Equal(t, want(last-4, last), ids(replay), "%d published: the last five", published)
		_, replay = h.subscribe(1, all)
		assert.Equal(t, want(max(oldest, 2), last), ids(replay), "%d published: every kept one after the first", published)
		_, replay = h.subscribe(last, all)
		assert.Empty(t, replay, "%d published: nothing after the newest", published)
		_, replay = h.subscribe(1, func(v *eventView) bool { return v.Door == "d1" })
		require.NotEmpty(t, replay)
		for i, v := range replay {
			assert.Equal(t, "d1", v.Door)
			if i > 0 {
				assert.Equal(t, replay[i-1].ID+2, v.ID, "%d published: d1's in order", published)
			}
		}
		assert.Equal(t, published+1, int(h.next), "repeats are not published")
	}
}
