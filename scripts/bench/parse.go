package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Metric is one value of a benchmark line: "1234 ns/op", "3.5 spi-tx/op".
type Metric struct {
	Value float64
	Raw   string // the value as go test printed it
	Unit  string
}

// Result is one benchmark line of a run.
type Result struct {
	Pkg     string // import path
	Name    string // BenchmarkX/sub, without the -GOMAXPROCS suffix
	Procs   int    // the -GOMAXPROCS suffix, 1 when absent
	Iters   int64
	Metrics []Metric
}

// Metric returns the value reported in unit.
func (r Result) Metric(unit string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Unit == unit {
			return m.Value, true
		}
	}
	return 0, false
}

// Outcome says how a benchmark that printed no line ended.
type Outcome struct {
	Pkg    string
	Name   string
	Status Status // Skipped or Failed
	Reason string // the benchmark's own words (its log lines)
}

// Status of a benchmark or package in a run.
type Status string

// Statuses.
const (
	Skipped Status = "skipped"
	Failed  Status = "failed"
)

// PackageRun is one package of a go test run.
type PackageRun struct {
	Pkg     string
	Action  string // pass, fail or skip (no test files); "" when the stream ended early
	Elapsed time.Duration
	Output  string // everything the package printed, in order
}

// Run is what a go test -json run printed, parsed.
type Run struct {
	Packages []PackageRun
	Results  []Result
	Outcomes []Outcome
}

// testEvent is one line of `go test -json` (cmd/test2json).
type testEvent struct {
	Time        time.Time
	Action      string
	Package     string
	ImportPath  string // of build-output and build-fail
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string // the package whose build failed, on a package's fail
}

// ParseJSON reads the stream of `go test -json` and parses the benchmark
// lines, skips and failures of every package. Lines that are not JSON (an
// error printed by go itself) are kept as output of the package "".
//
// Under -json a benchmark's log lines come before its "--- SKIP" or
// "--- FAIL" line, so the reasons are taken from the benchmark's own
// output events rather than from the text.
func ParseJSON(r io.Reader) (Run, error) {
	type pkgState struct {
		out         strings.Builder
		action      string
		elapsed     float64
		failedBuild string
		tests       map[string]*strings.Builder // output per benchmark
		outcomes    []Outcome
	}
	pkgs := map[string]*pkgState{}
	var order []string
	get := func(p string) *pkgState {
		s, ok := pkgs[p]
		if !ok {
			s = &pkgState{tests: map[string]*strings.Builder{}}
			pkgs[p] = s
			order = append(order, p)
		}
		return s
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var e testEvent
		if line[0] != '{' || json.Unmarshal(line, &e) != nil {
			s := get("")
			s.out.Write(line)
			s.out.WriteByte('\n')
			continue
		}
		if e.Package == "" && e.ImportPath != "" {
			e.Package, _, _ = strings.Cut(e.ImportPath, " ") // "pkg [pkg.test]"
		}
		s := get(e.Package)
		switch e.Action {
		case "output", "build-output":
			s.out.WriteString(e.Output)
			if e.Test != "" {
				tb, ok := s.tests[e.Test]
				if !ok {
					tb = &strings.Builder{}
					s.tests[e.Test] = tb
				}
				tb.WriteString(e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				s.action, s.elapsed, s.failedBuild = e.Action, e.Elapsed, e.FailedBuild
				break
			}
			if e.Action == "pass" || !strings.HasPrefix(e.Test, "Benchmark") {
				break
			}
			st := Skipped
			if e.Action == "fail" {
				st = Failed
			}
			var reason string
			if tb := s.tests[e.Test]; tb != nil {
				reason = logLines(tb.String())
			}
			s.outcomes = append(s.outcomes, Outcome{Pkg: e.Package, Name: e.Test, Status: st, Reason: reason})
		case "build-fail":
			s.action = "fail"
		}
	}
	if err := sc.Err(); err != nil {
		return Run{}, fmt.Errorf("read go test output: %w", err)
	}
	var run Run
	for _, p := range order {
		s := pkgs[p]
		out := s.out.String()
		run.Packages = append(run.Packages, PackageRun{Pkg: p, Action: s.action,
			Elapsed: time.Duration(math.Round(s.elapsed*1000)) * time.Millisecond, Output: out})
		if p == "" {
			continue
		}
		res, _ := ParseText(p, out)
		run.Results = append(run.Results, res...)
		outs := innermost(s.outcomes)
		run.Outcomes = append(run.Outcomes, outs...)
		if s.action == "fail" && !hasFailure(outs) {
			// The package failed around its benchmarks: a build error, a
			// panic, a timeout. Its last lines say why.
			reason := tail(out, 12)
			if b, _, _ := strings.Cut(s.failedBuild, " "); b != "" && b != p {
				// go test starts the first benchmark run after every build,
				// so one package that does not build fails another's run.
				reason = fmt.Sprintf("not run: the build of %s failed\n%s", b, reason)
			}
			run.Outcomes = append(run.Outcomes, Outcome{Pkg: p, Status: Failed, Reason: reason})
		}
	}
	return run, nil
}

// logLines keeps a benchmark's log lines ("    file_test.go:12: message"
// and their continuations) from its output, without go test's framing.
func logLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimPrefix(strings.TrimRight(l, "\r"), "\x16")
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--- ") {
				keep = append(keep, t)
			}
		}
	}
	return strings.Join(keep, "\n")
}

