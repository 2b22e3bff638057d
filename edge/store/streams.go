package store

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Store identities (streams).
//
// The central identifies an event by (door, store, seq), where store is a
// random identity of the database that numbered it (protocol.NewStoreID).
// A door's numbering can start again in many ways: a new SD card provisioned
// with the door's credentials, a wiped data folder, a re-provisioned door,
// or an older backup of the same database put back. The first three make a
// new file, and so a new identity. A restored backup is the same file as it
// was: had the identity been made once with the file, the restored copy would
// number again, under the same identity, seqs the central already holds for
// other taps, and nothing on the door can tell that it was restored.
//
// So a database takes a NEW identity every time it is opened (Open, in the
// transaction Open runs anyway, without an extra fsync), and the events it
// records from then on are numbered 1, 2, 3... in that new stream. A restored
// copy has to be opened to record anything, so its new events can never
// reuse a stream of the original. The events it already held keep the
// identity and numbers they were recorded with: they are the same events as
// the central's (a repeat, acknowledged again). A process that opens the file
// and records nothing leaves an empty stream, replaced at the next Open.
//
// The outbox is keyed by the position of the event in the file's life (the
// outbox bucket's sequence, never reused). Bucket "streams" maps the
// position before a stream's first event (its base) to its identity; the
// event at position p belongs to the stream with the greatest base below p
// and carries seq p - base. Events recorded before identities existed
// (schema 1) are the stream "" at base 0, which the protocol keeps as the
// door's stream without identity. An ack names its stream and deletes only
// that stream's events (Ack).

// upgradeStreams moves a schema 1 file to schema 2: the events it ever
// numbered become the stream without identity at base 0.
func upgradeStreams(tx *bolt.Tx) error {
	if tx.Bucket(bucketOutbox).Sequence() > 0 {
		if err := tx.Bucket(bucketStreams).Put(u64(0), nil); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion))
}

// startStream gives the file a new identity for the events it records next.
// Streams that hold no waiting event any more (all acknowledged, or none
// numbered) are forgotten: an ack of one deletes nothing, which is right.
func startStream(tx *bolt.Tx) (string, error) {
	st := tx.Bucket(bucketStreams)
	pos := tx.Bucket(bucketOutbox).Sequence()
	oc := tx.Bucket(bucketOutbox).Cursor()
	var empty [][]byte
	for _, s := range streams(tx) {
		if k, _ := oc.Seek(u64(s.base + 1)); k == nil || binary.BigEndian.Uint64(k) > s.end {
			empty = append(empty, u64(s.base))
		}
	}
	for _, k := range empty {
		if err := st.Delete(k); err != nil {
			return "", err
		}
	}
	id := protocol.NewStoreID()
	return id, st.Put(u64(pos), []byte(id))
}

// stream is one store identity's range of outbox positions: (base, end].
type stream struct {
	id        string
	base, end uint64
	current   bool // the last stream: end is the outbox's last position
}

// streamAt returns the stream of the event at position pos.
func streamAt(tx *bolt.Tx, pos uint64) (stream, error) {
	c := tx.Bucket(bucketStreams).Cursor()
	k, _ := c.Seek(u64(pos))
	var v, next []byte
	if k == nil {
		k, v = c.Last()
	} else {
		next = k
		k, v = c.Prev()
	}
	if k == nil {
		return stream{}, fmt.Errorf("outbox position %d has no stream", pos)
	}
	s := stream{id: string(v), base: binary.BigEndian.Uint64(k)}
	if next != nil {
		s.end = binary.BigEndian.Uint64(next)
	} else {
		s.end, s.current = tx.Bucket(bucketOutbox).Sequence(), true
	}
	return s, nil
}

// streamByID finds a stream by identity.
func streamByID(tx *bolt.Tx, id string) (stream, bool) {
	c := tx.Bucket(bucketStreams).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if string(v) != id {
			continue
		}
		s := stream{id: id, base: binary.BigEndian.Uint64(k)}
		if nk, _ := c.Next(); nk != nil {
			s.end = binary.BigEndian.Uint64(nk)
		} else {
			s.end, s.current = tx.Bucket(bucketOutbox).Sequence(), true
		}
		return s, true
	}
	return stream{}, false
}

// streams lists every stream in position order.
func streams(tx *bolt.Tx) []stream {
	var out []stream
	c := tx.Bucket(bucketStreams).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n := len(out); n > 0 {
			out[n-1].end = binary.BigEndian.Uint64(k)
		}
		out = append(out, stream{id: string(v), base: binary.BigEndian.Uint64(k)})
	}
	if n := len(out); n > 0 {
		out[n-1].end, out[n-1].current = tx.Bucket(bucketOutbox).Sequence(), true
	}
	return out
}

// StoreID returns the identity under which the database numbers the events
// it records now (a new one at every Open).
func (s *Store) StoreID(ctx context.Context) (string, error) {
	var id string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		_, v := tx.Bucket(bucketStreams).Cursor().Last()
		id = string(v)
		return nil
	})
	return id, err
}
