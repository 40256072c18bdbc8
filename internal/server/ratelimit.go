package server

import (
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/metrics"
	"github.com/sesame-idp/sesame/internal/ratelimit"
)

// newGuard builds the rate limits of the configuration: buckets in Redis
// when rate_limit.redis_url is set, in memory (on the server's clock)
// otherwise. The closer releases the Redis connections.
func newGuard(c config.RateLimit, logger *slog.Logger, m *metrics.Metrics, now func() time.Time) (*ratelimit.Guard, io.Closer, error) {
	proxies, err := ratelimit.ParseProxies(c.TrustedProxies)
	if err != nil {
		return nil, nil, err
	}
	var limiter ratelimit.Limiter
	var closer io.Closer = io.NopCloser(nil)
	if c.RedisURL != "" {
		rl, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: c.RedisURL, Prefix: c.RedisPrefix, Timeout: c.RedisTimeout})
		if err != nil {
			return nil, nil, err
		}
		limiter, closer = rl, rl
	} else {
		limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{MaxKeys: c.MaxKeys, Now: now})
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sesame_rate_limited_total", Help: "Requests refused by a rate limit, by rule.",
	}, []string{"rule"})
	failed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sesame_rate_limit_errors_total", Help: "Rate-limit checks that failed (Redis unavailable) and were allowed.",
	})
	m.Register(refused, failed)
	rule := func(r config.RateRule) ratelimit.Rule { return ratelimit.Rule{Rate: r.Rate, Burst: r.Burst} }
	return &ratelimit.Guard{
		Limiter: limiter,
		Rules: ratelimit.Rules{
			LoginPerIP:        rule(c.LoginPerIP),
			TokenPerClient:    rule(c.TokenPerClient),
			ExchangePerClient: rule(c.ExchangePerClient),
			ExchangePerIP:     rule(c.ExchangePerIP),
		},
		TrustedProxies: proxies,
		Logger:         logger,
		Refused:        func(name string) { refused.WithLabelValues(name).Inc() },
		Failed:         failed.Inc,
	}, closer, nil
}
