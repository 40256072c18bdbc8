package sqlstore

import (
	"context"

	"github.com/sesame-idp/sesame/internal/store"
)

const applicationColumns = `tenant_id, client_id, name, secret_hash, redirect_uris, grant_types,
	session_ttl_ms, session_auto_refresh, rotation_grace_ms, device_binding,
	id_token_ttl_ms, id_token_alg, access_token_ttl_ms, tenant_access_token_ttl_ms,
	refresh_token_ttl_ms, access_token_format, post_logout_redirect_uris,
	created_at, updated_at`

func scanApplication(sc scanner) (store.Application, error) {
	var (
		a                                 store.Application
		redirects, grants, postLogout     string
		sessionTTL, grace                 int64
		autoRefresh, binding              int64
		idTTL, accessTTL, tenantTTL, rTTL int64
		createdAt, updatedAt              int64
	)
	err := sc.Scan(&a.TenantID, &a.ClientID, &a.Name, &a.SecretHash, &redirects, &grants,
		&sessionTTL, &autoRefresh, &grace, &binding,
		&idTTL, &a.IDTokenAlg, &accessTTL, &tenantTTL, &rTTL, &a.AccessTokenFormat, &postLogout,
		&createdAt, &updatedAt)
	if err != nil {
		return store.Application{}, err
	}
	if a.RedirectURIs, err = decodeList(redirects); err != nil {
		return store.Application{}, err
	}
	if a.GrantTypes, err = decodeList(grants); err != nil {
		return store.Application{}, err
	}
	if a.PostLogoutRedirectURIs, err = decodeList(postLogout); err != nil {
		return store.Application{}, err
	}
	a.SessionTTL = fromDur(sessionTTL)
	a.SessionAutoRefresh = autoRefresh != 0
	a.RotationGrace = fromDur(grace)
	a.DeviceBinding = binding != 0
	a.IDTokenTTL = fromDur(idTTL)
	a.AccessTokenTTL = fromDur(accessTTL)
	a.TenantAccessTokenTTL = fromDur(tenantTTL)
	a.RefreshTokenTTL = fromDur(rTTL)
	a.CreatedAt = fromMS(createdAt)
	a.UpdatedAt = fromMS(updatedAt)
	return a, nil
}

// applicationLists are an application's list settings as stored (JSON).
type applicationLists struct{ redirects, grants, postLogout string }

func encodeApplicationLists(a store.Application) (applicationLists, error) {
	var l applicationLists
	var err error
	if l.redirects, err = encodeList(a.RedirectURIs); err != nil {
		return l, err
	}
	if l.grants, err = encodeList(a.GrantTypes); err != nil {
		return l, err
	}
	l.postLogout, err = encodeList(a.PostLogoutRedirectURIs)
	return l, err
}

// applicationArgs are the values of applicationColumns, in order.
func applicationArgs(a store.Application, l applicationLists) []any {
	return []any{a.TenantID, a.ClientID, a.Name, nullBytes(a.SecretHash), l.redirects, l.grants,
		dur(a.SessionTTL), boolInt(a.SessionAutoRefresh), dur(a.RotationGrace), boolInt(a.DeviceBinding),
		dur(a.IDTokenTTL), a.IDTokenAlg, dur(a.AccessTokenTTL), dur(a.TenantAccessTokenTTL),
		dur(a.RefreshTokenTTL), a.AccessTokenFormat, l.postLogout, ms(a.CreatedAt), ms(a.UpdatedAt)}
}

// UpsertApplication creates or replaces an application.
func (s *Store) UpsertApplication(ctx context.Context, a store.Application) error {
	lists, err := encodeApplicationLists(a)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO applications (`+applicationColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (tenant_id, client_id) DO UPDATE SET
	name = excluded.name, secret_hash = excluded.secret_hash,
	redirect_uris = excluded.redirect_uris, grant_types = excluded.grant_types,
	session_ttl_ms = excluded.session_ttl_ms,
	session_auto_refresh = excluded.session_auto_refresh,
	rotation_grace_ms = excluded.rotation_grace_ms,
	device_binding = excluded.device_binding,
	id_token_ttl_ms = excluded.id_token_ttl_ms, id_token_alg = excluded.id_token_alg,
	access_token_ttl_ms = excluded.access_token_ttl_ms,
	tenant_access_token_ttl_ms = excluded.tenant_access_token_ttl_ms,
	refresh_token_ttl_ms = excluded.refresh_token_ttl_ms,
	access_token_format = excluded.access_token_format,
	post_logout_redirect_uris = excluded.post_logout_redirect_uris,
	created_at = excluded.created_at, updated_at = excluded.updated_at`,
		applicationArgs(a, lists)...)
	return s.wrap("upsert application", err)
}

// GetApplication returns one application of a tenant.
func (s *Store) GetApplication(ctx context.Context, tenantID, clientID string) (store.Application, error) {
	if !lookupable(tenantID, clientID) {
		return store.Application{}, store.ErrNotFound
	}
	a, err := scanApplication(s.r.QueryRowContext(ctx, `SELECT `+applicationColumns+`
FROM applications WHERE tenant_id = $1 AND client_id = $2`, tenantID, clientID))
	return a, s.wrap("get application", err)
}

// ListApplications returns a tenant's applications ordered by client id.
func (s *Store) ListApplications(ctx context.Context, tenantID string) ([]store.Application, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+applicationColumns+`
FROM applications WHERE tenant_id = $1 ORDER BY client_id`, tenantID)
	out, err := collect(rows, err, scanApplication)
	if err != nil {
		return nil, s.wrap("list applications", err)
	}
	return out, nil
}
