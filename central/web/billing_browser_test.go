package web_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	cdpnetwork "github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/central/web/webtest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// billedMonth gives the test network a month of work last month, billing
// details for all but Bert (m2, the dry run's blocker), prices, and
// closes the month. It returns the period.
func billedMonth(t *testing.T, n *network) credit.Period {
	t.Helper()
	loc := brussels(t)
	p := credit.PeriodOf(monthDay(t, 1), loc)
	start := p.Start(loc)
	seq := map[string]uint64{}
	evs := map[string][]protocol.Event{}
	visit := func(door, uid, member string, day time.Time, from, to time.Duration) {
		for _, at := range []time.Time{day.Add(from), day.Add(to)} {
			seq[door]++
			evs[door] = append(evs[door], tap(seq[door], at, protocol.UID(uid), member, protocol.GrantedPass))
		}
	}
	for d := start; d.Month() == start.Month(); d = d.AddDate(0, 0, 1) {
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || d.Day() > 25 {
			continue
		}
		switch d.Day() % 3 {
		case 0:
			visit("d1", "04A1B2C3", "n1", d, 9*time.Hour, 12*time.Hour+30*time.Minute) // Nora at Gent
			visit("d2", "04D1D2D3", "m1", d, 13*time.Hour, 17*time.Hour)               // Ann at Leuven (cross-center)
		case 1:
			visit("d2", "04A1B2C3", "n1", d, 10*time.Hour, 16*time.Hour+15*time.Minute) // Nora at Leuven
			visit("d1", "04D1D2D3", "m1", d, 8*time.Hour+30*time.Minute, 17*time.Hour)  // Ann at home
		default:
			visit("d2", "04E1E2E3", "m2", d, 9*time.Hour, 11*time.Hour) // Bert at home
		}
	}
	from := start.AddDate(0, -1, 0).UTC()
	for _, m := range []string{"m1", "m2"} { // passes: their entries are credited (Nora holds one already)
		n.api("POST", "/passes", map[string]any{"id": "pass-" + m, "member_id": m, "valid_from": from, "valid_until": from.AddDate(1, 0, 0)})
	}
	for door, e := range evs {
		n.doors[door].events(t, e...)
	}
	n.api("POST", "/periods/"+p.String()+"/close-through", nil)

	ctx := audit.WithSystem(context.Background(), "test")
	bs := n.srv.Store.Billing()
	business := func(kind billing.PartyKind, id, name, enterprise, street, postal, city string) billing.Details {
		d := billing.Details{Kind: kind, ID: id, Name: name, Street: street, PostalCode: postal, City: city, Country: "BE",
			Email: "billing@" + id + ".example", EnterpriseNumber: enterprise, VATNumber: "BE" + enterprise}
		if kind != billing.PartyMember {
			d.IBAN, d.BIC = "BE68539007547034", "GKCCBEBB"
		}
		return d
	}
	for _, d := range []billing.Details{
		business(billing.PartyCooperative, billing.CooperativeID, "Smart Work Centers SC", "0403170701", "Rue de la Loi 16", "1000", "Bruxelles"),
		business(billing.PartyCenter, "c1", "Gent Werkplekken BV", "0202239951", "Korenmarkt 12", "9000", "Gent"),
		business(billing.PartyCenter, "c2", "Leuven Cowork BV", "0477472701", "Bondgenotenlaan 74", "3000", "Leuven"),
		business(billing.PartyMember, "m1", "Ann Gent Consulting BV", "0412345614", "Veldstraat 3", "9000", "Gent"),
		{Kind: billing.PartyMember, ID: "n1", Name: "Nora Nomad", Street: "Chaussée de Wavre 142", PostalCode: "1050", City: "Ixelles",
			Country: "BE", Email: "nora@example.org", Private: true, Lang: "fr"},
	} {
		require.NoError(t, bs.SetDetails(ctx, d), d.ID)
	}
	for _, pr := range []billing.Price{
		{Kind: billing.PriceNomadicHour, ValidFrom: p, Cents: 850},
		{Kind: billing.PriceCenterHour, CenterID: "c1", ValidFrom: p, Cents: 800},
		{Kind: billing.PriceCenterHour, CenterID: "c2", ValidFrom: p, Cents: 750},
	} {
		require.NoError(t, bs.AddPrice(ctx, pr))
	}
	return p
}

