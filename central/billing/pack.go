package billing

import (
	"cmp"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
)

// ObjectPack is the audit object kind of an hour pack (its purchase and
// the hours each invoice takes from it).
const ObjectPack = "hour_pack"

// maxPackHours bounds a pack (ten thousand hours) and maxPackMonths its
// validity (three years).
const (
	maxPackHours  = 10_000
	maxPackMonths = 36
)

// Pack is an hour pack a member holds: Hours bought at Cents (without
// VAT) from the party that owns the client (Issuer: the cooperative for a
// nomadic member, the home center for a local member), usable from the
// month ValidFrom to the month ValidUntil, both included. Its purchase is
// a line of the member's invoice of ValidFrom; its hours cover the
// member's hours billed by the issuer at the hourly price, in order of
// time, month after month, until they run out or the pack expires (what
// is left then is lost).
type Pack struct {
	ID       string `json:"id"`
	MemberID string `json:"member_id"`
	// Issuer is set by the store from the member's home.
	Issuer string `json:"issuer"`
	Hours  int64  `json:"hours"`
	Cents  int64  `json:"cents"`
	// VATRate of the purchase (0 means DefaultVAT).
	VATRate    invoice.Rate  `json:"vat_rate,omitempty"`
	ValidFrom  credit.Period `json:"valid_from"`
	ValidUntil credit.Period `json:"valid_until"`
	// Uses are the minutes taken by each invoiced period (read only).
	Uses []PackUse `json:"uses,omitempty"`
	// UsedMinutes and RemainingMinutes sum Uses (read only).
	UsedMinutes      int64  `json:"used_minutes"`
	RemainingMinutes int64  `json:"remaining_minutes"`
	CreatedMs        int64  `json:"created_ms,omitempty"`
	CreatedBy        string `json:"created_by,omitempty"`
}

// PackUse is what one period's invoice took from a pack.
type PackUse struct {
	PackID  string        `json:"pack_id"`
	Period  credit.Period `json:"period"`
	Minutes int64         `json:"minutes"`
	// Number of the invoice that took them (set by the store).
	Number string `json:"number,omitempty"`
}

// Minutes are the pack's hours in minutes.
func (p *Pack) Minutes() int64 { return p.Hours * 60 }

// Sum fills UsedMinutes and RemainingMinutes from Uses.
func (p *Pack) Sum() {
	p.UsedMinutes = 0
	for _, u := range p.Uses {
		p.UsedMinutes += u.Minutes
	}
	p.RemainingMinutes = p.Minutes() - p.UsedMinutes
}

// Rate is the VAT rate of the purchase, DefaultVAT when unset.
func (p *Pack) Rate() invoice.Rate { return cmp.Or(p.VATRate, DefaultVAT) }

// Validate checks what is set when a pack is sold, naming the field at
// fault.
func (p *Pack) Validate() error {
	switch {
	case p.ID == "" || len(p.ID) > 64:
		return fieldErr("id", "required, at most 64 characters")
	case p.MemberID == "":
		return fieldErr("member_id", "required")
	case p.Hours <= 0 || p.Hours > maxPackHours:
		return fieldErr("hours", "%d; want 1 to %d", p.Hours, maxPackHours)
	case p.Cents < 0 || p.Cents > maxPriceCents*10:
		return fieldErr("cents", "%d; want 0 to %d", p.Cents, maxPriceCents*10)
	case p.VATRate < 0 || p.VATRate > 10000:
		return fieldErr("vat_rate", "%d hundredths of a percent; want 0 to 10000", p.VATRate)
	case p.ValidFrom.IsZero():
		return fieldErr("valid_from", "required (a month, 2026-11)")
	case p.ValidUntil.IsZero() || p.ValidUntil.Before(p.ValidFrom):
		return fieldErr("valid_until", "required, not before valid_from")
	case monthsBetween(p.ValidFrom, p.ValidUntil) >= maxPackMonths:
		return fieldErr("valid_until", "a pack is valid at most %d months", maxPackMonths)
	}
	return nil
}

func monthsBetween(a, b credit.Period) int {
	return (b.Year-a.Year)*12 + int(b.Month) - int(a.Month)
}

// usable reports whether the pack's hours may be used in period p.
func (p *Pack) usable(q credit.Period) bool { return !q.Before(p.ValidFrom) && !p.ValidUntil.Before(q) }

// left is what the pack holds for period q: its minutes less what the
// other periods took (a period is invoiced once, so its own use never
// counts against it).
func (p *Pack) left(q credit.Period) int64 {
	n := p.Minutes()
	for _, u := range p.Uses {
		if u.Period != q {
			n -= u.Minutes
		}
	}
	return max(n, 0)
}

// chunk is minutes of one key at a time, the unit packs are consumed in.
type chunk struct {
	at      time.Time
	key     minutesKey
	minutes int64
}

// consume takes the chunks' minutes, in order of time, from the member's
// packs usable in period q (the one that expires first first, then the
// oldest, then by id). It returns the minutes covered per (key, pack) and
// what each pack gave.
func consume(packs []Pack, q credit.Period, chunks []chunk) (map[minutesKey]map[string]int64, []PackUse) {
	var ps []*Pack
	left := map[string]int64{}
	for i := range packs {
		if p := &packs[i]; p.usable(q) && p.left(q) > 0 {
			ps = append(ps, p)
			left[p.ID] = p.left(q)
		}
	}
	covered := map[minutesKey]map[string]int64{}
	if len(ps) == 0 {
		return covered, nil
	}
	slices.SortFunc(ps, func(a, b *Pack) int {
		return cmp.Or(cmp.Compare(a.ValidUntil.String(), b.ValidUntil.String()), cmp.Compare(a.ValidFrom.String(), b.ValidFrom.String()), cmp.Compare(a.ID, b.ID))
	})
	slices.SortStableFunc(chunks, func(a, b chunk) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.key.host, b.key.host), cmp.Compare(a.key.class, b.key.class))
	})
	used := map[string]int64{}
	for _, c := range chunks {
		need := c.minutes
		for _, p := range ps {
			if need == 0 {
				break
			}
			take := min(need, left[p.ID])
			if take == 0 {
				continue
			}
			left[p.ID] -= take
			used[p.ID] += take
			need -= take
			if covered[c.key] == nil {
				covered[c.key] = map[string]int64{}
			}
			covered[c.key][p.ID] += take
		}
	}
	var uses []PackUse
	for _, p := range ps {
		if used[p.ID] > 0 {
			uses = append(uses, PackUse{PackID: p.ID, Period: q, Minutes: used[p.ID]})
		}
	}
	return covered, uses
}

// packLine is the purchase of a pack on the invoice of its first month.
func (b *builder) packLine(w words, md, issuer Details, p *Pack) invoice.Line {
	desc := w.T("billing.doc.pack", "pack", p.ID, "hours", p.Hours, "from", w.month(p.ValidFrom), "until", w.month(p.ValidUntil))
	return invoice.Line{Description: desc, Quantity: invoice.Units(1), Unit: "C62", UnitPriceCents: p.Cents,
		VAT: lineVAT(issuer, md, Price{VATRate: p.Rate()})}
}
