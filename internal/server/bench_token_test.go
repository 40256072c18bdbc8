package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/server/servertest"
)

// BenchmarkTokenEndpoint measures POST /api/v1/oauth2/token per grant
// (issue "OAuth 2.0 / OpenID Connect provider"): the server-side cost of
// one token response, on SQLite and PostgreSQL.
//
//   - authorization_code: redeeming a code with PKCE into an access token,
//     an RS256 id_token and a refresh token (getting the code, from the
//     browser's session, is outside the timer);
//   - refresh_token: one rotation (each iteration presents the token the
//     previous one returned) with a new access token and RS256 id_token;
//   - client_credentials: opaque, and JWT signed RS256 and ES256.
func BenchmarkTokenEndpoint(b *testing.B) {
	addRS256JWT := func(c *config.Config) {
		for i := range c.Bootstrap.Tenants {
			if c.Bootstrap.Tenants[i].ID == "acme" {
				c.Bootstrap.Tenants[i].Applications = append(c.Bootstrap.Tenants[i].Applications, config.Application{
					ClientID: "acme-jwt-rs256", ClientSecret: servertest.Secret, AccessTokenFormat: "jwt",
					GrantTypes: []string{"client_credentials"},
				})
			}
		}
	}
	for _, backend := range servertest.Backends() {
		b.Run(backend, func(b *testing.B) {
			e := servertest.New(b, backend, addRS256JWT)
			h := e.Server.Handler()
			form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			token := func(v url.Values) *benchReq {
				return newBenchReq("POST", servertest.EIAMHost, "/api/v1/oauth2/token", form, v.Encode())
			}

			// A browser session, to get codes from the authorization endpoint.
			br := e.NewBrowser()
			verifier := "bench-verifier-0123456789-0123456789-0123456789"
			challenge := "97Zj-g7YTE4g4dDZiilunI1wyoTNGgfDOzmh048JNqA" // S256 of verifier
			auth := url.Values{"response_type": {"code"}, "client_id": {"acme-web"}, "redirect_uri": {"http://app.test/callback"},
				"scope": {"openid profile"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			authURL := e.URL(servertest.EIAMHost, "/api/v1/oauth2/authorize?"+auth.Encode())
			first := br.Login(authURL, "alice", servertest.Password)
			if first.Location == nil || first.Location.Query().Get("code") == "" {
				b.Fatalf("login: %d %s", first.Status, first.Body)
			}
			cookies := br.Client.Jar.Cookies(&url.URL{Scheme: "http", Host: servertest.EIAMHost + ":" + e.Port})
			newCode := func() string {
				req := httptest.NewRequest("GET", "/api/v1/oauth2/authorize?"+auth.Encode(), nil)
				req.Host = servertest.EIAMHost
				for _, c := range cookies {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				loc, err := url.Parse(rec.Header().Get("Location"))
				if rec.Code != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
					b.Fatalf("authorize: %d %s", rec.Code, rec.Body)
				}
				return loc.Query().Get("code")
			}

			b.Run("authorization_code", func(b *testing.B) {
				v := url.Values{"grant_type": {"authorization_code"}, "client_id": {"acme-web"}, "client_secret": {servertest.Secret},
					"redirect_uri": {"http://app.test/callback"}, "code_verifier": {verifier}}
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					v.Set("code", newCode())
					req := token(v)
					b.StartTimer()
					req.serve(b, h)
				}
			})
			b.Run("refresh_token", func(b *testing.B) {
				v := url.Values{"grant_type": {"authorization_code"}, "client_id": {"acme-web"}, "client_secret": {servertest.Secret},
					"redirect_uri": {"http://app.test/callback"}, "code_verifier": {verifier}, "code": {newCode()}}
				rt := benchField(b, token(v).serve(b, h).Body.Bytes(), "refresh_token")
				rv := url.Values{"grant_type": {"refresh_token"}, "client_id": {"acme-web"}, "client_secret": {servertest.Secret}}
				b.ReportAllocs()
				for b.Loop() {
					rv.Set("refresh_token", rt)
					rt = benchField(b, token(rv).serve(b, h).Body.Bytes(), "refresh_token")
				}
			})
			for _, cc := range []struct{ name, client string }{
				{"client_credentials/opaque", "acme-web"},
				{"client_credentials/jwt-rs256", "acme-jwt-rs256"},
				{"client_credentials/jwt-es256", "acme-jwt"},
			} {
				b.Run(cc.name, func(b *testing.B) {
					req := token(url.Values{"grant_type": {"client_credentials"}, "client_id": {cc.client}, "client_secret": {servertest.Secret}})
					b.ReportAllocs()
					for b.Loop() {
						req.serve(b, h)
					}
				})
			}
		})
	}
}
