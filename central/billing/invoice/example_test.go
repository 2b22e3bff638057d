package invoice_test

import (
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
)

// A member's month: 7 minutes of a room priced per hour, and 12.25 desk
// hours, each line rounded once; VAT rounded once for the category.
func ExampleDocument_Totals() {
	d := invoice.Document{
		Type: invoice.TypeInvoice, Number: "SWC-2026-000042",
		IssueDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), DueDate: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
		BuyerReference: "member-42",
		Seller:         invoicetest.Cooperative(),
		Buyer:          invoicetest.Center(),
		Lines: []invoice.Line{
			{Description: "Room", Quantity: invoice.Units(7), Unit: "MIN", UnitPriceCents: 2500, BaseQuantity: invoice.Units(60),
				VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}},
			{Description: "Desk", Quantity: 12_250, Unit: "HUR", UnitPriceCents: 850,
				VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}},
		},
	}
	if err := d.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	t := d.Totals()
	fmt.Println("lines:", invoice.FormatCents(t.LineNetCents[0]), invoice.FormatCents(t.LineNetCents[1]))
	fmt.Println("without VAT:", invoice.FormatCents(t.TaxExclusiveCents))
	fmt.Println("VAT:", invoice.FormatCents(t.VATCents))
	fmt.Println("due:", invoice.FormatCents(t.PayableCents))
	// Output:
	// lines: 2.92 104.13
	// without VAT: 107.05
	// VAT: 22.48
	// due: 129.53
}
