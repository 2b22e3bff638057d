package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// need returns ErrMissingRef on field unless the query finds a row.
func (t *wtx) need(ctx context.Context, field, what, q string, args ...any) error {
	ok, err := t.exists(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("check %s: %w", field, err)
	}
	if !ok {
		return store.Errf(store.ErrMissingRef, field, "%s %v does not exist", what, args[0])
	}
	return nil
}

func (t *wtx) needCenter(ctx context.Context, field, id string) error {
	return t.need(ctx, field, "center", `SELECT 1 FROM centers WHERE id = ?`, id)
}

// needRoomOf checks that room exists and belongs to center. A room of
// another center is reported exactly as a missing one, so that the answer
// does not tell a center's staff which room ids exist elsewhere.
func (t *wtx) needRoomOf(ctx context.Context, field, room, center string) error {
	var c string
	err := t.queryRow(ctx, `SELECT center_id FROM rooms WHERE id = ?`+t.d.ForUpdate, room).Scan(&c)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check %s: %w", field, err)
	}
	if err != nil || c != center {
		return store.Errf(store.ErrMissingRef, field, "center %s has no room %s", center, room)
	}
	return nil
}

// inUse returns ErrInUse when the query finds a row.
func (t *wtx) inUse(ctx context.Context, what, by, q string, args ...any) error {
	ok, err := t.exists(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("check references: %w", err)
	}
	if ok {
		return store.Errf(store.ErrInUse, "", "%s is still referred to by %s", what, by)
	}
	return nil
}

// one maps a missing row to ErrNotFound and another error to a wrapped one.
func one(err error, what string, id any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.Errf(store.ErrNotFound, "", "%s %v", what, id)
	}
	if err != nil {
		return fmt.Errorf("%s %v: %w", what, id, err)
	}
	return nil
}

// updated returns ErrNotFound when an UPDATE or DELETE touched no row.
func updated(res sql.Result, err error, what string, id any) error {
	if err != nil {
		return fmt.Errorf("%s %v: %w", what, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %v: %w", what, id, err)
	}
	if n == 0 {
		return store.Errf(store.ErrNotFound, "", "%s %v", what, id)
	}
	return nil
}

// ---- centers

const centerCols = `SELECT id, name, time_zone, hours, rate_cents, require_secure_credentials FROM centers c`

func scanCenter(r interface{ Scan(...any) error }) (domain.Center, error) {
	var c domain.Center
	var hours string
	if err := r.Scan(&c.ID, &c.Name, &c.TimeZone, &hours, &c.RateCents, &c.RequireSecure); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(hours), &c.Hours); err != nil {
		return c, fmt.Errorf("center %s: stored hours: %w", c.ID, err)
	}
	for i := range c.Hours {
		if len(c.Hours[i]) == 0 {
			c.Hours[i] = nil // a closed day reads back as it is usually written
		}
	}
	return c, nil
}

func hoursJSON(h domain.OpeningHours) string {
	for i := range h {
		if h[i] == nil {
			h[i] = []domain.Span{}
		}
	}
	b, _ := json.Marshal(h) // spans of ints always marshal
	return string(b)
}

// CreateCenter implements store.Store.
func (s *DB) CreateCenter(ctx context.Context, c domain.Center) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if err := t.needFreshCenterID(ctx, c.ID); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO centers (id, name, time_zone, hours, rate_cents, require_secure_credentials) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.TimeZone, hoursJSON(c.Hours), c.RateCents, c.RequireSecure)
		if err != nil {
			return s.mapErr(err, "center "+c.ID, "id")
		}
		t.changed(domain.Change{Kind: domain.KindCenter, Center: &c})
		return t.audit(ctx, audit.Create, audit.ObjectCenter, c.ID, []string{c.ID}, nil, c)
	})
}

