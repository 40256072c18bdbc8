package idtoken_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sesame-idp/sesame/internal/idtoken"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/keys/keystest"
)

const (
	tenant = "t1"
	issuer = "https://mh.example.com/api/v1/oauth2"
	client = "pOJuaXGJdj4VsO6fiQQiJbkrqIqH16j6"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// vendorClaims are the claims of the vendor's example id_token.
func vendorClaims() idtoken.Claims {
	return idtoken.Claims{
		Issuer:   issuer,
		Audience: client,
		Subject:  "admin",
		UserID:   "20220126141507920-C9B7-124F35B4D",
		Name:     "admin11",
		UserName: "admin",
		Mobile:   "+86-18271949055",
		Email:    "aasd@qq.com",
	}
}

type fixture struct {
	clock  *keystest.Clock
	keys   *keys.Manager
	minter *idtoken.Minter
}

func newFixture(t testing.TB) fixture {
	clock := keystest.NewClock(t0)
	km := keys.NewManager(keystest.NewStore(), keystest.Sealer(t), keys.Options{Now: clock.Now})
	return fixture{clock: clock, keys: km, minter: idtoken.NewMinter(km, clock.Now)}
}

// verify checks token against the tenant's JWKS JSON, allowing only alg,
// and returns its payload as a map.
func (f fixture) verify(t *testing.T, token, alg string) map[string]any {
	t.Helper()
	b, err := f.keys.JWKS(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("ParseSigned: %v", err)
	}
	h := jws.Signatures[0].Protected
	if h.Algorithm != alg || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header alg=%q typ=%v, want %s and JWT", h.Algorithm, h.ExtraHeaders["typ"], alg)
	}
	found := set.Key(h.KeyID)
	if len(found) != 1 {
		t.Fatalf("kid %q is not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(found[0])
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestMintVerifies(t *testing.T) {
	f := newFixture(t)
	iat := float64(t0.Unix())
	for _, alg := range keys.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			token, err := f.minter.Mint(t.Context(), tenant, alg, 2*time.Hour, vendorClaims())
			if err != nil {
				t.Fatal(err)
			}
			got := f.verify(t, token, alg)
			want := map[string]any{
				"iss": issuer, "aud": client, "sub": "admin",
				"iat": iat, "nbf": iat - 120, "exp": iat + 7200,
				"id": "20220126141507920-C9B7-124F35B4D", "name": "admin11", "userName": "admin",
				"mobile": "+86-18271949055", "email": "aasd@qq.com",
			}
			jti, _ := got["jti"].(string)
			if raw, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(raw) != 16 {
				t.Errorf("jti %q is not 16 bytes of base64url", jti)
			}
			delete(got, "jti")
			for k, v := range want {
				if got[k] != v {
					t.Errorf("claim %s = %v, want %v", k, got[k], v)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected claim %s = %v", k, got[k])
				}
			}
		})
	}
}

func TestMintEncoding(t *testing.T) {
	f := newFixture(t)
	c := vendorClaims()
	c.ID = "ZkXggqBg6gELjDNSJT0wsA"
	token, err := f.minter.Mint(t.Context(), tenant, keys.EdDSA, 2*time.Hour, c)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	// The vendor's claim names and order (contract §7).
	want := `{"iss":"https://mh.example.com/api/v1/oauth2","aud":"pOJuaXGJdj4VsO6fiQQiJbkrqIqH16j6",` +
		`"sub":"admin","exp":1795168800,"iat":1795161600,"nbf":1795161480,"jti":"ZkXggqBg6gELjDNSJT0wsA",` +
		`"id":"20220126141507920-C9B7-124F35B4D","name":"admin11","userName":"admin",` +
		`"mobile":"+86-18271949055","email":"aasd@qq.com"}`
	if string(payload) != want {
		t.Errorf("payload\n got %s\nwant %s", payload, want)
	}
}

