package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"html"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/idtoken"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

// FuzzOIDCAuthorizeRequest, FuzzOIDCTokenRequest and FuzzOIDCLogoutRequest
// send fuzzed requests to the OAuth 2.0 / OpenID Connect endpoints of one
// server per fuzz process, in process, like FuzzSDKRequest (fuzz_test.go:
// same server, hosts, header encoding and SESAME_FUZZ_BACKEND). Whatever
// comes in, the answer is never a 5xx nor busy (storage works), nothing is
// logged as an error, errors are in the format of their endpoint (RFC 6749
// §5.2 JSON on the token side, a page or a redirect to a verified URI on
// the browser side), and the security invariants of each endpoint hold:
//
//   - authorization: the browser is sent only to a redirect URI registered
//     byte for byte for the request's client, with iss (RFC 9207) and the
//     state, and a code only to a signed-in browser;
//   - token, introspection, revocation, userinfo: a client assertion
//     (private_key_jwt, not supported) is refused with invalid_client, no
//     secret of the request comes back, and an id_token issued verifies;
//   - logout: the browser is sent only to a post-logout URI registered for
//     the client, and on the strength of an id_token_hint only if that hint
//     is an id_token this tenant's issuer signed (checked independently,
//     with go-oidc and the tenant's JWKS).
//
// In CI each runs for a bounded number of executions (.ci/run):
//
//	go test -run='^$' -fuzz='^FuzzOIDCTokenRequest$' -fuzztime=3000x ./internal/server/
//
// Placeholders, anywhere in the query, body or a header, are replaced by
// fresh artefacts of the request's tenant, made directly in the store or
// signed with the server's keys, so that seeds reach the success paths:
//
//	{{code}}         authorization code of <tenant>-web for http://app.test/callback, scope openid profile email
//	{{pkce-code}}    authorization code of <tenant>-spa for http://spa.test/cb, S256 challenge of {{verifier}}
//	{{verifier}}     the PKCE verifier of {{pkce-code}}
//	{{refresh}}      refresh token of <tenant>-web
//	{{access}}       opaque access token of <tenant>-web for alice (openid profile email phone)
//	{{jwt-access}}   JWT access token (RFC 9068) of <tenant>-jwt for alice
//	{{id-token}}     id_token of <tenant>-web for alice; {{id-token-web2}}: of <tenant>-web2
//	{{id-token-shop}} id_token of shop-web (another tenant, unless the request is shop's)
//	{{cookie}}       hosted-login session of alice (the sesame_session cookie)
//
// and the SDK ones of fuzz_test.go ({{session}}, {{bearer}}, ...).

// Hash purposes of the OAuth artefacts made in the store. They are the
// oidc package's (unexported there); newFzOIDC checks that a code and a
// refresh token made with them are accepted, so a change cannot go
// unnoticed.
const (
	fzPurposeCode    = "authorization_code"
	fzPurposeRefresh = "refresh_token"
	fzVerifier       = "fuzz-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	fzWebRedirect    = "http://app.test/callback"
	fzSPARedirect    = "http://spa.test/cb"
	fzForm           = "application/x-www-form-urlencoded"
)

// fzOIDC is the server of one fuzz process and what it takes to make OAuth
// artefacts for it and to check its answers.
type fzOIDC struct {
	*fzServer
	oauth    store.OAuthStore
	tokens   *oauth2.AccessTokens
	minter   *idtoken.Minter
	tenants  map[string]config.Tenant
	issuers  map[string]string // tenant id → issuer
	verifier map[string]*gooidc.IDTokenVerifier
	texts    string // every string literal of the oauth2 and oidc packages
}

func newFzOIDC(f *testing.F) *fzOIDC {
	base := newFzServer(f)
	s := &fzOIDC{fzServer: base, tenants: map[string]config.Tenant{}, issuers: map[string]string{},
		verifier: map[string]*gooidc.IDTokenVerifier{}, texts: fzLiterals(f, "../oauth2", "../oidc")}
	var ok bool
	if s.oauth, ok = base.env.Server.Store().(store.OAuthStore); !ok {
		f.Fatal("the server's store has no OAuth methods")
	}
	ctx := context.Background()
	for _, t := range base.env.Config.Bootstrap.Tenants {
		s.tenants[t.ID] = t
		s.issuers[t.ID] = base.env.Issuer(t.Domains[0])
		set, err := base.env.Server.Keys().PublicKeys(ctx, t.ID)
		if err != nil {
			f.Fatal(err)
		}
		ks := &gooidc.StaticKeySet{}
		for _, k := range set.Keys {
			ks.PublicKeys = append(ks.PublicKeys, k.Key)
		}
		s.verifier[t.ID] = gooidc.NewVerifier(s.issuers[t.ID], ks, &gooidc.Config{
			SkipClientIDCheck: true, SkipExpiryCheck: true,
			SupportedSigningAlgs: []string{gooidc.RS256, gooidc.RS512, gooidc.ES256, gooidc.EdDSA},
		})
	}
	s.tokens = &oauth2.AccessTokens{Store: base.env.Server.Store(), Hasher: base.hasher, Keys: base.env.Server.Keys(),
		Now: base.env.Clock.Now, Issuer: func(t store.Tenant) string { return s.issuers[t.ID] }}
	s.minter = idtoken.NewMinter(base.env.Server.Keys(), base.env.Clock.Now)
	s.selfCheck(f)
	return s
}

