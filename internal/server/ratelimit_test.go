package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// Rate limits over HTTP (issue "Reliability and security", point 1). The
// servertest proxy is 127.0.0.1: with it trusted, X-Forwarded-For gives
// each simulated client its own address.

// lowLimits trusts the test client as a proxy and sets tight limits. The
// memory limiter runs on the server's clock, which stands still unless the
// test advances it, so the bursts are exact budgets.
func lowLimits(c *config.Config) {
	c.RateLimit.TrustedProxies = []string{"127.0.0.1/32"}
	c.RateLimit.LoginPerIP = config.RateRule{Rate: 0.1, Burst: 3}
	c.RateLimit.TokenPerClient = config.RateRule{Rate: 0.1, Burst: 2}
	c.RateLimit.ExchangePerClient = config.RateRule{Rate: 0.1, Burst: 4}
	c.RateLimit.ExchangePerIP = config.RateRule{Rate: 0.1, Burst: 3}
}

func from(h http.Header, ip string) http.Header {
	h = h.Clone()
	h.Set("X-Forwarded-For", ip)
	return h
}

func loginFrom(e *st.Env, host, client, user, password, ip string, extra ...string) st.Response {
	e.T.Helper()
	h := from(st.SDKHeaders(client), ip)
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return e.Do("POST", e.URL(host, "/api/v2/sdk/login"), h, fmt.Sprintf(`{"user_name":%q,"password":%q}`, user, password))
}

// wantRetryAfter checks a Retry-After of whole seconds, at least 1.
func wantRetryAfter(t *testing.T, r st.Response, want int) {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 || (want > 0 && n != want) {
		t.Fatalf("Retry-After %q, want %d whole seconds (at least 1)", r.Header.Get("Retry-After"), want)
	}
}

func TestRateLimitLogin(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, c := range []struct {
			host, client, ip string
			extra            []string
			code, msg        string
		}{
			{st.EIAMHost, "acme-portal", "198.51.100.1", nil, "SDK.COMMON.1015", "Too many requests, please try again later"},
			{st.CIAMHost, "shop-portal", "198.51.100.2", nil, "IDAAS.SDK.COM.0003", "Too many requests, please try again later"},
			{st.CIAMHost, "shop-portal", "198.51.100.3", []string{"X-L", "zh"}, "IDAAS.SDK.COM.0003", "请求过于频繁,请稍后再试"},
		} {
			// Wrong passwords and a right one alike spend the budget of 3.
			for i, pw := range []string{"wrong-1", "wrong-2", st.Password} {
				if r := loginFrom(e, c.host, c.client, "bob", pw, c.ip, c.extra...); r.Status == 429 {
					t.Fatalf("%s login %d refused: %s", c.ip, i, r.Body)
				}
			}
			r := loginFrom(e, c.host, c.client, "alice", st.Password, c.ip, c.extra...)
			wantError(t, r, 429, c.code, c.msg)
			wantRetryAfter(t, r, 10) // one token per 10s, and the clock stands still
			// login/auth shares the bucket.
			h := from(st.SDKHeaders(c.client), c.ip)
			r = e.Do("POST", e.URL(c.host, "/api/v2/sdk/login/auth"), h, `{"user_name":"alice","password":"x"}`)
			wantError(t, r, 429, c.code, "")
		}
		// Another IP still logs in.
		if r := loginFrom(e, st.EIAMHost, "acme-portal", "alice", st.Password, "198.51.100.9"); r.Status != 200 || r.Str("status") != "SUCCESS" {
			t.Fatalf("login from another IP: %d %s", r.Status, r.Body)
		}
		// The bucket refills: one token 10s later.
		e.Clock.Advance(10 * time.Second)
		if r := loginFrom(e, st.EIAMHost, "acme-portal", "alice", st.Password, "198.51.100.1"); r.Status != 200 {
			t.Fatalf("login after the refill: %d %s", r.Status, r.Body)
		}
		if r := loginFrom(e, st.EIAMHost, "acme-portal", "alice", st.Password, "198.51.100.1"); r.Status != 429 {
			t.Fatalf("second login after one token refilled: %d %s", r.Status, r.Body)
		}
	}, lowLimits)
}

