package server_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

func TestTenantToken(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		formCT := headers("Content-Type", "application/x-www-form-urlencoded")
		basic := func(id, secret string) http.Header {
			h := headers("Content-Type", "application/x-www-form-urlencoded")
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
			return h
		}
		url := e.URL(st.EIAMHost, "/api/v2/tenant/token")
		for name, r := range map[string]st.Response{
			"form":  e.Do("POST", url, formCT, form("grant_type", "client_credentials", "client_id", "acme-portal", "client_secret", st.Secret)),
			"basic": e.Do("POST", url, basic("acme-portal", st.Secret), "grant_type=client_credentials"),
		} {
			if r.Status != 200 || len(r.Str("access_token")) < 22 || r.Str("token_type") != "bearer" || r.Num("expires_in") != 1800 || r.Str("scope") != "all" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
			if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
				t.Errorf("%s: token response may be cached", name)
			}
		}
		// Each call gives a new token; the earlier one stays valid.
		a, b := e.TenantToken(st.EIAMHost, "acme-portal"), e.TenantToken(st.EIAMHost, "acme-portal")
		if a == b {
			t.Fatal("two calls gave the same token")
		}
		for _, test := range []struct {
			name   string
			host   string
			h      http.Header
			body   string
			status int
			code   string
		}{
			{"wrong secret", st.EIAMHost, formCT, form("grant_type", "client_credentials", "client_id", "acme-portal", "client_secret", "wrong-secret-0123456"), 401, "invalid_client"},
			{"wrong basic secret", st.EIAMHost, basic("acme-portal", "nope"), "grant_type=client_credentials", 401, "invalid_client"},
			{"unknown client", st.EIAMHost, formCT, form("grant_type", "client_credentials", "client_id", "nope", "client_secret", st.Secret), 401, "invalid_client"},
			{"client of another tenant", st.EIAMHost, formCT, form("grant_type", "client_credentials", "client_id", "shop-portal", "client_secret", st.Secret), 401, "invalid_client"},
			{"unknown host", "nowhere.test", formCT, form("grant_type", "client_credentials", "client_id", "acme-portal", "client_secret", st.Secret), 401, "invalid_client"},
			{"no credentials", st.EIAMHost, formCT, "grant_type=client_credentials", 401, "invalid_client"},
			{"public client", st.EIAMHost, formCT, form("grant_type", "client_credentials", "client_id", "acme-public"), 400, "unauthorized_client"},
			{"grant not allowed", st.EIAMHost, formCT, form("grant_type", "client_credentials", "client_id", "acme-unbound", "client_secret", st.Secret), 200, ""},
			{"missing grant type", st.EIAMHost, formCT, form("client_id", "acme-portal", "client_secret", st.Secret), 400, "invalid_request"},
			{"unsupported grant type", st.EIAMHost, formCT, form("grant_type", "password", "client_id", "acme-portal", "client_secret", st.Secret), 400, "unsupported_grant_type"},
			{"two authentication methods", st.EIAMHost, basic("acme-portal", st.Secret), form("grant_type", "client_credentials", "client_secret", st.Secret), 400, "invalid_request"},
			{"repeated parameter", st.EIAMHost, formCT, form("grant_type", "client_credentials", "grant_type", "client_credentials", "client_id", "acme-portal", "client_secret", st.Secret), 400, "invalid_request"},
			{"json body", st.EIAMHost, headers("Content-Type", "application/json"), `{"grant_type":"client_credentials"}`, 400, "invalid_request"},
			{"oversized body", st.EIAMHost, formCT, "grant_type=client_credentials&x=" + strings.Repeat("a", 70000), 400, "invalid_request"},
			// Found by fuzzing: invalid UTF-8 or NUL must not reach PostgreSQL.
			{"invalid UTF-8 client id", st.EIAMHost, formCT, "grant_type=client_credentials&client_id=%FF&client_secret=" + st.Secret, 401, "invalid_client"},
			{"NUL in client id", st.EIAMHost, formCT, "grant_type=client_credentials&client_id=a%00b&client_secret=" + st.Secret, 401, "invalid_client"},
			{"invalid UTF-8 basic id", st.EIAMHost, headers("Content-Type", "application/x-www-form-urlencoded", "Authorization", "BAsiC 0006"), "grant_type=client_credentials", 401, "invalid_client"},
		} {
			t.Run(test.name, func(t *testing.T) {
				r := e.Do("POST", e.URL(test.host, "/api/v2/tenant/token"), test.h, test.body)
				if test.status == 200 {
					// Apps declared with a secret and no grant types get
					// authorization_code and client_credentials.
					if r.Status != 200 {
						t.Fatalf("got %d %s", r.Status, r.Body)
					}
					return
				}
				wantOAuthError(t, r, test.status, test.code)
				if test.status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("401 without WWW-Authenticate: %q", r.Header.Get("WWW-Authenticate"))
				}
				if strings.Contains(string(r.Body), st.Secret) {
					t.Error("the answer echoes the client secret")
				}
			})
		}
	})
}

