package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"

	"github.com/sesame-idp/sesame/internal/store"
)

// Driver names accepted in Config.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Default pool sizes.
const (
	defaultSQLiteReaders = 4
	defaultPostgresConns = 20
)

// Config selects and configures the database.
type Config struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string
	// DSN is, for SQLite, the path of the database file (its directory is
	// created if missing) and, for PostgreSQL, a pgx connection string
	// (URL or key=value form).
	DSN string
	// MaxOpenConns bounds the pool: for SQLite the read pool (writes always
	// go through one connection), for PostgreSQL the only pool. 0 selects
	// the default (4 SQLite readers, 20 PostgreSQL connections).
	MaxOpenConns int
	// QueryTimeout bounds every call to the database (storage.query_timeout):
	// one statement, including the wait for a pooled connection, and the
	// BEGIN and COMMIT of a transaction. The statements inside a
	// transaction run under the caller's context (for a request, bounded
	// by server.request_timeout). 0: no bound of the store's own.
	QueryTimeout time.Duration
	// SQLiteSynchronous is SQLite's synchronous setting (see openSQLite):
	// "full" (the default, also for "") fsyncs every commit before it is
	// answered; "normal" leaves the last commits to the next checkpoint's
	// fsync, which is faster but loses them in an OS crash, a power loss
	// or a file system error. The test harnesses use "normal": they do not
	// test durability against such faults, which test/faults does.
	SQLiteSynchronous string
	// Logger receives migration progress; nil discards it.
	Logger *slog.Logger
}

// Store is the database/sql implementation of store.Store for SQLite and
// PostgreSQL. It is safe for concurrent use.
type Store struct {
	// w runs every statement that writes, r every read-only query. For
	// PostgreSQL they are the same pool; for SQLite w has a single
	// connection, because SQLite admits one writer at a time and a Go-side
	// queue is cheaper and fairer than SQLITE_BUSY retries, while r has
	// several connections that read concurrently from the WAL snapshot.
	w, r    *pool
	dialect dialect

	// grantSweep is where SweepExpired's scan of the grants table
	// resumes (see sweepGrants).
	grantSweep struct {
		sync.Mutex
		after grantKey // the last grant examined; zero: start of the table
	}
}

var _ store.Store = (*Store)(nil)

// dialect holds the few things that differ between the databases. The SQL
// text of queries does not: modernc.org/sqlite binds $1..$N like PostgreSQL,
// and both support ON CONFLICT, RETURNING and row-limited subqueries.
type dialect struct {
	name         string // migrations directory and driver name
	gooseDialect goose.Dialect
	// isUnique reports whether err is a unique or primary-key violation.
	isUnique func(error) bool
	// forShare ends the SELECT that reads a grant's row before a token of
	// the grant is created (see checkGrant). PostgreSQL needs the row
	// lock: RevokeGrant's UPDATE of the row then waits for every creation
	// that has read it, and a creation that reads it after the UPDATE
	// waits for RevokeGrant to commit and sees the revocation. (FOR KEY
	// SHARE would not do: it does not conflict with an UPDATE that leaves
	// the key alone.) SQLite needs nothing: every write transaction holds
	// the database's write lock from BEGIN (IMMEDIATE) to COMMIT on the
	// single write connection, so the two transactions never overlap.
	forShare string
}

var sqliteDialect = dialect{
	name:         DriverSQLite,
	gooseDialect: goose.DialectSQLite3,
	isUnique: func(err error) bool {
		// Extended result codes are enabled by the driver:
		// SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
		var e *sqlite.Error
		return errors.As(err, &e) && (e.Code() == 2067 || e.Code() == 1555)
	},
	forShare: "",
}

var postgresDialect = dialect{
	name:         DriverPostgres,
	gooseDialect: goose.DialectPostgres,
	isUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505" // unique_violation
	},
	forShare: " FOR SHARE",
}

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Open connects to the database described by cfg, applies any pending
// migrations and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DSN == "" {
		return nil, errors.New("sqlstore: empty DSN")
	}
	var (
		s   *Store
		err error
	)
	switch cfg.Driver {
	case DriverSQLite:
		s, err = openSQLite(ctx, cfg)
	case DriverPostgres:
		s, err = openPostgres(ctx, cfg)
	default:
		return nil, fmt.Errorf("sqlstore: unknown driver %q (want %q or %q)", cfg.Driver, DriverSQLite, DriverPostgres)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, logger); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openSQLite opens the write and read pools on the database file.
