package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.ExecContext(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO t VALUES ('a', 1), ('b', 2)`)
	require.NoError(t, err)
	const byKey = `SELECT v FROM t WHERE k = ?`

	t.Run("off", func(t *testing.T) {
		c := newStmtCache(db, false)
		require.Nil(t, c)
		require.Nil(t, c.get(ctx, byKey))
		require.Zero(t, c.len())
		require.NoError(t, c.close())
	})
	t.Run("one statement per query", func(t *testing.T) {
		c := newStmtCache(db, true)
		st := c.get(ctx, byKey)
		require.NotNil(t, st)
		require.Same(t, st, c.get(ctx, byKey))
		for k, want := range map[string]int{"a": 1, "b": 2} {
			var v int
			require.NoError(t, st.QueryRowContext(ctx, k).Scan(&v))
			require.Equal(t, want, v)
		}
		require.Equal(t, 1, c.len())
		require.NoError(t, c.close())
		require.Zero(t, c.len())
		require.Error(t, st.QueryRowContext(ctx, "a").Scan(new(int)), "closed with the cache")
	})
	t.Run("a query that does not prepare is not kept", func(t *testing.T) {
		c := newStmtCache(db, true)
		require.Nil(t, c.get(ctx, `SELECT nothing FROM nowhere`))
		require.Zero(t, c.len())
	})
	t.Run("long lists of placeholders are not kept", func(t *testing.T) {
		c := newStmtCache(db, true)
		in := func(n int) string {
			return `SELECT count(*) FROM t WHERE k IN (?` + strings.Repeat(`, ?`, n-1) + `)`
		}
		require.NotNil(t, c.get(ctx, in(maxCachedParams)))
		require.Nil(t, c.get(ctx, in(maxCachedParams+1)))
		require.Nil(t, c.get(ctx, `SELECT k FROM t WHERE v = 1`+strings.Repeat(` OR v = 1`, maxCachedQueryBytes/len(` OR v = 1`))))
		require.Equal(t, 1, c.len())
		require.NoError(t, c.close())
	})
	t.Run("full: the next queries are not kept", func(t *testing.T) {
		c := newStmtCache(db, true)
		c.max = 2
		require.NotNil(t, c.get(ctx, byKey))
		require.NotNil(t, c.get(ctx, `SELECT count(*) FROM t`))
		require.Nil(t, c.get(ctx, `SELECT k FROM t WHERE v = ?`))
		require.Equal(t, 2, c.len())
		require.NotNil(t, c.get(ctx, byKey), "what it holds is still served")
		require.NoError(t, c.close())
	})
}

// len is how many statements the cache holds.
func (c *stmtCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
