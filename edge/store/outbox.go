package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smartworkcenters/swc/edge/decide"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TapRequest is one badge presentation to decide and record.
type TapRequest struct {
	UID      protocol.UID
	Time     time.Time // the door's best time (never before the last trusted time)
	Trusted  bool      // whether Time comes from a trusted clock
	Boot     string    // boot id of this run
	UptimeMs int64     // monotonic ms since this run started
	Repeat   bool      // the debouncer saw this badge within its window
	// Auth is the outcome of a secure badge's authentication by the agent
	// (decide.AuthNone for a UID-only badge).
	Auth decide.Auth
	// ReadCounter, when HasCounter, is the NTAG 424 DNA's authenticated SDM
	// read counter at this tap. It must be above the last one stored for the
	// UID, or the tap is a replay: denied_auth_failed. The tap's event
	// carries it, and the store keeps it as the UID's last.
	ReadCounter uint32
	HasCounter  bool
}

// Tap decides a presentation and appends its event to the outbox in one
// transaction (one fsync). When it returns without error the event is on
// disk and the caller may drive the relay if the reason is a grant; when it
// returns an error nothing was recorded and the door must stay locked. A
// trusted Time also advances the last trusted time in the same transaction.
// A denied_auth_failed tap is followed, in the same transaction, by its
// suspected_clone alarm event (the returned event is the tap's).
func (s *Store) Tap(ctx context.Context, req TapRequest, p decide.Policy) (protocol.Event, error) {
	if err := req.UID.Validate(); err != nil {
		return protocol.Event{}, fmt.Errorf("store: tap: uid %q: %w", req.UID, err)
	}
	var ev protocol.Event
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if ev, err = decideIn(tx, req, p); err != nil {
			return err
		}
		if req.Trusted {
			if _, err := advanceTrusted(tx, req.Time); err != nil {
				return err
			}
		}
		if req.HasCounter {
			if last, ok := lastReadCounter(tx, req.UID); !ok || req.ReadCounter > last {
				if err := tx.Bucket(bucketReadCtr).Put(req.UID.Bytes(), u64(uint64(req.ReadCounter))); err != nil {
					return err
				}
			}
		}
		if ev, err = appendIn(tx, ev); err != nil {
			return err
		}
		if ev.Reason == protocol.DeniedAuthFailed {
			alarm := ev
			alarm.Seq, alarm.Kind, alarm.Reason = 0, protocol.EventSuspectedClone, ""
			_, err = appendIn(tx, alarm)
		}
		return err
	})
	if err != nil {
		return protocol.Event{}, fmt.Errorf("store: tap %s: %w", req.UID, err)
	}
	return ev, nil
}

// Decide returns the event Tap would record (with Seq 0) without recording
// anything: the read-only half of Tap, for dry runs and benchmarks.
func (s *Store) Decide(ctx context.Context, req TapRequest, p decide.Policy) (protocol.Event, error) {
	var ev protocol.Event
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		ev, err = decideIn(tx, req, p)
		return err
	})
	return ev, err
}

func decideIn(tx *bolt.Tx, req TapRequest, p decide.Policy) (protocol.Event, error) {
	h, err := headerIn(tx)
	if err != nil {
		return protocol.Event{}, err
	}
	in := decide.Input{
		Now:          req.Time,
		ClockTrusted: req.Trusted,
		Repeat:       req.Repeat,
		Whitelist:    decide.Whitelist{Version: h.Version, Issued: time.UnixMilli(h.IssuedMs), Center: h.Center, Room: h.Room, RequireSecure: h.RequireSecure},
		Auth:         req.Auth,
	}
	if req.HasCounter && in.Auth == decide.AuthOK {
		if last, ok := lastReadCounter(tx, req.UID); ok && req.ReadCounter <= last {
			in.Auth = decide.AuthFailed // a replayed or rolled-back counter
		}
	}
	var e protocol.Entry
	var key [10]byte
	n := len(req.UID) / 2
	if _, err := hexDecode(key[:n], string(req.UID)); err != nil {
		return protocol.Event{}, err
	}
	if v := tx.Bucket(bucketWhitelist).Get(key[:n]); v != nil {
		if err := decodeEntry(req.UID, v, &e, false); err != nil {
			return protocol.Event{}, err
		}
		in.Badge = &e
	}
	ev := protocol.Event{
		TimeMs:    req.Time.UnixMilli(),
		Trusted:   req.Trusted,
		Boot:      req.Boot,
		UptimeMs:  req.UptimeMs,
		Kind:      protocol.EventTap,
		UID:       req.UID,
		Member:    e.Member,
		Reason:    p.Decide(in),
		WLVersion: h.Version,
	}
	if req.HasCounter {
		ev.ReadCounter = req.ReadCounter
	}
	return ev, nil
}

