package bench

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Report is the result of a run: the machine, the ceilings measured on it
// and the figures of each backend.
type Report struct {
	Started  time.Time       `json:"started"`
	Machine  Machine         `json:"machine"`
	Settings Settings        `json:"settings"`
	Ceilings Ceilings        `json:"ceilings"`
	Backends []BackendReport `json:"backends"`
}

// Settings are the run's parameters.
type Settings struct {
	Duration         string `json:"duration"`
	Requests         int    `json:"requests"`
	Concurrency      int    `json:"concurrency"`
	LoginConcurrency int    `json:"login_concurrency"`
	Users            int    `json:"users"`
	Flood            int    `json:"flood"`
	FloodDuration    string `json:"flood_duration"`
}

// BackendReport holds the figures of one storage backend.
type BackendReport struct {
	Backend string       `json:"backend"`
	Paths   []PathReport `json:"paths"`
	Flood   *FloodReport `json:"flood,omitempty"`
	Idle    ProcStats    `json:"idle_server"` // the server right after start
	Notes   []string     `json:"notes,omitempty"`
}

// PathReport holds the figures of one path.
type PathReport struct {
	Name    string `json:"name"`
	About   string `json:"about"`
	Ceiling string `json:"ceiling,omitempty"` // what bounds it: rs256, es256, argon2id, http
	// CeilingPerSec is that bound's operations per second on this
	// machine; Fraction is the closed-loop throughput over it.
	CeilingPerSec float64 `json:"ceiling_per_sec,omitempty"`
	Fraction      float64 `json:"fraction_of_ceiling,omitempty"`
	// BoundCostUS is the CPU cost of the bounding operation (a signature,
	// a hash, or healthz's server CPU per request for http), and
	// BoundShare that over the server's CPU per operation: how much of
	// what the server spends goes to the part it cannot avoid. Both are
	// CPU times, so they hold on a busy machine where throughput does not.
	BoundCostUS float64 `json:"bound_cost_us,omitempty"`
	BoundShare  float64 `json:"bound_share,omitempty"`
	// ServerOnlyPerSec is cores ÷ the server's CPU per operation: the
	// throughput if the server had every core to itself (no loader).
	ServerOnlyPerSec float64 `json:"server_only_per_sec,omitempty"`
	// Bracket, for a path bound by a signature or a hash, is that
	// operation's cost measured around the closed loop; CeilingPerSec and
	// BoundCostUS then come from it instead of from the run's start.
	Bracket *Bracket     `json:"bracket,omitempty"`
	Closed  *PhaseReport `json:"closed,omitempty"`
	Open    *PhaseReport `json:"open,omitempty"`
	Target  *TargetCheck `json:"target,omitempty"`
	Profile string       `json:"cpu_profile,omitempty"`
	// LoaderProfile is the harness's own CPU profile over the same closed
	// loop: the loader shares the cores, so its cost is the server's loss.
	LoaderProfile string `json:"loader_cpu_profile,omitempty"`
}

// PhaseReport holds the figures of one phase.
type PhaseReport struct {
	Kind        string  `json:"kind"` // closed | open
	Workers     int     `json:"workers"`
	OfferedRate float64 `json:"offered_rate,omitempty"` // open loop
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	OK          int     `json:"ok"`
	// Throughput is successful operations per second of wall time.
	Throughput float64        `json:"throughput"`
	Latency    Latency        `json:"latency_ms"` // successful operations
	Errors     map[string]int `json:"errors,omitempty"`
	Server     ProcStats      `json:"server"`
	Loader     ProcStats      `json:"loader"`
	// ServerCPUPerOpUS is the server's CPU time per successful operation:
	// what one operation costs it, whatever the loader takes.
	ServerCPUPerOpUS float64 `json:"server_cpu_per_op_us"`
	// LoaderCPUPerOpUS is the same for the harness: what the load costs
	// the machine, which the server does not get.
	LoaderCPUPerOpUS float64 `json:"loader_cpu_per_op_us,omitempty"`
	// Machine is the whole machine's CPU use and the database server's.
	Machine *MachineStats `json:"machine,omitempty"`
	// WriteQueue is SQLite's write connection during the phase.
	WriteQueue *WriteQueueStats `json:"sqlite_write_queue,omitempty"`
	// DBCheckpoints is PostgreSQL's checkpoint work during the phase.
	DBCheckpoints *CheckpointStats `json:"db_checkpoints,omitempty"`
	Series        []Window         `json:"series,omitempty"`
}

