// Package decide holds the door's offline access rules (PRODUCT.md 4.1 and
// 4.4): given a badge's whitelist entry, the door, the whitelist header and a
// clock reading, it returns exactly one protocol reason code. It does no I/O
// and keeps no state except in the explicit Debouncer.
package decide

import (
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Defaults of PRODUCT.md 4.1.
const (
	DefaultGrace           = 15 * time.Minute
	DefaultMaxWhitelistAge = 7 * 24 * time.Hour
	DefaultDebounce        = 2 * time.Second
)

// UntrustedClock says who may enter while the door's clock is not trusted
// (PRODUCT.md 4.4).
type UntrustedClock string

// Untrusted-clock policies.
const (
	// StaffOnly admits staff and denies everybody else with
	// denied_clock_untrusted (the default).
	StaffOnly UntrustedClock = "staff_only"
	// AllowAll decides as if the clock were trusted; the event still says
	// trusted=false.
	AllowAll UntrustedClock = "allow_all"
	// DenyAll denies everybody, staff included.
	DenyAll UntrustedClock = "deny_all"
)

// Policy is the door's configurable part of the rules.
type Policy struct {
	Grace           time.Duration  // a booking opens this long before its start
	MaxWhitelistAge time.Duration  // past it (from the whitelist's issued-at) only staff enter
	Debounce        time.Duration  // the same badge within this time counts once
	UntrustedClock  UntrustedClock // who enters while the clock is untrusted
}

// DefaultPolicy returns the PRODUCT.md defaults.
func DefaultPolicy() Policy {
	return Policy{Grace: DefaultGrace, MaxWhitelistAge: DefaultMaxWhitelistAge, Debounce: DefaultDebounce, UntrustedClock: StaffOnly}
}

// Validate checks the policy; errors name the configuration key.
func (p Policy) Validate() error {
	if p.Grace < 0 || p.Grace > 24*time.Hour {
		return fmt.Errorf("policy.grace = %v: want 0 to 24h", p.Grace)
	}
	if p.MaxWhitelistAge <= 0 || p.MaxWhitelistAge > 366*24*time.Hour {
		return fmt.Errorf("policy.max_whitelist_age = %v: want more than 0 and at most 8784h (366 days)", p.MaxWhitelistAge)
	}
	if p.Debounce < 0 || p.Debounce > time.Minute {
		return fmt.Errorf("policy.debounce = %v: want 0 to 1m", p.Debounce)
	}
	switch p.UntrustedClock {
	case StaffOnly, AllowAll, DenyAll:
	default:
		return fmt.Errorf("policy.untrusted_clock = %q: want one of %v", p.UntrustedClock, []UntrustedClock{StaffOnly, AllowAll, DenyAll})
	}
	return nil
}

// Whitelist is the header of the whitelist the door holds.
type Whitelist struct {
	Version uint64    // 0: the door holds no whitelist
	Issued  time.Time // signed issued-at of the version held
	Center  string    // the door's center
	Room    string    // the meeting room the door guards; "" for an entrance
	// RequireSecure is the center's require_secure_credentials policy:
	// UID-only badges are refused.
	RequireSecure bool
}

// Auth is the outcome of a secure badge's authentication at this tap.
type Auth int

// Authentication outcomes.
const (
	// AuthNone: nothing was authenticated (a UID-only badge, or a repeat).
	AuthNone Auth = iota
	// AuthOK: the card proved it holds the door key of its entry (and, for
	// an NTAG 424 DNA, its read counter grew).
	AuthOK
	// AuthFailed: the card did not prove it (wrong cryptogram, no such
	// application, no door key for its key version, a reader that cannot
	// talk to it, or a read counter that did not grow).
	AuthFailed
)

// Input is everything one decision depends on.
type Input struct {
	Now          time.Time       // the door's best time (never before its last trusted time)
	ClockTrusted bool            // whether Now comes from a trusted clock
	Repeat       bool            // the same badge was counted less than Policy.Debounce ago
	Whitelist    Whitelist       // header of the whitelist held
	Badge        *protocol.Entry // the badge's entry; nil when not in the whitelist
	Auth         Auth            // for a secure badge: whether it authenticated
}

// Decide applies the rules in this order, and the first that matches gives
// the reason:
//
//  1. a repeat within the debounce time: denied_debounce;
//  2. no whitelist: denied_no_whitelist;
//  3. badge not listed: denied_unknown_badge;
//  4. a secure badge that did not authenticate: denied_auth_failed (before
//     revoked, so that a clone of a revoked badge raises its alarm too);
//  5. revoked: denied_revoked; a UID-only badge at a center that requires
//     secure credentials: denied_not_secure (staff included);
//  6. untrusted clock under deny_all: denied_clock_untrusted;
//  7. a staff grant valid now: granted_staff (staff pass the stale and
//     untrusted-clock rules);
//  8. untrusted clock under staff_only: denied_clock_untrusted;
//  9. whitelist older than MaxWhitelistAge: denied_stale_whitelist;
//  10. at an entrance, a pass valid now: granted_pass; a booking open now
//     (from start - grace until end), whatever its room: granted_booking;
//  11. at a meeting-room door, a booking of that room open now:
//     granted_booking (passes do not open meeting rooms);
//  12. otherwise a denial that says why: a booking of another room at a
//     meeting-room door denied_wrong_room; rights that exist but are not
//     open now denied_outside_window; no right at all denied_no_booking.
//
// Grant windows are absolute instants (Unix seconds), so midnight and
// daylight-saving changes need no special case: a booking from 01:30 to
// 03:30 on the night clocks go forward lasts one hour.
func (p Policy) Decide(in Input) protocol.Reason {
	if in.Repeat {
		return protocol.DeniedDebounce
	}
	if in.Whitelist.Version == 0 {
		return protocol.DeniedNoWhitelist
	}
	b := in.Badge
	if b == nil {
		return protocol.DeniedUnknownBadge
	}
	if b.Card.Secure() && in.Auth != AuthOK {
		return protocol.DeniedAuthFailed
	}
	if b.Revoked {
		return protocol.DeniedRevoked
	}
	if in.Whitelist.RequireSecure && !b.Card.Secure() {
		return protocol.DeniedNotSecure
	}
	if !in.ClockTrusted && p.UntrustedClock == DenyAll {
		return protocol.DeniedClockUntrusted
	}
	now := in.Now.Unix()
	for i := range b.Grants {
		if g := &b.Grants[i]; g.Kind == protocol.GrantStaff && within(now, g.From, g.To) {
			return protocol.GrantedStaff
		}
	}
	if !in.ClockTrusted && p.UntrustedClock != AllowAll {
		return protocol.DeniedClockUntrusted
	}
	if in.Now.Sub(in.Whitelist.Issued) > p.MaxWhitelistAge {
		return protocol.DeniedStaleWhitelist
	}
	grace := int64(p.Grace / time.Second)
	room := in.Whitelist.Room
	var thisRoomLater, otherRoom, other bool
	for i := range b.Grants {
		g := &b.Grants[i]
		switch g.Kind {
		case protocol.GrantBooking:
			open := within(now, g.From-grace, g.To)
			switch {
			case room == "" && open:
				return protocol.GrantedBooking
			case room == "":
				other = true
			case g.Room == room && open:
				return protocol.GrantedBooking
			case g.Room == room:
				thisRoomLater = true
			default:
				otherRoom = true
			}
		case protocol.GrantPass:
			if room != "" {
				continue // a pass does not open a meeting room
			}
			if within(now, g.From, g.To) {
				return protocol.GrantedPass
			}
			other = true
		case protocol.GrantStaff:
			other = true // a staff grant not valid now
		}
	}
	switch {
	case thisRoomLater:
		return protocol.DeniedOutsideWindow
	case otherRoom:
		return protocol.DeniedWrongRoom
	case other:
		return protocol.DeniedOutsideWindow
	}
	return protocol.DeniedNoBooking
}

// within reports whether now lies in [from, to); 0 bounds are open.
func within(now, from, to int64) bool {
	return (from == 0 || now >= from) && (to == 0 || now < to)
}
