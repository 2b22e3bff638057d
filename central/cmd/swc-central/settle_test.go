package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/protocol"
)

func brussels(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

// credited fills st as serve would have: one center (rate 12.00), a
// nomadic member with a pass, two visits in November (2 h, then 1 h 30),
// November closed on 5 December after the first, the second arriving after
// the close. It returns what the crediting serves for November and December.
func credited(t *testing.T, st store.Store) (nov, dec *credit.Settlement) {
	t.Helper()
	ctx := context.Background()
	var hours domain.OpeningHours
	for d := range hours {
		hours[d] = []domain.Span{{Open: 8 * 60, Close: 18 * 60}}
	}
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "gent", Name: "Gent", TimeZone: "Europe/Brussels", Hours: hours, RateCents: 1200}))
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "leuven", Name: "Leuven", TimeZone: "Europe/Brussels", Hours: hours}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "gent-in", CenterID: "gent", Name: "in"}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "gent-out", CenterID: "gent", Name: "out", Exit: true}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "ann", Name: "Ann", Status: domain.MemberActive}))
	require.NoError(t, st.CreatePass(ctx, domain.Pass{ID: "p1", MemberID: "ann", ValidFrom: brussels(t, "2026-10-01 00:00"), ValidUntil: brussels(t, "2027-01-01 00:00")}))

	rules, err := credit.DefaultConfig(settings.DefaultRateCents)
	require.NoError(t, err)
	svc, err := posting.New(posting.Config{Rules: rules, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return brussels(t, "2026-12-05 10:00") }})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	commit := func(received time.Time, door string, seq uint64, at string) {
		ev := protocol.Event{Seq: seq, TimeMs: brussels(t, at).UnixMilli(), Trusted: true, Boot: "b", Kind: protocol.EventTap,
			UID: "04A1B2C3", Member: "ann", Reason: protocol.GrantedPass}
		_, err := st.AppendBatches(ctx, received.UnixMilli(), []store.DoorEvents{{Door: door, Events: []protocol.Event{ev}}})
		require.NoError(t, err)
		svc.Committed(received.UnixMilli(), []ingest.Batch{{Door: door, Events: []protocol.Event{ev}}})
	}
	commit(brussels(t, "2026-11-10 09:01"), "gent-in", 1, "2026-11-10 09:00")
	commit(brussels(t, "2026-11-10 11:01"), "gent-out", 1, "2026-11-10 11:00")
	p, err := credit.ParsePeriod("2026-11")
	require.NoError(t, err)
	_, err = svc.Close(ctx, p)
	require.NoError(t, err)
	commit(brussels(t, "2026-12-05 09:00"), "gent-in", 2, "2026-11-12 14:00")
	commit(brussels(t, "2026-12-05 09:00"), "gent-out", 2, "2026-11-12 15:30")
	require.NoError(t, svc.Flush(ctx))
	nov, err = svc.Settlement(ctx, p)
	require.NoError(t, err)
	dec, err = svc.Settlement(ctx, p.Next())
	require.NoError(t, err)
	return nov, dec
}

func settleJSON(t *testing.T, args ...string) *credit.Settlement {
	t.Helper()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), append([]string{"settle", "--format", "json"}, args...), &out, &errOut), errOut.String())
	var s credit.Settlement
	require.NoError(t, json.Unmarshal(out.Bytes(), &s))
	return &s
}

func TestSettle(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, server.DBFile), sqlite.Options{})
	require.NoError(t, err)
	nov, dec := credited(t, st)
	require.NoError(t, st.Close())

	// The ledger's state: what serve serves.
	got := settleJSON(t, "--data", dir, "--period", "2026-11")
	assert.Equal(t, nov, got)
	assert.True(t, got.Closed)
	gent, _ := got.Center("gent")
	assert.Equal(t, int64(120), gent.NomadicMinutes, "frozen before the late visit")
	got = settleJSON(t, "--data", dir, "--period", "2026-12")
	assert.Equal(t, dec, got)
	require.Len(t, got.Adjustments, 1)
	assert.Equal(t, int64(90), got.Adjustments[0].Minutes)

	// From scratch: the stored events as they are, no ledger.
	scratch := settleJSON(t, "--data", dir, "--period", "2026-11", "--from-scratch")
	assert.False(t, scratch.Closed)
	gent, _ = scratch.Center("gent")
	assert.Equal(t, int64(210), gent.NomadicMinutes, "both visits")
	assert.Equal(t, int64(4200), gent.TotalCents, "3.5 h at 12.00")
	scratch = settleJSON(t, "--data", dir, "--period", "2026-12", "--from-scratch")
	assert.Empty(t, scratch.Adjustments)

	empty := t.TempDir()

	// CSV, one center.
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"settle", "--data", dir, "--period", "2026-11", "--center", "gent"}, &out, &errOut), errOut.String())
	rows, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, [][]string{credit.SettlementCSVHeader,
		{"2026-11", "true", "credit", "gent", "nomadic", "", "", "120", "2.00", "1200", "2400"},
		{"2026-11", "true", "credit", "gent", "cross_center", "", "", "0", "0.00", "1200", "0"},
		{"2026-11", "true", "own_staff_bookings", "gent", "", "", "", "0", "0.00", "", ""},
		{"2026-11", "true", "total", "gent", "", "", "", "", "", "", "2400"},
	}, rows)

	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no period", []string{"--data", dir}, 2, "--period is required"},
		{"bad period", []string{"--data", dir, "--period", "2026-13"}, 2, "month out of range"},
		{"bad format", []string{"--data", dir, "--period", "2026-11", "--format", "xml"}, 2, "want csv or json"},
		{"both stores", []string{"--data", dir, "--db", "postgres://x", "--period", "2026-11"}, 2, "not both"},
		{"no database", []string{"--data", empty, "--period", "2026-11"}, 1, "no database"},
		{"unknown center", []string{"--data", dir, "--period", "2026-11", "--center", "brugge"}, 1, "no such center"},
		{"override without --from-scratch", []string{"--data", dir, "--period", "2026-11", "--rate-cents", "400"}, 2, "add --from-scratch"},
		{"bad rate", []string{"--data", dir, "--period", "2026-11", "--from-scratch", "--rate-cents", "0"}, 2, "override default_rate_cents"},
		{"extra argument", []string{"--data", dir, "--period", "2026-11", "now"}, 2, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, tc.code, run(context.Background(), append([]string{"settle"}, tc.args...), &out, &errOut))
			assert.Contains(t, errOut.String(), tc.says)
			assert.Empty(t, out.String())
		})
	}
	var help bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"settle", "-h"}, &help, io.Discard), "help on stdout")
	assert.Contains(t, help.String(), "ledger's state")
	assert.Contains(t, help.String(), "--from-scratch")
	_, err = os.Stat(filepath.Join(empty, server.DBFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "settle creates no database")
}

// TestSettlePostgres runs settle against PostgreSQL (a schema of its own).
func TestSettlePostgres(t *testing.T) {
	on := postgresOn(t)
	st := on.open()
	nov, dec := credited(t, st)
	require.NoError(t, st.Close())
	assert.Equal(t, nov, settleJSON(t, append(on.flags, "--period", "2026-11")...))
	assert.Equal(t, dec, settleJSON(t, append(on.flags, "--period", "2026-12")...))
	scratch := settleJSON(t, append(on.flags, "--period", "2026-11", "--from-scratch")...)
	gent, _ := scratch.Center("gent")
	assert.Equal(t, int64(210), gent.NomadicMinutes)
}
