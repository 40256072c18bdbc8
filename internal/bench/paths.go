package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// Ceiling kinds: what bounds a path on this machine.
const (
	CeilingRS256  = "rs256"    // one RS256 signature per operation
	CeilingES256  = "es256"    // one ES256 signature per operation
	CeilingArgon2 = "argon2id" // one argon2id hash per operation
	CeilingHTTP   = "http"     // HTTP plumbing: the healthz path's throughput
)

// op is one operation of a worker: it returns "" on success, or the
// outcome that names the failure.
type op func(ctx context.Context) string

// pathDef is a hot path: how to make a worker (with its own session,
// token chain or credentials) and what bounds it.
type pathDef struct {
	name    string
	about   string
	ceiling string
	// newWorker prepares worker i; its setup is not measured.
	newWorker func(ctx context.Context, e *env, i int) (op, error)
}

// env is what the workers of a run share.
type env struct {
	c *client
	f Fixture

	cookieOnce sync.Once
	cookie     string
	cookieErr  error
}

// browserCookie is one hosted-login browser session, shared by every
// worker that needs codes: an authorization request with a session only
// reads it.
func (e *env) browserCookie(ctx context.Context) (string, error) {
	e.cookieOnce.Do(func() { e.cookie, e.cookieErr = e.c.hostedLogin(ctx, e.f.Users[0], e.f.Password) })
	return e.cookie, e.cookieErr
}

func (e *env) user(i int) string { return e.f.Users[i%len(e.f.Users)] }

func device(i int) string { return "bench-device-" + strconv.Itoa(i) }

// Paths lists every path the harness knows, in the order they run.
func Paths() []string {
	var out []string
	for _, p := range pathDefs() {
		out = append(out, p.name)
	}
	return out
}

func findPath(name string) (pathDef, bool) {
	for _, p := range pathDefs() {
		if p.name == name {
			return p, true
		}
	}
	return pathDef{}, false
}

func pathDefs() []pathDef {
	return []pathDef{
		{name: "healthz", ceiling: "", about: "GET /healthz: the HTTP floor, reference for the http ceiling",
			newWorker: simpleGet("/healthz", `"ok"`)},
		{name: "sdk-login", ceiling: CeilingArgon2, about: "POST /api/v2/sdk/login (argon2id verification, new session)",
			newWorker: loginWorker},
		{name: "exchange-rs256", ceiling: CeilingRS256, about: "session exchange, RS256 id_token, no rotation",
			newWorker: exchangeWorker(AppRS256, false)},
		{name: "exchange-rs256-rotate", ceiling: CeilingRS256, about: "session exchange, RS256, session_auto_refresh",
			newWorker: exchangeWorker(AppRS256Rotate, true)},
		{name: "exchange-es256", ceiling: CeilingES256, about: "session exchange, ES256 id_token, no rotation",
			newWorker: exchangeWorker(AppES256, false)},
		{name: "exchange-es256-rotate", ceiling: CeilingES256, about: "session exchange, ES256, session_auto_refresh",
			newWorker: exchangeWorker(AppES256Rotate, true)},
		{name: "tenant-refresh", ceiling: CeilingHTTP, about: "POST /api/v2/tenant/sso/session-token/refresh (rotation)",
			newWorker: tenantRefreshWorker},
		{name: "cc-opaque", ceiling: CeilingHTTP, about: "client_credentials at /api/v1/oauth2/token, opaque access token",
			newWorker: ccWorker(AppCCOpaque)},
		{name: "cc-jwt-rs256", ceiling: CeilingRS256, about: "client_credentials, RS256 JWT access token",
			newWorker: ccWorker(AppCCJWT)},
		{name: "authcode", ceiling: CeilingRS256, about: "authorize with a browser session → code → token (PKCE; RS256 id_token, refresh token)",
			newWorker: authCodeWorker},
		{name: "refresh-token", ceiling: CeilingRS256, about: "refresh_token grant (rotation, RS256 id_token)",
			newWorker: refreshWorker},
		{name: "introspect", ceiling: CeilingHTTP, about: "POST /api/v1/oauth2/introspect of an opaque access token",
			newWorker: introspectWorker},
		{name: "userinfo", ceiling: CeilingHTTP, about: "GET /api/v1/oauth2/userinfo with an opaque access token",
			newWorker: userinfoWorker},
		{name: "jwks", ceiling: CeilingHTTP, about: "GET /api/v1/oauth2/keys",
			newWorker: simpleGet("/api/v1/oauth2/keys", `"keys"`)},
	}
}

