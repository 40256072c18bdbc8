//go:build linux

package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// envPostgresDSN enables the PostgreSQL tests everywhere in the repository
// (package sqltest). This test does not use that server: it makes a
// cluster of its own, so that stopping it disturbs nobody.
const envPostgresDSN = "SESAME_TEST_POSTGRES_DSN"

// TestPostgresRestartUnderLoad restarts and crashes the PostgreSQL server
// under a running Sesame with a load of SDK clients (issue 6, point 3) and
// reports, for each outage: the requests made during it by outcome, the
// longest answer, and how long after PostgreSQL was back the service
// answered again; and at the end the acknowledged sessions that were lost.
//
// Three outages: a restart as operators do it (-m fast), a crash (-m
// immediate, 3 s down, then a start that runs WAL recovery), and a server
// that stops answering without closing anything (every process of the
// cluster stopped with SIGSTOP for 4 s, as in a network partition or a
// stalled disk), which only storage.query_timeout ends.
//
// What must hold (contract §6, README "Faults"): during an outage every
// answer is success or the tenant's system-busy error, never another
// error or a dropped connection, and none takes longer than the server's
// timeouts (for the frozen server: two storage calls' query_timeout, well
// under request_timeout); the server resumes by itself (database/sql and
// pgx replace the broken connections); every login and rotation that was
// answered with 200 still holds afterwards.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if os.Getenv(envPostgresDSN) == "" {
		t.Skip(envPostgresDSN + " not set: skipping the PostgreSQL fault test")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	pg := newCluster(ctx, t)

	cfg, env := writeConfig(t, "postgres", pg.dsn)
	c := newClient(t)
	srv := startServer(ctx, t, "server", cfg, env)

	// Every endpoint family answers with storage working (which also
	// shows the sweep's requests are well-formed); the kits for the sweep
	// during the outage are made now.
	var kits []*sweepKit
	for _, tf := range tenants {
		checkSweep(t, "with PostgreSQL up", c.sweep(ctx, srv.base, newSweepKit(ctx, t, c, srv.base, tf)), true)
		kits = append(kits, newSweepKit(ctx, t, c, srv.base, tf))
	}
	var sweepDown []sweepResult

	var l ledger
	ld := startLoad(ctx, c, srv.base, &l)
	defer ld.finish()
	ld.wait(2 * time.Second)

	type outage struct {
		name         string
		from, back   time.Time // PostgreSQL unavailable, as the probe saw it
		recovered    time.Duration
		hasRecovered bool
		limit        time.Duration // the longest answer allowed during it
		// mustObserve: the outage is long enough that some request must
		// have met it (a fast restart can fall between requests).
		mustObserve bool
	}
	var outages []*outage
	probe := startProbe(ctx, pg.dsn)
	defer probe.stop()
	run := func(name string, limit time.Duration, mustObserve bool, fault func() error) {
		t.Helper()
		from := time.Now()
		if err := fault(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		to := time.Now()
		o := &outage{name: name, limit: limit, mustObserve: mustObserve}
		// The window is when the probe found PostgreSQL unavailable; the
		// fault command's own span if the probe missed a short outage.
		if o.from, o.back = probe.downWithin(from, to); o.from.IsZero() {
			o.from, o.back = from, to
		}
		o.recovered, o.hasRecovered = ld.waitRecovered(o.back, 15*time.Second)
		outages = append(outages, o)
		ld.wait(1500 * time.Millisecond) // steady state before the next fault
	}
	hard := requestTimeout + time.Second // scheduling slack on a loaded machine
	// A restart as an operator does it: fast shutdown (open transactions
	// are rolled back, clients disconnected), then start.
	run("restart -m fast", hard, false, func() error { return pg.ctl(ctx, "restart", "-m", "fast") })
	// A crash: immediate shutdown skips the checkpoint, so the start runs
	// WAL recovery; the database stays down for 3 s in between.
	run("stop -m immediate, 3 s down, start", hard, true, func() error {
		if err := pg.ctl(ctx, "stop", "-m", "immediate"); err != nil {
			return err
		}
		stopped := time.Now()
		for _, k := range kits {
			sweepDown = append(sweepDown, c.sweep(ctx, srv.base, k)...)
		}
		ld.wait(3*time.Second - time.Since(stopped))
		return pg.ctl(ctx, "start")
	})
	// Frozen: connections stay open and new ones are accepted by the
	// kernel, but nothing answers. A request stops at its first storage
	// call that times out; two calls may time out in a row (one whose
	// failure is tolerated, like the device-binding lookup, then the
	// next); 3 s more for a login's wait for a hashing slot and a loaded
	// machine. Without storage.query_timeout a call would hold the
	// request for the whole server.request_timeout (8 s).
	run("frozen 4 s (SIGSTOP)", 2*queryTimeout+3*time.Second, true, func() error {
		thaw, err := pg.freeze(t)
		if err != nil {
			return err
		}
		ld.wait(4 * time.Second)
		return thaw()
	})
	ld.finish()
	samples := ld.all()
	if ctx.Err() != nil {
		t.Fatalf("the test ran out of time: %v", ctx.Err())
	}

	// Report and check each outage.
	var summary []string
	for _, o := range outages {
		during := window(samples, o.from, o.back)
		rec := "did not recover within 15 s"
		if o.hasRecovered {
			rec = o.recovered.Round(time.Millisecond).String()
		}
		t.Logf("PostgreSQL %s: down for %v; requests during the outage: %v; recovered %s after PostgreSQL was back",
			o.name, o.back.Sub(o.from).Round(time.Millisecond), during, rec)
		summary = append(summary, fmt.Sprintf("[%s: %d success / %d busy / %d other, longest %v, recovery %s]",
			o.name, during.n[success], during.n[busy], during.n[other], during.longest.Round(time.Millisecond), rec))
		switch {
		case during.n[busy] == 0 && o.mustObserve:
			t.Errorf("%s: no request got the busy error during the outage (%v): the fault was not observed", o.name, during)
		case during.n[other] > 0:
			t.Errorf("%s: %d requests during the outage got something else than success or the busy error:\n  %s",
				o.name, during.n[other], strings.Join(during.examples, "\n  "))
		}
		if during.longest > o.limit {
			t.Errorf("%s: an answer during the outage took %v, more than the %v allowed (storage.query_timeout %v, server.request_timeout %v)",
				o.name, during.longest, o.limit, queryTimeout, requestTimeout)
		}
		if !o.hasRecovered {
			t.Errorf("%s: no request succeeded within 15 s of PostgreSQL being back", o.name)
		}
	}
	// Outside the outages too, every answer is success or busy.
	whole := window(samples, time.Time{}, time.Now())
	if whole.n[other] > 0 {
		t.Errorf("%d requests of the whole run got something else than success or the busy error:\n  %s",
			whole.n[other], strings.Join(whole.examples, "\n  "))
	}

	okN, busyN := checkSweep(t, "with PostgreSQL down", sweepDown, false)
	t.Logf("endpoint sweep with PostgreSQL down: %d answers: %d success, %d busy: %s", len(sweepDown), okN, busyN, outcomes(sweepDown))
	if busyN == 0 {
		t.Errorf("the endpoint sweep with PostgreSQL down got no busy answer: it did not run during the outage")
	}

	// Nothing acknowledged is lost.
	srv.checkHealthy(t)
	checked, lost := l.verify(ctx, c, srv.base)
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged sessions were lost:\n  %s", len(lost), checked, strings.Join(lost[:min(len(lost), 10)], "\n  "))
	}
	if r, err := c.do(ctx, srv.base, acme.host, http.MethodGet, "/readyz", nil, ""); err != nil || r.status != http.StatusOK {
		t.Errorf("readyz after the outages: %v %v", r, err)
	}
	t.Logf("SUMMARY postgres-restart: %v; %s; endpoint sweep while down %d success / %d busy / %d other; acknowledged sessions checked %d, lost %d",
		whole, strings.Join(summary, " "), okN, busyN, len(sweepDown)-okN-busyN, checked, len(lost))
}

