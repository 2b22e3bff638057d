package billing

import (
	"errors"
	"fmt"
	"strings"

	"github.com/smartworkcenters/swc/central/billing/bank"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/domain"
)

func fieldErr(field, format string, args ...any) error {
	return &domain.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// PartyKind says whose billing details these are.
type PartyKind string

// The parties that have billing details.
const (
	PartyMember      PartyKind = "member"
	PartyCenter      PartyKind = "center"
	PartyCooperative PartyKind = "cooperative" // ID is CooperativeID
)

// CooperativeID is the id of the cooperative as an issuer and a party.
const CooperativeID = "swc"

// Plan is what a member pays for.
type MemberPlan string

// The plans: hours at the issuer's hourly price (default), or a monthly
// pass at the issuer's monthly price that covers the hours used with the
// issuer (all hours for a nomadic member; the home center's hours for a
// local member, whose hours in other centers are still billed by the hour).
const (
	PlanHourly      MemberPlan = ""
	PlanMonthlyPass MemberPlan = "monthly_pass"
)

// Details are a party's billing details: who the invoices are made out to
// (members) or from (centers, the cooperative), and the bank account that
// is paid (centers and the cooperative).
type Details struct {
	Kind PartyKind `json:"kind"`
	ID   string    `json:"id"`

	Name             string `json:"name"`
	Street           string `json:"street,omitempty"`
	AdditionalStreet string `json:"additional_street,omitempty"`
	PostalCode       string `json:"postal_code,omitempty"`
	City             string `json:"city,omitempty"`
	Country          string `json:"country"`
	Email            string `json:"email"`
	// Private: a consumer, with neither VAT nor enterprise number; its
	// invoices are PDF only (no UBL).
	Private          bool   `json:"private,omitempty"`
	VATNumber        string `json:"vat_number,omitempty"`
	EnterpriseNumber string `json:"enterprise_number,omitempty"`
	// IBAN and BIC: the account that is paid (required for centers, which
	// receive payouts, and the cooperative, which members pay).
	IBAN string `json:"iban,omitempty"`
	BIC  string `json:"bic,omitempty"`
	// Plan (members only).
	Plan MemberPlan `json:"plan,omitempty"`
	// VATExemption (members only), when set, is the VATEX code of the
	// customer's exemption (VATExemptions): every line of their invoices
	// is exempt (category E) with that reason.
	VATExemption string `json:"vat_exemption,omitempty"`
	// Lang of the documents' words (lines, notes), their PDF and e-mail:
	// fr, nl or en (empty: fr).
	Lang      string `json:"lang,omitempty"`
	UpdatedMs int64  `json:"updated_ms,omitempty"`
}

// Party is the details as an invoice party.
func (d Details) Party() invoice.Party {
	return invoice.Party{
		Name: d.Name,
		Address: invoice.Address{Street: d.Street, AdditionalStreet: d.AdditionalStreet,
			City: d.City, PostalCode: d.PostalCode, Country: d.Country},
		VATNumber: d.VATNumber, EnterpriseNumber: d.EnterpriseNumber, Email: d.Email,
	}
}

// Business reports whether the party has a VAT or enterprise number.
func (d Details) Business() bool { return d.VATNumber != "" || d.EnterpriseNumber != "" }

// Validate checks the details with the invoice model's party rules (the
// same a document is held to) and the rules of their kind; the error names
// the first field at fault (a *domain.FieldError).
func (d Details) Validate() error {
	switch d.Kind {
	case PartyMember, PartyCenter:
		if d.ID == "" {
			return fieldErr("id", "required")
		}
	case PartyCooperative:
		if d.ID != CooperativeID {
			return fieldErr("id", "the cooperative's id is %q", CooperativeID)
		}
	default:
		return fieldErr("kind", "%q; want member, center or cooperative", d.Kind)
	}
	if d.Email == "" {
		return fieldErr("email", "required: invoices are sent there")
	}
	doc := invoice.Document{Buyer: d.Party()}
	var ve *invoice.ValidationError
	if err := doc.Validate(); errors.As(err, &ve) {
		for _, p := range ve.Problems {
			if f, ok := strings.CutPrefix(p.Field, "buyer."); ok {
				return fieldErr(strings.TrimPrefix(f, "address."), "%s", p.Message)
			}
		}
	}
	switch {
	case d.Private && d.Business():
		return fieldErr("private", "a private person has neither VAT nor enterprise number")
	case !d.Private && !d.Business():
		return fieldErr("vat_number", "required for a business (or mark the party private)")
	case d.Kind != PartyMember && d.Private:
		return fieldErr("private", "a center or the cooperative is a business")
	case d.Kind != PartyMember && d.Plan != PlanHourly:
		return fieldErr("plan", "members only")
	case d.Kind != PartyMember && d.VATExemption != "":
		return fieldErr("vat_exemption", "members only")
	}
	if err := checkExemption("vat_exemption", d.VATExemption, true); err != nil {
		return err
	}
	switch d.Plan {
	case PlanHourly, PlanMonthlyPass:
	default:
		return fieldErr("plan", "%q; want \"\" (hourly) or monthly_pass", d.Plan)
	}
	switch d.Lang {
	case "", "fr", "nl", "en":
	default:
		return fieldErr("lang", "%q; want fr, nl or en", d.Lang)
	}
	if d.IBAN == "" && d.Kind != PartyMember {
		return fieldErr("iban", "required: the account that is paid")
	}
	if d.IBAN != "" {
		if _, err := bank.ParseIBAN(d.IBAN); err != nil {
			return fieldErr("iban", "%v", err)
		}
	}
	if d.BIC != "" {
		if _, err := bank.ParseBIC(d.BIC); err != nil {
			return fieldErr("bic", "%v", err)
		}
	}
	return nil
}
