package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/bench"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/server"
)

// inProcess starts the server in the test's own process: the harness is
// tested without building the binary (cmd/sesame-bench's test does that).
func inProcess(t *testing.T) bench.Launcher {
	return func(ctx context.Context, cfg config.Config) (*bench.Target, error) {
		// Queued logins of the flood give up after 200 ms instead of 2 s,
		// to keep the test short.
		cfg.Password.MaxWait = 200 * time.Millisecond
		srv, err := server.New(ctx, cfg, server.Options{})
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", cfg.Server.Listen)
		if err != nil {
			srv.Close()
			return nil, err
		}
		sctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(sctx, ln) }()
		return &bench.Target{Addr: cfg.Server.Listen, PID: os.Getpid(), PProf: cfg.Server.PProf, Stop: func() error {
			cancel()
			err := <-done
			srv.Close()
			return err
		}}, nil
	}
}

// TestRunEveryPath runs every path briefly against a real server and
// checks that the report holds sane figures: every operation succeeded,
// percentiles are ordered, the open loop ran at half the peak, the flood
// met busy answers, and the table, JSON and PNG outputs are made.
func TestRunEveryPath(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load: skipped with -short")
	}
	c, err := bench.MeasureCeilings(300 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if c.RS256SignUS <= c.ES256SignUS || c.Argon2idMS <= 0 || c.RS256PerSec <= 0 {
		t.Fatalf("implausible ceilings %+v: an RSA-2048 signature costs more than a P-256 one", c)
	}
	for _, a := range []bench.AllCores{c.RS256AllCores, c.ES256AllCores, c.Argon2idAllCores} {
		if a.Ops == 0 || a.PerSec <= 0 || a.PerSecCPU <= 0 {
			t.Fatalf("all-cores figures missing: %+v", c)
		}
	}
	o := bench.Options{
		Duration: 100 * time.Millisecond, Concurrency: 2, LoginConcurrency: 2, Users: 2,
		Flood: 80, FloodDuration: 300 * time.Millisecond, Window: 50 * time.Millisecond,
		ProfileDir: t.TempDir(), BracketTime: 20 * time.Millisecond,
		Logf: func(format string, args ...any) { t.Logf(time.Now().Format("05.000 ")+format, args...) },
	}
	br, err := bench.RunBackend(t.Context(), o, c, "sqlite", filepath.Join(t.TempDir(), "bench.db"), inProcess(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(br.Paths), len(bench.Paths()); got != want {
		t.Fatalf("%d paths reported, want %d", got, want)
	}
	var cpu float64
	for _, p := range br.Paths {
		for _, ph := range []*bench.PhaseReport{p.Closed, p.Open} {
			if ph == nil {
				t.Errorf("%s: a phase is missing", p.Name)
				continue
			}
			l := ph.Latency
			switch {
			case ph.OK == 0 || ph.Throughput <= 0:
				t.Errorf("%s %s: nothing succeeded: %+v", p.Name, ph.Kind, ph.Errors)
			case len(ph.Errors) > 0:
				t.Errorf("%s %s: errors %v", p.Name, ph.Kind, ph.Errors)
			case !(0 < l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max):
				t.Errorf("%s %s: percentiles out of order: %+v", p.Name, ph.Kind, l)
			case ph.Server.CPUSeconds < 0 || ph.Server.PeakRSSMB <= 0:
				t.Errorf("%s %s: no server memory or negative CPU: %+v", p.Name, ph.Kind, ph.Server)
			case len(ph.Series) == 0:
				t.Errorf("%s %s: no time series", p.Name, ph.Kind)
			}
		}
		if p.Closed != nil {
			// /proc counts CPU time in 10 ms ticks: a short phase may
			// show none, the whole run cannot.
			cpu += p.Closed.Server.CPUSeconds
		}
		if p.Closed != nil && p.Open != nil && p.Open.OfferedRate != p.Closed.Throughput/2 {
			t.Errorf("%s: open loop offered %.1f/s, want half of %.1f/s", p.Name, p.Open.OfferedRate, p.Closed.Throughput)
		}
		if p.Ceiling != "" && (p.CeilingPerSec <= 0 || p.Fraction <= 0) {
			t.Errorf("%s: no ceiling (%s) or fraction: %v %v", p.Name, p.Ceiling, p.CeilingPerSec, p.Fraction)
		}
		// SQLite's write queue is read from the server's /metrics around
		// each phase: a path that writes a token per operation uses it.
		if p.Name == "cc-opaque" && p.Closed != nil {
			if q := p.Closed.WriteQueue; q == nil || q.StatementsPerCommit < 1 || q.Busy <= 0 {
				t.Errorf("cc-opaque: write queue %+v, want commits of at least one statement", q)
			}
		}
		// A path bound by a signature or a hash is compared with that
		// operation's cost measured around its own closed loop.
		switch b := p.Bracket; {
		case p.Ceiling == bench.CeilingHTTP && b != nil:
			t.Errorf("%s: an HTTP-bound path has a bracket %+v", p.Name, *b)
		case p.Ceiling != bench.CeilingHTTP && p.Ceiling != "" && (b == nil || b.BeforeUS <= 0 || b.AfterUS <= 0):
			t.Errorf("%s: bracket %+v, want both measurements", p.Name, b)
		case b != nil && p.BoundCostUS != b.CostUS():
			t.Errorf("%s: bound cost %.1f µs, want the bracket's mean %.1f", p.Name, p.BoundCostUS, b.CostUS())
		}
		if p.Target == nil {
			t.Errorf("%s: no target check", p.Name)
		}
	}
	if cpu <= 0 {
		t.Error("no server CPU time was counted in any phase")
	}
	fl := br.Flood
	if fl == nil || fl.Requests == 0 || fl.OK == 0 {
		t.Fatalf("flood: %+v", fl)
	}
	// 80 logins at once against 2 hashing slots and a queue of 64: some
	// must be refused with the system-busy error, none otherwise.
	if fl.Busy == 0 || fl.Busy+fl.OK != fl.Requests {
		t.Errorf("flood: %d ok, %d busy of %d; errors %v", fl.OK, fl.Busy, fl.Requests, fl.Errors)
	}

	r := &bench.Report{Machine: bench.ReadMachine(), Ceilings: c, Backends: []bench.BackendReport{br}}
	var text bytes.Buffer
	if err := bench.WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, name := range bench.Paths() {
		if !strings.Contains(text.String(), name) {
			t.Errorf("the table has no row for %s:\n%s", name, text.String())
		}
	}
	var md bytes.Buffer
	if err := bench.WriteMarkdown(&md, r); err != nil || !strings.Contains(md.String(), "| exchange-rs256 |") {
		t.Errorf("markdown report: %v\n%s", err, md.String())
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.Report
	if err := json.Unmarshal(js, &back); err != nil || len(back.Backends[0].Paths) != len(br.Paths) {
		t.Errorf("JSON report does not read back: %v", err)
	}
	var img bytes.Buffer
	if err := bench.WritePlot(&img, r); err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(&img); err != nil || cfg.Width < 800 || cfg.Height < 800 {
		t.Errorf("plot: %v, %+v", err, cfg)
	}
}

// TestRunPostgres runs a path that writes against PostgreSQL: every
// phase then carries PostgreSQL's checkpoint counters, read through a
// connection of the harness's own that is closed before the run's
// database is dropped.
func TestRunPostgres(t *testing.T) {
	admin := os.Getenv("SESAME_TEST_POSTGRES_DSN")
	if admin == "" {
		t.Skip("SESAME_TEST_POSTGRES_DSN is not set: the harness is not run against PostgreSQL")
	}
	if testing.Short() {
		t.Skip("a second of load: skipped with -short")
	}
	dsn, drop, err := bench.PostgresDatabase(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	o := bench.Options{
		Paths: []string{"cc-opaque"}, Duration: 200 * time.Millisecond, Concurrency: 2, Users: 2,
		Window: 50 * time.Millisecond, BracketTime: -1,
		Logf: func(format string, args ...any) { t.Logf(time.Now().Format("05.000 ")+format, args...) },
	}
	br, err := bench.RunBackend(t.Context(), o, bench.Ceilings{}, "postgres", dsn, inProcess(t))
	if derr := drop(); derr != nil {
		t.Errorf("dropping the run's database: %v", derr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(br.Paths) != 1 {
		t.Fatalf("%d paths reported, want 1", len(br.Paths))
	}
	p := br.Paths[0]
	for _, ph := range []*bench.PhaseReport{p.Closed, p.Open} {
		if ph == nil || ph.OK == 0 || len(ph.Errors) > 0 {
			t.Fatalf("%s: phase %+v", p.Name, ph)
		}
		if c := ph.DBCheckpoints; c == nil || c.Started < 0 || c.BuffersWritten < 0 || c.SyncMS < 0 {
			t.Errorf("%s %s: checkpoint counters %+v, want them read", p.Name, ph.Kind, c)
		}
		if ph.WriteQueue != nil {
			t.Errorf("%s %s: a SQLite write queue %+v on PostgreSQL", p.Name, ph.Kind, ph.WriteQueue)
		}
	}
}
