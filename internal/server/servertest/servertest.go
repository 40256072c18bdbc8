// Package servertest starts complete Sesame servers for tests: real
// storage (SQLite, or PostgreSQL when SESAME_TEST_POSTGRES_DSN is set), a
// real listener, a controllable clock and fixture tenants of both editions.
//
// Requests are made to tenant host names (acme.test, shop.test, ...); the
// Env's HTTP client dials the test listener whatever the host, so the Host
// header selects the tenant exactly as in production.
package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/password"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/server"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// Fixture names. Every tenant has the user Alice with Password.
const (
	EIAMHost   = "acme.test"   // tenant "acme", edition eiam
	CIAMHost   = "shop.test"   // tenant "shop", edition ciam
	CommonHost = "common.test" // common domain: X-tenant-id picks the tenant
	Password   = "Correct-Horse-9"
	Secret     = "s3cret-0123456789-abcdef" // every confidential app's secret
	Device     = "device-fingerprint-1"
)

// Clock is a settable clock shared by the server and the test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Env is a running server.
type Env struct {
	T       testing.TB
	Backend string
	Config  config.Config
	Server  *server.Server
	Clock   *Clock
	Client  *http.Client
	// Port is the listener's port; URLs are http://{host}:{Port}/...
	Port string
}

// Backends lists the storage backends tests run on.
func Backends() []string { return []string{"sqlite", "postgres"} }

// FixtureConfig returns the configuration of the fixture tenants.
func FixtureConfig() config.Bootstrap {
	yes, no := true, false
	apps := func(prefix string) []config.Application {
		return []config.Application{
			{ClientID: prefix + "-portal", ClientSecret: Secret, GrantTypes: []string{"authorization_code", "client_credentials"}},
			{ClientID: prefix + "-rotating", ClientSecret: Secret, SessionAutoRefresh: &yes, RotationGrace: 30 * time.Second, GrantTypes: []string{"client_credentials"}},
			{ClientID: prefix + "-es256", ClientSecret: Secret, IDTokenAlg: "ES256", IDTokenTTL: 10 * time.Minute},
			{ClientID: prefix + "-rs512", ClientSecret: Secret, IDTokenAlg: "RS512"},
			{ClientID: prefix + "-eddsa", ClientSecret: Secret, IDTokenAlg: "EdDSA"},
			{ClientID: prefix + "-unbound", ClientSecret: Secret, DeviceBinding: &no, SessionTTL: time.Hour},
			{ClientID: prefix + "-public"},
			// OAuth/OpenID clients (contract §4).
			{ClientID: prefix + "-web", ClientSecret: Secret, RedirectURIs: []string{"http://app.test/callback"},
				GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}, RefreshTokenTTL: 24 * time.Hour,
				PostLogoutRedirectURIs: []string{"http://app.test/bye"}},
			{ClientID: prefix + "-web2", ClientSecret: Secret, RedirectURIs: []string{"http://app2.test/callback"},
				GrantTypes: []string{"authorization_code"}, PostLogoutRedirectURIs: []string{"http://app2.test/bye"}},
			{ClientID: prefix + "-spa", RedirectURIs: []string{"http://spa.test/cb", "com.example.app:/cb"},
				GrantTypes: []string{"authorization_code", "refresh_token"}, RefreshTokenTTL: time.Hour},
			{ClientID: prefix + "-jwt", ClientSecret: Secret, RedirectURIs: []string{"http://app.test/callback"}, AccessTokenFormat: "jwt",
				IDTokenAlg: "ES256", GrantTypes: []string{"authorization_code", "client_credentials"}},
		}
	}
	users := []config.User{
		{Username: "alice", Password: Password, Name: "Alice Liddell", Email: "alice@example.com", Mobile: "+86-13800000000"},
		{Username: "bob", Password: Password, Name: "Bob"},
	}
	return config.Bootstrap{Tenants: []config.Tenant{
		{ID: "acme", Name: "Acme", Edition: "eiam", Domains: []string{EIAMHost, "www." + EIAMHost}, DefaultLanguage: "en", Applications: apps("acme"), Users: users},
		{ID: "shop", Name: "Shop", Edition: "ciam", Domains: []string{CIAMHost}, DefaultLanguage: "en", Applications: apps("shop"), Users: users},
		// Reached on the common domain by X-tenant-id; its own domain names
		// its issuer.
		{ID: "isv", Name: "ISV", Edition: "ciam", Domains: []string{"isv.test"}, DefaultLanguage: "zh", Applications: apps("isv"), Users: users},
	}}
}

