// Package metrics is a small registry of counters, gauges and histograms
// exposed in the Prometheus text format (version 0.0.4). Both swc-edge and
// swc-central use it; it keeps the Pi binary free of the Prometheus client's
// dependencies while producing the same exposition.
//
// Names follow Prometheus conventions and are checked at registration:
// counters end in "_total", and every name is lower snake case.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Registry holds metrics in registration order.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
	names   map[string]bool
}

type metric interface {
	write(w *bufio.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

func (r *Registry) add(name, help, typ string, labels []string, m metric) {
	if !nameRE.MatchString(name) {
		panic(fmt.Sprintf("metrics: invalid name %q", name))
	}
	if typ == "counter" && !strings.HasSuffix(name, "_total") {
		panic(fmt.Sprintf("metrics: counter %q must end in _total", name))
	}
	if typ != "counter" && strings.HasSuffix(name, "_total") {
		panic(fmt.Sprintf("metrics: %s %q must not end in _total", typ, name))
	}
	for _, l := range labels {
		if !nameRE.MatchString(l) || strings.HasPrefix(l, "__") {
			panic(fmt.Sprintf("metrics: invalid label %q on %q", l, name))
		}
	}
	if help == "" {
		panic(fmt.Sprintf("metrics: %q needs help text", name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic(fmt.Sprintf("metrics: %q registered twice", name))
	}
	r.names[name] = true
	r.metrics = append(r.metrics, m)
}

// header writes the HELP and TYPE lines.
func header(w *bufio.Writer, name, help, typ string) {
	help = strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help)
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func labelString(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	esc := strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	n := 0
	for i := range names {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(names[i] + `="` + esc.Replace(values[i]) + `"`)
		n++
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extra[i] + `="` + extra[i+1] + `"`)
		n++
	}
	b.WriteByte('}')
	return b.String()
}

// WriteText writes every metric in the text exposition format.
func (r *Registry) WriteText(out io.Writer) error {
	r.mu.Lock()
	ms := append([]metric(nil), r.metrics...)
	r.mu.Unlock()
	w := bufio.NewWriter(out)
	for _, m := range ms {
		m.write(w)
	}
	return w.Flush()
}

// Handler serves the registry at a /metrics endpoint.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = r.WriteText(w)
	})
}

// Counter is a monotonically increasing count.
type Counter struct {
	name, help string
	v          atomic.Uint64
}

// Counter registers a counter; name must end in _total.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{name: name, help: help}
	r.add(name, help, "counter", nil, c)
	return c
}

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the count.
func (c *Counter) Value() uint64 { return c.v.Load() }

func (c *Counter) write(w *bufio.Writer) {
	header(w, c.name, c.help, "counter")
	fmt.Fprintf(w, "%s %d\n", c.name, c.v.Load())
}

// Gauge is a value that goes up and down.
type Gauge struct {
	name, help string
	bits       atomic.Uint64
	fn         func() float64
}

// Gauge registers a gauge that the program sets.
func (r *Registry) Gauge(name, help string) *Gauge {
	g := &Gauge{name: name, help: help}
	r.add(name, help, "gauge", nil, g)
	return g
}

// GaugeFunc registers a gauge whose value is read from fn at scrape time.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.add(name, help, "gauge", nil, &Gauge{name: name, help: help, fn: fn})
}

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds d (which may be negative).
func (g *Gauge) Add(d float64) {
	for {
		old := g.bits.Load()
		if g.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Value returns the value.
func (g *Gauge) Value() float64 {
	if g.fn != nil {
		return g.fn()
	}
	return math.Float64frombits(g.bits.Load())
}

func (g *Gauge) write(w *bufio.Writer) {
	header(w, g.name, g.help, "gauge")
	fmt.Fprintf(w, "%s %s\n", g.name, formatFloat(g.Value()))
}

// vec holds one child per label-value combination.
type vec[T any] struct {
	mu       sync.Mutex
	labels   []string
	children map[string]*child[T]
	make     func() *T
}

type child[T any] struct {
	values []string
	m      *T
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %d label values for labels %v", len(values), v.labels))
	}
	key := strings.Join(values, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.children[key]
	if !ok {
		c = &child[T]{values: append([]string(nil), values...), m: v.make()}
		v.children[key] = c
	}
	return c.m
}

func (v *vec[T]) sorted() []*child[T] {
	v.mu.Lock()
	out := make([]*child[T], 0, len(v.children))
	for _, c := range v.children {
		out = append(out, c)
	}
	v.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		return strings.Join(out[i].values, "\xff") < strings.Join(out[j].values, "\xff")
	})
	return out
}

