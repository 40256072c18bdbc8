package ratelimit

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
)

// Rules are the limits of the configuration (rate_limit.*).
type Rules struct {
	// LoginPerIP limits password checks per client IP: SDK login and
	// login/auth, and the hosted login form.
	LoginPerIP Rule
	// TokenPerClient limits the OAuth token endpoint and the tenant token
	// endpoint per (tenant, client_id).
	TokenPerClient Rule
	// ExchangePerClient and ExchangePerIP limit the session exchange
	// (session token → id_token) per (tenant, client_id) and per client IP.
	ExchangePerClient Rule
	ExchangePerIP     Rule
}

// Guard applies Rules through a Limiter. A nil Guard allows everything.
type Guard struct {
	Limiter Limiter
	Rules   Rules
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Refused, when set, is called with the rule's name for every refusal;
	// Failed for every limiter error (the request was allowed).
	Refused func(rule string)
	Failed  func()

	lastWarn atomic.Int64 // unix nanoseconds of the last error logged
}

// Rule names, as in the configuration and the metrics.
const (
	RuleLoginPerIP        = "login_per_ip"
	RuleTokenPerClient    = "token_per_client"
	RuleExchangePerClient = "exchange_per_client"
	RuleExchangePerIP     = "exchange_per_ip"
)

// ClientIP returns r's client address under the guard's trusted proxies.
func (g *Guard) ClientIP(r *http.Request) netip.Addr {
	if g == nil {
		return ClientIP(r, nil)
	}
	return ClientIP(r, g.TrustedProxies)
}

// Login checks a password login from r's client IP.
func (g *Guard) Login(r *http.Request) Decision {
	if g == nil {
		return Decision{Allowed: true}
	}
	return g.check(r.Context(), RuleLoginPerIP, "login:ip:"+ipKey(g.ClientIP(r)), g.Rules.LoginPerIP)
}

// Token checks a token request of an authenticated client.
func (g *Guard) Token(ctx context.Context, tenantID, clientID string) Decision {
	if g == nil {
		return Decision{Allowed: true}
	}
	return g.check(ctx, RuleTokenPerClient, "token:client:"+clientKey(tenantID, clientID), g.Rules.TokenPerClient)
}

// Exchange checks a session exchange by client IP, then by client: an IP
// that is refused does not spend the client's budget.
func (g *Guard) Exchange(r *http.Request, tenantID, clientID string) Decision {
	if g == nil {
		return Decision{Allowed: true}
	}
	ctx := r.Context()
	if d := g.check(ctx, RuleExchangePerIP, "exchange:ip:"+ipKey(g.ClientIP(r)), g.Rules.ExchangePerIP); !d.Allowed {
		return d
	}
	return g.check(ctx, RuleExchangePerClient, "exchange:client:"+clientKey(tenantID, clientID), g.Rules.ExchangePerClient)
}

func (g *Guard) check(ctx context.Context, name, key string, rule Rule) Decision {
	if rule.Off() || g.Limiter == nil {
		return Decision{Allowed: true}
	}
	d, err := g.Limiter.Allow(ctx, key, rule)
	if err != nil {
		// Fail open: a limiter outage must not lock users out.
		if g.Failed != nil {
			g.Failed()
		}
		g.warn(ctx, name, err)
		return Decision{Allowed: true}
	}
	if !d.Allowed && g.Refused != nil {
		g.Refused(name)
	}
	return d
}

// warn logs a limiter error at most once a second: during an outage every
// request fails the same way.
func (g *Guard) warn(ctx context.Context, rule string, err error) {
	if g.Logger == nil {
		return
	}
	now := time.Now().UnixNano()
	last := g.lastWarn.Load()
	if now-last < int64(time.Second) || !g.lastWarn.CompareAndSwap(last, now) {
		return
	}
	g.Logger.WarnContext(ctx, "rate limiter unavailable: request allowed", "rule", rule, "err", err)
}

// clientKey joins a tenant and a client_id unambiguously (a tenant id
// cannot hold a NUL).
func clientKey(tenantID, clientID string) string {
	return tenantID + "\x00" + clientID
}

// SetRetryAfter sets the Retry-After header of a refusal.
func SetRetryAfter(w http.ResponseWriter, d Decision) {
	w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
}
