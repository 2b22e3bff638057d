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
		Country: "BE", Email: id + "@example.org", IBAN: "BE68539007547034", BIC: "GKCCBEBB"}
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
	return Details{Kind: PartyMember, ID: id, Name: "Person " + id, Country: "BE", Email: id + "@example.org", Private: true}
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

// TestPlanProperty: for random months of visits, prices and VAT cases,
// every member invoice has one line per (center, class) whose net is the
// ledger's minutes there × the issuer's hourly price ÷ 60, rounded once,
// and its VAT is 21 % of the taxable amount rounded once (0 under reverse
// charge); every draft validates.
func TestPlanProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		p := period(rt, "2026-11")
		centers := []string{"c1", "c2", "c3"}
		in := &Input{Period: p, IssueDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Details: map[string]Details{},
			Prices: Prices{{Kind: PriceNomadicHour, ValidFrom: p, Cents: rapid.Int64Range(0, 5000).Draw(rt, "nomadic")}}}
		in.Details[DetailsKey(PartyCooperative, CooperativeID)] = Business(PartyCooperative, CooperativeID, "BE", 99)
		for i, c := range centers {
			in.Details[DetailsKey(PartyCenter, c)] = Business(PartyCenter, c, "BE", int64(i))
			in.Prices = append(in.Prices, Price{Kind: PriceCenterHour, CenterID: c, ValidFrom: p,
				Cents: rapid.Int64Range(1, 5000).Draw(rt, "price-"+c), VATRate: invoice.Rate(rapid.SampledFrom([]int64{0, 600, 2100}).Draw(rt, "rate-"+c))})
		}
		want := map[string]map[[2]string]int64{}
		for m := range rapid.IntRange(1, 6).Draw(rt, "members") {
			id := fmt.Sprintf("m%d", m)
			home := rapid.SampledFrom(append([]string{""}, centers...)).Draw(rt, "home-"+id)
			mp := credit.MemberPeriod{MemberID: id, Period: p}
			want[id] = map[[2]string]int64{}
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
				mp.Visits = append(mp.Visits, visit(id, host, home, class, mins))
				want[id][[2]string{host, string(class)}] += mins
			}
			in.Results = append(in.Results, mp)
			switch rapid.IntRange(0, 2).Draw(rt, "vat-"+id) {
			case 0:
				in.Details[DetailsKey(PartyMember, id)] = Private(id)
			case 1:
				in.Details[DetailsKey(PartyMember, id)] = Business(PartyMember, id, "BE", int64(10+m))
			case 2:
				in.Details[DetailsKey(PartyMember, id)] = Business(PartyMember, id, "NL", 0)
			}
		}
		pl := MakePlan(in)
		require.Empty(rt, pl.Missing)
		seen := map[string]bool{}
		for _, dr := range pl.Drafts {
			if dr.Purpose != PurposeInvoice {
				continue
			}
			seen[dr.MemberID] = true
			require.False(rt, dr.Doc.IsCreditNote())
			is, err := Finish(dr, 1, 0)
			require.NoError(rt, err)
			md := in.Details[DetailsKey(PartyMember, dr.MemberID)]
			var home string
			for _, v := range in.Results {
				if v.MemberID == dr.MemberID {
					home = v.Visits[0].HomeCenterID
				}
			}
			var price Price
			if home == "" {
				price, _ = in.Prices.At(PriceNomadicHour, "", "", p)
			} else {
				price, _ = in.Prices.At(PriceCenterHour, home, "", p)
			}
			w := want[dr.MemberID]
			require.Len(rt, dr.Doc.Lines, len(w))
			var net int64
			for _, mins := range w {
				net += (mins*price.Cents + 30) / 60
			}
			tot := is.Doc.Totals()
			require.Equal(rt, net, tot.TaxExclusiveCents, "net of %s", dr.MemberID)
			wantVAT := (net*int64(price.Rate()) + 5000) / 10000
			if md.VATNumber != "" && md.VATNumber[:2] == "NL" {
				wantVAT = 0
				require.Equal(rt, invoice.CategoryReverseCharge, dr.Doc.Lines[0].VAT.Category)
			}
			require.Equal(rt, wantVAT, tot.VATCents, "VAT of %s", dr.MemberID)
			require.Equal(rt, net+wantVAT, is.PayableCents)
			require.Equal(rt, md.Business(), is.UBL != nil, "UBL only for a buyer with a Peppol address")
		}
		for id, w := range want {
			require.Equal(rt, len(w) > 0, seen[id], "member %s invoiced iff hours", id)
		}
	})
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
	require.Equal(t, []Missing{{Kind: PartyMember, ID: "n2", Reason: "hours of 2026-10 to credit back, but no invoice of 2026-10 to correct"}}, pl.Missing)
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
	require.Equal(t, []Missing{{Kind: PartyCooperative, ID: CooperativeID, Reason: "no nomadic_hour price for 2026-11"}}, pl.Missing)

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
// (none under reverse charge).
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
			switch rapid.IntRange(0, 2).Draw(rt, "vat-"+m.ID) {
			case 0:
				in.Details[DetailsKey(PartyMember, m.ID)] = Private(m.ID)
			case 1:
				in.Details[DetailsKey(PartyMember, m.ID)] = Business(PartyMember, m.ID, "BE", int64(100+i))
			default:
				in.Details[DetailsKey(PartyMember, m.ID)] = Business(PartyMember, m.ID, "NL", 0)
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
			if md := in.Details[DetailsKey(PartyMember, dr.MemberID)]; strings.HasPrefix(md.VATNumber, "NL") {
				vat = 0
			}
			require.Equal(rt, vat, tot.VATCents, "VAT of %s", dr.MemberID)
			_, err := Finish(dr, 1, 0)
			require.NoError(rt, err)
		}
	})
}
