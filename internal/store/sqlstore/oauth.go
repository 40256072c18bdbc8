package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.OAuthStore = (*Store)(nil)

// Authorization codes and refresh tokens are single-use, but unlike state
// tokens they are not deleted when used: a used row is kept (used_at != 0)
// until it expires, so that presenting it again can be reported as
// store.ErrReused, with the record, and the caller can revoke its grant.
//
// The claim is ONE conditional UPDATE ... WHERE used_at = 0 AND expires_at
// > now RETURNING: when several requests present the same code or token at
// once, on one node or many, the database re-checks the WHERE clause under
// the row lock (PostgreSQL) or runs the statements one after the other
// (SQLite's single writer), so exactly one UPDATE matches. Only when it
// matches nothing is the row read, to tell why:
//
//   - no row, or expires_at <= now: store.ErrNotFound. Expiry wins over
//     use, so the answer does not depend on whether the sweeper has
//     already deleted the row;
//   - used_at != 0: the record and store.ErrReused.
//
// used_at = 0 means "unused", so "now" must not be stored as 0: a zero (or
// Unix epoch) now is refused.

const authCodeColumns = `code_hash, tenant_id, client_id, user_id, session_id, grant_id,
	redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, used_at`

func scanAuthCode(sc scanner) (store.AuthCode, error) {
	var (
		c                                      store.AuthCode
		authTime, createdAt, expiresAt, usedAt int64
	)
	err := sc.Scan(&c.CodeHash, &c.TenantID, &c.ClientID, &c.UserID, &c.SessionID, &c.GrantID,
		&c.RedirectURI, &c.Scope, &c.Nonce, &c.CodeChallenge, &authTime, &createdAt, &expiresAt, &usedAt)
	if err != nil {
		return store.AuthCode{}, err
	}
	c.AuthTime = fromMS(authTime)
	c.CreatedAt = fromMS(createdAt)
	c.ExpiresAt = fromMS(expiresAt)
	c.UsedAt = fromMS(usedAt)
	return c, nil
}

const refreshTokenColumns = `token_hash, tenant_id, client_id, user_id, session_id, grant_id,
	scope, auth_time, created_at, expires_at, used_at`

func scanRefreshToken(sc scanner) (store.RefreshToken, error) {
	var (
		rt                                     store.RefreshToken
		authTime, createdAt, expiresAt, usedAt int64
	)
	err := sc.Scan(&rt.TokenHash, &rt.TenantID, &rt.ClientID, &rt.UserID, &rt.SessionID, &rt.GrantID,
		&rt.Scope, &authTime, &createdAt, &expiresAt, &usedAt)
	if err != nil {
		return store.RefreshToken{}, err
	}
	rt.AuthTime = fromMS(authTime)
	rt.CreatedAt = fromMS(createdAt)
	rt.ExpiresAt = fromMS(expiresAt)
	rt.UsedAt = fromMS(usedAt)
	return rt, nil
}

// errZeroNow is returned when a single-use record would be marked used at
// a time stored as 0, which means "unused".
var errZeroNow = errors.New("now is the zero time")

