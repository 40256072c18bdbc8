package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sesame-idp/sesame/internal/config"
)

func TestCheckLoopback(t *testing.T) {
	for _, test := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:80", true},
		{"[::1]:8080", true},
		{"127.0.0.1", true},
		{"localhost:8080", false}, // a name may resolve anywhere
		{"10.0.0.1:8080", false},
		{"192.168.1.2:80", false},
		{"[::ffff:10.0.0.1]:80", false},
		{"example.com:443", false},
		{"0.0.0.0:80", false},
	} {
		if err := CheckLoopback(test.addr); (err == nil) != test.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", test.addr, err, test.ok)
		}
	}
}

// The configuration file the harness writes must load, through the
// server's own loader, into exactly the configuration it was made from.
func TestConfigFileLoadsBack(t *testing.T) {
	f := newFixture(3)
	want := f.ServerConfig("127.0.0.1:18080", "sqlite", filepath.Join(t.TempDir(), "s.db"), "127.0.0.1:16060")
	raw, err := configFile(want)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sesame.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := config.Load(path, nil, nil)
	if err != nil {
		t.Fatalf("config.Load: %v\n%s", err, raw)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loaded configuration differs (-want +got):\n%s", diff)
	}
}

func TestPercentile(t *testing.T) {
	v := []int64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	slices.Sort(v)
	for _, test := range []struct {
		p    float64
		want int64
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {1, 1}} {
		if got := percentile(v, test.p); got != test.want {
			t.Errorf("percentile(%v) = %d, want %d", test.p, got, test.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %d", got)
	}
}

// A server that stalls for 200 ms once: the closed loop sees one slow
// request, but the open loop must count the wait of every request
// scheduled during the stall (no coordinated omission).
func TestOpenLoopCountsTheBacklog(t *testing.T) {
	stalled := false
	stall := func(context.Context) string {
		if !stalled {
			stalled = true
			time.Sleep(200 * time.Millisecond)
		}
		return ""
	}
	ph := runOpen(t.Context(), []op{stall}, 1000, 400*time.Millisecond, 1_000_000, watched{})
	r := summarize(ph, 50*time.Millisecond)
	if r.OK < 300 {
		t.Fatalf("only %d operations done of about 400 scheduled", r.OK)
	}
	// About 200 requests were scheduled during the stall; the median one
	// waited about 100 ms, the p99 close to 200 ms.
	if r.Latency.P99 < 150 || r.Latency.P50 > 150 {
		t.Errorf("open loop latency p50 %.1f ms, p99 %.1f ms: the backlog was not counted", r.Latency.P50, r.Latency.P99)
	}
	stalled = false
	cl := summarize(runClosed(t.Context(), []op{stall}, 300*time.Millisecond, 1_000_000, watched{}), 50*time.Millisecond)
	if cl.Latency.P50 > 1 || cl.Latency.Max < 199 {
		t.Errorf("closed loop p50 %.2f ms, max %.1f ms: want one slow request", cl.Latency.P50, cl.Latency.Max)
	}
}

func TestReadProc(t *testing.T) {
	// CPU time is counted in 10 ms ticks: spend a few, so that a test run
	// alone does not read 0.
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
		_ = sha256.Sum256([]byte("tick"))
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS || s.CPU <= 0 {
		t.Errorf("readProc(self) = %+v: want RSS > 0, HWM ≥ RSS, CPU > 0", s)
	}
}

// TestMachineWatch: the machine's CPU accounting sees this process's work
// as busy time, adds up to no more than the machine's cores, and counts a
// database server's processes found by command name (this test binary
// stands in for one).
func TestMachineWatch(t *testing.T) {
	if _, _, err := readMachineCPU(); err != nil {
		t.Skipf("no /proc/stat here: %v", err)
	}
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc/self/stat: %v", err)
	}
	comm := string(stat[bytes.IndexByte(stat, '(')+1 : bytes.LastIndexByte(stat, ')')])
	w := watchMachine(comm)
	if _, ok := w.dbStart[os.Getpid()]; !ok {
		t.Fatalf("readCommCPU(%q) did not find this process", comm)
	}
	// Keep one core busy for 300 ms.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		_ = sha256.Sum256(stat)
	}
	m := w.finish()
	if m == nil {
		t.Fatal("finish: nil")
	}
	cores := float64(runtime.NumCPU())
	// Ticks are 10 ms, so allow for the rounding of a 300 ms window.
	if m.BusyCores < 0.5 || m.DBCores < 0.5 || m.DBCores > m.BusyCores+0.2 || m.BusyCores+m.IdleCores > cores+0.2 {
		t.Errorf("%+v on %v cores: want busy and db ≥ 0.5 core (this test spun one), db ≤ busy, busy + idle ≤ cores", *m, cores)
	}
}

