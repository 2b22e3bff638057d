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
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/cmdline"
)

const settleHelp = `usage: swc-central settle --period YYYY-MM [--format csv|json] [--data DIR | --db postgres://...] [--center ID] [--from-scratch [overrides]]

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

Rates, currency, grace, no-show policy and default visit are the network
settings stored for the period (GET /api/v1/settings), the same that
serve computes with: settle has no defaults of its own. For a one-off
recomputation, --from-scratch accepts overrides (--rate-cents,
--grace-minutes, --no-show, --default-visit-minutes); the output then
says so (an "override" line in CSV, "override" in JSON, and a line on
stderr) and nothing is stored.
`

func settle(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet("swc-central settle", settleHelp, stdout, stderr)
	periodFlag := fs.String("period", "", "the month to settle, such as 2026-11 (required)")
	format := fs.String("format", credit.FormatCSV, "csv or json")
	dataDir := fs.String("data", "./data", "serve's data folder, holding the SQLite database")
	dbURL := fs.String("db", "", "PostgreSQL URL (postgres://...) instead of the SQLite database in --data")
	center := fs.String("center", "", "only this center's lines, as its manager sees them")
	scratch := fs.Bool("from-scratch", false, "recompute the period from the stored events instead of printing the ledger's state")
	rate := fs.Int64("rate-cents", 0, "with --from-scratch, one-off override: the network default hourly rate in cents instead of the stored settings'")
	grace := fs.Int("grace-minutes", 0, "with --from-scratch, one-off override: the grace in minutes instead of the stored settings'")
	noShow := fs.String("no-show", "", "with --from-scratch, one-off override: the no-show policy (zero or booked) instead of the stored settings'")
	visit := fs.Int("default-visit-minutes", 0, "with --from-scratch, one-off override: the default visit in minutes instead of the stored settings'")
	if code, ok := fs.Parse(args); !ok {
		return code
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
	var overrides []string
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "rate-cents", "grace-minutes", "no-show", "default-visit-minutes":
			overrides = append(overrides, f.Name+"="+f.Value.String())
			given[f.Name] = true
		}
	})
	if len(overrides) > 0 && !*scratch {
		return fail(2, "--%s overrides the stored settings only for a one-off recomputation: add --from-scratch (the ledger's figures were computed with the stored settings; change those with PUT /api/v1/settings)",
			strings.SplitN(overrides[0], "=", 2)[0])
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) { dataSet = dataSet || f.Name == "data" })
	if dataSet && *dbURL != "" {
		return fail(2, "give --data or --db, not both")
	}
	base, err := credit.DefaultConfig(settings.DefaultRateCents)
	if err != nil {
		return fail(1, "%v", err)
	}
	st, err := openStore(ctx, *dataDir, *dbURL)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer st.Close()
	rulesFor, hist, err := posting.LoadRules(ctx, st, base)
	if err != nil {
		return fail(1, "%v", err)
	}
	rules := rulesFor(p)
	version := hist.For(p)
	if len(overrides) > 0 {
		o := version.Settings
		if given["rate-cents"] {
			o.DefaultRateCents = *rate
		}
		if given["grace-minutes"] {
			o.GraceMinutes = *grace
		}
		if given["no-show"] {
			o.NoShow = credit.NoShowPolicy(*noShow)
		}
		if given["default-visit-minutes"] {
			o.DefaultVisitMinutes = *visit
		}
		if err := o.Validate(); err != nil {
			var fe *domain.FieldError
			if errors.As(err, &fe) {
				return fail(2, "override %s: %s", fe.Field, fe.Message)
			}
			return fail(2, "override: %v", err)
		}
		if rules, err = o.Apply(base, 0); err != nil {
			return fail(2, "override: %v", err)
		}
		fmt.Fprintf(stderr, "swc-central settle: one-off recomputation of %s with %s instead of the stored settings version %d; nothing is stored\n",
			p, strings.Join(overrides, " "), version.Number)
	}

	s, err := settlement(ctx, st, rules, rulesFor, p, *scratch)
	if err != nil {
		return fail(1, "%v", err)
	}
	if len(overrides) > 0 {
		s.Override = fmt.Sprintf("%s instead of settings version %d", strings.Join(overrides, " "), version.Number)
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

// settlement computes p's settlement: from scratch with rules, else from
// the ledger computed with rulesFor (the stored settings, as serve).
func settlement(ctx context.Context, st store.Store, rules credit.Config, rulesFor func(credit.Period) credit.Config, p credit.Period, scratch bool) (*credit.Settlement, error) {
	if scratch {
		r, err := posting.FromScratch(ctx, st, rules, p)
		if err != nil {
			return nil, err
		}
		return r.Settlement(p), nil
	}
	dir, err := posting.LoadDirectory(ctx, st, p.Start(rules.Location).Add(-7*24*time.Hour), time.Time{})
	if err != nil {
		return nil, err
	}
	ledger, err := credit.NewLedger(rules, st.Credit())
	if err != nil {
		return nil, err
	}
	ledger.SetRules(rulesFor)
	return ledger.Settlement(ctx, dir, p)
}
