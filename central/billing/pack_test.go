package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
)

// nomadicInput is November 2026 for nomadic members n1.. at 10.00 an hour
// (21 %), with the cooperative's and n1's details.
func nomadicInput(t *testing.T) *Input {
	nov := period(t, "2026-11")
	in := &Input{Period: nov, IssueDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Details: map[string]Details{}, Location: time.UTC,
		Prices: Prices{{Kind: PriceNomadicHour, ValidFrom: nov, Cents: 1000}}}
	in.Details[DetailsKey(PartyCooperative, CooperativeID)] = Business(PartyCooperative, CooperativeID, "BE", 99)
	in.Details[DetailsKey(PartyMember, "n1")] = Business(PartyMember, "n1", "BE", 7)
	return in
}

// visitAt is a credited nomadic visit of n1 at center on day of November.
func visitAt(center string, day int, minutes int64) credit.Visit {
	v := visit("n1", center, "", credit.ClassNomadic, minutes)
	v.Start = time.Date(2026, 11, day, 9, 0, 0, 0, time.UTC)
	v.End = v.Start.Add(time.Duration(minutes) * time.Minute)
	return v
}

type wantLine struct {
	desc    string
	minutes int64
	net     int64
}

func requireLines(t *testing.T, d invoice.Document, want []wantLine) {
	t.Helper()
	tot := d.Totals()
	got := make([]wantLine, len(d.Lines))
	for i, l := range d.Lines {
		got[i] = wantLine{l.Description, int64(l.Quantity / invoice.Units(1)), tot.LineNetCents[i]}
	}
	require.Equal(t, want, got)
}

