package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoicemail"
	"github.com/smartworkcenters/swc/central/billing/invoicepdf"
	"github.com/smartworkcenters/swc/central/billing/ubl"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/cmdline"
)

const billingHelp = `usage:
  swc-central billing dry-run  --period YYYY-MM [--format text|json] [--data DIR | --db postgres://...]
  swc-central billing issue    --period YYYY-MM [--mail-from ADDR [--public-url URL]] [--data DIR | --db postgres://...]
  swc-central billing list     [--period YYYY-MM] [--issuer ID] [--format text|csv|json] [--data DIR | --db ...]
  swc-central billing export   --period YYYY-MM --out DIR [--format pdf,ubl,csv] [--lang fr|nl|en] [--data DIR | --db ...]
  swc-central billing payouts  --period YYYY-MM --out FILE [--execution YYYY-MM-DD] [--data DIR | --db ...]
  swc-central billing mail     --period YYYY-MM --mail-from ADDR [--public-url URL] [--data DIR | --db ...]

The month's billing for an operator (issue 19; README "Billing: the
monthly cycle"), on serve's store, beside a running serve or not. The
period must be closed (console Settlements, or POST
/api/v1/periods/{period}/close).

dry-run   what issue would make: the totals per issuer and every member
          or center without billing details or price (exit 0; nothing stored).
issue     numbers and stores the period's documents not issued yet, all in
          one transaction, audited as the system actor "billing-cli". With
          --mail-from each member's e-mail (invoice available at /my/invoices,
          PDF attached) is queued in the store's outbox, after the commit,
          and a running serve with an SMTP relay delivers it.
list      the issued documents.
export    writes each document's PDF and Peppol UBL, and documents-PERIOD.csv
          for accounting software, into --out.
payouts   writes the SEPA credit transfer (pain.001) that pays each center
          its self-billed amount.
mail      queues the members' e-mails of the period's documents again: only
          those never queued (each document's e-mail is queued once).
`

// billingCmd dispatches swc-central billing's subcommands.
func billingCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub := func(name, synopsis, summary string) cmdline.Command {
		return cmdline.Command{Name: name, Synopsis: synopsis, Summary: summary,
			Run: func(a []string) int { return billingRun(ctx, name, a, stdout, stderr) }}
	}
	return cmdline.Dispatch("swc-central billing", billingHelp, []cmdline.Command{
		sub("dry-run", "--period YYYY-MM", "the totals per issuer and the parties without details or price"),
		sub("issue", "--period YYYY-MM [--mail-from ADDR]", "issue the period's documents (audited as billing-cli)"),
		sub("list", "[--period YYYY-MM]", "the issued documents"),
		sub("export", "--period YYYY-MM --out DIR", "write the documents' PDF, UBL and CSV into DIR"),
		sub("payouts", "--period YYYY-MM --out FILE", "write the centers' payouts (SEPA pain.001)"),
		sub("mail", "--period YYYY-MM --mail-from ADDR", "queue the members' e-mails never queued"),
	}, args, stdout, stderr)
}

// billingFlags are the flags of one billing subcommand.
type billingFlags struct {
	period, format, out, lang, issuer, execution string
	mailFrom, publicURL                          string
	dataDir, dbURL                               string
}

