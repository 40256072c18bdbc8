package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report as aligned tables: the machine and its
// ceilings, then per backend the closed-loop peak, the open-loop latency
// at half peak, the targets, the errors and the flood.
func WriteText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	m := r.Machine
	ew.printf("machine: %s, %d cores, %.0f GiB, %s, Linux %s, load average %s at start\n",
		m.CPUModel, m.Cores, m.MemoryGB, m.GoVersion, m.Kernel, m.LoadAvg)
	s := r.Settings
	ew.printf("settings: %s per phase (at most %d requests), %d workers (SDK login: %d), %d users, flood %d for %s\n",
		s.Duration, s.Requests, s.Concurrency, s.LoginConcurrency, s.Users, s.Flood, s.FloodDuration)
	c := r.Ceilings
	ew.printf("ceilings at the start (this process; cores ÷ one call's CPU cost; in brackets every core at once, per wall second and by CPU time):\n")
	ew.printf("  RS256 sign %.0f µs → %.0f/s%s\n", c.RS256SignUS, c.RS256PerSec, allCoresText(c.RS256AllCores, "signing", "%.0f"))
	ew.printf("  ES256 sign %.1f µs → %.0f/s%s\n", c.ES256SignUS, c.ES256PerSec, allCoresText(c.ES256AllCores, "signing", "%.0f"))
	ew.printf("  argon2id (%s) %.1f ms → %.1f/s%s\n", c.Argon2idParams, c.Argon2idMS, c.Argon2idPerSec, allCoresText(c.Argon2idAllCores, "hashing", "%.1f"))
	if f := c.Fsync; f != nil {
		ew.printf("  fsync after an 8 KiB append in the data directory (%d): p50 %.0f µs, p99 %.0f µs, max %.0f µs (each SQLite commit waits for one)\n",
			f.Syncs, f.P50US, f.P99US, f.MaxUS)
	}
	for _, b := range r.Backends {
		ew.printf("\n== %s (server RSS after start %.0f MiB)\n\n", b.Backend, b.Idle.PeakRSSMB)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tclosed loop\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\topen loop\t\t\t\t\t\t")
		fmt.Fprintln(tw, "path\tpeak/s\tceiling/s\tof ceil\tp50 ms\tp99 ms\tsrv µs/op\tload µs/op\tdb µs/op\tbound µs\tshare\tsrv-only/s\tsrv cores\tload cores\tdb cores\tidle cores\twq busy\twq batch\tRSS MiB\trate/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\terrors\t")
		for _, p := range b.Paths {
			cl, op := p.Closed, p.Open
			if cl == nil {
				continue
			}
			dbOp, idle := machineCells(cl)
			dbCores := "-"
			if m := cl.Machine; m != nil && m.DBCores > 0 {
				dbCores = f2(m.DBCores)
			}
			row := []string{p.Name, f0(cl.Throughput), f0(p.CeilingPerSec), pct(p.Fraction),
				f2(cl.Latency.P50), f2(cl.Latency.P99), f0(cl.ServerCPUPerOpUS), f0(cl.LoaderCPUPerOpUS), dbOp, f0(p.BoundCostUS), pct(p.BoundShare), f0(p.ServerOnlyPerSec),
				f2(cl.Server.CPUCores), f2(cl.Loader.CPUCores), dbCores, idle}
			row = append(row, queueCells(cl)...)
			row = append(row, f0(cl.Server.PeakRSSMB))
			if op != nil {
				row = append(row, f0(op.Throughput), f2(op.Latency.P50), f2(op.Latency.P95), f2(op.Latency.P99), f2(op.Latency.Max))
			} else {
				row = append(row, "-", "-", "-", "-", "-")
			}
			row = append(row, fmt.Sprint(errCount(cl)+errCount(op)))
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		ew.printf("\nsrv µs/op, load µs/op, db µs/op: server, harness and database server (PostgreSQL's processes) CPU per successful operation;\n" +
			"bound µs: CPU cost of what bounds the path (signature or hash: measured right before and after the path's closed loop, mean; http: healthz's srv µs/op);\n" +
			"ceiling/s: cores ÷ bound µs (http: healthz's peak); share: bound ÷ srv µs/op;\n" +
			"srv-only/s: cores ÷ srv µs/op, the throughput with no loader on the machine; cores: CPU seconds ÷ wall seconds;\n" +
			"idle cores: capacity no process or kernel thread used (/proc/stat idle + iowait), near 0 when the machine's CPU was the bound;\n" +
			"wq busy, wq batch: SQLite's write queue (the server's /metrics): share of the time it ran batches (near 1: writes wait for the\n" +
			"single write connection) and statements per commit.\n")
		ew.printf("\ntargets (issue 5 point 3):\n")
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, p := range b.Paths {
			t := p.Target
			if t == nil {
				continue
			}
			thr := "-"
			if t.Throughput != "" {
				thr = t.Throughput + ": " + yes(t.ThroughputOK)
			}
			p99 := "p99 < 10 ms at half peak: " + p.p99Verdict()
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Name, thr, p99)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, p := range b.Paths {
			for _, ph := range []*PhaseReport{p.Closed, p.Open} {
				if ph == nil || len(ph.Errors) == 0 {
					continue
				}
				ew.printf("errors %s (%s):", p.Name, ph.Kind)
				for _, k := range sortedKeys(ph.Errors) {
					ew.printf(" %q×%d", k, ph.Errors[k])
				}
				ew.printf("\n")
			}
		}
		if fl := b.Flood; fl != nil {
			ew.printf("\nflood: %d concurrent SDK logins for %.1f s: %d requests, %d logged in (%.1f/s, %s of the argon2id ceiling), %d busy\n",
				fl.Concurrency, fl.Seconds, fl.Requests, fl.OK, fl.Throughput, pct(fl.Fraction), fl.Busy)
			ew.printf("  busy answers: p50 %.2f ms, p99 %.2f ms, max %.2f ms; successful logins: p50 %.0f ms, p99 %.0f ms\n",
				fl.BusyLatency.P50, fl.BusyLatency.P99, fl.BusyLatency.Max, fl.OKLatency.P50, fl.OKLatency.P99)
			ew.printf("  server peak RSS %.0f MiB (target < %.0f MiB: %s), server CPU %.2f cores\n",
				fl.Server.PeakRSSMB, fl.RSSLimitMB, yes(fl.RSSOK), fl.Server.CPUCores)
			if other := len(fl.Errors); other > 0 {
				ew.printf("  outcomes:")
				for _, k := range sortedKeys(fl.Errors) {
					ew.printf(" %q×%d", k, fl.Errors[k])
				}
				ew.printf("\n")
			}
		}
		for _, n := range b.Notes {
			ew.printf("note: %s\n", n)
		}
	}
	return ew.err
}

