package invoice_test

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
)

func TestSamplesValidate(t *testing.T) {
	for _, s := range invoicetest.Samples() {
		if err := s.Doc.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
}

func TestTotalsStandard(t *testing.T) {
	d := invoicetest.Samples()[0].Doc
	got := d.Totals()
	// 12.25 h × 8.50 = 104.125 → 104.13; 7 min × 25.00 / 60 = 2.9166 → 2.92; 99.00.
	want := []int64{10413, 292, 9900}
	for i := range want {
		if got.LineNetCents[i] != want[i] {
			t.Errorf("line %d net %d; want %d", i, got.LineNetCents[i], want[i])
		}
	}
	// 206.05 − 5.00 = 201.05; VAT 21 % = 42.2205 → 42.22.
	if got.LineExtensionCents != 20605 || got.AllowanceCents != 500 || got.TaxExclusiveCents != 20105 ||
		got.VATCents != 4222 || got.TaxInclusiveCents != 24327 || got.PayableCents != 24327 {
		t.Errorf("totals %+v", got)
	}
	if len(got.Breakdown) != 1 || got.Breakdown[0].TaxableCents != 20105 || got.Breakdown[0].VATCents != 4222 {
		t.Errorf("breakdown %+v", got.Breakdown)
	}
}

func TestRounding(t *testing.T) {
	for _, tc := range []struct {
		q      invoice.Quantity
		price  int64
		base   invoice.Quantity
		want   int64
		rate   invoice.Rate
		vat    int64
		vatOf  int64
		reason string
	}{
		{q: invoice.Units(1), price: 1, want: 1},
		{q: 500, price: 1, want: 1, reason: "half a cent rounds away from zero"},
		{q: -500, price: 1, want: -1, reason: "negative halves too"},
		{q: 499, price: 1, want: 0},
		{q: invoice.Units(30), price: 1000, base: invoice.Units(60), want: 500, reason: "30 minutes at 10.00 an hour"},
		{q: invoice.Units(1), price: 1000, base: invoice.Units(60), want: 17, reason: "one minute at 10.00 an hour: 16.67 cents"},
	} {
		if got := invoice.LineNetCents(tc.q, tc.price, tc.base); got != tc.want {
			t.Errorf("LineNetCents(%s, %d, %s) = %d; want %d (%s)", tc.q, tc.price, tc.base, got, tc.want, tc.reason)
		}
	}
	for _, tc := range []struct {
		taxable int64
		rate    invoice.Rate
		want    int64
	}{
		{1000, invoice.Percent(21), 210},
		{50, invoice.Percent(21), 11},   // 10.5 → 11
		{-50, invoice.Percent(21), -11}, // away from zero
		{1, invoice.Rate(550), 0},       // 0.055 → 0
		{10, invoice.Rate(550), 1},      // 0.55 → 1
	} {
		if got := invoice.VATCents(tc.taxable, tc.rate); got != tc.want {
			t.Errorf("VATCents(%d, %s) = %d; want %d", tc.taxable, tc.rate, got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for c, want := range map[int64]string{0: "0.00", 5: "0.05", -5: "-0.05", 123456: "1234.56", -100: "-1.00"} {
		if got := invoice.FormatCents(c); got != want {
			t.Errorf("FormatCents(%d) = %q; want %q", c, got, want)
		}
		if back, err := invoice.ParseCents(want); err != nil || back != c {
			t.Errorf("ParseCents(%q) = %d, %v", want, back, err)
		}
	}
	for q, want := range map[invoice.Quantity]string{1500: "1.5", 60000: "60", 1: "0.001", -250: "-0.25", 0: "0"} {
		if got := q.String(); got != want {
			t.Errorf("Quantity(%d) = %q; want %q", int64(q), got, want)
		}
	}
	if invoice.Rate(2100).String() != "21" || invoice.Rate(550).String() != "5.5" {
		t.Error("Rate.String")
	}
	for _, bad := range []string{"", "1.234", "a", "1.-2", "--1"} {
		if _, err := invoice.ParseCents(bad); err == nil {
			t.Errorf("ParseCents(%q) accepted", bad)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	base := func() invoice.Document { return invoicetest.Samples()[0].Doc }
	reverse := func() invoice.Document { return invoicetest.Samples()[1].Doc }
	for _, tc := range []struct {
		name  string
		doc   func() invoice.Document
		field string
	}{
		{"no number", func() invoice.Document { d := base(); d.Number = ""; return d }, "number"},
		{"bad type", func() invoice.Document { d := base(); d.Type = "326"; return d }, "type"},
		{"no issue date", func() invoice.Document { d := base(); d.IssueDate = time.Time{}; return d }, "issue_date"},
		{"due before issue", func() invoice.Document { d := base(); d.DueDate = d.IssueDate.AddDate(0, 0, -1); return d }, "due_date"},
		{"period half", func() invoice.Document { d := base(); d.PeriodEnd = d.PeriodEnd.AddDate(-1, 0, 0); return d }, "period"},
		{"no lines", func() invoice.Document { d := base(); d.Lines = nil; return d }, "lines"},
		{"negative price", func() invoice.Document { d := base(); d.Lines[1].UnitPriceCents = -1; return d }, "lines[1].unit_price"},
		{"zero quantity", func() invoice.Document { d := base(); d.Lines[0].Quantity = 0; return d }, "lines[0].quantity"},
		{"bad unit", func() invoice.Document { d := base(); d.Lines[0].Unit = "hours"; return d }, "lines[0].unit"},
		{"standard at 0", func() invoice.Document { d := base(); d.Lines[2].VAT.Rate = 0; return d }, "lines[2].vat.rate"},
		{"unknown category", func() invoice.Document { d := base(); d.Lines[2].VAT.Category = "X"; return d }, "lines[2].vat.category"},
		{"standard with reason", func() invoice.Document { d := base(); d.Lines[0].VAT.ExemptionReason = "why"; return d }, "lines[0].vat.exemption_reason"},
		{"reverse charge without buyer VAT", func() invoice.Document { d := reverse(); d.Buyer.VATNumber = ""; return d }, "buyer.vat_number"},
		{"reverse charge without reason", func() invoice.Document {
			d := reverse()
			d.Lines[0].VAT.ExemptionReason, d.Lines[0].VAT.ExemptionReasonCode = "", ""
			return d
		}, "lines[0].vat.exemption_reason"},
		{"bad VATEX", func() invoice.Document { d := reverse(); d.Lines[0].VAT.ExemptionReasonCode = "AE"; return d }, "lines[0].vat.exemption_reason_code"},
		{"bad seller VAT", func() invoice.Document { d := base(); d.Seller.VATNumber = "BE0403170702"; return d }, "seller.vat_number"},
		{"VAT is not the enterprise", func() invoice.Document { d := base(); d.Seller.VATNumber = "BE0202239951"; return d }, "seller.vat_number"},
		{"bad enterprise number", func() invoice.Document { d := base(); d.Buyer.EnterpriseNumber = "0477472702"; return d }, "buyer.enterprise_number"},
		{"bad country", func() invoice.Document { d := base(); d.Buyer.Address.Country = "Belgium"; return d }, "buyer.address.country"},
		{"bad e-mail", func() invoice.Document { d := base(); d.Buyer.Email = "marie at home"; return d }, "buyer.email"},
		{"no seller Peppol address", func() invoice.Document {
			d := invoicetest.Samples()[2].Doc
			d.Seller.EnterpriseNumber, d.Seller.VATNumber = "", ""
			return d
		}, "seller.enterprise_number"},
		{"bad IBAN", func() invoice.Document {
			d := base()
			p := *d.Payment
			p.IBAN = "BE68539007547035"
			d.Payment = &p
			return d
		}, "payment.iban"},
		{"bad BIC", func() invoice.Document { d := base(); p := *d.Payment; p.BIC = "GKCC"; d.Payment = &p; return d }, "payment.bic"},
		{"credit note without reference", func() invoice.Document { d := invoicetest.Samples()[3].Doc; d.Corrects = nil; return d }, "corrects"},
		{"due without date or terms", func() invoice.Document { d := base(); d.Payment = nil; d.DueDate = time.Time{}; return d }, "due_date"},
		{"O with VAT numbers", func() invoice.Document {
			d := base()
			d.Allowances = nil
			for i := range d.Lines {
				d.Lines[i].VAT = invoice.VAT{Category: invoice.CategoryOutsideScope, ExemptionReason: "Not subject"}
			}
			return d
		}, "seller.vat_number"},
		{"K without period", func() invoice.Document {
			d := reverse()
			d.PeriodStart, d.PeriodEnd = time.Time{}, time.Time{}
			d.Lines[0].VAT = invoice.VAT{Category: invoice.CategoryIntraCommunity, ExemptionReasonCode: "VATEX-EU-IC"}
			return d
		}, "period"},
		{"reasons differ in a breakdown", func() invoice.Document {
			d := reverse()
			l := d.Lines[0]
			l.VAT.ExemptionReason = "other"
			d.Lines = append(d.Lines, l)
			return d
		}, "lines[1].vat.exemption_reason"},
		{"control character", func() invoice.Document { d := base(); d.Lines[0].Description = "a\x00b"; return d }, "lines[0].description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.doc()
			err := d.Validate()
			if !errors.Is(err, invoice.ErrInvalid) {
				t.Fatalf("Validate = %v; want ErrInvalid", err)
			}
			var ve *invoice.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("not a *ValidationError: %T", err)
			}
			for _, p := range ve.Problems {
				if p.Field == tc.field {
					return
				}
			}
			t.Errorf("no problem at %q in %v", tc.field, err)
		})
	}
}

func TestCheckEnterpriseNumber(t *testing.T) {
	for n, ok := range map[string]bool{"0403170701": true, "0202239951": true, "0403170702": false, "2403170701": false, "040317070": false, "04031707a1": false} {
		if err := invoice.CheckEnterpriseNumber(n); (err == nil) != ok {
			t.Errorf("CheckEnterpriseNumber(%s) = %v; want ok %v", n, err, ok)
		}
	}
}

func TestElectronicAddress(t *testing.T) {
	for _, tc := range []struct {
		p          invoice.Party
		scheme, id string
	}{
		{invoice.Party{EnterpriseNumber: "0403170701", VATNumber: "BE0403170701"}, "0208", "0403170701"},
		{invoice.Party{VATNumber: "BE0403170701"}, "9925", "BE0403170701"},
		{invoice.Party{VATNumber: "NL123456789B01", Email: "a@b.nl"}, "9944", "NL123456789B01"},
		{invoice.Party{VATNumber: "PL1234567890", Email: "a@b.pl"}, "", ""},
		{invoice.Party{EndpointScheme: "0088", EndpointID: "5790000435975", Email: "a@b.be"}, "0088", "5790000435975"},
		{invoice.Party{}, "", ""},
	} {
		s, id := tc.p.ElectronicAddress()
		if s != tc.scheme || id != tc.id {
			t.Errorf("%+v: %s:%s; want %s:%s", tc.p, s, id, tc.scheme, tc.id)
		}
	}
}

// The property: for random lines (quantities, prices, bases, categories,
// rates) and allowances, every total is what the documented rule gives when
// computed independently with exact rationals: each line rounded once, VAT
// rounded once per category and rate, every other figure an exact sum.
func TestTotalsProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := invoicetest.Random(t)
		got := d.Totals()
		half := big.NewRat(1, 2)
		round := func(r *big.Rat) int64 { // halves away from zero
			a := new(big.Rat).Abs(r)
			a.Add(a, half)
			q := new(big.Int).Quo(a.Num(), a.Denom())
			if r.Sign() < 0 {
				q.Neg(q)
			}
			return q.Int64()
		}
		var sumLines, sumAllow int64
		taxable := map[string]int64{}
		rates := map[string]invoice.Rate{}
		key := func(v invoice.VAT) string { return string(v.Category) + "/" + v.Rate.String() }
		for i, l := range d.Lines {
			base := int64(l.BaseQuantity)
			if base == 0 {
				base = 1000
			}
			exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(int64(l.Quantity)), big.NewInt(l.UnitPriceCents)), big.NewInt(base))
			want := round(exact)
			if got.LineNetCents[i] != want {
				t.Fatalf("line %d: %d; want %d (%s × %d ÷ %s)", i, got.LineNetCents[i], want, l.Quantity, l.UnitPriceCents, l.BaseQuantity)
			}
			sumLines += want
			taxable[key(l.VAT)] += want
			rates[key(l.VAT)] = l.VAT.Rate
		}
		for _, a := range d.Allowances {
			sumAllow += a.AmountCents
			taxable[key(a.VAT)] -= a.AmountCents
			rates[key(a.VAT)] = a.VAT.Rate
		}
		var vat int64
		for k, tx := range taxable {
			vat += round(new(big.Rat).SetFrac(big.NewInt(tx*int64(rates[k])), big.NewInt(10000)))
		}
		if len(got.Breakdown) != len(taxable) {
			t.Fatalf("%d breakdowns; want %d", len(got.Breakdown), len(taxable))
		}
		for _, s := range got.Breakdown {
			if s.TaxableCents != taxable[key(s.VAT)] {
				t.Fatalf("breakdown %s taxable %d; want %d", key(s.VAT), s.TaxableCents, taxable[key(s.VAT)])
			}
		}
		if got.LineExtensionCents != sumLines || got.AllowanceCents != sumAllow || got.TaxExclusiveCents != sumLines-sumAllow ||
			got.VATCents != vat || got.TaxInclusiveCents != sumLines-sumAllow+vat || got.PayableCents != got.TaxInclusiveCents {
			t.Fatalf("totals %+v; want lines %d allowances %d vat %d", got, sumLines, sumAllow, vat)
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("random document invalid: %v", err)
		}
	})
}
