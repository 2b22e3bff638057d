package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/scripts/internal/fleetreport"
)

// FleetStatus says whether the fleet scenario ran and how it ended.
type FleetStatus string

// Fleet statuses.
const (
	FleetNotRun FleetStatus = "not run"
	FleetFailed FleetStatus = "failed"
	FleetRan    FleetStatus = "ran"
)

// FleetOutcome is one fleet scenario of a run: one size of --fleet-doors.
type FleetOutcome struct {
	Doors   int // the size asked for (--doors of Command)
	Status  FleetStatus
	Reason  string // why it was not run, or the error it failed with
	Command string
	Timeout time.Duration // it was stopped and reported failed after this long
	Took    time.Duration
	CPU     time.Duration      // of the go run and the scenario it started
	Others  time.Duration      // CPU time of everything else meanwhile
	Report  fleetreport.Report // when it ran
}

// fleetLoads are the flags that size a fleet run besides --doors: the
// first row whose UpTo is at least the run's doors applies.
//
// Every size taps for 30 s with the broker restart in the middle, so 15 s
// of taps follow the restart at every size. "Credited after the broker
// restart" counts until the last of those taps is credited, so with the
// same tap phase the figure means the same thing at 1,000 and at 10,000
// doors, and can be read beside PRODUCT.md's 20 s for 10,000 doors. Above
// 1,000 doors each door taps 5 times instead of the fleet's default 20:
// 50,000 events at 10,000 doors, what this 2-core machine produces in 30 s
// beside 10,000 simulated doors (20 taps a door would be 200,000). Above
// 1,000 doors the central holds PRODUCT.md's 100,000 badges (--badges
// 100000) of which 20,000 belong to members with a booking (--members
// 20000): the fleet's members hold passes for every center (a fifth of
// them) or a booking at one of its 8 centers, so with 100,000 such members
// each simulated door would hold about 32,000 entries, and 10,000 doors
// applying them on this 2-core machine take longer than the run itself
// (about 50 GB of door databases). The other 80,000 badges belong to
// members with neither booking nor pass: in the central's directory and
// its whitelist compiler's input, on no door's list, so the doors' lists
// stay those of 20,000 members while the central's memory is measured at
// 100,000 badges. The central's compile at 100,000 badges is also
// measured by BenchmarkCompileNetwork. Up to 1,000 doors the fleet's
// default 2,000 members (a badge each) stay. Above 1,000 doors the
// central runs with the soft memory limit of the packaged
// /etc/default/swc-central (GOMEMLIMIT=800MiB), as it is installed. --duration is written out
// even where it is the fleet's default, so that the command in the report
// says it.
var fleetLoads = []struct {
	UpTo  int
	Flags []string
}{
	{UpTo: 1000, Flags: []string{"--duration", "30s"}}, // the fleet's defaults: 20 taps a door, 2,000 members
	{UpTo: math.MaxInt, Flags: []string{"--duration", "30s", "--taps-per-door", "5", "--members", "20000", "--badges", "100000", "--central-memory-limit", "800MiB"}},
}

// fleetCommand is the fleet scenario's command line for one size.
//
// --within 0 turns off the fleet's own time limit after the restart (60 s
// unless given, PRODUCT.md's earlier target): a run over it would end as
// failed, and a failed run shows no figures. The report judges that time
// itself, against PRODUCT.md's 20 s.
func fleetCommand(goBin string, doors int) []string {
	args := []string{goBin, "run", "./scripts/fleet", "--doors", strconv.Itoa(doors)}
	for _, l := range fleetLoads {
		if doors <= l.UpTo {
			args = append(args, l.Flags...)
			break
		}
	}
	return append(args, "--within", "0", "--faults", "broker-restart", "--json")
}

