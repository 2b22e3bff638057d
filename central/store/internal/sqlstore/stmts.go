package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
)

// What a stmtCache keeps: each statement costs SQLite memory on every
// connection it ran on, outside Go's heap. The store's readers run about
// 80 places' queries, short, some with a few optional conditions (a few
// variants each). Queries built with a list of placeholders (IN lists: the
// check-ins read the bookings of up to 1,000 members at once, with a
// different count each time) would fill the cache with large programs used
// once, so a query with more placeholders, or a longer text, is not kept;
// past the bound, queries run unprepared as before.
const (
	maxCachedStatements = 256
	maxCachedParams     = 16
	maxCachedQueryBytes = 4 << 10
)

// stmtCache keeps one prepared statement per query text, for a pool whose
// connections stay open (Dialect.CacheStatements). Run unprepared, a query
// is parsed again each time: after a restart of 10,000 doors, parsing took
// 15 % of the SQLite central's CPU (the alerts, the check-ins, the API's
// token checks). database/sql prepares a cached statement on each
// connection of the pool the first time it runs there.
//
// Statements are never evicted, so that one in use is never closed; a
// query the cache does not keep, or whose preparation failed, runs
// unprepared (which reports the error, if any, as before).
type stmtCache struct {
	pool *sql.DB
	max  int

	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

// newStmtCache returns a cache over pool, or nil (no caching) when on is
// false.
func newStmtCache(pool *sql.DB, on bool) *stmtCache {
	if !on {
		return nil
	}
	return &stmtCache{pool: pool, max: maxCachedStatements, m: map[string]*sql.Stmt{}}
}

// get returns q's prepared statement, preparing it the first time, or nil.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	st, full := c.m[q], len(c.m) >= c.max
	c.mu.RUnlock()
	if st != nil || full || len(q) > maxCachedQueryBytes || strings.Count(q, "?") > maxCachedParams {
		return st
	}
	st, err := c.pool.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[q]; old != nil || len(c.m) >= c.max {
		_ = st.Close()
		return old
	}
	c.m[q] = st
	return st
}

// close closes the cached statements.
func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
