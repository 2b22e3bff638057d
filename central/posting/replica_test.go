package posting_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/postgres"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// replica is one central replica's crediting over a shared PostgreSQL
// store: a follower until lead is called.
type replica struct {
	*posting.Service
	st   store.Store
	log  *bytes.Buffer
	stop func()
}

func newReplica(t *testing.T, url string, now time.Time) *replica {
	t.Helper()
	st, err := postgres.Open(context.Background(), url, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	r := &replica{st: st, log: &bytes.Buffer{}, stop: func() {}}
	r.Service, err = posting.New(posting.Config{Rules: rules, Store: st, Metrics: metrics.NewRegistry(), Cursor: true,
		Logger: slog.New(slog.NewTextHandler(r.log, nil)), Now: func() time.Time { return now },
		Every: time.Millisecond, Debounce: time.Millisecond, PollEvery: 20 * time.Millisecond, FollowWait: 30 * time.Second,
		Build: "test-build"})
	require.NoError(t, err)
	return r
}

// lead runs the replica's crediting as the leader until stop.
func (r *replica) lead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	r.stop = func() {
		cancel()
		require.NoError(t, <-done)
		r.stop = func() {}
	}
	t.Cleanup(func() { r.stop() })
}

// commitTo stores events as two replicas' ingests do: each receipt time's
// commit to one replica or the other, in turn, through its hook.
func commitTo(t *testing.T, events []domain.Event, rs ...*replica) {
	t.Helper()
	ctx := context.Background()
	byReceipt := map[int64][]store.DoorEvents{}
	var times []int64
	for _, ev := range events {
		bs, ok := byReceipt[ev.ReceivedMs]
		if !ok {
			times = append(times, ev.ReceivedMs)
		}
		if len(bs) == 0 || bs[len(bs)-1].Door != ev.Door {
			bs = append(bs, store.DoorEvents{Door: ev.Door})
		}
		bs[len(bs)-1].Events = append(bs[len(bs)-1].Events, ev.Event)
		byReceipt[ev.ReceivedMs] = bs
	}
	slices.Sort(times)
	for i, at := range times {
		r := rs[i%len(rs)]
		_, err := r.st.AppendBatches(ctx, at, byReceipt[at])
		require.NoError(t, err)
		in := make([]ingest.Batch, len(byReceipt[at]))
		for j, b := range byReceipt[at] {
			in[j] = ingest.Batch{Door: b.Door, Events: b.Events}
		}
		r.Committed(at, in)
	}
}

// TestReplicasShareTheLedger: two replicas share a PostgreSQL store and
// each stores half of the commits; one leads the crediting. Both answer the
// settlement computed from scratch over every stored event, at once after
// the commits (a follower's read waits for the leader to post what was
// stored before it), also for an event whose transaction began first and
// committed last, and after the leadership moves to the other replica
// (which, of the same build, does not rebuild the open periods).
func TestReplicasShareTheLedger(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresSchema(t)
	n := smallNetwork(t)
	now := n.Period.End(n.Config.Location).Add(5 * 24 * time.Hour)
	a, b := newReplica(t, url, now), newReplica(t, url, now)
	loadDomain(t, a.st, n)
	a.lead(t)

	same := func(step string) {
		t.Helper()
		want := canon(t, fromScratch(t, a.st, n.Period))
		for name, r := range map[string]*replica{"a": a, "b": b} {
			got, err := r.Settlement(ctx, n.Period)
			require.NoError(t, err, "%s: %s", step, name)
			require.Equal(t, want, canon(t, got), "%s: replica %s", step, name)
		}
	}
	cut := len(n.Events) * 3 / 5
	commitTo(t, n.Events[:cut], a, b)
	same("commits through both replicas")
	first, err := a.Settlement(ctx, n.Period)
	require.NoError(t, err)
	require.Positive(t, first.TotalCents)

	// A transaction that took its id first commits after later ones.
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer raw.Close()
	slow, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = slow.Rollback() }()
	late := n.Events[cut]
	_, err = slow.ExecContext(ctx, `INSERT INTO events (door, seq, center_id, received_ms, time_ms, trusted, boot, uptime_ms, kind, uid, member, reason, wl_version, command)
		VALUES ($1, $2, '', $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, '')`,
		late.Door, int64(late.Seq), late.ReceivedMs, late.TimeMs, late.Trusted, late.Boot, string(late.Kind), string(late.UID),
		late.Member, string(late.Reason), int64(late.WLVersion))
	require.NoError(t, err)
	mid := cut + (len(n.Events)-cut)/3
	commitTo(t, n.Events[cut+1:mid], b, a)
	same("with a transaction in flight")
	require.NoError(t, slow.Commit())
	same("the transaction begun first committed last")

	// The leadership moves: a stops (as when its connection to the
	// database drops), b takes over; the commits go on through both.
	a.stop()
	b.lead(t)
	commitTo(t, n.Events[mid:], a, b)
	same("after the handover")
	last, err := b.Settlement(ctx, n.Period)
	require.NoError(t, err)
	assert.Greater(t, last.TotalCents, first.TotalCents)
	// The first leader rebuilt the open periods; the second, of the same
	// build, did not need to.
	assert.Contains(t, a.log.String(), "open periods rebuilt")
	assert.NotContains(t, b.log.String(), "open periods rebuilt")
	assert.Contains(t, b.log.String(), "already rebuilt by this build")
	assert.NotContains(t, a.log.String()+b.log.String(), "level=ERROR")
}

// TestStaleLeaderIsFenced: a leader that lost its lock without noticing
// (here: still running when the next leader starts) cannot write the
// ledger any more; the new leader's figures are exact.
func TestStaleLeaderIsFenced(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresSchema(t)
	n := smallNetwork(t)
	now := n.Period.End(n.Config.Location).Add(5 * 24 * time.Hour)
	a, b := newReplica(t, url, now), newReplica(t, url, now)
	loadDomain(t, a.st, n)
	a.lead(t)
	half := len(n.Events) / 2
	commitTo(t, n.Events[:half], a)
	require.NoError(t, a.Flush(ctx))

	b.lead(t) // a has not noticed
	commitTo(t, n.Events[half:], a, b)
	require.Error(t, a.Flush(ctx), "the stale leader's writes fail")
	got, err := b.Settlement(ctx, n.Period)
	require.NoError(t, err)
	require.Equal(t, canon(t, fromScratch(t, b.st, n.Period)), canon(t, got))
	assert.Contains(t, a.log.String(), store.ErrNotLeader.Error())
}
