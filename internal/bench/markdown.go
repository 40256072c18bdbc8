package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the report as Markdown tables, for docs/perf: per
// backend, one row per path with the closed-loop peak against its
// ceiling, the server's CPU per operation, the open-loop latency at half
// peak and the targets; then the flood.
func WriteMarkdown(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	m, s, c := r.Machine, r.Settings, r.Ceilings
	ew.printf("# sesame-bench report\n\n")
	ew.printf("Started %s on %s, %d cores, %.0f GiB, %s, Linux %s; load average %s at start.\n\n",
		r.Started.Format("2006-01-02 15:04 UTC"), m.CPUModel, m.Cores, m.MemoryGB, m.GoVersion, m.Kernel, m.LoadAvg)
	ew.printf("Each phase %s (at most %d requests); %d workers with a keep-alive connection each (SDK login: %d); %d users; flood of %d logins for %s.\n\n",
		s.Duration, s.Requests, s.Concurrency, s.LoginConcurrency, s.Users, s.Flood, s.FloodDuration)
	ew.printf("Ceilings measured in the harness process at the start of the run (CPU time per operation; machine ceiling = cores ÷ cost; "+
		"a path bound by a signature or a hash is compared with the same cost measured again right before and after its closed loop; "+
		"in brackets every core at once, per wall second and by CPU time): "+
		"RS256 signature %.0f µs → %.0f/s%s; ES256 signature %.1f µs → %.0f/s%s; argon2id (%s) %.1f ms → %.1f/s%s.\n",
		c.RS256SignUS, c.RS256PerSec, allCoresText(c.RS256AllCores, "signing", "%.0f"),
		c.ES256SignUS, c.ES256PerSec, allCoresText(c.ES256AllCores, "signing", "%.0f"),
		c.Argon2idParams, c.Argon2idMS, c.Argon2idPerSec, allCoresText(c.Argon2idAllCores, "hashing", "%.1f"))
	if f := c.Fsync; f != nil {
		ew.printf("Disk: fsync after an 8 KiB append in the data directory (%d times): p50 %.0f µs, p99 %.0f µs, max %.0f µs; each SQLite commit waits for one.\n",
			f.Syncs, f.P50US, f.P99US, f.MaxUS)
	}
	for _, b := range r.Backends {
		ew.printf("\n## %s\n\n", b.Backend)
		ew.printf("| path | peak/s | ceiling/s | of ceiling | server µs/op | loader µs/op | db µs/op | idle cores | SQLite write queue busy | bound µs | server-only/s | p50 ms (peak) | p99 ms (peak) | rate/s (½ peak) | p50 ms | p99 ms | max ms | errors | target | p99 < 10 ms |\n")
		ew.printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, p := range b.Paths {
			cl, op := p.Closed, p.Open
			if cl == nil {
				continue
			}
			open := []string{"-", "-", "-", "-"}
			if op != nil {
				open = []string{f0(op.Throughput), f2(op.Latency.P50), f2(op.Latency.P99), f2(op.Latency.Max)}
			}
			target, p99 := "", ""
			if t := p.Target; t != nil {
				if t.Throughput != "" {
					target = t.Throughput + ": " + yes(t.ThroughputOK)
				}
				p99 = p.p99Verdict()
			}
			dbOp, idle := machineCells(cl)
			ew.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |\n",
				p.Name, f0(cl.Throughput), f0(p.CeilingPerSec), pct(p.Fraction), f0(cl.ServerCPUPerOpUS), f0(cl.LoaderCPUPerOpUS),
				dbOp, idle, queueCells(cl)[0], f0(p.BoundCostUS),
				f0(p.ServerOnlyPerSec), f2(cl.Latency.P50), f2(cl.Latency.P99), strings.Join(open, " | "),
				errCount(cl)+errCount(op), target, p99)
		}
		if fl := b.Flood; fl != nil {
			ew.printf("\nFlood: %d concurrent SDK logins for %.1f s: %d requests, %d logged in (%.1f/s, %s of the argon2id ceiling), %d system-busy answers "+
				"(p50 %.1f ms, p99 %.1f ms, max %.1f ms); server peak RSS %.0f MiB (target < %.0f MiB: %s).\n",
				fl.Concurrency, fl.Seconds, fl.Requests, fl.OK, fl.Throughput, pct(fl.Fraction), fl.Busy,
				fl.BusyLatency.P50, fl.BusyLatency.P99, fl.BusyLatency.Max, fl.Server.PeakRSSMB, fl.RSSLimitMB, yes(fl.RSSOK))
			if n := fl.Requests - fl.OK - fl.Busy; n > 0 {
				ew.printf("Other failures: %s.\n", fmt.Sprint(fl.Errors))
			}
		}
		for _, n := range b.Notes {
			ew.printf("\nNote: %s\n", n)
		}
	}
	return ew.err
}
