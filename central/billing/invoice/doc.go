// Package invoice is the document model that every billing format renders
// (UBL, PDF, payment files): an invoice, a credit note or a self-billed
// invoice with its seller, buyer, lines, VAT and payment details, its
// totals computed exactly in cents, and its validation. It has no store,
// no clock and no I/O; central/billing/ubl and central/billing/invoicepdf
// render a Document, and the billing domain builds them.
//
// # Parties
//
// Seller and Buyer are the EN 16931 roles: the seller supplies the service
// and is paid. For an invoice (380) and a credit note (381) the seller
// issues the document; for a self-billed invoice (389) and its credit note
// (261) the buyer issues it in the seller's name (the cooperative invoicing
// itself for the hours a center hosted), and the seller is still the
// center that is paid.
//
// # Amounts and rounding
//
// Money is integer cents (int64), as in central/credit. Quantities are
// thousandths of a unit (Quantity), VAT rates hundredths of a percent
// (Rate: 2100 is 21 %). RoundingRule says how totals are made; it follows
// EN 16931 (BR-CO-10 to BR-CO-17) and rounds at two places only:
//
//  1. each line: net = quantity × unit price ÷ base quantity, rounded to
//     the cent, halves away from zero;
//  2. each VAT breakdown (one per category and rate): VAT = taxable amount
//     × rate, rounded to the cent, halves away from zero, where the taxable
//     amount is the sum of the category's line nets minus its document
//     allowances.
//
// Every other total is an exact sum of those: the sum of line nets
// (BT-106), allowances (BT-107), total without VAT (BT-109 = BT-106 −
// BT-107), VAT (BT-110, the sum of the breakdowns), total with VAT
// (BT-112) and amount due (BT-115 = BT-112). Never per unit, never per
// visit: a line of 7 minutes priced per hour (quantity 7 MIN, base
// quantity 60) is 7 × price ÷ 60 rounded once, the rule of
// credit.RoundingRule.
//
// # VAT categories
//
// The UNCL5305 codes EN 16931 allows: S (standard, rate > 0), Z (zero
// rated), E (exempt, with a reason), AE (reverse charge, with the buyer's
// VAT number and a reason such as VATEX-EU-AE), K (intra-community
// supply, with both VAT numbers, the invoicing period and a reason) and O
// (outside the scope of VAT: no rate, no VAT numbers, and no other category
// on the document). Validate checks each category's EN 16931 rules and
// names the field at fault.
package invoice
