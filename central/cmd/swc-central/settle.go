package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/crediting"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
)

const settleHelp = `usage: swc-central settle --period YYYY-MM [--format csv|json] [--data DIR | --db postgres://...] [--center ID] [--from-scratch] [--rate-cents N]

Prints what the cooperative pays each center for one period (a calendar
month, Europe/Brussels), as CSV (one money line per row) or JSON.

By default it prints the ledger's state, as serve keeps it and
GET /api/v1/settlements/{period} serves it: for a closed period the frozen
settlement; for an open period the hours serve has credited so far,
adjustment lines of earlier periods included. It reads the store and may
run while serve does.

With --from-scratch it recomputes the period from the stored events and
the directory as it is now, and ignores the ledger: no adjustment lines,
nothing frozen (for a closed period, the difference with the frozen
settlement is what later events and changes would adjust). Use it to audit
the ledger, or when serve never ran on these events.

Amounts of an open period use --rate-cents for centers without a rate of
their own: give it the value serve runs with.

Flags:
`

func settle(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("settle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, settleHelp)
		fs.PrintDefaults()
	}
	periodFlag := fs.String("period", "", "the month to settle, such as 2026-11 (required)")
	format := fs.String("format", credit.FormatCSV, "csv or json")
	dataDir := fs.String("data", "./data", "serve's data folder, holding the SQLite database")
	dbURL := fs.String("db", "", "PostgreSQL URL (postgres://...) instead of the SQLite database in --data")
	center := fs.String("center", "", "only this center's lines, as its manager sees them")
	scratch := fs.Bool("from-scratch", false, "recompute the period from the stored events instead of printing the ledger's state")
	rate := fs.Int64("rate-cents", crediting.DefaultRateCents, "the network's default hourly rate in cents, as serve runs with")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "swc-central settle: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q", fs.Arg(0))
	}
	if *periodFlag == "" {
		return fail(2, "--period is required, such as --period 2026-11")
	}
	p, err := credit.ParsePeriod(*periodFlag)
	if err != nil {
		return fail(2, "--period: %v", err)
	}
	if *format != credit.FormatCSV && *format != credit.FormatJSON {
		return fail(2, "--format %q: want csv or json", *format)
	}
	rules, err := credit.DefaultConfig(*rate)
	if err != nil {
		return fail(2, "--rate-cents: %v", err)
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) { dataSet = dataSet || f.Name == "data" })
	if dataSet && *dbURL != "" {
		return fail(2, "give --data or --db, not both")
	}
	st, err := openStore(ctx, *dataDir, *dbURL)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer st.Close()

	s, err := settlement(ctx, st, rules, p, *scratch)
	if err != nil {
		return fail(1, "%v", err)
	}
	if *center != "" {
		if !slices.ContainsFunc(s.Centers, func(l credit.CenterLine) bool { return l.CenterID == *center }) {
			return fail(1, "--center %q: no such center in the settlement", *center)
		}
		s = s.ForCenter(*center)
	}
	if err := s.Write(stdout, *format); err != nil {
		return fail(1, "%v", err)
	}
	return 0
}

// openStore opens serve's store without creating one.
func openStore(ctx context.Context, dataDir, dbURL string) (store.Store, error) {
	if dbURL != "" {
		return postgres.Open(ctx, dbURL, store.Options{})
	}
	path := filepath.Join(dataDir, server.DBFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database in --data %s: %w", dataDir, err)
	}
	return sqlite.Open(ctx, path, sqlite.Options{})
}

func settlement(ctx context.Context, st store.Store, rules credit.Config, p credit.Period, scratch bool) (*credit.Settlement, error) {
	if scratch {
		r, err := crediting.FromScratch(ctx, st, rules, p)
		if err != nil {
			return nil, err
		}
		return r.Settlement(p), nil
	}
	dir, err := crediting.LoadDirectory(ctx, st, p.Start(rules.Location).Add(-7*24*time.Hour), time.Time{})
	if err != nil {
		return nil, err
	}
	ledger, err := credit.NewLedger(rules, st.Credit())
	if err != nil {
		return nil, err
	}
	return ledger.Settlement(ctx, dir, p)
}