// UpdateCenter implements store.Store.
func (s *DB) UpdateCenter(ctx context.Context, c domain.Center) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		old, err := t.centerBefore(ctx, c.ID)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE centers SET name = ?, time_zone = ?, hours = ?, rate_cents = ?, require_secure_credentials = ? WHERE id = ?`,
			c.Name, c.TimeZone, hoursJSON(c.Hours), c.RateCents, c.RequireSecure, c.ID)
		if err := updated(res, err, "center", c.ID); err != nil {
			return err
		}
		t.changed(domain.Change{Kind: domain.KindCenter, Center: &c})
		return t.audit(ctx, audit.Update, audit.ObjectCenter, c.ID, []string{c.ID}, old, c)
	})
}

// DeleteCenter implements store.Store.
func (s *DB) DeleteCenter(ctx context.Context, id string) error {
	return s.write(ctx, func(t *wtx) error {
		c, err := scanCenter(t.queryRow(ctx, centerCols+` WHERE id = ?`, id))
		if err := one(err, "center", id); err != nil {
			return err
		}
		for _, ref := range []struct{ by, q string }{
			{"rooms", `SELECT 1 FROM rooms WHERE center_id = ? LIMIT 1`},
			{"doors", `SELECT 1 FROM doors WHERE center_id = ? LIMIT 1`},
			{"members", `SELECT 1 FROM members WHERE home_center_id = ? LIMIT 1`},
			{"bookings", `SELECT 1 FROM bookings WHERE center_id = ? LIMIT 1`},
			{"passes", `SELECT 1 FROM pass_centers WHERE center_id = ? LIMIT 1`},
			{"staff", `SELECT 1 FROM staff WHERE center_id = ? LIMIT 1`},
		} {
			if err := t.inUse(ctx, "center "+id, ref.by, ref.q, id); err != nil {
				return err
			}
		}
		if err := t.retireCenter(ctx, id, s.now()); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM booking_rules WHERE scope = ?`, id); err != nil { // its pool goes by ON DELETE CASCADE
			return fmt.Errorf("delete booking rules of center %s: %w", id, err)
		}
		if _, err := t.exec(ctx, `DELETE FROM centers WHERE id = ?`, id); err != nil {
			return s.mapErr(err, "center "+id, "")
		}
		t.changed(domain.Change{Kind: domain.KindCenter, Deleted: true, Center: &c})
		return t.audit(ctx, audit.Delete, audit.ObjectCenter, id, []string{id}, c, nil)
	})
}

// Center implements store.Store.
func (s *DB) Center(ctx context.Context, id string) (domain.Center, error) {
	c, err := scanCenter(s.queryRow(ctx, centerCols+` WHERE id = ?`, id))
	return c, one(err, "center", id)
}

// ListCenters implements store.Store.
func (s *DB) ListCenters(ctx context.Context, f store.CenterFilter) (store.Page[domain.Center], error) {
	w := &where{}
	w.in("id", f.IDs)
	return list(ctx, s, centerCols, "id", w, f.PageRequest, func(r *sql.Rows) (domain.Center, string, error) {
		c, err := scanCenter(r)
		return c, c.ID, err
	})
}

// ---- rooms

const roomCols = `SELECT id, center_id, name, capacity, equipment FROM rooms r`

func scanRoom(r interface{ Scan(...any) error }) (domain.Room, error) {
	var x domain.Room
	var equipment string
	if err := r.Scan(&x.ID, &x.CenterID, &x.Name, &x.Capacity, &equipment); err != nil {
		return x, err
	}
	return x, readEquipment(&x, equipment)
}

