package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
	"github.com/sesame-idp/sesame/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return sqltest.SQLite(t) })
}

func TestPostgres(t *testing.T) {
	if os.Getenv(sqltest.EnvPostgresDSN) == "" {
		t.Skip(sqltest.EnvPostgresDSN + " not set: skipping PostgreSQL tests")
	}
	storetest.Run(t, func(t *testing.T) store.Store { return sqltest.Postgres(t) })
}

// TestPostgresConcurrentOpen starts several "nodes" on one fresh database at
// once: the migration lock must let all of them succeed.
func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	const nodes = 3
	stores := make([]*sqlstore.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			stores[i], errs[i] = sqlstore.Open(t.Context(), sqlstore.Config{
				Driver: sqlstore.DriverPostgres, DSN: dsn, MaxOpenConns: 4,
			})
		})
	}
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("Open #%d: %v", i, errs[i])
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	// Every node sees the same, complete schema.
	ctx := t.Context()
	if err := stores[0].UpsertTenant(ctx, store.Tenant{ID: "t1", Domains: []string{"a.test"}}); err != nil {
		t.Fatalf("UpsertTenant: %v", err)
	}
	for i, s := range stores {
		if got, err := s.TenantByDomain(ctx, "a.test"); err != nil || got.ID != "t1" {
			t.Errorf("node %d: TenantByDomain = (%q, %v), want t1", i, got.ID, err)
		}
	}
}

// TestReopen checks that opening an existing database applies no migration
// twice and keeps the data.
func TestReopen(t *testing.T) {
	for _, b := range []struct {
		name string
		cfg  func(t *testing.T) sqlstore.Config
	}{
		{"sqlite", func(t *testing.T) sqlstore.Config {
			return sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: sqltest.SQLitePath(t)}
		}},
		{"postgres", func(t *testing.T) sqlstore.Config {
			return sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: sqltest.PostgresDSN(t), MaxOpenConns: 2}
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg(t)
			ctx := t.Context()
			s, err := sqlstore.Open(ctx, cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := s.UpsertTenant(ctx, store.Tenant{ID: "t1"}); err != nil {
				t.Fatalf("UpsertTenant: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s, err = sqlstore.Open(ctx, cfg)
			if err != nil {
				t.Fatalf("second Open: %v", err)
			}
			defer s.Close()
			if _, err := s.GetTenant(ctx, "t1"); err != nil {
				t.Errorf("GetTenant after reopen: %v", err)
			}
			if s.Driver() != cfg.Driver {
				t.Errorf("Driver() = %q, want %q", s.Driver(), cfg.Driver)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	for _, cfg := range []sqlstore.Config{
		{Driver: "mysql", DSN: "x"},
		{Driver: sqlstore.DriverSQLite, DSN: ""},
		{Driver: sqlstore.DriverSQLite, DSN: ":memory:"},
		{Driver: sqlstore.DriverSQLite, DSN: "/tmp/x.db?_pragma=synchronous(OFF)"},
	} {
		if s, err := sqlstore.Open(t.Context(), cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestSQLiteSurvivesKill checks the durability promise: once CreateSession
// has returned, the session survives the process being killed with
// SIGKILL. The test re-runs its own binary as the victim.
func TestSQLiteSurvivesKill(t *testing.T) {
	const envPath = "SESAME_SQLSTORE_KILL_CHILD_DB"
	if path := os.Getenv(envPath); path != "" {
		killChild(path) // never returns
	}
	path := sqltest.SQLitePath(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSQLiteSurvivesKill$")
	cmd.Env = append(os.Environ(), envPath+"="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "acknowledged 20 sessions") {
		t.Fatalf("child did not acknowledge its sessions:\n%s", out)
	}
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: path})
	if err != nil {
		t.Fatalf("Open after kill: %v", err)
	}
	defer s.Close()
	for i := range 20 {
		if _, err := s.SessionByTokenHash(t.Context(), "t1", []byte(fmt.Sprintf("hash-%02d", i))); err != nil {
			t.Errorf("session %d lost after SIGKILL: %v", i, err)
		}
	}
	if got, err := s.SessionByTokenHash(t.Context(), "t1", []byte("rotated")); err != nil || got.ID != "s00" {
		t.Errorf("rotation lost after SIGKILL: (%q, %v)", got.ID, err)
	}
	if _, err := s.ConsumeStateToken(t.Context(), "t1", []byte("state"), time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consumed state token back after SIGKILL: %v", err)
	}
}

// killChild writes sessions, reports them acknowledged, and kills itself
// without closing anything.
func killChild(path string) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: path})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	now := time.Now()
	for i := range 20 {
		err := s.CreateSession(ctx, store.Session{
			ID: fmt.Sprintf("s%02d", i), TenantID: "t1", UserID: "u1", ClientID: "c",
			TokenHash: []byte(fmt.Sprintf("hash-%02d", i)), CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		})
		if err != nil {
			fmt.Println("create session:", err)
			os.Exit(2)
		}
	}
	// A rotation (UPDATE) and a consumption (DELETE ... RETURNING, read
	// through a prepared statement) must be as durable as an INSERT.
	if ok, err := s.RotateSessionToken(ctx, "t1", []byte("hash-00"), []byte("rotated"), now, now.Add(time.Hour)); err != nil || !ok {
		fmt.Println("rotate:", ok, err)
		os.Exit(2)
	}
	st := store.StateToken{TokenHash: []byte("state"), TenantID: "t1", ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateStateToken(ctx, st); err != nil {
		fmt.Println("create state token:", err)
		os.Exit(2)
	}
	if _, err := s.ConsumeStateToken(ctx, "t1", st.TokenHash, now); err != nil {
		fmt.Println("consume state token:", err)
		os.Exit(2)
	}
	fmt.Println("acknowledged 20 sessions")
	os.Stdout.Sync()
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // wait for the signal
}
