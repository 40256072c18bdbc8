package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CheckpointStats is PostgreSQL's checkpoint work during a phase. A
// checkpoint writes the dirty buffers into the data files and then
// fsyncs them; on a machine where the data files and the WAL share a
// disk, those writes and syncs delay the WAL flush that every commit
// waits for, which shows as stalls of tens of milliseconds in the paths
// that write (docs/performance.md, "A third, faster host"). With the
// default max_wal_size (1 GB) a long run's write volume requests
// checkpoints on top of the timed ones (checkpoint_timeout).
type CheckpointStats struct {
	// Started is how many checkpoints began (timed or requested).
	Started int64 `json:"started"`
	// BuffersWritten is the buffers (8 KiB) checkpoints wrote.
	BuffersWritten int64 `json:"buffers_written"`
	// WriteMS and SyncMS are the time checkpoints spent writing and
	// fsyncing files; PostgreSQL adds a checkpoint's times when it ends.
	WriteMS float64 `json:"write_ms"`
	SyncMS  float64 `json:"sync_ms"`
}

// checkpointCounters are the server-wide cumulative counters a
// CheckpointStats is the difference of.
type checkpointCounters struct {
	started, buffers int64
	writeMS, syncMS  float64
}

func (end checkpointCounters) since(start checkpointCounters) *CheckpointStats {
	return &CheckpointStats{Started: end.started - start.started, BuffersWritten: end.buffers - start.buffers,
		WriteMS: end.writeMS - start.writeMS, SyncMS: end.syncMS - start.syncMS}
}

// Where PostgreSQL keeps the checkpointer's counters: its own view from
// PostgreSQL 17 on, the background writer's before.
const (
	checkpointerQuery = `SELECT num_timed + num_requested, buffers_written, write_time, sync_time FROM pg_stat_checkpointer`
	bgwriterQuery     = `SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint, checkpoint_write_time, checkpoint_sync_time FROM pg_stat_bgwriter`
)

// checkpointReader reads the checkpoint counters of the PostgreSQL server
// of dsn (any database of it: the views are server-wide), through one
// connection kept open for the run, so that reading them costs a query,
// not a connection. Close it before the database is dropped.
type checkpointReader struct {
	db    *sql.DB
	query string
}

// newCheckpointReader connects and picks the view this server has.
func newCheckpointReader(ctx context.Context, dsn string) (*checkpointReader, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	r := &checkpointReader{db: db}
	for _, q := range []string{checkpointerQuery, bgwriterQuery} {
		r.query = q
		if _, ok := r.read(ctx); ok {
			return r, nil
		}
	}
	db.Close()
	return nil, fmt.Errorf("bench: neither pg_stat_checkpointer nor pg_stat_bgwriter could be read")
}

// read returns the counters now; false when they could not be read.
func (r *checkpointReader) read(ctx context.Context) (checkpointCounters, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var c checkpointCounters
	err := r.db.QueryRowContext(ctx, r.query).Scan(&c.started, &c.buffers, &c.writeMS, &c.syncMS)
	return c, err == nil
}

func (r *checkpointReader) Close() error { return r.db.Close() }

// noteBuffers is the least a checkpoint must write during a phase (1 MiB
// of 8 KiB buffers) for checkpointNote to mention it when it neither
// started nor synced then: a few buffers are no load on the disk.
const noteBuffers = 128

// checkpointNote tells when PostgreSQL's checkpoints started, wrote at
// least noteBuffers or synced during a path's phases, beside the phase's
// p99; "" when they did not or were not measured.
func checkpointNote(p *PathReport) string {
	var parts []string
	for _, ph := range []*PhaseReport{p.Closed, p.Open} {
		if ph == nil || ph.DBCheckpoints == nil {
			continue
		}
		c := ph.DBCheckpoints
		if c.Started == 0 && c.BuffersWritten < noteBuffers && c.SyncMS < 1 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s loop (p99 %.1f ms): %d started, %.1f MiB written, %.0f ms of fsync",
			ph.Kind, ph.Latency.P99, c.Started, float64(c.BuffersWritten)*8/1024, c.SyncMS))
	}
	if len(parts) == 0 {
		return ""
	}
	note := p.Name + ": PostgreSQL checkpoints during the " + parts[0]
	for _, s := range parts[1:] {
		note += "; during the " + s
	}
	return note + " (their writes share the disk with each commit's WAL flush)"
}
