package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sesame-idp/sesame/api"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/bootstrap"
	"github.com/sesame-idp/sesame/internal/clock"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/httpx"
	"github.com/sesame-idp/sesame/internal/idtoken"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/metrics"
	"github.com/sesame-idp/sesame/internal/mfa"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/password"
	"github.com/sesame-idp/sesame/internal/sdkapi"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/tenant"
	"github.com/sesame-idp/sesame/internal/tenantapi"
)

// Options are the dependencies of a server that are not configuration.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PasswordParams overrides the argon2id parameters (tests and
	// benchmarks use the defaults; nil means password.DefaultParams).
	PasswordParams *password.Params
}

// Server is an assembled Sesame server.
type Server struct {
	cfg      config.Config
	logger   *slog.Logger
	now      func() time.Time
	store    *sqlstore.Store
	keys     *keys.Manager
	metrics  *metrics.Metrics
	resolver *tenant.Resolver
	limiter  io.Closer // the rate limiter's connections
	handler  http.Handler
	audit    *audit.Writer
	// Demo holds the demo tenant's credentials when this start created it.
	Demo *bootstrap.Demo
}

// New assembles a server: storage (migrated), secrets, bootstrap data,
// signing keys and handlers. The caller must Close it.
func New(ctx context.Context, cfg config.Config, opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = slog.New(httpx.LogHandler(logger.Handler()))
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	kek, err := resolveKEK(cfg, logger)
	if err != nil {
		return nil, err
	}
	hasher, err := secret.NewHasher(kek)
	if err != nil {
		return nil, err
	}
	sealer, err := keys.NewSealer(kek)
	if err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: cfg.Storage.Driver, DSN: cfg.Storage.DSN, QueryTimeout: cfg.Storage.QueryTimeout, SQLiteSynchronous: cfg.Storage.SQLiteSynchronous, Logger: logger})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, logger: logger, now: now, store: st, metrics: metrics.New()}
	s.audit = s.newAuditWriter()
	if err := s.assemble(ctx, kek, hasher, sealer, opts); err != nil {
		s.closeAudit()
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) assemble(ctx context.Context, kek []byte, hasher *secret.Hasher, sealer *keys.Sealer, opts Options) error {
	cfg := s.cfg
	params := password.DefaultParams
	if opts.PasswordParams != nil {
		params = *opts.PasswordParams
	}
	pw := password.NewHasher(params, password.HasherOptions{
		Concurrency: cfg.Password.Concurrency,
		QueueLimit:  cfg.Password.QueueLimit,
		MaxWait:     cfg.Password.MaxWait,
	})
	s.metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sesame_password_hashes_waiting", Help: "Logins waiting for a password-hashing slot.",
	}, func() float64 { _, w := pw.Stats(); return float64(w) }))
	if s.store.Driver() == sqlstore.DriverSQLite {
		s.registerWriteQueueMetrics()
	}

	applier := &bootstrap.Applier{Store: s.store, Secrets: hasher, HashPassword: pw.Hash, Now: s.now, Logger: s.logger}
	if err := applier.Apply(ctx, cfg.Bootstrap); err != nil {
		return err
	}
	if len(cfg.Bootstrap.Tenants) == 0 {
		demo, err := applier.EnsureDemo(ctx, cfg.PublicHost(), cfg.Server.PublicURL)
		if err != nil {
			return fmt.Errorf("server: demo tenant: %w", err)
		}
		s.Demo = demo
	}
	// The system tenant: the administrators and the console application.
	if err := adminSetup(cfg, s.store, hasher, pw.Hash, s.now).EnsureSystem(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	}

	s.keys = keys.NewManager(s.store, sealer, keys.Options{
		Now:             s.now,
		Logger:          s.logger,
		RotationDelay:   cfg.Keys.RotationDelay,
		RefreshInterval: cfg.Keys.RefreshInterval,
		Retention:       s.retention,
		ClockSkew:       clock.MaxSkew,
	})
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if t.ID == store.SystemTenantID {
			// Its keys are made on first use (an administrator signing
			// in): most starts never sign for it, and RSA key generation
			// is the dearest part of a start.
			continue
		}
		if err := s.keys.EnsureKeys(ctx, t.ID); err != nil {
			return fmt.Errorf("server: keys of tenant %q: %w", t.ID, err)
		}
	}

	s.resolver, err = tenant.NewResolver(s.store, cfg.Server.PublicURL, cfg.Server.CommonDomains, s.now)
	if err != nil {
		return err
	}
	cached := newCachedStore(s.store, s.now)
	totpSealer, err := mfa.NewSealer(kek)
	if err != nil {
		return err
	}
	sessions := &session.Service{
		Store:     cached,
		Hasher:    hasher,
		Passwords: passwords{pw},
		IDTokens:  newIDTokens(s.keys, s.resolver.Issuer, s.now),
		Now:       s.now,
		Logger:    s.logger,
		Metrics:   s.metrics,
		MFA:       &session.MFA{Store: s.store, Sealer: totpSealer},
		Audit:     s.audit,
	}
	requestBox, err := secret.NewBox(kek, "authorization request")
	if err != nil {
		return err
	}
	limits, limiterCloser, err := newGuard(cfg.RateLimit, s.logger, s.metrics, s.now)
	if err != nil {
		return err
	}
	s.limiter = limiterCloser
	accessTokens := &oauth2.AccessTokens{Store: s.store, Hasher: hasher, Keys: s.keys, Issuer: s.resolver.Issuer, Now: s.now}
	mux := http.NewServeMux()
	(&sdkapi.Handler{
		Sessions: sessions, Tenants: s.resolver, Store: cached, Now: s.now, Logger: s.logger,
		DefaultEdition: store.EditionEIAM,
		Signed:         &sdkapi.Signed{Store: s.store, Sealer: sealer, Hasher: hasher, Now: s.now, Window: cfg.SDK.SignatureWindow},
		Limits:         limits,
	}).Mount(mux)
	(&tenantapi.Handler{
		Sessions: sessions, Tenants: s.resolver, Store: cached, Hasher: hasher, Logger: s.logger,
		AccessTokens: accessTokens, Limits: limits, Audit: s.audit,
	}).Mount(mux)
	provider := &oidc.Provider{
		Store: cached, Tenants: s.resolver, Sessions: sessions, Hasher: hasher, RequestBox: requestBox,
		Keys: s.keys, IDTokens: idtoken.NewMinter(s.keys, s.now), AccessTokens: accessTokens,
		Now: s.now, Logger: s.logger, Metrics: s.metrics,
		SecureCookies: strings.HasPrefix(cfg.Server.PublicURL, "https://") || cfg.Server.TLS(),
		Limits:        limits,
		Audit:         s.audit,
	}
	provider.Mount(mux)
	s.mountAdmin(mux, cached, accessTokens, hasher, pw, limits, s.audit)
	if err := s.mountConsole(mux); err != nil {
		return err
	}
	mux.HandleFunc("GET /api/v1/oauth2/keys", provider.CORS(s.jwks))
	mux.HandleFunc("OPTIONS /api/v1/oauth2/keys", provider.CORS(nil))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.Handle("GET /api/openapi.json", api.Handler())
	s.handler = httpx.Wrap(mux, httpx.Options{
		Logger: s.logger, Metrics: s.metrics,
		MaxBodyBytes: cfg.Server.MaxBodyBytes, Timeout: cfg.Server.RequestTimeout,
		HSTS:    cfg.Server.TLS(),
		Context: auditContext(limits),
	})
	return nil
}

