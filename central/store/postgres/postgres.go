// Package postgres is the scale-out store: PostgreSQL through pgx, shared by
// several central replicas. Row locks (SELECT ... FOR UPDATE) keep the
// per-door event sequence and the room overlap check right under concurrent
// writers.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/internal/sqlstore"
	"github.com/smartworkcenters/swc/shared/protocol"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store.Store.
type Store struct {
	*sqlstore.DB
}

var _ store.Store = (*Store)(nil)

// migrateLock serializes migrations of replicas starting together.
const migrateLock = `SELECT pg_advisory_xact_lock(7240531)`

// Open connects to the database at url (postgres://...; a search_path
// parameter selects the schema) and brings its schema up to date.
func Open(ctx context.Context, url string, opts store.Options) (*Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	d := sqlstore.Dialect{
		Name:         "postgres",
		Dollar:       true,
		ForUpdate:    " FOR UPDATE",
		IsUnique:     func(err error) bool { return pgCode(err) == "23505" },
		IsForeignKey: func(err error) bool { return pgCode(err) == "23503" },
		MigrateLock:  migrateLock,
		MaxParams:    65535,
		InsertEvents: insertEvents,
	}
	s, err := sqlstore.New(ctx, db, db, d, sub, opts)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{DB: s}, nil
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// insertEvents sends a batch as one statement of column arrays: PostgreSQL
// unnests them into rows, so the statement's size does not grow with the
// batch and it is planned once per connection.
const insertEventsSQL = `INSERT INTO events (` + sqlstore.EventColumns + `)
SELECT $1, t.seq, $2, $3, t.time_ms, t.trusted, t.boot, t.uptime_ms, t.kind, t.uid, t.member, t.reason, t.wl_version, t.command
FROM unnest($4::bigint[], $5::bigint[], $6::boolean[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[])
	AS t(seq, time_ms, trusted, boot, uptime_ms, kind, uid, member, reason, wl_version, command)
ON CONFLICT (door, seq) DO NOTHING`

func insertEvents(ctx context.Context, tx *sql.Tx, door, center string, receivedMs int64, events []protocol.Event) (int64, error) {
	n := len(events)
	var (
		seq, timeMs, uptime, wl             = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		trusted                             = make([]bool, n)
		boot, kind, uid, member, reason, cm = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	)
	for i := range events {
		e := &events[i]
		seq[i], timeMs[i], uptime[i], wl[i] = int64(e.Seq), e.TimeMs, e.UptimeMs, int64(e.WLVersion)
		trusted[i] = e.Trusted
		boot[i], kind[i], uid[i], member[i], reason[i], cm[i] = e.Boot, string(e.Kind), string(e.UID), e.Member, string(e.Reason), e.Command
	}
	res, err := tx.ExecContext(ctx, insertEventsSQL, door, center, receivedMs,
		seq, timeMs, trusted, boot, uptime, kind, uid, member, reason, wl, cm)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
