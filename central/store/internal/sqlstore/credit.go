package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// aheadMs is the door-time lead beyond which an event is in the "ahead"
// partial index (the migrations spell it out: 3600000). The crediting's
// MaxClockAhead is at most an hour, so an event whose door time lies in a
// range was received no earlier than an hour before the range, or is in
// that index.
const aheadMs = int64(time.Hour / time.Millisecond)

// trackMargin is how far before the last tracked commit StartTracking looks
// for untracked events after an unclean stop (the wall clock may have
// stepped back between two commits).
const trackMargin = int64(10 * time.Minute / time.Millisecond)

// Credit implements store.Store.
func (s *DB) Credit() store.CreditStore { return &creditStore{db: s} }

// creditStore implements store.CreditStore.
type creditStore struct{ db *DB }

var _ store.CreditStore = (*creditStore)(nil)

// ---- events

// eventColsOf is eventCols for a table alias.
func eventColsOf(alias string) string {
	cols := strings.Split(EventColumns, ", ")
	for i := range cols {
		cols[i] = alias + "." + cols[i]
	}
	return "SELECT " + strings.Join(cols, ", ")
}

func scanEvents(rows *sql.Rows) ([]domain.Event, error) {
	defer rows.Close()
	var out []domain.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// MemberEvents implements credit.Store: the events received from an hour
// before the range on (events received in it, and events whose door time
// lies in it, unless their door clock was more than an hour ahead), and the
// events more than an hour ahead whose door time lies in it.
func (c *creditStore) MemberEvents(ctx context.Context, member string, fromMs, toMs int64) ([]domain.Event, error) {
	var q string
	if c.db.d.TrackEvents {
		q = eventColsOf("e") + ` FROM credit_taps j JOIN events e ON e.door = j.door AND e.seq = j.seq
			WHERE j.member = ? AND j.received_ms >= ? AND (j.received_ms < ? OR (j.time_ms >= ? AND j.time_ms < ?))
			UNION ` + eventColsOf("e") + ` FROM credit_taps j JOIN events e ON e.door = j.door AND e.seq = j.seq
			WHERE j.member = ? AND j.time_ms > j.received_ms + 3600000 AND j.time_ms >= ? AND j.time_ms < ?`
	} else {
		q = eventCols + ` WHERE member = ? AND received_ms >= ? AND (received_ms < ? OR (time_ms >= ? AND time_ms < ?))
			UNION ` + eventCols + ` WHERE member = ? AND time_ms > received_ms + 3600000 AND time_ms >= ? AND time_ms < ?`
	}
	rows, err := c.db.query(ctx, q, member, fromMs-aheadMs, toMs, fromMs, toMs, member, fromMs, toMs)
	if err != nil {
		return nil, fmt.Errorf("events of member %q: %w", member, err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("events of member %q: %w", member, err)
	}
	return evs, nil
}

// membersChunk is how many members one read of EventsOfMembers names.
const membersChunk = 500

// EventsOfMembers implements credit.Store: MemberEvents's read for many
// members at once, membersChunk members a query. The events found by
// receipt time are read first, then those whose door clock ran more than
// an hour ahead and were not (UNION ALL: no comparing of whole rows).
func (c *creditStore) EventsOfMembers(ctx context.Context, members []string, fromMs, toMs int64) ([]domain.Event, error) {
	var out []domain.Event
	for len(members) > 0 {
		part := members[:min(len(members), membersChunk)]
		members = members[len(part):]
		var evs []domain.Event
		var err error
		if c.db.d.TrackEvents {
			evs, err = c.trackedEventsOf(ctx, part, fromMs, toMs)
		} else {
			evs, err = c.eventsOf(ctx, part, fromMs, toMs)
		}
		if err != nil {
			return nil, fmt.Errorf("events of %d members from %q: %w", len(part), part[0], err)
		}
		out = append(out, evs...)
	}
	return out, nil
}

// trackedEventsOf reads the events of members through credit_taps (SQLite).
func (c *creditStore) trackedEventsOf(ctx context.Context, members []string, fromMs, toMs int64) ([]domain.Event, error) {
	in := "IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(members)), ", ") + ")"
	const received = `j.received_ms >= ? AND (j.received_ms < ? OR (j.time_ms >= ? AND j.time_ms < ?))`
	q := eventColsOf("e") + ` FROM credit_taps j JOIN events e ON e.door = j.door AND e.seq = j.seq
		WHERE j.member ` + in + ` AND ` + received + `
		UNION ALL ` + eventColsOf("e") + ` FROM credit_taps j JOIN events e ON e.door = j.door AND e.seq = j.seq
		WHERE j.member ` + in + ` AND j.time_ms > j.received_ms + 3600000 AND j.time_ms >= ? AND j.time_ms < ?
		AND NOT (` + received + `)`
	args := make([]any, 0, 2*len(members)+10)
	for _, m := range members {
		args = append(args, m)
	}
	args = append(args, fromMs-aheadMs, toMs, fromMs, toMs)
	for _, m := range members {
		args = append(args, m)
	}
	args = append(args, fromMs, toMs, fromMs-aheadMs, toMs, fromMs, toMs)
	rows, err := c.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// eventsOf reads the events of members from the events table (PostgreSQL),
// member by member on its indexes (a lateral subquery): with a list of
// members the planner may scan the whole table instead. Without the JIT
// compiler, which a query over hundreds of members would wake up for far
// longer than the query takes.
func (c *creditStore) eventsOf(ctx context.Context, members []string, fromMs, toMs int64) ([]domain.Event, error) {
	const received = `received_ms >= ? AND (received_ms < ? OR (time_ms >= ? AND time_ms < ?))`
	q := `SELECT e.* FROM (VALUES ` + strings.TrimSuffix(strings.Repeat("(?), ", len(members)), ", ") + `) AS m(id)
		CROSS JOIN LATERAL (` + eventCols + ` WHERE member = m.id AND ` + received + `
		UNION ALL ` + eventCols + ` WHERE member = m.id AND time_ms > received_ms + 3600000 AND time_ms >= ? AND time_ms < ?
		AND NOT (` + received + `)) e`
	args := make([]any, 0, len(members)+10)
	for _, m := range members {
		args = append(args, m)
	}
	args = append(args, fromMs-aheadMs, toMs, fromMs, toMs, fromMs, toMs, fromMs-aheadMs, toMs, fromMs, toMs)
	tx, err := c.db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, c.db.d.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// WindowEvents implements store.CreditStore. A month is a million events,
// and most of the time goes into decoding rows: the table is read in parts
// of about equal size (door ranges, from the doors' sequence numbers), one
// per processor, each on a connection of its own. The events' strings
// repeat (doors, centers, members, kinds, reasons, boots, UIDs) and are
// shared, so that what stays in memory is mostly the events themselves.
func (c *creditStore) WindowEvents(ctx context.Context, fromMs, toMs int64) ([]domain.Event, error) {
	bounds, err := c.doorSplits(ctx, min(runtime.GOMAXPROCS(0), 4))
	if err != nil {
		return nil, fmt.Errorf("events of a window: %w", err)
	}
	parts := make([][][]domain.Event, len(bounds)+1)
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i := range parts {
		w := &where{}
		w.add("((time_ms >= ? AND time_ms < ?) OR (received_ms >= ? AND received_ms < ?))", fromMs, toMs, fromMs, toMs)
		if i > 0 {
			w.add("door >= ?", bounds[i-1])
		}
		if i < len(bounds) {
			w.add("door < ?", bounds[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i], errs[i] = c.readEvents(ctx, w)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("events of a window: %w", err)
	}
	n := 0
	for _, p := range parts {
		for _, b := range p {
			n += len(b)
		}
	}
	out := make([]domain.Event, 0, n)
	for _, p := range parts {
		for _, b := range p {
			out = append(out, b...)
		}
	}
	return out, nil
}

// doorSplits returns up to k-1 door ids that cut the events table into k
// ranges of about as many events, from the doors' highest sequence numbers.
func (c *creditStore) doorSplits(ctx context.Context, k int) ([]string, error) {
	if k < 2 {
		return nil, nil
	}
	rows, err := c.db.query(ctx, `SELECT door, max_seq FROM event_seqs`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type doorSize struct {
		door string
		n    int64
	}
	var doors []doorSize
	var total int64
	for rows.Next() {
		var d doorSize
		if err := rows.Scan(&d.door, &d.n); err != nil {
			return nil, err
		}
		doors = append(doors, d)
		total += d.n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Byte order, as the primary key orders them (whatever the collation,
	// the ranges then cover every door once).
	slices.SortFunc(doors, func(a, b doorSize) int { return cmp.Compare(a.door, b.door) })
	var bounds []string
	var sum int64
	for _, d := range doors {
		if len(bounds) < k-1 && sum >= total*int64(len(bounds)+1)/int64(k) {
			bounds = append(bounds, d.door)
		}
		sum += d.n
	}
	return bounds, nil
}

// readEvents reads the events matching w in blocks (no regrowing of one
// huge slice), sharing repeated strings.
func (c *creditStore) readEvents(ctx context.Context, w *where) ([][]domain.Event, error) {
	rows, err := c.db.query(ctx, eventCols+w.sql(), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	const block = 1 << 16
	var blocks [][]domain.Event
	cur := make([]domain.Event, 0, block)
	strs := map[string]string{}
	intern := func(s string) string {
		if v, ok := strs[s]; ok {
			return v
		}
		if len(strs) < 1<<20 {
			strs[s] = s
		}
		return s
	}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		e.Door, e.Center, e.Boot, e.Member, e.Command = intern(e.Door), intern(e.Center), intern(e.Boot), intern(e.Member), intern(e.Command)
		e.Kind = protocol.EventKind(intern(string(e.Kind)))
		e.UID = protocol.UID(intern(string(e.UID)))
		e.Reason = protocol.Reason(intern(string(e.Reason)))
		if len(cur) == block {
			blocks = append(blocks, cur)
			cur = make([]domain.Event, 0, block)
		}
		cur = append(cur, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return append(blocks, cur), nil
}

// StartTracking implements store.CreditStore.
func (c *creditStore) StartTracking(ctx context.Context) ([]domain.Event, error) {
	var out []domain.Event
	err := c.db.inTx(ctx, func(tx *sql.Tx) error {
		var credited int64
		var tracking int
		if err := tx.QueryRowContext(ctx, `SELECT tracked_ms, tracking FROM credit_state WHERE id = 1`+c.db.d.ForUpdate).Scan(&credited, &tracking); err != nil {
			return fmt.Errorf("read credit state: %w", err)
		}
		if tracking == 0 {
			_, err := tx.ExecContext(ctx, `UPDATE credit_state SET tracking = 1 WHERE id = 1`)
			return err
		}
		from := credited - trackMargin
		if credited == 0 {
			from = 0
		}
		if c.db.d.TrackEvents {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO credit_taps (member, received_ms, door, seq, time_ms)
				SELECT member, received_ms, door, seq, time_ms FROM events WHERE received_ms >= ?`, from); err != nil {
				return fmt.Errorf("track stored events: %w", err)
			}
		}
		rows, err := tx.QueryContext(ctx, c.db.d.rebind(`SELECT door, seq, member, time_ms, received_ms FROM events WHERE received_ms >= ?`), from)
		if err != nil {
			return fmt.Errorf("read stored events: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e domain.Event
			var seq int64
			if err := rows.Scan(&e.Door, &seq, &e.Member, &e.TimeMs, &e.ReceivedMs); err != nil {
				return err
			}
			e.Seq = uint64(seq)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("start tracking events: %w", err)
	}
	return out, nil
}

// Track implements store.CreditStore: the stored copy of each batch's
// events, one primary-key range per run of consecutive seqs.
func (c *creditStore) Track(ctx context.Context, batches []store.DoorEvents) error {
	if !c.db.d.TrackEvents || len(batches) == 0 {
		return nil
	}
	err := c.db.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO credit_taps (member, received_ms, door, seq, time_ms)
			SELECT member, received_ms, door, seq, time_ms FROM events WHERE door = ? AND seq >= ? AND seq <= ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		var seqs []uint64
		for _, b := range batches {
			seqs = seqs[:0]
			for i := range b.Events {
				seqs = append(seqs, b.Events[i].Seq)
			}
			slices.Sort(seqs)
			for i := 0; i < len(seqs); {
				j := i
				for j+1 < len(seqs) && seqs[j+1] <= seqs[j]+1 {
					j++
				}
				if _, err := st.ExecContext(ctx, b.Door, int64(seqs[i]), int64(seqs[j])); err != nil {
					return fmt.Errorf("track events of %s: %w", b.Door, err)
				}
				i = j + 1
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("track events: %w", err)
	}
	return nil
}

// MarkCredited implements store.CreditStore.
func (c *creditStore) MarkCredited(ctx context.Context, receivedMs int64) error {
	if _, err := c.db.w.ExecContext(ctx, c.db.d.rebind(`UPDATE credit_state SET tracked_ms = ? WHERE id = 1 AND tracked_ms < ?`),
		receivedMs, receivedMs); err != nil {
		return fmt.Errorf("mark events credited: %w", err)
	}
	return nil
}

// errNoCursor is what SQLite answers to the posting cursor.
var errNoCursor = fmt.Errorf("posting cursor: %w: one process, serialized commits: the crediting reads the ingest's commits", errors.ErrUnsupported)

// EventsFrom implements store.PostingCursor: in one repeatable-read
// snapshot, the events whose transaction is at or after from, and the
// snapshot's xmin, the oldest transaction still running: every transaction
// below it had committed (its events are in the snapshot, read now or by an
// earlier call) or aborted.
func (c *creditStore) EventsFrom(ctx context.Context, from int64) (store.PostingRead, error) {
	var r store.PostingRead
	if !c.db.d.PostingCursor {
		return r, errNoCursor
	}
	tx, err := c.db.r.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return r, fmt.Errorf("events from %d: begin: %w", from, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.QueryRowContext(ctx, `SELECT pg_current_snapshot()::text, pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&r.Snapshot, &r.Next); err != nil {
		return r, fmt.Errorf("events from %d: snapshot: %w", from, err)
	}
	r.Next = max(r.Next, from)
	rows, err := tx.QueryContext(ctx, `SELECT door, seq, member, time_ms, received_ms FROM events WHERE xid >= $1`, from)
	if err != nil {
		return r, fmt.Errorf("events from %d: %w", from, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e domain.Event
		var seq int64
		if err := rows.Scan(&e.Door, &seq, &e.Member, &e.TimeMs, &e.ReceivedMs); err != nil {
			return r, fmt.Errorf("events from %d: %w", from, err)
		}
		e.Seq = uint64(seq)
		r.Events = append(r.Events, e)
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("events from %d: %w", from, err)
	}
	return r, nil
}

// PostingHorizon implements store.PostingCursor: the snapshot's xmax, the
// first transaction not yet started.
func (c *creditStore) PostingHorizon(ctx context.Context) (int64, error) {
	if !c.db.d.PostingCursor {
		return 0, errNoCursor
	}
	var h int64
	if err := c.db.r.QueryRowContext(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&h); err != nil {
		return 0, fmt.Errorf("posting horizon: %w", err)
	}
	return h, nil
}

// Unposted implements store.PostingCursor: the events of members below
// horizon and at or after the posted read's xmin that its snapshot does
// not show (their transactions were running or not yet begun).
func (c *creditStore) Unposted(ctx context.Context, horizon int64) (bool, error) {
	if !c.db.d.PostingCursor {
		return false, errNoCursor
	}
	var pending bool
	if err := c.db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events e, credit_state c
		WHERE c.id = 1 AND e.xid >= c.posted_xid AND e.xid < ? AND e.member <> ''
		AND (c.posted_snapshot = '' OR NOT pg_visible_in_snapshot(e.xid::text::xid8, c.posted_snapshot::pg_snapshot)))`, horizon).Scan(&pending); err != nil {
		return false, fmt.Errorf("unposted events: %w", err)
	}
	return pending, nil
}

// Posted implements store.PostingCursor.
func (c *creditStore) Posted(ctx context.Context) (posted, resume int64, err error) {
	if !c.db.d.PostingCursor {
		return 0, 0, errNoCursor
	}
	if err := c.db.queryRow(ctx, `SELECT posted_xid, resume_xid FROM credit_state WHERE id = 1`).Scan(&posted, &resume); err != nil {
		return 0, 0, fmt.Errorf("posted positions: %w", err)
	}
	return posted, resume, nil
}

// SetPosted implements store.PostingCursor.
func (c *creditStore) SetPosted(ctx context.Context, read store.PostingRead, resume int64) error {
	if !c.db.d.PostingCursor {
		return errNoCursor
	}
	err := c.db.write(ctx, func(t *wtx) error {
		t.noAudit("the crediting leader's positions over the stored events: bookkeeping derived from them")
		// A later read has a later xmax (and an xmin as late or later):
		// an earlier one never replaces it.
		_, err := t.exec(ctx, `UPDATE credit_state SET (posted_snapshot, posted_xid) =
			(SELECT CASE WHEN newer THEN ? ELSE posted_snapshot END, CASE WHEN newer THEN greatest(posted_xid, ?) ELSE posted_xid END
			 FROM (SELECT posted_snapshot = '' OR pg_snapshot_xmax(?::pg_snapshot) >= pg_snapshot_xmax(posted_snapshot::pg_snapshot) AS newer) n),
			resume_xid = greatest(resume_xid, ?) WHERE id = 1`,
			read.Snapshot, read.Next, read.Snapshot, resume)
		return err
	})
	if err != nil {
		return fmt.Errorf("set posted positions: %w", err)
	}
	return nil
}

// TakeLead implements store.PostingCursor.
func (c *creditStore) TakeLead(ctx context.Context) (int64, error) {
	if !c.db.d.PostingCursor {
		return 0, errNoCursor
	}
	var epoch int64
	err := c.db.write(ctx, func(t *wtx) error {
		t.noAudit("the crediting leader's epoch: bookkeeping of the replicas")
		return t.queryRow(ctx, `UPDATE credit_state SET leader_epoch = leader_epoch + 1 WHERE id = 1 RETURNING leader_epoch`).Scan(&epoch)
	})
	if err != nil {
		return 0, fmt.Errorf("take the crediting lead: %w", err)
	}
	return epoch, nil
}

// RebuiltBy implements store.PostingCursor.
func (c *creditStore) RebuiltBy(ctx context.Context) (string, error) {
	var b string
	if err := c.db.queryRow(ctx, `SELECT rebuilt_by FROM credit_state WHERE id = 1`).Scan(&b); err != nil {
		return "", fmt.Errorf("rebuilt by: %w", err)
	}
	return b, nil
}

// SetRebuiltBy implements store.PostingCursor.
func (c *creditStore) SetRebuiltBy(ctx context.Context, build string) error {
	err := c.db.write(ctx, func(t *wtx) error {
		t.noAudit("which build rebuilt the crediting's open periods: bookkeeping")
		_, err := t.exec(ctx, `UPDATE credit_state SET rebuilt_by = ? WHERE id = 1`, build)
		return err
	})
	if err != nil {
		return fmt.Errorf("set rebuilt by: %w", err)
	}
	return nil
}

// StopTracking implements store.CreditStore.
func (c *creditStore) StopTracking(ctx context.Context) error {
	if _, err := c.db.w.ExecContext(ctx, `UPDATE credit_state SET tracking = 0 WHERE id = 1`); err != nil {
		return fmt.Errorf("stop tracking events: %w", err)
	}
	return nil
}

// ---- ledger state

func parsePeriod(s string) (credit.Period, error) {
	var p credit.Period
	if err := p.UnmarshalText([]byte(s)); err != nil {
		return p, fmt.Errorf("stored period: %w", err)
	}
	return p, nil
}

// LastClosed implements credit.Store.
func (c *creditStore) LastClosed(ctx context.Context) (credit.Period, error) {
	var s string
	if err := c.db.queryRow(ctx, `SELECT last_closed FROM credit_state WHERE id = 1`).Scan(&s); err != nil {
		return credit.Period{}, fmt.Errorf("last closed period: %w", err)
	}
	return parsePeriod(s)
}

// lockLastClosed reads the last closed period in a write transaction,
// locking it until the transaction ends.
func (c *creditStore) lockLastClosed(ctx context.Context, t *wtx) (credit.Period, error) {
	var s string
	if err := t.queryRow(ctx, `SELECT last_closed FROM credit_state WHERE id = 1`+c.db.d.ForUpdate).Scan(&s); err != nil {
		return credit.Period{}, fmt.Errorf("last closed period: %w", err)
	}
	return parsePeriod(s)
}

// EarliestPeriod implements credit.Store.
func (c *creditStore) EarliestPeriod(ctx context.Context) (credit.Period, error) {
	var s sql.NullString
	if err := c.db.queryRow(ctx, `SELECT min(period) FROM credit_results`).Scan(&s); err != nil {
		return credit.Period{}, fmt.Errorf("earliest period: %w", err)
	}
	return parsePeriod(s.String)
}

// storedResult is what credit_results.result holds.
type storedResult struct {
	Visits []credit.Visit `json:"visits,omitempty"`
	Counts credit.Counts  `json:"counts,omitempty"`
}

func decodeResult(member string, p credit.Period, b []byte) (credit.MemberPeriod, error) {
	mp := credit.MemberPeriod{MemberID: member, Period: p}
	var r storedResult
	if err := json.Unmarshal(b, &r); err != nil {
		return mp, fmt.Errorf("decode result of %q for %s: %w", member, p, err)
	}
	mp.Visits, mp.Counts = r.Visits, r.Counts
	return mp, nil
}

// MemberPeriod implements credit.Store.
func (c *creditStore) MemberPeriod(ctx context.Context, member string, p credit.Period) (credit.MemberPeriod, error) {
	var b []byte
	err := c.db.queryRow(ctx, `SELECT result FROM credit_results WHERE period = ? AND member_id = ?`, p.String(), member).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return credit.MemberPeriod{MemberID: member, Period: p}, nil
	}
	if err != nil {
		return credit.MemberPeriod{}, fmt.Errorf("result of %q for %s: %w", member, p, err)
	}
	return decodeResult(member, p, b)
}

// MemberPeriods implements credit.Store.
func (c *creditStore) MemberPeriods(ctx context.Context, p credit.Period) ([]credit.MemberPeriod, error) {
	rows, err := c.db.query(ctx, `SELECT member_id, result FROM credit_results WHERE period = ?`, p.String())
	if err != nil {
		return nil, fmt.Errorf("results of %s: %w", p, err)
	}
	defer rows.Close()
	out := []credit.MemberPeriod{}
	for rows.Next() {
		var member string
		var b []byte
		if err := rows.Scan(&member, &b); err != nil {
			return nil, fmt.Errorf("results of %s: %w", p, err)
		}
		mp, err := decodeResult(member, p, b)
		if err != nil {
			return nil, err
		}
		out = append(out, mp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results of %s: %w", p, err)
	}
	// Byte order, whatever the database's collation.
	slices.SortFunc(out, func(a, b credit.MemberPeriod) int { return cmp.Compare(a.MemberID, b.MemberID) })
	return out, nil
}

const adjustmentCols = `SELECT member_id, belongs_to, booked_in, center_id, class, home_center_id, minutes, rate_cents FROM credit_adjustments`

func (c *creditStore) adjustments(ctx context.Context, what, q string, args ...any) ([]credit.Adjustment, error) {
	rows, err := c.db.query(ctx, adjustmentCols+q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []credit.Adjustment
	for rows.Next() {
		var a credit.Adjustment
		var belongs, booked, class string
		if err := rows.Scan(&a.MemberID, &belongs, &booked, &a.CenterID, &class, &a.HomeCenterID, &a.Minutes, &a.RateCents); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		a.Class = credit.Class(class)
		if a.BelongsTo, err = parsePeriod(belongs); err != nil {
			return nil, err
		}
		if a.BookedIn, err = parsePeriod(booked); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	slices.SortFunc(out, func(x, y credit.Adjustment) int {
		return cmp.Or(cmp.Compare(x.MemberID, y.MemberID), cmp.Compare(x.BelongsTo.String(), y.BelongsTo.String()),
			cmp.Compare(x.BookedIn.String(), y.BookedIn.String()), cmp.Compare(x.CenterID, y.CenterID),
			cmp.Compare(x.Class, y.Class), cmp.Compare(x.HomeCenterID, y.HomeCenterID))
	})
	return out, nil
}

// Adjustments implements credit.Store.
func (c *creditStore) Adjustments(ctx context.Context, member string, belongsTo credit.Period) ([]credit.Adjustment, error) {
	return c.adjustments(ctx, fmt.Sprintf("adjustments of %q for %s", member, belongsTo),
		` WHERE member_id = ? AND belongs_to = ?`, member, belongsTo.String())
}

// BookedAdjustments implements credit.Store.
func (c *creditStore) BookedAdjustments(ctx context.Context, bookedIn credit.Period, member string) ([]credit.Adjustment, error) {
	if member == "" {
		return c.adjustments(ctx, fmt.Sprintf("adjustments booked in %s", bookedIn), ` WHERE booked_in = ?`, bookedIn.String())
	}
	return c.adjustments(ctx, fmt.Sprintf("adjustments of %q booked in %s", member, bookedIn),
		` WHERE booked_in = ? AND member_id = ?`, bookedIn.String(), member)
}

// closed reports whether p is closed when last is the last closed period.
func closed(last, p credit.Period) bool { return !last.IsZero() && !last.Before(p) }

// resultChunk is how many results one upsert writes.
const resultChunk = 200

// Save implements credit.Store.
func (c *creditStore) Save(ctx context.Context, cm *credit.Commit) error {
	return c.db.write(ctx, func(t *wtx) error {
		t.noAudit("the crediting's results are derived from the events and the audited domain; closing a period is audited")
		last, err := c.lockLastClosed(ctx, t)
		if err != nil {
			return err
		}
		if epoch, ok := store.LeaderEpoch(ctx); ok {
			// The state row is locked: a leader taking over waits.
			var cur int64
			if err := t.queryRow(ctx, `SELECT leader_epoch FROM credit_state WHERE id = 1`).Scan(&cur); err != nil {
				return fmt.Errorf("leader epoch: %w", err)
			}
			if cur != epoch {
				return fmt.Errorf("%w: epoch %d, the store is at %d", store.ErrNotLeader, epoch, cur)
			}
		}
		if last != cm.LastClosed {
			return fmt.Errorf("%w: commit against %q, store at %q", credit.ErrStale, cm.LastClosed, last)
		}
		for _, r := range cm.Results {
			if closed(last, r.Period) {
				return fmt.Errorf("%w: result of %q for %s", credit.ErrFrozen, r.MemberID, r.Period)
			}
		}
		for _, a := range cm.Adjustments {
			if closed(last, a.BookedIn) {
				return fmt.Errorf("%w: adjustment of %q booked in %s", credit.ErrFrozen, a.MemberID, a.BookedIn)
			}
		}
		if err := saveResults(ctx, t, cm.Results); err != nil {
			return err
		}
		return saveAdjustments(ctx, t, cm.Adjustments)
	})
}

// saveResults replaces the stored results: an upsert of the non-empty
// ones, resultChunk a statement, and a delete of the empty ones. When a
// (period, member) comes more than once, the last one counts.
func saveResults(ctx context.Context, t *wtx, results []credit.MemberPeriod) error {
	type key struct {
		period credit.Period
		member string
	}
	lastOf := make(map[key]int, len(results))
	for i := range results {
		lastOf[key{results[i].Period, results[i].MemberID}] = i
	}
	var args []any
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		q := `INSERT INTO credit_results (period, member_id, result) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(args)/3), ", ") +
			` ON CONFLICT (period, member_id) DO UPDATE SET result = excluded.result`
		_, err := t.exec(ctx, q, args...)
		args = args[:0]
		if err != nil {
			return fmt.Errorf("save results: %w", err)
		}
		return nil
	}
	empty := map[credit.Period][]string{}
	for i := range results {
		r := &results[i]
		if lastOf[key{r.Period, r.MemberID}] != i {
			continue
		}
		if len(r.Visits) == 0 && len(r.Counts) == 0 {
			empty[r.Period] = append(empty[r.Period], r.MemberID)
			continue
		}
		b, err := json.Marshal(storedResult{Visits: r.Visits, Counts: r.Counts})
		if err != nil {
			return fmt.Errorf("encode result of %q for %s: %w", r.MemberID, r.Period, err)
		}
		args = append(args, r.Period.String(), r.MemberID, string(b))
		if len(args) == 3*resultChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return deleteResults(ctx, t, empty)
}

// deleteResults deletes the stored results of members whose result became
// empty, one primary key at a time (a list of members may make the planner
// scan the period's results for each statement). When a period has many
// (a rebuild; members imported in bulk), most have nothing stored: one read
// of the period's member ids finds those that do.
func deleteResults(ctx context.Context, t *wtx, empty map[credit.Period][]string) error {
	if len(empty) == 0 {
		return nil
	}
	del, err := t.tx.PrepareContext(ctx, t.d.rebind(`DELETE FROM credit_results WHERE period = ? AND member_id = ?`))
	if err != nil {
		return fmt.Errorf("delete results: %w", err)
	}
	defer del.Close()
	for _, p := range slices.SortedFunc(maps.Keys(empty), func(a, b credit.Period) int { return cmp.Compare(a.String(), b.String()) }) {
		members := empty[p]
		if len(members) > resultChunk {
			stored, err := storedMembers(ctx, t, p)
			if err != nil {
				return err
			}
			members = slices.DeleteFunc(members, func(m string) bool { return !stored[m] })
		}
		for _, m := range members {
			if _, err := del.ExecContext(ctx, p.String(), m); err != nil {
				return fmt.Errorf("delete result of %q for %s: %w", m, p, err)
			}
		}
	}
	return nil
}

// storedMembers returns the member ids with a stored result in p.
func storedMembers(ctx context.Context, t *wtx, p credit.Period) (map[string]bool, error) {
	rows, err := t.query(ctx, `SELECT member_id FROM credit_results WHERE period = ?`, p.String())
	if err != nil {
		return nil, fmt.Errorf("results of %s: %w", p, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, fmt.Errorf("results of %s: %w", p, err)
		}
		out[m] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results of %s: %w", p, err)
	}
	return out, nil
}

func saveAdjustments(ctx context.Context, t *wtx, sets []credit.AdjustmentSet) error {
	for _, set := range sets {
		if _, err := t.exec(ctx, `DELETE FROM credit_adjustments WHERE member_id = ? AND belongs_to = ? AND booked_in = ?`,
			set.MemberID, set.BelongsTo.String(), set.BookedIn.String()); err != nil {
			return fmt.Errorf("replace adjustments of %q: %w", set.MemberID, err)
		}
		for i, a := range set.Lines {
			if _, err := t.exec(ctx, `INSERT INTO credit_adjustments (member_id, belongs_to, booked_in, line, center_id, class,
				home_center_id, minutes, rate_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				set.MemberID, set.BelongsTo.String(), set.BookedIn.String(), i, a.CenterID, string(a.Class), a.HomeCenterID,
				a.Minutes, a.RateCents); err != nil {
				return fmt.Errorf("save adjustments of %q: %w", set.MemberID, err)
			}
		}
	}
	return nil
}

// Close implements credit.Store.
func (c *creditStore) Close(ctx context.Context, prev credit.Period, s *credit.Settlement) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode settlement %s: %w", s.Period, err)
	}
	return c.db.write(ctx, func(t *wtx) error {
		last, err := c.lockLastClosed(ctx, t)
		if err != nil {
			return err
		}
		if last != prev {
			return fmt.Errorf("%w: close against %q, store at %q", credit.ErrStale, prev, last)
		}
		if closed(last, s.Period) {
			return fmt.Errorf("%w: %s", credit.ErrAlreadyClosed, s.Period)
		}
		if _, err := t.exec(ctx, `INSERT INTO credit_closed (period, settlement, closed_ms) VALUES (?, ?, ?)`,
			s.Period.String(), string(b), c.db.now().UnixMilli()); err != nil {
			return fmt.Errorf("freeze settlement %s: %w", s.Period, err)
		}
		if _, err := t.exec(ctx, `UPDATE credit_state SET last_closed = ? WHERE id = 1`, s.Period.String()); err != nil {
			return fmt.Errorf("close %s: %w", s.Period, err)
		}
		return t.auditClose(ctx, prev, s)
	})
}

// ClosedSettlement implements credit.Store.
func (c *creditStore) ClosedSettlement(ctx context.Context, p credit.Period) (*credit.Settlement, error) {
	var b []byte
	err := c.db.queryRow(ctx, `SELECT settlement FROM credit_closed WHERE period = ?`, p.String()).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", credit.ErrNotClosed, p)
	}
	if err != nil {
		return nil, fmt.Errorf("settlement %s: %w", p, err)
	}
	var s credit.Settlement
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode settlement %s: %w", p, err)
	}
	return &s, nil
}
