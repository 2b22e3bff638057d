package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
)

// TestStaffAdd: the demo's account (known password and TOTP secret) signs
// in with them; an invitation prints a one-time link that opens; bad input
// names the flag.
func TestStaffAdd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, server.DBFile), sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "gent", Name: "Gent", TimeZone: "Europe/Brussels"}))
	require.NoError(t, st.Close())
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("brass lantern harbor 2026\n"), 0o600))
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"staff", "add", "--data", dir, "--email", "Admin@Demo.example", "--name", "Demo admin", "--role", "admin",
		"--password-file", pw, "--totp-secret", strings.ToLower(secret)}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "created admin@demo.example")
	require.Contains(t, out.String(), "totp secret: "+secret)
	require.Contains(t, out.String(), "otpauth://totp/")
	require.Len(t, regexp.MustCompile(`(?m)^  [a-z2-9]{5}-[a-z2-9]{5}$`).FindAllString(out.String(), -1), accounts.RecoveryCodes)

	var code bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"staff", "code", "--totp-secret", secret}, &code, &errOut))
	require.Regexp(t, `^[0-9]{6}\n$`, code.String())

	out.Reset()
	require.Equal(t, 0, run(ctx, []string{"staff", "add", "--data", dir, "--public-url", "https://central.example", "--email", "mia@gent.example",
		"--name", "Mia", "--role", "manager", "--center", "gent"}, &out, &errOut), errOut.String())
	link := regexp.MustCompile(`https://central\.example/invite/(\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, link, out.String())

	st, err = sqlite.Open(ctx, filepath.Join(dir, server.DBFile), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()
	key, err := accounts.LoadOrCreateTOTPKey(filepath.Join(dir, accounts.TOTPKeyFile))
	require.NoError(t, err, "the CLI made the key serve uses")
	svc, err := accounts.NewService(accounts.Config{Store: st, TOTPKey: key})
	require.NoError(t, err)
	ticket, err := svc.SignIn(ctx, "admin@demo.example", "brass lantern harbor 2026", "127.0.0.1")
	require.NoError(t, err)
	totp, err := accounts.TOTPCode(secret, time.Now())
	require.NoError(t, err)
	a, err := svc.SecondFactor(ctx, ticket, totp, "127.0.0.1")
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, a.Role)
	invited, err := svc.OpenInvitation(ctx, link[1])
	require.NoError(t, err)
	require.Equal(t, "mia@gent.example", invited.Email)
	require.Equal(t, []string{"gent"}, invited.Centers)

	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no role", []string{"--email", "x@example.org", "--name", "X"}, 2, "--role"},
		{"manager without center", []string{"--email", "x@example.org", "--name", "X", "--role", "manager"}, 1, "centers"},
		{"unknown center", []string{"--email", "x@example.org", "--name", "X", "--role", "manager", "--center", "zz"}, 1, "centers[0]"},
		{"weak password", []string{"--email", "x@example.org", "--name", "X", "--role", "admin", "--password-file", writeFile(t, "password1234")}, 1, "too common"},
		{"secret without password", []string{"--email", "x@example.org", "--name", "X", "--role", "admin", "--totp-secret", secret}, 2, "--password-file"},
		{"same e-mail", []string{"--email", "admin@demo.example", "--name", "X", "--role", "admin"}, 1, "email"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, c.code, run(ctx, append([]string{"staff", "add", "--data", dir}, c.args...), &out, &errOut))
			require.Contains(t, errOut.String(), c.msg)
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}
