package sync

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestBackoff: the first attempts after an outage come 1-2 s apart (a
// central restart is over in seconds), then the wait doubles up to
// max_reconnect; always jittered over [d/2, d].
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      time.Duration
		attempt  int64
		min, top time.Duration
	}{
		{"first attempt", time.Minute, 0, time.Second, 2 * time.Second},
		{"still quick", time.Minute, quickAttempts - 1, time.Second, 2 * time.Second},
		{"quick ones over", time.Minute, quickAttempts, time.Second, 2 * time.Second},
		{"then doubling", time.Minute, quickAttempts + 1, 2 * time.Second, 4 * time.Second},
		{"twice more", time.Minute, quickAttempts + 2, 4 * time.Second, 8 * time.Second},
		{"up to max_reconnect", time.Minute, 100, 30 * time.Second, time.Minute},
		{"max_reconnect below the quick wait", time.Second, 0, 500 * time.Millisecond, time.Second},
		{"max_reconnect below the quick wait, later", time.Second, 100, 500 * time.Millisecond, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sync{cfg: Config{MaxReconnect: tc.max}}
			for range 200 {
				d := s.backoff(tc.attempt)
				assert.GreaterOrEqual(t, d, tc.min)
				assert.LessOrEqual(t, d, tc.top)
			}
		})
	}
}
