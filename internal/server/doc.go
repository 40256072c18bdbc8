// Package server owns the assembly and lifecycle of a Sesame server: it
// opens the store, resolves the master secret, applies the bootstrap
// configuration, builds the domain services and HTTP handlers, and runs
// the listener, the key refresher, the expiry sweeper, the audit log's
// writer and its retention pruner until shutdown (audit.go).
//
// cmd/sesame only parses flags and calls into this package.
package server
