// Package keystest provides test doubles for code that uses package keys:
// an in-memory store of signing keys, a settable clock and a ready Manager.
//
// It is for tests only. The real storage is store/sqlstore; the Store here
// implements just the two signing-key methods of store.Store, following
// their documented contract, and panics on any other method.
package keystest

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/store"
)

// Store keeps signing keys in memory. Only AddSigningKey and
// ListSigningKeys are implemented; the embedded nil store.Store makes every
// other method panic.
type Store struct {
	store.Store

	mu   sync.Mutex
	keys []store.SigningKey

	// Lists counts ListSigningKeys calls, so tests can check that signing
	// does not query the store.
	Lists atomic.Int64
	// ListErr, when set, is returned by ListSigningKeys (a store outage).
	ListErr atomic.Pointer[error]
}

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{} }

// AddSigningKey inserts k and sets RetainUntil = retainOthersUntil on the
// older keys of the same tenant and algorithm whose RetainUntil is zero. A
// key with the same tenant, algorithm and generation, or the same kid, is
// store.ErrConflict.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey, retainOthersUntil time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.keys {
		if (o.TenantID == k.TenantID && o.Algorithm == k.Algorithm && o.Generation == k.Generation) || o.ID == k.ID {
			return store.ErrConflict
		}
	}
	for i := range s.keys {
		o := &s.keys[i]
		if o.TenantID == k.TenantID && o.Algorithm == k.Algorithm && o.Generation < k.Generation && o.RetainUntil.IsZero() {
			o.RetainUntil = retainOthersUntil
		}
	}
	k.PrivateKey = slices.Clone(k.PrivateKey)
	k.PublicJWK = slices.Clone(k.PublicJWK)
	s.keys = append(s.keys, k)
	return nil
}

// ListSigningKeys returns copies of the tenant's keys (all tenants' for
// "") whose RetainUntil is zero or after now, by tenant, algorithm and
// generation.
func (s *Store) ListSigningKeys(ctx context.Context, tenantID string, now time.Time) ([]store.SigningKey, error) {
	s.Lists.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.ListErr.Load(); err != nil {
		return nil, *err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.SigningKey
	for _, k := range s.keys {
		if (tenantID == "" || k.TenantID == tenantID) && (k.RetainUntil.IsZero() || k.RetainUntil.After(now)) {
			k.PrivateKey = slices.Clone(k.PrivateKey)
			k.PublicJWK = slices.Clone(k.PublicJWK)
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b store.SigningKey) int {
		if c := strings.Compare(a.TenantID, b.TenantID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Algorithm, b.Algorithm); c != 0 {
			return c
		}
		return a.Generation - b.Generation
	})
	return out, nil
}

// All returns copies of every stored key, retained or not.
func (s *Store) All() []store.SigningKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keys)
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sealer returns a Sealer under a random key-encryption key.
func Sealer(t testing.TB) *keys.Sealer {
	t.Helper()
	kek := make([]byte, keys.KEKSize)
	_, _ = rand.Read(kek)
	s, err := keys.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
