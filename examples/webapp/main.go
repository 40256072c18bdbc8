// Command webapp is an example web application that signs its users in
// with Sesame through OpenID Connect: the authorization-code flow with
// PKCE, built from stock libraries (coreos/go-oidc for discovery and
// id_token verification, golang.org/x/oauth2 for the flow). It shows the
// signed-in user's name and signs out through Sesame's end-session
// endpoint (/api/v1/logout), ending the single sign-on session too.
//
// Usage:
//
//	webapp -issuer https://acme.example.com/api/v1/oauth2 -client-id my-web-app \
//	       -redirect-url http://localhost:8080/callback -listen 127.0.0.1:8080
//
// The client secret comes from -client-secret or, better (flags show in
// the process list), the environment variable SESAME_CLIENT_SECRET.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		log.Fatal(err)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.Issuer, "issuer", "", "Sesame issuer, https://{tenant domain}/api/v1/oauth2 (required)")
	fs.StringVar(&cfg.ClientID, "client-id", "", "client_id of the application (required)")
	fs.StringVar(&cfg.ClientSecret, "client-secret", os.Getenv("SESAME_CLIENT_SECRET"), "client secret (default $SESAME_CLIENT_SECRET; empty for a public client)")
	fs.StringVar(&cfg.RedirectURL, "redirect-url", "http://localhost:8080/callback", "this app's callback URL, as registered with Sesame")
	fs.StringVar(&cfg.PostLogoutRedirectURL, "post-logout-redirect-url", "", "where Sesame sends the browser after logout, as registered (default: /bye on the redirect URL's origin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Issuer == "" || cfg.ClientID == "" {
		fs.Usage()
		return errors.New("-issuer and -client-id are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	app, err := NewApp(ctx, cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *listen, Handler: app, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(stderr, "webapp listening on http://%s\n", *listen)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Config configures the App.
type Config struct {
	Issuer                string
	ClientID              string
	ClientSecret          string
	RedirectURL           string
	PostLogoutRedirectURL string
	// HTTPClient talks to Sesame (nil: a client with a timeout).
	HTTPClient *http.Client
}

// Cookie names and lifetimes.
const (
	sessionCookie = "webapp_session"
	loginCookie   = "webapp_login"
	loginTTL      = 10 * time.Minute
	sessionTTL    = 8 * time.Hour
)

// App is the web application: an http.Handler.
type App struct {
	cfg        Config
	hc         *http.Client
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	secure     bool // cookies only over HTTPS
	mux        *http.ServeMux

	mu       sync.Mutex
	pending  map[string]pendingLogin // by state
	sessions map[string]userSession  // by session cookie
}

// pendingLogin is an authorization request on its way.
type pendingLogin struct {
	verifier, nonce string
	expires         time.Time
}

// userSession is a signed-in browser.
type userSession struct {
	name, userName, subject string
	idToken                 string // the id_token_hint of the logout
	expires                 time.Time
}

// NewApp discovers the issuer's endpoints and returns the App.
func NewApp(ctx context.Context, cfg Config) (*App, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	ctx = oidc.ClientContext(ctx, hc)
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession == "" {
		// Sesame's end-session endpoint lives at the tenant's root.
		meta.EndSession = strings.TrimSuffix(cfg.Issuer, "/api/v1/oauth2") + "/api/v1/logout"
	}
	redirect, err := url.Parse(cfg.RedirectURL)
	if err != nil || redirect.Host == "" || redirect.Path == "" || redirect.Path == "/" || strings.ContainsAny(redirect.Path, "{}") {
		return nil, fmt.Errorf("bad redirect URL %q: want scheme://host/path", cfg.RedirectURL)
	}
	if cfg.PostLogoutRedirectURL == "" {
		cfg.PostLogoutRedirectURL = redirect.Scheme + "://" + redirect.Host + "/bye"
	}
	a := &App{
		cfg: cfg,
		hc:  hc,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "profile"},
		},
		// The key set is fetched with ctx's client, for as long as ctx lives.
		verifier:   provider.VerifierContext(ctx, &oidc.Config{ClientID: cfg.ClientID}),
		endSession: meta.EndSession,
		secure:     redirect.Scheme == "https",
		mux:        http.NewServeMux(),
		pending:    map[string]pendingLogin{},
		sessions:   map[string]userSession{},
	}
	a.mux.HandleFunc("GET /{$}", a.home)
	a.mux.HandleFunc("GET /login", a.login)
	a.mux.HandleFunc("GET "+redirect.Path, a.callback)
	a.mux.HandleFunc("GET /logout", a.logout)
	a.mux.HandleFunc("GET /bye", a.bye)
	return a, nil
}

