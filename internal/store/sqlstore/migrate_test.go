package sqlstore_test

import (
	"errors"
	"math"
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
			// The new tables work after the round trip. The store's
			// code needs the later migrations too (00003: grants).
			if err := sqlstore.MigrateTo(ctx, s, math.MaxInt64); err != nil {
				t.Fatalf("migrate all the way up: %v", err)
			}
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

// TestMigration00003 checks, on each backend, that 00003 gives every grant
// that has records at the time a live row (created_at: its latest record),
// so that existing codes can still be exchanged and existing refresh
// families rotated, and that it migrates down and up again.
func TestMigration00003(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := t.Context()
			if err := sqlstore.MigrateTo(ctx, s, 2); err != nil {
				t.Fatalf("migrate down to 2: %v", err)
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if err := sqlstore.ExecRaw(ctx, s, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			now := time.Now()
			later := now.Add(time.Hour).UnixMilli()
			// Rows of the 00002 schema. t1/gA: an unused code and an
			// access token (the latest record, created at 20). t1/gB: a
			// rotated refresh family. t1/gC: an access token only. t2/gA:
			// a grant of another tenant with the same id. And records
			// without a grant, which get no row.
			code := func(tenant, hash, grant string, created int64) {
				exec(`INSERT INTO auth_codes (code_hash, tenant_id, client_id, user_id, session_id, grant_id,
	redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, used_at)
VALUES ($1, $2, 'web', 'u1', 's1', $3, 'https://a.test/cb', 'openid', '', '', 1, $4, $5, 0)`,
					[]byte(hash), tenant, grant, created, later)
			}
			refresh := func(hash, grant string, created, used int64) {
				exec(`INSERT INTO refresh_tokens (token_hash, tenant_id, client_id, user_id, session_id, grant_id,
	scope, auth_time, created_at, expires_at, used_at)
VALUES ($1, 't1', 'web', 'u1', 's1', $2, 'openid', 1, $3, $4, $5)`, []byte(hash), grant, created, later, used)
			}
			access := func(hash, grant string, created int64) {
				exec(`INSERT INTO access_tokens (token_hash, tenant_id, client_id, user_id, scope,
	grant_id, session_id, auth_time, created_at, expires_at)
VALUES ($1, 't1', 'web', 'u1', 'openid', $2, 's1', 1, $3, $4)`, []byte(hash), grant, created, later)
			}
			code("t1", "code-a", "gA", 10)
			access("at-a", "gA", 20)
			refresh("rt-b1", "gB", 5, 6)
			refresh("rt-b2", "gB", 6, 0)
			access("at-c", "gC", 7)
			code("t2", "code-t2", "gA", 3)
			code("t1", "code-none", "", 30)
			access("at-cc", "", 30)
			if err := sqlstore.MigrateTo(ctx, s, 3); err != nil {
				t.Fatalf("migrate up to 3: %v", err)
			}

			count := func(q string, args ...any) int64 {
				t.Helper()
				n, err := sqlstore.QueryInt(ctx, s, q, args...)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			}
			if n := count(`SELECT COUNT(*) FROM grants`); n != 4 {
				t.Errorf("%d grants after 00003, want 4", n)
			}
			if n := count(`SELECT COUNT(*) FROM grants WHERE revoked_at <> 0`); n != 0 {
				t.Errorf("%d grants revoked by 00003, want 0", n)
			}
			for _, tc := range []struct {
				tenant, grant string
				created       int64
			}{{"t1", "gA", 20}, {"t1", "gB", 6}, {"t1", "gC", 7}, {"t2", "gA", 3}} {
				got := count(`SELECT created_at FROM grants WHERE tenant_id = $1 AND grant_id = $2`, tc.tenant, tc.grant)
				if got != tc.created {
					t.Errorf("grant %s/%s: created_at %d, want %d", tc.tenant, tc.grant, got, tc.created)
				}
			}

			// The grants work: the code is exchanged, the family
			// rotated, and a revocation is final.
			if _, err := s.RedeemAuthCode(ctx, "t1", []byte("code-a"), now); err != nil {
				t.Fatalf("RedeemAuthCode: %v", err)
			}
			at := func(hash, grant string) store.AccessToken {
				return store.AccessToken{TokenHash: []byte(hash), TenantID: "t1", ClientID: "web", GrantID: grant,
					CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			}
			if err := s.CreateAccessToken(ctx, at("at-a2", "gA")); err != nil {
				t.Errorf("CreateAccessToken(gA): %v", err)
			}
			if _, err := s.RotateRefreshToken(ctx, "t1", []byte("rt-b2"), []byte("rt-b3"), now, now.Add(time.Hour)); err != nil {
				t.Errorf("RotateRefreshToken(gB): %v", err)
			}
			rt := store.RefreshToken{TokenHash: []byte("rt-c"), TenantID: "t1", GrantID: "gC", ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateRefreshToken(ctx, rt); err != nil {
				t.Errorf("CreateRefreshToken(gC): %v", err)
			}
			if n, err := s.RevokeGrant(ctx, "t1", "gB"); err != nil || n != 3 {
				t.Errorf("RevokeGrant(gB) = (%d, %v), want (3, nil)", n, err)
			}
			if err := s.CreateAccessToken(ctx, at("at-b", "gB")); !errors.Is(err, store.ErrRevoked) {
				t.Errorf("CreateAccessToken(revoked gB): got %v, want ErrRevoked", err)
			}

			// Down and up again: the table is rebuilt from the records.
			// gB has none left, so it stays refused.
			if err := sqlstore.MigrateTo(ctx, s, 2); err != nil {
				t.Fatalf("migrate down to 2: %v", err)
			}
			if err := sqlstore.MigrateTo(ctx, s, 3); err != nil {
				t.Fatalf("migrate up to 3 again: %v", err)
			}
			if n := count(`SELECT COUNT(*) FROM grants`); n != 3 {
				t.Errorf("%d grants after the round trip, want 3 (t1/gA, t1/gC, t2/gA)", n)
			}
			if err := s.CreateAccessToken(ctx, at("at-b2", "gB")); !errors.Is(err, store.ErrRevoked) {
				t.Errorf("CreateAccessToken(gB after the round trip): got %v, want ErrRevoked", err)
			}
			if err := s.CreateAccessToken(ctx, at("at-c2", "gC")); err != nil {
				t.Errorf("CreateAccessToken(gC after the round trip): %v", err)
			}
		})
	}
}
