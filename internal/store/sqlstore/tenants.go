package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sesame-idp/sesame/internal/store"
)

const tenantColumns = `t.id, t.name, t.edition, t.default_language, t.domains,
	t.lockout_threshold, t.lockout_window_ms, t.lockout_duration_ms,
	t.password_max_age_ms, t.password_warn_before_ms,
	t.password_min_length, t.password_max_length, t.created_at, t.updated_at,
	t.mfa_policy`

func scanTenant(sc scanner) (store.Tenant, error) {
	var (
		t                    store.Tenant
		domains              string
		window, lockDur      int64
		maxAge, warn         int64
		createdAt, updatedAt int64
	)
	err := sc.Scan(&t.ID, &t.Name, &t.Edition, &t.DefaultLanguage, &domains,
		&t.Policy.LockoutThreshold, &window, &lockDur, &maxAge, &warn,
		&t.Policy.PasswordMinLength, &t.Policy.PasswordMaxLength, &createdAt, &updatedAt,
		&t.Policy.MFA)
	if err != nil {
		return store.Tenant{}, err
	}
	if t.Domains, err = decodeList(domains); err != nil {
		return store.Tenant{}, err
	}
	t.Policy.LockoutWindow = fromDur(window)
	t.Policy.LockoutDuration = fromDur(lockDur)
	t.Policy.PasswordMaxAge = fromDur(maxAge)
	t.Policy.PasswordWarnBefore = fromDur(warn)
	t.CreatedAt = fromMS(createdAt)
	t.UpdatedAt = fromMS(updatedAt)
	return t, nil
}

// normalizeDomains lower-cases the domains and drops empty entries and
// duplicates, keeping the first occurrence's position.
func normalizeDomains(in []string) []string {
	var out []string
	for _, d := range in {
		d = strings.ToLower(strings.TrimSpace(d))
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// UpsertTenant creates or replaces a tenant and, in the same transaction,
// its rows in tenant_domains. Domains are stored lower case; a domain that
// another tenant owns violates tenant_domains' primary key, which is
// reported as store.ErrConflict and rolls the whole change back.
func (s *Store) UpsertTenant(ctx context.Context, t store.Tenant) error {
	domains := normalizeDomains(t.Domains)
	list, err := encodeList(domains)
	if err != nil {
		return err
	}
	p := t.Policy
	return s.inTx(ctx, "upsert tenant", func(tx *sql.Tx) error {
		// ON CONFLICT ... DO UPDATE rather than a delete and insert (or
		// SQLite's INSERT OR REPLACE), which would cascade to the domains.
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, edition, default_language, domains,
	lockout_threshold, lockout_window_ms, lockout_duration_ms,
	password_max_age_ms, password_warn_before_ms,
	password_min_length, password_max_length, created_at, updated_at, mfa_policy)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (id) DO UPDATE SET
	name = excluded.name, edition = excluded.edition,
	default_language = excluded.default_language, domains = excluded.domains,
	lockout_threshold = excluded.lockout_threshold,
	lockout_window_ms = excluded.lockout_window_ms,
	lockout_duration_ms = excluded.lockout_duration_ms,
	password_max_age_ms = excluded.password_max_age_ms,
	password_warn_before_ms = excluded.password_warn_before_ms,
	password_min_length = excluded.password_min_length,
	password_max_length = excluded.password_max_length,
	created_at = excluded.created_at, updated_at = excluded.updated_at,
	mfa_policy = excluded.mfa_policy`,
			t.ID, t.Name, t.Edition, t.DefaultLanguage, list,
			p.LockoutThreshold, dur(p.LockoutWindow), dur(p.LockoutDuration),
			dur(p.PasswordMaxAge), dur(p.PasswordWarnBefore),
			p.PasswordMinLength, p.PasswordMaxLength, ms(t.CreatedAt), ms(t.UpdatedAt), p.MFA)
		if err != nil {
			return s.wrap("upsert tenant", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tenant_domains WHERE tenant_id = $1`, t.ID); err != nil {
			return s.wrap("upsert tenant", err)
		}
		for _, d := range domains {
			_, err := tx.ExecContext(ctx, `INSERT INTO tenant_domains (domain, tenant_id) VALUES ($1, $2)`, d, t.ID)
			if err != nil {
				return s.wrap("upsert tenant domain", err)
			}
		}
		return nil
	})
}

// GetTenant returns the tenant with this id.
func (s *Store) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	if !lookupable(id) {
		return store.Tenant{}, store.ErrNotFound
	}
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants t WHERE t.id = $1`, id))
	return t, s.wrap("get tenant", err)
}

// TenantByDomain returns the tenant owning the host name, compared in lower
// case.
func (s *Store) TenantByDomain(ctx context.Context, domain string) (store.Tenant, error) {
	if !lookupable(domain) {
		return store.Tenant{}, store.ErrNotFound
	}
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT `+tenantColumns+`
FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id
WHERE d.domain = $1`, strings.ToLower(strings.TrimSpace(domain))))
	return t, s.wrap("tenant by domain", err)
}

// ListTenants returns all tenants ordered by id.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants t ORDER BY t.id`)
	out, err := collect(rows, err, scanTenant)
	if err != nil {
		return nil, s.wrap("list tenants", err)
	}
	return out, nil
}

// encodeList stores a string list as JSON text; an empty list is "[]".
func encodeList(l []string) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode list: %w", err)
	}
	return string(b), nil
}

// decodeList is the inverse of encodeList; an empty list comes back nil.
func decodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}