// noraPayable is what Nora (n1, nomadic, private) owes for p, recomputed
// from the ledger's credited minutes as the billing documents it: one line
// per center, minutes × price ÷ 60 rounded to the cent once (halves away
// from zero), 21 % VAT rounded once.
func noraPayable(t *testing.T, n *network, p credit.Period, centsPerHour int64) int64 {
	t.Helper()
	mps, err := n.srv.Store.Credit().MemberPeriods(context.Background(), p)
	require.NoError(t, err)
	perCenter := map[string]int64{}
	for _, mp := range mps {
		if mp.MemberID != "n1" {
			continue
		}
		for _, v := range mp.Visits {
			if v.Credited {
				perCenter[v.CenterID] += v.CreditedMinutes
			}
		}
	}
	require.Len(t, perCenter, 2, "Nora worked at Gent and Leuven")
	half := func(num, den int64) int64 { return (2*num + den) / (2 * den) } // positive amounts
	var net int64
	for _, minutes := range perCenter {
		net += half(minutes*centsPerHour, 60)
	}
	return net + half(net*21, 100)
}

// TestBillingBrowser drives headless Chromium through the billing pages
// with a month of real work (taps at two doors, credited by the ledger,
// the month closed), prices and billing details, in three languages, at
// desktop width and at 390 px:
//   - the admin's dry run lists the totals per issuer and Bert, who has no
//     billing details, in the page's language;
//   - issuing lists Nora's invoice with its number and her amount (the
//     ledger's minutes at the price, with VAT) written the locale's way,
//     and its PDF link answers a PDF;
//   - voiding asks first (the confirmation page; cancelling voids
//     nothing), then issues a credit note that refers to the invoice, and
//     the invoice can no longer be voided;
//   - Nora's /my/invoices lists her invoice and its credit note, not Ann's
//     invoice, and her PDF link answers a PDF; Bert sees the empty state.
//
// Every page passes axe-core and is not wider than the screen; the
// screenshots go to testout/screenshots (billing-*.png).
func TestBillingBrowser(t *testing.T) {
	webtest.NeedChromium(t)
	n := startNetwork(t)
	p := billedMonth(t, n)
	ctx0 := context.Background()
	cat, err := i18n.New()
	require.NoError(t, err)
	fr, nl, en := cat.Locale(i18n.French), cat.Locale(i18n.Dutch), cat.Locale(i18n.English)
	locales := []i18n.Locale{fr, nl, en}
	loc := brussels(t)
	month := func(l i18n.Locale) string { return l.Month(p.Start(loc)) }
	plan, err := n.srv.Billing.DryRun(ctx0, p)
	require.NoError(t, err)
	require.NotEmpty(t, plan.Totals)

	b := webtest.StartBrowser(t, 5*time.Minute)
	ctx := b.Ctx
	do, text := b.Do, b.Text
	var shots []string
	check := func(name string) { // not wider than the screen, a screenshot, axe
		t.Helper()
		b.Fits(name)
		shots = append(shots, b.Shoot("billing-"+name+".png"))
		b.A11y(name)
	}
	sizes := []struct {
		name string
		w, h int
	}{{"desktop", 1280, 900}, {"390px", 390, 844}}
	open := func(l i18n.Locale, path, wait string) {
		t.Helper()
		do("open "+path+" in "+string(l.Lang), chromedp.Navigate(n.base+"/lang/"+string(l.Lang)+"?next=/"),
			chromedp.Navigate(n.base+path), chromedp.WaitVisible(chromedp.CSS(wait)))
	}
	// fetchHead fetches the URL the JavaScript expression url gives, with
	// the page's session: its status, content type and first bytes.
	fetchHead := func(url string) (string, string) {
		t.Helper()
		js := fmt.Sprintf(`fetch(%s, {credentials: "same-origin"}).then(r => r.arrayBuffer().then(b =>
			r.status + " " + r.headers.get("content-type") + "|" + String.fromCharCode(...new Uint8Array(b.slice(0, 5)))))`, url)
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		typ, head, _ := strings.Cut(out, "|")
		return typ, head
	}
	// pdf downloads the link sel as the page would.
	pdf := func(sel string) (string, string) {
		t.Helper()
		return fetchHead(fmt.Sprintf(`document.querySelector(%q).href`, sel))
	}
	billingPage := "/billing?period=" + p.String()

	do("log in", chromedp.Navigate(n.base+"/login/token"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), n.tokens["admin"]), chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#summary")))

	// The dry run: totals per issuer, Bert without billing details (in
	// words of the page's language), the issue button naming the month.
	for _, size := range sizes {
		b.Viewport(size.w, size.h)
		for _, l := range locales {
			open(l, billingPage, "#billing-dry-run")
			assert.Equal(t, l.T("billing.title")+" · "+month(l), text("h1"))
			assert.Equal(t, len(plan.Totals), count(t, ctx, "#billing-totals tbody tr"))
			for _, tot := range plan.Totals {
				assert.Equal(t, l.Money(tot.PayableCents, "EUR"), text(`#billing-totals tr[data-issuer="`+tot.Issuer+`"] td:last-child`))
			}
			missing := text(`#billing-missing li[data-party="member/m2"]`)
			assert.Contains(t, missing, "Bert Leuven")
			assert.Contains(t, missing, l.T("billing.why_no_details"))
			assert.Contains(t, text("#billing-issue"), month(l))
			assert.False(t, b.Exists("#billing-documents table"), "nothing issued yet")
			check("01-dry-run-" + string(l.Lang) + "-" + size.name)
		}
	}

	// The blocker's link opens Bert's billing details form.
	do("fill in", chromedp.Click(chromedp.CSS(`#billing-missing li[data-party="member/m2"] a`)), chromedp.WaitVisible(chromedp.CSS("#billing-details")))
	assert.Equal(t, "Bert Leuven", attr(t, ctx, "#bd-name", "value"))
	assert.Equal(t, en.T("billing.details_title", "party", "Bert Leuven"), text("h1"))
	nlOption, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#bd-lang option[value="nl"]`)))
	require.NoError(t, err)
	assert.Equal(t, "Nederlands", nlOption, "languages by their name")
	check("01-details-form-en-390px")

	// Issue, in French at desktop width.
	b.Viewport(1280, 900)
	open(fr, billingPage, "#billing-issue")
	do("issue", chromedp.Click(chromedp.CSS("#billing-issue")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	docs, err := n.srv.Store.Billing().Documents(ctx0, billing.DocumentFilter{Period: p})
	require.NoError(t, err)
	require.Len(t, docs, len(plan.Drafts))
	assert.Equal(t, fr.T("billing.issued_docs", "n", len(docs), "period", month(fr)), text("#flash"))
	var nora, ann billing.Issued
	for _, d := range docs {
		switch {
		case d.MemberID == "n1" && d.Type == invoice.TypeInvoice:
			nora = d
		case d.MemberID == "m1" && d.Type == invoice.TypeInvoice:
			ann = d
		}
	}
	require.NotEmpty(t, nora.Number, "Nora's invoice")
	require.NotEmpty(t, ann.Number, "Ann's invoice")
	require.Equal(t, noraPayable(t, n, p, 850), nora.PayableCents, "Nora's amount is her credited minutes at the nomadic price, with VAT")
	noraRow := `#billing-documents tr[data-number="` + nora.Number + `"]`
	for _, size := range sizes {
		b.Viewport(size.w, size.h)
		for _, l := range locales {
			open(l, billingPage, "#billing-documents table")
			assert.Equal(t, len(docs), count(t, ctx, "#billing-documents tbody tr"))
			assert.Contains(t, text(noraRow+" td.key"), nora.Number)
			assert.Contains(t, text(noraRow), "Nora Nomad")
			assert.Equal(t, l.Money(nora.PayableCents, "EUR"), text(noraRow+" td.amount"))
			check("02-issued-" + string(l.Lang) + "-" + size.name)
		}
	}
	typ, head := pdf(noraRow + " a.pdf")
	assert.Equal(t, "200 application/pdf", typ)
	assert.Equal(t, "%PDF-", head)

	// Void Nora's invoice, in Dutch: the confirmation first; cancelling
	// voids nothing.
	for _, size := range sizes {
		b.Viewport(size.w, size.h)
		open(nl, billingPage, noraRow+" a.void")
		do("void?", chromedp.Click(chromedp.CSS(noraRow+" a.void")), chromedp.WaitVisible(chromedp.CSS("#void-confirm")))
		assert.Equal(t, nl.T("billing.void_title", "number", nora.Number), text("h1"))
		assert.Contains(t, text("#void-what"), nl.Money(nora.PayableCents, "EUR"))
		check("03-void-confirm-nl-BE-" + size.name)
		do("cancel", chromedp.Click(chromedp.CSS("#void-cancel")), chromedp.WaitVisible(chromedp.CSS("#billing-documents")))
	}
	after, err := n.srv.Store.Billing().Documents(ctx0, billing.DocumentFilter{Issuer: nora.Issuer, Corrects: nora.Number})
	require.NoError(t, err)
	require.Empty(t, after, "cancelling voids nothing")
	do("void", chromedp.Click(chromedp.CSS(noraRow+" a.void")), chromedp.WaitVisible(chromedp.CSS("#void-confirm-button")),
		chromedp.Click(chromedp.CSS("#void-confirm-button")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	after, err = n.srv.Store.Billing().Documents(ctx0, billing.DocumentFilter{Issuer: nora.Issuer, Corrects: nora.Number})
	require.NoError(t, err)
	require.Len(t, after, 1, "one credit note")
	cn := after[0]
	assert.Equal(t, invoice.TypeCreditNote, cn.Type)
	assert.Equal(t, nora.PayableCents, cn.PayableCents, "it credits the whole invoice")
	assert.Equal(t, nl.T("billing.voided_now", "number", nora.Number, "credit_note", cn.Number), text("#flash"))
	cnRow := `#billing-documents tr[data-number="` + cn.Number + `"]`
	assert.Equal(t, nl.Money(-cn.PayableCents, "EUR"), text(cnRow+" td.amount"), "a credit note's amount is money back")
	assert.Contains(t, text(cnRow+" td.key"), nl.T("billing.corrects", "number", nora.Number))
	assert.Equal(t, cn.Number, attr(t, ctx, noraRow+" [data-credited-by]", "data-credited-by"))
	assert.False(t, b.Exists(noraRow+" a.void"), "a voided invoice is not voided twice")
	for _, size := range sizes {
		b.Viewport(size.w, size.h)
		open(nl, billingPage, cnRow)
		check("04-voided-nl-BE-" + size.name)
	}

	// Nora's invoices on the booking site: hers only, with the credit
	// note; the PDF link answers a PDF.
	cookie, _ := memberSession(t, n.srv.Store, "n1")
	yes := true
	_, err = chromedp.Call(ctx, cdpnetwork.SetCookie, cdpnetwork.SetCookieParams{Name: "swc_session", Value: cookie, URL: n.base + "/", HTTPOnly: &yes})
	require.NoError(t, err)
	mine := `#invoices tr[data-number="` + nora.Number + `"]`
	for _, size := range sizes {
		b.Viewport(size.w, size.h)
		for _, l := range locales {
			open(l, "/my/invoices", "#invoices")
			assert.Equal(t, 2, count(t, ctx, "#invoices tbody tr"), "the invoice and its credit note")
			assert.Contains(t, text(mine+" td.key"), nora.Number)
			assert.Equal(t, l.Money(nora.PayableCents, "EUR"), text(mine+" td.amount"))
			assert.Contains(t, text(mine), month(l))
			assert.Equal(t, l.Money(-cn.PayableCents, "EUR"), text(`#invoices tr[data-number="`+cn.Number+`"] td.amount`))
			assert.Contains(t, text(mine), l.T("billing.site.credited"), "voided: nothing to pay")
			assert.NotContains(t, text("main"), ann.Number, "another member's invoice")
			check("05-my-invoices-" + string(l.Lang) + "-" + size.name)
		}
	}
	typ, head = pdf(mine + " a.pdf")
	assert.Equal(t, "200 application/pdf", typ)
	assert.Equal(t, "%PDF-", head)

	// Ann's: her invoice to pay, with its due date, the account and the
	// structured communication; not Nora's.
	cookie, _ = memberSession(t, n.srv.Store, "m1")
	_, err = chromedp.Call(ctx, cdpnetwork.SetCookie, cdpnetwork.SetCookieParams{Name: "swc_session", Value: cookie, URL: n.base + "/", HTTPOnly: &yes})
	require.NoError(t, err)
	require.NotNil(t, ann.Doc.Payment)
	annRow := `#invoices tr[data-number="` + ann.Number + `"]`
	for _, size := range sizes {
		b.Viewport(size.w, size.h)
		open(nl, "/my/invoices", "#invoices")
		assert.Equal(t, 1, count(t, ctx, "#invoices tbody tr"))
		pay := text(annRow)
		assert.Contains(t, pay, nl.T("billing.site.due", "date", nl.Date(ann.Doc.DueDate, loc)))
		assert.Contains(t, pay, ann.Doc.Payment.Communication.String())
		assert.Equal(t, nl.Money(ann.PayableCents, "EUR"), text(annRow+" td.amount"))
		assert.NotContains(t, text("main"), nora.Number)
		check("06-my-invoices-to-pay-nl-BE-" + size.name)
	}
	typ, _ = pdf(annRow + " a.pdf")
	assert.Equal(t, "200 application/pdf", typ)
	typ, head = fetchHead(fmt.Sprintf("%q", "/my/invoices/"+nora.Issuer+"/"+nora.Number+"/pdf"))
	assert.True(t, strings.HasPrefix(typ, "404 "), "Nora's PDF is not Ann's to download: %s", typ)
	assert.NotEqual(t, "%PDF-", head)

	// Bert has no invoice: the empty state says when they come.
	cookie, _ = memberSession(t, n.srv.Store, "m2")
	_, err = chromedp.Call(ctx, cdpnetwork.SetCookie, cdpnetwork.SetCookieParams{Name: "swc_session", Value: cookie, URL: n.base + "/", HTTPOnly: &yes})
	require.NoError(t, err)
	b.Viewport(390, 844)
	open(fr, "/my/invoices", "#no-invoices")
	assert.Equal(t, fr.T("billing.site.none"), text("#no-invoices"))
	check("07-my-invoices-empty-fr-BE-390px")

	for _, f := range shots {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
	require.NoError(t, ctx.Err(), "the browser test ran out of time")
}

// attr is the attribute name of the first element matching sel.
func attr(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ""}).getAttribute(%q) || ""`, sel, name)))
	require.NoError(t, err)
	return v
}
