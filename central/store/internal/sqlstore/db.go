// Package sqlstore implements store.Store over database/sql for both
// backends. The SQLite and PostgreSQL packages give it their connections, a
// Dialect (placeholders, error codes, row locks, the event insert) and their
// embedded migrations; everything else — validation, references, overlap
// checks, pagination, change notification — is written once here.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Dialect is what differs between the backends.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Dollar makes placeholders $1, $2, ... instead of ?.
	Dollar bool
	// ForUpdate is appended to a SELECT that locks rows until the end of the
	// transaction ("" where transactions are serialized anyway).
	ForUpdate string
	// IsUnique and IsForeignKey classify constraint violations.
	IsUnique     func(error) bool
	IsForeignKey func(error) bool
	// IsExclusion classifies a violated exclusion constraint (PostgreSQL's
	// room overlap constraint); nil where there is none.
	IsExclusion func(error) bool
	// MigrateLock runs first in the migration transaction (to serialize
	// concurrent starts), or is "".
	MigrateLock string
	// MaxParams bounds the parameters of one statement.
	MaxParams int
	// Bytewise follows a text column to compare and order it by its bytes
	// (Go's order), whatever the database's collation: ` COLLATE "C"` on
	// PostgreSQL, "" where text compares so already.
	Bytewise string
	// InsertBatches inserts the events of every batch, ignoring (door, seq)
	// already stored, and returns how many events of each batch were new
	// (an event given twice counts for the first batch that holds it).
	// centers maps door ids to their centers. The events carry the central's
	// numbers (the store's base + seq); the batches' Store is not used.
	InsertBatches func(ctx context.Context, tx *sql.Tx, receivedMs int64, batches []store.DoorEvents, centers map[string]string) ([]int, error)
	// SaveSeqs writes the streams' sequence states (rows exist).
	SaveSeqs func(ctx context.Context, tx *sql.Tx, states map[store.StreamKey]store.SeqState) error
	// TrackEvents: the crediting reads events by member through the
	// credit_taps table that store.CreditStore.Track fills, instead of an
	// index on the events table (see store.CreditStore).
	TrackEvents bool
	// PostingCursor: the events table records each event's inserting
	// transaction (column xid), and credit_state the crediting leader's
	// positions (store.PostingCursor).
	PostingCursor bool
	// CacheStatements prepares each query once and keeps it (stmtCache):
	// for SQLite, whose connections stay open and whose driver parses an
	// unprepared query each time it runs.
	CacheStatements bool
}

// DB is a store.Store.
type DB struct {
	w, r      *sql.DB    // writer and reader pools (the same for PostgreSQL)
	rs        *stmtCache // the readers' prepared statements (Dialect.CacheStatements)
	d         Dialect
	notify    store.Notifier
	notifyAll store.BatchNotifier
	now       func() time.Time
}

// New returns a store over the pools after applying the migrations in
// migrations (files NNNN_name.sql, applied in order, each once).
func New(ctx context.Context, w, r *sql.DB, d Dialect, migrations fs.FS, opts store.Options) (*DB, error) {
	s := &DB{w: w, r: r, d: d, notify: opts.Notify, notifyAll: opts.NotifyAll, now: time.Now}
	if err := s.migrate(ctx, migrations); err != nil {
		return nil, err
	}
	// The readers' queries only: the writer's single connection is held by
	// the transaction that would prepare a statement on the pool.
	s.rs = newStmtCache(r, d.CacheStatements && r != w)
	return s, nil
}