// selfCheck redeems a {{code}} and a {{pkce-code}} and rotates a
// {{refresh}}: the harness must make artefacts the server accepts, or the
// seeds would not reach the success paths.
func (s *fzOIDC) selfCheck(f *testing.F) {
	for _, body := range []string{
		"grant_type=authorization_code&code={{code}}&redirect_uri=" + url.QueryEscape(fzWebRedirect) + "&client_id=acme-web&client_secret=" + servertest.Secret,
		"grant_type=authorization_code&code={{pkce-code}}&redirect_uri=" + url.QueryEscape(fzSPARedirect) + "&client_id=acme-spa&code_verifier={{verifier}}",
		"grant_type=refresh_token&refresh_token={{refresh}}&client_id=acme-web&client_secret=" + servertest.Secret,
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/oauth2/token", nil)
		r.Host = servertest.EIAMHost
		r.Header.Set("Content-Type", fzForm)
		b, err := s.fill(r, []byte(body))
		if err != nil {
			f.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			f.Fatalf("the harness's artefacts are refused: %s: %d %s", b, rec.Code, rec.Body)
		}
	}
	s.tb.take()
}

// fzLiterals returns every string literal of the Go files (tests
// excluded) of dirs: the fixed texts answers may contain, so that a fuzzed
// "secret" that is part of one is not taken for an echo.
func fzLiterals(f *testing.F, dirs ...string) string {
	var b strings.Builder
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
			if err != nil {
				f.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil {
						b.WriteString(v + "\n")
					}
				}
				return true
			})
		}
	}
	return b.String()
}

