package server

import (
	"context"
	"errors"
	"time"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// AlertsConfig tunes the door alerts.
type AlertsConfig struct {
	// WebhookAllowInsecure (--webhook-allow-insecure) accepts http://
	// webhook URLs and deliveries to loopback, private and other internal
	// addresses: for tests and labs only (see alerts.WebhookPolicy).
	WebhookAllowInsecure bool
	// Now is the alerts engine's clock (default time.Now; tests move it to
	// reach a threshold without waiting).
	Now func() time.Time
}

// startAlerts starts the door health engine (central/alerts) with the
// webhook notifier and, when mail is configured, the e-mail notifier (to
// the staff of the alert's center and of the network:
// alerts.StaffRecipients). Its thresholds are the stored network settings'
// (read again on each new version, notified on s.Changes). The ingest's
// statuses, its commits and the enrollment's certificates are handed to it
// in startMessaging and startEnroll.
func (s *Server) startAlerts() {
	policy := alerts.WebhookPolicy{AllowInsecure: s.cfg.Alerts.WebhookAllowInsecure}
	if policy.AllowInsecure {
		s.log.Warn("serve: webhooks may use http:// and reach internal addresses (--webhook-allow-insecure): for tests and labs only")
	}
	s.Webhooks = alerts.NewWebhooks(alerts.WebhookConfig{Policy: policy}, s.Store.Health(), s.log, s.Metrics)
	notifiers := []alerts.Notifier{s.Webhooks}
	if s.Mail != nil {
		notifiers = append(notifiers, alerts.NewMail(alerts.MailConfig{Mailer: s.Mail, Recipients: alerts.StaffRecipients(s.Store),
			Zone: alerts.CenterZones(s.Store), Logger: s.log, Metrics: s.Metrics}))
	} else {
		s.log.Info("serve: door alerts are not e-mailed (no --smtp-host); webhooks only")
	}
	republish := func(ctx context.Context, door string, signed []byte) error {
		if s.Ingest == nil {
			return errors.New("the ingest is not started")
		}
		return s.Ingest.PublishCommand(ctx, door, signed)
	}
	s.Alerts = alerts.New(alerts.Config{Version: s.compiledVersion, Republish: republish, Now: s.cfg.Alerts.Now}, s.Store, notifiers, s.log, s.Metrics)
	s.Committed.Subscribe(s.Alerts.Committed)
	s.Changes.Subscribe(s.Alerts.Changed) // new settings versions: the thresholds
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Alerts.Run(ctx)
	}()
	s.onStopBeside("alerts", func(context.Context) error {
		cancel()
		<-done
		s.Webhooks.Close()
		return nil
	})
}

// doorStates is what the dashboard shows of each door: this replica's
// live view of online doors, and for the others the last known state from
// the store (an offline door keeps what it last reported, after a restart
// and on every replica).
func (s *Server) doorStates() map[string]ingest.DoorState {
	out := s.Ingest.Doors()
	stored, err := s.Store.Health().ListDoorHealth(context.Background(), nil)
	if err != nil {
		s.log.Warn("door states: reading the last known states failed", "err", err)
		return out
	}
	for _, h := range stored {
		if live, ok := out[h.Door]; ok && live.Status.State == protocol.StateOnline {
			continue
		}
		if h.State == "" {
			continue
		}
		ds := ingest.DoorState{Status: protocol.Status{V: protocol.Version, Door: h.Door, State: h.State, TimeMs: h.StatusTimeMs,
			Boot: h.Boot, Firmware: h.Firmware, WLVersion: h.WLVersion, WLIssuedMs: h.WLIssuedMs, OutboxDepth: h.OutboxDepth,
			OutboxOldestMs: h.OutboxOldestMs, ClockTrusted: h.ClockTrusted, DoorState: h.DoorState, Reader: h.Reader}}
		if h.LastSeenMs != 0 {
			ds.LastSeen = time.UnixMilli(h.LastSeenMs)
		}
		out[h.Door] = ds
	}
	return out
}
