package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// The negative table of RFC 6749 and RFC 9700 for every endpoint of the
// OAuth 2.0 / OpenID Connect provider (contract §4). Every refused request
// gets the RFC's answer, and nothing is issued: no code reaches a redirect
// URI, no token is returned, and where a leak is detected (a replayed code,
// a reused refresh token) what was issued before is revoked.

const (
	negWebRedirect  = "http://app.test/callback"
	negWeb2Redirect = "http://app2.test/callback"
	negSPARedirect  = "http://spa.test/cb"
)

// negParams returns the parameters of a valid authorization request.
func negParams(client, redirect string, kv ...string) url.Values {
	v := url.Values{
		"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func negAuthorizeURL(e *st.Env, host string, v url.Values) string {
	return e.URL(host, "/api/v1/oauth2/authorize") + "?" + v.Encode()
}

// negSignIn returns a browser with a session of user on host, signed in
// through the hosted login page of client.
func negSignIn(t *testing.T, e *st.Env, host, client, redirect, user string) *st.Browser {
	t.Helper()
	b := e.NewBrowser()
	p := b.Login(negAuthorizeURL(e, host, negParams(client, redirect)), user, st.Password)
	if !p.Redirected() || p.Location == nil || p.Location.Query().Get("code") == "" {
		t.Fatalf("sign-in of %s on %s: %d %v %.300s", user, host, p.Status, p.Location, p.Body)
	}
	return b
}

// negCode has b, which has a session, authorize client and returns the
// code of the redirect.
func negCode(t *testing.T, e *st.Env, b *st.Browser, host, client, redirect string, kv ...string) string {
	t.Helper()
	p := b.Get(negAuthorizeURL(e, host, negParams(client, redirect, kv...)))
	if !p.Redirected() || p.Location == nil || p.Location.Query().Get("code") == "" {
		t.Fatalf("authorize %s: %d %v %.300s", client, p.Status, p.Location, p.Body)
	}
	return p.Location.Query().Get("code")
}

// negPost posts a form (with its values escaped) to an endpoint.
func negPost(e *st.Env, host, path string, h http.Header, v url.Values) st.Response {
	e.T.Helper()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return e.Do("POST", e.URL(host, path), h, v.Encode())
}

// negVals builds url.Values from pairs; an empty value leaves the key out.
func negVals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func negBasic(id, secret string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	return h
}

// negRedeem redeems a code with client_secret_post (no secret for a
// public client).
func negRedeem(e *st.Env, host, client, secret, redirect, code, verifier string) st.Response {
	e.T.Helper()
	return negPost(e, host, "/api/v1/oauth2/token", nil, negVals("grant_type", "authorization_code", "code", code,
		"redirect_uri", redirect, "client_id", client, "client_secret", secret, "code_verifier", verifier))
}

func negRefresh(e *st.Env, host, client, secret, rt string, kv ...string) st.Response {
	e.T.Helper()
	v := negVals("grant_type", "refresh_token", "refresh_token", rt, "client_id", client, "client_secret", secret)
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return negPost(e, host, "/api/v1/oauth2/token", nil, v)
}

func negUserinfo(e *st.Env, host, token string) st.Response {
	e.T.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return e.Do("GET", e.URL(host, "/api/v1/oauth2/userinfo"), h, "")
}

func negIntrospect(e *st.Env, host, client, secret, token string) st.Response {
	e.T.Helper()
	return negPost(e, host, "/api/v1/oauth2/introspect", nil, negVals("token", token, "client_id", client, "client_secret", secret))
}

func negRevoke(e *st.Env, host, client, secret, token string) st.Response {
	e.T.Helper()
	return negPost(e, host, "/api/v1/oauth2/revoke", nil, negVals("token", token, "client_id", client, "client_secret", secret))
}

// negTokens is a successful token answer.
type negTokens struct{ access, refresh, id string }

func negWantTokens(t *testing.T, r st.Response) negTokens {
	t.Helper()
	if r.Status != http.StatusOK || r.Str("access_token") == "" || r.Str("token_type") != "Bearer" {
		t.Fatalf("want tokens, got %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
		t.Fatalf("token answer Cache-Control %q Pragma %q", r.Header.Get("Cache-Control"), r.Header.Get("Pragma"))
	}
	return negTokens{r.Str("access_token"), r.Str("refresh_token"), r.Str("id_token")}
}

// negWantRefused checks an OAuth error answer that issued nothing.
func negWantRefused(t *testing.T, r st.Response, status int, code string) {
	t.Helper()
	wantOAuthError(t, r, status, code)
	for _, k := range []string{"access_token", "refresh_token", "id_token", "active"} {
		if _, ok := r.JSON[k]; ok {
			t.Fatalf("an error answer carries %s: %s", k, r.Body)
		}
	}
	if status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("401 without WWW-Authenticate: %s", r.Body)
	}
}

// negWantBearerError checks an RFC 6750 §3.1 answer.
func negWantBearerError(t *testing.T, r st.Response, status int, code string) {
	t.Helper()
	negWantRefused(t, r, status, code)
	if wa := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="`+code+`"`) {
		t.Fatalf("WWW-Authenticate %q, want Bearer with error=%q", wa, code)
	}
	if _, ok := r.JSON["sub"]; ok {
		t.Fatalf("claims in an error answer: %s", r.Body)
	}
}

func negActive(t *testing.T, r st.Response) bool {
	t.Helper()
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("introspection: %d %s (Cache-Control %q)", r.Status, r.Body, r.Header.Get("Cache-Control"))
	}
	active, ok := r.JSON["active"].(bool)
	if !ok {
		t.Fatalf("introspection without active: %s", r.Body)
	}
	if !active && len(r.JSON) != 1 {
		t.Fatalf("an inactive token's introspection says more than active=false: %s", r.Body)
	}
	return active
}

// negWantPage checks an HTML error page: never a redirect, no code.
func negWantPage(t *testing.T, p st.Page, status int) {
	t.Helper()
	if p.Status != status || p.Location != nil || p.Header.Get("Location") != "" {
		t.Fatalf("want a %d page, got %d Location %v: %.300s", status, p.Status, p.Location, p.Body)
	}
	if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("error page Content-Type %q", p.Header.Get("Content-Type"))
	}
	if strings.Contains(p.Body, `name="code"`) || strings.Contains(p.Body, "code=") {
		t.Fatalf("error page carries a code: %.300s", p.Body)
	}
	for _, c := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "sesame_session=") && !strings.Contains(c, "Max-Age=0") {
			t.Fatalf("error page sets a session cookie: %s", c)
		}
	}
	negWantPageHeaders(t, p.Header)
}

// negSessionCookie returns the value of b's session cookie on host.
func negSessionCookie(t *testing.T, e *st.Env, b *st.Browser, host string) string {
	t.Helper()
	u, _ := url.Parse(e.URL(host, "/"))
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == "sesame_session" && c.Value != "" {
			return c.Value
		}
	}
	t.Fatal("the browser has no session cookie")
	return ""
}

// negWantSessionEnded checks that a session cookie value no longer signs
// anyone in, whatever a browser keeps: a silent authorization request with
// it needs a login.
func negWantSessionEnded(t *testing.T, e *st.Env, host, cookie string) {
	t.Helper()
	r := e.Do("GET", negAuthorizeURL(e, host, negParams("acme-web", negWebRedirect, "prompt", "none")), headers("Cookie", "sesame_session="+cookie), "")
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.Status != http.StatusFound || loc == nil || loc.Query().Get("error") != "login_required" || loc.Query().Has("code") {
		t.Fatalf("the session still signs in: %d %s", r.Status, r.Header.Get("Location"))
	}
}

// negWantPageHeaders checks the headers every hosted page carries.
func negWantPageHeaders(t *testing.T, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "same-origin" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("page headers: CSP %q, X-Frame-Options %q, Referrer-Policy %q, Cache-Control %q",
			csp, h.Get("X-Frame-Options"), h.Get("Referrer-Policy"), h.Get("Cache-Control"))
	}
}

// negWantRedirectError checks an error sent back to the verified redirect
// URI (RFC 6749 §4.1.2.1): error, the state echoed (wantState "" means
// none), iss (RFC 9207) and no code.
func negWantRedirectError(t *testing.T, p st.Page, redirect, code, wantState, iss string) {
	t.Helper()
	if !p.Redirected() || p.Location == nil {
		t.Fatalf("want an error redirect, got %d: %.300s", p.Status, p.Body)
	}
	loc := *p.Location
	q := loc.Query()
	loc.RawQuery = ""
	if loc.String() != redirect {
		t.Fatalf("redirected to %s, want %s", p.Location, redirect)
	}
	if q.Get("error") != code || q.Has("code") || q.Get("iss") != iss {
		t.Fatalf("redirect %s: want error=%s, iss=%s and no code", p.Location, code, iss)
	}
	if q.Get("state") != wantState || (wantState == "" && q.Has("state")) {
		t.Fatalf("redirect %s: state %q, want %q", p.Location, q.Get("state"), wantState)
	}
	if p.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("redirect Cache-Control %q", p.Header.Get("Cache-Control"))
	}
}

// TestAuthorizeNegative: the authorization endpoint (RFC 6749 §4.1.2.1,
// RFC 9700 §4.1, §4.11, OIDC Core §3.1.2.6). The browser has a session,
// so a request that were wrongly accepted would get a code at once.
func TestAuthorizeNegative(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		b := negSignIn(t, e, st.EIAMHost, "acme-web", negWebRedirect, "alice")
		iss := e.Issuer(st.EIAMHost)
		chal := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
		long := strings.Repeat("s", 600)

		// Requests whose client or redirect URI cannot be trusted: an error
		// page, never a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2).
		pages := []struct {
			name   string
			host   string
			client string
			uri    string
			raw    string // a raw query instead of client and uri
			post   bool
			status int
		}{
			{name: "unregistered redirect_uri", uri: "http://evil.test/callback"},
			{name: "trailing slash", uri: "http://app.test/callback/"},
			{name: "extra query", uri: "http://app.test/callback?x=1"},
			{name: "empty query", uri: "http://app.test/callback?"},
			{name: "different case host", uri: "http://APP.test/callback"},
			{name: "different case scheme", uri: "HTTP://app.test/callback"},
			{name: "different case path", uri: "http://app.test/Callback"},
			{name: "path traversal", uri: "http://app.test/evil/../callback"},
			{name: "path traversal out", uri: "http://app.test/callback/../../evil"},
			{name: "encoded traversal", uri: "http://app.test/callback/..%2Fevil"},
			{name: "different port", uri: "http://app.test:8080/callback"},
			{name: "userinfo before evil host", uri: "http://app.test@evil.test/callback"},
			{name: "userinfo", uri: "http://user@app.test/callback"},
			{name: "fragment", uri: "http://app.test/callback#frag"},
			{name: "https instead of http", uri: "https://app.test/callback"},
			{name: "trailing dot host", uri: "http://app.test./callback"},
			{name: "another client's redirect_uri", uri: negWeb2Redirect},
			{name: "missing redirect_uri", uri: ""},
			{name: "javascript redirect_uri", uri: "javascript:alert(1)"},
			{name: "client without redirect URIs", client: "acme-portal"},
			{name: "unknown client_id", client: "nobody"},
			{name: "another tenant's client_id", client: "shop-web"},
			{name: "missing client_id", raw: "redirect_uri=" + url.QueryEscape(negWebRedirect) + "&response_type=code&scope=openid&state=s"},
			{name: "repeated client_id", raw: "client_id=acme-web&client_id=acme-web2&redirect_uri=" + url.QueryEscape(negWebRedirect) + "&response_type=code&scope=openid"},
			{name: "repeated redirect_uri", raw: "client_id=acme-web&redirect_uri=" + url.QueryEscape(negWebRedirect) + "&redirect_uri=http%3A%2F%2Fevil.test%2F&response_type=code&scope=openid"},
			{name: "repeated scope", raw: "client_id=acme-web&redirect_uri=" + url.QueryEscape(negWebRedirect) + "&response_type=code&scope=openid&scope=profile&state=s"},
			{name: "malformed query", raw: "client_id=acme-web&redirect_uri=%zz&response_type=code"},
			{name: "oversized parameter", raw: "client_id=acme-web&redirect_uri=" + url.QueryEscape(negWebRedirect) + "&response_type=code&scope=openid&state=" + strings.Repeat("x", 3000)},
			{name: "unregistered redirect_uri by POST", uri: "http://evil.test/callback", post: true},
			{name: "unknown tenant", host: "nowhere.test", status: http.StatusNotFound},
		}
		for _, c := range pages {
			t.Run("page/"+c.name, func(t *testing.T) {
				host, client, status := st.EIAMHost, "acme-web", http.StatusBadRequest
				if c.host != "" {
					host = c.host
				}
				if c.client != "" {
					client = c.client
				}
				if c.status != 0 {
					status = c.status
				}
				uri := c.uri
				if c.client != "" && uri == "" {
					uri = negWebRedirect
				}
				query := c.raw
				if query == "" {
					v := negParams(client, uri)
					if uri == "" {
						v.Del("redirect_uri")
					}
					query = v.Encode()
				}
				var p st.Page
				if c.post {
					vals, _ := url.ParseQuery(query)
					p = b.Post(e.URL(host, "/api/v1/oauth2/authorize"), vals)
				} else {
					p = b.Get(e.URL(host, "/api/v1/oauth2/authorize") + "?" + query)
				}
				negWantPage(t, p, status)
			})
		}

		// Errors after the client and redirect URI are verified go back to
		// the client, with state and iss, and never with a code.
		redirects := []struct {
			name     string
			client   string
			redirect string
			kv       []string
			drop     string // a parameter to leave out
			fresh    bool   // a browser without a session
			err      string
			state    string // the state expected back; "-" for none
		}{
			{name: "missing response_type", drop: "response_type", err: "invalid_request"},
			{name: "response_type token", kv: []string{"response_type", "token"}, err: "unsupported_response_type"},
			{name: "response_type id_token", kv: []string{"response_type", "id_token"}, err: "unsupported_response_type"},
			{name: "response_type code id_token", kv: []string{"response_type", "code id_token"}, err: "unsupported_response_type"},
			{name: "response_type code token", kv: []string{"response_type", "code token"}, err: "unsupported_response_type"},
			{name: "scope admin", kv: []string{"scope", "admin"}, err: "invalid_scope"},
			{name: "scope openid admin", kv: []string{"scope", "openid admin"}, err: "invalid_scope"},
			{name: "scope all (tenant API only)", kv: []string{"scope", "openid all"}, err: "invalid_scope"},
			{name: "empty scope", kv: []string{"scope", ""}, err: "invalid_scope"},
			{name: "missing scope", drop: "scope", err: "invalid_scope"},
			{name: "code_challenge_method plain", kv: []string{"code_challenge", chal, "code_challenge_method", "plain"}, err: "invalid_request"},
			{name: "code_challenge without method (plain)", kv: []string{"code_challenge", chal}, err: "invalid_request"},
			{name: "code_challenge_method without challenge", kv: []string{"code_challenge_method", "S256"}, err: "invalid_request"},
			{name: "code_challenge_method lower case", kv: []string{"code_challenge", chal, "code_challenge_method", "s256"}, err: "invalid_request"},
			{name: "code_challenge too short", kv: []string{"code_challenge", "abc", "code_challenge_method", "S256"}, err: "invalid_request"},
			{name: "code_challenge bad characters", kv: []string{"code_challenge", strings.Repeat("+", 43), "code_challenge_method", "S256"}, err: "invalid_request"},
			{name: "code_challenge too long", kv: []string{"code_challenge", strings.Repeat("a", 129), "code_challenge_method", "S256"}, err: "invalid_request"},
			{name: "public client without PKCE", client: "acme-spa", redirect: negSPARedirect, err: "invalid_request"},
			{name: "public client without PKCE, native redirect", client: "acme-spa", redirect: "com.example.app:/cb", err: "invalid_request"},
			{name: "public client with plain PKCE", client: "acme-spa", redirect: negSPARedirect, kv: []string{"code_challenge", chal, "code_challenge_method", "plain"}, err: "invalid_request"},
			{name: "response_mode fragment", kv: []string{"response_mode", "fragment"}, err: "invalid_request"},
			{name: "response_mode unknown", kv: []string{"response_mode", "web_message"}, err: "invalid_request"},
			{name: "response_mode form_post to a native redirect", client: "acme-spa", redirect: "com.example.app:/cb", kv: []string{"response_mode", "form_post", "code_challenge", chal, "code_challenge_method", "S256"}, err: "invalid_request"},
			{name: "prompt none with login", kv: []string{"prompt", "none login"}, err: "invalid_request"},
			{name: "max_age negative", kv: []string{"max_age", "-1"}, err: "invalid_request"},
			{name: "max_age not a number", kv: []string{"max_age", "1h"}, err: "invalid_request"},
			{name: "oversized state is not echoed", kv: []string{"state", long}, err: "invalid_request", state: "-"},
			{name: "oversized state with bad response_mode is not echoed", kv: []string{"state", long, "response_mode", "fragment"}, err: "invalid_request", state: "-"},
			// RFC 6749 §4.1.2.1: a valid state comes back with the error.
			{name: "oversized nonce, the state comes back", kv: []string{"nonce", long}, err: "invalid_request"},
			{name: "prompt none without a session", kv: []string{"prompt", "none"}, fresh: true, err: "login_required"},
			{name: "prompt none, session too old for max_age", kv: []string{"prompt", "none", "max_age", "0"}, err: "login_required"},
			{name: "request object", kv: []string{"request", "eyJhbGciOiJub25lIn0.eyJyZWRpcmVjdF91cmkiOiJodHRwOi8vZXZpbC50ZXN0LyJ9."}, err: "request_not_supported"},
			{name: "request_uri", kv: []string{"request_uri", "https://evil.test/request.jwt"}, err: "request_uri_not_supported"},
			{name: "client without the code grant", client: "acme-nogrant-code", redirect: "http://app3.test/callback", err: "unauthorized_client"},
		}
		for _, c := range redirects {
			t.Run("redirect/"+c.name, func(t *testing.T) {
				client, redirect := "acme-web", negWebRedirect
				if c.client != "" {
					client, redirect = c.client, c.redirect
				}
				v := negParams(client, redirect, c.kv...)
				if c.drop != "" {
					v.Del(c.drop)
				}
				br := b
				if c.fresh {
					br = e.NewBrowser()
				}
				state := v.Get("state")
				if c.state == "-" {
					state = ""
				}
				negWantRedirectError(t, br.Get(negAuthorizeURL(e, st.EIAMHost, v)), redirect, c.err, state, iss)
			})
		}

		t.Run("discovery says request objects are not supported", func(t *testing.T) {
			r := e.Do("GET", iss+"/.well-known/openid-configuration", nil, "")
			if r.JSON["request_uri_parameter_supported"] != false || r.JSON["request_parameter_supported"] != false {
				t.Fatalf("discovery: %s", r.Body)
			}
		})

		// The session is usable: a valid request gets a code at once (the
		// control of the rows above).
		t.Run("control/valid request gets a code", func(t *testing.T) {
			negCode(t, e, b, st.EIAMHost, "acme-web", negWebRedirect, "prompt", "none")
			negCode(t, e, b, st.EIAMHost, "acme-spa", "com.example.app:/cb", "code_challenge", chal, "code_challenge_method", "S256")
		})

		// response_mode=form_post (OAuth 2.0 Form Post Response Mode): the
		// code is in an auto-submitting form posted to the redirect URI,
		// which the CSP's form-action allows; nothing is in a URL.
		t.Run("form_post delivers the code in a form", func(t *testing.T) {
			p := b.Get(negAuthorizeURL(e, st.EIAMHost, negParams("acme-web", negWebRedirect, "response_mode", "form_post", "state", "fp-1")))
			if p.Status != http.StatusOK || p.Location != nil || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("form_post: %d %v %s", p.Status, p.Location, p.Header.Get("Content-Type"))
			}
			negWantPageHeaders(t, p.Header)
			csp := p.Header.Get("Content-Security-Policy")
			if !regexp.MustCompile(`form-action [^;]*http://app\.test(;| )`).MatchString(csp) {
				t.Fatalf("CSP form-action does not allow the redirect URI: %s", csp)
			}
			nonce := regexp.MustCompile(`script-src 'nonce-([^']+)'`).FindStringSubmatch(csp)
			if nonce == nil || !strings.Contains(p.Body, `<script nonce="`+nonce[1]+`">document.forms[0].submit();</script>`) {
				t.Fatalf("no auto-submitting script allowed by the CSP: %s / %.600s", csp, p.Body)
			}
			action, fields, ok := p.Form()
			if !ok || action != negWebRedirect || fields.Get("code") == "" || fields.Get("state") != "fp-1" || fields.Get("iss") != iss {
				t.Fatalf("form_post form: %q %v", action, fields)
			}
			negWantTokens(t, negRedeem(e, st.EIAMHost, "acme-web", st.Secret, negWebRedirect, fields.Get("code"), ""))

			// An error is posted the same way, without a code.
			p = b.Get(negAuthorizeURL(e, st.EIAMHost, negParams("acme-web", negWebRedirect, "response_mode", "form_post", "scope", "admin")))
			action, fields, ok = p.Form()
			if p.Status != http.StatusOK || !ok || action != negWebRedirect || fields.Get("error") != "invalid_scope" || fields.Has("code") || fields.Get("state") != "st-1" {
				t.Fatalf("form_post error: %d %q %v", p.Status, action, fields)
			}
		})
	}, func(c *config.Config) {
		negAddApp(c, "acme", config.Application{ClientID: "acme-nogrant-code", ClientSecret: st.Secret,
			RedirectURIs: []string{"http://app3.test/callback"}, GrantTypes: []string{"client_credentials"}})
	})
}