// TestPlanPacks: hour packs cover a member's hours in order of time, the
// pack that expires first first; what earlier months took is gone; an
// expired pack, a pack not yet valid and a pack of another issuer cover
// nothing; the purchase is a line of the invoice of the pack's first
// month, alone if the member worked no hour; the hours beyond the packs
// are billed at the hour price.
func TestPlanPacks(t *testing.T) {
	oct, nov, dec := period(t, "2026-10"), period(t, "2026-11"), period(t, "2026-12")
	for _, c := range []struct {
		name   string
		visits []credit.Visit
		packs  []Pack
		want   []wantLine
		uses   []PackUse
	}{
		{name: "no pack", visits: []credit.Visit{visitAt("c1", 3, 90)},
			want: []wantLine{{"Hours at c1", 90, 1500}}},
		{name: "bought this month, partly used, in order of time",
			visits: []credit.Visit{visitAt("c2", 20, 120), visitAt("c1", 3, 60), visitAt("c2", 4, 45)},
			packs:  []Pack{{ID: "p1", MemberID: "n1", Issuer: CooperativeID, Hours: 2, Cents: 1800, ValidFrom: nov, ValidUntil: dec}},
			// c1 on the 3rd (60) and c2 on the 4th (45) then 15 of the 20th.
			want: []wantLine{{"Hours at c1, covered by hour pack p1", 60, 0}, {"Hours at c2", 105, 1750},
				{"Hours at c2, covered by hour pack p1", 60, 0}, {"Hour pack p1: 2 h, valid from November 2026 to December 2026", 1, 1800}},
			uses: []PackUse{{PackID: "p1", Period: nov, Minutes: 120}}},
		{name: "carried over from October, the expiring pack first",
			visits: []credit.Visit{visitAt("c1", 3, 240)},
			packs: []Pack{
				{ID: "p-late", MemberID: "n1", Issuer: CooperativeID, Hours: 10, ValidFrom: oct, ValidUntil: dec},
				{ID: "p-soon", MemberID: "n1", Issuer: CooperativeID, Hours: 3, ValidFrom: oct, ValidUntil: nov,
					Uses: []PackUse{{PackID: "p-soon", Period: oct, Minutes: 150}}},
			},
			want: []wantLine{{"Hours at c1, covered by hour pack p-late", 210, 0}, {"Hours at c1, covered by hour pack p-soon", 30, 0}},
			uses: []PackUse{{PackID: "p-soon", Period: nov, Minutes: 30}, {PackID: "p-late", Period: nov, Minutes: 210}}},
		{name: "expired, future and another issuer's packs",
			visits: []credit.Visit{visitAt("c1", 3, 60)},
			packs: []Pack{
				{ID: "old", MemberID: "n1", Issuer: CooperativeID, Hours: 5, ValidFrom: oct, ValidUntil: oct},
				{ID: "next", MemberID: "n1", Issuer: CooperativeID, Hours: 5, ValidFrom: dec, ValidUntil: dec},
				{ID: "c9s", MemberID: "n1", Issuer: "c9", Hours: 5, ValidFrom: oct, ValidUntil: dec},
			},
			want: []wantLine{{"Hours at c1", 60, 1000}}},
		{name: "used up", visits: []credit.Visit{visitAt("c1", 3, 60)},
			packs: []Pack{{ID: "p1", MemberID: "n1", Issuer: CooperativeID, Hours: 1, ValidFrom: oct, ValidUntil: dec,
				Uses: []PackUse{{PackID: "p1", Period: oct, Minutes: 60}}}},
			want: []wantLine{{"Hours at c1", 60, 1000}}},
		{name: "bought, no hours worked",
			packs: []Pack{{ID: "p1", MemberID: "n1", Issuer: CooperativeID, Hours: 10, Cents: 9000, ValidFrom: nov, ValidUntil: dec}},
			want:  []wantLine{{"Hour pack p1: 10 h, valid from November 2026 to December 2026", 1, 9000}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := nomadicInput(t)
			in.Packs = c.packs
			if len(c.visits) > 0 {
				in.Results = []credit.MemberPeriod{{MemberID: "n1", Period: nov, Visits: c.visits}}
			}
			pl := MakePlan(in)
			require.Empty(t, pl.Missing)
			require.Len(t, pl.Drafts, 1)
			requireLines(t, pl.Drafts[0].Doc, c.want)
			require.Equal(t, c.uses, pl.Drafts[0].PackUses)
			_, err := Finish(pl.Drafts[0], 1, 0)
			require.NoError(t, err)
		})
	}
	t.Run("all covered: nothing to pay", func(t *testing.T) {
		in := nomadicInput(t)
		in.Results = []credit.MemberPeriod{{MemberID: "n1", Period: nov, Visits: []credit.Visit{visitAt("c1", 3, 60)}}}
		in.Packs = []Pack{{ID: "p1", MemberID: "n1", Issuer: CooperativeID, Hours: 5, ValidFrom: oct, ValidUntil: dec}}
		pl := MakePlan(in)
		require.Len(t, pl.Drafts, 1)
		require.Zero(t, pl.Drafts[0].Doc.Totals().PayableCents)
		require.Nil(t, pl.Drafts[0].Doc.Payment, "no payment asked for 0")
		is, err := Finish(pl.Drafts[0], 1, 0)
		require.NoError(t, err)
		require.NotNil(t, is.UBL)
	})
}

// TestPackValidate names the field at fault.
func TestPackValidate(t *testing.T) {
	nov := period(t, "2026-11")
	ok := Pack{ID: "p1", MemberID: "n1", Hours: 10, Cents: 9000, ValidFrom: nov, ValidUntil: nov.Next()}
	require.NoError(t, ok.Validate())
	for _, c := range []struct {
		field string
		edit  func(p *Pack)
	}{
		{"id", func(p *Pack) { p.ID = "" }},
		{"member_id", func(p *Pack) { p.MemberID = "" }},
		{"hours", func(p *Pack) { p.Hours = 0 }},
		{"hours", func(p *Pack) { p.Hours = maxPackHours + 1 }},
		{"cents", func(p *Pack) { p.Cents = -1 }},
		{"vat_rate", func(p *Pack) { p.VATRate = 10001 }},
		{"valid_from", func(p *Pack) { p.ValidFrom = credit.Period{} }},
		{"valid_until", func(p *Pack) { p.ValidUntil = nov.Prev() }},
		{"valid_until", func(p *Pack) { p.ValidUntil = period(t, "2029-11") }},
	} {
		p := ok
		c.edit(&p)
		err := p.Validate()
		require.Error(t, err, c.field)
		require.Contains(t, err.Error(), c.field+":")
	}
}