// TestRateLimitUntrustedForwardedFor: without trusted proxies the header
// is the client's own word and is ignored: every request is the peer's.
func TestRateLimitUntrustedForwardedFor(t *testing.T) {
	e := st.New(t, "sqlite", lowLimits, func(c *config.Config) { c.RateLimit.TrustedProxies = nil })
	for i := range 3 {
		if r := loginFrom(e, st.EIAMHost, "acme-portal", "alice", st.Password, fmt.Sprintf("198.51.100.%d", i+1)); r.Status != 200 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := loginFrom(e, st.EIAMHost, "acme-portal", "alice", st.Password, "198.51.100.200")
	wantError(t, r, 429, "SDK.COMMON.1015", "")
}

func TestRateLimitHostedLogin(t *testing.T) {
	e := st.New(t, "sqlite", lowLimits)
	b := e.NewBrowser()
	u := negAuthorizeURL(e, st.CIAMHost, negParams("shop-web", negWebRedirect))
	xff := headers("X-Forwarded-For", "198.51.100.7")
	p := hlLoginPage(t, b, u, xff)
	for i := range 3 {
		p = hlSubmit(t, b.Client, u, p, url.Values{"username": {"alice"}, "password": {"wrong"}}, xff)
		if p.Status != http.StatusBadRequest {
			t.Fatalf("wrong password %d: %d", i, p.Status)
		}
	}
	p = hlSubmit(t, b.Client, u, p, url.Values{"username": {"alice"}, "password": {st.Password}}, xff)
	hlWantNoSession(t, p)
	if p.Status != http.StatusTooManyRequests || hlErrorText(p) != "Too many requests, please try again later" || p.Header.Get("Retry-After") != "10" {
		t.Fatalf("4th post: %d, Retry-After %q, error %q", p.Status, p.Header.Get("Retry-After"), hlErrorText(p))
	}
	// From another address the same browser signs in.
	p = hlSubmit(t, b.Client, u, p, url.Values{"username": {"alice"}, "password": {st.Password}}, headers("X-Forwarded-For", "198.51.100.8"))
	if p.Location == nil || p.Location.Query().Get("code") == "" {
		t.Fatalf("login from another IP: %d %v %q", p.Status, p.Location, hlErrorText(p))
	}
}

func TestRateLimitTokenEndpoints(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		formH := headers("Content-Type", "application/x-www-form-urlencoded")
		cc := func(path, client string) st.Response {
			return e.Do("POST", e.URL(st.EIAMHost, path), formH, form("grant_type", "client_credentials", "client_id", client, "client_secret", st.Secret))
		}
		for _, path := range []string{"/api/v2/tenant/token", "/api/v1/oauth2/token"} {
			client := map[string]string{"/api/v2/tenant/token": "acme-portal", "/api/v1/oauth2/token": "acme-web"}[path]
			for i := range 2 {
				if r := cc(path, client); r.Status != 200 {
					t.Fatalf("%s %d: %d %s", path, i, r.Status, r.Body)
				}
			}
			r := cc(path, client)
			wantOAuthError(t, r, 429, "temporarily_unavailable")
			wantRetryAfter(t, r, 10)
			// Per client: another client of the tenant is not affected;
			// bad credentials for the limited client are not limited (and
			// do not spend its budget).
			if r := cc(path, "acme-jwt"); r.Status != 200 {
				t.Fatalf("%s, another client: %d %s", path, r.Status, r.Body)
			}
			bad := e.Do("POST", e.URL(st.EIAMHost, path), formH, form("grant_type", "client_credentials", "client_id", client, "client_secret", "wrong-secret-0123456789"))
			wantOAuthError(t, bad, 401, "invalid_client")
		}
		// The same client_id in another tenant has its own budget.
		r := e.Do("POST", e.URL(st.CIAMHost, "/api/v2/tenant/token"), formH, form("grant_type", "client_credentials", "client_id", "shop-portal", "client_secret", st.Secret))
		if r.Status != 200 {
			t.Fatalf("other tenant: %d %s", r.Status, r.Body)
		}
	}, lowLimits)
}

