package ubl

import (
	"encoding/xml"

	"github.com/smartworkcenters/swc/central/billing/invoice"
)

// The element names carry their prefix literally (cbc:, cac:); the root
// declares the prefixes. Field order is the UBL 2.1 schema's sequence.

// document is the root, Invoice or CreditNote: the two share the UBL 2.1
// sequence except for the due date and the type code (a credit note has
// neither cbc:DueDate nor cbc:InvoiceTypeCode, an invoice no
// cbc:CreditNoteTypeCode) and the name of their lines, so one struct with
// those fields optional writes both in schema order.
type document struct {
	XMLName            xml.Name
	NS                 string        `xml:"xmlns,attr"`
	NSCAC              string        `xml:"xmlns:cac,attr"`
	NSCBC              string        `xml:"xmlns:cbc,attr"`
	CustomizationID    string        `xml:"cbc:CustomizationID"`
	ProfileID          string        `xml:"cbc:ProfileID"`
	ID                 string        `xml:"cbc:ID"`
	IssueDate          string        `xml:"cbc:IssueDate"`
	DueDate            string        `xml:"cbc:DueDate,omitempty"`
	InvoiceTypeCode    string        `xml:"cbc:InvoiceTypeCode,omitempty"`
	CreditNoteTypeCode string        `xml:"cbc:CreditNoteTypeCode,omitempty"`
	Note               string        `xml:"cbc:Note,omitempty"`
	DocumentCurrency   string        `xml:"cbc:DocumentCurrencyCode"`
	BuyerReference     string        `xml:"cbc:BuyerReference"`
	InvoicePeriod      *period       `xml:"cac:InvoicePeriod"`
	BillingReference   *billingRef   `xml:"cac:BillingReference"`
	Supplier           partyWrap     `xml:"cac:AccountingSupplierParty"`
	Customer           partyWrap     `xml:"cac:AccountingCustomerParty"`
	Delivery           *delivery     `xml:"cac:Delivery"`
	PaymentMeans       *paymentMeans `xml:"cac:PaymentMeans"`
	PaymentTerms       *paymentTerms `xml:"cac:PaymentTerms"`
	AllowanceCharges   []allowance   `xml:"cac:AllowanceCharge"`
	TaxTotal           taxTotal      `xml:"cac:TaxTotal"`
	MonetaryTotal      monetaryTotal `xml:"cac:LegalMonetaryTotal"`
	InvoiceLines       []invoiceLine `xml:"cac:InvoiceLine"`
	CreditNoteLines    []invoiceLine `xml:"cac:CreditNoteLine"`
}

type amount struct {
	Currency string `xml:"currencyID,attr"`
	Value    string `xml:",chardata"`
}

type quantity struct {
	Unit  string `xml:"unitCode,attr"`
	Value string `xml:",chardata"`
}

type identifier struct {
	Scheme string `xml:"schemeID,attr,omitempty"`
	Value  string `xml:",chardata"`
}

type period struct {
	StartDate string `xml:"cbc:StartDate"`
	EndDate   string `xml:"cbc:EndDate"`
}

type billingRef struct {
	ID        string `xml:"cac:InvoiceDocumentReference>cbc:ID"`
	IssueDate string `xml:"cac:InvoiceDocumentReference>cbc:IssueDate,omitempty"`
}

type partyWrap struct {
	Party party `xml:"cac:Party"`
}

type party struct {
	EndpointID     identifier  `xml:"cbc:EndpointID"`
	Identification *identifier `xml:"cac:PartyIdentification>cbc:ID"`
	Name           string      `xml:"cac:PartyName>cbc:Name"`
	Address        address     `xml:"cac:PostalAddress"`
	TaxScheme      *partyTax   `xml:"cac:PartyTaxScheme"`
	LegalEntity    legalEntity `xml:"cac:PartyLegalEntity"`
	Contact        *contact    `xml:"cac:Contact"`
}

type address struct {
	StreetName           string `xml:"cbc:StreetName,omitempty"`
	AdditionalStreetName string `xml:"cbc:AdditionalStreetName,omitempty"`
	CityName             string `xml:"cbc:CityName,omitempty"`
	PostalZone           string `xml:"cbc:PostalZone,omitempty"`
	Country              string `xml:"cac:Country>cbc:IdentificationCode"`
}

type partyTax struct {
	CompanyID string `xml:"cbc:CompanyID"`
	TaxScheme string `xml:"cac:TaxScheme>cbc:ID"`
}

type legalEntity struct {
	RegistrationName string      `xml:"cbc:RegistrationName"`
	CompanyID        *identifier `xml:"cbc:CompanyID"`
}

type contact struct {
	Email string `xml:"cbc:ElectronicMail"`
}

