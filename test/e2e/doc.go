// Package e2e holds Sesame's end-to-end process tests: they build the
// sesame binary once, run it as real processes on 127.0.0.1 (several nodes
// on one PostgreSQL database, restarts after kill -9) and talk to them over
// HTTP only, as clients and operators do.
//
// The PostgreSQL tests need SESAME_TEST_POSTGRES_DSN (see package
// internal/store/sqlstore/sqltest) and are skipped without it:
//
//	SESAME_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//		go test ./test/e2e/ -count=1 -v
package e2e
