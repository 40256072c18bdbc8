package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// Tests of the grants table that need to reach past the store's methods:
// the row locks (with a transaction of the test's own standing in for the
// other side), a grant row changed behind the store's back, and the
// sweep's batches. storetest has the behaviour every store must show.

var grantNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// startGrant stores an authorization code of the grant, created at created.
func startGrant(t *testing.T, s *sqlstore.Store, grantID string, created time.Time) {
	t.Helper()
	err := s.CreateAuthCode(t.Context(), store.AuthCode{
		CodeHash: []byte("code-of-" + grantID), TenantID: "t1", ClientID: "web", GrantID: grantID,
		CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute),
	})
	if err != nil {
		t.Fatalf("CreateAuthCode(%s): %v", grantID, err)
	}
}

func grantAccessToken(hash, grantID string) store.AccessToken {
	return store.AccessToken{TokenHash: []byte(hash), TenantID: "t1", ClientID: "web", GrantID: grantID,
		CreatedAt: grantNow, ExpiresAt: grantNow.Add(time.Hour)}
}

func grantRefreshToken(hash, grantID string) store.RefreshToken {
	return store.RefreshToken{TokenHash: []byte(hash), TenantID: "t1", ClientID: "web", GrantID: grantID,
		CreatedAt: grantNow, ExpiresAt: grantNow.Add(24 * time.Hour)}
}

// holdTx begins a transaction on the store's write pool and runs stmts in
// it. The caller commits it. On SQLite the transaction holds the single
// write connection; on PostgreSQL it holds whatever row locks stmts took.
func holdTx(t *testing.T, s *sqlstore.Store, stmts ...string) *sql.Tx {
	t.Helper()
	ctx := t.Context()
	tx, err := sqlstore.WriteDB(s).BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	t.Cleanup(func() { tx.Rollback() })
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return tx
}

// async runs f in a goroutine and returns the channel of its error.
func async(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// mustWait fails the test if done reports within a moment: the call is
// expected to wait for the test's transaction.
func mustWait(t *testing.T, what string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s did not wait for the transaction holding the grant (returned %v)", what, err)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestGrantLocks checks the two halves of the grant lock. A creation that
// has read the grant (FOR SHARE) makes RevokeGrant wait, and RevokeGrant
// then deletes what it created; a revocation in progress makes creations
// wait, and they then see it. The test's own transaction plays the other
// side, with the statements the store uses.
func TestGrantLocks(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()

			t.Run("RevokeGrantWaitsForCreation", func(t *testing.T) {
				s := b.Open(t)
				startGrant(t, s, "g", grantNow)
				tx := holdTx(t, s, `SELECT revoked_at FROM grants WHERE tenant_id = 't1' AND grant_id = 'g'`+sqlstore.ForShare(s))
				done := async(func() error {
					n, err := s.RevokeGrant(ctx, "t1", "g")
					if err == nil && n != 1 {
						err = fmt.Errorf("deleted %d tokens, want 1", n)
					}
					return err
				})
				mustWait(t, "RevokeGrant", done)
				// The creation inserts while RevokeGrant waits.
				if _, err := tx.ExecContext(ctx, `INSERT INTO access_tokens (token_hash, tenant_id, client_id, user_id,
	scope, grant_id, session_id, auth_time, created_at, expires_at)
VALUES ($1, 't1', 'web', '', '', 'g', '', 0, 1, $2)`, []byte("at"), grantNow.Add(time.Hour).UnixMilli()); err != nil {
					t.Fatalf("insert: %v", err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatalf("commit: %v", err)
				}
				if err := <-done; err != nil {
					t.Fatalf("RevokeGrant: %v", err)
				}
				if _, err := s.AccessTokenByHash(ctx, "t1", []byte("at"), grantNow); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("token created while RevokeGrant waited survived it: %v", err)
				}
			})

			// The revocation: the statements of RevokeGrant, held open.
			revoke := []string{
				`UPDATE grants SET revoked_at = 7 WHERE tenant_id = 't1' AND grant_id = 'g'`,
				`DELETE FROM refresh_tokens WHERE tenant_id = 't1' AND grant_id = 'g'`,
				`DELETE FROM access_tokens WHERE tenant_id = 't1' AND grant_id = 'g'`,
			}
			for _, tc := range []struct {
				name   string
				create func(s *sqlstore.Store) error
			}{
				{"CreateAccessToken", func(s *sqlstore.Store) error {
					return s.CreateAccessToken(ctx, grantAccessToken("new", "g"))
				}},
				{"CreateRefreshToken", func(s *sqlstore.Store) error {
					return s.CreateRefreshToken(ctx, grantRefreshToken("new", "g"))
				}},
				{"RotateRefreshToken", func(s *sqlstore.Store) error {
					_, err := s.RotateRefreshToken(ctx, "t1", []byte("rt"), []byte("new"), grantNow, grantNow.Add(time.Hour))
					return err
				}},
			} {
				t.Run(tc.name+"WaitsForRevocation", func(t *testing.T) {
					s := b.Open(t)
					startGrant(t, s, "g", grantNow)
					if err := s.CreateRefreshToken(ctx, grantRefreshToken("rt", "g")); err != nil {
						t.Fatalf("CreateRefreshToken: %v", err)
					}
					tx := holdTx(t, s, revoke...)
					done := async(func() error { return tc.create(s) })
					mustWait(t, tc.name, done)
					if err := tx.Commit(); err != nil {
						t.Fatalf("commit: %v", err)
					}
					// A rotation may also find its token deleted (on
					// SQLite it always does: it starts after the commit).
					err := <-done
					if !errors.Is(err, store.ErrRevoked) && (tc.name != "RotateRefreshToken" || !errors.Is(err, store.ErrNotFound)) {
						t.Errorf("%s after the revocation it waited for: got %v, want ErrRevoked", tc.name, err)
					}
					if _, err := s.AccessTokenByHash(ctx, "t1", []byte("new"), grantNow); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("%s created an access token: %v", tc.name, err)
					}
					if _, err := s.RefreshTokenByHash(ctx, "t1", []byte("new"), grantNow); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("%s created a refresh token: %v", tc.name, err)
					}
				})
			}
		})
	}
}

