// Command sesame is the Sesame identity provider: `sesame serve` runs the
// server, `sesame keys ...` manages signing keys, `sesame admin create`
// makes an administrator. This file only wires
// flags to the internal packages.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/cli"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/httpx"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/server"
	"github.com/sesame-idp/sesame/internal/store"
)

func main() {
	if err := newRootCommand(os.Stdout, os.Stderr, os.Environ()).Execute(); err != nil {
		os.Exit(1)
	}
}

func newRootCommand(stdout, stderr io.Writer, environ []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "sesame",
		Short:         "Sesame identity provider",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().String("config", "", "YAML configuration file")
	config.Flags(root.PersistentFlags())
	root.AddCommand(serveCommand(stdout, stderr, environ), keysCommand(stdout, stderr, environ))
	root.AddCommand(adminCommand(stdout, stderr, environ))
	// Management commands against a running server's admin API.
	mgmt := cli.Env{Environ: environ}
	root.AddCommand(cli.Commands(mgmt)...)
	for _, c := range root.Commands() {
		if c.Name() == "keys" {
			mgmt.AddRemoteKeys(c)
		}
	}
	return root
}

func loadConfig(cmd *cobra.Command, environ []string) (config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	return config.Load(path, environ, cmd.Flags())
}

func newHandler(cfg config.Config, w io.Writer) slog.Handler {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Log.Format, "text") {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}

// newLogger is the logger of the short commands: unbuffered, they log
// little.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	return slog.New(newHandler(cfg, w))
}

// Buffering of the server's log (see httpx.LogWriter): the access log is
// one line per request, and one write(2) each cost about 5% of the
// cheapest request.
const (
	logFlushInterval = 100 * time.Millisecond
	logBufferBytes   = 32 << 10
)

// newServeLogger is the server's logger: buffered, flushed every
// logFlushInterval, when logBufferBytes are waiting, at once after a
// warning or an error, and by the returned close, which must run before
// the process exits.
func newServeLogger(cfg config.Config, w io.Writer) (*slog.Logger, func() error) {
	lw := httpx.NewLogWriter(w, logFlushInterval, logBufferBytes)
	return slog.New(httpx.UrgentFlush(newHandler(cfg, lw), lw, slog.LevelWarn)), lw.Close
}

func serveCommand(stdout, stderr io.Writer, environ []string) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the server (SQLite in ./sesame-data/ and a demo tenant when nothing is configured)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, environ)
			if err != nil {
				return err
			}
			logger, closeLog := newServeLogger(cfg, stderr)
			// Deferred first, so it runs last: after srv.Close, which
			// may still log, and before cobra prints a returned error
			// and main exits.
			defer closeLog()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			srv, err := server.New(ctx, cfg, server.Options{Logger: logger})
			if err != nil {
				return err
			}
			defer srv.Close()
			if srv.Demo != nil {
				fmt.Fprint(stdout, server.DemoBanner(srv.Demo, cfg.Server.PublicURL))
			}
			ln, err := net.Listen("tcp", cfg.Server.Listen)
			if err != nil {
				return err
			}
			return srv.Serve(ctx, ln)
		},
	}
}

func keysCommand(stdout, stderr io.Writer, environ []string) *cobra.Command {
	keysCmd := &cobra.Command{Use: "keys", Short: "Manage signing keys"}
	var tenantIDs, algs []string
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Add and publish a new signing key; signing switches to it after keys.rotation_delay",
		Args:  cobra.NoArgs,
		RunE: withKeys(environ, stderr, func(ctx context.Context, cfg config.Config, km *keys.Manager, st store.Store) error {
			ids, err := resolveTenants(ctx, st, tenantIDs)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := km.Rotate(ctx, id, algs...); err != nil {
					return fmt.Errorf("tenant %s: %w", id, err)
				}
				fmt.Fprintf(stdout, "tenant %s: new keys published; they sign from %s on\n", id, cfg.Keys.RotationDelay)
			}
			return nil
		}),
	}
	rotate.Flags().StringSliceVar(&tenantIDs, "tenant", nil, "tenant ids (default: all tenants)")
	rotate.Flags().StringSliceVar(&algs, "alg", nil, "algorithms: RS256, RS512, ES256, EdDSA (default: all)")
	var listTenant string
	list := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's published keys",
		Args:  cobra.NoArgs,
		RunE: withKeys(environ, stderr, func(ctx context.Context, _ config.Config, km *keys.Manager, _ store.Store) error {
			infos, err := km.Keys(ctx, listTenant)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(infos)
		}),
	}
	list.Flags().StringVar(&listTenant, "tenant", "demo", "tenant id")
	var checkTenants []string
	check := &cobra.Command{
		Use:   "check",
		Short: "Verify that every published key decrypts, matches its public key, and that each algorithm has a signing key",
		Args:  cobra.NoArgs,
		RunE: withKeys(environ, stderr, func(ctx context.Context, _ config.Config, km *keys.Manager, st store.Store) error {
			ids, err := resolveTenants(ctx, st, checkTenants)
			if err != nil {
				return err
			}
			reports, problems := make([]any, 0, len(ids)), 0
			for _, id := range ids {
				rep, err := km.Check(ctx, id)
				if err != nil {
					return fmt.Errorf("tenant %s: %w", id, err)
				}
				reports = append(reports, rep)
				problems += len(rep.Problems)
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(reports); err != nil {
				return err
			}
			if problems > 0 {
				return fmt.Errorf("%d problems found", problems)
			}
			return nil
		}),
	}
	check.Flags().StringSliceVar(&checkTenants, "tenant", nil, "tenant ids (default: all tenants)")
	keysCmd.AddCommand(rotate, list, check)
	return keysCmd
}

// withKeys runs fn with the configuration, a key manager and the store
// opened as a server would open them, and closes the store afterwards.
func withKeys(environ []string, stderr io.Writer, fn func(ctx context.Context, cfg config.Config, km *keys.Manager, st store.Store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd, environ)
		if err != nil {
			return err
		}
		km, st, err := server.OpenKeys(cmd.Context(), cfg, newLogger(cfg, stderr))
		if err != nil {
			return err
		}
		defer st.Close()
		return fn(cmd.Context(), cfg, km, st)
	}
}

// resolveTenants returns the given tenant ids, or every tenant's.
func resolveTenants(ctx context.Context, st store.Store, ids []string) ([]string, error) {
	if len(ids) > 0 {
		return ids, nil
	}
	ts, err := st.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids, nil
}
