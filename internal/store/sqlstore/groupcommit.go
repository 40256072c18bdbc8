package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// maxBatch bounds the statements of one group commit. Why bounded: every
// caller of a batch waits for its COMMIT, so an unbounded batch would let
// the statements of a burst add to each other's latency; 128 statements
// take a few milliseconds, about the cost of the fsync they share.
const maxBatch = 128

// errPoolClosed answers the statements still queued, or arriving, once the
// store is closed.
var errPoolClosed = errors.New("sqlstore: store is closed")

// committer group-commits the single-statement writes of SQLite's write
// pool (pool.ExecContext).
//
// Why: with synchronous=FULL (see openSQLite) every commit waits for an
// fsync of the WAL, about 0.3-1 ms here, on the only write connection, so
// writes in autocommit are bound by the disk's commit rate and not by the
// CPU (client_credentials with opaque tokens, logins and rotations each
// write one row). While one commit is in flight, the writes arriving queue
// up; the next transaction runs all of them (at most maxBatch) and commits
// them with one fsync. Each statement keeps its own sql.Result, and each
// caller is answered only after the COMMIT returned, so an answered write
// is as durable as before. PostgreSQL needs none of this: it already
// flushes the WAL of concurrent commits together (commit_delay aside).
//
// Semantics are those of one autocommit per statement, in arrival order:
//   - The statements of a batch run in the order they were queued, so a
//     conditional UPDATE (a rotation's WHERE token_hash = $old) sees the
//     writes queued before it and has one winner, as when serialized.
//   - A constraint violation (SQLITE_CONSTRAINT: a duplicate key, most
//     often) fails that statement only. SQLite's default conflict
//     resolution, ABORT, backs out the statement's changes and keeps the
//     transaction and the earlier statements
//     (https://sqlite.org/lang_conflict.html); no statement or schema of
//     this store asks for ROLLBACK instead (TestNoRollbackConflictClause
//     checks). The statement alone would have failed the same way, since
//     it sees the same earlier writes.
//   - Any other failure of a statement, or of BEGIN (a full or read-only
//     disk, an interrupted statement, which SQLite answers by rolling the
//     whole transaction back), rolls the batch back and runs each of its
//     statements again alone, in autocommit, so each caller gets what the
//     statement alone gets and nobody's write is lost because of
//     another's. Nothing of the batch was committed, so nothing runs twice.
//   - A failed COMMIT is answered to every caller of the batch as the
//     error it is, without running anything again: the outcome of a
//     COMMIT that reports an I/O error is not certain, and a second run
//     could apply a write twice.
//
// Contexts: a caller whose context ends while its statement is queued
// gets the context's error and the statement is not run. Once its
// statement has started, the caller waits for the truth (the COMMIT's
// outcome), as a caller of the driver does; the statement runs under the
// caller's context, so the pool's bound (storage.query_timeout) interrupts
// a long statement as before.
//
// Transactions of the store (Store.inTx: a code and its grant, a refresh
// token rotation, an audit batch) are queued the same way, as units: a
// unit's function runs in the batch's transaction between a SAVEPOINT and
// its RELEASE, so it sees the writes queued before it and its own, and an
// error of the function undoes its own writes only (ROLLBACK TO), as if
// its transaction had been rolled back alone. Why: each such transaction
// used to commit, and wait for an fsync, on its own, holding the only
// write connection meanwhile; the authorization-code flow, with three of
// them per login, was bound by that connection with most of the CPU idle.
// If a savepoint cannot be set or undone (SQLite rolls the whole
// transaction back on an I/O error or an interrupted statement), the
// batch fails and runs again unit by unit, each unit in its own
// transaction as before; a unit's function may therefore run twice, and
// must set, not accumulate, what it returns.
//
// The committer holds no lock while it waits for the connection or runs
// the batch: QueryRowContext writes (statements with RETURNING) take the
// same connection through database/sql, in turn with the batches.
type committer struct {
	db *sql.DB
	// ctx is the batches' transaction context; cancel (at close) ends a
	// wait for the connection and rolls back a batch not yet committed.
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: there is work queued
	exited chan struct{} // closed when loop returns

	batch []*pending // the statements of the current round (loop's own)

	mu     sync.Mutex
	queue  []*pending
	closed bool

	// Counters, for tests and diagnostics (Store.WriteStats).
	started   atomic.Int64 // statements claimed
	batches   atomic.Int64 // transactions committed by the group path
	fallbacks atomic.Int64 // batches rolled back and run again alone
	commits   atomic.Int64 // batch COMMITs and statements run alone
	busyNS    atomic.Int64 // time spent in round, BEGIN to answers
	commitNS  atomic.Int64 // of which in the batches' COMMIT
}