func refreshBody(token, fingerprint string) string {
	return `{"session_token":"` + token + `","operating_sys_version":"windows10.1.1","device_ip":"192.168.1.1","device_fingerprint":"` + fingerprint + `","agent":"agent:Mozilla/5.0"}`
}

func TestTenantRefreshAndTickets(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		e.Clock.Advance(time.Hour)
		bearer := e.TenantToken(st.EIAMHost, "acme-portal")
		auth := headers("Authorization", "Bearer "+bearer, "Content-Type", "application/json")
		refresh := func(h http.Header, host, body string) st.Response {
			return e.Do("POST", e.URL(host, "/api/v2/tenant/sso/session-token/refresh"), h, body)
		}
		r := refresh(auth, st.EIAMHost, refreshBody(tok, st.Device))
		next := r.Str("session_token")
		if r.Status != 200 || next == "" || next == tok || r.Num("expire") != 604800 {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		// The old token follows the grace rule of contract §2.2.
		if r := refresh(auth, st.EIAMHost, refreshBody(tok, st.Device)); r.Str("session_token") != next {
			t.Fatalf("retry within grace: %d %s", r.Status, r.Body)
		}
		if r := e.Exchange(st.EIAMHost, "acme-portal", next); r.Status != 200 || r.Str("session_token") != next {
			t.Fatalf("exchange of the refreshed token: %d %s", r.Status, r.Body)
		}
		e.Clock.Advance(31 * time.Second)
		wantError(t, refresh(auth, st.EIAMHost, refreshBody(tok, st.Device)), 400, "SDK.COMMON.1006", "")

		// Bearer failures: vendor-compatible 400 invalid_token "Invalid access".
		for name, h := range map[string]http.Header{
			"missing":      headers("Content-Type", "application/json"),
			"unknown":      headers("Authorization", "Bearer nope", "Content-Type", "application/json"),
			"basic scheme": headers("Authorization", "Basic "+bearer, "Content-Type", "application/json"),
		} {
			r := refresh(h, st.EIAMHost, refreshBody(next, st.Device))
			wantOAuthError(t, r, 400, "invalid_token")
			if r.Str("error_description") != "Invalid access" {
				t.Errorf("%s: %s", name, r.Body)
			}
		}
		// A token of one tenant is nothing on another.
		wantOAuthError(t, refresh(auth, st.CIAMHost, refreshBody(next, st.Device)), 400, "invalid_token")
		// A bearer token of tenant shop cannot refresh acme's sessions.
		shopAuth := headers("Authorization", "Bearer "+e.TenantToken(st.CIAMHost, "shop-portal"), "Content-Type", "application/json")
		wantError(t, refresh(shopAuth, st.CIAMHost, refreshBody(next, st.Device)), 400, "IDAAS.SDK.PARAM.0023", "")

		// Body errors in the tenant's dialect.
		wantError(t, refresh(auth, st.EIAMHost, refreshBody(next, "other-device")), 400, "SDK.COMMON.1006", "session_token parameter error")
		wantError(t, refresh(auth, st.EIAMHost, `{"session_token":"`+next+`","operating_sys_version":"x","device_fingerprint":"`+st.Device+`"}`), 400, "SDK.COMMON.1001", "Parameter device_ip cannot be empty")
		wantError(t, refresh(auth, st.EIAMHost, `{"operating_sys_version":"x"}`), 400, "SDK.COMMON.1001", "Parameter session_token cannot be empty")
		wantError(t, refresh(shopAuth, st.CIAMHost, `{"operating_sys_version":"x"}`), 400, "IDAAS.SDK.PARAM.0022", "Session token cannot be empty")
		wantError(t, refresh(auth, st.EIAMHost, "not json"), 400, "SDK.COMMON.1002", "")
		wantError(t, refresh(headers("Authorization", "Bearer "+bearer, "Content-Type", "text/plain"), st.EIAMHost, refreshBody(next, st.Device)), 400, "SDK.COMMON.1002", "Parameter Content-Type format is incorrect")

		// SSO ticket: issued from a session, redeemed exactly once.
		r = e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/sso-ticket"), auth, refreshBody(next, st.Device))
		ticket := r.Str("sso_ticket")
		if r.Status != 200 || ticket == "" || r.Num("expire") != 300 {
			t.Fatalf("sso ticket: %d %s", r.Status, r.Body)
		}
		verify := func(host string, h http.Header, ticket string) st.Response {
			return e.Do("POST", e.URL(host, "/api/v2/tenant/sso/sso-ticket/verify"), h,
				`{"sso_ticket":"`+ticket+`","operating_sys_version":"windows10.1.1","device_ip":"192.168.1.1","device_fingerprint":"`+st.Device+`"}`)
		}
		// Not on another tenant, and a failed try there does not spend it.
		wantError(t, verify(st.CIAMHost, shopAuth, ticket), 400, "IDAAS.SDK.PARAM.0005", "")
		r = verify(st.EIAMHost, auth, ticket)
		if r.Status != 200 || r.Str("code") != "0" || r.Str("message") != "success" {
			t.Fatalf("verify: %d %s", r.Status, r.Body)
		}
		user := r.JSON["data"].(map[string]any)["user"].(map[string]any)
		if user["userName"] != "alice" || user["name"] != "Alice Liddell" || user["email"] != "alice@example.com" || user["mobile"] != "+86-13800000000" || user["id"] == "" {
			t.Fatalf("user %v", user)
		}
		wantError(t, verify(st.EIAMHost, auth, ticket), 400, "SDK.COMMON.1006", "sso_ticket parameter error")
		// Tickets live 300 s.
		r = e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/sso-ticket"), auth, refreshBody(next, st.Device))
		e.Clock.Advance(301 * time.Second)
		wantError(t, verify(st.EIAMHost, auth, r.Str("sso_ticket")), 400, "SDK.COMMON.1006", "")
		// No ticket for an invalid session.
		wantError(t, e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/sso-ticket"), auth, refreshBody("nope", st.Device)), 400, "SDK.COMMON.1006", "")

		// Access tokens expire after 1800 s.
		e.Clock.Advance(1800 * time.Second)
		wantOAuthError(t, refresh(auth, st.EIAMHost, refreshBody(next, st.Device)), 400, "invalid_token")
	})
}

