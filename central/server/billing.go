package server

import (
	"net"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoicemail"
	"github.com/smartworkcenters/swc/central/web/i18n"
)

// startBilling makes the billing service that the API and the console
// share: the store's billing and its frozen crediting (issue 19). With a
// mail relay, every member of an issued document gets an e-mail (package
// invoicemail), queued after the issue committed.
func (s *Server) startBilling() {
	cfg := billing.Config{Store: s.Store.Billing(), Ledger: s.Store.Credit(), Log: s.log, Metrics: s.Metrics}
	if s.Mail == nil {
		s.log.Info("serve: no mail relay: members are not e-mailed their invoices (they find them at /my/invoices)")
	} else if n, err := s.invoiceMail(); err != nil {
		s.log.Error("serve: members' invoice e-mails disabled", "err", err)
	} else {
		cfg.Notify = n.NotifyFunc()
	}
	s.Billing = billing.NewService(cfg)
}

func (s *Server) invoiceMail() (*invoicemail.Notifier, error) {
	cat, err := i18n.New()
	if err != nil {
		return nil, err
	}
	return invoicemail.New(invoicemail.Config{Queue: s.Mail, Details: s.Store.Billing(), Catalog: cat, SiteURL: s.siteURL(), Log: s.log, Metrics: s.Metrics})
}

// siteURL is where members reach the booking site, for links in e-mail
// sent outside a request: --public-url, else the --http address when it
// names a host and a port (port 0, any free one, is chosen after billing
// starts: the e-mail then names the path only).
func (s *Server) siteURL() string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	host, port, err := net.SplitHostPort(s.cfg.HTTPAddr)
	if err != nil || host == "" || port == "0" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		return ""
	}
	scheme := "http://"
	if s.cfg.HTTPS {
		scheme = "https://"
	}
	return scheme + s.cfg.HTTPAddr
}
