// Package settings holds the network's settings: the hourly rates (the
// network default and each center's), the currency, the crediting rules
// that PRODUCT.md 4.6 leaves configurable (grace, no-show policy, default
// visit), the whitelist horizon and the thresholds of the door alerts.
//
// Settings are versioned. Each Version applies from a period (a calendar
// month of the network, credit.Period) until a later version takes over; a
// version may start in an open period only, never in a closed one, so a
// closed period keeps the settings it was computed with, and its frozen
// settlement records that version's number. The store keeps every version
// (store.SettingsStore); a History answers "what applies to period p"
// (For) and "what applies now" (At).
//
// Defaults is the one table of default values: serve seeds the store with
// it on first start, and every reader that finds no stored version falls
// back to it.
//
// Usage:
//
//	cur, err := settings.Current(ctx, st, time.Now()) // st: a store.Store (a Source)
//	offline := cur.Settings.Alerts.DoorOffline()       // alerts
//	h, err := st.SettingsHistory(ctx)                  // every version
//	rules, err := h.Rules(base, p)                     // crediting rules of period p
//
// A new version is notified as a domain.Change of kind domain.KindSettings
// (store.Feed), so a reader that keeps settings in memory reloads then.
package settings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // the network's time zone on any machine: Defaults cannot fail

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Settings is one set of network settings, as the API sends and receives
// it. Durations are whole minutes, seconds or days, as named.
type Settings struct {
	// DefaultRateCents is the hourly rate in cents (of Currency) paid to a
	// center for a credited hour, unless CenterRates names the center.
	DefaultRateCents int64 `json:"default_rate_cents"`
	// CenterRates overrides the default rate per center id. A center's own
	// domain.Center.RateCents is still honoured when the center is not
	// named here (the older way to set it; see README).
	CenterRates map[string]int64 `json:"center_rates,omitempty"`
	// Currency is the ISO 4217 code of every amount, such as EUR.
	Currency string `json:"currency"`
	// GraceMinutes is how early before a booking's start an entry attends it.
	GraceMinutes int `json:"grace_minutes"`
	// NoShow is the no-show policy: "zero" or "booked".
	NoShow credit.NoShowPolicy `json:"no_show"`
	// DefaultVisitMinutes is the length of a walk-in without an exit tap.
	DefaultVisitMinutes int `json:"default_visit_minutes"`
	// WhitelistHorizonDays is how far ahead bookings and passes reach the
	// doors' whitelists.
	WhitelistHorizonDays int `json:"whitelist_horizon_days"`
	// Alerts holds the thresholds of the door alerts.
	Alerts Alerts `json:"alerts"`
}

// Alerts holds the thresholds of the door alerts (central/alerts reads them).
type Alerts struct {
	// DoorOfflineMinutes: a door unseen this long raises "door offline".
	DoorOfflineMinutes int `json:"door_offline_minutes"`
	// HeldOpenSeconds: a door open this long raises "held open". Every
	// door's whitelist carries the value in force (protocol.Whitelist
	// HeldOpenS) and the door judges it: until its whitelist carries one,
	// a door uses its own door.held_open_time.
	HeldOpenSeconds int `json:"held_open_seconds"`
	// CertExpiryDays: a door certificate expiring within this many days
	// raises "certificate expiring".
	CertExpiryDays int `json:"cert_expiry_days"`
	// WhitelistBehindMinutes: an online door whose whitelist stays behind
	// the central's this long raises "whitelist behind".
	WhitelistBehindMinutes int `json:"whitelist_behind_minutes"`
}

// DoorOffline is DoorOfflineMinutes as a duration.
func (a Alerts) DoorOffline() time.Duration { return time.Duration(a.DoorOfflineMinutes) * time.Minute }

// HeldOpen is HeldOpenSeconds as a duration.
func (a Alerts) HeldOpen() time.Duration { return time.Duration(a.HeldOpenSeconds) * time.Second }

// CertExpiry is CertExpiryDays as a duration.
func (a Alerts) CertExpiry() time.Duration { return time.Duration(a.CertExpiryDays) * 24 * time.Hour }

