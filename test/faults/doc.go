// Package faults holds Sesame's storage fault tests (issue 6, "Fault
// behaviour"): they build the sesame binary, run it as a real process on
// 127.0.0.1, break its storage underneath it with the operating system's
// own mechanisms, and report what clients saw.
//
//   - PostgreSQL restarted under load (TestPostgresRestartUnderLoad): a
//     cluster of the test's own, made with pg_createcluster on a free port
//     and driven with pg_ctlcluster, so the shared server on 5432 is never
//     touched; restarted (-m fast), crashed (-m immediate) and frozen
//     (SIGSTOP) under a load of SDK logins and session exchanges.
//     Requests during an outage must get the contract's system-busy error
//     (§6) within the configured timeouts (storage.query_timeout,
//     server.request_timeout), the server must resume by itself, and
//     every login and rotation that was answered must still hold
//     afterwards. Runs when SESAME_TEST_POSTGRES_DSN is set (as everywhere
//     in the repository, that variable enables the PostgreSQL tests); it
//     then needs root and the postgresql package's pg_createcluster, and
//     fails without them.
//   - SQLite data directory full (TestSQLiteDiskFull): the database on a
//     small tmpfs that the test fills and then frees, without restarting
//     the server (without the right to mount: RLIMIT_FSIZE on the server
//     process, said in the log). Writes get the busy error, reads go on,
//     writes resume when space returns, nothing answered is lost.
//   - SQLite data directory turned read-only (TestSQLiteReadOnly): the
//     database on an ext4 image mounted with errors=remount-ro, which the
//     kernel turns read-only under the running server, as it does on an
//     I/O error; and a server started on a read-only mount.
//
// The read-only test needs root (mount, losetup, e2fsck); without it it is
// skipped, saying so. Every test bounds its own time and the count of its
// requests, and talks to 127.0.0.1 only. The figures are logged, each test
// ending with a line that starts with SUMMARY.
//
//	SESAME_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//		go test ./test/faults/ -count=1 -v
package faults
