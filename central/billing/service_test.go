package billing_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/xml"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// month is a small generated network credited for November 2026 and
// closed, with a SQLite store holding its centers and members, billing
// details for all but one member, and prices.
type month struct {
	ctx        context.Context
	net        *credittest.Network
	dir        *credit.Directory
	mem        *credit.MemStore
	ledger     *credit.Ledger
	st         store.Store
	svc        *billing.Service
	reg        *metrics.Registry
	now        time.Time
	missing    string    // the member without details
	walkIn     time.Time // walker's entry without exit (see newMonthTB), at walkCenter
	walkCenter string
}

// walker is a nomadic member of the generated network with a pass, and
// pays by the hour (newMonthTB puts every seventh member on a monthly pass).
const walker = "mem-0011"

// freeDay finds for member a weekday of the month and a center where the
// member has no tap or booking that day, nor any tap or booking anywhere
// from 08:00 to 14:00 (Brussels): it returns 09:00 that day and the center.
func freeDay(t testing.TB, net *credittest.Network, member string) (time.Time, string) {
	loc := net.Config.Location
	start := net.Period.Start(loc)
	for d := start; d.Month() == start.Month(); d = d.AddDate(0, 0, 1) {
		if d.Weekday() == time.Sunday {
			continue
		}
		from, to := d.Add(8*time.Hour), d.Add(14*time.Hour)
		busy := map[string]bool{} // centers with a tap or booking that day
		clash := false
		for _, e := range net.Events {
			at := time.UnixMilli(e.TimeMs)
			if e.Member != member || at.Before(d) || !at.Before(d.AddDate(0, 0, 1)) {
				continue
			}
			busy[strings.Split(e.Door, "-")[0]+"-"+strings.Split(e.Door, "-")[1]] = true
			clash = clash || (!at.Before(from) && at.Before(to))
		}
		for _, b := range net.Bookings {
			if b.MemberID == member && b.Start.Before(d.AddDate(0, 0, 1)) && b.End.After(d) {
				busy[b.CenterID] = true
				clash = clash || (b.Start.Before(to) && b.End.After(from))
			}
		}
		if clash {
			continue
		}
		for _, c := range net.Centers {
			if !busy[c.ID] {
				return d.Add(9 * time.Hour), c.ID
			}
		}
	}
	t.Fatalf("%s has no free day", member)
	return time.Time{}, ""
}

func newMonth(t *testing.T) *month { return newMonthTB(t, 40, 4000) }

// newMonthTB is newMonth with a network of members and events.
func newMonthTB(t testing.TB, members, events int) *month {
	t.Helper()
	ctx := context.Background()
	net, err := credittest.NewNetwork(credittest.NetworkSize{Centers: 4, Members: members, Events: events, Rooms: 2, Workspaces: members * 3 / 10})
	require.NoError(t, err)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	for _, c := range net.Centers {
		require.NoError(t, st.CreateCenter(ctx, c))
	}
	for _, m := range net.Members {
		require.NoError(t, st.CreateMember(ctx, m))
	}
	m := &month{ctx: ctx, net: net, dir: net.Directory(), mem: credit.NewMemStore(), st: st, reg: metrics.NewRegistry(),
		now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	m.ledger, err = credit.NewLedger(net.Config, m.mem)
	require.NoError(t, err)
	// A walk-in of walker without an exit tap (credited DefaultVisit) on a
	// day they have no other tap or booking: a late exit tap shortens it.
	m.walkIn, m.walkCenter = freeDay(t, net, walker)
	entry := domain.Event{Door: m.walkCenter + "-in", ReceivedMs: m.walkIn.Add(time.Minute).UnixMilli(), Event: protocol.Event{Seq: 2_000_000,
		TimeMs: m.walkIn.UnixMilli(), Trusted: true, Boot: "boot", Kind: protocol.EventTap, UID: "04A1B2C3", Member: walker,
		Reason: protocol.GrantedPass, WLVersion: 1}}
	_, err = m.ledger.Update(ctx, m.dir, m.mem.AddEvents(append(slices.Clone(net.Events), entry)))
	require.NoError(t, err)
	_, err = m.ledger.Close(ctx, m.dir, net.Period, m.now)
	require.NoError(t, err)

	bs := st.Billing()
	require.NoError(t, bs.SetDetails(ctx, billing.Business(billing.PartyCooperative, billing.CooperativeID, "BE", 90)))
	for i, c := range net.Centers {
		require.NoError(t, bs.SetDetails(ctx, billing.Business(billing.PartyCenter, c.ID, "BE", int64(i))))
		require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceCenterHour, CenterID: c.ID, ValidFrom: net.Period, Cents: 700 + 55*int64(i)}))
	}
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: net.Period, Cents: 850}))
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceNoShow, ValidFrom: net.Period, Cents: 500}))
	results, err := m.mem.MemberPeriods(ctx, net.Period)
	require.NoError(t, err)
	m.missing = results[len(results)-1].MemberID
	for i, mp := range results[:len(results)-1] {
		var d billing.Details
		switch i % 3 {
		case 0:
			d = billing.Private(mp.MemberID)
		case 1:
			d = billing.Business(billing.PartyMember, mp.MemberID, "BE", int64(100+i))
		default:
			d = billing.Business(billing.PartyMember, mp.MemberID, "NL", 0)
		}
		if i%7 == 3 {
			d.Plan = billing.PlanMonthlyPass
		}
		require.NoError(t, bs.SetDetails(ctx, d))
	}
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceMonthlyPass, ValidFrom: net.Period, Cents: 9900}))
	for _, c := range net.Centers {
		require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceMonthlyPass, CenterID: c.ID, ValidFrom: net.Period, Cents: 7900}))
	}
	m.svc = billing.NewService(billing.Config{Store: bs, Ledger: m.mem, Metrics: m.reg, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return m.now }})
	return m
}

