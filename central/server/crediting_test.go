package server_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestTapsToSettlement runs the whole chain as serve wires it: doors publish
// taps through the embedded broker, the ingest commits and acknowledges
// them and hands them to the crediting, and the API serves the hours. Two
// months ago a nomadic member spent 2 h at a center; that month is closed;
// then a door that was offline delivers a 1 h 30 visit of the same month,
// which last month's settlement books as an adjustment line while the
// closed month stays as it was.
func TestTapsToSettlement(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := start(t, server.Config{DataDir: dir, DefaultRateCents: 1500})
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	mustCall := func(method, path string, body any) []byte {
		t.Helper()
		code, b := call(t, s, token, method, path, body)
		require.Less(t, code, 300, "%s %s: %s", method, path, b)
		return b
	}
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	now := time.Now()
	closing := credit.PeriodOf(now, loc).Prev().Prev() // over, can be closed
	booking := closing.Next()                          // the first open period after the close
	day := func(d, h, m int) time.Time {
		return time.Date(closing.Year, closing.Month, d, h, m, 0, 0, loc)
	}

	allDay := [7][]map[string]int{}
	for d := range allDay {
		allDay[d] = []map[string]int{{"open": 0, "close": 1440}}
	}
	mustCall("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "One", "time_zone": "Europe/Brussels", "hours": allDay})
	mustCall("POST", "/api/v1/doors", map[string]any{"id": "in-1", "center_id": "c1", "name": "entrance"})
	mustCall("POST", "/api/v1/doors", map[string]any{"id": "out-1", "center_id": "c1", "name": "exit", "exit": true})
	mustCall("POST", "/api/v1/members", map[string]any{"id": "ann", "name": "Ann", "status": "active"})
	mustCall("POST", "/api/v1/passes", map[string]any{"id": "p1", "member_id": "ann",
		"valid_from": closing.Start(loc).AddDate(0, -1, 0), "valid_until": now.AddDate(0, 1, 0)})
	doors := map[string]*doorClient{}
	for _, id := range []string{"in-1", "out-1"} {
		var sec struct{ Secret string }
		require.NoError(t, json.Unmarshal(mustCall("POST", "/api/v1/doors/"+id+"/secret", nil), &sec))
		d, err := connectDoor(t, s, id, sec.Secret)
		require.NoError(t, err)
		doors[id] = d
	}
	tap := func(door string, seq uint64, at time.Time) {
		t.Helper()
		d := doors[door]
		acks := len(d.received(protocol.TopicAck))
		d.publish(t, protocol.TopicEvents, &protocol.EventBatch{V: protocol.Version, Door: door, Events: []protocol.Event{
			{Seq: seq, TimeMs: at.UnixMilli(), Trusted: true, Boot: "b1", Kind: protocol.EventTap, UID: "04A1B2C3",
				Member: "ann", Reason: protocol.GrantedPass}}})
		require.Eventually(t, func() bool { return len(d.received(protocol.TopicAck)) > acks }, 10*time.Second, 10*time.Millisecond,
			"%s seq %d acknowledged", door, seq)
	}
	settlement := func(p credit.Period) credit.Settlement {
		t.Helper()
		var st credit.Settlement
		require.NoError(t, json.Unmarshal(mustCall("GET", "/api/v1/settlements/"+p.String(), nil), &st))
		return st
	}
	nomadic := func(st credit.Settlement) int64 {
		l, _ := st.Center("c1")
		return l.NomadicMinutes
	}

	tap("in-1", 1, day(10, 9, 0))
	tap("out-1", 1, day(10, 11, 0))
	require.Eventually(t, func() bool { return nomadic(settlement(closing)) == 120 }, 10*time.Second, 20*time.Millisecond,
		"the visit is credited within seconds of its commit")

	code, body := call(t, s, token, "POST", "/api/v1/periods/"+booking.String()+"/close", nil)
	require.Equal(t, http.StatusConflict, code, "%s", body)
	require.Contains(t, string(body), "close_order")
	var frozen credit.Settlement
	require.NoError(t, json.Unmarshal(mustCall("POST", "/api/v1/periods/"+closing.String()+"/close", nil), &frozen))
	require.True(t, frozen.Closed)
	line, _ := frozen.Center("c1")
	assert.Equal(t, int64(120), line.NomadicMinutes)
	assert.Equal(t, int64(3000), line.TotalCents, "2 h at the network rate serve was given")

	// The late visit.
	tap("in-1", 2, day(12, 14, 0))
	tap("out-1", 2, day(12, 15, 30))
	var open credit.Settlement
	require.Eventually(t, func() bool {
		open = settlement(booking)
		return len(open.Adjustments) > 0
	}, 10*time.Second, 20*time.Millisecond, "the late visit becomes an adjustment")
	assert.Equal(t, []credit.AdjustmentLine{{CenterID: "c1", BelongsTo: closing, Class: credit.ClassNomadic, Minutes: 90,
		RateCents: 1500, AmountCents: 2250}}, open.Adjustments)
	line, _ = open.Center("c1")
	assert.Equal(t, int64(2250), line.TotalCents)
	assert.Equal(t, frozen, settlement(closing), "the closed month did not change")

	var stmt credit.Statement
	require.NoError(t, json.Unmarshal(mustCall("GET", fmt.Sprintf("/api/v1/members/ann/statement?period=%s", booking), nil), &stmt))
	assert.Equal(t, int64(90), stmt.AdjustmentMinutes)
	rows, err := csv.NewReader(strings.NewReader(string(mustCall("GET", "/api/v1/settlements/"+booking.String()+"?format=csv", nil)))).ReadAll()
	require.NoError(t, err)
	assert.Contains(t, rows, []string{booking.String(), "false", "adjustment", "c1", "nomadic", "", closing.String(), "90", "1.50", "1500", "2250"})

	code, metricsText := call(t, s, "", "GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(metricsText), "swc_credit_events_total 4")
	assert.Contains(t, string(metricsText), "swc_credit_closes_total 1")
}
