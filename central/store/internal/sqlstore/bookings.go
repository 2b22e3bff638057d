package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

const bookingCols = `SELECT id, member_id, center_id, room_id, start_ms, end_ms, status,
	created_by_role, created_by_center, created_by_token FROM bookings k`

func scanBooking(r interface{ Scan(...any) error }) (domain.Booking, error) {
	var x domain.Booking
	var room, byCenter, byToken sql.NullString
	var start, end int64
	err := r.Scan(&x.ID, &x.MemberID, &x.CenterID, &room, &start, &end, &x.Status,
		&x.CreatedBy.Role, &byCenter, &byToken)
	x.RoomID, x.Start, x.End = room.String, fromMs(start), fromMs(end)
	x.CreatedBy.CenterID, x.CreatedBy.TokenID = byCenter.String, byToken.String
	return x, err
}

func normBooking(b *domain.Booking) {
	b.Start, b.End = fromMs(ms(b.Start)), fromMs(ms(b.End))
}

// checkBooking checks references and, for a confirmed room booking, that it
// overlaps no other confirmed booking of the room. The room row is locked
// first (PostgreSQL) so two concurrent bookings cannot both pass.
func (t *wtx) checkBooking(ctx context.Context, b *domain.Booking) error {
	if err := t.needMember(ctx, "member_id", b.MemberID); err != nil {
		return err
	}
	if err := t.needCenter(ctx, "center_id", b.CenterID); err != nil {
		return err
	}
	if b.RoomID == "" {
		if b.Status != domain.BookingConfirmed {
			return nil
		}
		return t.checkDeskCapacity(ctx, b) // places.go
	}
	if err := t.needRoomOf(ctx, "room_id", b.RoomID, b.CenterID); err != nil {
		return err
	}
	if b.Status != domain.BookingConfirmed {
		return nil
	}
	var other string
	err := t.queryRow(ctx, `SELECT id FROM bookings WHERE room_id = ? AND status = ? AND id <> ?
		AND start_ms < ? AND end_ms > ? LIMIT 1`,
		b.RoomID, domain.BookingConfirmed, b.ID, ms(b.End), ms(b.Start)).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check overlap: %w", err)
	}
	return store.Errf(store.ErrOverlap, "start", "room %s is booked by %s in that time", b.RoomID, other)
}

// CreateBooking implements store.Store.
func (s *DB) CreateBooking(ctx context.Context, b domain.Booking) error {
	return s.createBooking(ctx, b, nil)
}

// createBooking is CreateBooking with an extra check in its transaction
// (places.go), or none.
func (s *DB) createBooking(ctx context.Context, b domain.Booking, check func(context.Context, *wtx) error) error {
	if err := b.Validate(); err != nil {
		return err
	}
	normBooking(&b)
	return s.write(ctx, func(t *wtx) error {
		if check != nil {
			if err := check(ctx, t); err != nil {
				return err
			}
		}
		if err := t.checkBooking(ctx, &b); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO bookings (id, member_id, center_id, room_id, start_ms, end_ms, status,
			created_by_role, created_by_center, created_by_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.MemberID, b.CenterID, nullStr(b.RoomID), ms(b.Start), ms(b.End), b.Status,
			b.CreatedBy.Role, nullStr(b.CreatedBy.CenterID), nullStr(b.CreatedBy.TokenID)); err != nil {
			return s.mapErr(err, "booking "+b.ID, "id")
		}
		t.changed(domain.Change{Kind: domain.KindBooking, Booking: &b})
		return t.audit(ctx, audit.Create, audit.ObjectBooking, b.ID, []string{b.CenterID}, nil, b)
	})
}

