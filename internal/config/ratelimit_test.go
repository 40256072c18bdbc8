package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRateLimitConfig(t *testing.T) {
	d := Defaults().RateLimit
	if d.RedisURL != "" || d.LoginPerIP.Rate <= 0 || d.LoginPerIP.Burst < 100 || d.ExchangePerIP.Burst < 100 {
		t.Fatalf("defaults %+v: want memory and generous limits", d)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := `
rate_limit:
  redis_url: redis://127.0.0.1:6379/0
  trusted_proxies: ["10.0.0.0/8", "192.0.2.1"]
  login_per_ip: {rate: 0.5, burst: 5}
  token_per_client: {rate: 0}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, []string{"SESAME_RATE_LIMIT__EXCHANGE_PER_IP__BURST=7"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.RateLimit
	if r.RedisURL != "redis://127.0.0.1:6379/0" || len(r.TrustedProxies) != 2 || r.LoginPerIP != (RateRule{0.5, 5}) ||
		r.TokenPerClient.Rate != 0 || r.ExchangePerIP.Burst != 7 || r.ExchangePerIP.Rate != Defaults().RateLimit.ExchangePerIP.Rate {
		t.Fatalf("loaded %+v", r)
	}
	for _, c := range []struct {
		mutate func(*RateLimit)
		want   string
	}{
		{func(r *RateLimit) { r.RedisURL = "http://x" }, "redis_url"},
		{func(r *RateLimit) { r.TrustedProxies = []string{"10.0.0.0/33"} }, "trusted_proxies"},
		{func(r *RateLimit) { r.LoginPerIP = RateRule{Rate: 1, Burst: 0} }, "login_per_ip"},
		{func(r *RateLimit) { r.ExchangePerIP = RateRule{Rate: -1, Burst: 5} }, "exchange_per_ip"},
		{func(r *RateLimit) { r.RedisTimeout = 0 }, "redis_timeout"},
	} {
		cfg := Defaults()
		cfg.Server.PublicURL = "http://localhost:8080"
		c.mutate(&cfg.RateLimit)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error about %s, got %v", c.want, err)
		}
	}
}