type delivery struct {
	Country string `xml:"cac:DeliveryLocation>cac:Address>cac:Country>cbc:IdentificationCode"`
}

type paymentMeans struct {
	Code           string            `xml:"cbc:PaymentMeansCode"`
	PaymentDueDate string            `xml:"cbc:PaymentDueDate,omitempty"`
	PaymentID      string            `xml:"cbc:PaymentID,omitempty"`
	Account        *financialAccount `xml:"cac:PayeeFinancialAccount"`
}

type financialAccount struct {
	ID     string  `xml:"cbc:ID"`
	Name   string  `xml:"cbc:Name,omitempty"`
	Branch *branch `xml:"cac:FinancialInstitutionBranch"`
}

type branch struct {
	ID string `xml:"cbc:ID"`
}

type paymentTerms struct {
	Note string `xml:"cbc:Note"`
}

type allowance struct {
	ChargeIndicator bool        `xml:"cbc:ChargeIndicator"`
	Reason          string      `xml:"cbc:AllowanceChargeReason"`
	Amount          amount      `xml:"cbc:Amount"`
	TaxCategory     taxCategory `xml:"cac:TaxCategory"`
}

type taxCategory struct {
	ID                     string `xml:"cbc:ID"`
	Percent                string `xml:"cbc:Percent,omitempty"`
	TaxExemptionReasonCode string `xml:"cbc:TaxExemptionReasonCode,omitempty"`
	TaxExemptionReason     string `xml:"cbc:TaxExemptionReason,omitempty"`
	TaxScheme              string `xml:"cac:TaxScheme>cbc:ID"`
}

type taxTotal struct {
	TaxAmount amount        `xml:"cbc:TaxAmount"`
	Subtotals []taxSubtotal `xml:"cac:TaxSubtotal"`
}

type taxSubtotal struct {
	TaxableAmount amount      `xml:"cbc:TaxableAmount"`
	TaxAmount     amount      `xml:"cbc:TaxAmount"`
	TaxCategory   taxCategory `xml:"cac:TaxCategory"`
}

type monetaryTotal struct {
	LineExtensionAmount  amount  `xml:"cbc:LineExtensionAmount"`
	TaxExclusiveAmount   amount  `xml:"cbc:TaxExclusiveAmount"`
	TaxInclusiveAmount   amount  `xml:"cbc:TaxInclusiveAmount"`
	AllowanceTotalAmount *amount `xml:"cbc:AllowanceTotalAmount"`
	PayableAmount        amount  `xml:"cbc:PayableAmount"`
}

type invoiceLine struct {
	ID                  string    `xml:"cbc:ID"`
	InvoicedQuantity    *quantity `xml:"cbc:InvoicedQuantity"`
	CreditedQuantity    *quantity `xml:"cbc:CreditedQuantity"`
	LineExtensionAmount amount    `xml:"cbc:LineExtensionAmount"`
	Item                item      `xml:"cac:Item"`
	Price               price     `xml:"cac:Price"`
}

type item struct {
	Name        string      `xml:"cbc:Name"`
	TaxCategory taxCategory `xml:"cac:ClassifiedTaxCategory"`
}

type price struct {
	PriceAmount  amount    `xml:"cbc:PriceAmount"`
	BaseQuantity *quantity `xml:"cbc:BaseQuantity"`
}

