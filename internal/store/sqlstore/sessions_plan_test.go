package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestSessionLookupPlan checks on SQLite, with every migration applied,
// that finding a session by token hash probes the token_hash index first
// and then the prev_token_hash index, and never reads the tenant's
// sessions through an index on tenant_id (see sessionByToken): such a
// plan costs time linear in the tenant's sessions on every exchange. The
// store is fresh, without statistics, as a server's is.
func TestSessionLookupPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Driver: DriverSQLite, DSN: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, q := range map[string]string{
		"SessionByTokenHash": sessionByTokenHashQuery,
		"SessionWithUser":    sessionWithUserQuery,
	} {
		rows, err := s.w.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, "acme", []byte("hash"))
		if err != nil {
			t.Fatalf("%s: explain: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		all := strings.Join(plan, "\n")
		cur := strings.Index(all, "INDEX sessions_token_hash (token_hash=?)")
		prev := strings.Index(all, "INDEX sessions_prev_token_hash (prev_token_hash=?)")
		if cur < 0 || prev < cur {
			t.Errorf("%s: plan does not probe token_hash and then prev_token_hash:\n%s", name, all)
		}
		for _, d := range plan {
			if strings.HasPrefix(d, "SCAN s") || (strings.HasPrefix(d, "SEARCH s ") && strings.Contains(d, "(tenant_id=?")) {
				t.Errorf("%s: reads the tenant's sessions: %q\nplan:\n%s", name, d, all)
			}
		}
	}
}
