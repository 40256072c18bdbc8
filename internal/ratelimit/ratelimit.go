package ratelimit

import (
	"context"
	"math"
	"time"
)

// Rule is a token bucket: Burst requests at once, refilled at Rate
// requests per second. A rule with Rate <= 0 or Burst <= 0 is off: every
// request is allowed.
type Rule struct {
	Rate  float64 // tokens per second
	Burst int     // bucket size
}

// Off reports whether the rule allows everything.
func (r Rule) Off() bool { return r.Rate <= 0 || r.Burst <= 0 }

// interval is the time one token takes to refill.
func (r Rule) interval() time.Duration {
	d := time.Duration(float64(time.Second) / r.Rate)
	return max(d, time.Nanosecond)
}

// Decision is the outcome of one check.
type Decision struct {
	Allowed bool
	// RetryAfter is, for a refused request, how long until the bucket has
	// a token again; 0 when allowed.
	RetryAfter time.Duration
}

// RetryAfterSeconds is the Retry-After header value of d: whole seconds,
// rounded up, at least 1 (RFC 9110 §10.2.3).
func (d Decision) RetryAfterSeconds() int {
	s := int(math.Ceil(d.RetryAfter.Seconds()))
	return max(s, 1)
}

// Limiter decides whether the request identified by key may proceed under
// rule, spending one token when it may. Implementations are safe for
// concurrent use. An error means the decision could not be made; the
// Decision returned with it is Allowed (fail open), and the caller logs
// the error.
type Limiter interface {
	Allow(ctx context.Context, key string, rule Rule) (Decision, error)
}

// gcra applies one request to a bucket whose theoretical arrival time is
// tat (zero for a new bucket) at now, returning the decision and the new
// theoretical arrival time. The bucket is full (and may be forgotten) once
// now reaches the returned tat.
func gcra(tat, now time.Time, rule Rule) (Decision, time.Time) {
	interval := rule.interval()
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	// A request is allowed while the bucket's debt stays within Burst
	// tokens.
	allowAt := next.Add(-time.Duration(rule.Burst) * interval)
	if allowAt.After(now) {
		return Decision{RetryAfter: allowAt.Sub(now)}, tat
	}
	return Decision{Allowed: true}, next
}
