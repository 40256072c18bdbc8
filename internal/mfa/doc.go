// Package mfa owns the second factor of Sesame's logins: time-based
// one-time passwords (TOTP, RFC 6238) and single-use recovery codes.
//
// It holds the primitives and nothing of the login flow: computing and
// checking TOTP codes (HMAC-SHA1, 30-second steps, 6 digits, one step of
// clock drift either way), generating TOTP secrets and their otpauth://
// URIs for authenticator apps, generating and normalising recovery codes,
// and sealing TOTP secrets for storage. Package session decides when a
// login needs the second factor (the tenant's policy: off, optional,
// required) and keeps the records through store.MFAStore.
//
// Secrets at rest: a TOTP secret must be readable by the server to check
// codes, so it cannot be hashed like a token; it is encrypted with
// AES-256-GCM under a key derived from the deployment's key-encryption key
// (HKDF label of its own), bound to its tenant and user so that a sealed
// secret copied to another account does not open. Recovery codes are
// checked only for equality, so they are stored as keyed hashes
// (secret.Hasher), like tokens.
//
// Replay (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt
// of the same OTP after the successful validation has been issued for the
// first OTP"): the store keeps the last accepted time step per user and
// accepts a code only for a later step, in one conditional statement, so
// a code is used at most once across any number of server nodes.
package mfa
