package oauth2

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/keys/keystest"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// The fuzz targets of this file run on every `go test` with their seeds
// (f.Add and testdata/fuzz/<Name>/) and, in CI, for a bounded number of
// executions (.ci/run):
//
//	go test -run='^$' -fuzz='^FuzzClientRequest$' -fuzztime=100000x ./internal/oauth2/
//
// A fuzzed header value is split at "\n" into the values of a repeated
// header (no single header value can hold a newline); "" means absent.

// fuzzHeader adds a fuzzed header value to h; see the file comment.
func fuzzHeader(h http.Header, name, value string) {
	if value == "" {
		return
	}
	for _, v := range strings.Split(value, "\n") {
		h.Add(name, v)
	}
}

// descriptionOK reports whether s may be an error_description: RFC 6749
// §5.2 (and §4.1.2.1) allow only %x20-21 / %x23-5B / %x5D-7E.
func descriptionOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// checkError checks an error value and what WriteError makes of it.
func checkError(t *testing.T, e *Error, codes ...string) {
	t.Helper()
	if !slices.Contains(codes, e.Code) {
		t.Fatalf("error code %q, want one of %q (%v)", e.Code, codes, e)
	}
	if !descriptionOK(e.Description) {
		t.Fatalf("error_description %q has characters RFC 6749 §5.2 does not allow", e.Description)
	}
	rec := httptest.NewRecorder()
	WriteError(rec, e)
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != e.Code || len(body) > 2 {
		t.Fatalf("WriteError wrote %q", rec.Body)
	}
	if e.Code == ErrInvalidClient && rec.Code != http.StatusUnauthorized {
		t.Fatalf("invalid_client with status %d (contract §4: 401)", rec.Code)
	}
	if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate (RFC 7235 §3.1)")
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatal("error without Cache-Control: no-store")
	}
}

// fuzzSecret is the client secret of the confidential fixture client.
const fuzzSecret = "s3cret-0123456789-abcdef"

// clientStore holds the two fixture clients of FuzzClientRequest:
// "web", confidential with fuzzSecret, and "spa", public. Only
// GetApplication is implemented; the embedded nil store.Store panics on
// any other method, which AuthenticateClient must not call.
type clientStore struct {
	store.Store
	apps map[string]store.Application
}

func (s clientStore) GetApplication(_ context.Context, tenantID, clientID string) (store.Application, error) {
	if a, ok := s.apps[clientID]; ok && tenantID == "acme" {
		return a, nil
	}
	return store.Application{}, store.ErrNotFound
}

func newHasher(t testing.TB) *secret.Hasher {
	t.Helper()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	h, err := secret.NewHasher(master)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func basicAuth(id, sec string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+sec))
}