// negAddApp adds an application to a fixture tenant.
func negAddApp(c *config.Config, tenant string, app config.Application) {
	for i := range c.Bootstrap.Tenants {
		if c.Bootstrap.Tenants[i].ID == tenant {
			c.Bootstrap.Tenants[i].Applications = append(c.Bootstrap.Tenants[i].Applications, app)
		}
	}
}

// TestTokenEndpointNegative: the token endpoint for the authorization_code
// and client_credentials grants and the endpoint's own rules (RFC 6749
// §3.2, §4.1.3, §4.4, §5.2, RFC 7636 §4.6, RFC 9700 §2.1.1, §4.8.2).
func TestTokenEndpointNegative(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const host = st.EIAMHost
		b := negSignIn(t, e, host, "acme-web", negWebRedirect, "alice")
		shop := negSignIn(t, e, st.CIAMHost, "shop-web", negWebRedirect, "alice")
		verifier := oauth2.GenerateVerifier()
		chal := oauth2.S256ChallengeFromVerifier(verifier)
		pkceCode := func() string {
			return negCode(t, e, b, host, "acme-web", negWebRedirect, "code_challenge", chal, "code_challenge_method", "S256")
		}
		plainCode := func() string { return negCode(t, e, b, host, "acme-web", negWebRedirect) }
		codeForm := func(code string, kv ...string) url.Values {
			v := negVals("grant_type", "authorization_code", "code", code, "redirect_uri", negWebRedirect,
				"client_id", "acme-web", "client_secret", st.Secret)
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == "" {
					v.Del(kv[i])
				} else {
					v.Set(kv[i], kv[i+1])
				}
			}
			return v
		}
		ccForm := func(client, secret string, kv ...string) url.Values {
			return negVals(append([]string{"grant_type", "client_credentials", "client_id", client, "client_secret", secret}, kv...)...)
		}

		cases := []struct {
			name   string
			req    func() (http.Header, url.Values)
			path   string // "" for the token endpoint
			status int
			err    string
		}{
			// authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6).
			{"pkce verifier missing", func() (http.Header, url.Values) { return nil, codeForm(pkceCode()) }, "", 400, "invalid_grant"},
			{"pkce verifier wrong", func() (http.Header, url.Values) {
				return nil, codeForm(pkceCode(), "code_verifier", oauth2.GenerateVerifier())
			}, "", 400, "invalid_grant"},
			{"pkce verifier is the challenge", func() (http.Header, url.Values) { return nil, codeForm(pkceCode(), "code_verifier", chal) }, "", 400, "invalid_grant"},
			{"pkce verifier malformed", func() (http.Header, url.Values) { return nil, codeForm(pkceCode(), "code_verifier", "short") }, "", 400, "invalid_grant"},
			{"pkce downgrade: verifier without challenge", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "code_verifier", verifier)
			}, "", 400, "invalid_grant"},
			{"code of another client", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "client_id", "acme-web2")
			}, "", 400, "invalid_grant"},
			{"code of a confidential client, public client", func() (http.Header, url.Values) {
				return nil, codeForm(pkceCode(), "client_id", "acme-spa", "client_secret", "", "code_verifier", verifier)
			}, "", 400, "invalid_grant"},
			{"code of another tenant", func() (http.Header, url.Values) {
				return nil, codeForm(negCode(t, e, shop, st.CIAMHost, "shop-web", negWebRedirect))
			}, "", 400, "invalid_grant"},
			{"wrong redirect_uri", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "redirect_uri", negWeb2Redirect)
			}, "", 400, "invalid_grant"},
			{"redirect_uri with trailing slash", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "redirect_uri", negWebRedirect+"/")
			}, "", 400, "invalid_grant"},
			{"missing redirect_uri", func() (http.Header, url.Values) { return nil, codeForm(plainCode(), "redirect_uri", "") }, "", 400, "invalid_grant"},
			{"missing code", func() (http.Header, url.Values) { return nil, codeForm("") }, "", 400, "invalid_request"},
			{"unknown code", func() (http.Header, url.Values) { return nil, codeForm("not-a-code") }, "", 400, "invalid_grant"},
			// Client authentication (RFC 6749 §2.3, §5.2).
			{"wrong client secret (post)", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "client_secret", "wrong-secret-0123456789")
			}, "", 401, "invalid_client"},
			{"wrong client secret (basic)", func() (http.Header, url.Values) {
				return negBasic("acme-web", "wrong-secret-0123456789"), codeForm(plainCode(), "client_id", "", "client_secret", "")
			}, "", 401, "invalid_client"},
			{"empty secret via basic", func() (http.Header, url.Values) {
				return negBasic("acme-web", ""), codeForm(plainCode(), "client_id", "", "client_secret", "")
			}, "", 401, "invalid_client"},
			{"unknown client", func() (http.Header, url.Values) { return nil, codeForm(plainCode(), "client_id", "nobody") }, "", 401, "invalid_client"},
			{"no client authentication", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "client_id", "", "client_secret", "")
			}, "", 401, "invalid_client"},
			{"confidential client without its secret", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "client_secret", "")
			}, "", 401, "invalid_client"},
			{"both basic and form secret", func() (http.Header, url.Values) {
				return negBasic("acme-web", st.Secret), codeForm(plainCode())
			}, "", 400, "invalid_request"},
			{"basic and a different form client_id", func() (http.Header, url.Values) {
				return negBasic("acme-web", st.Secret), codeForm(plainCode(), "client_id", "acme-web2", "client_secret", "")
			}, "", 400, "invalid_request"},
			{"public client via client_secret_basic", func() (http.Header, url.Values) {
				return negBasic("acme-spa", ""), codeForm(pkceCode(), "client_id", "", "client_secret", "", "code_verifier", verifier)
			}, "", 401, "invalid_client"},
			{"public client with a secret", func() (http.Header, url.Values) {
				return nil, codeForm(pkceCode(), "client_id", "acme-spa", "code_verifier", verifier)
			}, "", 401, "invalid_client"},
			{"bearer scheme instead of client auth", func() (http.Header, url.Values) {
				return headers("Authorization", "Bearer abc"), codeForm(plainCode(), "client_secret", "")
			}, "", 401, "invalid_client"},
			// Client assertions (RFC 7523 private_key_jwt) are not supported:
			// refused with invalid_client (RFC 7521 §4.2.1), never ignored in
			// favour of the other credentials (found by FuzzClientRequest).
			{"public client with a client assertion", func() (http.Header, url.Values) {
				return nil, codeForm(pkceCode(), "client_id", "acme-spa", "client_secret", "", "code_verifier", verifier,
					"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", "eyJhbGciOiJub25lIn0.e30.")
			}, "", 401, "invalid_client"},
			{"client assertion beside a valid secret", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
					"client_assertion", "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhY21lLXdlYiJ9.c2ln")
			}, "", 401, "invalid_client"},
			{"two Authorization headers", func() (http.Header, url.Values) {
				h := negBasic("acme-web", st.Secret)
				h.Add("Authorization", "Bearer abc")
				return h, codeForm(plainCode(), "client_id", "", "client_secret", "")
			}, "", 400, "invalid_request"},
			// The request itself (RFC 6749 §3.2, §5.2).
			{"unsupported grant_type password", func() (http.Header, url.Values) {
				return nil, negVals("grant_type", "password", "username", "alice", "password", st.Password, "client_id", "acme-web", "client_secret", st.Secret)
			}, "", 400, "unsupported_grant_type"},
			{"unsupported grant_type implicit", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "grant_type", "implicit")
			}, "", 400, "unsupported_grant_type"},
			{"unsupported grant_type device_code", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "grant_type", "urn:ietf:params:oauth:grant-type:device_code")
			}, "", 400, "unsupported_grant_type"},
			{"missing grant_type", func() (http.Header, url.Values) { return nil, codeForm(plainCode(), "grant_type", "") }, "", 400, "invalid_request"},
			{"JSON body", func() (http.Header, url.Values) {
				return headers("Content-Type", "application/json"), codeForm(plainCode())
			}, "", 400, "invalid_request"},
			{"credentials in the query string only", func() (http.Header, url.Values) {
				return nil, codeForm(plainCode(), "client_id", "", "client_secret", "")
			}, "/api/v1/oauth2/token?client_id=acme-web&client_secret=" + st.Secret, 401, "invalid_client"},
			// client_credentials (RFC 6749 §4.4).
			{"client_credentials: public client", func() (http.Header, url.Values) { return nil, ccForm("acme-spa", "") }, "", 400, "unauthorized_client"},
			{"client_credentials: public client via basic", func() (http.Header, url.Values) {
				return negBasic("acme-spa", ""), negVals("grant_type", "client_credentials")
			}, "", 401, "invalid_client"},
			{"client_credentials: grant not allowed", func() (http.Header, url.Values) { return nil, ccForm("acme-web2", st.Secret) }, "", 400, "unauthorized_client"},
			{"client_credentials: scope openid", func() (http.Header, url.Values) {
				return nil, ccForm("acme-web", st.Secret, "scope", "openid")
			}, "", 400, "invalid_scope"},
			{"client_credentials: user scope", func() (http.Header, url.Values) {
				return nil, ccForm("acme-web", st.Secret, "scope", "profile")
			}, "", 400, "invalid_scope"},
			{"client_credentials: wrong secret", func() (http.Header, url.Values) {
				return nil, ccForm("acme-web", "wrong-secret-0123456789")
			}, "", 401, "invalid_client"},
			// Last: moves the clock past the code's 5 minutes.
			{"expired code", func() (http.Header, url.Values) {
				code := plainCode()
				e.Clock.Advance(5*time.Minute + time.Second)
				return nil, codeForm(code)
			}, "", 400, "invalid_grant"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h, v := c.req()
				path := c.path
				if path == "" {
					path = "/api/v1/oauth2/token"
				}
				if h != nil && h.Get("Content-Type") == "application/json" {
					// The same parameters as a JSON object.
					m := map[string]string{}
					for k := range v {
						m[k] = v.Get(k)
					}
					body, _ := json.Marshal(m)
					negWantRefused(t, e.Do("POST", e.URL(host, path), h, string(body)), c.status, c.err)
					return
				}
				negWantRefused(t, negPost(e, host, path, h, v), c.status, c.err)
			})
		}

		// A replayed code is refused and revokes what the first redemption
		// issued (RFC 6749 §4.1.2, §10.5; contract §4).
		t.Run("replayed code revokes the first redemption's tokens", func(t *testing.T) {
			code := pkceCode()
			first := negWantTokens(t, negRedeem(e, host, "acme-web", st.Secret, negWebRedirect, code, verifier))
			if first.refresh == "" || first.id == "" {
				t.Fatalf("first redemption: %+v", first)
			}
			if r := negUserinfo(e, host, first.access); r.Status != 200 {
				t.Fatalf("userinfo before the replay: %d %s", r.Status, r.Body)
			}
			negWantRefused(t, negRedeem(e, host, "acme-web", st.Secret, negWebRedirect, code, verifier), 400, "invalid_grant")
			negWantBearerError(t, negUserinfo(e, host, first.access), 401, "invalid_token")
			for _, tok := range []string{first.access, first.refresh} {
				if negActive(t, negIntrospect(e, host, "acme-portal", st.Secret, tok)) {
					t.Fatal("a token of the replayed code is still active")
				}
			}
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, first.refresh), 400, "invalid_grant")
			// A replay by another client revokes too and gets nothing.
			code = plainCode()
			first = negWantTokens(t, negRedeem(e, host, "acme-web", st.Secret, negWebRedirect, code, ""))
			negWantRefused(t, negRedeem(e, host, "acme-web2", st.Secret, negWebRedirect, code, ""), 400, "invalid_grant")
			negWantBearerError(t, negUserinfo(e, host, first.access), 401, "invalid_token")
		})

		t.Run("client_credentials: allowed client gets an application token only", func(t *testing.T) {
			r := negPost(e, host, "/api/v1/oauth2/token", negBasic("acme-web", st.Secret), negVals("grant_type", "client_credentials", "scope", "all"))
			tok := negWantTokens(t, r)
			if tok.refresh != "" || tok.id != "" || r.Str("scope") != "all" {
				t.Fatalf("client_credentials answer: %s", r.Body)
			}
			negWantBearerError(t, negUserinfo(e, host, tok.access), 403, "insufficient_scope")
		})
	})
}

