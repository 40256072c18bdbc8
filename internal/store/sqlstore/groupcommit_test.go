package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests of group commit (groupcommit.go) run on the write pool of a
// real SQLite store, on a table of their own.

const (
	gcCreate  = `CREATE TABLE gc (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL UNIQUE, n INTEGER NOT NULL DEFAULT 0)`
	gcInsert  = `INSERT INTO gc (k) VALUES ($1)`
	gcBump    = `UPDATE gc SET n = n + 1 WHERE k = $1`
	gcBumpAll = `UPDATE gc SET n = n + 1`
	// abs() of the smallest integer fails at run time with "integer
	// overflow", an error that is not a constraint violation.
	gcOverflow = `INSERT INTO gc (k, n) VALUES ($1, abs(-9223372036854775807 - 1))`
	// gcWait bounds every wait of these tests.
	gcWait = 10 * time.Second
)

// gcOpen opens a SQLite store with the gc table.
func gcOpen(t *testing.T, synchronous string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{
		Driver: DriverSQLite, DSN: filepath.Join(t.TempDir(), "gc.db"), SQLiteSynchronous: synchronous,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.w.db.ExecContext(t.Context(), gcCreate); err != nil {
		t.Fatal(err)
	}
	return s
}

// gcStmt is one statement of a batch, and its outcome; with fn, a unit
// (a transaction of the store, Store.inTx) instead.
type gcStmt struct {
	q   string
	arg string
	fn  func(tx *sql.Tx) error
	ctx context.Context // nil: the test's

	res sql.Result
	err error
}

// gcBatch runs stmts as one batch, in order: the test holds the write
// connection in a transaction while a first statement, taken alone,
// waits for it; stmts queue one after the other behind it; then the
// transaction ends, the first statement runs alone, and stmts form the
// next batch.
func gcBatch(t *testing.T, s *Store, stmts []*gcStmt) {
	t.Helper()
	ctx := t.Context()
	// Prepared beforehand: preparing needs the connection the test holds.
	for _, q := range []string{gcInsert, gcBump, gcBumpAll, gcOverflow} {
		if _, err := s.w.stmt(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.w.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var wg sync.WaitGroup
	gcFirst(t, s, &wg, func() {
		if _, err := s.w.ExecContext(ctx, gcInsert, "first"); err != nil {
			t.Errorf("first statement: %v", err)
		}
	})
	for i, st := range stmts {
		c := st.ctx
		if c == nil {
			c = ctx
		}
		if st.fn != nil {
			wg.Go(func() { st.err = s.inTx(c, "gc unit", st.fn) })
		} else {
			wg.Go(func() { st.res, st.err = s.w.ExecContext(c, st.q, st.arg) })
		}
		gcQueued(t, s, i+1)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	gcWaitGroup(t, &wg)
}

// gcFirst runs exec, which must queue one statement, in a goroutine of
// wg, and returns once the committer has taken that statement alone and
// started it (it then waits for the connection the test holds).
func gcFirst(t *testing.T, s *Store, wg *sync.WaitGroup, exec func()) {
	t.Helper()
	g := s.w.group
	started := g.started.Load()
	wg.Go(exec)
	gcWaitFor(t, "the first statement started", func() bool { return g.started.Load() == started+1 })
}

// gcQueued waits until n statements are queued.
func gcQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	g := s.w.group
	gcWaitFor(t, fmt.Sprintf("%d statements queued", n), func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue) == n
	})
}

func gcWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(gcWait); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", gcWait, what)
		}
	}
}

func gcWaitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(gcWait):
		t.Fatalf("callers still waiting after %v", gcWait)
	}
}