// CreateRoom implements store.Store.
func (s *DB) CreateRoom(ctx context.Context, r domain.Room) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if err := t.needCenter(ctx, "center_id", r.CenterID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO rooms (id, center_id, name, capacity, equipment) VALUES (?, ?, ?, ?, ?)`,
			r.ID, r.CenterID, r.Name, r.Capacity, equipmentJSON(r.Equipment)); err != nil {
			return s.mapErr(err, "room "+r.ID, "id")
		}
		t.changed(domain.Change{Kind: domain.KindRoom, Room: &r})
		return t.audit(ctx, audit.Create, audit.ObjectRoom, r.ID, []string{r.CenterID}, nil, r)
	})
}

// UpdateRoom implements store.Store.
func (s *DB) UpdateRoom(ctx context.Context, r domain.Room) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		old, err := scanRoom(t.queryRow(ctx, roomCols+` WHERE id = ?`, r.ID))
		if err := one(err, "room", r.ID); err != nil {
			return err
		}
		if old.CenterID != r.CenterID {
			return &domain.FieldError{Field: "center_id", Message: "a room does not move to another center"}
		}
		if _, err := t.exec(ctx, `UPDATE rooms SET name = ?, capacity = ?, equipment = ? WHERE id = ?`,
			r.Name, r.Capacity, equipmentJSON(r.Equipment), r.ID); err != nil {
			return s.mapErr(err, "room "+r.ID, "")
		}
		t.changed(domain.Change{Kind: domain.KindRoom, Room: &r})
		return t.audit(ctx, audit.Update, audit.ObjectRoom, r.ID, []string{r.CenterID}, old, r)
	})
}

// DeleteRoom implements store.Store.
func (s *DB) DeleteRoom(ctx context.Context, id string) error {
	return s.write(ctx, func(t *wtx) error {
		r, err := scanRoom(t.queryRow(ctx, roomCols+` WHERE id = ?`, id))
		if err := one(err, "room", id); err != nil {
			return err
		}
		if err := t.inUse(ctx, "room "+id, "doors", `SELECT 1 FROM doors WHERE room_id = ? LIMIT 1`, id); err != nil {
			return err
		}
		if err := t.inUse(ctx, "room "+id, "bookings", `SELECT 1 FROM bookings WHERE room_id = ? LIMIT 1`, id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM rooms WHERE id = ?`, id); err != nil {
			return s.mapErr(err, "room "+id, "")
		}
		t.changed(domain.Change{Kind: domain.KindRoom, Deleted: true, Room: &r})
		return t.audit(ctx, audit.Delete, audit.ObjectRoom, id, []string{r.CenterID}, r, nil)
	})
}

// Room implements store.Store.
func (s *DB) Room(ctx context.Context, id string) (domain.Room, error) {
	r, err := scanRoom(s.queryRow(ctx, roomCols+` WHERE id = ?`, id))
	return r, one(err, "room", id)
}

// ListRooms implements store.Store.
func (s *DB) ListRooms(ctx context.Context, f store.RoomFilter) (store.Page[domain.Room], error) {
	w := &where{}
	w.in("center_id", f.CenterIDs)
	return list(ctx, s, roomCols, "id", w, f.PageRequest, func(r *sql.Rows) (domain.Room, string, error) {
		x, err := scanRoom(r)
		return x, x.ID, err
	})
}

// ---- doors

const doorCols = `SELECT id, center_id, name, room_id, is_exit FROM doors d`

func scanDoor(r interface{ Scan(...any) error }) (domain.Door, error) {
	var x domain.Door
	var room sql.NullString
	err := r.Scan(&x.ID, &x.CenterID, &x.Name, &room, &x.Exit)
	x.RoomID = room.String
	return x, err
}

func (t *wtx) checkDoor(ctx context.Context, d domain.Door) error {
	if err := t.needCenter(ctx, "center_id", d.CenterID); err != nil {
		return err
	}
	if d.RoomID != "" {
		return t.needRoomOf(ctx, "room_id", d.RoomID, d.CenterID)
	}
	return nil
}

// CreateDoor implements store.Store.
func (s *DB) CreateDoor(ctx context.Context, d domain.Door) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if err := t.checkDoor(ctx, d); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO doors (id, center_id, name, room_id, is_exit) VALUES (?, ?, ?, ?, ?)`,
			d.ID, d.CenterID, d.Name, nullStr(d.RoomID), d.Exit); err != nil {
			return s.mapErr(err, "door "+d.ID, "id")
		}
		t.changed(domain.Change{Kind: domain.KindDoor, Door: &d})
		return t.audit(ctx, audit.Create, audit.ObjectDoor, d.ID, []string{d.CenterID}, nil, d)
	})
}

// UpdateDoor implements store.Store.
func (s *DB) UpdateDoor(ctx context.Context, d domain.Door) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		old, err := scanDoor(t.queryRow(ctx, doorCols+` WHERE id = ?`, d.ID))
		if err := one(err, "door", d.ID); err != nil {
			return err
		}
		if old.CenterID != d.CenterID {
			return &domain.FieldError{Field: "center_id", Message: "a door does not move to another center; delete it and create a new one"}
		}
		if err := t.checkDoor(ctx, d); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE doors SET name = ?, room_id = ?, is_exit = ? WHERE id = ?`,
			d.Name, nullStr(d.RoomID), d.Exit, d.ID); err != nil {
			return s.mapErr(err, "door "+d.ID, "")
		}
		t.changed(domain.Change{Kind: domain.KindDoor, Door: &d})
		return t.audit(ctx, audit.Update, audit.ObjectDoor, d.ID, []string{d.CenterID}, old, d)
	})
}

