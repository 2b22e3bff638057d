package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServeMailFlags: a mail setting that cannot work stops serve before
// it starts, naming the flag.
func TestServeMailFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--smtp-host", "smtp.example.org"}, "--mail-from: required"},
		{[]string{"--mail-from", "noreply@example.org"}, "--smtp-host: required"},
		{[]string{"--smtp-host", "smtp.example.org", "--mail-from", "noreply@example.org", "--smtp-security", "ssl"}, "--smtp-security"},
		{[]string{"--smtp-host", "smtp.example.org", "--mail-from", "noreply@example.org", "--smtp-security", "none"}, "only to a loopback relay"},
		{[]string{"--smtp-host", "smtp.example.org", "--mail-from", "not an address"}, "--mail-from"},
		{[]string{"--smtp-host", "smtp.example.org", "--mail-from", "noreply@example.org", "--smtp-user", "u"}, "--smtp-password-file"},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"serve", "--data", t.TempDir()}, tc.args...)
		require.Equal(t, 2, run(context.Background(), args, &out, &errOut), "%v", tc.args)
		require.Contains(t, errOut.String(), tc.want, "%v", tc.args)
	}
}