// TestTenantAPIAcceptsJWTAccessTokens: an application configured with
// access_token_format jwt gets RFC 9068 tokens from the tenant token
// endpoint, and the tenant API accepts them like opaque ones, until they
// are revoked.
func TestTenantAPIAcceptsJWTAccessTokens(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		bearer := e.TenantToken(st.EIAMHost, "acme-jwt")
		if strings.Count(bearer, ".") != 2 {
			t.Fatalf("acme-jwt got a non-JWT access token %q", bearer)
		}
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		auth := headers("Authorization", "Bearer "+bearer, "Content-Type", "application/json")
		r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/refresh"), auth, refreshBody(tok, st.Device))
		if r.Status != 200 || r.Str("session_token") == "" {
			t.Fatalf("refresh with a JWT bearer: %d %s", r.Status, r.Body)
		}
		// A tampered JWT is refused.
		tampered := bearer[:len(bearer)-4] + "AAAA"
		wantOAuthError(t, e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/refresh"),
			headers("Authorization", "Bearer "+tampered, "Content-Type", "application/json"), refreshBody(r.Str("session_token"), st.Device)), 400, "invalid_token")
		// Revoked through RFC 7009, it stops working on the tenant API too.
		rev := e.Do("POST", e.URL(st.EIAMHost, "/api/v1/oauth2/revoke"), headers("Content-Type", "application/x-www-form-urlencoded"),
			form("token", bearer, "client_id", "acme-jwt", "client_secret", st.Secret))
		if rev.Status != 200 {
			t.Fatalf("revoke: %d %s", rev.Status, rev.Body)
		}
		wantOAuthError(t, e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/refresh"), auth, refreshBody(r.Str("session_token"), st.Device)), 400, "invalid_token")
	})
}
