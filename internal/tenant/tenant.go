package tenant

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// CacheTTL is how long a resolved tenant is reused before it is read
// again, and so the longest a tenant change made on another node takes to
// reach this one.
const CacheTTL = 5 * time.Second

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
	publicHost    string
	now           func() time.Time

	mu    sync.Mutex
	cache map[string]cached // by "host:" + host or "id:" + tenant id
}

type cached struct {
	tenant  store.Tenant
	fetched time.Time
}

// NewResolver returns a Resolver. publicURL gives the scheme and port of
// every issuer; commonDomains are the hosts shared by several tenants.
func NewResolver(st store.Store, publicURL string, commonDomains []string, now func() time.Time) (*Resolver, error) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil, err
	}
	r := &Resolver{store: st, commonDomains: map[string]bool{}, scheme: u.Scheme, port: u.Port(), publicHost: strings.ToLower(u.Hostname()), now: now, cache: map[string]cached{}}
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
// are, so the caller can answer "busy" rather than "unknown"; with such a
// failure it also returns the last tenant known for the request, if any,
// so that the busy error can still be written in that tenant's dialect.
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
		return rs.lookup(ctx, "id:"+id, func() (store.Tenant, error) { return rs.store.GetTenant(ctx, id) })
	}
	return rs.lookup(ctx, "host:"+host, func() (store.Tenant, error) { return rs.store.TenantByDomain(ctx, host) })
}

func (rs *Resolver) lookup(ctx context.Context, key string, load func() (store.Tenant, error)) (store.Tenant, error) {
	now := rs.now()
	rs.mu.Lock()
	c, ok := rs.cache[key]
	rs.mu.Unlock()
	if ok && now.Sub(c.fetched) < CacheTTL && !now.Before(c.fetched) {
		return c.tenant, nil
	}
	t, err := load()
	switch {
	case errors.Is(err, store.ErrNotFound):
		rs.mu.Lock()
		delete(rs.cache, key)
		rs.mu.Unlock()
		return store.Tenant{}, ErrUnknown
	case err != nil:
		// Only known tenants are cached, so the cache is bounded by the
		// number of tenant domains, whatever hosts clients send.
		return c.tenant, err
	}
	rs.mu.Lock()
	rs.cache[key] = cached{tenant: t, fetched: now}
	rs.mu.Unlock()
	return t, nil
}

// Issuer returns the tenant's issuer: {scheme}://{first domain}[:{port}]
// /api/v1/oauth2, with scheme and port from the public URL (issue "Sesame
// core" §9, contract §4). Configuration gives every tenant a domain; the
// public URL's host is only a fallback for a tenant stored without one.
func (rs *Resolver) Issuer(t store.Tenant) string {
	host := rs.publicHost
	if len(t.Domains) > 0 {
		host = t.Domains[0]
	}
	if rs.port != "" {
		host = net.JoinHostPort(host, rs.port)
	}
	return rs.scheme + "://" + host + "/api/v1/oauth2"
}

// Invalidate drops every cached tenant, so that a change made through
// this node (the admin API) is seen here at once; other nodes see it
// within CacheTTL.
func (rs *Resolver) Invalidate() {
	rs.mu.Lock()
	clear(rs.cache)
	rs.mu.Unlock()
}
