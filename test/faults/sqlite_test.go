//go:build linux

package faults

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // PRAGMA integrity_check on the server's file
)

// TestSQLiteDiskFull fills the file system of the SQLite data directory
// under a running server and frees it again (issue 6, point 3): while it
// is full, writes (logins, rotations, tenant tokens) must get the
// system-busy error and reads (JWKS, discovery, an exchange that does not
// rotate, introspection) must keep working; once space returns, writes
// must work again without a restart; nothing that was answered may be
// lost, and the database must pass PRAGMA integrity_check.
//
// The directory is a tmpfs of 16 MiB that the test fills with a file
// (root). Without the right to mount, the fault is simulated with
// RLIMIT_FSIZE on the server process (prlimit): the kernel then refuses
// to extend any file past the limit (EFBIG), which SQLite meets where it
// would meet ENOSPC; the test log says which was used.
//
// SQLite reuses its WAL file from the start after each checkpoint, so on
// a full disk commits go on succeeding until the WAL must grow past its
// largest size so far. Just before the disk fills, the test therefore
// checkpoints and truncates the WAL from a connection of its own (PRAGMA
// wal_checkpoint(TRUNCATE)): the state of a fresh start, in which the
// next commits need new space at once.
func TestSQLiteDiskFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var fault diskFault
	if err := mount("tmpfs", dir, "tmpfs", "size=16m,mode=0700"); err == nil {
		t.Cleanup(func() { unmount(t, dir) })
		fault = &fillFault{path: filepath.Join(dir, "filler")}
		t.Logf("data directory on a 16 MiB tmpfs; the fault fills it with a file")
	} else {
		t.Logf("cannot mount a tmpfs (%v): simulating a full disk with RLIMIT_FSIZE on the server process instead", err)
		fault = &rlimitFault{dir: dir}
	}

	dsn := filepath.Join(dir, "sesame.db")
	cfg, env := writeConfig(t, "sqlite", dsn)
	c := newClient(t)
	srv := startServer(ctx, t, "server", cfg, env)
	if rf, ok := fault.(*rlimitFault); ok {
		rf.pid = srv.cmd.Process.Pid
	}
	f := newFaultRun(ctx, t, c, srv)
	f.before(2 * time.Second)

	truncateWAL(t, dsn)
	if err := fault.inject(); err != nil {
		t.Fatalf("filling the disk: %v", err)
	}
	t.Logf("disk full: %s", fault)
	f.during(3 * time.Second)

	if err := fault.clear(); err != nil {
		t.Fatalf("freeing the disk: %v", err)
	}
	f.after(2 * time.Second)
	f.report("sqlite-disk-full")

	// The file is sound, and everything answered survives a restart.
	if err := srv.stop(); err != nil {
		t.Errorf("stopping the server: %v", err)
	}
	checkIntegrity(t, dsn)
	srv2 := startServer(ctx, t, "server (restarted)", cfg, env)
	if checked, lost := f.ledger.verify(ctx, c, srv2.base); len(lost) > 0 {
		t.Errorf("after a restart, %d of %d acknowledged sessions were lost:\n  %s", len(lost), checked, strings.Join(lost[:min(len(lost), 10)], "\n  "))
	}
}

// TestSQLiteReadOnly covers a data directory that turns read-only.
//
// Linux refuses to remount a file system read-only while a process has a
// file on it open for writing ("mount point is busy"), and the server
// keeps the database open; so at run time a data directory turns
// read-only only the way the kernel does it after an I/O error on a file
// system mounted with errors=remount-ro (the default of many
// distributions). The test mounts an ext4 image so and triggers such an
// error (/sys/fs/ext4/<dev>/trigger_fs_error). Writes must then get the
// busy error and reads must go on. The kernel keeps such a file system
// read-only until it is unmounted and checked, which needs the server to
// let go of its files: recovery is a restart after e2fsck, and nothing
// answered before may be lost.
//
// A server started on a data directory that is read-only from the start
// must refuse to start with a clear error, and start once it is writable.
func TestSQLiteReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount file systems (losetup, mount): skipping the read-only SQLite fault test")
	}
	t.Run("at run time", testReadOnlyAtRunTime)
	t.Run("at start", testReadOnlyAtStart)
}

