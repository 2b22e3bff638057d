package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// leads reports whether s is the crediting leader (swc_credit_leader).
func leads(t *testing.T, s *server.Server) bool {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, s.Metrics.WriteText(&b))
	return strings.Contains(b.String(), "\nswc_credit_leader 1\n")
}

// TestTwoReplicasOneLedger: two servers share one PostgreSQL database and
// each stores half of a member's taps. One leads the crediting; both serve
// the same settlement, equal to the one computed from scratch over every
// stored event. When the leader shuts down, the other takes over and the
// figures stay exact.
func TestTwoReplicasOneLedger(t *testing.T) {
	db := storetest.PostgresSchema(t)
	dirA := t.TempDir()
	a, _ := start(t, server.Config{DataDir: dirA, DBURL: db})
	// The first start wrote the admin token; the store is shared.
	raw, err := os.ReadFile(filepath.Join(dirA, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	must := func(s *server.Server, method, path string, body any) []byte {
		t.Helper()
		code, out := call(t, s, token, method, path, body)
		require.Less(t, code, 300, "%s %s: %s", method, path, out)
		return out
	}
	// The network is made before the second replica starts: a change made
	// on a follower reaches the leader's directory by NOTIFY, a moment
	// later (see postingleader.go); the events are what is checked here.
	must(a, "POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "One", "time_zone": "Europe/Brussels"})
	must(a, "POST", "/api/v1/doors", map[string]any{"id": "d1", "center_id": "c1", "name": "Entrance"})
	must(a, "POST", "/api/v1/members", map[string]any{"id": "m1", "name": "Mia", "status": "active"})
	now := time.Now().UTC()
	must(a, "POST", "/api/v1/passes", map[string]any{"id": "p1", "member_id": "m1", "valid_from": now.Add(-40 * 24 * time.Hour), "valid_until": now.Add(40 * 24 * time.Hour)})
	b, _ := start(t, server.Config{DataDir: t.TempDir(), DBURL: db})

	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	p := credit.PeriodOf(now, loc)
	seq := uint64(0)
	// tapAt stores one tap of m1 through s's store, as its ingest does.
	tapAt := func(s *server.Server, at time.Time) {
		t.Helper()
		seq++
		_, err := s.Store.AppendBatches(context.Background(), at.UnixMilli(), []store.DoorEvents{{Door: "d1", Events: []protocol.Event{{
			Seq: seq, TimeMs: at.UnixMilli(), Trusted: true, Boot: "b1", Kind: protocol.EventTap, UID: "04A1B2C3",
			Member: "m1", Reason: protocol.GrantedPass, WLVersion: 1}}}})
		require.NoError(t, err)
	}
	exact := func(step string, replicas ...*server.Server) {
		t.Helper()
		rules, err := credit.DefaultConfig(settings.DefaultRateCents)
		require.NoError(t, err)
		rulesFor, _, err := posting.LoadRules(context.Background(), replicas[0].Store, rules)
		require.NoError(t, err)
		r, err := posting.FromScratch(context.Background(), replicas[0].Store, rulesFor(p), p)
		require.NoError(t, err)
		want := r.Settlement(p)
		require.Positive(t, want.Counts[credit.CountEntries], step)
		for i, s := range replicas {
			var got credit.Settlement
			require.NoError(t, json.Unmarshal(must(s, "GET", "/api/v1/settlements/"+p.String()+"?format=json", nil), &got))
			require.Equal(t, *want, got, "%s: replica %d", step, i)
		}
	}
	// Taps half an hour apart in the last hours (or from the start of the
	// month), through either replica in turn.
	start := now.Add(-6 * time.Hour)
	if credit.PeriodOf(start, loc) != p {
		start = p.Start(loc)
	}
	for i := range 6 {
		tapAt([]*server.Server{a, b}[i%2], start.Add(time.Duration(i)*30*time.Minute))
	}
	exact("both replicas", a, b)

	leader, other := a, b
	require.Eventually(t, func() bool { return leads(t, a) || leads(t, b) }, 30*time.Second, 50*time.Millisecond, "one replica leads")
	if leads(t, b) {
		leader, other = b, a
	}
	require.False(t, leads(t, other), "one leader only")
	require.NoError(t, leader.Shutdown(context.Background()))
	require.Eventually(t, func() bool { return leads(t, other) }, 30*time.Second, 50*time.Millisecond, "the other replica took over")
	for i := range 3 {
		tapAt(other, start.Add(3*time.Hour+time.Duration(i)*20*time.Minute))
	}
	exact("after the handover", other)
}
