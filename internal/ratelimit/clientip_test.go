package ratelimit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.7", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy", "203.0.113.5:1234", nil, "203.0.113.5"},
		{"untrusted peer's header ignored", "203.0.113.5:1234", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted proxy", "10.1.2.3:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"single trusted address", "192.0.2.7:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed left part not believed", "10.1.2.3:443", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"chain of proxies", "10.1.2.3:443", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several headers", "10.1.2.3:443", []string{"1.1.1.1", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"all trusted", "10.1.2.3:443", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"garbage hop", "10.1.2.3:443", []string{"bogus, 10.0.0.2"}, "10.0.0.2"},
		{"trusted, no header", "10.1.2.3:443", nil, "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"ipv4-mapped", "[::ffff:203.0.113.5]:443", nil, "203.0.113.5"},
		{"ipv6 proxy", "[fd00::1]:443", []string{"2001:db8::9"}, "2001:db8::9"},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientIP(r, proxies); got != netip.MustParseAddr(c.want) {
			t.Errorf("%s: got %v, want %s", c.name, got, c.want)
		}
	}
	if _, err := ParseProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("ParseProxies accepted 10.0.0.0/33")
	}
}

func TestIPKey(t *testing.T) {
	a := ipKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := ipKey(netip.MustParseAddr("2001:db8:1:2:bbbb::2"))
	c := ipKey(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Fatalf("IPv6 keys: %s %s %s: want one per /64", a, b, c)
	}
	if k := ipKey(netip.MustParseAddr("203.0.113.5")); k != "203.0.113.5" {
		t.Fatalf("IPv4 key %s", k)
	}
}

// TestGuardKeys: login is per IP (another IP passes), the token endpoint
// per (tenant, client), the exchange per client and per IP.
func TestGuardKeys(t *testing.T) {
	clock := newFake()
	refused := map[string]int{}
	g := &Guard{
		Limiter: NewMemory(MemoryOptions{Now: clock.Now}),
		Rules: Rules{
			LoginPerIP: Rule{Rate: 1, Burst: 2}, TokenPerClient: Rule{Rate: 1, Burst: 2},
			ExchangePerClient: Rule{Rate: 1, Burst: 3}, ExchangePerIP: Rule{Rate: 1, Burst: 2},
		},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Refused:        func(rule string) { refused[rule]++ },
	}
	req := func(ip string) *httptestRequest { return newReq(ip) }
	for i := range 3 {
		if d := g.Login(req("198.51.100.1").r); d.Allowed != (i < 2) {
			t.Fatalf("login %d from one IP: %+v", i, d)
		}
	}
	if d := g.Login(req("198.51.100.2").r); !d.Allowed {
		t.Fatal("login from another IP refused")
	}
	ctx := context.Background()
	for i := range 3 {
		if d := g.Token(ctx, "acme", "web"); d.Allowed != (i < 2) {
			t.Fatalf("token %d: %+v", i, d)
		}
	}
	if !g.Token(ctx, "acme", "other").Allowed || !g.Token(ctx, "shop", "web").Allowed {
		t.Fatal("token of another client or tenant refused")
	}
	// Exchange: two per IP, three per client.
	e := func(ip, client string) bool { return g.Exchange(req(ip).r, "acme", client).Allowed }
	if !e("198.51.100.1", "app") || !e("198.51.100.1", "app") || e("198.51.100.1", "app") {
		t.Fatal("exchange per IP: want 2 allowed then a refusal")
	}
	if !e("198.51.100.2", "app") || e("198.51.100.3", "app") {
		t.Fatal("exchange per client: want the third allowed, the fourth refused")
	}
	if !e("198.51.100.3", "app2") {
		t.Fatal("exchange of another client refused")
	}
	if refused[RuleLoginPerIP] != 1 || refused[RuleTokenPerClient] != 1 || refused[RuleExchangePerIP] != 1 || refused[RuleExchangePerClient] != 1 {
		t.Fatalf("refusals by rule: %v", refused)
	}
	var nilGuard *Guard
	if !nilGuard.Login(req("1.2.3.4").r).Allowed || !nilGuard.Token(ctx, "a", "b").Allowed || !nilGuard.Exchange(req("1.2.3.4").r, "a", "b").Allowed {
		t.Fatal("a nil guard refused")
	}
}

type httptestRequest struct{ r *http.Request }

// newReq is a request from ip through the trusted proxy 127.0.0.1.
func newReq(ip string) *httptestRequest {
	r := httptest.NewRequest("POST", "/", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", ip)
	return &httptestRequest{r: r}
}
