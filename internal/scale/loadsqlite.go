package scale

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, as sqlstore uses
)

// SQLite load settings.
const (
	// sqliteBatchRows rows go into one INSERT: 1000 rows of 16 columns
	// are 16,000 parameters, under SQLite's limit of 32,766.
	sqliteBatchRows = 1000
	// sqliteTxRows rows go into one transaction.
	sqliteTxRows = 500_000
)

// sqliteDB loads a SQLite file on one pinned connection.
//
// Why these pragmas, for the load only: journal_mode=OFF and
// synchronous=OFF write each page once and never fsync (the file is new
// and thrown away if the load fails); a large page cache keeps the tails
// of the tables and the index sorts in memory; threads lets CREATE INDEX
// sort with a helper thread. finish switches the file back to WAL, the
// mode the server opens it in (sqlstore.openSQLite).
type sqliteDB struct {
	db   *sql.DB
	conn *sql.Conn
}

func openSQLiteBulk(ctx context.Context, path string) (*sqliteDB, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &sqliteDB{db: db, conn: conn}
	// Leaving WAL needs the only connection to the file, which this is.
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode=OFF").Scan(&mode); err != nil || mode != "off" {
		s.close()
		return nil, fmt.Errorf("scale: journal_mode=OFF: got %q, %v", mode, err)
	}
	for _, p := range []string{
		"PRAGMA synchronous=OFF",
		"PRAGMA cache_size=-262144", // KiB: 256 MiB
		"PRAGMA temp_store=FILE",
		fmt.Sprintf("PRAGMA threads=%d", min(runtime.NumCPU(), 4)),
		"PRAGMA foreign_keys=OFF",
	} {
		if err := s.exec(ctx, p); err != nil {
			s.close()
			return nil, fmt.Errorf("scale: %s: %w", p, err)
		}
	}
	return s, nil
}

func (s *sqliteDB) exec(ctx context.Context, stmt string) error {
	_, err := s.conn.ExecContext(ctx, stmt)
	return err
}

func (s *sqliteDB) secondaryIndexes(ctx context.Context, table string) ([]index, error) {
	// Indexes SQLite made for a PRIMARY KEY or UNIQUE constraint have no
	// sql and cannot be dropped; the rows arrive in their order anyway.
	rows, err := s.conn.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.create); err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	return out, rows.Err()
}

func insertStatement(table string, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	one := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

func (s *sqliteDB) insert(ctx context.Context, table string, cols []string, n int64, row rowFunc) (err error) {
	full, err := s.conn.PrepareContext(ctx, insertStatement(table, cols, sqliteBatchRows))
	if err != nil {
		return err
	}
	defer full.Close()
	p := startProducer(ctx, n, sqliteBatchRows, len(cols), runtime.NumCPU(), row)
	defer p.stop()
	inTx := false
	defer func() {
		if inTx {
			_ = s.exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var done, sinceCommit int64
	for {
		b, ok := p.next(ctx)
		if !ok {
			break
		}
		if !inTx {
			if err := s.exec(ctx, "BEGIN"); err != nil {
				return err
			}
			inTx = true
		}
		if b.rows == sqliteBatchRows {
			_, err = full.ExecContext(ctx, b.vals...)
		} else {
			_, err = s.conn.ExecContext(ctx, insertStatement(table, cols, b.rows), b.vals...)
		}
		p.release(b)
		if err != nil {
			return err
		}
		done += int64(b.rows)
		sinceCommit += int64(b.rows)
		if sinceCommit >= sqliteTxRows {
			if err := s.exec(ctx, "COMMIT"); err != nil {
				return err
			}
			inTx, sinceCommit = false, 0
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if done != n {
		return fmt.Errorf("scale: %d of %d rows produced", done, n)
	}
	if inTx {
		if err := s.exec(ctx, "COMMIT"); err != nil {
			return err
		}
		inTx = false
	}
	return nil
}

func (s *sqliteDB) finish(ctx context.Context) error {
	// WAL is a property of the file: the server's connections find it set.
	var mode string
	if err := s.conn.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fmt.Errorf("scale: journal_mode=WAL: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("scale: journal mode is %q, want wal", mode)
	}
	return nil
}

func (s *sqliteDB) close() error {
	err := s.conn.Close()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// sqliteSizes measures a SQLite file: its size and, through the dbstat
// virtual table, the bytes of each table with its indexes.
func sqliteSizes(ctx context.Context, path string) (total int64, tables map[string]int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, nil, err
	}
	total = fi.Size()
	if wal, err := os.Stat(path + "-wal"); err == nil {
		total += wal.Size()
	}
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		return 0, nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d
JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name`)
	if err != nil {
		return 0, nil, fmt.Errorf("scale: dbstat: %w", err)
	}
	defer rows.Close()
	tables = map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return 0, nil, err
		}
		tables[name] = n
	}
	return total, tables, rows.Err()
}
