// Package sqlite is the embedded default store: one SQLite file in WAL mode
// (modernc.org/sqlite, no cgo) with a single writer connection and a small
// pool of readers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/internal/sqlstore"
	"github.com/smartworkcenters/swc/shared/protocol"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure the SQLite store.
type Options struct {
	store.Options
	// Synchronous is SQLite's synchronous setting: "FULL" (the default; a
	// commit survives a power cut, which an acknowledged event must) or
	// "NORMAL" (a commit survives a crash of the process but not of the
	// machine).
	Synchronous string
}

// Store is the SQLite store.Store.
type Store struct {
	*sqlstore.DB
	w *sql.DB

	mu    sync.Mutex
	stmts map[int]*sql.Stmt // multi-row event inserts by row count
}

var _ store.Store = (*Store)(nil)

// eventChunks are the row counts of the prepared multi-row event inserts
// (14 parameters a row); a batch is cut into them, largest first.
func eventChunks() []int { return []int{100, 50, 20, 10, 5, 2, 1} }

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q is empty or holds '?' or '#'", path)
	}
	syncMode := strings.ToUpper(opts.Synchronous)
	if syncMode == "" {
		syncMode = "FULL"
	}
	if syncMode != "FULL" && syncMode != "NORMAL" {
		return nil, fmt.Errorf("sqlite: synchronous %q; want FULL or NORMAL", opts.Synchronous)
	}
	// Page caches: SQLite's memory is outside Go's heap and its soft limit
	// (GOMEMLIMIT), and each connection fills its cache up to cache_size.
	// At 64 MiB for the writer and for each of the four readers, a
	// 150 MB database held about 120 MiB of caches in the central of a
	// 10,000-door fleet, which put it over its 1 GB. The writer keeps
	// 16 MiB (BenchmarkIngestEndToEnd/sqlite: 110,000-116,000 events/s
	// with 64 MiB, 114,000-118,000 with 16); the readers, which map the
	// file, 4 MiB each (their cache holds the pages read from the WAL).
	base := path + "?_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_synchronous=" + syncMode +
		"&_pragma=temp_store(2)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=cache_size(-16384)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer: SQLite serializes writes anyway, and one connection keeps
	// the prepared event inserts warm.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Readers map the file (up to 1 GiB) instead of copying pages through
	// read calls: a month's settlement from scratch reads a million
	// events, about a third faster so.
	r, err := sql.Open("sqlite", base+"&_query_only=1&_pragma=mmap_size(1073741824)&_pragma=cache_size(-4096)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Every reader stays open: database/sql keeps two idle connections
	// unless told, and a third or fourth reader was closed after its query
	// and opened again for the next one, parsing the schema each time (3 %
	// of the central's CPU in the 20 s after a restart of 10,000 doors).
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	s := &Store{w: w, stmts: map[int]*sql.Stmt{}}
	sub, _ := fs.Sub(migrations, "migrations")
	d := sqlstore.Dialect{
		Name:            "sqlite",
		CacheStatements: true,
		IsUnique: func(err error) bool {
			return code(err) == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || code(err) == sqlite3.SQLITE_CONSTRAINT_UNIQUE
		},
		IsForeignKey:  func(err error) bool { return code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
		MaxParams:     32766,
		InsertBatches: s.insertBatches,
		SaveSeqs:      saveSeqs,
		TrackEvents:   true,
	}
	db, err := sqlstore.New(ctx, w, r, d, sub, opts.Options)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	s.DB = db
	for _, n := range eventChunks() {
		if err := s.prepare(ctx, n); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: prepare event insert: %w", err)
		}
	}
	return s, nil
}

func code(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// prepare prepares the insert of n events. INSERT OR IGNORE skips events
// already stored like ON CONFLICT (door, seq) DO NOTHING would, and since it
// cannot abort halfway SQLite writes no statement journal for it (every
// column is bound non-NULL, so IGNORE never hides another violation).
// Statements are prepared at Open:
// preparing on the single writer connection while a transaction holds it
// would wait forever.
func (s *Store) prepare(ctx context.Context, n int) error {
	var q strings.Builder
	q.WriteString("INSERT OR IGNORE INTO events (" + sqlstore.EventColumns + ") VALUES ")
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	st, err := s.w.PrepareContext(ctx, q.String())
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.stmts[n] = st
	s.mu.Unlock()
	return nil
}

// insertBatches inserts batch after batch (in process, statements cost no
// round trip); INSERT OR IGNORE leaves a later copy of an event uncounted.
func (s *Store) insertBatches(ctx context.Context, tx *sql.Tx, receivedMs int64, batches []store.DoorEvents, centers map[string]string) ([]int, error) {
	news := make([]int, len(batches))
	for i, b := range batches {
		n, err := s.insertEvents(ctx, tx, b.Door, centers[b.Door], receivedMs, b.Events)
		if err != nil {
			return nil, err
		}
		news[i] = int(n)
	}
	return news, nil
}

func saveSeqs(ctx context.Context, tx *sql.Tx, states map[store.StreamKey]store.SeqState) error {
	for k, st := range states {
		if _, err := tx.ExecContext(ctx, `UPDATE event_streams SET through_seq = ?, max_seq = ? WHERE door = ? AND store = ?`,
			int64(st.Through), int64(st.Max), k.Door, k.Store); err != nil {
			return err
		}
	}
	return nil
}

// insertEvents inserts in multi-row statements of the sizes in eventChunks,
// largest first.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, door, center string, receivedMs int64, events []protocol.Event) (int64, error) {
	var total int64
	chunks := eventChunks()
	args := make([]any, 0, 15*min(len(events), chunks[0]))
	for len(events) > 0 {
		n := chunks[len(chunks)-1]
		for _, c := range chunks {
			if c <= len(events) {
				n = c
				break
			}
		}
		s.mu.Lock()
		st := s.stmts[n]
		s.mu.Unlock()
		args = args[:0]
		for i := range events[:n] {
			args = sqlstore.EventArgs(args, door, center, receivedMs, &events[i])
		}
		res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += k
		events = events[n:]
	}
	return total, nil
}

// Close closes the prepared statements and the database.
func (s *Store) Close() error {
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.mu.Unlock()
	return s.DB.Close()
}
