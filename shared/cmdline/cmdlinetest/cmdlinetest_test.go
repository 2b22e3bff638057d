package cmdlinetest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCommandLines(t *testing.T) {
	doc := []byte("Run `swc-edge check --config /etc/x.toml` first, then `swc-edge test\nreader`.\n" +
		"```sh\nsudo swc-edge provision --central https://c --door d \\\n    --token 'a b'   # the token\nswc-central serve --data D\n```\n" +
		"Not `swc-edge` alone nor `swc-edge ...` nor `journalctl -u swc-edge -f`; `swc-central key --data DIR`.\n")
	require.Equal(t, [][]string{
		{"provision", "--central", "https://c", "--door", "d", "--token", "a b"},
		{"check", "--config", "/etc/x.toml"},
		{"test", "reader"},
	}, CommandLines(doc, "swc-edge"))
	require.Equal(t, [][]string{{"serve", "--data", "D"}, {"key", "--data", "DIR"}}, CommandLines(doc, "swc-central"))
}
