package credit

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// Class says how a member relates to the center of a visit.
type Class string

// Classes of visits.
const (
	// ClassNomadic: a nomadic member (home = cooperative); credited to the host.
	ClassNomadic Class = "nomadic"
	// ClassCrossCenter: a local member at another center; credited to the
	// host and invoiced to the member's home center.
	ClassCrossCenter Class = "cross_center"
	// ClassHome: a local member at their own center; recorded, not credited.
	ClassHome Class = "home"
)

// Why says why a visit is not credited.
type Why string

// Reasons a visit is not credited.
const (
	WhyHomeCenter Why = "home_center"        // local member at their own center
	WhyNoShow     Why = "no_show"            // confirmed booking without an entry (policy zero)
	WhyNoPass     Why = "no_booking_or_pass" // entry that attends no booking, without a pass covering it
	WhyStaff      Why = "staff"              // staff entry (granted_staff) without booking or pass
	WhyClosed     Why = "closed"             // walk-in entry after closing time or on a closed day
)

// Source says what a visit was built from.
type Source string

// Sources of visits.
const (
	SourceBooking          Source = "booking"
	SourceWalkIn           Source = "walk_in"
	SourceBookingAndWalkIn Source = "booking_and_walk_in"
)

// Visit is one merged interval of presence of a member at a center within
// one period, or a record of something not credited (Why set).
type Visit struct {
	MemberID string    `json:"member_id"`
	CenterID string    `json:"center_id"`
	Period   Period    `json:"period"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Source   Source    `json:"source"`
	// Bookings lists the bookings merged into the visit, sorted.
	Bookings []string `json:"bookings,omitempty"`
	Class    Class    `json:"class"`
	// HomeCenterID is the member's home center ("" for nomadic members).
	HomeCenterID    string `json:"home_center_id,omitempty"`
	Credited        bool   `json:"credited"`
	CreditedMinutes int64  `json:"credited_minutes"`
	Why             Why    `json:"why,omitempty"`
	// NoShow: a booking without entry credited under NoShowBooked is part of it.
	NoShow bool `json:"no_show,omitempty"`
	// UntrustedClock: a tap recorded with an untrusted door clock shaped it.
	UntrustedClock bool `json:"untrusted_clock,omitempty"`
	// OwnStaffBookingMinutes is the part of CreditedMinutes that bookings
	// made by the host center's own staff cover (their union within the
	// visit, rounded up to the quarter hour, at most CreditedMinutes).
	OwnStaffBookingMinutes int64 `json:"own_staff_booking_minutes,omitempty"`
}

// CrossCenter reports whether the visit is a local member's at another center.
func (v *Visit) CrossCenter() bool { return v.Class == ClassCrossCenter }

// Duration is the exact length of the visit.
func (v *Visit) Duration() time.Duration { return v.End.Sub(v.Start) }

// quarterMs is a quarter hour in milliseconds.
const quarterMs = int64(15 * time.Minute / time.Millisecond)

// ceilQuarterMinutes rounds a duration in milliseconds up to whole quarter
// hours and returns it in minutes.
func ceilQuarterMinutes(ms int64) int64 {
	if ms <= 0 {
		return 0
	}
	return (ms + quarterMs - 1) / quarterMs * 15
}

// Counts tallies events by what the engine did with them. Keys are the
// Count* constants.
type Counts map[string]int64

// Count keys. The first group is taps used; the second, events or taps the
// engine could not use (each is counted, none is dropped silently); the
// third, events that are not about presence and are ignored by design.
const (
	CountEntries          = "entries"              // granted taps at entrance or room doors
	CountExits            = "exits"                // taps at exit readers
	CountUntrustedUsed    = "untrusted_clock_used" // taps with an untrusted clock, corroborated and used
	CountExitWithoutEntry = "exit_without_entry"   // exit tap with no entry at that center earlier that local day

	CountInvalid           = "invalid_event"            // fails protocol validation or has no receipt time
	CountDuplicate         = "duplicate_event"          // same (door, seq) seen again, same content
	CountConflict          = "conflicting_duplicate"    // same (door, seq) with other content; the first received is kept
	CountUnknownDoor       = "unknown_door"             // door not in the directory
	CountNoMember          = "no_member"                // granted or exit tap without a member
	CountUnknownMember     = "unknown_member"           // member not in the directory
	CountUntrustedExcluded = "untrusted_clock_excluded" // untrusted clock, not corroborated (or policy exclude)
	CountClockAhead        = "clock_ahead"              // door time later than its receipt by more than MaxClockAhead

	CountNotTap = "not_a_tap"  // door events other than taps (rex_exit, door_closed...)
	CountDenied = "denied_tap" // denied taps at entrance or room doors
)

func (c Counts) add(o Counts) {
	for k, v := range o {
		c[k] += v
	}
}

func (c Counts) clone() Counts {
	if len(c) == 0 {
		return nil
	}
	return maps.Clone(c)
}

// MemberPeriod is the engine's result for one member (or one unknown
// member id, or "" for taps without a member) in one period: the visits
// that start in the period and the counts of the taps that belong to it.
// It is what the Store persists per member and period.
type MemberPeriod struct {
	MemberID string  `json:"member_id"`
	Period   Period  `json:"period"`
	Visits   []Visit `json:"visits,omitempty"`
	Counts   Counts  `json:"counts,omitempty"`
}

// empty reports whether there is nothing to store.
func (mp *MemberPeriod) empty() bool { return len(mp.Visits) == 0 && len(mp.Counts) == 0 }

// creditedMinutes sums the credited minutes by center and class.
func (mp *MemberPeriod) creditedMinutes() map[lineKey]int64 {
	out := map[lineKey]int64{}
	for i := range mp.Visits {
		v := &mp.Visits[i]
		if v.Credited {
			out[lineKey{center: v.CenterID, class: v.Class, home: v.HomeCenterID}] += v.CreditedMinutes
		}
	}
	return out
}

// lineKey identifies a settlement bucket: host center, class and home
// center (cross-center only).
type lineKey struct {
	center string
	class  Class
	home   string
}

func sortedLineKeys(m map[lineKey]int64) []lineKey {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b lineKey) int {
		return cmp.Or(cmp.Compare(a.center, b.center), cmp.Compare(a.class, b.class), cmp.Compare(a.home, b.home))
	})
	return keys
}
