package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("swc_taps_total", "Badge taps seen.")
	cv := r.CounterVec("swc_rejected_total", "Rejected messages by reason.", "reason")
	g := r.Gauge("swc_outbox_depth", "Events waiting.")
	r.GaugeFunc("swc_up", "Always 1.", func() float64 { return 1 })
	gv := r.GaugeVec("swc_door_online", "Door online.", "door")
	h := r.Histogram("swc_latency_seconds", "Latency.", []float64{0.1, 1})

	c.Add(3)
	cv.With("bad_signature").Inc()
	cv.With("too_large").Add(2)
	g.Set(5)
	g.Add(-1.5)
	gv.With(`d"1`).Set(1)
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(5)

	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Contains(t, resp.Header.Get("Content-Type"), "version=0.0.4")
	body, _ := io.ReadAll(resp.Body)
	want := `# HELP swc_taps_total Badge taps seen.
# TYPE swc_taps_total counter
swc_taps_total 3
# HELP swc_rejected_total Rejected messages by reason.
# TYPE swc_rejected_total counter
swc_rejected_total{reason="bad_signature"} 1
swc_rejected_total{reason="too_large"} 2
# HELP swc_outbox_depth Events waiting.
# TYPE swc_outbox_depth gauge
swc_outbox_depth 3.5
# HELP swc_up Always 1.
# TYPE swc_up gauge
swc_up 1
# HELP swc_door_online Door online.
# TYPE swc_door_online gauge
swc_door_online{door="d\"1"} 1
# HELP swc_latency_seconds Latency.
# TYPE swc_latency_seconds histogram
swc_latency_seconds_bucket{le="0.1"} 1
swc_latency_seconds_bucket{le="1"} 2
swc_latency_seconds_bucket{le="+Inf"} 3
swc_latency_seconds_sum 5.55
swc_latency_seconds_count 3
`
	assert.Equal(t, want, string(body))
}

func TestNamingRules(t *testing.T) {
	tests := map[string]func(r *Registry){
		"counter without _total": func(r *Registry) { r.Counter("swc_taps", "x") },
		"gauge with _total":      func(r *Registry) { r.Gauge("swc_taps_total", "x") },
		"upper case":             func(r *Registry) { r.Gauge("SWC", "x") },
		"no help":                func(r *Registry) { r.Gauge("swc_x", "") },
		"twice":                  func(r *Registry) { r.Gauge("swc_x", "x"); r.Gauge("swc_x", "x") },
		"bad label":              func(r *Registry) { r.CounterVec("swc_x_total", "x", "Bad") },
		"unsorted buckets":       func(r *Registry) { r.Histogram("swc_h", "x", []float64{2, 1}) },
	}
	for name, f := range tests {
		assert.Panics(t, func() { f(NewRegistry()) }, name)
	}
}

func TestConcurrentUse(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("swc_n_total", "n")
	cv := r.CounterVec("swc_v_total", "v", "k")
	h := r.Histogram("swc_h_seconds", "h", LatencyBuckets())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				c.Inc()
				cv.With("a").Inc()
				h.Observe(0.001)
				_ = r.WriteText(io.Discard)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, uint64(8000), c.Value())
	assert.Equal(t, uint64(8000), cv.With("a").Value())
	assert.Equal(t, uint64(8000), h.Count())
	var sb strings.Builder
	require.NoError(t, r.WriteText(&sb))
	assert.Contains(t, sb.String(), `swc_v_total{k="a"} 8000`)
}
