// Package audit owns Sesame's audit log: the event types, the Recorder the
// domain packages report to, and the writer that stores events through
// store.AuditStore and removes them after the configured retention.
//
// It owns:
//   - the event vocabulary (Type* constants) and the conventions of the
//     other fields: ActorID is a user id, an application's client id
//     (client_credentials, the tenant API) or "system"; Target is
//     "kind:id" ("user:…", "application:…", "session:…", "grant:…");
//     Details hold small facts such as "reason", "client_id",
//     "grant_type", "tokens", "recovery_codes_left" — never tokens,
//     secrets, passwords, TOTP or recovery codes, nor a login name that
//     matched no user (it may be a mistyped password);
//   - Writer, the Recorder of a running server: a bounded buffer stored
//     in batches off the request path (see Writer for the full-buffer
//     policy), flushed on Close;
//   - Pruner, which deletes events older than audit.retention;
//   - the request's source address in the context (WithSourceIP), set
//     once per request by the server from the rate limiter's client-IP
//     rule.
//
// The events are emitted by the packages where things happen: session
// (logins, lockouts, exchanges, rotation, logout, the second factor's
// enrolment, removal and recovery codes), oidc (token endpoint,
// revocation, RP-initiated logout), tenantapi (tenant access tokens) and
// the admin API (admin.* changes).
package audit
