package scale

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// bulkDB is what a backend offers the loader: one connection that owns the
// database for the duration of the load.
type bulkDB interface {
	// secondaryIndexes returns the indexes of table that can be dropped
	// and recreated (not those backing its primary key), with the
	// statements that create them, as the migrations left them.
	secondaryIndexes(ctx context.Context, table string) ([]index, error)
	exec(ctx context.Context, stmt string) error
	// insert loads n rows into table: row appends row i's values, in
	// cols order, to dst. Rows arrive in index order.
	insert(ctx context.Context, table string, cols []string, n int64, row rowFunc) error
	// finish makes the database what a server expects and would find
	// after running for a while (journal mode, statistics), after the
	// indexes have been rebuilt.
	finish(ctx context.Context) error
	close() error
}

type index struct{ name, create string }

type rowFunc func(dst []any, i int64) []any

// LoadResult describes one load.
type LoadResult struct {
	Sessions int64 `json:"sessions"`
	Users    int64 `json:"users"`
	Expired  int64 `json:"expired_sessions"`
	Rotated  int64 `json:"rotated_sessions"`
	// Seconds of each step and of the whole load.
	UsersSeconds    float64 `json:"users_seconds"`
	SessionsSeconds float64 `json:"sessions_seconds"`
	IndexSeconds    float64 `json:"index_seconds"`
	FinishSeconds   float64 `json:"finish_seconds"`
	Seconds         float64 `json:"seconds"`
	// RowsPerSecond is (users + sessions) / Seconds, index building and
	// finishing included.
	RowsPerSecond float64 `json:"rows_per_second"`
}

// load fills db with ds's users and sessions. The secondary indexes of
// both tables are dropped first and rebuilt at the end from their own
// definitions: building an index once from sorted data is several times
// faster than inserting millions of random keys (the token hashes) into
// it, and a rebuilt index is exactly the one the migration declared.
func load(ctx context.Context, db bulkDB, ds *Dataset, progress func(string)) (LoadResult, error) {
	start := time.Now()
	spec := ds.Spec()
	res := LoadResult{Sessions: spec.Sessions, Users: spec.Users}
	var dropped []index
	for _, table := range []string{"users", "sessions"} {
		idx, err := db.secondaryIndexes(ctx, table)
		if err != nil {
			return res, err
		}
		for _, ix := range idx {
			if err := db.exec(ctx, "DROP INDEX "+ix.name); err != nil {
				return res, fmt.Errorf("scale: drop index %s: %w", ix.name, err)
			}
		}
		dropped = append(dropped, idx...)
	}

	t := time.Now()
	err := db.insert(ctx, "users", userLoadColumns, spec.Users, ds.appendUser)
	if err != nil {
		return res, fmt.Errorf("scale: load users: %w", err)
	}
	res.UsersSeconds = time.Since(t).Seconds()
	progress(fmt.Sprintf("%d users in %.1fs", spec.Users, res.UsersSeconds))

	t = time.Now()
	// The row function runs on several producer goroutines.
	var expired, rotated atomic.Int64
	err = db.insert(ctx, "sessions", sessionLoadColumns, spec.Sessions, func(dst []any, i int64) []any {
		dst, e, r := ds.appendSession(dst, i)
		if e {
			expired.Add(1)
		}
		if r {
			rotated.Add(1)
		}
		return dst
	})
	if err != nil {
		return res, fmt.Errorf("scale: load sessions: %w", err)
	}
	res.Expired, res.Rotated = expired.Load(), rotated.Load()
	res.SessionsSeconds = time.Since(t).Seconds()
	progress(fmt.Sprintf("%d sessions in %.1fs", spec.Sessions, res.SessionsSeconds))

	t = time.Now()
	for _, ix := range dropped {
		it := time.Now()
		if err := db.exec(ctx, ix.create); err != nil {
			return res, fmt.Errorf("scale: create index %s: %w", ix.name, err)
		}
		progress(fmt.Sprintf("index %s in %.1fs", ix.name, time.Since(it).Seconds()))
	}
	res.IndexSeconds = time.Since(t).Seconds()

	t = time.Now()
	if err := db.finish(ctx); err != nil {
		return res, err
	}
	res.FinishSeconds = time.Since(t).Seconds()
	res.Seconds = time.Since(start).Seconds()
	res.RowsPerSecond = float64(spec.Users+spec.Sessions) / res.Seconds
	return res, nil
}
