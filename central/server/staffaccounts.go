package server

import (
	"path/filepath"

	"github.com/smartworkcenters/swc/central/accounts"
)

// startAccounts builds the staff accounts' service (issue 16) for the API
// and the dashboard: invitations and reset links go through the e-mail
// outbox when one is configured, with links on PublicURL. The TOTP
// secrets are encrypted at rest with the key in the data folder
// (accounts.TOTPKeyFile, made at the first start; replicas share it as
// they share the signing key).
func (s *Server) startAccounts() error {
	key, err := accounts.LoadOrCreateTOTPKey(filepath.Join(s.cfg.DataDir, accounts.TOTPKeyFile))
	if err != nil {
		return err
	}
	svc, err := accounts.NewService(accounts.Config{Store: s.Store, Mail: s.Mail, BaseURL: s.cfg.PublicURL,
		Params: s.cfg.PasswordParams, TOTPKey: key, Metrics: s.Metrics, Logger: s.log})
	if err != nil {
		return err
	}
	s.Accounts = svc
	return nil
}
