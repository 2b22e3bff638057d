package posting_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// postgresStore opens a store in a schema of its own, dropped when the
// benchmark or test ends.
func postgresStore(b testing.TB) store.Store {
	base := servicetest.PostgresURL(b)
	raw := make([]byte, 6)
	_, _ = rand.Read(raw)
	schema := "swc_bench_" + hex.EncodeToString(raw)
	admin, err := sql.Open("pgx", base)
	require.NoError(b, err)
	_, err = admin.Exec(`CREATE SCHEMA ` + schema)
	require.NoError(b, err)
	u, err := url.Parse(base)
	require.NoError(b, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(context.Background(), u.String(), store.Options{})
	require.NoError(b, err)
	b.Cleanup(func() {
		st.Close()
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			b.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return st
}

// BenchmarkSettleMonth settles one month of a 30-center network (800
// workspaces, 80 rooms, 5,000 members, about 18,000 bookings and 1,000,000
// door events, credittest.MonthSize) from the events stored in SQLite and
// in PostgreSQL:
//
//   - from_scratch is what `swc-central settle --from-scratch` does: load
//     the directory, read the events of the period's window, credit them
//     (credit.Compute) and build the settlement;
//   - ledger_rebuild is what closing the period does before freezing it:
//     credit.Ledger.Rebuild, reading the events of 500 members at a time
//     through the store's EventsOfMembers, saving every member's result.
//
// Receipt times are rounded up to ten minutes so that the month loads in a
// few thousand commits; the from-scratch settlement is checked once
// against credit.Compute over the same events in memory.
func BenchmarkSettleMonth(b *testing.B) {
	month := func() *credittest.Network {
		n, err := credittest.NewNetwork(credittest.MonthSize())
		require.NoError(b, err)
		n.Events = coarse(n.Events)
		return n
	}
	n := month()
	want := mustCompute(b, n).Settlement(n.Period)
	count := len(n.Events)
	// What is measured holds no copy of the events of its own, as the
	// settle command does not: each backend loads a fresh copy.
	n.Events = nil
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			st := be.open(b)
			loadDomain(b, st, n)
			commit(b, st, month().Events, nil)
			ctx := context.Background()
			b.Run("from_scratch", func(b *testing.B) {
				var got *credit.Settlement
				for b.Loop() {
					r, err := posting.FromScratch(ctx, st, n.Config, n.Period)
					if err != nil {
						b.Fatal(err)
					}
					got = r.Settlement(n.Period)
				}
				b.StopTimer()
				require.Equal(b, want, got, "the same settlement as in memory")
				b.ReportMetric(float64(count)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/month")
			})
			b.Run("ledger_rebuild", func(b *testing.B) {
				// The first crediting session tracks every stored event.
				start := time.Now()
				recovered, err := st.Credit().StartTracking(ctx)
				require.NoError(b, err)
				require.Len(b, recovered, count)
				b.Logf("tracking %d events took %v", len(recovered), time.Since(start))
				ledger, err := credit.NewLedger(n.Config, st.Credit())
				require.NoError(b, err)
				dir := n.Directory()
				b.ResetTimer()
				for b.Loop() {
					if _, err := ledger.Rebuild(ctx, dir, n.Period); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				got, err := ledger.Settlement(ctx, dir, n.Period)
				require.NoError(b, err)
				require.Equal(b, want, got, "the same settlement as in memory")
				b.ReportMetric(float64(count)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/month")
			})
		})
	}
}

func mustCompute(b *testing.B, n *credittest.Network) *credit.Result {
	b.Helper()
	events := slices.Clone(n.Events)
	r, err := credit.Compute(n.Config, n.Directory(), events)
	require.NoError(b, err)
	return r
}

// BenchmarkIngestWithCrediting measures what the crediting costs the ingest
// on SQLite (synchronous FULL, as serve runs it): commits of 1,000 taps of
// the month network (5,000 members) grouped by door, each one AppendBatches
// transaction as the ingest does, handed to a running crediting through its
// hook (hook=on) or not (hook=off). It reports the ingest's events/s and,
// with the hook, credited-events/s: until the crediting has tracked and
// credited everything committed (a Flush after the last commit).
func BenchmarkIngestWithCrediting(b *testing.B) {
	n, err := credittest.NewNetwork(credittest.MonthSize())
	require.NoError(b, err)
	n.Events = coarse(n.Events)
	const chunk = 1000
	type commitGroup struct {
		receivedMs int64
		batches    []store.DoorEvents
		hook       []ingest.Batch
	}
	var groups []commitGroup
	for i := 0; i+chunk <= len(n.Events); i += chunk {
		evs := n.Events[i : i+chunk]
		g := commitGroup{receivedMs: evs[len(evs)-1].ReceivedMs}
		byDoor := map[string]int{}
		for _, e := range evs {
			k, ok := byDoor[e.Door]
			if !ok {
				k = len(g.batches)
				byDoor[e.Door] = k
				g.batches = append(g.batches, store.DoorEvents{Door: e.Door})
			}
			g.batches[k].Events = append(g.batches[k].Events, e.Event)
		}
		for _, bt := range g.batches {
			g.hook = append(g.hook, ingest.Batch{Door: bt.Door, Events: bt.Events})
		}
		groups = append(groups, g)
	}
	n.Events = nil
	for _, hook := range []bool{false, true} {
		b.Run(fmt.Sprintf("hook=%v", map[bool]string{false: "off", true: "on"}[hook]), func(b *testing.B) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "swc.db"), sqlite.Options{})
			require.NoError(b, err)
			defer st.Close()
			loadDomain(b, st, n)
			var svc *posting.Service
			reg := metrics.NewRegistry()
			if hook {
				svc, err = posting.New(posting.Config{Rules: n.Config, Store: st, Metrics: reg,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return n.Period.End(n.Config.Location).Add(5 * 24 * time.Hour) }})
				require.NoError(b, err)
				runCtx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- svc.Run(runCtx) }()
				defer func() { cancel(); require.NoError(b, <-done) }()
				require.NoError(b, svc.Flush(ctx)) // started
			}
			b.ResetTimer()
			start := time.Now()
			i := 0
			for b.Loop() {
				if i == len(groups) {
					b.Fatalf("more than the month's %d commits: run with a shorter -benchtime", len(groups))
				}
				g := groups[i]
				if _, err := st.AppendBatches(ctx, g.receivedMs, g.batches); err != nil {
					b.Fatal(err)
				}
				if svc != nil {
					svc.Committed(g.receivedMs, g.hook)
				}
				i++
			}
			b.ReportMetric(float64(i*chunk)/time.Since(start).Seconds(), "events/s")
			if svc != nil {
				// How many ledger updates ran while the ingest did.
				var text bytes.Buffer
				require.NoError(b, reg.WriteText(&text))
				for _, line := range strings.Split(text.String(), "\n") {
					if v, ok := strings.CutPrefix(line, "swc_credit_updates_total "); ok {
						updates, err := strconv.ParseFloat(v, 64)
						require.NoError(b, err)
						b.ReportMetric(updates, "updates-while-ingesting")
					}
				}
				require.NoError(b, svc.Flush(ctx))
				b.ReportMetric(float64(i*chunk)/time.Since(start).Seconds(), "credited-events/s")
				s, err := svc.Settlement(ctx, n.Period)
				require.NoError(b, err)
				require.Greater(b, s.TotalCents, int64(0))
			}
		})
	}
}

