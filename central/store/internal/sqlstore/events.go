package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// EventColumns lists the events table's columns in the order InsertEvents
// binds them.
const EventColumns = "door, seq, center_id, received_ms, time_ms, trusted, boot, uptime_ms, kind, uid, member, reason, wl_version, command, read_ctr"

// EventArgs appends the bind arguments of one event in EventColumns order.
func EventArgs(args []any, door, center string, receivedMs int64, e *protocol.Event) []any {
	return append(args, door, int64(e.Seq), center, receivedMs, e.TimeMs, e.Trusted, e.Boot, e.UptimeMs,
		string(e.Kind), string(e.UID), e.Member, string(e.Reason), int64(e.WLVersion), e.Command, int64(e.ReadCounter))
}

// walkChunk is how many stored seqs one query reads while advancing the
// high-water mark over events that arrived out of order.
const walkChunk = 1000

// AppendEvents implements store.Store, for the store without identity ("").
func (s *DB) AppendEvents(ctx context.Context, door string, receivedMs int64, events []protocol.Event) (store.AppendResult, error) {
	res, err := s.AppendBatches(ctx, receivedMs, []store.DoorEvents{{Door: door, Events: events}})
	if err != nil {
		return store.AppendResult{}, err
	}
	return res[0], nil
}

// AppendBatches implements store.Store. A batch that fails for its own
// content (invalid, or in conflict with stored events) fails the call with
// a *store.BatchError naming it.
func (s *DB) AppendBatches(ctx context.Context, receivedMs int64, batches []store.DoorEvents) ([]store.AppendResult, error) {
	if len(batches) > store.MaxBatches {
		return nil, &domain.FieldError{Field: "batches", Message: fmt.Sprintf("%d batches; at most %d in one call", len(batches), store.MaxBatches)}
	}
	seqs := make([][]uint64, len(batches))
	for b := range batches {
		var err error
		if seqs[b], err = checkBatch(batches[b].Door, batches[b].Store, batches[b].Events); err != nil {
			return nil, &store.BatchError{Index: b, Door: batches[b].Door, Store: batches[b].Store, Err: err}
		}
	}
	var out []store.AppendResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.appendTx(ctx, tx, receivedMs, batches, seqs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	return out, nil
}

// stream is a (door, store)'s row of event_streams.
type stream struct {
	slot uint64
	store.SeqState
}

// maxStreamRounds bounds the rounds of slot allocation for streams seen
// for the first time: each round, of all the writers racing for a door's
// next slot, one wins, so this is the most new stores of one door that can
// be first seen at the same moment.
const maxStreamRounds = 100

// maxSlot bounds a door's slots so that slot×2^32 + seq fits a signed
// 64-bit column.
const maxSlot = 1<<31 - 1

// appendTx stores the batches in a fixed number of statements whatever the
// number of doors (on PostgreSQL each statement is a round trip) plus one
// per stream seen for the first time and one per batch holding duplicates:
// lock the streams' rows, read the doors' centers, insert every event under
// the central's number, compare duplicates with what is stored, then save
// the streams' states.
func (s *DB) appendTx(ctx context.Context, tx *sql.Tx, receivedMs int64, batches []store.DoorEvents, seqs [][]uint64) ([]store.AppendResult, error) {
	var keys []store.StreamKey
	var doors []string
	for _, b := range batches {
		keys = append(keys, store.StreamKey{Door: b.Door, Store: b.Store})
		doors = append(doors, b.Door)
	}
	slices.SortFunc(keys, compareKeys)
	keys = slices.Compact(keys)
	slices.Sort(doors)
	doors = slices.Compact(doors)
	states, err := s.lockStreams(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	before := maps.Clone(states)
	centers := make(map[string]string, len(doors))
	rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT id, center_id FROM doors WHERE id IN (`+placeholders(len(doors))+`)`), anySlice(doors)...)
	if err != nil {
		return nil, fmt.Errorf("door centers: %w", err)
	}
	for rows.Next() {
		var id, c string
		if err := rows.Scan(&id, &c); err != nil {
			rows.Close()
			return nil, err
		}
		centers[id] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The events under the central's numbers.
	kept := make([]store.DoorEvents, len(batches))
	for b, batch := range batches {
		base := states[store.StreamKey{Door: batch.Door, Store: batch.Store}].slot << 32
		evs := make([]protocol.Event, len(batch.Events))
		for i, e := range batch.Events {
			e.Seq += base
			evs[i] = e
		}
		kept[b] = store.DoorEvents{Door: batch.Door, Store: batch.Store, Events: evs}
	}
	news, err := s.d.InsertBatches(ctx, tx, receivedMs, kept, centers)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	for b := range kept {
		if news[b] == len(kept[b].Events) {
			continue
		}
		if err := s.sameAsStored(ctx, tx, kept[b]); err != nil {
			return nil, &store.BatchError{Index: b, Door: batches[b].Door, Store: batches[b].Store, Err: err}
		}
	}
	out := make([]store.AppendResult, len(batches))
	for b, batch := range batches {
		k := store.StreamKey{Door: batch.Door, Store: batch.Store}
		st := states[k]
		for _, q := range seqs[b] {
			if q == st.Through+1 {
				st.Through = q
			} else if q > st.Through+1 {
				break
			}
		}
		if len(seqs[b]) > 0 {
			st.Max = max(st.Max, seqs[b][len(seqs[b])-1])
		}
		if st.Max > st.Through {
			// Sees the later batches of this stream too: Through may run
			// ahead of this batch, never beyond what is stored.
			if st.Through, err = s.walk(ctx, tx, batch.Door, st.slot<<32, st.Through); err != nil {
				return nil, err
			}
		}
		states[k] = st
		out[b] = store.AppendResult{New: news[b], Base: st.slot << 32, SeqState: st.SeqState}
	}
	maps.DeleteFunc(states, func(k store.StreamKey, st stream) bool { return before[k] == st })
	if len(states) > 0 {
		save := make(map[store.StreamKey]store.SeqState, len(states))
		for k, st := range states {
			save[k] = st.SeqState
		}
		if err := s.d.SaveSeqs(ctx, tx, save); err != nil {
			return nil, fmt.Errorf("update event_streams: %w", err)
		}
	}
	return out, nil
}

func compareKeys(a, b store.StreamKey) int {
	if c := strings.Compare(a.Door, b.Door); c != 0 {
		return c
	}
	return strings.Compare(a.Store, b.Store)
}

// sameAsStored checks that every event of the batch (central numbers) is
// stored with the same content: a repeat is a duplicate, another event under
// the same number is store.ErrConflict.
func (s *DB) sameAsStored(ctx context.Context, tx *sql.Tx, b store.DoorEvents) error {
	const chunk = 500
	for lo := 0; lo < len(b.Events); lo += chunk {
		evs := b.Events[lo:min(lo+chunk, len(b.Events))]
		args := []any{b.Door}
		for i := range evs {
			args = append(args, int64(evs[i].Seq))
		}
		rows, err := tx.QueryContext(ctx, s.d.rebind(eventCols+` WHERE door = ? AND seq IN (`+placeholders(len(evs))+`)`), args...)
		if err != nil {
			return fmt.Errorf("read stored events: %w", err)
		}
		stored := make(map[uint64]protocol.Event, len(evs))
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return err
			}
			stored[e.Seq] = e.Event
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range evs {
			if got, ok := stored[e.Seq]; ok && got != e {
				return fmt.Errorf("%w: seq %d (stored: %s %s at %d, boot %s; received: %s %s at %d, boot %s)", store.ErrConflict,
					e.Seq&protocol.MaxSeq, got.Kind, got.UID, got.TimeMs, got.Boot, e.Kind, e.UID, e.TimeMs, e.Boot)
			}
		}
	}
	return nil
}

// lockStreams reads and locks the streams' rows, creating the missing ones
// first. A stream seen for the first time takes its door's next slot (the
// store "" slot 0).
//
// Concurrent writers (central replicas sharing PostgreSQL) must take their
// row locks in one order, or two commits of overlapping doors deadlock. A
// row this transaction inserts is locked from its insertion (another
// writer inserting the same key, or the same slot of the door, waits for
// it), so the rows are created first, in key order and before any stored
// row is locked, and only then read FOR UPDATE, in key order. Locking the
// stored rows first and inserting (then locking) the missing ones
// afterwards lets a writer hold a stored stream z while it waits for a
// stream a below it, which another writer holds (inserted, or read as
// stored once a third one created it) while waiting for z.
func (s *DB) lockStreams(ctx context.Context, tx *sql.Tx, keys []store.StreamKey) (map[store.StreamKey]stream, error) {
	if err := s.createStreams(ctx, tx, keys); err != nil {
		return nil, err
	}
	states := make(map[store.StreamKey]stream, len(keys))
	read := func(ks []store.StreamKey) error {
		conds := make([]string, len(ks))
		args := make([]any, 0, 2*len(ks))
		for i, k := range ks {
			conds[i] = "(door = ? AND store = ?)"
			args = append(args, k.Door, k.Store)
		}
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT door, store, slot, through_seq, max_seq FROM event_streams WHERE `+
			strings.Join(conds, " OR ")+` ORDER BY door, store`+s.d.ForUpdate), args...)
		if err != nil {
			return fmt.Errorf("read event_streams: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k store.StreamKey
			var slot, through, mx int64
			if err := rows.Scan(&k.Door, &k.Store, &slot, &through, &mx); err != nil {
				return fmt.Errorf("read event_streams: %w", err)
			}
			states[k] = stream{slot: uint64(slot), SeqState: store.SeqState{Through: uint64(through), Max: uint64(mx)}}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read event_streams: %w", err)
		}
		return nil
	}
	if err := readChunks(read, keys); err != nil {
		return nil, err
	}
	// A stream still missing lost its slot to another writer taking the
	// same slot of the door for another store at the same moment: it takes
	// the next slot on the next round. This insertion comes after the
	// locks, out of key order, but only for new stores of one door created
	// by two writers at once.
	var missing []store.StreamKey
	for round := 1; ; round++ {
		missing = missing[:0]
		for _, k := range keys {
			if _, ok := states[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			break
		}
		if round == maxStreamRounds {
			return nil, fmt.Errorf("create event_streams: no slot for door %s store %q after %d rounds", missing[0].Door, missing[0].Store, round)
		}
		if err := s.createStreams(ctx, tx, missing); err != nil {
			return nil, err
		}
		if err := readChunks(read, missing); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		if states[k].slot > maxSlot {
			return nil, fmt.Errorf("door %s has used all its %d store slots", k.Door, maxSlot)
		}
	}
	return states, nil
}

// streamChunk is how many streams one query of lockStreams reads: each is
// an OR term of the WHERE clause, and SQLite refuses an expression tree
// deeper than 1000 (a commit group of 1,400 doors failed with "Expression
// tree is too large" and the ingest fell back to storing door by door).
const streamChunk = 200

// readChunks calls read with keys streamChunk at a time, in order (keys are
// sorted, so the rows are still locked in one order by every writer).
func readChunks(read func([]store.StreamKey) error, keys []store.StreamKey) error {
	for start := 0; start < len(keys); start += streamChunk {
		if err := read(keys[start:min(start+streamChunk, len(keys))]); err != nil {
			return err
		}
	}
	return nil
}

// createChunk is how many streams one statement of createStreams
// inserts: every stream of a call (store.MaxBatches, two parameters each,
// within both databases' bounds).
const createChunk = store.MaxBatches

// createStreamsSQL inserts the streams of a VALUES list that are not
// stored yet, in key order: the store "" at slot 0, the others at the
// door's next slots (the highest stored plus their rank among the door's
// new stores). Without a conflict target, DO NOTHING also covers another
// transaction creating the same row, or taking the same slot for another
// store, at the same moment (PostgreSQL raises a conflict on a unique
// index other than the target; it first waits for the other to end): the
// stream is then read as created by the other, or still missing and takes
// the next slot on the next round of lockStreams. The statement takes no
// lock on stored rows.
const createStreamsSQL = `WITH v(door, store) AS (VALUES %s)
INSERT INTO event_streams (door, store, slot, through_seq, max_seq)
SELECT v.door, v.store,
	CASE WHEN v.store = '' THEN 0 ELSE
		COALESCE((SELECT MAX(e.slot) FROM event_streams e WHERE e.door = v.door), 0)
		+ ROW_NUMBER() OVER (PARTITION BY v.door, v.store = '' ORDER BY v.store) END,
	0, 0
FROM v
WHERE NOT EXISTS (SELECT 1 FROM event_streams e WHERE e.door = v.door AND e.store = v.store)
ORDER BY v.door, v.store
ON CONFLICT DO NOTHING`

// createStreams inserts the rows of the streams (sorted) that are not
// stored yet, in key order, one statement for up to createChunk streams.
func (s *DB) createStreams(ctx context.Context, tx *sql.Tx, keys []store.StreamKey) error {
	for start := 0; start < len(keys); start += createChunk {
		ks := keys[start:min(start+createChunk, len(keys))]
		args := make([]any, 0, 2*len(ks))
		for _, k := range ks {
			args = append(args, k.Door, k.Store)
		}
		vals := strings.TrimSuffix(strings.Repeat("(CAST(? AS TEXT), CAST(? AS TEXT)), ", len(ks)), ", ")
		if _, err := tx.ExecContext(ctx, s.d.rebind(fmt.Sprintf(createStreamsSQL, vals)), args...); err != nil {
			return fmt.Errorf("create event_streams: %w", err)
		}
	}
	return nil
}

// checkBatch validates a door's events and returns their seqs, sorted.
func checkBatch(door, storeID string, events []protocol.Event) ([]uint64, error) {
	if err := protocol.ValidID(door); err != nil {
		return nil, &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", door, err)}
	}
	if storeID != "" {
		if err := protocol.ValidStoreID(storeID); err != nil {
			return nil, &domain.FieldError{Field: "store", Message: fmt.Sprintf("%q: %v", storeID, err)}
		}
	}
	seqs := make([]uint64, len(events))
	for i := range events {
		e := &events[i]
		if err := e.Validate(fmt.Sprintf("events[%d].", i)); err != nil {
			var pe *protocol.Error
			if errors.As(err, &pe) {
				return nil, &domain.FieldError{Field: pe.Field, Message: pe.Detail}
			}
			return nil, &domain.FieldError{Field: fmt.Sprintf("events[%d]", i), Message: err.Error()}
		}
		if e.Seq > protocol.MaxSeq {
			return nil, &domain.FieldError{Field: fmt.Sprintf("events[%d].seq", i), Message: fmt.Sprintf("%d above %d", e.Seq, protocol.MaxSeq)}
		}
		if e.WLVersion > math.MaxInt64 {
			return nil, &domain.FieldError{Field: fmt.Sprintf("events[%d].wl_version", i), Message: "above 2^63-1"}
		}
		seqs[i] = e.Seq
	}
	slices.Sort(seqs)
	return seqs, nil
}

// walk advances through (a store's seq) over the stream's stored seqs
// (base+1 to base+MaxSeq) that follow it without a gap.
func (s *DB) walk(ctx context.Context, tx *sql.Tx, door string, base, through uint64) (uint64, error) {
	q := s.d.rebind(`SELECT seq FROM events WHERE door = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ` + strconv.Itoa(walkChunk))
	for {
		rows, err := tx.QueryContext(ctx, q, door, int64(base+through), int64(base+protocol.MaxSeq))
		if err != nil {
			return 0, fmt.Errorf("walk seqs: %w", err)
		}
		n, gap := 0, false
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return 0, err
			}
			n++
			if uint64(seq) != base+through+1 {
				gap = true
				break
			}
			through++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if gap || n < walkChunk {
			return through, nil
		}
	}
}

