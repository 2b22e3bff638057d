package billing

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/web/i18n"
)

// Purposes of a document: what it bills, unique per (period, subject).
const (
	PurposeInvoice     = "invoice"       // a member's usage of the period
	PurposeSelfBilling = "self_billing"  // a center's nomadic hours, self-billed by the cooperative
	purposeCross       = "cross_center:" // + the host: a home center's members' hours at the host
	purposeExtra       = "extra:"        // + the corrected period: late hours billed
	purposeCredit      = "credit:"       // + the corrected period: hours credited back
	purposeVoid        = "void:"         // + the voided document's number
)

// SelfBillingSeries is the issuer key of the cooperative's self-billed
// invoices: numbered apart from its member invoices.
const SelfBillingSeries = CooperativeID + "-sb"

// Input is what a period's documents are made from: the ledger's frozen
// period, the prices, the parties' billing details and what was already
// issued.
type Input struct {
	Period    credit.Period
	IssueDate time.Time
	// DueDays is the payment term (0: 30 days).
	DueDays  int
	Currency string
	// Settlement is the frozen settlement of Period (center names, rates
	// of the self-billing).
	Settlement *credit.Settlement
	// Results are the members' frozen results of Period.
	Results []credit.MemberPeriod
	// Adjustments are the adjustment lines booked in Period (late events
	// of earlier, closed periods).
	Adjustments []credit.Adjustment
	Prices      Prices
	// RoomBookings are the room bookings of the period (BilledRoom says
	// which are billed), Location the network's time zone (UTC when nil).
	RoomBookings []RoomBooking
	Location     *time.Location
	// Packs are the hour packs of the members, with their uses.
	Packs []Pack
	// Details by DetailsKey.
	Details map[string]Details
	// Catalog writes the documents' lines and notes in their buyer's
	// language (Details.Lang; the self-billed invoices in the center's);
	// nil: the embedded catalog (i18n.New).
	Catalog *i18n.Catalog
	// Issued are the documents issued before: those of Period are not
	// planned again, and corrections refer to the invoices of the periods
	// they correct.
	Issued []Issued
}

// DetailsKey is the key of a party's details in Input.Details.
func DetailsKey(k PartyKind, id string) string { return string(k) + "/" + id }

// Draft is a document ready to be numbered: Doc has no Number and no
// structured communication yet.
type Draft struct {
	Issuer  string        `json:"issuer"`
	Period  credit.Period `json:"period"`
	Subject string        `json:"subject"` // the member, or the center self-billed
	Purpose string        `json:"purpose"`
	// MemberID or CenterID (self-billing) the document concerns.
	MemberID string           `json:"member_id,omitempty"`
	CenterID string           `json:"center_id,omitempty"`
	Doc      invoice.Document `json:"-"`
	// PackUses are the minutes the document takes from hour packs: the
	// store keeps them with the document.
	PackUses []PackUse `json:"pack_uses,omitempty"`
}

// Missing is a party that cannot be invoiced: no or invalid details, or
// no price. Reason says why in English (logs, API); Code and Args say it
// for a program, such as a page that says it in the viewer's language.
type Missing struct {
	Kind   PartyKind   `json:"kind"`
	ID     string      `json:"id"`
	Reason string      `json:"reason"`
	Code   MissingCode `json:"code"`
	// Args are the values Reason names, by name: "price" (a PriceKind),
	// "period" (YYYY-MM), "room", "center", "error" (the details' fault),
	// "codes" (the VATEX codes that clash), as Code has them.
	Args map[string]string `json:"args,omitempty"`
}

// MissingCode is why a party cannot be invoiced.
type MissingCode string

// The reasons of Missing, with their Args.
const (
	MissingNoDetails      MissingCode = "no_details"      // no billing details
	MissingInvalidDetails MissingCode = "invalid_details" // error
	MissingNoPrice        MissingCode = "no_price"        // price, period
	MissingNoRoomPrice    MissingCode = "no_room_price"   // room, period
	MissingExemptionClash MissingCode = "exemption_clash" // codes
	MissingNoInvoice      MissingCode = "no_invoice"      // period: hours to credit back, no invoice of period
	MissingCrossCredit    MissingCode = "cross_credit"    // center: the home center whose members' hours are credited back
	MissingCatalog        MissingCode = "catalog"         // error: the translation catalog cannot be read
)