// billingRun parses the flags of subcommand name, checks them and runs it.
func billingRun(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	prog := "swc-central billing " + name
	fs := cmdline.NewFlagSet(prog, billingHelp, stdout, stderr)
	var f billingFlags
	needPeriod := name != "list"
	fs.StringVar(&f.period, "period", "", "the month, such as 2026-11"+map[bool]string{true: " (required)", false: " (default: every period)"}[needPeriod])
	fs.StringVar(&f.dataDir, "data", "./data", "serve's data folder, holding the SQLite database")
	fs.StringVar(&f.dbURL, "db", "", "PostgreSQL URL (postgres://...) instead of the SQLite database in --data")
	switch name {
	case "dry-run":
		fs.StringVar(&f.format, "format", "text", "text or json")
	case "list":
		fs.StringVar(&f.format, "format", "text", "text, csv or json")
		fs.StringVar(&f.issuer, "issuer", "", "only this issuer's documents (swc, a center id, or "+billing.SelfBillingSeries+")")
	case "export":
		fs.StringVar(&f.format, "format", "pdf,ubl,csv", "what to write, one or more of pdf, ubl and csv, comma-separated")
		fs.StringVar(&f.out, "out", "", "the folder to write into, created if missing (required)")
		fs.StringVar(&f.lang, "lang", "", "the PDFs' language, fr, nl or en (default: each member's language from their billing details, fr for the others)")
	case "payouts":
		fs.StringVar(&f.out, "out", "", "the pain.001 file to write, - for standard output (required)")
		fs.StringVar(&f.execution, "execution", "", "the requested execution date, YYYY-MM-DD (default: today)")
	}
	if name == "issue" || name == "mail" {
		fs.StringVar(&f.mailFrom, "mail-from", "", "the From address of the members' e-mails, as serve's --mail-from"+map[bool]string{true: " (required)", false: " (empty: no e-mail; queue them later with billing mail)"}[name == "mail"])
		fs.StringVar(&f.publicURL, "public-url", "", "where members reach the booking site, as serve's --public-url (the e-mail links to URL/my/invoices)")
	}
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, prog+": "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q", fs.Arg(0))
	}
	var p credit.Period
	switch {
	case f.period == "" && needPeriod:
		return fail(2, "--period is required, such as --period %s", credit.PeriodOf(time.Now(), time.UTC).Prev())
	case f.period != "":
		var err error
		if p, err = credit.ParsePeriod(f.period); err != nil {
			return fail(2, "--period: %v", err)
		}
	}
	if err := f.check(name); err != nil {
		return fail(2, "%v", err)
	}
	dataSet := false
	fs.Visit(func(fl *flag.Flag) { dataSet = dataSet || fl.Name == "data" })
	if dataSet && f.dbURL != "" {
		return fail(2, "give --data or --db, not both")
	}
	st, err := openStore(ctx, f.dataDir, f.dbURL)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer st.Close()
	b := &billingCLI{st: st, f: f, p: p, out: stdout, errOut: stderr,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	b.svc = billing.NewService(billing.Config{Store: st.Billing(), Ledger: st.Credit(), Log: b.log})
	run := map[string]func(context.Context) error{"dry-run": b.dryRun, "issue": b.issue, "list": b.list,
		"export": b.export, "payouts": b.payouts, "mail": b.mail}[name]
	if err := run(audit.WithSystem(ctx, "billing-cli")); err != nil {
		if errors.Is(err, credit.ErrNotClosed) {
			return fail(1, "%v (close it first: console Settlements, or POST /api/v1/periods/%s/close)", err, p)
		}
		return fail(1, "%v", err)
	}
	return 0
}

// check validates the flags of subcommand name; errors name the flag.
func (f *billingFlags) check(name string) error {
	switch name {
	case "dry-run":
		if f.format != "text" && f.format != "json" {
			return fmt.Errorf("--format %q: want text or json", f.format)
		}
	case "list":
		if f.format != "text" && f.format != "csv" && f.format != "json" {
			return fmt.Errorf("--format %q: want text, csv or json", f.format)
		}
	case "export":
		if f.out == "" {
			return errors.New("--out is required: the folder to write the documents into")
		}
		if _, err := f.exportFormats(); err != nil {
			return err
		}
		if f.lang != "" {
			if _, err := invoicepdf.ParseLang(f.lang); err != nil || len(f.lang) != 2 {
				return fmt.Errorf("--lang %q: want fr, nl or en", f.lang)
			}
		}
	case "payouts":
		if f.out == "" {
			return errors.New("--out is required: the pain.001 file to write (- for standard output)")
		}
		if f.execution != "" {
			if _, err := time.Parse(time.DateOnly, f.execution); err != nil {
				return fmt.Errorf("--execution %q: want a date such as 2026-12-10", f.execution)
			}
		}
	case "mail":
		if f.mailFrom == "" {
			return errors.New("--mail-from is required: the From address of the members' e-mails, as serve's --mail-from")
		}
	}
	if f.publicURL != "" && !strings.HasPrefix(f.publicURL, "https://") && !strings.HasPrefix(f.publicURL, "http://") {
		return fmt.Errorf("--public-url %q: want https://host[:port]", f.publicURL)
	}
	return nil
}

// exportFormats reads --format of export.
func (f *billingFlags) exportFormats() (map[string]bool, error) {
	out := map[string]bool{}
	for _, x := range strings.Split(f.format, ",") {
		switch x = strings.TrimSpace(x); x {
		case "pdf", "ubl", "csv":
			out[x] = true
		default:
			return nil, fmt.Errorf("--format %q: want pdf, ubl or csv, or several comma-separated", x)
		}
	}
	return out, nil
}