// EventSeq implements store.Store.
func (s *DB) EventSeq(ctx context.Context, door string) (store.SeqState, error) {
	var through, mx int64
	err := s.queryRow(ctx, `SELECT through_seq, max_seq FROM event_seqs WHERE door = ?`, door).Scan(&through, &mx)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SeqState{}, nil
	}
	if err != nil {
		return store.SeqState{}, fmt.Errorf("event seq of %s: %w", door, err)
	}
	return store.SeqState{Through: uint64(through), Max: uint64(mx)}, nil
}

// EventGaps implements store.Store.
func (s *DB) EventGaps(ctx context.Context, door string, limit int) ([]store.SeqRange, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.query(ctx, `SELECT store, slot, through_seq, max_seq FROM event_streams WHERE door = ? AND max_seq > through_seq ORDER BY slot`, door)
	if err != nil {
		return nil, fmt.Errorf("event gaps of %s: %w", door, err)
	}
	type open struct {
		store                string
		base, through, maxSq uint64
	}
	var streams []open
	for rows.Next() {
		var o open
		var slot, through, mx int64
		if err := rows.Scan(&o.store, &slot, &through, &mx); err != nil {
			rows.Close()
			return nil, err
		}
		o.base, o.through, o.maxSq = uint64(slot)<<32, uint64(through), uint64(mx)
		streams = append(streams, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var gaps []store.SeqRange
	for _, o := range streams {
		if len(gaps) >= limit {
			break
		}
		more, err := s.streamGaps(ctx, door, o.store, o.base, o.through, min(o.maxSq, protocol.MaxSeq), limit-len(gaps))
		if err != nil {
			return nil, fmt.Errorf("event gaps of %s: %w", door, err)
		}
		gaps = append(gaps, more...)
	}
	return gaps, nil
}

// streamGaps lists up to limit gaps of one stream between through and mx.
func (s *DB) streamGaps(ctx context.Context, door, storeID string, base, through, mx uint64, limit int) ([]store.SeqRange, error) {
	rows, err := s.query(ctx, `SELECT seq FROM events WHERE door = ? AND seq > ? AND seq <= ? ORDER BY seq`, door, int64(base+through), int64(base+mx))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var gaps []store.SeqRange
	prev := through
	for rows.Next() && len(gaps) < limit {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		q := uint64(seq) - base
		if q > prev+1 {
			gaps = append(gaps, store.SeqRange{Store: storeID, From: prev + 1, To: q - 1})
		}
		prev = q
	}
	return gaps, rows.Err()
}

const eventCols = `SELECT door, seq, center_id, received_ms, time_ms, trusted, boot, uptime_ms, kind, uid, member, reason, wl_version, command, read_ctr FROM events`

func scanEvent(r *sql.Rows) (domain.Event, error) {
	var e domain.Event
	var seq, wl, ctr int64
	var kind, uid, reason string
	err := r.Scan(&e.Door, &seq, &e.Center, &e.ReceivedMs, &e.TimeMs, &e.Trusted, &e.Boot, &e.UptimeMs,
		&kind, &uid, &e.Member, &reason, &wl, &e.Command, &ctr)
	e.Seq, e.WLVersion, e.ReadCounter = uint64(seq), uint64(wl), uint32(ctr)
	e.Kind, e.UID, e.Reason = protocol.EventKind(kind), protocol.UID(uid), protocol.Reason(reason)
	return e, err
}

// eventCursor is "time_ms:seq:door" (a door id has no ':').
func eventCursor(e *domain.Event) string {
	return strconv.FormatInt(e.TimeMs, 10) + ":" + strconv.FormatUint(e.Seq, 10) + ":" + e.Door
}

func parseEventCursor(c string) (tm, seq int64, door string, err error) {
	parts := strings.SplitN(c, ":", 3)
	if len(parts) == 3 {
		tm, err = strconv.ParseInt(parts[0], 10, 64)
		if err == nil {
			seq, err = strconv.ParseInt(parts[1], 10, 64)
		}
		if err == nil {
			return tm, seq, parts[2], nil
		}
	}
	return 0, 0, "", &domain.FieldError{Field: "after", Message: "not a cursor returned by this list"}
}

// ListEvents implements store.Store.
func (s *DB) ListEvents(ctx context.Context, f store.EventFilter) (store.Page[domain.Event], error) {
	w := &where{}
	if f.Door != "" {
		w.add("door = ?", f.Door)
	}
	w.in("center_id", f.CenterIDs)
	if f.MemberID != "" {
		w.add("member = ?", f.MemberID)
	}
	if f.Kind != "" {
		w.add("kind = ?", string(f.Kind))
	}
	if f.UID != "" {
		w.add("uid = ?", string(f.UID))
	}
	if f.Reason != "" {
		w.add("reason = ?", string(f.Reason))
	}
	if f.LateMs > 0 {
		w.add("received_ms - time_ms >= ?", f.LateMs)
	}
	if !f.From.IsZero() {
		w.add("time_ms >= ?", ms(f.From))
	}
	if !f.To.IsZero() {
		w.add("time_ms < ?", ms(f.To))
	}
	if f.After != "" {
		tm, seq, door, err := parseEventCursor(f.After)
		if err != nil {
			return store.Page[domain.Event]{}, err
		}
		w.add("(time_ms > ? OR (time_ms = ? AND (door > ? OR (door = ? AND seq > ?))))", tm, tm, door, door, seq)
	}
	n := f.Size()
	rows, err := s.query(ctx, eventCols+w.sql()+" ORDER BY time_ms, door, seq LIMIT "+strconv.Itoa(n+1), w.args...)
	if err != nil {
		return store.Page[domain.Event]{}, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	page := store.Page[domain.Event]{Items: []domain.Event{}}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return store.Page[domain.Event]{}, fmt.Errorf("list events: %w", err)
		}
		if len(page.Items) == n {
			page.Next = eventCursor(&page.Items[n-1])
			break
		}
		page.Items = append(page.Items, e)
	}
	return page, rows.Err()
}
