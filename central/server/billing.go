package server

import "github.com/smartworkcenters/swc/central/billing"

// startBilling makes the billing service that the API and the console
// share: the store's billing and its frozen crediting (issue 19).
func (s *Server) startBilling() {
	s.Billing = billing.NewService(billing.Config{Store: s.Store.Billing(), Ledger: s.Store.Credit(), Log: s.log, Metrics: s.Metrics})
}
