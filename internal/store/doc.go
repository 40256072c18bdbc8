// Package store owns Sesame's persistent model and the one storage
// interface every backend implements.
//
// The value types here (Tenant, Application, User, Session, ...) are the
// records the domain packages read and write; the Store interface is the
// only way they reach the database. There is one implementation,
// store/sqlstore, which serves both SQLite and PostgreSQL with the same SQL,
// and one conformance suite, store/storetest, that every backend must pass.
//
// Rules every implementation keeps:
//   - Tokens, codes and secrets are never stored in clear: callers pass keyed
//     hashes (see package secret) and the store only compares them.
//   - State changes that must be atomic across several server nodes (session
//     token rotation, single-use state tokens and tickets, lockout counters)
//     are single conditional statements, so they are correct without any
//     in-process locking.
//   - Times are stored as UTC Unix milliseconds; the caller supplies "now"
//     so that expiry is decided by the injected clock, not by the database.
package store
