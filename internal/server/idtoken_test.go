package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// verifier returns a go-oidc verifier for a tenant's JWKS, as a relying
// party configured with the issuer and its client_id would build it.
func verifier(e *st.Env, ctx context.Context, host, clientID, alg string) *oidc.IDTokenVerifier {
	ctx = oidc.ClientContext(ctx, e.Client)
	keySet := oidc.NewRemoteKeySet(ctx, e.URL(host, "/api/v1/oauth2/keys"))
	return oidc.NewVerifier(e.Issuer(host), keySet, &oidc.Config{
		ClientID:             clientID,
		SupportedSigningAlgs: []string{alg},
		Now:                  e.Clock.Now,
	})
}

func header(t *testing.T, jws string) map[string]string {
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestIDTokens: id_tokens from login and from the exchange verify with
// go-oidc against the tenant's JWKS and carry exactly the claims of
// contract §7, with aud = the calling client and the application's
// algorithm and lifetime.
func TestIDTokens(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for _, test := range []struct {
			host, loginClient, exchangeClient string
			loginAlg, exchangeAlg, user       string
			loginTTL, exchangeTTL             time.Duration
		}{
			{st.EIAMHost, "acme-portal", "acme-portal", "RS256", "RS256", "alice", 2 * time.Hour, 2 * time.Hour},
			{st.EIAMHost, "acme-portal", "acme-es256", "RS256", "ES256", "alice", 2 * time.Hour, 10 * time.Minute},
			{st.EIAMHost, "acme-rs512", "acme-rs512", "RS512", "RS512", "bob", 2 * time.Hour, 2 * time.Hour},
			{st.EIAMHost, "acme-eddsa", "acme-portal", "EdDSA", "RS256", "alice", 2 * time.Hour, 2 * time.Hour},
			// CIAM: id_tokens live 5 minutes by default (contract §8).
			{st.CIAMHost, "shop-portal", "shop-rotating", "RS256", "RS256", "alice", 5 * time.Minute, 5 * time.Minute},
		} {
			name := test.host + "/" + test.loginClient + "->" + test.exchangeClient
			login := e.Login(test.host, test.loginClient, test.user, st.Password)
			if login.Status != 200 {
				t.Fatalf("%s: login %d %s", name, login.Status, login.Body)
			}
			exch := e.Exchange(test.host, test.exchangeClient, login.Str("session_token"))
			if test.host == st.CIAMHost {
				h := st.SDKHeaders(test.exchangeClient)
				h.Set("session-token", login.Str("session_token"))
				exch = e.Do("POST", e.URL(test.host, "/api/v2/sdk/sso/session-token/id-token"), h, "")
			}
			if exch.Status != 200 {
				t.Fatalf("%s: exchange %d %s", name, exch.Status, exch.Body)
			}
			for _, tok := range []struct {
				raw, client, alg string
				ttl              time.Duration
			}{
				{login.Str("id_token"), test.loginClient, test.loginAlg, test.loginTTL},
				{exch.Str("id_token"), test.exchangeClient, test.exchangeAlg, test.exchangeTTL},
			} {
				if got := header(t, tok.raw)["alg"]; got != tok.alg {
					t.Errorf("%s: alg %s, want %s", name, got, tok.alg)
				}
				idt, err := verifier(e, ctx, test.host, tok.client, tok.alg).Verify(ctx, tok.raw)
				if err != nil {
					t.Fatalf("%s: go-oidc rejects the id_token: %v", name, err)
				}
				var claims map[string]any
				if err := idt.Claims(&claims); err != nil {
					t.Fatal(err)
				}
				keys := make([]string, 0, len(claims))
				for k := range claims {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				want := []string{"aud", "email", "exp", "iat", "id", "iss", "jti", "mobile", "name", "nbf", "sub", "userName"}
				if test.user == "bob" {
					want = []string{"aud", "exp", "iat", "id", "iss", "jti", "name", "nbf", "sub", "userName"}
				}
				if diff := cmp.Diff(want, keys); diff != "" {
					t.Errorf("%s: claim names (-want +got):\n%s", name, diff)
				}
				iat, exp, nbf := int64(claims["iat"].(float64)), int64(claims["exp"].(float64)), int64(claims["nbf"].(float64))
				if exp-iat != int64(tok.ttl/time.Second) || iat-nbf != 120 || iat != e.Clock.Now().Unix() {
					t.Errorf("%s: iat %d exp %d nbf %d, want lifetime %v and nbf = iat-120", name, iat, exp, nbf, tok.ttl)
				}
				if claims["aud"] != tok.client || claims["sub"] != claims["id"] || claims["userName"] != test.user || claims["iss"] != e.Issuer(test.host) {
					t.Errorf("%s: claims %v", name, claims)
				}
				if jti, _ := claims["jti"].(string); len(jti) < 22 {
					t.Errorf("%s: jti %q", name, jti)
				}
			}
		}
		// A token is for its audience and tenant only.
		tok := e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")
		if _, err := verifier(e, ctx, st.EIAMHost, "acme-es256", "RS256").Verify(ctx, tok); err == nil {
			t.Error("token accepted for another audience")
		}
		if _, err := verifier(e, ctx, st.CIAMHost, "acme-portal", "RS256").Verify(ctx, tok); err == nil {
			t.Error("token of tenant acme verified with tenant shop's issuer and keys")
		}
		// And it expires.
		e.Clock.Advance(2*time.Hour + time.Second)
		if _, err := verifier(e, ctx, st.EIAMHost, "acme-portal", "RS256").Verify(ctx, tok); err == nil {
			t.Error("expired token accepted")
		}
	})
}

