package sqlstore

import (
	"context"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.SignedStore = (*Store)(nil)

// AddAppKey stores an application's key pair; one it has already is
// store.ErrConflict.
func (s *Store) AddAppKey(ctx context.Context, k store.AppKey) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO app_keys (tenant_id, client_id, private_key, public_key_pem, created_at)
VALUES ($1, $2, $3, $4, $5)`, k.TenantID, k.ClientID, k.PrivateKey, k.PublicKeyPEM, ms(k.CreatedAt))
	return s.wrap("add app key", err)
}

// GetAppKey returns an application's key pair.
func (s *Store) GetAppKey(ctx context.Context, tenantID, clientID string) (store.AppKey, error) {
	if !lookupable(tenantID, clientID) {
		return store.AppKey{}, store.ErrNotFound
	}
	k := store.AppKey{TenantID: tenantID, ClientID: clientID}
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT private_key, public_key_pem, created_at FROM app_keys
WHERE tenant_id = $1 AND client_id = $2`, tenantID, clientID).Scan(&k.PrivateKey, &k.PublicKeyPEM, &created)
	if err != nil {
		return store.AppKey{}, s.wrap("get app key", err)
	}
	k.CreatedAt = fromMS(created)
	return k, nil
}

// UseNonce records a nonce in one statement: the insert succeeds, or
// replaces an expired row with the same key; an unexpired row makes the
// upsert change nothing, which is a replay. Correct with any number of
// nodes, since the primary key decides.
func (s *Store) UseNonce(ctx context.Context, tenantID, clientID string, nonceHash []byte, now, expiresAt time.Time) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO signature_nonces (tenant_id, client_id, nonce_hash, expires_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, client_id, nonce_hash) DO UPDATE SET expires_at = excluded.expires_at
WHERE signature_nonces.expires_at <= $5`, tenantID, clientID, nonceHash, ms(expiresAt), ms(now))
	if err != nil {
		return s.wrap("use nonce", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap("use nonce", err)
	}
	if n == 0 {
		return store.ErrReused
	}
	return nil
}