// Close closes the prepared statements and the pools.
func (s *DB) Close() error {
	err := errors.Join(s.rs.close(), s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Writer returns the writer pool (for backend-specific statements).
func (s *DB) Writer() *sql.DB { return s.w }

// rebind turns ? placeholders into $n for PostgreSQL.
func (d *Dialect) rebind(q string) string {
	if !d.Dollar || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Rebind is rebind for the backends' own statements.
func (d *Dialect) Rebind(q string) string { return d.rebind(q) }

func (s *DB) migrate(ctx context.Context, migrations fs.FS) error {
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.MigrateLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.MigrateLock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil || v <= 0 {
			return fmt.Errorf("migration %q: name must start with a positive version number", name)
		}
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if s.d.MigrateLock != "" {
				if _, err := tx.ExecContext(ctx, s.d.MigrateLock); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT count(*) FROM schema_migrations WHERE version = ?`), v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)`),
				v, name, s.now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// inTx runs fn in a write transaction.
func (s *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// wtx is a write transaction that collects the changes to notify.
type wtx struct {
	tx      *sql.Tx
	d       *Dialect
	changes []domain.Change
	bulk    bool // the changes go to notifyAll at once (Import)

	// The audit (audit.go): who writes, when, and what was recorded.
	actor   audit.Actor
	now     time.Time
	audited int
	exempt  string
}

func (t *wtx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(q), args...)
}

func (t *wtx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

func (t *wtx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(q), args...)
}

func (t *wtx) changed(ch domain.Change) { t.changes = append(t.changes, ch) }

// exists reports whether a row matches.
func (t *wtx) exists(ctx context.Context, q string, args ...any) (bool, error) {
	var one int
	err := t.queryRow(ctx, q, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// write runs fn in a transaction and, after the commit, notifies its changes.
func (s *DB) write(ctx context.Context, fn func(t *wtx) error) error {
	t := &wtx{d: &s.d, actor: audit.ActorOr(ctx), now: s.now()}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t.tx = tx
		if err := fn(t); err != nil {
			return err
		}
		return t.checkAudited()
	})
	if err != nil {
		return err
	}
	if t.bulk && s.notifyAll != nil {
		if len(t.changes) > 0 {
			s.notifyAll(ctx, t.changes)
		}
		return nil
	}
	if s.notify != nil {
		for _, ch := range t.changes {
			s.notify(ctx, ch)
		}
	}
	return nil
}

func (s *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = s.d.rebind(q)
	if st := s.rs.get(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, q, args...)
}

func (s *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = s.d.rebind(q)
	if st := s.rs.get(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.r.QueryContext(ctx, q, args...)
}

// mapErr turns constraint violations into store errors.
func (s *DB) mapErr(err error, what, field string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.Errf(store.ErrNotFound, field, "%s", what)
	case s.d.IsUnique(err):
		return store.Errf(store.ErrExists, field, "%s", what)
	case s.d.IsExclusion != nil && s.d.IsExclusion(err):
		return store.Errf(store.ErrOverlap, "start", "%s overlaps a confirmed booking of the room", what)
	case s.d.IsForeignKey(err):
		return store.Errf(store.ErrInUse, field, "%s is referred to, or refers to a missing object", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// where builds a WHERE clause.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds col IN (...); a nil list adds nothing, an empty one matches nothing.
func (w *where) in(col string, vals []string) {
	if vals == nil {
		return
	}
	if len(vals) == 0 {
		w.add("1 = 0")
		return
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", anySlice(vals)...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anySlice(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

// list runs a keyset-paginated query: base selects the columns FROM the
// table (with alias), key is the ordering column, scan reads one row.
func list[T any](ctx context.Context, s *DB, base, key string, w *where, p store.PageRequest, scan func(*sql.Rows) (T, string, error)) (store.Page[T], error) {
	if p.After != "" {
		w.add(key+" > ?", p.After)
	}
	n := p.Size()
	q := base + w.sql() + " ORDER BY " + key + " LIMIT " + strconv.Itoa(n+1)
	rows, err := s.query(ctx, q, w.args...)
	if err != nil {
		return store.Page[T]{}, fmt.Errorf("list: %w", err)
	}
	defer rows.Close()
	var page store.Page[T]
	page.Items = []T{}
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

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
