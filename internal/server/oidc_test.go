package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// rp is a relying party built from stock libraries: go-oidc for discovery
// and id_token verification, x/oauth2 for the code and refresh flows.
type rp struct {
	e        *st.Env
	ctx      context.Context
	provider *oidc.Provider
	conf     oauth2.Config
}

func newRP(t *testing.T, e *st.Env, host, clientID, secret, redirect string, scopes ...string) *rp {
	t.Helper()
	ctx := context.WithValue(oidc.ClientContext(t.Context(), e.Client), oauth2.HTTPClient, e.Client)
	ctx = oidc.InsecureIssuerURLContext(ctx, e.Issuer(host))
	provider, err := oidc.NewProvider(ctx, e.Issuer(host))
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &rp{e: e, ctx: ctx, provider: provider, conf: oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: redirect, Scopes: scopes,
	}}
}

// signIn runs the authorization-code flow with PKCE through the hosted
// login form and returns the verified tokens.
func (r *rp) signIn(t *testing.T, b *st.Browser, user, password string) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	authURL := r.conf.AuthCodeURL("st-123", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-456"))
	page := b.Login(authURL, user, password)
	code := r.codeFrom(t, page, "st-123")
	return r.exchange(t, code, verifier)
}

func (r *rp) codeFrom(t *testing.T, page st.Page, state string) string {
	t.Helper()
	if !page.Redirected() || page.Location == nil {
		t.Fatalf("want a redirect with a code, got %d: %.500s", page.Status, page.Body)
	}
	q := page.Location.Query()
	if q.Get("state") != state || q.Get("code") == "" || q.Get("iss") != r.provider.Endpoint().AuthURL[:len(r.provider.Endpoint().AuthURL)-len("/authorize")] {
		t.Fatalf("redirect %s", page.Location)
	}
	if got := page.Location.Scheme + "://" + page.Location.Host + page.Location.Path; got != r.conf.RedirectURL {
		t.Fatalf("redirected to %s, want %s", got, r.conf.RedirectURL)
	}
	return q.Get("code")
}

