// Package ratelimit is Sesame's abuse control in front of the password
// and token endpoints: token buckets keyed by client IP or by (tenant,
// client_id), answered by the callers with HTTP 429 and Retry-After.
//
// A Limiter decides one request against one bucket. Two implementations
// share the semantics of a token bucket of Rule.Burst tokens refilled at
// Rule.Rate tokens per second, computed as GCRA (a bucket is one
// "theoretical arrival time", so a check is one read and one write):
//
//   - Memory keeps the buckets of one process, in a bounded LRU map
//     (MemoryOptions.MaxKeys); a bucket that has refilled is dropped, as
//     it is indistinguishable from a new one.
//   - Redis keeps them in Redis so that every node of a deployment draws
//     from one budget; each check is one atomic Lua script using the
//     Redis server's clock (so node clock skew does not matter), and each
//     key expires once its bucket has refilled. A Redis error fails open:
//     the request is allowed and the error is returned for logging and
//     counting, because a cache outage must not lock users out.
//
// Guard holds the rules of the configuration (rate_limit.*) and knows the
// keys: per client IP for password logins (SDK login, login/auth and the
// hosted login form), per (tenant, client_id) for the token endpoints, and
// per (tenant, client_id) plus per IP for the session exchange.
//
// The client IP is the TCP peer (r.RemoteAddr). Behind a reverse proxy or
// load balancer every request would share the proxy's address, so a proxy
// deployment must list its proxies in rate_limit.trusted_proxies: for a
// peer inside those ranges, X-Forwarded-For is read from the right and the
// first address that is not itself a trusted proxy is the client. The
// header is ignored from any other peer, so clients cannot choose their
// own key. IPv6 clients are keyed by their /64, the usual allocation of
// one subscriber.
//
// Per-account lockout (contract §8, package session) is separate and
// stays: the limits here bound what one source can try, the lockout
// bounds what any number of sources can try against one account.
package ratelimit
