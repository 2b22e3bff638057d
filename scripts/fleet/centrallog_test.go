package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/scripts/internal/fleetreport"
)

// Lines as the central's text log writes them (central/server newCompiler
// and its neighbours).
const (
	logListening = `time=2026-12-07T12:40:00.010Z level=INFO msg="serve: listening" http=127.0.0.1:40001` + "\n"
	logCompiled1 = `time=2026-12-07T12:40:01.123Z level=INFO msg="serve: whitelists loaded and compiled" load=3.1ms compile=1.9ms took=5.0ms` + "\n"
	logCompiled2 = `time=2026-12-07T12:41:15.500Z level=INFO msg="serve: whitelists loaded and compiled" load=123.4ms compile=456.7ms took=580.1ms` + "\n"
	logIngest    = `time=2026-12-07T12:41:16.000Z level=INFO msg="ingest: stored" events=500` + "\n"
)

func TestParseStartupCompile(t *testing.T) {
	tests := []struct {
		name    string
		log     string
		took    time.Duration
		starts  int
		errHas  string
		wantErr bool
	}{
		{name: "two starts: the last one", log: logListening + logCompiled1 + logIngest + logListening + logCompiled2 + logIngest, took: 580100 * time.Microsecond, starts: 2},
		{name: "one start, minutes", log: strings.Replace(logCompiled2, "took=580.1ms", "took=2m3.4s", 1), took: 2*time.Minute + 3400*time.Millisecond, starts: 1},
		{name: "the last line without a newline", log: logCompiled1 + strings.TrimSuffix(logCompiled2, "\n"), took: 580100 * time.Microsecond, starts: 2},
		{name: "journald format", log: "<6>" + strings.Replace(logCompiled2, "time=2026-12-07T12:41:15.500Z ", "", 1), took: 580100 * time.Microsecond, starts: 1},
		{name: "a long line elsewhere", log: logListening + `level=ERROR msg=x excerpt="` + strings.Repeat("a", 200_000) + "\"\n" + logCompiled2, took: 580100 * time.Microsecond, starts: 1},
		{name: "none", log: logListening + logIngest},
		{name: "empty log"},
		{name: "malformed took", log: logCompiled1 + strings.Replace(logCompiled2, "took=580.1ms", "took=580.1", 1), starts: 2, wantErr: true, errHas: "took=580.1"},
		{name: "negative took", log: strings.Replace(logCompiled2, "took=580.1ms", "took=-1s", 1), starts: 1, wantErr: true, errHas: "negative"},
		{name: "no took", log: strings.Replace(logCompiled2, " took=580.1ms", "", 1), starts: 1, wantErr: true, errHas: "no took="},
		{name: "a malformed earlier start does not matter", log: strings.Replace(logCompiled1, "took=5.0ms", "took=?", 1) + logCompiled2, took: 580100 * time.Microsecond, starts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			took, starts, err := lastStartupCompile(strings.NewReader(tt.log))
			assert.Equal(t, tt.starts, starts, "starts")
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errHas)
				assert.Zero(t, took)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.took, took)
		})
	}
}

// The figure comes from the run folder's central.log; a log the fleet
// cannot read is a warning in its own log, and the figure stays 0.
func TestStartupCompileFromLog(t *testing.T) {
	tests := []struct {
		name    string
		log     *string // nil: no central.log at all
		want    float64
		warnHas string
	}{
		{name: "two starts", log: ptr(logCompiled1 + logIngest + logCompiled2), want: 0.58},
		{name: "none", log: ptr(logListening), warnHas: `level=WARN msg="central start-up compile not found`},
		{name: "malformed", log: ptr(strings.Replace(logCompiled2, "took=580.1ms", "took=soon", 1)), warnHas: `level=WARN msg="central start-up compile not read"`},
		{name: "the central never started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			f := &fleet{tmp: t.TempDir(), log: slog.New(slog.NewTextHandler(&logs, nil))}
			if tt.log != nil {
				require.NoError(t, os.WriteFile(filepath.Join(f.tmp, "central.log"), []byte(*tt.log), 0o600))
			}
			f.readStartupCompile()
			assert.InDelta(t, tt.want, f.res.StartupCompileS, 1e-9)
			if tt.warnHas != "" {
				assert.Contains(t, logs.String(), tt.warnHas)
			} else {
				assert.NotContains(t, logs.String(), "level=WARN")
			}
		})
	}
}

// The summary line of the restart figures gives the start-up compile.
func TestPrintHumanStartupCompile(t *testing.T) {
	for _, tt := range []struct {
		s    float64
		want string
	}{
		{0.58, "; start-up compile 0.6s (the central's last start)\n"},
		{0.005, "; start-up compile 0.005s (the central's last start)\n"},
		{0, "; start-up compile not in central.log\n"},
	} {
		var out bytes.Buffer
		printHuman(&out, fleetreport.Report{Faults: []string{faultBrokerRestart}, StartupCompileS: tt.s}, notes{})
		assert.Contains(t, out.String(), "  after the restart: ")
		assert.Contains(t, out.String(), tt.want)
	}
}

func ptr[T any](v T) *T { return &v }