func testReadOnlyAtRunTime(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "losetup", "e2fsck"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (packages e2fsprogs, mount): %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	img, dir := filepath.Join(tmp, "fs.img"), filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := run(ctx, "mkfs.ext4", "-q", "-F", img); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	out, err := run(ctx, "losetup", "--find", "--show", img)
	if err != nil {
		t.Fatalf("losetup: %v\n%s", err, out)
	}
	loop := strings.TrimSpace(out)
	t.Cleanup(func() {
		if out, err := run(context.Background(), "losetup", "--detach", loop); err != nil {
			t.Errorf("losetup --detach %s: %v\n%s", loop, err, out)
		}
	})
	if err := mount(loop, dir, "ext4", "errors=remount-ro"); err != nil {
		t.Fatalf("mount %s: %v", loop, err)
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			unmount(t, dir)
		}
	})

	dsn := filepath.Join(dir, "sesame.db")
	cfg, env := writeConfig(t, "sqlite", dsn)
	c := newClient(t)
	srv := startServer(ctx, t, "server", cfg, env)
	f := newFaultRun(ctx, t, c, srv)
	f.before(2 * time.Second)

	trigger := filepath.Join("/sys/fs/ext4", filepath.Base(loop), "trigger_fs_error")
	if err := os.WriteFile(trigger, []byte("1"), 0o200); err != nil {
		t.Fatalf("triggering an ext4 error: %v", err)
	}
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("after the ext4 error, creating a file gave %v, want EROFS", err)
	}
	t.Logf("ext4 error triggered on %s: the data directory is read-only", loop)
	f.during(3 * time.Second)
	f.finishLoad()
	f.srv.checkHealthy(t)

	// Recovery: stop, unmount, check, mount, start.
	start := time.Now()
	if err := srv.stop(); err != nil {
		t.Logf("the server's exit on a read-only directory: %v", err)
	}
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatalf("unmount after the server stopped: %v", err)
	}
	mounted = false
	out, err = run(ctx, "e2fsck", "-f", "-y", loop)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) { // 1: errors corrected
		t.Fatalf("e2fsck: %v\n%s", err, out)
	}
	if err := mount(loop, dir, "ext4", "errors=remount-ro"); err != nil {
		t.Fatalf("mount again: %v", err)
	}
	mounted = true
	checkIntegrity(t, dsn)
	srv2 := startServer(ctx, t, "server (restarted)", cfg, env)
	f.srv = srv2
	f.afterRestart(start, 2*time.Second)
	f.report("sqlite-read-only")
}

func testReadOnlyAtStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := mount("tmpfs", dir, "tmpfs", "size=16m,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unmount(t, dir) })
	dsn := filepath.Join(dir, "sesame.db")
	cfg, env := writeConfig(t, "sqlite", dsn)
	c := newClient(t)

	// A first run leaves a database and a session behind.
	srv := startServer(ctx, t, "server", cfg, env)
	r, err := c.login(ctx, srv.base, acme, acme.plain)
	if err != nil || r.status != http.StatusOK || r.str("session_token") == "" {
		t.Fatalf("login: %v %v", r, err)
	}
	token := r.str("session_token")
	if err := srv.stop(); err != nil {
		t.Fatalf("stopping the first server: %v", err)
	}

	// Read-only: the server must refuse to start, saying why.
	if err := remount(dir, true); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	ro := launchServer(t, "server (read-only directory)", cfg, env)
	select {
	case <-ro.done:
	case <-time.After(readyTimeout):
		t.Fatalf("the server did not exit on a read-only data directory:\n%s", tail(ro.out.String()))
	}
	out := ro.out.String()
	t.Logf("server on a read-only data directory exited with %v:\n%s", ro.waitErr, tail(out))
	if ro.waitErr == nil {
		t.Errorf("the server exited with status 0 on a read-only data directory")
	}
	if !strings.Contains(out, "read-only") {
		t.Errorf("the server's error does not say that the data directory is read-only")
	}
	ro.checkNoPanic(t)

	// Writable again: it starts, and the session of the first run works.
	if err := remount(dir, false); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}
	srv2 := startServer(ctx, t, "server (writable again)", cfg, env)
	if r, err := c.exchange(ctx, srv2.base, acme, acme.plain, token); err != nil || r.status != http.StatusOK {
		t.Errorf("the session of the first run after the read-only start: %v %v", r, err)
	}
}

// ---------------------------------------------------------------------------
// A fault run: load before, during and after a fault, read probes during
// it, and the report.

type faultRun struct {
	t      *testing.T
	ctx    context.Context
	c      *client
	srv    *server
	ledger *ledger
	ld     *load
	// samples are the requests of the loads that have finished.
	samples []sample

	// Marks on the time line.
	faultAt, clearedAt time.Time
	recovered          time.Duration
	hasRecovered       bool
	// Before the fault: a session of the plain application of each tenant
	// and an application access token, for the read probes.
	plainTokens  map[string]string
	accessTokens map[string]string
	reads        *tally // read probes during the fault
	readsAfter   *tally // the same once recovered
	// The endpoint sweep during the fault and its kits.
	kits  []*sweepKit
	sweep []sweepResult
	// The server's sesame_sqlite_write_faults_total by reason, read as
	// the fault begins and as it ends (before any restart).
	faultsBefore, faultsDuring map[string]int64
}

