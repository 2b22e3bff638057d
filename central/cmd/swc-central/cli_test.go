package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/keys"
	"github.com/smartworkcenters/swc/shared/cmdline/cmdlinetest"
)

func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestHelpEverywhere: -h, -help and --help on every command and
// subcommand print its help on stdout and exit 0.
func TestHelpEverywhere(t *testing.T) {
	lines := [][]string{{}, {"staff", "add"}, {"staff", "code"}, {"billing", "dry-run"}, {"billing", "issue"}, {"billing", "list"}, {"billing", "export"}, {"billing", "payouts"}, {"billing", "mail"}}
	for _, c := range commands(context.Background(), nil, nil) {
		lines = append(lines, []string{c.Name})
	}
	cmdlinetest.HelpWorks(t, "swc-central", runCLI, lines)
	out, _, _ := runCLI("serve", "--help")
	assert.Contains(t, out, "-log-format")
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		out, errOut, code := runCLI(args...)
		require.Equal(t, 0, code, errOut)
		require.Regexp(t, `^swc-central \S+ \(commit \S+, built \S+\)\n$`, out)
	}
}

func TestFlagsAfterWordsAndUnknownCommands(t *testing.T) {
	dir := t.TempDir()
	// Flags after a word are read: key --data DIR given last.
	out, errOut, code := runCLI("key", "--data", filepath.Join(dir, "d"))
	require.Equal(t, 0, code, errOut)
	require.FileExists(t, filepath.Join(dir, "d", keys.FileName), "the key was made where --data said")
	require.NotEmpty(t, out)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"frobnicate"}, []string{`swc-central: unknown command "frobnicate"`, "  serve ", "  settle ", "  version "}},
		{[]string{"staff", "remove"}, []string{`swc-central staff: unknown command "remove"`, "  add ", "  code "}},
		{[]string{"key", "extra", "--data", dir}, []string{`unexpected argument "extra"`}},
		{[]string{"serve", "--log-format", "xml"}, []string{`log format "xml": want text, json or journal`}},
	} {
		out, errOut, code := runCLI(tc.args...)
		assert.Equal(t, 2, code, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		for _, w := range tc.want {
			assert.Contains(t, errOut, w, "%q", tc.args)
		}
	}
}

// TestReadmeCommands runs every swc-central command line the README
// quotes with --help: each command and each flag it uses must exist.
func TestReadmeCommands(t *testing.T) {
	cmdlinetest.DocHelpWorks(t, "../../../README.md", "swc-central", runCLI)
}

// TestReadmeServeFlags: every flag of the README's table of serve flags
// is a flag of serve.
func TestReadmeServeFlags(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), "`swc-central serve` flags:")
	require.True(t, ok, "the README's table of serve flags")
	help, _, code := runCLI("serve", "--help")
	require.Equal(t, 0, code)
	flagRE := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	n := 0
	for _, l := range strings.Split(strings.TrimLeft(after, "\n"), "\n") {
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := strings.Split(l, "|")
		for _, m := range flagRE.FindAllStringSubmatch(cells[1], -1) {
			n++
			assert.Regexp(t, `(?m)^  -`+regexp.QuoteMeta(m[1])+`\b`, help, "--%s in the README is no flag of serve", m[1])
		}
	}
	require.Greater(t, n, 5)
}