// DeleteDoor implements store.Store. The door's events stay.
func (s *DB) DeleteDoor(ctx context.Context, id string) error {
	return s.write(ctx, func(t *wtx) error {
		d, err := scanDoor(t.queryRow(ctx, doorCols+` WHERE id = ?`, id))
		if err := one(err, "door", id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM doors WHERE id = ?`, id); err != nil {
			return s.mapErr(err, "door "+id, "")
		}
		if err := t.revokeDoorCerts(ctx, id, "", store.RevokedDoorRemoved, ms(t.now)); err != nil {
			return err
		}
		t.changed(domain.Change{Kind: domain.KindDoor, Deleted: true, Door: &d})
		return t.audit(ctx, audit.Delete, audit.ObjectDoor, id, []string{d.CenterID}, d, nil)
	})
}

// Door implements store.Store.
func (s *DB) Door(ctx context.Context, id string) (domain.Door, error) {
	d, err := scanDoor(s.queryRow(ctx, doorCols+` WHERE id = ?`, id))
	return d, one(err, "door", id)
}

// ListDoors implements store.Store.
func (s *DB) ListDoors(ctx context.Context, f store.DoorFilter) (store.Page[domain.Door], error) {
	w := &where{}
	w.in("center_id", f.CenterIDs)
	if f.RoomID != "" {
		w.add("room_id = ?", f.RoomID)
	}
	return list(ctx, s, doorCols, "id", w, f.PageRequest, func(r *sql.Rows) (domain.Door, string, error) {
		x, err := scanDoor(r)
		return x, x.ID, err
	})
}

// ---- members

const memberCols = `SELECT id, name, email, home_center_id, status FROM members m`

func scanMember(r interface{ Scan(...any) error }) (domain.Member, error) {
	var x domain.Member
	var home sql.NullString
	err := r.Scan(&x.ID, &x.Name, &x.Email, &home, &x.Status)
	x.HomeCenterID = home.String
	return x, err
}

// CreateMember implements store.Store.
func (s *DB) CreateMember(ctx context.Context, m domain.Member) error {
	if err := m.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if m.HomeCenterID != "" {
			if err := t.needCenter(ctx, "home_center_id", m.HomeCenterID); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO members (id, name, email, home_center_id, status) VALUES (?, ?, ?, ?, ?)`,
			m.ID, m.Name, m.Email, nullStr(m.HomeCenterID), m.Status); err != nil {
			return s.mapErr(err, "member "+m.ID, "id")
		}
		t.changed(domain.Change{Kind: domain.KindMember, Member: &m})
		return t.audit(ctx, audit.Create, audit.ObjectMember, m.ID, []string{m.HomeCenterID}, nil, m)
	})
}

