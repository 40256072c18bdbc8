package server_test

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/sesame-idp/sesame/internal/server/servertest"
)

// BenchmarkUserinfo is GET /api/v1/oauth2/userinfo with a user's opaque
// access token (scope "openid profile email") of acme-web, presented again
// and again: the token's lookup, its user's and the JSON answer.
func BenchmarkUserinfo(b *testing.B) {
	benchEach(b, func(b *testing.B, e *servertest.Env) {
		h := e.Server.Handler()
		hd := http.Header{"Authorization": {"Bearer " + benchUserAccessToken(b, e)}}
		req := newBenchReq(http.MethodGet, servertest.EIAMHost, "/api/v1/oauth2/userinfo", hd, "")
		userinfo := func() {
			if rec := req.serve(b, h); !bytes.Contains(rec.Body.Bytes(), []byte(`"userName":"alice"`)) {
				b.Fatalf("userinfo: %s", rec.Body)
			}
		}
		userinfo()
		b.ReportAllocs()
		for b.Loop() {
			userinfo()
		}
	})
}

// BenchmarkIntrospect is POST /api/v1/oauth2/introspect (RFC 7662) of the
// same kind of token by its own confidential client (client_secret_post):
// the client's authentication, the token's lookup and its user's.
func BenchmarkIntrospect(b *testing.B) {
	benchEach(b, func(b *testing.B, e *servertest.Env) {
		h := e.Server.Handler()
		form := url.Values{"client_id": {"acme-web"}, "client_secret": {servertest.Secret},
			"token": {benchUserAccessToken(b, e)}, "token_type_hint": {"access_token"}}
		hd := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		req := newBenchReq(http.MethodPost, servertest.EIAMHost, "/api/v1/oauth2/introspect", hd, form.Encode())
		introspect := func() {
			if rec := req.serve(b, h); !bytes.Contains(rec.Body.Bytes(), []byte(`"active":true`)) {
				b.Fatalf("introspect: %s", rec.Body)
			}
		}
		introspect()
		b.ReportAllocs()
		for b.Loop() {
			introspect()
		}
	})
}

// benchUserAccessToken logs alice in through the hosted login page of
// acme-web and redeems the code (with PKCE) for an opaque access token.
func benchUserAccessToken(b *testing.B, e *servertest.Env) string {
	verifier := "bench-verifier-0123456789-0123456789-0123456789"
	challenge := "97Zj-g7YTE4g4dDZiilunI1wyoTNGgfDOzmh048JNqA" // S256 of verifier
	auth := url.Values{"response_type": {"code"}, "client_id": {"acme-web"}, "redirect_uri": {"http://app.test/callback"},
		"scope": {"openid profile email"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	page := e.NewBrowser().Login(e.URL(servertest.EIAMHost, "/api/v1/oauth2/authorize?"+auth.Encode()), "alice", servertest.Password)
	if page.Location == nil || page.Location.Query().Get("code") == "" {
		b.Fatalf("login: %d %s", page.Status, page.Body)
	}
	v := url.Values{"grant_type": {"authorization_code"}, "client_id": {"acme-web"}, "client_secret": {servertest.Secret},
		"redirect_uri": {"http://app.test/callback"}, "code_verifier": {verifier}, "code": {page.Location.Query().Get("code")}}
	req := newBenchReq(http.MethodPost, servertest.EIAMHost, "/api/v1/oauth2/token",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, v.Encode())
	return benchField(b, req.serve(b, e.Server.Handler()).Body.Bytes(), "access_token")
}