func TestRateLimitExchange(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		ex := func(client, token, ip string) st.Response {
			h := from(st.SDKHeaders(client), ip)
			h.Del("Content-Type")
			h.Set("X-session-token", token)
			return e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/sso/session-token/id-token"), h, "")
		}
		// Per IP: 3.
		for i := range 3 {
			if r := ex("acme-portal", tok, "198.51.100.1"); r.Status != 200 {
				t.Fatalf("exchange %d: %d %s", i, r.Status, r.Body)
			}
		}
		r := ex("acme-portal", tok, "198.51.100.1")
		wantError(t, r, 429, "SDK.COMMON.1015", "")
		wantRetryAfter(t, r, 10)
		// Per client: 4 in all; the refused one above spent nothing.
		if r := ex("acme-portal", tok, "198.51.100.2"); r.Status != 200 {
			t.Fatalf("4th exchange of the client: %d %s", r.Status, r.Body)
		}
		wantError(t, ex("acme-portal", tok, "198.51.100.3"), 429, "SDK.COMMON.1015", "")
		// Another client of the tenant has its own budget.
		tok2 := e.MustLogin(st.EIAMHost, "acme-unbound", "alice")
		if r := ex("acme-unbound", tok2, "198.51.100.4"); r.Status != 200 {
			t.Fatalf("another client: %d %s", r.Status, r.Body)
		}
	}, lowLimits)
}

// TestRateLimitDefaults: the shipped limits do not bother one busy
// address: 100 concurrent exchanges of one token (as TestConcurrentExchange)
// and 60 logins in a row.
func TestRateLimitDefaults(t *testing.T) {
	e := st.New(t, "sqlite", st.DefaultRateLimits)
	tok := e.MustLogin(st.EIAMHost, "acme-rotating", "alice")
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range 100 {
		wg.Go(func() {
			if r := e.Exchange(st.EIAMHost, "acme-rotating", tok); r.Status != 200 {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if refused.Load() != 0 {
		t.Fatalf("%d of 100 concurrent exchanges refused under the default limits", refused.Load())
	}
	for i := range 60 {
		e.MustLogin(st.CIAMHost, "shop-portal", []string{"alice", "bob"}[i%2])
	}
	for range 50 {
		e.TenantToken(st.EIAMHost, "acme-portal")
	}
}

// redisLimits points the server's limiter at SESAME_TEST_REDIS_URL under
// a key prefix of the test's own, deleted at the end; it skips without
// Redis.
func redisLimits(t *testing.T) func(*config.Config) {
	t.Helper()
	u := os.Getenv("SESAME_TEST_REDIS_URL")
	if u == "" {
		t.Skip("SESAME_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): Redis rate limits not tested")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "sesame-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opts, err := redis.ParseURL(u)
		if err != nil {
			return
		}
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return func(c *config.Config) {
		c.RateLimit.RedisURL = u
		c.RateLimit.RedisPrefix = prefix
	}
}

// TestRateLimitRedisTwoNodes: two servers on one Redis share the budget of
// an address.
func TestRateLimitRedisTwoNodes(t *testing.T) {
	rl := redisLimits(t)
	a := st.New(t, "sqlite", lowLimits, rl)
	b := st.New(t, "sqlite", lowLimits, rl)
	ip := "198.51.100.77"
	for i, e := range []*st.Env{a, b, a} {
		if r := loginFrom(e, st.EIAMHost, "acme-portal", "alice", st.Password, ip); r.Status != 200 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := loginFrom(b, st.EIAMHost, "acme-portal", "alice", st.Password, ip)
	wantError(t, r, 429, "SDK.COMMON.1015", "")
	wantRetryAfter(t, r, 0)
	if r := loginFrom(b, st.EIAMHost, "acme-portal", "alice", st.Password, "198.51.100.78"); r.Status != 200 {
		t.Fatalf("another IP: %d %s", r.Status, r.Body)
	}
}

// TestRateLimitRedisDown: a server whose Redis is unreachable keeps
// serving logins (fail open).
func TestRateLimitRedisDown(t *testing.T) {
	e := st.New(t, "sqlite", lowLimits, func(c *config.Config) {
		c.RateLimit.RedisURL = "redis://127.0.0.1:1/0" // nothing listens on port 1
		c.RateLimit.RedisTimeout = 100 * time.Millisecond
	})
	for i := range 6 {
		if r := loginFrom(e, st.EIAMHost, "acme-portal", "alice", st.Password, "198.51.100.5"); r.Status != 200 {
			t.Fatalf("login %d with Redis down: %d %s", i, r.Status, r.Body)
		}
	}
	m := e.Do("GET", e.URL(st.EIAMHost, "/metrics"), nil, "")
	if !strings.Contains(string(m.Body), "sesame_rate_limit_errors_total 6") {
		t.Fatal("sesame_rate_limit_errors_total does not count the 6 failed checks")
	}
}
