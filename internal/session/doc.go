// Package session owns the session lifecycle of contract §2 and §3: login
// with user name and password (lockout, password expiry, state tokens),
// the second factor the tenant's MFA policy asks for (TOTP codes and
// recovery codes, enrolment during a login or with a session: mfa.go; the
// primitives are package mfa's), session tokens and their exchange for id_tokens (auto-refresh with a
// grace period, device binding), logout, server-side refresh and SSO
// tickets. It reports logins, lockouts, token issuance, rotations,
// logouts and the second factor's enrolments, removals and recovery codes
// to the audit log (audit.go).
//
// It is protocol-independent: the SDK and tenant API handlers parse
// requests and call a Service; the Service returns results or
// *sdkerror.Error values, which only the handlers write.
package session