// TestRefreshTokenNegative: the refresh_token grant (RFC 6749 §6, RFC 9700
// §4.14.2).
func TestRefreshTokenNegative(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const host = st.EIAMHost
		b := negSignIn(t, e, host, "acme-web", negWebRedirect, "alice")
		verifier := oauth2.GenerateVerifier()
		chal := oauth2.S256ChallengeFromVerifier(verifier)
		family := func(scope string) negTokens {
			t.Helper()
			code := negCode(t, e, b, host, "acme-web", negWebRedirect, "scope", scope)
			tok := negWantTokens(t, negRedeem(e, host, "acme-web", st.Secret, negWebRedirect, code, ""))
			if tok.refresh == "" {
				t.Fatal("acme-web got no refresh token")
			}
			return tok
		}
		works := func(t *testing.T, access string) {
			t.Helper()
			if r := negUserinfo(e, host, access); r.Status != 200 {
				t.Fatalf("userinfo: %d %s", r.Status, r.Body)
			}
		}
		revoked := func(t *testing.T, tok negTokens) {
			t.Helper()
			negWantBearerError(t, negUserinfo(e, host, tok.access), 401, "invalid_token")
			if negActive(t, negIntrospect(e, host, "acme-portal", st.Secret, tok.refresh)) {
				t.Fatal("refresh token still active")
			}
		}

		t.Run("reuse revokes the family, newest tokens included", func(t *testing.T) {
			first := family("openid profile")
			second := negWantTokens(t, negRefresh(e, host, "acme-web", st.Secret, first.refresh))
			third := negWantTokens(t, negRefresh(e, host, "acme-web", st.Secret, second.refresh))
			if second.refresh == first.refresh || third.refresh == "" || third.refresh == second.refresh {
				t.Fatal("refresh tokens did not rotate")
			}
			works(t, third.access)
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, first.refresh), 400, "invalid_grant")
			for _, tok := range []negTokens{first, second, third} {
				revoked(t, tok)
			}
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, third.refresh), 400, "invalid_grant")
		})
		t.Run("another client's refresh token", func(t *testing.T) {
			owner := family("openid profile")
			// acme-spa is a public client with refresh tokens of its own.
			negWantRefused(t, negRefresh(e, host, "acme-spa", "", owner.refresh), 400, "invalid_grant")
			negWantRefused(t, negRefresh(e, host, "acme-web2", st.Secret, owner.refresh), 400, "unauthorized_client")
			negWantRefused(t, negRefresh(e, host, "acme-jwt", st.Secret, owner.refresh), 400, "unauthorized_client")
			// The owner's family is intact.
			works(t, owner.access)
			if !negActive(t, negIntrospect(e, host, "acme-portal", st.Secret, owner.refresh)) {
				t.Fatal("the owner's refresh token was spent by another client's attempt")
			}
			next := negWantTokens(t, negRefresh(e, host, "acme-web", st.Secret, owner.refresh))
			works(t, next.access)
			works(t, owner.access)
		})
		t.Run("a public client's token presented by a confidential client", func(t *testing.T) {
			code := negCode(t, e, b, host, "acme-spa", negSPARedirect, "code_challenge", chal, "code_challenge_method", "S256")
			spa := negWantTokens(t, negRedeem(e, host, "acme-spa", "", negSPARedirect, code, verifier))
			if spa.refresh == "" {
				t.Fatal("acme-spa got no refresh token")
			}
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, spa.refresh), 400, "invalid_grant")
			negWantRefused(t, negRefresh(e, host, "acme-spa", "", spa.refresh, "client_id", "acme-spa-x"), 401, "invalid_client")
			negWantTokens(t, negRefresh(e, host, "acme-spa", "", spa.refresh))
		})
		t.Run("wider scope is refused, the token stays usable", func(t *testing.T) {
			tok := family("openid profile")
			for _, scope := range []string{"openid profile email", "email", "admin", "openid all"} {
				negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, tok.refresh, "scope", scope), 400, "invalid_scope")
			}
			negWantTokens(t, negRefresh(e, host, "acme-web", st.Secret, tok.refresh))
		})
		t.Run("narrower scope", func(t *testing.T) {
			tok := family("openid profile email")
			r := negRefresh(e, host, "acme-web", st.Secret, tok.refresh, "scope", "openid")
			narrow := negWantTokens(t, r)
			if r.Str("scope") != "openid" {
				t.Fatalf("narrowed scope %q", r.Str("scope"))
			}
			if u := negUserinfo(e, host, narrow.access); u.Status != 200 || u.Str("email") != "" || u.Str("name") != "" {
				t.Fatalf("userinfo of the narrowed token: %d %s", u.Status, u.Body)
			}
			// RFC 6749 §6: the new refresh token keeps the grant's scope.
			r = negRefresh(e, host, "acme-web", st.Secret, narrow.refresh)
			negWantTokens(t, r)
			if r.Str("scope") != "openid profile email" {
				t.Fatalf("scope after a narrowed refresh: %q", r.Str("scope"))
			}
		})
		t.Run("malformed requests", func(t *testing.T) {
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, ""), 400, "invalid_request")
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, "not-a-refresh-token"), 400, "invalid_grant")
			tok := family("openid")
			// An access token is not a refresh token.
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, tok.access), 400, "invalid_grant")
			negWantRefused(t, negRefresh(e, host, "acme-web", "wrong-secret-0123456789", tok.refresh), 401, "invalid_client")
			negWantTokens(t, negRefresh(e, host, "acme-web", st.Secret, tok.refresh))
		})
		t.Run("a refresh token of another tenant", func(t *testing.T) {
			shop := negSignIn(t, e, st.CIAMHost, "shop-web", negWebRedirect, "alice")
			code := negCode(t, e, shop, st.CIAMHost, "shop-web", negWebRedirect)
			tok := negWantTokens(t, negRedeem(e, st.CIAMHost, "shop-web", st.Secret, negWebRedirect, code, ""))
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, tok.refresh), 400, "invalid_grant")
			negWantTokens(t, negRefresh(e, st.CIAMHost, "shop-web", st.Secret, tok.refresh))
		})
		t.Run("no refresh tokens without a refresh lifetime", func(t *testing.T) {
			code := negCode(t, e, b, host, "acme-web2", negWeb2Redirect)
			r := negRedeem(e, host, "acme-web2", st.Secret, negWeb2Redirect, code, "")
			if tok := negWantTokens(t, r); tok.refresh != "" {
				t.Fatalf("acme-web2 got a refresh token: %s", r.Body)
			}
			negWantRefused(t, negRefresh(e, host, "acme-web2", st.Secret, "anything"), 400, "unauthorized_client")
		})
		t.Run("no refresh tokens without the refresh_token grant", func(t *testing.T) {
			code := negCode(t, e, b, host, "acme-nogrant", "http://app3.test/callback")
			r := negRedeem(e, host, "acme-nogrant", st.Secret, "http://app3.test/callback", code, "")
			if tok := negWantTokens(t, r); tok.refresh != "" {
				t.Fatalf("a client without the refresh_token grant got a refresh token: %s", r.Body)
			}
			negWantRefused(t, negRefresh(e, host, "acme-nogrant", st.Secret, "anything"), 400, "unauthorized_client")
		})
		// Last: moves the clock a day.
		t.Run("expired refresh token", func(t *testing.T) {
			tok := family("openid")
			e.Clock.Advance(24*time.Hour + time.Second)
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, tok.refresh), 400, "invalid_grant")
		})
	}, func(c *config.Config) {
		negAddApp(c, "acme", config.Application{ClientID: "acme-nogrant", ClientSecret: st.Secret,
			RedirectURIs: []string{"http://app3.test/callback"}, GrantTypes: []string{"authorization_code"}, RefreshTokenTTL: time.Hour})
	})
}

