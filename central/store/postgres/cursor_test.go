package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestPostingCursorOutOfOrder: a transaction that began (and took its id)
// first but commits after a later one is not skipped by the crediting
// leader's cursor. Read while it is in flight, the cursor stops below it;
// once it commits, the next read returns it. A read of another replica
// waits for it only once it has committed. (Other transactions of the
// database server, other tests', may hold the position back too: an event
// may be returned again, which the leader ignores.)
func TestPostingCursorOutOfOrder(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresSchema(t)
	s, err := postgres.Open(ctx, url, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	cs := s.Credit()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixMilli()
	ev := func(seq uint64, member string) protocol.Event {
		return protocol.Event{Seq: seq, TimeMs: at, Trusted: true, Boot: "b", Kind: protocol.EventTap, UID: "04A1B2C3",
			Member: member, Reason: protocol.GrantedPass, WLVersion: 1}
	}

	// The slow transaction: begun and given its id first, left open.
	slow, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = slow.Rollback() }()
	var slowXid int64
	require.NoError(t, slow.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&slowXid))
	_, err = slow.ExecContext(ctx, `INSERT INTO events (door, seq, center_id, received_ms, time_ms, trusted, boot, uptime_ms, kind, uid, member, reason, wl_version, command)
		VALUES ('slow', 1, '', $1, $1, true, 'b', 0, 'tap', '04A1B2C3', 'm1', 'granted_pass', 1, '')`, at)
	require.NoError(t, err)

	// A later transaction commits first.
	_, err = s.AppendBatches(ctx, at, []store.DoorEvents{{Door: "fast", Events: []protocol.Event{ev(1, "m2")}}})
	require.NoError(t, err)

	seen := map[string]int{}
	read := func(from int64) store.PostingRead {
		t.Helper()
		r, err := cs.EventsFrom(ctx, from)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, r.Next, from, "the cursor never goes back")
		for _, e := range r.Events {
			seen[e.Door]++
		}
		return r
	}
	unposted := func() bool {
		t.Helper()
		h, err := cs.PostingHorizon(ctx)
		require.NoError(t, err)
		pending, err := cs.Unposted(ctx, h)
		require.NoError(t, err)
		return pending
	}
	r := read(0)
	assert.Equal(t, map[string]int{"fast": 1}, seen, "the slow transaction is not committed")
	assert.LessOrEqual(t, r.Next, slowXid, "the cursor stops below the transaction still running")
	require.NoError(t, cs.SetPosted(ctx, r, r.Next))
	assert.False(t, unposted(), "the later transaction's event was read: a read need not wait for the one running")

	require.NoError(t, slow.Commit())
	assert.True(t, unposted(), "committed now, it was not in the posted read")
	r = read(r.Next)
	assert.Equal(t, 1, seen["slow"], "committed after a later transaction, it is read all the same")
	require.NoError(t, cs.SetPosted(ctx, r, r.Next))
	assert.False(t, unposted())
	assert.Len(t, seen, 2)
}