// allCoresText is the bracket of a ceiling's all-cores figures; empty
// when they were not measured (reports of older runs).
func allCoresText(a AllCores, doing, format string) string {
	if a.Ops == 0 {
		return ""
	}
	return fmt.Sprintf(" (all cores %s at once: "+format+"/s; by CPU time "+format+"/s)", doing, a.PerSec, a.PerSecCPU)
}

func errCount(p *PhaseReport) int {
	if p == nil {
		return 0
	}
	return p.Requests - p.OK
}

func f0(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func pct(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", v*100)
}
func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// machineCells are the database CPU per operation and the idle cores of a
// closed-loop phase, "-" where not measured (SQLite has no database
// process; reports written before these figures have no machine stats).
func machineCells(ph *PhaseReport) (dbPerOp, idle string) {
	m := ph.Machine
	if m == nil {
		return "-", "-"
	}
	dbPerOp = "-"
	if m.DBCores > 0 {
		dbPerOp = f0(m.DBCPUPerOpUS)
	}
	return dbPerOp, f2(m.IdleCores)
}

// queueCells are the SQLite write queue's busy share and mean batch of a
// phase, "-" where not measured (PostgreSQL, or no write).
func queueCells(ph *PhaseReport) []string {
	q := ph.WriteQueue
	if q == nil {
		return []string{"-", "-"}
	}
	return []string{f2(q.Busy), fmt.Sprintf("%.1f", q.StatementsPerCommit)}
}
