package billing

import (
	"cmp"
	"slices"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
)

// PriceKind says what a price is for.
type PriceKind string

// The prices the network sets.
const (
	// PriceNomadicHour is the cooperative's price per hour for its nomadic
	// members, wherever they work (no center).
	PriceNomadicHour PriceKind = "nomadic_hour"
	// PriceCenterHour is a center's price per hour for its own (local)
	// clients, at home and in other centers alike (Center set).
	PriceCenterHour PriceKind = "center_hour"
	// PriceRoomHour is the price per hour of one room (Center and Room
	// set): the room's hire, billed by booking on the member's invoice
	// beside the member's hours (see the package comment).
	PriceRoomHour PriceKind = "room_hour"
	// PriceNoShow is a fee per booking day not attended, charged by the
	// issuer (no center: the cooperative; Center set: that center).
	PriceNoShow PriceKind = "no_show"
	// PriceMonthlyPass is the price of a month of unlimited hours with the
	// issuer (no center: the cooperative; Center set: that center).
	PriceMonthlyPass PriceKind = "monthly_pass"
)

// DefaultVAT is the VAT rate of a price that states none: 21 %.
const DefaultVAT = invoice.Rate(2100)

// maxPriceCents bounds a price (ten thousand euros).
const maxPriceCents = 1_000_000

// Price is one version of a price: it applies from ValidFrom (a month,
// included) until the next version of the same key (kind, center, room).
// Versions are never changed once a period they apply to is invoiced:
// the store refuses a version starting in or before an invoiced period, so
// a billed period keeps the prices it was billed with.
type Price struct {
	Kind      PriceKind     `json:"kind"`
	CenterID  string        `json:"center_id,omitempty"`
	RoomID    string        `json:"room_id,omitempty"`
	ValidFrom credit.Period `json:"valid_from"`
	// Cents is the price without VAT, in cents of the network's currency:
	// per hour, per no-show or per month according to Kind.
	Cents int64 `json:"cents"`
	// VATRate is the standard VAT rate applied (0 means DefaultVAT).
	VATRate invoice.Rate `json:"vat_rate,omitempty"`
	// VATExemption, when set, is a VATEX code of a line category's
	// exemption (VATExemptions): the price's lines are exempt (category
	// E) with that reason, and VATRate is ignored.
	VATExemption string `json:"vat_exemption,omitempty"`
	CreatedMs    int64  `json:"created_ms,omitempty"`
	CreatedBy    string `json:"created_by,omitempty"`
}

// Key identifies the price that versions replace.
func (p Price) Key() string { return string(p.Kind) + "/" + p.CenterID + "/" + p.RoomID }

// Rate is the VAT rate of the price, DefaultVAT when unset.
func (p Price) Rate() invoice.Rate {
	if p.VATRate == 0 {
		return DefaultVAT
	}
	return p.VATRate
}

// Validate checks the price and names the field at fault.
func (p Price) Validate() error {
	switch p.Kind {
	case PriceNomadicHour:
		if p.CenterID != "" || p.RoomID != "" {
			return fieldErr("center_id", "the nomadic price is the cooperative's: no center or room")
		}
	case PriceCenterHour:
		if p.CenterID == "" || p.RoomID != "" {
			return fieldErr("center_id", "a center price names its center and no room")
		}
	case PriceRoomHour:
		if p.CenterID == "" || p.RoomID == "" {
			return fieldErr("room_id", "a room price names its center and room")
		}
	case PriceNoShow, PriceMonthlyPass:
		if p.RoomID != "" {
			return fieldErr("room_id", "no room for a %s price", p.Kind)
		}
	default:
		return fieldErr("kind", "%q; want nomadic_hour, center_hour, room_hour, no_show or monthly_pass", p.Kind)
	}
	if p.ValidFrom.IsZero() {
		return fieldErr("valid_from", "required (a month, 2026-11)")
	}
	if p.Cents < 0 || p.Cents > maxPriceCents {
		return fieldErr("cents", "%d; want 0 to %d", p.Cents, maxPriceCents)
	}
	if p.VATRate < 0 || p.VATRate > 10000 {
		return fieldErr("vat_rate", "%d hundredths of a percent; want 0 to 10000", p.VATRate)
	}
	return checkExemption("vat_exemption", p.VATExemption, false)
}

// Prices is every stored version of every price.
type Prices []Price

// At returns the version of the price (kind, center, room) that applies
// in period p: the one with the latest ValidFrom not after p.
func (ps Prices) At(kind PriceKind, center, room string, p credit.Period) (Price, bool) {
	var best Price
	found := false
	for _, v := range ps {
		if v.Kind != kind || v.CenterID != center || v.RoomID != room || p.Before(v.ValidFrom) {
			continue
		}
		if !found || best.ValidFrom.Before(v.ValidFrom) {
			best, found = v, true
		}
	}
	return best, found
}

// Sort orders the versions by key, then validity.
func (ps Prices) Sort() {
	slices.SortFunc(ps, func(a, b Price) int {
		if c := cmp.Compare(a.Key(), b.Key()); c != 0 {
			return c
		}
		return cmp.Compare(a.ValidFrom.String(), b.ValidFrom.String())
	})
}
