package protocol

import (
	"strings"
	"testing"
)

func TestExcerpt(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"cut", "abcdef", 5, "abcde…"},
		{"cut before a split character", "abcd€f", 5, "abcd…"},
		{"invalid UTF-8 is cut at n", strings.Repeat("\x80", 10), 5, strings.Repeat("\x80", 5) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Excerpt(tc.in, tc.n); got != tc.want {
				t.Errorf("Excerpt(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}
