package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFake() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

// allowN spends n requests and returns how many were allowed and the last
// decision.
func allowN(t *testing.T, l Limiter, key string, rule Rule, n int) (allowed int, last Decision) {
	t.Helper()
	for range n {
		d, err := l.Allow(context.Background(), key, rule)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		if d.Allowed {
			allowed++
		}
		last = d
	}
	return allowed, last
}

func TestMemoryBurstThenRefusal(t *testing.T) {
	clock := newFake()
	m := NewMemory(MemoryOptions{Now: clock.Now})
	rule := Rule{Rate: 2, Burst: 5} // a token every 500ms
	got, last := allowN(t, m, "k", rule, 8)
	if got != 5 {
		t.Fatalf("allowed %d of 8 at once, want the burst of 5", got)
	}
	if last.Allowed || last.RetryAfter <= 0 || last.RetryAfter > 500*time.Millisecond {
		t.Fatalf("refusal %+v: want RetryAfter in (0, 500ms]", last)
	}
	if s := last.RetryAfterSeconds(); s != 1 {
		t.Fatalf("Retry-After %d, want 1", s)
	}
	// Another key has its own bucket.
	if got, _ := allowN(t, m, "other", rule, 5); got != 5 {
		t.Fatalf("another key: allowed %d of 5", got)
	}
}

func TestMemoryRefill(t *testing.T) {
	clock := newFake()
	m := NewMemory(MemoryOptions{Now: clock.Now})
	rule := Rule{Rate: 1, Burst: 3}
	if got, _ := allowN(t, m, "k", rule, 3); got != 3 {
		t.Fatalf("burst: %d", got)
	}
	_, d := allowN(t, m, "k", rule, 1)
	if d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("empty bucket: %+v, want a refusal with RetryAfter 1s", d)
	}
	clock.Advance(999 * time.Millisecond)
	if _, d := allowN(t, m, "k", rule, 1); d.Allowed || d.RetryAfter != time.Millisecond {
		t.Fatalf("1ms early: %+v", d)
	}
	clock.Advance(time.Millisecond)
	if got, _ := allowN(t, m, "k", rule, 2); got != 1 {
		t.Fatalf("after 1s: allowed %d of 2, want 1", got)
	}
	// A long pause refills to the burst, never beyond.
	clock.Advance(time.Hour)
	if got, _ := allowN(t, m, "k", rule, 5); got != 3 {
		t.Fatalf("after an hour: allowed %d of 5, want 3", got)
	}
	// Refused requests spend nothing: the rate holds under hammering.
	clock.Advance(2 * time.Second)
	if got, _ := allowN(t, m, "k", rule, 100); got != 2 {
		t.Fatalf("2s later: allowed %d of 100, want 2", got)
	}
}

func TestMemoryRuleOff(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	if got, _ := allowN(t, m, "k", Rule{}, 1000); got != 1000 {
		t.Fatalf("rule off: allowed %d of 1000", got)
	}
	if m.Len() != 0 {
		t.Fatalf("an off rule kept %d buckets", m.Len())
	}
}

// TestMemoryBounded: many keys never keep more than MaxKeys buckets, and
// refilled buckets go away as new keys come.
func TestMemoryBounded(t *testing.T) {
	clock := newFake()
	m := NewMemory(MemoryOptions{MaxKeys: 160, Now: clock.Now})
	rule := Rule{Rate: 1, Burst: 2}
	for i := range 10_000 {
		allowN(t, m, fmt.Sprintf("ip-%d", i), rule, 1)
	}
	if n := m.Len(); n > 160 {
		t.Fatalf("%d buckets kept, want at most 160", n)
	}
	// The most recent key is still limited (it was not evicted).
	if got, _ := allowN(t, m, "ip-9999", rule, 3); got != 1 {
		t.Fatalf("recent key: allowed %d of 3, want 1", got)
	}
	// Once every bucket has refilled, traffic on a few keys sweeps the
	// idle ones out.
	clock.Advance(time.Minute)
	for i := range 200 {
		allowN(t, m, fmt.Sprintf("new-%d", i%4), rule, 1)
	}
	if n := m.Len(); n > 8 {
		t.Fatalf("%d buckets kept after everything refilled, want only the 4 live ones (a few more at most)", n)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	clock := newFake()
	m := NewMemory(MemoryOptions{Now: clock.Now})
	rule := Rule{Rate: 1, Burst: 50}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 20 {
		wg.Go(func() {
			n, _ := allowN(t, m, "shared", rule, 10)
			mu.Lock()
			allowed += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("200 concurrent requests: %d allowed, want exactly the burst of 50", allowed)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {90 * time.Second, 90}} {
		if got := (Decision{RetryAfter: c.d}).RetryAfterSeconds(); got != c.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}
