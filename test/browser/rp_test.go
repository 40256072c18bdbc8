package browser_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// relyingParty is a small web application that signs its users in with
// Sesame the way a real one does: the browser is redirected to the
// authorization endpoint (code flow, PKCE S256, state and nonce), the code
// is redeemed server to server with x/oauth2, the id_token is verified
// with go-oidc, and logout goes through Sesame's end-session endpoint.
type relyingParty struct {
	clientID string
	title    string // shown on its pages
	color    string // header colour, to tell the applications apart
	host     string // e.g. app1.test
	base     string // http://app1.test:<port>
	ln       net.Listener

	// Set by start.
	e          *st.Env
	issuer     string
	provider   *oidc.Provider
	conf       oauth2.Config
	endSession string

	mu       sync.Mutex
	pending  map[string]pendingLogin // by state
	sessions map[string]rpSession    // by the rp_session cookie
	logouts  map[string]bool         // states of logouts under way
	errs     []string                // every error a page reported
}

type pendingLogin struct{ nonce, verifier string }

type rpSession struct{ user, sub, rawIDToken string }

// newRelyingParty listens on 127.0.0.1 first, so that its redirect URIs
// (which carry the port) can go into Sesame's configuration.
func newRelyingParty(t *testing.T, clientID, title, color, host string) *relyingParty {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &relyingParty{
		clientID: clientID, title: title, color: color, host: host,
		base: "http://" + net.JoinHostPort(host, port), ln: ln,
		pending: map[string]pendingLogin{}, sessions: map[string]rpSession{}, logouts: map[string]bool{},
	}
}

// application is the relying party's registration in Sesame.
func (rp *relyingParty) application() config.Application {
	return config.Application{
		ClientID: rp.clientID, ClientSecret: st.Secret, Name: rp.title,
		RedirectURIs:           []string{rp.base + "/callback"},
		PostLogoutRedirectURIs: []string{rp.base + "/bye"},
		GrantTypes:             []string{"authorization_code"},
	}
}

// backChannel returns ctx with e.Client for go-oidc and x/oauth2: their
// server-to-server calls reach the Sesame test listener whatever the host.
func (rp *relyingParty) backChannel(ctx context.Context) context.Context {
	return context.WithValue(oidc.ClientContext(ctx, rp.e.Client), oauth2.HTTPClient, rp.e.Client)
}

// start discovers the provider of tenantHost and serves the application.
func (rp *relyingParty) start(t *testing.T, ctx context.Context, e *st.Env, tenantHost string) {
	t.Helper()
	rp.e, rp.issuer = e, e.Issuer(tenantHost)
	provider, err := oidc.NewProvider(rp.backChannel(ctx), rp.issuer)
	if err != nil {
		t.Fatalf("%s: discovery: %v", rp.clientID, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("%s: discovery has no end_session_endpoint (%v)", rp.clientID, err)
	}
	rp.provider, rp.endSession = provider, meta.EndSession
	rp.conf = oauth2.Config{
		ClientID: rp.clientID, ClientSecret: st.Secret, Endpoint: provider.Endpoint(),
		RedirectURL: rp.base + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile"},
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	mux.HandleFunc("GET /logout", rp.logout)
	mux.HandleFunc("GET /bye", rp.bye)
	hs := httptest.NewUnstartedServer(mux)
	hs.Listener.Close()
	hs.Listener = rp.ln
	hs.Start()
	t.Cleanup(hs.Close)
}

func randomString() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (rp *relyingParty) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// login starts the authorization-code flow. ui_locales is passed on.
func (rp *relyingParty) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.pending[state] = pendingLogin{nonce: nonce, verifier: verifier}
	rp.mu.Unlock()
	rp.setCookie(w, "rp_state", state, 600)
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}
	if ui := r.URL.Query().Get("ui_locales"); ui != "" {
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", ui))
	}
	http.Redirect(w, r, rp.conf.AuthCodeURL(state, opts...), http.StatusFound)
}

