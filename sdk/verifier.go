package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are the claims of a verified id_token (contract §7).
type Claims struct {
	// Registered claims.
	Issuer    string
	Subject   string // the user's stable id
	Audience  []string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	JWTID     string

	// The user, as Sesame describes it. Empty attributes are absent from
	// the token and empty here.
	ID       string
	Name     string
	UserName string
	Mobile   string
	Email    string

	// Claims of id_tokens from the OpenID Connect flows (zero otherwise).
	Nonce           string
	AuthTime        time.Time
	AuthorizedParty string
	AccessTokenHash string

	// Raw is the token's verified payload, for claims not listed here.
	Raw json.RawMessage
}

// idTokenClaims is the wire form of the non-registered claims.
type idTokenClaims struct {
	ID       string           `json:"id"`
	Name     string           `json:"name"`
	UserName string           `json:"userName"`
	Mobile   string           `json:"mobile"`
	Email    string           `json:"email"`
	Nonce    string           `json:"nonce"`
	AuthTime *jwt.NumericDate `json:"auth_time"`
	AZP      string           `json:"azp"`
	AtHash   string           `json:"at_hash"`
}

// Verifier verifies id_tokens issued by one tenant to one application: the
// signature against the tenant's key set (JWKS, at issuer + "/keys"), the
// issuer, the audience, and the validity period with a small leeway.
// Supported algorithms: RS256, RS512, ES256 and EdDSA.
//
// The key set is cached (WithJWKSCacheTTL). A token signed with a key id
// the cached set lacks makes the Verifier fetch the set again, as happens
// after the tenant's keys are rotated, but at most once per
// WithJWKSRefetchInterval, so made-up key ids cannot make it hammer the
// server. When a fetch fails the cached set stays in use. A Verifier is
// safe for concurrent use.
type Verifier struct {
	issuer   string
	clientID string
	t        *transport
	now      func() time.Time
	leeway   time.Duration
	ttl      time.Duration
	interval time.Duration

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch, successful or not
	lastErr   error     // of the last fetch
	fetch     flight[[]jose.JSONWebKey]
}

// supportedAlgs returns the id_token algorithms of contract §7.
func supportedAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.RS256, jose.RS512, jose.ES256, jose.EdDSA}
}

// NewVerifier returns a Verifier of id_tokens whose iss is issuer
// (https://{tenant domain}/api/v1/oauth2) and whose aud contains clientID.
// Options that apply: WithHTTPClient, WithHost, WithTenantID, WithRetry,
// WithClock, WithLeeway, WithJWKSCacheTTL, WithJWKSRefetchInterval.
func NewVerifier(issuer, clientID string, opts ...Option) (*Verifier, error) {
	s := newSettings(opts)
	if clientID == "" {
		return nil, errors.New("sesame: a client id is required")
	}
	t, err := newTransport(issuer, s)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		issuer: issuer, clientID: clientID, t: t, now: s.now,
		leeway: s.leeway, ttl: s.jwksTTL, interval: s.jwksInterval,
	}, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidIDToken, fmt.Sprintf(format, args...))
}