func TestMintOptionalClaims(t *testing.T) {
	f := newFixture(t)
	minimal := idtoken.Claims{Issuer: issuer, Audience: client, Subject: "u-1"}
	oidc := minimal
	oidc.Nonce = "n-0S6_WzA2Mj"
	oidc.AuthTime = t0.Add(-time.Minute).Unix()
	oidc.AccessTokenHash = idtoken.ATHash("access", keys.ES256)
	oidc.AuthorizedParty = client
	tests := []struct {
		name string
		c    idtoken.Claims
		want []string
	}{
		{"minimal", minimal, []string{"aud", "exp", "iat", "iss", "jti", "nbf", "sub"}},
		{"oidc", oidc, []string{"at_hash", "aud", "auth_time", "azp", "exp", "iat", "iss", "jti", "nbf", "nonce", "sub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := f.minter.Mint(t.Context(), tenant, keys.ES256, 5*time.Minute, tt.c)
			if err != nil {
				t.Fatal(err)
			}
			got := f.verify(t, token, keys.ES256)
			names := slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(names, tt.want) {
				t.Errorf("claims %v, want %v", names, tt.want)
			}
			if tt.c.Nonce != "" && (got["nonce"] != tt.c.Nonce || got["auth_time"] != float64(tt.c.AuthTime) || got["azp"] != client) {
				t.Errorf("OIDC claims %v", got)
			}
		})
	}
}

// TestMintValidatesAsJWT checks the token with a standard JWT validator
// (go-jose's jwt package): signature, iss, aud and expiry.
func TestMintValidatesAsJWT(t *testing.T) {
	f := newFixture(t)
	token, err := f.minter.Mint(t.Context(), tenant, "", 5*time.Minute, vendorClaims()) // "": default RS256
	if err != nil {
		t.Fatal(err)
	}
	set, err := f.keys.PublicKeys(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("not an RS256 JWT: %v", err)
	}
	var c jwt.Claims
	if err := tok.Claims(set, &c); err != nil {
		t.Fatal(err)
	}
	exp := jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{client}}
	for _, tt := range []struct {
		at    time.Time
		valid bool
	}{
		{t0, true},
		{t0.Add(5*time.Minute - time.Second), true},
		{t0.Add(5*time.Minute + time.Second), false}, // expired (go-jose accepts exp itself)
	} {
		exp.Time = tt.at
		if err := c.ValidateWithLeeway(exp, 0); (err == nil) != tt.valid {
			t.Errorf("at iat%+v: validation error %v, want valid=%v", tt.at.Sub(t0), err, tt.valid)
		}
	}
}

func TestMintFreshJTI(t *testing.T) {
	f := newFixture(t)
	seen := map[string]bool{}
	for range 20 {
		token, err := f.minter.Mint(t.Context(), tenant, keys.EdDSA, time.Hour, vendorClaims())
		if err != nil {
			t.Fatal(err)
		}
		jti := f.verify(t, token, keys.EdDSA)["jti"].(string)
		if seen[jti] {
			t.Fatalf("jti %s repeated", jti)
		}
		seen[jti] = true
	}
}

func TestMintRefuses(t *testing.T) {
	f := newFixture(t)
	ok := vendorClaims()
	noIss, noAud, noSub := ok, ok, ok
	noIss.Issuer, noAud.Audience, noSub.Subject = "", "", ""
	tests := []struct {
		name string
		alg  string
		ttl  time.Duration
		c    idtoken.Claims
	}{
		{"no iss", keys.ES256, time.Hour, noIss},
		{"no aud", keys.ES256, time.Hour, noAud},
		{"no sub", keys.ES256, time.Hour, noSub},
		{"zero lifetime", keys.ES256, 0, ok},
		{"negative lifetime", keys.ES256, -time.Hour, ok},
		{"unsupported alg", "HS256", time.Hour, ok},
		{"alg none", "none", time.Hour, ok},
	}
	for _, tt := range tests {
		if token, err := f.minter.Mint(t.Context(), tenant, tt.alg, tt.ttl, tt.c); err == nil {
			t.Errorf("%s: minted %s", tt.name, token)
		}
	}
}

func TestATHash(t *testing.T) {
	// OIDC Core 1.0 Appendix A.3 (RS256).
	const token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
	const sha512Half = "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM" // computed with Python's hashlib
	tests := []struct{ alg, want string }{
		{keys.RS256, "77QmUPtjPfzWtF2AnpK9RQ"},
		{keys.ES256, "77QmUPtjPfzWtF2AnpK9RQ"},
		{keys.RS512, sha512Half},
		{keys.EdDSA, sha512Half},
		{"HS256", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := idtoken.ATHash(token, tt.alg); got != tt.want {
			t.Errorf("ATHash(%s) = %q, want %q", tt.alg, got, tt.want)
		}
	}
}
