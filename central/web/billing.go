package web

// The billing's pages (issue 19, package billing):
//
//	GET  /billing                                    a period's documents; for an admin the dry run (totals per issuer,
//	                                                 parties without details) and the issue button
//	POST /billing/{period}/issue                     issue the closed period (admin); audited by the store
//	GET  /billing/{period}/payouts.xml               the centers' payouts, SEPA pain.001 (admin)
//	GET  /billing/{period}/documents.csv             the period's documents for accounting software
//	GET  /billing/documents/{issuer}/{number}/pdf    a document as PDF (managers: their center's)
//	GET  /billing/documents/{issuer}/{number}/ubl    a document as Peppol UBL
//	GET  /billing/documents/{issuer}/{number}/void   what voiding it does, and the button that does it (admin)
//	POST /billing/documents/{issuer}/{number}/void   void by credit note (admin; the confirmation page's form)
//	GET  /billing/details/{kind}/{id}                a party's billing details form (managers: their center, its members)
//	POST /billing/details/{kind}/{id}                save them; audited by the store
//	GET  /my/invoices                                the member's own documents (booking site)
//	GET  /my/invoices/{issuer}/{number}/pdf          one of them as PDF
//	GET  /api/v1/me/invoices[/{issuer}/{number}/pdf] the same in the member API (JSON, PDF)

import (
	"bytes"
	"cmp"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/bank"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoicepdf"
	"github.com/smartworkcenters/swc/central/billing/ubl"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
)

// billingPages are the billing's templates (added to pageNames).
func billingPages() []string {
	return []string{"console_billing", "console_billing_details", "console_billing_void", "site_invoices"}
}

func (w *Web) billingRoutes() {
	m := w.mux
	mgr := eventRoles()
	admin := []store.Role{store.RoleAdmin}
	m.Handle("GET /billing", w.page(mgr, w.billingPage))
	m.Handle("POST /billing/{period}/issue", w.page(admin, w.billingIssue))
	m.Handle("GET /billing/{period}/payouts.xml", w.page(admin, w.billingPayouts))
	m.Handle("GET /billing/{period}/documents.csv", w.page(mgr, w.billingCSV))
	m.Handle("GET /billing/documents/{issuer}/{number}/pdf", w.page(mgr, w.billingPDF))
	m.Handle("GET /billing/documents/{issuer}/{number}/ubl", w.page(mgr, w.billingUBL))
	m.Handle("GET /billing/documents/{issuer}/{number}/void", w.page(admin, w.billingVoidConfirm))
	m.Handle("POST /billing/documents/{issuer}/{number}/void", w.page(admin, w.billingVoid))
	m.Handle("GET /billing/details/{kind}/{id}", w.page(mgr, w.billingDetailsForm))
	m.Handle("POST /billing/details/{kind}/{id}", w.page(mgr, w.billingDetailsSave))
	m.Handle("GET "+SitePrefix+"invoices", w.memberPage(w.siteInvoices))
	m.Handle("GET "+SitePrefix+"invoices/{issuer}/{number}/pdf", w.memberPage(w.siteInvoicePDF))
	m.Handle("GET "+MeAPIPrefix+"/invoices", w.memberAPI(w.apiInvoices))
	m.Handle("GET "+MeAPIPrefix+"/invoices/{issuer}/{number}/pdf", w.memberAPI(w.apiInvoicePDF))
}

// billingPeriod reads ?period= (default: last month, the one invoiced).
func (w *Web) billingPeriod(r *http.Request) (credit.Period, error) {
	if r.URL.Query().Get("period") == "" {
		return credit.PeriodOf(w.now(), w.loc).Prev(), nil
	}
	return w.periodOf(r)
}

// billingPage lists a period's documents the viewer sees and, for an
// admin, the dry run of the period with the issue button.
func (w *Web) billingPage(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := w.billingPeriod(r)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	r = r.WithContext(ctx)
	docs, err := w.periodDocuments(r, v, p)
	if err != nil {
		return err
	}
	loc := w.locale(r, v)
	names := w.partyNames(r, loc)
	rows := w.billingRows(docs, loc)
	selfBilled := false
	for i := range rows {
		rows[i].Voidable = rows[i].Voidable && v.Admin()
		rows[i].IssuerName = names.issuer(rows[i].Issuer)
		selfBilled = selfBilled || rows[i].Type == invoice.TypeSelfBilled
	}
	var months []periodOption
	for _, q := range recentPeriods(w.now(), w.loc) {
		months = append(months, periodOption{Period: q, Month: loc.Month(q.Start(w.loc)), Current: q == p})
	}
	data := map[string]any{"Period": p, "Month": loc.Month(p.Start(w.loc)), "Periods": months, "Documents": rows,
		"SelfBilled": selfBilled, "Flash": w.takeFlash(r, v)}
	if v.Admin() && w.cfg.Billing != nil {
		plan, err := w.cfg.Billing.DryRun(ctx, p)
		switch {
		case errors.Is(err, credit.ErrNotClosed):
			data["NotClosed"] = true
		case err != nil:
			return err
		default:
			data["Plan"] = plan
			data["Totals"] = names.totals(plan.Totals)
			data["Missing"] = names.missing(plan.Missing)
		}
	}
	w.render(rw, r, http.StatusOK, "console_billing", v, data)
	return nil
}

