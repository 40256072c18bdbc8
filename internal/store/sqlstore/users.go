package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// userProfileColumns are the columns of store.User.Profile, the part of a
// user the token reads join (SessionWithUser, AccessTokenWithUser): each
// column scanned costs an allocation or a conversion on the exchange,
// userinfo and introspection paths, and those need no more.
const userProfileColumns = `tenant_id, id, username, name, email, mobile, status`

const userColumns = userProfileColumns + `,
	password_hash, password_changed_at, failed_logins, failed_window_start,
	locked_until, created_at, updated_at`

// userRow holds a user's columns as scanned (see sessionRow).
type userRow struct {
	u                              store.User
	changedAt, windowStart, locked int64
	createdAt, updatedAt           int64
}

func (r *userRow) dests() []any {
	u := &r.u
	return append(r.profileDests(), &u.PasswordHash, &r.changedAt, &u.FailedLogins, &r.windowStart,
		&r.locked, &r.createdAt, &r.updatedAt)
}

// profileDests are the destinations of userProfileColumns.
func (r *userRow) profileDests() []any {
	u := &r.u
	return []any{&u.TenantID, &u.ID, &u.Username, &u.Name, &u.Email, &u.Mobile, &u.Status}
}

func (r *userRow) user() store.User {
	u := r.u
	u.PasswordChangedAt = fromMS(r.changedAt)
	u.FailedWindowStart = fromMS(r.windowStart)
	u.LockedUntil = fromMS(r.locked)
	u.CreatedAt = fromMS(r.createdAt)
	u.UpdatedAt = fromMS(r.updatedAt)
	return u
}

func scanUser(sc scanner) (store.User, error) {
	var r userRow
	if err := sc.Scan(r.dests()...); err != nil {
		return store.User{}, err
	}
	return r.user(), nil
}

// key is the case-insensitive form of user names and e-mail addresses, kept
// in the *_key columns. Lower-casing in Go (not with SQL lower()) gives both
// databases the same Unicode rules.
func key(s string) string { return strings.ToLower(s) }

// CreateUser adds a user. The unique index on (tenant_id, username_key)
// makes a user name taken in any letter case store.ErrConflict, also when
// two nodes create the same name at once.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (tenant_id, id, username, username_key,
	name, email, email_key, mobile, status, password_hash, password_changed_at,
	failed_logins, failed_window_start, locked_until, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		u.TenantID, u.ID, u.Username, key(u.Username), u.Name, u.Email, key(u.Email), u.Mobile,
		u.Status, u.PasswordHash, ms(u.PasswordChangedAt), u.FailedLogins,
		ms(u.FailedWindowStart), ms(u.LockedUntil), ms(u.CreatedAt), ms(u.UpdatedAt))
	return s.wrap("create user", err)
}

// GetUser returns a user by id.
func (s *Store) GetUser(ctx context.Context, tenantID, userID string) (store.User, error) {
	if !lookupable(tenantID, userID) {
		return store.User{}, store.ErrNotFound
	}
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+`
FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, userID))
	return u, s.wrap("get user", err)
}

// UserByUsername returns the user whose name matches case-insensitively.
func (s *Store) UserByUsername(ctx context.Context, tenantID, username string) (store.User, error) {
	if !lookupable(tenantID, username) {
		return store.User{}, store.ErrNotFound
	}
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+`
FROM users WHERE tenant_id = $1 AND username_key = $2`, tenantID, key(username)))
	return u, s.wrap("user by username", err)
}

// UsersByLoginID returns at most two users whose user name or e-mail
// (case-insensitively) or mobile equals id, oldest first. Two are enough
// for the caller to tell "unique" from "ambiguous".
func (s *Store) UsersByLoginID(ctx context.Context, tenantID, id string) ([]store.User, error) {
	if !lookupable(tenantID, id) {
		return nil, nil
	}
	if id == "" {
		// Users without e-mail or mobile store "", which must not match.
		return nil, nil
	}
	// tenant_id is repeated in each OR branch: SQLite uses its
	// multi-index OR plan only when every branch matches an index prefix
	// on its own; with tenant_id factored out it scans the whole tenant.
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users
WHERE (tenant_id = $1 AND username_key = $2)
	OR (tenant_id = $1 AND email_key = $2)
	OR (tenant_id = $1 AND mobile = $3)
ORDER BY created_at, id LIMIT 2`, tenantID, key(id), id)
	out, err := collect(rows, err, scanUser)
	if err != nil {
		return nil, s.wrap("users by login id", err)
	}
	return out, nil
}

// UpdateUserProfile replaces name, e-mail, mobile, status and UpdatedAt.
func (s *Store) UpdateUserProfile(ctx context.Context, u store.User) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET name = $3, email = $4, email_key = $5,
	mobile = $6, status = $7, updated_at = $8