// TestIssueMonth: a month of the generated network is invoiced. The dry
// run lists the member without details and the totals per issuer; issuing
// makes what the dry run showed, once; every UBL document passes the
// schema; the self-billed invoices recompute the settlement's nomadic
// amounts to the cent; the payouts file's control sum is the payouts.
func TestIssueMonth(t *testing.T) {
	m := newMonth(t)
	ctx, p := m.ctx, m.net.Period
	plan, err := m.svc.DryRun(ctx, p)
	require.NoError(t, err)
	require.Contains(t, plan.Missing, billing.Missing{Kind: billing.PartyMember, ID: m.missing, Reason: "no billing details", Code: billing.MissingNoDetails})
	require.NotEmpty(t, plan.Totals)
	require.Contains(t, metricsText(t, m.reg), `swc_billing_validation_failures_total{what="details"} 1`)

	docs, plan2, err := m.svc.Issue(ctx, p)
	require.NoError(t, err)
	require.Len(t, docs, len(plan.Drafts))
	require.Equal(t, plan.Totals, plan2.Totals)
	var payable int64
	for _, tot := range plan.Totals {
		payable += tot.PayableCents
	}
	var got int64
	issuers := map[string]int64{}
	for _, d := range docs {
		got += d.PayableCents
		issuers[d.Issuer]++
		require.Equal(t, issuers[d.Issuer], d.Seq, "numbers of %s follow each other", d.Issuer)
		require.NotEqual(t, m.missing, d.MemberID)
	}
	require.Equal(t, payable, got)
	again, plan3, err := m.svc.Issue(ctx, p)
	require.NoError(t, err)
	require.Empty(t, again, "a period is issued once")
	require.Empty(t, plan3.Drafts)
	require.Empty(t, plan3.Totals, "the dry run after the issue has nothing left to total")

	// Self-billing recomputes the settlement, and the settlement the
	// self-billing.
	s, err := m.mem.ClosedSettlement(ctx, p)
	require.NoError(t, err)
	self := map[string]int64{}
	for _, d := range docs {
		if d.Type == invoice.TypeSelfBilled {
			self[d.CenterID] += d.Doc.Totals().TaxExclusiveCents
		}
	}
	var nomadic int64
	for _, l := range s.Centers {
		require.Equal(t, l.NomadicCents, self[l.CenterID], "center %s", l.CenterID)
		nomadic += l.NomadicCents
	}
	require.NotZero(t, nomadic)
	// Cross-center invoices between centers recompute the settlement's
	// cross-center lines, and the home centers' invoice amounts.
	cross := map[[2]string]int64{}
	for _, d := range docs {
		if strings.HasPrefix(d.Purpose, "cross_center:") {
			cross[[2]string{d.Issuer, d.CenterID}] += d.Doc.Totals().TaxExclusiveCents
		}
	}
	want := map[[2]string]int64{}
	for _, l := range s.CrossCenter {
		want[[2]string{l.HostCenterID, l.HomeCenterID}] += l.AmountCents
	}
	require.NotEmpty(t, want)
	require.Equal(t, want, cross)
	for _, l := range s.Centers {
		var invoiced int64
		for k, v := range cross {
			if k[1] == l.CenterID {
				invoiced += v
			}
		}
		require.Equal(t, l.InvoiceCents, invoiced, "what %s is invoiced", l.CenterID)
	}

	xmlFiles := writeUBL(t, docs)
	validateUBL(t, xmlFiles)

	file, payouts, err := m.svc.Payouts(ctx, p, time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	var sum, selfPayable int64
	for _, po := range payouts {
		sum += po.AmountCents
	}
	for _, d := range docs {
		if d.Type == invoice.TypeSelfBilled {
			selfPayable += d.PayableCents
		}
	}
	require.Equal(t, selfPayable, sum)
	var pain struct {
		CtrlSum string `xml:"CstmrCdtTrfInitn>GrpHdr>CtrlSum"`
		NbOfTxs int    `xml:"CstmrCdtTrfInitn>GrpHdr>NbOfTxs"`
	}
	require.NoError(t, xml.Unmarshal(file, &pain))
	require.Equal(t, invoice.FormatCents(sum), pain.CtrlSum)
	require.Equal(t, len(payouts), pain.NbOfTxs)
	lintFile(t, file, filepath.Join("sepa", "testdata", "pain.001.001.09.xsd"))
}

// TestLateEventCorrects: an entry of November received in December, after
// November was invoiced, is an adjustment of the ledger booked in
// December; issuing December makes an extra invoice referring to the
// November invoice. A late exit tap that shortens a November walk-in
// makes a credit note (381) referring to that member's November invoice.
// Every November document stays byte for byte what was issued. Voiding an invoice makes a credit note referring to it,
// once.
func TestLateEventCorrects(t *testing.T) {
	m := newMonth(t)
	ctx, nov := m.ctx, m.net.Period
	first, _, err := m.svc.Issue(ctx, nov)
	require.NoError(t, err)
	before := map[string]billing.Issued{}
	pdfs := map[string][]byte{}
	for _, d := range first {
		before[d.Number] = d
		pdfs[d.Number], err = billing.PDF(&d, "nl")
		require.NoError(t, err)
	}
	// A nomadic member with a pass walks in late on the last evening.
	member := "mem-0001" // nomadic, with a pass
	var inv billing.Issued
	for _, d := range first {
		if d.MemberID == member && d.Purpose == billing.PurposeInvoice {
			inv = d
		}
	}
	require.NotEmpty(t, inv.Number, "%s was invoiced for November", member)
	at := time.Date(2026, 11, 28, 20, 0, 0, 0, m.net.Config.Location)
	late := domain.Event{Door: "ctr-01-in", ReceivedMs: m.now.UnixMilli(), Event: protocol.Event{Seq: 1_000_000, TimeMs: at.UnixMilli(), Trusted: true,
		Boot: "boot", Kind: protocol.EventTap, UID: "04A1B2C3", Member: member, Reason: protocol.GrantedPass, WLVersion: 1}}
	// walker's exit tap, an hour after their entry, arrives late too: the
	// walk-in credited for the default four hours lasted one.
	exit := domain.Event{Door: m.walkCenter + "-out", ReceivedMs: m.now.UnixMilli(), Event: protocol.Event{Seq: 2_000_001, TimeMs: m.walkIn.Add(time.Hour).UnixMilli(),
		Trusted: true, Boot: "boot", Kind: protocol.EventTap, UID: "04A1B2C3", Member: walker, Reason: protocol.GrantedPass, WLVersion: 1}}
	rep, err := m.ledger.Update(ctx, m.dir, m.mem.AddEvents([]domain.Event{late, exit}))
	require.NoError(t, err)
	require.NotEmpty(t, rep.Adjusted)
	dec := nov.Next()
	_, err = m.ledger.Close(ctx, m.dir, dec, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	m.now = time.Date(2027, 1, 3, 9, 0, 0, 0, time.UTC)
	second, _, err := m.svc.Issue(ctx, dec)
	require.NoError(t, err)
	var extra *billing.Issued
	for i := range second {
		if second[i].MemberID == member && second[i].Purpose == "extra:"+nov.String() {
			extra = &second[i]
		}
	}
	require.NotNil(t, extra, "an extra invoice corrects November")
	require.Equal(t, invoice.TypeInvoice, extra.Type)
	require.Equal(t, inv.Number, extra.Corrects)
	require.Equal(t, "SWC-2027-000001", extra.Number, "a new year starts the numbers again")
	require.Contains(t, extra.Doc.Lines[0].Description, "Correction of November 2026: Hours at ")
	// December's self-billing pays the nomadic adjustment of November at
	// November's rate: it recomputes the settlement's adjustment lines.
	ds, err := m.mem.ClosedSettlement(ctx, dec)
	require.NoError(t, err)
	want := map[string]int64{}
	for _, l := range ds.Centers {
		want[l.CenterID] += l.NomadicCents
	}
	for _, a := range ds.Adjustments {
		if a.Class == credit.ClassNomadic {
			want[a.CenterID] += a.AmountCents
		}
	}
	got := map[string]int64{}
	for _, d := range second {
		if d.Type == invoice.TypeSelfBilled {
			got[d.CenterID] += d.Doc.Totals().TaxExclusiveCents
		}
	}
	for c, v := range want {
		require.Equal(t, v, got[c], "self-billing of %s in December", c)
	}
	require.NotZero(t, want["ctr-01"], "the late hours are paid to their host")

	var walkerInv billing.Issued
	for _, d := range first {
		if d.MemberID == walker && d.Purpose == billing.PurposeInvoice {
			walkerInv = d
		}
	}
	require.NotEmpty(t, walkerInv.Number, "%s was invoiced for November", walker)
	var credited *billing.Issued
	for i := range second {
		if second[i].MemberID == walker && second[i].Purpose == "credit:"+nov.String() {
			credited = &second[i]
		}
	}
	require.NotNil(t, credited, "a credit note gives back the hours the late exit took off")
	require.Equal(t, invoice.TypeCreditNote, credited.Type)
	require.Equal(t, walkerInv.Number, credited.Corrects)
	require.Equal(t, invoice.Units(180), credited.Doc.Lines[0].Quantity, "four hours credited, one spent")
	require.Equal(t, int64(180*850/60), credited.Doc.Totals().TaxExclusiveCents, "at November's price")

	after, err := m.st.Billing().Documents(ctx, billing.DocumentFilter{Period: nov})
	require.NoError(t, err)
	require.Len(t, after, len(before))
	for _, d := range after {
		b := before[d.Number]
		require.Equal(t, b.Model, d.Model, d.Number)
		require.Equal(t, b.UBL, d.UBL, d.Number)
		require.Equal(t, b.Digest, d.Digest, d.Number)
		pdf, err := billing.PDF(&d, "nl")
		require.NoError(t, err)
		require.True(t, bytes.Equal(pdfs[d.Number], pdf), "PDF of %s", d.Number)
	}

	cn, err := m.svc.Void(ctx, inv.Issuer, inv.Number)
	require.NoError(t, err)
	require.Equal(t, invoice.TypeCreditNote, cn.Type)
	require.Equal(t, inv.Number, cn.Corrects)
	require.Equal(t, inv.PayableCents, cn.PayableCents)
	_, err = m.svc.Void(ctx, inv.Issuer, inv.Number)
	require.ErrorIs(t, err, billing.ErrNotIssuable, "voided once")
	_, err = m.svc.Void(ctx, cn.Issuer, cn.Number)
	require.ErrorIs(t, err, billing.ErrNotIssuable)
	_, err = m.svc.Void(ctx, walkerInv.Issuer, walkerInv.Number)
	require.ErrorIs(t, err, billing.ErrNotIssuable, "credited in part already: no second credit of the same hours")
	// A self-billed invoice is voided by a self-billed credit note (261),
	// and the period's payouts then leave that center out.
	var sb billing.Issued
	for _, d := range second {
		if d.Type == invoice.TypeSelfBilled && d.CenterID == "ctr-01" {
			sb = d
		}
	}
	_, paid, err := m.svc.Payouts(ctx, dec, m.now)
	require.NoError(t, err)
	sbn, err := m.svc.Void(ctx, sb.Issuer, sb.Number)
	require.NoError(t, err)
	require.Equal(t, invoice.TypeSelfBilledCreditNote, sbn.Type)
	require.Equal(t, "ctr-01", sbn.CenterID)
	_, paidAfter, err := m.svc.Payouts(ctx, dec, m.now)
	if len(paid) == 1 { // December paid only the late hours
		require.ErrorIs(t, err, billing.ErrNotIssuable)
	} else {
		require.NoError(t, err)
		require.Len(t, paidAfter, len(paid)-1)
	}
	for _, po := range paidAfter {
		require.NotEqual(t, "ctr-01", po.CenterID)
	}
	validateUBL(t, writeUBL(t, append(second, cn, sbn)))
}

func metricsText(t *testing.T, r *metrics.Registry) string {
	var b bytes.Buffer
	require.NoError(t, r.WriteText(&b))
	return b.String()
}

// ubls are the UBL files of documents, by rule set.
type ubls struct {
	invoices, creditNotes []string
	all, billing, self    string
}

func writeUBL(t *testing.T, docs []billing.Issued) ubls {
	u := ubls{all: t.TempDir(), billing: t.TempDir(), self: t.TempDir()}
	for _, d := range docs {
		if d.UBL == nil {
			require.False(t, d.Doc.Buyer.VATNumber != "" || d.Doc.Buyer.EnterpriseNumber != "", "%s: a business gets UBL", d.Number)
			continue
		}
		dir := u.billing
		if d.Doc.IsSelfBilled() {
			dir = u.self
		}
		f := filepath.Join(dir, d.Number+".xml")
		require.NoError(t, os.WriteFile(f, d.UBL, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(u.all, d.Number+".xml"), d.UBL, 0o644))
		if d.Doc.IsCreditNote() {
			u.creditNotes = append(u.creditNotes, f)
		} else {
			u.invoices = append(u.invoices, f)
		}
	}
	return u
}

// need skips when a validator is missing, and fails under
// SWC_REQUIRE_SERVICES=1 (.ci/run installs them).
func need(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("SWC_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is required (SWC_REQUIRE_SERVICES=1): %v", what, err)
	}
	t.Skipf("skipping: %s not available (%v); apt-get install libxml2-utils libsaxonhe-java default-jre-headless", what, err)
}

func run(t *testing.T, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func lintFile(t *testing.T, b []byte, xsd string) {
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		need(t, "xmllint", err)
	}
	f := filepath.Join(t.TempDir(), "file.xml")
	require.NoError(t, os.WriteFile(f, b, 0o644))
	if msg, err := run(t, lint, "--noout", "--nonet", "--schema", xsd, f); err != nil {
		t.Fatalf("xmllint %s: %v\n%s", xsd, err, msg)
	}
}

// validateUBL checks the files against the UBL 2.1 schema (xmllint) and
// the EN 16931 and Peppol rules (Saxon-HE): no fatal assertion.
func validateUBL(t *testing.T, u ubls) {
	t.Helper()
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		need(t, "xmllint", err)
	}
	schemas := filepath.Join("ubl", "testdata", "ubl-2.1", "maindoc")
	for schema, files := range map[string][]string{"UBL-Invoice-2.1.xsd": u.invoices, "UBL-CreditNote-2.1.xsd": u.creditNotes} {
		if len(files) == 0 {
			continue
		}
		args := append([]string{lint, "--noout", "--nonet", "--schema", filepath.Join(schemas, schema)}, files...)
		if msg, err := run(t, args...); err != nil {
			t.Fatalf("xmllint %s: %v\n%s", schema, err, msg)
		}
	}
	java, err := exec.LookPath("java")
	if err != nil {
		need(t, "java", err)
	}
	jar := cmp.Or(os.Getenv("SWC_SAXON_JAR"), "/usr/share/java/Saxon-HE.jar")
	if _, err := os.Stat(jar); err != nil {
		need(t, "Saxon-HE", err)
	}
	for _, rules := range []struct{ xslt, dir string }{
		{"ubl/testdata/en16931/EN16931-UBL-validation.xslt", u.all},
		{"ubl/testdata/peppol/PEPPOL-EN16931-UBL.xslt", u.billing},
		{"ubl/testdata/peppol/PEPPOL-EN16931-UBL-SB.xslt", u.self},
	} {
		in, _ := filepath.Glob(filepath.Join(rules.dir, "*.xml"))
		if len(in) == 0 {
			continue
		}
		out := t.TempDir()
		if msg, err := run(t, java, "-cp", jar, "net.sf.saxon.Transform", "-s:"+rules.dir, "-xsl:"+rules.xslt, "-o:"+out); err != nil {
			t.Fatalf("saxon %s: %v\n%s", rules.xslt, err, msg)
		}
		reports, _ := filepath.Glob(filepath.Join(out, "*.xml"))
		require.Len(t, reports, len(in), "a report per document (%s)", rules.xslt)
		for _, r := range reports {
			b, err := os.ReadFile(r)
			require.NoError(t, err)
			var rep struct {
				Failed []struct {
					ID   string `xml:"id,attr"`
					Flag string `xml:"flag,attr"`
					Text string `xml:"text"`
				} `xml:"failed-assert"`
			}
			require.NoError(t, xml.Unmarshal(b, &rep))
			for _, f := range rep.Failed {
				if f.Flag != "warning" && f.Flag != "information" {
					t.Errorf("%s %s: %s %s", filepath.Base(rules.xslt), filepath.Base(r), f.ID, strings.TrimSpace(f.Text))
				}
			}
		}
	}
}