// ---------------------------------------------------------------------------
// A PostgreSQL cluster of the test's own.

// cluster is a Debian postgresql-common cluster made for one test run.
type cluster struct {
	version, name, port string
	dsn                 string
}

// clusterPrefix names the clusters of this package; the suffix is the
// test process's id, so that concurrent runs do not collide and a later
// run can recognise the cluster of a run that died.
const clusterPrefix = "sesame_fault_"

// newCluster creates and starts a cluster on a free port with trust
// authentication for local connections, and drops it when the test ends.
// Any failure fails the test: with SESAME_TEST_POSTGRES_DSN set, CI must
// run this test for real.
func newCluster(ctx context.Context, t *testing.T) *cluster {
	t.Helper()
	for _, tool := range []string{"pg_createcluster", "pg_ctlcluster", "pg_dropcluster"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (Debian package postgresql-common, installed with postgresql): %v", tool, err)
		}
	}
	version, err := newestVersion("/etc/postgresql")
	if err != nil {
		t.Fatal(err)
	}
	dropStale(ctx, t, version)
	pg := &cluster{version: version, name: clusterPrefix + strconv.Itoa(os.Getpid()), port: freePort(t)}
	pg.dsn = "postgres://postgres@127.0.0.1:" + pg.port + "/postgres?sslmode=disable"
	start := time.Now()
	// initdb options follow "--". Trust is for this throw-away cluster
	// only, which listens on localhost.
	if out, err := run(ctx, "pg_createcluster", version, pg.name, "-p", pg.port, "--", "--auth=trust"); err != nil {
		t.Fatalf("pg_createcluster %s %s (as root, which the fault tests need): %v\n%s", version, pg.name, err, out)
	}
	t.Cleanup(func() {
		// Not ctx: the cluster must go even when the test ran out of time.
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := run(dctx, "pg_dropcluster", "--stop", pg.version, pg.name); err != nil {
			t.Errorf("pg_dropcluster %s %s: %v\n%s", pg.version, pg.name, err, out)
		}
	})
	if err := pg.ctl(ctx, "start"); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s cluster %s on port %s made and started in %v", version, pg.name, pg.port, time.Since(start).Round(time.Millisecond))
	return pg
}

