package audit

import (
	"context"

	"github.com/sesame-idp/sesame/internal/store"
)

// Event types. Admin changes are "admin.<resource>.<verb>", e.g.
// "admin.application.create", "admin.user.unlock", "admin.keys.rotate".
const (
	TypeLoginSuccess   = "login.success"
	TypeLoginFailure   = "login.failure"
	TypeLockout        = "login.lockout"
	TypeTokenIssued    = "token.issued"
	TypeSessionRotated = "session.rotated"
	TypeSessionRevoked = "session.revoked"
	// TypeTokenRevoked: tokens revoked without ending a session — a
	// grant's family (RFC 7009 revocation, a replayed code, a reused
	// refresh token) or one access token.
	TypeTokenRevoked = "token.revoked"
	// TypeMFAEnrolled: a user confirmed a TOTP authenticator, during a
	// login that asked for it or with a session.
	TypeMFAEnrolled = "mfa.enrolled"
	// TypeMFADisabled: a user removed their authenticator and recovery
	// codes with a session and a code. An administrator's removal is
	// the admin change "admin.user.reset_mfa".
	TypeMFADisabled = "mfa.disabled"
	// TypeMFARecoveryCodeUsed: a recovery code stood in for a TOTP code
	// at a login; each one works once, so a user running out of them is
	// worth seeing.
	TypeMFARecoveryCodeUsed = "mfa.recovery_code_used"
)

// ActorSystem is the ActorID of what the server does by itself (revoking
// a grant whose refresh token was reused, say).
const ActorSystem = "system"

// Recorder takes audit events. Record must not block the request on a slow
// database for long and never fails the caller's operation: an event that
// cannot be stored is logged and counted by the implementation.
type Recorder interface {
	Record(ctx context.Context, e store.AuditEvent)
}

// Discard is a Recorder that drops every event (tests, tools).
type Discard struct{}

// Record implements Recorder.
func (Discard) Record(context.Context, store.AuditEvent) {}
