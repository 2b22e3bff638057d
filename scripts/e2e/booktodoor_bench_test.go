package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// bookToDoorSamples is how many bookings one iteration of
// BenchmarkBookToDoor makes: enough for a p99 worth its name in one run.
const bookToDoorSamples = 100

// BenchmarkBookToDoor measures issue 15's "booking made on the site →
// delta accepted by the door" end to end on loopback: a real swc-central
// (embedded broker, SQLite) and a real swc-edge process (simulated reader,
// its own bbolt store and sync). Each sample books a desk for the member
// through the member booking endpoint (POST /members/{id}/bookings, the
// site's path through central/booking) and waits until the door reports a
// newer whitelist version — the signed delta verified and applied by the
// door. The booking is then cancelled, and the door's removal awaited,
// outside the measurement. Metrics: p50-s and p99-s of the samples
// (target ≤ 2 s each).
func BenchmarkBookToDoor(b *testing.B) {
	n := newNetwork(b, netOpts{doors: 1})
	c, d := n.centrals[0], n.doors["door-0"]
	synced(b, d)
	// Book at any hour of the run (the seeded center has no opening hours)
	// and cancel up to the start.
	c.must("PUT", "/centers/c1/booking-rules", map[string]any{"max_advance_days": 60, "min_minutes": 30, "max_minutes": 720,
		"max_open_bookings": 0, "cancel_deadline_minutes": 0, "nomads_book_rooms": true, "within_opening_hours": false, "release_after_minutes": 0})
	c.must("PUT", "/centers/c1/desks", map[string]any{"capacity": 10})

	var samples []time.Duration
	b.ResetTimer()
	for range b.N {
		for range bookToDoorSamples {
			start := time.Now().UTC().Add(30 * time.Minute).Truncate(time.Minute)
			v := d.whitelistVersion()
			t0 := time.Now()
			out := c.must("POST", "/members/m1/bookings", map[string]any{"center_id": "c1",
				"start": start.Format(time.RFC3339), "end": start.Add(time.Hour).Format(time.RFC3339)})
			for d.whitelistVersion() <= v {
				if time.Since(t0) > wait {
					b.Fatalf("the booking did not reach the door in %v", wait)
				}
				time.Sleep(2 * time.Millisecond)
			}
			samples = append(samples, time.Since(t0))

			b.StopTimer()
			var bk struct{ ID string }
			require.NoError(b, json.Unmarshal(out, &bk))
			require.NotEmpty(b, bk.ID, "%s", out)
			v = d.whitelistVersion()
			c.must("POST", "/members/m1/bookings/"+bk.ID+"/cancel", nil)
			eventually(b, func() bool { return d.whitelistVersion() > v }, "the cancellation reached the door")
			b.StartTimer()
		}
	}
	b.StopTimer()
	slices.Sort(samples)
	pct := func(p float64) float64 { return samples[int(p*float64(len(samples)-1))].Seconds() }
	b.ReportMetric(pct(0.50), "p50-s")
	b.ReportMetric(pct(0.99), "p99-s")
}
