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
		Name:          "postgres",
		Dollar:        true,
		ForUpdate:     " FOR UPDATE",
		IsUnique:      func(err error) bool { return pgCode(err) == "23505" },
		IsForeignKey:  func(err error) bool { return pgCode(err) == "23503" },
		IsExclusion:   func(err error) bool { return pgCode(err) == "23P01" },
		MigrateLock:   migrateLock,
		MaxParams:     65535,
		Bytewise:      ` COLLATE "C"`,
		InsertBatches: insertBatches,
		SaveSeqs:      saveSeqs,
		PostingCursor: true,
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

// insertBatchesSQL inserts the events of many doors as one statement and
// returns the rows it inserted, which tells each batch how many were new.
const insertBatchesSQL = `INSERT INTO events (` + sqlstore.EventColumns + `)
SELECT t.door, t.seq, t.center_id, $1, t.time_ms, t.trusted, t.boot, t.uptime_ms, t.kind, t.uid, t.member, t.reason, t.wl_version, t.command, t.read_ctr
FROM unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::boolean[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::bigint[])
	AS t(door, seq, center_id, time_ms, trusted, boot, uptime_ms, kind, uid, member, reason, wl_version, command, read_ctr)
ON CONFLICT (door, seq) DO NOTHING
RETURNING door, seq`

type doorSeq struct {
	door string
	seq  int64
}

func insertBatches(ctx context.Context, tx *sql.Tx, receivedMs int64, batches []store.DoorEvents, centers map[string]string) ([]int, error) {
	n := 0
	for _, b := range batches {
		n += len(b.Events)
	}
	var (
		door, center, boot, kind, uid, member, reason, cm = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		seq, timeMs, uptime, wl, readCtr                  = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		trusted                                           = make([]bool, 0, n)
	)
	owner := make(map[doorSeq]int, n) // which batch first holds each event
	for bi, b := range batches {
		for i := range b.Events {
			e := &b.Events[i]
			k := doorSeq{b.Door, int64(e.Seq)}
			if _, dup := owner[k]; dup {
				continue
			}
			owner[k] = bi
			door, center, seq = append(door, b.Door), append(center, centers[b.Door]), append(seq, int64(e.Seq))
			timeMs, trusted, boot, uptime = append(timeMs, e.TimeMs), append(trusted, e.Trusted), append(boot, e.Boot), append(uptime, e.UptimeMs)
			kind, uid, member, reason = append(kind, string(e.Kind)), append(uid, string(e.UID)), append(member, e.Member), append(reason, string(e.Reason))
			wl, cm, readCtr = append(wl, int64(e.WLVersion)), append(cm, e.Command), append(readCtr, int64(e.ReadCounter))
		}
	}
	news := make([]int, len(batches))
	if len(seq) == 0 {
		return news, nil
	}
	rows, err := tx.QueryContext(ctx, insertBatchesSQL, receivedMs,
		door, seq, center, timeMs, trusted, boot, uptime, kind, uid, member, reason, wl, cm, readCtr)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k doorSeq
		if err := rows.Scan(&k.door, &k.seq); err != nil {
			return nil, err
		}
		news[owner[k]]++
	}
	return news, rows.Err()
}

func saveSeqs(ctx context.Context, tx *sql.Tx, states map[store.StreamKey]store.SeqState) error {
	doors := make([]string, 0, len(states))
	stores := make([]string, 0, len(states))
	through := make([]int64, 0, len(states))
	mx := make([]int64, 0, len(states))
	for k, st := range states {
		doors, stores = append(doors, k.Door), append(stores, k.Store)
		through, mx = append(through, int64(st.Through)), append(mx, int64(st.Max))
	}
	_, err := tx.ExecContext(ctx, `UPDATE event_streams AS s SET through_seq = u.through_seq, max_seq = u.max_seq
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u(door, store, through_seq, max_seq)
		WHERE s.door = u.door AND s.store = u.store`,
		doors, stores, through, mx)
	return err
}
