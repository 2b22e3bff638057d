package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// enterprise is a valid Belgian enterprise number made from n.
func enterprise(n int64) string {
	base := 2_000_000 + n
	return fmt.Sprintf("0%07d%02d", base, 97-base%97)
}

// business is valid billing details of a Belgian business.
func business(kind billing.PartyKind, id string, n int64) billing.Details {
	e := enterprise(n)
	return billing.Details{Kind: kind, ID: id, Name: "Party " + id, Street: "Rue 1", City: "Bruxelles", PostalCode: "1000",
		Country: "BE", Email: id + "@example.org", EnterpriseNumber: e, VATNumber: "BE" + e, IBAN: "BE68539007547034", BIC: "GKCCBEBB"}
}

// nomadicCents is the demo price of a nomadic hour the tests bill at.
const nomadicCents = 950

// billable fills st as credited does (November closed: Ann's 2 h at
// Gent), with the prices and the billing details of the cooperative and
// the centers, but not Ann's: the dry run lists her.
func billable(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	credited(t, st)
	bs := st.Billing()
	require.NoError(t, bs.SetDetails(ctx, business(billing.PartyCooperative, billing.CooperativeID, 1)))
	require.NoError(t, bs.SetDetails(ctx, business(billing.PartyCenter, "gent", 2)))
	require.NoError(t, bs.SetDetails(ctx, business(billing.PartyCenter, "leuven", 3)))
	nov, err := credit.ParsePeriod("2026-11")
	require.NoError(t, err)
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: nov, Cents: nomadicCents}))
}

// storeOn is how a test reaches one store: the CLI's flags and an open
// store for checks.
type storeOn struct {
	flags []string
	open  func() store.Store
}

func sqliteOn(t *testing.T) storeOn {
	dir := t.TempDir()
	open := func() store.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(dir, server.DBFile), sqlite.Options{})
		require.NoError(t, err)
		return st
	}
	return storeOn{flags: []string{"--data", dir}, open: open}
}

// postgresOn is a PostgreSQL schema of the test's own, dropped at its end.
func postgresOn(t *testing.T) storeOn {
	base := servicetest.PostgresURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "swc_cli_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	_, err = admin.Exec(`CREATE SCHEMA ` + schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	open := func() store.Store {
		st, err := postgres.Open(context.Background(), u.String(), store.Options{})
		require.NoError(t, err)
		return st
	}
	return storeOn{flags: []string{"--db", u.String()}, open: open}
}

// TestBillingCLI runs the operator's month on SQLite and PostgreSQL: the
// dry run lists the member without details, then none; issue numbers the
// documents as billing-cli and queues Ann's e-mail, which a serve's
// outbox delivers in her language with the PDF; a second issue makes
// nothing; list, export (PDF, UBL, CSV), payouts (pain.001, its control
// sum the self-billed amount) and mail (nothing queued twice).
func TestBillingCLI(t *testing.T) {
	for _, tc := range []struct {
		name string
		on   func(t *testing.T) storeOn
	}{{"sqlite", sqliteOn}, {"postgres", postgresOn}} {
		t.Run(tc.name, func(t *testing.T) { testBillingCLI(t, tc.on(t)) })
	}
}

