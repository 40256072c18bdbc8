package sqlstore

import (
	"context"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.RefreshDeliveryStore = (*Store)(nil)

// Pending refresh tokens (migration 00008, store.RefreshDeliveryStore).
// The pending flag is one column of refresh_tokens: set in the rotation's
// own transaction (rotateRefreshToken), so a successor is never visible
// without it, and cleared by one conditional UPDATE. Reading it needs no
// lock: a retry only ever answers with the successor that already exists,
// so concurrent retries, and a retry racing the confirmation, all give the
// client the same token and change nothing else.

// RotateRefreshTokenPending is RotateRefreshToken with the successor
// stored pending.
func (s *Store) RotateRefreshTokenPending(ctx context.Context, tenantID string, oldHash, newHash []byte, now, expiresAt time.Time) (store.RefreshToken, error) {
	return s.rotateRefreshToken(ctx, tenantID, oldHash, newHash, now, expiresAt, true)
}

// PendingRefreshToken returns the refresh token if it belongs to the grant
// and is pending, unused and unexpired.
func (s *Store) PendingRefreshToken(ctx context.Context, tenantID, grantID string, tokenHash []byte, now time.Time) (store.RefreshToken, error) {
	rt, err := scanRefreshToken(s.r.QueryRowContext(ctx, `SELECT `+refreshTokenColumns+`
FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2 AND grant_id = $3
AND pending <> 0 AND used_at = 0 AND expires_at > $4`, tenantID, tokenHash, grantID, ms(now)))
	return rt, s.wrap("pending refresh token", err)
}

// ConfirmRefreshToken clears the pending flag.
func (s *Store) ConfirmRefreshToken(ctx context.Context, tenantID string, tokenHash []byte) error {
	_, err := s.w.ExecContext(ctx, `UPDATE refresh_tokens SET pending = 0
WHERE tenant_id = $1 AND token_hash = $2 AND pending <> 0`, tenantID, tokenHash)
	return s.wrap("confirm refresh token", err)
}