// TestRotateRefreshTokenRevokedGrant: a refresh token whose grant row is
// revoked or missing (which the store's methods never leave behind, but a
// rolling upgrade can: tokens created by nodes that predate grants) is not
// rotated, and nothing changes; reuse is still reported as such, so that
// the caller revokes the family.
func TestRotateRefreshTokenRevokedGrant(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := t.Context()
			exec := func(q string) {
				t.Helper()
				if err := sqlstore.ExecRaw(ctx, s, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			rotate := func(old, next string, want error) {
				t.Helper()
				_, err := s.RotateRefreshToken(ctx, "t1", []byte(old), []byte(next), grantNow, grantNow.Add(time.Hour))
				if !errors.Is(err, want) {
					t.Fatalf("RotateRefreshToken(%s): got %v, want %v", old, err, want)
				}
				if _, err := s.RefreshTokenByHash(ctx, "t1", []byte(next), grantNow); (want == nil) != (err == nil) {
					t.Errorf("RotateRefreshToken(%s) -> %v: successor lookup %v", old, want, err)
				}
			}
			for _, g := range []string{"g1", "g2"} {
				startGrant(t, s, g, grantNow)
				if err := s.CreateRefreshToken(ctx, grantRefreshToken("rt-"+g, g)); err != nil {
					t.Fatalf("CreateRefreshToken: %v", err)
				}
			}

			exec(`UPDATE grants SET revoked_at = 1 WHERE grant_id = 'g1'`)
			rotate("rt-g1", "rt-g1-next", store.ErrRevoked)
			exec(`DELETE FROM grants WHERE grant_id = 'g1'`)
			rotate("rt-g1", "rt-g1-next", store.ErrRevoked)
			if got, err := s.RefreshTokenByHash(ctx, "t1", []byte("rt-g1"), grantNow); err != nil || !got.UsedAt.IsZero() {
				t.Errorf("refused rotations changed the token: used at %v, err %v", got.UsedAt, err)
			}

			rotate("rt-g2", "rt-g2-next", nil)
			exec(`DELETE FROM grants WHERE grant_id = 'g2'`)
			rotate("rt-g2", "rt-g2-again", store.ErrReused)
			if n, err := s.RevokeGrant(ctx, "t1", "g2"); err != nil || n != 2 {
				t.Errorf("RevokeGrant(g2) = (%d, %v), want (2, nil)", n, err)
			}
		})
	}
}

