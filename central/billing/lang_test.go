package billing_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/web/i18n"
)

// docKeys are the catalog's keys of the words on a document.
func docKeys(t *testing.T, cat *i18n.Catalog) []string {
	var keys []string
	for _, k := range cat.Keys(i18n.English) {
		if strings.HasPrefix(k, "billing.doc.") {
			keys = append(keys, k)
		}
	}
	require.NotEmpty(t, keys)
	return keys
}

var wordRE = regexp.MustCompile(`[\p{L}']+`)

// words are the lower-case words of s, placeholders left out.
func words(s string) []string {
	s = regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(s, " ")
	var out []string
	for _, w := range wordRE.FindAllString(s, -1) {
		out = append(out, strings.ToLower(strings.Trim(w, "'")))
	}
	return out
}

// englishWords are the words of the English messages of the documents'
// keys that the French and Dutch messages do not use (such as "hours",
// "covered", "exempt"; not "art" or "directive").
func englishWords(t *testing.T, cat *i18n.Catalog) map[string]bool {
	other := map[string]bool{}
	en := map[string]bool{}
	for _, k := range docKeys(t, cat) {
		for _, l := range []i18n.Lang{i18n.French, i18n.Dutch} {
			for _, w := range words(cat.Message(l, k)) {
				other[w] = true
			}
		}
		for _, w := range words(cat.Message(i18n.English, k)) {
			if len([]rune(w)) >= 3 && !other[w] {
				en[w] = true
			}
		}
	}
	require.Contains(t, en, "hours")
	require.Contains(t, en, "covered")
	return en
}