// periodOption is a month of the billing page's select.
type periodOption struct {
	Period  credit.Period
	Month   string // "novembre 2026"
	Current bool
}

// billingRow is an issued document as the billing pages list it.
type billingRow struct {
	billing.Issued
	IssuedAt, DueAt time.Time // the document's dates; zero DueAt: none (credit notes)
	Month           string    // the period in words: "novembre 2026"
	// Party is the name the document is about: the buyer's, or the
	// center's for a self-billed one (made out in its name).
	Party      string
	IssuerName string
	Credit     bool  // a credit note: its amount is money back
	Cents      int64 // the amount, negative for a credit note
	// CreditedBy is the credit note of the same period that corrects or
	// voids this invoice, if any.
	CreditedBy string
	// Settled: credited in full by the list's credit notes, nothing to pay.
	Settled       bool
	Voidable      bool   // an invoice no credit note of the list corrects
	Communication string // the structured communication to pay with, if any
	IBAN          string // the account to pay to, in groups of four
}

// billingRows are docs as rows, in their order.
func (w *Web) billingRows(docs []billing.Issued, loc i18n.Locale) []billingRow {
	creditedBy, credited := map[string]string{}, map[string]int64{}
	for i := range docs {
		if docs[i].Corrects != "" && docs[i].Doc.IsCreditNote() {
			k := docs[i].Issuer + "/" + docs[i].Corrects
			creditedBy[k] = docs[i].Number
			credited[k] += docs[i].PayableCents
		}
	}
	rows := make([]billingRow, 0, len(docs))
	for _, d := range docs {
		row := billingRow{Issued: d, IssuedAt: cmp.Or(d.Doc.IssueDate, time.UnixMilli(d.IssuedMs)), Month: loc.Month(d.Period.Start(w.loc)), Party: d.Doc.Buyer.Name, Cents: d.PayableCents,
			Credit: d.Doc.IsCreditNote(), CreditedBy: creditedBy[d.Issuer+"/"+d.Number]}
		if d.Doc.IsSelfBilled() {
			row.Party = d.Doc.Seller.Name
		}
		if row.Credit {
			row.Cents = -d.PayableCents
		} else {
			row.DueAt = d.Doc.DueDate
			if pay := d.Doc.Payment; pay != nil {
				row.IBAN = bank.IBAN(pay.IBAN).Printed()
				if !pay.Communication.IsZero() {
					row.Communication = pay.Communication.String()
				}
			}
		}
		row.Voidable = !row.Credit && row.CreditedBy == ""
		row.Settled = !row.Credit && row.CreditedBy != "" && credited[d.Issuer+"/"+d.Number] >= d.PayableCents
		rows = append(rows, row)
	}
	return rows
}

// billingNames names the parties of the billing pages in the viewer's
// language: centers by their name, the cooperative's two series in words,
// members by their name.
type billingNames struct {
	r   *http.Request
	loc i18n.Locale
	w   *Web
}

func (w *Web) partyNames(r *http.Request, loc i18n.Locale) billingNames {
	return billingNames{r: r, loc: loc, w: w}
}

// issuer is the name of a series: the cooperative, its self-billing, or
// a center (its id when the store does not know it).
func (n billingNames) issuer(id string) string {
	switch id {
	case billing.CooperativeID:
		return n.loc.T("billing.issuer_cooperative")
	case billing.SelfBillingSeries:
		return n.loc.T("billing.issuer_self_billing")
	}
	if c, err := n.w.st.Center(n.r.Context(), id); err == nil && c.Name != "" {
		return c.Name
	}
	return id
}

// issuerTotal is a dry run's line with the issuer's name.
type issuerTotal struct {
	billing.IssuerTotal
	Name string
}