func newFaultRun(ctx context.Context, t *testing.T, c *client, srv *server) *faultRun {
	return &faultRun{t: t, ctx: ctx, c: c, srv: srv, ledger: &ledger{},
		plainTokens: map[string]string{}, accessTokens: map[string]string{}}
}

// before runs the load for d and prepares the read probes.
func (f *faultRun) before(d time.Duration) {
	t := f.t
	t.Helper()
	for _, tf := range tenants {
		r, err := f.c.login(f.ctx, f.srv.base, tf, tf.plain)
		if err != nil || r.status != http.StatusOK || r.str("session_token") == "" {
			t.Fatalf("login before the fault: %v %v", r, err)
		}
		f.plainTokens[tf.id] = r.str("session_token")
		f.ledger.add(&held{tf: tf, app: tf.plain, token: r.str("session_token"), when: time.Now()})
		r, err = f.c.tenantToken(f.ctx, f.srv.base, tf, tf.plain)
		if err != nil || r.status != http.StatusOK || r.str("access_token") == "" {
			t.Fatalf("tenant token before the fault: %v %v", r, err)
		}
		f.accessTokens[tf.id] = r.str("access_token")
		checkSweep(t, "before the fault", f.c.sweep(f.ctx, f.srv.base, newSweepKit(f.ctx, t, f.c, f.srv.base, tf)), true)
		f.kits = append(f.kits, newSweepKit(f.ctx, t, f.c, f.srv.base, tf))
	}
	f.ld = startLoad(f.ctx, f.c, f.srv.base, f.ledger)
	f.ld.wait(d)
	f.faultsBefore = f.writeFaults()
	f.faultAt = time.Now()
}

// writeFaults reads the server's count of the writes that SQLite refused
// because of the disk, by reason, from /metrics.
func (f *faultRun) writeFaults() map[string]int64 {
	f.t.Helper()
	r, err := f.c.do(f.ctx, f.srv.base, tenants[0].host, http.MethodGet, "/metrics", nil, "")
	if err != nil || r.status != http.StatusOK {
		f.t.Fatalf("GET /metrics: %v %v", r, err)
	}
	series := regexp.MustCompile(`(?m)^sesame_sqlite_write_faults_total\{reason="([a-z_]+)"\} ([0-9.e+]+)$`)
	out := map[string]int64{}
	for _, m := range series.FindAllSubmatch(r.body, -1) {
		v, err := strconv.ParseFloat(string(m[2]), 64)
		if err != nil {
			f.t.Fatalf("metrics: %s: %v", m[0], err)
		}
		out[string(m[1])] = int64(v)
	}
	if len(out) == 0 {
		f.t.Fatalf("metrics lack sesame_sqlite_write_faults_total:\n%s", r.body)
	}
	return out
}

