package main

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/scripts/internal/fleetreport"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// small is a fleet that runs in seconds: 20 doors, faults in the middle of
// a 5 s tap phase.
func small(faults ...string) options {
	o := defaultOptions()
	o.doors, o.members, o.tapsPerDoor, o.duration = 20, 200, 8, 5*time.Second
	o.faults = faults
	o.within = 0 // the test asserts behaviour; the figures are the benchmark's
	o.timeout = 2 * time.Minute
	return o
}

func runFleet(t *testing.T, o options) fleetreport.Report {
	t.Helper()
	res, _ := runFleetNotes(t, o)
	return res
}

// runFleetNotes is runFleet that also returns the notes (the run's folder).
func runFleetNotes(t *testing.T, o options) (fleetreport.Report, notes) {
	t.Helper()
	require.NoError(t, o.check())
	var logs bytes.Buffer
	res, notes, err := run(t.Context(), o, slog.New(slog.NewTextHandler(&logs, nil)))
	var human bytes.Buffer
	printHuman(&human, res, notes)
	t.Logf("%s\n%s", logs.String(), human.String())
	require.NoError(t, err)
	assert.True(t, res.ExactlyOnce, "exactly once")
	assert.Positive(t, res.EventsRecorded)
	assert.Equal(t, res.EventsRecorded, res.EventsStored)
	assert.Zero(t, res.Missing)
	assert.Zero(t, res.Duplicates)
	assert.True(t, res.Credited, res.CreditDetail)
	assert.Contains(t, res.CreditDetail, "credited visits")
	assert.Empty(t, res.Error)
	return res, notes
}

// With --pprof the central serves its profiles and the fleet keeps its heap
// profiles in the run's folder.
func TestFleetBrokerRestart(t *testing.T) {
	o := small(faultBrokerRestart)
	o.pprof, o.keep = true, true
	res, notes := runFleetNotes(t, o)
	t.Cleanup(func() { os.RemoveAll(notes.dir) })
	assert.Positive(t, res.StoredAfterRestartS, "the restart happened during the run")
	assert.Positive(t, res.CentralPeakRSSMiB)
	for _, stage := range []string{"seeded", "doors-connected-and-synced", "tap-phase-over"} {
		st, err := os.Stat(filepath.Join(notes.dir, "heap-"+stage+".pprof"))
		if assert.NoError(t, err, stage) {
			assert.Positive(t, st.Size(), stage)
		}
	}
}

// The doors here run in two worker processes, as a large fleet's do.
func TestFleetLinkCutsAndCentralKilledInWorkers(t *testing.T) {
	o := small(faultLinkCuts, faultCentralRestart)
	o.shards = 2
	runFleet(t, o)
}

// TestMain runs the test binary as a fleet worker when a test's fleet
// starts it so (the fleet starts its own executable).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(cli(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestFleetMosquitto(t *testing.T) {
	o := small(faultBrokerRestart)
	o.broker, o.mosquitto = brokerMosquitto, servicetest.MosquittoBinary(t)
	runFleet(t, o)
}

func TestOptionsAreChecked(t *testing.T) {
	for args, want := range map[string]string{
		"--doors 0":                     "--doors 0: want 1 to 100000",
		"--profile noon":                `--profile "noon": want rush, lunch or steady`,
		"--faults broker-restart,flood": `--faults: "flood"`,
		"--broker emqx":                 `--broker "emqx": want embedded or mosquitto`,
		"--duration 10ms":               "--duration 10ms: want 1s to 24h",
		"--broker mosquitto --mosquitto-bin /nonexistent": `--mosquitto-bin "/nonexistent": no such program`,
		"extra":                       `unexpected argument "extra"`,
		"--seed-via email":            `--seed-via "email": want import or api`,
		"--central-memory-limit 800M": `--central-memory-limit "800M": want a size such as 800MiB`,
	} {
		_, err := parseOptions(strings.Fields(args), &bytes.Buffer{})
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), want, args)
	}
	o, err := parseOptions(strings.Fields("--doors 1000 --faults broker-restart,link-cuts --profile lunch"), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{faultBrokerRestart, faultLinkCuts}, o.faults)
	assert.Equal(t, seedImport, o.seedVia, "the fleet seeds by bulk import unless told")
	o, err = parseOptions(strings.Fields("--central-memory-limit 800MiB"), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "800MiB", o.memLimit)
}