// TestResourceEndpointsNegative: userinfo (OIDC Core §5.3, RFC 6750 §3.1),
// introspection (RFC 7662) and revocation (RFC 7009).
func TestResourceEndpointsNegative(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const host = st.EIAMHost
		b := negSignIn(t, e, host, "acme-web", negWebRedirect, "alice")
		user := func(client string) negTokens {
			t.Helper()
			code := negCode(t, e, b, host, client, negWebRedirect, "scope", "openid profile")
			return negWantTokens(t, negRedeem(e, host, client, st.Secret, negWebRedirect, code, ""))
		}
		web, jwt := user("acme-web"), user("acme-jwt")
		shopB := negSignIn(t, e, st.CIAMHost, "shop-web", negWebRedirect, "alice")
		shopCode := negCode(t, e, shopB, st.CIAMHost, "shop-web", negWebRedirect)
		shop := negWantTokens(t, negRedeem(e, st.CIAMHost, "shop-web", st.Secret, negWebRedirect, shopCode, ""))
		shopJWTCode := negCode(t, e, shopB, st.CIAMHost, "shop-jwt", negWebRedirect)
		shopJWT := negWantTokens(t, negRedeem(e, st.CIAMHost, "shop-jwt", st.Secret, negWebRedirect, shopJWTCode, ""))
		cc := negWantTokens(t, negPost(e, host, "/api/v1/oauth2/token", nil, negVals("grant_type", "client_credentials", "client_id", "acme-web", "client_secret", st.Secret)))
		sdkSession := e.MustLogin(host, "acme-portal", "bob")
		if strings.Count(jwt.access, ".") != 2 {
			t.Fatalf("acme-jwt access token is not a JWT: %q", jwt.access)
		}

		t.Run("userinfo", func(t *testing.T) {
			for _, c := range []struct {
				name, token string
				status      int
				err         string
			}{
				{"no token", "", 401, "invalid_token"},
				{"unknown token", "not-a-token", 401, "invalid_token"},
				{"refresh token", web.refresh, 401, "invalid_token"},
				{"id_token", web.id, 401, "invalid_token"},
				{"JWT client's id_token", jwt.id, 401, "invalid_token"},
				{"SDK session token", sdkSession, 401, "invalid_token"},
				{"another tenant's token", shop.access, 401, "invalid_token"},
				{"another tenant's JWT", shopJWT.access, 401, "invalid_token"},
				{"tampered JWT", jwt.access[:len(jwt.access)-4] + "AAAA", 401, "invalid_token"},
				{"client_credentials token", cc.access, 403, "insufficient_scope"},
			} {
				negWantBearerError(t, negUserinfo(e, host, c.token), c.status, c.err)
			}
			// Other ways of sending a token: not in the query (RFC 9700
			// §4.3.2 / RFC 6750 §2.3 is not supported), not another scheme.
			negWantBearerError(t, e.Do("GET", e.URL(host, "/api/v1/oauth2/userinfo?access_token="+web.access), nil, ""), 401, "invalid_token")
			negWantBearerError(t, e.Do("GET", e.URL(host, "/api/v1/oauth2/userinfo"), headers("Authorization", "Basic "+web.access), ""), 401, "invalid_token")
			negWantBearerError(t, e.Do("GET", e.URL(host, "/api/v1/oauth2/userinfo"), headers("Authorization", "Bearer"), ""), 401, "invalid_token")
			// The controls: both formats work, also as a form parameter.
			for _, tok := range []string{web.access, jwt.access} {
				if r := negUserinfo(e, host, tok); r.Status != 200 || r.Str("sub") == "" || r.Str("userName") != "alice" || r.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("userinfo: %d %s", r.Status, r.Body)
				}
			}
			if r := negPost(e, host, "/api/v1/oauth2/userinfo", nil, negVals("access_token", jwt.access)); r.Status != 200 {
				t.Fatalf("userinfo by form: %d %s", r.Status, r.Body)
			}
			if r := negUserinfo(e, st.CIAMHost, shopJWT.access); r.Status != 200 {
				t.Fatalf("shop's JWT at shop: %d %s", r.Status, r.Body)
			}
		})

		t.Run("introspection", func(t *testing.T) {
			negWantRefused(t, negIntrospect(e, host, "acme-spa", "", web.access), 401, "invalid_client")
			negWantRefused(t, negIntrospect(e, host, "acme-web", "wrong-secret-0123456789", web.access), 401, "invalid_client")
			negWantRefused(t, negIntrospect(e, host, "", "", web.access), 401, "invalid_client")
			negWantRefused(t, negIntrospect(e, host, "shop-web", st.Secret, web.access), 401, "invalid_client")
			negWantRefused(t, negIntrospect(e, host, "acme-portal", st.Secret, ""), 400, "invalid_request")
			for name, tok := range map[string]string{
				"unknown token": "not-a-token", "another tenant's token": shop.access, "another tenant's refresh token": shop.refresh,
				"another tenant's JWT": shopJWT.access, "id_token": web.id, "SDK session token": sdkSession,
			} {
				if negActive(t, negIntrospect(e, host, "acme-portal", st.Secret, tok)) {
					t.Fatalf("%s is active", name)
				}
			}
			for _, tok := range []string{web.access, web.refresh, jwt.access} {
				if !negActive(t, negIntrospect(e, host, "acme-portal", st.Secret, tok)) {
					t.Fatal("a valid token is inactive")
				}
			}
		})

		t.Run("revocation", func(t *testing.T) {
			victim := user("acme-web")
			// Another client's tokens: answered 200 (RFC 7009 §2.2), not revoked.
			for _, tok := range []string{victim.access, victim.refresh} {
				if r := negRevoke(e, host, "acme-web2", st.Secret, tok); r.Status != 200 {
					t.Fatalf("revoke by another client: %d %s", r.Status, r.Body)
				}
			}
			if negUserinfo(e, host, victim.access).Status != 200 || !negActive(t, negIntrospect(e, host, "acme-portal", st.Secret, victim.refresh)) {
				t.Fatal("another client revoked the tokens")
			}
			// Another tenant's client cannot even authenticate here.
			negWantRefused(t, negRevoke(e, host, "shop-web", st.Secret, victim.access), 401, "invalid_client")
			negWantRefused(t, negRevoke(e, host, "acme-web", "wrong-secret-0123456789", victim.access), 401, "invalid_client")
			negWantRefused(t, negRevoke(e, host, "acme-web", st.Secret, ""), 400, "invalid_request")
			for _, tok := range []string{"not-a-token", shop.access, shop.refresh} {
				if r := negRevoke(e, host, "acme-web", st.Secret, tok); r.Status != 200 {
					t.Fatalf("revoking an unknown token: %d %s", r.Status, r.Body)
				}
			}
			if r := negUserinfo(e, st.CIAMHost, shop.access); r.Status != 200 {
				t.Fatalf("acme revoked shop's token: %d %s", r.Status, r.Body)
			}
			// The owner's revocation works: an access token alone...
			if r := negRevoke(e, host, "acme-web", st.Secret, victim.access); r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			negWantBearerError(t, negUserinfo(e, host, victim.access), 401, "invalid_token")
			if negActive(t, negIntrospect(e, host, "acme-portal", st.Secret, victim.access)) {
				t.Fatal("a revoked access token is active")
			}
			// ...and a JWT access token, whose signature stays valid.
			jv := user("acme-jwt")
			if r := negRevoke(e, host, "acme-jwt", st.Secret, jv.access); r.Status != 200 {
				t.Fatalf("revoke JWT: %d %s", r.Status, r.Body)
			}
			negWantBearerError(t, negUserinfo(e, host, jv.access), 401, "invalid_token")
			// A refresh token revokes its grant.
			negRevoke(e, host, "acme-web", st.Secret, victim.refresh)
			negWantRefused(t, negRefresh(e, host, "acme-web", st.Secret, victim.refresh), 400, "invalid_grant")
		})

		// Last: the clock passes the access tokens' two hours.
		t.Run("expired tokens", func(t *testing.T) {
			e.Clock.Advance(2*time.Hour + time.Second)
			for _, tok := range []string{web.access, jwt.access} {
				negWantBearerError(t, negUserinfo(e, host, tok), 401, "invalid_token")
				if negActive(t, negIntrospect(e, host, "acme-portal", st.Secret, tok)) {
					t.Fatal("an expired token is active")
				}
			}
		})
	})
}

