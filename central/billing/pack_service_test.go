package billing_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/domain"
)

// TestIssuePacksRoomsVAT: a month of the generated network invoiced with
// hour packs (one partly used, one covering every hour at price 0), room
// bookings (confirmed and released billed, cancelled not, one room let
// bare and exempt) and an exempt customer (an international
// organisation): every UBL document passes the schema, EN 16931 and
// Peppol rules; the packs' uses are stored with the invoices and what is
// left is carried over; the invoices stay byte for byte what was issued.
func TestIssuePacksRoomsVAT(t *testing.T) {
	m := newMonth(t)
	ctx, p, bs := m.ctx, m.net.Period, m.st.Billing()
	loc := m.net.Config.Location
	for _, r := range m.net.Rooms {
		require.NoError(t, m.st.CreateRoom(ctx, r))
	}
	require.GreaterOrEqual(t, len(m.net.Rooms), 2)
	bare, meeting := m.net.Rooms[0], m.net.Rooms[1]
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceRoomHour, CenterID: bare.CenterID, RoomID: bare.ID, ValidFrom: p, Cents: 2000, VATExemption: "VATEX-EU-135-1"}))
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceRoomHour, CenterID: meeting.CenterID, RoomID: meeting.ID, ValidFrom: p, Cents: 3550}))

	results, err := m.mem.MemberPeriods(ctx, p)
	require.NoError(t, err)
	all, err := bs.AllDetails(ctx)
	require.NoError(t, err)
	details := map[string]billing.Details{}
	for _, d := range all {
		details[d.ID] = d
	}
	// Members with hours, by kind of details: a Belgian business with
	// hours billed by the hour (nomadic: the pack buyer; any: the
	// organisation), a Dutch business, a local member at home.
	credited := func(id string) (home string, minutes int64) {
		for _, mp := range results {
			if mp.MemberID == id {
				for _, v := range mp.Visits {
					home = v.HomeCenterID
					if v.Credited {
						minutes += v.CreditedMinutes
					}
				}
			}
		}
		return home, minutes
	}
	var packer, org, dutch, local string
	for _, mp := range results {
		d, ok := details[mp.MemberID]
		if !ok || d.Plan != billing.PlanHourly {
			continue
		}
		home, mins := credited(mp.MemberID)
		switch {
		case packer == "" && home == "" && d.EnterpriseNumber != "" && mins > 180:
			packer = mp.MemberID
		case local == "" && home != "" && d.EnterpriseNumber != "":
			local = mp.MemberID
		case org == "" && d.EnterpriseNumber != "" && mp.MemberID != packer:
			org = mp.MemberID
		case dutch == "" && strings.HasPrefix(d.VATNumber, "NL"):
			dutch = mp.MemberID
		}
	}
	require.NotEmpty(t, packer)
	require.NotEmpty(t, org)
	require.NotEmpty(t, dutch)
	require.NotEmpty(t, local)
	o := details[org]
	o.VATExemption = "VATEX-EU-151-1B"
	require.NoError(t, bs.SetDetails(ctx, o))
	require.NoError(t, bs.AddPack(ctx, billing.Pack{ID: "pk-packer", MemberID: packer, Hours: 3, Cents: 2400, ValidFrom: p, ValidUntil: p.Next()}))
	require.NoError(t, bs.AddPack(ctx, billing.Pack{ID: "pk-local", MemberID: local, Hours: 1000, Cents: 0, ValidFrom: p.Prev(), ValidUntil: p.Next()}))

	day := func(d, h int) time.Time { return time.Date(2026, time.November, d, h, 0, 0, 0, loc) }
	for i, b := range []domain.Booking{
		{MemberID: org, CenterID: meeting.CenterID, RoomID: meeting.ID, Start: day(3, 10), End: day(3, 12), Status: domain.BookingConfirmed},
		{MemberID: org, CenterID: bare.CenterID, RoomID: bare.ID, Start: day(4, 10), End: day(4, 11), Status: domain.BookingReleased},
		{MemberID: dutch, CenterID: bare.CenterID, RoomID: bare.ID, Start: day(5, 9), End: day(5, 13), Status: domain.BookingConfirmed},
		{MemberID: dutch, CenterID: meeting.CenterID, RoomID: meeting.ID, Start: day(6, 9), End: day(6, 10), Status: domain.BookingCancelled},
		{MemberID: packer, CenterID: meeting.CenterID, RoomID: meeting.ID, Start: day(6, 14), End: day(6, 15), Status: domain.BookingConfirmed},
	} {
		b.ID = "room-" + string(rune('a'+i))
		require.NoError(t, m.st.CreateBooking(ctx, b))
	}

	docs, plan, err := m.svc.Issue(ctx, p)
	require.NoError(t, err)
	require.NotContains(t, plan.Missing, billing.Missing{Kind: billing.PartyMember, ID: org})
	inv := map[string]billing.Issued{}
	for _, d := range docs {
		if d.Purpose == billing.PurposeInvoice {
			inv[d.MemberID] = d
		}
	}
	lines := func(id, prefix string) (out []invoice.Line) {
		for _, l := range inv[id].Doc.Lines {
			if strings.HasPrefix(l.Description, prefix) {
				out = append(out, l)
			}
		}
		return out
	}
	// The organisation: every line exempt for its reason, rooms included.
	require.NotEmpty(t, inv[org].Number)
	for _, l := range inv[org].Doc.Lines {
		require.Equal(t, invoice.CategoryExempt, l.VAT.Category, l.Description)
		require.Equal(t, "VATEX-EU-151-1B", l.VAT.ExemptionReasonCode)
	}
	orgInv := inv[org]
	require.Zero(t, orgInv.Doc.Totals().VATCents)
	rooms := lines(org, "Meeting room ")
	require.Len(t, rooms, 2, "the booked room and the released one")
	// The Dutch business: hours reverse charged, the bare room exempt, the
	// cancelled booking not billed.
	rooms = lines(dutch, "Meeting room ")
	require.Len(t, rooms, 1)
	require.Equal(t, invoice.Units(240), rooms[0].Quantity)
	require.Equal(t, invoice.CategoryExempt, rooms[0].VAT.Category)
	require.Equal(t, "VATEX-EU-135-1", rooms[0].VAT.ExemptionReasonCode)
	dutchInv := inv[dutch]
	require.Equal(t, int64(4*2000), dutchInv.Doc.Totals().LineNetCents[len(dutchInv.Doc.Lines)-1])
	// The pack buyer: three hours covered, the rest billed, the purchase
	// on the invoice, the room at its price.
	_, mins := credited(packer)
	covered := lines(packer, "Hours at ")
	var cov, billed int64
	for _, l := range covered {
		n := int64(l.Quantity / invoice.Units(1))
		if strings.Contains(l.Description, "covered by hour pack pk-packer") {
			cov += n
			require.Zero(t, l.UnitPriceCents)
		} else {
			billed += n
		}
	}
	require.Equal(t, int64(180), cov)
	require.Equal(t, mins-180, billed)
	require.Len(t, lines(packer, "Hour pack pk-packer"), 1)
	require.Len(t, lines(packer, "Meeting room "), 1)
	// The local member: every hour at home covered, nothing to pay.
	require.NotEmpty(t, inv[local].Number)
	require.Nil(t, inv[local].Doc.Payment)

	packs, err := bs.Packs(ctx, packer)
	require.NoError(t, err)
	require.Equal(t, []billing.PackUse{{PackID: "pk-packer", Period: p, Minutes: 180, Number: inv[packer].Number}}, packs[0].Uses)
	require.Zero(t, packs[0].RemainingMinutes)
	packs, err = bs.Packs(ctx, local)
	require.NoError(t, err)
	require.Len(t, packs[0].Uses, 1)
	require.Equal(t, inv[local].Number, packs[0].Uses[0].Number)
	require.Equal(t, int64(1000*60)-packs[0].Uses[0].Minutes, packs[0].RemainingMinutes, "carried over to December")
	require.Positive(t, packs[0].Uses[0].Minutes)

	validateUBL(t, writeUBL(t, docs))
	for _, id := range []string{org, dutch, packer, local} {
		d := inv[id]
		pdf, err := billing.PDF(&d, "fr")
		require.NoError(t, err, "PDF of %s", d.Number)
		require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
	}

	// Issued once: the dry run has nothing left, the documents are the
	// same bytes.
	again, err := m.svc.DryRun(ctx, p)
	require.NoError(t, err)
	require.Empty(t, again.Drafts)
	stored, err := bs.Documents(ctx, billing.DocumentFilter{Period: p})
	require.NoError(t, err)
	for _, d := range stored {
		if w, ok := inv[d.MemberID]; ok && d.Number == w.Number {
			require.Equal(t, w.Digest, d.Digest)
		}
	}
}