// MissingCodes are the codes of Missing (a page has words for each).
func MissingCodes() []MissingCode {
	return []MissingCode{MissingNoDetails, MissingInvalidDetails, MissingNoPrice, MissingNoRoomPrice,
		MissingExemptionClash, MissingNoInvoice, MissingCrossCredit, MissingCatalog}
}

// IssuerTotal is a dry run's figures for one issuer.
type IssuerTotal struct {
	Issuer        string `json:"issuer"`
	Documents     int    `json:"documents"`
	CreditNotes   int    `json:"credit_notes"`
	NetCents      int64  `json:"net_cents"`
	VATCents      int64  `json:"vat_cents"`
	PayableCents  int64  `json:"payable_cents"`
	CreditedCents int64  `json:"credited_cents"`
}

// Plan is a dry run: the documents a period would issue, their totals per
// issuer, and every party that blocks its invoice.
type Plan struct {
	Period  credit.Period `json:"period"`
	Drafts  []Draft       `json:"drafts"`
	Totals  []IssuerTotal `json:"totals"`
	Missing []Missing     `json:"missing"`
}

// minutesKey groups a member's billable minutes.
type minutesKey struct {
	issuer  string
	price   PriceKind
	priceAt string // center of the price ("" for the cooperative)
	host    string // where the hours were spent
	class   credit.Class
}

// MakePlan builds the documents of in.Period not issued yet (in.Issued)
// and their totals. It is pure: the same input gives the same drafts. Each member gets at most one invoice of the
// period from the issuer that owns the client (the cooperative for a
// nomadic member, the home center for a local one), with one line per
// center where the hours were spent; each (member, corrected period)
// with late hours gets an extra invoice and, for hours taken back, a
// credit note referring to the invoice of the corrected period.
func MakePlan(in *Input) *Plan {
	pl := &Plan{Period: in.Period, Drafts: []Draft{}, Missing: []Missing{}, Totals: []IssuerTotal{}}
	names := map[string]string{}
	if in.Settlement != nil {
		for _, l := range in.Settlement.Centers {
			names[l.CenterID] = cmp.Or(l.Name, l.CenterID)
		}
	}
	cat := in.Catalog
	if cat == nil {
		var err error
		if cat, err = i18n.New(); err != nil {
			// The embedded catalog is checked by its tests: nothing is
			// planned in words that cannot be written.
			pl.Missing = append(pl.Missing, Missing{Kind: PartyCooperative, ID: CooperativeID, Code: MissingCatalog, Reason: err.Error()})
			return pl
		}
	}
	b := &builder{in: in, pl: pl, cat: cat, names: names, rooms: map[string][]RoomBooking{}, packs: map[string][]Pack{}}
	members := map[string]bool{}
	for i := range in.Results {
		members[in.Results[i].MemberID] = true
	}
	for _, rb := range in.RoomBookings {
		if BilledRoom(rb, in.Period, in.Location) {
			b.rooms[rb.MemberID] = append(b.rooms[rb.MemberID], rb)
			members[rb.MemberID] = true
		}
	}
	for _, pk := range in.Packs {
		b.packs[pk.MemberID] = append(b.packs[pk.MemberID], pk)
		if pk.ValidFrom == in.Period {
			members[pk.MemberID] = true
		}
	}
	adjs := map[string][]credit.Adjustment{}
	for _, a := range in.Adjustments {
		adjs[a.MemberID] = append(adjs[a.MemberID], a)
		members[a.MemberID] = true
	}
	results := map[string]*credit.MemberPeriod{}
	for i := range in.Results {
		results[in.Results[i].MemberID] = &in.Results[i]
	}
	ids := make([]string, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		b.member(id, results[id], adjs[id])
	}
	b.selfBilling()
	b.crossCenter()
	done := map[[3]string]bool{}
	for _, is := range in.Issued {
		done[[3]string{is.Period.String(), is.Subject, is.Purpose}] = true
	}
	pl.Drafts = slices.DeleteFunc(pl.Drafts, func(d Draft) bool { return done[[3]string{d.Period.String(), d.Subject, d.Purpose}] })
	b.totals()
	return pl
}

