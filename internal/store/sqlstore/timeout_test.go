package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// queryTimeout is the store's bound in these tests; waitLimit is how long
// a bounded call may take on a loaded machine. The callers' contexts allow
// far longer, so only the store's bound can end the calls in time.
const (
	queryTimeout = 300 * time.Millisecond
	waitLimit    = 5 * time.Second
)

// TestQueryTimeout checks Config.QueryTimeout (storage.query_timeout): a
// call that cannot proceed — a row locked by another transaction on
// PostgreSQL, SQLite's one write connection held by another transaction —
// fails with context.DeadlineExceeded after the bound, not when the
// caller's context ends, and the store works again once the obstacle is
// gone.
func TestQueryTimeout(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		dsn := sqltest.PostgresDSN(t) // skips without SESAME_TEST_POSTGRES_DSN
		s := openBounded(t, sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: dsn, MaxOpenConns: 4, QueryTimeout: queryTimeout})
		sess := seedSession(t, s)

		// Another client holds the session's row lock.
		other, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		tx, err := other.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(t.Context(), `SELECT id FROM sessions WHERE id = $1 FOR UPDATE`, sess.ID); err != nil {
			t.Fatal(err)
		}
		checkBounded(t, "RotateSessionToken on a locked row", func(ctx context.Context) error {
			_, err := s.RotateSessionToken(ctx, sess.TenantID, sess.TokenHash, []byte("next-hash-1"), time.Now(), time.Now().Add(time.Hour))
			return err
		})
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		checkWorks(t, s, sess)
	})
	t.Run("sqlite", func(t *testing.T) {
		s := openBounded(t, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: sqltest.SQLitePath(t), QueryTimeout: queryTimeout})
		sess := seedSession(t, s)

		// A transaction of the test holds the only write connection, as a
		// stalled write would.
		tx, err := sqlstore.WriteDB(s).BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		checkBounded(t, "CreateSession while the write connection is held", func(ctx context.Context) error {
			other := sess
			other.ID, other.TokenHash = "session-2", []byte("token-hash-2")
			return s.CreateSession(ctx, other)
		})
		checkBounded(t, "RevokeGrant (a transaction) while the write connection is held", func(ctx context.Context) error {
			_, err := s.RevokeGrant(ctx, sess.TenantID, "grant-1")
			return err
		})
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		checkWorks(t, s, sess)
	})
}

func openBounded(t *testing.T, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seedSession(t *testing.T, s *sqlstore.Store) store.Session {
	t.Helper()
	now := time.Now()
	sess := store.Session{
		ID: "session-1", TenantID: "t1", UserID: "u1", ClientID: "app",
		TokenHash: []byte("token-hash-1"), AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	return sess
}

// checkBounded runs call with a context of 10 s and checks that it
// fails with context.DeadlineExceeded within waitLimit.
func checkBounded(t *testing.T, what string, call func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*waitLimit)
	defer cancel()
	start := time.Now()
	err := call(ctx)
	took := time.Since(start)
	switch {
	case err == nil:
		t.Errorf("%s: succeeded, want the query timeout", what)
	case !errors.Is(err, context.DeadlineExceeded):
		t.Errorf("%s: %v, want context.DeadlineExceeded", what, err)
	case ctx.Err() != nil:
		t.Errorf("%s: the caller's context ended first", what)
	case took < queryTimeout || took > waitLimit:
		t.Errorf("%s: failed after %v, want about %v", what, took, queryTimeout)
	}
	t.Logf("%s: %v after %v", what, err, took.Round(time.Millisecond))
}

// checkWorks checks that the store writes and reads again. (On
// PostgreSQL the bounded UPDATE may still have run once the lock was
// released: the driver gave up on the connection, not on the statement,
// so the rotation is not checked here. The server tolerates such a
// write, answered as busy but done, by the rotation grace period.)
func checkWorks(t *testing.T, s *sqlstore.Store, sess store.Session) {
	t.Helper()
	sess.ID, sess.TokenHash = "session-3", []byte("token-hash-3")
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession after the obstacle is gone: %v", err)
	}
	if _, err := s.SessionByTokenHash(t.Context(), sess.TenantID, sess.TokenHash); err != nil {
		t.Fatalf("SessionByTokenHash after the obstacle is gone: %v", err)
	}
}
