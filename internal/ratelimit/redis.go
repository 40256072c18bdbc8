package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is one check of a bucket, atomically. KEYS[1] holds the
// bucket's theoretical arrival time in microseconds of the Redis server's
// clock; ARGV[1] is the refill interval of one token in microseconds,
// ARGV[2] the burst. It returns {allowed (0|1), retry after in µs}. The
// key expires when the bucket has refilled, so idle buckets cost nothing.
// TIME before a write is allowed since Redis 5 (effects replication, the
// only mode of Redis 7).
const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local nexttat = tat + interval
local allow_at = nexttat - burst * interval
if allow_at > now then
  return {0, allow_at - now}
end
local ttl = math.ceil((nexttat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', nexttat), 'PX', ttl)
return {1, 0}
`

var gcraLua = redis.NewScript(gcraScript)

// RedisOptions configure a Redis limiter.
type RedisOptions struct {
	// URL is a redis:// or rediss:// URL (redis.ParseURL).
	URL string
	// Prefix is put before every key; "" means "sesame:rl:".
	Prefix string
	// Timeout bounds one check (dial, write and read); 0 means 250ms. Past
	// it the check fails open.
	Timeout time.Duration
}

// Redis is a Limiter whose buckets live in Redis, shared by every node
// that uses the same Redis and prefix.
type Redis struct {
	client  *redis.Client
	prefix  string
	timeout time.Duration
}

// NewRedis connects lazily to the Redis at opts.URL: a Redis that is down
// at start makes checks fail open until it is back.
func NewRedis(opts RedisOptions) (*Redis, error) {
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: rate_limit.redis_url: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 250 * time.Millisecond
	}
	if opts.Prefix == "" {
		opts.Prefix = "sesame:rl:"
	}
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	// Fail fast: a retry would only add the timeout again.
	ro.MaxRetries, ro.DialerRetries = -1, 1
	ro.ContextTimeoutEnabled = true
	// go-redis prints every failed dial to stderr; the Guard logs
	// failures itself, at most once a second.
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	return &Redis{client: redis.NewClient(ro), prefix: opts.Prefix, timeout: opts.Timeout}, nil
}

// Allow implements Limiter. On a Redis error it allows the request and
// returns the error.
func (l *Redis) Allow(ctx context.Context, key string, rule Rule) (Decision, error) {
	if rule.Off() {
		return Decision{Allowed: true}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	interval := max(rule.interval().Microseconds(), 1)
	res, err := gcraLua.Run(ctx, l.client, []string{l.prefix + key}, interval, rule.Burst).Int64Slice()
	if err == nil && len(res) != 2 {
		err = errors.New("unexpected script reply " + strconv.Itoa(len(res)))
	}
	if err != nil {
		return Decision{Allowed: true}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if res[0] == 1 {
		return Decision{Allowed: true}, nil
	}
	return Decision{RetryAfter: time.Duration(res[1]) * time.Microsecond}, nil
}

var quietOnce sync.Once

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Ping checks the connection.
func (l *Redis) Ping(ctx context.Context) error { return l.client.Ping(ctx).Err() }

// Close closes the connection pool.
func (l *Redis) Close() error { return l.client.Close() }