type builder struct {
	in    *Input
	pl    *Plan
	cat   *i18n.Catalog
	names map[string]string
	// rooms and packs by member.
	rooms map[string][]RoomBooking
	packs map[string][]Pack
}

// missing records that party (k, id) cannot be invoiced, once: code, its
// args (name, value pairs) and the English reason.
func (b *builder) missing(k PartyKind, id string, code MissingCode, args []string, format string, fargs ...any) {
	for _, m := range b.pl.Missing {
		if m.Kind == k && m.ID == id {
			return
		}
	}
	m := Missing{Kind: k, ID: id, Code: code, Reason: fmt.Sprintf(format, fargs...)}
	for i := 0; i+1 < len(args); i += 2 {
		if m.Args == nil {
			m.Args = map[string]string{}
		}
		m.Args[args[i]] = args[i+1]
	}
	b.pl.Missing = append(b.pl.Missing, m)
}

// details returns valid details, or records why they are missing.
func (b *builder) details(k PartyKind, id string) (Details, bool) {
	d, ok := b.in.Details[DetailsKey(k, id)]
	if !ok {
		b.missing(k, id, MissingNoDetails, nil, "no billing details")
		return d, false
	}
	if err := d.Validate(); err != nil {
		b.missing(k, id, MissingInvalidDetails, []string{"error", err.Error()}, "billing details: %v", err)
		return d, false
	}
	return d, true
}

func issuerParty(home string) (PartyKind, string) {
	if home == "" {
		return PartyCooperative, CooperativeID
	}
	return PartyCenter, home
}

// hourPrice is the price of an hour with the issuer of the class.
func hourPrice(home string) (PriceKind, string) {
	if home == "" {
		return PriceNomadicHour, ""
	}
	return PriceCenterHour, home
}

// QuarterMinutes is a duration rounded up to the quarter hour, in
// minutes: the crediting's rounding (credit.Visit.CreditedMinutes), used
// for a local member's hours at home, which the ledger records without
// crediting them.
func QuarterMinutes(d time.Duration) int64 {
	q := int64(15 * time.Minute)
	return (int64(d) + q - 1) / q * 15
}

