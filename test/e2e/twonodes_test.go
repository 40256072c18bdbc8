package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestTwoNodesOnePostgres runs two server processes on one PostgreSQL
// database and checks that they behave as one server: sessions, their
// rotation and grace period, tenant access tokens and logout are shared
// through the database, and a key rotated by the CLI is published by both
// nodes within keys.refresh_interval and then signs on both.
func TestTwoNodesOnePostgres(t *testing.T) {
	const (
		refreshInterval = 2 * time.Second
		// The least config accepts: refresh_interval plus the clock skew
		// bound (internal/clock.MaxSkew, 10 s).
		rotationDelay = 12 * time.Second
	)
	dsn := sqltest.PostgresDSN(t) // skips without SESAME_TEST_POSTGRES_DSN
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	cfg, env := writeConfig(t, configParams{driver: "postgres", dsn: dsn, rotationDelay: rotationDelay, refreshInterval: refreshInterval})
	c := newClient(t)
	// Both nodes start at once on the empty database: migrations and the
	// bootstrap run concurrently, as when a deployment starts.
	a := launchNode(t, "node A", cfg, env)
	b := launchNode(t, "node B", cfg, env)
	a.waitReady(ctx, c)
	b.waitReady(ctx, c)

	t.Run("sessions", func(t *testing.T) {
		// Log in on A.
		r := mustOK(t, "login on A")(c.login(ctx, a.base, rotatingApp))
		if r.str("status") != "SUCCESS" || r.str("session_token") == "" || r.str("id_token") == "" {
			t.Fatalf("login on A: %v", r)
		}
		tok0 := r.str("session_token")

		// Exchange on B: the app rotates session tokens.
		r = mustOK(t, "exchange of the login token on B")(c.exchange(ctx, b.base, rotatingApp, tok0))
		tok1 := r.str("session_token")
		if tok1 == "" || tok1 == tok0 {
			t.Fatalf("exchange on B did not rotate the token: %v", r)
		}
		if r.str("id_token") == "" {
			t.Fatalf("exchange on B: no id_token: %v", r)
		}

		// The old token again, on A, within the grace period: the same
		// successor (a lost answer must not log the user out).
		r = mustOK(t, "exchange of the old token on A within the grace period")(c.exchange(ctx, a.base, rotatingApp, tok0))
		if got := r.str("session_token"); got != tok1 {
			t.Fatalf("old token on A within grace: want the successor B issued, got a different token (%d chars)", len(got))
		}

		// Tenant API: access token from A, used on B.
		r = mustOK(t, "tenant token on A")(c.tenantToken(ctx, a.base, rotatingApp))
		access := r.str("access_token")
		if access == "" {
			t.Fatalf("tenant token on A: %v", r)
		}
		r = mustOK(t, "tenant refresh of the successor on B with A's access token")(c.refresh(ctx, b.base, access, tok1))
		tok2 := r.str("session_token")
		if tok2 == "" || tok2 == tok1 || tok2 == tok0 {
			t.Fatalf("tenant refresh on B did not rotate: %v", r)
		}
		if exp, ok := r.json["expire"].(float64); !ok || exp <= 0 {
			t.Fatalf("tenant refresh on B: bad expire: %v", r)
		}

		// Logout on A with the newest token; B then refuses it.
		r = must(t, "logout on A")(c.logout(ctx, a.base, rotatingApp, tok2))
		if r.status != http.StatusOK {
			t.Fatalf("logout on A: want 200, got %v", r)
		}
		r = must(t, "exchange of the logged-out token on B")(c.exchange(ctx, b.base, rotatingApp, tok2))
		if r.status != http.StatusBadRequest || r.str("error_code") != "SDK.COMMON.1006" {
			t.Fatalf("exchange of the logged-out token on B: want 400 SDK.COMMON.1006, got %v", r)
		}
		// The earlier tokens of the session, still within their grace
		// period, must not bring it back either.
		for i, old := range []string{tok0, tok1} {
			r = must(t, "exchange of an earlier token after logout")(c.exchange(ctx, b.base, rotatingApp, old))
			if r.status != http.StatusBadRequest || r.str("error_code") != "SDK.COMMON.1006" {
				t.Errorf("exchange of token #%d of the logged-out session on B: want 400 SDK.COMMON.1006, got %v", i, r)
			}
		}
	})
	if t.Failed() {
		return
	}

	t.Run("key rotation", func(t *testing.T) {
		keysA, err := c.jwks(ctx, a.base)
		if err != nil {
			t.Fatal(err)
		}
		keysB, err := c.jwks(ctx, b.base)
		if err != nil {
			t.Fatal(err)
		}
		before := kidSet(keysA)
		if len(before) == 0 || !slices.Equal(before, kidSet(keysB)) {
			t.Fatalf("before rotation the nodes publish different keys: A %v, B %v", before, kidSet(keysB))
		}
		algs := map[string]bool{}
		for _, k := range keysA {
			algs[k.Alg] = true
		}

		// A session on the non-rotating app, to mint id_tokens on B
		// without a login each time.
		r := mustOK(t, "login on B")(c.login(ctx, b.base, plainApp))
		session := r.str("session_token")
		if h, err := jwsHeader(r.str("id_token")); err != nil || !slices.Contains(before, h.Kid) {
			t.Fatalf("id_token of the login on B: header %+v (%v); want a kid of %v", h, err, before)
		}

		// Rotate with the CLI, a third process on the same database.
		rotateStart := time.Now()
		out := runCLI(ctx, t, env, "keys", "rotate", "--config", cfg, "--tenant", tenantID)
		rotated := time.Now()
		t.Logf("sesame keys rotate took %v: %s", rotated.Sub(rotateStart).Round(time.Millisecond), out)

		// Poll both nodes until each publishes one new key per algorithm.
		type seen struct {
			after []string
			took  time.Duration
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			found = map[string]seen{}
		)
		bound := refreshInterval + 2*time.Second
		for _, n := range []*node{a, b} {
			wg.Go(func() {
				pctx, cancel := context.WithTimeout(ctx, bound+5*time.Second)
				defer cancel()
				for pctx.Err() == nil {
					keys, err := c.jwks(pctx, n.base)
					if err == nil {
						after := kidSet(keys)
						if added := diff(after, before); len(added) >= len(algs) && len(diff(before, after)) == 0 {
							mu.Lock()
							found[n.name] = seen{after: after, took: time.Since(rotated)}
							mu.Unlock()
							return
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		sa, okA := found[a.name]
		sb, okB := found[b.name]
		if !okA || !okB {
			t.Fatalf("new keys not published by both nodes within %v (A: %v, B: %v)", bound+5*time.Second, okA, okB)
		}
		t.Logf("rotation propagation (keys.refresh_interval %v): new keys in node A's JWKS %v and node B's %v after the rotate command returned; both: %v",
			refreshInterval, sa.took.Round(time.Millisecond), sb.took.Round(time.Millisecond), max(sa.took, sb.took).Round(time.Millisecond))
		if !slices.Equal(sa.after, sb.after) {
			t.Fatalf("after rotation the nodes publish different keys: A %v, B %v", sa.after, sb.after)
		}
		if took := max(sa.took, sb.took); took > bound {
			t.Errorf("new keys took %v to reach both nodes; want at most keys.refresh_interval + 2s = %v", took, bound)
		}
		newKids := diff(sa.after, before)
		if len(newKids) != len(algs) {
			t.Errorf("rotation of %d algorithms published %d new keys: %v", len(algs), len(newKids), newKids)
		}

		// The CLI lists the same new keys, as "next" until they activate.
		var listed []struct {
			Kid   string `json:"kid"`
			State string `json:"state"`
		}
		out = runCLI(ctx, t, env, "keys", "list", "--config", cfg, "--tenant", tenantID)
		if err := json.Unmarshal([]byte(out), &listed); err != nil {
			t.Fatalf("keys list: %v: %q", err, out)
		}
		var listedKids []string
		for _, k := range listed {
			listedKids = append(listedKids, k.Kid)
			if slices.Contains(newKids, k.Kid) && k.State != "next" && time.Since(rotateStart) < rotationDelay {
				t.Errorf("keys list: new key %s is %q before rotation_delay passed; want next", k.Kid, k.State)
			}
		}
		slices.Sort(listedKids)
		if !slices.Equal(listedKids, sa.after) {
			t.Errorf("keys list shows %v; the nodes publish %v", listedKids, sa.after)
		}

		// Until rotation_delay has passed the old key keeps signing;
		// afterwards, within refresh_interval + rotation_delay + 3s, id_tokens
		// minted by either node carry a new kid.
		deadline := rotated.Add(refreshInterval + rotationDelay + 3*time.Second)
		for _, n := range []*node{b, a} {
			var last string
			for {
				r := mustOK(t, "exchange on "+n.name)(c.exchange(ctx, n.base, plainApp, session))
				h, err := jwsHeader(r.str("id_token"))
				if err != nil {
					t.Fatalf("id_token minted by %s: %v", n.name, err)
				}
				now := time.Now()
				if slices.Contains(newKids, h.Kid) {
					if now.Before(rotateStart.Add(rotationDelay)) {
						t.Fatalf("%s signed with new key %s %v after the rotation started; rotation_delay is %v",
							n.name, h.Kid, now.Sub(rotateStart).Round(time.Millisecond), rotationDelay)
					}
					t.Logf("%s signs with new key %s (%s) %v after the rotate command returned (rotation_delay %v)",
						n.name, h.Kid, h.Alg, now.Sub(rotated).Round(time.Millisecond), rotationDelay)
					break
				}
				if !slices.Contains(sa.after, h.Kid) {
					t.Fatalf("id_token minted by %s has kid %s, which is not published", n.name, h.Kid)
				}
				last = h.Kid
				if now.After(deadline) {
					t.Fatalf("%s still signs with %s %v after the rotation; want one of %v by refresh_interval + rotation_delay + 3s",
						n.name, last, now.Sub(rotated).Round(time.Millisecond), newKids)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
}

// diff returns the elements of a (sorted) that are not in b.
func diff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
