package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// pool is a *sql.DB that, when prepare is set, keeps one prepared
// statement per query text.
//
// Why: modernc.org/sqlite compiles the SQL on every unprepared call, and for
// the store's wide rows that costs more than executing the query (a session
// lookup measured ~68 µs unprepared against ~27 µs prepared). The query
// texts are constants, so the cache is bounded. PostgreSQL does not need
// it: pgx already caches prepared statements per connection.
//
// Every call is bounded by timeout (storage.query_timeout) when it is set.
//
// SQLite's write pool also group-commits ExecContext (see committer).
type pool struct {
	db      *sql.DB
	prepare bool
	timeout time.Duration
	group   *committer // nil: every ExecContext is its own autocommit
	// faults counts the storage faults of the calls that write (SQLite's
	// write pool only; nil elsewhere): see WriteFaults.
	faults *faultCounts

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newPool(db *sql.DB, prepare bool, timeout time.Duration) *pool {
	return &pool{db: db, prepare: prepare, timeout: timeout, stmts: map[string]*sql.Stmt{}}
}

// newGroupPool returns a pool like newPool whose ExecContext calls are
// group-committed by a committer goroutine, stopped by Close. For
// SQLite's single write connection only (see committer).
func newGroupPool(db *sql.DB, prepare bool, timeout time.Duration) *pool {
	p := newPool(db, prepare, timeout)
	p.group = newCommitter(db)
	p.faults = new(faultCounts)
	return p
}

// bound limits one call to the pool's timeout. Why: a database that stops
// answering (a frozen or partitioned PostgreSQL, a stalled disk) would
// otherwise hold each request until server.request_timeout, and each
// pooled connection with it; bounded, the call fails, the handler answers
// the system-busy error (contract §6), and the driver drops the
// connection. The bound covers the wait for a connection of the pool as
// well as the statement.
func (p *pool) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, p.timeout)
}

// stmt returns the prepared statement for q, preparing it on first use.
// A *sql.Stmt is safe for concurrent use and re-prepares itself on each
// connection of the pool as needed.
func (p *pool) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	p.mu.RLock()
	st := p.stmts[q]
	p.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	// Prepare without holding mu: preparing needs a connection, and the
	// write pool's only connection may be busy in a transaction.
	st, err := p.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev := p.stmts[q]; prev != nil {
		st.Close() // lost a race to prepare the same text
		return prev, nil
	}
	p.stmts[q] = st
	return st, nil
}

// ExecContext runs a statement that returns no rows. On a group-commit
// pool the bound covers the wait in the queue and the statement; a caller
// whose statement has run then waits for its batch's COMMIT (see
// committer).
func (p *pool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := p.exec(ctx, q, args)
	p.faults.count(err)
	return res, err
}

func (p *pool) exec(ctx context.Context, q string, args []any) (sql.Result, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	if !p.prepare {
		if p.group != nil {
			return p.group.exec(ctx, nil, q, args)
		}
		return p.db.ExecContext(ctx, q, args...)
	}
	// Prepared here, by the caller, not by the committer: preparing
	// needs the connection, which the committer's transaction holds.
	st, err := p.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if p.group != nil {
		return p.group.exec(ctx, st, q, args)
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs a query. The bound also covers reading the rows: the
// context is released at its deadline or when the caller's context ends,
// since *sql.Rows has no hook that could release it at Close (these are
// the few list queries).
func (p *pool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, _ = p.bound(ctx)
	if !p.prepare {
		return p.db.QueryContext(ctx, q, args...)
	}
	st, err := p.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs a query expected to return at most one row; errors
// are reported by Scan, as with *sql.Row.
func (p *pool) QueryRowContext(ctx context.Context, q string, args ...any) scanner {
	ctx, cancel := p.bound(ctx)
	if !p.prepare {
		return boundRow{p.db.QueryRowContext(ctx, q, args...), cancel, p.faults}
	}
	st, err := p.stmt(ctx, q)
	if err != nil {
		cancel()
		p.faults.count(err)
		return errRow{err}
	}
	return boundRow{st.QueryRowContext(ctx, args...), cancel, p.faults}
}

// boundRow releases the bound of its query once it has been scanned, and
// counts a storage fault of a write (UPDATE … RETURNING) that it reports.
type boundRow struct {
	row    *sql.Row
	cancel context.CancelFunc
	faults *faultCounts
}

func (r boundRow) Scan(dest ...any) error {
	defer r.cancel()
	err := r.row.Scan(dest...)
	r.faults.count(err)
	return err
}

// Close closes the prepared statements and the database. A group-commit
// pool first stops its committer (the statements still queued get an
// error) and closes the database, which ends the committer's wait for the
// connection should another transaction hold it, and waits for the
// committer to return; only then the statements, since closing a
// *sql.Stmt waits for the calls running on it.
func (p *pool) Close() error {
	var errs []error
	if p.group != nil {
		p.group.shutdown()
		errs = append(errs, p.db.Close())
		p.group.wait()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for q, st := range p.stmts {
		errs = append(errs, st.Close())
		delete(p.stmts, q)
	}
	if p.group == nil {
		errs = append(errs, p.db.Close())
	}
	return errors.Join(errs...)
}

// errRow is a row whose Scan reports err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