// member plans one member's documents.
func (b *builder) member(id string, mp *credit.MemberPeriod, adjs []credit.Adjustment) {
	home, known := "", false
	minutes := map[minutesKey]int64{}
	var chunks []chunk
	var noShows int64
	if mp != nil {
		for _, v := range mp.Visits {
			home, known = v.HomeCenterID, true
			k, at := hourPrice(v.HomeCenterID)
			key := minutesKey{issuer: issuerOf(v.HomeCenterID), price: k, priceAt: at, host: v.CenterID, class: v.Class}
			switch {
			case v.Credited:
				minutes[key] += v.CreditedMinutes
				chunks = append(chunks, chunk{at: v.Start, key: key, minutes: v.CreditedMinutes})
			case v.Class == credit.ClassHome && v.Why == credit.WhyHomeCenter:
				q := QuarterMinutes(v.End.Sub(v.Start))
				minutes[key] += q
				chunks = append(chunks, chunk{at: v.Start, key: key, minutes: q})
			case v.Why == credit.WhyNoShow:
				noShows += max(int64(len(v.Bookings)), 1)
			}
		}
	}
	if !known && len(adjs) > 0 {
		home, known = adjs[0].HomeCenterID, true
	}
	rooms := b.rooms[id]
	if !known && len(rooms) > 0 {
		home, known = rooms[0].HomeCenterID, true
	}
	packs := b.packs[id]
	if !known && len(packs) > 0 {
		// The latest pack sold: its issuer owns the client now.
		last := slices.MaxFunc(packs, func(a, b Pack) int {
			return cmp.Or(cmp.Compare(a.ValidFrom.String(), b.ValidFrom.String()), cmp.Compare(a.ID, b.ID))
		})
		if home = last.Issuer; home == CooperativeID {
			home = ""
		}
	}
	var bought []*Pack
	for i := range packs {
		if packs[i].Issuer == issuerOf(home) && packs[i].ValidFrom == b.in.Period {
			bought = append(bought, &packs[i])
		}
	}
	if len(minutes) == 0 && noShows == 0 && len(adjs) == 0 && len(rooms) == 0 && len(bought) == 0 {
		return
	}
	md, ok := b.details(PartyMember, id)
	ik, iid := issuerParty(home)
	issuer, iok := b.details(ik, iid)
	if !ok || !iok {
		return
	}
	w := newWords(b.cat, md.Lang)
	cur := b.doc(w, issuer, md, id)
	// A monthly pass covers the hours with the issuer (hourLines leaves
	// them out); packs cover the rest, in order of time.
	var billable []chunk
	for _, c := range chunks {
		if !passCovers(md, c.key) {
			billable = append(billable, c)
		}
	}
	var mine []Pack
	for _, p := range packs {
		if p.Issuer == issuerOf(home) {
			mine = append(mine, p)
		}
	}
	covered, uses := consume(mine, b.in.Period, billable)
	lines, priced := b.hourLines(w, md, issuer, home, minutes, covered, b.in.Period, false)
	if !priced {
		return // a price is missing: recorded by price
	}
	roomLines, priced := b.roomLines(w, md, issuer, rooms)
	if !priced {
		return
	}
	lines = append(lines, roomLines...)
	if md.Plan == PlanMonthlyPass && len(minutes) > 0 {
		if p, ok := b.price(PriceMonthlyPass, home, "", b.in.Period, ik, iid); ok {
			lines = append(lines, invoice.Line{Description: w.T("billing.doc.pass", "period", w.month(b.in.Period)), Quantity: invoice.Units(1), Unit: "MON",
				UnitPriceCents: p.Cents, VAT: lineVAT(issuer, md, p)})
		}
	}
	for _, p := range bought {
		lines = append(lines, b.packLine(w, md, issuer, p))
	}
	if noShows > 0 {
		if p, ok := b.in.Prices.At(PriceNoShow, home, "", b.in.Period); ok && p.Cents > 0 {
			lines = append(lines, invoice.Line{Description: w.T("billing.doc.no_show"), Quantity: invoice.Units(noShows), Unit: "C62",
				UnitPriceCents: p.Cents, VAT: lineVAT(issuer, md, p)})
		}
	}
	if len(lines) > 0 {
		if codes := exemptionClash(lines); codes != nil {
			b.missing(PartyMember, id, MissingExemptionClash, []string{"codes", codes[0] + ", " + codes[1]},
				"lines exempt under %s and %s: one invoice has one exemption reason (set one price's exemption)", codes[0], codes[1])
			return
		}
		cur.Type = invoice.TypeInvoice
		cur.Lines = lines
		if cur.Totals().PayableCents == 0 {
			cur.Payment = nil // nothing to pay: hours covered by packs
		}
		b.add(w, Draft{Issuer: issuerOf(home), Subject: id, Purpose: PurposeInvoice, MemberID: id, PackUses: uses}, cur)
	}
	b.corrections(w, id, md, issuer, home, adjs)
}

// passCovers reports whether the member's monthly pass covers the hours
// of k: all hours with the issuer for a nomadic member, the home center's
// for a local one.
func passCovers(md Details, k minutesKey) bool {
	return md.Plan == PlanMonthlyPass && (k.class == credit.ClassNomadic || k.class == credit.ClassHome)
}

// exemptionClash returns the two VATEX codes of lines exempt for
// different reasons, which cannot be on one invoice (EN 16931 has one
// breakdown, so one reason, per category), or nil.
func exemptionClash(lines []invoice.Line) []string {
	first := map[invoice.Category]invoice.VAT{}
	for _, l := range lines {
		if l.VAT.Category != invoice.CategoryExempt {
			continue
		}
		if f, ok := first[l.VAT.Category]; ok && f.ExemptionReasonCode != l.VAT.ExemptionReasonCode {
			return []string{f.ExemptionReasonCode, l.VAT.ExemptionReasonCode}
		}
		first[l.VAT.Category] = l.VAT
	}
	return nil
}

func issuerOf(home string) string {
	if home == "" {
		return CooperativeID
	}
	return home
}