// pending is one queued statement or unit and, once done is closed, its
// outcome.
type pending struct {
	ctx  context.Context
	st   *sql.Stmt // prepared statement, or nil to run q unprepared
	q    string
	args []any
	// fn, when set, makes this a unit: a transaction of the store, run
	// instead of a statement (see committer). fnFailed tells that err is
	// fn's own error, not the batch's.
	fn       func(tx *sql.Tx) error
	fnFailed bool

	state atomic.Int32 // queued, claimed or abandoned
	res   sql.Result
	err   error
	done  chan struct{}
}

// Values of pending.state. The committer claims a statement just before
// running it, and answers it (closes done) once its outcome is known; a
// statement whose caller's context ends while it is still queued is
// abandoned, by the caller or by the committer, and never runs. Whoever
// swaps first decides; only the committer moves a statement on from
// claimed, and done is closed once.
const (
	queued int32 = iota
	claimed
	abandoned
)

func newCommitter(db *sql.DB) *committer {
	ctx, cancel := context.WithCancel(context.Background())
	g := &committer{
		db: db, ctx: ctx, cancel: cancel,
		batch:  make([]*pending, 0, maxBatch),
		wake:   make(chan struct{}, 1),
		exited: make(chan struct{}),
	}
	go g.loop()
	return g
}

// exec queues a statement and waits for its outcome (see committer).
func (g *committer) exec(ctx context.Context, st *sql.Stmt, q string, args []any) (sql.Result, error) {
	p := &pending{ctx: ctx, st: st, q: q, args: args}
	if err := g.submit(ctx, p); err != nil {
		return nil, err
	}
	return p.res, p.err
}

// tx queues a unit, a transaction of the store, and waits for its
// outcome (see committer); fromFn reports that err is fn's own.
func (g *committer) tx(ctx context.Context, fn func(tx *sql.Tx) error) (err error, fromFn bool) {
	p := &pending{ctx: ctx, fn: fn}
	if err := g.submit(ctx, p); err != nil {
		return err, false
	}
	return p.err, p.fnFailed
}

// submit queues p and waits until it is answered. The error is that of a
// p that never ran: the caller's context ended while it was queued, or
// the committer is closed.
func (g *committer) submit(ctx context.Context, p *pending) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.done = make(chan struct{})
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return errPoolClosed
	}
	g.queue = append(g.queue, p)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default: // already signalled
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		if p.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		<-p.done // started: its outcome is the truth
	}
	return nil
}

// shutdown stops the committer: statements queued or arriving get an
// error, and the batch in flight, if not committed yet, is rolled back and
// its callers get an error. A statement running alone (see round) ends
// when the pool's database is closed; pool.Close then waits for the
// committer goroutine (wait).
func (g *committer) shutdown() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
}

// wait returns once the committer goroutine has.
func (g *committer) wait() { <-g.exited }

func (g *committer) loop() {
	defer close(g.exited)
	for {
		select {
		case <-g.wake:
		case <-g.ctx.Done():
			g.answerRest()
			return
		}
		for g.hasWork() && g.ctx.Err() == nil {
			start := time.Now()
			g.round()
			g.busyNS.Add(int64(time.Since(start)))
		}
	}
}

// hasWork reports whether statements are queued.
func (g *committer) hasWork() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue) > 0
}

