// Package tenantapi owns the HTTP surface of the server-to-server tenant
// API, /api/v2/tenant/... (contract §3): application access tokens by
// client_credentials, and session refresh and SSO tickets for servers
// holding such a token.
//
// Authentication failures use the OAuth format (vendor-compatible 400
// invalid_token for bearer tokens); request and session errors use the
// tenant's SDK error dialect.
package tenantapi