// billingCLI runs one billing subcommand on an open store.
type billingCLI struct {
	st          store.Store
	svc         *billing.Service
	f           billingFlags
	p           credit.Period
	out, errOut io.Writer
	log         *slog.Logger
}

func (b *billingCLI) dryRun(ctx context.Context) error {
	pl, err := b.svc.DryRun(ctx, b.p)
	if err != nil {
		return err
	}
	if b.f.format == "json" {
		return writeJSON(b.out, pl)
	}
	fmt.Fprintf(b.out, "dry run of %s: %d documents to issue, nothing stored\n", b.p, len(pl.Drafts))
	b.plan(pl)
	return nil
}

// plan prints a plan's totals per issuer and its missing parties.
func (b *billingCLI) plan(pl *billing.Plan) {
	tw := tabwriter.NewWriter(b.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "issuer\tdocuments\tcredit notes\tnet\tvat\tpayable\tcredited")
	for _, t := range pl.Totals {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", t.Issuer, t.Documents, t.CreditNotes, invoice.FormatCents(t.NetCents),
			invoice.FormatCents(t.VATCents), invoice.FormatCents(t.PayableCents), invoice.FormatCents(t.CreditedCents))
	}
	tw.Flush()
	if len(pl.Missing) == 0 {
		fmt.Fprintln(b.out, "every party has billing details and a price")
		return
	}
	fmt.Fprintf(b.out, "%d not invoiceable until fixed (PUT /api/v1/billing/details/{kind}/{id}, POST /api/v1/billing/prices):\n", len(pl.Missing))
	for _, m := range pl.Missing {
		fmt.Fprintf(b.out, "  %s %s: %s\n", m.Kind, m.ID, m.Reason)
	}
}

func (b *billingCLI) issue(ctx context.Context) error {
	var n *invoicemail.Notifier
	if b.f.mailFrom != "" {
		var err error
		if n, err = b.notifier(); err != nil {
			return err
		}
	}
	svc := b.svc
	var sent invoicemail.Result
	if n != nil { // the service queues them once the documents are committed
		svc = billing.NewService(billing.Config{Store: b.st.Billing(), Ledger: b.st.Credit(), Log: b.log,
			Notify: func(ctx context.Context, docs []billing.Issued) { sent = n.Notify(ctx, docs) }})
	}
	docs, pl, err := svc.Issue(ctx, b.p)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "issued %d documents of %s\n", len(docs), b.p)
	b.documents(docs)
	b.plan(pl)
	if n == nil {
		fmt.Fprintf(b.out, "no e-mail queued (no --mail-from): queue the members' e-mails with swc-central billing mail --period %s --mail-from ADDR\n", b.p)
		return nil
	}
	return b.notified(sent)
}

// notified prints what Notify did; failures make the command fail (the
// documents stay issued).
func (b *billingCLI) notified(r invoicemail.Result) error {
	fmt.Fprintf(b.out, "e-mail: %d queued in the outbox for serve to deliver, %d queued before, %d without a member's address\n", r.Queued, r.Already, r.Skipped)
	if r.Failed > 0 {
		return fmt.Errorf("%d e-mails could not be queued (the documents stay issued): run swc-central billing mail --period %s again", r.Failed, b.p)
	}
	return nil
}

// notifier queues into the store's outbox, for serve to deliver.
func (b *billingCLI) notifier() (*invoicemail.Notifier, error) {
	ob, err := mail.NewOutbox(mail.OutboxConfig{Mail: mail.Config{From: b.f.mailFrom}, Store: b.st.Outbox(), QueueOnly: true, Logger: b.log})
	if err != nil {
		var fe *mail.FieldError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("--%s: %s", fe.Field, fe.Message)
		}
		return nil, err
	}
	cat, err := i18n.New()
	if err != nil {
		return nil, err
	}
	return invoicemail.New(invoicemail.Config{Queue: ob, Details: b.st.Billing(), Catalog: cat, SiteURL: b.f.publicURL, Log: b.log})
}

func (b *billingCLI) mail(ctx context.Context) error {
	n, err := b.notifier()
	if err != nil {
		return err
	}
	docs, err := b.st.Billing().Documents(ctx, billing.DocumentFilter{Period: b.p})
	if err != nil {
		return err
	}
	return b.notified(n.Notify(ctx, docs))
}