// fill replaces the OAuth placeholders (see the file comment) and then the
// SDK ones in the request's query, headers and body, and sets the body.
func (s *fzOIDC) fill(r *http.Request, body []byte) ([]byte, error) {
	all := string(body) + "\n" + r.URL.RawQuery
	for _, vs := range r.Header {
		all += "\n" + strings.Join(vs, "\n")
	}
	if strings.Contains(all, "{{") {
		repl, err := s.artefacts(r, all)
		if err != nil {
			return nil, err
		}
		rp := strings.NewReplacer(repl...)
		for k, vs := range r.Header {
			for i := range vs {
				vs[i] = rp.Replace(vs[i])
			}
			r.Header[k] = vs
		}
		r.URL.RawQuery = rp.Replace(r.URL.RawQuery)
		body = []byte(rp.Replace(string(body)))
	}
	body, err := s.fillPlaceholders(r, body)
	if err != nil {
		return nil, err
	}
	r.Body = http.NoBody
	if len(body) > 0 {
		r.Body = readCloser{bytes.NewReader(body)}
	}
	r.ContentLength = int64(len(body))
	return body, nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// artefacts makes what the placeholders found in all stand for and returns
// the replacer pairs.
func (s *fzOIDC) artefacts(r *http.Request, all string) ([]string, error) {
	ctx := context.Background()
	tid := s.tenantOf(r)
	now := s.env.Clock.Now()
	alice := s.users[tid]["alice"]
	var pairs []string
	has := func(ph string) bool { return strings.Contains(all, ph) }
	sessionID := func() (string, error) {
		_, id, err := s.newSession(ctx, tid)
		return id, err
	}
	// grant returns a live grant of client: grants are created with their
	// authorization code, which is not handed out here.
	grant := func(client, sid string) (string, error) {
		id := secret.NewToken()
		return id, s.oauth.CreateAuthCode(ctx, store.AuthCode{
			CodeHash: s.hasher.Hash(fzPurposeCode, secret.NewToken()), TenantID: tid, ClientID: client, UserID: alice,
			SessionID: sid, GrantID: id, RedirectURI: fzWebRedirect, Scope: "openid", AuthTime: now, CreatedAt: now,
			ExpiresAt: now.Add(5 * time.Minute),
		})
	}
	for _, c := range []struct {
		ph, client, redirect, challenge string
	}{
		{"{{code}}", tid + "-web", fzWebRedirect, ""},
		{"{{pkce-code}}", tid + "-spa", fzSPARedirect, fzChallenge(fzVerifier)},
	} {
		if !has(c.ph) {
			continue
		}
		sid, err := sessionID()
		if err != nil {
			return nil, err
		}
		code := secret.NewToken()
		if err := s.oauth.CreateAuthCode(ctx, store.AuthCode{
			CodeHash: s.hasher.Hash(fzPurposeCode, code), TenantID: tid, ClientID: c.client, UserID: alice,
			SessionID: sid, GrantID: secret.NewToken(), RedirectURI: c.redirect, Scope: "openid profile email",
			Nonce: "n-1", CodeChallenge: c.challenge, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute),
		}); err != nil {
			return nil, err
		}
		pairs = append(pairs, c.ph, code)
	}
	pairs = append(pairs, "{{verifier}}", fzVerifier)
	if has("{{refresh}}") {
		sid, err := sessionID()
		if err != nil {
			return nil, err
		}
		gid, err := grant(tid+"-web", sid)
		if err != nil {
			return nil, err
		}
		rt := secret.NewToken()
		if err := s.oauth.CreateRefreshToken(ctx, store.RefreshToken{
			TokenHash: s.hasher.Hash(fzPurposeRefresh, rt), TenantID: tid, ClientID: tid + "-web", UserID: alice,
			SessionID: sid, GrantID: gid, Scope: "openid profile", AuthTime: now, CreatedAt: now,
			ExpiresAt: now.Add(time.Hour),
		}); err != nil {
			return nil, err
		}
		pairs = append(pairs, "{{refresh}}", rt)
	}
	for ph, client := range map[string]string{"{{access}}": tid + "-web", "{{jwt-access}}": tid + "-jwt"} {
		if !has(ph) {
			continue
		}
		app, err := s.env.Server.Store().GetApplication(ctx, tid, client)
		if err != nil {
			return nil, err
		}
		sid, err := sessionID()
		if err != nil {
			return nil, err
		}
		gid, err := grant(client, sid)
		if err != nil {
			return nil, err
		}
		tok, err := s.tokens.Issue(ctx, store.Tenant{ID: tid}, app, store.AccessToken{
			UserID: alice, Scope: "openid profile email phone", GrantID: gid, SessionID: sid, AuthTime: now,
		}, 30*time.Minute)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, ph, tok)
	}
	for ph, c := range map[string][2]string{
		"{{id-token}}": {tid, tid + "-web"}, "{{id-token-web2}}": {tid, tid + "-web2"}, "{{id-token-shop}}": {"shop", "shop-web"},
	} {
		if !has(ph) {
			continue
		}
		tok, err := s.minter.Mint(ctx, c[0], "", time.Hour, idtoken.Claims{
			Issuer: s.issuers[c[0]], Audience: c[1], Subject: s.users[c[0]]["alice"], AuthorizedParty: c[1],
		})
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, ph, tok)
	}
	if has("{{cookie}}") {
		tok, id := secret.NewToken(), secret.NewToken()
		if err := s.env.Server.Store().CreateSession(ctx, store.Session{
			ID: id, TenantID: tid, UserID: alice, ClientID: tid + "-web",
			TokenHash: s.hasher.Hash(session.PurposeSession, tok),
			Device:    store.Device{Fingerprint: session.BrowserFingerprint, OSVersion: "browser", Agent: "Mozilla/5.0 (test)"},
			AuthTime:  now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		}); err != nil {
			return nil, err
		}
		pairs = append(pairs, "{{cookie}}", tok)
	}
	return pairs, nil
}

func fzChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// fzApp returns the fixture application client of tenant tid.
func (s *fzOIDC) fzApp(tid, client string) (config.Application, bool) {
	for _, a := range s.tenants[tid].Applications {
		if a.ClientID == client {
			return a, true
		}
	}
	return config.Application{}, false
}

