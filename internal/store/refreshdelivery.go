package store

import (
	"context"
	"time"
)

// RefreshDeliveryStore makes refresh-token rotation safe against answers
// that never reach the client.
//
// A rotation commits before its answer is written. If the server dies (or
// fails) in between, the client still holds the token it presented, which
// is now used: its retry would be taken for reuse and revoke the family
// (RFC 9700 §4.14.2), although the client did nothing wrong and was never
// given the successor. So a rotation stores its successor *pending*, and
// the server confirms it once the answer has been handed to the
// connection. A used token whose successor is still pending (and unused)
// was never answered: presenting it again is a retry, answered with that
// same successor (the OAuth layer derives successors from the presented
// token, so it can), and not reuse. Once the successor is confirmed, or
// used, presenting the old token again is reuse as before; so each token a
// client received works exactly once.
type RefreshDeliveryStore interface {
	// RotateRefreshTokenPending is OAuthStore.RotateRefreshToken, with
	// the successor stored pending until ConfirmRefreshToken.
	RotateRefreshTokenPending(ctx context.Context, tenantID string, oldHash, newHash []byte, now, expiresAt time.Time) (RefreshToken, error)
	// PendingRefreshToken returns the refresh token tokenHash of grant
	// grantID if it is pending, unused and expires after now; any other
	// token is ErrNotFound.
	PendingRefreshToken(ctx context.Context, tenantID, grantID string, tokenHash []byte, now time.Time) (RefreshToken, error)
	// ConfirmRefreshToken marks the refresh token tokenHash as handed to
	// its client: no longer pending. Confirming a token that is not
	// pending, or unknown, changes nothing and is not an error.
	ConfirmRefreshToken(ctx context.Context, tenantID string, tokenHash []byte) error
}