// UpdateMember implements store.Store.
func (s *DB) UpdateMember(ctx context.Context, m domain.Member) error {
	if err := m.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if m.HomeCenterID != "" {
			if err := t.needCenter(ctx, "home_center_id", m.HomeCenterID); err != nil {
				return err
			}
		}
		old, err := t.memberBefore(ctx, m.ID)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE members SET name = ?, email = ?, home_center_id = ?, status = ? WHERE id = ?`,
			m.Name, m.Email, nullStr(m.HomeCenterID), m.Status, m.ID)
		if err := updated(res, err, "member", m.ID); err != nil {
			return err
		}
		t.changed(domain.Change{Kind: domain.KindMember, Member: &m})
		return t.audit(ctx, audit.Update, audit.ObjectMember, m.ID, []string{old.HomeCenterID, m.HomeCenterID}, old, m)
	})
}

// DeleteMember implements store.Store.
func (s *DB) DeleteMember(ctx context.Context, id string) error {
	return s.write(ctx, func(t *wtx) error {
		m, err := scanMember(t.queryRow(ctx, memberCols+` WHERE id = ?`, id))
		if err := one(err, "member", id); err != nil {
			return err
		}
		for _, ref := range []struct{ by, q string }{
			{"badges", `SELECT 1 FROM badges WHERE member_id = ? LIMIT 1`},
			{"bookings", `SELECT 1 FROM bookings WHERE member_id = ? LIMIT 1`},
			{"passes", `SELECT 1 FROM passes WHERE member_id = ? LIMIT 1`},
			{"staff assignments", `SELECT 1 FROM staff WHERE member_id = ? LIMIT 1`},
		} {
			if err := t.inUse(ctx, "member "+id, ref.by, ref.q, id); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `DELETE FROM members WHERE id = ?`, id); err != nil {
			return s.mapErr(err, "member "+id, "")
		}
		t.changed(domain.Change{Kind: domain.KindMember, Deleted: true, Member: &m})
		return t.audit(ctx, audit.Delete, audit.ObjectMember, id, []string{m.HomeCenterID}, m, nil)
	})
}

// Member implements store.Store.
func (s *DB) Member(ctx context.Context, id string) (domain.Member, error) {
	m, err := scanMember(s.queryRow(ctx, memberCols+` WHERE id = ?`, id))
	return m, one(err, "member", id)
}

// ListMembers implements store.Store.
func (s *DB) ListMembers(ctx context.Context, f store.MemberFilter) (store.Page[domain.Member], error) {
	w := &where{}
	w.in("home_center_id", f.HomeCenterIDs)
	if f.Nomadic {
		w.add("home_center_id IS NULL")
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	return list(ctx, s, memberCols, "id", w, f.PageRequest, func(r *sql.Rows) (domain.Member, string, error) {
		x, err := scanMember(r)
		return x, x.ID, err
	})
}

// ---- badges

const badgeCols = `SELECT b.uid, b.member_id, b.revoked, b.added_by, b.card_type, b.key_version FROM badges b`

func scanBadge(r interface{ Scan(...any) error }) (domain.Badge, error) {
	var x domain.Badge
	var uid, card string
	var kv int
	err := r.Scan(&uid, &x.MemberID, &x.Revoked, &x.AddedBy, &card, &kv)
	x.UID = protocol.UID(uid)
	if card != string(protocol.CardUIDOnly) {
		x.Card = protocol.CardType(card)
	}
	x.KeyVersion = uint8(kv)
	return x, err
}

// cardCol is a card type as stored (uid_only for the empty type).
func cardCol(t protocol.CardType) string {
	if t == "" {
		return string(protocol.CardUIDOnly)
	}
	return string(t)
}

func (t *wtx) needMember(ctx context.Context, field, id string) error {
	return t.need(ctx, field, "member", `SELECT 1 FROM members WHERE id = ?`, id)
}

// CreateBadge implements store.Store.
func (s *DB) CreateBadge(ctx context.Context, b domain.Badge) error {
	if err := b.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if err := t.needMember(ctx, "member_id", b.MemberID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO badges (uid, member_id, revoked, added_by, card_type, key_version) VALUES (?, ?, ?, ?, ?, ?)`,
			string(b.UID), b.MemberID, b.Revoked, b.AddedBy, cardCol(b.Card), int(b.KeyVersion)); err != nil {
			return s.mapErr(err, "badge "+string(b.UID), "uid")
		}
		t.changed(domain.Change{Kind: domain.KindBadge, Badge: &b})
		cs, err := t.badgeCenters(ctx, b.MemberID)
		if err != nil {
			return err
		}
		return t.audit(ctx, audit.Create, audit.ObjectBadge, string(b.UID), cs, nil, b)
	})
}

// UpdateBadge implements store.Store.
func (s *DB) UpdateBadge(ctx context.Context, b domain.Badge) error {
	if err := b.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if err := t.needMember(ctx, "member_id", b.MemberID); err != nil {
			return err
		}
		old, err := t.badgeBefore(ctx, string(b.UID))
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE badges SET member_id = ?, revoked = ? WHERE uid = ?`, b.MemberID, b.Revoked, string(b.UID))
		if err := updated(res, err, "badge", b.UID); err != nil {
			return err
		}
		b.Card, b.KeyVersion = old.Card, old.KeyVersion // kept by the update (SetBadgeCredential sets them)
		t.changed(domain.Change{Kind: domain.KindBadge, Badge: &b})
		after := b
		after.AddedBy = old.AddedBy // kept by the update
		cs, err := t.badgeCenters(ctx, old.MemberID, b.MemberID)
		if err != nil {
			return err
		}
		action := audit.Update
		if b.Revoked && !old.Revoked {
			action = audit.Revoke
		}
		return t.audit(ctx, action, audit.ObjectBadge, string(b.UID), cs, old, after)
	})
}

// SetBadgeCredential implements store.Store.
func (s *DB) SetBadgeCredential(ctx context.Context, uid protocol.UID, card protocol.CardType, keyVersion uint8) error {
	if err := domain.CheckCredential(card, keyVersion); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		old, err := t.badgeBefore(ctx, string(uid))
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE badges SET card_type = ?, key_version = ? WHERE uid = ?`, cardCol(card), int(keyVersion), string(uid))
		if err := updated(res, err, "badge", uid); err != nil {
			return err
		}
		after := *old
		after.Card, after.KeyVersion = card, keyVersion
		if card == protocol.CardUIDOnly {
			after.Card = ""
		}
		t.changed(domain.Change{Kind: domain.KindBadge, Badge: &after})
		cs, err := t.badgeCenters(ctx, old.MemberID)
		if err != nil {
			return err
		}
		return t.audit(ctx, audit.Update, audit.ObjectBadge, string(uid), cs, old, after)
	})
}