// UpdateBooking implements store.Store. The creator is never updated: the
// stored one is kept (whatever b.CreatedBy says) and is the one notified.
func (s *DB) UpdateBooking(ctx context.Context, b domain.Booking) error {
	if err := b.Validate(); err != nil {
		return err
	}
	normBooking(&b)
	return s.write(ctx, func(t *wtx) error {
		if err := t.checkBooking(ctx, &b); err != nil {
			return err
		}
		old, err := t.bookingBefore(ctx, b.ID)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE bookings SET member_id = ?, center_id = ?, room_id = ?, start_ms = ?, end_ms = ?, status = ? WHERE id = ?`,
			b.MemberID, b.CenterID, nullStr(b.RoomID), ms(b.Start), ms(b.End), b.Status, b.ID)
		if err := updated(res, err, "booking", b.ID); err != nil {
			return err
		}
		stored, err := scanBooking(t.queryRow(ctx, bookingCols+` WHERE id = ?`, b.ID))
		if err != nil {
			return fmt.Errorf("read booking %s back: %w", b.ID, err)
		}
		b.CreatedBy = stored.CreatedBy
		t.changed(domain.Change{Kind: domain.KindBooking, Booking: &b})
		return t.audit(ctx, audit.Update, audit.ObjectBooking, b.ID, []string{old.CenterID, b.CenterID}, old, b)
	})
}

// DeleteBooking implements store.Store.
func (s *DB) DeleteBooking(ctx context.Context, id string) error {
	return s.write(ctx, func(t *wtx) error {
		b, err := scanBooking(t.queryRow(ctx, bookingCols+` WHERE id = ?`, id))
		if err := one(err, "booking", id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM bookings WHERE id = ?`, id); err != nil {
			return s.mapErr(err, "booking "+id, "")
		}
		t.changed(domain.Change{Kind: domain.KindBooking, Deleted: true, Booking: &b})
		return t.audit(ctx, audit.Delete, audit.ObjectBooking, id, []string{b.CenterID}, b, nil)
	})
}

// Booking implements store.Store.
func (s *DB) Booking(ctx context.Context, id string) (domain.Booking, error) {
	b, err := scanBooking(s.queryRow(ctx, bookingCols+` WHERE id = ?`, id))
	return b, one(err, "booking", id)
}

// memberChunk bounds the member ids of one query of ListBookings: the
// databases bound a statement's parameters.
const memberChunk = 1000

// ListBookings implements store.Store. A long MemberIDs is read in chunks
// of memberChunk members: each chunk's query reads the page from the same
// position, and the page is the first of their bookings by id (a booking
// is in one chunk's only). With MemberIDs the ids are ordered by their
// bytes, as the chunks are merged (see listBookings).
func (s *DB) ListBookings(ctx context.Context, f store.BookingFilter) (store.Page[domain.Booking], error) {
	if len(f.MemberIDs) <= memberChunk {
		return s.listBookings(ctx, f)
	}
	members := slices.Clone(f.MemberIDs)
	slices.Sort(members)
	members = slices.Compact(members)
	n := f.PageRequest.Size()
	items := []domain.Booking{}
	more := false
	for start := 0; start < len(members); start += memberChunk {
		g := f
		g.MemberIDs = members[start:min(start+memberChunk, len(members))]
		page, err := s.listBookings(ctx, g)
		if err != nil {
			return store.Page[domain.Booking]{}, err
		}
		items = append(items, page.Items...)
		more = more || page.Next != ""
	}
	slices.SortFunc(items, func(a, b domain.Booking) int { return strings.Compare(a.ID, b.ID) })
	if len(items) > n {
		items, more = items[:n], true
	}
	page := store.Page[domain.Booking]{Items: items}
	if more {
		page.Next = items[len(items)-1].ID
	}
	return page, nil
}

