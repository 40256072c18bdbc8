// Package storetest owns the conformance suite of store.Store: the
// behaviour every backend must show, written once and run against each of
// them (in the manner of Dex's storage/conformance).
//
// A backend's tests call Run with a constructor of fresh, empty stores:
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return sqltest.SQLite(t) })
//	}
//
// The suite checks round-trips of every field, the uniqueness rules
// (ErrConflict), the not-found cases (ErrNotFound), tenant isolation, and
// the properties that must hold with many concurrent callers: one winner
// of a token rotation, one consumer of a single-use token, no lost
// increments of the login-failure counter. It never sleeps: every method
// that depends on time takes "now", and the suite passes a fixed clock.
//
// The subtests of store.OAuthStore (authorization codes, refresh-token
// rotation, grant revocation) run when the store implements it and are
// skipped otherwise.
package storetest