// FuzzClientRequest fuzzes the token-side request parser (ClientRequest:
// form, client credentials, client authentication) as the token,
// introspection and revocation endpoints use it. Invariants: an error is
// invalid_request or invalid_client with a description RFC 6749 §5.2
// allows; a client assertion (RFC 7523 private_key_jwt, which Sesame does
// not support) is always refused with invalid_client; a success has
// exactly one authentication method, the right secret for a confidential
// client and none for a public one, and a form with no repeated
// parameter.
func FuzzClientRequest(f *testing.F) {
	// More shapes, named, in testdata/fuzz/FuzzClientRequest.
	const fm = "application/x-www-form-urlencoded"
	for _, s := range []struct{ contentType, authorization, body string }{
		{fm, "", "grant_type=client_credentials&client_id=web&client_secret=" + fuzzSecret},
		{fm, basicAuth("web", fuzzSecret), "grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2Fapp.test%2Fcallback"},
		{fm, "", "grant_type=authorization_code&client_id=spa&code=abc&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
		{fm, "", "client_id=spa&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJub25lIn0.e30."},
	} {
		f.Add(s.contentType, s.authorization, []byte(s.body))
	}
	h := newHasher(f)
	st := clientStore{apps: map[string]store.Application{
		"web": {TenantID: "acme", ClientID: "web", SecretHash: HashClientSecret(h, fuzzSecret)},
		"spa": {TenantID: "acme", ClientID: "spa"},
	}}
	f.Fuzz(func(t *testing.T, contentType, authorization string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/oauth2/token", bytes.NewReader(body))
		fuzzHeader(r.Header, "Content-Type", contentType)
		fuzzHeader(r.Header, "Authorization", authorization)
		auths := r.Header.Values("Authorization")
		basicID, basicSecret, hasBasic := r.BasicAuth()

		form, app, oerr := ClientRequest(r, st, h, "acme")

		// What the request is, read independently of the code under test.
		mt, _, mtErr := mime.ParseMediaType(r.Header.Get("Content-Type"))
		raw, qErr := url.ParseQuery(string(body))
		clean := mtErr == nil && mt == "application/x-www-form-urlencoded" && qErr == nil && len(body) <= maxFormBytes
		for _, v := range raw {
			clean = clean && len(v) == 1
		}
		assertion := raw.Get("client_assertion") != "" || raw.Get("client_assertion_type") != ""

		if oerr != nil {
			checkError(t, oerr, ErrInvalidRequest, ErrInvalidClient)
			if clean && assertion && len(auths) <= 1 && oerr.Code != ErrInvalidClient {
				t.Fatalf("a client assertion was refused with %v, want invalid_client (RFC 7521 §4.2.1)", oerr)
			}
			return
		}
		if !clean {
			t.Fatalf("accepted a body that is not a well-formed form (Content-Type %q, %d bytes, parse error %v)", contentType, len(body), qErr)
		}
		if assertion {
			t.Fatal("accepted a request with a client assertion: client assertions are not supported")
		}
		for k, v := range form {
			if len(v) != 1 || raw.Get(k) != v[0] {
				t.Fatalf("parameter %q is %q, the body says %q", k, v, raw[k])
			}
		}
		if len(auths) > 1 {
			t.Fatal("accepted a repeated Authorization header")
		}
		if id := form.Get("client_id"); id != "" && id != app.ClientID {
			t.Fatalf("form client_id %q but authenticated %q", id, app.ClientID)
		}
		switch {
		case app.ClientID == "web" && hasBasic:
			id, _ := url.QueryUnescape(basicID)
			sec, _ := url.QueryUnescape(basicSecret)
			if id != "web" || sec != fuzzSecret || form.Get("client_secret") != "" {
				t.Fatalf("web authenticated by Basic %q:%q with form secret %q", id, sec, form.Get("client_secret"))
			}
		case app.ClientID == "web":
			if len(auths) != 0 || form.Get("client_secret") != fuzzSecret {
				t.Fatalf("web authenticated without its secret (Authorization %q)", auths)
			}
		case app.ClientID == "spa":
			if len(auths) != 0 || form.Get("client_secret") != "" {
				t.Fatalf("the public client authenticated with credentials (Authorization %q, secret %q)", auths, form.Get("client_secret"))
			}
		default:
			t.Fatalf("authenticated unknown client %q", app.ClientID)
		}
	})
}

// FuzzBearerToken fuzzes the Authorization header of the bearer-token
// endpoints (userinfo, tenant API). Invariants: a token is returned only
// from a single Authorization header of scheme Bearer, is not empty, has
// no surrounding white space, and is at most 4096 bytes.
func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc.def.ghi") // more in testdata/fuzz/FuzzBearerToken
	f.Add("Bearer a\nBearer b")
	f.Fuzz(func(t *testing.T, authorization string) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/oauth2/userinfo", nil)
		fuzzHeader(r.Header, "Authorization", authorization)
		tok, ok := BearerToken(r)
		if !ok {
			if tok != "" {
				t.Fatalf("no token, but %q", tok)
			}
			return
		}
		hs := r.Header.Values("Authorization")
		if len(hs) != 1 {
			t.Fatalf("a token from %d Authorization headers", len(hs))
		}
		if len(hs[0]) < 7 || !strings.EqualFold(hs[0][:7], "Bearer ") || !strings.Contains(hs[0][7:], tok) {
			t.Fatalf("token %q from %q", tok, hs[0])
		}
		if tok == "" || len(tok) > 4096 || strings.TrimSpace(tok) != tok {
			t.Fatalf("token %q", tok)
		}
	})
}

// FuzzParseScope fuzzes scope parsing and comparison (RFC 6749 §3.3).
// Invariants: a parsed scope has only known, distinct values, and parsing
// it again gives it back; SubsetScope holds exactly when every value of
// the request is granted.
func FuzzParseScope(f *testing.F) {
	f.Add("openid profile", "openid profile email") // more in testdata/fuzz/FuzzParseScope
	f.Add("openid openid admin", "openid")
	f.Fuzz(func(t *testing.T, requested, granted string) {
		scopes, ok := ParseScope(requested)
		if ok {
			for i, sc := range scopes {
				if !slices.Contains(knownScopes, sc) || slices.Contains(scopes[:i], sc) {
					t.Fatalf("ParseScope(%q) = %q", requested, scopes)
				}
				if !slices.Contains(strings.Fields(requested), sc) {
					t.Fatalf("ParseScope(%q) invented %q", requested, sc)
				}
			}
			again, ok2 := ParseScope(strings.Join(scopes, " "))
			if !ok2 || !slices.Equal(again, scopes) {
				t.Fatalf("ParseScope is not stable on %q: %q", scopes, again)
			}
		} else if scopes != nil {
			t.Fatalf("ParseScope(%q) failed but returned %q", requested, scopes)
		}
		want := true
		for _, sc := range strings.Fields(requested) {
			want = want && slices.Contains(strings.Fields(granted), sc)
		}
		if got := SubsetScope(requested, granted); got != want {
			t.Fatalf("SubsetScope(%q, %q) = %v", requested, granted, got)
		}
	})
}

