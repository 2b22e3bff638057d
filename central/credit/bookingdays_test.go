package credit_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// byStaff marks a booking as created by the staff of a center.
func byStaff(b domain.Booking, center string) domain.Booking {
	b.CreatedBy = domain.BookingCreator{Role: domain.CreatorCenterStaff, CenterID: center, TokenID: "tok-" + center}
	return b
}

func creditedMinutes(vs []credit.Visit) int64 {
	var n int64
	for _, v := range vs {
		if v.Credited {
			n += v.CreditedMinutes
		}
	}
	return n
}

// A booking is credited day by day (center local days), each day only
// with its own entry, and only within the center's opening hours.
func TestBookingCreditedDayByDay(t *testing.T) {
	tests := []struct {
		name     string
		bookings []domain.Booking
		events   *events
		config   func(*credit.Config)
		want     []string
		minutes  int64
	}{
		{
			// The audit's attack: a manager books a nomadic member at their
			// own center for 30 days; one tap must not credit 30 days.
			name:     "a 30-day booking with one tap: only that day's opening hours",
			bookings: []domain.Booking{byStaff(booking("bk30", "booker", "ctr-a", "2026-11-01 00:00", "2026-12-01 00:00"), "ctr-a")},
			events:   new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 10:00"),
			want: []string{
				"ctr-a 11-01 00:00→00:00 booking nomadic no_show",
				"ctr-a 11-10 00:00→08:00 booking nomadic closed",
				"ctr-a 11-10 08:00→18:00 booking nomadic 600",
				"ctr-a 11-10 18:00→00:00 booking nomadic closed",
				"ctr-a 11-11 00:00→00:00 booking nomadic no_show",
			},
			minutes: 600,
		},
		{
			name:     "a 30-day booking with one tap at a center open around the clock: that day and the night after, no more",
			bookings: []domain.Booking{booking("bk30", "booker", "ctr-n", "2026-11-01 00:00", "2026-12-01 00:00")},
			events:   new(events).tap("n-in", "booker", protocol.GrantedBooking, "2026-11-10 10:00"),
			want: []string{
				"ctr-n 11-01 00:00→00:00 booking nomadic no_show",
				"ctr-n 11-10 00:00→10:00 booking nomadic 2040",
				"ctr-n 11-11 10:00→00:00 booking nomadic no_show",
			},
			minutes: 34 * 60,
		},
		{
			name:     "a multi-day booking with entries on 3 of its days: those 3 days",
			bookings: []domain.Booking{booking("bk6", "booker", "ctr-a", "2026-11-09 09:00", "2026-11-14 17:00")},
			events: new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-09 09:30").
				tap("a-in", "booker", protocol.GrantedBooking, "2026-11-11 12:00").
				tap("a-room", "booker", protocol.GrantedBooking, "2026-11-13 16:30"),
			want: []string{
				"ctr-a 11-09 09:00→18:00 booking nomadic 540",
				"ctr-a 11-09 18:00→00:00 booking nomadic closed",
				"ctr-a 11-10 00:00→00:00 booking nomadic no_show",
				"ctr-a 11-11 00:00→08:00 booking nomadic closed",
				"ctr-a 11-11 08:00→18:00 booking nomadic 600",
				"ctr-a 11-11 18:00→00:00 booking nomadic closed",
				"ctr-a 11-12 00:00→00:00 booking nomadic no_show",
				"ctr-a 11-13 00:00→08:00 booking nomadic closed",
				"ctr-a 11-13 08:00→18:00 booking nomadic 600",
				"ctr-a 11-13 18:00→00:00 booking nomadic closed",
				"ctr-a 11-14 00:00→17:00 booking nomadic no_show",
			},
			minutes: 540 + 600 + 600,
		},
		{
			name:     "an entry outside a day's [start − grace, end) does not attend that day",
			bookings: []domain.Booking{booking("bk3", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-12 12:00")},
			events: new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 08:00"). // before the grace,
														tap("a-out", "booker", protocol.GrantedBooking, "2026-11-10 08:30"). // and gone before it
														tap("a-in", "booker", protocol.GrantedBooking, "2026-11-11 10:00").
														tap("a-in", "booker", protocol.GrantedBooking, "2026-11-12 13:00"), // after that day's end
			want: []string{
				"ctr-a 11-10 08:00→08:30 walk_in nomadic no_booking_or_pass",
				"ctr-a 11-10 09:00→00:00 booking nomadic no_show",
				"ctr-a 11-11 00:00→08:00 booking nomadic closed",
				"ctr-a 11-11 08:00→18:00 booking nomadic 600",
				"ctr-a 11-11 18:00→00:00 booking nomadic closed",
				"ctr-a 11-12 00:00→12:00 booking nomadic no_show",
				"ctr-a 11-12 13:00→17:00 walk_in nomadic no_booking_or_pass",
			},
			minutes: 600,
		},
		{
			name:     "an entry the evening before does not attend the next day at a center that closes at night",
			bookings: []domain.Booking{booking("bk2", "booker", "ctr-b", "2026-11-10 20:00", "2026-11-11 12:00")},
			events:   new(events).tap("b-in", "booker", protocol.GrantedBooking, "2026-11-10 20:05"),
			want: []string{
				"ctr-b 11-10 20:00→22:00 booking nomadic 120",
				"ctr-b 11-10 22:00→00:00 booking nomadic closed",
				"ctr-b 11-11 00:00→12:00 booking nomadic no_show",
			},
			minutes: 120,
		},
		{
			name:     "a booking on a closed day, attended, credits nothing",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-a", "2026-11-08 10:00", "2026-11-08 12:00")},
			events:   new(events).tap("a-in", "booker", protocol.GrantedBooking, "2026-11-08 10:05"),
			want:     []string{"ctr-a 11-08 10:00→12:00 booking nomadic closed"},
		},
		{
			name:     "no-show credited as booked is still clipped to the opening hours",
			bookings: []domain.Booking{booking("bk1", "booker", "ctr-a", "2026-11-10 06:00", "2026-11-10 20:00")},
			events:   new(events),
			config:   func(c *credit.Config) { c.NoShow = credit.NoShowBooked },
			want: []string{
				"ctr-a 11-10 06:00→08:00 booking nomadic closed",
				"ctr-a 11-10 08:00→18:00 booking nomadic 600 +no_show",
				"ctr-a 11-10 18:00→20:00 booking nomadic closed",
			},
			minutes: 600,
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
			vs := allVisits(r, "booker")
			assert.Equal(t, tt.want, showAll(vs))
			assert.Equal(t, tt.minutes, creditedMinutes(vs))
		})
	}
}

// ownStaffScenario: at ctr-a in November, bookings by ctr-a's staff (2 h
// attended, 3 h merged into a 6 h 15 walk-in on a pass), by the
// cooperative (1 h) and by the member (1 h); a booking at ctr-b made by
// ctr-a's staff (2 h, not ctr-b's own staff); and one by ctr-a's staff
// that nobody attended.
func ownStaffScenario(t *testing.T) *credit.Settlement {
	t.Helper()
	coop := booking("bk-coop", "booker", "ctr-a", "2026-11-11 09:00", "2026-11-11 10:00")
	coop.CreatedBy = domain.BookingCreator{Role: domain.CreatorCooperative, TokenID: "tok-admin"}
	self := booking("bk-self", "booker", "ctr-a", "2026-11-12 09:00", "2026-11-12 10:00")
	self.CreatedBy = domain.BookingCreator{Role: domain.CreatorMember}
	bookings := []domain.Booking{
		byStaff(booking("bk-staff", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 11:00"), "ctr-a"),
		byStaff(booking("bk-merged", "nomad", "ctr-a", "2026-11-10 09:00", "2026-11-10 12:00"), "ctr-a"),
		coop, self,
		byStaff(booking("bk-other", "booker", "ctr-b", "2026-11-13 09:00", "2026-11-13 11:00"), "ctr-a"),
		byStaff(booking("bk-none", "booker", "ctr-a", "2026-11-14 09:00", "2026-11-14 11:00"), "ctr-a"),
	}
	es := new(events).
		tap("a-in", "booker", protocol.GrantedBooking, "2026-11-10 09:00").
		in("a-in", "nomad", "2026-11-10 08:50").out("a-out", "nomad", "2026-11-10 15:00").
		tap("a-in", "booker", protocol.GrantedBooking, "2026-11-11 09:00").
		tap("a-in", "booker", protocol.GrantedBooking, "2026-11-12 09:00").
		tap("b-in", "booker", protocol.GrantedBooking, "2026-11-13 09:00")
	r, err := credit.Compute(testConfig(t), testDir(bookings...), es.evs)
	require.NoError(t, err)
	return r.Settlement(mustPeriod(t, "2026-11"))
}

func TestSettlementOwnStaffBookingMinutes(t *testing.T) {
	s := ownStaffScenario(t)
	a, _ := s.Center("ctr-a")
	b, _ := s.Center("ctr-b")
	assert.Equal(t, int64(120+375+60+60), a.NomadicMinutes)
	assert.Equal(t, int64(120+180), a.OwnStaffBookingMinutes, "ctr-a's own staff booked 2 h and 3 h of what it is paid for")
	assert.Equal(t, int64(120), b.NomadicMinutes)
	assert.Equal(t, int64(0), b.OwnStaffBookingMinutes, "a booking by another center's staff is not ctr-b's own")
	assert.Equal(t, int64(300), s.ForCenter("ctr-a").Centers[0].OwnStaffBookingMinutes)

	var buf bytes.Buffer
	require.NoError(t, s.Write(&buf, credit.FormatCSV))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	assert.Contains(t, rows, []string{"2026-11", "false", "own_staff_bookings", "ctr-a", "", "", "", "300", "5.00", "", ""})
	assert.Contains(t, rows, []string{"2026-11", "false", "own_staff_bookings", "ctr-b", "", "", "", "0", "0.00", "", ""})

	buf.Reset()
	require.NoError(t, s.Write(&buf, credit.FormatJSON))
	var raw struct {
		Centers []map[string]any `json:"centers"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	require.NotEmpty(t, raw.Centers)
	assert.Equal(t, "ctr-a", raw.Centers[0]["center_id"])
	assert.Equal(t, float64(300), raw.Centers[0]["own_staff_booking_minutes"])
}
