package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// storeBatch is batch() for the events of one store, with the given boot
// (two databases of a door never share a boot id).
func storeBatch(door, store, boot string, seqs ...uint64) string {
	b := protocol.EventBatch{V: protocol.Version, Door: door, Store: store}
	for _, s := range seqs {
		b.Events = append(b.Events, protocol.Event{Seq: s, TimeMs: 1764158400000 + int64(s), Trusted: true, Boot: boot,
			Kind: protocol.EventTap, UID: "04A1B2C3", Member: "m1", Reason: protocol.GrantedBooking, WLVersion: 1})
	}
	enc, err := protocol.Encode(&b)
	if err != nil {
		panic(err)
	}
	return string(enc)
}

func ackOf(store string, through uint64) func(string) bool {
	return func(p string) bool {
		a, err := protocol.DecodeAck([]byte(p))
		return err == nil && a.Store == store && a.Through == through
	}
}

func (h *harness) waitMetric(t *testing.T, line string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(h.metrics(), line) }, 10*time.Second, 10*time.Millisecond,
		"want %q in metrics: %s", line, h.metrics())
}

// TestRestartedNumberingIsNeverAckedAsDuplicates: a door's numbering
// starts again. Under the store without identity (a door from before store
// identities, restored from a backup) the reused seqs carry other events:
// they are refused as a conflict, never acknowledged. Under a new store
// identity the same seqs are new events, stored and acknowledged for that
// store, and handed to the crediting under numbers of their own.
func TestRestartedNumberingIsNeverAckedAsDuplicates(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		h := start(t, tb, newMemStore())
		d := h.door(t, "door-a")
		d.publish(t, protocol.TopicEvents, storeBatch("door-a", "", "boot1", 1, 2, 3))
		d.waitFor(t, protocol.TopicAck, ackOf("", 3))

		d.publish(t, protocol.TopicEvents, storeBatch("door-a", "", "boot2", 2, 3, 4))
		h.waitMetric(t, `swc_ingest_rejected_messages_total{reason="conflict"} 1`)
		assert.Len(t, d.acks(t), 1, "the conflicting batch got no ack")
		assert.Equal(t, 3, h.store.count("door-a"))

		d.publish(t, protocol.TopicEvents, storeBatch("door-a", "5e2c", "boot3", 1, 2))
		d.waitFor(t, protocol.TopicAck, ackOf("5e2c", 2))
		assert.Equal(t, 5, h.store.count("door-a"), "the new store's events are new events")
		d.publish(t, protocol.TopicEvents, storeBatch("door-a", "5e2c", "boot3", 1, 2))
		require.Eventually(t, func() bool { return len(d.acks(t)) == 3 }, 5*time.Second, 10*time.Millisecond)
		assert.Equal(t, 5, h.store.count("door-a"), "a repeat of the new store is a duplicate")

		h.mu.Lock()
		seen := map[uint64]int{}
		for _, b := range h.committed {
			for _, e := range b.Events {
				seen[e.Seq]++
			}
		}
		h.mu.Unlock()
		assert.Equal(t, map[uint64]int{1: 1, 2: 1, 3: 1, 1<<32 + 1: 2, 1<<32 + 2: 2}, seen,
			"committed under the central's numbers: the new store's seq 1 and 2 are not the old 1 and 2")
	})
}

// TestConflictInsideOneGroupIsNotAcked: two different events under one seq
// of one store, arriving together, are not merged as repeats.
func TestConflictInsideOneGroupIsNotAcked(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		st := newMemStore()
		block, blocked := make(chan struct{}), make(chan struct{}, 1)
		st.fail = func(bs []Batch) error {
			if bs[0].Door == "door-x" {
				select {
				case blocked <- struct{}{}:
				default:
				}
				<-block // hold the writer so that both batches queue together
			}
			return nil
		}
		h := start(t, tb, st)
		x, d := h.door(t, "door-x"), h.door(t, "door-a")
		x.publish(t, protocol.TopicEvents, storeBatch("door-x", "", "b1", 1))
		waitBlocked(t, blocked) // the writer took door-x's batch and blocks
		d.publish(t, protocol.TopicEvents, storeBatch("door-a", "aa", "boot1", 1, 2))
		d.publish(t, protocol.TopicEvents, storeBatch("door-a", "aa", "boot2", 2, 3))
		require.Eventually(t, func() bool { return len(h.in.queue) == 2 }, 5*time.Second, 5*time.Millisecond)
		close(block)
		h.waitMetric(t, `swc_ingest_rejected_messages_total{reason="conflict"} 2`)
		assert.Empty(t, d.acks(t))
		assert.Zero(t, h.store.count("door-a"))
	})
}

