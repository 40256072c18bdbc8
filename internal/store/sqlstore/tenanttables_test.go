package sqlstore_test

import (
	"database/sql"
	"os"
	"slices"
	"testing"

	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// keptWithoutTenant are the tables with a tenant_id column that
// DeleteTenant does not clear, and why.
var keptWithoutTenant = map[string]string{
	"tenants":        "the tenant itself, deleted first",
	"tenant_domains": "deleted by its foreign key's ON DELETE CASCADE",
	"audit_events":   "the audit log outlives what it records; audit.retention prunes it",
}

// TestDeleteTenantCoversEveryTable guards DeleteTenant's fixed list of
// tables against the schema: a migration that adds a table with a
// tenant_id column must either add it to the list (its rows go with the
// tenant) or say here why they stay. Without this, a deleted tenant's
// rows in a new table would outlive it, and a tenant created later with
// the same id would find them.
func TestDeleteTenantCoversEveryTable(t *testing.T) {
	backends := map[string]func(t testing.TB) *sqlstore.Store{"sqlite": sqltest.SQLite}
	if os.Getenv(sqltest.EnvPostgresDSN) != "" {
		backends["postgres"] = sqltest.Postgres
	} else {
		t.Log(sqltest.EnvPostgresDSN + " not set: checking the SQLite schema only")
	}
	queries := map[string]string{
		"sqlite": `SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c
WHERE m.type = 'table' AND c.name = 'tenant_id' ORDER BY m.name`,
		"postgres": `SELECT table_name FROM information_schema.columns
WHERE table_schema = current_schema() AND column_name = 'tenant_id' ORDER BY table_name`,
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			rows, err := sqlstore.WriteDB(s).QueryContext(t.Context(), queries[name])
			if err != nil {
				t.Fatal(err)
			}
			tables, err := collectNames(rows)
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) < len(sqlstore.TenantTables()) {
				t.Fatalf("found only %v: the schema query is wrong", tables)
			}
			for _, table := range tables {
				_, kept := keptWithoutTenant[table]
				if !kept && !slices.Contains(sqlstore.TenantTables(), table) {
					t.Errorf("table %s has a tenant_id column, but DeleteTenant does not clear it (add it to tenantTables or to keptWithoutTenant, with the reason)", table)
				}
			}
			for _, table := range sqlstore.TenantTables() {
				if !slices.Contains(tables, table) {
					t.Errorf("DeleteTenant clears %s, which has no tenant_id column here", table)
				}
			}
		})
	}
}

func collectNames(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