// WhitelistBehind is WhitelistBehindMinutes as a duration.
func (a Alerts) WhitelistBehind() time.Duration {
	return time.Duration(a.WhitelistBehindMinutes) * time.Minute
}

// Default values: the one table of them, with credit.DefaultConfig's
// (currency, grace, default visit, no-show policy), which Defaults takes.
const (
	DefaultRateCents            = 1000 // 10.00 per hour
	DefaultWhitelistHorizonDays = 14
	DefaultDoorOfflineMinutes   = 10
	DefaultHeldOpenSeconds      = 30 // PRODUCT.md 4.2, the doors' own default
	DefaultCertExpiryDays       = 14
	DefaultWhitelistBehindMins  = 10
)

// Limits of the values.
const (
	MaxRateCents            = 1_000_000 // 10,000.00 per hour
	MaxGraceMinutes         = 24 * 60
	MaxDefaultVisitMinutes  = 24 * 60
	MaxWhitelistHorizonDays = 90
	MaxDoorOfflineMinutes   = 7 * 24 * 60
	MaxHeldOpenSeconds      = protocol.MaxHeldOpenSeconds // what a whitelist may carry
	MaxCertExpiryDays       = 365
	MaxWhitelistBehindMins  = 7 * 24 * 60
)

// Location is the network's time zone (domain.NetworkTimeZone), whose
// calendar months are the periods.
func Location() *time.Location {
	rules, err := credit.DefaultConfig(DefaultRateCents)
	if err != nil {
		panic(err) // time/tzdata is compiled in: a build fault
	}
	return rules.Location
}

// Defaults returns the default settings.
func Defaults() Settings {
	rules, err := credit.DefaultConfig(DefaultRateCents)
	if err != nil {
		// Only the network's time zone can fail to load, and time/tzdata
		// is compiled in: this is a build fault.
		panic(err)
	}
	return Settings{
		DefaultRateCents:     DefaultRateCents,
		Currency:             rules.Currency,
		GraceMinutes:         int(rules.Grace / time.Minute),
		NoShow:               rules.NoShow,
		DefaultVisitMinutes:  int(rules.DefaultVisit / time.Minute),
		WhitelistHorizonDays: DefaultWhitelistHorizonDays,
		Alerts: Alerts{
			DoorOfflineMinutes: DefaultDoorOfflineMinutes,
			HeldOpenSeconds:    DefaultHeldOpenSeconds,
			CertExpiryDays:     DefaultCertExpiryDays,
			// Set by Defaults only: versions stored before the field
			// existed read it as the default (the store decodes a stored
			// version over Defaults).
			WhitelistBehindMinutes: DefaultWhitelistBehindMins,
		},
	}
}

