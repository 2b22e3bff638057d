package billing_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/store/sqlite"
)

// BenchmarkPlanMonth plans and renders (numbers, validates, writes the
// UBL of) every document of a month of a generated network of 400
// members: documents/s.
func BenchmarkPlanMonth(b *testing.B) {
	m := newMonthTB(b, 400, 40_000)
	ctx := context.Background()
	st, _ := m.mem.ClosedSettlement(ctx, m.net.Period)
	results, _ := m.mem.MemberPeriods(ctx, m.net.Period)
	prices, _ := m.st.Billing().Prices(ctx)
	all, _ := m.st.Billing().AllDetails(ctx)
	in := &billing.Input{Period: m.net.Period, IssueDate: m.now, Settlement: st, Results: results, Prices: prices, Details: map[string]billing.Details{}}
	for _, d := range all {
		in.Details[billing.DetailsKey(d.Kind, d.ID)] = d
	}
	docs := 0
	for b.Loop() {
		pl := billing.MakePlan(in)
		for i, dr := range pl.Drafts {
			if _, err := billing.Finish(dr, int64(i+1), 0); err != nil {
				b.Fatal(err)
			}
		}
		docs += len(pl.Drafts)
	}
	b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkIssueDocuments issues one document per transaction on SQLite
// (counter row, insert, audit): documents/s.
func BenchmarkIssueDocuments(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "swc.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	p, _ := credit.ParsePeriod("2026-11")
	finish := func(d billing.Draft, seq int64) (billing.Issued, error) { return billing.Finish(d, seq, 0) }
	n := 0
	for b.Loop() {
		n++
		d := billing.Draft{Issuer: billing.CooperativeID, Period: p, Subject: fmt.Sprintf("m%d", n), Purpose: billing.PurposeInvoice, Doc: invoicetest.Samples()[0].Doc}
		if _, err := st.Billing().IssueDocuments(ctx, []billing.Draft{d}, finish); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkIssueMonth issues a month of a generated network of 400
// members on SQLite in one transaction (plan, numbers, UBL, audit):
// documents/s.
func BenchmarkIssueMonth(b *testing.B) {
	docs := 0
	for b.Loop() {
		b.StopTimer()
		m := newMonthTB(b, 400, 40_000)
		b.StartTimer()
		out, _, err := m.svc.Issue(context.Background(), m.net.Period)
		if err != nil {
			b.Fatal(err)
		}
		docs += len(out)
	}
	b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
}