func (n billingNames) totals(ts []billing.IssuerTotal) []issuerTotal {
	out := make([]issuerTotal, 0, len(ts))
	for _, t := range ts {
		out = append(out, issuerTotal{IssuerTotal: t, Name: n.issuer(t.Issuer)})
	}
	return out
}

// missingParty is a party the dry run leaves out, named, with the reason
// in the viewer's language from its code (else, for a code this page does
// not know, as the billing says it, in English: Foreign).
type missingParty struct {
	billing.Missing
	Name, Why string
	Foreign   bool
}

func (n billingNames) missing(ms []billing.Missing) []missingParty {
	out := make([]missingParty, 0, len(ms))
	for _, m := range ms {
		mp := missingParty{Missing: m, Name: m.ID, Why: m.Reason, Foreign: true}
		switch m.Kind {
		case billing.PartyMember:
			if mem, err := n.w.st.Member(n.r.Context(), m.ID); err == nil {
				mp.Name = mem.Name
			}
		case billing.PartyCenter:
			mp.Name = n.issuer(m.ID)
		case billing.PartyCooperative:
			mp.Name = n.issuer(billing.CooperativeID)
		}
		if key := "billing.why_" + string(m.Code); m.Code != "" && n.w.cat.Has(n.loc.Lang, key) {
			args := make([]any, 0, 2*len(m.Args))
			for k, v := range m.Args {
				switch k {
				case "price":
					v = n.loc.T("billing.price." + v)
				case "period":
					if p, err := credit.ParsePeriod(v); err == nil {
						v = n.loc.Month(p.Start(n.w.loc))
					}
				case "center":
					v = n.issuer(v)
				}
				args = append(args, k, v)
			}
			mp.Why, mp.Foreign = n.loc.T(key, args...), false
		}
		out = append(out, mp)
	}
	return out
}

func (w *Web) billingIssue(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := credit.ParsePeriod(r.PathValue("period"))
	if err != nil {
		return pageErr(http.StatusBadRequest, "error.bad_period")
	}
	if w.cfg.Billing == nil {
		return pageErr(http.StatusServiceUnavailable, "billing.unavailable")
	}
	loc := w.locale(r, v)
	month := loc.Month(p.Start(w.loc))
	docs, _, err := w.cfg.Billing.Issue(r.Context(), p)
	switch {
	case err == nil:
		w.log.InfoContext(r.Context(), "web: billing period issued", "period", p.String(), "documents", len(docs), "by", v.ID)
		w.setFlash(r, v, loc.T("billing.issued_docs", "n", len(docs), "period", month))
	case errors.Is(err, credit.ErrNotClosed):
		w.opsRefused.With("billing", "period").Inc()
		w.setFlash(r, v, loc.T("billing.not_closed", "period", month))
	default:
		return err
	}
	http.Redirect(rw, r, "/billing?period="+p.String(), http.StatusSeeOther)
	return nil
}

// periodDocuments are the documents of the path's period the viewer sees.
func (w *Web) periodDocuments(r *http.Request, v *viewer, p credit.Period) ([]billing.Issued, error) {
	f := billing.DocumentFilter{Period: p}
	if !v.Admin() {
		if len(v.Centers) == 0 {
			return nil, pageErr(http.StatusNotFound, "error.no_center")
		}
		f.Involving = v.Centers[0]
	}
	return w.st.Billing().Documents(r.Context(), f)
}

func (w *Web) billingCSV(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := credit.ParsePeriod(r.PathValue("period"))
	if err != nil {
		return pageErr(http.StatusBadRequest, "error.bad_period")
	}
	docs, err := w.periodDocuments(r, v, p)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := billing.WriteCSV(&b, docs); err != nil {
		return err
	}
	return attachment(rw, "text/csv; charset=utf-8", "documents-"+p.String()+".csv", b.Bytes())
}

func attachment(rw http.ResponseWriter, contentType, name string, b []byte) error {
	rw.Header().Set("Content-Type", contentType)
	rw.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	_, err := rw.Write(b)
	return err
}