// innermost drops the outcome of a benchmark that failed or skipped only
// because a sub-benchmark of it did, keeping the sub-benchmark's.
func innermost(outs []Outcome) []Outcome {
	var kept []Outcome
	for _, o := range outs {
		covered := false
		if o.Reason == "" {
			for _, c := range outs {
				if c.Status == o.Status && strings.HasPrefix(c.Name, o.Name+"/") {
					covered = true
					break
				}
			}
		}
		if !covered {
			kept = append(kept, o)
		}
	}
	return kept
}

func hasFailure(outs []Outcome) bool {
	for _, o := range outs {
		if o.Status == Failed {
			return true
		}
	}
	return false
}

// ParseText parses the standard benchmark text format of one package: the
// result lines ("BenchmarkX/sub-2  100  123 ns/op  4 B/op ...") and the
// "--- SKIP:" and "--- FAIL:" blocks of benchmarks, with their indented
// log lines as the reason.
func ParseText(pkg, out string) ([]Result, []Outcome) {
	var (
		results  []Result
		outcomes []Outcome
		pending  string // a benchmark name printed before its figures
		block    *Outcome
	)
	flush := func() {
		if block != nil {
			block.Reason = strings.TrimSpace(block.Reason)
			outcomes = append(outcomes, *block)
			block = nil
		}
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		// test2json's framing for benchmarks under -json.
		line = strings.TrimPrefix(line, "\x16")
		trimmed := strings.TrimSpace(line)
		st, name, isOutcome := outcomeLine(trimmed)
		if block != nil {
			if !isOutcome && strings.HasPrefix(line, "    ") && trimmed != "" {
				block.Reason += trimmed + "\n"
				continue
			}
			flush()
		}
		if isOutcome {
			if !strings.HasPrefix(name, "Benchmark") {
				continue
			}
			if st == "" { // --- BENCH: the log of a benchmark that ran
				continue
			}
			block = &Outcome{Pkg: pkg, Name: name, Status: st}
			if pending != "" && stripProcs(pending) == name {
				pending = ""
			}
			continue
		}
		if !strings.HasPrefix(trimmed, "Benchmark") {
			// The figures of a pending name may follow stray output.
			if pending != "" {
				if r, ok := parseFigures(pkg, pending, trimmed); ok {
					results = append(results, r)
					pending = ""
				}
			}
			continue
		}
		fields := strings.Fields(trimmed)
		if len(fields) == 1 {
			pending = fields[0]
			continue
		}
		if r, ok := parseFigures(pkg, fields[0], strings.Join(fields[1:], " ")); ok {
			results = append(results, r)
			pending = ""
		} else {
			// The name, then something else printed before the figures.
			pending = fields[0]
		}
	}
	flush()
	// A parent whose sub-benchmarks ran reports "--- FAIL" or "--- SKIP"
	// only through them; keep each outcome once.
	sort.SliceStable(outcomes, func(i, j int) bool { return outcomes[i].Name < outcomes[j].Name })
	outcomes = dedupe(outcomes)
	return results, outcomes
}

func dedupe(outs []Outcome) []Outcome {
	var kept []Outcome
	for _, o := range outs {
		if n := len(kept); n > 0 && kept[n-1].Name == o.Name && kept[n-1].Status == o.Status {
			if kept[n-1].Reason == "" {
				kept[n-1].Reason = o.Reason
			}
			continue
		}
		kept = append(kept, o)
	}
	return kept
}

// outcomeLine recognises "--- FAIL: Name (0.00s)", "--- SKIP: ..." and
// "--- BENCH: ..." (status "").
func outcomeLine(s string) (Status, string, bool) {
	for prefix, st := range map[string]Status{"--- FAIL: ": Failed, "--- SKIP: ": Skipped, "--- BENCH: ": ""} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			name, _, _ := strings.Cut(rest, " ")
			return st, stripProcs(name), true
		}
	}
	return "", "", false
}

// parseFigures parses "100  123 ns/op  4 B/op ..." of the benchmark name.
func parseFigures(pkg, name, figures string) (Result, bool) {
	f := strings.Fields(figures)
	if len(f) < 3 || len(f)%2 != 1 {
		return Result{}, false
	}
	iters, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return Result{}, false
	}
	r := Result{Pkg: pkg, Name: stripProcs(name), Procs: procs(name), Iters: iters}
	for i := 1; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, false
		}
		r.Metrics = append(r.Metrics, Metric{Value: v, Raw: f[i], Unit: f[i+1]})
	}
	return r, true
}

// stripProcs removes the -GOMAXPROCS suffix go test adds to names.
func stripProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 || strings.Contains(name[i:], "/") {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

func procs(name string) int {
	if s := stripProcs(name); s != name {
		n, _ := strconv.Atoi(name[len(s)+1:])
		return n
	}
	return 1
}

// tail returns the last n non-empty lines of s.
func tail(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimRight(l, "\r"))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
