package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// record appends a door event with a distinct time and returns it.
func record(t *testing.T, s *Store, n int) protocol.Event {
	t.Helper()
	ev, err := s.Append(ctx, protocol.Event{Kind: protocol.EventDoorClosed, Boot: "1-a", TimeMs: t0.UnixMilli() + int64(n)})
	require.NoError(t, err)
	return ev
}

// allPending reads the whole outbox as the sync would, batch by batch.
func allPending(t *testing.T, s *Store) []Pending {
	t.Helper()
	var out []Pending
	for after := uint64(0); ; {
		p, err := s.Pending(ctx, after, 2)
		require.NoError(t, err)
		if len(p.Events) == 0 {
			return out
		}
		out = append(out, p)
		after = p.Last
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

// TestEveryOpenNumbersANewStore: each Open gives the database a new store
// identity whose events are numbered from 1; waiting events keep the
// identity and number they were recorded with, and come out in batches of
// one store each.
func TestEveryOpenNumbersANewStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	s, err := Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	a, err := s.StoreID(ctx)
	require.NoError(t, err)
	for i := 1; i <= 3; i++ {
		assert.Equal(t, uint64(i), record(t, s, i).Seq)
	}
	require.NoError(t, s.Close())

	s, err = Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	defer s.Close()
	b, err := s.StoreID(ctx)
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	assert.Equal(t, uint64(1), record(t, s, 4).Seq, "the new store numbers from 1")
	assert.Equal(t, uint64(2), record(t, s, 5).Seq)

	ps := allPending(t, s)
	require.Len(t, ps, 3)
	assert.Equal(t, a, ps[0].Store)
	assert.Equal(t, []uint64{1, 2}, seqs(ps[0].Events))
	assert.Equal(t, a, ps[1].Store, "a batch never mixes stores")
	assert.Equal(t, []uint64{3}, seqs(ps[1].Events))
	assert.Equal(t, b, ps[2].Store)
	assert.Equal(t, []uint64{1, 2}, seqs(ps[2].Events))
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(5), st.Depth)
	assert.Equal(t, b, st.Store)

	// An ack of one store deletes that store's events only.
	n, err := s.Ack(ctx, b, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	st, err = s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), st.Depth, "the acked events were of store b; a's stay")
	n, err = s.Ack(ctx, a, 3)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Empty(t, allPending(t, s))
	n, err = s.Ack(ctx, a, 3)
	require.NoError(t, err)
	assert.Zero(t, n, "a repeated ack of a finished store is fine")
	assert.Equal(t, uint64(3), record(t, s, 6).Seq)
}

// TestRestoredBackupNumbersANewStore: a backup of the database is put back
// after the original went on recording (and the central acknowledged all
// of it). The restored copy's new events are numbered in a new store, never
// in the one the original used; its old waiting events are the same events
// as the original's, and the central's ack of the original's stream, which
// reaches beyond what the copy holds, deletes them.
func TestRestoredBackupNumbersANewStore(t *testing.T) {
	dir := t.TempDir()
	path, backup := filepath.Join(dir, "edge.db"), filepath.Join(dir, "backup.db")
	s, err := Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	a, err := s.StoreID(ctx)
	require.NoError(t, err)
	var orig []protocol.Event
	for i := 1; i <= 3; i++ {
		orig = append(orig, record(t, s, i))
	}
	_, err = s.Ack(ctx, a, 1)
	require.NoError(t, err)
	// The backup is taken while the agent runs: events 2 and 3 of store a
	// wait in it, and the original goes on numbering 4 to 6 in store a.
	copyFile(t, path, backup)
	for i := 4; i <= 6; i++ {
		assert.Equal(t, uint64(i), record(t, s, i).Seq)
	}
	require.NoError(t, s.Close())

	copyFile(t, backup, path) // restored
	s, err = Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	defer s.Close()
	c, err := s.StoreID(ctx)
	require.NoError(t, err)
	require.NotEqual(t, a, c)
	restored := record(t, s, 7)
	assert.Equal(t, uint64(1), restored.Seq, "numbered in the new store")

	ps := allPending(t, s)
	require.Len(t, ps, 2)
	assert.Equal(t, a, ps[0].Store)
	assert.Equal(t, orig[1:], ps[0].Events, "the waiting events are the original's, unchanged")
	assert.Equal(t, c, ps[1].Store)

	// The central holds store a through 6 (the original's own events): its
	// ack of store a reaches beyond what the copy holds, which is stored.
	n, err := s.Ack(ctx, a, 6)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	ps = allPending(t, s)
	require.Len(t, ps, 1)
	assert.Equal(t, c, ps[0].Store)
	_, err = s.Ack(ctx, c, 2)
	require.ErrorIs(t, err, ErrAckAhead, "the current store numbered only 1")
}

