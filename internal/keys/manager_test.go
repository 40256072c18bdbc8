package keys_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/keys/keystest"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// t0 is a round time, so that stores keeping milliseconds keep it exactly.
var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

const (
	delay     = 10 * time.Minute // RotationDelay
	refresh   = 30 * time.Second // RefreshInterval
	retention = 2 * time.Hour    // Retention
)

// storeFactory names a way to get an empty store for one test.
type storeFactory struct {
	name string
	new  func(t *testing.T) store.Store
}

// stores lists the stores the lifecycle tests run against: the in-memory
// fake, and every SQL backend (PostgreSQL only when sqltest.EnvPostgresDSN
// is set).
var stores = func() []storeFactory {
	out := []storeFactory{{"fake", func(*testing.T) store.Store { return keystest.NewStore() }}}
	for _, b := range sqltest.Backends() {
		out = append(out, storeFactory{b.Name, func(t *testing.T) store.Store { return b.Open(t) }})
	}
	return out
}()

func newManager(st store.Store, sealer *keys.Sealer, clock *keystest.Clock) *keys.Manager {
	return keys.NewManager(st, sealer, keys.Options{
		Now:             clock.Now,
		RotationDelay:   delay,
		RefreshInterval: refresh,
		Retention:       func(string) time.Duration { return retention },
	})
}

// jwks returns the manager's JWKS for tenant, parsed from its JSON.
func jwks(t *testing.T, m *keys.Manager, tenant string) jose.JSONWebKeySet {
	t.Helper()
	b, err := m.JWKS(t.Context(), tenant)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS is not a JWK set: %v\n%s", err, b)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() || k.Use != "sig" {
			t.Errorf("JWKS key %s is not a valid public signing key", k.KeyID)
		}
	}
	return set
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// sign signs a small payload with the tenant's current key for alg and
// returns the token and kid.
func sign(t *testing.T, m *keys.Manager, tenant, alg string) (string, string) {
	t.Helper()
	s, kid, err := m.Signer(t.Context(), tenant, alg)
	if err != nil {
		t.Fatalf("Signer(%s): %v", alg, err)
	}
	if s.KeyID() != kid || s.Algorithm() != alg {
		t.Fatalf("Signer(%s) returned kid %q for a signer of %s/%s", alg, kid, s.KeyID(), s.Algorithm())
	}
	token, err := s.Sign([]byte(`{"sub":"u1"}`))
	if err != nil {
		t.Fatalf("Sign(%s): %v", alg, err)
	}
	return token, kid
}

// verifies reports whether token verifies against the JWKS JSON the
// manager publishes, parsing it with an allow-list of alg alone.
func verifies(t *testing.T, m *keys.Manager, tenant, token, alg string) bool {
	t.Helper()
	set := jwks(t, m, tenant)
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("ParseSigned: %v", err)
	}
	found := set.Key(jws.Signatures[0].Header.KeyID)
	if len(found) != 1 {
		return false
	}
	_, err = jws.Verify(found[0])
	return err == nil
}

func TestSignVerifiesAgainstJWKS(t *testing.T) {
	clock := keystest.NewClock(t0)
	m := newManager(keystest.NewStore(), keystest.Sealer(t), clock)
	set := jwks(t, m, "t1") // first use creates the tenant's keys
	if len(set.Keys) != 4 {
		t.Fatalf("JWKS has %d keys, want 4 (one per algorithm)", len(set.Keys))
	}
	for _, alg := range keys.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			token, kid := sign(t, m, "t1", alg)
			if len(kid) != 32 {
				t.Errorf("kid %q is not 32 hex characters", kid)
			}
			found := set.Key(kid)
			if len(found) != 1 || found[0].Algorithm != alg {
				t.Fatalf("kid %s of %s is not in the JWKS as an %s key", kid, alg, alg)
			}
			payload := verifyWith(t, token, alg, found[0])
			if string(payload) != `{"sub":"u1"}` {
				t.Errorf("payload = %s", payload)
			}
			// The allow-list holds: the token does not parse as another algorithm.
			other := keys.RS256
			if alg == keys.RS256 {
				other = keys.ES256
			}
			if _, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(other)}); err == nil {
				t.Errorf("%s token parsed with allow-list [%s]", alg, other)
			}
		})
	}
	// Another tenant has keys of its own.
	_, kid1 := sign(t, m, "t1", keys.ES256)
	_, kid2 := sign(t, m, "t2", keys.ES256)
	if kid1 == kid2 {
		t.Error("two tenants share a key")
	}
	if slices.Contains(kids(jwks(t, m, "t2")), kid1) {
		t.Error("tenant t2 publishes a key of tenant t1")
	}
}

