package invoicemail_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoicemail"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/metrics"
)

const from = "Smart Work Centers <noreply@example.org>"

// issued makes a document of the cooperative to member (an invoice, or a
// credit note of it), numbered seq, as billing.Finish issues it.
func issued(t *testing.T, member string, typ invoice.TypeCode, seq int64, cents int64) billing.Issued {
	t.Helper()
	p, err := credit.ParsePeriod("2026-11")
	require.NoError(t, err)
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	d := invoice.Document{Type: typ, IssueDate: day, BuyerReference: member,
		Seller: invoice.Party{Name: "Smart Work Centers", Address: invoice.Address{Street: "Rue 1", City: "Bruxelles", PostalCode: "1000", Country: "BE"},
			VATNumber: "BE0200000043", EnterpriseNumber: "0200000043", Email: "billing@example.org"},
		Buyer: invoice.Party{Name: "Member " + member, Address: invoice.Address{Country: "BE"}, Email: member + "@example.org"},
		Lines: []invoice.Line{{Description: "Hours", Quantity: invoice.Units(120), Unit: "MIN", UnitPriceCents: cents, BaseQuantity: invoice.Units(60),
			VAT: invoice.VAT{Category: invoice.CategoryStandard, Rate: invoice.Percent(21)}}}}
	if typ == invoice.TypeInvoice {
		d.DueDate = day.AddDate(0, 0, 30)
		d.Payment = &invoice.Payment{IBAN: "BE68539007547034"}
	} else {
		d.Corrects = &invoice.Reference{Number: "SWC-2026-000001", IssueDate: day}
	}
	is, err := billing.Finish(billing.Draft{Issuer: billing.CooperativeID, Period: p, Subject: member, Purpose: billing.PurposeInvoice, MemberID: member, Doc: d}, seq, day.UnixMilli())
	require.NoError(t, err)
	return is
}

type env struct {
	st  store.Store
	srv *mailtest.Server
	ob  *mail.Outbox
	n   *invoicemail.Notifier
	reg *metrics.Registry
	cat *i18n.Catalog
}

