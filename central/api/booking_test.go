package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
)

// TestBookingAPI walks the booking site's endpoints as an admin and as the
// manager of c1: places, rules, availability, the week view, booking for a
// member (the rules' refusals with code and field), recurring, change,
// cancel, cancel a range — a manager acting at their own center only.
func TestBookingAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var hours domain.OpeningHours
	for d := time.Monday; d <= time.Friday; d++ {
		hours[d] = []domain.Span{{Open: 8 * 60, Close: 18 * 60}}
	}
	for _, c := range []string{"c1", "c2"} {
		require.NoError(t, f.st.UpdateCenter(ctx, domain.Center{ID: c, Name: c, TimeZone: "Europe/Brussels", Hours: hours}))
	}
	decode := func(res response, v any) {
		t.Helper()
		require.NoError(t, json.Unmarshal(res.Body, v), "%s", res.Body)
	}
	refused := func(res response, status int, code, fld string) {
		t.Helper()
		require.Equal(t, status, res.Status, "%s", res.Body)
		require.Equal(t, code, res.Err.Code, "%s", res.Body)
		require.Equal(t, fld, res.Err.Field, "%s", res.Body)
	}
	// Tuesday 3 March 2026 in Brussels (UTC+1); the API's clock is Monday 10:00.
	tue := func(h int) string {
		return time.Date(2026, 3, 3, h, 0, 0, 0, time.FixedZone("", 3600)).Format(time.RFC3339)
	}

	// Places and rules.
	res := f.do("mgr1", "PUT", "/centers/c1/desks", map[string]any{"capacity": 1})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	refused(f.do("mgr1", "PUT", "/centers/c2/desks", map[string]any{"capacity": 1}), http.StatusNotFound, "not_found", "")
	refused(f.do("mgr1", "PUT", "/centers/c1/desks", map[string]any{"capacity": -1}), http.StatusBadRequest, "invalid", "capacity")
	require.Equal(t, http.StatusOK, f.do("admin", "PUT", "/centers/c2/desks", map[string]any{"capacity": 2}).Status)
	var places struct {
		Desks domain.DeskPool `json:"desks"`
		Rooms []domain.Room   `json:"rooms"`
	}
	res = f.do("mgr1", "GET", "/centers/c1/places", nil)
	require.Equal(t, http.StatusOK, res.Status)
	decode(res, &places)
	require.Equal(t, 1, places.Desks.Capacity)
	require.Len(t, places.Rooms, 1)

	rules := domain.DefaultBookingRules()
	rules.MaxOpenBookings = 10
	refused(f.do("mgr1", "PUT", "/booking-rules", rules), http.StatusForbidden, "forbidden", "")
	res = f.do("admin", "PUT", "/booking-rules", rules)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var inForce struct {
		domain.BookingRules
		Source string `json:"source"`
	}
	decode(f.do("mgr1", "GET", "/centers/c1/booking-rules", nil), &inForce)
	require.Equal(t, "network", inForce.Source)
	require.Equal(t, 10, inForce.MaxOpenBookings)
	bad := rules
	bad.MaxAdvanceDays = 0
	refused(f.do("mgr1", "PUT", "/centers/c1/booking-rules", bad), http.StatusBadRequest, "invalid", "max_advance_days")
	c1rules := rules
	c1rules.MaxMinutes = 240
	require.Equal(t, http.StatusOK, f.do("mgr1", "PUT", "/centers/c1/booking-rules", c1rules).Status)
	decode(f.do("mgr1", "GET", "/centers/c1/booking-rules", nil), &inForce)
	require.Equal(t, "center", inForce.Source)
	refused(f.do("mgr1", "GET", "/centers/c2/booking-rules", nil), http.StatusNotFound, "not_found", "")

	// Booking for a member.
	var b1 domain.Booking
	res = f.do("admin", "POST", "/members/n1/bookings", map[string]any{"center_id": "c1", "start": tue(9), "end": tue(12)})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	decode(res, &b1)
	require.Equal(t, domain.BookingCreator{Role: domain.CreatorCooperative, TokenID: "admin"}, b1.CreatedBy)
	for _, tc := range []struct {
		name, who, member string
		body              map[string]any
		status            int
		code, field       string
	}{
		{"last desk taken", "mgr1", "m1", map[string]any{"center_id": "c1", "start": tue(10), "end": tue(11)}, http.StatusConflict, "no_desk_left", "start"},
		{"outside hours", "admin", "m1", map[string]any{"center_id": "c2", "start": tue(17), "end": tue(19)}, http.StatusUnprocessableEntity, "outside_opening_hours", "start"},
		{"over c1's maximum", "mgr1", "m1", map[string]any{"center_id": "c1", "start": tue(12), "end": tue(17)}, http.StatusUnprocessableEntity, "too_long", "end"},
		{"in the past", "admin", "m1", map[string]any{"center_id": "c2", "start": "2026-03-02T08:00:00+01:00", "end": "2026-03-02T09:00:00+01:00"}, http.StatusUnprocessableEntity, "in_the_past", "start"},
		{"unknown center", "admin", "m1", map[string]any{"center_id": "c9", "start": tue(9), "end": tue(10)}, http.StatusUnprocessableEntity, "unknown_center", "center_id"},
		{"unknown member", "admin", "zz", map[string]any{"center_id": "c2", "start": tue(9), "end": tue(10)}, http.StatusUnprocessableEntity, "unknown_member", "member_id"},
		{"room for too many", "admin", "m2", map[string]any{"center_id": "c2", "room_id": "r2", "people": 3, "start": tue(9), "end": tue(10)}, http.StatusUnprocessableEntity, "room_too_small", "people"},
		{"another center's", "mgr1", "m1", map[string]any{"center_id": "c2", "start": tue(9), "end": tue(10)}, http.StatusForbidden, "forbidden", ""},
		{"bad time", "admin", "m1", map[string]any{"center_id": "c2", "start": "tuesday", "end": tue(10)}, http.StatusBadRequest, "invalid", "start"},
		{"unknown field", "admin", "m1", map[string]any{"center_id": "c2", "start": tue(9), "end": tue(10), "desk": "x"}, http.StatusBadRequest, "unknown_field", "desk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused(f.do(tc.who, "POST", "/members/"+tc.member+"/bookings", tc.body), tc.status, tc.code, tc.field)
		})
	}

	// Availability and the week view.
	span := "?start=" + url.QueryEscape(tue(9)) + "&end=" + url.QueryEscape(tue(12))
	avail := f.items("admin", "/availability"+span)
	require.Equal(t, []string{"c1", "c2"}, field(avail, "center_id"))
	require.Equal(t, []any{0.0, 2.0}, []any{avail[0]["desks_free"], avail[1]["desks_free"]}, "c1's one desk is taken")
	require.Equal(t, []any{true, true}, []any{avail[0]["fits"], avail[1]["fits"]}, "c1's room r1 is free")
	require.Equal(t, []string{"c1"}, field(f.items("mgr1", "/availability"+span), "center_id"), "a manager sees their center")
	refused(f.do("admin", "GET", "/availability?start="+url.QueryEscape(tue(12))+"&end="+url.QueryEscape(tue(9)), nil), http.StatusBadRequest, "invalid", "end")
	var week struct {
		Days []struct {
			Date  string `json:"date"`
			Slots []struct {
				DesksFree int `json:"desks_free"`
			} `json:"slots"`
		} `json:"days"`
	}
	res = f.do("mgr1", "GET", "/centers/c1/week?date=2026-03-03", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	decode(res, &week)
	require.Len(t, week.Days, 7)
	require.Equal(t, "2026-03-03", week.Days[0].Date)
	require.Equal(t, 0, week.Days[0].Slots[1].DesksFree, "09:00 is taken")
	require.Equal(t, 1, week.Days[0].Slots[5].DesksFree, "13:00 is free")
	refused(f.do("mgr1", "GET", "/centers/c2/week", nil), http.StatusNotFound, "not_found", "")

	// Recurring at c2, then the member's bookings as each caller sees them.
	var series struct {
		Made   int `json:"made"`
		Failed int `json:"failed"`
	}
	res = f.do("admin", "POST", "/members/n1/bookings/recurring", map[string]any{"center_id": "c2", "start": tue(9), "end": tue(12), "count": 3})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	decode(res, &series)
	require.Equal(t, 3, series.Made)
	refused(f.do("admin", "POST", "/members/n1/bookings/recurring", map[string]any{"center_id": "c2", "start": tue(9), "end": tue(12), "count": 99}),
		http.StatusBadRequest, "invalid", "count")
	require.Len(t, f.items("admin", "/members/n1/bookings"), 4)
	mine := f.items("mgr1", "/members/n1/bookings")
	require.Equal(t, []string{b1.ID}, field(mine, "id"), "a manager sees the bookings at their center")

	// Change, cancel, cancel a range.
	res = f.do("mgr1", "PUT", "/members/n1/bookings/"+b1.ID, map[string]any{"start": tue(13), "end": tue(15)})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	c2ids := field(f.items("admin", "/members/n1/bookings?from=2026-03-03T00:00:00Z&to=2026-03-30T00:00:00Z"), "id")
	require.Len(t, c2ids, 4)
	var other string
	for _, id := range c2ids {
		if id != b1.ID {
			other = id
			break
		}
	}
	refused(f.do("mgr1", "POST", "/members/n1/bookings/"+other+"/cancel", nil), http.StatusNotFound, "unknown_booking", "booking_id")
	refused(f.do("admin", "POST", "/members/m1/bookings/"+other+"/cancel", nil), http.StatusNotFound, "unknown_booking", "booking_id")
	res = f.do("admin", "POST", "/members/n1/bookings/"+other+"/cancel", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var cancelled domain.Booking
	decode(res, &cancelled)
	require.Equal(t, domain.BookingCancelled, cancelled.Status)
	refused(f.do("admin", "POST", "/members/n1/bookings/"+other+"/cancel", nil), http.StatusUnprocessableEntity, "already_cancelled", "id")

	var rng struct {
		Cancelled []domain.Booking `json:"cancelled"`
	}
	res = f.do("mgr1", "POST", "/members/n1/bookings/cancel-range", map[string]any{"from": "2026-03-03T00:00:00Z", "to": "2026-04-01T00:00:00Z"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	decode(res, &rng)
	require.Len(t, rng.Cancelled, 1, "the manager cancels at c1 only")
	require.Equal(t, b1.ID, rng.Cancelled[0].ID)
	res = f.do("admin", "POST", "/members/n1/bookings/cancel-range", map[string]any{"from": "2026-03-03T00:00:00Z", "to": "2026-04-01T00:00:00Z"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	decode(res, &rng)
	require.Len(t, rng.Cancelled, 2, "the two c2 bookings left")
	refused(f.do("admin", "POST", "/members/n1/bookings/cancel-range", map[string]any{"from": "2026-04-01T00:00:00Z", "to": "2026-03-03T00:00:00Z"}),
		http.StatusBadRequest, "invalid", "to")

	require.Equal(t, http.StatusNoContent, f.do("mgr1", "DELETE", "/centers/c1/booking-rules", nil).Status)
	require.Equal(t, http.StatusNoContent, f.do("mgr1", "DELETE", "/centers/c1/desks", nil).Status)
	refused(f.do("mgr1", "DELETE", "/centers/c1/desks", nil), http.StatusNotFound, "not_found", "")
	refused(f.do("tech1", "GET", "/availability"+span, nil), http.StatusForbidden, "forbidden", "")
}
