package main

import (
	"bytes"
	"errors"
	"math"
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
		doors     int    // 1000 when 0
		timeout   time.Duration
		status    FleetStatus
		reasonHas string
	}{
		{name: "not in the tree", status: FleetNotRun, reasonHas: "scripts/fleet is not in this tree"},
		{name: "passes", script: "cat " + ok, status: FleetRan},
		{name: "fails", script: "echo 'fleet: restarting the broker' >&2; cat " + failed + "; exit 1", status: FleetFailed, reasonHas: "588 events missing"},
		{name: "hangs", script: "exec sleep 20", timeout: 300 * time.Millisecond, status: FleetFailed, reasonHas: "did not finish within 300ms"},
		{name: "arguments", script: `[ "$*" = "run ./scripts/fleet --doors 1000 --duration 30s --within 0 --faults broker-restart --json" ] || { echo "args: $*" >&2; exit 2; }; cat ` + ok, status: FleetRan},
		{name: "arguments at 10,000 doors", doors: 10000, script: `[ "$*" = "run ./scripts/fleet --doors 10000 --duration 30s --taps-per-door 5 --members 20000 --badges 100000 --central-memory-limit 800MiB --within 0 --faults broker-restart --json" ] || { echo "args: $*" >&2; exit 2; }; cat ` + ok, status: FleetRan},
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
			doors := tt.doors
			if doors == 0 {
				doors = 1000
			}
			var progress bytes.Buffer
			o := runFleet(t.Context(), goBin, doors, timeout, &progress)
			if o.Status != tt.status || !strings.Contains(o.Reason, tt.reasonHas) {
				t.Errorf("got %s %q, want %s with %q (stderr %q)", o.Status, o.Reason, tt.status, tt.reasonHas, progress.String())
			}
			if o.Doors != doors || o.Timeout != timeout || o.Command != strings.Join(fleetCommand(goBin, doors), " ") {
				t.Errorf("outcome of %d doors, %s: %+v", doors, timeout, o)
			}
			if o.Status == FleetRan && o.Report.Doors != 1000 {
				t.Errorf("report %+v", o.Report)
			}
		})
	}
}

func TestFleetCommand(t *testing.T) {
	tests := []struct {
		doors int
		want  string
	}{
		{1, "go run ./scripts/fleet --doors 1 --duration 30s --within 0 --faults broker-restart --json"},
		{1000, "go run ./scripts/fleet --doors 1000 --duration 30s --within 0 --faults broker-restart --json"},
		// Fewer taps a door above 1,000 doors; the same tap phase.
		{1001, "go run ./scripts/fleet --doors 1001 --duration 30s --taps-per-door 5 --members 20000 --badges 100000 --central-memory-limit 800MiB --within 0 --faults broker-restart --json"},
		{10000, "go run ./scripts/fleet --doors 10000 --duration 30s --taps-per-door 5 --members 20000 --badges 100000 --central-memory-limit 800MiB --within 0 --faults broker-restart --json"},
		{100000, "go run ./scripts/fleet --doors 100000 --duration 30s --taps-per-door 5 --members 20000 --badges 100000 --central-memory-limit 800MiB --within 0 --faults broker-restart --json"},
	}
	for _, tt := range tests {
		if got := strings.Join(fleetCommand("go", tt.doors), " "); got != tt.want {
			t.Errorf("%d doors:\n got %s\nwant %s", tt.doors, got, tt.want)
		}
	}
}

func TestFleetTimeout(t *testing.T) {
	tests := []struct {
		doors    int
		override time.Duration
		want     time.Duration
	}{
		{doors: 1, want: 4 * time.Minute},
		{doors: 1000, want: 4 * time.Minute},
		{doors: 1001, want: 6 * time.Minute}, // a started thousand counts
		{doors: 2000, want: 6 * time.Minute},
		{doors: 2001, want: 8 * time.Minute},
		{doors: 10000, want: 22 * time.Minute},
		{doors: 18000, want: 38 * time.Minute},
		{doors: 19000, want: 40 * time.Minute},
		{doors: 100000, want: 40 * time.Minute}, // capped
		{doors: math.MaxInt, want: 40 * time.Minute},
		// --fleet-timeout is the limit of every size.
		{doors: 1000, override: 90 * time.Second, want: 90 * time.Second},
		{doors: 10000, override: 90 * time.Second, want: 90 * time.Second},
		{doors: 100000, override: 2 * time.Hour, want: 2 * time.Hour},
	}
	for _, tt := range tests {
		if got := fleetTimeout(tt.doors, tt.override); got != tt.want {
			t.Errorf("fleetTimeout(%d, %s) = %s, want %s", tt.doors, tt.override, got, tt.want)
		}
	}
}

// The start-up compile crosses from the fleet's JSON to the report; a
// fleet older than the figure (testdata's) gives none, read as 0.
func TestInterpretFleetStartupCompile(t *testing.T) {
	old, err := os.ReadFile("testdata/fleet-ok.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stdout []byte
		want   float64
	}{
		{name: "reported", stdout: bytes.Replace(old, []byte(`"error":""`), []byte(`"error":"","startup_compile_s":0.58`), 1), want: 0.58},
		{name: "a fleet older than the figure", stdout: old, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := interpretFleet(FleetOutcome{Command: "go run ./scripts/fleet"}, tt.stdout, nil, "")
			if o.Status != FleetRan || o.Report.StartupCompileS != tt.want {
				t.Errorf("got %s, startup_compile_s %v; want ran, %v", o.Status, o.Report.StartupCompileS, tt.want)
			}
		})
	}
}
