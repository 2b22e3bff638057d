package billing

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
)

// Enterprise makes a valid Belgian enterprise number from n (exported
// for the external tests).
func Enterprise(n int64) string {
	base := 2_000_000 + n
	return fmt.Sprintf("0%07d%02d", base, 97-base%97)
}

// Business is valid details of a business, Belgian or Dutch (exported
// for the external tests).
func Business(kind PartyKind, id, vatCountry string, n int64) Details {
	d := Details{Kind: kind, ID: id, Name: "Party " + id, Street: "Rue 1", City: "Bruxelles", PostalCode: "1000",
		Country: "BE", Email: id + "@example.org", IBAN: "BE68539007547034", BIC: "GKCCBEBB", Lang: "en"}
	switch vatCountry {
	case "BE":
		d.EnterpriseNumber = Enterprise(n)
		d.VATNumber = "BE" + d.EnterpriseNumber
	case "NL":
		d.Country, d.City, d.PostalCode, d.VATNumber = "NL", "Maastricht", "6211 CK", "NL859223791B01"
	}
	if kind == PartyMember {
		d.IBAN, d.BIC = "", ""
	}
	return d
}

// Private is valid details of a private member.
func Private(id string) Details {
	return Details{Kind: PartyMember, ID: id, Name: "Person " + id, Country: "BE", Email: id + "@example.org", Private: true, Lang: "en"}
}

func period(t require.TestingT, s string) credit.Period {
	p, err := credit.ParsePeriod(s)
	require.NoError(t, err)
	return p
}

func TestDetailsValidate(t *testing.T) {
	ok := Business(PartyCenter, "c1", "BE", 1)
	require.NoError(t, ok.Validate())
	require.NoError(t, Private("m1").Validate())
	for _, c := range []struct {
		name, field string
		d           Details
	}{
		{"bad country", "country", func() Details { d := Private("m1"); d.Country = "Belgium"; return d }()},
		{"no e-mail", "email", func() Details { d := Private("m1"); d.Email = ""; return d }()},
		{"private with VAT", "private", func() Details { d := Business(PartyMember, "m1", "BE", 2); d.Private = true; return d }()},
		{"business without number", "vat_number", func() Details { d := Private("m1"); d.Private = false; return d }()},
		{"bad enterprise number", "enterprise_number", func() Details {
			d := Business(PartyMember, "m1", "BE", 2)
			d.EnterpriseNumber, d.VATNumber = "0123456789", ""
			return d
		}()},
		{"center without IBAN", "iban", func() Details { d := ok; d.IBAN = ""; return d }()},
		{"bad IBAN", "iban", func() Details { d := ok; d.IBAN = "BE00539007547034"; return d }()},
		{"bad plan", "plan", func() Details { d := Private("m1"); d.Plan = "yearly"; return d }()},
		{"bad kind", "kind", func() Details { d := Private("m1"); d.Kind = "other"; return d }()},
		{"no name", "name", func() Details { d := Private("m1"); d.Name = ""; return d }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.d.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), c.field+":")
		})
	}
}

func TestPricesAt(t *testing.T) {
	ps := Prices{
		{Kind: PriceNomadicHour, ValidFrom: period(t, "2026-01"), Cents: 800},
		{Kind: PriceNomadicHour, ValidFrom: period(t, "2026-06"), Cents: 900},
		{Kind: PriceCenterHour, CenterID: "c1", ValidFrom: period(t, "2026-03"), Cents: 700},
	}
	for _, c := range []struct {
		kind   PriceKind
		center string
		at     string
		cents  int64
		ok     bool
	}{
		{PriceNomadicHour, "", "2025-12", 0, false},
		{PriceNomadicHour, "", "2026-01", 800, true},
		{PriceNomadicHour, "", "2026-05", 800, true},
		{PriceNomadicHour, "", "2026-06", 900, true},
		{PriceNomadicHour, "", "2027-01", 900, true},
		{PriceCenterHour, "c1", "2026-02", 0, false},
		{PriceCenterHour, "c1", "2026-03", 700, true},
		{PriceCenterHour, "c2", "2026-03", 0, false},
	} {
		p, ok := ps.At(c.kind, c.center, "", period(t, c.at))
		require.Equal(t, c.ok, ok, "%s %s %s", c.kind, c.center, c.at)
		require.Equal(t, c.cents, p.Cents, "%s %s %s", c.kind, c.center, c.at)
	}
	require.Error(t, Price{Kind: PriceRoomHour, CenterID: "c1", ValidFrom: period(t, "2026-01")}.Validate())
	require.Error(t, Price{Kind: PriceNomadicHour, Cents: -1, ValidFrom: period(t, "2026-01")}.Validate())
	require.NoError(t, Price{Kind: PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: period(t, "2026-01"), Cents: 2500}.Validate())
}

