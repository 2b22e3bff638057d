package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/server"
)

// TestServeMail: serve with a relay sends what is enqueued on its outbox
// (the password read from the data folder), and without one has no outbox.
func TestServeMail(t *testing.T) {
	relay := mailtest.Start(t, mailtest.Options{TLS: true, Username: "swc", Password: "pw"})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, server.SMTPPasswordFile), []byte("pw\n"), 0o600))
	s, _ := start(t, server.Config{DataDir: dir, Mail: mail.Config{Host: relay.Host, Port: relay.Port, Username: "swc",
		CAFile: relay.CAFile, From: "Smart Work Centers <noreply@swc.example>"}})
	require.NotNil(t, s.Mail)
	_, queued, err := s.Mail.Enqueue(context.Background(), "test:1", mail.Message{To: "ann@example.org", Subject: "Code de connexion : 123 456", Text: "123 456"})
	require.NoError(t, err)
	require.True(t, queued)
	got := relay.Wait(t, 1)
	require.Equal(t, "Code de connexion : 123 456", got[0].Subject)
	require.Equal(t, "swc", got[0].AuthUser)

	off, _ := start(t, server.Config{DataDir: t.TempDir()})
	require.Nil(t, off.Mail)
	_, _, err = off.Mail.Enqueue(context.Background(), "test:2", mail.Message{To: "ann@example.org", Subject: "x", Text: "x"})
	require.ErrorIs(t, err, mail.ErrDisabled)
}

func TestConfigCheckMail(t *testing.T) {
	dir := t.TempDir()
	ok := server.Config{DataDir: dir, HTTPAddr: ":0", MQTTAddr: ":0"}
	for _, tc := range []struct {
		name, want string
		mail       mail.Config
	}{
		{"from without host", "--smtp-host", mail.Config{From: "a@example.org"}},
		{"host without from", "--mail-from", mail.Config{Host: "smtp.example.org"}},
		{"no password file in the data folder", "--smtp-password-file: open " + filepath.Join(dir, server.SMTPPasswordFile),
			mail.Config{Host: "smtp.example.org", From: "a@example.org", Username: "u"}},
		{"clear text to a remote relay", "--smtp-security", mail.Config{Host: "smtp.example.org", From: "a@example.org", Security: mail.None}},
	} {
		c := ok
		c.Mail = tc.mail
		err := c.Check()
		require.Error(t, err, tc.name)
		require.True(t, strings.HasPrefix(err.Error(), tc.want), "%s: %v", tc.name, err)
	}
}
