package e2e

import (
	"context"
	"database/sql"
	"testing"
	"time"

	// Registers the database/sql drivers the server uses ("sqlite" and
	// "pgx"), for reading the database of a killed server directly.
	_ "github.com/sesame-idp/sesame/internal/store/sqlstore"
)

// rawDB opens the database the nodes of a test use, for checking
// invariants in the rows themselves (what no HTTP answer can show: how many
// usable refresh tokens a family has). Queries use $n placeholders, which
// both drivers accept.
func rawDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	name := map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[driver]
	db, err := sql.Open(name, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}

// count runs a query returning one integer.
func count(ctx context.Context, t *testing.T, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var n int64
	if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