// retention is how long a retired key of a tenant stays published: the
// longest id_token or access-token lifetime of its applications, and at
// least keys.min_retention (a lifetime may have been longer before).
func (s *Server) retention(tenantID string) time.Duration {
	longest := s.cfg.Keys.MinRetention
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	apps, err := s.store.ListApplications(ctx, tenantID)
	if err != nil {
		s.logger.Warn("listing applications for key retention failed; using the minimum", "tenant", tenantID, "err", err)
		return longest
	}
	for _, a := range apps {
		longest = max(longest, a.IDTokenTTL, a.AccessTokenTTL)
	}
	return longest
}

// OpenKeys opens the store and a key manager configured as a server's,
// for the key-management commands of the CLI. The caller closes the store.
func OpenKeys(ctx context.Context, cfg config.Config, logger *slog.Logger) (*keys.Manager, *sqlstore.Store, error) {
	kek, err := resolveKEK(cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := keys.NewSealer(kek)
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: cfg.Storage.Driver, DSN: cfg.Storage.DSN, QueryTimeout: cfg.Storage.QueryTimeout, SQLiteSynchronous: cfg.Storage.SQLiteSynchronous, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	s := &Server{cfg: cfg, logger: logger, now: time.Now, store: st}
	return keys.NewManager(st, sealer, keys.Options{
		Logger: logger, RotationDelay: cfg.Keys.RotationDelay, RefreshInterval: cfg.Keys.RefreshInterval, Retention: s.retention,
		ClockSkew: clock.MaxSkew,
	}), st, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.store }

// Keys returns the server's key manager.
func (s *Server) Keys() *keys.Manager { return s.keys }

// Close stores the last audit events and releases the store and the rate
// limiter's connections.
func (s *Server) Close() error {
	if s.limiter != nil {
		_ = s.limiter.Close()
	}
	s.closeAudit()
	return s.store.Close()
}

// Serve serves HTTP on ln and sweeps expired records until ctx is done,
// then shuts down gracefully: in-flight requests get up to
// server.shutdown_timeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	sweepDone := make(chan struct{})
	sweepCtx, stopSweep := context.WithCancel(ctx)
	go func() {
		defer close(sweepDone)
		pruned := s.startAuditPruner(sweepCtx)
		s.sweepLoop(sweepCtx)
		<-pruned
	}()
	go s.servePProf(sweepCtx) // no-op unless server.pprof is set
	tlsCfg, err := tlsConfig(s.cfg, s.logger)
	if err != nil {
		stopSweep()
		<-sweepDone
		return err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.logger.Info("sesame listening", "addr", ln.Addr().String(), "public_url", s.cfg.Server.PublicURL, "storage", s.cfg.Storage.Driver, "tls", tlsCfg != nil)
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.logger.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopSweep()
	<-sweepDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// sweepLoop removes expired records in bounded batches, so the sweep never
// holds a long lock or transaction.
func (s *Server) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Sweep.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.SweepOnce(ctx)
		}
	}
}

