package credit

import (
	"cmp"
	"slices"

	"github.com/smartworkcenters/swc/central/domain"
)

// RoundingRule states how amounts are rounded; it is carried in every
// settlement so that an export explains itself.
const RoundingRule = "amount_cents = minutes × rate_cents / 60, rounded to the nearest cent, halves away from zero, once per settlement line (never per visit)"

// amountCents applies RoundingRule.
func amountCents(minutes, rateCents int64) int64 {
	n := minutes * rateCents
	if n >= 0 {
		return (n + 30) / 60
	}
	return -((-n + 30) / 60)
}

// Adjustment is a correction, booked in an open period, of the credited
// minutes of a closed period (BelongsTo) for one member at one center:
// what a recomputation of BelongsTo now gives minus what was frozen and
// what earlier adjustments already booked. Minutes may be negative.
type Adjustment struct {
	MemberID     string `json:"member_id"`
	CenterID     string `json:"center_id"`
	Class        Class  `json:"class"`
	HomeCenterID string `json:"home_center_id,omitempty"`
	BelongsTo    Period `json:"belongs_to"`
	BookedIn     Period `json:"booked_in"`
	Minutes      int64  `json:"minutes"`
	// RateCents is the center's rate frozen with BelongsTo (its current
	// rate when BelongsTo has no frozen line for the center).
	RateCents int64 `json:"rate_cents"`
}

// Settlement is what the cooperative pays each center for one period.
type Settlement struct {
	Period           Period `json:"period"`
	TimeZone         string `json:"time_zone"`
	Closed           bool   `json:"closed"`
	DefaultRateCents int64  `json:"default_rate_cents"`
	// Currency is the ISO 4217 code of the amounts ("" when not set).
	Currency string `json:"currency,omitempty"`
	// SettingsVersion is the network settings version the period was
	// computed with (0: the defaults); a closed period keeps it.
	SettingsVersion int64 `json:"settings_version"`
	// Override, when not "", says that the settlement was computed with
	// rules given on the command line instead of the stored settings
	// (swc-central settle's one-off recomputation).
	Override string `json:"override,omitempty"`
	Rounding string `json:"rounding"`
	// Centers has one line per center, sorted by id.
	Centers []CenterLine `json:"centers"`
	// CrossCenter has one line per host and home center pair (and period
	// adjusted): what the home center is invoiced for its members' hours
	// at the host.
	CrossCenter []CrossCenterLine `json:"cross_center"`
	// Adjustments has one line per center, closed period adjusted, class
	// and home center.
	Adjustments []AdjustmentLine `json:"adjustments"`
	// Counts sums the counts of every member in the period.
	Counts Counts `json:"counts,omitempty"`
	// Problems lists the directory records left out of the computation
	// (or kept with a caveat) when the settlement was built.
	Problems []Problem `json:"problems,omitempty"`
	// TotalCents is what the cooperative pays all centers for the period.
	TotalCents int64 `json:"total_cents"`
}

// CenterLine is one center's figures in a settlement.
type CenterLine struct {
	CenterID           string `json:"center_id"`
	Name               string `json:"name,omitempty"`
	RateCents          int64  `json:"rate_cents"`
	CreditedVisits     int64  `json:"credited_visits"`
	NomadicMinutes     int64  `json:"nomadic_minutes"`
	CrossCenterMinutes int64  `json:"cross_center_minutes"`
	NomadicCents       int64  `json:"nomadic_cents"`
	CrossCenterCents   int64  `json:"cross_center_cents"`
	AmountCents        int64  `json:"amount_cents"`
	AdjustmentMinutes  int64  `json:"adjustment_minutes"`
	AdjustmentCents    int64  `json:"adjustment_cents"`
	// TotalCents is what the cooperative pays the center: amount plus adjustments.
	TotalCents int64 `json:"total_cents"`
	// OwnStaffBookingMinutes is the part of the credited minutes (nomadic
	// and cross-center, adjustments aside) that bookings made by the
	// center's own staff cover: the center booked them for itself, so an
	// auditor looks at them first (PRODUCT.md 4.6). It is included in the
	// minutes above, not added to them.
	OwnStaffBookingMinutes int64 `json:"own_staff_booking_minutes"`
	// HomeRecordedVisits counts visits of the center's own members, recorded
	// and not credited.
	HomeRecordedVisits int64 `json:"home_recorded_visits"`
	// InvoiceMinutes and InvoiceCents are the hours of this center's local
	// members at other centers (adjustments included): what the cooperative
	// invoices this center.
	InvoiceMinutes int64 `json:"invoice_minutes"`
	InvoiceCents   int64 `json:"invoice_cents"`
}

