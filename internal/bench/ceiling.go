package bench

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/password"
)

// Machine describes where a run happened.
type Machine struct {
	CPUModel  string  `json:"cpu_model"`
	Cores     int     `json:"cores"`
	MemoryGB  float64 `json:"memory_gb"`
	GoVersion string  `json:"go_version"`
	Kernel    string  `json:"kernel"`
	// LoadAvg is the 1-minute load average when the run started: above
	// the core count, other work shared the machine and figures are low.
	LoadAvg string `json:"load_avg"`
}

// Ceilings are the costs of the operations that bound the hot paths,
// measured in this process on this machine, and the throughput the whole
// machine could give if it did nothing else: cores ÷ cost. That ceiling
// is the one issue 5 defines and the one paths are compared with (of
// ceiling); the *AllCores figures say what the machine does when every
// core runs the operation at once, which is less when cores share
// caches, memory bandwidth or, for virtual cores, a physical one.
type Ceilings struct {
	RS256SignUS    float64 `json:"rs256_sign_us"`
	ES256SignUS    float64 `json:"es256_sign_us"`
	Argon2idMS     float64 `json:"argon2id_ms"`
	Argon2idParams string  `json:"argon2id_params"`
	RS256PerSec    float64 `json:"rs256_per_sec"`
	ES256PerSec    float64 `json:"es256_per_sec"`
	Argon2idPerSec float64 `json:"argon2id_per_sec"`

	RS256AllCores    AllCores `json:"rs256_all_cores"`
	ES256AllCores    AllCores `json:"es256_all_cores"`
	Argon2idAllCores AllCores `json:"argon2id_all_cores"`

	// Fsync is the latency of the disk the SQLite database lives on.
	Fsync *FsyncLatency `json:"fsync,omitempty"`
}

// FsyncLatency is the wall time of an fsync(2) after an 8 KiB append, in
// the run's data directory: the wait every SQLite commit adds with
// synchronous=FULL (the WAL is synced at each commit), and so the floor of
// the latency of the paths that write. Its tail, not its median, is what
// a write path's p99 meets: a request may wait for the commit in flight
// and then for its own.
type FsyncLatency struct {
	Syncs int     `json:"syncs"`
	P50US float64 `json:"p50_us"`
	P99US float64 `json:"p99_us"`
	MaxUS float64 `json:"max_us"`
}

// MeasureFsync appends 8 KiB to a scratch file in dir and syncs it, n
// times, and returns the latencies; the file is removed.
func MeasureFsync(dir string, n int) (*FsyncLatency, error) {
	f, err := os.CreateTemp(dir, "fsync-*.dat")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 8<<10)
	lats := make([]int64, 0, n)
	for range n {
		if _, err := f.Write(page); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := f.Sync(); err != nil {
			return nil, err
		}
		lats = append(lats, int64(time.Since(t0)))
	}
	slices.Sort(lats)
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return &FsyncLatency{Syncs: n, P50US: us(percentile(lats, 50)), P99US: us(percentile(lats, 99)), MaxUS: us(lats[len(lats)-1])}, nil
}

