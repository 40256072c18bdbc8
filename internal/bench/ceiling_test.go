package bench

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// allCores counts the calls of every goroutine against wall time: with a
// call that sleeps 10 ms, one goroutine per core gives at most cores ×
// 100 calls per second (less when the machine is busy), and uses next to
// no CPU time.
func TestAllCoresCountsCalls(t *testing.T) {
	a := allCores(200*time.Millisecond, func() error { time.Sleep(10 * time.Millisecond); return nil })
	n := runtime.NumCPU()
	if a.Goroutines != n || a.Ops < n || a.Seconds < 0.2 {
		t.Fatalf("allCores = %+v: want %d goroutines, at least one call each, ≥ 0.2 s", a, n)
	}
	if want := float64(n) * 100; a.PerSec > want*1.05 || a.PerSec < want*0.3 {
		t.Errorf("%.0f calls/s of 10 ms on %d goroutines, want about %.0f/s", a.PerSec, n, want)
	}
	if got := float64(a.Ops) / a.Seconds; got != a.PerSec {
		t.Errorf("PerSec %.1f is not Ops ÷ Seconds %.1f", a.PerSec, got)
	}
	if a.CPUSeconds > a.Seconds*float64(n)/4 {
		t.Errorf("sleeping calls used %.3f s of CPU in %.3f s", a.CPUSeconds, a.Seconds)
	}
}

// median sizes its rounds from one call. While this process is being
// CPU-profiled, Linux advances its CPU clock only at scheduler ticks, so
// that call can read as 0 CPU time (about one read in four here), and
// rounds sized from that alone would be 5,000 calls where 5 are meant:
// the harness hung for hours in its RS256 ceiling under a profile. The
// call's wall time bounds the estimate. The calls past 1,000 return at
// once, so that the old sizing fails this test instead of hanging it.
func TestMedianWhileProfiling(t *testing.T) {
	defer profileOrSkip(t)()
	const most = 1000
	calls := 0
	spin := func() error {
		if calls++; calls > most {
			return nil
		}
		for start := time.Now(); time.Since(start) < time.Millisecond; {
		}
		return nil
	}
	for i := range 20 {
		calls = 0
		if m := median(45*time.Millisecond, spin); m < 0 {
			t.Fatalf("median = %v", m)
		}
		if calls > most {
			t.Fatalf("median #%d with a 45 ms budget made %d calls of 1 ms: its rounds were sized from a CPU clock that read 0", i, calls)
		}
	}
}

// profileOrSkip starts a CPU profile of the test process and returns the
// function that stops it, or skips the test when the profiler is taken
// (go test -cpuprofile).
func profileOrSkip(t *testing.T) (stop func()) {
	t.Helper()
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Skipf("cannot profile this test process (%v): the case needs a CPU profile", err)
	}
	return pprof.StopCPUProfile
}

// startProfile writes a gzipped pprof profile; while another CPU
// profile runs it takes none and leaves no file behind.
func TestStartProfile(t *testing.T) {
	profileOrSkip(t)() // the profiler is free
	path := filepath.Join(t.TempDir(), "loader.pprof")
	stop := startProfile(path)
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	if got := stop(); got != path {
		t.Fatalf("stop() = %q, want %q", got, path)
	}
	if b, err := os.ReadFile(path); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile %s: %v, want a gzipped pprof profile", path, err)
	}

	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Fatalf("profiling again: %v", err)
	}
	defer pprof.StopCPUProfile()
	busy := filepath.Join(t.TempDir(), "busy.pprof")
	if got := startProfile(busy)(); got != "" {
		t.Errorf("with a profile running, stop() = %q, want \"\"", got)
	}
	if _, err := os.Stat(busy); !os.IsNotExist(err) {
		t.Errorf("with a profile running, %s was left behind (%v)", busy, err)
	}
}

func TestCeilingsText(t *testing.T) {
	c := Ceilings{RS256SignUS: 813, RS256PerSec: 2461, ES256SignUS: 26.3, ES256PerSec: 76000, Argon2idMS: 32, Argon2idPerSec: 62.5,
		Argon2idParams: "m=19456KiB,t=2,p=1",
		RS256AllCores:  AllCores{Ops: 2347, PerSec: 2347, PerSecCPU: 2390},
		Fsync:          &FsyncLatency{Syncs: 300, P50US: 161.9, P99US: 3959, MaxUS: 7525},
	}
	var b bytes.Buffer
	if err := WriteText(&b, &Report{Ceilings: c}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"RS256 sign 813 µs → 2461/s (all cores signing at once: 2347/s; by CPU time 2390/s)\n",
		"ES256 sign 26.3 µs → 76000/s\n", // not measured: no bracket
		"argon2id (m=19456KiB,t=2,p=1) 32.0 ms → 62.5/s\n",
		"fsync after an 8 KiB append in the data directory (300): p50 162 µs, p99 3959 µs, max 7525 µs",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}

// MeasureFsync syncs a scratch file in the given directory, reports
// ordered latencies and leaves nothing behind.
func TestMeasureFsync(t *testing.T) {
	dir := t.TempDir()
	f, err := MeasureFsync(dir, 20)
	if err != nil {
		t.Fatal(err)
	}
	if f.Syncs != 20 || f.P50US <= 0 || f.P50US > f.P99US || f.P99US > f.MaxUS {
		t.Errorf("MeasureFsync = %+v: want 20 syncs, 0 < p50 ≤ p99 ≤ max", *f)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left %d files in %s", len(left), dir)
	}
}