func newEnv(t *testing.T) *env {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	for _, m := range []string{"ann", "bert", "carla"} {
		require.NoError(t, st.CreateMember(ctx, domain.Member{ID: m, Name: m, Status: domain.MemberActive}))
	}
	for m, lang := range map[string]string{"ann": "nl", "bert": "en"} { // carla has none: French
		require.NoError(t, st.Billing().SetDetails(ctx, billing.Details{Kind: billing.PartyMember, ID: m, Name: "Member " + m, Country: "BE",
			Email: m + "@example.org", Private: true, Lang: lang}))
	}
	e := &env{st: st, srv: mailtest.Start(t, mailtest.Options{}), reg: metrics.NewRegistry()}
	e.ob, err = mail.NewOutbox(mail.OutboxConfig{Mail: e.srv.Config(from), Store: st.Outbox(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	e.cat, err = i18n.New()
	require.NoError(t, err)
	e.n, err = invoicemail.New(invoicemail.Config{Queue: e.ob, Details: st.Billing(), Catalog: e.cat, SiteURL: "https://central.example.org/",
		Log: slog.New(slog.DiscardHandler), Metrics: e.reg})
	require.NoError(t, err)
	return e
}

// TestNotify: each member's document is one e-mail through the outbox and
// a real SMTP server, in the language of the member's billing details,
// with the number, amount, due date, account, structured communication,
// the link to /my/invoices and the PDF; a credit note says nothing is to
// pay; a center's document is skipped; notifying again queues nothing.
func TestNotify(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	inv := issued(t, "ann", invoice.TypeInvoice, 1, 950)
	cn := issued(t, "bert", invoice.TypeCreditNote, 2, 950)
	fr := issued(t, "carla", invoice.TypeInvoice, 3, 800)
	center := issued(t, "ann", invoice.TypeInvoice, 4, 950)
	center.MemberID, center.CenterID = "", "gent"

	docs := []billing.Issued{inv, cn, fr, center}
	r := e.n.Notify(ctx, docs)
	assert.Equal(t, invoicemail.Result{Queued: 3, Skipped: 1}, r)
	res, err := e.ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, res.Sent)
	got := map[string]mailtest.Message{}
	for _, m := range e.srv.Wait(t, 3) {
		got[m.To[0]] = m
	}
	for _, tc := range []struct {
		doc  billing.Issued
		lang i18n.Lang
		kind string
		pay  bool
	}{{inv, i18n.Dutch, "invoice", true}, {cn, i18n.English, "credit", false}, {fr, i18n.French, "invoice", true}} {
		t.Run(string(tc.lang), func(t *testing.T) {
			m, ok := got[tc.doc.MemberID+"@example.org"]
			require.True(t, ok, "%s got no e-mail", tc.doc.MemberID)
			l := e.cat.Locale(tc.lang)
			assert.Equal(t, l.T("billing.mail."+tc.kind+".subject", "number", tc.doc.Number, "seller", "Smart Work Centers"), m.Subject)
			assert.NotContains(t, m.Subject+m.Text, "⟦", "every key is in the catalog")
			assert.Contains(t, m.Text, tc.doc.Number)
			assert.Contains(t, m.Text, l.Money(tc.doc.PayableCents, "EUR"))
			assert.Contains(t, m.Text, "https://central.example.org/my/invoices")
			assert.Contains(t, m.Text, "Member "+tc.doc.MemberID)
			if tc.pay {
				assert.Contains(t, m.Text, tc.doc.Doc.Payment.Communication.String())
				assert.Contains(t, m.Text, "BE68539007547034")
				assert.Contains(t, m.Text, l.Date(tc.doc.Doc.DueDate, tc.doc.Doc.DueDate.Location()))
			} else {
				assert.NotContains(t, m.Text, "+++")
			}
			require.Len(t, m.Attachments, 1)
			a := m.Attachments[0]
			assert.Equal(t, "application/pdf", a.MediaType)
			assert.True(t, strings.HasSuffix(a.Filename, "-"+string(tc.lang)[:2]+".pdf"), a.Filename)
			assert.True(t, bytes.HasPrefix(a.Data, []byte("%PDF-")))
			pdf, err := billing.PDF(&tc.doc, string(tc.lang)[:2])
			require.NoError(t, err)
			assert.Equal(t, pdf, a.Data, "the document's PDF in the member's language")
		})
	}

	// Again (billing mail, or a retry): nothing new.
	assert.Equal(t, invoicemail.Result{Already: 3, Skipped: 1}, e.n.Notify(ctx, docs))
	depth, err := e.st.Outbox().Depth(ctx)
	require.NoError(t, err)
	assert.Zero(t, depth)
	assert.Contains(t, exposition(t, e.reg), "swc_billing_mail_queued_total 3\n")
}

// TestNotifyFailure: a message that cannot be queued (here the store is
// gone) is counted and logged, the others are not held back, and the
// caller is not failed: the documents stay issued.
func TestNotifyFailure(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	bad := issued(t, "ann", invoice.TypeInvoice, 1, 950)
	bad.Doc.Buyer.Email = "not an address"
	good := issued(t, "bert", invoice.TypeInvoice, 2, 950)
	r := e.n.Notify(ctx, []billing.Issued{bad, good})
	assert.Equal(t, invoicemail.Result{Queued: 1, Failed: 1}, r)
	assert.Contains(t, exposition(t, e.reg), "swc_billing_mail_failures_total 1\n")

	require.NoError(t, e.st.Close())
	r = e.n.Notify(ctx, []billing.Issued{issued(t, "carla", invoice.TypeInvoice, 3, 950)})
	assert.Equal(t, invoicemail.Result{Failed: 1}, r, "the store is closed")
	assert.Contains(t, exposition(t, e.reg), "swc_billing_mail_failures_total 2\n")
}

// exposition is the registry as /metrics shows it.
func exposition(t *testing.T, reg *metrics.Registry) string {
	var b bytes.Buffer
	require.NoError(t, reg.WriteText(&b))
	return b.String()
}
