package invoice

import "slices"

// Totals are a document's amounts under RoundingRule, in cents.
type Totals struct {
	// LineNetCents is the net amount of each line, in order (BT-131).
	LineNetCents []int64
	// LineExtensionCents is the sum of line nets (BT-106).
	LineExtensionCents int64
	// AllowanceCents is the sum of document allowances (BT-107).
	AllowanceCents int64
	// TaxExclusiveCents is the total without VAT (BT-109).
	TaxExclusiveCents int64
	// VATCents is the total VAT (BT-110).
	VATCents int64
	// TaxInclusiveCents is the total with VAT (BT-112).
	TaxInclusiveCents int64
	// PayableCents is the amount due (BT-115).
	PayableCents int64
	// Breakdown has one entry per VAT category and rate (BG-23), in the
	// order of first appearance on the lines, then the allowances.
	Breakdown []Subtotal
}

// Subtotal is one VAT breakdown (BG-23).
type Subtotal struct {
	// VAT is the category, rate and exemption reason of the breakdown.
	VAT          VAT
	TaxableCents int64
	VATCents     int64
}

// Totals computes the document's totals under RoundingRule. The figures
// of a document that does not Validate are not meaningful.
func (d *Document) Totals() Totals {
	var t Totals
	index := map[[2]string]int{}
	sub := func(v VAT) *Subtotal {
		k := breakdownKey(v)
		i, ok := index[k]
		if !ok {
			i = len(t.Breakdown)
			index[k] = i
			if v.Category == CategoryOutsideScope {
				v.Rate = 0
			}
			t.Breakdown = append(t.Breakdown, Subtotal{VAT: v})
		}
		return &t.Breakdown[i]
	}
	t.LineNetCents = make([]int64, len(d.Lines))
	for i, l := range d.Lines {
		n := LineNetCents(l.Quantity, l.UnitPriceCents, l.BaseQuantity)
		t.LineNetCents[i] = n
		t.LineExtensionCents += n
		sub(l.VAT).TaxableCents += n
	}
	for _, a := range d.Allowances {
		t.AllowanceCents += a.AmountCents
		sub(a.VAT).TaxableCents -= a.AmountCents
	}
	for i := range t.Breakdown {
		s := &t.Breakdown[i]
		if s.VAT.Category == CategoryOutsideScope {
			continue
		}
		s.VATCents = VATCents(s.TaxableCents, s.VAT.Rate)
		t.VATCents += s.VATCents
	}
	t.TaxExclusiveCents = t.LineExtensionCents - t.AllowanceCents
	t.TaxInclusiveCents = t.TaxExclusiveCents + t.VATCents
	t.PayableCents = t.TaxInclusiveCents
	return t
}

// breakdownKey is a VAT breakdown's identity: category and rate (O has no
// rate).
func breakdownKey(v VAT) [2]string {
	if v.Category == CategoryOutsideScope {
		return [2]string{string(v.Category), ""}
	}
	return [2]string{string(v.Category), v.Rate.String()}
}

// Categories lists the distinct VAT categories of the document's lines
// and allowances, sorted.
func (d *Document) Categories() []Category {
	var cs []Category
	for _, l := range d.Lines {
		cs = append(cs, l.VAT.Category)
	}
	for _, a := range d.Allowances {
		cs = append(cs, a.VAT.Category)
	}
	slices.Sort(cs)
	return slices.Compact(cs)
}