// TestPlanRooms: booked room time is billed by booking at the room's
// price valid in the month, one line per room; a released booking (not
// attended) is billed, a cancelled one is not, nor a desk booking, nor
// one starting in another month (Brussels time); a room without price
// blocks the invoice and is reported on its center.
func TestPlanRooms(t *testing.T) {
	oct, nov := period(t, "2026-10"), period(t, "2026-11")
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	at := func(day, hour int) time.Time { return time.Date(2026, time.November, day, hour, 0, 0, 0, loc) }
	rb := func(id, room string, start time.Time, minutes int, status string) RoomBooking {
		return RoomBooking{Booking: domain.Booking{ID: id, MemberID: "n1", CenterID: "c1", RoomID: room, Start: start,
			End: start.Add(time.Duration(minutes) * time.Minute), Status: status}}
	}
	in := nomadicInput(t)
	in.Location = loc
	in.Prices = append(in.Prices, Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: oct, Cents: 9000},
		Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: nov, Cents: 3000},
		Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r2", ValidFrom: oct, Cents: 4500})
	in.RoomBookings = []RoomBooking{
		rb("b1", "r1", at(3, 9), 90, domain.BookingConfirmed),
		rb("b2", "r1", at(4, 9), 30, domain.BookingReleased),
		rb("b3", "r1", at(5, 9), 600, domain.BookingCancelled),
		rb("b4", "", at(5, 9), 600, domain.BookingConfirmed),
		rb("b5", "r2", at(30, 23), 60, domain.BookingConfirmed),                                      // 23:00 on the last day, in Brussels
		rb("b6", "r2", time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC), 60, domain.BookingConfirmed), // 00:30 on 1 November in Brussels
		rb("b7", "r2", time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC), 60, domain.BookingConfirmed), // 00:30 on 1 December in Brussels
	}
	pl := MakePlan(in)
	require.Empty(t, pl.Missing)
	require.Len(t, pl.Drafts, 1)
	requireLines(t, pl.Drafts[0].Doc, []wantLine{
		{"Meeting room r1 at c1 (2 bookings)", 120, 6000},
		{"Meeting room r2 at c1 (2 bookings)", 120, 9000},
	})

	in.RoomBookings = append(in.RoomBookings, rb("b8", "r3", at(6, 9), 60, domain.BookingConfirmed))
	pl = MakePlan(in)
	require.Empty(t, pl.Drafts)
	require.Equal(t, []Missing{{Kind: PartyCenter, ID: "c1", Reason: "no room_hour price of room r3 for 2026-11",
		Code: MissingNoRoomPrice, Args: map[string]string{"room": "r3", "period": "2026-11"}}}, pl.Missing)
}