func visit(member, center, home string, class credit.Class, minutes int64) credit.Visit {
	start := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	v := credit.Visit{MemberID: member, CenterID: center, HomeCenterID: home, Class: class,
		Start: start, End: start.Add(time.Duration(minutes) * time.Minute)}
	if class == credit.ClassHome {
		v.Why = credit.WhyHomeCenter
	} else {
		v.Credited, v.CreditedMinutes = true, minutes
	}
	return v
}

// TestPlanProperty: for random months of visits, room bookings, hour
// packs, prices and VAT cases, every member invoice has, per (center,
// class), a line of the hours packs did not cover whose net is those
// minutes × the issuer's hourly price ÷ 60, rounded once, beside lines at
// price 0 of the hours covered (together: the ledger's minutes); packs
// cover the billable minutes up to what they hold; one line per room
// booked, its minutes × the room's price ÷ 60 rounded once; the purchase
// of each pack starting in the month; the VAT is per category and rate
// rounded once (none when exempt or reverse charged); every draft
// validates.
func TestPlanProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		p := period(rt, "2026-11")
		loc, err := time.LoadLocation("Europe/Brussels")
		require.NoError(rt, err)
		centers := []string{"c1", "c2", "c3"}
		in := &Input{Period: p, IssueDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Details: map[string]Details{}, Location: loc,
			Prices: Prices{{Kind: PriceNomadicHour, ValidFrom: p, Cents: rapid.Int64Range(0, 5000).Draw(rt, "nomadic")}}}
		in.Details[DetailsKey(PartyCooperative, CooperativeID)] = Business(PartyCooperative, CooperativeID, "BE", 99)
		for i, c := range centers {
			in.Details[DetailsKey(PartyCenter, c)] = Business(PartyCenter, c, "BE", int64(i))
			in.Prices = append(in.Prices, Price{Kind: PriceCenterHour, CenterID: c, ValidFrom: p,
				Cents: rapid.Int64Range(1, 5000).Draw(rt, "price-"+c), VATRate: invoice.Rate(rapid.SampledFrom([]int64{0, 600, 2100}).Draw(rt, "rate-"+c))})
			// A room price of an earlier month and one of the month: the
			// month's applies. A room may be exempt (let bare).
			in.Prices = append(in.Prices, Price{Kind: PriceRoomHour, CenterID: c, RoomID: "r-" + c, ValidFrom: p.Prev(), Cents: 99_999},
				Price{Kind: PriceRoomHour, CenterID: c, RoomID: "r-" + c, ValidFrom: p, Cents: rapid.Int64Range(0, 9000).Draw(rt, "room-"+c),
					VATExemption: rapid.SampledFrom([]string{"", "", "VATEX-EU-135-1"}).Draw(rt, "room-exempt-"+c)})
		}
		type want struct {
			minutes map[[2]string]int64 // (host, class) → the ledger's minutes
			rooms   map[string]int64    // room → minutes booked and billed
			bought  int64               // cents of packs starting in p
			left    int64               // minutes the usable packs hold
		}
		wants := map[string]*want{}
		start := p.Start(loc)
		for m := range rapid.IntRange(1, 6).Draw(rt, "members") {
			id := fmt.Sprintf("m%d", m)
			home := rapid.SampledFrom(append([]string{""}, centers...)).Draw(rt, "home-"+id)
			mp := credit.MemberPeriod{MemberID: id, Period: p}
			w := &want{minutes: map[[2]string]int64{}, rooms: map[string]int64{}}
			wants[id] = w
			for v := range rapid.IntRange(0, 8).Draw(rt, "visits-"+id) {
				host := rapid.SampledFrom(centers).Draw(rt, fmt.Sprintf("host-%s-%d", id, v))
				mins := 15 * rapid.Int64Range(1, 48).Draw(rt, fmt.Sprintf("q-%s-%d", id, v))
				class := credit.ClassNomadic
				switch {
				case home == host:
					class = credit.ClassHome
				case home != "":
					class = credit.ClassCrossCenter
				}
				vi := visit(id, host, home, class, mins)
				vi.Start = vi.Start.AddDate(0, 0, v)
				vi.End = vi.Start.Add(time.Duration(mins) * time.Minute)
				mp.Visits = append(mp.Visits, vi)
				w.minutes[[2]string{host, string(class)}] += mins
			}
			if len(mp.Visits) > 0 {
				in.Results = append(in.Results, mp)
			}
			for r := range rapid.IntRange(0, 4).Draw(rt, "rooms-"+id) {
				c := rapid.SampledFrom(centers).Draw(rt, fmt.Sprintf("room-center-%s-%d", id, r))
				day := rapid.IntRange(-2, 31).Draw(rt, fmt.Sprintf("room-day-%s-%d", id, r)) // some in the months around
				from := start.AddDate(0, 0, day).Add(9 * time.Hour)
				mins := rapid.Int64Range(1, 600).Draw(rt, fmt.Sprintf("room-len-%s-%d", id, r))
				status := rapid.SampledFrom([]string{domain.BookingConfirmed, domain.BookingReleased, domain.BookingCancelled}).Draw(rt, fmt.Sprintf("room-status-%s-%d", id, r))
				rb := RoomBooking{HomeCenterID: home, Booking: domain.Booking{ID: fmt.Sprintf("b-%s-%d", id, r), MemberID: id, CenterID: c, RoomID: "r-" + c,
					Start: from, End: from.Add(time.Duration(mins) * time.Minute), Status: status}}
				in.RoomBookings = append(in.RoomBookings, rb)
				if status != domain.BookingCancelled && !from.Before(start) && from.Before(p.End(loc)) {
					w.rooms["r-"+c] += mins
				}
			}
			for k := range rapid.IntRange(0, 3).Draw(rt, "packs-"+id) {
				from := rapid.SampledFrom([]credit.Period{p.Prev().Prev(), p.Prev(), p, p.Next()}).Draw(rt, fmt.Sprintf("pack-from-%s-%d", id, k))
				pk := Pack{ID: fmt.Sprintf("pk-%s-%d", id, k), MemberID: id, Issuer: issuerOf(home), Hours: rapid.Int64Range(1, 20).Draw(rt, fmt.Sprintf("pack-hours-%s-%d", id, k)),
					Cents: rapid.Int64Range(0, 50_000).Draw(rt, fmt.Sprintf("pack-cents-%s-%d", id, k)), ValidFrom: from,
					ValidUntil: rapid.SampledFrom([]credit.Period{p.Prev(), p, p.Next()}).Draw(rt, fmt.Sprintf("pack-until-%s-%d", id, k))}
				if pk.ValidUntil.Before(pk.ValidFrom) {
					pk.ValidUntil = pk.ValidFrom
				}
				if pk.ValidFrom.Before(p) { // used in earlier months
					pk.Uses = []PackUse{{PackID: pk.ID, Period: pk.ValidFrom, Minutes: rapid.Int64Range(0, pk.Minutes()).Draw(rt, fmt.Sprintf("pack-used-%s-%d", id, k))}}
				}
				if rapid.Bool().Draw(rt, fmt.Sprintf("pack-other-issuer-%s-%d", id, k)) {
					// Sold by the member's former home: never used.
					pk.Issuer, pk.ValidFrom, pk.Uses = "c-other", p.Prev().Prev(), nil
				}
				in.Packs = append(in.Packs, pk)
				if pk.Issuer == issuerOf(home) {
					if pk.ValidFrom == p {
						w.bought += pk.Cents
					}
					if pk.usable(p) {
						w.left += pk.left(p)
					}
				}
			}
			switch rapid.IntRange(0, 4).Draw(rt, "vat-"+id) {
			case 0:
				in.Details[DetailsKey(PartyMember, id)] = Private(id)
			case 1:
				in.Details[DetailsKey(PartyMember, id)] = Business(PartyMember, id, "BE", int64(10+m))
			case 2:
				in.Details[DetailsKey(PartyMember, id)] = Business(PartyMember, id, "NL", 0)
			case 3: // an international organisation
				d := Business(PartyMember, id, "BE", int64(10+m))
				d.VATExemption = "VATEX-EU-151-1B"
				in.Details[DetailsKey(PartyMember, id)] = d
			case 4: // a diplomat, a private person
				d := Private(id)
				d.VATExemption = "VATEX-EU-151-1A"
				in.Details[DetailsKey(PartyMember, id)] = d
			}
		}
		pl := MakePlan(in)
		require.Empty(rt, pl.Missing)
		seen := map[string]bool{}
		for _, dr := range pl.Drafts {
			require.Equal(rt, PurposeInvoice, dr.Purpose)
			seen[dr.MemberID] = true
			require.False(rt, dr.Doc.IsCreditNote())
			is, err := Finish(dr, 1, 0)
			require.NoError(rt, err)
			md := in.Details[DetailsKey(PartyMember, dr.MemberID)]
			w := wants[dr.MemberID]
			home := ""
			for _, mp := range in.Results {
				if mp.MemberID == dr.MemberID {
					home = mp.Visits[0].HomeCenterID
				}
			}
			for _, rb := range in.RoomBookings {
				if rb.MemberID == dr.MemberID {
					home = rb.HomeCenterID
				}
			}
			price, _ := in.Prices.At(PriceNomadicHour, "", "", p)
			if home != "" {
				price, _ = in.Prices.At(PriceCenterHour, home, "", p)
			}
			// The lines, recomputed: hours billed and covered per (center,
			// class), rooms, purchases.
			billed, covered := map[[2]string]int64{}, map[[2]string]int64{}
			var coveredAll, billable int64
			rooms := map[string]int64{}
			var net, bought int64
			vat := map[invoice.VAT]int64{} // taxable by treatment
			treat := func(pr Price) invoice.VAT {
				switch {
				case md.VATExemption != "":
					return invoice.VAT{Category: invoice.CategoryExempt, ExemptionReasonCode: md.VATExemption, ExemptionReason: VATExemptions[md.VATExemption].Reason}
				case pr.VATExemption != "":
					return invoice.VAT{Category: invoice.CategoryExempt, ExemptionReasonCode: pr.VATExemption, ExemptionReason: VATExemptions[pr.VATExemption].Reason}
				case strings.HasPrefix(md.VATNumber, "NL"):
					return invoice.VAT{Category: invoice.CategoryReverseCharge, ExemptionReasonCode: "VATEX-EU-AE", ExemptionReason: ReverseChargeReason}
				}
				return invoice.VAT{Category: invoice.CategoryStandard, Rate: pr.Rate()}
			}
			for i, l := range dr.Doc.Lines {
				lineNet := is.Doc.Totals().LineNetCents[i]
				var host, class string
				switch {
				case strings.HasPrefix(l.Description, "Hours at "):
					for k := range w.minutes {
						if strings.HasPrefix(l.Description, "Hours at "+k[0]) && (w.minutes[k] > 0) {
							host = k[0]
						}
					}
					for k := range w.minutes {
						if k[0] == host {
							class = k[1]
						}
					}
					k := [2]string{host, class}
					if strings.Contains(l.Description, "covered by hour pack") {
						require.Zero(rt, l.UnitPriceCents)
						covered[k] += int64(l.Quantity / invoice.Units(1))
						coveredAll += int64(l.Quantity / invoice.Units(1))
					} else {
						mins := int64(l.Quantity / invoice.Units(1))
						billed[k] += mins
						require.Equal(rt, (mins*price.Cents+30)/60, lineNet, "hours at %s rounded once", host)
					}
					require.Equal(rt, treat(price), l.VAT)
				case strings.HasPrefix(l.Description, "Meeting room "):
					room := strings.Fields(l.Description)[2]
					mins := int64(l.Quantity / invoice.Units(1))
					rooms[room] += mins
					rp, _ := in.Prices.At(PriceRoomHour, strings.TrimPrefix(room, "r-"), room, p)
					require.Equal(rt, (mins*rp.Cents+30)/60, lineNet, "room %s rounded once", room)
					require.Equal(rt, treat(rp), l.VAT)
				case strings.HasPrefix(l.Description, "Hour pack "):
					bought += lineNet
					require.Equal(rt, treat(Price{}), l.VAT)
				default:
					rt.Fatalf("unexpected line %q", l.Description)
				}
				net += lineNet
				vat[l.VAT] += lineNet
			}
			// Same-host lines of two classes cannot both exist (a member has
			// one home), so host identifies the key.
			for k, m := range w.minutes {
				require.Equal(rt, m, billed[k]+covered[k], "billed + covered = the ledger's minutes at %v", k)
				billable += m
			}
			require.Equal(rt, min(billable, w.left), coveredAll, "packs cover what they hold, at most the hours")
			var used int64
			for _, u := range dr.PackUses {
				used += u.Minutes
				require.Equal(rt, p, u.Period)
			}
			require.Equal(rt, coveredAll, used, "the draft records what the packs gave")
			require.Equal(rt, w.rooms, rooms, "rooms booked and not cancelled, starting in the month")
			require.Equal(rt, w.bought, bought, "packs bought in the month")
			tot := is.Doc.Totals()
			require.Equal(rt, net, tot.TaxExclusiveCents, "net of %s", dr.MemberID)
			var wantVAT int64
			for v, taxable := range vat {
				if v.Category == invoice.CategoryStandard {
					wantVAT += (taxable*int64(v.Rate) + 5000) / 10000
				}
			}
			require.Equal(rt, wantVAT, tot.VATCents, "VAT of %s", dr.MemberID)
			require.Equal(rt, net+wantVAT, is.PayableCents)
			require.Equal(rt, md.Business(), is.UBL != nil, "UBL only for a buyer with a Peppol address")
		}
		for id, w := range wants {
			require.Equal(rt, len(w.minutes) > 0 || len(w.rooms) > 0 || w.bought > 0 || hasPackFrom(in.Packs, id, p), seen[id], "member %s invoiced iff hours, rooms or a pack bought", id)
		}
	})
}