// corrections plans the documents of the adjustments booked in the period.
func (b *builder) corrections(w words, id string, md, issuer Details, home string, adjs []credit.Adjustment) {
	byPeriod := map[credit.Period]map[minutesKey]int64{}
	for _, a := range adjs {
		k, at := hourPrice(a.HomeCenterID)
		m := byPeriod[a.BelongsTo]
		if m == nil {
			m = map[minutesKey]int64{}
			byPeriod[a.BelongsTo] = m
		}
		m[minutesKey{issuer: issuerOf(a.HomeCenterID), price: k, priceAt: at, host: a.CenterID, class: a.Class}] += a.Minutes
	}
	periods := make([]credit.Period, 0, len(byPeriod))
	for p := range byPeriod {
		periods = append(periods, p)
	}
	slices.SortFunc(periods, func(a, b credit.Period) int { return cmp.Compare(a.String(), b.String()) })
	for _, p := range periods {
		plus, minus := map[minutesKey]int64{}, map[minutesKey]int64{}
		for k, m := range byPeriod[p] {
			switch {
			case m > 0:
				plus[k] = m
			case m < 0:
				minus[k] = -m
			}
		}
		ref := b.invoiceOf(id, p)
		if len(plus) > 0 {
			if lines, ok := b.hourLines(w, md, issuer, home, plus, nil, p, true); ok && lines != nil {
				d := b.doc(w, issuer, md, id)
				d.Type, d.Lines, d.Corrects = invoice.TypeInvoice, lines, ref
				b.add(w, Draft{Issuer: issuerOf(home), Subject: id, Purpose: purposeExtra + p.String(), MemberID: id}, d)
			}
		}
		if len(minus) > 0 {
			if ref == nil {
				b.missing(PartyMember, id, MissingNoInvoice, []string{"period", p.String()}, "hours of %s to credit back, but no invoice of %s to correct", p, p)
				continue
			}
			if lines, ok := b.hourLines(w, md, issuer, home, minus, nil, p, true); ok && lines != nil {
				d := b.doc(w, issuer, md, id)
				d.Type, d.Lines, d.Corrects = invoice.TypeCreditNote, lines, ref
				d.Payment = nil
				b.add(w, Draft{Issuer: issuerOf(home), Subject: id, Purpose: purposeCredit + p.String(), MemberID: id}, d)
			}
		}
	}
}

// invoiceOf is the member's invoice of period p, if issued.
func (b *builder) invoiceOf(member string, p credit.Period) *invoice.Reference {
	for i := range b.in.Issued {
		is := &b.in.Issued[i]
		if is.MemberID == member && is.Period == p && is.Purpose == PurposeInvoice {
			return &invoice.Reference{Number: is.Number, IssueDate: is.Doc.IssueDate}
		}
	}
	return nil
}

func (b *builder) price(k PriceKind, center, room string, p credit.Period, ik PartyKind, iid string) (Price, bool) {
	pr, ok := b.in.Prices.At(k, center, room, p)
	if !ok {
		b.missing(ik, iid, MissingNoPrice, []string{"price", string(k), "period", p.String()}, "no %s price for %s", k, p)
	}
	return pr, ok
}

// hourLines makes one line per (host center, class) of minutes, priced at
// the issuer's hourly price valid in period p, leaving out the hours a
// monthly pass covers and the hours packs cover (covered, by key and
// pack: a line at price 0 per pack beside the line of the hours billed),
// in w's words, as a correction of p when correction is set; ok is false
// when a price is missing.
func (b *builder) hourLines(w words, md, issuer Details, home string, minutes map[minutesKey]int64, covered map[minutesKey]map[string]int64, p credit.Period, correction bool) (lines []invoice.Line, ok bool) {
	label := func(s string) string {
		if correction {
			return w.T("billing.doc.correction", "period", w.month(p), "line", s)
		}
		return s
	}
	keys := make([]minutesKey, 0, len(minutes))
	for k := range minutes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b minutesKey) int {
		return cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.class, b.class))
	})
	for _, k := range keys {
		if passCovers(md, k) {
			continue // covered by the pass
		}
		ik, iid := issuerParty(home)
		pr, found := b.price(k.price, k.priceAt, "", p, ik, iid)
		if !found {
			return nil, false
		}
		where := cmp.Or(b.names[k.host], k.host)
		vat := lineVAT(issuer, md, pr)
		billed := minutes[k]
		packs := make([]string, 0, len(covered[k]))
		for id, m := range covered[k] {
			billed -= m
			packs = append(packs, id)
		}
		if billed > 0 {
			lines = append(lines, invoice.Line{Description: label(w.T("billing.doc.hours", "center", where)), Quantity: invoice.Units(billed), Unit: "MIN",
				UnitPriceCents: pr.Cents, BaseQuantity: invoice.Units(60), VAT: vat})
		}
		slices.Sort(packs)
		for _, id := range packs {
			lines = append(lines, invoice.Line{Description: label(w.T("billing.doc.hours_pack", "center", where, "pack", id)),
				Quantity: invoice.Units(covered[k][id]), Unit: "MIN", BaseQuantity: invoice.Units(60), VAT: vat})
		}
	}
	return lines, true
}

