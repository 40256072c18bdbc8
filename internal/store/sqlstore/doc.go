// Package sqlstore is Sesame's one implementation of store.Store, on
// database/sql, for SQLite (modernc.org/sqlite, pure Go) and PostgreSQL
// (pgx).
//
// It owns:
//   - the SQL: one query text per operation, shared by both databases
//     (modernc binds $1..$N like PostgreSQL, and both support ON CONFLICT,
//     RETURNING and LIMITed subqueries); the few real differences — driver,
//     goose dialect, unique-violation codes, pool shape, the FOR SHARE of
//     the grant check — sit in a small dialect value, never in query
//     rewriting;
//   - the schema: goose migrations embedded from migrations/sqlite and
//     migrations/postgres, logically identical, applied by Open (on
//     PostgreSQL under an advisory lock so nodes may start together);
//   - the mapping of the store types to columns: times as Unix
//     milliseconds UTC (0 is the zero time), durations as milliseconds,
//     booleans as 0/1, string lists as JSON, hashes as BLOB/BYTEA;
//   - the translation of database errors to store.ErrNotFound and
//     store.ErrConflict.
//
// Operations that must stay correct with several server nodes on one
// database — token rotation, single-use consumption, authorization-code
// redemption, failure counting — are each a single conditional statement
// (refresh-token rotation: one conditional statement and an INSERT in one
// transaction), so the database's row locking serialises them and no
// in-process lock is needed (or would help). Creating a token of an OAuth
// grant and revoking the grant are transactions that lock the grant's row
// first (see "Grants" in oauth.go), so that no token outlives a
// revocation.
//
// SQLite uses two pools on the same file: one connection for all writes
// (SQLite has a single writer; queueing in Go avoids SQLITE_BUSY) and a few
// read-only connections that read the WAL concurrently. Package
// sqlstore/sqltest opens throw-away stores for tests.
package sqlstore