// TestSchema1FileKeepsItsEventsAsTheStoreWithoutIdentity: a file written
// before store identities is upgraded at Open; its waiting events are the
// stream "" with their numbers, new ones a new store from 1.
func TestSchema1FileKeepsItsEventsAsTheStoreWithoutIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		require.NoError(t, err)
		require.NoError(t, meta.Put(keySchema, u64(1)))
		require.NoError(t, meta.Put(keyDoor, []byte(testDoor)))
		ob, err := tx.CreateBucket(bucketOutbox)
		require.NoError(t, err)
		for seq := uint64(41); seq <= 42; seq++ {
			v, err := json.Marshal(protocol.Event{Seq: seq, Kind: protocol.EventDoorClosed, Boot: "1-a", TimeMs: 5})
			require.NoError(t, err)
			require.NoError(t, ob.Put(u64(seq), v))
		}
		return ob.SetSequence(42)
	}))
	require.NoError(t, db.Close())

	s, err := Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, uint64(1), record(t, s, 1).Seq)
	ps := allPending(t, s)
	require.Len(t, ps, 2)
	assert.Equal(t, "", ps[0].Store)
	assert.Equal(t, []uint64{41, 42}, seqs(ps[0].Events))
	assert.NotEqual(t, "", ps[1].Store)
	n, err := s.Ack(ctx, "", 42)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Depth)
}

func seqs(evs []protocol.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// TestStoresWithNothingWaitingAreForgotten: a store whose events were all
// acknowledged is forgotten at the next Open (its ack deletes nothing), and
// the outbox depth counts exactly the waiting events of the stores around.
func TestStoresWithNothingWaitingAreForgotten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	open := func() (*Store, string) {
		s, err := Open(ctx, path, Options{Door: testDoor})
		require.NoError(t, err)
		id, err := s.StoreID(ctx)
		require.NoError(t, err)
		return s, id
	}
	s, a := open()
	for i := 1; i <= 4; i++ {
		record(t, s, i)
	}
	_, err := s.Ack(ctx, a, 1) // a: 2, 3 and 4 wait
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, b := open()
	for i := 5; i <= 7; i++ {
		record(t, s, i)
	}
	_, err = s.Ack(ctx, b, 3) // b: all acknowledged while current
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, c := open()
	defer s.Close()
	record(t, s, 8)

	var ids []string
	require.NoError(t, s.view(ctx, func(tx *bolt.Tx) error {
		for _, sm := range streams(tx) {
			ids = append(ids, sm.id)
		}
		return nil
	}))
	assert.Equal(t, []string{a, c}, ids, "b is forgotten")
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(3+1), st.Depth, "a's three and c's one")
	n, err := s.Ack(ctx, b, 3)
	require.NoError(t, err)
	assert.Zero(t, n)
	ps := allPending(t, s)
	require.Len(t, ps, 3)
	assert.Equal(t, []uint64{2, 3}, seqs(ps[0].Events))
	assert.Equal(t, []uint64{4}, seqs(ps[1].Events))
	assert.Equal(t, c, ps[2].Store)
	n, err = s.Ack(ctx, a, 4)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	st, err = s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Depth)
}

// TestDepthAfterAClosedStoreIsForgotten: acknowledging the whole of a
// closed store between two others forgets it; the depth stays exact.
func TestDepthAfterAClosedStoreIsForgotten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	var ids []string
	var s *Store
	for run := 0; run < 3; run++ {
		var err error
		s, err = Open(ctx, path, Options{Door: testDoor})
		require.NoError(t, err)
		id, err := s.StoreID(ctx)
		require.NoError(t, err)
		ids = append(ids, id)
		for i := 0; i < 3; i++ {
			record(t, s, run*10+i)
		}
		if run < 2 {
			require.NoError(t, s.Close())
		}
	}
	defer s.Close()
	n, err := s.Ack(ctx, ids[1], 3)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(6), st.Depth, "the first and the last store's three each")
}
