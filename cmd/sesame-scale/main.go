// Command sesame-scale fills Sesame stores with millions of users and
// sessions and measures a real sesame server on them (issue 5, point 4;
// see docs/scale.md). This file only wires flags to package scale.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/scale"
)

func main() {
	if err := newCommand(os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand(stdout, stderr io.Writer) *cobra.Command {
	o := scale.DefaultOptions()
	var (
		timeout  time.Duration
		jsonPath string
		quiet    bool
	)
	cmd := &cobra.Command{
		Use:          "sesame-scale",
		Short:        "Fill Sesame stores with millions of sessions and users and measure a real server on them",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.SesameBin == "" {
				bin, err := findSesame()
				if err != nil {
					return err
				}
				o.SesameBin = bin
			}
			if !quiet {
				o.Progress = func(s string) { fmt.Fprintf(stderr, "%s %s\n", time.Now().Format("15:04:05"), s) }
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			rep, err := scale.Run(ctx, o)
			if rep != nil {
				if werr := output(rep, stdout, jsonPath); werr != nil {
					err = errors.Join(err, werr)
				}
			}
			return err
		},
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	f := cmd.Flags()
	f.StringSliceVar(&o.Backends, "backends", o.Backends, "backends to measure, in order: sqlite, postgres")
	f.Int64Var(&o.Sessions, "sessions", o.Sessions, "sessions in the scaled store")
	f.Int64Var(&o.Users, "users", o.Users, "users in the scaled store")
	f.Int64Var(&o.BaselineSessions, "baseline-sessions", o.BaselineSessions, "sessions in the baseline store")
	f.Int64Var(&o.BaselineUsers, "baseline-users", o.BaselineUsers, "users in the baseline store")
	f.Float64Var(&o.ExpiredShare, "expired-share", o.ExpiredShare, "share of sessions generated already expired (what the sweeper removes)")
	f.Float64Var(&o.RotatedShare, "rotated-share", o.RotatedShare, "share of sessions generated rotated once (with a previous token hash)")
	f.StringVar(&o.Dir, "dir", "", "directory for SQLite files, configurations and server directories (default: a new temporary directory)")
	f.StringVar(&o.PostgresDSN, "postgres-dsn", o.PostgresDSN, "admin DSN of the local PostgreSQL server; each store gets its own database, dropped at the end")
	f.BoolVar(&o.Keep, "keep", false, "keep the files and PostgreSQL databases (their locations are in the report)")
	f.StringVar(&o.SesameBin, "sesame", "", "the sesame binary (default: next to sesame-scale, else in PATH)")
	f.StringSliceVar(&o.Algs, "algs", o.Algs, "id_token algorithms to measure the exchange with (with ES256 the store is a larger share of an exchange than with RS256); rotation uses the first")
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "concurrent exchanges")
	f.IntVar(&o.Rounds, "rounds", o.Rounds, "measured rounds per store, alternating between the stores")
	f.IntVar(&o.RequestsPerRound, "requests", o.RequestsPerRound, "exchanges per round")
	f.BoolVar(&o.Rotation, "rotation", o.Rotation, "also measure the exchange with session rotation")
	f.IntVar(&o.Lookups, "lookups", o.Lookups, "in-process store lookups per store (the exchange's query without HTTP and signing); 0: none")
	f.DurationVar(&o.SweepInterval, "sweep-interval", o.SweepInterval, "the server's sweep.interval during the sweep measurement")
	f.IntVar(&o.SweepBatch, "sweep-batch", o.SweepBatch, "the server's sweep.batch")
	f.DurationVar(&o.SweepTimeout, "sweep-timeout", o.SweepTimeout, "longest wait for the sweep")
	f.DurationVar(&timeout, "timeout", 4*time.Hour, "bound on the whole run")
	f.StringVar(&jsonPath, "json", "", "write the JSON report to this file (default: after the table on stdout)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	return cmd
}

// findSesame looks for the sesame binary next to this one, then in PATH.
func findSesame() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "sesame")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("sesame"); err == nil {
		return p, nil
	}
	return "", errors.New("sesame binary not found: build it (go build -o bin/ ./cmd/sesame ./cmd/sesame-scale) or pass --sesame")
}

func output(rep *scale.Report, stdout io.Writer, jsonPath string) error {
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	if jsonPath == "" {
		_, err = stdout.Write(raw)
		return err
	}
	return os.WriteFile(jsonPath, raw, 0o644)
}
