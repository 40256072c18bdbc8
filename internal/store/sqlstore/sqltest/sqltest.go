// Package sqltest opens throw-away sqlstore databases for tests, so that
// any package can run its tests on SQLite and, when a server is available,
// PostgreSQL:
//
//	for _, b := range sqltest.Backends() {
//		t.Run(b.Name, func(t *testing.T) {
//			s := b.Open(t) // skips the subtest if the backend is unavailable
//			...
//		})
//	}
//
// PostgreSQL tests need SESAME_TEST_POSTGRES_DSN, a connection string of a
// role allowed to create databases (for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). Each store gets
// its own fresh database, dropped when the test ends, so tests may run in
// parallel and share the server with anything else.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the admin connection

	"github.com/sesame-idp/sesame/internal/store/sqlstore"
)

// EnvPostgresDSN names the environment variable holding the admin DSN of
// the PostgreSQL server used by tests.
const EnvPostgresDSN = "SESAME_TEST_POSTGRES_DSN"

// maxConns keeps each test store's PostgreSQL pool small: the server is
// shared by parallel tests and other packages' test binaries.
const maxConns = 10

// Backend is a named store constructor.
type Backend struct {
	Name string // "sqlite" or "postgres"
	// Open returns a fresh store, closed and deleted at the end of the
	// test; it skips the test if the backend is not available.
	Open func(t testing.TB) *sqlstore.Store
}

// Backends returns the constructors of every backend, SQLite first.
func Backends() []Backend {
	return []Backend{
		{Name: sqlstore.DriverSQLite, Open: SQLite},
		{Name: sqlstore.DriverPostgres, Open: Postgres},
	}
}

// SQLite returns a store on a new SQLite file in t.TempDir().
func SQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	return open(t, sqlstore.Config{
		Driver: sqlstore.DriverSQLite,
		DSN:    SQLitePath(t),
		// No fsync per commit: these throw-away stores do not test
		// durability against OS crashes (test/faults does).
		SQLiteSynchronous: "normal",
	})
}

// SQLitePath returns the path of a not yet existing database file in
// t.TempDir(), for tests that open it themselves (several times, say).
func SQLitePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "sesame.db")
}

// Postgres returns a store on a fresh PostgreSQL database (see
// PostgresDSN). It skips the test when EnvPostgresDSN is not set.
func Postgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	return open(t, sqlstore.Config{
		Driver:       sqlstore.DriverPostgres,
		DSN:          PostgresDSN(t),
		MaxOpenConns: maxConns,
	})
}

func open(t testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlstore.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("sqltest: open %s store: %v", cfg.Driver, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sqltest: close store: %v", err)
		}
	})
	return s
}

// PostgresDSN creates an empty database named sesame_test_<random> on the
// server of EnvPostgresDSN and returns a DSN for it, without applying
// migrations (sqlstore.Open does). The database is dropped at the end of
// the test, after closing any connection still open to it. It skips the
// test when EnvPostgresDSN is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgresDSN)
	if admin == "" {
		t.Skip(EnvPostgresDSN + " not set: skipping PostgreSQL tests")
	}
	name := "sesame_test_" + randomHex(8)
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("sqltest: %s: %v", EnvPostgresDSN, err)
	}
	// Identifiers cannot be bound as parameters; name is ours and safe.
	if err := adminExec(admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("sqltest: create database: %v", err)
	}
	t.Cleanup(func() {
		// WITH (FORCE) (PostgreSQL 13+) terminates sessions still
		// connected, e.g. of a server process the test started.
		if err := adminExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("sqltest: drop database %s: %v", name, err)
		}
	})
	return dsn
}

// adminExec runs one statement on a short-lived admin connection.
func adminExec(adminDSN, stmt string) error {
	// Not t.Context(): cleanups run after it is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// withDatabase returns dsn with its database replaced by name. It accepts
// the URL form (postgres://...) and the key=value form, where a later
// dbname overrides an earlier one.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	return dsn + " dbname=" + name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
