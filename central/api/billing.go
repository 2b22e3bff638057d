package api

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoicepdf"
	"github.com/smartworkcenters/swc/central/billing/ubl"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/store"
)

// Billing (issue 19, package billing). Who may do what:
//
//   - admin: everything: prices, any party's billing details, the dry run
//     and the issue of a period, every document, voids, the payouts file.
//   - manager of center C: reads the prices; adds prices of C (its hour,
//     rooms, no-show fee, monthly pass); reads and sets the billing
//     details of C and of C's local members; reads the documents C issued
//     or that were self-billed in C's name, and downloads them; reads
//     and sells the hour packs of C's local members (an admin those of
//     nomadic members, sold by the cooperative).
//   - technician: nothing.
func (s *Server) billingRoutes() []route {
	managers := []store.Role{store.RoleAdmin, store.RoleManager}
	admins := []store.Role{store.RoleAdmin}
	return []route{
		{"GET", "/billing/prices", managers, s.listPrices},
		{"POST", "/billing/prices", managers, s.addPrice},
		{"GET", "/billing/details/{kind}/{id}", managers, s.getBillingDetails},
		{"PUT", "/billing/details/{kind}/{id}", managers, s.putBillingDetails},
		{"GET", "/billing/periods/{period}/dry-run", admins, s.billingDryRun},
		{"POST", "/billing/periods/{period}/issue", admins, s.billingIssue},
		{"GET", "/billing/periods/{period}/payouts.xml", admins, s.billingPayouts},
		{"GET", "/billing/documents", managers, s.listDocuments},
		{"GET", "/billing/documents/{issuer}/{number}", managers, s.getDocument},
		{"GET", "/billing/documents/{issuer}/{number}/pdf", managers, s.documentPDF},
		{"GET", "/billing/documents/{issuer}/{number}/ubl", managers, s.documentUBL},
		{"POST", "/billing/documents/{issuer}/{number}/void", admins, s.voidDocument},
		{"GET", "/billing/members/{id}/packs", managers, s.listPacks},
		{"POST", "/billing/members/{id}/packs", managers, s.addPack},
	}
}

func (s *Server) billingService() (*billing.Service, error) {
	if s.billing == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "billing_unavailable", Message: "billing is not configured"}
	}
	return s.billing, nil
}

// billingErr gives the billing's errors their API codes.
func billingErr(err error) error {
	switch {
	case errors.Is(err, credit.ErrNotClosed):
		return &Error{Status: http.StatusConflict, Code: "period_not_closed", Field: "period", Message: err.Error()}
	case errors.Is(err, billing.ErrNotIssuable):
		return &Error{Status: http.StatusConflict, Code: "not_possible", Message: err.Error()}
	}
	return err
}