// euCountries are the member states of the EU (ISO 3166-1; Greece's VAT
// prefix is EL).
var euCountries = map[string]bool{
	"AT": true, "BE": true, "BG": true, "CY": true, "CZ": true, "DE": true, "DK": true, "EE": true, "EL": true,
	"ES": true, "FI": true, "FR": true, "GR": true, "HR": true, "HU": true, "IE": true, "IT": true, "LT": true,
	"LU": true, "LV": true, "MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SE": true, "SI": true, "SK": true,
}

// ReverseChargeReason is the exemption text of a reverse-charged line.
const ReverseChargeReason = "Reverse charge: VAT due by the customer (Art. 196 Directive 2006/112/EC)"

// VATFor is the VAT treatment of a supply by seller to buyer at the
// standard rate: reverse charge (AE) for a buyer with a VAT number of
// another EU member state than the seller's, else standard (S).
func VATFor(seller, buyer Details, rate invoice.Rate) invoice.VAT {
	if len(buyer.VATNumber) > 2 && len(seller.VATNumber) > 2 && euCountries[buyer.VATNumber[:2]] &&
		buyer.VATNumber[:2] != seller.VATNumber[:2] {
		return invoice.VAT{Category: invoice.CategoryReverseCharge, ExemptionReasonCode: "VATEX-EU-AE", ExemptionReason: ReverseChargeReason}
	}
	return invoice.VAT{Category: invoice.CategoryStandard, Rate: rate}
}

// doc is a document from seller to buyer for the period, without lines,
// its notes in w's words.
func (b *builder) doc(w words, seller, buyer Details, ref string) invoice.Document {
	p := b.in.Period
	loc := time.UTC
	start := time.Date(p.Year, p.Month, 1, 0, 0, 0, 0, loc)
	due := b.in.DueDays
	if due == 0 {
		due = 30
	}
	d := invoice.Document{
		IssueDate: b.in.IssueDate, DueDate: b.in.IssueDate.AddDate(0, 0, due),
		PeriodStart: start, PeriodEnd: start.AddDate(0, 1, -1),
		Currency: b.in.Currency, BuyerReference: ref, Note: w.T("billing.doc.period", "period", w.month(p)),
		Seller: seller.Party(), Buyer: buyer.Party(),
	}
	if seller.IBAN != "" {
		d.Payment = &invoice.Payment{IBAN: seller.IBAN, BIC: seller.BIC, AccountName: seller.Name, Terms: w.T("billing.doc.terms", "n", due)}
	}
	return d
}

// add plans d, its exemption texts in w's words.
func (b *builder) add(w words, dr Draft, d invoice.Document) {
	w.finish(&d)
	dr.Period = b.in.Period
	dr.Doc = d
	b.pl.Drafts = append(b.pl.Drafts, dr)
}