// listBookings is ListBookings in one query.
func (s *DB) listBookings(ctx context.Context, f store.BookingFilter) (store.Page[domain.Booking], error) {
	w := &where{}
	w.in("center_id", f.CenterIDs)
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	w.in("member_id", f.MemberIDs)
	if f.RoomID != "" {
		w.add("room_id = ?", f.RoomID)
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	if !f.From.IsZero() {
		w.add("end_ms > ?", ms(f.From))
	}
	if !f.To.IsZero() {
		w.add("start_ms < ?", ms(f.To))
	}
	key := "id"
	if f.MemberIDs != nil {
		// Ordered by bytes, as ListBookings merges the chunks; on
		// PostgreSQL this also keeps the planner on the members' index
		// (bookings_member): ordered by the primary key's collation, it
		// walks the primary key through every booking to fill the page
		// early, which a list of members rarely does.
		key = "k.id" + s.d.Bytewise
	}
	return list(ctx, s, bookingCols, key, w, f.PageRequest, func(r *sql.Rows) (domain.Booking, string, error) {
		x, err := scanBooking(r)
		return x, x.ID, err
	})
}

// ---- bulk import

// existing returns which of ids are in table's column (with the room's
// center for rooms).
func (t *wtx) existing(ctx context.Context, table, col string, ids []string, chunk int) (map[string]string, error) {
	extra := "''"
	if table == "rooms" {
		extra = "center_id"
	}
	return t.lookup(ctx, table, col, extra, ids, chunk)
}

// lookup returns the value of the expression extra for each of ids found
// in table's column, chunk ids a query.
func (t *wtx) lookup(ctx context.Context, table, col, extra string, ids []string, chunk int) (map[string]string, error) {
	found := make(map[string]string, len(ids))
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		rows, err := t.query(ctx, `SELECT `+col+`, `+extra+` FROM `+table+` WHERE `+col+` IN (`+placeholders(n)+`)`, anySlice(ids[:n])...)
		if err != nil {
			return nil, fmt.Errorf("look up %s: %w", table, err)
		}
		for rows.Next() {
			var id, x string
			if err := rows.Scan(&id, &x); err != nil {
				rows.Close()
				return nil, err
			}
			found[id] = x
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return found, nil
}

func distinct(bs []domain.Booking, get func(*domain.Booking) string) []string {
	seen := map[string]bool{}
	var out []string
	for i := range bs {
		v := get(&bs[i])
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// interval is a confirmed booking of a room, for the overlap check.
type interval struct {
	start, end int64
	id         string
	row        int // 1-based import row, 0 for a stored booking
}

// ImportBookings implements store.Store.
func (s *DB) ImportBookings(ctx context.Context, bookings []domain.Booking) (int, error) {
	bookings = append([]domain.Booking(nil), bookings...) // normalized below; the caller's slice stays as given
	rep := &store.ImportError{}
	ids := make(map[string]int, len(bookings))
	for i := range bookings {
		b := &bookings[i]
		if err := b.Validate(); err != nil {
			var fe *domain.FieldError
			field := ""
			if errors.As(err, &fe) {
				field = fe.Field
			}
			rep.Add(store.RowError{Row: i + 1, Code: "invalid", Field: field, Message: err.Error()})
			continue
		}
		normBooking(b)
		if first, dup := ids[b.ID]; dup {
			rep.Add(store.RowError{Row: i + 1, Code: "duplicate_id", Field: "id", Message: fmt.Sprintf("booking %s is also row %d", b.ID, first)})
			continue
		}
		ids[b.ID] = i + 1
	}
	if rep.Total > 0 {
		return 0, rep
	}
	chunk := max(1, s.d.MaxParams/8)
	err := s.write(ctx, func(t *wtx) error {
		t.bulk = true // the changes go to Options.NotifyAll at once, as Import's
		members, err := t.existing(ctx, "members", "id", distinct(bookings, func(b *domain.Booking) string { return b.MemberID }), chunk)
		if err != nil {
			return err
		}
		centers, err := t.existing(ctx, "centers", "id", distinct(bookings, func(b *domain.Booking) string { return b.CenterID }), chunk)
		if err != nil {
			return err
		}
		roomIDs := distinct(bookings, func(b *domain.Booking) string { return b.RoomID })
		rooms, err := t.existing(ctx, "rooms", "id", roomIDs, chunk)
		if err != nil {
			return err
		}
		taken, err := t.existing(ctx, "bookings", "id", distinct(bookings, func(b *domain.Booking) string { return b.ID }), chunk)
		if err != nil {
			return err
		}
		perRoom := map[string][]interval{}
		for i := range bookings {
			b := &bookings[i]
			row := i + 1
			if _, ok := taken[b.ID]; ok {
				rep.Add(store.RowError{Row: row, Code: "exists", Field: "id", Message: "booking " + b.ID + " already exists"})
				continue
			}
			if _, ok := members[b.MemberID]; !ok {
				rep.Add(store.RowError{Row: row, Code: "missing_ref", Field: "member_id", Message: "member " + b.MemberID + " does not exist"})
				continue
			}
			if _, ok := centers[b.CenterID]; !ok {
				rep.Add(store.RowError{Row: row, Code: "missing_ref", Field: "center_id", Message: "center " + b.CenterID + " does not exist"})
				continue
			}
			if b.RoomID != "" {
				// A room of another center reads as a missing one (needRoomOf).
				if c, ok := rooms[b.RoomID]; !ok || c != b.CenterID {
					rep.Add(store.RowError{Row: row, Code: "missing_ref", Field: "room_id", Message: fmt.Sprintf("center %s has no room %s", b.CenterID, b.RoomID)})
					continue
				}
				if b.Status == domain.BookingConfirmed {
					perRoom[b.RoomID] = append(perRoom[b.RoomID], interval{ms(b.Start), ms(b.End), b.ID, row})
				}
			}
		}
		if err := t.overlaps(ctx, perRoom, rep); err != nil {
			return err
		}
		if err := t.importDesks(ctx, bookings, rep); err != nil { // places.go
			return err
		}
		if rep.Total > 0 {
			return rep
		}
		return t.insertBookings(ctx, bookings, chunk)
	})
	if err != nil {
		return 0, err
	}
	return len(bookings), nil
}

// overlaps adds a row error for every imported confirmed booking that
// overlaps another imported one or a stored one of the same room.
func (t *wtx) overlaps(ctx context.Context, perRoom map[string][]interval, rep *store.ImportError) error {
	rooms := make([]string, 0, len(perRoom))
	for r := range perRoom {
		rooms = append(rooms, r)
	}
	sort.Strings(rooms)
	for _, room := range rooms {
		if t.d.ForUpdate != "" { // the lock CreateBooking takes: no concurrent booking slips in
			if _, err := t.exec(ctx, `SELECT id FROM rooms WHERE id = ?`+t.d.ForUpdate, room); err != nil {
				return fmt.Errorf("lock room %s: %w", room, err)
			}
		}
		iv := perRoom[room]
		lo, hi := iv[0].start, iv[0].end
		for _, x := range iv {
			lo, hi = min(lo, x.start), max(hi, x.end)
		}
		rows, err := t.query(ctx, `SELECT id, start_ms, end_ms FROM bookings WHERE room_id = ? AND status = ? AND start_ms < ? AND end_ms > ?`,
			room, domain.BookingConfirmed, hi, lo)
		if err != nil {
			return fmt.Errorf("overlap check: %w", err)
		}
		for rows.Next() {
			var x interval
			if err := rows.Scan(&x.id, &x.start, &x.end); err != nil {
				rows.Close()
				return err
			}
			iv = append(iv, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		sort.Slice(iv, func(i, j int) bool {
			if iv[i].start != iv[j].start {
				return iv[i].start < iv[j].start
			}
			return iv[i].row < iv[j].row
		})
		// Sweep: the interval reaching furthest so far overlaps any later
		// one that starts before its end.
		reach := -1
		for i := range iv {
			if reach >= 0 && iv[i].start < iv[reach].end {
				a, b := iv[reach], iv[i]
				if b.row == 0 { // report against the imported row
					a, b = b, a
				}
				what := "stored booking " + a.id
				if a.row > 0 {
					what = fmt.Sprintf("booking %s of row %d", a.id, a.row)
				}
				if b.row > 0 {
					rep.Add(store.RowError{Row: b.row, Code: "booking_overlap", Field: "start",
						Message: fmt.Sprintf("room %s is already booked by %s in that time", room, what)})
				}
			}
			if reach < 0 || iv[i].end > iv[reach].end {
				reach = i
			}
		}
	}
	return nil
}

func (t *wtx) insertBookings(ctx context.Context, bookings []domain.Booking, chunk int) error {
	const cols = 10
	chunk = max(1, min(chunk, t.d.MaxParams/cols)) // cols parameters a row
	for start := 0; start < len(bookings); start += chunk {
		part := bookings[start:min(start+chunk, len(bookings))]
		var q strings.Builder
		q.WriteString(`INSERT INTO bookings (id, member_id, center_id, room_id, start_ms, end_ms, status,
			created_by_role, created_by_center, created_by_token) VALUES `)
		args := make([]any, 0, len(part)*cols)
		for i := range part {
			b := &part[i]
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, b.ID, b.MemberID, b.CenterID, nullStr(b.RoomID), ms(b.Start), ms(b.End), b.Status,
				b.CreatedBy.Role, nullStr(b.CreatedBy.CenterID), nullStr(b.CreatedBy.TokenID))
		}
		if _, err := t.exec(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("insert bookings: %w", err)
		}
	}
	if len(bookings) == 0 {
		t.noAudit("an empty import changes nothing")
	}
	rows := make([]auditRow, len(bookings))
	for i := range bookings {
		t.changed(domain.Change{Kind: domain.KindBooking, Booking: &bookings[i]})
		rows[i] = auditRow{audit.Import, audit.ObjectBooking, bookings[i].ID, []string{bookings[i].CenterID}, nil, bookings[i]}
	}
	return t.auditAll(ctx, rows)
}