// BenchmarkManyMembers recomputes a network of 100,000 members of which
// 3,000 have bookings and about 200,000 door events in the month (the
// month network's centers, doors and bookings), the other 97,000 nothing
// at all, as after a bulk import of members, on SQLite and PostgreSQL:
//
//   - rebuild is credit.Ledger.Rebuild of the month, what a change of a
//     door or center (or a start of a new build) does for every open period;
//   - refresh is credit.Ledger.Refresh of every member over the month, what
//     the crediting does after the import (each new member over the open
//     periods).
//
// Both are checked once against credit.Compute over the same events in
// memory.
func BenchmarkManyMembers(b *testing.B) {
	const members, active = 100_000, 3000
	n, err := credittest.NewNetwork(credittest.NetworkSize{Centers: 30, Members: active, Events: 200_000, Rooms: 80, Workspaces: 800})
	require.NoError(b, err)
	n.Events = coarse(n.Events)
	all := slices.Clone(n.Members)
	for i := range members - active {
		id := fmt.Sprintf("imp-%06d", i)
		all = append(all, domain.Member{ID: id, Name: id, HomeCenterID: n.Centers[i%len(n.Centers)].ID, Status: domain.MemberActive})
	}
	dir := credit.NewDirectory(n.Centers, n.Doors, all, n.Bookings, n.Passes)
	require.Empty(b, dir.Problems())
	ids := dir.MemberIDs()
	r, err := credit.Compute(n.Config, dir, slices.Clone(n.Events))
	require.NoError(b, err)
	want := r.Settlement(n.Period)
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			st := be.open(b)
			loadDomain(b, st, n)
			commit(b, st, n.Events, nil)
			_, err := st.Credit().StartTracking(ctx)
			require.NoError(b, err)
			ledger, err := credit.NewLedger(n.Config, st.Credit())
			require.NoError(b, err)
			// As the crediting runs it: rules per period (from the settings).
			ledger.SetRules(func(credit.Period) credit.Config { return n.Config })
			check := func(b *testing.B) {
				got, err := ledger.Settlement(ctx, dir, n.Period)
				require.NoError(b, err)
				require.Equal(b, want, got, "the same settlement as in memory")
			}
			b.Run("rebuild", func(b *testing.B) {
				for b.Loop() {
					if _, err := ledger.Rebuild(ctx, dir, n.Period); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				check(b)
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/rebuild")
			})
			b.Run("refresh", func(b *testing.B) {
				from, to := n.Period.Start(n.Config.Location), n.Period.End(n.Config.Location)
				for b.Loop() {
					rep, err := ledger.Refresh(ctx, dir, ids, from, to)
					if err != nil {
						b.Fatal(err)
					}
					if rep.Members != members {
						b.Fatalf("%d members refreshed, want %d", rep.Members, members)
					}
				}
				b.StopTimer()
				check(b)
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/refresh")
			})
		})
	}
}

// benchBackend is a store a benchmark runs on.
type benchBackend struct {
	name string
	open func(b *testing.B) store.Store
}

// benchBackends are SQLite (synchronous NORMAL, as serve runs it) and
// PostgreSQL.
func benchBackends() []benchBackend {
	return []benchBackend{
		{"sqlite", func(b *testing.B) store.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "swc.db"), sqlite.Options{Synchronous: "NORMAL"})
			require.NoError(b, err)
			b.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(b *testing.B) store.Store { return postgresStore(b) }},
	}
}
