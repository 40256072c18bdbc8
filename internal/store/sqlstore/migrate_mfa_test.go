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

// TestMigration00005 checks, on each backend, that 00005 (MFA) migrates
// down and up again, that tenants from before it read with the policy
// "off", and that state tokens from before it start with no attempts
// counted.
func TestMigration00005(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := t.Context()
			if err := sqlstore.MigrateTo(ctx, s, 4); err != nil {
				t.Fatalf("migrate down to 4: %v", err)
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if err := sqlstore.ExecRaw(ctx, s, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(`INSERT INTO tenants (id, name, edition, default_language, domains,
	lockout_threshold, lockout_window_ms, lockout_duration_ms, password_max_age_ms,
	password_warn_before_ms, password_min_length, password_max_length, created_at, updated_at)
VALUES ('t1', 'T1', 'eiam', 'en', '["t1.test"]', 5, 0, 0, 0, 0, 8, 64, 1, 2)`)
			exec(`INSERT INTO tenant_domains (domain, tenant_id) VALUES ('t1.test', 't1')`)
			exp := time.Now().Add(time.Hour).UnixMilli()
			exec(`INSERT INTO state_tokens (token_hash, tenant_id, user_id, client_id,
	device_fingerprint, purpose, created_at, expires_at)
VALUES ($1, 't1', 'u1', 'web', 'fp', 'MFA_REQUIRED', 1, $2)`, []byte("st"), exp)
			if err := sqlstore.MigrateTo(ctx, s, math.MaxInt64); err != nil {
				t.Fatalf("migrate all the way up: %v", err)
			}
			tn, err := s.GetTenant(ctx, "t1")
			if err != nil || tn.Policy.MFA != store.MFAOff {
				t.Errorf("tenant from before 00005: policy %q, %v; want off", tn.Policy.MFA, err)
			}
			c, err := s.AttemptMFAChallenge(ctx, "t1", []byte("st"), "MFA_REQUIRED", time.Now(), 5)
			if err != nil || c.Attempts != 1 || c.PendingSecret != nil {
				t.Errorf("state token from before 00005: %+v %v; want attempt 1, no secret", c, err)
			}
			e := store.TOTPEnrollment{TenantID: "t1", UserID: "u1", Secret: []byte("s"), LastStep: 1}
			if err := s.ConfirmTOTP(ctx, e, [][]byte{[]byte("r")}); err != nil {
				t.Fatalf("ConfirmTOTP: %v", err)
			}

			// Down removes the tables and columns, up brings them back
			// empty.
			if err := sqlstore.MigrateTo(ctx, s, 4); err != nil {
				t.Fatalf("migrate down to 4 again: %v", err)
			}
			if _, err := sqlstore.QueryInt(ctx, s, `SELECT COUNT(*) FROM user_totp`); err == nil {
				t.Error("user_totp survived the down migration")
			}
			if err := sqlstore.MigrateTo(ctx, s, math.MaxInt64); err != nil {
				t.Fatalf("migrate up again: %v", err)
			}
			if _, err := s.GetTOTP(ctx, "t1", "u1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetTOTP after down and up: %v, want ErrNotFound", err)
			}
		})
	}
}