func testBillingCLI(t *testing.T, on storeOn) {
	ctx := context.Background()
	st := on.open()
	billable(t, st)
	require.NoError(t, st.Close())
	cli := func(code int, args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		require.Equal(t, code, run(ctx, append(append([]string{"billing"}, args...), on.flags...), &out, &errOut), "%q: %s%s", args, out.String(), errOut.String())
		return out.String(), errOut.String()
	}
	dryRun := func() billing.Plan {
		t.Helper()
		out, _ := cli(0, "dry-run", "--period", "2026-11", "--format", "json")
		var pl billing.Plan
		require.NoError(t, json.Unmarshal([]byte(out), &pl), out)
		return pl
	}

	// Ann has no billing details: listed, not invoiced.
	out, _ := cli(0, "dry-run", "--period", "2026-11")
	assert.Contains(t, out, "dry run of 2026-11")
	assert.Regexp(t, `member ann: `, out)
	pl := dryRun()
	require.Len(t, pl.Missing, 1)
	assert.Equal(t, billing.Missing{Kind: billing.PartyMember, ID: "ann", Reason: pl.Missing[0].Reason, Code: billing.MissingNoDetails}, pl.Missing[0])

	st = on.open()
	ann := billing.Details{Kind: billing.PartyMember, ID: "ann", Name: "Ann Peeters", Country: "BE", Email: "ann@example.org", Private: true, Lang: "nl"}
	require.NoError(t, st.Billing().SetDetails(ctx, ann))
	require.NoError(t, st.Close())
	pl = dryRun()
	assert.Empty(t, pl.Missing)
	var coop *billing.IssuerTotal
	for i := range pl.Totals {
		if pl.Totals[i].Issuer == billing.CooperativeID {
			coop = &pl.Totals[i]
		}
	}
	require.NotNil(t, coop, "%+v", pl.Totals)
	assert.Equal(t, 1, coop.Documents)
	assert.Equal(t, int64(120*nomadicCents/60), coop.NetCents, "Ann's 2 h at the nomadic price")
	out, _ = cli(0, "dry-run", "--period", "2026-11")
	assert.Contains(t, out, "every party has billing details and a price")

	// Issue: the documents, audited as billing-cli, Ann's e-mail queued.
	from := "Smart Work Centers <noreply@example.org>"
	out, _ = cli(0, "issue", "--period", "2026-11", "--mail-from", from, "--public-url", "https://central.example.org")
	assert.Contains(t, out, fmt.Sprintf("issued %d documents of 2026-11", len(pl.Drafts)))
	assert.Contains(t, out, "e-mail: 1 queued in the outbox")
	var listed struct{ Items []billing.Issued }
	out, _ = cli(0, "list", "--period", "2026-11", "--format", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed.Items, len(pl.Drafts))
	var inv billing.Issued
	for _, d := range listed.Items {
		if d.MemberID == "ann" {
			inv = d
		}
	}
	require.NotEmpty(t, inv.Number, "Ann's invoice is listed")

	st = on.open()
	defer st.Close()
	page, err := st.ListAudit(ctx, store.AuditFilter{ObjectID: inv.Issuer + "/" + inv.Number})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, audit.Create, page.Items[0].Action)
	assert.Equal(t, "billing-cli", page.Items[0].Actor.ID)
	full, err := st.Billing().Document(ctx, inv.Issuer, inv.Number)
	require.NoError(t, err)

	// serve's sender delivers the queued e-mail: Dutch, the PDF attached.
	srv := mailtest.Start(t, mailtest.Options{})
	ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: srv.Config(from), Store: st.Outbox()})
	require.NoError(t, err)
	res, err := ob.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Sent)
	got := srv.Wait(t, 1)[0]
	assert.Equal(t, []string{"ann@example.org"}, got.To)
	cat, err := i18n.New()
	require.NoError(t, err)
	nl := cat.Locale(i18n.Dutch)
	assert.Equal(t, nl.T("billing.mail.invoice.subject", "number", inv.Number, "seller", full.Doc.Seller.Name), got.Subject)
	assert.Contains(t, got.Text, inv.Number)
	assert.Contains(t, got.Text, nl.Money(inv.PayableCents, inv.Currency))
	assert.Contains(t, got.Text, full.Doc.Payment.Communication.String())
	assert.Contains(t, got.Text, "https://central.example.org/my/invoices")
	require.Len(t, got.Attachments, 1)
	assert.Equal(t, "application/pdf", got.Attachments[0].MediaType)
	assert.True(t, bytes.HasPrefix(got.Attachments[0].Data, []byte("%PDF-")))

	// Nothing twice: neither documents nor e-mail.
	out, _ = cli(0, "issue", "--period", "2026-11", "--mail-from", from)
	assert.Contains(t, out, "issued 0 documents of 2026-11")
	out, _ = cli(0, "mail", "--period", "2026-11", "--mail-from", from)
	assert.Contains(t, out, "e-mail: 0 queued in the outbox for serve to deliver, 1 queued before")
	depth, err := st.Outbox().Depth(ctx)
	require.NoError(t, err)
	assert.Zero(t, depth, "nothing queued again")

	// Export: every document's PDF, the UBL of those with a Peppol
	// address, the CSV.
	dir := t.TempDir()
	out, _ = cli(0, "export", "--period", "2026-11", "--out", dir)
	assert.Contains(t, out, "into "+dir)
	var withUBL int
	for _, d := range listed.Items {
		pdfs, err := filepath.Glob(filepath.Join(dir, strings.ReplaceAll(d.Number, "-", "?")+"-??.pdf"))
		require.NoError(t, err)
		require.Len(t, pdfs, 1, d.Number)
		b, err := os.ReadFile(pdfs[0])
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(b, []byte("%PDF-")), pdfs[0])
		if d.MemberID == "ann" {
			assert.Equal(t, inv.Number+"-nl.pdf", filepath.Base(pdfs[0]), "in her language")
		}
		if doc, err := st.Billing().Document(ctx, d.Issuer, d.Number); assert.NoError(t, err) && doc.UBL != nil {
			withUBL++
		}
	}
	ubls, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	require.NoError(t, err)
	assert.Len(t, ubls, withUBL)
	assert.NotZero(t, withUBL, "the self-billed invoices go to the cooperative, a business")
	f, err := os.Open(filepath.Join(dir, "documents-2026-11.csv"))
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	assert.Len(t, rows, 1+len(listed.Items))

	// Payouts: the control sum is what the self-billed invoices owe.
	var owed int64
	for _, d := range listed.Items {
		if d.Issuer == billing.SelfBillingSeries {
			owed += d.PayableCents
		}
	}
	require.NotZero(t, owed)
	xmlFile := filepath.Join(dir, "payouts.xml")
	out, _ = cli(0, "payouts", "--period", "2026-11", "--out", xmlFile, "--execution", "2026-12-10")
	assert.Contains(t, out, "SEPA pain.001")
	raw, err := os.ReadFile(xmlFile)
	require.NoError(t, err)
	var doc struct {
		CtrlSum string `xml:"CstmrCdtTrfInitn>GrpHdr>CtrlSum"`
		Date    string `xml:"CstmrCdtTrfInitn>PmtInf>ReqdExctnDt>Dt"`
	}
	require.NoError(t, xml.Unmarshal(raw, &doc))
	assert.Equal(t, invoice.FormatCents(owed), doc.CtrlSum)
	assert.Equal(t, "2026-12-10", doc.Date)
	stdout, _ := cli(0, "payouts", "--period", "2026-11", "--out", "-")
	assert.True(t, strings.HasPrefix(stdout, "<?xml"), "--out - writes the file to standard output")

	// Every period, by issuer.
	out, _ = cli(0, "list", "--issuer", billing.SelfBillingSeries)
	assert.NotContains(t, out, inv.Number)
	assert.Contains(t, out, "documents")
}

