package main

import (
	"errors"
	"os"
	"strings"
	"testing"
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

func TestCreditedOK(t *testing.T) {
	tests := []struct {
		raw    string
		stored int64
		ok     bool
	}{
		{`true`, 10, true},
		{`false`, 10, false},
		{`10`, 10, true},
		{`9`, 10, false},
		{``, 10, false},
		{`"yes"`, 10, false},
	}
	for _, tt := range tests {
		r := FleetReport{Credited: []byte(tt.raw), EventsStored: tt.stored}
		if ok, _ := r.creditedOK(); ok != tt.ok {
			t.Errorf("credited %q of %d stored: %v, want %v", tt.raw, tt.stored, ok, tt.ok)
		}
	}
}