// --badges: 0 (one badge per member) or from --members to a million.
func TestBadgesOption(t *testing.T) {
	tests := []struct {
		args    string
		want    int    // o.totalBadges()
		wantErr string // "" when valid
	}{
		{args: "", want: 2000},
		{args: "--badges 0 --members 500", want: 500},
		{args: "--members 500 --badges 500", want: 500},
		{args: "--members 500 --badges 5000", want: 5000},
		{args: "--members 20000 --badges 100000", want: 100000},
		{args: "--members 1000000 --badges 1000000", want: 1000000},
		{args: "--members 500 --badges 499", wantErr: "--badges 499: want 0 (one badge per member) or from --members (500) to 1000000"},
		{args: "--badges 1", wantErr: "--badges 1: want 0 (one badge per member) or from --members (2000) to 1000000"},
		{args: "--badges -1", wantErr: "--badges -1: want 0"},
		{args: "--badges 1000001", wantErr: "--badges 1000001: want 0 (one badge per member) or from --members (2000) to 1000000"},
		{args: "--badges many", wantErr: `invalid value "many" for flag -badges`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			o, err := parseOptions(strings.Fields(tt.args), &bytes.Buffer{})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, o.totalBadges())
		})
	}
}

func TestProfiles(t *testing.T) {
	const n, d = 10000, 100 * time.Second
	share := func(ts []time.Duration, from, to float64) float64 {
		c := 0
		for _, x := range ts {
			if f := x.Seconds() / d.Seconds(); f >= from && f < to {
				c++
			}
		}
		return float64(c) / float64(len(ts))
	}
	r := rand.New(rand.NewPCG(1, 2))
	rush := tapTimes(r, profileRush, n, d)
	assert.Greater(t, share(rush, 0, 1.0/3), 0.6, "rush: most taps in the first third")
	lunch := tapTimes(r, profileLunch, n, d)
	assert.Greater(t, share(lunch, 0.1, 0.3), share(lunch, 0.35, 0.5), "lunch: a morning peak")
	assert.Greater(t, share(lunch, 0.5, 0.7), share(lunch, 0.35, 0.5), "lunch: a lunch peak")
	steady := tapTimes(r, profileSteady, n, d)
	assert.InDelta(t, 0.5, share(steady, 0, 0.5), 0.05, "steady: even")
	for _, ts := range [][]time.Duration{rush, lunch, steady} {
		assert.Len(t, ts, n)
		assert.IsNonDecreasing(t, ts)
		assert.GreaterOrEqual(t, ts[0], time.Duration(0))
		assert.Less(t, ts[len(ts)-1], d)
	}
}

func TestCompareSettlementsNamesCentersAndFigures(t *testing.T) {
	ledger := &credit.Settlement{Centers: []credit.CenterLine{{CenterID: "c01", NomadicMinutes: 240, CreditedVisits: 1}},
		CrossCenter: []credit.CrossCenterLine{{HostCenterID: "c01", HomeCenterID: "c02", Minutes: 60}}}
	scratch := &credit.Settlement{Centers: []credit.CenterLine{{CenterID: "c01", NomadicMinutes: 480, CreditedVisits: 2}, {CenterID: "c03", CreditedVisits: 1}},
		CrossCenter: []credit.CrossCenterLine{{HostCenterID: "c01", HomeCenterID: "c02", Minutes: 60}}}
	assert.Equal(t, []string{
		"c01 credited_visits: ledger 1, from scratch 2",
		"c01 nomadic_minutes: ledger 240, from scratch 480",
		"c03 credited_visits: ledger 0, from scratch 1",
	}, compareSettlements(ledger, scratch))
	assert.Empty(t, compareSettlements(scratch, scratch))
}