// CountBadgeCredentials implements store.Store.
func (s *DB) CountBadgeCredentials(ctx context.Context) ([]store.BadgeCredentialCount, error) {
	rows, err := s.query(ctx, `SELECT COALESCE(m.home_center_id, ''), b.card_type = 'uid_only', count(*) FROM badges b
		JOIN members m ON m.id = b.member_id WHERE b.revoked = ? GROUP BY 1, 2 ORDER BY 1, 2`, false)
	if err != nil {
		return nil, fmt.Errorf("count badge credentials: %w", err)
	}
	defer rows.Close()
	var out []store.BadgeCredentialCount
	for rows.Next() {
		var center string
		var uidOnly bool
		var n int
		if err := rows.Scan(&center, &uidOnly, &n); err != nil {
			return nil, fmt.Errorf("count badge credentials: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Center != center {
			out = append(out, store.BadgeCredentialCount{Center: center})
		}
		if uidOnly {
			out[len(out)-1].UIDOnly += n
		} else {
			out[len(out)-1].Secure += n
		}
	}
	return out, rows.Err()
}

// DeleteBadge implements store.Store.
func (s *DB) DeleteBadge(ctx context.Context, uid protocol.UID) error {
	return s.write(ctx, func(t *wtx) error {
		b, err := scanBadge(t.queryRow(ctx, badgeCols+` WHERE uid = ?`, string(uid)))
		if err := one(err, "badge", uid); err != nil {
			return err
		}
		cs, err := t.badgeCenters(ctx, b.MemberID)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM badges WHERE uid = ?`, string(uid)); err != nil {
			return s.mapErr(err, "badge "+string(uid), "")
		}
		t.changed(domain.Change{Kind: domain.KindBadge, Deleted: true, Badge: &b})
		return t.audit(ctx, audit.Delete, audit.ObjectBadge, string(uid), cs, b, nil)
	})
}

// Badge implements store.Store.
func (s *DB) Badge(ctx context.Context, uid protocol.UID) (domain.Badge, error) {
	b, err := scanBadge(s.queryRow(ctx, badgeCols+` WHERE uid = ?`, string(uid)))
	return b, one(err, "badge", uid)
}

// ListBadges implements store.Store.
func (s *DB) ListBadges(ctx context.Context, f store.BadgeFilter) (store.Page[domain.Badge], error) {
	w := &where{}
	base := badgeCols
	if f.HomeCenterIDs != nil {
		base += ` JOIN members m ON m.id = b.member_id`
		w.in("m.home_center_id", f.HomeCenterIDs)
	}
	if f.MemberID != "" {
		w.add("b.member_id = ?", f.MemberID)
	}
	if f.Revoked != nil {
		w.add("b.revoked = ?", *f.Revoked)
	}
	if f.AddedBy != "" {
		w.add("b.added_by = ?", f.AddedBy)
	}
	return list(ctx, s, base, "b.uid", w, f.PageRequest, func(r *sql.Rows) (domain.Badge, string, error) {
		x, err := scanBadge(r)
		return x, string(x.UID), err
	})
}

// ---- passes

const passCols = `SELECT p.id, p.member_id, p.valid_from_ms, p.valid_until_ms, p.all_centers FROM passes p`

func (s *DB) passCenters(ctx context.Context, q func(context.Context, string, ...any) (*sql.Rows, error), ps []domain.Pass) error {
	idx := map[string]int{}
	ids := make([]string, 0, len(ps))
	for i := range ps {
		idx[ps[i].ID] = i
		ids = append(ids, ps[i].ID)
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := q(ctx, `SELECT pass_id, center_id FROM pass_centers WHERE pass_id IN (`+placeholders(len(ids))+`) ORDER BY pass_id, center_id`, anySlice(ids)...)
	if err != nil {
		return fmt.Errorf("pass centers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p, c string
		if err := rows.Scan(&p, &c); err != nil {
			return err
		}
		ps[idx[p]].CenterIDs = append(ps[idx[p]].CenterIDs, c)
	}
	return rows.Err()
}

func scanPass(r interface{ Scan(...any) error }) (domain.Pass, error) {
	var x domain.Pass
	var from, until int64
	var all bool
	err := r.Scan(&x.ID, &x.MemberID, &from, &until, &all)
	x.ValidFrom, x.ValidUntil = fromMs(from), fromMs(until)
	return x, err
}

func (t *wtx) putPassCenters(ctx context.Context, p *domain.Pass) error {
	if _, err := t.exec(ctx, `DELETE FROM pass_centers WHERE pass_id = ?`, p.ID); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, c := range p.CenterIDs {
		field := fmt.Sprintf("center_ids[%d]", i)
		if seen[c] {
			return &domain.FieldError{Field: field, Message: "center listed twice"}
		}
		seen[c] = true
		if err := t.needCenter(ctx, field, c); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO pass_centers (pass_id, center_id) VALUES (?, ?)`, p.ID, c); err != nil {
			return err
		}
	}
	return nil
}

func normPass(p *domain.Pass) {
	p.ValidFrom, p.ValidUntil = fromMs(ms(p.ValidFrom)), fromMs(ms(p.ValidUntil))
	if len(p.CenterIDs) == 0 {
		p.CenterIDs = nil
	}
}

// CreatePass implements store.Store.
func (s *DB) CreatePass(ctx context.Context, p domain.Pass) error {
	if err := p.Validate(); err != nil {
		return err
	}
	normPass(&p)
	return s.write(ctx, func(t *wtx) error {
		if err := t.needMember(ctx, "member_id", p.MemberID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO passes (id, member_id, valid_from_ms, valid_until_ms, all_centers) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.MemberID, ms(p.ValidFrom), ms(p.ValidUntil), len(p.CenterIDs) == 0); err != nil {
			return s.mapErr(err, "pass "+p.ID, "id")
		}
		if err := t.putPassCenters(ctx, &p); err != nil {
			return err
		}
		t.changed(domain.Change{Kind: domain.KindPass, Pass: &p})
		cs, err := t.passAuditCenters(ctx, &p)
		if err != nil {
			return err
		}
		return t.audit(ctx, audit.Create, audit.ObjectPass, p.ID, cs, nil, p)
	})
}

// UpdatePass implements store.Store.
func (s *DB) UpdatePass(ctx context.Context, p domain.Pass) error {
	if err := p.Validate(); err != nil {
		return err
	}
	normPass(&p)
	return s.write(ctx, func(t *wtx) error {
		if err := t.needMember(ctx, "member_id", p.MemberID); err != nil {
			return err
		}
		old, err := t.passBefore(ctx, s, p.ID)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE passes SET member_id = ?, valid_from_ms = ?, valid_until_ms = ?, all_centers = ? WHERE id = ?`,
			p.MemberID, ms(p.ValidFrom), ms(p.ValidUntil), len(p.CenterIDs) == 0, p.ID)
		if err := updated(res, err, "pass", p.ID); err != nil {
			return err
		}
		if err := t.putPassCenters(ctx, &p); err != nil {
			return err
		}
		t.changed(domain.Change{Kind: domain.KindPass, Pass: &p})
		cs, err := t.passAuditCenters(ctx, old, &p)
		if err != nil {
			return err
		}
		return t.audit(ctx, audit.Update, audit.ObjectPass, p.ID, cs, old, p)
	})
}

// DeletePass implements store.Store.
func (s *DB) DeletePass(ctx context.Context, id string) error {
	return s.write(ctx, func(t *wtx) error {
		p, err := scanPass(t.queryRow(ctx, passCols+` WHERE p.id = ?`, id))
		if err := one(err, "pass", id); err != nil {
			return err
		}
		ps := []domain.Pass{p}
		if err := s.passCenters(ctx, t.query, ps); err != nil {
			return err
		}
		cs, err := t.passAuditCenters(ctx, &ps[0])
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM pass_centers WHERE pass_id = ?`, id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM passes WHERE id = ?`, id); err != nil {
			return s.mapErr(err, "pass "+id, "")
		}
		t.changed(domain.Change{Kind: domain.KindPass, Deleted: true, Pass: &ps[0]})
		return t.audit(ctx, audit.Delete, audit.ObjectPass, id, cs, ps[0], nil)
	})
}

// Pass implements store.Store.
func (s *DB) Pass(ctx context.Context, id string) (domain.Pass, error) {
	p, err := scanPass(s.queryRow(ctx, passCols+` WHERE p.id = ?`, id))
	if err := one(err, "pass", id); err != nil {
		return p, err
	}
	ps := []domain.Pass{p}
	err = s.passCenters(ctx, s.query, ps)
	return ps[0], err
}

// ListPasses implements store.Store.
func (s *DB) ListPasses(ctx context.Context, f store.PassFilter) (store.Page[domain.Pass], error) {
	w := &where{}
	if f.MemberID != "" {
		w.add("p.member_id = ?", f.MemberID)
	}
	if f.CoversCenter != "" {
		w.add("(p.all_centers = ? OR EXISTS (SELECT 1 FROM pass_centers pc WHERE pc.pass_id = p.id AND pc.center_id = ?))", true, f.CoversCenter)
	}
	if !f.ValidAt.IsZero() {
		w.add("p.valid_from_ms <= ? AND p.valid_until_ms > ?", ms(f.ValidAt), ms(f.ValidAt))
	}
	page, err := list(ctx, s, passCols, "p.id", w, f.PageRequest, func(r *sql.Rows) (domain.Pass, string, error) {
		x, err := scanPass(r)
		return x, x.ID, err
	})
	if err != nil {
		return page, err
	}
	return page, s.passCenters(ctx, s.query, page.Items)
}

// ---- staff

// AddStaff implements store.Store.
func (s *DB) AddStaff(ctx context.Context, st domain.Staff) error {
	if err := st.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if err := t.needMember(ctx, "member_id", st.MemberID); err != nil {
			return err
		}
		if st.CenterID != "" {
			if err := t.needCenter(ctx, "center_id", st.CenterID); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO staff (member_id, center_id) VALUES (?, ?)`, st.MemberID, st.CenterID); err != nil {
			return s.mapErr(err, "staff assignment of "+st.MemberID, "member_id")
		}
		t.changed(domain.Change{Kind: domain.KindStaff, Staff: &st})
		return t.audit(ctx, audit.Create, audit.ObjectStaff, staffID(st), []string{st.CenterID}, nil, st)
	})
}

