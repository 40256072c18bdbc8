package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Single-use records (state tokens, SSO tickets) are consumed with ONE
// DELETE ... RETURNING. The delete is the claim: when several requests
// present the same token at once, on one node or many, the database lets
// exactly one DELETE remove the row and return it; the others find nothing.
// Reading first and deleting afterwards would let two readers both succeed.
// An expired record is deleted all the same (it is of no further use) but
// reported as store.ErrNotFound.

// CreateStateToken stores a state token; a duplicate hash is
// store.ErrConflict.
func (s *Store) CreateStateToken(ctx context.Context, st store.StateToken) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO state_tokens (token_hash, tenant_id, user_id,
	client_id, device_fingerprint, purpose, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		st.TokenHash, st.TenantID, st.UserID, st.ClientID, st.DeviceFingerprint, st.Purpose,
		ms(st.CreatedAt), ms(st.ExpiresAt))
	return s.wrap("create state token", err)
}

// ConsumeStateToken removes and returns a state token in one statement.
func (s *Store) ConsumeStateToken(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (store.StateToken, error) {
	var (
		st                   store.StateToken
		createdAt, expiresAt int64
	)
	err := s.w.QueryRowContext(ctx, `DELETE FROM state_tokens WHERE tenant_id = $1 AND token_hash = $2
RETURNING token_hash, tenant_id, user_id, client_id, device_fingerprint, purpose, created_at, expires_at`,
		tenantID, tokenHash,
	).Scan(&st.TokenHash, &st.TenantID, &st.UserID, &st.ClientID, &st.DeviceFingerprint, &st.Purpose,
		&createdAt, &expiresAt)
	if err != nil {
		return store.StateToken{}, s.wrap("consume state token", err)
	}
	if expiresAt <= ms(now) {
		return store.StateToken{}, store.ErrNotFound
	}
	st.CreatedAt = fromMS(createdAt)
	st.ExpiresAt = fromMS(expiresAt)
	return st, nil
}

const accessTokenColumns = `token_hash, tenant_id, client_id, user_id, scope,
	grant_id, session_id, auth_time, created_at, expires_at`

func scanAccessToken(sc scanner) (store.AccessToken, error) {
	var (
		at                             store.AccessToken
		authTime, createdAt, expiresAt int64
	)
	err := sc.Scan(&at.TokenHash, &at.TenantID, &at.ClientID, &at.UserID, &at.Scope,
		&at.GrantID, &at.SessionID, &authTime, &createdAt, &expiresAt)
	if err != nil {
		return store.AccessToken{}, err
	}
	at.AuthTime = fromMS(authTime)
	at.CreatedAt = fromMS(createdAt)
	at.ExpiresAt = fromMS(expiresAt)
	return at, nil
}

// CreateAccessToken stores an access token; a duplicate hash is
// store.ErrConflict. A token of a grant (GrantID set) is inserted in one
// transaction with the check of its grant (see checkGrant in oauth.go): a
// revoked or unknown grant is store.ErrRevoked and nothing is stored. A
// token without a grant (client_credentials, tenant API) is one plain
// INSERT: it is the hot path, and no revocation concerns it.
func (s *Store) CreateAccessToken(ctx context.Context, at store.AccessToken) error {
	const op = "create access token"
	const insert = `INSERT INTO access_tokens (` + accessTokenColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	args := []any{at.TokenHash, at.TenantID, at.ClientID, at.UserID, at.Scope, at.GrantID, at.SessionID,
		ms(at.AuthTime), ms(at.CreatedAt), ms(at.ExpiresAt)}
	if at.GrantID == "" {
		_, err := s.w.ExecContext(ctx, insert, args...)
		return s.wrap(op, err)
	}
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if err := s.checkGrant(ctx, tx, op, at.TenantID, at.GrantID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, insert, args...)
		return s.wrap(op, err)
	})
}

// AccessTokenByHash returns an access token that expires after now.
func (s *Store) AccessTokenByHash(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (store.AccessToken, error) {
	at, err := scanAccessToken(s.r.QueryRowContext(ctx, `SELECT `+accessTokenColumns+`
FROM access_tokens WHERE tenant_id = $1 AND token_hash = $2 AND expires_at > $3`,
		tenantID, tokenHash, ms(now)))
	return at, s.wrap("access token by hash", err)
}

// DeleteAccessToken removes one access token (expired or not); an unknown
// one is store.ErrNotFound.
func (s *Store) DeleteAccessToken(ctx context.Context, tenantID string, tokenHash []byte) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM access_tokens WHERE tenant_id = $1 AND token_hash = $2`,
		tenantID, tokenHash)
	return s.one("delete access token", res, err)
}

// CreateSSOTicket stores a ticket; a duplicate hash is store.ErrConflict.
func (s *Store) CreateSSOTicket(ctx context.Context, t store.SSOTicket) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sso_tickets (ticket_hash, tenant_id, session_id,
	user_id, client_id, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.TicketHash, t.TenantID, t.SessionID, t.UserID, t.ClientID, ms(t.CreatedAt), ms(t.ExpiresAt))
	return s.wrap("create sso ticket", err)
}

// ConsumeSSOTicket removes and returns a ticket in one statement.
func (s *Store) ConsumeSSOTicket(ctx context.Context, tenantID string, ticketHash []byte, now time.Time) (store.SSOTicket, error) {
	var (
		t                    store.SSOTicket
		createdAt, expiresAt int64
	)
	err := s.w.QueryRowContext(ctx, `DELETE FROM sso_tickets WHERE tenant_id = $1 AND ticket_hash = $2
RETURNING ticket_hash, tenant_id, session_id, user_id, client_id, created_at, expires_at`,
		tenantID, ticketHash,
	).Scan(&t.TicketHash, &t.TenantID, &t.SessionID, &t.UserID, &t.ClientID, &createdAt, &expiresAt)
	if err != nil {
		return store.SSOTicket{}, s.wrap("consume sso ticket", err)
	}
	if expiresAt <= ms(now) {
		return store.SSOTicket{}, store.ErrNotFound
	}
	t.CreatedAt = fromMS(createdAt)
	t.ExpiresAt = fromMS(expiresAt)
	return t, nil
}
