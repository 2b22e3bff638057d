package cmdline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		config     string
		json       bool
		positional []string
		code       int
		ok         bool
		stdout     string
		stderr     string
	}{
		{name: "flags first", args: []string{"--config", "x.toml", "door", "open"}, config: "x.toml", positional: []string{"door", "open"}, ok: true},
		{name: "flags last", args: []string{"door", "open", "--config", "x.toml"}, config: "x.toml", positional: []string{"door", "open"}, ok: true},
		{name: "flags between", args: []string{"door", "-json", "open", "--config=x.toml"}, config: "x.toml", json: true, positional: []string{"door", "open"}, ok: true},
		{name: "double dash ends flags", args: []string{"a", "--", "--config", "y"}, config: "def", positional: []string{"a", "--config", "y"}, ok: true},
		{name: "help", args: []string{"door", "--help"}, config: "def", code: ExitOK, stdout: "usage: prog thing"},
		{name: "help where a value was expected", args: []string{"--config", "--help"}, config: "def", code: ExitOK, stdout: "usage: prog thing"},
		{name: "help after double dash is a word", args: []string{"--", "--help"}, config: "def", positional: []string{"--help"}, ok: true},
		{name: "short help", args: []string{"-h"}, config: "def", code: ExitOK, stdout: "-config string"},
		{name: "unknown flag", args: []string{"door", "--nope"}, config: "def", code: ExitUsage, stderr: "flag provided but not defined: -nope"},
		{name: "missing value", args: []string{"door", "--config"}, config: "def", code: ExitUsage, stderr: "flag needs an argument: -config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			fs := NewFlagSet("prog", "usage: prog thing", &stdout, &stderr)
			config := fs.String("config", "def", "configuration file")
			asJSON := fs.Bool("json", false, "JSON")
			code, ok := fs.Parse(tc.args)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.config, *config)
			require.Equal(t, tc.json, *asJSON)
			if ok {
				require.Equal(t, tc.positional, append([]string{}, fs.Args()...))
			}
			if tc.stdout != "" {
				require.Contains(t, stdout.String(), tc.stdout)
				require.Empty(t, stderr.String())
			}
			if tc.stderr != "" {
				require.Contains(t, stderr.String(), tc.stderr)
				require.Contains(t, stderr.String(), "usage: prog thing")
				require.Empty(t, stdout.String())
			}
		})
	}
}

func TestDispatch(t *testing.T) {
	var ran []string
	cmds := []Command{
		{Name: "one", Synopsis: "--x", Summary: "first", Run: func(a []string) int { ran = append(ran, "one:"+strings.Join(a, ",")); return 0 }},
		{Name: "two", Summary: "second\nover two lines", Run: func(a []string) int { return 1 }},
	}
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{args: []string{"one", "a"}, code: 0},
		{args: []string{"two"}, code: 1},
		{args: nil, code: ExitUsage, stderr: "commands:\n  one --x"},
		{args: []string{"--help"}, code: ExitOK, stdout: "usage: prog CMD\n\ncommands:\n  one --x"},
		{args: []string{"help"}, code: ExitOK, stdout: "over two lines"},
		{args: []string{"three"}, code: ExitUsage, stderr: "prog: unknown command \"three\"\n\nusage: prog CMD"},
	} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, tc.code, Dispatch("prog", "usage: prog CMD", cmds, tc.args, &stdout, &stderr), "%q", tc.args)
		if tc.stdout != "" {
			require.Contains(t, stdout.String(), tc.stdout)
		}
		if tc.stderr != "" {
			require.Contains(t, stderr.String(), tc.stderr)
			require.Contains(t, stderr.String(), "  two")
		}
	}
	require.Equal(t, []string{"one:a"}, ran)
}

func TestBuildOf(t *testing.T) {
	info := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	require.Equal(t, Build{"0.1.0", "f00", "2026-12-07"}, buildOf("0.1.0", "f00", "2026-12-07", info), "the linker's values win")
	require.Equal(t, Build{"devel", "abc123-dirty", "2026-12-01T10:00:00Z"}, buildOf("", "", "", info), "go build in a work tree")
	require.Equal(t, Build{"devel", "unknown", "unknown"}, buildOf("", "", "", none))
	require.Equal(t, "0.1.0 (commit f00, built 2026-12-07)", Build{"0.1.0", "f00", "2026-12-07"}.String())
}

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		format string
		check  func(t *testing.T, line string)
	}{
		{LogText, func(t *testing.T, line string) {
			require.True(t, strings.HasPrefix(line, "time="), line)
			require.Contains(t, line, `level=INFO msg=hello k=v`)
		}},
		{LogJournal, func(t *testing.T, line string) {
			require.Equal(t, "<6>level=INFO msg=hello k=v\n", line)
		}},
		{LogJSON, func(t *testing.T, line string) {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &m))
			require.Equal(t, "hello", m["msg"])
			require.Equal(t, "v", m["k"])
			require.Contains(t, m, "time")
		}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := NewLogger(&buf, tc.format, "info")
			require.NoError(t, err)
			log.Debug("hidden")
			log.Info("hello", "k", "v")
			tc.check(t, buf.String())
		})
	}
	_, err := NewLogger(&bytes.Buffer{}, "xml", "info")
	require.EqualError(t, err, `log format "xml": want text, json or journal`)
	_, err = NewLogger(&bytes.Buffer{}, "text", "loud")
	require.ErrorContains(t, err, `log level "loud"`)
}

// TestJournalDetected: under systemd (JOURNAL_STREAM naming the file
// logged to), text loses its time= field; another file keeps it.
func TestJournalDetected(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/log")
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	require.True(t, toJournal(f, fmt.Sprintf("%d:%d", st.Dev, st.Ino)))
	require.False(t, toJournal(f, fmt.Sprintf("%d:%d", st.Dev, st.Ino+1)))
	require.False(t, toJournal(&bytes.Buffer{}, "1:2"))

	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	log, err := NewLogger(f, "", "info")
	require.NoError(t, err)
	log.Info("hello")
	data, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Equal(t, "<6>level=INFO msg=hello\n", string(data))
}

// TestJournalPriorities: journald reads the level from the line's prefix.
func TestJournalPriorities(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, LogJournal, "debug")
	require.NoError(t, err)
	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	log.Error("e")
	require.Equal(t, "<7>level=DEBUG msg=d\n<6>level=INFO msg=i\n<4>level=WARN msg=w\n<3>level=ERROR msg=e\n", buf.String())
}
