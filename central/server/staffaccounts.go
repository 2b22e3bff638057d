package server

import (
	"github.com/smartworkcenters/swc/central/accounts"
)

// startAccounts builds the staff accounts' service (issue 16) for the API
// and the dashboard: invitations and reset links go through the e-mail
// outbox when one is configured, with links on PublicURL.
func (s *Server) startAccounts() error {
	svc, err := accounts.NewService(accounts.Config{Store: s.Store, Mail: s.Mail, BaseURL: s.cfg.PublicURL,
		Params: s.cfg.PasswordParams, Metrics: s.Metrics, Logger: s.log})
	if err != nil {
		return err
	}
	s.Accounts = svc
	return nil
}
