package e2e

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// eventsOf lists every event the central holds for the door.
func (c *central) eventsOf(door string) []protocol.Event {
	c.t.Helper()
	var out []protocol.Event
	after := ""
	for {
		var page struct {
			Items []protocol.Event `json:"items"`
			Next  string           `json:"next"`
		}
		q := url.Values{"door": {door}, "limit": {"500"}}
		if after != "" {
			q.Set("after", after)
		}
		require.NoError(c.t, jsonDecode(c.must("GET", "/events?"+q.Encode(), nil), &page))
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

// Scenario 9: a door's database is replaced mid-life while it keeps tapping:
// a backup is taken while it runs, a new SD card (an empty data folder, the
// same credentials) replaces it, then the old backup is put back. Each time
// the door numbers its events again from 1, in a new store identity. Every
// tap reaches the central exactly once (counted per agent run, by boot id:
// none lost, none twice), nothing is refused as a conflict, the door's
// outbox empties, and the member's taps are credited.
func TestDoorDatabaseReplaced(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 1})
		c, d := n.centrals[0], n.doors["door-0"]
		synced(t, d)
		var always [7][]map[string]int
		for i := range always {
			always[i] = []map[string]int{{"open": 0, "close": 1440}}
		}
		c.must("PUT", "/centers/c1", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels", "hours": always})
		v := d.whitelistVersion()
		start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
		c.must("POST", "/bookings", map[string]any{"id": "bk-1", "member_id": "m1", "center_id": "c1", "start": start, "end": start.Add(2 * time.Hour), "status": "confirmed"})
		eventually(t, func() bool { return d.whitelistVersion() > v }, "the booking reached the door")

		taps := map[string]int{} // by boot id: what each agent run recorded
		tapN := func(k int) {
			t.Helper()
			rep, err := d.report()
			require.NoError(t, err)
			res := d.burst(k, uidMember)
			require.Equal(t, k, res.Recorded)
			taps[rep.Boot] += k
		}
		total := func() int {
			s := 0
			for _, k := range taps {
				s += k
			}
			return s
		}
		settled := func(what string) {
			t.Helper()
			eventually(t, func() bool { return d.outbox() == 0 && len(c.eventsOf(d.id)) >= total() }, "%s: every tap stored and acknowledged", what)
		}
		db := filepath.Join(d.dir, "data", "swc-edge.db")
		backup := filepath.Join(d.dir, "backup.db")

		// The door taps and is acknowledged. Offline, it taps more; a backup
		// is taken while these wait, and it goes on tapping in the same store.
		tapN(20)
		settled("online")
		d.link.Cut()
		tapN(10)
		copyFile(t, db, backup)
		tapN(10)
		d.link.Restore()
		settled("after the backup")

		// A new SD card: an empty data folder, the door's credentials.
		d.stop()
		require.NoError(t, os.RemoveAll(filepath.Join(d.dir, "data")))
		d.start()
		synced(t, d)
		d.link.Cut()
		tapN(15)
		d.link.Restore()
		settled("on the new SD card")

		// The old backup is put back: it numbered its events in a store the
		// central holds further than the backup does; it still waits for 10
		// of them. It keeps tapping, offline then online.
		d.stop()
		copyFile(t, backup, db)
		d.start()
		d.link.Cut()
		tapN(25)
		d.link.Restore()
		tapN(5)
		settled("after the restore")

		evs := c.eventsOf(d.id)
		got := map[string]int{}
		for _, e := range evs {
			got[e.Boot]++
		}
		require.Equal(t, taps, got, "every tap of every run, exactly once")
		require.Len(t, taps, 3, "three runs: before, on the new card, after the restore")
		assert.Zero(t, c.metric(`swc_ingest_rejected_messages_total{reason="conflict"}`), "no store identity was reused")

		// Credited: the hours ledger took them and the member's booking is
		// credited from these taps.
		period := time.Now().In(mustLoad(t, "Europe/Brussels")).Format("2006-01")
		var body []byte
		defer func() {
			if t.Failed() {
				t.Logf("statement: %s\npending: %v", body, c.metric("swc_credit_pending_events"))
			}
		}()
		eventually(t, func() bool {
			var st struct {
				CreditedMinutes int64 `json:"credited_minutes"`
			}
			body = c.must("GET", fmt.Sprintf("/members/m1/statement?period=%s", period), nil)
			return c.metric("swc_credit_pending_events") == 0 && jsonDecode(body, &st) == nil && st.CreditedMinutes > 0
		}, "the member's taps are credited")
	})
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// Scenario 10: someone holding a door's secret (a technician can obtain
// it) publishes events numbered 2^63-1 and 2^63 as that door. They are
// refused as seq_range before the store, the other doors' events keep
// being stored and acknowledged without a single store retry, and the door
// itself, back on line, delivers its own taps.
func TestPoisonedSeqIsRefused(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 2})
		c, good, victim := n.centrals[0], n.doors["door-0"], n.doors["door-1"]
		synced(t, good)
		synced(t, victim)
		victim.stop()

		cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + n.broker).SetClientID(victim.id).
			SetUsername(victim.id).SetPassword(n.secrets[victim.id]).SetCleanSession(true))
		tok := cl.Connect()
		require.True(t, tok.WaitTimeout(wait))
		require.NoError(t, tok.Error())
		for _, seq := range []string{"9223372036854775807", "9223372036854775808"} {
			p := fmt.Sprintf(`{"v":1,"door":%q,"events":[{"seq":%s,"time_ms":%d,"trusted":true,"boot":"1-x","kind":"door_closed","wl_version":1}]}`,
				victim.id, seq, time.Now().UnixMilli())
			tok := cl.Publish(protocol.DefaultTopics().Door(victim.id, protocol.TopicEvents), 1, false, p)
			require.True(t, tok.WaitTimeout(wait))
			require.NoError(t, tok.Error())
		}
		eventually(t, func() bool {
			return c.metric(`swc_ingest_rejected_messages_total{reason="seq_range"}`) == 2
		}, "the poisoned batches were refused as seq_range")
		cl.Disconnect(0)

		res := good.burst(50, uidUnknown)
		require.Equal(t, 50, res.Recorded)
		n.delivered(good, good.lastSeq())
		assert.Zero(t, c.metric("swc_ingest_store_errors_total"), "no store retry")
		assert.Zero(t, c.sequence(victim.id).Max, "nothing of the poisoned batches was stored")

		victim.start()
		res = victim.burst(5, uidUnknown)
		require.Equal(t, 5, res.Recorded)
		n.delivered(victim, victim.lastSeq())
	})
}
