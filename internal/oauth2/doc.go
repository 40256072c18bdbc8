// Package oauth2 owns the OAuth 2.0 protocol primitives shared by the
// tenant API (contract §3) and the OAuth/OpenID endpoints (contract §4):
// the RFC 6749 §5.2 error format and its single writer, the no-store JSON
// writer for token responses, and client authentication
// (client_secret_basic, client_secret_post).
package oauth2
