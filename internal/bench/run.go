package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// Options are the parameters of a run.
type Options struct {
	// Paths to run (names from Paths); empty runs all.
	Paths []string
	// Duration bounds each phase; Requests bounds the operations of each
	// phase.
	Duration time.Duration
	Requests int
	// Concurrency is the closed-loop workers (each with its own
	// keep-alive connection) of every path but the SDK login, which has
	// LoginConcurrency: its hashing queue refuses logins past a bound.
	Concurrency      int
	LoginConcurrency int
	// NoOpen skips the open-loop phases.
	NoOpen bool
	// Users is how many users the tenant has.
	Users int
	// Flood is the number of concurrent SDK logins of the flood phase (0
	// skips it), run for FloodDuration.
	Flood         int
	FloodDuration time.Duration
	// Window is the length of the windows of the time series.
	Window time.Duration
	// ProfileDir, when set, receives CPU profiles of each closed-loop
	// phase of 2 s or more: the server's (PATH.pprof; its pprof listener
	// is enabled) and the harness's own (PATH-loader.pprof).
	ProfileDir string
	// BracketTime is spent measuring the cost of a path's bounding
	// operation (signature, hash) right before and again right after its
	// closed loop (see Bracket); 0 means a second, negative skips it and
	// compares with the start-of-run ceilings.
	BracketTime time.Duration
	// Logf reports progress; nil is quiet.
	Logf func(format string, args ...any)
}

