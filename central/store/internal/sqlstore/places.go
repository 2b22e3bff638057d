package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The booking site's storage (migration 0007): desk pools, booking rules,
// the desk capacity check of CreateBooking and UpdateBooking, and the
// occupancy reads of the availability queries.

func equipmentJSON(e []string) string {
	if len(e) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(e) // strings always marshal
	return string(b)
}

func readEquipment(r *domain.Room, s string) error {
	if err := json.Unmarshal([]byte(s), &r.Equipment); err != nil {
		return fmt.Errorf("room %s: stored equipment: %w", r.ID, err)
	}
	if len(r.Equipment) == 0 {
		r.Equipment = nil
	}
	return nil
}

// Places implements store.Store.
func (s *DB) Places() store.PlaceStore { return &placeStore{db: s} }

type placeStore struct{ db *DB }

// confirmedDesks is the condition of the bookings_desks partial index,
// written out so that both planners use it.
const confirmedDesks = `room_id IS NULL AND status = 'confirmed'`

// checkDeskCapacity refuses a confirmed desk booking when the center's pool
// is full at some moment of [b.Start, b.End). On PostgreSQL the pool row is
// locked first (FOR UPDATE), so that concurrent writers — on any replica —
// take turns; SQLite's single writer with BEGIN IMMEDIATE serializes them
// already. A center without a pool takes any number of desk bookings.
func (t *wtx) checkDeskCapacity(ctx context.Context, b *domain.Booking) error {
	var capacity int
	err := t.queryRow(ctx, `SELECT capacity FROM desk_pools WHERE center_id = ?`+t.d.ForUpdate, b.CenterID).Scan(&capacity)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read desk pool of %s: %w", b.CenterID, err)
	}
	rows, err := t.query(ctx, `SELECT start_ms, end_ms FROM bookings WHERE center_id = ? AND `+confirmedDesks+`
		AND start_ms < ? AND start_ms > ? AND end_ms > ? AND id <> ?`,
		b.CenterID, ms(b.End), ms(b.Start.Add(-domain.MaxBookingLength))-1, ms(b.Start), b.ID)
	if err != nil {
		return fmt.Errorf("desk occupancy: %w", err)
	}
	var iv []span
	for rows.Next() {
		var x span
		if err := rows.Scan(&x.start, &x.end); err != nil {
			rows.Close()
			return err
		}
		iv = append(iv, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if peak := peakOverlap(iv, ms(b.Start), ms(b.End)); peak+1 > capacity {
		return store.Errf(store.ErrFull, "start", "all %d desks of center %s are booked at some time between %s and %s",
			capacity, b.CenterID, b.Start.Format(time.RFC3339), b.End.Format(time.RFC3339))
	}
	return nil
}

// span is a half-open interval of Unix milliseconds.
type span struct{ start, end int64 }

// peakOverlap returns the largest number of the intervals that overlap at
// one moment of [from, to).
func peakOverlap(iv []span, from, to int64) int {
	type edge struct {
		at int64
		d  int
	}
	edges := make([]edge, 0, 2*len(iv))
	for _, x := range iv {
		s, e := max(x.start, from), min(x.end, to)
		if s < e {
			edges = append(edges, edge{s, 1}, edge{e, -1})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].d < edges[j].d // an end frees its desk before a start at the same moment takes one
	})
	n, peak := 0, 0
	for _, e := range edges {
		n += e.d
		peak = max(peak, n)
	}
	return peak
}

func scanPool(r interface{ Scan(...any) error }) (domain.DeskPool, error) {
	var p domain.DeskPool
	var desks string
	if err := r.Scan(&p.CenterID, &p.Capacity, &desks); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(desks), &p.Desks); err != nil {
		return p, fmt.Errorf("desk pool %s: stored desks: %w", p.CenterID, err)
	}
	if len(p.Desks) == 0 {
		p.Desks = nil
	}
	return p, nil
}

// poolBefore is the center's desk pool in t before a change, nil when it has none.
func (t *wtx) poolBefore(ctx context.Context, center string) (*domain.DeskPool, error) {
	x, err := scanPool(t.queryRow(ctx, `SELECT center_id, capacity, desks FROM desk_pools WHERE center_id = ?`+t.d.ForUpdate, center))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("desk pool of center %s: %w", center, err)
	}
	return &x, nil
}

