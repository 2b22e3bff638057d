package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// CheckIns implements store.Store.
func (s *DB) CheckIns() store.CheckInStore { return &checkInStore{db: s} }

// checkInStore is the store.CheckInStore of a DB (migration 0016).
type checkInStore struct{ db *DB }

// CheckIn implements store.CheckInStore. The upsert keeps the earliest tap
// (ties broken by door and seq, so that every replica keeps the same one).
func (c *checkInStore) CheckIn(ctx context.Context, ci store.CheckIn) (bool, error) {
	if ci.BookingID == "" || ci.Door == "" || ci.AtMs <= 0 {
		return false, &domain.FieldError{Field: "booking_id", Message: "a check-in needs a booking, a door and a time"}
	}
	changed := false
	err := c.db.write(ctx, func(t *wtx) error {
		t.noAudit("a check-in is derived from the door's events")
		var one int
		err := t.queryRow(ctx, `SELECT 1 FROM bookings WHERE id = ?`, ci.BookingID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Errf(store.ErrMissingRef, "booking_id", "no booking %s", ci.BookingID)
		}
		if err != nil {
			return fmt.Errorf("check-in of %s: %w", ci.BookingID, err)
		}
		res, err := t.exec(ctx, `INSERT INTO booking_checkins (booking_id, at_ms, door_id, seq, stored_ms) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (booking_id) DO UPDATE SET at_ms = excluded.at_ms, door_id = excluded.door_id, seq = excluded.seq, stored_ms = excluded.stored_ms
			WHERE excluded.at_ms < booking_checkins.at_ms
			   OR (excluded.at_ms = booking_checkins.at_ms AND (excluded.door_id < booking_checkins.door_id
			       OR (excluded.door_id = booking_checkins.door_id AND excluded.seq < booking_checkins.seq)))`,
			ci.BookingID, ci.AtMs, ci.Door, int64(ci.Seq), ms(t.now))
		if err != nil {
			return fmt.Errorf("check-in of %s: %w", ci.BookingID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("check-in of %s: %w", ci.BookingID, err)
		}
		changed = n > 0
		return nil
	})
	return changed, err
}

// CheckIns implements store.CheckInStore.
func (c *checkInStore) CheckIns(ctx context.Context, ids []string) (map[string]store.CheckIn, error) {
	out := map[string]store.CheckIn{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		w := &where{}
		w.in("booking_id", chunk)
		rows, err := c.db.query(ctx, `SELECT booking_id, at_ms, door_id, seq FROM booking_checkins`+w.sql(), w.args...)
		if err != nil {
			return nil, fmt.Errorf("check-ins: %w", err)
		}
		for rows.Next() {
			var x store.CheckIn
			var seq int64
			if err := rows.Scan(&x.BookingID, &x.AtMs, &x.Door, &seq); err != nil {
				rows.Close()
				return nil, fmt.Errorf("check-ins: %w", err)
			}
			x.Seq = uint64(seq)
			out[x.BookingID] = x
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("check-ins: %w", err)
		}
	}
	return out, nil
}

// notCheckedIn is the condition of a booking k without a check-in.
const notCheckedIn = `NOT EXISTS (SELECT 1 FROM booking_checkins c WHERE c.booking_id = k.id)`

// ReleaseCandidates implements store.CheckInStore.
func (c *checkInStore) ReleaseCandidates(ctx context.Context, startedBy, now int64, limit int) ([]domain.Booking, error) {
	rows, err := c.db.query(ctx, bookingCols+` WHERE k.room_id IS NOT NULL AND k.status = ? AND k.start_ms <= ? AND k.end_ms > ?
		AND `+notCheckedIn+` ORDER BY k.start_ms, k.id LIMIT ?`, domain.BookingConfirmed, startedBy, now, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("release candidates: %w", err)
	}
	defer rows.Close()
	out := []domain.Booking{}
	for rows.Next() {
		b, err := scanBooking(rows)
		if err != nil {
			return nil, fmt.Errorf("release candidates: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Release implements store.CheckInStore. The UPDATE's condition is the
// whole decision: on PostgreSQL a second replica's UPDATE waits for the
// first one's row lock, then finds the status no longer confirmed.
func (c *checkInStore) Release(ctx context.Context, id string) (domain.Booking, bool, error) {
	var b domain.Booking
	released := false
	err := c.db.write(ctx, func(t *wtx) error {
		old, err := scanBooking(t.queryRow(ctx, bookingCols+` WHERE id = ?`, id))
		if err := one(err, "booking", id); err != nil {
			return err
		}
		b = old
		res, err := t.exec(ctx, `UPDATE bookings SET status = ? WHERE id = ? AND room_id IS NOT NULL AND status = ?
			AND NOT EXISTS (SELECT 1 FROM booking_checkins c WHERE c.booking_id = ?)`,
			domain.BookingReleased, id, domain.BookingConfirmed, id)
		if err != nil {
			return fmt.Errorf("release booking %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("release booking %s: %w", id, err)
		}
		if n == 0 {
			t.noAudit("nothing released: the booking was not a confirmed room booking without a check-in")
			return nil
		}
		released = true
		b.Status = domain.BookingReleased
		t.changed(domain.Change{Kind: domain.KindBooking, Booking: &b})
		return t.audit(ctx, audit.Update, audit.ObjectBooking, id, []string{b.CenterID}, old, b)
	})
	if err != nil {
		return domain.Booking{}, false, err
	}
	return b, released, nil
}

// SaveCheckInCursor implements store.CheckInStore.
func (c *checkInStore) SaveCheckInCursor(ctx context.Context, cur store.CheckInCursor) error {
	if cur.Follower == "" {
		return &domain.FieldError{Field: "follower", Message: "a check-in cursor needs its follower's id"}
	}
	return c.db.write(ctx, func(t *wtx) error {
		t.noAudit("a check-in follower's position in the ingest's commits")
		if _, err := t.exec(ctx, `INSERT INTO checkin_cursors (follower, applied_ms, seen_ms, stopped) VALUES (?, ?, ?, ?)
			ON CONFLICT (follower) DO UPDATE SET applied_ms = CASE WHEN excluded.applied_ms > checkin_cursors.applied_ms
				THEN excluded.applied_ms ELSE checkin_cursors.applied_ms END,
				seen_ms = excluded.seen_ms, stopped = excluded.stopped`,
			cur.Follower, cur.AppliedMs, cur.SeenMs, cur.Stopped); err != nil {
			return fmt.Errorf("save check-in cursor %s: %w", cur.Follower, err)
		}
		return nil
	})
}

// CheckInCursors implements store.CheckInStore.
func (c *checkInStore) CheckInCursors(ctx context.Context) ([]store.CheckInCursor, error) {
	rows, err := c.db.query(ctx, `SELECT follower, applied_ms, seen_ms, stopped FROM checkin_cursors ORDER BY follower`)
	if err != nil {
		return nil, fmt.Errorf("check-in cursors: %w", err)
	}
	defer rows.Close()
	out := []store.CheckInCursor{}
	for rows.Next() {
		var x store.CheckInCursor
		if err := rows.Scan(&x.Follower, &x.AppliedMs, &x.SeenMs, &x.Stopped); err != nil {
			return nil, fmt.Errorf("check-in cursors: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check-in cursors: %w", err)
	}
	return out, nil
}

// DropCheckInCursor implements store.CheckInStore.
func (c *checkInStore) DropCheckInCursor(ctx context.Context, cur store.CheckInCursor) (bool, error) {
	dropped := false
	err := c.db.write(ctx, func(t *wtx) error {
		t.noAudit("a check-in follower's position in the ingest's commits")
		res, err := t.exec(ctx, `DELETE FROM checkin_cursors WHERE follower = ? AND applied_ms = ? AND seen_ms = ? AND stopped = ?`,
			cur.Follower, cur.AppliedMs, cur.SeenMs, cur.Stopped)
		if err != nil {
			return fmt.Errorf("drop check-in cursor %s: %w", cur.Follower, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("drop check-in cursor %s: %w", cur.Follower, err)
		}
		dropped = n > 0
		return nil
	})
	return dropped, err
}

// GrantedTaps implements store.CheckInStore.
func (c *checkInStore) GrantedTaps(ctx context.Context, fromMs int64) ([]domain.Event, error) {
	rows, err := c.db.query(ctx, eventCols+` WHERE received_ms >= ? AND kind = ? AND reason LIKE 'granted\_%' ESCAPE '\' AND member <> ''
		ORDER BY received_ms, door, seq`, fromMs, string(protocol.EventTap))
	if err != nil {
		return nil, fmt.Errorf("granted taps since %d: %w", fromMs, err)
	}
	defer rows.Close()
	out := []domain.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("granted taps since %d: %w", fromMs, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("granted taps since %d: %w", fromMs, err)
	}
	return out, nil
}