// ctl runs pg_ctlcluster action on the cluster, directly rather than
// through systemd.
func (pg *cluster) ctl(ctx context.Context, action string, args ...string) error {
	argv := append([]string{"--skip-systemctl-redirect"}, args...)
	argv = append(argv, pg.version, pg.name, action)
	if out, err := run(ctx, "pg_ctlcluster", argv...); err != nil {
		return fmt.Errorf("pg_ctlcluster %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// newestVersion returns the highest PostgreSQL major version configured in
// dir (/etc/postgresql/<version>/<cluster>).
func newestVersion(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("no PostgreSQL installation found (%w): install the postgresql package", err)
	}
	var versions []float64
	for _, e := range entries {
		if v, err := strconv.ParseFloat(e.Name(), 64); err == nil && e.IsDir() {
			versions = append(versions, v)
		}
	}
	if len(versions) == 0 {
		return "", fmt.Errorf("no PostgreSQL version in %s", dir)
	}
	return strconv.FormatFloat(slices.Max(versions), 'f', -1, 64), nil
}

// dropStale drops the clusters of earlier runs of this package whose
// process no longer exists (a run killed before its cleanup).
func dropStale(ctx context.Context, t *testing.T, version string) {
	names, _ := filepath.Glob(filepath.Join("/etc/postgresql", version, clusterPrefix+"*"))
	re := regexp.MustCompile("^" + clusterPrefix + `(\d+)$`)
	for _, path := range names {
		m := re.FindStringSubmatch(filepath.Base(path))
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // its test is still running
		}
		if out, err := run(ctx, "pg_dropcluster", "--stop", version, m[0]); err != nil {
			t.Logf("dropping the stale cluster %s: %v\n%s", m[0], err, out)
		} else {
			t.Logf("dropped the stale cluster %s of an earlier run", m[0])
		}
	}
}

// freeze stops every process of the cluster with SIGSTOP — the postmaster
// first, so that it forks no new backend meanwhile — and returns the
// function that continues them. A cleanup continues them as well, should
// the test end in between.
func (pg *cluster) freeze(t *testing.T) (thaw func() error, err error) {
	dataDir, err := pg.dataDir()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	postmaster, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || postmaster <= 1 {
		return nil, fmt.Errorf("postmaster.pid of %s: %q", pg.name, first)
	}
	if err := syscall.Kill(postmaster, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("SIGSTOP the postmaster: %w", err)
	}
	pids := append([]int{postmaster}, childrenOf(postmaster)...)
	for _, pid := range pids[1:] {
		_ = syscall.Kill(pid, syscall.SIGSTOP) // a backend may have just exited
	}
	var once sync.Once
	thaw = func() error {
		var err error
		once.Do(func() {
			for i := len(pids) - 1; i >= 0; i-- {
				if e := syscall.Kill(pids[i], syscall.SIGCONT); e != nil && i == 0 {
					err = fmt.Errorf("SIGCONT the postmaster: %w", e)
				}
			}
		})
		return err
	}
	t.Cleanup(func() { _ = thaw() })
	return thaw, nil
}

// dataDir returns the cluster's data directory, from pg_lsclusters.
func (pg *cluster) dataDir() (string, error) {
	out, err := run(context.Background(), "pg_lsclusters", "--no-header")
	if err != nil {
		return "", fmt.Errorf("pg_lsclusters: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		// Ver Cluster Port Status Owner Data-directory Log-file
		if f := strings.Fields(line); len(f) >= 6 && f[0] == pg.version && f[1] == pg.name {
			return f[5], nil
		}
	}
	return "", fmt.Errorf("cluster %s %s not in pg_lsclusters:\n%s", pg.version, pg.name, out)
}

// childrenOf returns the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces and ")".
		i := strings.LastIndexByte(string(b), ')')
		if f := strings.Fields(string(b[i+1:])); i > 0 && len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, child)
		}
	}
	return kids
}