func (r *rp) exchange(t *testing.T, code, verifier string) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	tok, err := r.conf.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.provider.VerifierContext(r.ctx, &oidc.Config{ClientID: r.conf.ClientID, Now: r.e.Clock.Now}).Verify(r.ctx, raw)
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	if idt.Nonce != "n-456" {
		t.Fatalf("nonce %q", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	return tok, idt
}

// TestOIDCFlows drives the provider with go-oidc and x/oauth2: code +
// PKCE through the real login form, id_token with nonce and at_hash,
// userinfo, refresh with rotation, reuse detection, revocation,
// introspection, client_credentials, single sign-on and logout.
func TestOIDCFlows(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		web := newRP(t, e, st.EIAMHost, "acme-web", st.Secret, "http://app.test/callback", oidc.ScopeOpenID, "profile", "email")
		b := e.NewBrowser()
		tok, idt := web.signIn(t, b, "alice", st.Password)
		var claims map[string]any
		_ = idt.Claims(&claims)
		if claims["azp"] != "acme-web" || claims["auth_time"] == nil || claims["userName"] != "alice" || idt.Subject == "" {
			t.Fatalf("id_token claims %v", claims)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
			t.Fatalf("token %+v", tok)
		}

		// userinfo, with the claims the scope allows.
		ui, err := web.provider.UserInfo(web.ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var info map[string]any
		_ = ui.Claims(&info)
		if ui.Subject != idt.Subject || info["email"] != "alice@example.com" || info["userName"] != "alice" || info["mobile"] != nil {
			t.Fatalf("userinfo %v", info)
		}

		// Refresh rotates; the old refresh token is then reuse, which
		// revokes the whole family, including the newest tokens.
		old := tok.RefreshToken
		expired := &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}
		fresh, err := web.conf.TokenSource(web.ctx, expired).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == old || fresh.AccessToken == tok.AccessToken {
			t.Fatalf("refresh did not rotate: %+v", fresh)
		}
		if _, err := web.provider.UserInfo(web.ctx, oauth2.StaticTokenSource(fresh)); err != nil {
			t.Fatalf("userinfo with the refreshed token: %v", err)
		}
		_, err = web.conf.TokenSource(web.ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}).Token()
		if re := (*oauth2.RetrieveError)(nil); err == nil || !asRetrieve(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("reused refresh token: %v", err)
		}
		if _, err := web.conf.TokenSource(web.ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
			t.Fatal("the family survived reuse detection")
		}
		if _, err := web.provider.UserInfo(web.ctx, oauth2.StaticTokenSource(fresh)); err == nil {
			t.Fatal("an access token of the revoked family still works")
		}

		// Single sign-on: a second application gets a code without a
		// password prompt.
		web2 := newRP(t, e, st.EIAMHost, "acme-web2", st.Secret, "http://app2.test/callback", oidc.ScopeOpenID)
		verifier := oauth2.GenerateVerifier()
		page := b.Get(web2.conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-456")))
		tok2, idt2 := web2.exchange(t, web2.codeFrom(t, page, "s2"), verifier)
		if idt2.Subject != idt.Subject || tok2.RefreshToken != "" {
			t.Fatalf("SSO: subject %s, refresh %q", idt2.Subject, tok2.RefreshToken)
		}

		// Introspection and revocation (RFC 7662, RFC 7009).
		tok3, _ := web.signIn(t, e.NewBrowser(), "bob", st.Password)
		intro := func(token string) st.Response {
			h := headers("Content-Type", "application/x-www-form-urlencoded")
			return e.Do("POST", e.URL(st.EIAMHost, "/api/v1/oauth2/introspect"), h, form("token", token, "client_id", "acme-portal", "client_secret", st.Secret))
		}
		r := intro(tok3.AccessToken)
		if r.Status != 200 || r.JSON["active"] != true || r.Str("client_id") != "acme-web" || r.Str("username") != "bob" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("introspection: %d %s", r.Status, r.Body)
		}
		if r := intro(tok3.RefreshToken); r.JSON["active"] != true || r.Str("token_type") != "refresh_token" {
			t.Fatalf("refresh introspection: %s", r.Body)
		}
		rev := e.Do("POST", e.URL(st.EIAMHost, "/api/v1/oauth2/revoke"), headers("Content-Type", "application/x-www-form-urlencoded"),
			form("token", tok3.RefreshToken, "client_id", "acme-web", "client_secret", st.Secret))
		if rev.Status != 200 {
			t.Fatalf("revoke: %d %s", rev.Status, rev.Body)
		}
		for _, tk := range []string{tok3.AccessToken, tok3.RefreshToken} {
			if r := intro(tk); r.JSON["active"] != false {
				t.Fatalf("revoked token still active: %s", r.Body)
			}
		}

		// client_credentials, opaque and JWT.
		for _, c := range []string{"acme-web", "acme-jwt"} {
			cc := clientcredentials.Config{ClientID: c, ClientSecret: st.Secret, TokenURL: web.provider.Endpoint().TokenURL}
			at, err := cc.Token(web.ctx)
			if err != nil {
				t.Fatalf("%s client_credentials: %v", c, err)
			}
			if r := intro(at.AccessToken); r.JSON["active"] != true || r.Str("client_id") != c {
				t.Fatalf("%s token introspection: %s", c, r.Body)
			}
			if (strings.Count(at.AccessToken, ".") == 2) != (c == "acme-jwt") {
				t.Fatalf("%s: access token format %q", c, at.AccessToken)
			}
		}

		// Logout ends the browser session for every application.
		lo := b.Get(e.URL(st.EIAMHost, "/api/v1/logout?post_logout_redirect_uri="+url.QueryEscape("http://app.test/bye")+"&id_token_hint="+tok.Extra("id_token").(string)+"&state=x"))
		if !lo.Redirected() || lo.Location.String() != "http://app.test/bye?state=x" {
			t.Fatalf("logout: %d %v %.200s", lo.Status, lo.Location, lo.Body)
		}
		page = b.Get(web2.conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier)))
		if page.Status != 200 || !strings.Contains(page.Body, `name="password"`) {
			t.Fatalf("after logout the second app got %d %v", page.Status, page.Location)
		}
	})
}

func asRetrieve(err error, target **oauth2.RetrieveError) bool {
	re, ok := err.(*oauth2.RetrieveError)
	if ok {
		*target = re
	}
	return ok
}