// serve runs a request, after the placeholders, and returns the answer
// and the server's log lines; it fails on a 5xx or a logged error.
func (s *fzOIDC) serve(t *testing.T, r *http.Request, body []byte) (*httptest.ResponseRecorder, []byte, func(string, ...any)) {
	t.Helper()
	body, err := s.fill(r, body)
	if err != nil {
		t.Fatalf("making artefacts: %v", err)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, r)
	logs := s.tb.take()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s %s?%s (Host %q): %s\nrequest header: %q\nrequest body: %q\nanswer: %d %q %q\nserver log:\n%s",
			r.Method, r.URL.Path, r.URL.RawQuery, r.Host, fmt.Sprintf(format, args...), r.Header, body, rec.Code, rec.Header(), rec.Body, strings.Join(logs, "\n"))
	}
	if rec.Code >= 500 {
		fail("status %d", rec.Code)
	}
	for _, l := range logs {
		if strings.Contains(l, "level=ERROR") {
			fail("the server logged an error")
		}
	}
	return rec, body, fail
}

// fzDescriptionOK: RFC 6749 §5.2 and §4.1.2.1 allow only %x20-21 /
// %x23-5B / %x5D-7E in error_description.
func fzDescriptionOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// fzEchoable reports whether a value may be sent back: short plain text.
func fzEchoable(v string) bool {
	return len(v) <= 512 && utf8.ValidString(v) && !strings.ContainsFunc(v, unicode.IsControl)
}

// fzParams reads the parameters of a browser request as the contract
// says they come (the query of a GET, the form body of a POST), refusing
// repeated ones. ok is false when they cannot be read.
func fzParams(method, rawQuery, contentType string, body []byte) (url.Values, bool) {
	raw := rawQuery
	if method == http.MethodPost {
		if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != fzForm {
			return url.Values{}, true
		}
		raw = string(body)
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, false
	}
	for _, vs := range v {
		if len(vs) != 1 {
			return nil, false
		}
	}
	return v, true
}

// checkPage checks an HTML answer of a browser endpoint.
func checkPage(rec *httptest.ResponseRecorder, fail func(string, ...any)) {
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		fail("a page with Content-Type %q", ct)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		fail("a page without frame-ancestors 'none': %q", csp)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		fail("a page that may be cached")
	}
}

