package server

import (
	"context"
	"errors"

	"github.com/smartworkcenters/swc/central/alerts"
)

// startAlerts starts the door health engine (central/alerts) with the
// webhook notifier. E-mail (alerts.NewMail over central/mail) and the
// thresholds from the network settings are wired by the lead. The ingest's
// statuses, its commits and the enrollment's certificates are handed to it
// in startMessaging and startEnroll.
func (s *Server) startAlerts() {
	s.Webhooks = alerts.NewWebhooks(alerts.WebhookConfig{}, s.Store.Health(), s.log, s.Metrics)
	republish := func(ctx context.Context, door string, signed []byte) error {
		if s.Ingest == nil {
			return errors.New("the ingest is not started")
		}
		return s.Ingest.PublishCommand(ctx, door, signed)
	}
	s.Alerts = alerts.New(alerts.Config{Version: s.compiledVersion, Republish: republish}, s.Store, []alerts.Notifier{s.Webhooks}, s.log, s.Metrics)
	s.Committed.Subscribe(s.Alerts.Committed)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Alerts.Run(ctx)
	}()
	s.stops = append(s.stops, func(context.Context) error {
		cancel()
		<-done
		s.Webhooks.Close()
		return nil
	})
}
