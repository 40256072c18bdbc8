package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccessTokenLookupPlan checks on SQLite, with every migration applied
// and no statistics (as a server's store is), that the joined userinfo
// read finds the token through its primary key and then the user through
// the users' primary key: never by reading the tenant's tokens or users
// through an index on tenant_id, which costs time linear in their number
// (see sessionByToken for the case where that happened).
func TestAccessTokenLookupPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Driver: DriverSQLite, DSN: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.w.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+accessTokenWithUserQuery, "acme", []byte("hash"), int64(1))
	if err != nil {
		t.Fatalf("explain: %v", err)
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
	want := []string{
		"SEARCH a USING INDEX sqlite_autoindex_access_tokens_1 (token_hash=?)",
		"SEARCH u USING INDEX sqlite_autoindex_users_1 (tenant_id=? AND id=?)",
	}
	if len(plan) != len(want) {
		t.Fatalf("plan has %d steps, want %d:\n%s", len(plan), len(want), all)
	}
	for i, w := range want {
		if !strings.HasPrefix(plan[i], w) { // SQLite may append " LEFT-JOIN"
			t.Errorf("step %d: %q, want %q\nplan:\n%s", i, plan[i], w, all)
		}
	}
}