// sumFaults adds up writeFaults' counts.
func sumFaults(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// during lets the load run for d with the fault on, and probes the reads.
func (f *faultRun) during(d time.Duration) {
	f.faultAt = time.Now()
	deadline := f.faultAt.Add(d)
	for _, k := range f.kits {
		f.sweep = append(f.sweep, f.c.sweep(f.ctx, f.srv.base, k)...)
	}
	f.reads = &tally{}
	for first := true; first || time.Now().Before(deadline); first = false {
		f.probeReads(f.reads)
		f.ld.wait(200 * time.Millisecond)
	}
	f.faultsDuring = f.writeFaults()
}

// probeReads sends the requests that need no write, for each tenant.
func (f *faultRun) probeReads(into *tally) {
	for _, tf := range tenants {
		for _, p := range []struct {
			what string
			do   func() (response, error)
			ok   func(response) bool
		}{
			{"JWKS", func() (response, error) {
				return f.c.do(f.ctx, f.srv.base, tf.host, http.MethodGet, "/api/v1/oauth2/keys", nil, "")
			}, func(r response) bool { keys, _ := r.json["keys"].([]any); return len(keys) > 0 }},
			{"discovery", func() (response, error) {
				return f.c.do(f.ctx, f.srv.base, tf.host, http.MethodGet, "/.well-known/openid-configuration", nil, "")
			}, func(r response) bool { return r.str("issuer") != "" }},
			{"exchange without rotation", func() (response, error) {
				return f.c.exchange(f.ctx, f.srv.base, tf, tf.plain, f.plainTokens[tf.id])
			}, func(r response) bool { return r.str("id_token") != "" }},
			{"introspection", func() (response, error) {
				return f.c.introspect(f.ctx, f.srv.base, tf, tf.plain, f.accessTokens[tf.id])
			}, func(r response) bool { return r.json["active"] == true }},
			{"readyz", func() (response, error) {
				return f.c.do(f.ctx, f.srv.base, tf.host, http.MethodGet, "/readyz", nil, "")
			}, func(response) bool { return true }},
		} {
			r, err := p.do()
			o := success
			if err != nil || r.status != http.StatusOK || !p.ok(r) {
				o = other
			}
			into.add(o, r.took, fmt.Sprintf("%s %s: %v %v", p.what, tf.id, r, err))
		}
	}
}

// after clears the fault's time line at now, waits for the first write to
// succeed, and runs the load for d more.
func (f *faultRun) after(d time.Duration) {
	f.clearedAt = time.Now()
	f.recovered, f.hasRecovered = f.ld.waitRecovered(f.clearedAt, 15*time.Second)
	f.ld.wait(d)
	f.readsAfter = &tally{}
	f.probeReads(f.readsAfter)
	f.finishLoad()
}

// afterRestart is after for a recovery that needed a restart begun at
// start: the recovery time is until the restarted server answers.
func (f *faultRun) afterRestart(start time.Time, d time.Duration) {
	f.clearedAt = start
	f.ld = startLoad(f.ctx, f.c, f.srv.base, f.ledger)
	f.recovered, f.hasRecovered = f.ld.waitRecovered(start, 15*time.Second)
	f.ld.wait(d)
	f.readsAfter = &tally{}
	f.probeReads(f.readsAfter)
	f.finishLoad()
}

func (f *faultRun) finishLoad() {
	f.ld.finish()
	f.samples = append(f.samples, f.ld.all()...)
}

// report logs and checks the run.
func (f *faultRun) report(name string) {
	t := f.t
	t.Helper()
	samples := f.samples
	if f.ctx.Err() != nil {
		t.Fatalf("the test ran out of time: %v", f.ctx.Err())
	}
	during := window(samples, f.faultAt, f.clearedAt)
	rec := "no write succeeded within 15 s"
	if f.hasRecovered {
		rec = f.recovered.Round(time.Millisecond).String()
	}
	t.Logf("%s: load during the fault: %v", name, during)
	t.Logf("%s: read probes during the fault: %v", name, f.reads)
	t.Logf("%s: writes succeed again %s after the fault was cleared; read probes then: %v", name, rec, f.readsAfter)
	switch {
	case during.n[busy] == 0:
		t.Errorf("no request got the busy error during the fault (%v): the fault was not observed", during)
	case during.n[other] > 0:
		t.Errorf("%d requests during the fault got something else than success or the busy error:\n  %s",
			during.n[other], strings.Join(during.examples, "\n  "))
	}
	if f.reads.n[other] > 0 {
		t.Errorf("%d read probes failed during the fault:\n  %s", f.reads.n[other], strings.Join(f.reads.examples, "\n  "))
	}
	if f.readsAfter.n[other] > 0 {
		t.Errorf("%d read probes failed after recovery:\n  %s", f.readsAfter.n[other], strings.Join(f.readsAfter.examples, "\n  "))
	}
	if limit := requestTimeout + time.Second; during.longest > limit {
		t.Errorf("an answer during the fault took %v, more than server.request_timeout %v", during.longest, requestTimeout)
	}
	if !f.hasRecovered {
		t.Errorf("no write succeeded within 15 s of the fault being cleared")
	}
	whole := window(samples, time.Time{}, time.Now())
	if whole.n[other] > 0 {
		t.Errorf("%d requests of the whole run got something else than success or the busy error:\n  %s",
			whole.n[other], strings.Join(whole.examples, "\n  "))
	}
	// The operator's signal (README, Faults): the busy answers of a
	// fault are told apart from an overload's by this counter alone.
	t.Logf("%s: sesame_sqlite_write_faults_total before the fault %v, at its end %v", name, f.faultsBefore, f.faultsDuring)
	switch {
	case sumFaults(f.faultsBefore) != 0:
		t.Errorf("write faults counted before the fault: %v", f.faultsBefore)
	case sumFaults(f.faultsDuring) == 0:
		t.Errorf("no write fault counted during the fault (%d busy answers): %v", during.n[busy], f.faultsDuring)
	}
	okN, busyN := checkSweep(t, "during the fault", f.sweep, false)
	t.Logf("%s: endpoint sweep during the fault: %d answers: %d success, %d busy: %s", name, len(f.sweep), okN, busyN, outcomes(f.sweep))
	f.srv.checkHealthy(t)
	checked, lost := f.ledger.verify(f.ctx, f.c, f.srv.base)
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged sessions were lost:\n  %s", len(lost), checked, strings.Join(lost[:min(len(lost), 10)], "\n  "))
	}
	t.Logf("SUMMARY %s: during the fault %d success / %d busy / %d other, longest %v; reads during the fault %d/%d ok; endpoint sweep %d success / %d busy / %d other; recovery %s; acknowledged sessions checked %d, lost %d",
		name, during.n[success], during.n[busy], during.n[other], during.longest.Round(time.Millisecond),
		f.reads.n[success], f.reads.total(), okN, busyN, len(f.sweep)-okN-busyN, rec, checked, len(lost))
}