// TestPlanVAT: the VAT of a member's line: a customer's exemption on every
// line (before reverse charge), a price's exemption on its lines, reverse
// charge for a buyer with a VAT number of another EU state, else the
// price's rate; lines exempt for two reasons are reported, not issued.
func TestPlanVAT(t *testing.T) {
	nov := period(t, "2026-11")
	org := Business(PartyMember, "n1", "NL", 0)
	org.VATExemption = "VATEX-EU-151-1B"
	dipl := Private("n1")
	dipl.VATExemption = "VATEX-EU-151-1A"
	std := invoice.VAT{Category: invoice.CategoryStandard, Rate: DefaultVAT}
	ae := invoice.VAT{Category: invoice.CategoryReverseCharge, ExemptionReasonCode: "VATEX-EU-AE", ExemptionReason: ReverseChargeReason}
	for _, c := range []struct {
		name                    string
		buyer                   Details
		roomExempt, room2Exempt string
		hours, room             invoice.VAT
		missing                 string
	}{
		{name: "standard", buyer: Business(PartyMember, "n1", "BE", 7), hours: std, room: std},
		{name: "reverse charge", buyer: Business(PartyMember, "n1", "NL", 0), hours: ae, room: ae},
		{name: "room let bare", buyer: Business(PartyMember, "n1", "BE", 7), roomExempt: "VATEX-EU-135-1", hours: std, room: exempt("VATEX-EU-135-1")},
		{name: "room let bare, foreign buyer", buyer: Business(PartyMember, "n1", "NL", 0), roomExempt: "VATEX-EU-135-1", hours: ae, room: exempt("VATEX-EU-135-1")},
		{name: "international organisation", buyer: org, roomExempt: "VATEX-EU-135-1", hours: exempt("VATEX-EU-151-1B"), room: exempt("VATEX-EU-151-1B")},
		{name: "diplomat", buyer: dipl, hours: exempt("VATEX-EU-151-1A"), room: exempt("VATEX-EU-151-1A")},
		{name: "two reasons", buyer: Business(PartyMember, "n1", "BE", 7), roomExempt: "VATEX-EU-135-1", room2Exempt: "VATEX-EU-132",
			missing: "lines exempt under VATEX-EU-135-1 and VATEX-EU-132: one invoice has one exemption reason (set one price's exemption)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := nomadicInput(t)
			in.Details[DetailsKey(PartyMember, "n1")] = c.buyer
			in.Results = []credit.MemberPeriod{{MemberID: "n1", Period: nov, Visits: []credit.Visit{visitAt("c1", 3, 60)}}}
			in.Prices = append(in.Prices, Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: nov, Cents: 3000, VATExemption: c.roomExempt})
			in.RoomBookings = []RoomBooking{{Booking: domain.Booking{ID: "b1", MemberID: "n1", CenterID: "c1", RoomID: "r1",
				Start: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC), Status: domain.BookingConfirmed}}}
			if c.room2Exempt != "" {
				in.Prices = append(in.Prices, Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r2", ValidFrom: nov, Cents: 3000, VATExemption: c.room2Exempt})
				b := in.RoomBookings[0]
				b.ID, b.RoomID = "b2", "r2"
				in.RoomBookings = append(in.RoomBookings, b)
			}
			pl := MakePlan(in)
			if c.missing != "" {
				require.Empty(t, pl.Drafts)
				require.Equal(t, []Missing{{Kind: PartyMember, ID: "n1", Reason: c.missing, Code: MissingExemptionClash,
					Args: map[string]string{"codes": c.roomExempt + ", " + c.room2Exempt}}}, pl.Missing)
				return
			}
			require.Empty(t, pl.Missing)
			require.Len(t, pl.Drafts, 1)
			lines := pl.Drafts[0].Doc.Lines
			require.Len(t, lines, 2)
			require.Equal(t, c.hours, lines[0].VAT)
			require.Equal(t, c.room, lines[1].VAT)
			is, err := Finish(pl.Drafts[0], 1, 0)
			require.NoError(t, err)
			var want int64 // taxable at 21 %
			if c.hours.Category == invoice.CategoryStandard {
				want += 1000
			}
			if c.room.Category == invoice.CategoryStandard {
				want += 3000
			}
			require.Equal(t, invoice.VATCents(want, DefaultVAT), is.Doc.Totals().VATCents)
		})
	}
}

// TestExemptionValidate: a customer's exemption is a member's, from the
// customers' list; a price's from the line categories'.
func TestExemptionValidate(t *testing.T) {
	nov := period(t, "2026-11")
	d := Private("m1")
	d.VATExemption = "VATEX-EU-151-1A"
	require.NoError(t, d.Validate())
	for _, c := range []struct {
		name string
		err  error
	}{
		{"customer with a price's code", func() error { d := Private("m1"); d.VATExemption = "VATEX-EU-135-1"; return d.Validate() }()},
		{"customer with an unknown code", func() error { d := Private("m1"); d.VATExemption = "VATEX-EU-79-C"; return d.Validate() }()},
		{"a center", func() error {
			d := Business(PartyCenter, "c1", "BE", 1)
			d.VATExemption = "VATEX-EU-151-1B"
			return d.Validate()
		}()},
		{"price with a customer's code", Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: nov, VATExemption: "VATEX-EU-151-1B"}.Validate()},
		{"price with an unknown code", Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: nov, VATExemption: "E"}.Validate()},
	} {
		require.Error(t, c.err, c.name)
		require.Contains(t, c.err.Error(), "vat_exemption:", c.name)
	}
	require.NoError(t, Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: nov, VATExemption: "VATEX-EU-135-1"}.Validate())
}
