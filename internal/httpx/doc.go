// Package httpx owns the middleware every Sesame request passes through:
// request ids, structured access logs without secrets, panic recovery,
// metrics, request time limits and body size limits.
package httpx
