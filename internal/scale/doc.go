// Package scale owns Sesame's scale test (issue 5, point 4): it fills a
// store with millions of users and sessions quickly, then measures a real
// `sesame serve` process on it.
//
// What it owns:
//   - the data set (dataset.go): users and sessions derived from a seed,
//     so that any session's token can be recomputed later from its index
//     instead of being kept. Sessions are stored exactly as the server
//     stores them: keyed hashes of their tokens (package secret, under the
//     key-encryption key the server is then configured with), a known
//     share already expired, a known share rotated once;
//   - the bulk loaders: multi-row INSERTs in large transactions with the
//     journal off on SQLite (loadsqlite.go), COPY through pgx on
//     PostgreSQL (loadpostgres.go). The schema is the server's own,
//     applied by sqlstore's migrations; secondary indexes of the loaded
//     tables are dropped before the load and recreated from their stored
//     definitions after it, which is several times faster than
//     maintaining them row by row;
//   - the measurements against a real server (run.go): session exchange
//     latency on a random sample of the generated sessions compared with
//     a small baseline store measured in alternating rounds, the
//     sweeper's rate of deleting the expired sessions, database size per
//     session and per user, and the server's memory from /proc;
//   - the report (report.go): a table and JSON.
//
// Everything talks to 127.0.0.1 only, every phase is bounded in time, and
// the PostgreSQL databases are created for the run and dropped after it.
// cmd/sesame-scale wires flags to Run; docs/scale.md has the figures.
package scale