// CrossCenterLine is the hours of one home center's members at one host.
type CrossCenterLine struct {
	HostCenterID string `json:"host_center_id"`
	HomeCenterID string `json:"home_center_id"`
	// BelongsTo is set for an adjustment of a closed period.
	BelongsTo   Period `json:"belongs_to,omitzero"`
	Minutes     int64  `json:"minutes"`
	RateCents   int64  `json:"rate_cents"`
	AmountCents int64  `json:"amount_cents"`
}

// AdjustmentLine sums the adjustments of one center for one closed period,
// class and home center.
type AdjustmentLine struct {
	CenterID     string `json:"center_id"`
	BelongsTo    Period `json:"belongs_to"`
	Class        Class  `json:"class"`
	HomeCenterID string `json:"home_center_id,omitempty"`
	Minutes      int64  `json:"minutes"`
	RateCents    int64  `json:"rate_cents"`
	AmountCents  int64  `json:"amount_cents"`
}

// buildSettlement aggregates one period: member results (visits starting
// in it) and adjustments booked in it. Amounts are rounded once per line.
func buildSettlement(cfg *Config, dir *Directory, p Period, mps []MemberPeriod, adjs []Adjustment, closed bool) *Settlement {
	s := &Settlement{Period: p, TimeZone: cfg.Location.String(), DefaultRateCents: cfg.DefaultRateCents, Rounding: RoundingRule,
		Currency: cfg.Currency, SettingsVersion: cfg.SettingsVersion,
		Closed: closed, Centers: []CenterLine{}, CrossCenter: []CrossCenterLine{}, Adjustments: []AdjustmentLine{}}
	lines := map[string]*CenterLine{}
	line := func(id string) *CenterLine {
		if l := lines[id]; l != nil {
			return l
		}
		l := &CenterLine{CenterID: id}
		var c *domain.Center
		if ci := dir.centers[id]; ci != nil {
			c = &ci.Center
			l.Name = c.Name
		}
		l.RateCents = cfg.rate(c)
		lines[id] = l
		return l
	}
	for _, id := range dir.centerIDs {
		line(id)
	}
	type pairKey struct {
		host, home string
		belongs    Period
		rate       int64
	}
	pairs := map[pairKey]int64{}
	counts := Counts{}
	for i := range mps {
		counts.add(mps[i].Counts)
		for j := range mps[i].Visits {
			v := &mps[i].Visits[j]
			if v.Class == ClassHome {
				line(v.CenterID).HomeRecordedVisits++
			}
			if !v.Credited {
				continue
			}
			l := line(v.CenterID)
			l.CreditedVisits++
			l.OwnStaffBookingMinutes += v.OwnStaffBookingMinutes
			switch v.Class {
			case ClassNomadic:
				l.NomadicMinutes += v.CreditedMinutes
			case ClassCrossCenter:
				l.CrossCenterMinutes += v.CreditedMinutes
				pairs[pairKey{host: v.CenterID, home: v.HomeCenterID, rate: l.RateCents}] += v.CreditedMinutes
			}
		}
	}
	type adjKey struct {
		center  string
		belongs Period
		class   Class
		home    string
		rate    int64
	}
	adjLines := map[adjKey]int64{}
	for _, a := range adjs {
		adjLines[adjKey{a.CenterID, a.BelongsTo, a.Class, a.HomeCenterID, a.RateCents}] += a.Minutes
		if a.Class == ClassCrossCenter {
			pairs[pairKey{host: a.CenterID, home: a.HomeCenterID, belongs: a.BelongsTo, rate: a.RateCents}] += a.Minutes
		}
	}
	for k, mins := range adjLines {
		al := AdjustmentLine{CenterID: k.center, BelongsTo: k.belongs, Class: k.class, HomeCenterID: k.home,
			Minutes: mins, RateCents: k.rate, AmountCents: amountCents(mins, k.rate)}
		s.Adjustments = append(s.Adjustments, al)
		l := line(k.center)
		l.AdjustmentMinutes += al.Minutes
		l.AdjustmentCents += al.AmountCents
	}
	for k, mins := range pairs {
		cl := CrossCenterLine{HostCenterID: k.host, HomeCenterID: k.home, BelongsTo: k.belongs,
			Minutes: mins, RateCents: k.rate, AmountCents: amountCents(mins, k.rate)}
		s.CrossCenter = append(s.CrossCenter, cl)
		if k.belongs.IsZero() {
			line(k.host).CrossCenterCents += cl.AmountCents
		}
		if k.home != "" {
			h := line(k.home)
			h.InvoiceMinutes += cl.Minutes
			h.InvoiceCents += cl.AmountCents
		}
	}
	for _, l := range lines {
		l.NomadicCents = amountCents(l.NomadicMinutes, l.RateCents)
		l.AmountCents = l.NomadicCents + l.CrossCenterCents
		l.TotalCents = l.AmountCents + l.AdjustmentCents
		s.TotalCents += l.TotalCents
		s.Centers = append(s.Centers, *l)
	}
	slices.SortFunc(s.Centers, func(a, b CenterLine) int { return cmp.Compare(a.CenterID, b.CenterID) })
	slices.SortFunc(s.CrossCenter, func(a, b CrossCenterLine) int {
		return cmp.Or(cmp.Compare(a.HostCenterID, b.HostCenterID), cmp.Compare(a.HomeCenterID, b.HomeCenterID),
			comparePeriods(a.BelongsTo, b.BelongsTo), cmp.Compare(a.RateCents, b.RateCents))
	})
	slices.SortFunc(s.Adjustments, func(a, b AdjustmentLine) int {
		return cmp.Or(cmp.Compare(a.CenterID, b.CenterID), comparePeriods(a.BelongsTo, b.BelongsTo),
			cmp.Compare(a.Class, b.Class), cmp.Compare(a.HomeCenterID, b.HomeCenterID), cmp.Compare(a.RateCents, b.RateCents))
	})
	if len(counts) > 0 {
		s.Counts = counts
	}
	if len(dir.problems) > 0 {
		s.Problems = dir.Problems()
	}
	return s
}

