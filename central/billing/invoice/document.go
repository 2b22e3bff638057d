package invoice

import (
	"time"

	"github.com/smartworkcenters/swc/central/billing/bank"
)

// TypeCode is the document type (UNCL1001).
type TypeCode string

// The document types the network issues.
const (
	TypeInvoice    TypeCode = "380" // commercial invoice
	TypeCreditNote TypeCode = "381" // credit note, refers to the invoice it corrects
	TypeSelfBilled TypeCode = "389" // self-billed invoice, issued by the buyer
	// TypeSelfBilledCreditNote corrects a self-billed invoice, issued by
	// the buyer too.
	TypeSelfBilledCreditNote TypeCode = "261"
)

// Category is a VAT category code (UNCL5305, as EN 16931 restricts it).
type Category string

// The VAT categories (see the package comment).
const (
	CategoryStandard         Category = "S"
	CategoryZero             Category = "Z"
	CategoryExempt           Category = "E"
	CategoryReverseCharge    Category = "AE"
	CategoryIntraCommunity   Category = "K"
	CategoryOutsideScope     Category = "O"
	defaultCurrency                   = "EUR"
	maxLines                          = 10_000
	maxQuantity              Quantity = 10_000_000_000 // ten million units
	maxUnitPriceCents                 = 100_000_000    // one million euros
	maxAmountCents                    = 1_000_000_000_000
	maxTextLen                        = 500
	maxNameLen                        = 200
	maxIdentifierLen                  = 35
	maxExemptionReasonLength          = 300
)

// Document is an invoice, credit note or self-billed invoice.
type Document struct {
	Type TypeCode
	// Number is the document's number, unique per issuer (BT-1).
	Number string
	// IssueDate and DueDate are calendar dates: only their year, month and
	// day (in their own location) count. DueDate is optional.
	IssueDate, DueDate time.Time
	// PeriodStart and PeriodEnd are the first and last day invoiced
	// (BG-14), both or neither.
	PeriodStart, PeriodEnd time.Time
	// Currency is the ISO 4217 code; empty means EUR.
	Currency string
	// BuyerReference is the buyer's reference (BT-10), such as a purchase
	// order or the member id; Peppol requires it (or an order reference).
	BuyerReference string
	// Note is free text printed on the document (BT-22), optional.
	Note   string
	Seller Party
	Buyer  Party
	Lines  []Line
	// Allowances are document-level discounts (BG-20), optional.
	Allowances []Allowance
	// Corrects is the invoice a credit note (required) or a correcting
	// invoice (optional) refers to (BG-3).
	Corrects *Reference
	// Payment is how to pay the amount due (BG-16, BG-17), optional.
	Payment *Payment
}

// Party is a seller or a buyer.
type Party struct {
	Name    string
	Address Address
	// VATNumber is the VAT identifier with its country prefix
	// (BE0123456749), optional except where the VAT category needs it.
	VATNumber string
	// EnterpriseNumber is the Belgian KBO/BCE number, ten digits
	// (0123456749), optional. It is the legal registration (BT-30) and,
	// first, the Peppol address (scheme 0208).
	EnterpriseNumber string
	Email            string
	// EndpointScheme and EndpointID set the Peppol electronic address
	// (BT-34/BT-49) explicitly; when empty, ElectronicAddress derives it.
	EndpointScheme, EndpointID string
}

// Address is a postal address.
type Address struct {
	Street, AdditionalStreet string
	City, PostalCode         string
	// Country is the ISO 3166-1 alpha-2 code (BE).
	Country string
}

// Line is an invoice line (BG-25).
type Line struct {
	// ID identifies the line within the document; empty means its
	// position, from 1.
	ID          string
	Description string
	// Quantity of Unit (UN/ECE Recommendation 20: HUR hours, MIN minutes,
	// DAY, MON months, C62 one).
	Quantity Quantity
	Unit     string
	// UnitPriceCents is the net price of BaseQuantity units (0 means one).
	UnitPriceCents int64
	BaseQuantity   Quantity
	VAT            VAT
}

// VAT is a line's or an allowance's VAT treatment.
type VAT struct {
	Category Category
	// Rate is 0 for Z, E, AE and K, and ignored (not written) for O.
	Rate Rate
	// ExemptionReasonCode (VATEX, such as VATEX-EU-AE) and ExemptionReason
	// (text) explain E, AE, K and O; one of them is required there.
	ExemptionReasonCode, ExemptionReason string
}

// Allowance is a document-level discount in one VAT category.
type Allowance struct {
	Reason      string
	AmountCents int64
	VAT         VAT
}

// Reference is a preceding invoice (BG-3).
type Reference struct {
	Number    string
	IssueDate time.Time
}

// Payment is a credit transfer to the seller.
type Payment struct {
	// IBAN of the seller's account (BT-84) and its BIC (BT-86, optional).
	IBAN, BIC string
	// AccountName is the account holder (BT-85), optional.
	AccountName string
	// Communication is the Belgian structured communication to quote
	// (BT-83), optional.
	Communication bank.Communication
	// Terms is the payment terms text (BT-20), optional.
	Terms string
}

// CurrencyCode is the document's currency, EUR when unset.
func (d *Document) CurrencyCode() string {
	if d.Currency == "" {
		return defaultCurrency
	}
	return d.Currency
}

// LineID is the identifier of line i: its ID or its position from 1.
func (d *Document) LineID(i int) string {
	if d.Lines[i].ID != "" {
		return d.Lines[i].ID
	}
	return itoa(i + 1)
}

// IsCreditNote reports whether d is rendered as a credit note (381, 261).
func (d *Document) IsCreditNote() bool {
	return d.Type == TypeCreditNote || d.Type == TypeSelfBilledCreditNote
}

// IsSelfBilled reports whether the buyer issues d (389, 261).
func (d *Document) IsSelfBilled() bool {
	return d.Type == TypeSelfBilled || d.Type == TypeSelfBilledCreditNote
}

// vatEndpointSchemes are the Peppol EAS codes of VAT numbers, by country
// (read-only).
var vatEndpointSchemes = map[string]string{
	"BE": "9925", "DE": "9930", "ES": "9920", "FR": "9957", "LU": "9938", "NL": "9944",
}

// ElectronicAddress is the party's Peppol electronic address (scheme, id):
// the explicit endpoint, else the Belgian enterprise number (0208), else a
// Belgian VAT number (9925, lower-case as the Peppol directory lists it),
// else the e-mail address (EM). Empty when none is known.
func (p Party) ElectronicAddress() (scheme, id string) {
	switch {
	case p.EndpointScheme != "" && p.EndpointID != "":
		return p.EndpointScheme, p.EndpointID
	case p.EnterpriseNumber != "":
		return "0208", p.EnterpriseNumber
	case len(p.VATNumber) > 2 && vatEndpointSchemes[p.VATNumber[:2]] != "":
		return vatEndpointSchemes[p.VATNumber[:2]], p.VATNumber
	}
	return "", ""
}

func itoa(n int) string { return decimal(int64(n), 0) }
