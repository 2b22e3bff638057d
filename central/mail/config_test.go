package mail_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/mail"
)

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "smtp-password")
	require.NoError(t, os.WriteFile(pw, []byte("s3cret\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	notPEM := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("nothing"), 0o600))
	ok := func() mail.Config {
		return mail.Config{Host: "smtp.example.org", Username: "swc", PasswordFile: pw, From: "Smart Work Centers <noreply@example.org>"}
	}
	for _, tc := range []struct {
		name  string
		edit  func(c *mail.Config)
		field string // "" for valid
		port  int
	}{
		{"defaults", func(c *mail.Config) {}, "", 587},
		{"implicit TLS", func(c *mail.Config) { c.Security = mail.ImplicitTLS }, "", 465},
		{"disabled", func(c *mail.Config) { *c = mail.Config{} }, "", 0},
		{"flags without host", func(c *mail.Config) { c.Host = "" }, "smtp-host", 0},
		{"bad host", func(c *mail.Config) { c.Host = "smtp.example.org:25" }, "smtp-host", 0},
		{"none to a remote host", func(c *mail.Config) { c.Security = mail.None }, "smtp-security", 0},
		{"none to loopback", func(c *mail.Config) { c.Security, c.Host = mail.None, "127.0.0.1" }, "", 587},
		{"none to localhost", func(c *mail.Config) { c.Security, c.Host, c.Port = mail.None, "localhost", 25 }, "", 25},
		{"unknown security", func(c *mail.Config) { c.Security = "ssl" }, "smtp-security", 0},
		{"port", func(c *mail.Config) { c.Port = 70000 }, "smtp-port", 0},
		{"no from", func(c *mail.Config) { c.From = "" }, "mail-from", 0},
		{"bad from", func(c *mail.Config) { c.From = "noreply at example" }, "mail-from", 0},
		{"from with a line break", func(c *mail.Config) { c.From = "a@example.org\r\nBcc: x@example.org" }, "mail-from", 0},
		{"user without password", func(c *mail.Config) { c.PasswordFile = "" }, "smtp-password-file", 0},
		{"password without user", func(c *mail.Config) { c.Username = "" }, "smtp-user", 0},
		{"missing password file", func(c *mail.Config) { c.PasswordFile = filepath.Join(dir, "nope") }, "smtp-password-file", 0},
		{"empty password file", func(c *mail.Config) { c.PasswordFile = empty }, "smtp-password-file", 0},
		{"CA not PEM", func(c *mail.Config) { c.CAFile = notPEM }, "smtp-ca", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				require.Equal(t, tc.port, c.Port)
				return
			}
			var fe *mail.FieldError
			require.True(t, errors.As(err, &fe), "error %v", err)
			require.Equal(t, tc.field, fe.Field, "error %v", err)
		})
	}
}

func TestRequired(t *testing.T) {
	var off mail.Config
	err := off.Required("member sign-in by e-mail code")
	require.ErrorContains(t, err, "member sign-in by e-mail code needs e-mail")
	require.ErrorContains(t, err, "--smtp-host")
	on := mail.Config{Host: "smtp.example.org"}
	require.NoError(t, on.Required("member sign-in by e-mail code"))
}
