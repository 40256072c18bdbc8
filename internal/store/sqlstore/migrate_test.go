package sqlstore_test

import (
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestMigration00002 checks, on each backend, that 00002 migrates down and
// up again, and that rows written before it come back with the zero values
// of the fields it adds.
func TestMigration00002(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := t.Context()
			if err := sqlstore.MigrateTo(ctx, s, 1); err != nil {
				t.Fatalf("migrate down to 1: %v", err)
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if err := sqlstore.ExecRaw(ctx, s, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			// Rows of the 00001 schema.
			exec(`INSERT INTO applications (tenant_id, client_id, name, secret_hash,
	redirect_uris, grant_types, session_ttl_ms, session_auto_refresh, rotation_grace_ms,
	device_binding, id_token_ttl_ms, id_token_alg, access_token_ttl_ms,
	tenant_access_token_ttl_ms, refresh_token_ttl_ms, created_at, updated_at)
VALUES ('t1', 'web', 'Web', NULL, '["https://a.test/cb"]', '[]', 0, 0, 0, 0, 0, 'RS256', 0, 0, 0, 1, 2)`)
			exec(`INSERT INTO access_tokens (token_hash, tenant_id, client_id, user_id, scope,
	created_at, expires_at) VALUES ($1, 't1', 'web', 'u1', 'openid', 1, $2)`,
				[]byte("at"), time.Now().Add(time.Hour).UnixMilli())
			if err := sqlstore.MigrateTo(ctx, s, 2); err != nil {
				t.Fatalf("migrate up to 2: %v", err)
			}

			a, err := s.GetApplication(ctx, "t1", "web")
			if err != nil {
				t.Fatalf("GetApplication: %v", err)
			}
			if a.AccessTokenFormat != "" || a.PostLogoutRedirectURIs != nil || len(a.RedirectURIs) != 1 {
				t.Errorf("application from before 00002: format %q, post-logout %q, redirects %q",
					a.AccessTokenFormat, a.PostLogoutRedirectURIs, a.RedirectURIs)
			}
			at, err := s.AccessTokenByHash(ctx, "t1", []byte("at"), time.Now())
			if err != nil {
				t.Fatalf("AccessTokenByHash: %v", err)
			}
			if at.GrantID != "" || at.SessionID != "" || !at.AuthTime.IsZero() || at.Scope != "openid" {
				t.Errorf("access token from before 00002: %+v", at)
			}
			// The new tables work after the round trip.
			c := store.AuthCode{CodeHash: []byte("c"), TenantID: "t1", GrantID: "g", ExpiresAt: time.Now().Add(time.Minute)}
			if err := s.CreateAuthCode(ctx, c); err != nil {
				t.Fatalf("CreateAuthCode: %v", err)
			}
			if got, err := s.RedeemAuthCode(ctx, "t1", []byte("c"), time.Now()); err != nil || got.GrantID != "g" {
				t.Errorf("RedeemAuthCode = (%q, %v), want (g, nil)", got.GrantID, err)
			}
			rt := store.RefreshToken{TokenHash: []byte("r"), TenantID: "t1", GrantID: "g", ExpiresAt: time.Now().Add(time.Hour)}
			if err := s.CreateRefreshToken(ctx, rt); err != nil {
				t.Fatalf("CreateRefreshToken: %v", err)
			}
		})
	}
}