// truncateWAL checkpoints the server's database and truncates its WAL to
// zero bytes, from a connection of the test's own; it retries while the
// server's connections keep the checkpoint from completing.
func truncateWAL(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for attempt := 1; ; attempt++ {
		var blocked, frames, done int
		err := db.QueryRowContext(t.Context(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&blocked, &frames, &done)
		if err == nil && blocked == 0 {
			return
		}
		if attempt == 50 {
			t.Fatalf("PRAGMA wal_checkpoint(TRUNCATE): %v (busy %d)", err, blocked)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkIntegrity runs PRAGMA integrity_check on the database file (the
// server must have exited).
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if res != "ok" {
		t.Errorf("PRAGMA integrity_check: %s", res)
	}
}

// ---------------------------------------------------------------------------
// Disk-full faults.

type diskFault interface {
	inject() error
	clear() error
	String() string
}

// fillFault fills the file system with a file until the kernel answers
// ENOSPC, and deletes it.
type fillFault struct {
	path   string
	filled int64
}

func (f *fillFault) inject() error {
	fh, err := os.OpenFile(f.path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer fh.Close()
	buf := make([]byte, 1<<20)
	for chunk := len(buf); chunk >= 1; {
		n, err := fh.Write(buf[:chunk])
		f.filled += int64(n)
		switch {
		case errors.Is(err, syscall.ENOSPC):
			chunk /= 4 // fill the last pages with smaller writes
		case err != nil:
			return err
		}
	}
	return nil
}

func (f *fillFault) clear() error { return os.Remove(f.path) }

func (f *fillFault) String() string {
	return fmt.Sprintf("tmpfs filled with %.1f MiB", float64(f.filled)/(1<<20))
}

// rlimitFault lowers the server process's RLIMIT_FSIZE to the size of the
// WAL file, so that the WAL cannot grow, and restores it. (The limit is on
// the offset of any write, so the WAL's size is the one that matters: a
// limit at the larger database file's size would let the WAL grow up to
// it.)
type rlimitFault struct {
	dir   string
	pid   int
	limit uint64
	old   unix.Rlimit
}

func (f *rlimitFault) inject() error {
	info, err := os.Stat(filepath.Join(f.dir, "sesame.db-wal"))
	if err != nil {
		return err
	}
	f.limit = uint64(info.Size())
	if err := unix.Prlimit(f.pid, unix.RLIMIT_FSIZE, nil, &f.old); err != nil {
		return err
	}
	return unix.Prlimit(f.pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: f.limit, Max: f.old.Max}, nil)
}

func (f *rlimitFault) clear() error { return unix.Prlimit(f.pid, unix.RLIMIT_FSIZE, &f.old, nil) }

func (f *rlimitFault) String() string {
	return fmt.Sprintf("RLIMIT_FSIZE of the server process lowered to %d bytes (simulation)", f.limit)
}

// ---------------------------------------------------------------------------
// Mounts.

func mount(source, target, fstype, data string) error {
	return syscall.Mount(source, target, fstype, syscall.MS_NOSUID|syscall.MS_NODEV, data)
}

// remount switches a mount between read-only and read-write.
func remount(target string, readOnly bool) error {
	flags := uintptr(syscall.MS_REMOUNT | syscall.MS_NOSUID | syscall.MS_NODEV)
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	return syscall.Mount("", target, "", flags, "")
}

// unmount unmounts target at the end of a test, lazily if something still
// holds it (a server being killed).
func unmount(t *testing.T, target string) {
	if err := syscall.Unmount(target, 0); err != nil {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	}
}
