// Command sesame-bench is Sesame's load harness (issue 5): `sesame-bench
// run` starts a Sesame server of its own on 127.0.0.1, measures its hot
// paths on SQLite and/or PostgreSQL and reports throughput, latency,
// errors, CPU and memory against this machine's ceilings. This file only
// wires flags to package bench; docs/performance.md describes the method.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/bench"
	"github.com/sesame-idp/sesame/internal/sesamebin"
)

func main() {
	if err := newRootCommand(os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "sesame-bench",
		Short: "Load harness for Sesame's hot paths (127.0.0.1 only)",
		// Room for a `scale` command beside `run` (issue 5 point 4: a
		// store filled with millions of sessions); cmd/sesame-scale holds
		// that work for now.
		SilenceUsage: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(runCommand(stdout, stderr), renderCommand(stdout), pathsCommand(stdout))
	return root
}

func pathsCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "paths",
		Short: "List the paths run measures",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(stdout, strings.Join(bench.Paths(), "\n"))
		},
	}
}

func renderCommand(stdout io.Writer) *cobra.Command {
	var a runArgs
	cmd := &cobra.Command{
		Use:   "render REPORT.json",
		Short: "Render a JSON report of run again: table or JSON on standard output, --plot, --out-dir",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var r bench.Report
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if a.outDir != "" {
				if err := os.MkdirAll(a.outDir, 0o755); err != nil {
					return err
				}
			}
			a.stdout = stdout
			return write(&r, a)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&a.output, "output", "o", "table", "standard output format: table or json")
	f.StringVar(&a.plotFile, "plot", "", "write the PNG to this file")
	f.StringVar(&a.outDir, "out-dir", "", "write report.txt, report.md, report.json and report.png into this directory")
	return cmd
}

func runCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		o                                   bench.Options
		backends                            []string
		pgDSN, sesameBin, output            string
		jsonFile, plotFile, outDir, workDir string
		ceilingBudget                       time.Duration
		quiet                               bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start a server and measure every path (closed loop, then open loop at half peak), the ceilings and a login flood",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("-o must be table or json")
			}
			for _, b := range backends {
				if b != "sqlite" && b != "postgres" {
					return fmt.Errorf("--backends: %q is neither sqlite nor postgres", b)
				}
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if !quiet {
				o.Logf = func(format string, args ...any) {
					fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, runArgs{o: o, backends: backends, pgDSN: pgDSN, sesameBin: sesameBin, output: output,
				jsonFile: jsonFile, plotFile: plotFile, outDir: outDir, workDir: workDir, ceilingBudget: ceilingBudget,
				stdout: stdout, logf: o.Logf})
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Paths, "paths", nil, "paths to run (default all; see `sesame-bench paths`)")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each phase (closed loop, open loop)")
	f.IntVar(&o.Requests, "requests", 1_000_000, "most operations in one phase")
	f.IntVarP(&o.Concurrency, "concurrency", "c", 16, "closed-loop workers, each with its keep-alive connection")
	f.IntVar(&o.LoginConcurrency, "login-concurrency", 0, "closed-loop workers of the SDK login (default 2 per core)")
	f.BoolVar(&o.NoOpen, "no-open", false, "skip the open-loop phases at half peak")
	f.IntVar(&o.Users, "users", 32, "users of the bench tenant")
	f.IntVar(&o.Flood, "flood", 500, "concurrent SDK logins of the flood phase (0: no flood)")
	f.DurationVar(&o.FloodDuration, "flood-duration", 5*time.Second, "length of the flood")
	f.DurationVar(&o.Window, "window", 0, "window of the time series (default duration/40)")
	f.DurationVar(&o.BracketTime, "bracket-time", time.Second, "time spent measuring a signature- or hash-bound path's bounding operation before and again after its closed loop, the cost its ceiling is computed from (negative: use the start-of-run ceilings)")
	f.StringVar(&o.ProfileDir, "profile", "", "directory for CPU profiles (pprof) of each closed-loop phase of 2 s or more: the server's (PATH.pprof) and the harness's own (PATH-loader.pprof)")
	f.StringSliceVar(&backends, "backends", []string{"sqlite"}, "storage backends: sqlite, postgres")
	f.StringVar(&pgDSN, "postgres", envOr("SESAME_BENCH_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"PostgreSQL admin URL (local): a database of the run's own is created on it and dropped after")
	f.StringVar(&sesameBin, "sesame-bin", "", "sesame binary to start (default: build ./cmd/sesame of this module)")
	f.StringVarP(&output, "output", "o", "table", "standard output format: table or json")
	f.StringVar(&jsonFile, "json", "", "also write the JSON report to this file")
	f.StringVar(&plotFile, "plot", "", "write a PNG of latency and throughput over time per path to this file")
	f.StringVar(&outDir, "out-dir", "", "write report.txt, report.md, report.json and report.png into this directory")
	f.StringVar(&workDir, "work-dir", "", "directory for the server's binary, configuration, data and log (default: a temporary one, removed after)")
	f.DurationVar(&ceilingBudget, "ceiling-time", 3*time.Second, "time spent measuring the signature and argon2id ceilings")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress on standard error")
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type runArgs struct {
	o                                            bench.Options
	backends                                     []string
	pgDSN, sesameBin, output, jsonFile, plotFile string
	outDir, workDir                              string
	ceilingBudget                                time.Duration
	stdout                                       io.Writer
	logf                                         func(string, ...any)
}

func run(ctx context.Context, a runArgs) error {
	logf := a.logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if a.outDir != "" {
		if err := os.MkdirAll(a.outDir, 0o755); err != nil {
			return err
		}
	}
	work := a.workDir
	if work == "" {
		d, err := os.MkdirTemp("", "sesame-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	bin := a.sesameBin
	if bin == "" {
		wd, _ := os.Getwd()
		root, err := sesamebin.ModuleRoot(wd)
		if err != nil {
			return fmt.Errorf("%w: give --sesame-bin", err)
		}
		logf("building ./cmd/sesame in %s", root)
		if bin, err = sesamebin.Build(ctx, root, work); err != nil {
			return err
		}
	}
	report := &bench.Report{Started: time.Now().UTC(), Machine: bench.ReadMachine(), Settings: bench.Settings{
		Duration: a.o.Duration.String(), Requests: a.o.Requests, Concurrency: a.o.Concurrency,
		LoginConcurrency: a.o.LoginConcurrency, Users: a.o.Users, Flood: a.o.Flood, FloodDuration: a.o.FloodDuration.String(),
	}}
	logf("measuring the ceilings (%s)", a.ceilingBudget)
	c, err := bench.MeasureCeilings(a.ceilingBudget)
	if err != nil {
		return err
	}
	// The disk's commit latency, where the SQLite database will be: the
	// floor of the latency of every path that writes.
	if c.Fsync, err = bench.MeasureFsync(work, 300); err != nil {
		return err
	}
	report.Ceilings = c
	launcher := bench.ChildLauncher{Bin: bin, Dir: work}
	for _, backend := range a.backends {
		o := a.o
		if o.ProfileDir != "" {
			o.ProfileDir = filepath.Join(o.ProfileDir, backend)
			if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
				return err
			}
		}
		dsn := filepath.Join(work, "sesame.db")
		var drop func() error
		if backend == "postgres" {
			if dsn, drop, err = bench.PostgresDatabase(ctx, a.pgDSN); err != nil {
				return err
			}
		}
		br, err := bench.RunBackend(ctx, o, c, backend, dsn, launcher.Launch)
		if drop != nil {
			if derr := drop(); derr != nil {
				logf("dropping the bench database: %v", derr)
			}
		}
		if err != nil {
			return err
		}
		report.Backends = append(report.Backends, br)
	}
	if report.Settings.LoginConcurrency == 0 && len(report.Backends) > 0 {
		for _, p := range report.Backends[0].Paths {
			if p.Name == "sdk-login" && p.Closed != nil {
				report.Settings.LoginConcurrency = p.Closed.Workers
			}
		}
	}
	return write(report, a)
}

func write(r *bench.Report, a runArgs) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	js = append(js, '\n')
	if a.output == "json" {
		if _, err := a.stdout.Write(js); err != nil {
			return err
		}
	} else if err := bench.WriteText(a.stdout, r); err != nil {
		return err
	}
	files := map[string]func(io.Writer) error{}
	if a.jsonFile != "" {
		files[a.jsonFile] = func(w io.Writer) error { _, err := w.Write(js); return err }
	}
	if a.plotFile != "" {
		files[a.plotFile] = func(w io.Writer) error { return bench.WritePlot(w, r) }
	}
	if a.outDir != "" {
		files[filepath.Join(a.outDir, "report.json")] = func(w io.Writer) error { _, err := w.Write(js); return err }
		files[filepath.Join(a.outDir, "report.txt")] = func(w io.Writer) error { return bench.WriteText(w, r) }
		files[filepath.Join(a.outDir, "report.png")] = func(w io.Writer) error { return bench.WritePlot(w, r) }
		files[filepath.Join(a.outDir, "report.md")] = func(w io.Writer) error { return bench.WriteMarkdown(w, r) }
	}
	for path, writeTo := range files {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		err = writeTo(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}
