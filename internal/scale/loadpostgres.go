package scale

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL load settings.
const (
	pgBatchRows = 5000
	// pgCopyRows rows go into one COPY (one transaction), so that a load
	// of ten million rows is not one transaction and reports progress.
	pgCopyRows = 1_000_000
)

// pgDB loads a PostgreSQL database through COPY on one connection.
type pgDB struct {
	conn *pgx.Conn
}

func openPostgresBulk(ctx context.Context, dsn string) (*pgDB, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	p := &pgDB{conn: conn}
	// For this connection only: index builds sort in memory, and the
	// COPY transactions do not wait for their WAL flush (a crash during
	// the load means loading again anyway).
	for _, stmt := range []string{
		"SET maintenance_work_mem = '512MB'",
		"SET synchronous_commit = off",
	} {
		if err := p.exec(ctx, stmt); err != nil {
			conn.Close(ctx)
			return nil, err
		}
	}
	return p, nil
}

func (p *pgDB) exec(ctx context.Context, stmt string) error {
	_, err := p.conn.Exec(ctx, stmt)
	return err
}

func (p *pgDB) secondaryIndexes(ctx context.Context, table string) ([]index, error) {
	// Indexes that back a constraint (the primary key, UNIQUE
	// constraints) stay: dropping them would mean dropping the
	// constraint.
	rows, err := p.conn.Query(ctx, `SELECT i.relname, pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace
AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
ORDER BY i.relname`, table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var ix index
		err := r.Scan(&ix.name, &ix.create)
		return ix, err
	})
}

func (p *pgDB) insert(ctx context.Context, table string, cols []string, n int64, row rowFunc) error {
	prod := startProducer(ctx, n, pgBatchRows, len(cols), runtime.NumCPU(), row)
	defer prod.stop()
	src := &copySource{ctx: ctx, p: prod, cols: len(cols)}
	var done int64
	for done < n {
		src.limit = pgCopyRows
		copied, err := p.conn.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
		if err != nil {
			return err
		}
		if copied == 0 {
			break
		}
		done += copied
	}
	src.finish()
	if err := ctx.Err(); err != nil {
		return err
	}
	if done != n {
		return fmt.Errorf("scale: %d of %d rows copied", done, n)
	}
	return nil
}

// copySource feeds one COPY with up to limit rows from the producer's
// batches. A batch is released once its last row has been encoded (pgx
// encodes a row before asking for the next). A COPY ends on a batch
// boundary: the limit is a multiple of the batch size.
type copySource struct {
	ctx   context.Context
	p     *producer
	cols  int
	limit int64 // rows this COPY may still take
	cur   batch
	have  bool
	pos   int
}

func (s *copySource) Next() bool {
	if s.have {
		s.pos++
		if s.pos < s.cur.rows {
			return true
		}
		s.p.release(s.cur)
		s.have = false
	}
	if s.limit <= 0 {
		return false
	}
	b, ok := s.p.next(s.ctx)
	if !ok {
		return false
	}
	s.cur, s.have, s.pos = b, true, 0
	s.limit -= int64(b.rows)
	return true
}

func (s *copySource) Values() ([]any, error) {
	return s.cur.vals[s.pos*s.cols : (s.pos+1)*s.cols], nil
}

func (s *copySource) Err() error { return s.ctx.Err() }

// finish releases a batch still held after a failed COPY.
func (s *copySource) finish() {
	if s.have {
		s.p.release(s.cur)
		s.have = false
	}
}

func (p *pgDB) finish(ctx context.Context) error {
	// What autovacuum would do to a table that grew to this size: set the
	// visibility map and hint bits and collect the planner's statistics.
	// Done now, it cannot start in the middle of a measurement.
	if err := p.exec(ctx, "VACUUM (ANALYZE) users, sessions"); err != nil {
		return fmt.Errorf("scale: vacuum: %w", err)
	}
	// Write the loaded pages out now rather than during a measurement.
	// CHECKPOINT needs superuser or pg_checkpoint; without, the server's
	// own checkpoints do it later.
	_ = p.exec(ctx, "CHECKPOINT")
	return nil
}

func (p *pgDB) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.conn.Close(ctx)
}

// postgresSizes returns the database's size and each table's with its
// indexes and TOAST.
func postgresSizes(ctx context.Context, dsn string) (total int64, tables map[string]int64, err error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&total); err != nil {
		return 0, nil, err
	}
	tables = map[string]int64{}
	for _, t := range []string{"users", "sessions"} {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass)", t).Scan(&n); err != nil {
			return 0, nil, err
		}
		tables[t] = n
	}
	return total, tables, nil
}

// pgDatabase is a database created for one run on the server of an admin
// DSN, dropped by drop.
type pgDatabase struct {
	admin, name, dsn string
}

// createPostgresDatabase creates an empty database named
// sesame_scale_<label>_<random> and returns it.
func createPostgresDatabase(ctx context.Context, adminDSN, label string) (*pgDatabase, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sesame_scale_" + label + "_" + hex.EncodeToString(b)
	dsn, err := withDatabase(adminDSN, name)
	if err != nil {
		return nil, err
	}
	// Identifiers cannot be bound as parameters; name is ours and safe.
	if err := adminExec(ctx, adminDSN, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("scale: create database: %w", err)
	}
	return &pgDatabase{admin: adminDSN, name: name, dsn: dsn}, nil
}

// drop drops the database, ending sessions still connected to it.
func (d *pgDatabase) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return adminExec(ctx, d.admin, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)")
}

func adminExec(ctx context.Context, adminDSN, stmt string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, stmt)
	return err
}

// withDatabase returns dsn (URL or key=value form) naming database name.
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
	if strings.TrimSpace(dsn) == "" {
		return "", errors.New("scale: empty PostgreSQL DSN")
	}
	// A later dbname overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// loopbackPostgres refuses a DSN whose host is not the local machine: the
// scale test loads gigabytes and must never point at a shared server.
func loopbackPostgres(dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("scale: PostgreSQL DSN: %w", err)
	}
	switch h := cfg.Host; {
	case h == "127.0.0.1" || h == "::1" || h == "localhost" || strings.HasPrefix(h, "/"):
		return nil
	default:
		return fmt.Errorf("scale: PostgreSQL host %q is not 127.0.0.1; the scale test runs against the local machine only", h)
	}
}
