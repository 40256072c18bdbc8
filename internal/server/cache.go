package server

import (
	"context"
	"sync"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/tenant"
)

// cachedStore is the store with a short-lived cache of applications.
// Every SDK, tenant-API and OAuth request reads its application, and on
// PostgreSQL that read costs a round trip comparable to the rest of the
// request; applications change rarely. An entry lives tenant.CacheTTL, so a
// change made on another node is seen within that bound (the README states
// it); a change made through this node drops its entry at once. Only
// applications that exist are cached, so the cache is bounded by their
// number whatever client ids requests send.
type cachedStore struct {
	*sqlstore.Store
	now func() time.Time

	mu   sync.Mutex
	apps map[[2]string]cachedApp
}

type cachedApp struct {
	app     store.Application
	fetched time.Time
}

func newCachedStore(st *sqlstore.Store, now func() time.Time) *cachedStore {
	return &cachedStore{Store: st, now: now, apps: map[[2]string]cachedApp{}}
}

// GetApplication serves from the cache when the entry is fresh.
func (c *cachedStore) GetApplication(ctx context.Context, tenantID, clientID string) (store.Application, error) {
	k := [2]string{tenantID, clientID}
	now := c.now()
	c.mu.Lock()
	e, ok := c.apps[k]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < tenant.CacheTTL && !now.Before(e.fetched) {
		return e.app, nil
	}
	app, err := c.Store.GetApplication(ctx, tenantID, clientID)
	c.mu.Lock()
	if err == nil {
		c.apps[k] = cachedApp{app: app, fetched: now}
	} else {
		delete(c.apps, k)
	}
	c.mu.Unlock()
	return app, err
}

// UpsertApplication writes through and drops the local entry.
func (c *cachedStore) UpsertApplication(ctx context.Context, a store.Application) error {
	err := c.Store.UpsertApplication(ctx, a)
	c.mu.Lock()
	delete(c.apps, [2]string{a.TenantID, a.ClientID})
	c.mu.Unlock()
	return err
}

// forget drops the local entry of an application.
func (c *cachedStore) forget(tenantID, clientID string) {
	c.mu.Lock()
	delete(c.apps, [2]string{tenantID, clientID})
	c.mu.Unlock()
}

// The admin API's application writes (store.AdminStore) also drop the
// local entry at once.

// CreateApplication writes through and drops the local entry.
func (c *cachedStore) CreateApplication(ctx context.Context, a store.Application) error {
	defer c.forget(a.TenantID, a.ClientID)
	return c.Store.CreateApplication(ctx, a)
}

// UpdateApplication writes through and drops the local entry.
func (c *cachedStore) UpdateApplication(ctx context.Context, a store.Application) error {
	defer c.forget(a.TenantID, a.ClientID)
	return c.Store.UpdateApplication(ctx, a)
}

// SetApplicationSecret writes through and drops the local entry.
func (c *cachedStore) SetApplicationSecret(ctx context.Context, tenantID, clientID string, secretHash []byte, now time.Time) error {
	defer c.forget(tenantID, clientID)
	return c.Store.SetApplicationSecret(ctx, tenantID, clientID, secretHash, now)
}

// DeleteApplication writes through and drops the local entry.
func (c *cachedStore) DeleteApplication(ctx context.Context, tenantID, clientID string) error {
	defer c.forget(tenantID, clientID)
	return c.Store.DeleteApplication(ctx, tenantID, clientID)
}

// DeleteTenant writes through and drops the tenant's entries.
func (c *cachedStore) DeleteTenant(ctx context.Context, id string) error {
	defer func() {
		c.mu.Lock()
		for k := range c.apps {
			if k[0] == id {
				delete(c.apps, k)
			}
		}
		c.mu.Unlock()
	}()
	return c.Store.DeleteTenant(ctx, id)
}
