package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/api"
	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/password"
	"github.com/sesame-idp/sesame/internal/ratelimit"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
)

// adminSetup returns the admin package's setup over st.
func adminSetup(cfg config.Config, st admin.Store, hasher *secret.Hasher, hash func(context.Context, string) (string, error), now func() time.Time) admin.Setup {
	return admin.Setup{Store: st, Hasher: hasher, HashPassword: hash, Domain: cfg.Admin.Domain, PublicURL: cfg.Server.PublicURL, Now: now}
}

// mountAdmin mounts the admin API. Application changes go through the
// cached store, so they drop this node's cache entries at once; the
// audit log is read through the store when it implements
// store.AuditStore.
func (s *Server) mountAdmin(mux *http.ServeMux, cached *cachedStore, accessTokens *oauth2.AccessTokens, hasher *secret.Hasher,
	pw *password.Hasher, limits *ratelimit.Guard, recorder audit.Recorder) {
	var auditStore store.AuditStore
	if as, ok := any(s.store).(store.AuditStore); ok {
		auditStore = as
	}
	(&admin.Handler{
		Store: cached, Audit: auditStore, Recorder: audit.Or(recorder), Keys: s.keys, AccessTokens: accessTokens,
		Hasher: hasher, HashPassword: pw.Hash, Tenants: s.resolver, ClientIP: limits.ClientIP,
		OpenAPI: api.AdminOpenAPI, Now: s.now, Logger: s.logger,
	}).Mount(mux)
}

// OpenAdmin opens the configured store with the deployment's secrets for
// `sesame admin create`, which works on the store directly. The caller
// closes the returned closer.
func OpenAdmin(ctx context.Context, cfg config.Config, logger *slog.Logger) (admin.Setup, io.Closer, error) {
	kek, err := resolveKEK(cfg, logger)
	if err != nil {
		return admin.Setup{}, nil, err
	}
	hasher, err := secret.NewHasher(kek)
	if err != nil {
		return admin.Setup{}, nil, err
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: cfg.Storage.Driver, DSN: cfg.Storage.DSN, QueryTimeout: cfg.Storage.QueryTimeout, Logger: logger})
	if err != nil {
		return admin.Setup{}, nil, err
	}
	pw := password.NewHasher(password.DefaultParams, password.HasherOptions{QueueLimit: 1, MaxWait: time.Minute})
	return adminSetup(cfg, st, hasher, pw.Hash, time.Now), st, nil
}
