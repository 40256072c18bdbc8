package bench

import (
	"database/sql"
	"os"
	"testing"
	"time"
)

// The reader finds this server's view and sees a checkpoint it asked
// for. CHECKPOINT is harmless to other users of the server: it writes
// what would be written anyway.
func TestCheckpointReader(t *testing.T) {
	dsn := os.Getenv("SESAME_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("SESAME_TEST_POSTGRES_DSN is not set: PostgreSQL's checkpoint counters not read")
	}
	r, err := newCheckpointReader(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before, ok := r.read(t.Context())
	if !ok || before.started < 0 || before.buffers < 0 || before.writeMS < 0 || before.syncMS < 0 {
		t.Fatalf("read = %+v, %v", before, ok)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	// The checkpointer publishes its counters right after it wakes the
	// waiting backend, so they may lag the command by a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		after, ok := r.read(t.Context())
		if ok && after.started > before.started {
			if d := after.since(before); d.Started < 1 || d.BuffersWritten < 0 {
				t.Errorf("since = %+v", d)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after CHECKPOINT the counters read %+v (ok %v), before %+v", after, ok, before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCheckpointNote(t *testing.T) {
	phase := func(kind string, p99 float64, c *CheckpointStats) *PhaseReport {
		return &PhaseReport{Kind: kind, Latency: Latency{P99: p99}, DBCheckpoints: c}
	}
	for _, tc := range []struct {
		name string
		p    *PathReport
		want string
	}{
		{"SQLite: not measured", &PathReport{Name: "cc-opaque", Closed: phase("closed", 6, nil), Open: phase("open", 5, nil)}, ""},
		{"no checkpoint", &PathReport{Name: "cc-opaque", Closed: phase("closed", 6, &CheckpointStats{}), Open: phase("open", 5, &CheckpointStats{})}, ""},
		{"a few buffers", &PathReport{Name: "refresh-token", Closed: phase("closed", 37.6, &CheckpointStats{BuffersWritten: 5, WriteMS: 3}),
			Open: phase("open", 16.7, &CheckpointStats{BuffersWritten: 127, SyncMS: 0.4})}, ""},
		{"during the open loop", &PathReport{Name: "cc-opaque", Closed: phase("closed", 6, &CheckpointStats{}),
			Open: phase("open", 43.16, &CheckpointStats{Started: 1, BuffersWritten: 2560, SyncMS: 180})},
			"cc-opaque: PostgreSQL checkpoints during the open loop (p99 43.2 ms): 1 started, 20.0 MiB written, 180 ms of fsync (their writes share the disk with each commit's WAL flush)"},
		{"during both", &PathReport{Name: "tenant-refresh", Closed: phase("closed", 11.75, &CheckpointStats{BuffersWritten: 128}),
			Open: phase("open", 25.6, &CheckpointStats{SyncMS: 40})},
			"tenant-refresh: PostgreSQL checkpoints during the closed loop (p99 11.8 ms): 0 started, 1.0 MiB written, 0 ms of fsync; during the open loop (p99 25.6 ms): 0 started, 0.0 MiB written, 40 ms of fsync (their writes share the disk with each commit's WAL flush)"},
		{"no open loop", &PathReport{Name: "jwks", Closed: phase("closed", 3, &CheckpointStats{Started: 1})},
			"jwks: PostgreSQL checkpoints during the closed loop (p99 3.0 ms): 1 started, 0.0 MiB written, 0 ms of fsync (their writes share the disk with each commit's WAL flush)"},
	} {
		if got := checkpointNote(tc.p); got != tc.want {
			t.Errorf("%s: checkpointNote =\n %q\nwant\n %q", tc.name, got, tc.want)
		}
	}
}
