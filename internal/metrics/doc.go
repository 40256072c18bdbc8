// Package metrics owns Sesame's Prometheus metrics: one registry per server
// (never the global default registry), HTTP request counts and latencies by
// route, logins, token issuance and audit events by outcome, and the
// password-hashing queue.
package metrics