func TestRotationLifecycle(t *testing.T) {
	for _, sf := range stores {
		t.Run(sf.name, func(t *testing.T) { testRotationLifecycle(t, sf.new(t)) })
	}
}

func testRotationLifecycle(t *testing.T, st store.Store) {
	ctx := t.Context()
	const tenant = "t-rot"
	clock := keystest.NewClock(t0)
	m := newManager(st, keystest.Sealer(t), clock)
	if err := m.EnsureKeys(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	algs := keys.Algorithms()
	oldKid, oldToken := map[string]string{}, map[string]string{}
	for _, alg := range algs {
		oldToken[alg], oldKid[alg] = sign(t, m, tenant, alg)
	}
	if n := len(jwks(t, m, tenant).Keys); n != 4 {
		t.Fatalf("before rotation: JWKS has %d keys, want 4", n)
	}

	if err := m.Rotate(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	activates := t0.Add(delay)
	retainUntil := activates.Add(retention)

	// Published at once, signing only after RotationDelay.
	set := jwks(t, m, tenant)
	if len(set.Keys) != 8 {
		t.Fatalf("after Rotate: JWKS has %d keys, want 8", len(set.Keys))
	}
	newKid := map[string]string{}
	infos, err := m.Keys(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 8 {
		t.Fatalf("Keys lists %d keys, want 8", len(infos))
	}
	for _, k := range infos {
		switch k.Generation {
		case 1:
			if k.KeyID != oldKid[k.Algorithm] || k.State != keys.StateCurrent || !k.RetainUntil.Equal(retainUntil) {
				t.Errorf("old key %+v: want kid %s, current, retained until %v", k, oldKid[k.Algorithm], retainUntil)
			}
		case 2:
			newKid[k.Algorithm] = k.KeyID
			if k.State != keys.StateNext || !k.ActivatesAt.Equal(activates) || !k.RetainUntil.IsZero() {
				t.Errorf("new key %+v: want next, activating at %v, no retention", k, activates)
			}
		default:
			t.Errorf("unexpected generation: %+v", k)
		}
	}
	for _, alg := range algs {
		if !slices.Contains(kids(set), newKid[alg]) {
			t.Errorf("%s: new key %s is not published", alg, newKid[alg])
		}
		if _, kid := sign(t, m, tenant, alg); kid != oldKid[alg] {
			t.Errorf("%s: right after Rotate signing uses %s, want the old key %s", alg, kid, oldKid[alg])
		}
	}

	clock.Advance(delay - time.Second)
	for _, alg := range algs {
		if _, kid := sign(t, m, tenant, alg); kid != oldKid[alg] {
			t.Errorf("%s: 1 s before activation signing uses %s, want the old key", alg, kid)
		}
	}

	clock.Advance(time.Second) // activation
	newToken := map[string]string{}
	for _, alg := range algs {
		var kid string
		newToken[alg], kid = sign(t, m, tenant, alg)
		if kid != newKid[alg] {
			t.Errorf("%s: after RotationDelay signing uses %s, want the new key %s", alg, kid, newKid[alg])
		}
		if !verifies(t, m, tenant, newToken[alg], alg) || !verifies(t, m, tenant, oldToken[alg], alg) {
			t.Errorf("%s: old or new token does not verify against the JWKS", alg)
		}
	}
	infos, _ = m.Keys(ctx, tenant)
	for _, k := range infos {
		if want := map[int]string{1: keys.StateRetired, 2: keys.StateCurrent}[k.Generation]; k.State != want {
			t.Errorf("after activation %s generation %d is %s, want %s", k.Algorithm, k.Generation, k.State, want)
		}
	}

	clock.Advance(retention - time.Second)
	if n := len(jwks(t, m, tenant).Keys); n != 8 {
		t.Errorf("1 s before RetainUntil: JWKS has %d keys, want 8", n)
	}
	for _, alg := range algs {
		if !verifies(t, m, tenant, oldToken[alg], alg) {
			t.Errorf("%s: old token no longer verifies before RetainUntil", alg)
		}
	}

	clock.Advance(time.Second) // RetainUntil
	set = jwks(t, m, tenant)
	if len(set.Keys) != 4 {
		t.Errorf("at RetainUntil: JWKS has %d keys, want 4", len(set.Keys))
	}
	for _, alg := range algs {
		if slices.Contains(kids(set), oldKid[alg]) {
			t.Errorf("%s: old key still published after RetainUntil", alg)
		}
		if verifies(t, m, tenant, oldToken[alg], alg) {
			t.Errorf("%s: old token still verifies after RetainUntil", alg)
		}
		if !verifies(t, m, tenant, newToken[alg], alg) {
			t.Errorf("%s: new token does not verify", alg)
		}
	}
	if infos, _ := m.Keys(ctx, tenant); len(infos) != 4 {
		t.Errorf("Keys lists %d keys after RetainUntil, want 4", len(infos))
	}
}

func TestConcurrentEnsureKeys(t *testing.T) {
	for _, sf := range stores {
		t.Run(sf.name, func(t *testing.T) {
			ctx := t.Context()
			st := sf.new(t)
			clock := keystest.NewClock(t0)
			sealer := keystest.Sealer(t) // nodes share the key-encryption key
			nodes := []*keys.Manager{newManager(st, sealer, clock), newManager(st, sealer, clock)}

			for _, via := range []string{"EnsureKeys", "Signer"} {
				tenant := "t-" + via
				var wg sync.WaitGroup
				errs := make([]error, 10)
				for i := range errs {
					m := nodes[i%2]
					wg.Go(func() {
						if via == "EnsureKeys" {
							errs[i] = m.EnsureKeys(ctx, tenant)
						} else {
							_, _, errs[i] = m.Signer(ctx, tenant, keys.Algorithms()[i%4])
						}
					})
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatalf("%s: %v", via, err)
				}
				stored, err := st.ListSigningKeys(ctx, tenant, clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				var algs []string
				for _, k := range stored {
					algs = append(algs, k.Algorithm)
					if k.Generation != 1 {
						t.Errorf("%s: stored %s key of generation %d", via, k.Algorithm, k.Generation)
					}
				}
				slices.Sort(algs)
				if want := []string{"ES256", "EdDSA", "RS256", "RS512"}; !slices.Equal(algs, want) {
					t.Fatalf("%s: stored keys for %v, want exactly one per algorithm", via, algs)
				}
				for _, k := range stored {
					for n, m := range nodes {
						if _, kid := sign(t, m, tenant, k.Algorithm); kid != k.ID {
							t.Errorf("%s: node %d signs %s with %s, want the stored key %s", via, n, k.Algorithm, kid, k.ID)
						}
					}
				}
			}
		})
	}
}

func TestOtherNodeSeesRotation(t *testing.T) {
	for _, sf := range stores {
		t.Run(sf.name, func(t *testing.T) {
			ctx := t.Context()
			const tenant = "t-nodes"
			st := sf.new(t)
			clock := keystest.NewClock(t0)
			sealer := keystest.Sealer(t)
			a, b := newManager(st, sealer, clock), newManager(st, sealer, clock)
			if err := a.EnsureKeys(ctx, tenant); err != nil {
				t.Fatal(err)
			}
			_, oldKid := sign(t, b, tenant, keys.ES256) // b caches the keys now
			before := jwks(t, b, tenant)

			if err := a.Rotate(ctx, tenant, keys.ES256); err != nil {
				t.Fatal(err)
			}
			infos, _ := a.Keys(ctx, tenant)
			var newKid string
			for _, k := range infos {
				if k.Algorithm == keys.ES256 && k.Generation == 2 {
					newKid = k.KeyID
				}
			}
			if n := len(jwks(t, a, tenant).Keys); n != 5 {
				t.Errorf("rotating node publishes %d keys, want 5", n)
			}
			if got := kids(jwks(t, b, tenant)); !slices.Equal(got, kids(before)) {
				t.Errorf("other node changed its JWKS before RefreshInterval: %v", got)
			}

			clock.Advance(refresh)
			if got := kids(jwks(t, b, tenant)); len(got) != 5 || !slices.Contains(got, newKid) {
				t.Errorf("after RefreshInterval the other node publishes %v, want 5 keys including %s", got, newKid)
			}
			if _, kid := sign(t, b, tenant, keys.ES256); kid != oldKid {
				t.Errorf("other node signs with %s before activation, want %s", kid, oldKid)
			}

			clock.Advance(delay - refresh)
			for n, m := range []*keys.Manager{a, b} {
				if _, kid := sign(t, m, tenant, keys.ES256); kid != newKid {
					t.Errorf("node %d signs with %s after activation, want %s", n, kid, newKid)
				}
			}
		})
	}
}

func TestSigningReadsNoStore(t *testing.T) {
	ctx := t.Context()
	st := keystest.NewStore()
	clock := keystest.NewClock(t0)
	m := newManager(st, keystest.Sealer(t), clock)
	if err := m.EnsureKeys(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	sign(t, m, "t1", keys.ES256)
	lists := st.Lists.Load()
	for range 100 {
		sign(t, m, "t1", keys.ES256)
		if _, err := m.JWKS(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(refresh / 200)
	}
	if n := st.Lists.Load() - lists; n != 0 {
		t.Errorf("signing within RefreshInterval queried the store %d times", n)
	}

	// Once stale, 50 concurrent signers share a single reload.
	clock.Advance(refresh)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, _, err := m.Signer(ctx, "t1", keys.ES256); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := st.Lists.Load() - lists; n != 1 {
		t.Errorf("50 concurrent signers on a stale cache made %d reloads, want 1", n)
	}
}

func TestJWKSCacheBoundaries(t *testing.T) {
	ctx := t.Context()
	st := keystest.NewStore()
	clock := keystest.NewClock(t0)
	m := keys.NewManager(st, keystest.Sealer(t), keys.Options{
		Now:             clock.Now,
		RotationDelay:   delay,
		RefreshInterval: 1000 * time.Hour, // no reload during this test
		Retention:       func(string) time.Duration { return retention },
	})
	if err := m.Rotate(ctx, "t1", keys.ES256); err != nil { // no key yet: generation 1
		t.Fatal(err)
	}
	if err := m.EnsureKeys(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	_, oldKid := sign(t, m, "t1", keys.ES256)
	if err := m.Rotate(ctx, "t1", keys.ES256); err != nil {
		t.Fatal(err)
	}
	lists := st.Lists.Load()

	b1, _ := m.JWKS(ctx, "t1")
	b2, _ := m.JWKS(ctx, "t1")
	if &b1[0] != &b2[0] {
		t.Error("JWKS was marshalled twice between boundaries")
	}
	firstES256 := func() string {
		for _, k := range jwks(t, m, "t1").Keys {
			if k.Algorithm == keys.ES256 {
				return k.KeyID
			}
		}
		return ""
	}
	if got := firstES256(); got != oldKid {
		t.Errorf("before activation the first ES256 key is %s, want the current %s", got, oldKid)
	}
	clock.Advance(delay)
	if got := firstES256(); got == oldKid {
		t.Error("after activation the JWKS still lists the retired key first")
	}
	if n := len(jwks(t, m, "t1").Keys); n != 5 {
		t.Errorf("JWKS has %d keys during retention, want 5", n)
	}
	clock.Advance(retention)
	set := jwks(t, m, "t1")
	if len(set.Keys) != 4 || slices.Contains(kids(set), oldKid) {
		t.Errorf("after retention JWKS has %v, want 4 keys without %s", kids(set), oldKid)
	}
	if n := st.Lists.Load() - lists; n != 0 {
		t.Errorf("JWKS boundaries caused %d store reads", n)
	}
}

func TestStoreOutageKeepsSigning(t *testing.T) {
	ctx := t.Context()
	st := keystest.NewStore()
	clock := keystest.NewClock(t0)
	m := newManager(st, keystest.Sealer(t), clock)
	_, kid := sign(t, m, "t1", keys.EdDSA)

	outage := errors.New("database is down")
	st.ListErr.Store(&outage)
	clock.Advance(refresh)
	lists := st.Lists.Load()
	if _, got := sign(t, m, "t1", keys.EdDSA); got != kid {
		t.Errorf("during an outage signing uses %s, want the cached %s", got, kid)
	}
	if n := len(jwks(t, m, "t1").Keys); n != 4 {
		t.Errorf("during an outage JWKS has %d keys, want 4", n)
	}
	sign(t, m, "t1", keys.EdDSA)
	if n := st.Lists.Load() - lists; n != 1 {
		t.Errorf("%d reload attempts right after a failure, want 1 (then back off)", n)
	}
	clock.Advance(5 * time.Second)
	sign(t, m, "t1", keys.EdDSA)
	if n := st.Lists.Load() - lists; n != 2 {
		t.Errorf("%d reload attempts after the back-off, want 2", n)
	}

	// A tenant never loaded cannot sign without the store.
	if _, _, err := m.Signer(ctx, "t2", keys.EdDSA); err == nil {
		t.Error("Signer succeeded for an unloaded tenant during an outage")
	}

	st.ListErr.Store(nil)
	clock.Advance(refresh)
	sign(t, m, "t1", keys.EdDSA)
	if _, _, err := m.Signer(ctx, "t2", keys.EdDSA); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}

func TestKeysAreBoundToTheirOwner(t *testing.T) {
	ctx := t.Context()
	st := keystest.NewStore()
	clock := keystest.NewClock(t0)
	m := newManager(st, keystest.Sealer(t), clock)
	if err := m.EnsureKeys(ctx, "victim"); err != nil {
		t.Fatal(err)
	}

	// Someone with write access to the database copies the victim's
	// sealed ES256 key to another tenant, with consistent public data.
	var src store.SigningKey
	for _, k := range st.All() {
		if k.Algorithm == keys.ES256 {
			src = k
		}
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(src.PublicJWK); err != nil {
		t.Fatal(err)
	}
	moved := src
	moved.TenantID = "attacker"
	moved.ID = keys.NewKeyID()
	jwk.KeyID = moved.ID
	moved.PublicJWK, _ = jwk.MarshalJSON()
	if err := st.AddSigningKey(ctx, moved, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if s, _, err := m.Signer(ctx, "attacker", keys.ES256); err == nil {
		t.Fatalf("the moved key signs for another tenant (kid %s)", s.KeyID())
	}

	// A node with another key-encryption key cannot use the keys either.
	other := newManager(st, keystest.Sealer(t), clock)
	if _, _, err := other.Signer(ctx, "victim", keys.ES256); err == nil {
		t.Error("a Manager with another key-encryption key signed")
	}
}

func TestManagerRefusesBadInput(t *testing.T) {
	ctx := t.Context()
	m := newManager(keystest.NewStore(), keystest.Sealer(t), keystest.NewClock(t0))
	if _, _, err := m.Signer(ctx, "", keys.RS256); err == nil {
		t.Error("Signer accepted an empty tenant id")
	}
	for _, alg := range []string{"", "none", "HS256", "rs256"} {
		if _, _, err := m.Signer(ctx, "t1", alg); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("Signer(%q) error = %v, want ErrUnsupportedAlgorithm", alg, err)
		}
	}
	if err := m.Rotate(ctx, "t1", keys.ES256, "HS256"); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
		t.Errorf("Rotate with HS256: %v", err)
	}
	if _, err := m.JWKS(ctx, ""); err == nil {
		t.Error("JWKS accepted an empty tenant id")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := m.Signer(cancelled, "t3", keys.ES256); err == nil {
		t.Error("Signer succeeded with a cancelled context on first use")
	}
}

func TestPublicKeysMatchJWKS(t *testing.T) {
	m := newManager(keystest.NewStore(), keystest.Sealer(t), keystest.NewClock(t0))
	set, err := m.PublicKeys(t.Context(), "t1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kids(set), kids(jwks(t, m, "t1")); !slices.Equal(got, want) {
		t.Errorf("PublicKeys = %v, JWKS = %v", got, want)
	}
	for _, alg := range keys.Algorithms() {
		token, kid := sign(t, m, "t1", alg)
		jws, _ := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
		if _, err := jws.Verify(set.Key(kid)[0]); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}