// rulesBefore is a scope's stored booking rules in t, nil when it has none.
func (t *wtx) rulesBefore(ctx context.Context, center string) (*domain.BookingRules, error) {
	var raw string
	err := t.queryRow(ctx, `SELECT rules FROM booking_rules WHERE scope = ?`+t.d.ForUpdate, center).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("booking rules of %s: %w", scopeName(center), err)
	}
	r := domain.UndecodedBookingRules()
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, fmt.Errorf("booking rules of %s: %w", scopeName(center), err)
	}
	return &r, nil
}

// DeskPool implements store.PlaceStore.
func (p *placeStore) DeskPool(ctx context.Context, center string) (domain.DeskPool, error) {
	x, err := scanPool(p.db.queryRow(ctx, `SELECT center_id, capacity, desks FROM desk_pools WHERE center_id = ?`, center))
	return x, one(err, "desk pool of center", center)
}

// ListDeskPools implements store.PlaceStore.
func (p *placeStore) ListDeskPools(ctx context.Context, centerIDs []string) ([]domain.DeskPool, error) {
	w := &where{}
	w.in("center_id", centerIDs)
	rows, err := p.db.query(ctx, `SELECT center_id, capacity, desks FROM desk_pools`+w.sql()+` ORDER BY center_id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list desk pools: %w", err)
	}
	defer rows.Close()
	out := []domain.DeskPool{}
	for rows.Next() {
		x, err := scanPool(rows)
		if err != nil {
			return nil, fmt.Errorf("list desk pools: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// PutDeskPool implements store.PlaceStore.
func (p *placeStore) PutDeskPool(ctx context.Context, x domain.DeskPool) error {
	if err := x.Validate(); err != nil {
		return err
	}
	desks := "[]"
	if len(x.Desks) > 0 {
		b, _ := json.Marshal(x.Desks)
		desks = string(b)
	}
	return p.db.write(ctx, func(t *wtx) error {
		if err := t.needCenter(ctx, "center_id", x.CenterID); err != nil {
			return err
		}
		old, err := t.poolBefore(ctx, x.CenterID)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO desk_pools (center_id, capacity, desks) VALUES (?, ?, ?)
			ON CONFLICT (center_id) DO UPDATE SET capacity = excluded.capacity, desks = excluded.desks`,
			x.CenterID, x.Capacity, desks)
		if err != nil {
			return fmt.Errorf("put desk pool %s: %w", x.CenterID, err)
		}
		action := audit.Update
		if old == nil {
			action = audit.Create
		}
		return t.audit(ctx, action, "desk_pool", x.CenterID, []string{x.CenterID}, old, x)
	})
}

// DeleteDeskPool implements store.PlaceStore.
func (p *placeStore) DeleteDeskPool(ctx context.Context, center string) error {
	return p.db.write(ctx, func(t *wtx) error {
		old, err := t.poolBefore(ctx, center)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `DELETE FROM desk_pools WHERE center_id = ?`, center)
		if err := updated(res, err, "desk pool of center", center); err != nil {
			return err
		}
		return t.audit(ctx, audit.Delete, "desk_pool", center, []string{center}, old, nil)
	})
}

// BookingRules implements store.PlaceStore.
func (p *placeStore) BookingRules(ctx context.Context, center string) (domain.BookingRules, error) {
	r := domain.UndecodedBookingRules()
	var raw string
	err := p.db.queryRow(ctx, `SELECT rules FROM booking_rules WHERE scope = ?`, center).Scan(&raw)
	if err := one(err, "booking rules of", scopeName(center)); err != nil {
		return domain.BookingRules{}, err
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return domain.BookingRules{}, fmt.Errorf("booking rules of %s: %w", scopeName(center), err)
	}
	return r, nil
}

func scopeName(center string) string {
	if center == "" {
		return "the network"
	}
	return "center " + center
}