// lastReadCounter returns the last NTAG 424 DNA read counter stored for uid.
func lastReadCounter(tx *bolt.Tx, uid protocol.UID) (uint32, bool) {
	v, ok := getU64(tx.Bucket(bucketReadCtr).Get(uid.Bytes()))
	return uint32(v), ok
}

// LastReadCounter returns the last NTAG 424 DNA read counter recorded for a badge.
func (s *Store) LastReadCounter(ctx context.Context, uid protocol.UID) (uint32, bool, error) {
	var n uint32
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		n, ok = lastReadCounter(tx, uid)
		return nil
	})
	return n, ok, err
}

// hexDecode decodes upper-case hex (already validated) without allocating.
func hexDecode(dst []byte, s string) (int, error) {
	if len(s) != 2*len(dst) {
		return 0, fmt.Errorf("uid %q: odd length", s)
	}
	val := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	for i := range dst {
		hi, ok1 := val(s[2*i])
		lo, ok2 := val(s[2*i+1])
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("uid %q: not upper-case hex", s)
		}
		dst[i] = hi<<4 | lo
	}
	return len(dst), nil
}

// Append records a non-tap event (door, reader, remote unlock): it assigns
// the next sequence number and returns the event as stored. The event is
// validated first; an invalid event is refused and nothing is stored.
func (s *Store) Append(ctx context.Context, ev protocol.Event) (protocol.Event, error) {
	var out protocol.Event
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = appendIn(tx, ev)
		return err
	})
	if err != nil {
		return protocol.Event{}, fmt.Errorf("store: append %s event: %w", ev.Kind, err)
	}
	return out, nil
}

// appendIn assigns the next sequence number of the current stream to ev,
// validates it and puts it at the next outbox position. bbolt's bucket
// sequence is part of the transaction, so a rolled-back append leaves no
// gap. A stream that reached protocol.MaxSeq (never, at any real rate) is
// followed by a new one, so that recording never fails for its number.
func appendIn(tx *bolt.Tx, ev protocol.Event) (protocol.Event, error) {
	b := tx.Bucket(bucketOutbox)
	pos := b.Sequence() + 1
	k, _ := tx.Bucket(bucketStreams).Cursor().Last()
	base, ok := getU64(k)
	if !ok {
		return protocol.Event{}, fmt.Errorf("outbox has no current stream")
	}
	if pos-base > protocol.MaxSeq {
		if _, err := startStream(tx); err != nil {
			return protocol.Event{}, err
		}
		base = pos - 1
	}
	ev.Seq = pos - base
	if err := ev.Validate(""); err != nil {
		return protocol.Event{}, err
	}
	v, err := json.Marshal(&ev)
	if err != nil {
		return protocol.Event{}, err
	}
	next, err := b.NextSequence()
	if err != nil {
		return protocol.Event{}, err
	}
	if next != pos {
		return protocol.Event{}, fmt.Errorf("outbox position moved from %d to %d", pos-1, next)
	}
	return ev, b.Put(u64(pos), v)
}

// Pending is a run of waiting events of one stream, as one EventBatch
// carries them.
type Pending struct {
	Store  string           // the stream's identity ("" for events from before identities)
	Events []protocol.Event // in seq order; empty when nothing waits
	Last   uint64           // outbox position of the last event: the after of the next call
}

// Pending returns up to max waiting events after outbox position after (0:
// from the oldest), in order and all of one stream: what the sync publishes
// next. Events stay until an Ack of their stream covers them.
func (s *Store) Pending(ctx context.Context, after uint64, max int) (Pending, error) {
	if max <= 0 {
		return Pending{}, fmt.Errorf("store: pending: max %d; want at least 1", max)
	}
	var out Pending
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		k, v := c.Seek(u64(after + 1))
		if k == nil {
			return nil
		}
		st, err := streamAt(tx, binary.BigEndian.Uint64(k))
		if err != nil {
			return err
		}
		out.Store = st.id
		for ; k != nil && len(out.Events) < max; k, v = c.Next() {
			pos := binary.BigEndian.Uint64(k)
			if pos > st.end {
				break
			}
			var ev protocol.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("outbox record %x: %w", k, err)
			}
			out.Events = append(out.Events, ev)
			out.Last = pos
		}
		return nil
	})
	if err != nil {
		return Pending{}, fmt.Errorf("store: pending: %w", err)
	}
	return out, nil
}

