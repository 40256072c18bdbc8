// Package sdk is the Go SDK of Sesame, an identity provider whose API is
// wire-compatible with the IDaaS session-token family (EIAM and CIAM
// editions). It has three parts, one per side of an integration:
//
//   - Client, for apps on end-user devices, calls the SDK API
//     (/api/v2/sdk/...): password login (with the password-expiry steps
//     and the TOTP second factor: VerifyMFA, and BeginTOTPEnrollment,
//     ConfirmTOTPEnrollment, DisableTOTP with the session), exchange of
//     the session token for fresh id_tokens, logout and the server's
//     clock. It keeps the session token in a TokenStore
//     (MemoryTokenStore, FileTokenStore, or your own) and saves the
//     rotated token whenever the application has session auto-refresh on,
//     so the app never has to handle rotation itself.
//   - TenantClient, for an application's back end, calls the tenant API
//     (/api/v2/tenant/...) with an application access token it obtains by
//     client_credentials and caches: session refresh and SSO tickets.
//   - Verifier checks id_tokens (from logins, exchanges or the OpenID
//     Connect flows) against the tenant's published keys, following key
//     rotation.
//
// # Tenants and URLs
//
// Every tenant has its own host name, and the base URL of a Client or a
// TenantClient is https://{tenant domain}; the issuer of a Verifier is
// https://{tenant domain}/api/v1/oauth2. Sesame picks the tenant from the
// Host header, which is the URL's host unless WithHost overrides it. On a
// shared "common domain" WithTenantID names the tenant instead (ISV mode).
//
// # Plain and signed session calls
//
// The exchange of the session token for an id_token and the logout exist
// in two forms on the wire, and a Client speaks one of them, chosen once
// when it is made:
//
//   - The plain form (the default) sends the session token in a header
//     (POST /api/v2/sdk/sso/session-token/id-token, POST
//     /api/v2/sdk/logout). When the application has session auto-refresh
//     on, the exchange rotates the session token, and the Client saves the
//     new one before it returns.
//   - The signed form (WithSignedSession; the OneAccess variant of the
//     API) never sends the session token in clear: each call carries an
//     X-signature header, the session token, a timestamp and a fresh
//     random nonce encrypted to the application's RSA public key with
//     RSA-OAEP-SHA-256 (POST /api/v2/sdk/session-token/refresh-id-token,
//     GET /api/v2/sdk/logout). It never rotates the session token. The
//     Client fetches the application's public key and the server's clock
//     once and caches them; it signs with the server's time (its own clock
//     corrected by the measured offset), so a device whose clock is wrong
//     is still accepted, and when the server refuses a timestamp it reads
//     the server's clock again and repeats the call once. Every attempt,
//     repetitions and retries included, has a nonce of its own.
//
// Both forms are reached through the same two methods,
// Client.ExchangeSessionToken and Client.Logout, so the app's code does
// not change with the form: which one to use is a deployment decision
// (whether the session token may travel in clear), not something to pick
// call by call, and mixing the forms on one session would defeat the
// point of the signed one.
//
//	client, err := sdk.New("https://acme.example.com", "my-app-client-id",
//		sdk.WithDevice(device), sdk.WithSignedSession())
//	...
//	res, err := client.ExchangeSessionToken(ctx) // signed; res.Rotated is false
//
// The signed form has two errors of its own: ErrSignatureInvalid (the
// server could not decrypt the signature: the application's key changed,
// or the Client is configured for another application) and
// ErrSignatureRejected (a timestamp the server still refused after the
// repetition, or a nonce already used).
//
// # Errors
//
// Error answers of the server are *Error values carrying the code, the
// message (in the language chosen with WithLanguage, or the tenant's) and
// the HTTP status. EIAM and CIAM tenants use different codes for the same
// situations; compare errors with the sentinels of this package, which
// know both dialects:
//
//	res, err := client.Login(ctx, "alice", password)
//	switch {
//	case errors.Is(err, sdk.ErrBadCredentials):
//		// ask again
//	case errors.Is(err, sdk.ErrAccountLocked):
//		// tell the user to wait; the message says how long
//	case err != nil:
//		// ...
//	}
//
// # Retries
//
// "System busy" answers (the server's storage or a dependency is
// unavailable) are retried with jittered exponential backoff, 3 attempts
// by default (WithRetry), stopping early when the context is done. Sesame
// answers busy only for work it did not complete, so every call may be
// retried after one. A request whose answer was lost (a network error, a
// gateway's 502/503/504) is repeated only when a repetition cannot apply
// anything twice: never a login, a password change or a ticket
// redemption; yes an exchange or refresh of a session token (Sesame's
// grace period answers a repeated token with the same successor; the
// signed exchange does not rotate at all), a logout, or a key-set fetch.
// A repeated signed call is signed again, with a fresh nonce.
//
// # Concurrency
//
// Client, TenantClient and Verifier are safe for concurrent use, and hold
// no package-level state: create one per configuration and share it.
// Exchanges of one Client in the plain form are serialized so that
// concurrent callers never present a token another one has just rotated
// away (signed exchanges, which never rotate, run in parallel, sharing one
// fetch of the public key and of the server's clock); a TenantClient's
// access token is fetched once however many goroutines need it at once;
// a Verifier's key set likewise.
package sdk
