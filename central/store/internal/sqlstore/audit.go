package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The audit log (package audit). Every write function of the store runs
// in s.write, and write refuses to commit a transaction that neither
// recorded an audit row (t.audit) nor said why it has none (t.noAudit):
// a write function that forgets the audit fails in every test that calls
// it, and the conformance suite (storetest testAuditEveryWrite) runs every
// write verb of store.Store. To audit a new write, in its s.write function
// and after the change succeeded:
//
//	old, err := ... // read the row before changing it (nil when created)
//	...
//	return t.audit(ctx, audit.Update, "place", p.ID, centersOf(old.CenterID, p.CenterID), old, p)
//
// before and after are any JSON-encodable values (nil: none); members
// whose names look like secrets are redacted (audit.Redact). centers are
// the centers the change concerns: an object moving between centers
// concerns both; "" stands for the network (objects of no center).
// The actor is the context's (audit.WithActor), or the system actor
// audit.Unattributed.

// audit records one audit row in the write's transaction.
func (t *wtx) audit(ctx context.Context, action audit.Action, kind, id string, centers []string, before, after any) error {
	b, err := audit.Redact(before)
	if err != nil {
		return err
	}
	a, err := audit.Redact(after)
	if err != nil {
		return err
	}
	cs := centersOf(centers...)
	at := ms(t.now)
	var rowID int64
	err = t.queryRow(ctx, `INSERT INTO audit_log (at_ms, actor_kind, actor_id, actor_name, actor_role, actor_centers, actor_ip, actor_agent,
		action, object_kind, object_id, centers, before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		at, string(t.actor.Kind), t.actor.ID, t.actor.Name, t.actor.Role, joinIDs(t.actor.Centers), t.actor.IP, t.actor.UserAgent,
		string(action), kind, id, joinIDs(cs), nullJSON(b), nullJSON(a)).Scan(&rowID)
	if err != nil {
		return fmt.Errorf("audit %s %s %s: %w", action, kind, id, err)
	}
	for _, c := range cs {
		if _, err := t.exec(ctx, `INSERT INTO audit_centers (audit_id, center_id, at_ms) VALUES (?, ?, ?)`, rowID, c, at); err != nil {
			return fmt.Errorf("audit %s %s %s: center %q: %w", action, kind, id, c, err)
		}
	}
	t.audited++
	return nil
}

// noAudit declares that this write changes nothing a person or token
// made (derived bookkeeping, such as the crediting's results), so it
// records no audit row. reason is for the reader of the code.
func (t *wtx) noAudit(reason string) { t.exempt = reason }

// errUnaudited is returned by write when a write function neither audited
// nor declared noAudit: a bug, caught by the tests.
var errUnaudited = errors.New("sqlstore: a write recorded no audit row (call t.audit, or t.noAudit with a reason)")

// checkAudited runs before the commit of every write.
func (t *wtx) checkAudited() error {
	if t.audited == 0 && t.exempt == "" {
		return errUnaudited
	}
	return nil
}

func nullJSON(b json.RawMessage) sql.NullString {
	return sql.NullString{String: string(b), Valid: b != nil}
}

// centersOf returns the distinct centers in order; none at all (or only
// "") is the network, [""].
func centersOf(ids ...string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	slices.Sort(out)
	return out
}

// orNetwork returns ids, or [""] when there are none.
func orNetwork(ids []string) []string {
	if len(ids) == 0 {
		return []string{""}
	}
	return ids
}

// ---- the centers objects concern

func (t *wtx) memberHome(ctx context.Context, id string) (string, error) {
	var home sql.NullString
	err := t.queryRow(ctx, `SELECT home_center_id FROM members WHERE id = ?`, id).Scan(&home)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("audit: home of member %s: %w", id, err)
	}
	return home.String, nil
}

// badgeCenters are the home centers of the badge's members (before and
// after a move).
func (t *wtx) badgeCenters(ctx context.Context, members ...string) ([]string, error) {
	var out []string
	for _, m := range members {
		h, err := t.memberHome(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// passCenters are the centers a pass covers ("" for all) and its member's
// home.
func (t *wtx) passAuditCenters(ctx context.Context, ps ...*domain.Pass) ([]string, error) {
	var out []string
	for _, p := range ps {
		if p == nil {
			continue
		}
		out = append(out, orNetwork(p.CenterIDs)...)
		h, err := t.memberHome(ctx, p.MemberID)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// ---- the objects before a change (nil when missing)

func (t *wtx) centerBefore(ctx context.Context, id string) (*domain.Center, error) {
	return before(scanCenter(t.queryRow(ctx, centerCols+` WHERE id = ?`, id)))
}

func (t *wtx) memberBefore(ctx context.Context, id string) (*domain.Member, error) {
	return before(scanMember(t.queryRow(ctx, memberCols+` WHERE id = ?`, id)))
}

func (t *wtx) badgeBefore(ctx context.Context, uid string) (*domain.Badge, error) {
	return before(scanBadge(t.queryRow(ctx, badgeCols+` WHERE uid = ?`, uid)))
}

func (t *wtx) bookingBefore(ctx context.Context, id string) (*domain.Booking, error) {
	return before(scanBooking(t.queryRow(ctx, bookingCols+` WHERE id = ?`, id)))
}

func (t *wtx) passBefore(ctx context.Context, s *DB, id string) (*domain.Pass, error) {
	p, err := before(scanPass(t.queryRow(ctx, passCols+` WHERE p.id = ?`, id)))
	if p == nil || err != nil {
		return p, err
	}
	ps := []domain.Pass{*p}
	if err := s.passCenters(ctx, t.query, ps); err != nil {
		return nil, err
	}
	return &ps[0], nil
}

func (t *wtx) tokenBefore(ctx context.Context, id string) (*store.Token, error) {
	return before(scanToken(t.queryRow(ctx, tokenCols+` WHERE id = ?`, id)))
}

func before[T any](v T, err error) (*T, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read the object before the change: %w", err)
	}
	return &v, nil
}

// ---- reading

// ListAudit implements store.Store.
func (s *DB) ListAudit(ctx context.Context, f store.AuditFilter) (store.Page[audit.Entry], error) {
	w := &where{}
	if f.CenterIDs != nil {
		if len(f.CenterIDs) == 0 {
			w.add("1 = 0")
		} else {
			w.add(`EXISTS (SELECT 1 FROM audit_centers ac WHERE ac.center_id IN (`+placeholders(len(f.CenterIDs))+`) AND ac.at_ms = a.at_ms AND ac.audit_id = a.id)`,
				anySlice(f.CenterIDs)...)
		}
	}
	for _, c := range []struct{ col, val string }{
		{"a.actor_kind", string(f.ActorKind)}, {"a.actor_id", f.ActorID},
		{"a.object_kind", f.ObjectKind}, {"a.object_id", f.ObjectID}, {"a.action", string(f.Action)},
	} {
		if c.val != "" {
			w.add(c.col+" = ?", c.val)
		}
	}
	if !f.From.IsZero() {
		w.add("a.at_ms >= ?", ms(f.From))
	}
	if !f.To.IsZero() {
		w.add("a.at_ms < ?", ms(f.To))
	}
	if f.After != "" {
		after, err := strconv.ParseInt(f.After, 10, 64)
		if err != nil || after <= 0 {
			return store.Page[audit.Entry]{}, &domain.FieldError{Field: "after", Message: fmt.Sprintf("%q is not an audit entry id", f.After)}
		}
		w.add("a.id < ?", after)
	}
	n := f.Size()
	q := `SELECT a.id, a.at_ms, a.actor_kind, a.actor_id, a.actor_name, a.actor_role, a.actor_centers, a.actor_ip, a.actor_agent,
		a.action, a.object_kind, a.object_id, a.centers, a.before_json, a.after_json FROM audit_log a` +
		w.sql() + ` ORDER BY a.id DESC LIMIT ` + strconv.Itoa(n+1)
	rows, err := s.query(ctx, q, w.args...)
	if err != nil {
		return store.Page[audit.Entry]{}, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	page := store.Page[audit.Entry]{Items: []audit.Entry{}}
	for rows.Next() {
		var e audit.Entry
		var at int64
		var kind, actorCenters, action, centers string
		var b, a sql.NullString
		if err := rows.Scan(&e.ID, &at, &kind, &e.Actor.ID, &e.Actor.Name, &e.Actor.Role, &actorCenters, &e.Actor.IP, &e.Actor.UserAgent,
			&action, &e.ObjectKind, &e.ObjectID, &centers, &b, &a); err != nil {
			return store.Page[audit.Entry]{}, fmt.Errorf("list audit: %w", err)
		}
		if len(page.Items) == n {
			page.Next = strconv.FormatInt(page.Items[n-1].ID, 10)
			break
		}
		e.At, e.Actor.Kind, e.Actor.Centers, e.Action = fromMs(at), audit.ActorKind(kind), splitIDs(actorCenters), audit.Action(action)
		e.Centers = strings.Split(centers, ",")
		if b.Valid {
			e.Before = json.RawMessage(b.String)
		}
		if a.Valid {
			e.After = json.RawMessage(a.String)
		}
		page.Items = append(page.Items, e)
	}
	return page, rows.Err()
}

// staffID is the audit object id of a staff assignment: member@center
// (member@ for the network).
func staffID(st domain.Staff) string { return st.MemberID + "@" + st.CenterID }

// auditRetiredToken records what deleting a center did to a token bound to
// it: revoked when it had no other center, else updated to the others.
func (t *wtx) auditRetiredToken(ctx context.Context, old *store.Token, centers []string) error {
	if old == nil {
		return nil // gone meanwhile: nothing was changed
	}
	if len(centers) == 0 {
		return t.audit(ctx, audit.Revoke, audit.ObjectAPIToken, old.ID, old.Centers, old, nil)
	}
	after := *old
	after.Centers = centers
	return t.audit(ctx, audit.Update, audit.ObjectAPIToken, old.ID, old.Centers, old, after)
}

// doorCenter returns the door's center ("" when the door is missing).
func (t *wtx) doorCenter(ctx context.Context, door string) (string, error) {
	d, err := before(scanDoor(t.queryRow(ctx, doorCols+` WHERE id = ?`, door)))
	if err != nil || d == nil {
		return "", err
	}
	return d.CenterID, nil
}

// auditRedeem records an enrollment: the token spent and the key the
// door enrolled with (its SHA-256, a public fingerprint).
func (t *wtx) auditRedeem(ctx context.Context, unused, used store.EnrollmentToken, key store.DoorKey) error {
	c, err := t.doorCenter(ctx, used.Door)
	if err != nil {
		return err
	}
	after := struct {
		store.EnrollmentToken
		KeySHA256 string `json:"key_sha256"`
	}{used, key.KeySHA256}
	return t.audit(ctx, audit.Redeem, audit.ObjectEnrollmentToken, used.ID, []string{c}, unused, after)
}

// auditClose records the close of a crediting period. It concerns the
// network and every center with a line in the settlement; the row keeps
// the totals, not the whole settlement (which ClosedSettlement returns).
func (t *wtx) auditClose(ctx context.Context, prev credit.Period, s *credit.Settlement) error {
	centers := []string{""}
	for _, l := range s.Centers {
		centers = append(centers, l.CenterID)
	}
	after := map[string]any{"period": s.Period.String(), "closed": true, "total_cents": s.TotalCents, "time_zone": s.TimeZone}
	before := map[string]any{"period": s.Period.String(), "closed": false, "last_closed": prev.String()}
	return t.audit(ctx, audit.Close, audit.ObjectPeriod, s.Period.String(), centers, before, after)
}

// auditRow is one row for auditAll.
type auditRow struct {
	action        audit.Action
	kind, id      string
	centers       []string
	before, after any
}

// auditAll records many rows at once (a bulk import): multi-row inserts
// instead of two statements a row. Rows whose (kind, id) repeats within
// the call are recorded one by one.
func (t *wtx) auditAll(ctx context.Context, rows []auditRow) error {
	const cols = 14
	chunk := max(1, t.d.MaxParams/cols)
	for start := 0; start < len(rows); start += chunk {
		if err := t.auditChunk(ctx, rows[start:min(start+chunk, len(rows))]); err != nil {
			return err
		}
	}
	return nil
}

func (t *wtx) auditChunk(ctx context.Context, rows []auditRow) error {
	key := func(kind, id string) string { return kind + "\x00" + id }
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		if seen[key(r.kind, r.id)] {
			for _, r := range rows {
				if err := t.audit(ctx, r.action, r.kind, r.id, r.centers, r.before, r.after); err != nil {
					return err
				}
			}
			return nil
		}
		seen[key(r.kind, r.id)] = true
	}
	at := ms(t.now)
	var q strings.Builder
	q.WriteString(`INSERT INTO audit_log (at_ms, actor_kind, actor_id, actor_name, actor_role, actor_centers, actor_ip, actor_agent,
		action, object_kind, object_id, centers, before_json, after_json) VALUES `)
	args := make([]any, 0, len(rows)*14)
	centers := make(map[string][]string, len(rows))
	for i, r := range rows {
		b, err := audit.Redact(r.before)
		if err != nil {
			return err
		}
		a, err := audit.Redact(r.after)
		if err != nil {
			return err
		}
		cs := centersOf(r.centers...)
		centers[key(r.kind, r.id)] = cs
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, at, string(t.actor.Kind), t.actor.ID, t.actor.Name, t.actor.Role, joinIDs(t.actor.Centers), t.actor.IP,
			t.actor.UserAgent, string(r.action), r.kind, r.id, joinIDs(cs), nullJSON(b), nullJSON(a))
	}
	q.WriteString(" RETURNING id, object_kind, object_id")
	res, err := t.query(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("audit %d rows: %w", len(rows), err)
	}
	var links []any
	for res.Next() {
		var id int64
		var kind, obj string
		if err := res.Scan(&id, &kind, &obj); err != nil {
			res.Close()
			return fmt.Errorf("audit %d rows: %w", len(rows), err)
		}
		for _, c := range centers[key(kind, obj)] {
			links = append(links, id, c, at)
		}
	}
	res.Close()
	if err := res.Err(); err != nil {
		return fmt.Errorf("audit %d rows: %w", len(rows), err)
	}
	per := max(1, t.d.MaxParams/3) * 3
	for start := 0; start < len(links); start += per {
		part := links[start:min(start+per, len(links))]
		q := `INSERT INTO audit_centers (audit_id, center_id, at_ms) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(part)/3), ", ")
		if _, err := t.exec(ctx, q, part...); err != nil {
			return fmt.Errorf("audit %d rows: centers: %w", len(rows), err)
		}
	}
	t.audited += len(rows)
	return nil
}