// take moves the first statements of the queue to the end of batch, up
// to maxBatch statements in batch.
func (g *committer) take(batch []*pending) []*pending {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := min(len(g.queue), maxBatch-len(batch))
	batch = append(batch, g.queue[:n]...)
	// Shift rather than reslice, so that the queue's array is reused
	// and the answered statements do not stay reachable from it.
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	return batch
}

// answerRest answers everything still queued once the committer stops.
func (g *committer) answerRest() {
	g.mu.Lock()
	rest := g.queue
	g.queue = nil
	g.mu.Unlock()
	g.answer(rest, errPoolClosed)
}

// round runs one batch: BEGIN IMMEDIATE (the DSN's _txlock), the queued
// statements in order, COMMIT, then the answers. The statements queued
// while BEGIN waited for the connection (busy with a transaction of the
// store) join the batch. A statement queued alone runs alone, in
// autocommit: the transaction would only add BEGIN and COMMIT to it.
func (g *committer) round() {
	// g.batch is only the committer goroutine's: reused, and cleared
	// at the end so that it keeps no answered statement reachable.
	batch := g.take(g.batch[:0])
	defer func() { g.batch = batch[:0]; clear(batch) }()
	if len(batch) == 1 {
		g.runAlone(batch)
		return
	}
	tx, err := g.db.BeginTx(g.ctx, nil)
	batch = g.take(batch)
	if err != nil {
		if g.ctx.Err() != nil {
			g.answer(batch, errPoolClosed)
			return
		}
		// BEGIN failed (an I/O error, a lock held by another process
		// past busy_timeout): each statement alone, as before.
		g.fallbacks.Add(1)
		g.runAlone(batch)
		return
	}
	failed := false
	for _, p := range batch {
		if !g.claim(p) {
			continue
		}
		if p.fn != nil {
			if !g.runUnit(tx, p) {
				failed = true
				break
			}
			continue
		}
		if p.st != nil {
			p.res, p.err = tx.StmtContext(p.ctx, p.st).ExecContext(p.ctx, p.args...)
		} else {
			p.res, p.err = tx.ExecContext(p.ctx, p.q, p.args...)
		}
		if p.err != nil && !isConstraint(p.err) {
			failed = true
			break
		}
	}
	if !failed {
		start := time.Now()
		err := tx.Commit()
		g.commitNS.Add(int64(time.Since(start)))
		g.commits.Add(1)
		if err != nil {
			// Not run again, unlike a failed statement: a COMMIT that
			// reports an error (an fsync that failed, a full disk) may
			// still have reached the disk, and running a conditional
			// UPDATE or an INSERT a second time would then answer "lost
			// the race" or "duplicate" for a write that happened. Each
			// caller gets the error, as it would from its own failed
			// autocommit, and the request is answered busy.
			tx.Rollback()
			if g.ctx.Err() != nil {
				err = errPoolClosed
			}
			g.answer(batch, err)
			return
		}
	}
	if failed {
		tx.Rollback() // may report that the transaction is already over
		if g.ctx.Err() != nil {
			g.answer(batch, errPoolClosed)
			return
		}
		g.fallbacks.Add(1)
		g.runAlone(batch)
		return
	}
	g.batches.Add(1)
	for _, p := range batch {
		if p.state.Load() == claimed {
			close(p.done)
		}
	}
}

// runUnit runs the unit p inside the batch's transaction tx, between a
// SAVEPOINT and its RELEASE; when p's function fails, ROLLBACK TO undoes
// its writes and the batch goes on. It reports false when the batch
// cannot go on: a savepoint could not be set, released or rolled back to
// (after an I/O error or an interrupted statement SQLite has rolled the
// whole transaction back, and no savepoint is left).
func (g *committer) runUnit(tx *sql.Tx, p *pending) bool {
	if _, err := tx.ExecContext(g.ctx, `SAVEPOINT unit`); err != nil {
		p.err, p.fnFailed = err, false
		return false
	}
	if err := p.fn(tx); err != nil {
		p.err, p.fnFailed = err, true
		if _, err := tx.ExecContext(g.ctx, `ROLLBACK TO unit`); err != nil {
			return false
		}
		_, err = tx.ExecContext(g.ctx, `RELEASE unit`)
		return err == nil
	}
	p.err, p.fnFailed = nil, false
	if _, err := tx.ExecContext(g.ctx, `RELEASE unit`); err != nil {
		p.err = err
		return false
	}
	return true
}

