package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInterpretFleet(t *testing.T) {
	exit1 := errors.New("exit status 1")
	tests := []struct {
		name       string
		file       string // stdout, from testdata; "" for the literal stdout
		stdout     string
		runErr     error
		stderr     string
		status     FleetStatus
		reasonHas  string
		exactlyOne bool
	}{
		{name: "passed", file: "testdata/fleet-ok.json", status: FleetRan, exactlyOne: true},
		{name: "failed with its error", file: "testdata/fleet-failed.json", runErr: exit1, status: FleetFailed, reasonHas: "588 events missing 60 s after the broker restart"},
		{name: "error reported although it exited 0", file: "testdata/fleet-failed.json", status: FleetFailed, reasonHas: "588 events missing"},
		{name: "died without JSON", stdout: "", runErr: exit1, stderr: "fleet: starting 1000 doors\npanic: boom\n", status: FleetFailed, reasonHas: "panic: boom"},
		{name: "printed something else", stdout: "1000 doors ok\n", status: FleetFailed, reasonHas: "not the expected JSON"},
		{name: "a field of another type", stdout: `{"doors":"many"}`, status: FleetFailed, reasonHas: "not the expected JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout := []byte(tt.stdout)
			if tt.file != "" {
				var err error
				if stdout, err = os.ReadFile(tt.file); err != nil {
					t.Fatal(err)
				}
			}
			o := interpretFleet(FleetOutcome{Command: "go run ./scripts/fleet"}, stdout, tt.runErr, tt.stderr)
			if o.Status != tt.status || !strings.Contains(o.Reason, tt.reasonHas) {
				t.Errorf("got %s %q, want %s with %q", o.Status, o.Reason, tt.status, tt.reasonHas)
			}
			if o.Status == FleetRan && o.Report.ExactlyOnce != tt.exactlyOne {
				t.Errorf("exactly_once = %v", o.Report.ExactlyOnce)
			}
			if o.Status == FleetFailed && (o.Report.Doors != 0 || o.Report.EventsPerS != 0) {
				t.Errorf("a failed fleet keeps figures: %+v", o.Report)
			}
		})
	}
}

// runFleet with a stand-in for the go command: what the fleet prints, how
// it exits and how long it takes.
func TestRunFleet(t *testing.T) {
	ok, err := filepath.Abs("testdata/fleet-ok.json")
	if err != nil {
		t.Fatal(err)
	}
	failed, err := filepath.Abs("testdata/fleet-failed.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		script    string // body of the stand-in go command; "" = no scripts/fleet in the tree
		timeout   time.Duration
		status    FleetStatus
		reasonHas string
	}{
		{name: "not in the tree", status: FleetNotRun, reasonHas: "scripts/fleet is not in this tree"},
		{name: "passes", script: "cat " + ok, status: FleetRan},
		{name: "fails", script: "echo 'fleet: restarting the broker' >&2; cat " + failed + "; exit 1", status: FleetFailed, reasonHas: "588 events missing"},
		{name: "hangs", script: "exec sleep 20", timeout: 300 * time.Millisecond, status: FleetFailed, reasonHas: "did not finish within 300ms"},
		{name: "arguments", script: `[ "$*" = "run ./scripts/fleet --doors 1000 --faults broker-restart --json" ] || { echo "args: $*" >&2; exit 2; }; cat ` + ok, status: FleetRan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			goBin := filepath.Join(dir, "go")
			if tt.script != "" {
				if err := os.MkdirAll("scripts/fleet", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(goBin, []byte("#!/bin/sh\n"+tt.script+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			var progress bytes.Buffer
			o := runFleet(t.Context(), goBin, 1000, timeout, &progress)
			if o.Status != tt.status || !strings.Contains(o.Reason, tt.reasonHas) {
				t.Errorf("got %s %q, want %s with %q (stderr %q)", o.Status, o.Reason, tt.status, tt.reasonHas, progress.String())
			}
			if o.Status == FleetRan && o.Report.Doors != 1000 {
				t.Errorf("report %+v", o.Report)
			}
		})
	}
}