// gcRows returns the gc table as k → n.
func gcRows(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	rows, err := s.w.db.QueryContext(t.Context(), `SELECT k, n FROM gc`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		m[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// gcWantRows fails the test unless the gc table is want (k → n).
func gcWantRows(t *testing.T, s *Store, want map[string]int64) {
	t.Helper()
	if got := gcRows(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("table %v, want %v", got, want)
	}
}

// gcWantOneBatch fails the test unless exactly one batch was committed,
// and none run again alone, since the counters read batches and
// fallbacks.
func gcWantOneBatch(t *testing.T, g *committer, batches, fallbacks int64) {
	t.Helper()
	if got := g.batches.Load() - batches; got != 1 {
		t.Errorf("%d batches committed, want 1", got)
	}
	if got := g.fallbacks.Load() - fallbacks; got != 0 {
		t.Errorf("%d fallbacks, want 0", got)
	}
}

// gcCheck compares each statement's outcome with want: the LastInsertId
// and RowsAffected of a success (-1: not checked), or an error matching
// isErr.
type gcWant struct {
	id, rows int64
	isErr    func(error) bool
}

func gcCheck(t *testing.T, stmts []*gcStmt, want []gcWant) {
	t.Helper()
	for i, st := range stmts {
		w := want[i]
		if w.isErr != nil {
			if st.err == nil || !w.isErr(st.err) {
				t.Errorf("statement %d (%s %q): error %v, want a different one", i, st.q, st.arg, st.err)
			}
			continue
		}
		if st.err != nil {
			t.Errorf("statement %d (%s %q): %v", i, st.q, st.arg, st.err)
			continue
		}
		id, _ := st.res.LastInsertId()
		n, _ := st.res.RowsAffected()
		if (w.id >= 0 && id != w.id) || n != w.rows {
			t.Errorf("statement %d (%s %q): LastInsertId %d, RowsAffected %d; want %d, %d", i, st.q, st.arg, id, n, w.id, w.rows)
		}
	}
}

func TestGroupCommitResults(t *testing.T) {
	s := gcOpen(t, "normal")
	g := s.w.group
	stmts := []*gcStmt{
		{q: gcInsert, arg: "a"},
		{q: gcInsert, arg: "b"},
		{q: gcBump, arg: "a"},
		{q: gcBumpAll},
		{q: gcBump, arg: "none"},
		{q: gcInsert, arg: "c"},
	}
	batches, fallbacks := g.batches.Load(), g.fallbacks.Load()
	gcBatch(t, s, stmts)
	// "first" has id 1, run alone before the batch.
	gcCheck(t, stmts, []gcWant{{id: 2, rows: 1}, {id: 3, rows: 1}, {id: -1, rows: 1}, {id: -1, rows: 3}, {id: -1, rows: 0}, {id: 4, rows: 1}})
	gcWantOneBatch(t, g, batches, fallbacks)
	gcWantRows(t, s, map[string]int64{"first": 1, "a": 2, "b": 1, "c": 0})
}

// TestGroupCommitConstraint: a duplicate key fails its own statement
// only, inside the batch (no fallback), as it would alone.
func TestGroupCommitConstraint(t *testing.T) {
	s := gcOpen(t, "normal")
	g := s.w.group
	stmts := []*gcStmt{
		{q: gcInsert, arg: "a"},
		{q: gcInsert, arg: "a"},
		{q: gcInsert, arg: "b"},
		{q: gcBump, arg: "a"},
		{q: gcInsert, arg: "first"},
	}
	batches, fallbacks := g.batches.Load(), g.fallbacks.Load()
	gcBatch(t, s, stmts)
	gcCheck(t, stmts, []gcWant{
		{id: 2, rows: 1}, {isErr: s.dialect.isUnique}, {id: 3, rows: 1}, {id: -1, rows: 1}, {isErr: s.dialect.isUnique},
	})
	gcWantOneBatch(t, g, batches, fallbacks)
	gcWantRows(t, s, map[string]int64{"first": 0, "a": 1, "b": 0})
}

// TestGroupCommitFallback: another error rolls the batch back and each
// statement runs again alone; nothing is lost or applied twice.
func TestGroupCommitFallback(t *testing.T) {
	s := gcOpen(t, "normal")
	g := s.w.group
	stmts := []*gcStmt{
		{q: gcInsert, arg: "a"},
		{q: gcBump, arg: "first"},
		{q: gcOverflow, arg: "x"},
		{q: gcInsert, arg: "b"},
		{q: gcInsert, arg: "a"},
	}
	fallbacks := g.fallbacks.Load()
	gcBatch(t, s, stmts)
	overflow := func(err error) bool { return strings.Contains(err.Error(), "overflow") }
	gcCheck(t, stmts, []gcWant{
		{id: -1, rows: 1}, {id: -1, rows: 1}, {isErr: overflow}, {id: -1, rows: 1}, {isErr: s.dialect.isUnique},
	})
	if got := g.fallbacks.Load() - fallbacks; got != 1 {
		t.Errorf("%d fallbacks, want 1", got)
	}
	gcWantRows(t, s, map[string]int64{"first": 1, "a": 0, "b": 0})
}

// gcUnit is a unit running the statements given as (query, argument)
// pairs in its transaction, then returning fail (nil: success).
func gcUnit(ctx context.Context, fail error, pairs ...string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		for i := 0; i < len(pairs); i += 2 {
			if _, err := tx.ExecContext(ctx, pairs[i], pairs[i+1]); err != nil {
				return err
			}
		}
		return fail
	}
}

// TestGroupCommitUnits: transactions of the store join a batch; one whose
// function fails (a duplicate key inside it, or its own refusal) undoes
// its own writes only and gets its own error, unwrapped, while the batch
// commits the rest, in order, with no fallback.
func TestGroupCommitUnits(t *testing.T) {
	s := gcOpen(t, "normal")
	g := s.w.group
	ctx := t.Context()
	errRefused := errors.New("refused by the unit")
	stmts := []*gcStmt{
		{q: gcInsert, arg: "a"},
		{fn: gcUnit(ctx, nil, gcInsert, "u1", gcBump, "a")},
		{fn: gcUnit(ctx, nil, gcInsert, "u2", gcInsert, "a")}, // duplicate: fails
		{fn: gcUnit(ctx, errRefused, gcInsert, "u3")},
		{q: gcInsert, arg: "b"},
		{fn: func(tx *sql.Tx) error { _, err := tx.ExecContext(ctx, gcBumpAll); return err }},
	}
	batches, fallbacks := g.batches.Load(), g.fallbacks.Load()
	gcBatch(t, s, stmts)
	for i, want := range []func(error) bool{nil, nil, s.dialect.isUnique, func(err error) bool { return err == errRefused }, nil, nil} {
		if got := stmts[i].err; (want == nil) != (got == nil) || (want != nil && !want(got)) {
			t.Errorf("statement or unit %d: error %v", i, got)
		}
	}
	gcWantOneBatch(t, g, batches, fallbacks)
	// The last unit's bump saw every row written before it, and none of
	// the failed units' rows.
	gcWantRows(t, s, map[string]int64{"first": 1, "a": 2, "u1": 1, "b": 1})
}

// TestGroupCommitUnitFallback: when a batch fails, its units run again,
// each in a transaction of its own, and are applied once.
func TestGroupCommitUnitFallback(t *testing.T) {
	s := gcOpen(t, "normal")
	g := s.w.group
	ctx := t.Context()
	runs := 0 // the unit's function runs on the committer goroutine only
	stmts := []*gcStmt{
		{fn: func(tx *sql.Tx) error {
			runs++
			_, err := tx.ExecContext(ctx, gcInsert, "u1")
			return err
		}},
		{q: gcOverflow, arg: "x"},
		{fn: gcUnit(ctx, nil, gcBump, "first")},
	}
	fallbacks := g.fallbacks.Load()
	gcBatch(t, s, stmts)
	if stmts[0].err != nil || stmts[2].err != nil || stmts[1].err == nil || !strings.Contains(stmts[1].err.Error(), "overflow") {
		t.Errorf("errors %v, %v, %v: want nil, an overflow, nil", stmts[0].err, stmts[1].err, stmts[2].err)
	}
	if got := g.fallbacks.Load() - fallbacks; got != 1 {
		t.Errorf("%d fallbacks, want 1", got)
	}
	if runs != 2 {
		t.Errorf("the first unit ran %d times, want 2 (in the batch, then alone)", runs)
	}
	gcWantRows(t, s, map[string]int64{"first": 1, "u1": 0})
}

// TestGroupCommitCancelled: a caller whose context ends while its
// statement is queued gets the context's error at once, and the
// statement never runs; the others of its batch do.
func TestGroupCommitCancelled(t *testing.T) {
	s := gcOpen(t, "normal")
	ctx := t.Context()
	for _, q := range []string{gcInsert} {
		if _, err := s.w.stmt(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.w.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var wg sync.WaitGroup
	gcFirst(t, s, &wg, func() {
		if _, err := s.w.ExecContext(ctx, gcInsert, "kept"); err != nil {
			t.Errorf("kept: %v", err)
		}
	})
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := s.w.ExecContext(cctx, gcInsert, "cancelled")
		errc <- err
	}()
	gcQueued(t, s, 1)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller: %v, want context.Canceled", err)
		}
	case <-time.After(gcWait):
		t.Fatal("the cancelled caller was not answered while the connection was held")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	gcWaitGroup(t, &wg)
	// A later statement goes through the committer after the abandoned
	// one, so the table is final once it is answered.
	if _, err := s.w.ExecContext(ctx, gcInsert, "after"); err != nil {
		t.Fatal(err)
	}
	gcWantRows(t, s, map[string]int64{"kept": 0, "after": 0})
}

// TestGroupCommitClose: closing the store while statements wait (the
// connection held by another transaction) answers every one with an
// error, and Close returns.
func TestGroupCommitClose(t *testing.T) {
	s := gcOpen(t, "normal")
	ctx := t.Context()
	if _, err := s.w.stmt(ctx, gcInsert); err != nil {
		t.Fatal(err)
	}
	tx, err := s.w.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const n = 5
	errs := make([]error, n)
	var wg sync.WaitGroup
	gcFirst(t, s, &wg, func() { _, errs[0] = s.w.ExecContext(ctx, gcInsert, "k0") })
	for i := 1; i < n; i++ {
		wg.Go(func() { _, errs[i] = s.w.ExecContext(ctx, gcInsert, fmt.Sprint("k", i)) })
	}
	gcQueued(t, s, n-1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(gcWait):
		t.Fatal("Close did not return while statements were waiting")
	}
	gcWaitGroup(t, &wg)
	for i, err := range errs {
		if err == nil {
			t.Errorf("statement %d succeeded after Close", i)
		}
	}
	if _, err := s.w.ExecContext(ctx, gcInsert, "late"); err == nil {
		t.Error("a statement after Close succeeded")
	}
}

// TestGroupCommitConcurrent mixes group-committed statements with the
// store's transactions and QueryRowContext writes on the one write
// connection, from many goroutines (run it with -race): nothing
// deadlocks, every answered write is there, and duplicates fail alone.
func TestGroupCommitConcurrent(t *testing.T) {
	s := gcOpen(t, "") // synchronous=FULL, as the server runs
	ctx := t.Context()
	if _, err := s.w.db.ExecContext(ctx, `INSERT INTO gc (k) VALUES ('counter')`); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 40
	var (
		mu                    sync.Mutex
		inserted, bumps, dups int
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				k := fmt.Sprintf("tx%d-%d", w, i)
				var err error
				switch i % 4 {
				case 0, 1: // a group-committed insert, and a duplicate of it
					_, err = s.w.ExecContext(ctx, gcInsert, fmt.Sprintf("g%d-%d", w, i/4))
					if i%4 == 1 {
						if !s.dialect.isUnique(err) {
							t.Errorf("duplicate insert: %v, want a unique violation", err)
						}
						mu.Lock()
						dups++
						mu.Unlock()
						continue
					}
				case 2: // a transaction of two inserts
					err = s.inTx(ctx, "gc test", func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, gcInsert, k); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, gcInsert, k+"-2")
						return err
					})
				case 3: // a write returning a row
					var n int64
					err = s.w.QueryRowContext(ctx, `UPDATE gc SET n = n + 1 WHERE k = 'counter' RETURNING n`).Scan(&n)
				}
				if err != nil {
					t.Errorf("worker %d, op %d: %v", w, i, err)
					continue
				}
				mu.Lock()
				switch i % 4 {
				case 0:
					inserted++
				case 2:
					inserted += 2
				case 3:
					bumps++
				}
				mu.Unlock()
			}
			// Group-committed bumps of the counter: each applied once.
			for range each / 4 {
				if _, err := s.w.ExecContext(ctx, gcBump, "counter"); err != nil {
					t.Errorf("worker %d, bump: %v", w, err)
					continue
				}
				mu.Lock()
				bumps++
				mu.Unlock()
			}
		})
	}
	gcWaitGroup(t, &wg)
	rows := gcRows(t, s)
	if got := len(rows) - 1; got != inserted {
		t.Errorf("%d rows besides the counter, want %d", got, inserted)
	}
	if rows["counter"] != int64(bumps) {
		t.Errorf("counter %d, want %d", rows["counter"], bumps)
	}
	t.Logf("%d inserts, %d duplicates, %d bumps; %d batches committed, %d fallbacks",
		inserted, dups, bumps, s.w.group.batches.Load(), s.w.group.fallbacks.Load())

	// The write queue's counters: every statement given to ExecContext
	// (inserts, duplicates, bumps) and every transaction, as one unit
	// each (not the write through QueryRowContext), each made durable by
	// some commit, and the commits' time within the committer's.
	ws := s.WriteStats()
	if want := int64(workers * (each/4*3 + each/4)); ws.Statements != want {
		t.Errorf("WriteStats.Statements = %d, want %d", ws.Statements, want)
	}
	if ws.Commits < 1 || ws.Commits > ws.Statements || ws.Busy <= 0 || ws.Commit <= 0 || ws.Commit > ws.Busy {
		t.Errorf("WriteStats = %+v: want 1 ≤ commits ≤ statements, 0 < commit time ≤ busy time", ws)
	}
	t.Logf("write queue: %d statements in %d commits, busy %v, of which COMMIT %v", ws.Statements, ws.Commits, ws.Busy, ws.Commit)
}

