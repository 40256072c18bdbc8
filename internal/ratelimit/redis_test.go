package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis returns a Redis limiter on SESAME_TEST_REDIS_URL with a key
// prefix of its own (the server is shared), deleting its keys at the end;
// it skips the test when the variable is unset.
func testRedis(t *testing.T) (*Redis, string) {
	t.Helper()
	url := os.Getenv("SESAME_TEST_REDIS_URL")
	if url == "" {
		t.Skip("SESAME_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): Redis limiter not tested")
	}
	prefix := uniquePrefix(t)
	l := newTestRedis(t, url, prefix)
	if err := l.Ping(context.Background()); err != nil {
		t.Fatalf("Redis at SESAME_TEST_REDIS_URL: %v", err)
	}
	return l, prefix
}

func newTestRedis(t *testing.T, url, prefix string) *Redis {
	t.Helper()
	l, err := NewRedis(RedisOptions{URL: url, Prefix: prefix, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// uniquePrefix returns a Redis key prefix unique to the test and deletes
// the keys under it when the test ends (SESAME_TEST_REDIS_URL must be
// set).
func uniquePrefix(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "sesame-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opts, err := redis.ParseURL(os.Getenv("SESAME_TEST_REDIS_URL"))
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
	return prefix
}

func TestRedisBurstThenRefusal(t *testing.T) {
	l, _ := testRedis(t)
	rule := Rule{Rate: 2, Burst: 5}
	got, last := allowN(t, l, "k", rule, 8)
	if got != 5 {
		t.Fatalf("allowed %d of 8 at once, want the burst of 5", got)
	}
	if last.Allowed || last.RetryAfter <= 0 || last.RetryAfter > 500*time.Millisecond {
		t.Fatalf("refusal %+v: want RetryAfter in (0, 500ms]", last)
	}
	if got, _ := allowN(t, l, "other", rule, 5); got != 5 {
		t.Fatalf("another key: allowed %d of 5", got)
	}
}

func TestRedisRefillAndExpiry(t *testing.T) {
	l, prefix := testRedis(t)
	rule := Rule{Rate: 20, Burst: 2} // a token every 50ms
	if got, _ := allowN(t, l, "k", rule, 3); got != 2 {
		t.Fatalf("burst: allowed %d of 3", got)
	}
	time.Sleep(60 * time.Millisecond)
	if got, _ := allowN(t, l, "k", rule, 2); got != 1 {
		t.Fatalf("after 60ms: allowed %d of 2, want 1", got)
	}
	// The key expires once the bucket has refilled (100ms for two
	// tokens), so idle buckets cost Redis nothing.
	time.Sleep(250 * time.Millisecond)
	n, err := l.client.Exists(context.Background(), prefix+"k").Result()
	if err != nil || n != 0 {
		t.Fatalf("key still there after the bucket refilled: %d %v", n, err)
	}
	if got, _ := allowN(t, l, "k", rule, 3); got != 2 {
		t.Fatalf("after refill: allowed %d of 3, want 2", got)
	}
}

// TestRedisTwoNodes: two limiters (two nodes) on one Redis share one
// budget, also when they race.
func TestRedisTwoNodes(t *testing.T) {
	a, prefix := testRedis(t)
	b := newTestRedis(t, os.Getenv("SESAME_TEST_REDIS_URL"), prefix)
	rule := Rule{Rate: 0.01, Burst: 40}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 8 {
		node := []*Redis{a, b}[i%2]
		wg.Go(func() {
			n, _ := allowN(t, node, "shared", rule, 10)
			mu.Lock()
			allowed += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if allowed != 40 {
		t.Fatalf("80 requests over two nodes: %d allowed, want exactly the one burst of 40", allowed)
	}
	if _, d := allowN(t, b, "shared", rule, 1); d.Allowed || d.RetryAfter < 90*time.Second {
		t.Fatalf("node b after the budget is spent: %+v, want a refusal of about 100s", d)
	}
}

// TestRedisDownFailsOpen: a Redis that does not answer allows every
// request and says why.
func TestRedisDownFailsOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	l, err := NewRedis(RedisOptions{URL: "redis://" + addr + "/0", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	for range 5 {
		d, err := l.Allow(context.Background(), "k", Rule{Rate: 1, Burst: 1})
		if err == nil || !d.Allowed {
			t.Fatalf("Redis down: %+v, %v: want allowed with an error", d, err)
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("5 checks against a closed port took %v", el)
	}
	// Through a Guard: allowed, counted, no error surfaces.
	failed := 0
	g := &Guard{Limiter: l, Rules: Rules{TokenPerClient: Rule{Rate: 1, Burst: 1}}, Failed: func() { failed++ }}
	for range 3 {
		if d := g.Token(context.Background(), "t", "c"); !d.Allowed {
			t.Fatal("guard refused while Redis is down")
		}
	}
	if failed != 3 {
		t.Fatalf("Failed called %d times, want 3", failed)
	}
}

func TestRedisBadURL(t *testing.T) {
	if _, err := NewRedis(RedisOptions{URL: "http://nope"}); err == nil {
		t.Fatal("NewRedis accepted an http URL")
	}
}