// claim marks p as started (claimed), unless its caller gave up. A
// statement whose caller's context has ended is not run (nor can it fail
// the others' transaction): it is abandoned, and its caller answered with
// the context's error unless it has noticed by itself.
func (g *committer) claim(p *pending) bool {
	if err := p.ctx.Err(); err != nil {
		if p.state.CompareAndSwap(queued, abandoned) {
			p.err = err
			close(p.done)
		}
		return false
	}
	if !p.state.CompareAndSwap(queued, claimed) {
		return false
	}
	g.started.Add(1)
	return true
}

// runAlone runs each statement of batch in its own autocommit
// transaction, in order, as the pool did before group commit, and answers
// it: those already claimed (run by the rolled-back batch) and those not
// reached yet; abandoned ones are skipped.
func (g *committer) runAlone(batch []*pending) {
	for _, p := range batch {
		if p.state.Load() != claimed && !g.claim(p) {
			continue
		}
		if g.ctx.Err() != nil {
			p.res, p.err = nil, errPoolClosed
			close(p.done)
			continue
		}
		switch {
		case p.fn != nil:
			// In a transaction of its own, as Store.inTx ran it before
			// units were group-committed.
			p.res = nil
			p.err, p.fnFailed = runTx(p.ctx, g.db, p.fn)
		case p.st != nil:
			p.res, p.err = p.st.ExecContext(p.ctx, p.args...)
		default:
			p.res, p.err = g.db.ExecContext(p.ctx, p.q, p.args...)
		}
		g.commits.Add(1)
		close(p.done)
	}
}

// WriteStats are counters of SQLite's write queue (the group committer)
// since the store was opened: how busy the single write connection is,
// and how well its commits are shared. They are zero on PostgreSQL.
type WriteStats struct {
	// Statements run through the queue, and the commits that made them
	// durable (a batch's COMMIT, or a statement run alone in autocommit):
	// Statements ÷ Commits is the mean batch.
	Statements, Commits int64
	// Busy is the time the committer spent running batches, from BEGIN to
	// the answers; its rate over time is the queue's utilisation (near 1:
	// writes wait for the connection, more clients make larger batches).
	// Transactions of the store (audit batches, changes of several
	// statements) are queued as units and count as one statement each;
	// writes with RETURNING take the connection in turn and are not
	// counted.
	Busy time.Duration
	// Commit is the part of Busy spent in the batches' COMMIT: the WAL
	// write and, with synchronous=FULL, its fsync.
	Commit time.Duration
	// Faults are the writes the disk or the database file refused,
	// whichever way they reached the write connection (the queue, a
	// transaction of the store, a write with RETURNING), one per caller
	// answered with such an error.
	Faults WriteFaults
}

// WriteStats reports the write queue's counters (see WriteStats).
func (s *Store) WriteStats() WriteStats {
	g := s.w.group
	if g == nil {
		return WriteStats{}
	}
	return WriteStats{Statements: g.started.Load(), Commits: g.commits.Load(),
		Busy: time.Duration(g.busyNS.Load()), Commit: time.Duration(g.commitNS.Load()),
		Faults: s.w.faults.load()}
}

// answer answers every statement of batch that is claimed or still
// queued with err, without running it.
func (g *committer) answer(batch []*pending, err error) {
	for _, p := range batch {
		if p.state.Load() == claimed || p.state.CompareAndSwap(queued, claimed) {
			p.res, p.err, p.fnFailed = nil, err, false
			close(p.done)
		}
	}
}

// isConstraint reports a constraint violation (SQLITE_CONSTRAINT, primary
// result code 19, with any extended code): the failed statement is backed
// out and the transaction goes on (see committer).
func isConstraint(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == 19
}