// TestNoRollbackConflictClause guards an assumption of group commit: a
// constraint violation fails only its statement and leaves the batch's
// transaction going (SQLite's default ABORT). A statement or schema with
// ON CONFLICT ROLLBACK, OR ROLLBACK or RAISE(ROLLBACK) would roll the
// whole batch back, and the statements after it would then run outside
// the transaction.
func TestNoRollbackConflictClause(t *testing.T) {
	re := regexp.MustCompile(`(?i)\bOR\s+ROLLBACK\b|\bCONFLICT\s+ROLLBACK\b|RAISE\s*\(\s*ROLLBACK`)
	var files []string
	for _, pattern := range []string{"*.go", "migrations/sqlite/*.sql"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if loc := re.FindIndex(b); loc != nil {
			t.Errorf("%s: %q: a constraint violation would roll back a whole group commit; see committer", f, b[loc[0]:loc[1]])
		}
	}
}

// TestWriteFaults checks that the writes SQLite refuses for lack of space
// are counted, whichever way they reach the write connection, and that
// nothing else is: a constraint violation, a cancelled caller, a write
// that succeeds once space is back. max_page_count makes a real
// SQLITE_FULL without filling a disk.
func TestWriteFaults(t *testing.T) {
	s := gcOpen(t, "")
	ctx := t.Context()
	if _, err := s.w.ExecContext(ctx, gcInsert, "dup"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, gcInsert, "dup"); err == nil || !isConstraint(err) {
		t.Fatalf("duplicate insert: %v, want a constraint violation", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.w.ExecContext(cancelled, gcInsert, "cancelled"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled insert: %v", err)
	}
	if f := s.WriteStats().Faults; f != (WriteFaults{}) {
		t.Fatalf("faults before the disk is full: %+v", f)
	}

	// The write pool has one connection: the limit holds for every write.
	var pages int64
	if err := s.w.db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 8192) // more than a page: needs a new one
	isFull := func(err error) bool { k, ok := faultKind(err); return ok && k == faultFull }
	var want int64
	if _, err := s.w.ExecContext(ctx, gcInsert, big); !isFull(err) {
		t.Fatalf("insert into a full database: %v, want SQLITE_FULL", err)
	}
	want++
	err := s.inTx(ctx, "fill", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, gcInsert, big+"tx")
		return err
	})
	if !isFull(err) {
		t.Fatalf("transaction on a full database: %v, want SQLITE_FULL", err)
	}
	want++
	var id int64
	if err := s.w.QueryRowContext(ctx, `INSERT INTO gc (k) VALUES ($1) RETURNING id`, big+"returning").Scan(&id); !isFull(err) {
		t.Fatalf("insert … returning into a full database: %v, want SQLITE_FULL", err)
	}
	want++
	if f := s.WriteStats().Faults; f != (WriteFaults{Full: want}) || f.Total() != want {
		t.Errorf("faults = %+v, want Full %d and nothing else", f, want)
	}

	// Space is back: writes succeed and are not counted.
	if _, err := s.w.db.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, gcInsert, big); err != nil {
		t.Fatalf("insert once space is back: %v", err)
	}
	if f := s.WriteStats().Faults; f.Total() != want {
		t.Errorf("faults after a successful write = %+v, want %d", f, want)
	}
}

