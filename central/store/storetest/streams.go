package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// testEventConflict: a (door, store, seq) the central holds, sent again
// with other content (a door whose numbering restarted: a restored backup
// of a door from before store identities), is not a duplicate: the call
// fails with ErrConflict naming the batch, nothing of that batch is
// stored, and the high-water mark does not pass over it. An identical
// repeat is still a duplicate.
func testEventConflict(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	_, err := s.AppendEvents(ctx, "d1", 1, Events(1, 3))
	require.NoError(t, err)

	restarted := Events(2, 3) // 2 and 3 are held, with other content; 4 is new
	for i := range restarted {
		restarted[i].Boot = "boot2"
	}
	_, err = s.AppendEvents(ctx, "d1", 2, restarted)
	require.ErrorIs(t, err, store.ErrConflict)
	seq, err := s.EventSeq(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{Through: 3, Max: 3}, seq, "nothing of the conflicting batch is stored")

	res, err := s.AppendEvents(ctx, "d1", 3, Events(2, 3))
	require.NoError(t, err, "the same events again are duplicates")
	require.Equal(t, 1, res.New)
	require.Equal(t, uint64(4), res.Through)

	// In a call of several batches, the error names the batch.
	_, err = s.AppendBatches(ctx, 4, []store.DoorEvents{{Door: "zz", Events: Events(1, 2)}, {Door: "d1", Events: restarted}})
	require.ErrorIs(t, err, store.ErrConflict)
	var be *store.BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, 1, be.Index)
	require.Equal(t, "d1", be.Door)
	zz, err := s.EventSeq(ctx, "zz")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{}, zz, "a failed call stores no batch")
	page, err := s.ListEvents(ctx, store.EventFilter{Door: "d1"})
	require.NoError(t, err)
	for _, ev := range page.Items {
		require.Equal(t, "boot1", ev.Boot, "the stored events are the first ones")
	}
}

// testEventStores: each store identity of a door is a stream of its own,
// numbered from 1 and acknowledged on its own; its events are kept under
// the central's number Base+seq, unique per door, so that the same seq of
// two stores are two events (credited once each).
func testEventStores(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	legacy, err := s.AppendEvents(ctx, "d1", 1, Events(1, 3))
	require.NoError(t, err)
	require.Equal(t, store.AppendResult{New: 3, SeqState: store.SeqState{Through: 3, Max: 3}}, legacy, "the store without identity keeps its numbers")

	res, err := s.AppendBatches(ctx, 2, []store.DoorEvents{
		{Door: "d1", Store: "aaaa", Events: Events(1, 2)},
		{Door: "d1", Store: "bbbb", Events: Events(1, 2)},
		{Door: "d1", Store: "aaaa", Events: Events(4, 1)},
	})
	require.NoError(t, err)
	require.Len(t, res, 3)
	a, b := res[0].Base, res[1].Base
	require.Equal(t, uint64(1)<<32, a, "the first store with identity takes slot 1")
	require.Equal(t, uint64(2)<<32, b)
	require.Equal(t, store.AppendResult{New: 2, Base: a, SeqState: store.SeqState{Through: 2, Max: 2}}, res[0])
	require.Equal(t, store.AppendResult{New: 2, Base: b, SeqState: store.SeqState{Through: 2, Max: 2}}, res[1])
	require.Equal(t, store.AppendResult{New: 1, Base: a, SeqState: store.SeqState{Through: 2, Max: 4}}, res[2])

	// Again, later: the same slots; a repeat is a duplicate of its store only.
	res, err = s.AppendBatches(ctx, 3, []store.DoorEvents{{Door: "d1", Store: "bbbb", Events: Events(1, 3)}, {Door: "d1", Store: "aaaa", Events: Events(3, 1)}})
	require.NoError(t, err)
	require.Equal(t, store.AppendResult{New: 1, Base: b, SeqState: store.SeqState{Through: 3, Max: 3}}, res[0])
	require.Equal(t, store.AppendResult{New: 1, Base: a, SeqState: store.SeqState{Through: 4, Max: 4}}, res[1])

	page, err := s.ListEvents(ctx, store.EventFilter{Door: "d1", PageRequest: store.PageRequest{Limit: 100}})
	require.NoError(t, err)
	require.Len(t, page.Items, 3+4+3, "every store's events, once each")
	got := map[uint64]bool{}
	for _, ev := range page.Items {
		require.False(t, got[ev.Seq], "seq %d twice", ev.Seq)
		got[ev.Seq] = true
	}
	require.True(t, got[a+4] && got[b+3] && got[3])

	gaps, err := s.EventGaps(ctx, "d1", 10)
	require.NoError(t, err)
	require.Empty(t, gaps)
	_, err = s.AppendEvents(ctx, "d1", 4, Events(6, 1))
	require.NoError(t, err)
	_, err = s.AppendBatches(ctx, 4, []store.DoorEvents{{Door: "d1", Store: "bbbb", Events: Events(6, 1)}})
	require.NoError(t, err)
	gaps, err = s.EventGaps(ctx, "d1", 10)
	require.NoError(t, err)
	require.Equal(t, []store.SeqRange{{From: 4, To: 5}, {Store: "bbbb", From: 4, To: 5}}, gaps)

	seq, err := s.EventSeq(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{Through: 3 + 4 + 3, Max: 6 + 4 + 6}, seq, "the door's totals over its stores")

	// A store identity is checked.
	_, err = s.AppendBatches(ctx, 5, []store.DoorEvents{{Door: "d1", Store: "a/b", Events: Events(1, 1)}})
	requireKind(t, err, domain.ErrValidation, "store")
}