// ServeHTTP serves the app's pages.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	a.mux.ServeHTTP(w, r)
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sesame example</title></head>
<body>
{{if .Name}}<h1>Hello, {{.Name}}!</h1>
<p>You are signed in as <b>{{.UserName}}</b>.</p>
<p><a href="/logout">Sign out</a></p>
{{else}}<h1>{{.Title}}</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<p><a href="/login">Sign in with Sesame</a></p>
{{end}}</body></html>
`))

type pageData struct {
	Title, Name, UserName, Error string
}

func (a *App) render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = page.Execute(w, d)
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	if s, ok := a.session(r); ok {
		a.render(w, http.StatusOK, pageData{Name: s.name, UserName: s.userName})
		return
	}
	a.render(w, http.StatusOK, pageData{Title: "Welcome"})
}

// login starts the authorization-code flow with PKCE, state and nonce.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	now := time.Now()
	a.mu.Lock()
	for k, p := range a.pending {
		if now.After(p.expires) {
			delete(a.pending, k)
		}
	}
	a.pending[state] = pendingLogin{verifier: verifier, nonce: nonce, expires: now.Add(loginTTL)}
	a.mu.Unlock()
	// Binds the flow to this browser: a callback with another browser's
	// state is refused (login CSRF).
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: state, Path: "/", MaxAge: int(loginTTL.Seconds()),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, a.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
}

// callback completes the flow: state, code exchange, id_token and nonce.
func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	c, err := r.Cookie(loginCookie)
	if err != nil || state == "" || c.Value != state {
		a.render(w, http.StatusBadRequest, pageData{Title: "Sign-in failed", Error: "This sign-in was not started in this browser."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	a.mu.Lock()
	p, ok := a.pending[state]
	delete(a.pending, state)
	a.mu.Unlock()
	if !ok || time.Now().After(p.expires) {
		a.render(w, http.StatusBadRequest, pageData{Title: "Sign-in failed", Error: "This sign-in has expired; please try again."})
		return
	}
	if e := q.Get("error"); e != "" {
		a.render(w, http.StatusBadRequest, pageData{Title: "Sign-in failed", Error: e + ": " + q.Get("error_description")})
		return
	}
	// RFC 9207: the authorization response names its issuer.
	if iss := q.Get("iss"); iss != "" && iss != a.cfg.Issuer {
		a.render(w, http.StatusBadRequest, pageData{Title: "Sign-in failed", Error: "The answer came from another issuer."})
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, a.hc)
	tok, err := a.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		log.Printf("webapp: code exchange: %v", err)
		a.render(w, http.StatusBadGateway, pageData{Title: "Sign-in failed", Error: "The identity provider refused the sign-in."})
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce != p.nonce {
		log.Printf("webapp: id_token: %v (nonce ok: %v)", err, idt != nil && idt.Nonce == p.nonce)
		a.render(w, http.StatusBadGateway, pageData{Title: "Sign-in failed", Error: "The identity provider's answer did not verify."})
		return
	}
	var claims struct {
		Name     string `json:"name"`
		UserName string `json:"userName"`
	}
	if err := idt.Claims(&claims); err != nil {
		a.render(w, http.StatusBadGateway, pageData{Title: "Sign-in failed", Error: "Unreadable id_token."})
		return
	}
	if claims.Name == "" {
		claims.Name = claims.UserName
	}
	id := randomString()
	now := time.Now()
	a.mu.Lock()
	for k, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, k)
		}
	}
	a.sessions[id] = userSession{name: claims.Name, userName: claims.UserName, subject: idt.Subject, idToken: raw, expires: now.Add(sessionTTL)}
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusFound)
}

// logout ends the app's session and sends the browser to Sesame's
// end-session endpoint, which ends the single sign-on session and sends
// it back to /bye.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(r)
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	v := url.Values{"post_logout_redirect_uri": {a.cfg.PostLogoutRedirectURL}, "client_id": {a.cfg.ClientID}}
	if ok {
		v.Set("id_token_hint", s.idToken)
	}
	http.Redirect(w, r, a.endSession+"?"+v.Encode(), http.StatusFound)
}

func (a *App) bye(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, pageData{Title: "You have signed out"})
}

func (a *App) session(r *http.Request) (userSession, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return userSession{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[c.Value]
	if !ok || time.Now().After(s.expires) {
		return userSession{}, false
	}
	return s, true
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