// Ack deletes the events of stream store with seq ≤ through, on the
// central's cumulative acknowledgement of that stream, and returns how many
// it deleted. Events of other streams are never touched. An ack of a stream
// this database does not hold (a stream already wholly acknowledged and
// forgotten, or the stream of another database of the same door) deletes
// nothing and is fine; an ack at or below what was already deleted deletes
// nothing and is fine. An ack beyond the last event of a closed stream (one
// of an earlier Open) deletes the whole stream: the database is a restored
// copy, the central holds that stream as the original went on recording it,
// and the events this copy holds of it were recorded before the copy was
// made, so they are among those stored. An ack beyond the current stream's
// last event deletes nothing and returns ErrAckAhead: no other database
// numbers in the current stream. A closed stream is forgotten once its last
// event is deleted.
func (s *Store) Ack(ctx context.Context, store string, through uint64) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		st, ok := streamByID(tx, store)
		if !ok {
			return nil
		}
		if !st.current {
			through = min(through, st.end-st.base)
		}
		if through > st.end-st.base {
			return fmt.Errorf("%w: ack through %d of store %q, which numbered %d", ErrAckAhead, through, store, st.end-st.base)
		}
		b := tx.Bucket(bucketOutbox)
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(u64(st.base + 1)); k != nil && binary.BigEndian.Uint64(k) <= st.base+through; k, _ = c.Next() {
			keys = append(keys, k)
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		if !st.current {
			if k, _ := b.Cursor().Seek(u64(st.base + 1)); k == nil || binary.BigEndian.Uint64(k) > st.end {
				return tx.Bucket(bucketStreams).Delete(u64(st.base))
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: ack: %w", err)
	}
	return n, nil
}

// OutboxStats describes the outbox for status, metrics and the alarm.
// FirstSeq and LastSeq are outbox positions, counted over the file's whole
// life across its store identities (an event's seq counts within its
// stream).
type OutboxStats struct {
	Store    string    // identity of the stream the database records in now
	Depth    uint64    // events waiting for an ack
	FirstSeq uint64    // outbox position of the oldest waiting event (0 when empty)
	LastSeq  uint64    // last outbox position ever assigned
	Oldest   time.Time // wall time of the oldest waiting event (zero when empty)
	Alarm    bool      // Depth reached the alarm threshold
	AlarmAt  uint64    // the threshold
}

// OutboxStats reads the outbox's depth and oldest event. Acks delete a
// prefix of each stream, so the waiting events of a stream are exactly its
// first waiting position to its end.
func (s *Store) OutboxStats(ctx context.Context) (OutboxStats, error) {
	st := OutboxStats{AlarmAt: s.alarm}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		st.LastSeq = b.Sequence()
		c := b.Cursor()
		for _, sm := range streams(tx) {
			st.Store = sm.id
			first, _ := c.Seek(u64(sm.base + 1))
			if first == nil || binary.BigEndian.Uint64(first) > sm.end {
				continue
			}
			// A stream's waiting events are consecutive positions (acks
			// delete a prefix); its range may also cover positions of
			// forgotten streams, which hold nothing.
			last, _ := c.Seek(u64(sm.end + 1))
			if last == nil {
				last, _ = c.Last()
			} else {
				last, _ = c.Prev()
			}
			st.Depth += binary.BigEndian.Uint64(last) - binary.BigEndian.Uint64(first) + 1
		}
		k, v := c.First()
		if k == nil {
			return nil
		}
		st.FirstSeq = binary.BigEndian.Uint64(k)
		var ev protocol.Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return fmt.Errorf("outbox record %d: %w", st.FirstSeq, err)
		}
		st.Oldest = time.UnixMilli(ev.TimeMs)
		return nil
	})
	if err != nil {
		return OutboxStats{}, fmt.Errorf("store: outbox stats: %w", err)
	}
	st.Alarm = st.Depth >= st.AlarmAt
	return st, nil
}

// RecordCommand records that the signed command id was executed, at most
// once: it returns ErrCommandSeen for an id already recorded. The id is
// remembered until expires (the command's own expiry, after which the
// protocol refuses it anyway); ids expired before now are forgotten in the
// same transaction. When ev is not nil (a remote_unlock) it is appended in
// the same transaction and returned with its seq.
func (s *Store) RecordCommand(ctx context.Context, id string, expires, now time.Time, ev *protocol.Event) (protocol.Event, error) {
	if err := protocol.ValidID(id); err != nil {
		return protocol.Event{}, fmt.Errorf("store: command id %q: %w", id, err)
	}
	var out protocol.Event
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCommands)
		if b.Get([]byte(id)) != nil {
			return fmt.Errorf("%w: %s", ErrCommandSeen, id)
		}
		var stale [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			if ms, ok := getU64(v); ok && int64(ms) < now.UnixMilli() {
				stale = append(stale, k)
			}
			return nil
		})
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if err := b.Put([]byte(id), u64(uint64(max(expires.UnixMilli(), 0)))); err != nil {
			return err
		}
		if ev == nil {
			return nil
		}
		var err error
		out, err = appendIn(tx, *ev)
		return err
	})
	if err != nil {
		return protocol.Event{}, fmt.Errorf("store: record command: %w", err)
	}
	return out, nil
}

// CommandSeen reports whether a command id is remembered as executed.
func (s *Store) CommandSeen(ctx context.Context, id string) (bool, error) {
	var seen bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		seen = tx.Bucket(bucketCommands).Get([]byte(id)) != nil
		return nil
	})
	return seen, err
}
