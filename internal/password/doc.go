// Package password owns how Sesame stores and checks user passwords.
//
// It hashes with argon2id (golang.org/x/crypto/argon2) and stores the result
// as a self-describing PHC string,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// so that every stored hash carries its own cost parameters: the cost can be
// raised later without a migration, because NeedsRehash tells the login flow
// to re-hash with the current parameters after a successful login.
//
// The package deliberately holds no user data and no storage; callers pass
// the stored PHC string in and persist what Hash returns.
//
// Password hashing is the most expensive thing a login does (about 45 ms of
// one core and 19 MiB of memory per call at DefaultParams) and every failed
// login costs as much as a successful one, so it is the endpoint's
// CPU- and memory-exhaustion surface. Servers must therefore go through a
// Hasher, which bounds how many hashes run at once and sheds load with
// ErrBusy instead of queueing without limit, and must call
// Hasher.VerifyDummy for unknown users so that the response time does not
// reveal which accounts exist. The package-level Hash and Verify are the
// unbounded primitives, meant for tools, tests and migrations.
//
// Client secrets and opaque tokens are not passwords: they have full
// entropy and are stored as keyed hashes by package secret.
package password
