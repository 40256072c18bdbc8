package sqlstore_test

import (
	"testing"

	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestSQLiteSynchronous checks Config.SQLiteSynchronous on the write
// connection: FULL unless "normal" is asked for (the fault test
// TestSQLiteReadOnly in test/faults shows what NORMAL loses), and an
// unknown value refused.
func TestSQLiteSynchronous(t *testing.T) {
	for _, tc := range []struct {
		setting string
		want    int64 // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"", 2},
		{"full", 2},
		{"FULL", 2},
		{"normal", 1},
	} {
		s, err := sqlstore.Open(t.Context(), sqlstore.Config{
			Driver: sqlstore.DriverSQLite, DSN: sqltest.SQLitePath(t), SQLiteSynchronous: tc.setting,
		})
		if err != nil {
			t.Fatalf("%q: %v", tc.setting, err)
		}
		got, err := sqlstore.QueryInt(t.Context(), s, "PRAGMA synchronous")
		s.Close()
		if err != nil || got != tc.want {
			t.Errorf("SQLiteSynchronous %q: PRAGMA synchronous = %d, %v; want %d", tc.setting, got, err, tc.want)
		}
	}
	if s, err := sqlstore.Open(t.Context(), sqlstore.Config{
		Driver: sqlstore.DriverSQLite, DSN: sqltest.SQLitePath(t), SQLiteSynchronous: "off",
	}); err == nil {
		s.Close()
		t.Errorf(`SQLiteSynchronous "off" was accepted`)
	}
}
