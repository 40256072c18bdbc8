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
type pool struct {
	db      *sql.DB
	prepare bool
	timeout time.Duration

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newPool(db *sql.DB, prepare bool, timeout time.Duration) *pool {
	return &pool{db: db, prepare: prepare, timeout: timeout, stmts: map[string]*sql.Stmt{}}
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

// ExecContext runs a statement that returns no rows.
func (p *pool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	if !p.prepare {
		return p.db.ExecContext(ctx, q, args...)
	}
	st, err := p.stmt(ctx, q)
	if err != nil {
		return nil, err
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
		return boundRow{p.db.QueryRowContext(ctx, q, args...), cancel}
	}
	st, err := p.stmt(ctx, q)
	if err != nil {
		cancel()
		return errRow{err}
	}
	return boundRow{st.QueryRowContext(ctx, args...), cancel}
}

// boundRow releases the bound of its query once it has been scanned.
type boundRow struct {
	row    *sql.Row
	cancel context.CancelFunc
}

func (r boundRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.row.Scan(dest...)
}

// Close closes the prepared statements and the database.
func (p *pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for q, st := range p.stmts {
		errs = append(errs, st.Close())
		delete(p.stmts, q)
	}
	return errors.Join(append(errs, p.db.Close())...)
}

// errRow is a row whose Scan reports err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
