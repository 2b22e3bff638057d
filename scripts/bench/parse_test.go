package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseText(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []Result
	}{
		{
			name: "standard line with custom metrics",
			out:  "goos: linux\npkg: p\nBenchmarkReadUID/4byte/swc/at-once-2   \t  266150\t      4429 ns/op\t        22.00 spi-tx/op\t     352 B/op\t      11 allocs/op\nPASS\n",
			want: []Result{{Name: "BenchmarkReadUID/4byte/swc/at-once", Procs: 2, Iters: 266150, Metrics: []Metric{
				{4429, "4429", "ns/op"}, {22, "22.00", "spi-tx/op"}, {352, "352", "B/op"}, {11, "11", "allocs/op"}}}},
		},
		{
			name: "name announced, then the whole line (go test -json)",
			out:  "=== RUN   BenchmarkTap\nBenchmarkTap\nBenchmarkTap-2 \t 1000\t 2000 ns/op\t 1.9 tap/put\n",
			want: []Result{{Name: "BenchmarkTap", Procs: 2, Iters: 1000, Metrics: []Metric{{2000, "2000", "ns/op"}, {1.9, "1.9", "tap/put"}}}},
		},
		{
			name: "figures after stray output of the code under test",
			out:  "BenchmarkX-8  \tslog: something happened\nmore noise\n       1\t2680195061 ns/op\t    373107 events/s\n",
			want: []Result{{Name: "BenchmarkX", Procs: 8, Iters: 1, Metrics: []Metric{{2680195061, "2680195061", "ns/op"}, {373107, "373107", "events/s"}}}},
		},
		{
			name: "no GOMAXPROCS suffix when it is 1",
			out:  "BenchmarkDecide \t 500000\t 2400 ns/op\t 2.4 µs/decision\n",
			want: []Result{{Name: "BenchmarkDecide", Procs: 1, Iters: 500000, Metrics: []Metric{{2400, "2400", "ns/op"}, {2.4, "2.4", "µs/decision"}}}},
		},
		{
			name: "a sub-benchmark whose name holds a dash and an equals sign",
			out:  "BenchmarkAppendEvents/sync=FULL/batch=100-2 \t 10\t 5 ns/op\n",
			want: []Result{{Name: "BenchmarkAppendEvents/sync=FULL/batch=100", Procs: 2, Iters: 10, Metrics: []Metric{{5, "5", "ns/op"}}}},
		},
		{
			name: "lines that only look like benchmarks",
			out:  "BenchmarkFoo\n--- FAIL: BenchmarkFoo\n    x_test.go:3: BenchmarkFoo 12 broke\nok  \tp\t1.0s\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := ParseText("p", tt.out)
			for i := range tt.want {
				tt.want[i].Pkg = "p"
			}
			if !equalResults(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalResults(a, b []Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Pkg != b[i].Pkg || a[i].Name != b[i].Name || a[i].Procs != b[i].Procs || a[i].Iters != b[i].Iters || len(a[i].Metrics) != len(b[i].Metrics) {
			return false
		}
		for j := range a[i].Metrics {
			if a[i].Metrics[j] != b[i].Metrics[j] {
				return false
			}
		}
	}
	return true
}

// The text format's failures: the reason follows the "--- FAIL" line.
func TestParseTextOutcomes(t *testing.T) {
	data, err := os.ReadFile("testdata/gotest-skip-fail.txt")
	if err != nil {
		t.Fatal(err)
	}
	res, outs := ParseText("example.com/fix", string(data))
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
	}
	if got, want := strings.Join(names, " "), "BenchmarkOK BenchmarkSub/sqlite BenchmarkStray"; got != want {
		t.Errorf("results %q, want %q", got, want)
	}
	if len(outs) != 1 || outs[0].Name != "BenchmarkFails" || outs[0].Status != Failed || outs[0].Reason != "fix_test.go:27: load: connection refused" {
		t.Errorf("outcomes %+v", outs)
	}
}

func TestParseJSON(t *testing.T) {
	type want struct {
		pkg     string
		results map[string]string // name -> "value unit" of one metric
		outs    map[string]string // name -> "status: reason substring"
		action  string
		elapsed time.Duration
	}
	tests := []struct {
		file string
		want want
	}{
		{
			// A captured run of a package with a benchmark that passes,
			// one that skips, one that fails and one with stray output.
			file: "testdata/gotest-skip-fail.json",
			want: want{
				pkg: "example.com/fix",
				results: map[string]string{
					"BenchmarkOK":         "3.5 spi-tx/op",
					"BenchmarkSub/sqlite": "123456 events/s",
					"BenchmarkStray":      "0 allocs/op",
				},
				outs: map[string]string{
					"BenchmarkSub/postgres": "skipped: SWC_TEST_POSTGRES_URL is not set",
					"BenchmarkFails":        "failed: fix_test.go:27: load: connection refused",
				},
				action:  "fail",
				elapsed: 3162 * time.Millisecond,
			},
		},
		{
			// A captured run of central/credit: month-sized benchmarks
			// whose name and figures come in two output events.
			file: "testdata/gotest-credit.json",
			want: want{
				pkg: Module + "/central/credit",
				results: map[string]string{
					"BenchmarkSettleMonthFromScratch":   "507007 visits",
					"BenchmarkLedgerRebuildMonth":       "373107 events/s",
					"BenchmarkLedgerUpdate/batch=1":     "3199 events/s",
					"BenchmarkLedgerUpdate/batch=500":   "4084 events/s",
					"BenchmarkLedgerUpdate/batch=20000": "15574 events/s",
				},
				outs:    map[string]string{},
				action:  "pass",
				elapsed: 29732 * time.Millisecond,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			run, err := ParseJSON(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(run.Results) != len(tt.want.results) {
				t.Errorf("%d results, want %d: %+v", len(run.Results), len(tt.want.results), run.Results)
			}
			for name, metric := range tt.want.results {
				r, ok := findResult(run, tt.want.pkg, name)
				if !ok {
					t.Errorf("no result %s", name)
					continue
				}
				val, unit, _ := strings.Cut(metric, " ")
				v, ok := r.Metric(unit)
				if !ok || human(v) != human(mustFloat(t, val)) {
					t.Errorf("%s: %s = %v (%v), want %s", name, unit, v, ok, val)
				}
			}
			if len(run.Outcomes) != len(tt.want.outs) {
				t.Errorf("outcomes %+v, want %d", run.Outcomes, len(tt.want.outs))
			}
			for _, o := range run.Outcomes {
				w, ok := tt.want.outs[o.Name]
				status, reason, _ := strings.Cut(w, ": ")
				if !ok || string(o.Status) != status || !strings.Contains(o.Reason, reason) {
					t.Errorf("outcome %+v, want %q", o, w)
				}
			}
			var pr *PackageRun
			for i := range run.Packages {
				if run.Packages[i].Pkg == tt.want.pkg {
					pr = &run.Packages[i]
				}
			}
			if pr == nil || pr.Action != tt.want.action || pr.Elapsed != tt.want.elapsed {
				t.Errorf("package %+v, want %s after %s", pr, tt.want.action, tt.want.elapsed)
			}
		})
	}
}

// A package that does not build, or dies, fails as a whole.
func TestParseJSONPackageFailure(t *testing.T) {
	stream := `{"ImportPath":"example.com/broken [example.com/broken.test]","Action":"build-output","Output":"# example.com/broken\n"}
{"ImportPath":"example.com/broken [example.com/broken.test]","Action":"build-output","Output":"./x_test.go:3:1: syntax error\n"}
{"ImportPath":"example.com/broken [example.com/broken.test]","Action":"build-fail"}
{"Action":"start","Package":"example.com/broken"}
{"Action":"output","Package":"example.com/broken","Output":"FAIL\texample.com/broken [build failed]\n"}
{"Action":"fail","Package":"example.com/broken","Elapsed":0,"FailedBuild":"example.com/broken [example.com/broken.test]"}
{"Action":"start","Package":"example.com/first"}
{"Action":"output","Package":"example.com/first","Output":"FAIL\texample.com/first [build failed]\n"}
{"Action":"fail","Package":"example.com/first","Elapsed":0,"FailedBuild":"example.com/broken [example.com/broken.test]"}
{"Action":"start","Package":"example.com/dies"}
{"Action":"run","Package":"example.com/dies","Test":"BenchmarkBig"}
{"Action":"output","Package":"example.com/dies","Test":"BenchmarkBig","Output":"BenchmarkBig\n"}
{"Action":"output","Package":"example.com/dies","Output":"panic: test timed out after 30m0s\n"}
{"Action":"output","Package":"example.com/dies","Output":"FAIL\texample.com/dies\t1800.1s\n"}
{"Action":"fail","Package":"example.com/dies","Elapsed":1800.1}
`
	run, err := ParseJSON(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"example.com/broken": "syntax error", "example.com/dies": "test timed out",
		"example.com/first": "not run: the build of example.com/broken failed"}
	if len(run.Outcomes) != len(want) {
		t.Fatalf("outcomes %+v", run.Outcomes)
	}
	for _, o := range run.Outcomes {
		if o.Status != Failed || o.Name != "" || !strings.Contains(o.Reason, want[o.Pkg]) {
			t.Errorf("outcome %+v, want a package failure with %q", o, want[o.Pkg])
		}
	}
}

func TestStripProcs(t *testing.T) {
	for _, tt := range []struct{ in, name string }{
		{"BenchmarkTap-2", "BenchmarkTap"},
		{"BenchmarkTap", "BenchmarkTap"},
		{"BenchmarkLedgerUpdate/batch=20000-16", "BenchmarkLedgerUpdate/batch=20000"},
		{"BenchmarkReadUID/4byte/swc/at-once", "BenchmarkReadUID/4byte/swc/at-once"},
		{"BenchmarkReadUID/4byte/swc/at-once-2", "BenchmarkReadUID/4byte/swc/at-once"},
		{"BenchmarkX-", "BenchmarkX-"},
	} {
		if got := stripProcs(tt.in); got != tt.name {
			t.Errorf("stripProcs(%q) = %q, want %q", tt.in, got, tt.name)
		}
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
