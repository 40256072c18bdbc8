// Package admin owns Sesame's administration: the admin API under
// /admin/api/v1/ (JSON), who may call it, the built-in system tenant that
// holds the administrators, and the creation of the first administrator
// (`sesame admin create`).
//
// # Who may do what
//
// The system tenant (id "system", answering on the configured
// admin.domain) holds every administrator: its users and applications
// are the only principals that can hold an admin role. A role is stored
// in the database (store.AdminStore) and is either system administrator
// (every tenant, the roles themselves, the whole audit log) or tenant
// administrator of one tenant (that tenant's settings except its domains
// and edition, its applications, users, sessions, keys and audit events).
// A principal may be tenant administrator of several tenants.
//
// A request carries a bearer access token issued by Sesame's own OpenID
// provider in the system tenant, checked exactly as the userinfo and
// introspection endpoints check tokens (oauth2.AccessTokens.Authenticate):
//
//   - a user's token from the console application (authorization code +
//     PKCE), for an active user holding a role; user tokens of any other
//     application are refused, so that a token issued to some relying
//     party cannot be replayed against the admin API;
//   - an application's client_credentials token, for an application of
//     the system tenant holding a role (an "admin application", for
//     automation).
//
// No token, or an unknown, expired or revoked one: 401. A valid token of
// a principal without a role: 403. A tenant administrator asking for a
// tenant that is not theirs gets 404, whether or not it exists, so that
// tenants cannot be discovered; actions only a system administrator may
// take are 403.
//
// # The console application
//
// Registered in the system tenant at every start (its settings are
// rewritten, so it follows the configuration):
//
//	client_id:     sesame-console (ConsoleClientID), public, PKCE S256
//	redirect URI:  {public_url scheme}://{admin.domain}[:{public_url port}]/admin/callback
//	post-logout:   {public_url scheme}://{admin.domain}[:{public_url port}]/admin/
//	issuer:        {public_url scheme}://{admin.domain}[:{public_url port}]/api/v1/oauth2
//
// The console page itself is served under /admin/ by another package.
//
// # Errors
//
// Every error is {"error":{"code":"…","field":"…","message":"…"}}, written
// by writeError only; field names the offending member of the request
// (a JSON path such as redirect_uris[0] or policy.lockout_threshold, or a
// query parameter) and is absent when no single field is at fault.
//
// # Audit
//
// Every change is reported to an audit.Recorder as "admin.<resource>.<verb>"
// with the principal as actor, the object as target and the client IP
// (ratelimit's trusted-proxy rules) as source.
package admin
