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

// TestMigration00008 checks, on each backend, that 00008 (pending refresh
// tokens) migrates down and up again, and that refresh tokens from before
// it are not pending: reuse of their parents stays reuse.
func TestMigration00008(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := t.Context()
			if err := sqlstore.MigrateTo(ctx, s, 7); err != nil {
				t.Fatalf("migrate down to 7: %v", err)
			}
			exp := time.Now().Add(time.Hour).UnixMilli()
			if err := sqlstore.ExecRaw(ctx, s, `INSERT INTO refresh_tokens (token_hash, tenant_id, client_id,
	user_id, session_id, grant_id, scope, auth_time, created_at, expires_at, used_at)
VALUES ($1, 't1', 'web', 'u1', 's1', 'g1', 'openid', 1, 1, $2, 0)`, []byte("rt-old"), exp); err != nil {
				t.Fatal(err)
			}
			if err := sqlstore.MigrateTo(ctx, s, math.MaxInt64); err != nil {
				t.Fatalf("migrate all the way up: %v", err)
			}
			if _, err := s.PendingRefreshToken(ctx, "t1", "g1", []byte("rt-old"), time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("refresh token from before 00008: PendingRefreshToken = %v, want ErrNotFound", err)
			}
			if rt, err := s.RefreshTokenByHash(ctx, "t1", []byte("rt-old"), time.Now()); err != nil || rt.GrantID != "g1" {
				t.Errorf("refresh token from before 00008: %+v %v", rt, err)
			}
			if err := sqlstore.MigrateTo(ctx, s, 7); err != nil {
				t.Fatalf("migrate down to 7 again: %v", err)
			}
			if _, err := sqlstore.QueryInt(ctx, s, `SELECT COUNT(*) FROM refresh_tokens WHERE pending = 0`); err == nil {
				t.Error("refresh_tokens.pending survived the down migration")
			}
			if err := sqlstore.MigrateTo(ctx, s, math.MaxInt64); err != nil {
				t.Fatalf("migrate up again: %v", err)
			}
			if n, err := sqlstore.QueryInt(ctx, s, `SELECT COUNT(*) FROM refresh_tokens WHERE pending = 0`); err != nil || n != 1 {
				t.Errorf("after down and up: %d tokens not pending, %v; want 1", n, err)
			}
		})
	}
}
