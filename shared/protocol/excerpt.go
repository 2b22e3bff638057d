package protocol

import "unicode/utf8"

// Excerpt returns s when it has at most n bytes, else its first n bytes (cut
// at a character boundary when s is UTF-8 there) followed by "…". It is the
// form in which what a peer sent (a payload, a topic, a client id, an error
// that quotes them) goes into a log line: a message may carry up to
// MaxMessageSize bytes and an MQTT string up to 64 KiB, and a log must not
// grow by that much for each message a peer sends.
func Excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n // not valid UTF-8 around n: cut there
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			cut = i
			break
		}
	}
	return s[:cut] + "…"
}