// Latency percentiles, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Window is one slice of a phase's time, for plots.
type Window struct {
	T          float64 `json:"t"` // seconds since the phase's start (window start)
	Throughput float64 `json:"ops_per_sec"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
}

// TargetCheck compares a path with the targets of issue 5 point 3.
type TargetCheck struct {
	// Throughput is the target ("≥ 90% of ceiling", "≥ 8000/s"), empty
	// when the issue sets none for the path.
	Throughput   string `json:"throughput,omitempty"`
	ThroughputOK bool   `json:"throughput_met,omitempty"`
	// P99 at half peak must be under 10 ms, except where one operation
	// alone takes longer (an argon2id hash); P99Note says why then.
	// Without an open loop (--no-open) the target was not measured:
	// P99OK is false and P99Note says so.
	P99OK   bool   `json:"p99_half_peak_met"`
	P99Note string `json:"p99_note,omitempty"`
}

// p99Verdict says whether the path's latency target held: met, MISSED,
// or not measured when the run had no open loop. It asks the path, not
// only its TargetCheck, so that reports saved before the note existed
// render the same.
func (p *PathReport) p99Verdict() string {
	if p.Open == nil {
		return notMeasured
	}
	v := yes(p.Target.P99OK)
	if p.Target.P99Note != "" {
		v += " (" + p.Target.P99Note + ")"
	}
	return v
}

const notMeasured = "not measured (no open loop)"

// P99Target is the latency target at half of peak throughput.
const P99Target = 10 * time.Millisecond

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// percentile of sorted values (nearest rank).
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func latencyOf(lats []int64) Latency {
	if len(lats) == 0 {
		return Latency{}
	}
	slices.Sort(lats)
	var sum float64
	for _, l := range lats {
		sum += float64(l)
	}
	return Latency{
		P50: ms(percentile(lats, 50)), P95: ms(percentile(lats, 95)), P99: ms(percentile(lats, 99)),
		Max: ms(lats[len(lats)-1]), Mean: sum / float64(len(lats)) / 1e6,
	}
}

// summarize turns a phase's samples into its report; window is the
// length of the plot windows.
func summarize(ph *phase, window time.Duration) *PhaseReport {
	r := &PhaseReport{Kind: ph.kind, Workers: ph.workers, OfferedRate: ph.rate, Seconds: ph.wall.Seconds(),
		Requests: len(ph.samples), Server: ph.server, Loader: ph.loader, Machine: ph.machine, WriteQueue: ph.queue,
		DBCheckpoints: ph.checkpoints}
	var lats []int64
	for _, s := range ph.samples {
		if s.out == 0 {
			lats = append(lats, s.lat)
			continue
		}
		if r.Errors == nil {
			r.Errors = map[string]int{}
		}
		r.Errors[ph.outs.names[s.out]]++
	}
	r.OK = len(lats)
	if ph.wall > 0 {
		r.Throughput = float64(r.OK) / ph.wall.Seconds()
	}
	if r.OK > 0 {
		r.ServerCPUPerOpUS = ph.server.CPUSeconds / float64(r.OK) * 1e6
		r.LoaderCPUPerOpUS = ph.loader.CPUSeconds / float64(r.OK) * 1e6
		if m := r.Machine; m != nil && ph.wall > 0 {
			m.DBCPUPerOpUS = m.DBCores * ph.wall.Seconds() / float64(r.OK) * 1e6
		}
	}
	r.Latency = latencyOf(lats)
	r.Series = series(ph, window)
	return r
}

// series cuts a phase into windows: latency by send (or schedule) time,
// throughput by completion time.
func series(ph *phase, window time.Duration) []Window {
	if window <= 0 || ph.wall <= 0 {
		return nil
	}
	n := int(ph.wall/window) + 1
	lat := make([][]int64, n)
	done := make([]int, n)
	for _, s := range ph.samples {
		if s.out != 0 {
			continue
		}
		if i := int(s.at / int64(window)); i < n {
			lat[i] = append(lat[i], s.lat)
		}
		if i := int((s.at + s.lat) / int64(window)); i < n {
			done[i]++
		}
	}
	var out []Window
	for i := range n {
		// The last window is partial: leave it out unless it is the only.
		if i == n-1 && n > 1 {
			break
		}
		slices.Sort(lat[i])
		out = append(out, Window{
			T: (time.Duration(i) * window).Seconds(), Throughput: float64(done[i]) / window.Seconds(),
			P50: ms(percentile(lat[i], 50)), P99: ms(percentile(lat[i], 99)),
		})
	}
	return out
}

// checkTarget applies the targets of issue 5 point 3 to a path.
func checkTarget(p *PathReport, c Ceilings) {
	if p.Closed == nil {
		return
	}
	t := &TargetCheck{}
	thr := p.Closed.Throughput
	switch p.Name {
	case "exchange-rs256", "exchange-rs256-rotate":
		t.Throughput, t.ThroughputOK = "≥ 90% of the RS256 ceiling", p.Fraction >= 0.9
	case "exchange-es256", "exchange-es256-rotate":
		t.Throughput, t.ThroughputOK = "≥ 10000/s", thr >= 10000
	case "cc-opaque":
		t.Throughput, t.ThroughputOK = "≥ 8000/s", thr >= 8000
	case "cc-jwt-rs256":
		t.Throughput, t.ThroughputOK = "≥ 1600/s", thr >= 1600
	case "introspect":
		t.Throughput, t.ThroughputOK = "≥ 15000/s", thr >= 15000
	case "userinfo":
		t.Throughput, t.ThroughputOK = "≥ 10000/s", thr >= 10000
	case "sdk-login":
		t.Throughput, t.ThroughputOK = "≥ 85% of the argon2id ceiling", p.Fraction >= 0.85
	}
	if p.Open == nil {
		t.P99Note = notMeasured
	} else {
		t.P99OK = p.Open.Latency.P99 < ms(int64(P99Target)) && p.Open.OK > 0
		if p.Ceiling == CeilingArgon2 && c.Argon2idMS >= ms(int64(P99Target)) {
			t.P99Note = "one argon2id hash alone takes longer than 10 ms here"
		}
	}
	p.Target = t
}

// boundCost returns the CPU cost in µs of one bounding operation;
// httpCost is healthz's server CPU per request.
func boundCost(kind string, c Ceilings, httpCost float64) float64 {
	switch kind {
	case CeilingRS256:
		return c.RS256SignUS
	case CeilingES256:
		return c.ES256SignUS
	case CeilingArgon2:
		return c.Argon2idMS * 1e3
	case CeilingHTTP:
		return httpCost
	}
	return 0
}

// allCoresOf returns the all-cores measurement of a path's bounding
// operation; zero for HTTP, which has none.
func allCoresOf(kind string, c Ceilings) AllCores {
	switch kind {
	case CeilingRS256:
		return c.RS256AllCores
	case CeilingES256:
		return c.ES256AllCores
	case CeilingArgon2:
		return c.Argon2idAllCores
	}
	return AllCores{}
}

// ceilingOf returns the ceiling of a path in operations per second;
// httpCeiling is the backend's healthz throughput.
func ceilingOf(kind string, c Ceilings, httpCeiling float64) float64 {
	switch kind {
	case CeilingRS256:
		return c.RS256PerSec
	case CeilingES256:
		return c.ES256PerSec
	case CeilingArgon2:
		return c.Argon2idPerSec
	case CeilingHTTP:
		return httpCeiling
	}
	return 0
}

// sortedKeys returns m's keys by descending count.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return keys
}
