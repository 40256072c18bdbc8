package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/store"
)

// Defaults for zero Options fields.
const (
	DefaultRefreshInterval = 30 * time.Second
	DefaultRetention       = 24 * time.Hour
)

const (
	// loadTimeout bounds one reload of a tenant's keys. A reload runs on
	// behalf of every request waiting for it, so it does not end when the
	// request that started it gives up.
	loadTimeout = 10 * time.Second
	// retryBackoff is how long a node keeps using keys it could not
	// reload before it tries the store again.
	retryBackoff = 5 * time.Second
)

// Key states, as reported by Keys (see the package documentation).
const (
	StateNext    = "next"
	StateCurrent = "current"
	StateRetired = "retired"
)

// ErrNoKey is returned when a tenant has no usable key for an algorithm
// even after the Manager tried to create one.
var ErrNoKey = errors.New("keys: no signing key")

// Options are the settings and dependencies of a Manager other than the
// store and the sealer. Zero fields take the defaults documented on each.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives key lifecycle events and reload failures; default:
	// discard.
	Logger *slog.Logger
	// RotationDelay is the time between publishing a new key and signing
	// with it, so that relying parties that cache the JWKS learn a key
	// before they meet a token it signed. It must be at least
	// RefreshInterval (config enforces this): then every node has loaded
	// the new key before it activates, and all nodes switch together.
	// Zero activates rotated keys at once.
	RotationDelay time.Duration
	// Retention returns how long a retired key must stay published after
	// it stops signing: the longest lifetime of a token it may have
	// signed. Default: DefaultRetention for every tenant.
	Retention func(tenantID string) time.Duration
	// RefreshInterval is how often a tenant's cached keys are reloaded from
	// the store, so that a rotation made on another node is seen here.
	// Default DefaultRefreshInterval.
	RefreshInterval time.Duration
	// ClockSkew is the largest difference between the clocks of any two
	// nodes sharing the store (clock.MaxSkew in a server; zero: none).
	// Each node stops signing with a retired key when its own clock
	// reaches the new key's ActivatesAt, and stops publishing it when its
	// own clock reaches RetainUntil: a node whose clock is ahead drops the
	// key up to ClockSkew (real time) before a node behind has stopped
	// signing with it plus Retention. So retired keys are retained for
	// Retention plus ClockSkew after the new key's activation, and every
	// token a retired key signed verifies against every node's JWKS until
	// it expires.
	ClockSkew time.Duration
}

// KeyInfo describes a key without its secret, for admin listings.
type KeyInfo struct {
	KeyID       string    `json:"kid"`
	Algorithm   string    `json:"alg"`
	Generation  int       `json:"generation"`
	CreatedAt   time.Time `json:"created_at"`
	ActivatesAt time.Time `json:"activates_at"`
	RetainUntil time.Time `json:"retain_until,omitzero"` // zero while next or current
	State       string    `json:"state"`                 // StateNext, StateCurrent or StateRetired
}

// Manager keeps the signing keys of all tenants: it creates and rotates them
// in the store and caches, per tenant, the decrypted keys, their signers and
// the JWKS. It is safe for concurrent use; one Manager serves a whole node.
//
// Signing reads only memory: a tenant's keys are loaded from the store on
// first use and again, lazily, once they are older than RefreshInterval
// (one reload at a time per tenant; concurrent callers share it). If a
// reload fails the node keeps signing with the keys it has and retries a
// little later.
type Manager struct {
	st            store.Store
	sealer        *Sealer
	now           func() time.Time
	log           *slog.Logger
	rotationDelay time.Duration
	retention     func(tenantID string) time.Duration
	refresh       time.Duration
	skew          time.Duration

	tenants sync.Map // tenant ID → *tenantState
}

