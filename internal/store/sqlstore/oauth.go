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

// CreateAuthCode stores an authorization code and, in the same
// transaction, the row of its grant; a duplicate hash is
// store.ErrConflict. The grant row is inserted with ON CONFLICT DO
// NOTHING: a retry is harmless, and a grant that is already revoked stays
// revoked. A code without a GrantID gets no grant row (and no token can be
// created in the grant "").
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	const op = "create auth code"
	insertCode := func(exec func(ctx context.Context, q string, args ...any) (sql.Result, error)) error {
		_, err := exec(ctx, `INSERT INTO auth_codes (`+authCodeColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			c.CodeHash, c.TenantID, c.ClientID, c.UserID, c.SessionID, c.GrantID,
			c.RedirectURI, c.Scope, c.Nonce, c.CodeChallenge,
			ms(c.AuthTime), ms(c.CreatedAt), ms(c.ExpiresAt), ms(c.UsedAt))
		return s.wrap(op, err)
	}
	if c.GrantID == "" {
		return insertCode(s.w.ExecContext)
	}
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		// The grant row first: every transaction that touches a grant
		// locks its row before the rows of its records.
		_, err := tx.ExecContext(ctx, `INSERT INTO grants (tenant_id, grant_id, created_at, revoked_at)
VALUES ($1, $2, $3, 0) ON CONFLICT (tenant_id, grant_id) DO NOTHING`,
			c.TenantID, c.GrantID, ms(c.CreatedAt))
		if err != nil {
			return s.wrap(op, err)
		}
		return insertCode(tx.ExecContext)
	})
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

// CreateRefreshToken stores a refresh token in one transaction with the
// check of its grant (see checkGrant): a revoked or unknown grant is
// store.ErrRevoked and nothing is stored; a duplicate hash is
// store.ErrConflict.
func (s *Store) CreateRefreshToken(ctx context.Context, rt store.RefreshToken) error {
	const op = "create refresh token"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if err := s.checkGrant(ctx, tx, op, rt.TenantID, rt.GrantID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshTokenColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			rt.TokenHash, rt.TenantID, rt.ClientID, rt.UserID, rt.SessionID, rt.GrantID, rt.Scope,
			ms(rt.AuthTime), ms(rt.CreatedAt), ms(rt.ExpiresAt), ms(rt.UsedAt))
		return s.wrap(op, err)
	})
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
//
// Before the claim the grant is checked (see checkGrant), which needs the
// grant id, so the token's grant_id is read first; it never changes, so
// the read needs no lock. Checking the grant before the claim keeps the
// lock order of every grant transaction: the grant's row, then the rows
// of its tokens (RevokeGrant does the same; the opposite order could
// deadlock with it on PostgreSQL). A revoked (or missing) grant is
// store.ErrRevoked for a token the claim would have rotated (the claim is
// then rolled back) and for one that a revocation deleted while the check
// waited for it; expired and used tokens keep their answers, so that
// reuse is still reported, and the grant revoked, when a token outlives
// its grant's row.
func (s *Store) RotateRefreshToken(ctx context.Context, tenantID string, oldHash, newHash []byte, now, expiresAt time.Time) (store.RefreshToken, error) {
	return s.rotateRefreshToken(ctx, tenantID, oldHash, newHash, now, expiresAt, false)
}