// AllCores is one operation run by one goroutine per core at once, for
// Seconds of wall time.
type AllCores struct {
	Goroutines int     `json:"goroutines"`
	Ops        int     `json:"ops"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// PerSec is operations per second of wall time: what this machine
	// gave, other work on it included.
	PerSec float64 `json:"per_sec"`
	// PerSecCPU is cores ÷ the CPU time per operation under parallel
	// load: what the machine would give if nothing else ran, with the
	// cost of sharing counted.
	PerSecCPU float64 `json:"per_sec_cpu"`
}

// ReadMachine reads the machine's description from /proc.
func ReadMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range bytes.SplitSeq(b, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("MemTotal:")) {
				m.MemoryGB = float64(kib(line)) / (1 << 30)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.LoadAvg = f[0]
		}
	}
	return m
}

// MeasureCeilings times the bounding operations with the server's own
// code and parameters: keys.Generate makes the keys the server signs
// with (RSA-2048, P-256), and password.DefaultParams are its argon2id
// parameters. Each cost is the median CPU time per call of several
// rounds; the machine's ceiling is cores ÷ cost, as if every core did
// nothing else. Then every core runs the operation at once, for a third
// of budget (at most a second) each.
func MeasureCeilings(budget time.Duration) (Ceilings, error) {
	var c Ceilings
	par := min(budget/3, time.Second)
	for _, kind := range []string{CeilingRS256, CeilingES256, CeilingArgon2} {
		f, err := boundOp(kind)
		if err != nil {
			return c, err
		}
		cost, all := median(budget/3, f), allCores(par, f)
		switch kind {
		case CeilingRS256:
			c.RS256SignUS, c.RS256AllCores = cost.Seconds()*1e6, all
		case CeilingES256:
			c.ES256SignUS, c.ES256AllCores = cost.Seconds()*1e6, all
		case CeilingArgon2:
			c.Argon2idMS, c.Argon2idAllCores = cost.Seconds()*1e3, all
		}
	}
	p := password.DefaultParams
	c.Argon2idParams = "m=" + strconv.Itoa(int(p.Memory)) + "KiB,t=" + strconv.Itoa(int(p.Time)) + ",p=" + strconv.Itoa(int(p.Threads))
	cores := float64(runtime.NumCPU())
	c.RS256PerSec = cores / (c.RS256SignUS / 1e6)
	c.ES256PerSec = cores / (c.ES256SignUS / 1e6)
	c.Argon2idPerSec = cores / (c.Argon2idMS / 1e3)
	return c, nil
}

// boundOp returns one call of the operation that bounds paths of a kind
// (CeilingRS256, CeilingES256, CeilingArgon2), made with the server's own
// code and parameters; nil for other kinds.
func boundOp(kind string) (func() error, error) {
	switch kind {
	case CeilingRS256, CeilingES256:
		k, err := keys.Generate(strings.ToUpper(kind))
		if err != nil {
			return nil, err
		}
		digest := sha256.Sum256([]byte("sesame-bench signing input"))
		return func() error {
			_, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
			return err
		}, nil
	case CeilingArgon2:
		return func() error { _, err := password.Hash("sesame-bench-password", password.DefaultParams); return err }, nil
	}
	return nil, nil
}

// Bracket is the cost of a path's bounding operation measured right
// before and right after its closed loop, in microseconds of CPU time.
// The CPU time of an operation is not constant on a virtual machine: it
// was seen to move by 30% within minutes on the same machine (other
// guests on the host, boosting), so a path is compared with the cost of
// its own minutes rather than with the start-of-run ceilings.
type Bracket struct {
	BeforeUS float64 `json:"before_us"`
	AfterUS  float64 `json:"after_us"`
}

// CostUS is the mean of the two measurements.
func (b Bracket) CostUS() float64 { return (b.BeforeUS + b.AfterUS) / 2 }

// Drift is how far apart the two measurements are, relative to their
// mean: above 0.1 the machine's speed changed during the phase and its
// fraction of the ceiling is uncertain by about as much.
func (b Bracket) Drift() float64 {
	if m := b.CostUS(); m > 0 {
		return math.Abs(b.AfterUS-b.BeforeUS) / m
	}
	return 0
}

// median runs f in rounds for about budget and returns the median CPU
// time per call over the rounds (at least 5 calls in all). It counts the
// CPU time of this process, not wall time: on a machine shared with other
// work the cost of a signature stays what it is, while its wall time
// grows with the waiting. The process does nothing else meanwhile (the
// ceilings are measured before any server or load starts), and its
// garbage collection is part of the cost: argon2id allocates its memory
// afresh for every hash, and runs its lanes on goroutines of their own.
func median(budget time.Duration, f func() error) time.Duration {
	// Size a round from one call, so that there are about 9 rounds. The
	// call's wall time counts too: while a process-wide CPU timer is armed
	// (a CPU profile of this process, setitimer(ITIMER_PROF)), Linux
	// advances CLOCK_PROCESS_CPUTIME_ID only at scheduler ticks, so one
	// RS256 signature can read as 0 and a round sized from that would run
	// for hours.
	c0, t0 := processCPU(), time.Now()
	_ = f()
	one := max(processCPU()-c0, time.Since(t0), time.Microsecond)
	perRound := max(int(budget/9/one), 1)
	var rounds []time.Duration
	deadline := time.Now().Add(budget)
	for len(rounds) < 5 || time.Now().Before(deadline) {
		start := processCPU()
		for range perRound {
			_ = f()
		}
		rounds = append(rounds, (processCPU()-start)/time.Duration(perRound))
		if len(rounds) >= 50 {
			break
		}
	}
	slices.Sort(rounds)
	return rounds[len(rounds)/2]
}

// allCores runs f on one goroutine per core (runtime.NumCPU) for about
// d and counts the calls that completed. Every call started before d
// ends is counted, and the wall time runs until the last one is done, so
// for a slow f (an argon2id hash) the wall-time rate is a little low: a
// goroutine may wait up to one call for the others to finish. The CPU
// time rate has no such bias.
func allCores(d time.Duration, f func() error) AllCores {
	n := runtime.NumCPU()
	counts := make([]int, n)
	var stop atomic.Bool
	var wg sync.WaitGroup
	cpu0, t0 := processCPU(), time.Now()
	for i := range n {
		wg.Go(func() {
			k := 0
			for !stop.Load() {
				_ = f()
				k++
			}
			counts[i] = k
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	a := AllCores{Goroutines: n, Seconds: time.Since(t0).Seconds(), CPUSeconds: (processCPU() - cpu0).Seconds()}
	for _, k := range counts {
		a.Ops += k
	}
	if a.Seconds > 0 {
		a.PerSec = float64(a.Ops) / a.Seconds
	}
	if a.CPUSeconds > 0 {
		a.PerSecCPU = float64(n) * float64(a.Ops) / a.CPUSeconds
	}
	return a
}

// processCPU is the CPU time of this process, all threads
// (CLOCK_PROCESS_CPUTIME_ID, clock_gettime(2)).
func processCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
