package billing

import (
	"github.com/smartworkcenters/swc/central/billing/invoice"
)

// VATExemption is a VAT exemption an accountant may apply: its VATEX
// code (the EN 16931 code list, written in the UBL) and the legal text
// printed on the invoice (BT-120).
type VATExemption struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
	// ForCustomer: the exemption is the customer's (every line of their
	// invoices); otherwise it is a line category's (a price's).
	ForCustomer bool `json:"for_customer"`
}

// VATExemptions are the exemptions of category E the billing applies, by
// VATEX code: the Belgian cases of a coworking network. A customer's
// exemption (Details.VATExemption) covers all their lines: diplomatic
// missions and consular posts (Belgian VAT code art. 42 §3, 1°-2°;
// Directive art. 151(1)(a)) and international organisations such as the
// EU institutions or NATO (art. 42 §3, 3°-4°; art. 151(1)(b)). A price's
// exemption (Price.VATExemption) covers one line category: the letting of
// immovable property (art. 44 §3, 2°; art. 135(1)(l)) for a room let bare,
// and the activities in the public interest of art. 44 §2 (art. 132)
// such as training rooms of a recognised school.
var VATExemptions = map[string]VATExemption{
	"VATEX-EU-151-1A": {Code: "VATEX-EU-151-1A", ForCustomer: true,
		Reason: "Exempt: supply to a diplomatic or consular mission (Art. 42 §3 Belgian VAT Code, Art. 151(1)(a) Directive 2006/112/EC)"},
	"VATEX-EU-151-1B": {Code: "VATEX-EU-151-1B", ForCustomer: true,
		Reason: "Exempt: supply to an international organisation (Art. 42 §3 Belgian VAT Code, Art. 151(1)(b) Directive 2006/112/EC)"},
	"VATEX-EU-135-1": {Code: "VATEX-EU-135-1",
		Reason: "Exempt: letting of immovable property (Art. 44 §3, 2° Belgian VAT Code, Art. 135(1)(l) Directive 2006/112/EC)"},
	"VATEX-EU-132": {Code: "VATEX-EU-132",
		Reason: "Exempt: activity in the public interest (Art. 44 §2 Belgian VAT Code, Art. 132 Directive 2006/112/EC)"},
}

// checkExemption checks a VATEX code of VATExemptions for a customer or
// a price; field names the field at fault.
func checkExemption(field, code string, customer bool) error {
	if code == "" {
		return nil
	}
	e, ok := VATExemptions[code]
	switch {
	case !ok:
		return fieldErr(field, "%q; want one of VATEX-EU-151-1A, VATEX-EU-151-1B (customers), VATEX-EU-135-1, VATEX-EU-132 (prices)", code)
	case e.ForCustomer != customer && customer:
		return fieldErr(field, "%s is a line category's exemption, not a customer's", code)
	case e.ForCustomer != customer:
		return fieldErr(field, "%s is a customer's exemption, not a line category's", code)
	}
	return nil
}

// exempt is the VAT of an exemption of VATExemptions.
func exempt(code string) invoice.VAT {
	e := VATExemptions[code]
	return invoice.VAT{Category: invoice.CategoryExempt, ExemptionReasonCode: e.Code, ExemptionReason: e.Reason}
}

// lineVAT is the VAT treatment of a member's line priced at pr, from
// seller to buyer, in this order: the buyer's exemption (every line), the
// price's exemption (its line category), reverse charge (VATFor: a buyer
// with a VAT number of another EU member state), the price's rate
// (category S).
func lineVAT(seller, buyer Details, pr Price) invoice.VAT {
	switch {
	case buyer.VATExemption != "":
		return exempt(buyer.VATExemption)
	case pr.VATExemption != "":
		return exempt(pr.VATExemption)
	}
	return VATFor(seller, buyer, pr.Rate())
}
