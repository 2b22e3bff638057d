package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Health implements store.Store.
func (s *DB) Health() store.HealthStore { return &healthStore{db: s} }

// healthStore is the store.HealthStore of a DB (migration 0010).
type healthStore struct{ db *DB }

// timeID returns an id that sorts by creation time: prefix, 13 digits of
// Unix milliseconds and 8 random hex digits.
func timeID(prefix string, atMs int64) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%013d-%s", prefix, max(atMs, 0), hex.EncodeToString(b))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// listDesc is list with the newest (highest key) first: After is the last
// key of the previous page.
func listDesc[T any](ctx context.Context, s *DB, base, key string, w *where, p store.PageRequest, scan func(*sql.Rows) (T, string, error)) (store.Page[T], error) {
	if p.After != "" {
		w.add(key+" < ?", p.After)
	}
	n := p.Size()
	q := base + w.sql() + " ORDER BY " + key + " DESC LIMIT " + strconv.Itoa(n+1)
	rows, err := s.query(ctx, q, w.args...)
	if err != nil {
		return store.Page[T]{}, fmt.Errorf("list: %w", err)
	}
	defer rows.Close()
	page := store.Page[T]{Items: []T{}}
	var lastKey string
	for rows.Next() {
		item, k, err := scan(rows)
		if err != nil {
			return store.Page[T]{}, fmt.Errorf("list: %w", err)
		}
		if len(page.Items) == n {
			page.Next = lastKey
			break
		}
		page.Items = append(page.Items, item)
		lastKey = k
	}
	return page, rows.Err()
}

// ---- door health

const healthCols = `SELECT h.door, d.center_id, h.state, h.status_time_ms, h.boot, h.firmware, h.wl_version, h.wl_issued_ms,
	h.outbox_depth, h.outbox_oldest_ms, h.clock_trusted, h.door_state, h.reader, h.last_seen_ms, h.offline_since_ms,
	h.cert_not_after_ms, h.updated_ms FROM door_health h JOIN doors d ON d.id = h.door`

func scanHealth(r interface{ Scan(...any) error }) (store.DoorHealth, error) {
	var h store.DoorHealth
	var wl, depth int64
	var trusted int
	err := r.Scan(&h.Door, &h.Center, &h.State, &h.StatusTimeMs, &h.Boot, &h.Firmware, &wl, &h.WLIssuedMs,
		&depth, &h.OutboxOldestMs, &trusted, &h.DoorState, &h.Reader, &h.LastSeenMs, &h.OfflineSinceMs,
		&h.CertNotAfterMs, &h.UpdatedMs)
	h.WLVersion, h.OutboxDepth, h.ClockTrusted = uint64(wl), uint64(depth), trusted != 0
	return h, err
}

// SaveDoorHealth implements store.HealthStore.
func (h *healthStore) SaveDoorHealth(ctx context.Context, x store.DoorHealth) error {
	if err := x.Validate(); err != nil {
		return err
	}
	return h.db.write(ctx, func(t *wtx) error {
		t.noAudit("a door's reported state is the door's, not a person's change")
		if err := t.need(ctx, "door", "door", `SELECT 1 FROM doors WHERE id = ?`, x.Door); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO door_health (door, state, status_time_ms, boot, firmware, wl_version, wl_issued_ms,
			outbox_depth, outbox_oldest_ms, clock_trusted, door_state, reader, last_seen_ms, offline_since_ms, cert_not_after_ms, updated_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT (door) DO UPDATE SET state = excluded.state, status_time_ms = excluded.status_time_ms, boot = excluded.boot,
			firmware = excluded.firmware, wl_version = excluded.wl_version, wl_issued_ms = excluded.wl_issued_ms,
			outbox_depth = excluded.outbox_depth, outbox_oldest_ms = excluded.outbox_oldest_ms, clock_trusted = excluded.clock_trusted,
			door_state = excluded.door_state, reader = excluded.reader, last_seen_ms = excluded.last_seen_ms,
			offline_since_ms = excluded.offline_since_ms, updated_ms = excluded.updated_ms`,
			x.Door, x.State, x.StatusTimeMs, x.Boot, x.Firmware, int64(x.WLVersion), x.WLIssuedMs, int64(x.OutboxDepth), x.OutboxOldestMs,
			boolInt(x.ClockTrusted), x.DoorState, x.Reader, x.LastSeenMs, x.OfflineSinceMs, x.UpdatedMs)
		if err != nil {
			return fmt.Errorf("door health of %s: %w", x.Door, err)
		}
		return nil
	})
}

// SetDoorCertificate implements store.HealthStore.
func (h *healthStore) SetDoorCertificate(ctx context.Context, door string, notAfterMs int64) error {
	if err := protocol.ValidID(door); err != nil {
		return &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", door, err)}
	}
	if notAfterMs <= 0 {
		return &domain.FieldError{Field: "cert_not_after_ms", Message: "required"}
	}
	return h.db.write(ctx, func(t *wtx) error {
		t.noAudit("a certificate's expiry comes from the enrollment, audited there")
		if err := t.need(ctx, "door", "door", `SELECT 1 FROM doors WHERE id = ?`, door); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO door_health (door, state, status_time_ms, boot, firmware, wl_version, wl_issued_ms,
			outbox_depth, outbox_oldest_ms, clock_trusted, door_state, reader, last_seen_ms, offline_since_ms, cert_not_after_ms, updated_ms)
			VALUES (?, '', 0, '', '', 0, 0, 0, 0, 0, '', '', 0, 0, ?, 0)
			ON CONFLICT (door) DO UPDATE SET cert_not_after_ms = excluded.cert_not_after_ms`, door, notAfterMs)
		if err != nil {
			return fmt.Errorf("certificate of door %s: %w", door, err)
		}
		return nil
	})
}

