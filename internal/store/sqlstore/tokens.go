package sqlstore

import (
	"context"
	"database/sql"
	"strings"
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

// accessTokenRow holds an access token's columns as scanned, so that a
// query can scan a token together with other columns (see
// AccessTokenWithUser).
type accessTokenRow struct {
	at                             store.AccessToken
	authTime, createdAt, expiresAt int64
}

func (r *accessTokenRow) dests() []any {
	at := &r.at
	return []any{&at.TokenHash, &at.TenantID, &at.ClientID, &at.UserID, &at.Scope,
		&at.GrantID, &at.SessionID, &r.authTime, &r.createdAt, &r.expiresAt}
}

func (r *accessTokenRow) token() store.AccessToken {
	at := r.at
	at.AuthTime = fromMS(r.authTime)
	at.CreatedAt = fromMS(r.createdAt)
	at.ExpiresAt = fromMS(r.expiresAt)
	return at
}

func scanAccessToken(sc scanner) (store.AccessToken, error) {
	var r accessTokenRow
	if err := sc.Scan(r.dests()...); err != nil {
		return store.AccessToken{}, err
	}
	return r.token(), nil
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

// AccessTokenWithUser is AccessTokenByHash joined with the profile of the
// token's user in one query: userinfo and introspection need both, and on
// PostgreSQL the second round trip cost as much as the first (userinfo:
// 126 µs of server CPU per request against 85 µs on SQLite).
//
// The join is a LEFT JOIN so that a client_credentials token (empty user_id)
// is found as AccessTokenByHash finds it; the user's columns are then NULL
// and read as the zero User, as they are for a user that no longer
// exists. The join matches on tenant_id as well as id, so a token never
// carries a user of another tenant.
func (s *Store) AccessTokenWithUser(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (store.AccessToken, store.User, error) {
	var ar accessTokenRow
	var ur userRow
	err := s.r.QueryRowContext(ctx, accessTokenWithUserQuery, tenantID, tokenHash, ms(now)).
		Scan(append(ar.dests(), ur.profileDests()...)...)
	if err != nil {
		return store.AccessToken{}, store.User{}, s.wrap("access token with user", err)
	}
	if ur.u.ID == "" {
		return ar.token(), store.User{}, nil
	}
	return ar.token(), ur.u, nil
}

var accessTokenWithUserQuery = `SELECT ` + qualify("a", accessTokenColumns) + `, ` +
	orZero("u", userProfileColumns) + `
FROM access_tokens a
LEFT JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.user_id
WHERE a.tenant_id = $1 AND a.token_hash = $2 AND a.expires_at > $3`

// qualify prefixes each column of the list cols with the table alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// orZero is qualify for the text columns of the outer side of a LEFT
// JOIN: each reads as the empty string when no row matched, since NULL
// cannot be scanned into a string.
func orZero(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = "COALESCE(" + alias + "." + strings.TrimSpace(c) + ", '')"
	}
	return strings.Join(parts, ", ")
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