// TestLogoutNegative: RP-initiated logout never redirects to a URI that is
// not a registered post-logout redirect URI of the client (RFC 9700 §4.11
// open redirector), and ends the session in every case.
func TestLogoutNegative(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const host = st.EIAMHost
		idToken := func(h, client, redirect string) string {
			t.Helper()
			br := negSignIn(t, e, h, client, redirect, "bob")
			code := negCode(t, e, br, h, client, redirect)
			return negWantTokens(t, negRedeem(e, h, client, st.Secret, redirect, code, "")).id
		}
		webHint, web2Hint := idToken(host, "acme-web", negWebRedirect), idToken(host, "acme-web2", negWeb2Redirect)
		shopHint := idToken(st.CIAMHost, "shop-web", negWebRedirect)
		parts := strings.Split(webHint, ".")
		forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("not a signature"))
		unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
		const bye = "http://app.test/bye"

		cases := []struct {
			name  string
			query url.Values
			to    string // the redirect expected; "" for the signed-out page
		}{
			{"unregistered post_logout_redirect_uri", url.Values{"post_logout_redirect_uri": {"http://evil.test/bye"}, "id_token_hint": {webHint}}, ""},
			{"unregistered, no hint", url.Values{"post_logout_redirect_uri": {"http://evil.test/bye"}}, ""},
			{"near miss: trailing slash", url.Values{"post_logout_redirect_uri": {bye + "/"}, "id_token_hint": {webHint}}, ""},
			{"near miss: extra query", url.Values{"post_logout_redirect_uri": {bye + "?next=http://evil.test"}, "id_token_hint": {webHint}}, ""},
			{"near miss: userinfo", url.Values{"post_logout_redirect_uri": {"http://app.test@evil.test/bye"}, "id_token_hint": {webHint}}, ""},
			{"near miss: scheme-relative", url.Values{"post_logout_redirect_uri": {"//evil.test/bye"}}, ""},
			{"another client's URI by id_token_hint", url.Values{"post_logout_redirect_uri": {bye}, "id_token_hint": {web2Hint}}, ""},
			{"another client's URI by client_id", url.Values{"post_logout_redirect_uri": {bye}, "client_id": {"acme-web2"}}, ""},
			{"hint and client_id disagree", url.Values{"post_logout_redirect_uri": {bye}, "id_token_hint": {webHint}, "client_id": {"acme-web2"}}, ""},
			{"forged id_token_hint", url.Values{"post_logout_redirect_uri": {bye}, "id_token_hint": {forged}}, ""},
			{"unsigned id_token_hint", url.Values{"post_logout_redirect_uri": {bye}, "id_token_hint": {unsigned}}, ""},
			{"garbage id_token_hint", url.Values{"post_logout_redirect_uri": {bye}, "id_token_hint": {"abc"}}, ""},
			{"other tenant's id_token_hint", url.Values{"post_logout_redirect_uri": {bye}, "id_token_hint": {shopHint}}, ""},
			{"javascript URI", url.Values{"post_logout_redirect_uri": {"javascript:alert(document.cookie)"}}, ""},
			{"javascript redirect_url", url.Values{"redirect_url": {"javascript:alert(1)//http://app.test/bye"}}, ""},
			{"data URI", url.Values{"redirect_url": {"data:text/html,<script>alert(1)</script>"}}, ""},
			{"unregistered redirect_url", url.Values{"redirect_url": {"http://evil.test/"}}, ""},
			{"no target", url.Values{}, ""},
			// Controls: registered targets are redirected to.
			{"redirect_url registered (vendor form)", url.Values{"redirect_url": {bye}}, bye},
			{"post_logout_redirect_uri with hint", url.Values{"post_logout_redirect_uri": {bye}, "id_token_hint": {webHint}, "state": {"lo-1"}}, bye + "?state=lo-1"},
			{"post_logout_redirect_uri of web2", url.Values{"post_logout_redirect_uri": {"http://app2.test/bye"}, "id_token_hint": {web2Hint}}, "http://app2.test/bye"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b := negSignIn(t, e, host, "acme-web", negWebRedirect, "alice")
				old := negSessionCookie(t, e, b, host)
				p := b.Get(e.URL(host, "/api/v1/logout") + "?" + c.query.Encode())
				if c.to == "" {
					status := http.StatusBadRequest
					if len(c.query) == 0 {
						status = http.StatusOK
					}
					negWantPage(t, p, status)
				} else if !p.Redirected() || p.Location == nil || p.Location.String() != c.to {
					t.Fatalf("logout: %d %v, want a redirect to %s", p.Status, p.Location, c.to)
				}
				cleared := false
				for _, sc := range p.Header.Values("Set-Cookie") {
					cleared = cleared || (strings.HasPrefix(sc, "sesame_session=;") && strings.Contains(sc, "Max-Age=0"))
				}
				if !cleared {
					t.Errorf("the session cookie is not cleared: %v", p.Header.Values("Set-Cookie"))
				}
				negWantSessionEnded(t, e, host, old)
			})
		}
	})
}