// hasPackFrom reports whether member bought a pack of its issuer starting
// in p (at price 0 too).
func hasPackFrom(packs []Pack, member string, p credit.Period) bool {
	for _, pk := range packs {
		if pk.MemberID == member && pk.ValidFrom == p && pk.Issuer != "c-other" {
			return true
		}
	}
	return false
}

// TestPlanCorrections: adjustments booked in a period make, per member and
// corrected period, an extra invoice for hours added and a credit note for
// hours taken back, both referring to the corrected invoice and priced at
// the corrected period's prices; hours taken back with no invoice to
// correct are reported, not guessed.
func TestPlanCorrections(t *testing.T) {
	oct, nov := period(t, "2026-10"), period(t, "2026-11")
	in := &Input{Period: nov, IssueDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Details: map[string]Details{},
		Prices: Prices{{Kind: PriceNomadicHour, ValidFrom: oct, Cents: 600}, {Kind: PriceNomadicHour, ValidFrom: nov, Cents: 900}}}
	in.Details[DetailsKey(PartyCooperative, CooperativeID)] = Business(PartyCooperative, CooperativeID, "BE", 99)
	for _, id := range []string{"n1", "n2"} {
		in.Details[DetailsKey(PartyMember, id)] = Business(PartyMember, id, "BE", 7)
	}
	in.Adjustments = []credit.Adjustment{
		{MemberID: "n1", CenterID: "c1", Class: credit.ClassNomadic, BelongsTo: oct, BookedIn: nov, Minutes: 90},
		{MemberID: "n1", CenterID: "c2", Class: credit.ClassNomadic, BelongsTo: oct, BookedIn: nov, Minutes: -30},
		{MemberID: "n2", CenterID: "c1", Class: credit.ClassNomadic, BelongsTo: oct, BookedIn: nov, Minutes: -15},
	}
	oInv := invoice.Document{IssueDate: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
	in.Issued = []Issued{{Issuer: CooperativeID, Number: "SWC-2026-000007", Period: oct, MemberID: "n1", Purpose: PurposeInvoice, Doc: oInv}}
	pl := MakePlan(in)
	require.Equal(t, []Missing{{Kind: PartyMember, ID: "n2", Reason: "hours of 2026-10 to credit back, but no invoice of 2026-10 to correct",
		Code: MissingNoInvoice, Args: map[string]string{"period": "2026-10"}}}, pl.Missing)
	require.Len(t, pl.Drafts, 2)
	extra, cn := pl.Drafts[0], pl.Drafts[1]
	require.Equal(t, "extra:2026-10", extra.Purpose)
	require.Equal(t, invoice.TypeInvoice, extra.Doc.Type)
	require.Equal(t, "SWC-2026-000007", extra.Doc.Corrects.Number)
	require.Equal(t, int64(900), extra.Doc.Totals().TaxExclusiveCents, "90 min at October's 6.00")
	require.Equal(t, "credit:2026-10", cn.Purpose)
	require.Equal(t, invoice.TypeCreditNote, cn.Doc.Type)
	require.Equal(t, "SWC-2026-000007", cn.Doc.Corrects.Number)
	require.Equal(t, int64(300), cn.Doc.Totals().TaxExclusiveCents, "30 min at 6.00 credited")
	for i, dr := range pl.Drafts {
		_, err := Finish(dr, int64(i+1), 0)
		require.NoError(t, err)
	}
	require.Equal(t, []IssuerTotal{{Issuer: CooperativeID, Documents: 1, CreditNotes: 1, NetCents: 900, VATCents: 189, PayableCents: 1089, CreditedCents: 363}}, pl.Totals)
}

// TestPlanMissingPrice: a member whose hours have no price gets no
// invoice at all (not one with the no-show fee alone), and the issuer is
// reported.
func TestPlanMissingPrice(t *testing.T) {
	nov := period(t, "2026-11")
	in := &Input{Period: nov, IssueDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Details: map[string]Details{},
		Prices: Prices{{Kind: PriceNoShow, ValidFrom: nov, Cents: 500}}}
	in.Details[DetailsKey(PartyCooperative, CooperativeID)] = Business(PartyCooperative, CooperativeID, "BE", 99)
	in.Details[DetailsKey(PartyMember, "n1")] = Private("n1")
	noShow := credit.Visit{MemberID: "n1", CenterID: "c1", Class: credit.ClassNomadic, Why: credit.WhyNoShow, Bookings: []string{"b1", "b2"}}
	in.Results = []credit.MemberPeriod{{MemberID: "n1", Period: nov, Visits: []credit.Visit{visit("n1", "c1", "", credit.ClassNomadic, 60), noShow}}}
	pl := MakePlan(in)
	require.Empty(t, pl.Drafts)
	require.Equal(t, []Missing{{Kind: PartyCooperative, ID: CooperativeID, Reason: "no nomadic_hour price for 2026-11",
		Code: MissingNoPrice, Args: map[string]string{"price": "nomadic_hour", "period": "2026-11"}}}, pl.Missing)

	in.Prices = append(in.Prices, Price{Kind: PriceNomadicHour, ValidFrom: nov, Cents: 1000})
	pl = MakePlan(in)
	require.Len(t, pl.Drafts, 1)
	lines := pl.Drafts[0].Doc.Lines
	require.Len(t, lines, 2)
	require.Equal(t, invoice.Units(2), lines[1].Quantity, "a no-show fee per booking not attended")
	require.Equal(t, int64(1000+1000), pl.Drafts[0].Doc.Totals().TaxExclusiveCents)
}

// TestPlanFromEventsProperty: for months of door events (generated
// networks of random size), random prices and VAT cases, each member
// invoice's net is, per center and class of hours, the ledger's minutes
// there (credit.Compute over the events) × the issuer's price ÷ 60,
// rounded once per line; its VAT is the rate applied once to the net
// (none under reverse charge or a customer's exemption).
func TestPlanFromEventsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		size := credittest.NetworkSize{Centers: rapid.IntRange(1, 4).Draw(rt, "centers"), Members: rapid.IntRange(5, 40).Draw(rt, "members"),
			Events: rapid.IntRange(0, 3000).Draw(rt, "events"), Workspaces: rapid.IntRange(0, 10).Draw(rt, "workspaces")}
		net, err := credittest.NewNetwork(size)
		require.NoError(rt, err)
		res, err := credit.Compute(net.Config, net.Directory(), net.Events)
		require.NoError(rt, err)
		p := net.Period
		in := &Input{Period: p, IssueDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Details: map[string]Details{}, Results: res.MemberPeriods(p),
			Prices: Prices{{Kind: PriceNomadicHour, ValidFrom: p, Cents: rapid.Int64Range(0, 5000).Draw(rt, "nomadic")}}}
		in.Details[DetailsKey(PartyCooperative, CooperativeID)] = Business(PartyCooperative, CooperativeID, "BE", 99)
		for i, c := range net.Centers {
			in.Details[DetailsKey(PartyCenter, c.ID)] = Business(PartyCenter, c.ID, "BE", int64(i))
			in.Prices = append(in.Prices, Price{Kind: PriceCenterHour, CenterID: c.ID, ValidFrom: p,
				Cents: rapid.Int64Range(0, 5000).Draw(rt, "price-"+c.ID), VATRate: invoice.Rate(rapid.SampledFrom([]int64{600, 1200, 2100}).Draw(rt, "rate-"+c.ID))})
		}
		for i, m := range net.Members {
			switch rapid.IntRange(0, 3).Draw(rt, "vat-"+m.ID) {
			case 0:
				in.Details[DetailsKey(PartyMember, m.ID)] = Private(m.ID)
			case 1:
				in.Details[DetailsKey(PartyMember, m.ID)] = Business(PartyMember, m.ID, "BE", int64(100+i))
			case 2:
				in.Details[DetailsKey(PartyMember, m.ID)] = Business(PartyMember, m.ID, "NL", 0)
			default: // an international organisation, exempt
				d := Business(PartyMember, m.ID, "BE", int64(100+i))
				d.VATExemption = "VATEX-EU-151-1B"
				in.Details[DetailsKey(PartyMember, m.ID)] = d
			}
		}
		pl := MakePlan(in)
		require.Empty(rt, pl.Missing)
		dir := net.Directory()
		byMember := map[string]credit.MemberPeriod{}
		for _, mp := range in.Results {
			byMember[mp.MemberID] = mp
		}
		for _, dr := range pl.Drafts {
			if dr.Purpose != PurposeInvoice {
				continue
			}
			mp := byMember[dr.MemberID]
			home := dir.Member(dr.MemberID).HomeCenterID
			minutes := map[[2]string]int64{}
			for _, v := range mp.Visits {
				switch {
				case v.Credited:
					minutes[[2]string{v.CenterID, string(v.Class)}] += v.CreditedMinutes
				case v.Why == credit.WhyHomeCenter:
					minutes[[2]string{v.CenterID, string(v.Class)}] += QuarterMinutes(v.End.Sub(v.Start))
				}
			}
			price, _ := in.Prices.At(PriceNomadicHour, "", "", p)
			if home != "" {
				price, _ = in.Prices.At(PriceCenterHour, home, "", p)
			}
			var want int64
			for _, m := range minutes {
				want += invoice.LineNetCents(invoice.Units(m), price.Cents, invoice.Units(60))
			}
			require.Len(rt, dr.Doc.Lines, len(minutes), "one line per center and class")
			tot := dr.Doc.Totals()
			require.Equal(rt, want, tot.TaxExclusiveCents, "net of %s", dr.MemberID)
			vat := invoice.VATCents(want, price.Rate())
			if md := in.Details[DetailsKey(PartyMember, dr.MemberID)]; strings.HasPrefix(md.VATNumber, "NL") || md.VATExemption != "" {
				vat = 0
			}
			require.Equal(rt, vat, tot.VATCents, "VAT of %s", dr.MemberID)
			_, err := Finish(dr, 1, 0)
			require.NoError(rt, err)
		}
	})
}