// pkceValue is RFC 7636 §4.1's code_verifier syntax (the S256 challenge,
// base64url of 32 bytes, is 43 characters of the same alphabet).
var pkceValue = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// FuzzPKCE fuzzes PKCE verification (RFC 7636 §4.6). Invariants: a value
// is valid exactly when it has the RFC's syntax; a verifier matches only
// the challenge BASE64URL(SHA256(verifier)), and always does when valid.
func FuzzPKCE(f *testing.F) {
	// RFC 7636 Appendix B; more in testdata/fuzz/FuzzPKCE.
	f.Add("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	f.Fuzz(func(t *testing.T, verifier, challenge string) {
		if got := ValidPKCEValue(verifier); got != pkceValue.MatchString(verifier) {
			t.Fatalf("ValidPKCEValue(%q) = %v", verifier, got)
		}
		sum := sha256.Sum256([]byte(verifier))
		s256 := base64.RawURLEncoding.EncodeToString(sum[:])
		if VerifyPKCE(verifier, challenge) && challenge != s256 {
			t.Fatalf("VerifyPKCE(%q, %q) accepted a challenge that is not the verifier's", verifier, challenge)
		}
		if got := VerifyPKCE(verifier, s256); got != ValidPKCEValue(verifier) {
			t.Fatalf("VerifyPKCE(%q, its own S256) = %v", verifier, got)
		}
	})
}

// nearMisses are the redirect URIs an attacker derives from a registered
// one (RFC 9700 §4.1.1, §4.1.3: open redirection through lax matching).
func nearMisses(u, extra string) []string {
	out := []string{u + "/", u + "#" + extra, u + "?" + extra, u + "/../" + extra, u + "%2F..%2F" + extra,
		u + "/.", u + "%00", u + " ", strings.ToUpper(u), strings.TrimSuffix(u, "/"), u + "&" + extra}
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		host := p.Host
		for _, h := range []string{
			"evil@" + host, host + "@evil.test", host + ".", host + ":443", host + ":80", host + ":0", "EVIL." + host, host + ".evil.test",
			strings.ToUpper(host), "xn--" + host, "аpp.test", extra,
		} {
			q := *p
			q.Host = h
			out = append(out, q.String(), strings.Replace(u, host, h, 1))
		}
		q := *p
		q.User = url.UserPassword(host, extra)
		out = append(out, q.String())
		q = *p
		q.Path = strings.ReplaceAll(p.Path, "/", "%2F")
		out = append(out, q.String(), strings.Replace(u, p.Path, url.PathEscape(p.Path), 1))
	}
	return out
}

// FuzzRedirectURIRegistered fuzzes redirect URI matching. registered is
// split at "\n" into the registered list. Invariants: a URI is registered
// exactly when it is byte for byte one of the list (RFC 9700 §4.1.3:
// simple string comparison), and none of the near misses of a registered
// URI — encodings, fragments, userinfo, ports, IDNs, path traversal,
// case — matches unless it is itself in the list.
func FuzzRedirectURIRegistered(f *testing.F) {
	f.Add("http://app.test/callback", "http://app.test/callback") // more in testdata/fuzz/FuzzRedirectURIRegistered
	f.Add("http://app.test/callback\ncom.example.app:/cb", "https://evil.test@app.test/callback")
	f.Fuzz(func(t *testing.T, registered, presented string) {
		reg := strings.Split(registered, "\n")
		want := presented != "" && slices.Contains(reg, presented)
		if got := RedirectURIRegistered(presented, reg); got != want {
			t.Fatalf("RedirectURIRegistered(%q, %q) = %v", presented, reg, got)
		}
		for _, u := range reg {
			for _, m := range nearMisses(u, presented) {
				if m != u && !slices.Contains(reg, m) && RedirectURIRegistered(m, reg) {
					t.Fatalf("near miss %q of %q matched %q", m, u, reg)
				}
			}
		}
	})
}

// jwtFixture is a tenant "acme" with known keys, the Manager that serves
// them, and the Forger that builds tokens for FuzzAccessTokenJWT.
type jwtFixture struct {
	tokens *AccessTokens
	forger *keystest.Forger
	tenant store.Tenant
	now    time.Time
}

