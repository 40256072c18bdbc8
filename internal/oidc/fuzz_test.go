package oidc

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/keys/keystest"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/tenant"
)

// The fuzz targets of this file run on every `go test` with their seeds
// (f.Add and testdata/fuzz/<Name>/) and, in CI, for a bounded number of
// executions (.ci/run):
//
//	go test -run='^$' -fuzz='^FuzzAuthorizeRequest$' -fuzztime=100000x ./internal/oidc/
//
// They call the parsers of the authorization and logout endpoints
// directly; internal/server/fuzz_oidc_test.go sends whole requests to a
// real server.

// fuzzTenant is the tenant of the function-level targets.
var fuzzTenant = store.Tenant{ID: "acme", Edition: "eiam", Domains: []string{"acme.test"}, DefaultLanguage: "en"}

const fuzzIssuer = "https://acme.test/api/v1/oauth2"

// newFuzzProvider returns a Provider with what the parsers use: a clock,
// the tenant resolver (for the issuer), the request box, the logger and
// the key manager km (nil when the target verifies no tokens).
func newFuzzProvider(t testing.TB, now time.Time, km *keys.Manager) *Provider {
	t.Helper()
	resolver, err := tenant.NewResolver(nil, "https://sesame.test", nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	box, err := secret.NewBox(master, "authorization request")
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{Tenants: resolver, RequestBox: box, Keys: km, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if got := p.issuer(fuzzTenant); got != fuzzIssuer {
		t.Fatalf("issuer %q, want %q", got, fuzzIssuer)
	}
	return p
}

// fuzzApps are the applications of FuzzAuthorizeRequest: a confidential
// web client (one redirect URI with a query of its own), a public client
// with a private-use scheme (RFC 8252 §7.1) and a loopback URI, and a
// client without the authorization code grant.
func fuzzApps() map[string]store.Application {
	return map[string]store.Application{
		"web": {TenantID: "acme", ClientID: "web", SecretHash: []byte("h"), GrantTypes: []string{"authorization_code"},
			RedirectURIs: []string{"http://app.test/callback", "https://app.test/cb?tenant=1&x=%2F"}},
		"spa": {TenantID: "acme", ClientID: "spa", GrantTypes: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{"http://spa.test/cb", "com.example.app:/cb", "http://127.0.0.1:8080/cb"}},
		"m2m": {TenantID: "acme", ClientID: "m2m", SecretHash: []byte("h"), GrantTypes: []string{"client_credentials"},
			RedirectURIs: []string{"http://app.test/callback"}},
	}
}

// registrable reports whether config validation accepts uri as a redirect
// URI (internal/config: absolute, no fragment, a host for http(s), a
// form-urlencoded query).
func registrable(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	_, qerr := url.ParseQuery(u.RawQuery)
	web := u.Scheme == "http" || u.Scheme == "https"
	return u.Scheme != "" && u.Fragment == "" && !(web && u.Host == "") && qerr == nil
}

// authErrorCodes are the error codes an authorization response may carry
// (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6 and §6).
var authErrorCodes = []string{
	"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
	"server_error", "temporarily_unavailable", "login_required", "request_not_supported", "request_uri_not_supported",
}

// descriptionOK: RFC 6749 §4.1.2.1 allows only %x20-21 / %x23-5B /
// %x5D-7E in error_description.
func descriptionOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// echoable reports whether s may be sent back or shown: short plain text.
func echoable(s string) bool {
	if len(s) > maxParam || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// FuzzAuthorizeRequest fuzzes the authorization request parsers
// (authorizeParams, validateAuthorize) and the response built from their
// result (respond, redirectError, the sealed login-form request).
// op&1 picks POST (form body) over GET (query); op&2 adds a query string
// to a POST, which must be ignored. registered, if config validation
// accepts it, is registered for "web" too, so that the response builder
// meets arbitrary registered URIs.
//
// Invariants: parameters are single and bounded; nothing goes to a
// redirect URI that is not byte for byte registered for the client; a
// valid request is the authorization code flow with known scopes, PKCE
// S256 (always for public clients), and echoable state, nonce, login_hint
// and ui_locales; an error has a registered code, an RFC 6749 description
// and echoes no unsafe state; the response goes to the registered URI with
// its own query kept, the code or error, the state and iss (RFC 9207); a
// form_post page posts exactly there; the sealed request round-trips.
func FuzzAuthorizeRequest(f *testing.F) {
	// More shapes, named, in testdata/fuzz/FuzzAuthorizeRequest.
	const pkce = "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
	for _, s := range []struct {
		op                uint8
		query, registered string
		body              []byte
	}{
		{0, "response_type=code&client_id=web&redirect_uri=http%3A%2F%2Fapp.test%2Fcallback&scope=openid+profile&state=xyz&nonce=n-1", "", nil},
		{0, "response_type=code&client_id=spa&redirect_uri=com.example.app%3A%2Fcb&scope=openid&" + pkce, "", nil},
		{1, "", "", []byte("response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb%3Ftenant%3D1%26x%3D%252F&scope=openid&response_mode=form_post&state=s")},
		{0, "response_type=code&client_id=web&redirect_uri=http%3A%2F%2Fevil.test%2Fcallback&scope=openid", "", nil},
		{0, "response_type=token&client_id=web&redirect_uri=http%3A%2F%2Fapp.test%2Fcallback&scope=openid&state=%00", "", nil},
	} {
		f.Add(s.op, s.query, s.registered, s.body)
	}
	now := time.Unix(1_800_000_000, 0)
	p := newFuzzProvider(f, now, nil)
	f.Fuzz(func(t *testing.T, op uint8, query, registered string, body []byte) {
		apps := fuzzApps()
		if registrable(registered) {
			web := apps["web"]
			web.RedirectURIs = append(web.RedirectURIs, registered)
			apps["web"] = web
		}
		r := httptest.NewRequest(http.MethodGet, "/api/v1/oauth2/authorize", nil)
		if op&1 == 1 {
			r = httptest.NewRequest(http.MethodPost, "/api/v1/oauth2/authorize", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if op&1 == 0 || op&2 == 2 {
			r.URL.RawQuery = query
		}
		params, err := authorizeParams(r)
		if err != nil {
			return // an error page, no redirect
		}
		var sent url.Values
		if op&1 == 1 {
			sent, err = url.ParseQuery(string(body))
		} else {
			sent, err = url.ParseQuery(query)
		}
		if err != nil {
			t.Fatalf("parameters accepted from an unparsable request: %v", err)
		}
		for k, v := range params {
			if len(v) != 1 || len(k) > 64 || len(v[0]) > 2048 || !slices.Equal(sent[k], v) {
				t.Fatalf("parameter %q = %q (sent %q)", k, v, sent[k])
			}
		}
		if len(params) != len(sent) {
			t.Fatalf("%d parameters read, %d sent", len(params), len(sent))
		}
		if l := language(params.Get("ui_locales"), r, fuzzTenant); l != "en" && l != "zh" {
			t.Fatalf("language %q", l)
		}
		app, ok := apps[params.Get("client_id")]
		if !ok || !oauth2.RedirectURIRegistered(params.Get("redirect_uri"), app.RedirectURIs) {
			return // an error page, no redirect (RFC 9700 §4.11)
		}
		redirect := params.Get("redirect_uri")
		if !slices.Contains(app.RedirectURIs, redirect) {
			t.Fatalf("redirect_uri %q is not registered for %s", redirect, app.ClientID)
		}
		req, aerr := p.validateAuthorize(fuzzTenant, app, params)
		if req.RedirectURI != redirect || req.ClientID != app.ClientID || req.TenantID != fuzzTenant.ID {
			t.Fatalf("request for %q of %s, want %q of %s", req.RedirectURI, req.ClientID, redirect, app.ClientID)
		}
		// RFC 6749 §4.1.2.1: the state comes back, with a code or an error,
		// unless it is unsafe to echo.
		if st := params.Get("state"); req.State != st && (echoable(st) || req.State != "") {
			t.Fatalf("state %q would be echoed (sent %q)", req.State, st)
		}
		if req.ResponseMode != "query" && req.ResponseMode != "form_post" {
			t.Fatalf("response mode %q", req.ResponseMode)
		}
		if req.ResponseMode == "form_post" {
			if u, err := url.Parse(redirect); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("form_post to %q", redirect)
			}
		}
		resp := url.Values{"code": {"the-code"}}
		if aerr != nil {
			if !slices.Contains(authErrorCodes, aerr.code) || !descriptionOK(aerr.description) {
				t.Fatalf("authorization error %q %q", aerr.code, aerr.description)
			}
			resp = url.Values{"error": {aerr.code}, "error_description": {aerr.description}}
		} else {
			checkValidRequest(t, app, params, req)
		}
		rec := httptest.NewRecorder()
		if aerr != nil {
			p.redirectError(rec, r, fuzzTenant, req, aerr)
		} else {
			p.respond(rec, r, fuzzTenant, req, url.Values{"code": {"the-code"}})
		}
		checkDelivery(t, rec, req, resp)
		if aerr == nil {
			got, ok := p.openRequest(p.sealRequest(req), fuzzTenant)
			if !ok || got != req {
				t.Fatalf("the sealed request came back as %+v (ok %v), want %+v", got, ok, req)
			}
		}
	})
}

// checkValidRequest checks a request validateAuthorize accepted.
func checkValidRequest(t *testing.T, app store.Application, params url.Values, req authRequest) {
	t.Helper()
	if params.Get("response_type") != "code" || !app.AllowsGrant("authorization_code") {
		t.Fatalf("accepted response_type %q for a client with grants %q", params.Get("response_type"), app.GrantTypes)
	}
	if params.Has("request") || params.Has("request_uri") {
		t.Fatal("accepted a request object (OIDC Core §6: not supported, must be refused)")
	}
	scopes, ok := oauth2.ParseScope(req.Scope)
	if !ok || len(scopes) == 0 || strings.Join(scopes, " ") != req.Scope || !oauth2.SubsetScope(req.Scope, params.Get("scope")) {
		t.Fatalf("scope %q from %q", req.Scope, params.Get("scope"))
	}
	if req.Challenge != params.Get("code_challenge") {
		t.Fatalf("challenge %q, sent %q", req.Challenge, params.Get("code_challenge"))
	}
	if req.Challenge != "" && (!oauth2.ValidPKCEValue(req.Challenge) || params.Get("code_challenge_method") != "S256") {
		t.Fatalf("accepted challenge %q with method %q (S256 only)", req.Challenge, params.Get("code_challenge_method"))
	}
	if req.Challenge == "" && (app.Public() || params.Get("code_challenge_method") != "") {
		t.Fatal("accepted a request without PKCE from a public client, or a method without a challenge")
	}
	for name, v := range map[string]string{"state": req.State, "nonce": req.Nonce, "login_hint": req.LoginHint, "ui_locales": req.UILocales} {
		if !echoable(v) || v != params.Get(name) {
			t.Fatalf("%s %q (sent %q)", name, v, params.Get(name))
		}
	}
	switch req.Prompt {
	case "", "none", "login", "consent", "select_account":
	default:
		t.Fatalf("prompt %q", req.Prompt)
	}
	if ma := params.Get("max_age"); ma == "" {
		if req.MaxAge != -1 {
			t.Fatalf("max_age %d without a parameter", req.MaxAge)
		}
	} else if n, err := strconv.ParseInt(ma, 10, 64); err != nil || n != req.MaxAge || n < 0 {
		t.Fatalf("max_age %d from %q", req.MaxAge, ma)
	}
}

// checkDelivery checks the response sent for req: a 302 to the
// registered URI, or a form_post page posting to it, carrying resp and
// the state and iss.
func checkDelivery(t *testing.T, rec *httptest.ResponseRecorder, req authRequest, resp url.Values) {
	t.Helper()
	want := url.Values{}
	for k, v := range resp {
		want[k] = v
	}
	if req.State != "" {
		want.Set("state", req.State)
	}
	want.Set("iss", fuzzIssuer)
	if req.ResponseMode == "form_post" {
		m := formAction.FindSubmatch(rec.Body.Bytes())
		if rec.Code != http.StatusOK || m == nil || html.UnescapeString(string(m[1])) != req.RedirectURI {
			t.Fatalf("form_post page %d posts to %q, want %q", rec.Code, m, req.RedirectURI)
		}
		got := url.Values{}
		for _, f := range hiddenField.FindAllSubmatch(rec.Body.Bytes(), -1) {
			got.Add(html.UnescapeString(string(f[1])), html.UnescapeString(string(f[2])))
		}
		if !equalValues(got, want) {
			t.Fatalf("form_post fields %q, want %q", got, want)
		}
		return
	}
	// RFC 9700 §4.12: 302 or 303, never 307 (which would repost a form).
	if rec.Code != http.StatusFound && rec.Code != http.StatusSeeOther {
		t.Fatalf("status %d, want 302 or 303", rec.Code)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	reg, _ := url.Parse(req.RedirectURI)
	if err != nil || loc.Scheme != reg.Scheme || loc.Opaque != reg.Opaque || loc.Host != reg.Host ||
		loc.User.String() != reg.User.String() || loc.Path != reg.Path || loc.Fragment != "" {
		t.Fatalf("redirect to %q, want %q", rec.Header().Get("Location"), req.RedirectURI)
	}
	got := loc.Query()
	// RFC 6749 §3.1.2: the redirect URI's own query is kept.
	own, err := url.ParseQuery(reg.RawQuery)
	if err != nil {
		t.Fatalf("registered %q, whose query config validation refuses", req.RedirectURI)
	}
	for k, v := range own {
		if want[k] == nil {
			want[k] = v
		}
	}
	if !equalValues(got, want) {
		t.Fatalf("redirect query %q, want %q", got, want)
	}
}

func equalValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// FuzzIDTokenHint fuzzes the id_token_hint of RP-initiated logout
// (idTokenHintClient) with the tokens of keystest.Forger: the tenant's
// own id_tokens and access tokens, and forgeries (alg none, HS256 keyed
// with the public key, a foreign key under the tenant's kid, lifted
// signatures, bad base64, nested JSON). Invariant: a hint is accepted only
// if the tenant's key signed exactly it under a header naming that key and
// its algorithm with typ JWT (an id_token, not an at+jwt access token),
// with this issuer and a string audience, which is the client returned;
// and every id_token the server signs for this issuer and an audience is
// accepted, expired or not.
func FuzzIDTokenHint(f *testing.F) {
	// The server's id_token (EdDSA), its access token (ES256), alg none;
	// the attacks are in testdata/fuzz/FuzzIDTokenHint.
	const claims = `{"iss":"{{iss}}","sub":"u1","aud":"web","exp":{{exp}},"iat":1800000000,"jti":"j1"}`
	f.Add(uint8(keystest.ModeServer|3<<3), "", claims, "")
	f.Add(uint8(keystest.ModeServer|2<<3|1<<5), "", claims, "")
	f.Add(uint8(keystest.ModeNone|2<<3), `{"alg":"none","kid":"{{kid}}","typ":"JWT"}`, claims, "")

	clock := keystest.NewClock(time.Unix(1_800_000_000, 0))
	st, sealer := keystest.NewStore(), keystest.Sealer(f)
	known := keystest.KnownKeys(f, st, sealer, fuzzTenant.ID, clock.Now().Add(-time.Hour))
	km := keys.NewManager(st, sealer, keys.Options{Now: clock.Now})
	fg := keystest.NewForger(f, fuzzTenant.ID, known, km)
	fg.Vars = map[string]string{"{{iss}}": fuzzIssuer, "{{exp}}": "1800003600", "{{past}}": "1799996400"}
	p := newFuzzProvider(f, clock.Now(), km)
	f.Fuzz(func(t *testing.T, mode uint8, header, payload, tail string) {
		tok := fg.Forge(t, mode, header, payload, tail)
		r := httptest.NewRequest(http.MethodGet, "/api/v1/logout", nil)
		aud, ok := p.idTokenHintClient(r, fuzzTenant, tok.Token)
		var c struct {
			Iss string `json:"iss"`
			Aud string `json:"aud"`
		}
		if ok {
			keystest.CheckAccepted(t, tok, "JWT", &c)
			if c.Iss != fuzzIssuer || c.Aud == "" || aud != c.Aud {
				t.Fatalf("accepted a hint for %q with claims %+v", aud, c)
			}
			return
		}
		if mode&7 == keystest.ModeServer && mode>>5&1 == 0 && tok.SignedBy != nil && len(tok.Token) <= 8192 &&
			json.Unmarshal([]byte(fg.Expand(payload, tok.SignedBy)), &c) == nil && c.Iss == fuzzIssuer && c.Aud != "" {
			t.Fatalf("refused the server's own id_token %q", tok.Token)
		}
	})
}