// RemoveStaff implements store.Store.
func (s *DB) RemoveStaff(ctx context.Context, st domain.Staff) error {
	return s.write(ctx, func(t *wtx) error {
		res, err := t.exec(ctx, `DELETE FROM staff WHERE member_id = ? AND center_id = ?`, st.MemberID, st.CenterID)
		if err := updated(res, err, "staff assignment", st.MemberID+"@"+st.CenterID); err != nil {
			return err
		}
		t.changed(domain.Change{Kind: domain.KindStaff, Deleted: true, Staff: &st})
		return t.audit(ctx, audit.Delete, audit.ObjectStaff, staffID(st), []string{st.CenterID}, st, nil)
	})
}

// staffKey orders assignments; ids never contain '/'.
const staffKey = "(member_id || '/' || center_id)"

// ListStaff implements store.Store.
func (s *DB) ListStaff(ctx context.Context, f store.StaffFilter) (store.Page[domain.Staff], error) {
	w := &where{}
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	w.in("center_id", f.CenterIDs)
	return list(ctx, s, `SELECT member_id, center_id FROM staff`, staffKey, w, f.PageRequest, func(r *sql.Rows) (domain.Staff, string, error) {
		var x domain.Staff
		err := r.Scan(&x.MemberID, &x.CenterID)
		return x, x.MemberID + "/" + x.CenterID, err
	})
}

// joinIDs and splitIDs store a list of ids in one column.
func joinIDs(ids []string) string { return strings.Join(ids, ",") }

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
