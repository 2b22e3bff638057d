// Package invoicetest holds sample documents for the tests of the billing
// formats: one per VAT case and document type the network issues.
package invoicetest

import (
	"time"

	"github.com/smartworkcenters/swc/central/billing/bank"
	"github.com/smartworkcenters/swc/central/billing/invoice"
)

// Sample is a named document.
type Sample struct {
	Name string
	Doc  invoice.Document
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Cents reads an amount written by a format ("243.27"), failing t on a
// malformed one.
func Cents(t interface{ Fatalf(string, ...any) }, s string) int64 {
	c, err := invoice.ParseCents(s)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return c
}

// Cooperative is the network's cooperative as a party.
func Cooperative() invoice.Party {
	return invoice.Party{
		Name:             "Smart Work Centers SC",
		Address:          invoice.Address{Street: "Rue de la Loi 16", City: "Bruxelles", PostalCode: "1000", Country: "BE"},
		VATNumber:        "BE0403170701",
		EnterpriseNumber: "0403170701",
		Email:            "billing@smartworkcenters.example",
	}
}

// Center is a member center as a party.
func Center() invoice.Party {
	return invoice.Party{
		Name:             "Centre de Namur SRL",
		Address:          invoice.Address{Street: "Place d'Armes 1", City: "Namur", PostalCode: "5000", Country: "BE"},
		VATNumber:        "BE0202239951",
		EnterpriseNumber: "0202239951",
		Email:            "compta@namur.example",
	}
}

// Communication is the structured communication of the samples.
func Communication() bank.Communication {
	c, err := bank.NewCommunication(1234567890)
	if err != nil {
		panic(err)
	}
	return c
}

// Samples are the documents every format must render validly: standard
// VAT 21 % with a discount, reverse charge to a Dutch company, an exempt
// supply to a non-profit without a VAT number, a credit note correcting
// the first, a self-billed invoice and a credit note correcting it, an
// intra-community supply (K) and a
// fee outside the scope of VAT (O) from a seller without a VAT number.
func Samples() []Sample {
	school := invoice.Party{
		Name:             "École des Devoirs ASBL",
		Address:          invoice.Address{Street: "Rue Haute 5", City: "Liège", PostalCode: "4000", Country: "BE"},
		EnterpriseNumber: "0412345614",
		Email:            "tresorerie@ecole.example",
	}
	company := invoice.Party{
		Name:             "Atelier Verhaegen BV",
		Address:          invoice.Address{Street: "Meir 10", City: "Antwerpen", PostalCode: "2000", Country: "BE"},
		VATNumber:        "BE0477472701",
		EnterpriseNumber: "0477472701",
		Email:            "factuur@verhaegen.example",
	}
	dutch := invoice.Party{
		Name:      "Kantoor Maastricht BV",
		Address:   invoice.Address{Street: "Markt 1", City: "Maastricht", PostalCode: "6211 CK", Country: "NL"},
		VATNumber: "NL859223791B01",
		Email:     "ap@kantoor.example",
	}
	payment := &invoice.Payment{IBAN: "BE68539007547034", BIC: "GKCCBEBB", AccountName: "Smart Work Centers SC", Communication: Communication(), Terms: "30 days"}
	standard := invoice.Document{
		Type: invoice.TypeInvoice, Number: "SWC-2026-000001",
		IssueDate: day(2026, 12, 1), DueDate: day(2026, 12, 31),
		PeriodStart: day(2026, 11, 1), PeriodEnd: day(2026, 11, 30),
		BuyerReference: "member-42", Note: "Usage of November 2026",
		Seller: Cooperative(), Buyer: company,
		Lines: []invoice.Line{
			{Description: "Desk hours, Namur", Quantity: invoice.Quantity(12_250), Unit: "HUR", UnitPriceCents: 850, VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}},
			{Description: "Meeting room, Liège (7 minutes)", Quantity: invoice.Units(7), Unit: "MIN", UnitPriceCents: 2500, BaseQuantity: invoice.Units(60), VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}},
			{Description: "Monthly pass", Quantity: invoice.Units(1), Unit: "MON", UnitPriceCents: 9900, VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}},
		},
		Allowances: []invoice.Allowance{{Reason: "Founding member discount", AmountCents: 500, VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}}},
		Payment:    payment,
	}
	reverse := invoice.Document{
		Type: invoice.TypeInvoice, Number: "SWC-2026-000002",
		IssueDate: day(2026, 12, 1), DueDate: day(2026, 12, 31),
		PeriodStart: day(2026, 11, 1), PeriodEnd: day(2026, 11, 30),
		BuyerReference: "member-77",
		Seller:         Cooperative(), Buyer: dutch,
		Lines: []invoice.Line{
			{Description: "Desk hours, Liège", Quantity: invoice.Units(30), Unit: "HUR", UnitPriceCents: 800, VAT: invoice.VAT{Category: invoice.CategoryReverseCharge, ExemptionReasonCode: "VATEX-EU-AE", ExemptionReason: "Reverse charge: VAT due by the customer (Art. 196 Directive 2006/112/EC)"}},
		},
		Payment: payment,
	}
	exempt := invoice.Document{
		Type: invoice.TypeInvoice, Number: "SWC-2026-000003",
		IssueDate: day(2026, 12, 1), DueDate: day(2026, 12, 31),
		BuyerReference: "member-43",
		Seller:         Cooperative(), Buyer: school,
		Lines: []invoice.Line{
			{Description: "Training session room (educational, exempt)", Quantity: invoice.Units(3), Unit: "HUR", UnitPriceCents: 4000, VAT: invoice.VAT{Category: invoice.CategoryExempt, ExemptionReason: "Exempt: article 44 § 2, 4° of the Belgian VAT Code"}},
		},
		Payment: payment,
	}
	credit := invoice.Document{
		Type: invoice.TypeCreditNote, Number: "SWC-2026-000004",
		IssueDate:      day(2026, 12, 10),
		BuyerReference: "member-42",
		Seller:         Cooperative(), Buyer: company,
		Lines: []invoice.Line{
			{Description: "Desk hours, Namur: late exit, correction", Quantity: invoice.Units(1), Unit: "HUR", UnitPriceCents: 850, VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}},
		},
		Corrects: &invoice.Reference{Number: "SWC-2026-000001", IssueDate: day(2026, 12, 1)},
		Payment:  &invoice.Payment{IBAN: "BE68539007547034", BIC: "GKCCBEBB"},
	}
	self := invoice.Document{
		Type: invoice.TypeSelfBilled, Number: "SB-NAMUR-2026-11",
		IssueDate: day(2026, 12, 2), DueDate: day(2026, 12, 16),
		PeriodStart: day(2026, 11, 1), PeriodEnd: day(2026, 11, 30),
		BuyerReference: "settlement-2026-11",
		Note:           "Self-billed: nomadic hours hosted in November 2026",
		Seller:         Center(), Buyer: Cooperative(),
		Lines: []invoice.Line{
			{Description: "Nomadic hours hosted", Quantity: invoice.Units(1234), Unit: "MIN", UnitPriceCents: 600, BaseQuantity: invoice.Units(60), VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}},
		},
		Payment: &invoice.Payment{IBAN: "BE71096123456769", BIC: "GKCCBEBB", AccountName: "Centre de Namur SRL"},
	}
	selfCredit := invoice.Document{
		Type: invoice.TypeSelfBilledCreditNote, Number: "SBC-NAMUR-2026-11-1",
		IssueDate:      day(2026, 12, 20),
		BuyerReference: "settlement-2026-11",
		Note:           "Late exit taps of November 2026",
		Seller:         Center(), Buyer: Cooperative(),
		Lines: []invoice.Line{
			{Description: "Nomadic hours hosted: correction", Quantity: invoice.Units(45), Unit: "MIN", UnitPriceCents: 600, BaseQuantity: invoice.Units(60), VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}},
		},
		Corrects: &invoice.Reference{Number: "SB-NAMUR-2026-11", IssueDate: day(2026, 12, 2)},
	}
	intra := invoice.Document{
		Type: invoice.TypeInvoice, Number: "SWC-2026-000005",
		IssueDate: day(2026, 12, 1), DueDate: day(2026, 12, 31),
		PeriodStart: day(2026, 11, 1), PeriodEnd: day(2026, 11, 30),
		BuyerReference: "PO-4711",
		Seller:         Cooperative(), Buyer: dutch,
		Lines: []invoice.Line{
			{Description: "Badge readers (intra-community supply)", Quantity: invoice.Units(4), Unit: "C62", UnitPriceCents: 4500, VAT: invoice.VAT{Category: invoice.CategoryIntraCommunity, ExemptionReasonCode: "VATEX-EU-IC", ExemptionReason: "Intra-community supply (Art. 138 Directive 2006/112/EC)"}},
		},
		Payment: payment,
	}
	outside := invoice.Document{
		Type: invoice.TypeInvoice, Number: "ASSOC-2026-0001",
		IssueDate: day(2026, 12, 1), DueDate: day(2026, 12, 31),
		BuyerReference: "membership-2027",
		Seller: invoice.Party{
			Name:             "Amis des Centres ASBL",
			Address:          invoice.Address{Street: "Rue de Fer 3", City: "Namur", PostalCode: "5000", Country: "BE"},
			EnterpriseNumber: "0410230024",
		},
		Buyer: school,
		Lines: []invoice.Line{
			{Description: "Membership fee 2027", Quantity: invoice.Units(1), Unit: "C62", UnitPriceCents: 2500, VAT: invoice.VAT{Category: invoice.CategoryOutsideScope, ExemptionReasonCode: "VATEX-EU-O", ExemptionReason: "Not subject to VAT"}},
		},
		Payment: &invoice.Payment{IBAN: "BE71096123456769"},
	}
	return []Sample{{"standard", standard}, {"reverse_charge", reverse}, {"exempt", exempt}, {"credit_note", credit}, {"self_billed", self},
		{"self_billed_credit_note", selfCredit}, {"intra_community", intra}, {"outside_scope", outside}}
}