// texts are the words of a document a person reads that the billing
// writes: the lines, the note, the payment terms, the exemption texts.
func texts(d *invoice.Document) []string {
	out := []string{d.Note}
	if d.Payment != nil {
		out = append(out, d.Payment.Terms)
	}
	for _, l := range d.Lines {
		out = append(out, l.Description, l.VAT.ExemptionReason)
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// requireNoEnglish fails on an English word of en in d's texts.
func requireNoEnglish(t *testing.T, en map[string]bool, what string, d *invoice.Document) {
	t.Helper()
	for _, s := range texts(d) {
		for _, w := range words(s) {
			require.False(t, en[w], "%s: English %q in %q", what, w, s)
		}
	}
}

// langInput is a month with every kind of line, every party's details in
// lang: a nomadic Belgian business (hours partly covered by a pack bought
// in the month, one room booking let bare, late hours of October: an
// extra invoice and a credit note), a Dutch business on a monthly pass
// (reverse charge; a no-show; two bookings of a room of public interest),
// an international organisation that is a local member (home hours, hours
// in another center), a diplomat; the self-billing of a center with a
// correction, and a cross-center invoice with a correction.
func langInput(t *testing.T, cat *i18n.Catalog, lang string) *billing.Input {
	oct, err := credit.ParsePeriod("2026-10")
	require.NoError(t, err)
	nov := oct.Next()
	in := &billing.Input{Catalog: cat, Period: nov, IssueDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Currency: "EUR",
		Location: time.UTC, Details: map[string]billing.Details{}}
	set := func(d billing.Details) {
		d.Lang = lang
		in.Details[billing.DetailsKey(d.Kind, d.ID)] = d
	}
	set(billing.Business(billing.PartyCooperative, billing.CooperativeID, "BE", 90))
	set(billing.Business(billing.PartyCenter, "c1", "BE", 1))
	set(billing.Business(billing.PartyCenter, "c2", "BE", 2))
	set(billing.Business(billing.PartyMember, "n1", "BE", 11))
	n2 := billing.Business(billing.PartyMember, "n2", "NL", 0)
	n2.Plan = billing.PlanMonthlyPass
	set(n2)
	n3 := billing.Business(billing.PartyMember, "n3", "BE", 13)
	n3.VATExemption = "VATEX-EU-151-1B"
	set(n3)
	n4 := billing.Private("n4")
	n4.VATExemption = "VATEX-EU-151-1A"
	set(n4)
	in.Prices = billing.Prices{
		{Kind: billing.PriceNomadicHour, ValidFrom: oct, Cents: 600}, {Kind: billing.PriceNomadicHour, ValidFrom: nov, Cents: 900},
		{Kind: billing.PriceCenterHour, CenterID: "c2", ValidFrom: nov, Cents: 700},
		{Kind: billing.PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: nov, Cents: 3000, VATExemption: "VATEX-EU-135-1"},
		{Kind: billing.PriceRoomHour, CenterID: "c2", RoomID: "r2", ValidFrom: nov, Cents: 2000, VATExemption: "VATEX-EU-132"},
		{Kind: billing.PriceNoShow, ValidFrom: nov, Cents: 500},
		{Kind: billing.PriceMonthlyPass, ValidFrom: nov, Cents: 9900},
	}
	visit := func(member, center, home string, class credit.Class, day int, minutes int64) credit.Visit {
		start := time.Date(2026, 11, day, 9, 0, 0, 0, time.UTC)
		v := credit.Visit{MemberID: member, CenterID: center, HomeCenterID: home, Class: class, Start: start, End: start.Add(time.Duration(minutes) * time.Minute)}
		if class == credit.ClassHome {
			v.Why = credit.WhyHomeCenter
		} else {
			v.Credited, v.CreditedMinutes = true, minutes
		}
		return v
	}
	noShow := visit("n2", "c1", "", credit.ClassNomadic, 9, 60)
	noShow.Credited, noShow.CreditedMinutes, noShow.Why, noShow.Bookings = false, 0, credit.WhyNoShow, []string{"b-ns"}
	in.Results = []credit.MemberPeriod{
		{MemberID: "n1", Period: nov, Visits: []credit.Visit{visit("n1", "c1", "", credit.ClassNomadic, 3, 150)}},
		{MemberID: "n2", Period: nov, Visits: []credit.Visit{visit("n2", "c1", "", credit.ClassNomadic, 4, 120), noShow}},
		{MemberID: "n3", Period: nov, Visits: []credit.Visit{visit("n3", "c2", "c2", credit.ClassHome, 5, 100), visit("n3", "c1", "c2", credit.ClassCrossCenter, 6, 60)}},
		{MemberID: "n4", Period: nov, Visits: []credit.Visit{visit("n4", "c2", "", credit.ClassNomadic, 7, 45)}},
	}
	in.Packs = []billing.Pack{{ID: "pk1", MemberID: "n1", Issuer: billing.CooperativeID, Hours: 1, Cents: 1800, ValidFrom: nov, ValidUntil: nov.Next()}}
	room := func(id, member, center, room string, day int) billing.RoomBooking {
		start := time.Date(2026, 11, day, 14, 0, 0, 0, time.UTC)
		return billing.RoomBooking{Booking: domain.Booking{ID: id, MemberID: member, CenterID: center, RoomID: room,
			Start: start, End: start.Add(90 * time.Minute), Status: domain.BookingConfirmed}}
	}
	in.RoomBookings = []billing.RoomBooking{room("b1", "n1", "c1", "r1", 10), room("b2", "n2", "c2", "r2", 11), room("b3", "n2", "c2", "r2", 12)}
	in.Adjustments = []credit.Adjustment{
		{MemberID: "n1", CenterID: "c1", Class: credit.ClassNomadic, BelongsTo: oct, BookedIn: nov, Minutes: 90},
		{MemberID: "n1", CenterID: "c2", Class: credit.ClassNomadic, BelongsTo: oct, BookedIn: nov, Minutes: -30},
	}
	in.Issued = []billing.Issued{{Issuer: billing.CooperativeID, Number: "SWC-2026-000007", Period: oct, MemberID: "n1",
		Purpose: billing.PurposeInvoice, Doc: invoice.Document{IssueDate: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}}}
	in.Settlement = &credit.Settlement{Period: nov, TimeZone: "UTC", Closed: true,
		Centers:     []credit.CenterLine{{CenterID: "c1", Name: "Gent", RateCents: 1250, NomadicMinutes: 270}, {CenterID: "c2", Name: "Liège"}},
		Adjustments: []credit.AdjustmentLine{{CenterID: "c1", BelongsTo: oct, Class: credit.ClassNomadic, Minutes: 30, RateCents: 1250}},
		CrossCenter: []credit.CrossCenterLine{{HostCenterID: "c1", HomeCenterID: "c2", Minutes: 60, RateCents: 1250},
			{HostCenterID: "c1", HomeCenterID: "c2", BelongsTo: oct, Minutes: 15, RateCents: 1250}}}
	return in
}

// TestPlanLanguages: a document's lines, note, payment terms and
// exemption texts are in its buyer's language (a member's Details.Lang,
// the center's for a self-billed invoice, the home center's for a
// cross-center invoice), with every word on the documents covered in
// English; the language changes the words only (the same documents,
// lines, quantities, prices and VAT); the French and Dutch documents have
// no English word left and their UBL passes the schema and the EN 16931
// and Peppol rules.
func TestPlanLanguages(t *testing.T) {
	cat, err := i18n.New()
	require.NoError(t, err)
	plans := map[string]*billing.Plan{}
	for _, lang := range []string{"en", "fr", "nl"} {
		plans[lang] = billing.MakePlan(langInput(t, cat, lang))
		require.Empty(t, plans[lang].Missing, lang)
	}
	en := plans["en"]
	require.Len(t, en.Drafts, 8, "n1's invoice, extra invoice and credit note, n2's, n3's and n4's invoices, a self-billed and a cross-center invoice")

	// Every message of the documents is used (in English) but the void's
	// note, which Service.Void writes (TestVoidLanguage), and a term of one
	// day.
	var all []string
	for i := range en.Drafts {
		all = append(all, texts(&en.Drafts[i].Doc)...)
	}
	for _, k := range docKeys(t, cat) {
		if k == "billing.doc.voids" || k == "billing.doc.terms_one" {
			continue
		}
		re := regexp.MustCompile(`^` + regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(cat.Message(i18n.English, k)), ".+") + `$`)
		assert.True(t, slices.ContainsFunc(all, re.MatchString), "no English text of the plan is %s (%q)", k, cat.Message(i18n.English, k))
	}

	for _, k := range docKeys(t, cat) {
		for _, l := range []i18n.Lang{i18n.French, i18n.Dutch} {
			require.NotEqual(t, cat.Message(i18n.English, k), cat.Message(l, k), "%s: %s is not translated", l, k)
		}
	}
	english := englishWords(t, cat)
	var issued []billing.Issued
	for li, lang := range []string{"fr", "nl"} {
		pl := plans[lang]
		require.Len(t, pl.Drafts, len(en.Drafts), lang)
		require.Equal(t, en.Totals, pl.Totals, lang)
		for i := range pl.Drafts {
			d, e := pl.Drafts[i], en.Drafts[i]
			what := lang + " " + d.Purpose + " " + d.Subject
			require.Equal(t, [4]string{e.Issuer, e.Subject, e.Purpose, string(e.Doc.Type)}, [4]string{d.Issuer, d.Subject, d.Purpose, string(d.Doc.Type)}, what)
			require.Equal(t, e.PackUses, d.PackUses, what)
			require.Len(t, d.Doc.Lines, len(e.Doc.Lines), what)
			for j, l := range d.Doc.Lines {
				el := e.Doc.Lines[j]
				require.NotEqual(t, el.Description, l.Description, "%s: line %d in %s", what, j, lang)
				require.Equal(t, el.VAT.ExemptionReason == "", l.VAT.ExemptionReason == "", what)
				if el.VAT.ExemptionReason != "" {
					require.NotEqual(t, el.VAT.ExemptionReason, l.VAT.ExemptionReason, what)
				}
				l.Description, el.Description = "", ""
				l.VAT.ExemptionReason, el.VAT.ExemptionReason = "", ""
				require.Equal(t, el, l, "%s: line %d is the same but for its words", what, j)
			}
			require.Equal(t, amounts(e.Doc.Totals()), amounts(d.Doc.Totals()), what)
			require.NotEqual(t, e.Doc.Note, d.Doc.Note, what)
			requireNoEnglish(t, english, what, &d.Doc)
			is, err := billing.Finish(d, int64(100*li+i+1), 1)
			require.NoError(t, err, what)
			issued = append(issued, is)
		}
	}
	validateUBL(t, writeUBL(t, issued))
}

// amounts are t without the exemption texts.
func amounts(t invoice.Totals) invoice.Totals {
	t.Breakdown = slices.Clone(t.Breakdown)
	for i := range t.Breakdown {
		t.Breakdown[i].VAT.ExemptionReason = ""
	}
	return t
}

// TestPlanLanguageDefault: a party without a language gets French, as
// its PDF and e-mail.
func TestPlanLanguageDefault(t *testing.T) {
	cat, err := i18n.New()
	require.NoError(t, err)
	fr, none := billing.MakePlan(langInput(t, cat, "fr")), billing.MakePlan(langInput(t, nil, ""))
	require.Equal(t, fr.Drafts, none.Drafts, "no language is French; no catalog is the embedded one")
}

// TestExemptionTextsEnglish: the English exemption texts of the catalog
// are those VATExemptions and ReverseChargeReason give the API.
func TestExemptionTextsEnglish(t *testing.T) {
	cat, err := i18n.New()
	require.NoError(t, err)
	keys := map[string]string{"VATEX-EU-151-1A": "billing.doc.vatex_151_1a", "VATEX-EU-151-1B": "billing.doc.vatex_151_1b",
		"VATEX-EU-135-1": "billing.doc.vatex_135_1", "VATEX-EU-132": "billing.doc.vatex_132"}
	require.Len(t, billing.VATExemptions, len(keys))
	for code, e := range billing.VATExemptions {
		require.Equal(t, e.Reason, cat.Message(i18n.English, keys[code]), code)
	}
	require.Equal(t, billing.ReverseChargeReason, cat.Message(i18n.English, "billing.doc.vatex_ae"))
}

// TestVoidLanguage: issued through the service and its store, a month's
// documents are in their buyer's language (members in French or Dutch,
// the self-billed invoices in their center's), with no English word; a
// void's credit note says so in the voided document's buyer's language;
// the UBL of all of them passes the schema and the rules.
func TestVoidLanguage(t *testing.T) {
	m := newMonth(t)
	ctx, p := m.ctx, m.net.Period
	cat, err := i18n.New()
	require.NoError(t, err)
	bs := m.st.Billing()
	all, err := bs.AllDetails(ctx)
	require.NoError(t, err)
	langs := map[string]string{} // DetailsKey → lang
	for i, d := range all {
		d.Lang = []string{"fr", "nl"}[i%2]
		require.NoError(t, bs.SetDetails(ctx, d))
		langs[billing.DetailsKey(d.Kind, d.ID)] = d.Lang
	}
	buyerLang := func(is *billing.Issued) string {
		if is.MemberID != "" {
			return langs[billing.DetailsKey(billing.PartyMember, is.MemberID)]
		}
		return langs[billing.DetailsKey(billing.PartyCenter, is.CenterID)]
	}
	catLang := map[string]i18n.Lang{"fr": i18n.French, "nl": i18n.Dutch}
	english := englishWords(t, cat)
	docs, _, err := m.svc.Issue(ctx, p)
	require.NoError(t, err)
	var mine, self *billing.Issued
	seen := map[string]bool{}
	for i := range docs {
		d := &docs[i]
		lang := buyerLang(d)
		require.NotEmpty(t, lang, d.Number)
		seen[lang] = true
		l := cat.Locale(catLang[lang])
		require.Equal(t, l.T("billing.doc.period", "period", l.Month(p.Start(time.UTC))), d.Doc.Note, d.Number)
		requireNoEnglish(t, english, d.Number, &d.Doc)
		switch {
		case d.Purpose == billing.PurposeInvoice && lang == "nl" && mine == nil:
			mine = d
		case d.Type == invoice.TypeSelfBilled && lang == "fr" && self == nil:
			self = d
		}
	}
	require.Len(t, seen, 2, "documents in French and in Dutch")
	require.NotNil(t, mine, "a Dutch member's invoice")
	require.NotNil(t, self, "a self-billed invoice of a French-speaking center")
	out := slices.Clone(docs)
	for _, v := range []struct {
		is   *billing.Issued
		lang i18n.Lang
	}{{mine, i18n.Dutch}, {self, i18n.French}} {
		cn, err := m.svc.Void(ctx, v.is.Issuer, v.is.Number)
		require.NoError(t, err)
		require.Equal(t, cat.Message(v.lang, "billing.doc.voids", "number", v.is.Number), cn.Doc.Note)
		requireNoEnglish(t, english, cn.Number, &cn.Doc)
		out = append(out, cn)
	}
	validateUBL(t, writeUBL(t, out))
}