// NewManager returns a Manager storing keys in st, sealed by sealer.
func NewManager(st store.Store, sealer *Sealer, opts Options) *Manager {
	if st == nil || sealer == nil {
		panic("keys: NewManager needs a store and a sealer")
	}
	m := &Manager{
		st:            st,
		sealer:        sealer,
		now:           opts.Now,
		log:           opts.Logger,
		rotationDelay: max(opts.RotationDelay, 0),
		retention:     opts.Retention,
		refresh:       opts.RefreshInterval,
		skew:          max(opts.ClockSkew, 0),
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.retention == nil {
		m.retention = func(string) time.Duration { return DefaultRetention }
	}
	if m.refresh <= 0 {
		m.refresh = DefaultRefreshInterval
	}
	return m
}

// tenantState is the cache of one tenant.
type tenantState struct {
	id   string
	snap atomic.Pointer[snapshot] // latest loaded keys; nil before the first load
	seq  atomic.Uint64            // numbers loads in the order they start

	mu     sync.Mutex // guards flight
	flight *flight    // the lazy reload in progress, if any

	// writeMu serializes EnsureKeys and Rotate of this tenant on this node,
	// so that concurrent first uses generate keys once.
	writeMu sync.Mutex
}

// flight is one shared reload.
type flight struct {
	done chan struct{}
	snap *snapshot
	err  error
}

// snapshot is an immutable view of a tenant's keys as loaded at one time,
// plus caches derived from it.
type snapshot struct {
	seq     uint64
	staleAt atomic.Int64 // Unix nanoseconds after which the snapshot is reloaded
	keys    []*entry     // by algorithm (Algorithms order), then generation ascending
	byAlg   [4][]*entry  // the same, per algOrder
	jwks    atomic.Pointer[jwksCache]
}

// entry is one key of a snapshot.
type entry struct {
	rec store.SigningKey // metadata as loaded (PrivateKey cleared; it is in material)
	*material
}

// material is what is derived from a key's immutable parts: its parsed
// public JWK and, once needed, its decrypted signer. It is shared by the
// snapshots of successive reloads, so a key is decrypted once per node.
type material struct {
	tenantID, kid, alg string
	sealed             []byte
	storedJWK          []byte          // PublicJWK as stored, to detect a changed record
	jwk                jose.JSONWebKey // parsed and checked public key
	pubJSON            []byte          // jwk re-marshalled: what the JWKS publishes

	once   sync.Once
	signer *Signer
	err    error
}

// jwksCache is a marshalled JWKS and the interval in which it is right.
type jwksCache struct {
	body        []byte
	from, until time.Time
}

func (m *Manager) tenant(tenantID string) (*tenantState, error) {
	if tenantID == "" {
		return nil, errors.New("keys: empty tenant id")
	}
	if v, ok := m.tenants.Load(tenantID); ok {
		return v.(*tenantState), nil
	}
	v, _ := m.tenants.LoadOrStore(tenantID, &tenantState{id: tenantID})
	return v.(*tenantState), nil
}

// Signer returns the signer of the tenant's current key for alg and its
// kid. It creates the tenant's keys if it has none yet.
func (m *Manager) Signer(ctx context.Context, tenantID, alg string) (*Signer, string, error) {
	if !Supported(alg) {
		return nil, "", fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	ts, err := m.tenant(tenantID)
	if err != nil {
		return nil, "", err
	}
	now := m.now()
	snap, err := m.current(ctx, ts, now)
	if err != nil {
		return nil, "", err
	}
	e := snap.signing(alg, now)
	if e == nil {
		// First use of the tenant (or of the algorithm): reload, and
		// create what is still missing.
		if err := m.EnsureKeys(ctx, tenantID); err != nil {
			return nil, "", err
		}
		now = m.now()
		if e = ts.snap.Load().signing(alg, now); e == nil {
			return nil, "", fmt.Errorf("%w for %s in tenant %q", ErrNoKey, alg, tenantID)
		}
	}
	s, err := e.getSigner(m.sealer)
	if err != nil {
		return nil, "", err
	}
	return s, s.kid, nil
}

// EnsureKeys creates generation 1 of every algorithm the tenant has no key
// for, usable at once. When several nodes do this at the same time, the
// store keeps the first key of each algorithm and the others reload it.
func (m *Manager) EnsureKeys(ctx context.Context, tenantID string) error {
	ts, err := m.tenant(tenantID)
	if err != nil {
		return err
	}
	started := ts.seq.Load()
	ts.writeMu.Lock()
	defer ts.writeMu.Unlock()
	// A load that began after this call sees every key added before it:
	// if it found all algorithms, a concurrent EnsureKeys already did the
	// work.
	if snap := ts.snap.Load(); snap != nil && snap.seq > started && snap.complete() {
		return nil
	}
	snap, err := m.load(ctx, ts)
	if err != nil {
		return err
	}
	var missing []string
	for _, alg := range Algorithms() {
		if len(snap.byAlg[algOrder(alg)]) == 0 {
			missing = append(missing, alg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	now := m.now()
	recs := make([]store.SigningKey, len(missing))
	errs := make([]error, len(missing))
	var wg sync.WaitGroup
	for i, alg := range missing {
		// RSA key generation takes tens to hundreds of milliseconds.
		wg.Go(func() { recs[i], _, errs[i] = newSigningKey(m.sealer, tenantID, alg, 1, now, now) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, k := range recs {
		switch err := m.st.AddSigningKey(ctx, k, time.Time{}); {
		case err == nil:
			m.log.InfoContext(ctx, "signing key created", "tenant", tenantID, "alg", k.Algorithm, "kid", k.ID, "generation", k.Generation)
		case errors.Is(err, store.ErrConflict):
			// Another node created this generation first; its key is
			// the one, and the reload below picks it up.
			m.log.DebugContext(ctx, "signing key created by another node", "tenant", tenantID, "alg", k.Algorithm)
		default:
			return fmt.Errorf("keys: add %s key of tenant %q: %w", k.Algorithm, tenantID, err)
		}
	}
	_, err = m.load(ctx, ts)
	return err
}

// Rotate adds a new generation for each of algs (all algorithms when none
// is given). The new key is published at once and signs from
// now + RotationDelay; until then the current key keeps signing. Older keys
// of the algorithm stay published until the new key's activation plus
// Retention(tenantID) plus ClockSkew. An algorithm without any key gets generation 1,
// active at once.
func (m *Manager) Rotate(ctx context.Context, tenantID string, algs ...string) error {
	if len(algs) == 0 {
		algs = Algorithms()
	}
	for _, alg := range algs {
		if !Supported(alg) {
			return fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
		}
	}
	ts, err := m.tenant(tenantID)
	if err != nil {
		return err
	}
	ts.writeMu.Lock()
	defer ts.writeMu.Unlock()
	for _, alg := range slices.Compact(slices.SortedFunc(slices.Values(algs), func(a, b string) int { return algOrder(a) - algOrder(b) })) {
		if err := m.rotate(ctx, ts, alg); err != nil {
			return err
		}
	}
	_, err = m.load(ctx, ts)
	return err
}

// rotate adds the next generation of alg. If another node adds the same
// generation first (ErrConflict), it reloads and tries once more on top of
// that node's key.
func (m *Manager) rotate(ctx context.Context, ts *tenantState, alg string) error {
	priv, err := Generate(alg)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		snap, err := m.load(ctx, ts)
		if err != nil {
			return err
		}
		now := m.now()
		gen, activates, retainOthers := 1, now, time.Time{}
		if list := snap.byAlg[algOrder(alg)]; len(list) > 0 {
			gen = list[len(list)-1].rec.Generation + 1
			activates = now.Add(m.rotationDelay)
			retainOthers = activates.Add(max(m.retention(ts.id), 0) + m.skew)
		}
		k, _, err := sealSigningKey(m.sealer, ts.id, alg, gen, now, activates, priv)
		if err != nil {
			return err
		}
		err = m.st.AddSigningKey(ctx, k, retainOthers)
		if err == nil {
			m.log.InfoContext(ctx, "signing key rotated", "tenant", ts.id, "alg", alg, "kid", k.ID,
				"generation", gen, "activates_at", activates, "previous_retained_until", retainOthers)
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == 2 {
			return fmt.Errorf("keys: rotate %s key of tenant %q: %w", alg, ts.id, err)
		}
	}
}

// JWKS returns the tenant's JSON Web Key Set (RFC 7517 §5): the next,
// current and retired-but-retained public keys of every algorithm, current
// keys first. The returned bytes are shared and must not be modified.
func (m *Manager) JWKS(ctx context.Context, tenantID string) ([]byte, error) {
	now := m.now()
	snap, err := m.published(ctx, tenantID, now)
	if err != nil {
		return nil, err
	}
	if c := snap.jwks.Load(); c != nil && !now.Before(c.from) && now.Before(c.until) {
		return c.body, nil
	}
	list, until := snap.publishedAt(now)
	n := len(`{"keys":[]}`)
	for _, e := range list {
		n += len(e.pubJSON) + 1
	}
	body := make([]byte, 0, n)
	body = append(body, `{"keys":[`...)
	for i, e := range list {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, e.pubJSON...)
	}
	body = append(body, "]}"...)
	snap.jwks.Store(&jwksCache{body: body, from: now, until: until})
	return body, nil
}

// PublicKeys returns the keys JWKS publishes, parsed, for verifying tokens
// in-process.
func (m *Manager) PublicKeys(ctx context.Context, tenantID string) (jose.JSONWebKeySet, error) {
	now := m.now()
	snap, err := m.published(ctx, tenantID, now)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	list, _ := snap.publishedAt(now)
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(list))}
	for _, e := range list {
		set.Keys = append(set.Keys, e.jwk)
	}
	return set, nil
}

// Keys lists the tenant's keys as stored now (retired keys past their
// retention excluded), by algorithm and generation. It reads the store, so
// it is meant for admin use, not for request paths.
func (m *Manager) Keys(ctx context.Context, tenantID string) ([]KeyInfo, error) {
	ts, err := m.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	snap, err := m.load(ctx, ts)
	if err != nil {
		return nil, err
	}
	now := m.now()
	out := make([]KeyInfo, 0, len(snap.keys))
	for _, e := range snap.keys {
		out = append(out, KeyInfo{
			KeyID:       e.rec.ID,
			Algorithm:   e.rec.Algorithm,
			Generation:  e.rec.Generation,
			CreatedAt:   e.rec.CreatedAt,
			ActivatesAt: e.rec.ActivatesAt,
			RetainUntil: e.rec.RetainUntil,
			State:       snap.state(e, now),
		})
	}
	return out, nil
}

// published returns a current snapshot for publishing keys, creating the
// tenant's keys first if some algorithm has none.
func (m *Manager) published(ctx context.Context, tenantID string, now time.Time) (*snapshot, error) {
	ts, err := m.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	snap, err := m.current(ctx, ts, now)
	if err != nil {
		return nil, err
	}
	if snap.complete() {
		return snap, nil
	}
	if err := m.EnsureKeys(ctx, tenantID); err != nil {
		if len(snap.keys) == 0 {
			return nil, err
		}
		m.log.WarnContext(ctx, "cannot create missing signing keys; publishing the existing ones", "tenant", tenantID, "err", err)
		return snap, nil
	}
	return ts.snap.Load(), nil
}

// current returns the tenant's snapshot, reloading it first if it is
// missing or older than RefreshInterval. If a reload fails but keys were
// loaded before, it returns those and schedules a retry.
func (m *Manager) current(ctx context.Context, ts *tenantState, now time.Time) (*snapshot, error) {
	snap := ts.snap.Load()
	if snap != nil && now.UnixNano() < snap.staleAt.Load() {
		return snap, nil
	}
	fresh, err := m.reload(ctx, ts, now)
	if err == nil {
		return fresh, nil
	}
	if snap == nil || ctx.Err() != nil {
		return nil, err
	}
	// A store outage must not stop token issuance: keep the keys we have.
	m.log.WarnContext(ctx, "cannot reload signing keys; using cached ones", "tenant", ts.id, "err", err)
	snap.staleAt.Store(now.Add(min(m.refresh, retryBackoff)).UnixNano())
	return snap, nil
}

// reload loads the tenant's keys, sharing the load with concurrent callers
// (at most one lazy reload per tenant is in flight).
func (m *Manager) reload(ctx context.Context, ts *tenantState, now time.Time) (*snapshot, error) {
	ts.mu.Lock()
	// A reload may have finished since the caller found the snapshot stale.
	if s := ts.snap.Load(); s != nil && now.UnixNano() < s.staleAt.Load() {
		ts.mu.Unlock()
		return s, nil
	}
	f := ts.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		ts.flight = f
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		go func() {
			defer cancel()
			f.snap, f.err = m.load(lctx, ts)
			ts.mu.Lock()
			ts.flight = nil
			ts.mu.Unlock()
			close(f.done)
		}()
	}
	ts.mu.Unlock()
	select {
	case <-f.done:
		return f.snap, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// load reads the tenant's keys from the store, installs them as the
// tenant's snapshot unless a later load already did, and returns them.
func (m *Manager) load(ctx context.Context, ts *tenantState) (*snapshot, error) {
	seq := ts.seq.Add(1)
	now := m.now()
	recs, err := m.st.ListSigningKeys(ctx, ts.id, now)
	if err != nil {
		return nil, fmt.Errorf("keys: load keys of tenant %q: %w", ts.id, err)
	}
	var prev map[string]*material
	if old := ts.snap.Load(); old != nil {
		prev = make(map[string]*material, len(old.keys))
		for _, e := range old.keys {
			prev[e.kid] = e.material
		}
	}
	snap := &snapshot{seq: seq, keys: make([]*entry, 0, len(recs))}
	for _, r := range recs {
		if r.TenantID != ts.id || !Supported(r.Algorithm) {
			m.log.ErrorContext(ctx, "ignoring signing key of another tenant or algorithm", "tenant", ts.id, "kid", r.ID, "key_tenant", r.TenantID, "alg", r.Algorithm)
			continue
		}
		mat := prev[r.ID]
		if mat == nil || mat.alg != r.Algorithm || !bytes.Equal(mat.sealed, r.PrivateKey) || !bytes.Equal(mat.storedJWK, r.PublicJWK) {
			if mat, err = newMaterial(r); err != nil {
				m.log.ErrorContext(ctx, "ignoring invalid signing key", "tenant", ts.id, "kid", r.ID, "err", err)
				continue
			}
		}
		r.PrivateKey = nil
		snap.keys = append(snap.keys, &entry{rec: r, material: mat})
	}
	slices.SortStableFunc(snap.keys, func(a, b *entry) int {
		if d := algOrder(a.alg) - algOrder(b.alg); d != 0 {
			return d
		}
		return a.rec.Generation - b.rec.Generation
	})
	for _, e := range snap.keys {
		i := algOrder(e.alg)
		snap.byAlg[i] = append(snap.byAlg[i], e)
	}
	snap.staleAt.Store(now.Add(m.refresh).UnixNano())
	for {
		cur := ts.snap.Load()
		if cur != nil && cur.seq > seq {
			break // a load that started later is already installed
		}
		if ts.snap.CompareAndSwap(cur, snap) {
			break
		}
	}
	return snap, nil
}

func newMaterial(r store.SigningKey) (*material, error) {
	jwk, err := parsePublicJWK(r)
	if err != nil {
		return nil, err
	}
	pub, err := jwk.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return &material{
		tenantID:  r.TenantID,
		kid:       r.ID,
		alg:       r.Algorithm,
		sealed:    r.PrivateKey,
		storedJWK: r.PublicJWK,
		jwk:       jwk,
		pubJSON:   pub,
	}, nil
}

// getSigner decrypts the key and builds its signer, once.
func (mt *material) getSigner(sealer *Sealer) (*Signer, error) {
	mt.once.Do(func() {
		priv, err := openSigningKey(sealer, store.SigningKey{ID: mt.kid, TenantID: mt.tenantID, Algorithm: mt.alg, PrivateKey: mt.sealed}, mt.jwk.Key)
		if err == nil {
			mt.signer, err = NewSigner(priv, mt.kid, mt.alg)
		}
		mt.err = err
	})
	return mt.signer, mt.err
}

// complete reports whether every algorithm has a key.
func (s *snapshot) complete() bool {
	for _, l := range s.byAlg {
		if len(l) == 0 {
			return false
		}
	}
	return true
}

// signing returns the key that signs alg at now: the highest generation
// whose ActivatesAt has passed. If none has (a node whose clock is a little
// behind the one that created generation 1), it is the oldest key, which
// is already published. Nil means the tenant has no key for alg.
func (s *snapshot) signing(alg string, now time.Time) *entry {
	list := s.byAlg[algOrder(alg)]
	for i := len(list) - 1; i >= 0; i-- {
		if !list[i].rec.ActivatesAt.After(now) {
			return list[i]
		}
	}
	if len(list) > 0 {
		return list[0]
	}
	return nil
}

// state classifies e at now.
func (s *snapshot) state(e *entry, now time.Time) string {
	switch {
	case s.signing(e.alg, now) == e:
		return StateCurrent
	case e.rec.ActivatesAt.After(now):
		return StateNext
	default:
		return StateRetired
	}
}

// publishedAt returns the keys to publish at now (current first, then next,
// then retired ones still within their retention) and the first time after
// now at which that list or its order changes.
func (s *snapshot) publishedAt(now time.Time) ([]*entry, time.Time) {
	until := time.Unix(1<<62, 0) // no boundary: valid until the next reload
	var cur, next, retired []*entry
	for _, e := range s.keys {
		if t := e.rec.ActivatesAt; t.After(now) && t.Before(until) {
			until = t
		}
		if t := e.rec.RetainUntil; !t.IsZero() {
			if !t.After(now) {
				continue // retention over: no longer published
			}
			if t.Before(until) {
				until = t
			}
		}
		switch s.state(e, now) {
		case StateCurrent:
			cur = append(cur, e)
		case StateNext:
			next = append(next, e)
		default:
			retired = append(retired, e)
		}
	}
	return slices.Concat(cur, next, retired), until
}
