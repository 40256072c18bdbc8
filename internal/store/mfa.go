package store

import (
	"context"
	"time"
)

// MFA policies of a tenant (TenantPolicy.MFA).
const (
	// MFAOff: logins never ask for a second factor (the default).
	MFAOff = "off"
	// MFAOptional: users who enrolled a TOTP authenticator are asked for
	// a code; the others log in with their password alone.
	MFAOptional = "optional"
	// MFARequired: every login asks for a code; a user not yet enrolled
	// enrols during the login.
	MFARequired = "required"
)

// MFAChallenge is a state token that continues a login (or an enrolment)
// with a second factor. It is stored with the other state tokens, so it
// shares their lifetime, single use and sweeping, and adds an attempt
// counter: one challenge admits a bounded number of codes.
type MFAChallenge struct {
	StateToken
	// Attempts is how many codes were tried with this challenge,
	// including the one being checked.
	Attempts int
	// PendingSecret is the sealed TOTP secret of an enrolment under way
	// (the first valid code confirms it); nil when the user is enrolled.
	PendingSecret []byte
}

// TOTPEnrollment is a user's confirmed TOTP authenticator.
type TOTPEnrollment struct {
	TenantID string
	UserID   string
	Secret   []byte // sealed; never in clear
	// LastStep is the RFC 6238 time step of the last accepted code: a
	// code is accepted only for a later step, so none is used twice.
	LastStep  int64
	CreatedAt time.Time
	// RecoveryCodesLeft is how many unused recovery codes the user has
	// (filled by GetTOTP).
	RecoveryCodesLeft int
}

// MFAStore holds the second factor's records: the TOTP enrolments, the
// recovery codes (keyed hashes only) and the attempt counts of MFA
// challenges. Every method takes the tenant it acts in.
type MFAStore interface {
	// CreateMFAChallenge stores a challenge with Attempts 0.
	CreateMFAChallenge(ctx context.Context, c MFAChallenge) error
	// AttemptMFAChallenge counts one attempt on the unexpired challenge of
	// this purpose in one conditional statement, and returns it with the
	// new count, only while fewer than maxAttempts were made; otherwise
	// (unknown, expired, another purpose, attempts spent) it is
	// ErrNotFound and nothing changes. Concurrent attempts therefore never
	// exceed maxAttempts in all, on any number of nodes. The challenge
	// stays until ConsumeStateToken removes it.
	AttemptMFAChallenge(ctx context.Context, tenantID string, tokenHash []byte, purpose string, now time.Time, maxAttempts int) (MFAChallenge, error)

	// GetTOTP returns a user's enrolment; none is ErrNotFound.
	GetTOTP(ctx context.Context, tenantID, userID string) (TOTPEnrollment, error)
	// ConfirmTOTP stores an enrolment and replaces the user's recovery
	// codes by recoveryHashes, in one transaction. A user who is enrolled
	// already is ErrConflict, and nothing changes.
	ConfirmTOTP(ctx context.Context, e TOTPEnrollment, recoveryHashes [][]byte) error
	// UseTOTPStep records step as the user's last accepted step, in one
	// conditional statement that applies only if the stored one is
	// earlier: otherwise (a replay, or a concurrent use of the same code)
	// it is ErrReused and nothing changes. Not enrolled: ErrNotFound.
	UseTOTPStep(ctx context.Context, tenantID, userID string, step int64) error
	// UseRecoveryCode marks one unused recovery code of the user used at
	// now, in one conditional statement; unknown or used is ErrNotFound,
	// so a code works once across any number of nodes. It returns how
	// many of the user's codes are left unused after this one: concurrent
	// uses of different codes of one user are serialized, so each sees
	// the others that came before it and no two return the same count.
	UseRecoveryCode(ctx context.Context, tenantID, userID string, codeHash []byte, now time.Time) (left int, err error)
	// DeleteTOTP removes a user's enrolment and recovery codes; not
	// enrolled is ErrNotFound.
	DeleteTOTP(ctx context.Context, tenantID, userID string) error
}