// ForCenter returns the settlement as a center manager may see it: the
// center's own line, the cross-center lines where it is host or home, and
// its adjustment lines. Network-wide counts and totals are left out.
func (s *Settlement) ForCenter(id string) *Settlement {
	out := *s
	out.Centers = []CenterLine{}
	out.CrossCenter = []CrossCenterLine{}
	out.Adjustments = []AdjustmentLine{}
	out.Counts = nil
	out.Problems = nil
	out.TotalCents = 0
	for _, l := range s.Centers {
		if l.CenterID == id {
			out.Centers = append(out.Centers, l)
			out.TotalCents = l.TotalCents
		}
	}
	for _, l := range s.CrossCenter {
		if l.HostCenterID == id || l.HomeCenterID == id {
			out.CrossCenter = append(out.CrossCenter, l)
		}
	}
	for _, l := range s.Adjustments {
		if l.CenterID == id {
			out.Adjustments = append(out.Adjustments, l)
		}
	}
	return &out
}

// ForCenter returns the part of a member's statement at one center, as the
// manager of a center the member visited may see it: the visits and
// adjustment lines at that center only, summed again. The member's name
// and network-wide counts are left out: a host center sees the member id
// its doors already show, not who the member is nor where else they went.
func (st *Statement) ForCenter(id string) *Statement {
	out := *st
	out.Name = ""
	out.Counts = nil
	out.Centers = []StatementCenter{}
	out.Visits = []Visit{}
	out.Adjustments = []Adjustment{}
	out.CreditedMinutes, out.AdjustmentMinutes = 0, 0
	for _, c := range st.Centers {
		if c.CenterID == id {
			out.Centers = append(out.Centers, c)
		}
	}
	for _, v := range st.Visits {
		if v.CenterID == id {
			out.Visits = append(out.Visits, v)
			if v.Credited {
				out.CreditedMinutes += v.CreditedMinutes
			}
		}
	}
	for _, a := range st.Adjustments {
		if a.CenterID == id {
			out.Adjustments = append(out.Adjustments, a)
			out.AdjustmentMinutes += a.Minutes
		}
	}
	return &out
}