// check turns an answer into an outcome: "" when it is a 200 whose body
// holds want.
func check(a *answer, err error, want string) string {
	if err != nil || a.status != http.StatusOK {
		return outcome(a, err)
	}
	if want != "" && !bytes.Contains(a.body, []byte(want)) {
		return unexpected(a, "without "+want)
	}
	return ""
}

func simpleGet(path, want string) func(context.Context, *env, int) (op, error) {
	return func(_ context.Context, e *env, _ int) (op, error) {
		return func(ctx context.Context) string {
			a, err := e.c.do(ctx, http.MethodGet, path, nil, nil)
			defer e.c.release(a)
			return check(a, err, want)
		}, nil
	}
}

func loginWorker(_ context.Context, e *env, i int) (op, error) {
	body, _ := json.Marshal(map[string]string{"user_name": e.user(i), "password": e.f.Password})
	hdr := sdkHeaders(AppRS256, device(i))
	return func(ctx context.Context) string {
		a, err := e.c.do(ctx, http.MethodPost, "/api/v2/sdk/login", hdr, body)
		defer e.c.release(a)
		if o := check(a, err, `"session_token"`); o != "" {
			return o
		}
		if s := field(a.body, "status"); s != "SUCCESS" {
			return unexpected(a, "status "+s)
		}
		return ""
	}, nil
}

// exchangeWorker exchanges a session of its own again and again; with
// rotation it presents the successor each time, as a client must.
func exchangeWorker(clientID string, rotate bool) func(context.Context, *env, int) (op, error) {
	return func(ctx context.Context, e *env, i int) (op, error) {
		dev := device(i)
		tok, err := e.c.sdkLogin(ctx, clientID, dev, e.user(i), e.f.Password)
		if err != nil {
			return nil, err
		}
		hdr := sdkHeaders(clientID, dev)
		hdr.Del("Content-Type")
		hdr.Set("X-Session-Token", tok)
		return func(ctx context.Context) string {
			a, err := e.c.do(ctx, http.MethodPost, "/api/v2/sdk/sso/session-token/id-token", hdr, nil)
			defer e.c.release(a)
			if o := check(a, err, `"id_token"`); o != "" {
				if a != nil && a.status == http.StatusBadRequest && rotate {
					// The chain is broken (it should not be): start a new
					// one, inside the next operation's time.
					if t, err := e.c.sdkLogin(ctx, clientID, dev, e.user(i), e.f.Password); err == nil {
						hdr.Set("X-Session-Token", t)
					}
				}
				return o
			}
			next := field(a.body, "session_token")
			switch {
			case rotate && (next == "" || next == hdr.Get("X-Session-Token")):
				return unexpected(a, "not rotated")
			case !rotate && next != hdr.Get("X-Session-Token"):
				return unexpected(a, "rotated unasked")
			}
			hdr.Set("X-Session-Token", next)
			return ""
		}, nil
	}
}

func tenantRefreshWorker(ctx context.Context, e *env, i int) (op, error) {
	dev := device(i)
	tok, err := e.c.sdkLogin(ctx, AppRS256, dev, e.user(i), e.f.Password)
	if err != nil {
		return nil, err
	}
	bearer, err := e.c.clientToken(ctx, "/api/v2/tenant/token", AppRS256, e.f.Secret)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{"Authorization": {"Bearer " + bearer}, "Content-Type": {"application/json"}}
	type refreshBody struct {
		SessionToken string `json:"session_token"`
		OS           string `json:"operating_sys_version"`
		IP           string `json:"device_ip"`
		Fingerprint  string `json:"device_fingerprint"`
		Agent        string `json:"agent"`
	}
	rb := refreshBody{SessionToken: tok, OS: "linux6.1", IP: "127.0.0.1", Fingerprint: dev, Agent: "sesame-bench/1"}
	return func(ctx context.Context) string {
		body, _ := json.Marshal(rb)
		a, err := e.c.do(ctx, http.MethodPost, "/api/v2/tenant/sso/session-token/refresh", hdr, body)
		defer e.c.release(a)
		if o := check(a, err, `"session_token"`); o != "" {
			return o
		}
		next := field(a.body, "session_token")
		if next == "" || next == rb.SessionToken {
			return unexpected(a, "not rotated")
		}
		rb.SessionToken = next
		return ""
	}, nil
}