// DefaultRateLimits is a mutate function that restores the shipped rate
// limits (config.Defaults), which New raises out of reach.
func DefaultRateLimits(c *config.Config) { c.RateLimit = config.Defaults().RateLimit }

// New starts a server on backend ("sqlite" or "postgres"; the latter skips
// the test when PostgreSQL is not configured). mutate may change the
// configuration before the server starts.
func New(t testing.TB, backend string, mutate ...func(*config.Config)) *Env {
	t.Helper()
	cfg := config.Defaults()
	switch backend {
	case "sqlite":
		cfg.Storage.Driver, cfg.Storage.DSN = "sqlite", sqltest.SQLitePath(t)
		// No fsync per commit: these servers do not test durability
		// against OS crashes (test/faults does), and the suite writes a lot.
		cfg.Storage.SQLiteSynchronous = "normal"
	case "postgres":
		cfg.Storage.Driver, cfg.Storage.DSN = "postgres", sqltest.PostgresDSN(t)
	default:
		t.Fatalf("servertest: unknown backend %q", backend)
	}
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	cfg.Secrets.KeyEncryptionKey = base64.StdEncoding.EncodeToString(kek)
	cfg.Server.CommonDomains = []string{CommonHost}
	cfg.Bootstrap = FixtureConfig()
	cfg.Keys.RotationDelay = time.Minute
	cfg.Keys.RefreshInterval = time.Second
	// Tests and benchmarks send everything from one address: the rate
	// limits are raised out of reach (the limiter still runs). Tests of
	// the limits set their own in mutate; DefaultRateLimits restores the
	// shipped ones.
	unlimited := config.RateRule{Rate: 1e6, Burst: 1_000_000}
	cfg.RateLimit.LoginPerIP, cfg.RateLimit.TokenPerClient = unlimited, unlimited
	cfg.RateLimit.ExchangePerClient, cfg.RateLimit.ExchangePerIP = unlimited, unlimited

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg.Server.Listen = ln.Addr().String()
	cfg.Server.PublicURL = "http://" + net.JoinHostPort(EIAMHost, port)
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clock := &Clock{t: time.Now().Truncate(time.Second)}
	srv, client := serve(t, ln, cfg, server.Options{Logger: testLogger(t), Now: clock.Now})
	return &Env{T: t, Backend: backend, Config: cfg, Server: srv, Clock: clock, Client: client, Port: port}
}

// AddNode starts another server on the configuration and database of
// first, as another node of the same deployment, whose clock is now (first
// and the new node share first.Clock unless now says otherwise); its
// logs are discarded. Helpers of the returned Env talk to the new node.
func AddNode(t testing.TB, first *Env, now func() time.Time) *Env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	srv, client := serve(t, ln, first.Config, server.Options{Logger: slog.New(slog.DiscardHandler), Now: now})
	return &Env{T: t, Backend: first.Backend, Config: first.Config, Server: srv, Clock: first.Clock, Client: client, Port: port}
}

// serve starts a server with cfg on ln, stopped when t ends, and returns it
// with a client that sends every request to it (whatever the URL's host)
// and does not follow redirects.
func serve(t testing.TB, ln net.Listener, cfg config.Config, opts server.Options) (*server.Server, *http.Client) {
	t.Helper()
	srv, err := server.New(context.Background(), cfg, opts)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	addr := ln.Addr().String()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 200,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(client.CloseIdleConnections)
	return srv, client
}

// testLogger sends server logs to the test log only when the test fails
// or -v is given, keeping normal output quiet.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// URL returns the absolute URL of path on host.
func (e *Env) URL(host, path string) string {
	return "http://" + net.JoinHostPort(host, e.Port) + path
}