// Verify checks rawIDToken and returns its claims. A token that fails a
// check gives an error wrapping ErrInvalidIDToken (and ErrIDTokenExpired
// when it has expired); a key set that cannot be fetched gives another
// error, since it says nothing about the token.
func (v *Verifier) Verify(ctx context.Context, rawIDToken string) (*Claims, error) {
	tok, err := jwt.ParseSigned(rawIDToken, supportedAlgs())
	if err != nil {
		return nil, invalid("%v", err)
	}
	if len(tok.Headers) != 1 {
		return nil, invalid("want one signature, got %d", len(tok.Headers))
	}
	kid, alg := tok.Headers[0].KeyID, tok.Headers[0].Algorithm
	keys, err := v.keysFor(ctx, kid)
	if err != nil {
		return nil, err
	}
	var (
		std     jwt.Claims
		ext     idTokenClaims
		raw     json.RawMessage
		matched bool
		lastErr error
	)
	for _, k := range keys {
		if (kid != "" && k.KeyID != kid) || (k.Algorithm != "" && k.Algorithm != alg) || (k.Use != "" && k.Use != "sig") {
			continue
		}
		matched = true
		if lastErr = tok.Claims(k.Key, &std, &ext, &raw); lastErr == nil {
			break
		}
	}
	switch {
	case !matched:
		return nil, invalid("no key %q for %s in the issuer's key set", kid, alg)
	case lastErr != nil:
		return nil, invalid("%v", lastErr)
	}
	if std.Expiry == nil {
		return nil, invalid("no exp claim")
	}
	if std.Subject == "" {
		return nil, invalid("no sub claim")
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: jwt.Audience{v.clientID}, Time: v.now()}, v.leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return nil, fmt.Errorf("%w: %w at %s", ErrInvalidIDToken, ErrIDTokenExpired, std.Expiry.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, invalid("issuer %q, want %q", std.Issuer, v.issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, invalid("audience %q does not contain %q", []string(std.Audience), v.clientID)
	case err != nil:
		return nil, invalid("%v", err)
	}
	// OpenID Connect Core §3.1.3.7: with several audiences the authorized
	// party must be this client.
	if len(std.Audience) > 1 && ext.AZP != v.clientID {
		return nil, invalid("azp %q, want %q", ext.AZP, v.clientID)
	}
	return &Claims{
		Issuer: std.Issuer, Subject: std.Subject, Audience: []string(std.Audience),
		Expiry: std.Expiry.Time(), IssuedAt: std.IssuedAt.Time(), NotBefore: std.NotBefore.Time(), JWTID: std.ID,
		ID: ext.ID, Name: ext.Name, UserName: ext.UserName, Mobile: ext.Mobile, Email: ext.Email,
		Nonce: ext.Nonce, AuthTime: ext.AuthTime.Time(), AuthorizedParty: ext.AZP, AccessTokenHash: ext.AtHash,
		Raw: raw,
	}, nil
}

// keysFor returns the key set to verify a token signed with kid, fetching
// it when it is missing, older than the TTL, or lacks kid (the last two
// rate-limited by the refetch interval).
func (v *Verifier) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	now := v.now()
	v.mu.Lock()
	keys := v.keys
	recent := now.Sub(v.attempted) < v.interval && !now.Before(v.attempted)
	mayFetch := keys == nil || !recent
	stale := keys == nil || now.Sub(v.fetched) >= v.ttl || now.Before(v.fetched)
	lastErr := v.lastErr
	v.mu.Unlock()
	if keys == nil && lastErr != nil && recent {
		// The last fetch failed a moment ago: do not hammer the server.
		return nil, lastErr
	}
	if !mayFetch || (!stale && hasKey(keys, kid)) {
		return keys, nil
	}
	fresh, err := v.fetch.do(ctx, v.fetchKeys)
	if err != nil {
		if keys != nil {
			// Keep verifying with what we have; retried after the interval.
			return keys, nil
		}
		return nil, err
	}
	return fresh, nil
}

func hasKey(keys []jose.JSONWebKey, kid string) bool {
	if kid == "" {
		return len(keys) > 0
	}
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

// fetchKeys gets the key set and caches it.
func (v *Verifier) fetchKeys(ctx context.Context) ([]jose.JSONWebKey, error) {
	start := v.now()
	var w struct {
		Keys []json.RawMessage `json:"keys"`
	}
	err := v.t.do(ctx, request{method: "GET", path: "/keys", idempotent: true}, &w)
	var keys []jose.JSONWebKey
	if err == nil {
		for _, raw := range w.Keys {
			var k jose.JSONWebKey
			// A key of a kind this SDK cannot use is skipped, not fatal.
			if json.Unmarshal(raw, &k) == nil && k.Valid() && k.IsPublic() {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			err = fmt.Errorf("sesame: the key set at %s/keys has no usable key", strings.TrimRight(v.issuer, "/"))
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.attempted = start
	if err != nil {
		v.lastErr = fmt.Errorf("sesame: fetching the issuer's key set: %w", err)
		return nil, v.lastErr
	}
	v.keys, v.fetched, v.lastErr = keys, start, nil
	return keys, nil
}