func (o *Options) defaults() {
	if len(o.Paths) == 0 {
		o.Paths = Paths()
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.BracketTime == 0 {
		o.BracketTime = time.Second
	}
	if o.Requests <= 0 {
		o.Requests = 1_000_000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.LoginConcurrency <= 0 {
		o.LoginConcurrency = 2 * runtime.NumCPU()
	}
	if o.Users <= 0 {
		o.Users = 32
	}
	if o.FloodDuration <= 0 {
		o.FloodDuration = 5 * time.Second
	}
	if o.Window <= 0 {
		o.Window = max(o.Duration/40, 50*time.Millisecond)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Validate reports a bad option.
func (o Options) Validate() error {
	for _, p := range o.Paths {
		if _, ok := findPath(p); !ok {
			return fmt.Errorf("bench: unknown path %q (known: %s)", p, strings.Join(Paths(), ", "))
		}
	}
	if o.Flood < 0 || o.Flood > 5000 {
		return errors.New("bench: --flood must be between 0 and 5000")
	}
	if o.Concurrency > 1000 || o.LoginConcurrency > 1000 {
		return errors.New("bench: concurrency must be at most 1000")
	}
	return nil
}

// RunBackend provisions a server on one storage backend (driver sqlite
// with a file DSN, or postgres), runs the selected paths and the flood
// against it, and stops it. c are the ceilings the paths are compared
// with.
func RunBackend(ctx context.Context, o Options, c Ceilings, driver, dsn string, launch Launcher) (BackendReport, error) {
	o.defaults()
	br := BackendReport{Backend: driver}
	if err := o.Validate(); err != nil {
		return br, err
	}
	f := newFixture(o.Users)
	addr, err := FreeAddr()
	if err != nil {
		return br, err
	}
	var pprofAddr string
	if o.ProfileDir != "" {
		if pprofAddr, err = FreeAddr(); err != nil {
			return br, err
		}
	}
	o.Logf("%s: starting the server (%d users to hash at bootstrap)", driver, len(f.Users))
	target, err := launch(ctx, f.ServerConfig(addr, driver, dsn, pprofAddr))
	if err != nil {
		return br, err
	}
	defer func() {
		if err := target.Stop(); err != nil {
			o.Logf("%s: stopping the server: %v", driver, err)
		}
	}()
	if driver == "postgres" {
		if r, err := newCheckpointReader(ctx, dsn); err != nil {
			o.Logf("%s: PostgreSQL's checkpoint counters cannot be read (%v): the report goes without them", driver, err)
		} else {
			defer r.Close()
			target.checkpoints = func() (checkpointCounters, bool) { return r.read(ctx) }
		}
	}
	if target.PID != 0 {
		if s, err := readProc(target.PID); err == nil {
			br.Idle = ProcStats{PeakRSSMB: float64(s.RSS) / (1 << 20)}
		}
	}
	cl, err := newClient(target.Addr, max(o.Concurrency, o.LoginConcurrency, o.Flood)+16)
	if err != nil {
		return br, err
	}
	defer cl.close()
	e := &env{c: cl, f: f}

	var httpCeiling, httpCost float64
	for _, name := range o.Paths {
		if ctx.Err() != nil {
			return br, ctx.Err()
		}
		def, _ := findPath(name)
		pr, err := runPath(ctx, o, e, def, target)
		if err != nil {
			return br, fmt.Errorf("%s: %s: %w", driver, name, err)
		}
		if name == "healthz" && pr.Closed != nil {
			httpCeiling, httpCost = pr.Closed.Throughput, pr.Closed.ServerCPUPerOpUS
		}
		br.Paths = append(br.Paths, pr)
	}
	for i := range br.Paths {
		p := &br.Paths[i]
		p.CeilingPerSec, p.BoundCostUS = ceilingOf(p.Ceiling, c, httpCeiling), boundCost(p.Ceiling, c, httpCost)
		if b := p.Bracket; b != nil && b.CostUS() > 0 {
			// The cost of the path's own minutes, not the run's start.
			p.BoundCostUS = b.CostUS()
			p.CeilingPerSec = float64(runtime.NumCPU()) / (p.BoundCostUS / 1e6)
			if d := b.Drift(); d > 0.1 {
				br.Notes = append(br.Notes, fmt.Sprintf("%s: the %s cost moved from %.0f to %.0f µs during the path (%.0f%%); its fraction of the ceiling is uncertain by about as much",
					p.Name, p.Ceiling, b.BeforeUS, b.AfterUS, d*100))
			}
		}
		if p.CeilingPerSec > 0 && p.Closed != nil {
			p.Fraction = p.Closed.Throughput / p.CeilingPerSec
		}
		if p.Closed != nil && p.Closed.ServerCPUPerOpUS > 0 {
			p.ServerOnlyPerSec = float64(runtime.NumCPU()) / (p.Closed.ServerCPUPerOpUS / 1e6)
			if p.BoundCostUS > 0 {
				p.BoundShare = p.BoundCostUS / p.Closed.ServerCPUPerOpUS
			}
		}
		checkTarget(p, c)
		if n := idleNote(p); n != "" {
			br.Notes = append(br.Notes, n)
		}
		if n := sharingNote(p, c); n != "" {
			br.Notes = append(br.Notes, n)
		}
		if n := checkpointNote(p); n != "" {
			br.Notes = append(br.Notes, n)
		}
	}
	if httpCeiling == 0 {
		br.Notes = append(br.Notes, "healthz was not run: paths bound by HTTP have no ceiling to compare with")
	}
	if o.Flood > 0 && ctx.Err() == nil {
		o.Logf("%s: flood of %d concurrent logins for %s", driver, o.Flood, o.FloodDuration)
		fr, err := runFlood(ctx, o, e, target, c)
		if err != nil {
			return br, fmt.Errorf("%s: flood: %w", driver, err)
		}
		br.Flood = fr
	}
	return br, nil
}

// workers makes n workers of a path, a few at a time (logins hash).
func workers(ctx context.Context, e *env, def pathDef, n int) ([]op, error) {
	ops := make([]op, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ops[i], errs[i] = def.newWorker(ctx, e, i)
		})
	}
	wg.Wait()
	return ops, errors.Join(errs...)
}

func runPath(ctx context.Context, o Options, e *env, def pathDef, t *Target) (PathReport, error) {
	pr := PathReport{Name: def.name, About: def.about, Ceiling: def.ceiling}
	n := o.Concurrency
	if def.ceiling == CeilingArgon2 {
		n = o.LoginConcurrency
	}
	o.Logf("%s: preparing %d workers", def.name, n)
	ops, err := workers(ctx, e, def, n)
	if err != nil {
		return pr, err
	}
	// Warm-up: one operation per worker opens its connection and fills
	// the server's caches; it is not measured.
	var wg sync.WaitGroup
	for _, o := range ops {
		wg.Go(func() { o(ctx) })
	}
	wg.Wait()

	// The bounding operation's cost, measured here while the server is
	// idle, before and after the closed loop (see Bracket).
	bound, err := boundOp(def.ceiling)
	if err != nil {
		return pr, err
	}
	if bound != nil && o.BracketTime > 0 {
		pr.Bracket = &Bracket{BeforeUS: median(o.BracketTime, bound).Seconds() * 1e6}
	}
	var prof chan string
	var stopLoaderProfile func() string
	if o.ProfileDir != "" && t.PProf != "" && o.Duration >= 2*time.Second {
		prof = make(chan string, 1)
		go func() {
			prof <- captureProfile(ctx, t.PProf, o.Duration-time.Second, filepath.Join(o.ProfileDir, def.name+".pprof"))
		}()
		// The harness's own profile covers the closed loop only: while
		// it runs, this process's CPU clock advances at scheduler ticks
		// (see median), too coarse for the brackets around the loop. A
		// bracket of the default second hardly notices the tick or two
		// the kernel takes to leave that mode; the 20 ms brackets of a
		// short test phase on a loaded machine read 0, hence the same
		// 2 s floor as the server's profile.
		stopLoaderProfile = startProfile(filepath.Join(o.ProfileDir, def.name+"-loader.pprof"))
	}
	o.Logf("%s: closed loop, %d workers, %s", def.name, n, o.Duration)
	closed := runClosed(ctx, ops, o.Duration, o.Requests, t.watched(ctx, e.c))
	if stopLoaderProfile != nil {
		pr.LoaderProfile = stopLoaderProfile()
	}
	pr.Closed = summarize(closed, o.Window)
	if prof != nil {
		pr.Profile = <-prof
	}
	if pr.Bracket != nil {
		pr.Bracket.AfterUS = median(o.BracketTime, bound).Seconds() * 1e6
	}
	if !o.NoOpen && pr.Closed.Throughput > 0 {
		rate := pr.Closed.Throughput / 2
		o.Logf("%s: open loop at %.0f/s (half of %.0f/s)", def.name, rate, pr.Closed.Throughput)
		open := runOpen(ctx, ops, rate, o.Duration, o.Requests, t.watched(ctx, e.c))
		pr.Open = summarize(open, o.Window)
	}
	return pr, nil
}

// captureProfile saves a CPU profile of the server taken over d; it
// returns the file's path, or "" when it failed (profiles are a help, not
// part of the figures).
func captureProfile(ctx context.Context, pprofAddr string, d time.Duration, path string) string {
	if CheckLoopback(pprofAddr) != nil {
		return ""
	}
	secs := max(int(d/time.Second), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs), nil)
	if err != nil {
		return ""
	}
	resp, err := (&http.Client{Timeout: d + 30*time.Second}).Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	out, err := os.Create(path)
	if err != nil {
		return ""
	}
	_, err = io.Copy(out, resp.Body)
	if cerr := out.Close(); err != nil || cerr != nil {
		return ""
	}
	return path
}

// startProfile starts a CPU profile of this process into path; the
// function it returns stops it and returns path, or "" when the profile
// could not be taken (another is running, the file cannot be written).
func startProfile(path string) (stop func() string) {
	out, err := os.Create(path)
	if err != nil {
		return func() string { return "" }
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		os.Remove(path)
		return func() string { return "" }
	}
	return func() string {
		pprof.StopCPUProfile()
		if out.Close() != nil {
			return ""
		}
		return path
	}
}

// FloodReport is the SDK login flood: Concurrency logins at once, again
// and again, for Seconds.
type FloodReport struct {
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	OK          int     `json:"ok"`
	// Busy counts the system-busy answers (SDK.COMMON.1008): logins the
	// hashing queue refused.
	Busy   int            `json:"busy"`
	Errors map[string]int `json:"errors,omitempty"` // all failures, busy included
	// Throughput is successful logins per second, and Fraction that over
	// the argon2id ceiling: shedding must not starve the hashing.
	Throughput  float64   `json:"throughput"`
	Fraction    float64   `json:"fraction_of_ceiling"`
	OKLatency   Latency   `json:"ok_latency_ms"`
	BusyLatency Latency   `json:"busy_latency_ms"`
	Server      ProcStats `json:"server"`
	RSSLimitMB  float64   `json:"rss_limit_mb"`
	RSSOK       bool      `json:"rss_met"`
}

// busyCodes are the system-busy SDK error codes of both dialects.
var busyCodes = []string{"SDK.COMMON.1008", "IDAAS.SDK.COM.0002"}

func isBusy(outcome string) bool {
	for _, c := range busyCodes {
		if strings.HasSuffix(outcome, " "+c) {
			return true
		}
	}
	return false
}

func runFlood(ctx context.Context, o Options, e *env, t *Target, c Ceilings) (*FloodReport, error) {
	def, _ := findPath("sdk-login")
	ops := make([]op, o.Flood)
	for i := range ops {
		ops[i], _ = def.newWorker(ctx, e, 100_000+i) // devices of their own
	}
	ph := runClosed(ctx, ops, o.FloodDuration, o.Requests, t.watched(ctx, e.c))
	fr := &FloodReport{Concurrency: o.Flood, Seconds: ph.wall.Seconds(), Requests: len(ph.samples),
		Server: ph.server, RSSLimitMB: 300}
	var okLat, busyLat []int64
	for _, s := range ph.samples {
		switch name := ph.outs.names[s.out]; {
		case s.out == 0:
			okLat = append(okLat, s.lat)
		default:
			if fr.Errors == nil {
				fr.Errors = map[string]int{}
			}
			fr.Errors[name]++
			if isBusy(name) {
				busyLat = append(busyLat, s.lat)
			}
		}
	}
	fr.OK, fr.Busy = len(okLat), len(busyLat)
	fr.Throughput = float64(fr.OK) / ph.wall.Seconds()
	if c.Argon2idPerSec > 0 {
		fr.Fraction = fr.Throughput / c.Argon2idPerSec
	}
	fr.OKLatency, fr.BusyLatency = latencyOf(okLat), latencyOf(busyLat)
	fr.RSSOK = t.PID != 0 && fr.Server.PeakRSSMB > 0 && fr.Server.PeakRSSMB < fr.RSSLimitMB
	return fr, nil
}

// sharingNoted is how much more CPU one bounding operation may cost with
// every core running it at once than alone before sharingNote speaks.
const sharingNoted = 0.05

// sharingNote tells, for a path bound by a signature or a hash, how much
// more that operation cost when every core ran it at once (the start of
// the run's all-cores measurement) than alone, and the path's fraction of
// the ceiling computed from that cost. Issue 5's ceiling is cores ÷ one
// operation's cost; argon2id, which fills 19 MiB per hash, can cost
// 10% more on each core when both hash at once (shared caches and memory
// bandwidth), and the server hashes on both. "" when the difference is
// small or was not measured.
func sharingNote(p *PathReport, c Ceilings) string {
	aloneUS, all := boundCost(p.Ceiling, c, 0), allCoresOf(p.Ceiling, c)
	if aloneUS <= 0 || all.Ops == 0 || all.CPUSeconds <= 0 || p.Closed == nil {
		return ""
	}
	sharedUS := all.CPUSeconds / float64(all.Ops) * 1e6
	if sharedUS <= aloneUS*(1+sharingNoted) {
		return ""
	}
	ceiling := all.PerSecCPU
	return fmt.Sprintf("%s: with every core at once one %s cost %.0f%% more CPU than alone (%.0f vs %.0f µs); against that cost the ceiling is %.0f/s and the path reaches %.0f%% of it",
		p.Name, p.Ceiling, (sharedUS/aloneUS-1)*100, sharedUS, aloneUS, ceiling, p.Closed.Throughput/ceiling*100)
}

// idleCoresNoted is the idle capacity above which a closed loop is said
// not to be bound by the CPU.
const idleCoresNoted = 0.25

// idleNote explains a closed loop that left cores idle: its clients spent
// their time waiting (for SQLite's write connection, most often), so its
// peak is the concurrency's, and more clients may reach more. "" when the
// CPU was busy or was not measured.
func idleNote(p *PathReport) string {
	cl := p.Closed
	if cl == nil || cl.Machine == nil || cl.Machine.IdleCores <= idleCoresNoted {
		return ""
	}
	why := "its clients waited"
	if q := cl.WriteQueue; q != nil {
		why = fmt.Sprintf("its clients waited, SQLite's write queue busy %.0f%% of the time with %.1f statements per commit", q.Busy*100, q.StatementsPerCommit)
	}
	return fmt.Sprintf("%s: %.2f cores idle at %d clients: not bound by the CPU (%s); more clients (-c) may reach more",
		p.Name, cl.Machine.IdleCores, cl.Workers, why)
}