// TestQueueCounters: the write queue's counters are read from a
// Prometheus exposition, all four or none, and turned into a phase's
// busy share and mean batch.
func TestQueueCounters(t *testing.T) {
	body := []byte(`# HELP sesame_sqlite_write_statements_total Statements.
# TYPE sesame_sqlite_write_statements_total counter
sesame_sqlite_write_statements_total 1200
sesame_sqlite_write_commits_total 200
sesame_sqlite_write_busy_seconds_total 1.5
sesame_sqlite_write_commit_seconds_total 0.75
sesame_http_requests_total{code="200",route="GET /healthz"} 7
`)
	end, ok := parseQueueCounters(body)
	if !ok || end != (queueCounters{1200, 200, 1.5, 0.75}) {
		t.Fatalf("parseQueueCounters = %+v, %v", end, ok)
	}
	if _, ok := parseQueueCounters([]byte("sesame_sqlite_write_statements_total 3\n")); ok {
		t.Error("a partial exposition (PostgreSQL exports none of them) was accepted")
	}
	q := end.since(queueCounters{200, 100, 0.5, 0.25}, 2*time.Second)
	if q == nil || q.Busy != 0.5 || q.CommitShare != 0.5 || q.StatementsPerCommit != 10 {
		t.Errorf("since = %+v, want busy 0.5, commit share 0.5, 10 statements per commit", q)
	}
	if q := end.since(end, time.Second); q != nil {
		t.Errorf("a phase without commits gave %+v, want nil", q)
	}
}

func TestIdleNote(t *testing.T) {
	phase := func(idle float64, q *WriteQueueStats) *PathReport {
		return &PathReport{Name: "cc-opaque", Closed: &PhaseReport{Workers: 16, Machine: &MachineStats{IdleCores: idle}, WriteQueue: q}}
	}
	for _, tc := range []struct {
		name string
		p    *PathReport
		want string
	}{
		{"cpu-bound", phase(0.05, nil), ""},
		{"not measured", &PathReport{Name: "x", Closed: &PhaseReport{}}, ""},
		{"waiting", phase(0.4, nil), "cc-opaque: 0.40 cores idle at 16 clients: not bound by the CPU (its clients waited); more clients (-c) may reach more"},
		{"write queue", phase(0.42, &WriteQueueStats{Busy: 0.94, StatementsPerCommit: 3.7}),
			"cc-opaque: 0.42 cores idle at 16 clients: not bound by the CPU (its clients waited, SQLite's write queue busy 94% of the time with 3.7 statements per commit); more clients (-c) may reach more"},
	} {
		if got := idleNote(tc.p); got != tc.want {
			t.Errorf("%s: idleNote = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// sharingNote compares the path with the ceiling of the operation's cost
// when every core runs it, and says nothing when that cost is close to
// the cost alone, unmeasured, or the path has no such bound.
func TestSharingNote(t *testing.T) {
	login := &PathReport{Name: "sdk-login", Ceiling: CeilingArgon2, Closed: &PhaseReport{Throughput: 84}}
	c := Ceilings{
		Argon2idMS:       18.4,
		Argon2idAllCores: AllCores{Goroutines: 2, Ops: 100, CPUSeconds: 2.0, PerSecCPU: 100}, // 20 ms each
		RS256SignUS:      735,
		RS256AllCores:    AllCores{Goroutines: 2, Ops: 1000, CPUSeconds: 0.75, PerSecCPU: 2667}, // 750 µs: 2% more
	}
	for _, tc := range []struct {
		name string
		p    *PathReport
		c    Ceilings
		want string
	}{
		{"shared cost higher", login, c,
			"sdk-login: with every core at once one argon2id cost 9% more CPU than alone (20000 vs 18400 µs); against that cost the ceiling is 100/s and the path reaches 84% of it"},
		{"close to alone", &PathReport{Name: "exchange-rs256", Ceiling: CeilingRS256, Closed: &PhaseReport{Throughput: 2000}}, c, ""},
		{"not measured", login, Ceilings{Argon2idMS: 18.4}, ""},
		{"no such bound", &PathReport{Name: "cc-opaque", Ceiling: CeilingHTTP, Closed: &PhaseReport{Throughput: 9000}}, c, ""},
		{"no closed loop", &PathReport{Name: "sdk-login", Ceiling: CeilingArgon2}, c, ""},
	} {
		if got := sharingNote(tc.p, tc.c); got != tc.want {
			t.Errorf("%s: sharingNote = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestOutcomeNamesErrors(t *testing.T) {
	for _, test := range []struct {
		status int
		body   string
		want   string
	}{
		{500, `{"error_code":"SDK.COMMON.1008","error_msg":"System busy"}`, "500 SDK.COMMON.1008"},
		{400, `{"error":"invalid_grant","error_description":"x"}`, "400 invalid_grant"},
		{502, `<html>bad gateway</html>`, "502 -"},
	} {
		if got := outcome(&answer{status: test.status, body: []byte(test.body)}, nil); got != test.want {
			t.Errorf("outcome(%d %s) = %q, want %q", test.status, test.body, got, test.want)
		}
	}
	if !isBusy("500 SDK.COMMON.1008") || !isBusy("400 IDAAS.SDK.COM.0002") || isBusy("400 SDK.COMMON.1006") {
		t.Error("isBusy does not tell the system-busy codes")
	}
}