// DoorHealth implements store.HealthStore.
func (h *healthStore) DoorHealth(ctx context.Context, door string) (store.DoorHealth, error) {
	x, err := scanHealth(h.db.queryRow(ctx, healthCols+` WHERE h.door = ?`, door))
	return x, one(err, "health of door", door)
}

// ListDoorHealth implements store.HealthStore.
func (h *healthStore) ListDoorHealth(ctx context.Context, centers []string) ([]store.DoorHealth, error) {
	w := &where{}
	w.in("d.center_id", centers)
	rows, err := h.db.query(ctx, healthCols+w.sql()+` ORDER BY h.door`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("door health: %w", err)
	}
	defer rows.Close()
	out := []store.DoorHealth{}
	for rows.Next() {
		x, err := scanHealth(rows)
		if err != nil {
			return nil, fmt.Errorf("door health: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// ---- alerts

const alertCols = `SELECT id, door, center, kind, details, raised_ms, resolved_ms FROM alerts`

func scanAlert(r interface{ Scan(...any) error }) (store.Alert, error) {
	var a store.Alert
	var details string
	var resolved sql.NullInt64
	if err := r.Scan(&a.ID, &a.Door, &a.Center, &a.Kind, &details, &a.RaisedMs, &resolved); err != nil {
		return a, err
	}
	a.ResolvedMs = resolved.Int64
	a.Details = map[string]string{}
	if err := json.Unmarshal([]byte(details), &a.Details); err != nil {
		return a, fmt.Errorf("alert %s details: %w", a.ID, err)
	}
	return a, nil
}

// RaiseAlert implements store.HealthStore. The unique index on open alerts
// (door, kind) decides between replicas raising the same alert at once.
func (h *healthStore) RaiseAlert(ctx context.Context, a store.Alert) (store.Alert, bool, error) {
	if err := a.Validate(); err != nil {
		return a, false, err
	}
	if a.Details == nil {
		a.Details = map[string]string{}
	}
	details, err := json.Marshal(a.Details)
	if err != nil {
		return a, false, fmt.Errorf("alert details: %w", err)
	}
	a.ID, a.ResolvedMs = timeID("al", a.RaisedMs), 0
	raised := false
	err = h.db.write(ctx, func(t *wtx) error {
		t.noAudit("alerts are raised by the central from the doors' reports")
		if a.Center == "" {
			err := t.queryRow(ctx, `SELECT center_id FROM doors WHERE id = ?`, a.Door).Scan(&a.Center)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("center of door %s: %w", a.Door, err)
			}
		}
		res, err := t.exec(ctx, `INSERT INTO alerts (id, door, center, kind, details, raised_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.ID, a.Door, a.Center, string(a.Kind), string(details), a.RaisedMs)
		if err != nil {
			return fmt.Errorf("raise alert %s of door %s: %w", a.Kind, a.Door, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("raise alert %s of door %s: %w", a.Kind, a.Door, err)
		}
		raised = n == 1
		return nil
	})
	if err != nil || raised {
		return a, raised, err
	}
	open, err := scanAlert(h.db.queryRow(ctx, alertCols+` WHERE door = ? AND kind = ? AND resolved_ms IS NULL`, a.Door, string(a.Kind)))
	if errors.Is(err, sql.ErrNoRows) { // resolved in between
		return a, false, nil
	}
	return open, false, err
}

// ResolveAlert implements store.HealthStore.
func (h *healthStore) ResolveAlert(ctx context.Context, door string, kind store.AlertKind, atMs int64) (store.Alert, bool, error) {
	var a store.Alert
	resolved := false
	err := h.db.write(ctx, func(t *wtx) error {
		t.noAudit("alerts are resolved by the central from the doors' reports")
		var err error
		a, err = scanAlert(t.queryRow(ctx, alertCols+` WHERE door = ? AND kind = ? AND resolved_ms IS NULL`+t.d.ForUpdate, door, string(kind)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open alert %s of door %s: %w", kind, door, err)
		}
		a.ResolvedMs = max(atMs, a.RaisedMs)
		res, err := t.exec(ctx, `UPDATE alerts SET resolved_ms = ? WHERE id = ? AND resolved_ms IS NULL`, a.ResolvedMs, a.ID)
		if err != nil {
			return fmt.Errorf("resolve alert %s: %w", a.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("resolve alert %s: %w", a.ID, err)
		}
		resolved = n == 1
		return nil
	})
	return a, resolved, err
}

// Alert implements store.HealthStore.
func (h *healthStore) Alert(ctx context.Context, id string) (store.Alert, error) {
	a, err := scanAlert(h.db.queryRow(ctx, alertCols+` WHERE id = ?`, id))
	return a, one(err, "alert", id)
}

// ListAlerts implements store.HealthStore.
func (h *healthStore) ListAlerts(ctx context.Context, f store.AlertFilter) (store.Page[store.Alert], error) {
	w := &where{}
	w.in("center", f.CenterIDs)
	if f.Door != "" {
		w.add("door = ?", f.Door)
	}
	if f.Kind != "" {
		w.add("kind = ?", string(f.Kind))
	}
	if f.Open != nil {
		if *f.Open {
			w.add("resolved_ms IS NULL")
		} else {
			w.add("resolved_ms IS NOT NULL")
		}
	}
	return listDesc(ctx, h.db, alertCols, "id", w, f.PageRequest, func(r *sql.Rows) (store.Alert, string, error) {
		a, err := scanAlert(r)
		return a, a.ID, err
	})
}

// ---- webhooks

const webhookCols = `SELECT id, center, url, secret, kinds, created_by, created_ms FROM webhooks`

func scanWebhook(r interface{ Scan(...any) error }) (store.Webhook, error) {
	var x store.Webhook
	var kinds string
	err := r.Scan(&x.ID, &x.Center, &x.URL, &x.Secret, &kinds, &x.CreatedBy, &x.CreatedMs)
	x.Kinds = store.SplitKinds(kinds)
	return x, err
}

// CreateWebhook implements store.HealthStore.
func (h *healthStore) CreateWebhook(ctx context.Context, x store.Webhook) error {
	if err := x.Validate(); err != nil {
		return err
	}
	return h.db.write(ctx, func(t *wtx) error {
		if x.Center != "" {
			if err := t.needCenter(ctx, "center", x.Center); err != nil {
				return err
			}
		}
		_, err := t.exec(ctx, `INSERT INTO webhooks (id, center, url, secret, kinds, created_by, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			x.ID, x.Center, x.URL, x.Secret, store.JoinKinds(x.Kinds), x.CreatedBy, x.CreatedMs)
		if err != nil {
			return h.db.mapErr(err, "webhook "+x.ID, "id")
		}
		return t.audit(ctx, audit.Create, "webhook", x.ID, orNetwork(centersOf(x.Center)), nil, x)
	})
}

// UpdateWebhook implements store.HealthStore: the URL, kinds and (when
// given) secret change; the center and creator are kept.
func (h *healthStore) UpdateWebhook(ctx context.Context, x store.Webhook) error {
	return h.db.write(ctx, func(t *wtx) error {
		old, err := scanWebhook(t.queryRow(ctx, webhookCols+` WHERE id = ?`+t.d.ForUpdate, x.ID))
		if err := one(err, "webhook", x.ID); err != nil {
			return err
		}
		x.Center, x.CreatedBy, x.CreatedMs = old.Center, old.CreatedBy, old.CreatedMs
		if x.Secret == "" {
			x.Secret = old.Secret
		}
		if err := x.Validate(); err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE webhooks SET url = ?, secret = ?, kinds = ? WHERE id = ?`, x.URL, x.Secret, store.JoinKinds(x.Kinds), x.ID)
		if err := updated(res, err, "webhook", x.ID); err != nil {
			return err
		}
		return t.audit(ctx, audit.Update, "webhook", x.ID, orNetwork(centersOf(x.Center)), old, x)
	})
}

// DeleteWebhook implements store.HealthStore (its delivery log goes with it).
func (h *healthStore) DeleteWebhook(ctx context.Context, id string) error {
	return h.db.write(ctx, func(t *wtx) error {
		old, err := scanWebhook(t.queryRow(ctx, webhookCols+` WHERE id = ?`+t.d.ForUpdate, id))
		if err := one(err, "webhook", id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM webhook_deliveries WHERE webhook = ?`, id); err != nil {
			return fmt.Errorf("deliveries of webhook %s: %w", id, err)
		}
		res, err := t.exec(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err := updated(res, err, "webhook", id); err != nil {
			return err
		}
		return t.audit(ctx, audit.Delete, "webhook", id, orNetwork(centersOf(old.Center)), old, nil)
	})
}

// Webhook implements store.HealthStore.
func (h *healthStore) Webhook(ctx context.Context, id string) (store.Webhook, error) {
	x, err := scanWebhook(h.db.queryRow(ctx, webhookCols+` WHERE id = ?`, id))
	return x, one(err, "webhook", id)
}

// ListWebhooks implements store.HealthStore.
func (h *healthStore) ListWebhooks(ctx context.Context, centers []string, p store.PageRequest) (store.Page[store.Webhook], error) {
	w := &where{}
	w.in("center", centers)
	return list(ctx, h.db, webhookCols, "id", w, p, func(r *sql.Rows) (store.Webhook, string, error) {
		x, err := scanWebhook(r)
		return x, x.ID, err
	})
}

// LogDelivery implements store.HealthStore.
func (h *healthStore) LogDelivery(ctx context.Context, d store.Delivery) error {
	if d.Event != "raised" && d.Event != "resolved" {
		return &domain.FieldError{Field: "event", Message: fmt.Sprintf("%q; want raised or resolved", d.Event)}
	}
	if len(d.Error) > 1000 {
		d.Error = d.Error[:1000]
	}
	d.ID = timeID("dl", d.AtMs)
	return h.db.write(ctx, func(t *wtx) error {
		t.noAudit("the delivery log is the central's own record of its attempts")
		_, err := t.exec(ctx, `INSERT INTO webhook_deliveries (id, webhook, alert, event, attempt, http_status, ok, error, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Webhook, d.Alert, d.Event, d.Attempt, d.HTTPStatus, boolInt(d.OK), d.Error, d.AtMs)
		if err != nil && h.db.d.IsForeignKey(err) {
			return store.Errf(store.ErrMissingRef, "webhook", "webhook %s does not exist", d.Webhook)
		}
		return h.db.mapErr(err, "delivery "+d.ID, "id")
	})
}

// ListDeliveries implements store.HealthStore.
func (h *healthStore) ListDeliveries(ctx context.Context, webhook string, p store.PageRequest) (store.Page[store.Delivery], error) {
	w := &where{}
	w.add("webhook = ?", webhook)
	return listDesc(ctx, h.db, `SELECT id, webhook, alert, event, attempt, http_status, ok, error, at_ms FROM webhook_deliveries`, "id", w, p,
		func(r *sql.Rows) (store.Delivery, string, error) {
			var d store.Delivery
			var ok int
			err := r.Scan(&d.ID, &d.Webhook, &d.Alert, &d.Event, &d.Attempt, &d.HTTPStatus, &ok, &d.Error, &d.AtMs)
			d.OK = ok != 0
			return d, d.ID, err
		})
}

// ---- commands

const commandCols = `SELECT id, door, center, action, seconds, by_token, issued_ms, expires_ms, delivery, error, executed_ms, signed FROM door_commands`

func scanCommand(r interface{ Scan(...any) error }) (store.CommandRecord, error) {
	var c store.CommandRecord
	var executed sql.NullInt64
	var signed string
	err := r.Scan(&c.ID, &c.Door, &c.Center, &c.Action, &c.Seconds, &c.By, &c.IssuedMs, &c.ExpiresMs, &c.Delivery, &c.Error, &executed, &signed)
	if err != nil {
		return c, err
	}
	c.ExecutedMs = executed.Int64
	c.Signed, err = base64.StdEncoding.DecodeString(signed)
	return c, err
}

// SaveCommand implements store.HealthStore.
func (h *healthStore) SaveCommand(ctx context.Context, c store.CommandRecord) error {
	if err := protocol.ValidID(c.ID); err != nil {
		return &domain.FieldError{Field: "id", Message: fmt.Sprintf("%q: %v", c.ID, err)}
	}
	if err := protocol.ValidID(c.Door); err != nil {
		return &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", c.Door, err)}
	}
	switch c.Delivery {
	case store.CommandSent, store.CommandQueued, store.CommandFailed:
	default:
		return &domain.FieldError{Field: "delivery", Message: fmt.Sprintf("%q; want sent, queued_until_online or failed", c.Delivery)}
	}
	return h.db.write(ctx, func(t *wtx) error {
		_, err := t.exec(ctx, `INSERT INTO door_commands (id, door, center, action, seconds, by_token, issued_ms, expires_ms, delivery, error, signed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.Door, c.Center, c.Action, c.Seconds, c.By, c.IssuedMs, c.ExpiresMs, c.Delivery, c.Error,
			base64.StdEncoding.EncodeToString(c.Signed))
		if err != nil {
			return h.db.mapErr(err, "command "+c.ID, "id")
		}
		rec := c
		rec.Signed = nil // the door's copy; what was asked is the rest
		return t.audit(ctx, audit.Create, "door_command", c.ID, orNetwork(centersOf(c.Center)), nil, rec)
	})
}

// CommandExecuted implements store.HealthStore.
func (h *healthStore) CommandExecuted(ctx context.Context, door, id string, atMs int64) error {
	return h.db.write(ctx, func(t *wtx) error {
		t.noAudit("the door reports a command executed")
		_, err := t.exec(ctx, `UPDATE door_commands SET executed_ms = ? WHERE id = ? AND door = ? AND executed_ms IS NULL`, atMs, id, door)
		if err != nil {
			return fmt.Errorf("command %s executed: %w", id, err)
		}
		return nil
	})
}

// PendingCommands implements store.HealthStore.
func (h *healthStore) PendingCommands(ctx context.Context, door string, nowMs int64) ([]store.CommandRecord, error) {
	rows, err := h.db.query(ctx, commandCols+` WHERE door = ? AND delivery = ? AND executed_ms IS NULL AND expires_ms > ? ORDER BY issued_ms, id`,
		door, store.CommandQueued, nowMs)
	if err != nil {
		return nil, fmt.Errorf("pending commands of %s: %w", door, err)
	}
	defer rows.Close()
	var out []store.CommandRecord
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("pending commands of %s: %w", door, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// MarkCommandSent implements store.HealthStore.
func (h *healthStore) MarkCommandSent(ctx context.Context, id string) error {
	return h.db.write(ctx, func(t *wtx) error {
		t.noAudit("the central marks its own resend")
		_, err := t.exec(ctx, `UPDATE door_commands SET delivery = ? WHERE id = ? AND delivery = ?`, store.CommandSent, id, store.CommandQueued)
		if err != nil {
			return fmt.Errorf("command %s sent: %w", id, err)
		}
		return nil
	})
}

// Command implements store.HealthStore.
func (h *healthStore) Command(ctx context.Context, id string) (store.CommandRecord, error) {
	c, err := scanCommand(h.db.queryRow(ctx, commandCols+` WHERE id = ?`, id))
	return c, one(err, "command", id)
}

// ListCommands implements store.HealthStore: newest first, by issue time
// then id (the cursor is "issued_ms/id").
func (h *healthStore) ListCommands(ctx context.Context, door string, p store.PageRequest) (store.Page[store.CommandRecord], error) {
	w := &where{}
	w.add("door = ?", door)
	if p.After != "" {
		msText, id, ok := strings.Cut(p.After, "/")
		at, err := strconv.ParseInt(msText, 10, 64)
		if !ok || err != nil {
			return store.Page[store.CommandRecord]{}, store.Errf(store.ErrNotFound, "after", "cursor %q", p.After)
		}
		w.add("(issued_ms < ? OR (issued_ms = ? AND id < ?))", at, at, id)
	}
	n := p.Size()
	rows, err := h.db.query(ctx, commandCols+w.sql()+" ORDER BY issued_ms DESC, id DESC LIMIT "+strconv.Itoa(n+1), w.args...)
	if err != nil {
		return store.Page[store.CommandRecord]{}, fmt.Errorf("commands of door %s: %w", door, err)
	}
	defer rows.Close()
	page := store.Page[store.CommandRecord]{Items: []store.CommandRecord{}}
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return store.Page[store.CommandRecord]{}, fmt.Errorf("commands of door %s: %w", door, err)
		}
		if len(page.Items) == n {
			last := page.Items[n-1]
			page.Next = strconv.FormatInt(last.IssuedMs, 10) + "/" + last.ID
			break
		}
		page.Items = append(page.Items, c)
	}
	return page, rows.Err()
}
