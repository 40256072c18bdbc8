package sqlstore_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestMigration00006 checks, on each backend, that 00006 (audit log)
// migrates down and up again: down removes the table, up brings it back
// empty and usable.
func TestMigration00006(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := t.Context()
			e := store.AuditEvent{TenantID: "t1", Type: "login.success", Time: time.Now()}
			if err := s.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
			if err := sqlstore.MigrateTo(ctx, s, 5); err != nil {
				t.Fatalf("migrate down to 5: %v", err)
			}
			if err := s.AppendAudit(ctx, e); err == nil {
				t.Fatal("AppendAudit works without the table")
			}
			if err := sqlstore.MigrateTo(ctx, s, math.MaxInt64); err != nil {
				t.Fatalf("migrate all the way up: %v", err)
			}
			if got, _, err := s.ListAudit(ctx, store.AuditFilter{}); err != nil || len(got) != 0 {
				t.Fatalf("after down and up: %v %v", got, err)
			}
			if err := s.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAuditQueryPlans pins, on SQLite, that every filter of ListAudit and
// the prune read an index range in the listing's order: no table scan and
// no sort of the matching rows (which would read a whole tenant's log for
// one page). Several tenants at once may sort: they are read by index,
// then merged.
func TestAuditQueryPlans(t *testing.T) {
	s := sqltest.SQLite(t)
	ctx := context.Background()
	cursor := func() string {
		// A real cursor: two events, a page of one.
		for range 2 {
			if err := s.AppendAudit(ctx, store.AuditEvent{TenantID: "t1", Type: "x", Time: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		_, next, err := s.ListAudit(ctx, store.AuditFilter{Limit: 1})
		if err != nil || next == "" {
			t.Fatalf("cursor: %q %v", next, err)
		}
		return next
	}()
	since := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		name  string
		f     store.AuditFilter
		index string
		sorts bool
	}{
		{"everything", store.AuditFilter{}, "audit_events_time", false},
		{"window", store.AuditFilter{Since: since, Until: time.Now()}, "audit_events_time", false},
		{"page 2", store.AuditFilter{Cursor: cursor}, "audit_events_time", false},
		{"tenant", store.AuditFilter{TenantIDs: []string{"t1"}}, "audit_events_tenant_time", false},
		{"tenant page 2", store.AuditFilter{TenantIDs: []string{"t1"}, Cursor: cursor, Since: since}, "audit_events_tenant_time", false},
		{"tenant and type", store.AuditFilter{TenantIDs: []string{"t1"}, Type: "login.failure"}, "audit_events_tenant_type", false},
		{"actor", store.AuditFilter{ActorID: "u1"}, "audit_events_actor", false},
		{"tenant and actor", store.AuditFilter{TenantIDs: []string{"t1"}, ActorID: "u1", Cursor: cursor}, "audit_events_", false},
		{"type", store.AuditFilter{Type: "login.lockout", Cursor: cursor}, "audit_events_type", false},
		{"tenants", store.AuditFilter{TenantIDs: []string{"t1", "t2"}}, "audit_events_", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, args, err := sqlstore.AuditListQuery(c.f)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := sqlstore.QueryPlan(ctx, s, q, args...)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(plan, " | ")
			t.Logf("plan: %s", all)
			if !strings.Contains(all, "INDEX "+c.index) {
				t.Errorf("plan does not use %s: %q", c.index, plan)
			}
			if !c.sorts && strings.Contains(all, "TEMP B-TREE") {
				t.Errorf("plan sorts: %q", plan)
			}
			for _, d := range plan {
				if d == "SCAN audit_events" {
					t.Errorf("table scan: %q", plan)
				}
			}
		})
	}
	plan, err := sqlstore.QueryPlan(ctx, s, sqlstore.AuditPruneQuery, int64(1), int64(10))
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(plan, " | "); !strings.Contains(all, "INDEX audit_events_time") || strings.Contains(all, "SCAN audit_events |") {
		t.Errorf("prune plan: %q", plan)
	}
}
