package metrics_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/metrics/metricstest"
)

// TestExpositionPassesPromtool: every kind of metric the registry writes,
// with labels needing escapes, passes `promtool check metrics`.
func TestExpositionPassesPromtool(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("swc_test_taps_total", "Taps seen.").Add(3)
	r.Gauge("swc_test_outbox_events", "Events waiting.").Set(2.5)
	r.GaugeFunc("swc_test_clock_trusted", "1 when the clock is trusted.", func() float64 { return 1 })
	r.CounterVec("swc_test_decisions_total", "Decisions by reason.", "reason").With(`a "quoted"\ reason`).Inc()
	r.GaugeVec("swc_test_door_state", "Door state by door.", "door").With("d1").Set(1)
	h := r.Histogram("swc_test_decide_seconds", "Decision latency.", metrics.LatencyBuckets())
	h.Observe(0.002)
	h.Observe(3)
	var buf bytes.Buffer
	require.NoError(t, r.WriteText(&buf))
	metricstest.Check(t, buf.Bytes())
}