func (s *Server) listPrices(w http.ResponseWriter, r *http.Request, _ *principal) error {
	if q := newQuery(r); q.err != nil {
		return q.err
	}
	ps, err := s.st.Billing().Prices(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": ps})
}

func (s *Server) addPrice(w http.ResponseWriter, r *http.Request, p *principal) error {
	var x billing.Price
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if !p.admin() && !p.in(x.CenterID) {
		return errForbidden("a manager sets the prices of their own center only")
	}
	x.CreatedMs, x.CreatedBy = s.now().UnixMilli(), p.ID
	if err := s.st.Billing().AddPrice(r.Context(), x); err != nil {
		return err
	}
	return created(w, x)
}

// detailsParty reads {kind}/{id} and checks the caller may see the party.
func (s *Server) detailsParty(r *http.Request, p *principal) (billing.PartyKind, string, error) {
	kind := billing.PartyKind(r.PathValue("kind"))
	id := r.PathValue("id")
	switch kind {
	case billing.PartyMember:
		if _, err := pathID(r, "id"); err != nil {
			return kind, id, err
		}
		if _, err := s.memberOf(r, p, id); err != nil {
			return kind, id, err
		}
	case billing.PartyCenter:
		if _, err := pathID(r, "id"); err != nil {
			return kind, id, err
		}
		if !p.in(id) {
			return kind, id, hidden("center", id)
		}
	case billing.PartyCooperative:
		if !p.admin() {
			return kind, id, errForbidden("the cooperative's billing details are the administrators'")
		}
	default:
		return kind, id, errInvalid("kind", "%q; want member, center or cooperative", kind)
	}
	return kind, id, nil
}

func (s *Server) getBillingDetails(w http.ResponseWriter, r *http.Request, p *principal) error {
	kind, id, err := s.detailsParty(r, p)
	if err != nil {
		return err
	}
	d, err := s.st.Billing().Details(r.Context(), kind, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) putBillingDetails(w http.ResponseWriter, r *http.Request, p *principal) error {
	kind, id, err := s.detailsParty(r, p)
	if err != nil {
		return err
	}
	var d billing.Details
	if err := s.decode(w, r, &d); err != nil {
		return err
	}
	if d.Kind == "" {
		d.Kind = kind
	}
	if d.ID == "" {
		d.ID = id
	}
	if d.Kind != kind || d.ID != id {
		return errInvalid("id", "the body names %s %s, the path %s %s", d.Kind, d.ID, kind, id)
	}
	if err := s.st.Billing().SetDetails(r.Context(), d); err != nil {
		return err
	}
	d, err = s.st.Billing().Details(r.Context(), kind, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

// periodCall reads the period of the path (no query parameters) and the
// billing service.
func (s *Server) periodCall(r *http.Request) (credit.Period, *billing.Service, error) {
	period, err := pathPeriod(r)
	if err != nil {
		return period, nil, err
	}
	if q := newQuery(r); q.err != nil {
		return period, nil, q.err
	}
	b, err := s.billingService()
	return period, b, err
}

func (s *Server) billingDryRun(w http.ResponseWriter, r *http.Request, _ *principal) error {
	period, b, err := s.periodCall(r)
	if err != nil {
		return err
	}
	pl, err := b.DryRun(r.Context(), period)
	if err != nil {
		return billingErr(err)
	}
	return writeJSON(w, http.StatusOK, pl)
}

// issueResult is the answer of an issue.
type issueResult struct {
	Period    credit.Period         `json:"period"`
	Documents []billing.Issued      `json:"documents"`
	Totals    []billing.IssuerTotal `json:"totals"`
	Missing   []billing.Missing     `json:"missing"`
}

func (s *Server) billingIssue(w http.ResponseWriter, r *http.Request, p *principal) error {
	period, b, err := s.periodCall(r)
	if err != nil {
		return err
	}
	docs, pl, err := b.Issue(r.Context(), period)
	if err != nil {
		return billingErr(err)
	}
	s.log.InfoContext(r.Context(), "api: billing period issued", "period", period.String(), "documents", len(docs), "by", p.ID)
	return created(w, issueResult{Period: period, Documents: docs, Totals: pl.Totals, Missing: pl.Missing})
}

func (s *Server) billingPayouts(w http.ResponseWriter, r *http.Request, _ *principal) error {
	period, err := pathPeriod(r)
	if err != nil {
		return err
	}
	q := newQuery(r, "execution")
	if q.err != nil {
		return q.err
	}
	exec := s.now().UTC()
	if v := q.v.Get("execution"); v != "" {
		if exec, err = time.Parse(time.DateOnly, v); err != nil {
			return errInvalid("execution", "%q; want a date such as 2026-12-10", v)
		}
	}
	b, err := s.billingService()
	if err != nil {
		return err
	}
	file, _, err := b.Payouts(r.Context(), period, exec)
	if err != nil {
		return billingErr(err)
	}
	return download(w, "application/xml", "payouts-"+period.String()+".xml", file)
}

func download(w http.ResponseWriter, contentType, name string, b []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	_, err := w.Write(b)
	return err
}

func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "period", "issuer", "member", "center", "format")
	format := q.format(r)
	f := billing.DocumentFilter{Issuer: q.v.Get("issuer"), MemberID: q.id("member"), CenterID: q.id("center")}
	if v := q.v.Get("period"); v != "" && q.err == nil {
		per, err := credit.ParsePeriod(v)
		if err != nil {
			return errInvalid("period", "%v", err)
		}
		f.Period = per
	}
	if q.err != nil {
		return q.err
	}
	if !p.admin() {
		f.Involving = p.Centers[0]
	}
	docs, err := s.st.Billing().Documents(r.Context(), f)
	if err != nil {
		return err
	}
	return sendExport(w, format, "documents.csv", map[string]any{"items": docs}, func(b *bytes.Buffer) error { return billing.WriteCSV(b, docs) })
}

// document reads {issuer}/{number}; a manager sees only the documents of
// their center.
func (s *Server) document(r *http.Request, p *principal) (billing.Issued, error) {
	issuer, number := r.PathValue("issuer"), r.PathValue("number")
	d, err := s.st.Billing().Document(r.Context(), issuer, number)
	if err != nil {
		return d, err
	}
	if !p.admin() && !p.in(d.Issuer) && !p.in(d.CenterID) {
		return billing.Issued{}, hidden("document", issuer+"/"+number)
	}
	return d, nil
}

func (s *Server) getDocument(w http.ResponseWriter, r *http.Request, p *principal) error {
	if q := newQuery(r); q.err != nil {
		return q.err
	}
	d, err := s.document(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) documentPDF(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "lang")
	lang := q.oneOf("lang", "fr", "nl", "en")
	if q.err != nil {
		return q.err
	}
	d, err := s.document(r, p)
	if err != nil {
		return err
	}
	b, err := billing.PDF(&d, lang)
	if err != nil {
		return err
	}
	l, _ := invoicepdf.ParseLang(cmp.Or(lang, "fr"))
	return download(w, "application/pdf", invoicepdf.FileName(&d.Doc, l), b)
}

func (s *Server) documentUBL(w http.ResponseWriter, r *http.Request, p *principal) error {
	if q := newQuery(r); q.err != nil {
		return q.err
	}
	d, err := s.document(r, p)
	if err != nil {
		return err
	}
	if d.UBL == nil {
		return errNotFound("no UBL: the buyer has no Peppol address (a private person gets the PDF)")
	}
	return download(w, "application/xml", ubl.FileName(&d.Doc), d.UBL)
}

func (s *Server) voidDocument(w http.ResponseWriter, r *http.Request, p *principal) error {
	if q := newQuery(r); q.err != nil {
		return q.err
	}
	b, err := s.billingService()
	if err != nil {
		return err
	}
	cn, err := b.Void(r.Context(), r.PathValue("issuer"), r.PathValue("number"))
	if err != nil {
		return billingErr(err)
	}
	s.log.InfoContext(r.Context(), "api: billing document voided", "issuer", r.PathValue("issuer"), "number", r.PathValue("number"), "credit_note", cn.Number, "by", p.ID)
	return created(w, cn)
}

// listPacks answers a member's hour packs with what each holds still.
func (s *Server) listPacks(w http.ResponseWriter, r *http.Request, p *principal) error {
	if q := newQuery(r); q.err != nil {
		return q.err
	}
	m, err := s.member(r, p)
	if err != nil {
		return err
	}
	packs, err := s.st.Billing().Packs(r.Context(), m.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": packs})
}

// addPack sells an hour pack to a member: by the home center's manager
// for a local member, by an admin for a nomadic one (the store sets the
// issuer from the member's home).
func (s *Server) addPack(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := s.member(r, p)
	if err != nil {
		return err
	}
	var x billing.Pack
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := sameID(&x.MemberID, m.ID, "member_id"); err != nil {
		return err
	}
	x.CreatedMs, x.CreatedBy = s.now().UnixMilli(), p.ID
	if err := s.st.Billing().AddPack(r.Context(), x); err != nil {
		return err
	}
	packs, err := s.st.Billing().Packs(r.Context(), m.ID)
	if err != nil {
		return err
	}
	for _, pk := range packs {
		if pk.ID == x.ID {
			return created(w, pk)
		}
	}
	return fmt.Errorf("hour pack %s: not read back", x.ID)
}