// SweepOnce deletes expired records batch by batch, at most 100 batches.
func (s *Server) SweepOnce(ctx context.Context) int64 {
	var total int64
	batch := s.cfg.Sweep.Batch
	for range 100 {
		n, err := s.store.SweepExpired(ctx, s.now(), batch)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("sweeping expired records failed", "err", err)
			}
			break
		}
		total += n
		if n < int64(batch) {
			break
		}
	}
	if total > 0 {
		s.logger.Info("swept expired records", "deleted", total)
	}
	return total
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	t, err := s.resolver.Resolve(r.Context(), r)
	if err != nil {
		if errors.Is(err, tenant.ErrUnknown) || errors.Is(err, tenant.ErrIDRequired) {
			oauth2.WriteError(w, &oauth2.Error{Code: oauth2.ErrInvalidRequest, Description: "Unknown tenant", Status: http.StatusNotFound})
			return
		}
		oauth2.WriteError(w, oauth2.Busy(err))
		return
	}
	body, err := s.keys.JWKS(r.Context(), t.ID)
	if err != nil {
		s.logger.ErrorContext(r.Context(), "jwks failed", "tenant", t.ID, "err", err)
		oauth2.WriteError(w, oauth2.Busy(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Short enough that relying parties see a new key well within the
	// rotation delay.
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(body)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.store.Ping(ctx); err != nil {
		s.logger.WarnContext(r.Context(), "readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"unavailable"}`+"\n")
		return
	}
	_, _ = io.WriteString(w, `{"status":"ready"}`+"\n")
}

// passwords adapts password.Hasher to session.PasswordHasher.
type passwords struct{ h *password.Hasher }

func (p passwords) Hash(ctx context.Context, pw string) (string, error) { return p.h.Hash(ctx, pw) }
func (p passwords) Verify(ctx context.Context, phc, pw string) (bool, error) {
	return p.h.Verify(ctx, phc, pw)
}
func (p passwords) VerifyDummy(ctx context.Context, pw string) error {
	_, err := p.h.VerifyDummy(ctx, pw)
	return err
}
func (p passwords) NeedsRehash(phc string) bool { return p.h.NeedsRehash(phc) }
func (p passwords) IsBusy(err error) bool {
	return errors.Is(err, password.ErrBusy) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
func (p passwords) IsTooLong(err error) bool { return errors.Is(err, password.ErrTooLong) }

// DemoBanner is the text printed when the demo tenant is created.
func DemoBanner(d *bootstrap.Demo, publicURL string) string {
	base := strings.TrimRight(publicURL, "/")
	var b strings.Builder
	fmt.Fprintf(&b, "\nDemo tenant %q created (edition ciam). These secrets are shown only once:\n", d.TenantID)
	fmt.Fprintf(&b, "  application  client_id=%s  client_secret=%s\n", d.ClientID, d.ClientSecret)
	fmt.Fprintf(&b, "  user         user_name=%s  password=%s\n\n", d.Username, d.Password)
	fmt.Fprintf(&b, "Log in:\n  curl -s -X POST %s/api/v2/sdk/login -H 'Content-Type: application/json' -H 'X-client-id: %s' -H 'X-device-fingerprint: demo-device' -H 'X-operating-sys-version: linux' -H 'X-agent: curl' -d '{\"user_name\":\"%s\",\"password\":\"%s\"}'\n\n",
		base, d.ClientID, d.Username, d.Password)
	return b.String()
}

// registerWriteQueueMetrics exports SQLite's write queue (the single write
// connection's group commit, sqlstore.WriteStats): the rate of
// sesame_sqlite_write_busy_seconds_total near 1 says writes wait for the
// connection; statements ÷ commits is the mean batch.
func (s *Server) registerWriteQueueMetrics() {
	counter := func(name, help string, v func(sqlstore.WriteStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return v(s.store.WriteStats()) })
	}
	s.metrics.Register(
		counter("sesame_sqlite_write_statements_total", "Statements and transactions (one each) run through SQLite's group-committed write queue.",
			func(w sqlstore.WriteStats) float64 { return float64(w.Statements) }),
		counter("sesame_sqlite_write_commits_total", "Commits of SQLite's write queue (a batch, or a statement run alone).",
			func(w sqlstore.WriteStats) float64 { return float64(w.Commits) }),
		counter("sesame_sqlite_write_busy_seconds_total", "Time SQLite's write queue spent running batches, BEGIN to answers.",
			func(w sqlstore.WriteStats) float64 { return w.Busy.Seconds() }),
		counter("sesame_sqlite_write_commit_seconds_total", "Time SQLite's write queue spent in COMMIT (WAL write and fsync).",
			func(w sqlstore.WriteStats) float64 { return w.Commit.Seconds() }),
	)
	// One series per kind of fault, so that an alert on the sum fires
	// for any of them and the label says what to look at.
	const faultsHelp = "Writes SQLite refused because of the disk or the database file (answered system-busy; reads go on), by kind: " +
		"full (no space left), read_only, io (a read, write, fsync or open refused by the OS), locked (by another process), corrupt."
	for _, k := range []struct {
		reason string
		v      func(sqlstore.WriteFaults) int64
	}{
		{"full", func(f sqlstore.WriteFaults) int64 { return f.Full }},
		{"read_only", func(f sqlstore.WriteFaults) int64 { return f.ReadOnly }},
		{"io", func(f sqlstore.WriteFaults) int64 { return f.IO }},
		{"locked", func(f sqlstore.WriteFaults) int64 { return f.Locked }},
		{"corrupt", func(f sqlstore.WriteFaults) int64 { return f.Corrupt }},
	} {
		s.metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sesame_sqlite_write_faults_total", Help: faultsHelp, ConstLabels: prometheus.Labels{"reason": k.reason},
		}, func() float64 { return float64(k.v(s.store.WriteStats().Faults)) }))
	}
}
