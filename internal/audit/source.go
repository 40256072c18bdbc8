package audit

import (
	"context"
	"net/netip"
)

type sourceKey struct{}

// WithSourceIP returns ctx carrying the client address of the request it
// belongs to. The server sets it once per request (the rate limiter's
// client-IP rule: the TCP peer, or X-Forwarded-For from trusted proxies
// only), so that the domain packages, which see a context but no
// *http.Request, need not pass addresses around to report events.
func WithSourceIP(ctx context.Context, ip netip.Addr) context.Context {
	if !ip.IsValid() {
		return ctx
	}
	return context.WithValue(ctx, sourceKey{}, ip)
}

// SourceIP returns the client address WithSourceIP put in ctx, or "".
func SourceIP(ctx context.Context) string {
	if ip, ok := ctx.Value(sourceKey{}).(netip.Addr); ok {
		return ip.String()
	}
	return ""
}
