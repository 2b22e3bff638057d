package sepa

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// latin writes s in the SEPA basic Latin character set: a–z A–Z 0–9
// / - ? : ( ) . , ' + and space. Accented letters lose their accents;
// other characters become spaces; runs of spaces collapse; at most max
// runes are kept.
func latin(s string, max int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue // a combining accent
		}
		switch r {
		case 'ß':
			r = 's'
		case 'æ', 'Æ', 'œ', 'Œ', 'ø', 'Ø', 'ł', 'Ł', 'đ', 'Đ':
			r = map[rune]rune{'æ': 'a', 'Æ': 'A', 'œ': 'o', 'Œ': 'O', 'ø': 'o', 'Ø': 'O', 'ł': 'l', 'Ł': 'L', 'đ': 'd', 'Đ': 'D'}[r]
		}
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-?:().,'+", r)
		if !ok {
			if !space && b.Len() > 0 {
				space = true
			}
			continue
		}
		if space {
			if n+1 >= max {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		if n >= max {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
