package main

import (
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Step is one command the run executed, as the report shows it.
type Step struct {
	Command string
	Took    time.Duration
	CPU     time.Duration // of the command and what it waited for
	Others  time.Duration // CPU time of everything else meanwhile
	Timed   bool          // its figures are times and rates a busy machine lowers
	Name    string        // what it is, in words
	Note    string
}

// Report is everything BENCHMARKS.md is written from.
type Report struct {
	Started  time.Time
	Took     time.Duration
	Source   Source
	Machine  Machine
	Services []string // what the run was given for PostgreSQL and Mosquitto
	Steps    []Step
	Load     Load // the machine during the whole run
	Bench    Run
	Fleets   []FleetOutcome // one per size of --fleet-doors, in the order they ran
}

// disturbedCores is the average number of cores other processes may keep
// busy before the report says the timings were disturbed: more than the
// PostgreSQL server's share of a run.
const disturbedCores = 0.25

// Verdict words.
const (
	meets       = "meets"
	misses      = "misses"
	notMeasured = "not measured"
)

// line is one evaluated row of a figure's table.
type line struct {
	Label, Measured, Target, Anchor, Verdict string
	Targeted                                 bool // the line carries a target
}

// evaluate judges one check against the run.
func evaluate(c check, run Run) line {
	l := line{Label: c.Label, Target: c.Target, Anchor: c.Anchor, Targeted: c.Target != ""}
	if c.Target == "" {
		l.Target = "—"
	}
	if c.NotMeasured != "" {
		l.Measured = "—"
		l.Verdict = notMeasured + ": " + c.NotMeasured
		return l
	}
	pkg := Module + "/" + c.Pkg
	source := fmt.Sprintf("`%s` (%s)", c.Bench, c.Pkg)
	r, found := findResult(run, pkg, c.Bench)
	if !found {
		l.Measured = "— " + source
		l.Verdict = notMeasured + ": " + whyMissing(run, pkg, c.Bench)
		return l
	}
	v, ok := r.Metric(c.Unit)
	if !ok {
		l.Measured = "— " + source
		l.Verdict = notMeasured + fmt.Sprintf(": the benchmark reported no %s", c.Unit)
		return l
	}
	scale, shown := c.Scale, c.Shown
	if scale == 0 {
		scale = 1
	}
	if shown == "" {
		shown = c.Unit
	}
	v *= scale
	l.Measured = human(v) + " " + shown
	if scale != 1 {
		l.Measured += fmt.Sprintf(" (%s %s)", human(v/scale), c.Unit)
	}
	l.Measured += " " + source
	switch c.Cmp {
	case atMost:
		l.Verdict = verdict(v <= c.Limit)
	case atLeast:
		l.Verdict = verdict(v >= c.Limit)
	default:
		l.Verdict = "context"
	}
	return l
}

func verdict(ok bool) string {
	if ok {
		return meets
	}
	return misses
}

func findResult(run Run, pkg, name string) (Result, bool) {
	for _, r := range run.Results {
		if r.Pkg == pkg && r.Name == name {
			return r, true
		}
	}
	return Result{}, false
}

// whyMissing says why a benchmark has no line: it, a parent of it or its
// package was skipped or failed, or it did not run at all.
func whyMissing(run Run, pkg, name string) string {
	for _, o := range run.Outcomes {
		if o.Pkg != pkg {
			continue
		}
		if o.Name == name || o.Name == "" || strings.HasPrefix(name, o.Name+"/") {
			return fmt.Sprintf("%s: %s", o.Status, firstLine(o.Reason))
		}
	}
	for _, p := range run.Packages {
		if p.Pkg == pkg {
			return "no line for this benchmark in the run's output"
		}
	}
	return "its package was not part of the run"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "no reason given"
	}
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// fleetRun names one fleet run in the report's lines.
func fleetRun(f FleetOutcome) string {
	return human(float64(f.Doors)) + "-door run"
}

// The fleet's targets (PRODUCT.md section 5), all set for 10,000 doors:
// smaller runs show their figures beside them as context.
const (
	fleetDoors    = 10_000
	fleetWithinS  = 20   // every event credited after the broker restart
	fleetRSSMB    = 1000 // the central's RSS: 1 GB read as 1,000 MB (10^9 bytes), the stricter reading
	fleetCompileS = 3    // the central's start-up compile
)

// fleetCompileNotMeasured says why a fleet run has no start-up compile:
// the fleet reads it from the central's log, and a fleet older than the
// figure reports none either.
const fleetCompileNotMeasured = notMeasured + ": the fleet found no `serve: whitelists loaded and compiled` line in the central's log " +
	"(central.log), or predates the figure; " +
	"BenchmarkCompileNetwork/doors=10000 times the compile alone (under \"whitelists compiled in memory\")"

// fleetLines evaluates the fleet row: the lines of each size's run, in the
// order they ran, then whether a run simulated the 10,000 doors PRODUCT.md
// sets the targets at.
func fleetLines(fs []FleetOutcome) []line {
	var ls []line
	for _, f := range fs {
		ls = append(ls, fleetRunLines(f)...)
	}
	return append(ls, tenThousandDoors(fs))
}

// fleetRunLines evaluates one size's run. Its first line says which run
// it is and gives its exact command; each of the other lines is labelled
// with the run it comes from.
//
// Every run is judged on what holds at any size: a broker restart was
// injected, every event was stored exactly once and credited. The figures
// PRODUCT.md gives for 10,000 doors (credited ≤ 20 s after the restart,
// central ≤ 1 GB, start-up compile ≤ 3 s) are targets for a run of 10,000
// doors or more, and context beside those numbers for a smaller one.
func fleetRunLines(f FleetOutcome) []line {
	run := fleetRun(f)
	cmd := "`" + f.Command + "`"
	switch f.Status {
	case FleetNotRun:
		return []line{{Label: run, Measured: cmd, Target: "—", Targeted: true,
			Verdict: notMeasured + ": not run: " + f.Reason}}
	case FleetFailed:
		return []line{{Label: run, Measured: cmd, Target: "—", Targeted: true,
			Verdict: "**failed**: " + f.Reason}}
	}
	ls := []line{{Label: run, Measured: cmd, Target: "—",
		Verdict: fmt.Sprintf("ran in %s (its limit: %s)", round(f.Took), round(f.Timeout))}}
	r := f.Report
	src := " (scripts/fleet)"
	add := func(label, measured, target string, targeted bool, verdict string) {
		if measured != "—" {
			measured += src
		}
		if target == "" {
			target = "—"
		}
		ls = append(ls, line{Label: run + ": " + label, Measured: measured, Target: target, Targeted: targeted, Verdict: verdict})
	}
	atScale := f.Doors >= fleetDoors
	// scaled adds a line whose target PRODUCT.md sets at 10,000 doors:
	// judged in a run of that size, shown as context beside the target in
	// a smaller one. A verdict of "not measured" is kept either way.
	scaled := func(label, measured, target string, ok bool, notMeasuredWhy string) {
		v := verdict(ok)
		if notMeasuredWhy != "" {
			v = notMeasuredWhy
		}
		if atScale {
			add(label, measured, target, true, v)
			return
		}
		target = "— (" + target + " at " + human(fleetDoors) + " doors)"
		switch {
		case notMeasuredWhy != "":
		case ok:
			v = "context: within the 10,000-door target"
		default:
			v = "context: beyond the 10,000-door target"
		}
		add(label, measured, target, false, v)
	}
	doors := human(float64(r.Doors)) + " doors"
	if atScale {
		add("simulated doors on this machine", doors, human(fleetDoors)+" doors", true, verdict(r.Doors >= fleetDoors))
	} else {
		add("simulated doors on this machine", doors, "", false, "context")
	}
	// PRODUCT.md's row counts badges; fleets older than the figure report
	// none.
	if r.Badges > 0 {
		add("badges held by the central / of members with a booking (on the doors' lists)",
			fmt.Sprintf("%s / %s", human(float64(r.Badges)), human(float64(r.Members))), "", false, "context")
	}
	restart := slices.Contains(r.Faults, "broker-restart")
	add("faults injected", strings.Join(r.Faults, ", "), "a broker restart", true, verdict(restart))
	add("events recorded by the doors / stored by the central", fmt.Sprintf("%s / %s", human(float64(r.EventsRecorded)), human(float64(r.EventsStored))), "", false, "context")
	add("duplicates / missing events", fmt.Sprintf("%d / %d", r.Duplicates, r.Missing), "0 / 0", true, verdict(r.Duplicates == 0 && r.Missing == 0))
	add("every event stored exactly once (the fleet's own check)", fmt.Sprint(r.ExactlyOnce), "true", true, verdict(r.ExactlyOnce))
	ok := r.Credited
	detail := fmt.Sprint(ok)
	if d := strings.TrimSpace(r.CreditDetail); d != "" {
		detail += "; " + d
	}
	add("every event credited", detail, "every event, once", true, verdict(ok))
	// A time of 0 (or none) means the scenario saw no restart or no credit.
	within := fmt.Sprintf("≤ %d s", fleetWithinS)
	switch after := r.CreditedAfterRestartS; {
	case !ok:
		scaled("credited after the broker restart", "—", within, false, notMeasured+": the fleet reports the events not all credited")
	case !restart || after <= 0:
		scaled("credited after the broker restart", "—", within, false, notMeasured+": the fleet reported no time after a restart")
	default:
		scaled("credited after the broker restart", human(after)+" s", within, after <= fleetWithinS, "")
	}
	if r.StoredAfterRestartS > 0 {
		add("stored after the broker restart", human(r.StoredAfterRestartS)+" s", "", false, "context")
	}
	// The monitor samples the central's RSS every 0.5 s from the tap phase
	// on: the restart, its start-up and the catch-up are in the peak.
	rss := fmt.Sprintf("≤ 1 GB (%s MB)", human(fleetRSSMB))
	if peak := r.CentralPeakRSSMiB; peak > 0 {
		mb := peak * mibToMB
		scaled("central peak resident memory (sampled every 0.5 s from the tap phase on)",
			fmt.Sprintf("%s MB (%s MiB)", human(mb), human(peak)), rss, mb <= fleetRSSMB, "")
	} else {
		scaled("central peak resident memory (sampled every 0.5 s from the tap phase on)", "—", rss, false, notMeasured+": the fleet reported no peak")
	}
	// The fleet reports the compile of the central's last start. The
	// broker restart restarts the central only with its embedded broker
	// (the bench's fleet command); when the central did not restart, its
	// one start compiled before the fleet seeded the network, a figure of
	// an empty network.
	compile := fmt.Sprintf("≤ %d s", fleetCompileS)
	centralRestarted := slices.Contains(r.Faults, "central-restart") || (restart && r.Broker != "mosquitto")
	switch s := r.StartupCompileS; {
	case s <= 0:
		scaled("central start-up compile, after the restart", "—", compile, false, fleetCompileNotMeasured)
	case !centralRestarted:
		scaled("central start-up compile, after the restart", "—", compile, false,
			notMeasured+": the central did not restart in this run (with Mosquitto the broker restart leaves it running): its one start compiled before the network was seeded")
	default:
		scaled("central start-up compile, after the restart", human(s)+" s", compile, s <= fleetCompileS, "")
	}
	add("events per second through the central", human(r.EventsPerS)+" events/s", "", false, "context")
	add("central resident memory at the end", human(r.CentralRSSMiB)+" MiB", "", false, "context")
	add("central CPU", human(r.CentralCPUCores)+" cores", "", false, "context")
	add("the simulated doors' resident memory", human(r.FleetRSSMiB)+" MiB", "", false, "context")
	add("scenario duration", human(r.DurationS)+" s", "", false, "context")
	if r.Broker != "" || r.Profile != "" {
		add("broker, profile", r.Broker+", "+r.Profile, "", false, "context")
	}
	return ls
}

// tenThousandDoors says whether a run simulated the 10,000 doors the
// fleet's targets are set at: met by a run of 10,000 doors or more that
// ran; otherwise it says why not.
func tenThousandDoors(fs []FleetOutcome) line {
	l := line{Label: "a run of 10,000 doors", Measured: "—", Target: "10,000 doors", Targeted: true}
	var asked *FleetOutcome
	for i, f := range fs {
		if f.Doors < fleetDoors {
			continue
		}
		if f.Status == FleetRan && f.Report.Doors >= fleetDoors {
			l.Measured = fmt.Sprintf("%s doors (scripts/fleet, the %s)", human(float64(f.Report.Doors)), fleetRun(f))
			l.Verdict = meets
			return l
		}
		if asked == nil {
			asked = &fs[i]
		}
	}
	switch {
	case asked != nil && asked.Status == FleetNotRun:
		l.Verdict = fmt.Sprintf("%s: the %s was not run: %s", notMeasured, fleetRun(*asked), asked.Reason)
	case asked != nil:
		l.Verdict = fmt.Sprintf("%s: the %s failed (its line above)", notMeasured, fleetRun(*asked))
	default:
		sizes := make([]string, len(fs))
		for i, f := range fs {
			sizes[i] = strconv.Itoa(f.Doors)
		}
		l.Verdict = fmt.Sprintf("%s: no run simulates 10,000 doors (--fleet-doors %s; BENCH_FLAGS='--fleet-doors 1000,10000' adds it)",
			notMeasured, strings.Join(sizes, ","))
	}
	return l
}

// fleetSummary is the fleet's verdict in the summary: over every line,
// and for more than one size, each run's own.
func fleetSummary(fs []FleetOutcome, ls []line) string {
	v := overall(ls)
	if len(fs) < 2 {
		return v
	}
	each := make([]string, len(fs))
	for i, f := range fs {
		each[i] = human(float64(f.Doors)) + " doors: " + overall(fleetRunLines(f))
	}
	return v + " (" + strings.Join(each, "; ") + ")"
}

// overall sums a figure's lines up: misses when one misses, meets when
// every line with a target was measured and meets, not measured when none
// was, and "meets where measured" in between.
func overall(ls []line) string {
	var targeted, measured, met int
	for _, l := range ls {
		if !l.Targeted {
			continue
		}
		targeted++
		switch {
		case l.Verdict == misses:
			return misses
		case strings.HasPrefix(l.Verdict, "**failed**"):
			return "**failed**"
		case l.Verdict == meets:
			measured++
			met++
		}
	}
	switch {
	case targeted == 0:
		return notMeasured
	case met == targeted:
		return meets
	case measured == 0:
		return notMeasured
	default:
		return fmt.Sprintf("meets where measured (%d of %d lines not measured)", targeted-measured, targeted)
	}
}

// figureLines evaluates every line of a figure.
func figureLines(f figure, r *Report) []line {
	if f.Fleet {
		return fleetLines(r.Fleets)
	}
	var ls []line
	for _, c := range f.Checks {
		ls = append(ls, evaluate(c, r.Bench))
	}
	return ls
}

// Write writes the report as Markdown.
func (r *Report) Write(w io.Writer) error {
	p := &mdWriter{w: w}
	p.f("# Benchmarks\n\n")
	p.f("Written by `make bench` (`go run ./scripts/bench`); every number in it was produced by the run described here.\n")
	p.f("The targets and anchors are PRODUCT.md section 5 (\"Targets\"), copied into `scripts/bench/targets.go`.\n\n")

	p.f("| run | |\n|---|---|\n")
	p.f("| date | %s |\n", r.Started.UTC().Format("2006-01-02 15:04 MST"))
	p.f("| run time | %s in all |\n", round(r.Took))
	tree := "clean"
	if n := len(r.Source.Dirty); n > 0 {
		shown := r.Source.Dirty[:min(n, 8)]
		tree = fmt.Sprintf("**dirty**: %d changed or untracked files (%s", n, strings.Join(shown, ", "))
		if n > len(shown) {
			tree += ", …"
		}
		tree += ")"
	}
	p.f("| commit | `%s` %s (working tree %s) |\n", r.Source.Commit, cell(r.Source.Subject), tree)
	m := r.Machine
	p.f("| machine | %s, %d logical CPUs, %s GiB of memory |\n", cell(m.CPU), m.Cores, human(float64(m.MemoryMiB)/1024))
	p.f("| system | %s, Linux %s, %s |\n", cell(m.OS), cell(m.Kernel), m.Arch)
	p.f("| Go | %s |\n", m.GoVersion)
	for _, s := range r.Services {
		p.f("| service | %s |\n", cell(s))
	}
	p.f("\n### Commands\n\n")
	p.f("| command | took | its CPU time | CPU time of everything else meanwhile |\n|---|---|---|---|\n")
	var disturbed []string
	for _, s := range r.Steps {
		cmd := "`" + strings.ReplaceAll(s.Command, "|", `\|`) + "`"
		if s.Note != "" {
			cmd += " — " + cell(s.Note)
		}
		others := "—"
		if s.Others > 0 {
			l := Load{Wall: s.Took, Others: s.Others}
			others = otherLoad(l)
			if s.Timed && l.OthersCores() > disturbedCores {
				disturbed = append(disturbed, fmt.Sprintf("%.2f of the %d CPUs busy on average during %s", l.OthersCores(), m.Cores, s.Name))
			}
		}
		p.f("| %s | %s | %s | %s |\n", cmd, round(s.Took), round(s.CPU), others)
	}
	p.f("\nThe first command ran its packages' benchmarks one after the other, then the fleet scenario of each size ran, one after the other; a command marked as run beside them ran at the same time.\n")
	p.f("Over the whole run everything else on the machine used %s. Everything else is the machine's busy CPU time minus the command's (or the run's) own processes, the PostgreSQL server the benchmarks talk to included.\n", otherLoad(r.Load))
	if len(disturbed) > 0 {
		p.f("\n**The timings were disturbed**: other processes kept %s (more than %.2f); the times and rates below are lower than this machine gives alone.\n",
			strings.Join(disturbed, " and "), disturbedCores)
	}

	p.f("\n## Summary\n\n| figure | target | verdict |\n|---|---|---|\n")
	evaluated := make([][]line, len(Figures))
	for i, f := range Figures {
		evaluated[i] = figureLines(f, r)
		v := overall(evaluated[i])
		if f.Fleet {
			v = fleetSummary(r.Fleets, evaluated[i])
		}
		p.f("| %s | %s | %s |\n", cell(f.Name), cell(f.Target), v)
	}

	for i, f := range Figures {
		p.f("\n## %s\n\n", f.Name)
		p.f("Target: %s. ", f.Target)
		if f.Anchor != "" {
			p.f("Anchor: %s.", f.Anchor)
		} else {
			p.f("Anchor: none given.")
		}
		p.f("\n\n| figure | measured | target | anchor | verdict |\n|---|---|---|---|---|\n")
		for _, l := range evaluated[i] {
			anchor := l.Anchor
			if anchor == "" {
				anchor = "—"
			}
			p.f("| %s | %s | %s | %s | %s |\n", cell(l.Label), cell(l.Measured), cell(l.Target), cell(anchor), cell(l.Verdict))
		}
	}

	p.f("\n## Skipped and failed benchmarks\n\n")
	if len(r.Bench.Outcomes) == 0 {
		p.f("None: every benchmark printed its figures.\n")
	} else {
		p.f("| package | benchmark | status | reason |\n|---|---|---|---|\n")
		for _, o := range r.Bench.Outcomes {
			name := o.Name
			if name == "" {
				name = "(the package)"
			}
			p.f("| %s | `%s` | %s | %s |\n", relPkg(o.Pkg), name, o.Status, cell(strings.ReplaceAll(strings.TrimSpace(o.Reason), "\n", " / ")))
		}
	}

	p.f("\n## Appendix: every benchmark line of the run\n\n")
	p.f("As go test printed them (values unrounded), in the order they ran.\n\n")
	p.f("| package | benchmark | iterations | ns/op | B/op | allocs/op | other metrics |\n|---|---|---|---|---|---|---|\n")
	for _, res := range r.Bench.Results {
		std := map[string]string{"ns/op": "—", "B/op": "—", "allocs/op": "—"}
		var other []string
		for _, mt := range res.Metrics {
			if _, ok := std[mt.Unit]; ok {
				std[mt.Unit] = mt.Raw
				continue
			}
			other = append(other, mt.Raw+" "+mt.Unit)
		}
		p.f("| %s | `%s` | %d | %s | %s | %s | %s |\n", relPkg(res.Pkg), res.Name, res.Iters, std["ns/op"], std["B/op"], std["allocs/op"], cell(strings.Join(other, "; ")))
	}
	p.f("\n### Run time per package\n\n| package | result | took |\n|---|---|---|\n")
	benched := map[string]bool{}
	for _, res := range r.Bench.Results {
		benched[res.Pkg] = true
	}
	for _, o := range r.Bench.Outcomes {
		benched[o.Pkg] = true
	}
	others := 0
	for _, pk := range r.Bench.Packages {
		if pk.Pkg == "" {
			continue
		}
		if !benched[pk.Pkg] && pk.Action != "fail" && pk.Action != "" && pk.Elapsed < time.Second {
			others++
			continue
		}
		action := pk.Action
		if action == "" {
			action = "did not finish"
		}
		p.f("| %s | %s | %s |\n", relPkg(pk.Pkg), action, round(pk.Elapsed))
	}
	if others > 0 {
		p.f("\n%d other packages have no benchmark and took under a second each.\n", others)
	}
	return p.err
}

type mdWriter struct {
	w   io.Writer
	err error
}

func (p *mdWriter) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func relPkg(p string) string {
	if p == Module {
		return "."
	}
	return strings.TrimPrefix(p, Module+"/")
}

func otherLoad(l Load) string {
	if l.Wall <= 0 {
		return "—"
	}
	return fmt.Sprintf("%s CPU-seconds (%.2f cores on average over %s)", human(l.Others.Seconds()), l.OthersCores(), round(l.Wall))
}

func round(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

// human formats a figure for reading: thousands separated, three or so
// significant digits below 100.
func human(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a >= 1000 || (v == math.Trunc(v) && a < 1e15):
		return thousands(int64(math.Round(v)))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// redactURL hides a password in a database URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