// Center returns the center's line, or false.
func (s *Settlement) Center(id string) (CenterLine, bool) {
	for _, l := range s.Centers {
		if l.CenterID == id {
			return l, true
		}
	}
	return CenterLine{}, false
}

// Statement is a member's single bill for one period: their visits at
// every center, credited or recorded, and adjustments of closed periods.
type Statement struct {
	Period       Period            `json:"period"`
	TimeZone     string            `json:"time_zone"`
	MemberID     string            `json:"member_id"`
	Name         string            `json:"name,omitempty"`
	HomeCenterID string            `json:"home_center_id,omitempty"`
	Nomadic      bool              `json:"nomadic"`
	Centers      []StatementCenter `json:"centers"`
	Visits       []Visit           `json:"visits"`
	Adjustments  []Adjustment      `json:"adjustments"`
	// CreditedMinutes sums credited visits; AdjustmentMinutes the adjustments.
	CreditedMinutes   int64  `json:"credited_minutes"`
	AdjustmentMinutes int64  `json:"adjustment_minutes"`
	Counts            Counts `json:"counts,omitempty"`
}

// StatementCenter sums a member's visits at one center.
type StatementCenter struct {
	CenterID        string `json:"center_id"`
	Class           Class  `json:"class"`
	Visits          int64  `json:"visits"`
	CreditedVisits  int64  `json:"credited_visits"`
	CreditedMinutes int64  `json:"credited_minutes"`
}

func buildStatement(cfg *Config, dir *Directory, mp *MemberPeriod, adjs []Adjustment) *Statement {
	st := &Statement{Period: mp.Period, TimeZone: cfg.Location.String(), MemberID: mp.MemberID, Centers: []StatementCenter{},
		Visits: slices.Clone(mp.Visits), Adjustments: slices.Clone(adjs), Counts: mp.Counts.clone()}
	if st.Visits == nil {
		st.Visits = []Visit{}
	}
	if st.Adjustments == nil {
		st.Adjustments = []Adjustment{}
	}
	if m := dir.Member(mp.MemberID); m != nil {
		st.Name, st.HomeCenterID, st.Nomadic = m.Name, m.HomeCenterID, m.Nomadic()
	}
	byCenter := map[string]*StatementCenter{}
	for _, v := range mp.Visits {
		sc := byCenter[v.CenterID]
		if sc == nil {
			sc = &StatementCenter{CenterID: v.CenterID, Class: v.Class}
			byCenter[v.CenterID] = sc
		}
		sc.Visits++
		if v.Credited {
			sc.CreditedVisits++
			sc.CreditedMinutes += v.CreditedMinutes
			st.CreditedMinutes += v.CreditedMinutes
		}
	}
	for _, sc := range byCenter {
		st.Centers = append(st.Centers, *sc)
	}
	slices.SortFunc(st.Centers, func(a, b StatementCenter) int { return cmp.Compare(a.CenterID, b.CenterID) })
	for _, a := range adjs {
		st.AdjustmentMinutes += a.Minutes
	}
	return st
}
