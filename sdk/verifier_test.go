package sdk_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/sdk"
)

func newVerifier(t *testing.T, e *st.Env, host, clientID string, opts ...sdk.Option) *sdk.Verifier {
	t.Helper()
	all := append([]sdk.Option{sdk.WithHTTPClient(e.Client), sdk.WithClock(e.Clock.Now)}, opts...)
	v, err := sdk.NewVerifier(e.Issuer(host), clientID, all...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func jwsHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestVerifier: id_tokens of every algorithm verify; tokens for another
// audience or tenant, tampered or expired ones do not.
func TestVerifier(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for client, alg := range map[string]string{"acme-portal": "RS256", "acme-rs512": "RS512", "acme-es256": "ES256", "acme-eddsa": "EdDSA"} {
			raw := e.Login(st.EIAMHost, client, "bob", st.Password).Str("id_token")
			if got := jwsHeader(t, raw)["alg"]; got != alg {
				t.Fatalf("%s: alg %v, want %s", client, got, alg)
			}
			c, err := newVerifier(t, e, st.EIAMHost, client).Verify(ctx, raw)
			if err != nil {
				t.Fatalf("%s (%s): %v", client, alg, err)
			}
			if c.UserName != "bob" || c.Name != "Bob" || c.Email != "" || c.Subject == "" || c.JWTID == "" ||
				c.IssuedAt.Sub(c.NotBefore) != 120*time.Second || !c.Expiry.After(c.IssuedAt) {
				t.Fatalf("%s: claims %+v", client, c)
			}
			var extra map[string]any
			if err := json.Unmarshal(c.Raw, &extra); err != nil || extra["userName"] != "bob" {
				t.Fatalf("%s: raw claims %s", client, c.Raw)
			}
		}
		raw := e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")
		good := newVerifier(t, e, st.EIAMHost, "acme-portal")
		for name, tc := range map[string]struct {
			v   *sdk.Verifier
			raw string
		}{
			"another audience": {newVerifier(t, e, st.EIAMHost, "acme-es256"), raw},
			"another tenant":   {newVerifier(t, e, st.CIAMHost, "acme-portal"), raw},
			"tampered payload": {good, tamper(t, raw)},
			"not a jwt":        {good, "not-a-token"},
			"unsigned":         {good, unsigned(t, raw)},
		} {
			_, err := tc.v.Verify(ctx, tc.raw)
			if !errors.Is(err, sdk.ErrInvalidIDToken) || errors.Is(err, sdk.ErrIDTokenExpired) {
				t.Errorf("%s: %v", name, err)
			}
		}
		// Expiry, with the leeway.
		e.Clock.Advance(2*time.Hour + 20*time.Second)
		if _, err := good.Verify(ctx, raw); err != nil {
			t.Fatalf("within the leeway: %v", err)
		}
		e.Clock.Advance(20 * time.Second)
		_, err := good.Verify(ctx, raw)
		wantIs(t, err, map[error]bool{sdk.ErrInvalidIDToken: true, sdk.ErrIDTokenExpired: true})
		strict := newVerifier(t, e, st.EIAMHost, "acme-portal", sdk.WithLeeway(0))
		fresh := e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")
		e.Clock.Advance(2*time.Hour + time.Second)
		_, err = strict.Verify(ctx, fresh)
		wantIs(t, err, map[error]bool{sdk.ErrIDTokenExpired: true})
	})
}

// tamper changes the user name in a token's payload.
func tamper(t *testing.T, raw string) string {
	parts := strings.Split(raw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	b = []byte(strings.Replace(string(b), `"alice"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// unsigned rewrites a token as alg "none".
func unsigned(t *testing.T, raw string) string {
	parts := strings.Split(raw, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
}

// TestVerifierKeyRotation: after the tenant's keys rotate, tokens signed
// with the new key verify (the unknown key id makes the Verifier fetch
// the key set again) and the old ones still do.
func TestVerifierKeyRotation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		hc, cnt := countingClient(e)
		v := newVerifier(t, e, st.EIAMHost, "acme-portal", sdk.WithHTTPClient(hc))
		old := e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")
		if _, err := v.Verify(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := e.Server.Keys().Rotate(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(e.Config.Keys.RotationDelay + time.Second)
		fresh := e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")
		if jwsHeader(t, fresh)["kid"] == jwsHeader(t, old)["kid"] {
			t.Fatal("the key did not rotate")
		}
		for name, raw := range map[string]string{"new key": fresh, "old key": old} {
			if _, err := v.Verify(ctx, raw); err != nil {
				t.Fatalf("%s after rotation: %v", name, err)
			}
		}
		if got := cnt.count("/keys"); got != 2 {
			t.Fatalf("%d key-set fetches, want 2 (initial, and for the new key id)", got)
		}
	})
}

// TestVerifierRefetchLimit: tokens with made-up key ids cause at most one
// key-set fetch per refetch interval.
func TestVerifierRefetchLimit(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		hc, cnt := countingClient(e)
		v := newVerifier(t, e, st.EIAMHost, "acme-portal", sdk.WithHTTPClient(hc), sdk.WithJWKSRefetchInterval(time.Minute), sdk.WithJWKSCacheTTL(time.Hour))
		if _, err := v.Verify(ctx, e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")); err != nil {
			t.Fatal(err)
		}
		forged := forge(t, e.Issuer(st.EIAMHost), "acme-portal", e.Clock.Now())
		for range 10 {
			_, err := v.Verify(ctx, forged)
			wantIs(t, err, map[error]bool{sdk.ErrInvalidIDToken: true})
		}
		if got := cnt.count("/keys"); got != 1 {
			t.Fatalf("%d key-set fetches within the interval, want 1", got)
		}
		e.Clock.Advance(time.Minute)
		_, _ = v.Verify(ctx, forged)
		_, _ = v.Verify(ctx, forged)
		if got := cnt.count("/keys"); got != 2 {
			t.Fatalf("%d key-set fetches after the interval, want 2", got)
		}
		// The TTL makes the Verifier fetch again even for known keys.
		e.Clock.Advance(time.Hour)
		if _, err := v.Verify(ctx, e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")); err != nil {
			t.Fatal(err)
		}
		if got := cnt.count("/keys"); got != 3 {
			t.Fatalf("%d key-set fetches after the TTL, want 3", got)
		}
	})
}

// TestVerifierUnreachable: a key set that cannot be fetched is not an
// invalid token.
func TestVerifierUnreachable(t *testing.T) {
	v, err := sdk.NewVerifier("http://127.0.0.1:1/api/v1/oauth2", "app", sdk.WithRetry(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), forge(t, "http://127.0.0.1:1/api/v1/oauth2", "app", time.Now()))
	if err == nil || errors.Is(err, sdk.ErrInvalidIDToken) {
		t.Fatalf("got %v, want a fetch error", err)
	}
}

// forge signs a token with a key of its own, under a made-up key id.
func forge(t *testing.T, issuer, aud string, now time.Time) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "made-up"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: issuer, Subject: "someone", Audience: jwt.Audience{aud},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