// testEventSeqBound: a seq above protocol.MaxSeq is refused as invalid
// input before anything is stored.
func testEventSeqBound(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	for _, seq := range []uint64{protocol.MaxSeq + 1, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		evs := Events(1, 1)
		evs[0].Seq = seq
		_, err := s.AppendEvents(ctx, "d1", 1, evs)
		requireKind(t, err, domain.ErrValidation, "events[0].seq")
	}
	res, err := s.AppendEvents(ctx, "d1", 1, Events(protocol.MaxSeq, 1))
	require.NoError(t, err)
	require.Equal(t, 1, res.New)
}

// testEventStoresConcurrent: several new stores of one door seen at the
// same moment by concurrent writers (central replicas) each get a slot of
// their own; none fails, none shares a slot.
func testEventStoresConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	const stores = 6
	var wg sync.WaitGroup
	bases := make(chan uint64, stores*2)
	for w := range stores * 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("store%d", w%stores) // each store by two writers
			res, err := s.AppendBatches(ctx, 1, []store.DoorEvents{{Door: "d1", Store: id, Events: Events(1, 3)}})
			if err != nil {
				t.Error(err)
				return
			}
			bases <- res[0].Base
		}()
	}
	wg.Wait()
	close(bases)
	distinct := map[uint64]int{}
	for b := range bases {
		distinct[b]++
	}
	require.Len(t, distinct, stores, "one slot per store")
	for b, n := range distinct {
		require.Equal(t, 2, n, "both writers of a store saw its slot %d", b>>32)
	}
	seq, err := s.EventSeq(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{Through: 3 * stores, Max: 3 * stores}, seq)
}

// testEventStreamsLockOrder has writers (central replicas) commit batches
// of overlapping doors at once, in different orders, each commit mixing
// streams seen for the first time by several writers with streams already
// stored, below and above them in key order. Every writer must take its
// rows' locks in one key order, the created rows too: a writer locking a
// stored stream and then waiting for a new stream another one created
// (uncommitted), while the other waits for the stored one, is a deadlock
// (PostgreSQL 40P01).
func testEventStreamsLockOrder(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	const writers, rounds, fresh = 6, 40, 8
	stored := []string{"a0", "a1", "a2", "a3", "z0", "z1", "z2", "z3"}
	var first []store.DoorEvents
	for _, d := range stored {
		first = append(first, store.DoorEvents{Door: d, Events: Events(1, 1)}, store.DoorEvents{Door: d, Store: "s1", Events: Events(1, 1)})
	}
	_, err := s.AppendBatches(ctx, 1, first)
	require.NoError(t, err)
	for r := range rounds {
		doors := slices.Clone(stored)
		for i := range fresh {
			doors = append(doors, fmt.Sprintf("m%02d-%d", r, i)) // between the a and z doors
		}
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(r), uint64(w)))
				// Two commits each: the doors new to one writer's first
				// commit are stored when the others' second commits lock them.
				for range 2 {
					var in []store.DoorEvents
					for _, i := range rnd.Perm(len(doors)) {
						if rnd.IntN(3) == 0 {
							continue
						}
						// The store "" or the round's store of the door, or
						// both: every writer creates the same new stores
						// (stores racing for a door's slot are
						// testEventStoresConcurrent's).
						d, st, evs := doors[i], fmt.Sprintf("s%d", r%3+1), Events(uint64(r+2), 1)
						switch rnd.IntN(3) {
						case 0:
							in = append(in, store.DoorEvents{Door: d, Events: evs})
						case 1:
							in = append(in, store.DoorEvents{Door: d, Store: st, Events: evs})
						default:
							in = append(in, store.DoorEvents{Door: d, Store: st, Events: evs}, store.DoorEvents{Door: d, Events: evs})
						}
					}
					if _, err := s.AppendBatches(ctx, 1, in); err != nil {
						t.Errorf("round %d writer %d: %v", r, w, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}