// selfBilling plans one self-billed invoice per center with nomadic hours
// (and nomadic adjustments) in the settlement, at the settlement's rates:
// each line is minutes × rate ÷ 60 rounded once, the settlement's own
// rounding, so its net equals the settlement's nomadic amount.
func (b *builder) selfBilling() {
	s := b.in.Settlement
	if s == nil {
		return
	}
	coop, cok := b.in.Details[DetailsKey(PartyCooperative, CooperativeID)]
	for _, l := range s.Centers {
		// In the center's language: the document is the center's, written
		// by the cooperative for it (the center's details may be missing:
		// then nothing is planned).
		w := newWords(b.cat, b.in.Details[DetailsKey(PartyCenter, l.CenterID)].Lang)
		var lines []invoice.Line
		if l.NomadicMinutes != 0 {
			lines = append(lines, invoice.Line{Description: w.T("billing.doc.self_billing", "period", w.month(s.Period)),
				Quantity: invoice.Units(l.NomadicMinutes), Unit: "MIN", UnitPriceCents: l.RateCents, BaseQuantity: invoice.Units(60)})
		}
		for _, a := range s.Adjustments {
			if a.CenterID == l.CenterID && a.Class == credit.ClassNomadic && a.Minutes != 0 {
				lines = append(lines, invoice.Line{Description: w.T("billing.doc.self_billing_correction", "period", w.month(a.BelongsTo)),
					Quantity: invoice.Units(a.Minutes), Unit: "MIN", UnitPriceCents: a.RateCents, BaseQuantity: invoice.Units(60)})
			}
		}
		if len(lines) == 0 {
			continue
		}
		cd, ok := b.details(PartyCenter, l.CenterID)
		if !cok {
			b.missing(PartyCooperative, CooperativeID, MissingNoDetails, nil, "no billing details")
		}
		if !ok || !cok {
			continue
		}
		for i := range lines {
			lines[i].VAT = VATFor(cd, coop, DefaultVAT)
		}
		d := b.doc(w, cd, coop, l.CenterID)
		d.Type, d.Lines = invoice.TypeSelfBilled, lines
		b.add(w, Draft{Issuer: SelfBillingSeries, Subject: l.CenterID, Purpose: PurposeSelfBilling, CenterID: l.CenterID}, d)
	}
}

// crossCenter plans, per host and home center, the host's invoice to the
// home center for the home's members' hours at the host (and their
// adjustments), at the settlement's rates, one line per settlement line:
// its net equals the settlement's cross-center amounts to the cent.
func (b *builder) crossCenter() {
	s := b.in.Settlement
	if s == nil {
		return
	}
	type pair struct{ host, home string }
	lines := map[pair][]invoice.Line{}
	var order []pair
	for _, l := range s.CrossCenter {
		if l.Minutes == 0 || l.HomeCenterID == "" {
			continue
		}
		k := pair{l.HostCenterID, l.HomeCenterID}
		if lines[k] == nil {
			order = append(order, k)
		}
		w := newWords(b.cat, b.in.Details[DetailsKey(PartyCenter, k.home)].Lang) // the buyer's
		desc := w.T("billing.doc.cross", "period", w.month(s.Period))
		if !l.BelongsTo.IsZero() {
			desc = w.T("billing.doc.cross_correction", "period", w.month(l.BelongsTo))
		}
		lines[k] = append(lines[k], invoice.Line{Description: desc, Quantity: invoice.Units(l.Minutes), Unit: "MIN",
			UnitPriceCents: l.RateCents, BaseQuantity: invoice.Units(60)})
	}
	for _, k := range order {
		host, hok := b.details(PartyCenter, k.host)
		home, mok := b.details(PartyCenter, k.home)
		if !hok || !mok {
			continue
		}
		ls := lines[k]
		for i := range ls {
			ls[i].VAT = VATFor(host, home, DefaultVAT)
		}
		w := newWords(b.cat, home.Lang)
		d := b.doc(w, host, home, k.home)
		d.Type, d.Lines = invoice.TypeInvoice, ls
		if d.Totals().PayableCents <= 0 {
			b.missing(PartyCenter, k.host, MissingCrossCredit, []string{"center", k.home}, "hours of %s's members to credit back: not invoiced", k.home)
			continue
		}
		b.add(w, Draft{Issuer: k.host, Subject: k.home, Purpose: purposeCross + k.host, CenterID: k.home}, d)
	}
}

func (b *builder) totals() {
	by := map[string]*IssuerTotal{}
	var order []string
	for i := range b.pl.Drafts {
		dr := &b.pl.Drafts[i]
		t := by[dr.Issuer]
		if t == nil {
			t = &IssuerTotal{Issuer: dr.Issuer}
			by[dr.Issuer] = t
			order = append(order, dr.Issuer)
		}
		tt := dr.Doc.Totals()
		if dr.Doc.IsCreditNote() {
			t.CreditNotes++
			t.CreditedCents += tt.PayableCents
			continue
		}
		t.Documents++
		t.NetCents += tt.TaxExclusiveCents
		t.VATCents += tt.VATCents
		t.PayableCents += tt.PayableCents
	}
	slices.Sort(order)
	for _, id := range order {
		b.pl.Totals = append(b.pl.Totals, *by[id])
	}
}
