package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/cmdline/cmdlinetest"
)

// runCLI runs swc-edge in this process.
func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = cli(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestHelpEverywhere: -h, -help and --help on every command and
// subcommand print its help on stdout and exit 0.
func TestHelpEverywhere(t *testing.T) {
	lines := [][]string{{}}
	for _, c := range commands {
		lines = append(lines, strings.Fields(c.name))
	}
	cmdlinetest.HelpWorks(t, "swc-edge", runCLI, lines)
	out, _, _ := runCLI("run", "--help")
	assert.Contains(t, out, "-log-format")
	assert.Contains(t, out, "-config")
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		out, errOut, code := runCLI(args...)
		require.Equal(t, 0, code, errOut)
		require.Regexp(t, `^swc-edge \S+ \(commit \S+, built \S+\)\n$`, out)
	}
	_, errOut, code := runCLI("version", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unexpected argument "extra"`)
}

// TestFlagsAfterWords: flags after a command's words are honoured (the
// --config given after `sim door open` is the one read), and words where
// none belong are refused.
func TestFlagsAfterWords(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.toml")
	for _, args := range [][]string{
		{"sim", "door", "open", "--config", missing},
		{"sim", "door", "--config=" + missing, "open"},
		{"status", "--json", "--config", missing},
		{"whitelist", "load", "msgs.txt", "--config", missing},
		{"test", "relay", "--config", missing},
	} {
		_, errOut, code := runCLI(args...)
		assert.Equal(t, 2, code, "%q", args)
		assert.Contains(t, errOut, missing, "%q reads the --config given", args)
	}
	for _, args := range [][]string{
		{"check", "--config", missing, "now"},
		{"run", "extra", "--config", missing},
		{"tap", "04A1B2C3", "--config", missing},
	} {
		_, errOut, code := runCLI(args...)
		assert.Equal(t, 2, code, "%q", args)
		assert.Contains(t, errOut, "unexpected argument", "%q", args)
	}
	_, errOut, code := runCLI("sim", "door", "open", "--confg", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "flag provided but not defined: -confg")
}

// TestUnknownCommandListsCommands: a mistyped command or subcommand prints
// the list to choose from, exit 2.
func TestUnknownCommandListsCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "  check ", "  provision ", "  version "}},
		{[]string{"whitelist", "lod"}, []string{`swc-edge whitelist: unknown command "lod"`, "  load ", "  keygen ", "  sign "}},
		{[]string{"test", "relais"}, []string{`unknown command "relais"`, "  reader ", "  relay ", "  inputs "}},
		{[]string{"test"}, []string{"  reader "}},
		{nil, []string{"usage: swc-edge COMMAND", "  run "}},
	} {
		out, errOut, code := runCLI(tc.args...)
		assert.Equal(t, 2, code, "%q", tc.args)
		assert.Empty(t, out)
		for _, w := range tc.want {
			assert.Contains(t, errOut, w, "%q", tc.args)
		}
	}
}

// TestReadmeCommands runs every swc-edge command line the README quotes
// with --help: each command and each flag it uses must exist.
func TestReadmeCommands(t *testing.T) {
	cmdlinetest.DocHelpWorks(t, "../../../README.md", "swc-edge", runCLI)
}

// TestRunLogFormat: run --log-format json logs JSON lines whatever [log]
// says.
func TestRunLogFormat(t *testing.T) {
	s := newSite(t, "")
	p := &agentProc{cmd: edgeCmd(context.Background(), "run", "--config", s.config, "--log-format", "json"), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	s.eventually(func() bool { return strings.Contains(p.stderr.String(), "\n") }, "a log line")
	require.Equal(t, 0, p.stop(t, syscall.SIGTERM))
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "%q is not JSON", l)
		require.Contains(t, m, "msg")
	}
	_, errOut, code := runCLI("run", "--config", s.config, "--log-format", "xml")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `log format "xml": want text, json or journal`)
}