// CreateAuthCode stores an authorization code; a duplicate hash is
// store.ErrConflict.
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO auth_codes (`+authCodeColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.CodeHash, c.TenantID, c.ClientID, c.UserID, c.SessionID, c.GrantID,
		c.RedirectURI, c.Scope, c.Nonce, c.CodeChallenge,
		ms(c.AuthTime), ms(c.CreatedAt), ms(c.ExpiresAt), ms(c.UsedAt))
	return s.wrap("create auth code", err)
}

// RedeemAuthCode marks the code used at now in one conditional UPDATE and
// returns it (with UsedAt = now). See the comment at the top of the file
// for the outcomes when the UPDATE matches nothing.
func (s *Store) RedeemAuthCode(ctx context.Context, tenantID string, codeHash []byte, now time.Time) (store.AuthCode, error) {
	const op = "redeem auth code"
	if ms(now) == 0 {
		return store.AuthCode{}, s.wrap(op, errZeroNow)
	}
	c, err := scanAuthCode(s.w.QueryRowContext(ctx, `UPDATE auth_codes SET used_at = $3
WHERE tenant_id = $1 AND code_hash = $2 AND used_at = 0 AND expires_at > $3
RETURNING `+authCodeColumns, tenantID, codeHash, ms(now)))
	if !errors.Is(err, sql.ErrNoRows) {
		return c, s.wrap(op, err)
	}
	// Nothing matched. The UPDATE has committed, and any redemption that
	// beat it had committed before it, so a fresh read sees why.
	c, err = scanAuthCode(s.r.QueryRowContext(ctx, `SELECT `+authCodeColumns+`
FROM auth_codes WHERE tenant_id = $1 AND code_hash = $2`, tenantID, codeHash))
	if err != nil {
		return store.AuthCode{}, s.wrap(op, err)
	}
	return c, singleUseState(ms(c.ExpiresAt), ms(c.UsedAt), ms(now))
}

// singleUseState explains why the claim of an existing single-use record
// matched nothing: expired (store.ErrNotFound) or used (store.ErrReused).
// An unused, unexpired record can only mean that it was created after the
// claim ran; at the claim's point in time it did not exist.
func singleUseState(expiresAt, usedAt, now int64) error {
	switch {
	case expiresAt <= now:
		return store.ErrNotFound
	case usedAt != 0:
		return store.ErrReused
	default:
		return store.ErrNotFound
	}
}

// CreateRefreshToken stores a refresh token; a duplicate hash is
// store.ErrConflict.
func (s *Store) CreateRefreshToken(ctx context.Context, rt store.RefreshToken) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshTokenColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		rt.TokenHash, rt.TenantID, rt.ClientID, rt.UserID, rt.SessionID, rt.GrantID, rt.Scope,
		ms(rt.AuthTime), ms(rt.CreatedAt), ms(rt.ExpiresAt), ms(rt.UsedAt))
	return s.wrap("create refresh token", err)
}

// RefreshTokenByHash returns a refresh token that expires after now, used
// or not.
func (s *Store) RefreshTokenByHash(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (store.RefreshToken, error) {
	rt, err := scanRefreshToken(s.r.QueryRowContext(ctx, `SELECT `+refreshTokenColumns+`
FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2 AND expires_at > $3`,
		tenantID, tokenHash, ms(now)))
	return rt, s.wrap("refresh token by hash", err)
}

// RotateRefreshToken marks oldHash used and inserts its successor newHash
// in one transaction, and returns the old token (with UsedAt = now).
//
// The conditional UPDATE is the claim, as for authorization codes: of
// several concurrent rotations of one token exactly one matches, and the
// others, which matched nothing, get store.ErrReused and insert nothing.
// The INSERT is in the same transaction, so a failed INSERT (newHash
// already exists: store.ErrConflict) rolls the claim back and the old
// token stays usable. On SQLite BEGIN is IMMEDIATE (see openSQLite); on
// PostgreSQL the UPDATE's row lock holds competing rotations until commit.
func (s *Store) RotateRefreshToken(ctx context.Context, tenantID string, oldHash, newHash []byte, now, expiresAt time.Time) (store.RefreshToken, error) {
	const op = "rotate refresh token"
	if ms(now) == 0 {
		return store.RefreshToken{}, s.wrap(op, errZeroNow)
	}
	var old store.RefreshToken
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		var err error
		old, err = scanRefreshToken(tx.QueryRowContext(ctx, `UPDATE refresh_tokens SET used_at = $3
WHERE tenant_id = $1 AND token_hash = $2 AND used_at = 0 AND expires_at > $3
RETURNING `+refreshTokenColumns, tenantID, oldHash, ms(now)))
		if errors.Is(err, sql.ErrNoRows) {
			// Read in the same transaction: on PostgreSQL (read
			// committed) the SELECT sees the rotation that beat the
			// UPDATE, which had committed before the UPDATE gave up.
			old, err = scanRefreshToken(tx.QueryRowContext(ctx, `SELECT `+refreshTokenColumns+`
FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2`, tenantID, oldHash))
			if err != nil {
				return s.wrap(op, err)
			}
			return singleUseState(ms(old.ExpiresAt), ms(old.UsedAt), ms(now))
		}
		if err != nil {
			return s.wrap(op, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshTokenColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0)`,
			newHash, old.TenantID, old.ClientID, old.UserID, old.SessionID, old.GrantID, old.Scope,
			ms(old.AuthTime), ms(now), ms(expiresAt))
		return s.wrap(op, err)
	})
	switch {
	case err == nil:
		return old, nil
	case errors.Is(err, store.ErrReused):
		return old, err
	default:
		return store.RefreshToken{}, err
	}
}

// RevokeGrant deletes the refresh tokens and access tokens of a grant in
// one transaction and returns how many it deleted. Authorization codes of
// the grant are left alone: they are single-use, the one a grant came from
// is already used, and it expires within minutes.
//
// The refresh-token DELETE is repeated until it deletes nothing. On
// PostgreSQL (read committed) a DELETE does not see rows inserted after
// its statement began, so a rotation that was in flight — its UPDATE had
// locked the old token, the DELETE waited for it — commits a successor
// the first DELETE misses; the next statement sees it. A DELETE that finds
// no row proves the family empty: any later rotation needs an unused
// token of the grant, and there is none left. On SQLite the second DELETE
// always finds nothing (the transaction holds the write lock throughout).
//
// An empty grantID is refused: client_credentials tokens have no grant,
// and revoking "" would delete all of them.
func (s *Store) RevokeGrant(ctx context.Context, tenantID, grantID string) (int64, error) {
	const op = "revoke grant"
	if grantID == "" {
		return 0, s.wrap(op, errors.New("empty grant id"))
	}
	var total int64
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		total = 0
		for {
			n, err := affected(tx.ExecContext(ctx, `DELETE FROM refresh_tokens
WHERE tenant_id = $1 AND grant_id = $2`, tenantID, grantID))
			if err != nil {
				return s.wrap(op, err)
			}
			total += n
			if n == 0 {
				break
			}
		}
		n, err := affected(tx.ExecContext(ctx, `DELETE FROM access_tokens
WHERE tenant_id = $1 AND grant_id = $2`, tenantID, grantID))
		if err != nil {
			return s.wrap(op, err)
		}
		total += n
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// affected returns the number of rows a statement changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