var (
	fzFormAction  = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	fzHiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// fzAuthErrors are the error codes of an authorization response (RFC 6749
// §4.1.2.1, OIDC Core §3.1.2.6, §6).
var fzAuthErrors = []string{
	"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
	"server_error", "temporarily_unavailable", "login_required", "request_not_supported", "request_uri_not_supported",
}

// fzBrowserHosts are the Hosts of the browser targets: the fixture hosts,
// odd spellings of them, an unknown one and the fuzzed one ("").
var fzBrowserHosts = []string{
	servertest.EIAMHost, servertest.CIAMHost, "www.acme.test:8443", "SHOP.TEST.", servertest.CommonHost, "unknown.test", "", servertest.EIAMHost,
}

// FuzzOIDCAuthorizeRequest fuzzes GET and POST /api/v1/oauth2/authorize.
// op: bit 0 POST (form body; GET sends query), bits 1-3 the Host
// (fzBrowserHosts), bit 4 sends contentType instead of the form type on a
// POST. cookie is the Cookie header (placeholders allowed).
func FuzzOIDCAuthorizeRequest(f *testing.F) {
	q := func(client, redirect string, kv ...string) string {
		v := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect},
			"scope": {"openid profile"}, "state": {"st-1"}, "nonce": {"n-1"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const pkce = "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
	// More shapes, named, in testdata/fuzz/FuzzOIDCAuthorizeRequest.
	for _, s := range []struct {
		op                               uint8
		host, query, cookie, contentType string
		body                             []byte
	}{
		{0, "", q("acme-web", fzWebRedirect), "sesame_session={{cookie}}", "", nil},
		{0, "", q("acme-web", fzWebRedirect), "", "", nil},
		{1 | 1<<1, "", "", "sesame_session={{cookie}}", "", []byte(q("shop-web", fzWebRedirect, "response_mode", "form_post"))},
		{0, "", q("acme-spa", "com.example.app:/cb") + pkce, "sesame_session={{cookie}}", "", nil},
		{0, "", q("acme-web", "http://evil.test/callback"), "sesame_session={{cookie}}", "", nil},
		{0, "", q("acme-web", fzWebRedirect, "prompt", "none"), "", "", nil},
	} {
		f.Add(s.op, s.host, s.query, s.cookie, s.contentType, s.body)
	}
	s := newFzOIDC(f)
	f.Fuzz(func(t *testing.T, op uint8, host, query, cookie, contentType string, body []byte) {
		method := http.MethodGet
		if op&1 == 1 {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "/api/v1/oauth2/authorize", nil)
		r.URL.RawQuery = query
		r.Host = fzBrowserHosts[op>>1&7]
		if r.Host == "" {
			r.Host = host
		}
		fzAddHeader(r.Header, "Cookie", cookie)
		if method == http.MethodPost {
			if op>>4&1 == 1 {
				fzAddHeader(r.Header, "Content-Type", contentType)
			} else {
				r.Header.Set("Content-Type", fzForm)
			}
		}
		signedIn := strings.Contains(cookie, "{{cookie}}")
		rec, body, fail := s.serve(t, r, body)
		if bytes.Contains(rec.Body.Bytes(), []byte(fzBusyPage)) {
			fail("busy although storage works")
		}
		params, readable := fzParams(method, r.URL.RawQuery, r.Header.Get("Content-Type"), body)
		tid := s.tenantOf(r)
		checkTarget := func(target string) {
			app, ok := s.fzApp(tid, params.Get("client_id"))
			if !readable || !ok || params.Get("redirect_uri") != target || !slices.Contains(app.RedirectURIs, target) {
				fail("sent the browser to %q, not a redirect URI registered for client %q of %s", target, params.Get("client_id"), tid)
			}
		}
		switch rec.Code {
		case http.StatusFound, http.StatusSeeOther: // RFC 9700 §4.12: never 307
			loc, err := url.Parse(rec.Header().Get("Location"))
			if err != nil {
				fail("unparsable Location")
			}
			target := params.Get("redirect_uri")
			reg, _ := url.Parse(target)
			if reg == nil || loc.Scheme != reg.Scheme || loc.Host != reg.Host || loc.Path != reg.Path || loc.Opaque != reg.Opaque ||
				loc.User.String() != reg.User.String() || loc.Fragment != "" {
				fail("redirect to %q for redirect_uri %q", loc, target)
			}
			checkTarget(target)
			s.checkAuthResponse(loc.Query(), tid, params, signedIn, fail)
		case http.StatusOK:
			checkPage(rec, fail)
			// A form that does not post to a hosted page (login, ...) is a
			// form_post response (OAuth 2.0 Form Post Response Mode).
			if m := fzFormAction.FindSubmatch(rec.Body.Bytes()); m != nil && !strings.HasPrefix(string(m[1]), "/api/v1/oauth2/") {
				target := html.UnescapeString(string(m[1]))
				checkTarget(target)
				got := url.Values{}
				for _, fl := range fzHiddenField.FindAllSubmatch(rec.Body.Bytes(), -1) {
					got.Add(html.UnescapeString(string(fl[1])), html.UnescapeString(string(fl[2])))
				}
				s.checkAuthResponse(got, tid, params, signedIn, fail)
			} else if m != nil {
				// The login page: shown only for a request whose client and
				// redirect URI check out, since the login ends with a
				// redirect there, and never for prompt=none (OIDC Core
				// §3.1.2.6).
				checkTarget(params.Get("redirect_uri"))
				if params.Get("prompt") == "none" {
					fail("a login page for prompt=none")
				}
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusForbidden:
			checkPage(rec, fail)
		default:
			fail("status %d", rec.Code)
		}
		if c := r.Header.Get("Cookie"); len(c) > 30 && bytes.Contains(rec.Body.Bytes(), []byte(strings.TrimPrefix(c, "sesame_session="))) {
			fail("the page shows the session cookie")
		}
	})
}

// fzBusyPage is the hosted pages' English busy message (oidc texts).
const fzBusyPage = "The service is busy. Please try again in a moment."

// checkAuthResponse checks the parameters an authorization response
// carries to the client's redirect URI.
func (s *fzOIDC) checkAuthResponse(got url.Values, tid string, params url.Values, signedIn bool, fail func(string, ...any)) {
	if len(got["iss"]) != 1 || got.Get("iss") != s.issuers[tid] {
		fail("iss %q, want %q (RFC 9207)", got["iss"], s.issuers[tid])
	}
	if st := params.Get("state"); st != "" && fzEchoable(st) && (len(got["state"]) != 1 || got.Get("state") != st) {
		fail("state %q, sent %q", got["state"], st)
	}
	if st := got.Get("state"); st != "" && (st != params.Get("state") || !fzEchoable(st)) {
		fail("state %q echoed", st)
	}
	code, errCode := got["code"], got["error"]
	switch {
	case len(code) == 1 && len(errCode) == 0:
		if !signedIn {
			fail("a code for a browser that is not signed in")
		}
		if params.Get("prompt") == "login" || params.Get("max_age") == "0" {
			fail("a code without the re-authentication prompt=login / max_age=0 demand")
		}
	case len(errCode) == 1 && len(code) == 0:
		if !slices.Contains(fzAuthErrors, errCode[0]) || !fzDescriptionOK(got.Get("error_description")) {
			fail("error %q %q", errCode[0], got.Get("error_description"))
		}
		if errCode[0] == "temporarily_unavailable" || errCode[0] == "server_error" {
			fail("busy although storage works")
		}
	default:
		fail("response parameters %q: want one code or one error", got)
	}
}

var fzTokenEndpoints = []struct{ method, path string }{
	{http.MethodPost, "/api/v1/oauth2/token"},
	{http.MethodPost, "/api/v1/oauth2/token"},
	{http.MethodPost, "/api/v1/oauth2/token"},
	{http.MethodPost, "/api/v1/oauth2/introspect"},
	{http.MethodPost, "/api/v1/oauth2/revoke"},
	{http.MethodPost, "/api/v1/oauth2/userinfo"},
	{http.MethodGet, "/api/v1/oauth2/userinfo"},
	{http.MethodPost, "/api/v1/oauth2/token"},
}

// fzOAuthErrors are the error codes of the token-side endpoints (RFC 6749
// §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1).
var fzOAuthErrors = []string{
	"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
	"invalid_scope", "invalid_token", "insufficient_scope", "unsupported_token_type",
}

// FuzzOIDCTokenRequest fuzzes the token, introspection, revocation and
// userinfo endpoints. op: endpoint = op&7 (fzTokenEndpoints: 0-2 and 7
// token, 3 introspect, 4 revoke, 5 userinfo POST, 6 userinfo GET), host =
// fzHosts[op>>3&7].
func FuzzOIDCTokenRequest(f *testing.F) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("acme-web:"+servertest.Secret))
	const assertionType = "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
	op := func(endpoint, host int) uint8 { return uint8(endpoint | host<<3) }
	// More shapes, named, in testdata/fuzz/FuzzOIDCTokenRequest.
	for _, s := range []struct {
		op                                         uint8
		host, tenantID, authorization, contentType string
		body                                       string
	}{
		{op(0, 0), "", "", "", fzForm, "grant_type=authorization_code&code={{code}}&redirect_uri=http%3A%2F%2Fapp.test%2Fcallback&client_id=acme-web&client_secret=" + servertest.Secret},
		{op(1, 1), "", "", "", fzForm, "grant_type=authorization_code&code={{pkce-code}}&redirect_uri=http%3A%2F%2Fspa.test%2Fcb&client_id=shop-spa&code_verifier={{verifier}}"},
		{op(2, 0), "", "", basic, fzForm, "grant_type=refresh_token&refresh_token={{refresh}}"},
		{op(7, 2), "", "isv", "", fzForm, "grant_type=client_credentials&client_id=isv-web&client_secret=" + servertest.Secret},
		{op(0, 1), "", "", "", fzForm, "grant_type=client_credentials&client_id=shop-spa" + assertionType + "eyJhbGciOiJub25lIn0.eyJpc3MiOiJzaG9wLXNwYSJ9."},
		{op(3, 0), "", "", basic, fzForm, "token={{access}}"},
		{op(4, 0), "", "", basic, fzForm, "token={{refresh}}&token_type_hint=refresh_token"},
		{op(5, 0), "", "", "Bearer {{jwt-access}}", "", ""},
		{op(6, 1), "", "", "Bearer {{access}}", "", ""},
	} {
		f.Add(s.op, s.host, s.tenantID, s.authorization, s.contentType, []byte(s.body))
	}
	s := newFzOIDC(f)
	f.Fuzz(func(t *testing.T, op uint8, host, tenantID, authorization, contentType string, body []byte) {
		ep := fzTokenEndpoints[op&7]
		r := fzRequest(ep.method, ep.path, int(op>>3), host)
		for _, h := range []struct{ name, value string }{
			{"X-tenant-id", tenantID}, {"Authorization", authorization}, {"Content-Type", contentType},
		} {
			fzAddHeader(r.Header, h.name, h.value)
		}
		rec, body, fail := s.serve(t, r, body)
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer == nil {
			fail("the answer is not a JSON object")
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			fail("JSON with Content-Type %q", ct)
		}
		if rec.Header().Get("Cache-Control") != "no-store" && ep.path != "/api/v1/oauth2/userinfo" {
			fail("a token-side answer without Cache-Control: no-store (RFC 6749 §5.1)")
		}
		form, clean := fzCleanForm(r, body)
		assertion := form.Get("client_assertion") != "" || form.Get("client_assertion_type") != ""
		if rec.Code != http.StatusOK {
			code, _ := answer["error"].(string)
			desc, _ := answer["error_description"].(string)
			if !slices.Contains(fzOAuthErrors, code) || !fzDescriptionOK(desc) || len(answer) > 2 {
				fail("error answer %q", rec.Body)
			}
			if code == "invalid_client" && rec.Code != http.StatusUnauthorized {
				fail("invalid_client with status %d (contract §4: 401)", rec.Code)
			}
			if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				fail("401 without WWW-Authenticate")
			}
			if assertion && clean && ep.path != "/api/v1/oauth2/userinfo" && code != "invalid_client" && s.resolves(r) {
				fail("a client assertion refused with %q, want invalid_client (RFC 7521 §4.2.1)", code)
			}
		} else {
			if assertion && ep.path != "/api/v1/oauth2/userinfo" {
				fail("a request with a client assertion succeeded: client assertions are not supported")
			}
			s.checkTokenSuccess(r, ep.path, answer, fail)
		}
		for _, sec := range fzRequestSecrets(r, form) {
			if len(sec) > fzSecretMin && bytes.Contains(rec.Body.Bytes(), []byte(sec)) && !strings.Contains(s.texts, sec) {
				fail("the answer echoes the secret %q", sec)
			}
		}
	})
}