// TestKeyRotationOverHTTP: a rotated key is published at once, signs after
// the rotation delay, and the retired key stays published.
func TestKeyRotationOverHTTP(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		jwksKids := func(host string) []string {
			r := e.Do("GET", e.URL(host, "/api/v1/oauth2/keys"), nil, "")
			if r.Status != 200 {
				t.Fatalf("jwks: %d %s", r.Status, r.Body)
			}
			var kids []string
			for _, k := range r.JSON["keys"].([]any) {
				if m := k.(map[string]any); m["alg"] == "RS256" {
					kids = append(kids, m["kid"].(string))
				}
			}
			return kids
		}
		before := jwksKids(st.EIAMHost)
		shopBefore := jwksKids(st.CIAMHost)
		if len(before) != 1 || len(shopBefore) != 1 || before[0] == shopBefore[0] {
			t.Fatalf("each tenant has its own key: acme %v shop %v", before, shopBefore)
		}
		old := e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")
		if err := e.Server.Keys().Rotate(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		after := jwksKids(st.EIAMHost)
		if len(after) != 2 || !slices.Contains(after, before[0]) {
			t.Fatalf("after rotation the JWKS has %v, want the old and the next key", after)
		}
		if k := header(t, e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token"))["kid"]; k != before[0] {
			t.Fatalf("signing switched before the rotation delay: %s", k)
		}
		e.Clock.Advance(e.Config.Keys.RotationDelay + time.Second)
		fresh := e.Login(st.EIAMHost, "acme-portal", "alice", st.Password).Str("id_token")
		if k := header(t, fresh)["kid"]; k == before[0] || !slices.Contains(after, k) {
			t.Fatalf("after the delay signing uses %s, want the new key of %v", k, after)
		}
		v := verifier(e, ctx, st.EIAMHost, "acme-portal", "RS256")
		for _, tok := range []string{old, fresh} {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("token does not verify after rotation: %v", err)
			}
		}
		if got := jwksKids(st.CIAMHost); !slices.Equal(got, shopBefore) {
			t.Fatalf("rotating acme changed shop's keys: %v", got)
		}
	})
}

// TestISVTenantIssuer: a tenant reached on the common domain by
// X-tenant-id signs with its own issuer and keys (its first domain), so a
// relying party verifies its tokens against its own JWKS, not another
// tenant's.
func TestISVTenantIssuer(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		h := st.SDKHeaders("isv-portal")
		h.Set("X-tenant-id", "isv")
		r := e.Do("POST", e.URL(st.CommonHost, "/api/v2/sdk/login"), h, `{"user_name":"alice","password":"`+st.Password+`"}`)
		if r.Status != 200 {
			t.Fatalf("isv login: %d %s", r.Status, r.Body)
		}
		ctx := t.Context()
		idt, err := verifier(e, ctx, "isv.test", "isv-portal", "RS256").Verify(ctx, r.Str("id_token"))
		if err != nil || idt.Issuer != e.Issuer("isv.test") {
			t.Fatalf("isv token against its own issuer: %v", err)
		}
		if _, err := verifier(e, ctx, st.EIAMHost, "isv-portal", "RS256").Verify(ctx, r.Str("id_token")); err == nil {
			t.Fatal("an isv token verified with another tenant's issuer and keys")
		}
	})
}
