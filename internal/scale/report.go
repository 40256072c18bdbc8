package scale

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of issue 5, point 4.
const (
	// TargetP50Ratio: exchange p50 on the scaled store within +20% of the
	// baseline's.
	TargetP50Ratio = 1.20
	// TargetRSSBytes: the server's peak RSS.
	TargetRSSBytes = 200 << 20
)

// Report is the outcome of a run.
type Report struct {
	Started  time.Time       `json:"started"`
	Seconds  float64         `json:"seconds"`
	Machine  Machine         `json:"machine"`
	Settings Settings        `json:"settings"`
	Backends []BackendReport `json:"backends"`
}

// Machine describes where the run happened.
type Machine struct {
	Hostname    string `json:"hostname"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	MemoryBytes int64  `json:"memory_bytes,omitempty"`
	GoVersion   string `json:"go_version"`
}

// Settings are the run's parameters as used.
type Settings struct {
	Sessions         int64    `json:"sessions"`
	Users            int64    `json:"users"`
	BaselineSessions int64    `json:"baseline_sessions"`
	BaselineUsers    int64    `json:"baseline_users"`
	ExpiredShare     float64  `json:"expired_share"`
	RotatedShare     float64  `json:"rotated_share"`
	Algs             []string `json:"id_token_algs"`
	Concurrency      int      `json:"concurrency"`
	Rounds           int      `json:"rounds"`
	RequestsPerRound int      `json:"requests_per_round"`
	SweepInterval    string   `json:"sweep_interval"`
	SweepBatch       int      `json:"sweep_batch"`
}

// BackendReport holds one backend's figures.
type BackendReport struct {
	Backend  string               `json:"backend"`
	Baseline StoreReport          `json:"baseline"`
	Scaled   StoreReport          `json:"scaled"`
	Exchange []ExchangeComparison `json:"exchange"`
	// Lookups are the store lookup of the exchange measured in-process
	// (measureLookups): as found, and on SQLite also right after the
	// files were read through.
	Lookups []ExchangeComparison `json:"store_lookups,omitempty"`
	Memory  MemoryReport         `json:"memory"`
	Sweep   SweepReport          `json:"sweep"`
	// LoadAverage is /proc/loadavg's 1-minute figure at the start and the
	// end of the backend's run: other work on the machine shows here.
	LoadAverage [2]float64 `json:"load_average"`
	Seconds     float64    `json:"seconds"`
}

// StoreReport describes one generated store.
type StoreReport struct {
	Load LoadResult `json:"load"`
	// DatabaseBytes is the SQLite file (with its WAL) or
	// pg_database_size; SessionsBytes and UsersBytes are each table with
	// its indexes (dbstat, pg_total_relation_size), right after the load.
	DatabaseBytes   int64   `json:"database_bytes"`
	SessionsBytes   int64   `json:"sessions_bytes"`
	UsersBytes      int64   `json:"users_bytes"`
	BytesPerSession float64 `json:"bytes_per_session"`
	BytesPerUser    float64 `json:"bytes_per_user"`
	Location        string  `json:"location"` // file path or database name
}

// ExchangeComparison is one exchange measurement on both stores.
type ExchangeComparison struct {
	Mode      string  `json:"mode"`
	ClientID  string  `json:"client_id"`
	Baseline  Latency `json:"baseline"`
	Scaled    Latency `json:"scaled"`
	P50Ratio  float64 `json:"p50_ratio"`
	TargetMet bool    `json:"target_met"`
}

// compare fills in the ratio and the verdict.
func (c *ExchangeComparison) compare() {
	if c.Baseline.P50MS > 0 {
		c.P50Ratio = c.Scaled.P50MS / c.Baseline.P50MS
	}
	c.TargetMet = c.P50Ratio > 0 && c.P50Ratio <= TargetP50Ratio &&
		c.Baseline.Errors == nil && c.Scaled.Errors == nil
}

// MemoryReport is the servers' memory: each after the exchange rounds,
// the sweeper after the sweep.
type MemoryReport struct {
	Baseline  ProcStats `json:"baseline"`
	Scaled    ProcStats `json:"scaled"`
	Sweeper   ProcStats `json:"sweeper"`
	TargetMet bool      `json:"target_met"`
}

// SweepReport is the sweeper's deletion of the expired sessions.
type SweepReport struct {
	Interval string `json:"interval"`
	Batch    int    `json:"batch"`
	Expired  int64  `json:"expired"`
	Deleted  int64  `json:"deleted"`
	// Seconds runs from the first sweep's start (the server's
	// "listening" log time plus the interval) to the end of the last
	// sweep that deleted rows, from the server's own log.
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
	// BatchSeconds is the mean time of one batch (Seconds over
	// Deleted/Batch): how long each DELETE holds the write lock, which on
	// SQLite every login and rotation waits for.
	BatchSeconds float64 `json:"batch_seconds"`
	// ServerCPUSeconds is the sweeping server's CPU time (user + system)
	// from its start to the end of the sweep; it does nothing else.
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	Complete         bool    `json:"complete"`
	// Remaining is the sessions count after the sweep; Expected the live
	// sessions plus those the checks created.
	Remaining int64 `json:"remaining"`
	Expected  int64 `json:"expected"`
}

func machine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.Hostname, _ = os.Hostname()
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
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if len(f) == 2 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemoryBytes = kb << 10
				}
			}
		}
	}
	return m
}

func loadAverage() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// WriteTable prints the report as text tables.
func (r *Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	m := r.Machine
	fmt.Fprintf(bw, "sesame-scale  %s  %s/%s, %d CPUs (%s), %.1f GiB, %s\n",
		r.Started.Format(time.RFC3339), m.OS, m.Arch, m.CPUs, m.CPUModel, float64(m.MemoryBytes)/(1<<30), m.GoVersion)
	s := r.Settings
	fmt.Fprintf(bw, "scaled store %s sessions / %s users; baseline %s / %s; %.0f%% expired, %.0f%% rotated; %s; concurrency %d, %d rounds of %d\n\n",
		count(s.Sessions), count(s.Users), count(s.BaselineSessions), count(s.BaselineUsers),
		100*s.ExpiredShare, 100*s.RotatedShare, strings.Join(s.Algs, ", "), s.Concurrency, s.Rounds, s.RequestsPerRound)
	for _, b := range r.Backends {
		fmt.Fprintf(bw, "== %s  (load average %.2f -> %.2f, %.0fs)\n", b.Backend, b.LoadAverage[0], b.LoadAverage[1], b.Seconds)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "store\tsessions\tusers\tload s\trows/s\tdb MiB\tB/session\tB/user\t")
		for _, st := range []struct {
			name string
			s    StoreReport
		}{{"baseline", b.Baseline}, {"scaled", b.Scaled}} {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.0f\t%.1f\t%.0f\t%.0f\t\n", st.name, count(st.s.Load.Sessions), count(st.s.Load.Users),
				st.s.Load.Seconds, st.s.Load.RowsPerSecond, mib(st.s.DatabaseBytes), st.s.BytesPerSession, st.s.BytesPerUser)
		}
		tw.Flush()
		fmt.Fprintln(bw)
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "exchange\tstore\trequests\terrors\tp50 ms\tp95 ms\tp99 ms\tmax ms\treq/s\tcpu ms/req\tp50 ratio\t")
		rows := append(slices.Clip(b.Exchange), b.Lookups...)
		for _, e := range rows {
			for _, l := range []struct {
				name string
				l    Latency
			}{{"baseline", e.Baseline}, {"scaled", e.Scaled}} {
				ratio := ""
				if l.name == "scaled" {
					ratio = fmt.Sprintf("%.2f %s", e.P50Ratio, verdict(e.TargetMet))
				}
				cpu := "-" // not measured: the in-process lookup
				if l.l.ServerCPUMS > 0 {
					cpu = fmt.Sprintf("%.3f", l.l.ServerCPUMS)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%s\t%s\t\n", e.Mode, l.name, l.l.Requests, errorCount(l.l.Errors),
					l.l.P50MS, l.l.P95MS, l.l.P99MS, l.l.MaxMS, l.l.PerSecond, cpu, ratio)
			}
		}
		tw.Flush()
		for _, e := range b.Exchange {
			for _, l := range []struct {
				name string
				l    Latency
			}{{"baseline", e.Baseline}, {"scaled", e.Scaled}} {
				if len(l.l.Errors) > 0 {
					fmt.Fprintf(bw, "  errors (%s, %s): %s\n", e.Mode, l.name, errorList(l.l.Errors))
				}
			}
		}
		for _, l := range b.Lookups {
			if l.Baseline.DiskReadKiB+l.Scaled.DiskReadKiB > 0 {
				fmt.Fprintf(bw, "  %s: reads from storage: baseline %.2f KiB, scaled %.2f KiB per lookup\n",
					l.Mode, l.Baseline.DiskReadKiB, l.Scaled.DiskReadKiB)
			}
		}
		fmt.Fprintln(bw)
		mem := b.Memory
		fmt.Fprintf(bw, "server RSS MiB (now / peak): baseline %.1f / %.1f, scaled %.1f / %.1f, sweeper %.1f / %.1f; target peak < %.0f: %s\n",
			mib(mem.Baseline.RSSBytes), mib(mem.Baseline.PeakRSSBytes), mib(mem.Scaled.RSSBytes), mib(mem.Scaled.PeakRSSBytes),
			mib(mem.Sweeper.RSSBytes), mib(mem.Sweeper.PeakRSSBytes), mib(TargetRSSBytes), verdict(mem.TargetMet))
		sw := b.Sweep
		fmt.Fprintf(bw, "sweeper (interval %s, batch %d): %s of %s expired sessions deleted in %.1fs = %.0f rows/s, %.3fs a batch, server CPU %.1fs; %s sessions left (expected %s)%s\n\n",
			sw.Interval, sw.Batch, count(sw.Deleted), count(sw.Expired), sw.Seconds, sw.RowsPerSecond, sw.BatchSeconds, sw.ServerCPUSeconds, count(sw.Remaining), count(sw.Expected),
			map[bool]string{true: "", false: "  INCOMPLETE"}[sw.Complete])
	}
	return bw.Flush()
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func errorCount(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func errorList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// count formats n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
