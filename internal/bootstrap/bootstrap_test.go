package bootstrap_test

import (
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/bootstrap"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestApplyTenantTimes: a declared tenant gets its creation time when it
// is first written and keeps it across restarts; its update time moves
// only when the configuration changes one of its settings; a tenant
// stored without times (by an earlier version) gets them.
func TestApplyTenantTimes(t *testing.T) {
	st := sqltest.SQLite(t)
	hasher, err := secret.NewHasher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	a := &bootstrap.Applier{Store: st, Secrets: hasher, Now: func() time.Time { return now }}
	declare := func(name string) config.Bootstrap {
		return config.Bootstrap{Tenants: []config.Tenant{{ID: "t1", Name: name, Domains: []string{"T1.example"}}}}
	}
	apply := func(b config.Bootstrap) store.Tenant {
		t.Helper()
		if err := a.Apply(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetTenant(t.Context(), "t1")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	created := now
	check := func(step string, got store.Tenant, wantCreated, wantUpdated time.Time) {
		t.Helper()
		if !got.CreatedAt.Equal(wantCreated) || !got.UpdatedAt.Equal(wantUpdated) {
			t.Errorf("%s: created %v, updated %v; want %v, %v", step, got.CreatedAt, got.UpdatedAt, wantCreated, wantUpdated)
		}
	}

	check("first start", apply(declare("One")), created, created)
	now = now.Add(time.Hour)
	check("restart, same configuration", apply(declare("One")), created, created)
	now = now.Add(time.Hour)
	check("restart, renamed", apply(declare("Uno")), created, now)

	// A tenant an earlier version stored without times.
	old := bootstrap.TenantFromConfig(config.Tenant{ID: "t1", Name: "Uno", Domains: []string{"t1.example"}})
	if err := st.UpsertTenant(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	check("stored without times", apply(declare("Uno")), now, now)
}
