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
const EventColumns = "door, seq, center_id, received_ms, time_ms, trusted, boot, uptime_ms, kind, uid, member, reason, wl_version, command"

// EventArgs appends the bind arguments of one event in EventColumns order.
func EventArgs(args []any, door, center string, receivedMs int64, e *protocol.Event) []any {
	return append(args, door, int64(e.Seq), center, receivedMs, e.TimeMs, e.Trusted, e.Boot, e.UptimeMs,
		string(e.Kind), string(e.UID), e.Member, string(e.Reason), int64(e.WLVersion), e.Command)
}

// walkChunk is how many stored seqs one query reads while advancing the
// high-water mark over events that arrived out of order.
const walkChunk = 1000

// AppendEvents implements store.Store.
func (s *DB) AppendEvents(ctx context.Context, door string, receivedMs int64, events []protocol.Event) (store.AppendResult, error) {
	res, err := s.AppendBatches(ctx, receivedMs, []store.DoorEvents{{Door: door, Events: events}})
	if err != nil {
		return store.AppendResult{}, err
	}
	return res[0], nil
}

// AppendBatches implements store.Store.
func (s *DB) AppendBatches(ctx context.Context, receivedMs int64, batches []store.DoorEvents) ([]store.AppendResult, error) {
	if len(batches) > store.MaxBatches {
		return nil, &domain.FieldError{Field: "batches", Message: fmt.Sprintf("%d batches; at most %d in one call", len(batches), store.MaxBatches)}
	}
	seqs := make([][]uint64, len(batches))
	for b := range batches {
		var err error
		if seqs[b], err = checkBatch(batches[b].Door, batches[b].Events); err != nil {
			if len(batches) > 1 {
				return nil, fmt.Errorf("batch %d of %s: %w", b, batches[b].Door, err)
			}
			return nil, err
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

// appendTx stores the batches in a fixed number of statements whatever the
// number of doors (on PostgreSQL each statement is a round trip): lock every
// door's sequence row, read the doors' centers, insert every event, then
// save the sequence states.
func (s *DB) appendTx(ctx context.Context, tx *sql.Tx, receivedMs int64, batches []store.DoorEvents, seqs [][]uint64) ([]store.AppendResult, error) {
	var doors []string
	for _, b := range batches {
		doors = append(doors, b.Door)
	}
	slices.Sort(doors)
	doors = slices.Compact(doors)
	states, err := s.lockSeqs(ctx, tx, doors)
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
	news, err := s.d.InsertBatches(ctx, tx, receivedMs, batches, centers)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	out := make([]store.AppendResult, len(batches))
	for b := range batches {
		door := batches[b].Door
		st := states[door]
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
			// Sees the later batches of this door too: Through may run ahead
			// of this batch, never beyond what is stored.
			if st.Through, err = s.walk(ctx, tx, door, st.Through); err != nil {
				return nil, err
			}
		}
		states[door] = st
		out[b] = store.AppendResult{New: news[b], SeqState: st}
	}
	maps.DeleteFunc(states, func(door string, st store.SeqState) bool { return before[door] == st })
	if len(states) > 0 {
		if err := s.d.SaveSeqs(ctx, tx, states); err != nil {
			return nil, fmt.Errorf("update event_seqs: %w", err)
		}
	}
	return out, nil
}

// lockSeqs reads (creating missing ones, and locking) the doors' sequence
// rows; doors are sorted, so concurrent callers lock in the same order.
func (s *DB) lockSeqs(ctx context.Context, tx *sql.Tx, doors []string) (map[string]store.SeqState, error) {
	states := make(map[string]store.SeqState, len(doors))
	read := func(ds []string) error {
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT door, through_seq, max_seq FROM event_seqs WHERE door IN (`+
			placeholders(len(ds))+`) ORDER BY door`+s.d.ForUpdate), anySlice(ds)...)
		if err != nil {
			return fmt.Errorf("read event_seqs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var door string
			var through, mx int64
			if err := rows.Scan(&door, &through, &mx); err != nil {
				return err
			}
			states[door] = store.SeqState{Through: uint64(through), Max: uint64(mx)}
		}
		return rows.Err()
	}
	if err := read(doors); err != nil {
		return nil, err
	}
	var missing []string
	for _, d := range doors {
		if _, ok := states[d]; !ok {
			missing = append(missing, d)
		}
	}
	if len(missing) == 0 {
		return states, nil
	}
	q := `INSERT INTO event_seqs (door, through_seq, max_seq) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, 0, 0), ", len(missing)), ", ") + ` ON CONFLICT (door) DO NOTHING`
	if _, err := tx.ExecContext(ctx, s.d.rebind(q), anySlice(missing)...); err != nil {
		return nil, fmt.Errorf("create event_seqs: %w", err)
	}
	if err := read(missing); err != nil {
		return nil, err
	}
	return states, nil
}

// checkBatch validates a door's events and returns their seqs, sorted.
func checkBatch(door string, events []protocol.Event) ([]uint64, error) {
	if err := protocol.ValidID(door); err != nil {
		return nil, &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", door, err)}
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
		if e.Seq > math.MaxInt64 || e.WLVersion > math.MaxInt64 {
			return nil, &domain.FieldError{Field: fmt.Sprintf("events[%d].seq", i), Message: "above 2^63-1"}
		}
		seqs[i] = e.Seq
	}
	slices.Sort(seqs)
	return seqs, nil
}

// walk advances through over stored seqs that follow it without a gap.
func (s *DB) walk(ctx context.Context, tx *sql.Tx, door string, through uint64) (uint64, error) {
	q := s.d.rebind(`SELECT seq FROM events WHERE door = ? AND seq > ? ORDER BY seq LIMIT ` + strconv.Itoa(walkChunk))
	for {
		rows, err := tx.QueryContext(ctx, q, door, int64(through))
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
			if uint64(seq) != through+1 {
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
	st, err := s.EventSeq(ctx, door)
	if err != nil || st.Max <= st.Through || limit <= 0 {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT seq FROM events WHERE door = ? AND seq > ? ORDER BY seq`, door, int64(st.Through))
	if err != nil {
		return nil, fmt.Errorf("event gaps of %s: %w", door, err)
	}
	defer rows.Close()
	var gaps []store.SeqRange
	prev := st.Through
	for rows.Next() && len(gaps) < limit {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		if uint64(seq) > prev+1 {
			gaps = append(gaps, store.SeqRange{From: prev + 1, To: uint64(seq) - 1})
		}
		prev = uint64(seq)
	}
	return gaps, rows.Err()
}

const eventCols = `SELECT door, seq, center_id, received_ms, time_ms, trusted, boot, uptime_ms, kind, uid, member, reason, wl_version, command FROM events`

func scanEvent(r *sql.Rows) (domain.Event, error) {
	var e domain.Event
	var seq, wl int64
	var kind, uid, reason string
	err := r.Scan(&e.Door, &seq, &e.Center, &e.ReceivedMs, &e.TimeMs, &e.Trusted, &e.Boot, &e.UptimeMs,
		&kind, &uid, &e.Member, &reason, &wl, &e.Command)
	e.Seq, e.WLVersion = uint64(seq), uint64(wl)
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
