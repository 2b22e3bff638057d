package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/smartworkcenters/swc/shared/servicetest"
)

// PostgresSchema creates a schema of its own for one test on the server of
// SWC_TEST_POSTGRES_URL (so that concurrent runs never meet), drops it when
// the test ends, and returns a URL that selects it. Without the variable the
// test is skipped, or fails under SWC_REQUIRE_SERVICES=1.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := servicetest.PostgresURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "swc_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