// CounterVec is a family of counters told apart by labels.
type CounterVec struct {
	name, help string
	vec[Counter]
}

// CounterVec registers a labelled counter family.
func (r *Registry) CounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{name: name, help: help}
	c.labels, c.children, c.make = labels, map[string]*child[Counter]{}, func() *Counter { return &Counter{} }
	r.add(name, help, "counter", labels, c)
	return c
}

// With returns the counter for the label values, in label order.
func (c *CounterVec) With(values ...string) *Counter { return c.with(values) }

func (c *CounterVec) write(w *bufio.Writer) {
	header(w, c.name, c.help, "counter")
	for _, ch := range c.sorted() {
		fmt.Fprintf(w, "%s%s %d\n", c.name, labelString(c.labels, ch.values), ch.m.v.Load())
	}
}

// GaugeVec is a family of gauges told apart by labels.
type GaugeVec struct {
	name, help string
	vec[Gauge]
}

// GaugeVec registers a labelled gauge family.
func (r *Registry) GaugeVec(name, help string, labels ...string) *GaugeVec {
	g := &GaugeVec{name: name, help: help}
	g.labels, g.children, g.make = labels, map[string]*child[Gauge]{}, func() *Gauge { return &Gauge{} }
	r.add(name, help, "gauge", labels, g)
	return g
}

// With returns the gauge for the label values, in label order.
func (g *GaugeVec) With(values ...string) *Gauge { return g.with(values) }

// Delete removes the child for the label values.
func (g *GaugeVec) Delete(values ...string) {
	g.mu.Lock()
	delete(g.children, strings.Join(values, "\xff"))
	g.mu.Unlock()
}

func (g *GaugeVec) write(w *bufio.Writer) {
	header(w, g.name, g.help, "gauge")
	for _, ch := range g.sorted() {
		fmt.Fprintf(w, "%s%s %s\n", g.name, labelString(g.labels, ch.values), formatFloat(ch.m.Value()))
	}
}

// Histogram counts observations in cumulative buckets.
type Histogram struct {
	name, help string
	bounds     []float64
	mu         sync.Mutex
	counts     []uint64 // per bucket, not cumulative; last is +Inf
	sum        float64
	count      uint64
}

// LatencyBuckets returns bounds that suit latencies in seconds from 100 µs
// to 10 s.
func LatencyBuckets() []float64 {
	return []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// Histogram registers a histogram with the given upper bounds (ascending).
func (r *Registry) Histogram(name, help string, bounds []float64) *Histogram {
	if !sort.Float64sAreSorted(bounds) || len(bounds) == 0 {
		panic(fmt.Sprintf("metrics: histogram %q needs ascending bounds", name))
	}
	h := &Histogram{name: name, help: help, bounds: append([]float64(nil), bounds...), counts: make([]uint64, len(bounds)+1)}
	r.add(name, help, "histogram", nil, h)
	return h
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.count++
	h.mu.Unlock()
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

func (h *Histogram) write(w *bufio.Writer) {
	h.mu.Lock()
	counts := append([]uint64(nil), h.counts...)
	sum, count := h.sum, h.count
	h.mu.Unlock()
	header(w, h.name, h.help, "histogram")
	var cum uint64
	for i, b := range h.bounds {
		cum += counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", h.name, formatFloat(b), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", h.name, count)
	fmt.Fprintf(w, "%s_sum %s\n%s_count %d\n", h.name, formatFloat(sum), h.name, count)
}
