package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/web"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// startDashboard builds what the API and the dashboard share (the remote
// command sender) and the dashboard, fed by the ingest's commits, showing
// the hours ledger.
func (s *Server) startDashboard() error {
	s.Commands = api.NewCommander(s.Store, s.Signer, s.Ingest.PublishCommand, s.log, s.Metrics, nil)
	hours := ledgerHours{Service: s.Credit, results: s.Store.Credit()}
	members, err := s.memberSignIn()
	if err != nil {
		return err
	}
	if err := s.startAccounts(); err != nil {
		return err
	}
	var from string
	if a := s.cfg.Mail.FromAddress(); a != nil {
		from = a.String()
	}
	w, err := web.New(web.Config{Store: s.Store, Webhooks: alerts.WebhookPolicy{AllowInsecure: s.cfg.Alerts.WebhookAllowInsecure}, Doors: s.doorStates, Versions: s.compiledVersion, Commands: s.Commands,
		Hours: hours, Logger: s.log, Metrics: s.Metrics, Booking: s.Booking, Mail: s.Mail, MailFrom: from, Members: members,
		Accounts: s.Accounts, Billing: s.Billing, TrustedProxies: s.cfg.TrustedProxies})
	if err != nil {
		return err
	}
	s.Web = w
	s.onStop("web", func(context.Context) error { w.Close(); return nil })
	s.Committed.Subscribe(w.OnCommit)
	s.Metrics.GaugeFunc("swc_doors_whitelist_behind",
		"Doors online whose reported whitelist version is below the version compiled for them.", s.doorsBehind)
	return nil
}

// memberSignIn builds the members' sign-in of the booking site: e-mail
// codes need the SMTP relay, passkeys the public URL (their relying
// party); it says at start which are available.
func (s *Server) memberSignIn() (*accounts.Members, error) {
	m, err := accounts.NewMembers(accounts.MemberConfig{Store: s.Store, Mail: s.Mail, PublicURL: s.cfg.PublicURL,
		Metrics: s.Metrics, Logger: s.log})
	if err != nil {
		return nil, err
	}
	if m.MailEnabled() {
		s.log.Info("serve: members sign in with e-mail codes through the SMTP relay")
	} else {
		s.log.Warn("serve: members cannot sign in with an e-mail code: no SMTP relay (--smtp-host); the sign-in page says so")
	}
	if m.PasskeysEnabled() {
		s.log.Info("serve: members sign in with passkeys", "relying_party", s.cfg.PublicURL)
	} else {
		s.log.Warn("serve: members cannot use passkeys: no --public-url (the passkeys' relying party)")
	}
	return m, nil
}

// ledgerHours gives the dashboard the hours ledger: settlements and
// statements as the API serves them, and the credited minutes per day from
// the ledger's stored results.
type ledgerHours struct {
	*posting.Service
	results credit.Store
}

// DailyMinutes implements web.Hours.
func (h ledgerHours) DailyMinutes(ctx context.Context, center string, p credit.Period) ([]int64, error) {
	if err := h.Sync(ctx); err != nil {
		return nil, err
	}
	results, err := h.results.MemberPeriods(ctx, p)
	if err != nil {
		return nil, err
	}
	return web.DailyFromResults(results, center, p, h.Rules().Location), nil
}

// doorsBehind counts the online doors that report an older whitelist
// version than the compiler holds.
func (s *Server) doorsBehind() float64 {
	n := 0
	for id, st := range s.Ingest.Doors() {
		if st.Status.State != protocol.StateOnline {
			continue
		}
		if v, ok := s.compiledVersion(id); ok && v > st.Status.WLVersion {
			n++
		}
	}
	return float64(n)
}

// compiledVersion is the whitelist version compiled for a door: from this
// replica's compiler when it is the whitelist leader, else from the states
// the leader persisted (read at most every few seconds).
func (s *Server) compiledVersion(door string) (uint64, bool) {
	if c := s.Whitelist(); c != nil {
		return c.Version(door)
	}
	s.statesMu.Lock()
	defer s.statesMu.Unlock()
	if time.Since(s.statesAt) > 5*time.Second {
		states, err := s.Store.WhitelistStates(context.Background())
		if err != nil {
			s.log.Warn("reading whitelist states failed", "err", err)
			return 0, false
		}
		s.states = make(map[string]uint64, len(states))
		for _, st := range states {
			s.states[st.Door] = st.Version
		}
		s.statesAt = time.Now()
	}
	v, ok := s.states[door]
	return v, ok
}

// readiness is the body of /readyz.
type readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// readyz answers 200 when the store answers, the ingest's broker
// connections are up and (with the embedded broker) its listeners accept
// connections, 503 otherwise, saying which check failed (the details are
// logged, not shown).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	res := readiness{Ready: true, Checks: map[string]string{"store": "ok", "broker": "ok"}}
	if _, err := s.Store.CountTokens(ctx); err != nil {
		res.Ready, res.Checks["store"] = false, "unavailable"
		s.log.Warn("readyz: store unavailable", "err", err)
	}
	if !s.Ingest.Connected() {
		res.Ready, res.Checks["broker"] = false, "not connected"
	}
	if s.Broker != nil {
		// The embedded broker's listeners: one whose accept fails (the
		// process out of descriptors) or has stopped takes no new door.
		res.Checks["mqtt_listeners"] = "ok"
		if err := s.Broker.Ready(); err != nil {
			res.Ready, res.Checks["mqtt_listeners"] = false, "not accepting"
			s.log.Warn("readyz: embedded broker not accepting", "err", err)
		}
	}
	status := http.StatusOK
	if !res.Ready {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}