// Validate checks every value and returns the first fault as a
// *domain.FieldError naming the JSON field (alerts.door_offline_minutes,
// center_rates.CENTER).
func (s *Settings) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &domain.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case s.DefaultRateCents <= 0 || s.DefaultRateCents > MaxRateCents:
		return bad("default_rate_cents", "%d: want 1 to %d cents per hour", s.DefaultRateCents, MaxRateCents)
	case !validCurrency(s.Currency):
		return bad("currency", "%q: want an ISO 4217 code of three capital letters, such as EUR", s.Currency)
	case s.GraceMinutes < 0 || s.GraceMinutes > MaxGraceMinutes:
		return bad("grace_minutes", "%d: want 0 to %d minutes", s.GraceMinutes, MaxGraceMinutes)
	case s.NoShow != credit.NoShowZero && s.NoShow != credit.NoShowBooked:
		return bad("no_show", "%q: want %q (a no-show is credited nothing) or %q (credited as booked)", s.NoShow, credit.NoShowZero, credit.NoShowBooked)
	case s.DefaultVisitMinutes <= 0 || s.DefaultVisitMinutes > MaxDefaultVisitMinutes:
		return bad("default_visit_minutes", "%d: want 1 to %d minutes", s.DefaultVisitMinutes, MaxDefaultVisitMinutes)
	case s.WhitelistHorizonDays < 1 || s.WhitelistHorizonDays > MaxWhitelistHorizonDays:
		return bad("whitelist_horizon_days", "%d: want 1 to %d days", s.WhitelistHorizonDays, MaxWhitelistHorizonDays)
	case s.Alerts.DoorOfflineMinutes < 1 || s.Alerts.DoorOfflineMinutes > MaxDoorOfflineMinutes:
		return bad("alerts.door_offline_minutes", "%d: want 1 to %d minutes", s.Alerts.DoorOfflineMinutes, MaxDoorOfflineMinutes)
	case s.Alerts.HeldOpenSeconds < 1 || s.Alerts.HeldOpenSeconds > MaxHeldOpenSeconds:
		return bad("alerts.held_open_seconds", "%d: want 1 to %d seconds", s.Alerts.HeldOpenSeconds, MaxHeldOpenSeconds)
	case s.Alerts.CertExpiryDays < 1 || s.Alerts.CertExpiryDays > MaxCertExpiryDays:
		return bad("alerts.cert_expiry_days", "%d: want 1 to %d days", s.Alerts.CertExpiryDays, MaxCertExpiryDays)
	case s.Alerts.WhitelistBehindMinutes < 1 || s.Alerts.WhitelistBehindMinutes > MaxWhitelistBehindMins:
		return bad("alerts.whitelist_behind_minutes", "%d: want 1 to %d minutes", s.Alerts.WhitelistBehindMinutes, MaxWhitelistBehindMins)
	}
	for _, id := range sortedKeys(s.CenterRates) {
		if err := protocol.ValidID(id); err != nil {
			return bad("center_rates", "center id %q: %v", id, err)
		}
		if r := s.CenterRates[id]; r <= 0 || r > MaxRateCents {
			return bad("center_rates."+id, "%d: want 1 to %d cents per hour", r, MaxRateCents)
		}
	}
	return nil
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Apply returns base (time zone, untrusted-clock policy: what is not a
// setting) with the settings' rates, currency, grace, no-show policy and
// default visit, tagged with version.
func (s *Settings) Apply(base credit.Config, version int64) (credit.Config, error) {
	if err := s.Validate(); err != nil {
		return credit.Config{}, err
	}
	c := base
	c.DefaultRateCents = s.DefaultRateCents
	c.Grace = time.Duration(s.GraceMinutes) * time.Minute
	c.DefaultVisit = time.Duration(s.DefaultVisitMinutes) * time.Minute
	c.NoShow = s.NoShow
	c.Currency = s.Currency
	c.SettingsVersion = version
	c.CenterRates = nil
	if len(s.CenterRates) > 0 {
		c.CenterRates = make(map[string]int64, len(s.CenterRates))
		for k, v := range s.CenterRates {
			c.CenterRates[k] = v
		}
	}
	return c, c.Validate()
}

// ForCenter returns the settings as a center's manager sees them: the
// center's effective rate as DefaultRateCents (the center's own rate, else
// the network's) and no other center's rate. centerRate is the center's
// domain.Center.RateCents (0 for none).
func (s Settings) ForCenter(center string, centerRate int64) Settings {
	out := s
	out.CenterRates = nil
	switch {
	case s.CenterRates[center] > 0:
		out.DefaultRateCents = s.CenterRates[center]
	case centerRate > 0:
		out.DefaultRateCents = centerRate
	}
	return out
}

// Version is one stored version of the settings.
type Version struct {
	// Number counts the versions from 1 (0: the defaults, never stored).
	Number int64 `json:"version"`
	// EffectiveFrom is the first period the version applies to.
	EffectiveFrom credit.Period `json:"effective_from"`
	// Settings are the values.
	Settings Settings `json:"settings"`
	// CreatedMs is when it was stored; CreatedBy who stored it (an API
	// token id, "serve" when seeded at start).
	CreatedMs int64  `json:"created_ms"`
	CreatedBy string `json:"created_by,omitempty"`
	// Note says why (free text, at most 500 characters).
	Note string `json:"note,omitempty"`
}

// MaxNote bounds Version.Note.
const MaxNote = 500

// ErrClosedPeriod is matched by the error of a version that would start in
// a closed period.
var ErrClosedPeriod = errors.New("settings: a closed period keeps its settings")

// CheckNew validates a version about to be stored after the last closed
// period lastClosed (zero: none).
func (v *Version) CheckNew(lastClosed credit.Period) error {
	if v.EffectiveFrom.IsZero() {
		return &domain.FieldError{Field: "effective_from", Message: "required: the first month the settings apply to, such as 2026-12"}
	}
	if !lastClosed.IsZero() && !lastClosed.Before(v.EffectiveFrom) {
		return fmt.Errorf("%w: %w", ErrClosedPeriod, &domain.FieldError{Field: "effective_from",
			Message: fmt.Sprintf("%s is closed (the last closed period is %s); settings may apply from %s on", v.EffectiveFrom, lastClosed, lastClosed.Next())})
	}
	if len(v.Note) > MaxNote {
		return &domain.FieldError{Field: "note", Message: fmt.Sprintf("%d characters; at most %d", len(v.Note), MaxNote)}
	}
	return v.Settings.Validate()
}

// History is every stored version, in the order they were stored.
type History []Version

// For returns the version that applies to period p: of the versions whose
// EffectiveFrom is p or earlier, the latest EffectiveFrom, stored last.
// Before the first stored version, that version applies: it is the seed,
// what the network ran with before its settings were stored (serve stores
// one at its first start). Without any, it is version 0 with the defaults.
func (h History) For(p credit.Period) Version {
	best := -1
	for i := range h {
		if h[i].EffectiveFrom.Before(p) || h[i].EffectiveFrom == p {
			if best < 0 || h[best].EffectiveFrom.Before(h[i].EffectiveFrom) || (h[best].EffectiveFrom == h[i].EffectiveFrom && h[best].Number < h[i].Number) {
				best = i
			}
		}
	}
	switch {
	case best >= 0:
		return h[best]
	case len(h) > 0:
		return h[0]
	}
	return Version{Settings: Defaults()}
}

// At returns the version in force at t: that of t's period in loc, the
// network's time zone (credit.Config.Location).
func (h History) At(t time.Time, loc *time.Location) Version {
	return h.For(credit.PeriodOf(t, loc))
}

// Source is where the versions are kept (store.Store is one).
type Source interface {
	SettingsHistory(ctx context.Context) (History, error)
}

// Current returns the version in force at now (in the network's time zone).
func Current(ctx context.Context, src Source, now time.Time) (Version, error) {
	h, err := src.SettingsHistory(ctx)
	if err != nil {
		return Version{}, fmt.Errorf("settings: %w", err)
	}
	return h.At(now, Location()), nil
}

// Latest is the version stored last (version 0 with the defaults when none).
func (h History) Latest() Version {
	if len(h) == 0 {
		return Version{Settings: Defaults()}
	}
	return h[len(h)-1]
}

// Rules returns the crediting rules of period p (see Settings.Apply).
func (h History) Rules(base credit.Config, p credit.Period) (credit.Config, error) {
	v := h.For(p)
	return v.Settings.Apply(base, v.Number)
}

// RulesFunc returns the crediting rules of every period as
// credit.Ledger.SetRules wants them, computed once per version. It fails
// when a stored version's settings are invalid.
func (h History) RulesFunc(base credit.Config) (func(credit.Period) credit.Config, error) {
	byVersion := map[int64]credit.Config{}
	for _, v := range append(History{{Settings: Defaults()}}, h...) {
		c, err := v.Settings.Apply(base, v.Number)
		if err != nil {
			return nil, fmt.Errorf("settings version %d: %w", v.Number, err)
		}
		byVersion[v.Number] = c
	}
	return func(p credit.Period) credit.Config { return byVersion[h.For(p).Number] }, nil
}