// callback finishes the flow: state (bound to this browser by a cookie),
// iss (RFC 9207), code exchange with the PKCE verifier, id_token
// signature, audience, expiry and nonce, and at_hash.
func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		rp.fail(w, http.StatusBadRequest, "authorization error %s: %s", e, q.Get("error_description"))
		return
	}
	c, err := r.Cookie("rp_state")
	state := q.Get("state")
	if err != nil || state == "" || c.Value != state {
		rp.fail(w, http.StatusBadRequest, "state %q does not match this browser's login (cookie: %v)", state, err)
		return
	}
	rp.mu.Lock()
	pl, ok := rp.pending[state]
	delete(rp.pending, state)
	rp.mu.Unlock()
	if !ok {
		rp.fail(w, http.StatusBadRequest, "unknown or reused state %q", state)
		return
	}
	rp.setCookie(w, "rp_state", "", -1)
	if q.Get("iss") != rp.issuer {
		rp.fail(w, http.StatusBadRequest, "iss %q, want %q", q.Get("iss"), rp.issuer)
		return
	}
	ctx := rp.backChannel(r.Context())
	tok, err := rp.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pl.verifier))
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "code exchange: %v", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.provider.VerifierContext(ctx, &oidc.Config{ClientID: rp.clientID, Now: rp.e.Clock.Now}).Verify(ctx, raw)
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "id_token: %v", err)
		return
	}
	if idt.Nonce != pl.nonce {
		rp.fail(w, http.StatusBadGateway, "id_token nonce %q, want %q", idt.Nonce, pl.nonce)
		return
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		rp.fail(w, http.StatusBadGateway, "at_hash: %v", err)
		return
	}
	var claims struct {
		UserName string `json:"userName"`
	}
	if err := idt.Claims(&claims); err != nil || claims.UserName == "" {
		rp.fail(w, http.StatusBadGateway, "id_token has no userName claim (%v)", err)
		return
	}
	sid := randomString()
	rp.mu.Lock()
	rp.sessions[sid] = rpSession{user: claims.UserName, sub: idt.Subject, rawIDToken: raw}
	rp.mu.Unlock()
	rp.setCookie(w, "rp_session", sid, 3600)
	rp.render(w, http.StatusOK, rpPage{User: claims.UserName, Sub: idt.Subject})
}

// logout ends the local session and sends the browser to Sesame's
// end-session endpoint (OpenID Connect RP-Initiated Logout).
func (rp *relyingParty) logout(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("rp_session")
	if err != nil {
		rp.fail(w, http.StatusBadRequest, "logout without a session")
		return
	}
	state := randomString()
	rp.mu.Lock()
	sess, ok := rp.sessions[c.Value]
	delete(rp.sessions, c.Value)
	rp.logouts[state] = true
	rp.mu.Unlock()
	if !ok {
		rp.fail(w, http.StatusBadRequest, "logout with an unknown session")
		return
	}
	rp.setCookie(w, "rp_session", "", -1)
	v := url.Values{"id_token_hint": {sess.rawIDToken}, "post_logout_redirect_uri": {rp.base + "/bye"}, "state": {state}}
	http.Redirect(w, r, rp.endSession+"?"+v.Encode(), http.StatusFound)
}

// bye is the post-logout page; the state must be the logout's.
func (rp *relyingParty) bye(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	rp.mu.Lock()
	ok := rp.logouts[state]
	delete(rp.logouts, state)
	rp.mu.Unlock()
	if !ok {
		rp.fail(w, http.StatusBadRequest, "post-logout state %q is not one this application sent", state)
		return
	}
	rp.render(w, http.StatusOK, rpPage{Bye: true})
}

func (rp *relyingParty) fail(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rp.mu.Lock()
	rp.errs = append(rp.errs, msg)
	rp.mu.Unlock()
	rp.render(w, status, rpPage{Err: msg})
}

// errors returns the errors the application's pages reported.
func (rp *relyingParty) errors() []string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]string(nil), rp.errs...)
}

type rpPage struct {
	Title, Color, Host string
	User, Sub          string
	Bye                bool
	Err                string
}

func (rp *relyingParty) render(w http.ResponseWriter, status int, p rpPage) {
	p.Title, p.Color, p.Host = rp.title, rp.color, rp.host
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = rpTemplate.Execute(w, p)
}

var rpTemplate = template.Must(template.New("rp").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font-family:sans-serif;margin:0;background:#fafafa;color:#222}
header{background:{{.Color}};color:#fff;padding:16px 32px;font-size:1.3rem}
header small{opacity:.8;font-size:.9rem;margin-left:12px}
main{padding:32px}
.error{background:#fdecec;color:#9b1c1c;padding:12px;border-radius:4px}
</style>
</head>
<body>
<header>{{.Title}}<small>{{.Host}}</small></header>
<main>
{{if .User}}<h1 id="user">Hello {{.User}}</h1>
<p>Signed in with Sesame single sign-on. Subject: <code id="sub">{{.Sub}}</code></p>
<p><a id="logout" href="/logout">Sign out</a></p>{{end}}
{{if .Bye}}<h1 id="bye">Signed out</h1>
<p><a id="login" href="/login">Sign in again</a></p>{{end}}
{{if .Err}}<h1>Error</h1><p class="error" id="rp-error">{{.Err}}</p>{{end}}
</main>
</body>
</html>
`))
