package invoice

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/smartworkcenters/swc/central/billing/bank"
)

// ErrInvalid is matched (errors.Is) by the error of Validate.
var ErrInvalid = errors.New("invalid document")

// FieldError is one problem of a document, at a field named by its path
// (such as "lines[2].vat.rate" or "seller.vat_number").
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem Validate found.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return ErrInvalid.Error() + ": " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

var (
	reCountry  = regexp.MustCompile(`^[A-Z]{2}$`)
	reCurrency = regexp.MustCompile(`^[A-Z]{3}$`)
	reUnit     = regexp.MustCompile(`^[A-Z0-9]{2,3}$`)
	reVAT      = regexp.MustCompile(`^[A-Z]{2}[0-9A-Z+*.]{2,13}$`)
	reEmail    = regexp.MustCompile(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)
	reVATEX    = regexp.MustCompile(`^VATEX-[A-Z0-9-]+$`)
)

// Validate checks the document against the rules its formats need
// (EN 16931 and Peppol BIS 3.0 business rules the model can decide) and
// returns a *ValidationError naming every field at fault, or nil.
func (d *Document) Validate() error {
	v := &validator{}
	v.document(d)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

type validator struct{ problems []FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) text(field, s string, required bool, max int) {
	switch {
	case s == "" && required:
		v.add(field, "required")
	case len(s) > max:
		v.add(field, "%d bytes; at most %d", len(s), max)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0:
		v.add(field, "contains a control character")
	case s != strings.TrimSpace(s):
		v.add(field, "leading or trailing space")
	}
}

func (v *validator) document(d *Document) {
	switch d.Type {
	case TypeInvoice, TypeSelfBilled, TypeCreditNote, TypeSelfBilledCreditNote:
	default:
		v.add("type", "%q; want 380 (invoice), 381 (credit note), 389 (self-billed invoice) or 261 (self-billed credit note)", d.Type)
	}
	v.text("number", d.Number, true, maxIdentifierLen)
	if d.IssueDate.IsZero() {
		v.add("issue_date", "required")
	}
	if !d.DueDate.IsZero() && dateOf(d.DueDate) < dateOf(d.IssueDate) {
		v.add("due_date", "%s is before the issue date %s", dateOf(d.DueDate), dateOf(d.IssueDate))
	}
	switch {
	case d.PeriodStart.IsZero() != d.PeriodEnd.IsZero():
		v.add("period", "give both start and end, or neither")
	case !d.PeriodStart.IsZero() && dateOf(d.PeriodEnd) < dateOf(d.PeriodStart):
		v.add("period", "ends %s before it starts %s", dateOf(d.PeriodEnd), dateOf(d.PeriodStart))
	}
	if d.Currency != "" && !reCurrency.MatchString(d.Currency) {
		v.add("currency", "%q; want an ISO 4217 code such as EUR", d.Currency)
	}
	v.text("buyer_reference", d.BuyerReference, true, maxIdentifierLen*2)
	v.text("note", d.Note, false, maxTextLen)
	v.party("seller", d.Seller)
	v.party("buyer", d.Buyer)
	if s, _ := d.Seller.ElectronicAddress(); s == "" {
		v.add("seller.enterprise_number", "required (or a VAT number or an endpoint): the seller's Peppol address")
	}
	switch {
	case len(d.Lines) == 0:
		v.add("lines", "at least one line")
	case len(d.Lines) > maxLines:
		v.add("lines", "%d lines; at most %d", len(d.Lines), maxLines)
	}
	ids := map[string]bool{}
	reasons := map[[2]string]VAT{}
	for i := range d.Lines {
		if ids[d.LineID(i)] {
			v.add(fmt.Sprintf("lines[%d].id", i), "%q repeats an earlier line's id", d.LineID(i))
		}
		ids[d.LineID(i)] = true
		v.line(fmt.Sprintf("lines[%d]", i), d, d.Lines[i], reasons)
	}
	for i, a := range d.Allowances {
		f := fmt.Sprintf("allowances[%d]", i)
		v.text(f+".reason", a.Reason, true, maxTextLen)
		if a.AmountCents <= 0 || a.AmountCents > maxAmountCents {
			v.add(f+".amount", "%d cents; want 1 to %d", a.AmountCents, int64(maxAmountCents))
		}
		v.vat(f+".vat", d, a.VAT, reasons)
	}
	v.categories(d)
	if d.IsCreditNote() && d.Corrects == nil {
		v.add("corrects", "a credit note names the invoice it corrects")
	}
	if d.Corrects != nil {
		v.text("corrects.number", d.Corrects.Number, true, maxIdentifierLen)
		if d.Corrects.Number == d.Number && d.Number != "" {
			v.add("corrects.number", "a document cannot correct itself")
		}
	}
	if d.Payment != nil {
		v.payment(d)
	}
	if len(v.problems) == 0 {
		t := d.Totals()
		if abs(t.TaxInclusiveCents) > maxAmountCents {
			v.add("lines", "total %s exceeds %s", FormatCents(t.TaxInclusiveCents), FormatCents(maxAmountCents))
		}
		if t.PayableCents > 0 && !d.IsCreditNote() && d.DueDate.IsZero() && (d.Payment == nil || d.Payment.Terms == "") {
			v.add("due_date", "an amount is due: give a due date or payment terms (BR-CO-25)")
		}
	}
}

func (v *validator) party(f string, p Party) {
	v.text(f+".name", p.Name, true, maxNameLen)
	a := p.Address
	v.text(f+".address.street", a.Street, false, maxNameLen)
	v.text(f+".address.additional_street", a.AdditionalStreet, false, maxNameLen)
	v.text(f+".address.city", a.City, false, maxNameLen)
	v.text(f+".address.postal_code", a.PostalCode, false, maxIdentifierLen)
	if !reCountry.MatchString(a.Country) {
		v.add(f+".address.country", "%q; want an ISO 3166-1 alpha-2 code such as BE", a.Country)
	}
	if p.VATNumber != "" {
		if err := checkVATNumber(p.VATNumber); err != nil {
			v.add(f+".vat_number", "%v", err)
		}
	}
	if p.EnterpriseNumber != "" {
		if err := CheckEnterpriseNumber(p.EnterpriseNumber); err != nil {
			v.add(f+".enterprise_number", "%v", err)
		}
		if p.VATNumber != "" && strings.HasPrefix(p.VATNumber, "BE") && p.VATNumber[2:] != p.EnterpriseNumber {
			v.add(f+".vat_number", "%s is not BE followed by the enterprise number %s", p.VATNumber, p.EnterpriseNumber)
		}
	}
	if p.Email != "" && !reEmail.MatchString(p.Email) {
		v.add(f+".email", "%q is not an e-mail address", p.Email)
	}
	if (p.EndpointScheme == "") != (p.EndpointID == "") {
		v.add(f+".endpoint", "give both scheme and id, or neither")
	}
	if p.EndpointScheme == "0208" && p.EndpointID != "" {
		if err := CheckEnterpriseNumber(p.EndpointID); err != nil {
			v.add(f+".endpoint", "%v", err)
		}
	}
}

func (v *validator) line(f string, d *Document, l Line, reasons map[[2]string]VAT) {
	v.text(f+".id", l.ID, false, maxIdentifierLen)
	v.text(f+".description", l.Description, true, maxNameLen)
	if l.Quantity == 0 || l.Quantity > maxQuantity || l.Quantity < -maxQuantity {
		v.add(f+".quantity", "%s; want non-zero, at most %s in size", l.Quantity, maxQuantity)
	}
	if !reUnit.MatchString(l.Unit) {
		v.add(f+".unit", "%q; want a UN/ECE Recommendation 20 code such as HUR", l.Unit)
	}
	if l.UnitPriceCents < 0 || l.UnitPriceCents > maxUnitPriceCents {
		v.add(f+".unit_price", "%d cents; want 0 to %d (BR-27: never negative)", l.UnitPriceCents, maxUnitPriceCents)
	}
	if l.BaseQuantity < 0 || l.BaseQuantity > maxQuantity {
		v.add(f+".base_quantity", "%s; want positive (or 0 for one unit)", l.BaseQuantity)
	}
	if n := LineNetCents(l.Quantity, l.UnitPriceCents, l.BaseQuantity); abs(n) > maxAmountCents {
		v.add(f+".quantity", "line amount %s exceeds %s", FormatCents(n), FormatCents(maxAmountCents))
	}
	v.vat(f+".vat", d, l.VAT, reasons)
}

// vat checks one VAT treatment, and that every line and allowance of one
// breakdown gives the same exemption reason (the breakdown carries one).
func (v *validator) vat(f string, d *Document, t VAT, reasons map[[2]string]VAT) {
	reason := t.ExemptionReasonCode != "" || t.ExemptionReason != ""
	v.text(f+".exemption_reason", t.ExemptionReason, false, maxExemptionReasonLength)
	if t.ExemptionReasonCode != "" && !reVATEX.MatchString(t.ExemptionReasonCode) {
		v.add(f+".exemption_reason_code", "%q; want a VATEX code such as VATEX-EU-AE", t.ExemptionReasonCode)
	}
	switch t.Category {
	case CategoryStandard:
		if t.Rate <= 0 || t.Rate > 10000 {
			v.add(f+".rate", "%s %%; standard rate must be above 0 and at most 100", t.Rate)
		}
	case CategoryZero, CategoryExempt, CategoryReverseCharge, CategoryIntraCommunity:
		if t.Rate != 0 {
			v.add(f+".rate", "%s %%; category %s has rate 0", t.Rate, t.Category)
		}
	case CategoryOutsideScope:
		if t.Rate != 0 {
			v.add(f+".rate", "category O has no rate")
		}
	default:
		v.add(f+".category", "%q; want S, Z, E, AE, K or O", t.Category)
		return
	}
	switch t.Category {
	case CategoryStandard, CategoryZero:
		if reason {
			v.add(f+".exemption_reason", "category %s takes no exemption reason", t.Category)
		}
	default:
		if !reason {
			v.add(f+".exemption_reason", "category %s needs an exemption reason code or text", t.Category)
		}
	}
	k := breakdownKey(t)
	if prev, ok := reasons[k]; ok && (prev.ExemptionReasonCode != t.ExemptionReasonCode || prev.ExemptionReason != t.ExemptionReason) {
		v.add(f+".exemption_reason", "differs from an earlier line of category %s: one breakdown has one reason", t.Category)
	} else if !ok {
		reasons[k] = t
	}
}

// categories checks the rules that tie VAT categories to the parties.
func (v *validator) categories(d *Document) {
	cats := d.Categories()
	for _, c := range cats {
		switch c {
		case CategoryStandard, CategoryZero, CategoryExempt:
			if d.Seller.VATNumber == "" {
				v.add("seller.vat_number", "required by VAT category %s", c)
			}
		case CategoryReverseCharge, CategoryIntraCommunity:
			if d.Seller.VATNumber == "" {
				v.add("seller.vat_number", "required by VAT category %s", c)
			}
			if d.Buyer.VATNumber == "" {
				v.add("buyer.vat_number", "required by VAT category %s (the buyer accounts for the VAT)", c)
			}
			if c == CategoryIntraCommunity {
				if d.PeriodStart.IsZero() {
					v.add("period", "required by VAT category K (BR-IC-11)")
				}
				if d.Buyer.Address.Country == d.Seller.Address.Country {
					v.add("buyer.address.country", "category K is a supply to another member state; buyer and seller are both in %s", d.Seller.Address.Country)
				}
			}
		case CategoryOutsideScope:
			if len(cats) > 1 {
				v.add("lines", "category O cannot be combined with other VAT categories (BR-O-11)")
			}
			if d.Seller.VATNumber != "" {
				v.add("seller.vat_number", "must be absent with category O (BR-O-02)")
			}
			if d.Buyer.VATNumber != "" {
				v.add("buyer.vat_number", "must be absent with category O (BR-O-02)")
			}
		}
	}
}

func (v *validator) payment(d *Document) {
	p := d.Payment
	if _, err := bank.ParseIBAN(p.IBAN); err != nil {
		v.add("payment.iban", "%v", err)
	} else if p.IBAN != strings.ToUpper(strings.ReplaceAll(p.IBAN, " ", "")) {
		v.add("payment.iban", "write it in electronic form (no spaces, upper case)")
	}
	if p.BIC != "" {
		if b, err := bank.ParseBIC(p.BIC); err != nil {
			v.add("payment.bic", "%v", err)
		} else if b != p.BIC {
			v.add("payment.bic", "write it upper case")
		}
	}
	v.text("payment.account_name", p.AccountName, false, 70)
	v.text("payment.terms", p.Terms, false, maxTextLen)
	if d.CurrencyCode() != defaultCurrency {
		v.add("currency", "%s: a SEPA credit transfer is in EUR", d.CurrencyCode())
	}
}

// CheckEnterpriseNumber checks a Belgian enterprise number (KBO/BCE):
// ten digits, the first 0 or 1, the last two 97 minus the first eight
// modulo 97.
func CheckEnterpriseNumber(s string) error {
	if len(s) != 10 || strings.Trim(s, "0123456789") != "" {
		return fmt.Errorf("enterprise number %q: want 10 digits", s)
	}
	if s[0] != '0' && s[0] != '1' {
		return fmt.Errorf("enterprise number %q: starts with 0 or 1", s)
	}
	var n, check int64
	for i := 0; i < 8; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	check = int64(s[8]-'0')*10 + int64(s[9]-'0')
	if want := 97 - n%97; check != want {
		return fmt.Errorf("enterprise number %q: check digits %02d; want %02d", s, check, want)
	}
	return nil
}

// checkVATNumber checks a VAT identifier's form (country prefix, then 2 to
// 13 characters) and, for Belgium, its enterprise-number check digits.
func checkVATNumber(s string) error {
	if !reVAT.MatchString(s) {
		return fmt.Errorf("VAT number %q: want a country prefix and 2 to 13 letters or digits, without spaces", s)
	}
	if strings.HasPrefix(s, "BE") {
		if err := CheckEnterpriseNumber(s[2:]); err != nil {
			return fmt.Errorf("VAT number %q: %w", s, err)
		}
	}
	return nil
}

// dateOf is t's calendar date as YYYY-MM-DD, which sorts as dates do.
func dateOf(t time.Time) string { return t.Format(time.DateOnly) }

// Date formats a document date as YYYY-MM-DD (its own location's date).
func Date(t time.Time) string { return dateOf(t) }

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