// build makes the XML of d (which Validates).
func build(d *invoice.Document) *document {
	cur := d.CurrencyCode()
	amt := func(c int64) amount { return amount{Currency: cur, Value: invoice.FormatCents(c)} }
	t := d.Totals()
	c := &document{NSCAC: nsCAC, NSCBC: nsCBC,
		CustomizationID: BillingCustomizationID, ProfileID: BillingProfileID, ID: d.Number,
		IssueDate: invoice.Date(d.IssueDate), Note: d.Note,
		DocumentCurrency: d.CurrencyCode(), BuyerReference: d.BuyerReference}
	switch {
	case d.IsCreditNote():
		c.XMLName, c.NS, c.CreditNoteTypeCode = xml.Name{Local: "CreditNote"}, nsCreditNote, string(d.Type)
	default:
		c.XMLName, c.NS, c.InvoiceTypeCode = xml.Name{Local: "Invoice"}, nsInvoice, string(d.Type)
		if !d.DueDate.IsZero() {
			c.DueDate = invoice.Date(d.DueDate)
		}
	}
	if d.IsSelfBilled() {
		c.CustomizationID, c.ProfileID = SelfBillingCustomizationID, SelfBillingProfileID
	}
	if !d.PeriodStart.IsZero() {
		c.InvoicePeriod = &period{StartDate: invoice.Date(d.PeriodStart), EndDate: invoice.Date(d.PeriodEnd)}
	}
	if d.Corrects != nil {
		c.BillingReference = &billingRef{ID: d.Corrects.Number}
		if !d.Corrects.IssueDate.IsZero() {
			c.BillingReference.IssueDate = invoice.Date(d.Corrects.IssueDate)
		}
	}
	c.Supplier = partyWrap{toParty(d.Seller)}
	c.Customer = partyWrap{toParty(d.Buyer)}
	for _, cat := range d.Categories() {
		if cat == invoice.CategoryIntraCommunity {
			c.Delivery = &delivery{Country: d.Buyer.Address.Country}
		}
	}
	if p := d.Payment; p != nil {
		c.PaymentMeans = &paymentMeans{Code: "58", PaymentID: p.Communication.String(),
			Account: &financialAccount{ID: p.IBAN, Name: p.AccountName}}
		if p.BIC != "" {
			c.PaymentMeans.Account.Branch = &branch{ID: p.BIC}
		}
		if d.IsCreditNote() && !d.DueDate.IsZero() {
			c.PaymentMeans.PaymentDueDate = invoice.Date(d.DueDate)
		}
		if p.Terms != "" {
			c.PaymentTerms = &paymentTerms{Note: p.Terms}
		}
	}
	for _, a := range d.Allowances {
		c.AllowanceCharges = append(c.AllowanceCharges, allowance{Reason: a.Reason, Amount: amt(a.AmountCents), TaxCategory: toCategory(a.VAT, false)})
	}
	c.TaxTotal.TaxAmount = amt(t.VATCents)
	for _, s := range t.Breakdown {
		c.TaxTotal.Subtotals = append(c.TaxTotal.Subtotals, taxSubtotal{TaxableAmount: amt(s.TaxableCents), TaxAmount: amt(s.VATCents), TaxCategory: toCategory(s.VAT, true)})
	}
	c.MonetaryTotal = monetaryTotal{
		LineExtensionAmount: amt(t.LineExtensionCents),
		TaxExclusiveAmount:  amt(t.TaxExclusiveCents),
		TaxInclusiveAmount:  amt(t.TaxInclusiveCents),
		PayableAmount:       amt(t.PayableCents),
	}
	if len(d.Allowances) > 0 {
		a := amt(t.AllowanceCents)
		c.MonetaryTotal.AllowanceTotalAmount = &a
	}
	for i, l := range d.Lines {
		q := &quantity{Unit: l.Unit, Value: l.Quantity.String()}
		line := invoiceLine{ID: d.LineID(i), LineExtensionAmount: amt(t.LineNetCents[i]),
			Item:  item{Name: l.Description, TaxCategory: toCategory(l.VAT, false)},
			Price: price{PriceAmount: amt(l.UnitPriceCents)}}
		if d.IsCreditNote() {
			line.CreditedQuantity = q
		} else {
			line.InvoicedQuantity = q
		}
		if l.BaseQuantity != 0 {
			line.Price.BaseQuantity = &quantity{Unit: l.Unit, Value: l.BaseQuantity.String()}
		}
		if d.IsCreditNote() {
			c.CreditNoteLines = append(c.CreditNoteLines, line)
		} else {
			c.InvoiceLines = append(c.InvoiceLines, line)
		}
	}
	return c
}

func toParty(p invoice.Party) party {
	scheme, id := p.ElectronicAddress()
	out := party{
		EndpointID: identifier{Scheme: scheme, Value: id},
		Name:       p.Name,
		Address: address{StreetName: p.Address.Street, AdditionalStreetName: p.Address.AdditionalStreet,
			CityName: p.Address.City, PostalZone: p.Address.PostalCode, Country: p.Address.Country},
		LegalEntity: legalEntity{RegistrationName: p.Name},
	}
	if p.VATNumber != "" {
		out.TaxScheme = &partyTax{CompanyID: p.VATNumber, TaxScheme: "VAT"}
	}
	if p.EnterpriseNumber != "" {
		out.LegalEntity.CompanyID = &identifier{Scheme: "0208", Value: p.EnterpriseNumber}
	}
	if p.Email != "" {
		out.Contact = &contact{Email: p.Email}
	}
	return out
}

// toCategory writes a VAT treatment; the exemption reason appears only in
// the breakdown (BT-120/121), not on lines and allowances.
func toCategory(v invoice.VAT, breakdown bool) taxCategory {
	c := taxCategory{ID: string(v.Category), TaxScheme: "VAT"}
	if v.Category != invoice.CategoryOutsideScope {
		c.Percent = v.Rate.String()
	}
	if breakdown {
		c.TaxExemptionReasonCode = v.ExemptionReasonCode
		c.TaxExemptionReason = v.ExemptionReason
	}
	return c
}