// PutBookingRules implements store.PlaceStore.
func (p *placeStore) PutBookingRules(ctx context.Context, center string, r domain.BookingRules) error {
	if err := r.Validate(); err != nil {
		return err
	}
	raw, _ := json.Marshal(r) // ints and bools always marshal
	return p.db.write(ctx, func(t *wtx) error {
		if center != "" {
			if err := t.needCenter(ctx, "center_id", center); err != nil {
				return err
			}
		}
		old, err := t.rulesBefore(ctx, center)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO booking_rules (scope, rules, updated_ms) VALUES (?, ?, ?)
			ON CONFLICT (scope) DO UPDATE SET rules = excluded.rules, updated_ms = excluded.updated_ms`,
			center, string(raw), p.db.now().UnixMilli())
		if err != nil {
			return fmt.Errorf("put booking rules of %s: %w", scopeName(center), err)
		}
		action := audit.Update
		if old == nil {
			action = audit.Create
		}
		return t.audit(ctx, action, "booking_rules", cmp.Or(center, "network"), orNetwork(centersOf(center)), old, r)
	})
}

// DeleteBookingRules implements store.PlaceStore.
func (p *placeStore) DeleteBookingRules(ctx context.Context, center string) error {
	return p.db.write(ctx, func(t *wtx) error {
		old, err := t.rulesBefore(ctx, center)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `DELETE FROM booking_rules WHERE scope = ?`, center)
		if err := updated(res, err, "booking rules of", scopeName(center)); err != nil {
			return err
		}
		return t.audit(ctx, audit.Delete, "booking_rules", cmp.Or(center, "network"), orNetwork(centersOf(center)), old, nil)
	})
}

// Occupancy implements store.PlaceStore. A booking overlapping [from, to)
// starts after from minus the longest confirmed booking, which the
// bookings_length index answers at once; the range scans then stay on the
// partial indexes of desk and room bookings.
func (p *placeStore) Occupancy(ctx context.Context, centerIDs []string, from, to time.Time) ([]domain.Booking, error) {
	var longest sql.NullInt64
	if err := p.db.queryRow(ctx, `SELECT max(end_ms - start_ms) FROM bookings WHERE status = 'confirmed'`).Scan(&longest); err != nil {
		return nil, fmt.Errorf("occupancy: longest booking: %w", err)
	}
	if !longest.Valid {
		return []domain.Booking{}, nil
	}
	lo := ms(from) - longest.Int64
	out := []domain.Booking{}
	for _, q := range []string{
		// Only indexed columns: the partial indexes cover these scans.
		`SELECT center_id, '', start_ms, end_ms FROM bookings WHERE ` + confirmedDesks,
		`SELECT center_id, room_id, start_ms, end_ms FROM bookings WHERE room_id IS NOT NULL AND status = 'confirmed'`,
	} {
		w := &where{}
		w.in("center_id", centerIDs)
		w.add("start_ms >= ?", lo)
		w.add("start_ms < ?", ms(to))
		w.add("end_ms > ?", ms(from))
		rows, err := p.db.query(ctx, q+" AND "+w.sql()[len(" WHERE "):], w.args...)
		if err != nil {
			return nil, fmt.Errorf("occupancy: %w", err)
		}
		for rows.Next() {
			var b domain.Booking
			var start, end int64
			if err := rows.Scan(&b.CenterID, &b.RoomID, &start, &end); err != nil {
				rows.Close()
				return nil, fmt.Errorf("occupancy: %w", err)
			}
			b.Start, b.End, b.Status = fromMs(start), fromMs(end), domain.BookingConfirmed
			out = append(out, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("occupancy: %w", err)
		}
	}
	return out, nil
}

// CountOpenBookings implements store.PlaceStore.
func (p *placeStore) CountOpenBookings(ctx context.Context, member string, now time.Time) (int, error) {
	var n int
	err := p.db.queryRow(ctx, `SELECT count(*) FROM bookings WHERE member_id = ? AND status = 'confirmed' AND end_ms > ?`,
		member, ms(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count open bookings of %s: %w", member, err)
	}
	return n, nil
}

// importDesks adds a row error for every imported confirmed desk booking
// that finds its center's pool full at some moment, counting the stored
// bookings and the imported rows before it. The pools are locked as
// checkDeskCapacity locks them.
func (t *wtx) importDesks(ctx context.Context, bookings []domain.Booking, rep *store.ImportError) error {
	type row struct {
		span
		row int // 1-based import row, 0 for a stored booking
	}
	perCenter := map[string][]row{}
	for i := range bookings {
		b := &bookings[i]
		if b.RoomID == "" && b.Status == domain.BookingConfirmed {
			perCenter[b.CenterID] = append(perCenter[b.CenterID], row{span{ms(b.Start), ms(b.End)}, i + 1})
		}
	}
	centers := make([]string, 0, len(perCenter))
	for c := range perCenter {
		centers = append(centers, c)
	}
	sort.Strings(centers)
	for _, c := range centers {
		var capacity int
		err := t.queryRow(ctx, `SELECT capacity FROM desk_pools WHERE center_id = ?`+t.d.ForUpdate, c).Scan(&capacity)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read desk pool of %s: %w", c, err)
		}
		rows := perCenter[c]
		lo, hi := rows[0].start, rows[0].end
		for _, r := range rows {
			lo, hi = min(lo, r.start), max(hi, r.end)
		}
		q, err := t.query(ctx, `SELECT start_ms, end_ms FROM bookings WHERE center_id = ? AND `+confirmedDesks+`
			AND start_ms < ? AND start_ms > ? AND end_ms > ?`, c, hi, lo-domain.MaxBookingLength.Milliseconds()-1, lo)
		if err != nil {
			return fmt.Errorf("desk occupancy: %w", err)
		}
		for q.Next() {
			var r row
			if err := q.Scan(&r.start, &r.end); err != nil {
				q.Close()
				return err
			}
			rows = append(rows, r)
		}
		q.Close()
		if err := q.Err(); err != nil {
			return err
		}
		// Sweep by time: an end frees its desk before a start takes one at
		// the same moment; stored bookings start before imported rows, and
		// rows in their order. A row that finds every desk taken is
		// reported and takes none.
		type ev struct {
			at    int64
			start bool
			i     int
		}
		evs := make([]ev, 0, 2*len(rows))
		for i, r := range rows {
			evs = append(evs, ev{r.start, true, i}, ev{r.end, false, i})
		}
		sort.Slice(evs, func(a, b int) bool {
			x, y := evs[a], evs[b]
			if x.at != y.at {
				return x.at < y.at
			}
			if x.start != y.start {
				return !x.start
			}
			return rows[x.i].row < rows[y.i].row
		})
		refused := map[int]bool{}
		n := 0
		for _, e := range evs {
			switch {
			case !e.start:
				if !refused[e.i] {
					n--
				}
			case rows[e.i].row > 0 && n+1 > capacity:
				refused[e.i] = true
				rep.Add(store.RowError{Row: rows[e.i].row, Code: "no_desk_left", Field: "start",
					Message: fmt.Sprintf("all %d desks of center %s are booked at some time of this booking", capacity, c)})
			default:
				n++
			}
		}
	}
	return nil
}

// CreateBookingWithin implements store.PlaceStore.
func (p *placeStore) CreateBookingWithin(ctx context.Context, b domain.Booking, maxOpen int, now time.Time) error {
	if maxOpen <= 0 {
		return p.db.CreateBooking(ctx, b)
	}
	return p.db.createBooking(ctx, b, func(ctx context.Context, t *wtx) error {
		var one int
		err := t.queryRow(ctx, `SELECT 1 FROM members WHERE id = ?`+t.d.ForUpdate, b.MemberID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // checkBooking reports the missing member
		}
		if err != nil {
			return fmt.Errorf("lock member %s: %w", b.MemberID, err)
		}
		var n int
		if err := t.queryRow(ctx, `SELECT count(*) FROM bookings WHERE member_id = ? AND status = 'confirmed' AND end_ms > ?`,
			b.MemberID, ms(now)).Scan(&n); err != nil {
			return fmt.Errorf("count open bookings of %s: %w", b.MemberID, err)
		}
		if n >= maxOpen {
			return store.Errf(store.ErrTooMany, "member_id", "member %s holds %d open bookings, the most allowed", b.MemberID, n)
		}
		return nil
	})
}
