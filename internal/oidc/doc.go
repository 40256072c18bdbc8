// Package oidc owns Sesame's OAuth 2.0 authorization server and OpenID
// provider (contract §4 and the login part of §5): discovery, the
// authorization endpoint with the hosted login page, the token endpoint
// (authorization_code with PKCE, refresh_token with rotation and reuse
// detection, client_credentials), userinfo, introspection (RFC 7662),
// revocation (RFC 7009) and RP-initiated logout.
//
// It runs on the same tenants, users, sessions and keys as the SDK API: a
// login on the hosted page creates the same kind of session as an SDK
// login, held by the browser in an HTTP-only cookie, which is what gives
// single sign-on across a tenant's applications.
//
// Refresh-token rotation survives a crash between the rotation's commit and
// its answer: successors are derived from the presented token, stored
// pending, and confirmed once the answer has been flushed to the
// connection; a used token whose successor is still pending is the
// client's retry and gets that successor, instead of being taken for reuse
// (store.RefreshDeliveryStore).
//
// Protocol errors are *oauth2.Error values written by oauth2.WriteError
// (token-side endpoints) or sent back to a verified redirect URI
// (authorization endpoint); a request whose client or redirect URI cannot
// be verified gets an error page and is never redirected (RFC 6749
// §4.1.2.1, RFC 9700 §4.11).
package oidc