// TestRefusedBatchIsIsolatedAtOnce: a batch the store refuses for its own
// content is taken out of the commit at once: no retry, no backoff (the
// store is called once with it and once without it), and the other doors
// are acknowledged.
func TestRefusedBatchIsIsolatedAtOnce(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		st := newMemStore()
		block, blocked := make(chan struct{}), make(chan struct{}, 1)
		var withBad, withGood int // counted under st.mu
		st.fail = func(bs []Batch) error {
			if bs[0].Door == "door-x" {
				select {
				case blocked <- struct{}{}:
				default:
				}
				<-block
			}
			for _, b := range bs {
				if b.Door == "door-good" {
					withGood++
				}
			}
			for i, b := range bs {
				if b.Door == "door-bad" {
					withBad++
					return refused(i)
				}
			}
			return nil
		}
		h := start(t, tb, st)
		x, bad, good := h.door(t, "door-x"), h.door(t, "door-bad"), h.door(t, "door-good")
		x.publish(t, protocol.TopicEvents, batch("door-x", 1))
		waitBlocked(t, blocked)
		bad.publish(t, protocol.TopicEvents, batch("door-bad", 1))
		good.publish(t, protocol.TopicEvents, batch("door-good", 1))
		require.Eventually(t, func() bool { return len(h.in.queue) == 2 }, 5*time.Second, 5*time.Millisecond)
		close(block)
		good.waitFor(t, protocol.TopicAck, ackedThrough(1))
		h.waitMetric(t, `swc_ingest_rejected_messages_total{reason="invalid"} 1`)
		st.mu.Lock()
		assert.Equal(t, 1, withBad, "the refused batch was not retried")
		assert.Equal(t, 2, withGood, "the others: one call with the refused batch, one without")
		st.mu.Unlock()
		assert.Contains(t, h.metrics(), "swc_ingest_store_errors_total 0", "a refused batch is not a store failure")
		assert.Empty(t, bad.acks(t))
	})
}

// waitBlocked waits until the store's writer is held on door-x's batch
// (its store signals blocked), so that the batches published next wait in
// the queue together rather than join door-x's in one commit.
func waitBlocked(t *testing.T, blocked <-chan struct{}) {
	t.Helper()
	select {
	case <-blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never took door-x's batch")
	}
}

// refused is what the store adapter returns for a batch refused for its
// content.
func refused(i int) error {
	return &RejectedError{Index: i, Reason: "invalid", Err: fmt.Errorf("events[0].seq: above 2^63-1")}
}

// TestPoisonedSeqIsRefusedBeforeTheStore: a seq above protocol.MaxSeq
// (2^63-1, 2^63) is a typed, counted rejection; the store never sees it and
// the door's later batches, and other doors, are acknowledged.
func TestPoisonedSeqIsRefusedBeforeTheStore(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		st := newMemStore()
		h := start(t, tb, st)
		p, a := h.door(t, "door-p"), h.door(t, "door-a")
		for _, seq := range []string{"9223372036854775807", "9223372036854775808"} {
			p.publish(t, protocol.TopicEvents, strings.Replace(batch("door-p", 1), `"seq":1`, `"seq":`+seq, 1))
		}
		a.publish(t, protocol.TopicEvents, batch("door-a", 1))
		a.waitFor(t, protocol.TopicAck, ackedThrough(1))
		h.waitMetric(t, `swc_ingest_rejected_messages_total{reason="seq_range"} 2`)
		assert.Zero(t, st.count("door-p"))
		p.publish(t, protocol.TopicEvents, batch("door-p", 1))
		p.waitFor(t, protocol.TopicAck, ackedThrough(1))
		assert.Contains(t, h.metrics(), "swc_ingest_store_errors_total 0")
	})
}
