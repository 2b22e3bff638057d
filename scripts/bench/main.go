// Command bench runs every Go benchmark of the project and the fleet
// scenario, and writes BENCHMARKS.md: each figure of PRODUCT.md section 5
// beside its target and anchor, with the machine it ran on.
//
//	go run ./scripts/bench [--out BENCHMARKS.md] [--fleet-doors 1000[,10000]] [--fleet-timeout D] [--skip-fleet]
//
// `make bench` runs it. Run it from the repository's root. The benchmarks
// that need PostgreSQL or Mosquitto run when SWC_TEST_POSTGRES_URL and
// SWC_TEST_MOSQUITTO are set and are reported as skipped otherwise. After
// the benchmarks, each size of --fleet-doors runs its own fleet scenario,
// one after the other: `go run ./scripts/fleet --doors N --duration 30s
// [flags of the size] --within 0 --faults broker-restart --json` (fleetLoads), each
// stopped after its own timeout (fleetTimeout). When the fleet is not in
// the tree the report says it was not run, and a size that fails shows its
// error, never a figure; the other sizes are reported all the same.
//
// Every number of the report comes from the run; only the targets and
// anchors (targets.go) are written in the code. The report is written
// whatever the figures say; the exit status is 1 when a benchmark, a
// package or the fleet scenario failed.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/shared/atomicfile"
)

// errFailures is returned when the report was written but something in
// the run failed.
var errFailures = errors.New("some benchmarks or the fleet scenario failed (see the report)")

type options struct {
	out          string
	fleetDoors   doorSizes
	skipFleet    bool
	fleetTimeout time.Duration // 0: scaled with each size's doors (fleetTimeout)
	goBin        string
}

// doorSizes is the value of --fleet-doors: door counts separated by
// commas, each run as its own fleet scenario in the order given.
type doorSizes []int

func (d *doorSizes) String() string {
	if d == nil {
		return ""
	}
	parts := make([]string, len(*d))
	for i, n := range *d {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (d *doorSizes) Set(s string) error {
	var sizes doorSizes
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive number of doors (want sizes separated by commas, such as 1000,10000)", f)
		}
		if slices.Contains(sizes, n) {
			return fmt.Errorf("%d doors given twice (each size is one fleet run)", n)
		}
		sizes = append(sizes, n)
	}
	*d = sizes
	return nil
}

// parseFlags reads the command line. Its errors name the flag and are
// written to stderr (as the flag package writes its own), with the usage
// when the flag package found them.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{fleetDoors: doorSizes{1000}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "the report to write")
	fs.Var(&o.fleetDoors, "fleet-doors", "simulated doors of the fleet scenario; sizes separated by commas (such as `1000,10000`) each run their own scenario, one after the other, reported on their own lines")
	fs.BoolVar(&o.skipFleet, "skip-fleet", false, "do not run the fleet scenario (the report says so)")
	fs.DurationVar(&o.fleetTimeout, "fleet-timeout", 0, "stop each fleet scenario after this long and report it failed (default: 4m up to 1,000 doors, 2m more per started 1,000 above, at most 40m)")
	fs.StringVar(&o.goBin, "go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	switch {
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.fleetTimeout < 0:
		err = fmt.Errorf("--fleet-timeout %s: want a positive duration (or none, to scale it with the doors)", o.fleetTimeout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
	}
	return o, err
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2) // parseFlags said why
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, progress io.Writer) error {
	if err := checkRoot(); err != nil {
		return err
	}
	r := &Report{Started: time.Now()}
	src, err := readSource(ctx, filepath.Clean(o.out))
	if err != nil {
		return err
	}
	r.Source = src
	r.Machine = readMachine(ctx, o.goBin)
	r.Services = services()
	for _, s := range r.Services {
		fmt.Fprintf(progress, "bench: %s\n", s)
	}

	before := readCPUClock()
	p, err := plan(ctx, o.goBin)
	if err != nil {
		return err
	}
	out := &lineWriter{w: progress}
	// The benchmarks that wait rather than compute run beside the others.
	type laneResult struct {
		run  Run
		step Step
		err  error
	}
	lanes := make([]chan laneResult, len(p.Alongside))
	for i, s := range p.Alongside {
		lanes[i] = make(chan laneResult, 1)
		s.Why += " (its CPU time counts as everything else's in the lines above)"
		fmt.Fprintf(out, "bench: beside the others: %s\n", shellQuote(s.args(o.goBin)))
		go func() {
			run, step, err := runGoTest(ctx, o.goBin, s, out)
			lanes[i] <- laneResult{run, step, err}
		}()
	}
	var errs []error
	fmt.Fprintf(out, "bench: %s\n", shellQuote(p.Main.args(o.goBin)))
	run, step, err := runGoTest(ctx, o.goBin, p.Main, out)
	step.Timed, step.Name = true, "the benchmarks"
	r.Steps = append(r.Steps, step)
	r.Bench = run
	errs = append(errs, err)

	// The sizes run one after the other: two fleets at once would share
	// the machine and neither's figures would be its own.
	for _, doors := range o.fleetDoors {
		timeout := fleetTimeout(doors, o.fleetTimeout)
		notRun := FleetOutcome{Doors: doors, Status: FleetNotRun, Command: strings.Join(fleetCommand(o.goBin, doors), " "), Timeout: timeout}
		switch {
		case o.skipFleet:
			notRun.Reason = "--skip-fleet was given"
		case err != nil:
			notRun.Reason = "the benchmarks' go test did not complete"
		case ctx.Err() != nil:
			notRun.Reason = "the run was interrupted"
		}
		if notRun.Reason != "" {
			r.Fleets = append(r.Fleets, notRun)
			continue
		}
		fmt.Fprintf(out, "bench: %s (its limit: %s)\n", notRun.Command, timeout)
		f := runFleet(ctx, o.goBin, doors, timeout, out)
		if f.Status != FleetNotRun {
			r.Steps = append(r.Steps, Step{Command: f.Command, Took: f.Took, CPU: f.CPU, Others: f.Others, Timed: true,
				Name: fmt.Sprintf("the %s-door fleet scenario", human(float64(doors)))})
		}
		fmt.Fprintf(out, "bench: fleet, %d doors: %s %s\n", doors, f.Status, f.Reason)
		r.Fleets = append(r.Fleets, f)
	}
	for _, lane := range lanes {
		res := <-lane
		// Everything else during it includes this run's other commands:
		// not a figure of the machine's load.
		res.step.Others = 0
		r.Steps = append(r.Steps, res.step)
		r.Bench.Packages = append(r.Bench.Packages, res.run.Packages...)
		r.Bench.Results = append(r.Bench.Results, res.run.Results...)
		r.Bench.Outcomes = append(r.Bench.Outcomes, res.run.Outcomes...)
		errs = append(errs, res.err)
	}
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return err
	}
	r.Load = loadBetween(before, readCPUClock())
	r.Took = time.Since(r.Started)

	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := atomicfile.Write(o.out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(progress, "bench: wrote %s after %s\n", o.out, round(r.Took))
	if failed(r) {
		return errFailures
	}
	return nil
}