func (w *Web) billingPayouts(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := credit.ParsePeriod(r.PathValue("period"))
	if err != nil {
		return pageErr(http.StatusBadRequest, "error.bad_period")
	}
	if w.cfg.Billing == nil {
		return pageErr(http.StatusServiceUnavailable, "billing.unavailable")
	}
	file, _, err := w.cfg.Billing.Payouts(r.Context(), p, w.now().UTC())
	if errors.Is(err, billing.ErrNotIssuable) {
		w.opsRefused.With("billing", "payouts").Inc()
		w.setFlash(r, v, w.locale(r, v).T("billing.no_payouts", "why", err.Error()))
		http.Redirect(rw, r, "/billing?period="+p.String(), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	return attachment(rw, "application/xml", "payouts-"+p.String()+".xml", file)
}

// document is an issued document the staff viewer may see (else 404).
func (w *Web) document(r *http.Request, v *viewer) (billing.Issued, error) {
	d, err := w.st.Billing().Document(r.Context(), r.PathValue("issuer"), r.PathValue("number"))
	if err != nil {
		return d, err
	}
	if !v.Sees(d.Issuer) && !v.Sees(d.CenterID) {
		return billing.Issued{}, hidden("document", r.PathValue("number"))
	}
	return d, nil
}

func (w *Web) sendPDF(rw http.ResponseWriter, r *http.Request, v *viewer, d *billing.Issued) error {
	lang := string(w.lang(r, v))
	b, err := billing.PDF(d, lang)
	if err != nil {
		return err
	}
	l, err := invoicepdf.ParseLang(lang)
	if err != nil {
		return err
	}
	return attachment(rw, "application/pdf", invoicepdf.FileName(&d.Doc, l), b)
}

func (w *Web) billingPDF(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := w.document(r, v)
	if err != nil {
		return err
	}
	return w.sendPDF(rw, r, v, &d)
}

func (w *Web) billingUBL(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := w.document(r, v)
	if err != nil {
		return err
	}
	if d.UBL == nil {
		return pageErr(http.StatusNotFound, "billing.no_ubl")
	}
	return attachment(rw, "application/xml", ubl.FileName(&d.Doc), d.UBL)
}

// billingVoidConfirm is the void's confirmation: the invoice, what
// voiding does (a credit note of every line, numbered, for good), and
// the form that does it; or why it cannot be voided.
func (w *Web) billingVoidConfirm(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := w.document(r, v)
	if err != nil {
		return err
	}
	later, err := w.st.Billing().Documents(r.Context(), billing.DocumentFilter{Issuer: d.Issuer, Corrects: d.Number})
	if err != nil {
		return err
	}
	rows := w.billingRows(append([]billing.Issued{d}, later...), w.locale(r, v))
	row := rows[0]
	row.IssuerName = w.partyNames(r, w.locale(r, v)).issuer(d.Issuer)
	w.render(rw, r, http.StatusOK, "console_billing_void", v, map[string]any{"D": row, "Later": rows[1:]})
	return nil
}

func (w *Web) billingVoid(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Billing == nil {
		return pageErr(http.StatusServiceUnavailable, "billing.unavailable")
	}
	d, err := w.document(r, v)
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != d.Number { // not from the confirmation page: show it
		http.Redirect(rw, r, "/billing/documents/"+d.Issuer+"/"+d.Number+"/void", http.StatusSeeOther)
		return nil
	}
	loc := w.locale(r, v)
	cn, err := w.cfg.Billing.Void(r.Context(), d.Issuer, d.Number)
	switch {
	case err == nil:
		w.log.InfoContext(r.Context(), "web: billing document voided", "number", d.Number, "credit_note", cn.Number, "by", v.ID)
		w.setFlash(r, v, loc.T("billing.voided_now", "number", d.Number, "credit_note", cn.Number))
	case errors.Is(err, store.ErrExists), errors.Is(err, billing.ErrNotIssuable):
		w.opsRefused.With("billing", "void").Inc()
		w.setFlash(r, v, loc.T("billing.void_refused", "number", d.Number))
	default:
		return err
	}
	http.Redirect(rw, r, "/billing?period="+d.Period.String(), http.StatusSeeOther)
	return nil
}

// detailsParty checks the viewer may see the party of the path: an admin
// every party, a manager their center and its local members.
func (w *Web) detailsParty(r *http.Request, v *viewer) (billing.PartyKind, string, string, error) {
	kind, id := billing.PartyKind(r.PathValue("kind")), r.PathValue("id")
	switch kind {
	case billing.PartyMember:
		m, err := w.st.Member(r.Context(), id)
		if err != nil {
			return kind, id, "", err
		}
		if !v.Admin() && !v.Sees(m.HomeCenterID) {
			return kind, id, "", hidden("member", id)
		}
		return kind, id, m.Name, nil
	case billing.PartyCenter:
		if !v.Sees(id) {
			return kind, id, "", hidden("center", id)
		}
		return kind, id, id, nil
	case billing.PartyCooperative:
		if !v.Admin() || id != billing.CooperativeID {
			return kind, id, "", hidden("party", id)
		}
		return kind, id, id, nil
	}
	return kind, id, "", hidden("party", id)
}

func (w *Web) billingDetailsForm(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	kind, id, name, err := w.detailsParty(r, v)
	if err != nil {
		return err
	}
	d, err := w.st.Billing().Details(r.Context(), kind, id)
	if errors.Is(err, store.ErrNotFound) {
		d, err = billing.Details{Kind: kind, ID: id, Name: name, Country: "BE"}, nil
	}
	if err != nil {
		return err
	}
	if kind != billing.PartyMember {
		name = w.partyNames(r, w.locale(r, v)).issuer(id)
	}
	langs := []langOption{{"fr", i18n.French.Name()}, {"nl", i18n.Dutch.Name()}, {"en", i18n.English.Name()}}
	w.render(rw, r, http.StatusOK, "console_billing_details", v, map[string]any{"D": d, "Party": name, "Langs": langs, "Flash": w.takeFlash(r, v)})
	return nil
}

// langOption is a language a party's documents can be in: its code and
// its name in itself.
type langOption struct{ Code, Name string }

func (w *Web) billingDetailsSave(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	kind, id, _, err := w.detailsParty(r, v)
	if err != nil {
		return err
	}
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	d := billing.Details{Kind: kind, ID: id, Name: f("name"), Street: f("street"), AdditionalStreet: f("additional_street"),
		PostalCode: f("postal_code"), City: f("city"), Country: strings.ToUpper(f("country")), Email: f("email"),
		Private: f("private") == "on", VATNumber: strings.ToUpper(strings.ReplaceAll(f("vat_number"), " ", "")),
		EnterpriseNumber: strings.NewReplacer(" ", "", ".", "").Replace(f("enterprise_number")),
		IBAN:             strings.ToUpper(strings.ReplaceAll(f("iban"), " ", "")), BIC: strings.ToUpper(f("bic")),
		Plan: billing.MemberPlan(f("plan")), Lang: f("lang")}
	back := "/billing/details/" + string(kind) + "/" + id
	loc := w.locale(r, v)
	err = w.st.Billing().SetDetails(r.Context(), d)
	var fe *domain.FieldError
	switch {
	case err == nil:
		w.setFlash(r, v, loc.T("billing.details_saved"))
	case errors.As(err, &fe):
		w.opsRefused.With("billing_details", fe.Field).Inc()
		w.log.WarnContext(r.Context(), "web: billing details refused", "kind", kind, "id", id, "field", fe.Field, "err", err)
		w.setFlash(r, v, loc.T("console.refused", "why", fe.Error()))
	default:
		return err
	}
	http.Redirect(rw, r, back, http.StatusSeeOther)
	return nil
}

// siteInvoices lists the member's own documents, newest first.
func (w *Web) siteInvoices(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	docs, err := w.st.Billing().Documents(ctx, billing.DocumentFilter{MemberID: v.Member.ID})
	if err != nil {
		return err
	}
	rows := w.billingRows(docs, w.locale(r, v))
	slices.Reverse(rows)
	w.render(rw, r, http.StatusOK, "site_invoices", v, map[string]any{"Documents": rows})
	return nil
}

// apiInvoices is the member API's list of the member's own documents.
func (w *Web) apiInvoices(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	docs, err := w.st.Billing().Documents(r.Context(), billing.DocumentFilter{MemberID: v.Member.ID})
	if err != nil {
		return err
	}
	writeAPI(rw, http.StatusOK, map[string]any{"items": docs})
	return nil
}

// memberDocument is a document of the signed-in member (another
// member's is answered like a missing one).
func (w *Web) memberDocument(r *http.Request, v *viewer) (billing.Issued, error) {
	d, err := w.st.Billing().Document(r.Context(), r.PathValue("issuer"), r.PathValue("number"))
	if err != nil {
		return d, err
	}
	if d.MemberID != v.Member.ID {
		return billing.Issued{}, hidden("document", r.PathValue("number"))
	}
	return d, nil
}

func (w *Web) siteInvoicePDF(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := w.memberDocument(r, v)
	if err != nil {
		return err
	}
	return w.sendPDF(rw, r, v, &d)
}

func (w *Web) apiInvoicePDF(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := w.memberDocument(r, v)
	if errors.Is(err, store.ErrNotFound) {
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such document of yours"}
	}
	if err != nil {
		return err
	}
	return w.sendPDF(rw, r, v, &d)
}
