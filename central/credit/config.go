package credit

import (
	"errors"
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
)

// NoShowPolicy says what a confirmed booking that nobody attended is worth.
type NoShowPolicy string

// No-show policies.
const (
	// NoShowZero credits nothing; the booking is recorded as a no-show visit.
	NoShowZero NoShowPolicy = "zero"
	// NoShowBooked credits the booked duration as if attended (the center
	// held the seat); the visit is flagged no_show.
	NoShowBooked NoShowPolicy = "booked"
)

// UntrustedPolicy says how taps recorded while the door's clock was not
// trusted (protocol.Event.Trusted false) are used.
type UntrustedPolicy string

// Untrusted-clock policies.
const (
	// UntrustedExclude never credits such taps; each is counted as
	// untrusted_clock_excluded.
	UntrustedExclude UntrustedPolicy = "exclude"
	// UntrustedCorroborated uses the door's time of such a tap only when the
	// central received the tap no later than UntrustedMaxDelay after that
	// time (and not before it, beyond MaxClockAhead): the central's own clock
	// then vouches for the door's within that delay. Visits built from such
	// taps are flagged untrusted_clock. Other untrusted taps are excluded and
	// counted as untrusted_clock_excluded.
	UntrustedCorroborated UntrustedPolicy = "corroborated"
)

// Config holds the crediting rules that PRODUCT.md 4.6 leaves configurable.
type Config struct {
	// Location is the network's time zone; periods are its calendar months.
	Location *time.Location
	// DefaultRateCents is the network's hourly rate in cents, used for every
	// center without a rate in CenterRates nor a domain.Center.RateCents.
	DefaultRateCents int64
	// CenterRates are per-center hourly rates in cents (the network
	// settings'), before a center's own domain.Center.RateCents.
	CenterRates map[string]int64
	// Currency is the ISO 4217 code of the amounts.
	Currency string
	// SettingsVersion is the network settings version these rules come
	// from (0: defaults or flags); a closed settlement records it.
	SettingsVersion int64
	// Grace is how early before a booking's start an entry attends it.
	Grace time.Duration
	// DefaultVisit is the length of a walk-in without an exit tap.
	DefaultVisit time.Duration
	// NoShow is the no-show policy.
	NoShow NoShowPolicy
	// Untrusted is the untrusted-clock policy; UntrustedMaxDelay its delay.
	Untrusted         UntrustedPolicy
	UntrustedMaxDelay time.Duration
	// MaxClockAhead is how far a door's time may be later than the central's
	// time of receipt before the tap is excluded as clock_ahead (the tap
	// cannot have happened after the central received it).
	MaxClockAhead time.Duration
}

// DefaultConfig returns the rules of PRODUCT.md with the network default
// rate: Europe/Brussels, amounts in EUR, 15 min grace, 4 h default visit,
// no-show credited 0, untrusted taps used when corroborated within 15 min,
// 5 min clock lead. These are the defaults of the network settings too
// (package settings takes them from here).
func DefaultConfig(defaultRateCents int64) (Config, error) {
	loc, err := time.LoadLocation(domain.NetworkTimeZone)
	if err != nil {
		return Config{}, fmt.Errorf("credit: load network time zone: %w", err)
	}
	c := Config{
		Location:          loc,
		DefaultRateCents:  defaultRateCents,
		Currency:          "EUR",
		Grace:             15 * time.Minute,
		DefaultVisit:      4 * time.Hour,
		NoShow:            NoShowZero,
		Untrusted:         UntrustedCorroborated,
		UntrustedMaxDelay: 15 * time.Minute,
		MaxClockAhead:     5 * time.Minute,
	}
	return c, c.Validate()
}

// ErrConfig is matched by every error of Config.Validate.
var ErrConfig = errors.New("invalid crediting configuration")

// Validate checks the configuration.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Location == nil:
		return bad("location is required")
	case c.DefaultRateCents <= 0:
		return bad("default rate %d cents; want > 0", c.DefaultRateCents)
	case c.Grace < 0 || c.Grace > 24*time.Hour:
		return bad("grace %v; want 0 to 24h", c.Grace)
	case c.DefaultVisit <= 0 || c.DefaultVisit > 24*time.Hour:
		return bad("default visit %v; want more than 0, at most 24h", c.DefaultVisit)
	case c.NoShow != NoShowZero && c.NoShow != NoShowBooked:
		return bad("no-show policy %q; want %q or %q", c.NoShow, NoShowZero, NoShowBooked)
	case c.Untrusted != UntrustedExclude && c.Untrusted != UntrustedCorroborated:
		return bad("untrusted-clock policy %q; want %q or %q", c.Untrusted, UntrustedExclude, UntrustedCorroborated)
	case c.UntrustedMaxDelay < 0 || c.UntrustedMaxDelay > 24*time.Hour:
		return bad("untrusted max delay %v; want 0 to 24h", c.UntrustedMaxDelay)
	case c.MaxClockAhead < 0 || c.MaxClockAhead > time.Hour:
		return bad("max clock ahead %v; want 0 to 1h", c.MaxClockAhead)
	}
	for id, r := range c.CenterRates {
		if r <= 0 {
			return bad("rate of center %q %d cents; want > 0", id, r)
		}
	}
	return nil
}

// rate is the hourly rate of a center in cents.
// A center named in CenterRates has that rate; else its own RateCents
// when set; else the default rate.
func (c *Config) rate(center *domain.Center) int64 {
	if center == nil {
		return c.DefaultRateCents
	}
	if r := c.CenterRates[center.ID]; r > 0 {
		return r
	}
	if center.RateCents > 0 {
		return center.RateCents
	}
	return c.DefaultRateCents
}

// RateOf is the hourly rate in cents of a center (see Config.CenterRates).
func (c *Config) RateOf(center *domain.Center) int64 { return c.rate(center) }
