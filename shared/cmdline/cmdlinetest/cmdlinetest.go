// Package cmdlinetest finds the command lines a document quotes, so that a
// test can run each one (with --help) and keep the documentation's
// commands and flags true.
package cmdlinetest

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var (
	fence  = regexp.MustCompile("(?s)```[^\n]*\n(.*?)```")
	inline = regexp.MustCompile("`([^`\n]*(?:\n[^`\n]*)?)`")
)

// CommandLines returns the command lines of prog in markdown: every line
// of a fenced code block (joined with its "\" continuations) and every
// inline code span that runs prog (first word, or after "sudo"), split
// into words after prog (quotes group words). Spans naming prog alone,
// or prog followed by "...", are left out.
func CommandLines(markdown []byte, prog string) [][]string {
	var lines []string
	for _, m := range fence.FindAllSubmatch(markdown, -1) {
		block := strings.ReplaceAll(string(m[1]), "\\\n", " ")
		lines = append(lines, strings.Split(block, "\n")...)
	}
	outside := fence.ReplaceAll(markdown, nil)
	for _, m := range inline.FindAllSubmatch(outside, -1) {
		lines = append(lines, strings.ReplaceAll(string(m[1]), "\n", " "))
	}
	var out [][]string
	for _, l := range lines {
		words := split(l)
		if len(words) > 0 && words[0] == "sudo" {
			words = words[1:]
		}
		if len(words) > 1 && words[0] == prog && words[1] != "..." {
			out = append(out, words[1:])
		}
	}
	return out
}

// split cuts a shell line into words: blanks separate, single and double
// quotes group, a # word starts a comment.
func split(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '#' && !inWord:
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// Runner runs the program under test in the test's process and returns
// what it wrote and its exit status.
type Runner func(args ...string) (stdout, stderr string, code int)

// HelpWorks runs prog with each line followed by -h, -help and --help and
// fails the test unless each exits 0, prints its usage on stdout (starting
// "usage:" and naming prog and the line's command) and nothing on stderr.
func HelpWorks(t *testing.T, prog string, run Runner, lines [][]string) {
	t.Helper()
	for _, words := range lines {
		name := prog
		if len(words) > 0 && !strings.HasPrefix(words[0], "-") {
			name += " " + words[0]
		}
		for _, h := range []string{"-h", "-help", "--help"} {
			args := append(append([]string{}, words...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				out, errOut, code := run(args...)
				if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage:") {
					t.Fatalf("%s %s: exit %d, stderr %q, stdout %q: want exit 0 and the usage on stdout", prog, strings.Join(args, " "), code, errOut, out)
				}
				if !strings.Contains(out, name) {
					t.Errorf("%s %s: the help does not name %q:\n%s", prog, strings.Join(args, " "), name, out)
				}
			})
		}
	}
}

// DocHelpWorks runs HelpWorks on every command line of prog that the
// markdown file at path quotes (CommandLines), and fails when it quotes
// none.
func DocHelpWorks(t *testing.T, path, prog string, run Runner) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := CommandLines(doc, prog)
	if len(lines) == 0 {
		t.Fatalf("%s quotes no %s command line", path, prog)
	}
	HelpWorks(t, prog, run, lines)
}
