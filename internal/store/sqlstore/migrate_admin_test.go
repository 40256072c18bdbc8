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

// TestMigration00007 checks, on each backend, that 00007 (admin roles and
// the admin listings' indexes) migrates down and up again, that sessions
// from before it are listed, and that down drops the roles.
func TestMigration00007(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := t.Context()
			now := time.Now().Truncate(time.Millisecond)
			if err := s.GrantAdminRole(ctx, store.AdminRole{PrincipalType: store.PrincipalUser, PrincipalID: "root", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := sqlstore.MigrateTo(ctx, s, 6); err != nil {
				t.Fatalf("migrate down to 6: %v", err)
			}
			if _, err := s.AdminRoles(ctx, store.PrincipalUser, "root"); err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("AdminRoles below 00007: %v, want a storage error (no table)", err)
			}
			// A session of the 00006 schema.
			se := store.Session{ID: "s1", TenantID: "t1", UserID: "u1", ClientID: "web", TokenHash: []byte("h"),
				AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateSession(ctx, se); err != nil {
				t.Fatal(err)
			}
			if err := sqlstore.MigrateTo(ctx, s, math.MaxInt64); err != nil {
				t.Fatalf("migrate all the way up: %v", err)
			}
			got, _, err := s.ListSessions(ctx, "t1", store.SessionFilter{UserID: "u1", Now: now})
			if err != nil || len(got) != 1 || got[0].ID != "s1" {
				t.Errorf("ListSessions of a session from before 00007: %v, %v", got, err)
			}
			if roles, err := s.AdminRoles(ctx, store.PrincipalUser, "root"); err != nil || len(roles) != 0 {
				t.Errorf("roles after down and up: %v, %v; want none", roles, err)
			}
			if err := s.GrantAdminRole(ctx, store.AdminRole{PrincipalType: store.PrincipalUser, PrincipalID: "root", CreatedAt: now}); err != nil {
				t.Errorf("GrantAdminRole after down and up: %v", err)
			}
		})
	}
}
