package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

const sessionColumns = `id, tenant_id, user_id, client_id, token_hash, prev_token_hash, rotated_at,
	device_fingerprint, device_os_version, device_agent, device_ip,
	auth_time, created_at, expires_at`

// sessionRow holds a session's columns as scanned, so that a query can
// scan a session together with other columns (see SessionWithUser).
type sessionRow struct {
	se                   store.Session
	rotatedAt, authTime  int64
	createdAt, expiresAt int64
}

func (r *sessionRow) dests() []any {
	se := &r.se
	return []any{&se.ID, &se.TenantID, &se.UserID, &se.ClientID, &se.TokenHash, &se.PrevTokenHash,
		&r.rotatedAt, &se.Device.Fingerprint, &se.Device.OSVersion, &se.Device.Agent, &se.Device.IP,
		&r.authTime, &r.createdAt, &r.expiresAt}
}

func (r *sessionRow) session() store.Session {
	se := r.se
	se.RotatedAt = fromMS(r.rotatedAt)
	se.AuthTime = fromMS(r.authTime)
	se.CreatedAt = fromMS(r.createdAt)
	se.ExpiresAt = fromMS(r.expiresAt)
	return se
}

func scanSession(sc scanner) (store.Session, error) {
	var r sessionRow
	if err := sc.Scan(r.dests()...); err != nil {
		return store.Session{}, err
	}
	return r.session(), nil
}

// CreateSession stores a new session. A duplicate id or token hash is
// store.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		se.ID, se.TenantID, se.UserID, se.ClientID, se.TokenHash, nullBytes(se.PrevTokenHash),
		ms(se.RotatedAt), se.Device.Fingerprint, se.Device.OSVersion, se.Device.Agent, se.Device.IP,
		ms(se.AuthTime), ms(se.CreatedAt), ms(se.ExpiresAt))
	return s.wrap("create session", err)
}

// sessionByToken returns the query that finds the session (with what
// selectFrom, "SELECT ... FROM sessions s ...", adds) of a token hash $2,
// current or previous, within tenant $1. Found by the scale test
// (internal/scale, docs/scale.md) and pinned by TestSessionLookupPlan:
//
//   - Two branches, the current token first, and LIMIT 1: a presented
//     token is nearly always a session's current one, and then the probe
//     of the prev_token_hash index is skipped (SQLite and PostgreSQL both
//     stop a UNION ALL at the LIMIT). With "token_hash = $2 OR
//     prev_token_hash = $2" both indexes are probed on every exchange;
//     on a store larger than memory each probe is a random read, and the
//     lookup took 40% longer (PostgreSQL, 10 million sessions: p50 338
//     against 242 µs).
//   - The tenant column is concatenated with the empty string: an
//     expression no index can serve, so each branch goes through its
//     token index whatever the table's size. With a plain "tenant_id =
//     $1", SQLite without statistics (Sesame never runs ANALYZE) rates an
//     index starting with tenant_id (the admin listings' (tenant_id,
//     created_at) and others) as cheaper than the token indexes, and
//     scans every session of the tenant: 52 ms per exchange at 20,000
//     sessions, linear in the tenant's sessions. The tenant still filters
//     the row, so no tenant ever sees another's session.
func sessionByToken(selectFrom string) string {
	return selectFrom + `
WHERE s.token_hash = $2 AND s.tenant_id || '' = $1
UNION ALL
` + selectFrom + `
WHERE s.prev_token_hash = $2 AND s.tenant_id || '' = $1
LIMIT 1`
}

// SessionByTokenHash finds the session whose current or previous token
// hash is tokenHash, using the indexes on token_hash and prev_token_hash
// (see sessionByToken). Expiry and grace are the caller's decision.
func (s *Store) SessionByTokenHash(ctx context.Context, tenantID string, tokenHash []byte) (store.Session, error) {
	se, err := scanSession(s.r.QueryRowContext(ctx, sessionByTokenHashQuery, tenantID, tokenHash))
	return se, s.wrap("session by token hash", err)
}

var sessionByTokenHashQuery = sessionByToken(`SELECT ` + sessionColumns + ` FROM sessions s`)

// sessionUserColumns are the session's columns and its user's profile
// (store.User.Profile), for a join of sessions s and users u.
var sessionUserColumns = qualify("s", sessionColumns) + ", " + qualify("u", userProfileColumns)

// SessionWithUser is SessionByTokenHash joined with the profile of the
// session's user in one query: the exchange needs both, and a second round
// trip costs as much as the lookup itself.
func (s *Store) SessionWithUser(ctx context.Context, tenantID string, tokenHash []byte) (store.Session, store.User, error) {
	var sr sessionRow
	var ur userRow
	err := s.r.QueryRowContext(ctx, sessionWithUserQuery, tenantID, tokenHash).
		Scan(append(sr.dests(), ur.profileDests()...)...)
	if err != nil {
		return store.Session{}, store.User{}, s.wrap("session with user", err)
	}
	return sr.session(), ur.u, nil
}

var sessionWithUserQuery = sessionByToken(`SELECT ` + sessionUserColumns + ` FROM sessions s
JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id`)

// RotateSessionToken makes newHash the current token if oldHash still is.
//
// It is ONE conditional UPDATE: the WHERE clause is re-checked under the
// row lock, so when several requests (on any number of nodes) present the
// same token at once, exactly one of them sees token_hash = oldHash and
// rotates; the others affect no row and are told false. A SELECT followed by
// an UPDATE would let two of them rotate and hand out two successors.
func (s *Store) RotateSessionToken(ctx context.Context, tenantID string, oldHash, newHash []byte, now, expiresAt time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions
SET prev_token_hash = token_hash, token_hash = $3, rotated_at = $4, expires_at = $5
WHERE tenant_id = $1 AND token_hash = $2`, tenantID, oldHash, newHash, ms(now), ms(expiresAt))
	if err != nil {
		return false, s.wrap("rotate session token", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.wrap("rotate session token", err)
	}
	return n == 1, nil
}

// DeleteSession removes a session and, in the same transaction, the SSO
// tickets issued from it that were not redeemed yet: a ticket must not
// carry a user whose session has ended. An unknown session is
// store.ErrNotFound.
func (s *Store) DeleteSession(ctx context.Context, tenantID, sessionID string) error {
	return s.inTx(ctx, "delete session", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sso_tickets WHERE tenant_id = $1 AND session_id = $2`, tenantID, sessionID); err != nil {
			return s.wrap("delete session tickets", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND id = $2`, tenantID, sessionID)
		return s.one("delete session", res, err)
	})
}
