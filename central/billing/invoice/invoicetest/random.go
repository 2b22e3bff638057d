package invoicetest

import (
	"fmt"

	"pgregory.net/rapid"

	"github.com/smartworkcenters/swc/central/billing/invoice"
)

// Random draws a valid invoice: 1 to 30 lines with random quantities
// (thousandths, hours or minutes priced per hour), prices, VAT categories
// S (6, 12 or 21 %), Z and E, and sometimes a document allowance.
func Random(t *rapid.T) invoice.Document {
	d := Samples()[0].Doc
	d.Lines = nil
	d.Allowances = nil
	vats := []invoice.VAT{
		{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)},
		{Category: invoice.CategoryStandard, Rate: invoice.Percent(12)},
		{Category: invoice.CategoryStandard, Rate: invoice.Percent(6)},
		{Category: invoice.CategoryZero},
		{Category: invoice.CategoryExempt, ExemptionReasonCode: "VATEX-EU-132-1I", ExemptionReason: "Exempt education"},
	}
	n := rapid.IntRange(1, 30).Draw(t, "lines")
	for i := range n {
		l := invoice.Line{
			Description:    fmt.Sprintf("Line %d", i+1),
			UnitPriceCents: rapid.Int64Range(0, 1_000_000).Draw(t, "price"),
			VAT:            vats[rapid.IntRange(0, len(vats)-1).Draw(t, "vat")],
		}
		if rapid.Bool().Draw(t, "minutes") {
			l.Unit = "MIN"
			l.Quantity = invoice.Units(rapid.Int64Range(1, 100_000).Draw(t, "minutes"))
			l.BaseQuantity = invoice.Units(60)
		} else {
			l.Unit = "HUR"
			l.Quantity = invoice.Quantity(rapid.Int64Range(1, 10_000_000).Draw(t, "milli-hours"))
		}
		d.Lines = append(d.Lines, l)
	}
	if rapid.Bool().Draw(t, "allowance") {
		v := d.Lines[0].VAT
		d.Allowances = []invoice.Allowance{{Reason: "Discount", AmountCents: rapid.Int64Range(1, 10_000).Draw(t, "allowance"), VAT: v}}
	}
	return d
}