// resolves reports whether the request's Host (and X-tenant-id) names a
// fixture tenant.
func (s *fzOIDC) resolves(r *http.Request) bool {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil)
	req.Host = r.Host
	req.Header = r.Header.Clone()
	s.handler.ServeHTTP(rec, req)
	s.tb.take()
	return rec.Code == http.StatusOK
}

// fzCleanForm reads the request's form body independently; clean reports
// a form the token side must parse: the form Content-Type, at most 16 KiB,
// well-formed, no parameter twice, and at most one Authorization header.
func fzCleanForm(r *http.Request, body []byte) (form url.Values, clean bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form, perr := url.ParseQuery(string(body))
	clean = err == nil && mt == fzForm && perr == nil && len(body) <= 16<<10 && len(r.Header.Values("Authorization")) <= 1
	for _, v := range form {
		clean = clean && len(v) == 1
	}
	return form, clean
}

// fzRequestSecrets are the secrets a token-side request carries.
func fzRequestSecrets(r *http.Request, form url.Values) []string {
	var out []string
	for _, a := range r.Header.Values("Authorization") {
		out = append(out, a)
		if _, tok, ok := strings.Cut(a, " "); ok {
			out = append(out, strings.TrimSpace(tok))
		}
	}
	if _, sec, ok := r.BasicAuth(); ok {
		out = append(out, sec)
	}
	for _, k := range []string{"client_secret", "code", "refresh_token", "code_verifier", "token", "access_token", "client_assertion"} {
		out = append(out, form[k]...)
	}
	return out
}

