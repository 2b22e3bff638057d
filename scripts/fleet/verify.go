package main

// How the fleet checks the central. While waiting, it reads the central's
// SQLite database directly (read-only; WAL lets it read while the central
// writes): one aggregate query per poll instead of one API call per door,
// and row counts that do not depend on the central's own bookkeeping. The
// final verdict per door comes from the product's contract, the API's
// GET /doors/{id}/sequence (through, max, gaps). Crediting is checked by
// comparing the ledger the central keeps (GET /settlements/{period}) with a
// recomputation from the stored events (swc-central settle --from-scratch).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	_ "modernc.org/sqlite" // the central's own SQLite driver, pure Go

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
)

// openEvents opens the central's database read-only.
func openEvents(dataDir string) (*sql.DB, error) {
	path := filepath.Join(dataDir, server.DBFile)
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("central database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// stored is what the central's database holds of one door, summed over
// its stores.
type stored struct {
	rows, distinct, max uint64
}

// storedEvents counts the stored events of every door.
func storedEvents(ctx context.Context, db *sql.DB) (map[string]stored, error) {
	// The central keeps each door store's seq s as slot×2^32 + s (see
	// central/store.DoorEvents); max sums the stores' highest seqs, which is
	// the door's last outbox position when every store is complete.
	rows, err := db.QueryContext(ctx, `SELECT door, SUM(n), SUM(d), SUM(mx) FROM (
		SELECT door, COUNT(*) AS n, COUNT(DISTINCT seq) AS d, MAX(seq & 4294967295) AS mx FROM events GROUP BY door, seq >> 32
	) GROUP BY door`)
	if err != nil {
		return nil, fmt.Errorf("counting stored events: %w", err)
	}
	defer rows.Close()
	out := map[string]stored{}
	for rows.Next() {
		var door string
		var s stored
		if err := rows.Scan(&door, &s.rows, &s.distinct, &s.max); err != nil {
			return nil, fmt.Errorf("counting stored events: %w", err)
		}
		out[door] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting stored events: %w", err)
	}
	return out, nil
}

// reasons counts the stored taps by reason.
func reasons(ctx context.Context, db *sql.DB) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT reason, COUNT(*) FROM events WHERE kind = 'tap' GROUP BY reason`)
	if err != nil {
		return nil, fmt.Errorf("counting reasons: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, err
		}
		out[r] = n
	}
	return out, rows.Err()
}

// doorSequence is the API's answer for one door.
type doorSequence struct {
	store.SeqState
	Gaps []store.SeqRange `json:"gaps"`
}

// exactlyOnce is the per-door verdict of the API against what each door
// recorded.
type exactlyOnce struct {
	recorded, stored, missing, duplicates uint64
	problems                              []string // the first few doors that fail, and why
	bad                                   int
}

func (e *exactlyOnce) ok() bool { return e.bad == 0 }

// checkSequences asks the central for every door's sequence and compares it
// with the door's last recorded seq: through == max == last, no gaps.
// Events held beyond what the door recorded count as duplicates.
func checkSequences(ctx context.Context, c *launch.Central, last map[string]uint64, doors []doorSpec) (*exactlyOnce, error) {
	seqs := make([]doorSequence, len(doors))
	err := parallel(ctx, len(doors), seedWorkers, func(ctx context.Context, i int) error {
		return c.API(ctx, "GET", "/doors/"+doors[i].ID+"/sequence", nil, &seqs[i])
	})
	if err != nil {
		return nil, err
	}
	e := &exactlyOnce{}
	for i, d := range doors {
		s, want := seqs[i], last[d.ID]
		var gap uint64
		for _, g := range s.Gaps {
			gap += g.To - g.From + 1
		}
		held := s.Max - gap // seqs 1..max stored, minus the gaps (gaps past the first 100 are not listed)
		e.recorded += want
		e.stored += held
		if held < want {
			e.missing += want - min(held, want)
		}
		if s.Max > want {
			e.duplicates += s.Max - want
		}
		if s.Through != want || s.Max != want || len(s.Gaps) > 0 {
			e.bad++
			if len(e.problems) < 5 {
				e.problems = append(e.problems, fmt.Sprintf("%s: recorded 1..%d, central through %d, max %d, gaps %v", d.ID, want, s.Through, s.Max, s.Gaps))
			}
		}
	}
	return e, nil
}

// ledgerSettlement is the ledger's state of the period, as the API serves it.
func ledgerSettlement(ctx context.Context, c *launch.Central, p credit.Period) (*credit.Settlement, error) {
	var s credit.Settlement
	if err := c.API(ctx, "GET", "/settlements/"+p.String()+"?format=json", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// scratchSettlement recomputes the period from the stored events with
// swc-central settle --from-scratch.
func scratchSettlement(ctx context.Context, bin, dataDir string, p credit.Period) (*credit.Settlement, error) {
	cmd := exec.CommandContext(ctx, bin, "settle", "--period", p.String(), "--format", "json", "--from-scratch", "--data", dataDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("swc-central settle --from-scratch: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var s credit.Settlement
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("swc-central settle --from-scratch: %w", err)
	}
	return &s, nil
}

// compareSettlements says where the ledger differs from the recomputation,
// naming the centers and figures; empty when they agree.
func compareSettlements(ledger, scratch *credit.Settlement) []string {
	var diffs []string
	lines := func(s *credit.Settlement) map[string]credit.CenterLine {
		m := map[string]credit.CenterLine{}
		for _, l := range s.Centers {
			m[l.CenterID] = l
		}
		return m
	}
	lm, sm := lines(ledger), lines(scratch)
	for _, id := range sortedKeys(lm, sm) {
		l, s := lm[id], sm[id]
		for _, f := range []struct {
			name string
			l, s int64
		}{
			{"credited_visits", l.CreditedVisits, s.CreditedVisits},
			{"nomadic_minutes", l.NomadicMinutes, s.NomadicMinutes},
			{"cross_center_minutes", l.CrossCenterMinutes, s.CrossCenterMinutes},
			{"amount_cents", l.AmountCents, s.AmountCents},
			{"home_recorded_visits", l.HomeRecordedVisits, s.HomeRecordedVisits},
			{"invoice_minutes", l.InvoiceMinutes, s.InvoiceMinutes},
		} {
			if f.l != f.s {
				diffs = append(diffs, fmt.Sprintf("%s %s: ledger %d, from scratch %d", id, f.name, f.l, f.s))
			}
		}
	}
	cross := func(s *credit.Settlement) map[string]int64 {
		m := map[string]int64{}
		for _, l := range s.CrossCenter {
			m[l.HostCenterID+"<-"+l.HomeCenterID] += l.Minutes
		}
		return m
	}
	lc, sc := cross(ledger), cross(scratch)
	for _, k := range sortedKeys(lc, sc) {
		if lc[k] != sc[k] {
			diffs = append(diffs, fmt.Sprintf("cross-center %s minutes: ledger %d, from scratch %d", k, lc[k], sc[k]))
		}
	}
	return diffs
}

// creditSummary describes a settlement in a line.
func creditSummary(s *credit.Settlement) string {
	var visits, nomadic, cross, home int64
	for _, l := range s.Centers {
		visits += l.CreditedVisits
		nomadic += l.NomadicMinutes
		cross += l.CrossCenterMinutes
		home += l.HomeRecordedVisits
	}
	return fmt.Sprintf("period %s, %d centers: %d credited visits, %.2f nomadic h, %.2f cross-center h, %d home visits recorded, total %.2f EUR",
		s.Period, len(s.Centers), visits, float64(nomadic)/60, float64(cross)/60, home, float64(s.TotalCents)/100)
}

// sortedKeys is the union of the keys of a and b, sorted.
func sortedKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
