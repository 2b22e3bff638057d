package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		doors   []int
		timeout time.Duration // 0: scaled with the doors
		errHas  string        // on stderr and in the error
	}{
		{name: "defaults", doors: []int{1000}},
		{name: "one size", args: []string{"--fleet-doors", "10000"}, doors: []int{10000}},
		{name: "two sizes, in the order given", args: []string{"--fleet-doors", "1000,10000"}, doors: []int{1000, 10000}},
		{name: "spaces around the commas", args: []string{"--fleet-doors", "10000, 1000"}, doors: []int{10000, 1000}},
		{name: "the last --fleet-doors wins", args: []string{"--fleet-doors", "1000,2000", "--fleet-doors=50"}, doors: []int{50}},
		{name: "an explicit timeout", args: []string{"--fleet-doors", "1000,10000", "--fleet-timeout", "30m"}, doors: []int{1000, 10000}, timeout: 30 * time.Minute},
		{name: "zero", args: []string{"--fleet-doors", "0"}, errHas: `invalid value "0" for flag -fleet-doors: "0" is not a positive number of doors`},
		{name: "negative", args: []string{"--fleet-doors", "1000,-5"}, errHas: `-fleet-doors: "-5" is not a positive number of doors`},
		{name: "not a number", args: []string{"--fleet-doors", "1k"}, errHas: `-fleet-doors: "1k" is not a positive number of doors (want sizes separated by commas, such as 1000,10000)`},
		{name: "empty", args: []string{"--fleet-doors", ""}, errHas: `-fleet-doors: "" is not a positive number`},
		{name: "an empty size", args: []string{"--fleet-doors", "1000,,10000"}, errHas: `-fleet-doors: "" is not a positive number`},
		{name: "a trailing comma", args: []string{"--fleet-doors", "1000,"}, errHas: `-fleet-doors: "" is not a positive number`},
		{name: "a size twice", args: []string{"--fleet-doors", "1000,10000,1000"}, errHas: "-fleet-doors: 1000 doors given twice"},
		{name: "a negative timeout", args: []string{"--fleet-timeout", "-1m"}, errHas: "--fleet-timeout -1m0s: want a positive duration"},
		{name: "an argument", args: []string{"--skip-fleet", "10000"}, errHas: `unexpected arguments ["10000"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseFlags(tt.args, &stderr)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(stderr.String(), tt.errHas) {
					t.Fatalf("got %v (stderr %q), want an error with %q", err, stderr.String(), tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v (stderr %q)", err, stderr.String())
			}
			if !slices.Equal(o.fleetDoors, tt.doors) || o.fleetTimeout != tt.timeout {
				t.Errorf("got doors %v, timeout %s; want %v, %s", o.fleetDoors, o.fleetTimeout, tt.doors, tt.timeout)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(stderr.String(), "1000,10000") {
		t.Errorf("the usage does not show how to give two sizes:\n%s", stderr.String())
	}
}

// run with two fleet sizes, against a stand-in go command in a module of
// its own: the sizes run one after the other in the order given, the one
// that runs out of time is reported failed with its reason, and the other
// keeps its figures.
func TestRunTwoFleetSizes(t *testing.T) {
	ok, err := filepath.Abs("testdata/fleet-ok.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	goBin := filepath.Join(dir, "go")
	script := `#!/bin/sh
case "$1" in
env) echo go1.99 ;;
list) echo ` + Module + `/p ;;
test) echo '{"Action":"pass","Package":"` + Module + `/p","Elapsed":0.1}' ;;
run)
	echo "$4" >>fleet-runs
	[ "$4" = 10000 ] && exec sleep 30
	cat ` + ok + ` ;;
esac
`
	files := map[string]string{"go.mod": "module " + Module + "\n", "go": script, "scripts/fleet/main.go": "package main\n"}
	for name, text := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "stand-in"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}

	var progress bytes.Buffer
	o := options{out: "BENCHMARKS.md", fleetDoors: doorSizes{10000, 1000}, fleetTimeout: 2 * time.Second, goBin: goBin}
	if err := run(t.Context(), o, &progress); !errors.Is(err, errFailures) {
		t.Fatalf("run: %v, want %v\n%s", err, errFailures, progress.String())
	}
	runs, err := os.ReadFile("fleet-runs")
	if err != nil {
		t.Fatal(err)
	}
	if string(runs) != "10000\n1000\n" {
		t.Errorf("fleet runs %q, want 10000 then 1000", runs)
	}
	data, err := os.ReadFile("BENCHMARKS.md")
	if err != nil {
		t.Fatal(err)
	}
	report := string(data)
	for _, want := range []string{
		"| `" + goBin + " run ./scripts/fleet --doors 10000 --duration 30s --taps-per-door 5 --members 20000 --badges 100000 --central-memory-limit 800MiB --within 0 --faults broker-restart --json` | 2",
		"| `" + goBin + " run ./scripts/fleet --doors 1000 --duration 30s --within 0 --faults broker-restart --json` | ",
		"| 10,000-door run | `" + goBin + " run ./scripts/fleet --doors 10000 --duration 30s --taps-per-door 5 --members 20000 --badges 100000 --central-memory-limit 800MiB --within 0 --faults broker-restart --json` | — | — | **failed**: did not finish within 2s (stopped; --fleet-timeout sets the limit) |",
		"| 1,000-door run: credited after the broker restart | 11.5 s (scripts/fleet) | — (≤ 20 s at 10,000 doors) | — | context: within the 10,000-door target |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks\n%s\nin\n%s", want, report)
		}
	}
}