const fuzzIssuer = "https://acme.test/api/v1/oauth2"

func newJWTFixture(t testing.TB) *jwtFixture {
	t.Helper()
	st := keystest.NewStore()
	sealer := keystest.Sealer(t)
	clock := keystest.NewClock(time.Unix(1_800_000_000, 0))
	known := keystest.KnownKeys(t, st, sealer, "acme", clock.Now().Add(-time.Hour))
	m := keys.NewManager(st, sealer, keys.Options{Now: clock.Now})
	fg := keystest.NewForger(t, "acme", known, m)
	fg.Vars = map[string]string{
		"{{iss}}": fuzzIssuer, "{{exp}}": "1800003600", "{{past}}": "1799996400",
	}
	return &jwtFixture{
		tokens: &AccessTokens{Hasher: newHasher(t), Keys: m, Now: clock.Now,
			Issuer: func(store.Tenant) string { return fuzzIssuer }},
		forger: fg, tenant: store.Tenant{ID: "acme"}, now: clock.Now(),
	}
}

// jwtClaimsSeed holds the claims of a valid token for the seeds of
// FuzzAccessTokenJWT; the Forger replaces {{iss}} and {{exp}}.
const jwtClaimsSeed = `{"iss":"{{iss}}","sub":"u1","aud":"web","client_id":"web","exp":{{exp}},"iat":1800000000,"jti":"j1"}`

// FuzzAccessTokenJWT fuzzes the verification of JWT access tokens (RFC
// 9068) as the userinfo, introspection, revocation and tenant endpoints
// present them. Invariant: a token is accepted only if it carries a
// signature that the tenant's key for the algorithm its header names made
// over exactly its signing input, its kid names that key, its typ is
// at+jwt (so that no id_token passes, RFC 9068 §4), and its claims have
// this issuer, a jti and an expiry in the future; and such a token signed
// by the server itself is always accepted.
func FuzzAccessTokenJWT(f *testing.F) {
	// The server's own access token (ES256), its id_token (EdDSA), alg
	// none; the attacks are in testdata/fuzz/FuzzAccessTokenJWT.
	f.Add(uint8(keystest.ModeServer|2<<3|1<<5), "", jwtClaimsSeed, "")
	f.Add(uint8(keystest.ModeServer|3<<3), "", jwtClaimsSeed, "")
	f.Add(uint8(keystest.ModeNone|2<<3), `{"alg":"none","kid":"{{kid}}","typ":"at+jwt"}`, jwtClaimsSeed, "")
	fx := newJWTFixture(f)
	f.Fuzz(func(t *testing.T, mode uint8, header, payload, tail string) {
		fg := fx.forger.Forge(t, mode, header, payload, tail)
		ctx := context.Background()
		hash, ok, err := fx.tokens.StorageHash(ctx, fx.tenant, fg.Token)
		if err != nil {
			t.Fatalf("StorageHash: %v (only a storage failure may be an error)", err)
		}
		if !isJWT(fg.Token) {
			if !ok || !bytes.Equal(hash, fx.tokens.Hasher.Hash(PurposeAccessToken, fg.Token)) {
				t.Fatal("an opaque token is not looked up by its hash")
			}
			return
		}
		jti, verr := fx.tokens.verifyJWT(ctx, fx.tenant, fg.Token)
		if verr != nil && !errors.Is(verr, errBadJWT) {
			t.Fatalf("verifyJWT: %v", verr)
		}
		if ok != (verr == nil) {
			t.Fatalf("StorageHash ok=%v but verifyJWT %v", ok, verr)
		}
		var c jwtClaims
		if ok {
			keystest.CheckAccepted(t, fg, "at+jwt", &c)
			if c.Issuer != fuzzIssuer || c.ID == "" || c.ID != jti || fx.now.Unix() >= c.Expiry {
				t.Fatalf("accepted claims %+v (jti %q)", c, jti)
			}
			if !bytes.Equal(hash, fx.tokens.Hasher.Hash(PurposeAccessTokenJTI, jti)) {
				t.Fatal("a JWT is not looked up by the hash of its jti")
			}
			return
		}
		// Completeness: the server's own well-formed token passes.
		if mode&7 == keystest.ModeServer && mode>>5&1 == 1 && fg.SignedBy != nil && len(fg.Token) <= 8192 &&
			json.Unmarshal([]byte(fx.forger.Expand(payload, fg.SignedBy)), &c) == nil &&
			c.Issuer == fuzzIssuer && c.ID != "" && fx.now.Unix() < c.Expiry {
			t.Fatalf("refused the server's own access token %q", fg.Token)
		}
	})
}
