package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
)

// TestBillingPages: documents of Gent (c1) and Leuven (c2) are issued; the
// admin's billing page lists both and says the period is not closed (no
// dry run yet); Gent's manager sees and downloads Gent's only, edits the
// billing details of Gent's member (a wrong country is refused in words,
// counted) but not Leuven's; the admin voids Gent's invoice by a credit
// note, which the member gets by e-mail; the member finds their invoice at
// /my/invoices and downloads it, not another member's.
func TestBillingPages(t *testing.T) {
	relay := mailtest.Start(t, mailtest.Options{})
	n := startNetworkWith(t, func(c *server.Config) { c.Mail = relay.Config("Smart Work Centers <noreply@swc.example>") })
	ctx := audit.WithSystem(context.Background(), "test")
	p := credit.PeriodOf(time.Now(), time.UTC).Prev()
	draft := func(issuer, member string) billing.Draft {
		d := invoicetest.Samples()[0].Doc
		return billing.Draft{Issuer: issuer, Period: p, Subject: member, Purpose: billing.PurposeInvoice, MemberID: member, Doc: d}
	}
	issued, err := n.srv.Store.Billing().IssueDocuments(ctx, []billing.Draft{draft("c1", "m1"), draft("c2", "m2")},
		func(d billing.Draft, seq int64) (billing.Issued, error) {
			return billing.Finish(d, seq, time.Now().UnixMilli())
		})
	require.NoError(t, err)
	gent, leuven := issued[0], issued[1]

	admin := n.login("admin")
	code, body := admin.get("/billing?period=" + p.String())
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `data-number="`+gent.Number+`"`)
	require.Contains(t, body, `data-number="`+leuven.Number+`"`)
	require.Contains(t, body, `id="billing-not-closed"`)

	// Once the period is closed, the dry run answers (no hours: nothing to
	// issue) and the issue button's action issues nothing, in words.
	n.api("POST", "/periods/"+p.String()+"/close", nil)
	code, body = admin.get("/billing?period=" + p.String())
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, body, `id="billing-not-closed"`)
	require.Contains(t, body, `id="billing-nothing"`)
	code, _, hdr := admin.post("/billing/"+p.String()+"/issue", url.Values{"csrf": {admin.csrf}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = admin.get(location(hdr))
	require.Contains(t, body, `id="flash"`)

	mgr := n.login("mgr1")
	code, body = mgr.get("/billing?period=" + p.String())
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `data-number="`+gent.Number+`"`)
	require.NotContains(t, body, leuven.Number)
	require.NotContains(t, body, `id="billing-dry-run"`, "the dry run is the admin's")
	code, body = mgr.get("/billing/documents/c1/" + gent.Number + "/pdf")
	require.Equal(t, http.StatusOK, code)
	require.True(t, strings.HasPrefix(body, "%PDF-"))
	code, _ = mgr.get("/billing/documents/c2/" + leuven.Number + "/pdf")
	require.Equal(t, http.StatusNotFound, code)
	code, body = mgr.get("/billing/documents/c1/" + gent.Number + "/ubl")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, gent.Number)
	code, body = mgr.get("/billing/" + p.String() + "/documents.csv")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, gent.Number)
	require.NotContains(t, body, leuven.Number)
	code, _, _ = mgr.post("/billing/documents/c1/"+gent.Number+"/void", url.Values{"csrf": {mgr.csrf}})
	require.Equal(t, http.StatusForbidden, code)

	code, body = mgr.get("/billing/details/member/m1")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `value="Ann Gent"`)
	code, _ = mgr.get("/billing/details/member/m2")
	require.Equal(t, http.StatusNotFound, code)
	form := url.Values{"csrf": {mgr.csrf}, "name": {"Ann Gent"}, "country": {"Belgium"}, "email": {"ann@example.org"}, "private": {"on"}, "lang": {"nl"}}
	code, _, hdr = mgr.post("/billing/details/member/m1", form)
	require.Equal(t, http.StatusSeeOther, code)
	_, body = mgr.get(location(hdr))
	require.Contains(t, body, "country:")
	_, err = n.srv.Store.Billing().Details(ctx, billing.PartyMember, "m1")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing stored")
	form.Set("country", "BE")
	code, _, _ = mgr.post("/billing/details/member/m1", form)
	require.Equal(t, http.StatusSeeOther, code)
	d, err := n.srv.Store.Billing().Details(ctx, billing.PartyMember, "m1")
	require.NoError(t, err)
	require.True(t, d.Private)
	require.Equal(t, "nl", d.Lang)
	page, err := n.srv.Store.ListAudit(ctx, store.AuditFilter{ObjectKind: billing.ObjectDetails})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, strings.TrimPrefix(mgr.id, "staff."), page.Items[0].Actor.ID, "the manager's account")

	// A void not confirmed (no confirm field naming the invoice) shows the
	// confirmation page and voids nothing; the confirmed one voids.
	confirmPage := "/billing/documents/c1/" + gent.Number + "/void"
	code, _, hdr = admin.post(confirmPage, url.Values{"csrf": {admin.csrf}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, confirmPage, location(hdr))
	code, body = admin.get(confirmPage)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `name="confirm" value="`+gent.Number+`"`)
	code, _ = mgr.get(confirmPage)
	require.Equal(t, http.StatusForbidden, code, "voiding is the admin's")
	docs, err := n.srv.Store.Billing().Documents(ctx, billing.DocumentFilter{Issuer: "c1"})
	require.NoError(t, err)
	require.Len(t, docs, 1, "nothing voided before the confirmation")
	code, _, hdr = admin.post(confirmPage, url.Values{"csrf": {admin.csrf}, "confirm": {leuven.Number}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, confirmPage, location(hdr), "a confirmation of another document is none")
	code, _, hdr = admin.post(confirmPage, url.Values{"csrf": {admin.csrf}, "confirm": {gent.Number}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = admin.get(location(hdr))
	require.Contains(t, body, "C1-")
	require.Contains(t, body, gent.Number)
	docs, err = n.srv.Store.Billing().Documents(ctx, billing.DocumentFilter{Issuer: "c1"})
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.Equal(t, gent.Number, docs[1].Corrects)
	// The member gets the credit note by e-mail, in their language, as
	// they got the invoice.
	cn := docs[1]
	msgs := relay.Wait(t, 1)
	require.Len(t, msgs, 1, "the credit note's e-mail only")
	assert.Equal(t, []string{gent.Doc.Buyer.Email}, msgs[0].To)
	assert.Equal(t, "Creditnota "+cn.Number+" van "+gent.Doc.Seller.Name, msgs[0].Subject)
	require.Len(t, msgs[0].Attachments, 1)
	assert.True(t, strings.HasPrefix(string(msgs[0].Attachments[0].Data), "%PDF-"))

	cookie, csrf := memberSession(t, n.srv.Store, "m1")
	s := &site{t: t, st: n.srv.Store, srv: &httptest.Server{URL: n.base}, cookie: cookie, csrf: csrf}
	r := s.get("/my/invoices", "fr")
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, gent.Number)
	require.NotContains(t, r.body, leuven.Number)
	r = s.get("/my/invoices/c1/"+gent.Number+"/pdf", "")
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, "application/pdf", r.header.Get("Content-Type"))
	r = s.get("/my/invoices/c2/"+leuven.Number+"/pdf", "")
	require.Equal(t, http.StatusNotFound, r.code)
	code, out := s.apiCall("GET", "/api/v1/me/invoices", "", "", false)
	require.Equal(t, http.StatusOK, code, out)
	items, _ := out["items"].([]any)
	require.Len(t, items, 2, "the invoice and its credit note")
	r = s.get("/api/v1/me/invoices/c1/"+gent.Number+"/pdf", "")
	require.Equal(t, http.StatusOK, r.code)
	require.True(t, strings.HasPrefix(r.body, "%PDF-"))
	code, out = s.apiCall("GET", "/api/v1/me/invoices/c2/"+leuven.Number+"/pdf", "", "", false)
	require.Equal(t, http.StatusNotFound, code, out)
}
