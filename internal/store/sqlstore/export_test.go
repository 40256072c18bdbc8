package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// Test hooks for the external tests (package sqlstore_test, which may use
// sqltest; this package's own tests cannot import it).

// MigrateTo migrates the store's database down or up to version.
func MigrateTo(ctx context.Context, s *Store, version int64) error {
	fsys, err := fs.Sub(migrations, "migrations/"+s.dialect.name)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(s.dialect.gooseDialect, s.w.db, fsys)
	if err != nil {
		return err
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if version < cur {
		_, err = p.DownTo(ctx, version)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	return err
}

// ExecRaw runs a statement on the store's write pool, unprepared.
func ExecRaw(ctx context.Context, s *Store, q string, args ...any) error {
	_, err := s.w.db.ExecContext(ctx, q, args...)
	return err
}

// QueryInt runs a query returning one integer on the store's write pool.
func QueryInt(ctx context.Context, s *Store, q string, args ...any) (int64, error) {
	var n int64
	err := s.w.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// WriteDB returns the store's write pool, for tests that hold a
// transaction of their own against the store's.
func WriteDB(s *Store) *sql.DB { return s.w.db }

// ForShare is the dialect's suffix of the grant check's SELECT.
func ForShare(s *Store) string { return s.dialect.forShare }

// SweepGrantQueries are the statements of the grants sweep, each with
// arguments of the right types.
var SweepGrantQueries = []struct {
	Query string
	Args  []any
}{
	{sweepGrantsWindowEnd, []any{"", "", int64(0)}},
	{sweepGrantsQuery, []any{"", "", int64(0), int64(1)}},
}

// TenantTables are the tables DeleteTenant clears by tenant_id.
func TenantTables() []string { return tenantTables }