// TestSweepGrants: the sweep deletes the grants of which nothing is left,
// once they are older than the grace period, at most batch per call,
// examining at most batch per call and going round the table.
func TestSweepGrants(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := t.Context()
			count := func() int64 {
				t.Helper()
				n, err := sqlstore.QueryInt(ctx, s, `SELECT COUNT(*) FROM grants`)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			sweep := func(now time.Time, batch int) int64 {
				t.Helper()
				n, err := s.SweepExpired(ctx, now, batch)
				if err != nil {
					t.Fatalf("SweepExpired: %v", err)
				}
				return n
			}
			// 12 grants in key order g00..g11: every third one (0, 3, 6,
			// 9) keeps a refresh token; 10 and 11 are recent; the other
			// six are old and empty once their codes are gone.
			old, recent := grantNow.Add(-2*time.Hour), grantNow.Add(-10*time.Minute)
			for i := range 12 {
				g := fmt.Sprintf("g%02d", i)
				created := old
				if i >= 10 {
					created = recent
				}
				startGrant(t, s, g, created)
				if i%3 == 0 {
					if err := s.CreateRefreshToken(ctx, grantRefreshToken("rt-"+g, g)); err != nil {
						t.Fatalf("CreateRefreshToken: %v", err)
					}
				}
			}
			if err := sqlstore.ExecRaw(ctx, s, `DELETE FROM auth_codes`); err != nil {
				t.Fatal(err)
			}

			// Batches of 3: windows g00-g02, g03-g05, g06-g08, g09-g11,
			// then the (empty) rest of the table, then from the start
			// again.
			var got []int64
			for range 6 {
				got = append(got, sweep(grantNow, 3))
			}
			if want := []int64{2, 2, 2, 0, 0, 0}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("grants swept per call: %v, want %v", got, want)
			}
			if n := count(); n != 6 {
				t.Errorf("%d grants left, want 6 (4 live, 2 recent)", n)
			}
			// The live ones still take tokens.
			for _, g := range []string{"g00", "g03", "g06", "g09", "g10"} {
				if err := s.CreateAccessToken(ctx, grantAccessToken("at-"+g, g)); err != nil {
					t.Errorf("CreateAccessToken(%s): %v", g, err)
				}
			}
			// Past the grace period the recent empty one (g11) goes too;
			// g10 now has an access token (expiring at grantNow+1h).
			if n := sweep(grantNow.Add(50*time.Minute), 100); n != 1 {
				t.Errorf("sweep past the grace period deleted %d, want 1", n)
			}
			// Once every record has expired, so does every grant.
			sweep(grantNow.Add(48*time.Hour), 100)
			sweep(grantNow.Add(48*time.Hour), 100)
			if n := count(); n != 0 {
				t.Errorf("%d grants left after everything expired, want 0", n)
			}
			// A swept grant takes no more tokens.
			if err := s.CreateAccessToken(ctx, grantAccessToken("at-late", "g00")); !errors.Is(err, store.ErrRevoked) {
				t.Errorf("CreateAccessToken(swept grant): got %v, want ErrRevoked", err)
			}
		})
	}
}

// TestSweepGrantsQueryPlan checks on SQLite that the grants sweep reads
// the grants by primary key and probes the other tables by index, so that
// a call costs O(batch) however many grants and tokens there are. (On
// PostgreSQL the planner chooses by cost: index probes for the window's
// batch grants, or one hash of a token table when that is cheaper. The
// inner LIMIT keeps its estimate of the window at batch rows.)
func TestSweepGrantsQueryPlan(t *testing.T) {
	s := sqltest.SQLite(t)
	ctx := context.Background()
	for _, q := range sqlstore.SweepGrantQueries {
		rows, err := sqlstore.WriteDB(s).QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.Query, q.Args...)
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
		rows.Close()
		// "SCAN t" reads the whole of table t (or, with "USING ...
		// INDEX", the whole of an index of it), unless t is a co-routine
		// (the rows of a subquery). A lookup is "SEARCH".
		coroutines := map[string]bool{}
		for _, d := range plan {
			if name, ok := strings.CutPrefix(d, "CO-ROUTINE "); ok {
				coroutines[name] = true
			}
		}
		for _, d := range plan {
			name, ok := strings.CutPrefix(d, "SCAN ")
			if ok && !coroutines[name] {
				t.Errorf("full scan in the plan of\n%s\nplan: %q", q.Query, plan)
			}
		}
	}
}