// Issuer returns the issuer of the tenant whose first domain is host.
func (e *Env) Issuer(host string) string { return e.URL(host, "/api/v1/oauth2") }

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Str returns a string member of the JSON body ("" when absent).
func (r Response) Str(key string) string {
	s, _ := r.JSON[key].(string)
	return s
}

// Num returns a numeric member of the JSON body (-1 when absent).
func (r Response) Num(key string) int64 {
	f, ok := r.JSON[key].(float64)
	if !ok {
		return -1
	}
	return int64(f)
}

// Do sends a request and decodes a JSON answer.
func (e *Env) Do(method, url string, header http.Header, body string) Response {
	e.T.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if hv := header.Get("Host"); hv != "" {
		req.Host = hv
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if len(bytes.TrimSpace(b)) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, &r.JSON); err != nil {
			e.T.Fatalf("%s %s: answer is not JSON: %q", method, url, b)
		}
	}
	return r
}

// SDKHeaders returns the common SDK headers for client on Device.
func SDKHeaders(client string) http.Header {
	h := http.Header{}
	h.Set("X-client-id", client)
	h.Set("X-device-fingerprint", Device)
	h.Set("X-operating-sys-version", "windows10.1.1")
	h.Set("X-agent", "Mozilla/5.0 (test)")
	h.Set("X-device-ip", "192.168.1.2")
	h.Set("Content-Type", "application/json")
	return h
}

// Login logs user in through client on host and returns the answer.
func (e *Env) Login(host, client, user, password string) Response {
	e.T.Helper()
	b, _ := json.Marshal(map[string]string{"user_name": user, "password": password})
	return e.Do("POST", e.URL(host, "/api/v2/sdk/login"), SDKHeaders(client), string(b))
}

// MustLogin logs in and returns the session token, failing the test
// unless the login succeeds.
func (e *Env) MustLogin(host, client, user string) string {
	e.T.Helper()
	r := e.Login(host, client, user, Password)
	if r.Status != 200 || r.Str("status") != "SUCCESS" || r.Str("session_token") == "" {
		e.T.Fatalf("login of %s via %s on %s: %d %s", user, client, host, r.Status, r.Body)
	}
	return r.Str("session_token")
}

// Exchange exchanges a session token (in the EIAM header) for an id_token.
func (e *Env) Exchange(host, client, token string) Response {
	e.T.Helper()
	h := SDKHeaders(client)
	h.Del("Content-Type")
	h.Set("X-session-token", token)
	return e.Do("POST", e.URL(host, "/api/v2/sdk/sso/session-token/id-token"), h, "")
}

// TenantToken gets an application access token by client_credentials.
func (e *Env) TenantToken(host, client string) string {
	e.T.Helper()
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	r := e.Do("POST", e.URL(host, "/api/v2/tenant/token"), h, "grant_type=client_credentials&client_id="+client+"&client_secret="+Secret)
	if r.Status != 200 || r.Str("access_token") == "" {
		e.T.Fatalf("tenant token for %s: %d %s", client, r.Status, r.Body)
	}
	return r.Str("access_token")
}

// AdminSetup is what `sesame admin create` uses to make administrators,
// on this environment's store, keys and clock: tests make their first
// administrators with it. Passwords are hashed with the default argon2id
// parameters.
func (e *Env) AdminSetup() admin.Setup {
	e.T.Helper()
	kek, err := e.Config.KeyEncryptionKey()
	if err != nil {
		e.T.Fatal(err)
	}
	hasher, err := secret.NewHasher(kek)
	if err != nil {
		e.T.Fatal(err)
	}
	as, ok := e.Server.Store().(admin.Store)
	if !ok {
		e.T.Fatalf("%T does not implement admin.Store", e.Server.Store())
	}
	return admin.Setup{Store: as, Hasher: hasher, Domain: e.Config.Admin.Domain, PublicURL: e.Config.Server.PublicURL, Now: e.Clock.Now,
		HashPassword: func(_ context.Context, pw string) (string, error) { return password.Hash(pw, password.DefaultParams) }}
}