// rotateRefreshToken is RotateRefreshToken, storing the successor pending
// (see refreshdelivery.go) if pending is set.
func (s *Store) rotateRefreshToken(ctx context.Context, tenantID string, oldHash, newHash []byte, now, expiresAt time.Time, pending bool) (store.RefreshToken, error) {
	const op = "rotate refresh token"
	if ms(now) == 0 {
		return store.RefreshToken{}, s.wrap(op, errZeroNow)
	}
	var old store.RefreshToken
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		var grantID string
		err := tx.QueryRowContext(ctx, `SELECT grant_id FROM refresh_tokens
WHERE tenant_id = $1 AND token_hash = $2`, tenantID, oldHash).Scan(&grantID)
		if err != nil {
			return s.wrap(op, err) // sql.ErrNoRows: store.ErrNotFound
		}
		grantErr := s.checkGrant(ctx, tx, op, tenantID, grantID)
		if grantErr != nil && !errors.Is(grantErr, store.ErrRevoked) {
			return grantErr
		}
		old, err = scanRefreshToken(tx.QueryRowContext(ctx, `UPDATE refresh_tokens SET used_at = $3
WHERE tenant_id = $1 AND token_hash = $2 AND used_at = 0 AND expires_at > $3
RETURNING `+refreshTokenColumns, tenantID, oldHash, ms(now)))
		if errors.Is(err, sql.ErrNoRows) {
			// Read in the same transaction: on PostgreSQL (read
			// committed) the SELECT sees the rotation that beat the
			// UPDATE, which had committed before the UPDATE gave up.
			old, err = scanRefreshToken(tx.QueryRowContext(ctx, `SELECT `+refreshTokenColumns+`
FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2`, tenantID, oldHash))
			if errors.Is(err, sql.ErrNoRows) && grantErr != nil {
				// The token was there at the first read: the
				// revocation that checkGrant waited for deleted it.
				return grantErr
			}
			if err != nil {
				return s.wrap(op, err)
			}
			return singleUseState(ms(old.ExpiresAt), ms(old.UsedAt), ms(now))
		}
		if err != nil {
			return s.wrap(op, err)
		}
		if grantErr != nil {
			return grantErr // store.ErrRevoked; the claim is rolled back
		}
		insert := `INSERT INTO refresh_tokens (` + refreshTokenColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0)`
		if pending {
			// Migration 00008; the plain rotation leaves the column to its
			// default (0), as it did before the column existed.
			insert = `INSERT INTO refresh_tokens (` + refreshTokenColumns + `, pending)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 1)`
		}
		_, err = tx.ExecContext(ctx, insert,
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

// Grants. Every token of a grant is created, and every grant is revoked,
// in a transaction that first locks the grant's row (in the grants table,
// created with the grant's authorization code):
//
//   - a creation (CreateAccessToken with a GrantID, CreateRefreshToken,
//     RotateRefreshToken) reads the row FOR SHARE (checkGrant), refuses
//     with store.ErrRevoked if it is missing or revoked, and otherwise
//     inserts while still holding the lock;
//   - RevokeGrant UPDATEs the row (revoked_at != 0), which waits for the
//     creations holding it FOR SHARE to commit, then deletes the grant's
//     tokens; a creation that reaches the row after the UPDATE waits for
//     RevokeGrant to commit and then reads the revocation.
//
// So every token of the grant is either committed before RevokeGrant's
// DELETEs begin, and deleted by them, or refused. On SQLite, where the
// write transactions run one at a time, the same argument holds without
// row locks. Creations do not block each other (shared locks), and a
// creation holds the lock only for the duration of its INSERT.
//
// Lock order: the grant's row, then the rows of its tokens, in every
// transaction (RotateRefreshToken locks the old token after the grant;
// RevokeGrant deletes tokens after the UPDATE), so two of them cannot
// deadlock. The sweep locks grant rows only in a statement of its own.

// grantKey identifies a grant.
type grantKey struct{ tenantID, grantID string }

// checkGrant reads the grant's row in tx, FOR SHARE on PostgreSQL (see
// dialect.forShare), and returns store.ErrRevoked if the grant is revoked
// or has no row (unknown, or removed by the sweep once nothing of it was
// left). The lock is held until tx ends.
func (s *Store) checkGrant(ctx context.Context, tx *sql.Tx, op, tenantID, grantID string) error {
	var revokedAt int64
	err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM grants
WHERE tenant_id = $1 AND grant_id = $2`+s.dialect.forShare, tenantID, grantID).Scan(&revokedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrRevoked
	case err != nil:
		return s.wrap(op, err)
	case revokedAt != 0:
		return store.ErrRevoked
	}
	return nil
}

// RevokeGrant marks the grant revoked and deletes its refresh tokens and
// access tokens, in one transaction, and returns how many tokens it
// deleted. Authorization codes of the grant are left alone: they are
// single-use, the one a grant came from is already used, and it expires
// within minutes.
//
// The mark is an upsert, so that an unknown grant also gets a revoked row
// (a later CreateAuthCode with its id does not revive it: ON CONFLICT DO
// NOTHING). RevokeGrant takes no "now": revoked_at is the wall clock's
// Unix milliseconds (at least 1, since 0 means live), and only its being
// non-zero matters. A second revocation keeps the first time.
//
// The upsert locks the grant's row (see "Grants" above). Once it returns,
// every creation that had read the row has committed, and every later one
// will be refused; so one DELETE per table, whose statement snapshot is
// taken after the upsert returned, sees every token of the grant there
// will ever be. (Before grants existed, the refresh-token DELETE was
// repeated until it deleted nothing, because on PostgreSQL a rotation
// in flight could commit a successor the first DELETE did not see; the
// lock makes that impossible.)
//
// An empty grantID is refused: client_credentials tokens have no grant,
// and revoking "" would delete all of them.
func (s *Store) RevokeGrant(ctx context.Context, tenantID, grantID string) (int64, error) {
	const op = "revoke grant"
	if grantID == "" {
		return 0, s.wrap(op, errors.New("empty grant id"))
	}
	revokedAt := max(ms(time.Now()), 1)
	var total int64
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		total = 0
		_, err := tx.ExecContext(ctx, `INSERT INTO grants (tenant_id, grant_id, created_at, revoked_at)
VALUES ($1, $2, $3, $3)
ON CONFLICT (tenant_id, grant_id) DO UPDATE SET revoked_at =
	CASE WHEN grants.revoked_at = 0 THEN excluded.revoked_at ELSE grants.revoked_at END`,
			tenantID, grantID, revokedAt)
		if err != nil {
			return s.wrap(op, err)
		}
		for _, q := range []string{
			`DELETE FROM refresh_tokens WHERE tenant_id = $1 AND grant_id = $2`,
			`DELETE FROM access_tokens WHERE tenant_id = $1 AND grant_id = $2`,
		} {
			n, err := affected(tx.ExecContext(ctx, q, tenantID, grantID))
			if err != nil {
				return s.wrap(op, err)
			}
			total += n
		}
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