// ---------------------------------------------------------------------------
// A probe of PostgreSQL's availability.

// probe connects to PostgreSQL afresh every 50 ms and runs SELECT 1, each
// attempt bounded to 500 ms, and records which attempts failed: the
// outage as a new client sees it.
type probe struct {
	mu      sync.Mutex
	results []probeResult
	cancel  context.CancelFunc
	done    chan struct{}
}

type probeResult struct {
	start, end time.Time
	ok         bool
}

func startProbe(ctx context.Context, dsn string) *probe {
	ctx, cancel := context.WithCancel(ctx)
	p := &probe{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for ctx.Err() == nil {
			start := time.Now()
			actx, acancel := context.WithTimeout(ctx, 500*time.Millisecond)
			conn, err := pgx.Connect(actx, dsn)
			if err == nil {
				_, err = conn.Exec(actx, "SELECT 1")
				_ = conn.Close(context.Background())
			}
			acancel()
			p.mu.Lock()
			p.results = append(p.results, probeResult{start: start, end: time.Now(), ok: err == nil})
			p.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return p
}

func (p *probe) stop() {
	p.cancel()
	<-p.done
}

// downWithin returns when the first attempt that failed started, among
// those started in [from, to], and when the first attempt after it that
// succeeded ended; zero times if no attempt failed. It waits up to 5 s for
// that success.
func (p *probe) downWithin(from, to time.Time) (down, up time.Time) {
	for deadline := time.Now().Add(5 * time.Second); ; {
		p.mu.Lock()
		down, up = time.Time{}, time.Time{}
		for _, r := range p.results {
			switch {
			case down.IsZero() && !r.ok && !r.start.Before(from) && !r.start.After(to):
				down = r.start
			case !down.IsZero() && r.ok:
				up = r.end
			}
			if !up.IsZero() {
				break
			}
		}
		p.mu.Unlock()
		if down.IsZero() || !up.IsZero() || time.Now().After(deadline) {
			if up.IsZero() {
				up = to
			}
			return down, up
		}
		time.Sleep(50 * time.Millisecond)
	}
}