// The fleet step's timeout when --fleet-timeout is not given. 1,000 doors
// take about a minute here, and 4 minutes leave room for a busy machine.
// Above that the run grows with the doors: starting the doors' worker
// processes and agents takes about 20 s per 1,000 doors on 2 cores (3–4
// minutes for 10,000), and the restart's shutdown, whitelist compile and
// reconnections grow with them too; a whole 10,000-door run took 10–15
// minutes. 2 minutes more per started 1,000 doors above 1,000 gives 22
// minutes at 10,000, about 1.5 times the slowest run seen on a quiet
// machine (on one loaded by other jobs the 10,000 doors alone once took 20
// minutes to start: give --fleet-timeout there). The cap stops a stuck
// fleet from holding make bench for hours (reached at 19,000 doors);
// larger fleets give --fleet-timeout.
const (
	fleetTimeoutBase    = 4 * time.Minute
	fleetTimeoutPer1000 = 2 * time.Minute
	fleetTimeoutMax     = 40 * time.Minute
)

// fleetTimeout is how long the fleet step of a size may take: override
// (--fleet-timeout) when it is set, else the time scaled with the doors.
func fleetTimeout(doors int, override time.Duration) time.Duration {
	if override > 0 {
		return override
	}
	if doors <= 1000 {
		return fleetTimeoutBase
	}
	extra := (doors - 1) / 1000 // started thousands above the first: 1,001 → 1, 10,000 → 9
	if extra >= int((fleetTimeoutMax-fleetTimeoutBase)/fleetTimeoutPer1000) {
		return fleetTimeoutMax
	}
	return fleetTimeoutBase + time.Duration(extra)*fleetTimeoutPer1000
}

// runFleet runs the fleet scenario of one size when its program is in the
// tree. Its progress on stderr goes to progress; stdout must be one JSON
// object.
func runFleet(ctx context.Context, goBin string, doors int, timeout time.Duration, progress io.Writer) FleetOutcome {
	args := fleetCommand(goBin, doors)
	o := FleetOutcome{Doors: doors, Command: strings.Join(args, " "), Timeout: timeout}
	if _, err := os.Stat("scripts/fleet"); err != nil {
		o.Status, o.Reason = FleetNotRun, "scripts/fleet is not in this tree"
		return o
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	// go run starts the scenario as its child: both get the interrupt, in
	// a process group of their own, and whatever of it is left when the
	// run is over is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 4096}
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(progress, stderr)
	start, busy := time.Now(), machineBusy()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: only what this run started
	}
	o.Took, o.CPU = time.Since(start), cpuOf(cmd.ProcessState)
	o.Others = othersDuring(busy, o.CPU)
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		o.Status, o.Reason = FleetFailed, fmt.Sprintf("did not finish within %s (stopped; --fleet-timeout sets the limit)", timeout)
		return o
	}
	return interpretFleet(o, stdout.Bytes(), err, stderr.String())
}

// interpretFleet turns the fleet's stdout, exit and stderr into an outcome.
// A fleet that failed gives its error and no figures.
func interpretFleet(o FleetOutcome, stdout []byte, runErr error, stderr string) FleetOutcome {
	var r fleetreport.Report
	dec := json.NewDecoder(bytes.NewReader(stdout))
	decErr := dec.Decode(&r)
	switch {
	case runErr != nil && decErr == nil && r.Error != "":
		o.Status, o.Reason = FleetFailed, fmt.Sprintf("%s (%v)", r.Error, runErr)
	case runErr != nil:
		o.Status, o.Reason = FleetFailed, fmt.Sprintf("%v: %s", runErr, lastLine(stderr))
	case decErr != nil:
		o.Status, o.Reason = FleetFailed, fmt.Sprintf("its output is not the expected JSON object: %v", decErr)
	case r.Error != "":
		o.Status, o.Reason = FleetFailed, r.Error
	default:
		o.Status, o.Report = FleetRan, r
	}
	return o
}

func lastLine(s string) string {
	t := tail(s, 3)
	if t == "" {
		return "no output on stderr"
	}
	return strings.ReplaceAll(t, "\n", " / ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }
