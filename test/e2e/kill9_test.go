package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestKill9Durability checks that every session the server answered 200
// for survives a kill -9 of the server in the middle of a load: after a
// restart on the same data each recorded session token still works, and
// the published signing keys are the same.
func TestKill9Durability(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var dsn string
			if backend == "postgres" {
				dsn = sqltest.PostgresDSN(t) // skips without SESAME_TEST_POSTGRES_DSN
			} else {
				dsn = sqltest.SQLitePath(t)
			}
			testKill9(t, backend, dsn)
		})
	}
}

// session is what a client holds of one session: the application it uses
// and the latest token it was given.
type session struct {
	app     string
	token   string
	rotated bool // token is a successor returned by an exchange
}

func testKill9(t *testing.T, driver, dsn string) {
	const (
		clients  = 8
		loadTime = 3 * time.Second
	)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	// The configuration sets key_encryption_key, for SQLite too: the
	// restarted server must decrypt the keys and hash tokens the same way.
	cfg, env := writeConfig(t, configParams{driver: driver, dsn: dsn})
	c := newClient(t)
	srv := launchNode(t, "server", cfg, env)
	srv.waitReady(ctx, c)

	keys, err := c.jwks(ctx, srv.base)
	if err != nil {
		t.Fatal(err)
	}
	kidsBefore := kidSet(keys)

	// Load: each client logs in (alternating between the rotating and the
	// plain application) and exchanges the new token, recording every
	// session answered with 200 and the latest token it holds.
	var (
		mu         sync.Mutex
		sessions   []*session
		killed     atomic.Bool // set just before the kill
		logins     atomic.Int64
		exchanges  atomic.Int64
		unexpected []string // failures before the kill
		wg         sync.WaitGroup
	)
	stop := make(chan struct{})
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(unexpected) < 20 {
			unexpected = append(unexpected, fmt.Sprintf(format, args...))
		}
	}
	for i := range clients {
		wg.Go(func() {
			for iter := 0; ; iter++ {
				select {
				case <-stop:
					return
				default:
				}
				app := []string{rotatingApp, plainApp}[(i+iter)%2]
				r, err := c.login(ctx, srv.base, app)
				if err != nil {
					if !killed.Load() {
						fail("client %d: login: %v", i, err)
					}
					return
				}
				if r.status != http.StatusOK || r.str("status") != "SUCCESS" || r.str("session_token") == "" {
					fail("client %d: login via %s: %v", i, app, r)
					continue
				}
				logins.Add(1)
				s := &session{app: app, token: r.str("session_token")}
				mu.Lock()
				sessions = append(sessions, s)
				mu.Unlock()

				r, err = c.exchange(ctx, srv.base, app, s.token)
				if err != nil {
					if !killed.Load() {
						fail("client %d: exchange: %v", i, err)
					}
					return
				}
				if r.status != http.StatusOK || r.str("session_token") == "" {
					fail("client %d: exchange via %s: %v", i, app, r)
					continue
				}
				exchanges.Add(1)
				next := r.str("session_token")
				switch {
				case app == rotatingApp && next == s.token:
					fail("client %d: exchange via %s did not rotate the token", i, app)
				case app == plainApp && next != s.token:
					fail("client %d: exchange via %s changed the token", i, app)
				}
				mu.Lock()
				s.rotated = next != s.token
				s.token = next
				mu.Unlock()
			}
		})
	}

	// Let the load run, then kill -9 the server under it.
	select {
	case <-time.After(loadTime):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	killed.Store(true)
	killAt := time.Now()
	if err := srv.p.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatalf("kill -9: %v", err)
	}
	select {
	case <-srv.p.done:
	case <-ctx.Done():
		t.Fatal("the killed server did not exit")
	}
	close(stop)
	wg.Wait()
	c.hc.CloseIdleConnections()
	mu.Lock()
	recorded := slices.Clone(sessions)
	mu.Unlock()
	if len(unexpected) > 0 {
		t.Errorf("failures under load before the kill:\n  %s", joinLines(unexpected))
	}
	t.Logf("%s: %d logins and %d exchanges answered 200 in %v with %d clients; killed with -9",
		driver, logins.Load(), exchanges.Load(), loadTime, clients)
	if len(recorded) == 0 {
		t.Fatal("no session was created under load")
	}

	// Restart on the same data.
	srv2 := launchNode(t, "server (restarted)", cfg, env)
	srv2.waitReady(ctx, c)
	t.Logf("%s: restarted and ready %v after the kill", driver, time.Since(killAt).Round(time.Millisecond))

	// Every recorded session token still works (a rotated-away token of
	// an exchange whose answer was lost is still within its grace period).
	var (
		next     atomic.Int64
		checked  atomic.Int64
		failures []string
		fmu      sync.Mutex
		cwg      sync.WaitGroup
		rotated  int
		byApp    = map[string]int{}
	)
	for _, s := range recorded {
		byApp[s.app]++
		if s.rotated {
			rotated++
		}
	}
	for range clients {
		cwg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(recorded) {
					return
				}
				s := recorded[i]
				r, err := c.exchange(ctx, srv2.base, s.app, s.token)
				checked.Add(1)
				if err == nil && r.status == http.StatusOK && r.str("session_token") != "" {
					continue
				}
				fmu.Lock()
				what := fmt.Sprintf("session %d (app %s, token from the %s): %v", i, s.app, map[bool]string{true: "exchange", false: "login"}[s.rotated], r)
				if err != nil {
					what = fmt.Sprintf("session %d (app %s): %v", i, s.app, err)
				}
				failures = append(failures, what)
				fmu.Unlock()
			}
		})
	}
	cwg.Wait()
	if len(failures) > 0 {
		shown := failures
		if len(shown) > 20 {
			shown = shown[:20]
		}
		t.Errorf("%d of %d sessions answered 200 before kill -9 do not work after the restart:\n  %s",
			len(failures), len(recorded), joinLines(shown))
	} else {
		t.Logf("%s: all %d sessions checked after kill -9 and restart work (%s: %d, %s: %d; %d held a rotated token)",
			driver, checked.Load(), rotatingApp, byApp[rotatingApp], plainApp, byApp[plainApp], rotated)
	}

	keys, err = c.jwks(ctx, srv2.base)
	if err != nil {
		t.Fatal(err)
	}
	if kidsAfter := kidSet(keys); !slices.Equal(kidsBefore, kidsAfter) {
		t.Errorf("JWKS changed across kill -9 and restart:\n  before %v\n  after  %v", kidsBefore, kidsAfter)
	} else {
		t.Logf("%s: JWKS kid set unchanged across the restart (%d keys)", driver, len(kidsAfter))
	}
}

func joinLines(lines []string) string { return strings.Join(lines, "\n  ") }
