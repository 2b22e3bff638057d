package server

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/smartworkcenters/swc/central/mail"
)

// SMTPPasswordFile is where serve looks for the SMTP relay's password when
// --smtp-user is given without --smtp-password-file.
const SMTPPasswordFile = "smtp-password"

// checkMail fills the mail configuration's defaults from the data folder
// and validates it.
func (c *Config) checkMail() error {
	if c.Mail.Username != "" && c.Mail.PasswordFile == "" && c.DataDir != "" {
		c.Mail.PasswordFile = filepath.Join(c.DataDir, SMTPPasswordFile)
	}
	if err := c.Mail.Validate(); err != nil {
		return fmt.Errorf("--%w", err)
	}
	return nil
}

// startMail starts the e-mail outbox's sender when a relay is configured
// (Server.Mail stays nil otherwise: features that need mail check
// Config.Mail.Required at start-up).
func (s *Server) startMail() error {
	if !s.cfg.Mail.Enabled() {
		s.log.Info("serve: e-mail disabled (no --smtp-host)")
		return nil
	}
	ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: s.cfg.Mail, Store: s.Store.Outbox(), Metrics: s.Metrics, Logger: s.log})
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	s.Mail = ob
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ob.Run(ctx)
	}()
	s.onStop("mail outbox", func(context.Context) error {
		cancel()
		<-done
		return nil
	})
	s.log.Info("serve: e-mail through the SMTP relay", "relay", s.cfg.Mail.Addr(), "security", s.cfg.Mail.Security, "from", s.cfg.Mail.FromAddress().Address)
	return nil
}
