package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.AdminStore = (*Store)(nil)

// Listings are keyset-paginated: each page is "the next Limit rows after
// the last row of the previous page" in the listing's order, so a cursor
// is that last row's sort key. Cursors are opaque to callers
// (base64url of a JSON array: the listing's name, then the key), and the
// name keeps a cursor of one listing from being used with another.
//
// Query texts are built from a fixed set of fragments (filter present or
// not), so the prepared-statement cache stays bounded; values are always
// bound, never spliced in.

func encodeCursor(kind string, key ...string) string {
	b, _ := json.Marshal(append([]string{kind}, key...))
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the key of a cursor of listing kind with n parts;
// "" gives nil.
func decodeCursor(c, kind string, n int) ([]string, error) {
	if c == "" {
		return nil, nil
	}
	if len(c) > 2048 {
		return nil, store.ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	var parts []string
	if err != nil || json.Unmarshal(b, &parts) != nil || len(parts) != n+1 || parts[0] != kind || !lookupable(parts...) {
		return nil, store.ErrInvalidCursor
	}
	return parts[1:], nil
}

// pageSize returns the effective page size of a requested limit.
func pageSize(limit int) int {
	if limit <= 0 || limit > store.MaxPageSize {
		return store.MaxPageSize
	}
	return limit
}

// likePattern returns the LIKE pattern matching q anywhere, lower-cased,
// with LIKE's wildcards escaped (used with ESCAPE '\').
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

// query accumulates the WHERE conditions and arguments of a listing.
type query struct {
	conds []string
	args  []any
}

// arg binds v and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) where(cond string) { q.conds = append(q.conds, cond) }

func (q *query) sql(head, order string, limit int) string {
	s := head
	if len(q.conds) > 0 {
		s += " WHERE " + strings.Join(q.conds, " AND ")
	}
	return s + " ORDER BY " + order + " LIMIT " + q.arg(int64(limit+1))
}

// ListTenantsPage lists tenants by id. Query matches id and name. A
// filter by IDs (a tenant administrator's few tenants) reads those tenants
// one by one and pages in memory.
func (s *Store) ListTenantsPage(ctx context.Context, f store.TenantFilter) ([]store.Tenant, string, error) {
	after, err := decodeCursor(f.Cursor, "tenants", 1)
	if err != nil {
		return nil, "", err
	}
	limit := pageSize(f.Limit)
	if !lookupable(f.Query) {
		return nil, "", nil
	}
	if f.IDs != nil {
		return s.tenantsByIDs(ctx, f, after, limit)
	}
	var q query
	if after != nil {
		q.where("t.id > " + q.arg(after[0]))
	}
	if f.Query != "" {
		p := q.arg(likePattern(f.Query))
		q.where(`(lower(t.id) LIKE ` + p + ` ESCAPE '\' OR lower(t.name) LIKE ` + p + ` ESCAPE '\')`)
	}
	rows, err := s.r.QueryContext(ctx, q.sql(`SELECT `+tenantColumns+` FROM tenants t`, "t.id", limit), q.args...)
	out, err := collect(rows, err, scanTenant)
	if err != nil {
		return nil, "", s.wrap("list tenants page", err)
	}
	return page(out, limit, func(t store.Tenant) string { return encodeCursor("tenants", t.ID) })
}

func (s *Store) tenantsByIDs(ctx context.Context, f store.TenantFilter, after []string, limit int) ([]store.Tenant, string, error) {
	ids := slices.Sorted(slices.Values(f.IDs))
	ids = slices.Compact(ids)
	pattern := strings.ToLower(f.Query)
	var out []store.Tenant
	for _, id := range ids {
		if after != nil && id <= after[0] {
			continue
		}
		t, err := s.GetTenant(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if pattern != "" && !strings.Contains(strings.ToLower(t.ID), pattern) && !strings.Contains(strings.ToLower(t.Name), pattern) {
			continue
		}
		out = append(out, t)
		if len(out) > limit {
			break
		}
	}
	return page(out, limit, func(t store.Tenant) string { return encodeCursor("tenants", t.ID) })
}

// page trims a listing read with one row more than the limit and returns
// the cursor of the next page: that of the last row kept, when there was
// one more.
func page[T any](rows []T, limit int, cursor func(T) string) ([]T, string, error) {
	if len(rows) <= limit {
		return rows, "", nil
	}
	rows = rows[:limit]
	return rows, cursor(rows[limit-1]), nil
}

// CreateTenant inserts a tenant and its domains in one transaction; the
// primary keys of tenants and tenant_domains make a taken id or domain
// store.ErrConflict.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	domains := normalizeDomains(t.Domains)
	list, err := encodeList(domains)
	if err != nil {
		return err
	}
	p := t.Policy
	return s.inTx(ctx, "create tenant", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, edition, default_language, domains,
	lockout_threshold, lockout_window_ms, lockout_duration_ms,
	password_max_age_ms, password_warn_before_ms,
	password_min_length, password_max_length, created_at, updated_at, mfa_policy)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			t.ID, t.Name, t.Edition, t.DefaultLanguage, list,
			p.LockoutThreshold, dur(p.LockoutWindow), dur(p.LockoutDuration),
			dur(p.PasswordMaxAge), dur(p.PasswordWarnBefore),
			p.PasswordMinLength, p.PasswordMaxLength, ms(t.CreatedAt), ms(t.UpdatedAt), p.MFA)
		if err != nil {
			return s.wrap("create tenant", err)
		}
		for _, d := range domains {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenant_domains (domain, tenant_id) VALUES ($1, $2)`, d, t.ID); err != nil {
				return s.wrap("create tenant domain", err)
			}
		}
		return nil
	})
}

// tenantTables are the tables whose rows belong to a tenant by their
// tenant_id column, deleted with it. grants comes before the token tables,
// keeping the lock order of the grant code (grant row, then its tokens).
var tenantTables = []string{
	"grants", "auth_codes", "refresh_tokens", "access_tokens", "sso_tickets",
	"state_tokens", "sessions", "users", "user_totp", "recovery_codes",
	"app_keys", "signature_nonces", "applications", "signing_keys", "admin_roles",
}

// DeleteTenant removes a tenant and everything it owns in one transaction.
// tenant_domains goes by its foreign key's cascade.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	if !lookupable(id) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, "delete tenant", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = $1`, id)
		if err := s.one("delete tenant", res, err); err != nil {
			return err
		}
		for _, table := range tenantTables {
			// table is one of the constants above, never input.
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1`, id); err != nil {
				return s.wrap("delete tenant "+table, err)
			}
		}
		if id == store.SystemTenantID {
			// Every principal was a user or application of it.
			if _, err := tx.ExecContext(ctx, `DELETE FROM admin_roles`); err != nil {
				return s.wrap("delete tenant admin roles", err)
			}
		}
		return nil
	})
}

// ListApplicationsPage lists a tenant's applications by client id.
func (s *Store) ListApplicationsPage(ctx context.Context, tenantID string, f store.ListFilter) ([]store.Application, string, error) {
	after, err := decodeCursor(f.Cursor, "applications", 1)
	if err != nil {
		return nil, "", err
	}
	limit := pageSize(f.Limit)
	if !lookupable(tenantID, f.Query) {
		return nil, "", nil
	}
	var q query
	q.where("tenant_id = " + q.arg(tenantID))
	if after != nil {
		q.where("client_id > " + q.arg(after[0]))
	}
	if f.Query != "" {
		p := q.arg(likePattern(f.Query))
		q.where(`(lower(client_id) LIKE ` + p + ` ESCAPE '\' OR lower(name) LIKE ` + p + ` ESCAPE '\')`)
	}
	rows, err := s.r.QueryContext(ctx, q.sql(`SELECT `+applicationColumns+` FROM applications`, "client_id", limit), q.args...)
	out, err := collect(rows, err, scanApplication)
	if err != nil {
		return nil, "", s.wrap("list applications page", err)
	}
	return page(out, limit, func(a store.Application) string { return encodeCursor("applications", a.ClientID) })
}

// CreateApplication inserts an application; the primary key makes a
// taken client id store.ErrConflict.
func (s *Store) CreateApplication(ctx context.Context, a store.Application) error {
	lists, err := encodeApplicationLists(a)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO applications (`+applicationColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		applicationArgs(a, lists)...)
	return s.wrap("create application", err)
}

// UpdateApplication rewrites an application's settings, leaving
// secret_hash and created_at alone.
func (s *Store) UpdateApplication(ctx context.Context, a store.Application) error {
	lists, err := encodeApplicationLists(a)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE applications SET name = $3, redirect_uris = $4, grant_types = $5,
	session_ttl_ms = $6, session_auto_refresh = $7, rotation_grace_ms = $8, device_binding = $9,
	id_token_ttl_ms = $10, id_token_alg = $11, access_token_ttl_ms = $12, tenant_access_token_ttl_ms = $13,
	refresh_token_ttl_ms = $14, access_token_format = $15, post_logout_redirect_uris = $16, updated_at = $17
WHERE tenant_id = $1 AND client_id = $2`,
		a.TenantID, a.ClientID, a.Name, lists.redirects, lists.grants,
		dur(a.SessionTTL), boolInt(a.SessionAutoRefresh), dur(a.RotationGrace), boolInt(a.DeviceBinding),
		dur(a.IDTokenTTL), a.IDTokenAlg, dur(a.AccessTokenTTL), dur(a.TenantAccessTokenTTL),
		dur(a.RefreshTokenTTL), a.AccessTokenFormat, lists.postLogout, ms(a.UpdatedAt))
	return s.one("update application", res, err)
}

// SetApplicationSecret replaces the secret's hash in one statement.
func (s *Store) SetApplicationSecret(ctx context.Context, tenantID, clientID string, secretHash []byte, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE applications SET secret_hash = $3, updated_at = $4
WHERE tenant_id = $1 AND client_id = $2`, tenantID, clientID, nullBytes(secretHash), ms(now))
	return s.one("set application secret", res, err)
}

// revokeGrantsWhere marks revoked, in tx, every live grant of which an
// authorization code, refresh token or access token matches cond (a
// condition on tenant_id = $1 and further arguments), at now ($2). The
// UPDATE takes the grants' row locks before the caller deletes their
// tokens, the order every grant transaction keeps (see oauth.go).
func (s *Store) revokeGrantsWhere(ctx context.Context, tx *sql.Tx, cond string, args ...any) error {
	_, err := tx.ExecContext(ctx, `UPDATE grants SET revoked_at = $2
WHERE tenant_id = $1 AND revoked_at = 0 AND grant_id IN (
	SELECT grant_id FROM auth_codes WHERE tenant_id = $1 AND `+cond+`
	UNION SELECT grant_id FROM refresh_tokens WHERE tenant_id = $1 AND `+cond+`
	UNION SELECT grant_id FROM access_tokens WHERE tenant_id = $1 AND grant_id <> '' AND `+cond+`)`, args...)
	return s.wrap("revoke grants", err)
}

// revokedAt is the stored revocation time: at least 1, since 0 means live.
func revokedAt(now time.Time) int64 { return max(ms(now), 1) }

// DeleteApplication removes an application and what was issued to it.
func (s *Store) DeleteApplication(ctx context.Context, tenantID, clientID string) error {
	if !lookupable(tenantID, clientID) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, "delete application", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM applications WHERE tenant_id = $1 AND client_id = $2`, tenantID, clientID)
		if err := s.one("delete application", res, err); err != nil {
			return err
		}
		if err := s.revokeGrantsWhere(ctx, tx, "client_id = $3", tenantID, revokedAt(time.Now()), clientID); err != nil {
			return err
		}
		for _, table := range []string{"auth_codes", "refresh_tokens", "access_tokens", "app_keys", "signature_nonces"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1 AND client_id = $2`, tenantID, clientID); err != nil {
				return s.wrap("delete application "+table, err)
			}
		}
		if tenantID == store.SystemTenantID {
			_, err := tx.ExecContext(ctx, `DELETE FROM admin_roles WHERE principal_type = $1 AND principal_id = $2`, store.PrincipalApplication, clientID)
			return s.wrap("delete application admin roles", err)
		}
		return nil
	})
}

// ListUsers lists a tenant's users by lower-cased user name, which is
// unique per tenant and so a complete sort key.
func (s *Store) ListUsers(ctx context.Context, tenantID string, f store.UserFilter) ([]store.User, string, error) {
	after, err := decodeCursor(f.Cursor, "users", 1)
	if err != nil {
		return nil, "", err
	}
	limit := pageSize(f.Limit)
	if !lookupable(tenantID, f.Query, f.Status) {
		return nil, "", nil
	}
	var q query
	q.where("tenant_id = " + q.arg(tenantID))
	if after != nil {
		q.where("username_key > " + q.arg(after[0]))
	}
	if f.Status != "" {
		q.where("status = " + q.arg(f.Status))
	}
	if f.Query != "" {
		p := q.arg(likePattern(f.Query))
		q.where(`(username_key LIKE ` + p + ` ESCAPE '\' OR email_key LIKE ` + p + ` ESCAPE '\'
	OR lower(name) LIKE ` + p + ` ESCAPE '\' OR mobile LIKE ` + p + ` ESCAPE '\')`)
	}
	rows, err := s.r.QueryContext(ctx, q.sql(`SELECT `+userColumns+` FROM users`, "username_key", limit), q.args...)
	out, err := collect(rows, err, scanUser)
	if err != nil {
		return nil, "", s.wrap("list users", err)
	}
	return page(out, limit, func(u store.User) string { return encodeCursor("users", key(u.Username)) })
}

// SetUserProfile replaces name, e-mail and mobile only.
func (s *Store) SetUserProfile(ctx context.Context, tenantID, userID string, p store.UserProfile, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET name = $3, email = $4, email_key = $5, mobile = $6, updated_at = $7
WHERE tenant_id = $1 AND id = $2`, tenantID, userID, p.Name, p.Email, key(p.Email), p.Mobile, ms(now))
	return s.one("set user profile", res, err)
}

// SetUserStatus sets the status only.
func (s *Store) SetUserStatus(ctx context.Context, tenantID, userID, status string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET status = $3, updated_at = $4
WHERE tenant_id = $1 AND id = $2`, tenantID, userID, status, ms(now))
	return s.one("set user status", res, err)
}

// UnlockUser clears failures and lock in one statement.
func (s *Store) UnlockUser(ctx context.Context, tenantID, userID string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET failed_logins = 0, failed_window_start = 0, locked_until = 0, updated_at = $3
WHERE tenant_id = $1 AND id = $2`, tenantID, userID, ms(now))
	return s.one("unlock user", res, err)
}

// ListSessions lists unexpired sessions newest first; (created_at, id)
// is the sort key.
func (s *Store) ListSessions(ctx context.Context, tenantID string, f store.SessionFilter) ([]store.Session, string, error) {
	after, err := decodeCursor(f.Cursor, "sessions", 2)
	if err != nil {
		return nil, "", err
	}
	var afterCreated int64
	if after != nil {
		if afterCreated, err = strconv.ParseInt(after[0], 10, 64); err != nil {
			return nil, "", store.ErrInvalidCursor
		}
	}
	limit := pageSize(f.Limit)
	if !lookupable(tenantID, f.UserID, f.ClientID) {
		return nil, "", nil
	}
	var q query
	q.where("tenant_id = " + q.arg(tenantID))
	q.where("expires_at > " + q.arg(ms(f.Now)))
	if f.UserID != "" {
		q.where("user_id = " + q.arg(f.UserID))
	}
	if f.ClientID != "" {
		q.where("client_id = " + q.arg(f.ClientID))
	}
	if after != nil {
		// Row-value comparison (SQLite 3.15+, PostgreSQL): strictly
		// after the last row in descending order.
		q.where("(created_at, id) < (CAST(" + q.arg(afterCreated) + " AS BIGINT), " + q.arg(after[1]) + ")")
	}
	rows, err := s.r.QueryContext(ctx, q.sql(`SELECT `+sessionColumns+` FROM sessions`, "created_at DESC, id DESC", limit), q.args...)
	out, err := collect(rows, err, scanSession)
	if err != nil {
		return nil, "", s.wrap("list sessions", err)
	}
	return page(out, limit, func(se store.Session) string {
		return encodeCursor("sessions", strconv.FormatInt(ms(se.CreatedAt), 10), se.ID)
	})
}

// RevokeSession ends a session and what was issued in it, in one
// transaction.
func (s *Store) RevokeSession(ctx context.Context, tenantID, sessionID string, now time.Time) error {
	if !lookupable(tenantID, sessionID) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, "revoke session", func(tx *sql.Tx) error {
		var userID string
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM sessions WHERE tenant_id = $1 AND id = $2`, tenantID, sessionID).Scan(&userID)
		if err != nil {
			return s.wrap("revoke session", err)
		}
		// user_id leads the token tables' index; session_id narrows it.
		const issuedIn = "user_id = $3 AND session_id = $4"
		if err := s.revokeGrantsWhere(ctx, tx, issuedIn, tenantID, revokedAt(now), userID, sessionID); err != nil {
			return err
		}
		for _, table := range []string{"auth_codes", "refresh_tokens", "access_tokens"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1 AND user_id = $2 AND session_id = $3`, tenantID, userID, sessionID); err != nil {
				return s.wrap("revoke session "+table, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sso_tickets WHERE tenant_id = $1 AND session_id = $2`, tenantID, sessionID); err != nil {
			return s.wrap("revoke session tickets", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND id = $2`, tenantID, sessionID)
		return s.one("revoke session", res, err)
	})
}

// RevokeUserSessions ends every session of a user and revokes the user's
// OAuth grants and tokens, in one transaction.
func (s *Store) RevokeUserSessions(ctx context.Context, tenantID, userID string, now time.Time) (int64, error) {
	if !lookupable(tenantID, userID) {
		return 0, nil
	}
	var n int64
	err := s.inTx(ctx, "revoke user sessions", func(tx *sql.Tx) error {
		if err := s.revokeGrantsWhere(ctx, tx, "user_id = $3", tenantID, revokedAt(now), userID); err != nil {
			return err
		}
		for _, table := range []string{"auth_codes", "refresh_tokens", "access_tokens", "sso_tickets"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID); err != nil {
				return s.wrap("revoke user sessions "+table, err)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
		if err != nil {
			return s.wrap("revoke user sessions", err)
		}
		n, err = res.RowsAffected()
		return s.wrap("revoke user sessions", err)
	})
	return n, err
}

const adminRoleColumns = `principal_type, principal_id, tenant_id, created_at`

func scanAdminRole(sc scanner) (store.AdminRole, error) {
	var r store.AdminRole
	var created int64
	if err := sc.Scan(&r.PrincipalType, &r.PrincipalID, &r.TenantID, &created); err != nil {
		return store.AdminRole{}, err
	}
	r.CreatedAt = fromMS(created)
	return r, nil
}

func (s *Store) adminRoles(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, principalType, principalID string) ([]store.AdminRole, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+adminRoleColumns+` FROM admin_roles
WHERE principal_type = $1 AND principal_id = $2 ORDER BY tenant_id`, principalType, principalID)
	out, err := collect(rows, err, scanAdminRole)
	if err != nil {
		return nil, s.wrap("admin roles", err)
	}
	return out, nil
}

// AdminRoles returns one principal's roles by tenant ("" first).
func (s *Store) AdminRoles(ctx context.Context, principalType, principalID string) ([]store.AdminRole, error) {
	if !lookupable(principalType, principalID) {
		return nil, nil
	}
	return s.adminRoles(ctx, s.r, principalType, principalID)
}

// ListAdminRoles lists every role by (principal type, principal id,
// tenant).
func (s *Store) ListAdminRoles(ctx context.Context, f store.ListFilter) ([]store.AdminRole, string, error) {
	after, err := decodeCursor(f.Cursor, "admin_roles", 3)
	if err != nil {
		return nil, "", err
	}
	limit := pageSize(f.Limit)
	if !lookupable(f.Query) {
		return nil, "", nil
	}
	var q query
	if after != nil {
		q.where("(principal_type, principal_id, tenant_id) > (" + q.arg(after[0]) + ", " + q.arg(after[1]) + ", " + q.arg(after[2]) + ")")
	}
	if f.Query != "" {
		q.where(`lower(principal_id) LIKE ` + q.arg(likePattern(f.Query)) + ` ESCAPE '\'`)
	}
	rows, err := s.r.QueryContext(ctx, q.sql(`SELECT `+adminRoleColumns+` FROM admin_roles`, "principal_type, principal_id, tenant_id", limit), q.args...)
	out, err := collect(rows, err, scanAdminRole)
	if err != nil {
		return nil, "", s.wrap("list admin roles", err)
	}
	return page(out, limit, func(r store.AdminRole) string {
		return encodeCursor("admin_roles", r.PrincipalType, r.PrincipalID, r.TenantID)
	})
}

// SetAdminRoles replaces a principal's roles. Unchanged roles keep their
// creation time.
//
// The last system administrator cannot be removed. On PostgreSQL the
// transaction first locks every system-administrator row (FOR UPDATE):
// two transactions removing two different administrators then run one
// after the other, and the second, re-reading the locked rows after the
// first commits, counts what the first left. SQLite runs write
// transactions one at a time anyway.
func (s *Store) SetAdminRoles(ctx context.Context, principalType, principalID string, roles []store.AdminRole) error {
	return s.inTx(ctx, "set admin roles", func(tx *sql.Tx) error {
		lock := ""
		if s.dialect.name == DriverPostgres {
			lock = " FOR UPDATE"
		}
		countSystem := func() (int, error) {
			// One order for every transaction, so that two of them never
			// wait for each other's rows crosswise.
			rows, err := tx.QueryContext(ctx, `SELECT principal_id FROM admin_roles WHERE tenant_id = ''
ORDER BY principal_type, principal_id`+lock)
			if err != nil {
				return 0, s.wrap("set admin roles", err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				n++
			}
			return n, s.wrap("set admin roles", rows.Err())
		}
		before, err := countSystem()
		if err != nil {
			return err
		}
		current, err := s.adminRoles(ctx, tx, principalType, principalID)
		if err != nil {
			return err
		}
		want := map[string]store.AdminRole{}
		for _, r := range roles {
			want[r.TenantID] = r
		}
		for _, r := range current {
			if _, keep := want[r.TenantID]; keep {
				delete(want, r.TenantID)
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM admin_roles WHERE principal_type = $1 AND principal_id = $2 AND tenant_id = $3`,
				principalType, principalID, r.TenantID); err != nil {
				return s.wrap("set admin roles", err)
			}
		}
		for _, r := range want {
			if _, err := tx.ExecContext(ctx, `INSERT INTO admin_roles (`+adminRoleColumns+`) VALUES ($1, $2, $3, $4)`,
				principalType, principalID, r.TenantID, ms(r.CreatedAt)); err != nil {
				return s.wrap("set admin roles", err)
			}
		}
		after, err := countSystem()
		if err != nil {
			return err
		}
		if before > 0 && after == 0 {
			return store.ErrConflict
		}
		return nil
	})
}

// GrantAdminRole adds a role unless the principal holds it already.
func (s *Store) GrantAdminRole(ctx context.Context, r store.AdminRole) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO admin_roles (`+adminRoleColumns+`) VALUES ($1, $2, $3, $4)
ON CONFLICT (principal_type, principal_id, tenant_id) DO NOTHING`, r.PrincipalType, r.PrincipalID, r.TenantID, ms(r.CreatedAt))
	return s.wrap("grant admin role", err)
}