// documents prints one line per document.
func (b *billingCLI) documents(docs []billing.Issued) {
	tw := tabwriter.NewWriter(b.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "number\ttype\tperiod\tto\tpayable\tcommunication")
	for i := range docs {
		d := &docs[i]
		comm := ""
		if d.Doc.Payment != nil && !d.Doc.Payment.Communication.IsZero() {
			comm = d.Doc.Payment.Communication.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\n", d.Number, d.Type, d.Period, cmp.Or(d.MemberID, d.CenterID), invoice.FormatCents(d.PayableCents), d.Currency, comm)
	}
	tw.Flush()
}

func (b *billingCLI) list(ctx context.Context) error {
	docs, err := b.st.Billing().Documents(ctx, billing.DocumentFilter{Period: b.p, Issuer: b.f.issuer})
	if err != nil {
		return err
	}
	switch b.f.format {
	case "json":
		return writeJSON(b.out, map[string]any{"items": docs})
	case "csv":
		return billing.WriteCSV(b.out, docs)
	}
	b.documents(docs)
	fmt.Fprintf(b.out, "%d documents\n", len(docs))
	return nil
}

func (b *billingCLI) export(ctx context.Context) error {
	formats, _ := b.f.exportFormats()
	docs, err := b.st.Billing().Documents(ctx, billing.DocumentFilter{Period: b.p})
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return fmt.Errorf("no document issued for %s (swc-central billing issue --period %s)", b.p, b.p)
	}
	if err := os.MkdirAll(b.f.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	langs := map[string]string{} // member id → language of their details
	if formats["pdf"] && b.f.lang == "" {
		all, err := b.st.Billing().AllDetails(ctx)
		if err != nil {
			return err
		}
		for _, d := range all {
			if d.Kind == billing.PartyMember {
				langs[d.ID] = d.Lang
			}
		}
	}
	write := func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(b.f.out, name), data, 0o644)
	}
	var pdfs, ubls, noUBL int
	for i := range docs {
		d := &docs[i]
		if formats["pdf"] {
			l, _ := invoicepdf.ParseLang(cmp.Or(b.f.lang, langs[d.MemberID], string(invoicepdf.French)))
			pdf, err := billing.PDF(d, string(l))
			if err != nil {
				return err
			}
			if err := write(invoicepdf.FileName(&d.Doc, l), pdf); err != nil {
				return err
			}
			pdfs++
		}
		if formats["ubl"] {
			if d.UBL == nil {
				noUBL++
				continue
			}
			if err := write(ubl.FileName(&d.Doc), d.UBL); err != nil {
				return err
			}
			ubls++
		}
	}
	var wrote []string
	if formats["pdf"] {
		wrote = append(wrote, fmt.Sprintf("%d PDF", pdfs))
	}
	if formats["ubl"] {
		wrote = append(wrote, fmt.Sprintf("%d UBL (%d buyers without a Peppol address get the PDF only)", ubls, noUBL))
	}
	if formats["csv"] {
		f, err := os.Create(filepath.Join(b.f.out, "documents-"+b.p.String()+".csv"))
		if err != nil {
			return err
		}
		if err := billing.WriteCSV(f, docs); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		wrote = append(wrote, "documents-"+b.p.String()+".csv")
	}
	fmt.Fprintf(b.out, "wrote %s of %d documents of %s into %s\n", strings.Join(wrote, ", "), len(docs), b.p, b.f.out)
	return nil
}

func (b *billingCLI) payouts(ctx context.Context) error {
	exec := time.Now().UTC()
	if b.f.execution != "" {
		exec, _ = time.Parse(time.DateOnly, b.f.execution)
	}
	file, payouts, err := b.svc.Payouts(ctx, b.p, exec)
	if err != nil {
		return err
	}
	report := b.out
	if b.f.out == "-" {
		report = b.errOut
		if _, err := b.out.Write(file); err != nil {
			return err
		}
	} else if err := os.WriteFile(b.f.out, file, 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	var total int64
	for _, po := range payouts {
		total += po.AmountCents
		fmt.Fprintf(report, "  %-12s %10s  %s\n", po.CenterID, invoice.FormatCents(po.AmountCents), strings.Join(po.Documents, ", "))
	}
	fmt.Fprintf(report, "wrote the payouts of %s (SEPA pain.001, %d transfers, %s in all) to %s: upload it to the cooperative's bank\n",
		b.p, len(payouts), invoice.FormatCents(total), b.f.out)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
