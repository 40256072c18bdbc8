//go:build linux

package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// sample is one request of the load.
type sample struct {
	start time.Time
	took  time.Duration
	kind  string // "login" or "exchange"
	out   outcome
	what  string // the answer, for unexpected outcomes
}

func (s sample) end() time.Time { return s.start.Add(s.took) }

// load is a bounded load of SDK clients: each logs in through one of the
// four applications, exchanges its session token a few times (keeping
// the rotated token the server answers), and starts over. Every session
// the server acknowledges goes to the ledger.
type load struct {
	c      *client
	base   string
	ledger *ledger

	mu      sync.Mutex
	samples []sample

	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	count   atomic.Int64
}

// Bounds of a load: it stops by itself after maxRequests; after an
// unsuccessful answer a client waits backoff, as the SDK does.
const (
	loadClients   = 4
	maxRequests   = 20000
	exchangesEach = 3
	pause         = 10 * time.Millisecond
	backoff       = 50 * time.Millisecond
)

func startLoad(ctx context.Context, c *client, base string, l *ledger) *load {
	ld := &load{c: c, base: base, ledger: l, stop: make(chan struct{})}
	for i := range loadClients {
		ld.wg.Go(func() { ld.client(ctx, i) })
	}
	return ld
}

func (ld *load) done() bool {
	select {
	case <-ld.stop:
		return true
	default:
		return ld.count.Load() >= maxRequests
	}
}

func (ld *load) wait(d time.Duration) {
	select {
	case <-ld.stop:
	case <-time.After(d):
	}
}

func (ld *load) record(s sample) {
	ld.count.Add(1)
	ld.mu.Lock()
	ld.samples = append(ld.samples, s)
	ld.mu.Unlock()
}

func (ld *load) client(ctx context.Context, i int) {
	for iter := 0; !ld.done(); iter++ {
		tf := tenants[i%len(tenants)]
		app := tf.rotating
		if (i/len(tenants)+iter)%2 == 1 {
			app = tf.plain
		}
		start := time.Now()
		r, err := ld.c.login(ctx, ld.base, tf, app)
		o := classify(tf, r, err)
		if o == success && (r.str("status") != "SUCCESS" || r.str("session_token") == "") {
			o = other
		}
		ld.record(sample{start: start, took: r.took, kind: "login", out: o, what: describe("login", tf, app, r, err)})
		if o != success {
			ld.wait(backoff)
			continue
		}
		s := &held{tf: tf, app: app, token: r.str("session_token"), when: start.Add(r.took)}
		ld.ledger.add(s)
		for k := 0; k < exchangesEach && !ld.done(); k++ {
			ld.wait(pause)
			start := time.Now()
			r, err := ld.c.exchange(ctx, ld.base, tf, app, s.token)
			o := classify(tf, r, err)
			next := r.str("session_token")
			if o == success && (next == "" || r.str("id_token") == "" || (app == tf.plain) != (next == s.token)) {
				o = other // no token, or rotation where none is configured, or the reverse
			}
			ld.record(sample{start: start, took: r.took, kind: "exchange", out: o, what: describe("exchange", tf, app, r, err)})
			if o != success {
				ld.wait(backoff)
				continue
			}
			ld.ledger.update(s, next)
		}
		ld.wait(pause)
	}
}

func describe(kind string, tf tenantFixture, app string, r response, err error) string {
	if err != nil {
		return fmt.Sprintf("%s %s via %s after %v: %v", kind, tf.id, app, r.took.Round(time.Millisecond), err)
	}
	if r.status == http.StatusOK {
		return ""
	}
	return fmt.Sprintf("%s %s via %s after %v: %v", kind, tf.id, app, r.took.Round(time.Millisecond), r)
}

// finish stops the load and waits for its clients.
func (ld *load) finish() {
	ld.stopped.Do(func() { close(ld.stop) })
	ld.wg.Wait()
}

func (ld *load) all() []sample {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return append([]sample(nil), ld.samples...)
}

// window tallies the requests that were in flight at some time in
// [from, to): those the outage could touch.
func window(samples []sample, from, to time.Time) *tally {
	t := &tally{}
	for _, s := range samples {
		if s.start.Before(to) && s.end().After(from) {
			t.add(s.out, s.took, s.what)
		}
	}
	return t
}

// recovery is how long after back the first request that started at or
// after back was answered with success; ok is false if none was.
func recovery(samples []sample, back time.Time) (d time.Duration, ok bool) {
	var first time.Time
	for _, s := range samples {
		if s.out == success && !s.start.Before(back) && (first.IsZero() || s.end().Before(first)) {
			first = s.end()
		}
	}
	if first.IsZero() {
		return 0, false
	}
	return first.Sub(back), true
}

// waitRecovered waits, while the load runs, until a request that started
// at or after back has succeeded, for at most limit.
func (ld *load) waitRecovered(back time.Time, limit time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if d, ok := recovery(ld.all(), back); ok {
			return d, true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return recovery(ld.all(), back)
}
