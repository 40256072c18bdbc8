package oidc

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/idtoken"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/metrics"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/ratelimit"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/tenant"
)

// Store is the storage the provider needs.
type Store interface {
	store.Store
	store.OAuthStore
	store.RefreshDeliveryStore
}

// Lifetimes fixed by the contract (§8).
const (
	// CodeTTL: authorization codes live 5 minutes (RFC 6749 §4.1.2
	// recommends at most 10).
	CodeTTL = 5 * time.Minute
	// requestTTL bounds how long a login page stays usable.
	requestTTL = 15 * time.Minute
)

// Provider serves the OAuth/OpenID endpoints of every tenant.
type Provider struct {
	Store        Store
	Tenants      *tenant.Resolver
	Sessions     *session.Service
	Hasher       *secret.Hasher
	RequestBox   *secret.Box // seals pending authorization requests into the login form
	Keys         *keys.Manager
	IDTokens     *idtoken.Minter
	AccessTokens *oauth2.AccessTokens
	Now          func() time.Time
	Logger       *slog.Logger
	Metrics      *metrics.Metrics
	// SecureCookies sets the Secure attribute, for a public URL on https.
	SecureCookies bool
	// Limits are the rate limits of the login form and the token
	// endpoint; nil means none.
	Limits *ratelimit.Guard
	// Audit receives token issuance, revocation and logout events; nil
	// records nothing. (Logins are recorded by Sessions.)
	Audit audit.Recorder

	csrf *http.CrossOriginProtection
}

// Mount registers the endpoints of contract §4.
func (p *Provider) Mount(mux *http.ServeMux) {
	// Browsers' cross-origin POSTs to the login forms are refused by
	// Sec-Fetch-Site / Origin checks, on top of the CSRF token.
	p.csrf = http.NewCrossOriginProtection()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.CORS(p.discovery))
	mux.HandleFunc("GET /api/v1/oauth2/.well-known/openid-configuration", p.CORS(p.discovery))
	mux.HandleFunc("GET /api/v1/oauth2/authorize", p.authorize)
	mux.HandleFunc("POST /api/v1/oauth2/authorize", p.authorize)
	mux.HandleFunc("POST /api/v1/oauth2/login", p.loginSubmit)
	mux.HandleFunc("POST /api/v1/oauth2/login/password", p.passwordSubmit)
	mux.HandleFunc("POST /api/v1/oauth2/login/mfa", p.mfaSubmit)
	mux.HandleFunc("POST /api/v1/oauth2/login/continue", p.continueSubmit)
	mux.HandleFunc("POST /api/v1/oauth2/token", p.CORS(p.token))
	mux.HandleFunc("GET /api/v1/oauth2/userinfo", p.CORS(p.userinfo))
	mux.HandleFunc("POST /api/v1/oauth2/userinfo", p.CORS(p.userinfo))
	// Introspection is for resource servers, not browsers: no CORS.
	mux.HandleFunc("POST /api/v1/oauth2/introspect", p.introspect)
	mux.HandleFunc("POST /api/v1/oauth2/revoke", p.CORS(p.revoke))
	for _, path := range []string{"/.well-known/openid-configuration", "/api/v1/oauth2/.well-known/openid-configuration",
		"/api/v1/oauth2/token", "/api/v1/oauth2/userinfo", "/api/v1/oauth2/revoke"} {
		mux.HandleFunc("OPTIONS "+path, p.CORS(nil))
	}
	mux.HandleFunc("GET /api/v1/logout", p.logout)
}

// apiTenant resolves the tenant of a token-side request, writing the OAuth
// error itself when there is none.
func (p *Provider) apiTenant(w http.ResponseWriter, r *http.Request, unknown *oauth2.Error) (store.Tenant, bool) {
	t, err := p.Tenants.Resolve(r.Context(), r)
	if err == nil {
		return t, true
	}
	if errors.Is(err, tenant.ErrUnknown) || errors.Is(err, tenant.ErrIDRequired) {
		oauth2.WriteError(w, unknown)
		return t, false
	}
	p.fail(w, r, oauth2.Busy(err))
	return t, false
}

// fail writes an OAuth error, logging its cause.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, e *oauth2.Error) {
	if e.Cause != nil {
		p.Logger.ErrorContext(r.Context(), "oauth request failed", "path", r.URL.Path, "err", e.Cause)
	}
	oauth2.WriteError(w, e)
}

// issuer returns the tenant's issuer.
func (p *Provider) issuer(t store.Tenant) string { return p.Tenants.Issuer(t) }