WHERE tenant_id = $1 AND id = $2`,
		u.TenantID, u.ID, u.Name, u.Email, key(u.Email), u.Mobile, u.Status, ms(u.UpdatedAt))
	return s.one("update user profile", res, err)
}

// SetPassword stores a new hash and clears failures and lockout, so that a
// password reset also unlocks the account.
func (s *Store) SetPassword(ctx context.Context, tenantID, userID, hash string, changedAt time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET password_hash = $3,
	password_changed_at = $4, updated_at = $4,
	failed_logins = 0, failed_window_start = 0, locked_until = 0
WHERE tenant_id = $1 AND id = $2`, tenantID, userID, hash, ms(changedAt))
	return s.one("set password", res, err)
}

// ReplacePasswordHash swaps oldHash for newHash in one conditional UPDATE,
// so a rehash racing with a password change can never overwrite the new
// password. An unknown user is store.ErrNotFound; a stored hash that is no
// longer oldHash is store.ErrConflict.
func (s *Store) ReplacePasswordHash(ctx context.Context, tenantID, userID, oldHash, newHash string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET password_hash = $4
WHERE tenant_id = $1 AND id = $2 AND password_hash = $3`, tenantID, userID, oldHash, newHash)
	err = s.one("replace password hash", res, err)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := s.GetUser(ctx, tenantID, userID); err != nil {
		return err
	}
	return store.ErrConflict
}

// RecordLoginFailure counts a failed login.
//
// It is ONE UPDATE ... RETURNING: the database evaluates the new counter
// from the row as it is when the statement takes the row lock, so
// concurrent failures on several nodes (or connections) each count exactly
// once. A read-modify-write in Go would lose increments between the read
// and the write, and an attacker could exploit that to get more guesses.
//
// In the SET list every column reference is to the row before the update
// (in both SQLite and PostgreSQL), hence the repeated new-count expression.
// Reaching the threshold locks the account until now+LockoutDuration and
// resets the counter and window, so counting starts afresh after the lock.
// A LockoutWindow of 0 means failures never age out of the window (they are
// cleared by a successful login or a new password). A lock that has already
// ended is cleared on the way.
func (s *Store) RecordLoginFailure(ctx context.Context, tenantID, userID string, now time.Time, p store.TenantPolicy) (time.Time, error) {
	nowMS := ms(now)
	cutoff := int64(-1) // window start <= -1 never holds: no ageing
	if p.LockoutWindow > 0 {
		cutoff = nowMS - dur(p.LockoutWindow)
	}
	const newCount = `(CASE WHEN failed_window_start = 0 OR failed_window_start <= $4
	THEN 1 ELSE failed_logins + 1 END)`
	const locks = `($5 > 0 AND ` + newCount + ` >= $5)`
	var lockedUntil int64
	err := s.w.QueryRowContext(ctx, `UPDATE users SET
	failed_logins = CASE WHEN `+locks+` THEN 0 ELSE `+newCount+` END,
	failed_window_start = CASE
		WHEN `+locks+` THEN 0
		WHEN failed_window_start = 0 OR failed_window_start <= $4 THEN $3
		ELSE failed_window_start END,
	locked_until = CASE
		WHEN `+locks+` THEN $6
		WHEN locked_until <= $3 THEN 0
		ELSE locked_until END
WHERE tenant_id = $1 AND id = $2
RETURNING locked_until`,
		tenantID, userID, nowMS, cutoff, int64(p.LockoutThreshold), nowMS+dur(p.LockoutDuration),
	).Scan(&lockedUntil)
	if err != nil {
		return time.Time{}, s.wrap("record login failure", err)
	}
	if lockedUntil <= nowMS {
		return time.Time{}, nil
	}
	return fromMS(lockedUntil), nil
}

// ClearLoginFailures resets the failure counter and window after a
// successful login, in one conditional UPDATE that applies only while the
// account is not locked at now. When it is (failures recorded by
// concurrent attempts locked it while this login's password was being
// checked), nothing changes and the lock's end is returned, so the login
// is refused: checking the lock only before the slow password hash would
// let a correct guess through a lock.
func (s *Store) ClearLoginFailures(ctx context.Context, tenantID, userID string, now time.Time) (time.Time, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET failed_logins = 0, failed_window_start = 0
WHERE tenant_id = $1 AND id = $2 AND locked_until <= $3`, tenantID, userID, ms(now))
	if err = s.one("clear login failures", res, err); !errors.Is(err, store.ErrNotFound) {
		return time.Time{}, err
	}
	var locked int64
	if err := s.r.QueryRowContext(ctx, `SELECT locked_until FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, userID).Scan(&locked); err != nil {
		return time.Time{}, s.wrap("clear login failures", err)
	}
	return fromMS(locked), nil
}
