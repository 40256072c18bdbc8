// Package sdk is the Go SDK of Sesame, an identity provider whose API is
// wire-compatible with the IDaaS session-token family (EIAM and CIAM
// editions). It has three parts, one per side of an integration:
//
//   - Client, for apps on end-user devices, calls the SDK API
//     (/api/v2/sdk/...): password login (with the password-expiry steps),
//     exchange of the session token for fresh id_tokens, logout and the
//     server's clock. It keeps the session token in a TokenStore
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
// grace period answers a repeated token with the same successor), a
// logout, or a key-set fetch.
//
// # Concurrency
//
// Client, TenantClient and Verifier are safe for concurrent use, and hold
// no package-level state: create one per configuration and share it.
// Exchanges of one Client are serialized so that concurrent callers never
// present a token another one has just rotated away; a TenantClient's
// access token is fetched once however many goroutines need it at once;
// a Verifier's key set likewise.
package sdk
