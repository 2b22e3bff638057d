// Package cmdlinetest finds the command lines a document quotes, so that a
// test can run each one (with --help) and keep the documentation's
// commands and flags true.
package cmdlinetest

import (
	"regexp"
	"strings"
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