// checkTokenSuccess checks the shape of a success of each endpoint, and
// that an id_token issued verifies for the tenant (go-oidc).
func (s *fzOIDC) checkTokenSuccess(r *http.Request, path string, answer map[string]any, fail func(string, ...any)) {
	switch path {
	case "/api/v1/oauth2/token":
		at, _ := answer["access_token"].(string)
		exp, _ := answer["expires_in"].(float64)
		if at == "" || answer["token_type"] != "Bearer" || exp <= 0 {
			fail("token answer %v", answer)
		}
		if raw, ok := answer["id_token"].(string); ok {
			tid := s.tenantOf(r)
			tok, err := s.verifier[tid].Verify(context.Background(), raw)
			if err != nil {
				fail("the id_token does not verify for %s: %v", tid, err)
			}
			if len(tok.Audience) != 1 {
				fail("id_token audience %q", tok.Audience)
			}
			if _, ok := s.fzApp(tid, tok.Audience[0]); !ok {
				fail("id_token for %q, not a client of %s", tok.Audience[0], tid)
			}
		}
	case "/api/v1/oauth2/introspect":
		if _, ok := answer["active"].(bool); !ok {
			fail("introspection answer %v", answer)
		}
	case "/api/v1/oauth2/revoke":
		if len(answer) != 0 {
			fail("revocation answer %v", answer)
		}
	default:
		if sub, _ := answer["sub"].(string); sub == "" {
			fail("userinfo answer %v", answer)
		}
	}
}

