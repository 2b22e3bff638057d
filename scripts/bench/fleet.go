package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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

// FleetOutcome is the fleet step of a run.
type FleetOutcome struct {
	Status  FleetStatus
	Reason  string // why it was not run, or the error it failed with
	Command string
	Took    time.Duration
	CPU     time.Duration      // of the go run and the scenario it started
	Others  time.Duration      // CPU time of everything else meanwhile
	Report  fleetreport.Report // when it ran
}

// fleetCommand is the fleet scenario's command line.
func fleetCommand(goBin string, doors int) []string {
	return []string{goBin, "run", "./scripts/fleet", "--doors", fmt.Sprint(doors), "--faults", "broker-restart", "--json"}
}

// runFleet runs the fleet scenario when its program is in the tree. Its
// progress on stderr goes to progress; stdout must be one JSON object.
func runFleet(ctx context.Context, goBin string, doors int, timeout time.Duration, progress io.Writer) FleetOutcome {
	args := fleetCommand(goBin, doors)
	o := FleetOutcome{Command: strings.Join(args, " ")}
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
		o.Status, o.Reason = FleetFailed, fmt.Sprintf("did not finish within %s (stopped)", timeout)
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
