package server

import (
	"context"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/settings"
)

// startCrediting starts the hours ledger: fed every committed domain change
// (booking, pass, member, door, center) and, once the ingest runs, every
// commit of door events.
func (s *Server) startCrediting() error {
	// The base rules: each period's rates and crediting settings come from
	// the stored settings (ensureSettings).
	rules, err := credit.DefaultConfig(settings.DefaultRateCents)
	if err != nil {
		return err
	}
	// Replicas sharing PostgreSQL elect one crediting leader (see
	// postingleader.go); the others serve the ledger it persists.
	scaleOut := s.cfg.DBURL != ""
	svc, err := posting.New(posting.Config{Rules: rules, Store: s.Store, Logger: s.log, Metrics: s.Metrics, Cursor: scaleOut})
	if err != nil {
		return err
	}
	// No API request runs before startHTTP, so no change can come before
	// this subscription; the ingest starts after it.
	s.Changes.Subscribe(svc.Changed)
	s.Committed.Subscribe(svc.Committed)
	s.Credit = svc
	s.leadingCredit = s.Metrics.Gauge("swc_credit_leader", "1 while this replica is the crediting leader (it posts the stored events to the hours ledger).")
	if scaleOut {
		stop := s.startPostingElection(svc)
		s.onStopBeside("crediting leader election", func(context.Context) error {
			stop()
			return nil
		})
		s.log.Info("serve: hours crediting elects a leader among the replicas", "time_zone", rules.Location.String())
		return nil
	}
	s.leadingCredit.Set(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Run(ctx); err != nil {
			s.log.Error("crediting stopped", "err", err)
		}
	}()
	s.onStopBeside("crediting", func(context.Context) error {
		cancel()
		<-done
		return nil
	})
	s.log.Info("serve: hours crediting running, with the stored network settings", "time_zone", rules.Location.String())
	return nil
}