// FuzzOIDCLogoutRequest fuzzes GET /api/v1/logout. op&7 picks the Host
// (fzBrowserHosts); cookie is the Cookie header (placeholders allowed).
func FuzzOIDCLogoutRequest(f *testing.F) {
	const bye = "http%3A%2F%2Fapp.test%2Fbye"
	// More shapes, named, in testdata/fuzz/FuzzOIDCLogoutRequest.
	for _, s := range []struct {
		op                  uint8
		host, query, cookie string
	}{
		{0, "", "post_logout_redirect_uri=" + bye + "&id_token_hint={{id-token}}&state=lo-1", "sesame_session={{cookie}}"},
		{0, "", "redirect_url=" + bye, "sesame_session={{cookie}}"},
		{0, "", "post_logout_redirect_uri=" + bye + "&id_token_hint={{id-token-web2}}", ""},
		{0, "", "post_logout_redirect_uri=" + bye + "&id_token_hint={{jwt-access}}", ""},
		{0, "", "post_logout_redirect_uri=" + bye + "&id_token_hint={{id-token-shop}}", ""},
		{1, "", "post_logout_redirect_uri=http%3A%2F%2Fevil.test%2Fbye", "sesame_session={{cookie}}"},
	} {
		f.Add(s.op, s.host, s.query, s.cookie)
	}
	s := newFzOIDC(f)
	f.Fuzz(func(t *testing.T, op uint8, host, query, cookie string) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/logout", nil)
		r.URL.RawQuery = query
		r.Host = fzBrowserHosts[op&7]
		if r.Host == "" {
			r.Host = host
		}
		fzAddHeader(r.Header, "Cookie", cookie)
		rec, _, fail := s.serve(t, r, nil)
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			q = url.Values{} // what the endpoint reads of a malformed query
		}
		if hint := q.Get("id_token_hint"); len(hint) > 30 && strings.Contains(rec.Body.String()+rec.Header().Get("Location"), hint) {
			fail("the answer shows the id_token_hint")
		}
		if rec.Code == http.StatusNotFound {
			checkPage(rec, fail)
			return
		}
		cleared := false
		for _, sc := range rec.Header().Values("Set-Cookie") {
			cleared = cleared || (strings.HasPrefix(sc, "sesame_session=;") && strings.Contains(sc, "Max-Age=0"))
		}
		if !cleared {
			fail("logout did not clear the session cookie")
		}
		if rec.Code != http.StatusFound && rec.Code != http.StatusSeeOther {
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				fail("status %d", rec.Code)
			}
			checkPage(rec, fail)
			return
		}
		target := q.Get("post_logout_redirect_uri")
		if target == "" {
			target = q.Get("redirect_url")
		}
		loc, err1 := url.Parse(rec.Header().Get("Location"))
		reg, err2 := url.Parse(target)
		if err1 != nil || err2 != nil || loc.Scheme != reg.Scheme || loc.Host != reg.Host || loc.Path != reg.Path ||
			loc.User.String() != reg.User.String() || loc.Opaque != reg.Opaque || loc.Fragment != "" {
			fail("redirect to %q for target %q", rec.Header().Get("Location"), target)
		}
		// The state comes back as sent, URL-encoded, unless it is too long.
		want := q.Get("state")
		if len(want) > 512 {
			want = ""
		}
		if st := loc.Query()["state"]; (want == "" && st != nil) || (want != "" && (len(st) != 1 || st[0] != want)) {
			fail("state %q, sent %q", st, q.Get("state"))
		}
		tid := s.tenantOf(r)
		client := q.Get("client_id")
		if hint := q.Get("id_token_hint"); hint != "" {
			aud, ok := s.hintAudience(tid, hint)
			if !ok {
				fail("redirected on the strength of an id_token_hint that is not an id_token of %s", s.issuers[tid])
			}
			if client != "" && client != aud {
				fail("hint for %q but client_id %q", aud, client)
			}
			client = aud
		}
		allowed := false
		for _, a := range s.tenants[tid].Applications {
			allowed = allowed || ((client == "" || a.ClientID == client) && slices.Contains(a.PostLogoutRedirectURIs, target))
		}
		if !allowed {
			fail("redirected to %q, not a post-logout URI registered for client %q of %s", target, client, tid)
		}
	})
}

// hintAudience verifies an id_token_hint independently of the server:
// go-oidc with the tenant's published keys and issuer, expiry not checked,
// and a header type JWT (an id_token, not an at+jwt access token). It
// returns the audience.
func (s *fzOIDC) hintAudience(tid, hint string) (string, bool) {
	tok, err := s.verifier[tid].Verify(context.Background(), hint)
	if err != nil || len(tok.Audience) != 1 {
		return "", false
	}
	head, _, _ := strings.Cut(hint, ".")
	hb, err := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		Typ string `json:"typ"`
	}
	if err != nil || json.Unmarshal(hb, &h) != nil || !strings.EqualFold(h.Typ, "JWT") {
		return "", false
	}
	return tok.Audience[0], true
}