// alongside are the packages whose benchmarks spend their time waiting,
// not computing, and measure something other than time: they run beside
// the others (in their own go test) so that the run stays under ten
// minutes, and the report says so.
var alongside = []struct{ Pkg, Why, Benchtime string }{
	{Pkg: Module + "/edge/cmd/swc-edge", Why: "BenchmarkAgentRSS measures memory, not time, and each of its simulated taps waits " +
		"until the previous badge is seen taken away (edge/cmd/swc-edge simAway): minutes of mostly idle waiting, so it ran beside the others"},
	{Pkg: Module + "/edge/reader/mfrc522", Benchtime: "300x", Why: "its figures are SPI counts and modelled times, the same at every " +
		"tap, and BenchmarkSecureTap's taps spend most of their wall time untimed (the card taken away between taps): with go test's " +
		"default of 1 s of timed work a sub-benchmark ran thousands of taps for minutes, so 300 taps each, beside the others"},
}

// runPlan is the go test invocations of the run.
type runPlan struct {
	Main      benchStep   // the benchmarks that time themselves, one package after the other
	Alongside []benchStep // each beside Main
}

// plan lists the module's packages and splits them into the run's go test
// invocations. Each go test runs the benchmarks of its packages one after
// the other, after every test binary was built.
func plan(ctx context.Context, goBin string) (runPlan, error) {
	out, err := exec.CommandContext(ctx, goBin, "list", "./...").Output()
	if err != nil {
		return runPlan{}, fmt.Errorf("go list ./...: %w", err)
	}
	var p runPlan
	p.Main = benchStep{Bench: "."}
	beside := map[string]int{}
	for i, a := range alongside {
		beside[a.Pkg] = i
	}
	for _, pkg := range strings.Fields(string(out)) {
		rel := "./" + relPkg(pkg) // shorter in the report, the same to go test
		if i, ok := beside[pkg]; ok {
			a := alongside[i]
			p.Alongside = append(p.Alongside, benchStep{Pkgs: []string{rel}, Bench: ".", Benchtime: a.Benchtime, Why: a.Why})
			continue
		}
		p.Main.Pkgs = append(p.Main.Pkgs, rel)
	}
	return p, nil
}

// lineWriter lets the concurrent steps write their progress lines to one
// writer without mixing them.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// services says what the run was given for the benchmarks that need a
// PostgreSQL server or a Mosquitto broker (without passwords).
func services() []string {
	var out []string
	if u := os.Getenv("SWC_TEST_POSTGRES_URL"); u != "" {
		out = append(out, "PostgreSQL: SWC_TEST_POSTGRES_URL="+redactURL(u))
	} else {
		out = append(out, "PostgreSQL: SWC_TEST_POSTGRES_URL not set, the benchmarks that need it skip")
	}
	if m := os.Getenv("SWC_TEST_MOSQUITTO"); m != "" {
		out = append(out, "Mosquitto: SWC_TEST_MOSQUITTO="+m)
	} else {
		out = append(out, "Mosquitto: SWC_TEST_MOSQUITTO not set, the benchmarks that need it skip")
	}
	return out
}

func failed(r *Report) bool {
	return hasFailure(r.Bench.Outcomes) || slices.ContainsFunc(r.Fleets, func(f FleetOutcome) bool { return f.Status == FleetFailed })
}

// checkRoot makes sure the run starts at the module's root.
func checkRoot() error {
	data, err := os.ReadFile("go.mod")
	if err != nil {
		return fmt.Errorf("run from the repository's root (where go.mod is): %w", err)
	}
	if !bytes.Contains(data, []byte("module "+Module+"\n")) {
		return fmt.Errorf("go.mod here is not module %s: run from the repository's root", Module)
	}
	return nil
}
