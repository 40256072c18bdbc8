package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/password"
	"github.com/sesame-idp/sesame/internal/server"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// TestDemoTenant: with no configuration the server creates the demo
// tenant once, prints working credentials, and keeps its generated key-
// encryption key so sessions survive a restart.
func TestDemoTenant(t *testing.T) {
	cfg := config.Defaults()
	cfg.Storage.DSN = filepath.Join(t.TempDir(), "data", "sesame.db")
	cfg.Server.PublicURL = "http://127.0.0.1:8080"
	ctx := context.Background()
	srv, err := server.New(ctx, cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	demo := srv.Demo
	if demo == nil || demo.ClientID == "" || len(demo.Password) < 12 || len(demo.ClientSecret) < 32 {
		t.Fatalf("demo credentials: %+v", demo)
	}
	banner := server.DemoBanner(demo, cfg.Server.PublicURL)
	for _, want := range []string{demo.Password, demo.ClientSecret, "curl -s -X POST http://127.0.0.1:8080/api/v2/sdk/login"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q", want)
		}
	}
	login := func(s *server.Server) map[string]any {
		req := httptest.NewRequest("POST", "http://127.0.0.1:8080/api/v2/sdk/login", strings.NewReader(`{"user_name":"`+demo.Username+`","password":"`+demo.Password+`"}`))
		for k, v := range st.SDKHeaders(demo.ClientID) {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		if rec.Code != 200 || out["status"] != "SUCCESS" {
			t.Fatalf("demo login: %d %s", rec.Code, rec.Body)
		}
		return out
	}
	tok := login(srv)["session_token"].(string)
	srv.Close()

	srv2, err := server.New(ctx, cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	if srv2.Demo != nil {
		t.Fatal("the demo tenant was created twice")
	}
	login(srv2)
	req := httptest.NewRequest("POST", "http://localhost:8080/api/v2/sdk/sso/session-token/id-token", nil)
	for k, v := range st.SDKHeaders(demo.ClientID) {
		req.Header[k] = v
	}
	req.Header.Set("session-token", tok)
	rec := httptest.NewRecorder()
	srv2.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("a session from before the restart: %d %s", rec.Code, rec.Body)
	}
}

// TestBootstrapIdempotent: applying the same bootstrap again changes
// nothing, and a password the user changed is kept.
func TestBootstrapIdempotent(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		s := e.Server.Store()
		appsBefore, _ := s.ListApplications(ctx, "acme")
		alice, _ := s.UserByUsername(ctx, "acme", "alice")
		newHash, err := password.Hash("Changed-By-Alice-1", password.DefaultParams)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetPassword(ctx, "acme", alice.ID, newHash, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		// A second server start applies the bootstrap section again.
		srv2, err := server.New(ctx, e.Config, server.Options{Now: e.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer srv2.Close()
		appsAfter, _ := s.ListApplications(ctx, "acme")
		if len(appsAfter) != len(appsBefore) {
			t.Fatalf("%d applications before, %d after", len(appsBefore), len(appsAfter))
		}
		for i := range appsBefore {
			b, a := appsBefore[i], appsAfter[i]
			b.UpdatedAt, a.UpdatedAt, b.CreatedAt, a.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			bj, _ := json.Marshal(b)
			aj, _ := json.Marshal(a)
			if string(bj) != string(aj) {
				t.Errorf("application changed by a second start:\n%s\n%s", bj, aj)
			}
		}
		again, _ := s.UserByUsername(ctx, "acme", "alice")
		if again.ID != alice.ID || again.PasswordHash != newHash {
			t.Fatal("a second start replaced the user or reset the password")
		}
		if r := e.Login(st.EIAMHost, "acme-portal", "alice", "Changed-By-Alice-1"); r.Status != 200 {
			t.Fatalf("changed password: %d %s", r.Status, r.Body)
		}
	})
}

// TestSweepExpired: expired sessions leave the database.
func TestSweepExpired(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		var toks []string
		for range 3 {
			toks = append(toks, e.MustLogin(st.EIAMHost, "acme-unbound", "alice")) // session_ttl 1h
		}
		live := e.MustLogin(st.EIAMHost, "acme-portal", "alice") // 7 days
		e.TenantToken(st.EIAMHost, "acme-portal")                // expires after 30 min
		e.Clock.Advance(2 * time.Hour)
		if n := e.Server.SweepOnce(t.Context()); n < 4 {
			t.Fatalf("swept %d records, want at least 4", n)
		}
		for _, tok := range toks {
			// Gone, not merely expired.
			wantError(t, e.Exchange(st.EIAMHost, "acme-unbound", tok), 400, "SDK.COMMON.1006", "")
		}
		if r := e.Exchange(st.EIAMHost, "acme-portal", live); r.Status != 200 {
			t.Fatalf("an unexpired session was swept: %d %s", r.Status, r.Body)
		}
		if n := e.Server.SweepOnce(t.Context()); n != 0 {
			t.Fatalf("second sweep removed %d", n)
		}
	})
}

// TestRehashOnLogin: a hash made with other parameters is replaced at the
// next successful login.
func TestRehashOnLogin(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		s := e.Server.Store()
		bob, _ := s.UserByUsername(ctx, "acme", "bob")
		old, err := password.Hash(st.Password, password.Params{Memory: 12288, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetPassword(ctx, "acme", bob.ID, old, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.MustLogin(st.EIAMHost, "acme-portal", "bob")
		bob, _ = s.UserByUsername(ctx, "acme", "bob")
		if bob.PasswordHash == old || !strings.HasPrefix(bob.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("hash not upgraded: %s", bob.PasswordHash)
		}
		e.MustLogin(st.EIAMHost, "acme-portal", "bob")
	})
}

// TestLoginFlood: with one hashing slot and a queue of two, a burst of
// logins is partly served and partly refused with the system-busy error;
// none hangs and none crashes.
func TestLoginFlood(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const n = 24
		var wg sync.WaitGroup
		codes := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.Login(st.CIAMHost, "shop-portal", "alice", st.Password)
				if r.Status == 200 {
					codes[i] = "ok"
				} else {
					codes[i] = r.Str("error_code")
				}
			}()
		}
		wg.Wait()
		count := map[string]int{}
		for _, c := range codes {
			count[c]++
		}
		if count["ok"] == 0 || count["IDAAS.SDK.COM.0002"] == 0 || count["ok"]+count["IDAAS.SDK.COM.0002"] != n {
			t.Fatalf("outcomes %v: want some served and the rest refused as busy", count)
		}
		t.Logf("outcomes of %d concurrent logins: %v", n, count)
		if r := e.Do("GET", e.URL(st.EIAMHost, "/healthz"), http.Header{}, ""); r.Status != 200 {
			t.Fatal("server unhealthy after the flood")
		}
		// The busy answers of an overload are not counted as disk
		// faults: that counter is how an operator tells the two apart.
		checkNoWriteFaults(t, e, e.Do("GET", e.URL(st.EIAMHost, "/metrics"), http.Header{}, "").Body)
	}, func(c *config.Config) {
		c.Password.Concurrency = 1
		c.Password.QueueLimit = 2
		c.Password.MaxWait = 10 * time.Second
	})
}
