package tenant

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/sesame-idp/sesame/internal/store"
)

var (
	// ErrUnknown means the request names no tenant Sesame knows.
	ErrUnknown = errors.New("tenant: unknown tenant")
	// ErrIDRequired means a common-domain request lacks X-tenant-id.
	ErrIDRequired = errors.New("tenant: X-tenant-id is required on a common domain")
)

// Resolver finds a request's tenant.
type Resolver struct {
	store         store.Store
	commonDomains map[string]bool
	scheme, port  string
}

// NewResolver returns a Resolver. publicURL gives the scheme and port of
// every issuer; commonDomains are the hosts shared by several tenants.
func NewResolver(st store.Store, publicURL string, commonDomains []string) (*Resolver, error) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil, err
	}
	r := &Resolver{store: st, commonDomains: map[string]bool{}, scheme: u.Scheme, port: u.Port()}
	for _, d := range commonDomains {
		r.commonDomains[strings.ToLower(d)] = true
	}
	return r, nil
}

// Host returns the request's host name, lower case, without port.
func Host(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}

// Resolve returns the tenant of r. Storage failures are returned as they
// are, so the caller can answer "busy" rather than "unknown".
func (rs *Resolver) Resolve(ctx context.Context, r *http.Request) (store.Tenant, error) {
	host := Host(r)
	if host == "" || len(host) > 253 {
		return store.Tenant{}, ErrUnknown
	}
	if rs.commonDomains[host] {
		id := r.Header.Get("X-tenant-id")
		if id == "" {
			return store.Tenant{}, ErrIDRequired
		}
		if len(id) > 128 {
			return store.Tenant{}, ErrUnknown
		}
		t, err := rs.store.GetTenant(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return store.Tenant{}, ErrUnknown
		}
		return t, err
	}
	t, err := rs.store.TenantByDomain(ctx, host)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, ErrUnknown
	}
	return t, err
}

// Issuer returns the tenant's issuer: {scheme}://{first domain}[:{port}]
// /api/v1/oauth2, with scheme and port from the public URL (issue "Sesame
// core" §9, contract §4).
func (rs *Resolver) Issuer(t store.Tenant) string {
	host := "localhost"
	if len(t.Domains) > 0 {
		host = t.Domains[0]
	}
	if rs.port != "" {
		host = net.JoinHostPort(host, rs.port)
	}
	return rs.scheme + "://" + host + "/api/v1/oauth2"
}

type ctxKey struct{}

// NewContext returns ctx carrying t.
func NewContext(ctx context.Context, t store.Tenant) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// FromContext returns the tenant a middleware put into ctx.
func FromContext(ctx context.Context) (store.Tenant, bool) {
	t, ok := ctx.Value(ctxKey{}).(store.Tenant)
	return t, ok
}