// TestBillingCLIErrors: every flag is checked, and the error names it.
func TestBillingCLIErrors(t *testing.T) {
	on := sqliteOn(t)
	st := on.open()
	billable(t, st)
	require.NoError(t, st.Close())
	dir := on.flags[1]
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no period", []string{"dry-run", "--data", dir}, 2, "--period is required"},
		{"bad period", []string{"issue", "--data", dir, "--period", "2026-13"}, 2, "--period: "},
		{"dry-run format", []string{"dry-run", "--data", dir, "--period", "2026-11", "--format", "csv"}, 2, `--format "csv": want text or json`},
		{"list format", []string{"list", "--data", dir, "--format", "xml"}, 2, `--format "xml": want text, csv or json`},
		{"export without --out", []string{"export", "--data", dir, "--period", "2026-11"}, 2, "--out is required"},
		{"export format", []string{"export", "--data", dir, "--period", "2026-11", "--out", empty, "--format", "pdf,docx"}, 2, `--format "docx"`},
		{"export lang", []string{"export", "--data", dir, "--period", "2026-11", "--out", empty, "--lang", "de"}, 2, `--lang "de"`},
		{"payouts without --out", []string{"payouts", "--data", dir, "--period", "2026-11"}, 2, "--out is required"},
		{"payouts execution", []string{"payouts", "--data", dir, "--period", "2026-11", "--out", "x.xml", "--execution", "10/12/2026"}, 2, `--execution "10/12/2026"`},
		{"mail without --mail-from", []string{"mail", "--data", dir, "--period", "2026-11"}, 2, "--mail-from is required"},
		{"bad --mail-from", []string{"issue", "--data", dir, "--period", "2026-11", "--mail-from", "nobody"}, 1, "--mail-from: "},
		{"bad --public-url", []string{"issue", "--data", dir, "--period", "2026-11", "--public-url", "central.example.org"}, 2, "--public-url"},
		{"both stores", []string{"list", "--data", dir, "--db", "postgres://x"}, 2, "give --data or --db, not both"},
		{"no database", []string{"list", "--data", empty}, 1, "no database"},
		{"extra argument", []string{"list", "--data", dir, "now"}, 2, `unexpected argument "now"`},
		{"unknown subcommand", []string{"send", "--data", dir}, 2, `swc-central billing: unknown command "send"`},
		{"open period", []string{"issue", "--data", dir, "--period", "2026-12"}, 1, "close it first"},
		{"nothing issued to export", []string{"export", "--data", dir, "--period", "2026-11", "--out", empty}, 1, "no document issued for 2026-11"},
		{"nothing to pay", []string{"payouts", "--data", dir, "--period", "2026-11", "--out", filepath.Join(empty, "p.xml")}, 1, "nothing to pay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, tc.code, run(context.Background(), append([]string{"billing"}, tc.args...), &out, &errOut), "%s%s", out.String(), errOut.String())
			assert.Contains(t, errOut.String(), tc.says)
		})
	}
	// Nothing was issued by the failed commands.
	st = on.open()
	defer st.Close()
	docs, err := st.Billing().Documents(context.Background(), billing.DocumentFilter{})
	require.NoError(t, err)
	assert.Empty(t, docs)
	entries, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, entries, "the failed export and payouts wrote nothing")
}
