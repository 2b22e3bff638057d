package billing

import (
	"cmp"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
)

// RoomBooking is a booking of a meeting room with the home center of its
// member (who invoices it).
type RoomBooking struct {
	domain.Booking
	HomeCenterID string `json:"home_center_id,omitempty"`
}

// BilledRoom reports whether a room booking is billed in period p (in
// the network's time zone loc): a room booking (RoomID set) that starts
// in p and is confirmed or released. A released booking (nobody checked
// in, issue 15) is booked and not attended: payable all the same. A
// cancelled booking is not billed: the booking site refuses a member's
// cancellation after the center's cancellation deadline
// (BookingRules.CancelDeadlineMinutes), so a cancelled booking was
// cancelled before that cut-off, or by the staff, who then waive it.
func BilledRoom(rb RoomBooking, p credit.Period, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	if rb.RoomID == "" || (rb.Status != domain.BookingConfirmed && rb.Status != domain.BookingReleased) {
		return false
	}
	return !rb.Start.Before(p.Start(loc)) && rb.Start.Before(p.End(loc))
}

// roomMinutes is a booking's length in minutes, a started minute counted
// whole.
func roomMinutes(rb RoomBooking) int64 {
	return int64((rb.End.Sub(rb.Start) + time.Minute - 1) / time.Minute)
}

// roomLines makes one line per room booked: the minutes of its bookings
// at the room's price per hour valid in the period (PriceRoomHour of the
// host center and room); ok is false when a room has no price (reported
// on its center).
func (b *builder) roomLines(w words, md, issuer Details, rooms []RoomBooking) (lines []invoice.Line, ok bool) {
	type key struct{ center, room string }
	minutes := map[key]int64{}
	count := map[key]int{}
	for _, rb := range rooms {
		k := key{rb.CenterID, rb.RoomID}
		minutes[k] += roomMinutes(rb)
		count[k]++
	}
	keys := make([]key, 0, len(minutes))
	for k := range minutes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.center, b.center), cmp.Compare(a.room, b.room)) })
	for _, k := range keys {
		pr, found := b.in.Prices.At(PriceRoomHour, k.center, k.room, b.in.Period)
		if !found {
			b.missing(PartyCenter, k.center, MissingNoRoomPrice, []string{"room", k.room, "period", b.in.Period.String()}, "no room_hour price of room %s for %s", k.room, b.in.Period)
			return nil, false
		}
		desc := w.T("billing.doc.room", "room", k.room, "center", cmp.Or(b.names[k.center], k.center), "n", count[k])
		lines = append(lines, invoice.Line{Description: desc, Quantity: invoice.Units(minutes[k]), Unit: "MIN",
			UnitPriceCents: pr.Cents, BaseQuantity: invoice.Units(60), VAT: lineVAT(issuer, md, pr)})
	}
	return lines, true
}
