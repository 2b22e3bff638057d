package server

import (
	"context"
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/whitelist"
)

// SeededBy is the settings.Version.CreatedBy of the version serve stores at
// its first start.
const SeededBy = "serve"

// ensureSettings makes sure the store holds the network settings, which
// serve, settle and the API all read.
//
// At the first start on a store without settings it stores version 1: the
// defaults (settings.Defaults), with the network default rate of
// --rate-cents when given, effective from the first open period (and, as
// the first version, for every earlier one), and says so in the log.
// Afterwards the store is the only source: a --rate-cents that differs from
// the stored rate in force now is refused, pointing to PUT
// /api/v1/settings (a flag is not audited and would make two replicas or a
// later settle disagree); an equal one is ignored with a note.
func (s *Server) ensureSettings(ctx context.Context) error {
	h, err := s.Store.SettingsHistory(ctx)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	base, err := credit.DefaultConfig(settings.DefaultRateCents)
	if err != nil {
		return err
	}
	flagRate := s.cfg.DefaultRateCents
	if len(h) > 0 {
		cur := h.At(time.Now(), base.Location)
		switch {
		case flagRate != 0 && flagRate != cur.Settings.DefaultRateCents:
			return fmt.Errorf("--rate-cents %d differs from the network default rate stored in settings version %d (%d cents): "+
				"the stored settings are the only source once set; change them with PUT /api/v1/settings (admin), or drop --rate-cents",
				flagRate, cur.Number, cur.Settings.DefaultRateCents)
		case flagRate != 0:
			s.log.Info("serve: --rate-cents equals the stored network default rate; the flag is no longer needed", "settings_version", cur.Number)
		}
		s.log.Info("serve: network settings", "settings_version", cur.Number, "effective_from", cur.EffectiveFrom.String(),
			"default_rate_cents", cur.Settings.DefaultRateCents, "currency", cur.Settings.Currency)
		return nil
	}
	v := settings.Version{Settings: settings.Defaults(), CreatedBy: SeededBy, Note: "seeded at first start"}
	if flagRate != 0 {
		v.Settings.DefaultRateCents = flagRate
		v.Note = fmt.Sprintf("seeded at first start from --rate-cents %d", flagRate)
	}
	last, err := s.Store.Credit().LastClosed(ctx)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	v.EffectiveFrom = credit.PeriodOf(time.Now(), base.Location)
	if !last.IsZero() {
		v.EffectiveFrom = last.Next()
	}
	saved, err := s.Store.SaveSettings(ctx, v)
	if err != nil {
		return fmt.Errorf("settings: seeding: %w", err)
	}
	s.log.Info("serve: stored the network settings for the first time; change them with PUT /api/v1/settings",
		"settings_version", saved.Number, "from_flags", flagRate != 0, "default_rate_cents", saved.Settings.DefaultRateCents,
		"currency", saved.Settings.Currency, "effective_from", saved.EffectiveFrom.String())
	return nil
}

// whitelistHorizon is the stored settings' whitelist horizon in force now.
func (s *Server) whitelistHorizon(ctx context.Context) (time.Duration, error) {
	cur, err := settings.Current(ctx, s.Store, time.Now())
	if err != nil {
		return 0, err
	}
	return time.Duration(cur.Settings.WhitelistHorizonDays) * 24 * time.Hour, nil
}

// doorSettings is what the whitelist compiler lists on every door from the
// stored settings (whitelist.Config.NetworkSettings): the held-open
// threshold of the version in force at now, which holds until the end of
// now's period (a later version may start then).
func (s *Server) doorSettings(ctx context.Context, now time.Time) (whitelist.DoorSettings, error) {
	loc := settings.Location()
	cur, err := settings.Current(ctx, s.Store, now)
	if err != nil {
		return whitelist.DoorSettings{}, err
	}
	return whitelist.DoorSettings{HeldOpenS: cur.Settings.Alerts.HeldOpenSeconds, Until: credit.PeriodOf(now, loc).End(loc)}, nil
}