func ccWorker(clientID string) func(context.Context, *env, int) (op, error) {
	return func(_ context.Context, e *env, _ int) (op, error) {
		body := []byte(url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {e.f.Secret}}.Encode())
		return func(ctx context.Context) string {
			a, err := e.c.do(ctx, http.MethodPost, "/api/v1/oauth2/token", formHeader, body)
			defer e.c.release(a)
			return check(a, err, `"access_token"`)
		}, nil
	}
}

// redeem gets a code with the browser session and redeems it.
func redeem(ctx context.Context, e *env, cookie string) (*answer, string) {
	code, fail, err := e.c.authorizeCode(ctx, cookie)
	if err != nil {
		return nil, "authorize: " + outcome(nil, err)
	}
	if fail != "" {
		return nil, fail
	}
	a, err := e.c.do(ctx, http.MethodPost, "/api/v1/oauth2/token", formHeader, codeForm(code, e.f.Secret))
	if o := check(a, err, `"id_token"`); o != "" {
		e.c.release(a)
		return nil, "token: " + o
	}
	return a, ""
}

func authCodeWorker(ctx context.Context, e *env, _ int) (op, error) {
	cookie, err := e.browserCookie(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) string {
		a, o := redeem(ctx, e, cookie)
		e.c.release(a)
		return o
	}, nil
}

// userToken runs the code flow once and returns the access and refresh
// tokens.
func userToken(ctx context.Context, e *env) (access, refresh string, err error) {
	cookie, err := e.browserCookie(ctx)
	if err != nil {
		return "", "", err
	}
	a, o := redeem(ctx, e, cookie)
	if o != "" {
		return "", "", fmt.Errorf("bench: code flow: %s", o)
	}
	defer e.c.release(a)
	return field(a.body, "access_token"), field(a.body, "refresh_token"), nil
}

func refreshWorker(ctx context.Context, e *env, _ int) (op, error) {
	_, rt, err := userToken(ctx, e)
	if err != nil {
		return nil, err
	}
	if rt == "" {
		return nil, fmt.Errorf("bench: %s got no refresh token", AppWeb)
	}
	v := url.Values{"grant_type": {"refresh_token"}, "client_id": {AppWeb}, "client_secret": {e.f.Secret}}
	return func(ctx context.Context) string {
		v.Set("refresh_token", rt)
		a, err := e.c.do(ctx, http.MethodPost, "/api/v1/oauth2/token", formHeader, []byte(v.Encode()))
		defer e.c.release(a)
		if o := check(a, err, `"refresh_token"`); o != "" {
			return o
		}
		rt = field(a.body, "refresh_token")
		return ""
	}, nil
}

func introspectWorker(ctx context.Context, e *env, _ int) (op, error) {
	tok, err := e.c.clientToken(ctx, "/api/v1/oauth2/token", AppWeb, e.f.Secret)
	if err != nil {
		return nil, err
	}
	body := []byte(url.Values{"token": {tok}, "client_id": {AppWeb}, "client_secret": {e.f.Secret}}.Encode())
	return func(ctx context.Context) string {
		a, err := e.c.do(ctx, http.MethodPost, "/api/v1/oauth2/introspect", formHeader, body)
		defer e.c.release(a)
		if o := check(a, err, ""); o != "" {
			return o
		}
		if !hasTrue(a.body, "active") {
			return unexpected(a, "inactive")
		}
		return ""
	}, nil
}

func userinfoWorker(ctx context.Context, e *env, _ int) (op, error) {
	at, _, err := userToken(ctx, e)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{"Authorization": {"Bearer " + at}}
	return func(ctx context.Context) string {
		a, err := e.c.do(ctx, http.MethodGet, "/api/v1/oauth2/userinfo", hdr, nil)
		defer e.c.release(a)
		return check(a, err, `"sub"`)
	}, nil
}
