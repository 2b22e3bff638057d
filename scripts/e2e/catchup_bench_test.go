package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/edge/decide"
	edgestore "github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Issue 18's offline door: 30 days without a link, 30,000 events waiting.
const (
	offlineDays    = 30
	offlineEvents  = 30_000
	offlineMembers = 100
)

// BenchmarkOfflineCatchUp measures a door that was offline for 30 days
// reconnecting: a real swc-central (embedded broker; store=sqlite, or
// store=postgres, where the central is its replicas' crediting leader and
// posts the events through the store's cursor) and a real
// swc-edge process whose bbolt outbox holds 30,000 taps of 100 members
// with passes, one every 86 s over the 30 days, recorded by the edge store
// as the door records a tap (decided against its whitelist). The clock
// starts when the link comes back. Metrics: s/acked, until the door's
// outbox is empty (every event stored by the central and acknowledged;
// goal ≤ 10 s), and s/credited, until the hours ledger has credited all of
// them (goal ≤ 20 s); days-replayed, the span from the first to the last
// of the offline taps as the central stored them (the outbox kept them
// across the agent's restart; PRODUCT.md's 30 days of events kept and
// replayed), the smallest of the iterations.
func BenchmarkOfflineCatchUp(b *testing.B) {
	b.Run("store=sqlite", func(b *testing.B) { offlineCatchUp(b, "") })
	b.Run("store=postgres", func(b *testing.B) { offlineCatchUp(b, storetest.PostgresSchema(b)) })
}

func offlineCatchUp(b *testing.B, db string) {
	n := newNetwork(b, netOpts{doors: 1, db: db})
	c, d := n.centrals[0], n.doors["door-0"]
	synced(b, d)
	v := d.whitelistVersion()
	from := time.Now().UTC().Add(-(offlineDays + 10) * 24 * time.Hour).Truncate(time.Second)
	uids := make([]protocol.UID, offlineMembers)
	for i := range uids {
		id := fmt.Sprintf("nomad-%03d", i)
		uids[i] = protocol.UID(fmt.Sprintf("04BE%04X", i))
		c.must("POST", "/members", map[string]any{"id": id, "name": "Nomad " + id, "status": "active"})
		c.must("POST", "/badges", map[string]any{"uid": uids[i], "member_id": id})
		c.must("POST", "/passes", map[string]any{"id": "pass-" + id, "member_id": id, "valid_from": from, "valid_until": from.Add(90 * 24 * time.Hour)})
	}
	eventually(b, func() bool { return d.whitelistVersion() > v }, "the members' passes reached the door")
	// Let the last deltas land before the door goes offline.
	time.Sleep(2 * time.Second)

	var acked, credited time.Duration
	var replayed float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		before := c.metric("swc_credit_events_total")
		d.link.Cut()
		d.stop()
		first, last := recordOffline(b, filepath.Join(d.dir, "data", "swc-edge.db"), uids)
		d.start()
		b.StartTimer()

		t0 := time.Now()
		d.link.Restore()
		for d.outbox() > 0 {
			if time.Since(t0) > 5*wait {
				b.Fatalf("the outbox did not drain in %v", 5*wait)
			}
			time.Sleep(20 * time.Millisecond)
		}
		acked += time.Since(t0)
		for c.metric("swc_credit_events_total") < before+offlineEvents || c.metric("swc_credit_pending_events") > 0 {
			if time.Since(t0) > 5*wait {
				b.Fatalf("the ledger did not credit the events in %v (%v of %d)", 5*wait, c.metric("swc_credit_events_total")-before, offlineEvents)
			}
			time.Sleep(50 * time.Millisecond)
		}
		credited += time.Since(t0)
		b.StopTimer()
		span := storedTime(b, c, last).Sub(storedTime(b, c, first))
		if days := span.Hours() / 24; replayed == 0 || days < replayed {
			replayed = days
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(acked.Seconds()/float64(b.N), "s/acked")
	b.ReportMetric(credited.Seconds()/float64(b.N), "s/credited")
	b.ReportMetric(replayed, "days-replayed")
}

// storedTime is the door time of door-0's event the central stored at at
// (to the millisecond: the query selects that millisecond); the benchmark
// fails when it holds none.
func storedTime(b *testing.B, c *central, at time.Time) time.Time {
	b.Helper()
	at = at.Truncate(time.Millisecond)
	q := url.Values{"door": {"door-0"}, "from": {at.Format(time.RFC3339Nano)}, "to": {at.Add(time.Millisecond).Format(time.RFC3339Nano)}}
	var page struct {
		Items []domain.Event `json:"items"`
	}
	require.NoError(b, json.Unmarshal(c.must("GET", "/events?"+q.Encode(), nil), &page))
	// An earlier iteration's tap may share the millisecond (one in 86,400).
	require.NotEmpty(b, page.Items, "the central holds the tap the door recorded at %v", at)
	return time.UnixMilli(page.Items[0].TimeMs)
}

// recordOffline records the taps of 30 offline days in the door's store, as
// the door does (the store decides each against the whitelist and appends
// it to the outbox), while the door's process is stopped. The store is
// filled in memory (/dev/shm, where there is one) and copied back: 30,000
// taps are 30,000 fsyncs, minutes on a disk, and they are not measured.
// The first tap is 30 days before now, the last now; it returns their
// times.
func recordOffline(b *testing.B, path string, uids []protocol.UID) (first, last time.Time) {
	b.Helper()
	ctx := context.Background()
	work := filepath.Join(b.TempDir(), "fill.db")
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "swc-catchup-")
		require.NoError(b, err)
		b.Cleanup(func() { os.RemoveAll(dir) })
		work = filepath.Join(dir, "fill.db")
	}
	copyFile(b, path, work)
	defer copyFile(b, work, path)
	st, err := edgestore.Open(ctx, work, edgestore.Options{})
	require.NoError(b, err)
	defer st.Close()
	boot, err := st.StartBoot(ctx)
	require.NoError(b, err)
	days := offlineDays * 24 * time.Hour
	start := time.Now().Add(-days)
	p := decide.DefaultPolicy()
	// The door's clock ran on through the offline days: the whitelist's
	// age is not what is measured here.
	p.MaxWhitelistAge = 10 * offlineDays * 24 * time.Hour
	for i := range offlineEvents {
		since := time.Duration(float64(days) * float64(i) / float64(offlineEvents-1))
		at := start.Add(since)
		_, err := st.Tap(ctx, edgestore.TapRequest{UID: uids[i%len(uids)], Time: at, Trusted: true, Boot: boot.ID,
			UptimeMs: int64(since / time.Millisecond)}, p)
		require.NoError(b, err)
	}
	return start, start.Add(days)
}