// TestFaultKind pins which SQLite result codes are the storage's faults,
// extended codes included (https://sqlite.org/rescode.html).
func TestFaultKind(t *testing.T) {
	tests := []struct {
		code int
		kind int
		ok   bool
	}{
		{13, faultFull, true},           // SQLITE_FULL
		{8, faultReadOnly, true},        // SQLITE_READONLY
		{8 | 3<<8, faultReadOnly, true}, // SQLITE_READONLY_ROLLBACK
		{10, faultIO, true},             // SQLITE_IOERR
		{10 | 3<<8, faultIO, true},      // SQLITE_IOERR_WRITE
		{10 | 4<<8, faultIO, true},      // SQLITE_IOERR_FSYNC
		{14, faultIO, true},             // SQLITE_CANTOPEN
		{5, faultLocked, true},          // SQLITE_BUSY
		{6, faultLocked, true},          // SQLITE_LOCKED
		{11, faultCorrupt, true},        // SQLITE_CORRUPT
		{26, faultCorrupt, true},        // SQLITE_NOTADB
		{19, 0, false},                  // SQLITE_CONSTRAINT: the statement's
		{19 | 8<<8, 0, false},           // SQLITE_CONSTRAINT_UNIQUE
		{9, 0, false},                   // SQLITE_INTERRUPT: a cancelled caller
		{1, 0, false},                   // SQLITE_ERROR
	}
	for _, tt := range tests {
		kind, ok := faultKindOf(tt.code)
		if kind != tt.kind || ok != tt.ok {
			t.Errorf("faultKindOf(%d) = %d, %v; want %d, %v", tt.code, kind, ok, tt.kind, tt.ok)
		}
	}
	if _, ok := faultKind(errors.New("not sqlite")); ok {
		t.Error("faultKind counts an error that is not SQLite's")
	}
}
