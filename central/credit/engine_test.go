package credit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// allVisits collects a member's visits over every period, in order.
func allVisits(r *credit.Result, member string) []credit.Visit {
	var out []credit.Visit
	for _, p := range r.Periods() {
		out = append(out, r.MemberPeriod(member, p).Visits...)
	}
	return out
}

// allCounts sums the counts of every member id over every period.
func allCounts(r *credit.Result) credit.Counts {
	c := credit.Counts{}
	for _, p := range r.Periods() {
		for _, mp := range r.MemberPeriods(p) {
			for k, v := range mp.Counts {
				c[k] += v
			}
		}
	}
	return c
}

func TestRules(t *testing.T) {
	type tc struct {
		name     string
		bookings []domain.Booking
		events   *events
		config   func(*credit.Config)
		member   string
		want     []string
		counts   credit.Counts // counts that must be present with these values
	}
	tests := []tc{
		{
			name:     "booking attended late is credited for its booked duration",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00")},
			events:   new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 10:40"),
			member:   "booker",
			want:     []string{"ctr-a 11-10 09:00→12:00 booking nomadic 180"},
		},
		{
			name:     "booking attended within the grace before its start",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00")},
			events:   new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 08:45"),
			member:   "booker",
			want:     []string{"ctr-a 11-10 09:00→12:00 booking nomadic 180"},
		},
		{
			name:     "entry before the grace attends nothing and, without a pass, is recorded",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-a", "2026-11-10 13:00", "2026-11-10 15:00")},
			events: new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 08:00").
				tap("a-out", "booker", protocol.GrantedBooking, "2026-11-10 12:00"),
			member: "booker",
			want: []string{
				"ctr-a 11-10 08:00→12:00 walk_in nomadic no_booking_or_pass",
				"ctr-a 11-10 13:00→15:00 booking nomadic no_show",
			},
		},
		{
			name:     "booking never attended: no-show credited 0",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00")},
			events:   new(events),
			member:   "booker",
			want:     []string{"ctr-a 11-10 09:00→12:00 booking nomadic no_show"},
		},
		{
			name:     "booking never attended: no-show credited as booked under that policy",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00")},
			events:   new(events),
			config:   func(c *credit.Config) { c.NoShow = credit.NoShowBooked },
			member:   "booker",
			want:     []string{"ctr-a 11-10 09:00→12:00 booking nomadic 180 +no_show"},
		},
		{
			name:     "room booking released as a no-show (issue 15): a no-show, credited 0",
			bookings: []domain.Booking{withStatus(booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00"), domain.BookingReleased)},
			events:   new(events),
			member:   "booker",
			want:     []string{"ctr-a 11-10 09:00→12:00 booking nomadic no_show"},
		},
		{
			name:     "room booking released as a no-show: credited as booked under that policy",
			bookings: []domain.Booking{withStatus(booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00"), domain.BookingReleased)},
			events:   new(events),
			config:   func(c *credit.Config) { c.NoShow = credit.NoShowBooked },
			member:   "booker",
			want:     []string{"ctr-a 11-10 09:00→12:00 booking nomadic 180 +no_show"},
		},
		{
			name:     "cancelled booking: nothing, under either policy",
			bookings: []domain.Booking{withStatus(booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00"), domain.BookingCancelled)},
			events:   new(events),
			config:   func(c *credit.Config) { c.NoShow = credit.NoShowBooked },
			member:   "booker",
			want:     []string{},
		},
		{
			name: "two overlapping bookings, one entry still inside: merged, nothing counts twice",
			bookings: []domain.Booking{
				booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00"),
				booking("bk2", "booker", "ctr-a", "2026-11-10 11:00", "2026-11-10 14:00"),
			},
			events: new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 08:55"),
			member: "booker",
			want:   []string{"ctr-a 11-10 09:00→14:00 booking nomadic 300"},
		},
		{
			name: "two overlapping bookings, member left before the second",
			bookings: []domain.Booking{
				booking("bk1", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00"),
				booking("bk2", "booker", "ctr-a", "2026-11-10 11:00", "2026-11-10 14:00"),
			},
			events: new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 08:55").
				tap("a-out", "booker", protocol.GrantedBooking, "2026-11-10 10:00"),
			member: "booker",
			want: []string{
				"ctr-a 11-10 09:00→12:00 booking nomadic 180",
				"ctr-a 11-10 11:00→14:00 booking nomadic no_show",
			},
		},
		{
			name:     "booking attended that also overlaps a walk-in on a pass: one visit",
			bookings: []domain.Booking{booking("bk1", "nomad", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00")},
			events:   new(events).in("a-in", "nomad", "2026-11-10 08:50").out("a-out", "nomad", "2026-11-10 15:00"),
			member:   "nomad",
			want:     []string{"ctr-a 11-10 08:50→15:00 booking_and_walk_in nomadic 375"},
		},
		{
			name:   "walk-in with an exit tap, rounded up to the quarter hour",
			events: new(events).in("a-in", "nomad", "2026-11-10 09:10").out("a-out", "nomad", "2026-11-10 12:20"),
			member: "nomad",
			want:   []string{"ctr-a 11-10 09:10→12:20 walk_in nomadic 195"},
			counts: credit.Counts{credit.CountEntries: 1, credit.CountExits: 1},
		},
		{
			name: "a millisecond past a quarter hour rounds up to the next",
			events: new(events).in("a-in", "nomad", "2026-11-10 09:00:00.000").
				out("a-out", "nomad", "2026-11-10 09:15:00.001"),
			member: "nomad",
			want:   []string{"ctr-a 11-10 09:00→09:15 walk_in nomadic 30"},
		},
		{
			name:   "walk-in without an exit tap lasts the default visit length",
			events: new(events).in("a-in", "nomad", "2026-11-10 09:10"),
			member: "nomad",
			want:   []string{"ctr-a 11-10 09:10→13:10 walk_in nomadic 240"},
		},
		{
			name:   "walk-in capped at closing time",
			events: new(events).in("a-in", "nomad", "2026-11-10 16:00").out("a-out", "nomad", "2026-11-10 19:30"),
			member: "nomad",
			want:   []string{"ctr-a 11-10 16:00→18:00 walk_in nomadic 120"},
		},
		{
			name: "walk-in capped at midnight; the exit after midnight belongs to no entry",
			events: new(events).in("n-in", "nomad", "2026-11-10 22:30").
				out("n-out", "nomad", "2026-11-11 01:00"),
			member: "nomad",
			want:   []string{"ctr-n 11-10 22:30→00:00 walk_in nomadic 90"},
			counts: credit.Counts{credit.CountExitWithoutEntry: 1},
		},
		{
			name:   "entry after closing time is recorded, not credited",
			events: new(events).in("a-in", "nomad", "2026-11-10 19:00"),
			member: "nomad",
			want:   []string{"ctr-a 11-10 19:00→19:00 walk_in nomadic closed"},
		},
		{
			name:   "entry on a closed day is recorded, not credited",
			events: new(events).in("a-in", "nomad", "2026-11-08 10:00"),
			member: "nomad",
			want:   []string{"ctr-a 11-08 10:00→10:00 walk_in nomadic closed"},
		},
		{
			name:   "entry before opening counts from the entry",
			events: new(events).in("a-in", "nomad", "2026-11-10 07:30").out("a-out", "nomad", "2026-11-10 09:00"),
			member: "nomad",
			want:   []string{"ctr-a 11-10 07:30→09:00 walk_in nomadic 90"},
		},
		{
			name: "member at two centers the same day",
			events: new(events).in("a-in", "nomad", "2026-11-10 09:00").out("a-out", "nomad", "2026-11-10 11:00").
				in("b-in", "nomad", "2026-11-10 13:00").out("b-out", "nomad", "2026-11-10 16:00"),
			member: "nomad",
			want: []string{
				"ctr-a 11-10 09:00→11:00 walk_in nomadic 120",
				"ctr-b 11-10 13:00→16:00 walk_in nomadic 180",
			},
		},
		{
			name:   "an entry at another center ends a visit without exit tap",
			events: new(events).in("a-in", "nomad", "2026-11-10 09:00").in("b-in", "nomad", "2026-11-10 11:00"),
			member: "nomad",
			want: []string{
				"ctr-a 11-10 09:00→11:00 walk_in nomadic 120",
				"ctr-b 11-10 11:00→15:00 walk_in nomadic 240",
			},
		},
		{
			name:   "local member at their own center: recorded, not credited",
			events: new(events).in("a-in", "local", "2026-11-10 09:00").out("a-out", "local", "2026-11-10 12:00"),
			member: "local",
			want:   []string{"ctr-a 11-10 09:00→12:00 walk_in home home_center"},
		},
		{
			name:   "local member at another center: credited, cross-center",
			events: new(events).in("b-in", "local", "2026-11-10 09:00").out("b-out", "local", "2026-11-10 12:00"),
			member: "local",
			want:   []string{"ctr-b 11-10 09:00→12:00 walk_in cross_center 180"},
		},
		{
			name: "DST March night: 00:30 to 04:00 local lasts 2 h 30",
			events: new(events).in("n-in", "nomad", "2026-03-29 00:30").
				out("n-out", "nomad", "2026-03-29 04:00"),
			member: "nomad",
			want:   []string{"ctr-n 03-29 00:30→04:00 walk_in nomadic 150"},
		},
		{
			name: "DST October night: 00:30 to 04:00 local lasts 4 h 30",
			events: new(events).in("n-in", "nomad", "2026-10-25 00:30").
				out("n-out", "nomad", "2026-10-25 04:00"),
			member: "nomad",
			want:   []string{"ctr-n 10-25 00:30→04:00 walk_in nomadic 270"},
		},
		{
			name:   "DST March night: the default visit is 4 real hours (01:30 CET to 06:30 CEST)",
			events: new(events).in("n-in", "nomad", "2026-03-29 01:30"),
			member: "nomad",
			want:   []string{"ctr-n 03-29 01:30→06:30 walk_in nomadic 240"},
		},
		{
			name:     "DST March: an overnight booking of 22:00 to 06:00 lasts 7 hours",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-n", "2026-03-28 22:00", "2026-03-29 06:00")},
			events:   new(events).tap("n-in", "booker", protocol.GrantedBooking, "2026-03-28 22:05"),
			member:   "booker",
			want:     []string{"ctr-n 03-28 22:00→06:00 booking nomadic 420"},
		},
		{
			name:     "DST October: an overnight booking of 22:00 to 06:00 lasts 9 hours",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-n", "2026-10-24 22:00", "2026-10-25 06:00")},
			events:   new(events).tap("n-in", "booker", protocol.GrantedBooking, "2026-10-24 22:05"),
			member:   "booker",
			want:     []string{"ctr-n 10-24 22:00→06:00 booking nomadic 540"},
		},
		{
			name:     "a booking across the month boundary is split between the periods",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-n", "2026-10-31 22:00", "2026-11-01 02:10")},
			events:   new(events).tap("n-in", "booker", protocol.GrantedBooking, "2026-10-31 21:50"),
			member:   "booker",
			want: []string{
				"ctr-n 10-31 22:00→00:00 booking nomadic 120",
				"ctr-n 11-01 00:00→02:10 booking nomadic 135",
			},
		},
		{
			name: "duplicate events are counted once",
			events: func() *events {
				es := new(events).in("a-in", "nomad", "2026-11-10 09:00").out("a-out", "nomad", "2026-11-10 10:00")
				es.evs = append(es.evs, es.evs[0], es.evs[1], es.evs[0])
				return es
			}(),
			member: "nomad",
			want:   []string{"ctr-a 11-10 09:00→10:00 walk_in nomadic 60"},
			counts: credit.Counts{credit.CountDuplicate: 3, credit.CountEntries: 1, credit.CountExits: 1},
		},
		{
			name: "a conflicting duplicate: the first received is kept",
			events: func() *events {
				es := new(events).out("a-out", "nomad", "2026-11-10 10:00").in("a-in", "nomad", "2026-11-10 09:00")
				late := es.evs[0]
				late.TimeMs = at("2026-11-10 11:00").UnixMilli()
				late.ReceivedMs = at("2026-11-10 11:01").UnixMilli()
				es.evs = append([]domain.Event{late}, es.evs...)
				return es
			}(),
			member: "nomad",
			want:   []string{"ctr-a 11-10 09:00→10:00 walk_in nomadic 60"},
			counts: credit.Counts{credit.CountConflict: 1},
		},
		{
			name: "untrusted clock corroborated by a prompt receipt: used and flagged",
			events: new(events).tap("a-in", "nomad", protocol.GrantedPass, "2026-11-10 09:00", untrusted(2*time.Minute)).
				out("a-out", "nomad", "2026-11-10 10:00"),
			member: "nomad",
			want:   []string{"ctr-a 11-10 09:00→10:00 walk_in nomadic 60 +untrusted"},
			counts: credit.Counts{credit.CountUntrustedUsed: 1},
		},
		{
			name: "untrusted clock received late: excluded and counted",
			events: new(events).tap("a-in", "nomad", protocol.GrantedPass, "2026-11-10 09:00", untrusted(3*time.Hour)).
				out("a-out", "nomad", "2026-11-10 10:00"),
			member: "nomad",
			want:   []string{},
			counts: credit.Counts{credit.CountUntrustedExcluded: 1, credit.CountExitWithoutEntry: 1},
		},
		{
			name:   "untrusted clock under the exclude policy: excluded even when prompt",
			events: new(events).tap("a-in", "nomad", protocol.GrantedPass, "2026-11-10 09:00", untrusted(time.Minute)),
			config: func(c *credit.Config) { c.Untrusted = credit.UntrustedExclude },
			member: "nomad",
			want:   []string{},
			counts: credit.Counts{credit.CountUntrustedExcluded: 1},
		},
		{
			name:   "a door time after its receipt is impossible: excluded as clock_ahead",
			events: new(events).tap("a-in", "nomad", protocol.GrantedPass, "2026-11-10 09:00", receivedAt("2026-11-10 08:00")),
			member: "nomad",
			want:   []string{},
			counts: credit.Counts{credit.CountClockAhead: 1},
		},
		{
			name:   "exit tap without entry, and an entry attempt at an exit reader, credit nothing",
			events: new(events).out("a-out", "nomad", "2026-11-10 12:00").out("a-out", "nomad", "2026-11-10 13:00"),
			member: "nomad",
			want:   []string{},
			counts: credit.Counts{credit.CountExitWithoutEntry: 2, credit.CountExits: 2},
		},
		{
			name:     "a room door tap attends the room booking",
			bookings: []domain.Booking{{ID: "bk1", MemberID: "booker", CenterID: "ctr-a", RoomID: "r1", Start: at("2026-11-10 14:00"), End: at("2026-11-10 16:00"), Status: domain.BookingConfirmed}},
			events:   new(events).tap("a-room", "booker", protocol.GrantedBooking, "2026-11-10 14:10"),
			member:   "booker",
			want:     []string{"ctr-a 11-10 14:00→16:00 booking nomadic 120"},
		},
		{
			name: "a room door tap inside a walk-in extends it from the room tap, merged",
			events: new(events).in("a-in", "nomad", "2026-11-10 09:00").in("a-room", "nomad", "2026-11-10 12:00").
				out("a-out", "nomad", "2026-11-10 14:00"),
			member: "nomad",
			want:   []string{"ctr-a 11-10 09:00→14:00 walk_in nomadic 300"},
		},
		{
			name:   "staff entry without booking or pass: recorded, not credited",
			events: new(events).tap("a-in", "staffer", protocol.GrantedStaff, "2026-11-10 09:00"),
			member: "staffer",
			want:   []string{"ctr-a 11-10 09:00→13:00 walk_in nomadic staff"},
		},
		{
			name:     "a cancelled booking is nothing; its entry without pass is recorded",
			bookings: []domain.Booking{{ID: "bk1", MemberID: "booker", CenterID: "ctr-a", Start: at("2026-11-10 09:00"), End: at("2026-11-10 12:00"), Status: domain.BookingCancelled}},
			events:   new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 09:00").tap("a-out", "booker", protocol.GrantedBooking, "2026-11-10 11:00"),
			member:   "booker",
			want:     []string{"ctr-a 11-10 09:00→11:00 walk_in nomadic no_booking_or_pass"},
		},
		{
			name: "unusable events are counted, never dropped silently",
			events: func() *events {
				es := new(events).tap("x-in", "nomad", protocol.GrantedPass, "2026-11-10 09:00"). // unknown door
															tap("a-in", "ghost", protocol.GrantedPass, "2026-11-10 09:00").    // unknown member
															tap("a-in", "", protocol.GrantedPass, "2026-11-10 09:00").         // no member
															tap("a-in", "nomad", protocol.DeniedNoBooking, "2026-11-10 09:00") // denied
				es.tap("a-in", "nomad", protocol.GrantedPass, "2026-11-10 09:30", func(ev *domain.Event) { ev.Boot = "" })
				es.tap("a-in", "nomad", protocol.GrantedPass, "2026-11-10 09:40", func(ev *domain.Event) { ev.Kind, ev.Reason, ev.UID = protocol.EventDoorClosed, "", "" })
				es.tap("a-in", "nomad", protocol.GrantedPass, "2026-11-10 09:50", func(ev *domain.Event) { ev.ReceivedMs = 0 })
				return es
			}(),
			member: "nomad",
			want:   []string{},
			counts: credit.Counts{credit.CountUnknownDoor: 1, credit.CountUnknownMember: 1, credit.CountNoMember: 1,
				credit.CountDenied: 1, credit.CountInvalid: 2, credit.CountNotTap: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			if tt.config != nil {
				tt.config(&cfg)
			}
			r, err := credit.Compute(cfg, testDir(tt.bookings...), tt.events.evs)
			require.NoError(t, err)
			assert.Equal(t, tt.want, showAll(allVisits(r, tt.member)))
			got := allCounts(r)
			for k, v := range tt.counts {
				assert.Equal(t, v, got[k], "count %s (all: %v)", k, got)
			}
		})
	}
}