//
// Durability: journal_mode=WAL with synchronous=FULL (the default of
// Config.SQLiteSynchronous) writes every commit to the WAL file and fsyncs
// it before the statement returns, so a commit that was answered survives
// the process being killed, an OS crash, a power loss, and a file system
// that the kernel turns read-only after an I/O error (errors=remount-ro).
// synchronous=NORMAL defers the fsync to checkpoints and leaves the last
// commits in the page cache only: the fault test TestSQLiteReadOnly lost
// every session answered in the seconds before such an error. The fsync
// costs each write transaction about 1 ms on the project's VM (0.8-2 ms
// measured under load, against 0.05 ms without), on the one write
// connection; reads are unaffected. Concurrent single-statement writes
// share that cost: the write pool group-commits them (see committer), one
// fsync per batch, each answered after its batch's COMMIT.
func openSQLite(ctx context.Context, cfg Config) (*Store, error) {
	path := strings.TrimPrefix(cfg.DSN, "file:")
	if path == ":memory:" || strings.ContainsAny(path, "?") {
		// Two pools on ":memory:" would be two unrelated databases, and
		// the query parameters are ours to set.
		return nil, errors.New("sqlstore: SQLite DSN must be a plain file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: create database directory: %w", err)
	}
	if err := checkWritable(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("sqlstore: the SQLite data directory must be writable: %w", err)
	}
	var sync string
	switch strings.ToLower(cfg.SQLiteSynchronous) {
	case "", "full":
		sync = "FULL"
	case "normal":
		sync = "NORMAL"
	default:
		return nil, fmt.Errorf("sqlstore: SQLite synchronous must be full or normal, not %q", cfg.SQLiteSynchronous)
	}
	common := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	// _txlock=immediate makes BEGIN take the write lock at once, so a
	// transaction never fails half-way with SQLITE_BUSY when it upgrades
	// from reading to writing.
	w, err := sql.Open("sqlite", path+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous("+sync+")&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The write connection sets journal_mode=WAL, which is persistent in
	// the file; connect it before any reader opens the file.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	n := cfg.MaxOpenConns
	if n <= 0 {
		n = defaultSQLiteReaders
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	// The write pool group-commits single statements: see committer.
	return &Store{w: newGroupPool(w, true, cfg.QueryTimeout), r: newPool(r, true, cfg.QueryTimeout), dialect: sqliteDialect}, nil
}

// checkWritable creates and removes a file in dir. Why: SQLite creates its
// -wal and -shm files next to the database, and on a read-only file system
// or directory it fails with "unable to open database file", which does
// not say why; the error of the probe does ("read-only file system",
// "permission denied").
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".sesame-write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// openPostgres opens the one pool used for reads and writes.
func openPostgres(ctx context.Context, cfg Config) (*Store, error) {
	db, err := sql.Open("pgx", cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	n := cfg.MaxOpenConns
	if n <= 0 {
		n = defaultPostgresConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	p := newPool(db, false, cfg.QueryTimeout)
	return &Store{w: p, r: p, dialect: postgresDialect}, nil
}

// migrate applies the pending migrations of the store's dialect.
func (s *Store) migrate(ctx context.Context, logger *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations/"+s.dialect.name)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSlog(logger)}
	if s.dialect.name == DriverPostgres {
		// Several nodes may start at once against one database: a
		// session-level advisory lock makes them apply migrations one
		// after the other (the later ones then find nothing pending).
		// Retry every second instead of goose's default five.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("sqlstore: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(s.dialect.gooseDialect, s.w.db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	// p.Close would close s.w.db, so the provider is simply dropped.
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// Ping checks that the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	if s.r != s.w {
		if err := s.r.db.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlstore: ping: %w", err)
		}
	}
	return nil
}

// Close closes the connection pools and prepared statements.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Driver reports the database the store runs on: DriverSQLite or
// DriverPostgres.
func (s *Store) Driver() string { return s.dialect.name }

// wrap turns a database error into the store's error vocabulary:
// sql.ErrNoRows becomes store.ErrNotFound, a unique violation
// store.ErrConflict, anything else a "sqlstore: op: ..." error. Messages
// name only the operation, never parameter values (which may be hashes).
func (s *Store) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case s.dialect.isUnique(err):
		return store.ErrConflict
	default:
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
}

// one checks that an UPDATE or DELETE matched exactly one row; zero rows is
// store.ErrNotFound.
func (s *Store) one(op string, res sql.Result, err error) error {
	if err != nil {
		return s.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(op, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// inTx runs fn in a write transaction and commits it if fn succeeds; an
// error of fn is returned as it is, and undoes fn's writes.
//
// On SQLite the transaction is a unit of the write queue's group commit
// (see committer): fn runs inside a batch's transaction, in a savepoint
// of its own, and the caller is answered after the batch's COMMIT. fn may
// then run twice (a batch that fails runs again unit by unit), so it must
// set, not accumulate, what it returns; and it must use tx only, never
// the store's write pool, which the batch holds.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	// The bound covers the wait for the connection, BEGIN and COMMIT (the
	// context of BeginTx); the statements of fn run under the caller's
	// context, which its closures hold.
	ctx, cancel := s.w.bound(ctx)
	defer cancel()
	var err error
	var fromFn bool
	if g := s.w.group; g != nil {
		err, fromFn = g.tx(ctx, fn)
	} else {
		err, fromFn = runTx(ctx, s.w.db, fn)
	}
	// fn's own error too: a statement of fn may have been refused by
	// the disk.
	s.w.faults.count(err)
	if fromFn {
		return err
	}
	return s.wrap(op, err)
}

// runTx runs fn in a transaction of its own on db and commits it if fn
// succeeds; fromFn reports that err is fn's own (the transaction was then
// rolled back), not BEGIN's or COMMIT's.
func runTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) (err error, fromFn bool) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err, false
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err, true
	}
	return tx.Commit(), false
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// ms converts a time to the stored form: Unix milliseconds, 0 for the zero
// time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms; times come back in UTC.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// dur converts a duration to stored milliseconds.
func dur(d time.Duration) int64 { return d.Milliseconds() }

// fromDur is the inverse of dur.
func fromDur(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// boolInt stores booleans as 0/1 in both dialects.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// nullBytes stores an empty byte slice as NULL, so that nil round-trips.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// lookupable reports whether every key is text a database can compare:
// valid UTF-8 without NUL. PostgreSQL refuses anything else with an error,
// which would surface as a server error for what is only bad input; a key
// that can never have been stored cannot match, so lookups answer
// store.ErrNotFound for it instead, the same on both backends.
func lookupable(keys ...string) bool {
	for _, k := range keys {
		if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
			return false
		}
	}
	return true
}

// collect reads every row of a query with scan, then closes the rows. It
// takes the query's results as QueryContext returns them (err included),
// so that each list method is the query, one call and one error check.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
