package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// oauthStore is what the OAuth subtests need: the store both for the
// records of store.OAuthStore and for the access tokens of store.Store.
type oauthStore interface {
	store.Store
	store.OAuthStore
}

// oauth adapts an OAuth subtest to Run's signature. store.OAuthStore is a
// separate interface, so a store that does not implement it skips these
// subtests rather than failing them.
func oauth(f func(t *testing.T, s oauthStore)) func(t *testing.T, s store.Store) {
	return func(t *testing.T, s store.Store) {
		o, ok := s.(oauthStore)
		if !ok {
			t.Skipf("%T does not implement store.OAuthStore", s)
		}
		f(t, o)
	}
}

func newAuthCode(tenantID, code string, expires time.Duration) store.AuthCode {
	return store.AuthCode{
		CodeHash:      hash(code),
		TenantID:      tenantID,
		ClientID:      "web",
		UserID:        "u1",
		SessionID:     "s1",
		GrantID:       "grant-" + code,
		RedirectURI:   "https://app.example.com/cb?x=1",
		Scope:         "openid profile email",
		Nonce:         "n-0S6_WzA2Mj",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		AuthTime:      at(-2 * time.Minute),
		CreatedAt:     at(-time.Second),
		ExpiresAt:     at(expires),
	}
}

// startGrant starts grant grantID of the tenant the way the OAuth layer
// does, by storing an authorization code of it, so that tokens can be
// created in it.
func startGrant(t *testing.T, s store.OAuthStore, tenantID, grantID string) {
	t.Helper()
	c := newAuthCode(tenantID, "code-of-"+tenantID+"/"+grantID, 5*time.Minute)
	c.GrantID = grantID
	must(t, "CreateAuthCode(grant "+grantID+")", s.CreateAuthCode(t.Context(), c))
}

func testAuthCodes(t *testing.T, s oauthStore) {
	ctx := t.Context()
	c := newAuthCode("t1", "code-1", time.Minute)
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
	wantErr(t, "CreateAuthCode(duplicate)", s.CreateAuthCode(ctx, c), store.ErrConflict)

	_, err := s.RedeemAuthCode(ctx, "t1", hash("unknown"), at(0))
	wantErr(t, "RedeemAuthCode(unknown)", err, store.ErrNotFound)

	// Redemption returns every field, with UsedAt set to now.
	want := c
	want.UsedAt = at(10 * time.Second)
	got, err := s.RedeemAuthCode(ctx, "t1", hash("code-1"), at(10*time.Second))
	must(t, "RedeemAuthCode", err)
	if d := diff(want, got); d != "" {
		t.Errorf("RedeemAuthCode mismatch (-want +got):\n%s", d)
	}

	// A second redemption is reuse: the code comes back, with the time of
	// the first redemption, so that the caller can revoke its grant.
	got, err = s.RedeemAuthCode(ctx, "t1", hash("code-1"), at(20*time.Second))
	wantErr(t, "RedeemAuthCode(second time)", err, store.ErrReused)
	if d := diff(want, got); d != "" {
		t.Errorf("RedeemAuthCode(second time) mismatch (-want +got):\n%s", d)
	}
	// Once the used code has expired, it is simply not found (as it will
	// be once the sweeper has deleted it).
	_, err = s.RedeemAuthCode(ctx, "t1", hash("code-1"), at(time.Minute))
	wantErr(t, "RedeemAuthCode(used, then expired)", err, store.ErrNotFound)

	// Expired: at the expiry instant and after it. A refused redemption
	// does not use the code up.
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, newAuthCode("t1", "code-2", time.Minute)))
	for _, when := range []time.Duration{time.Minute, time.Hour} {
		_, err := s.RedeemAuthCode(ctx, "t1", hash("code-2"), at(when))
		wantErr(t, "RedeemAuthCode(expired)", err, store.ErrNotFound)
	}
	if _, err := s.RedeemAuthCode(ctx, "t1", hash("code-2"), at(59*time.Second)); err != nil {
		t.Errorf("RedeemAuthCode after refused expired redemptions: %v", err)
	}

	// A code stored as used (UsedAt round-trips) is reuse from the start.
	used := newAuthCode("t1", "code-3", time.Minute)
	used.UsedAt = at(-500 * time.Millisecond)
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, used))
	got, err = s.RedeemAuthCode(ctx, "t1", hash("code-3"), at(0))
	wantErr(t, "RedeemAuthCode(stored used)", err, store.ErrReused)
	if d := diff(used, got); d != "" {
		t.Errorf("RedeemAuthCode(stored used) mismatch (-want +got):\n%s", d)
	}

	// Optional fields may be empty and zero.
	bare := store.AuthCode{CodeHash: hash("code-4"), TenantID: "t1", ClientID: "web", ExpiresAt: at(time.Minute)}
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, bare))
	got, err = s.RedeemAuthCode(ctx, "t1", hash("code-4"), at(0))
	must(t, "RedeemAuthCode(bare)", err)
	bare.UsedAt = at(0)
	if d := diff(bare, got); d != "" {
		t.Errorf("RedeemAuthCode(bare) mismatch (-want +got):\n%s", d)
	}

	// "now" is stored as UsedAt, where zero means unused: a zero now must
	// not redeem (it would leave the code redeemable again).
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, newAuthCode("t1", "code-5", time.Minute)))
	if _, err := s.RedeemAuthCode(ctx, "t1", hash("code-5"), time.Time{}); err == nil {
		t.Errorf("RedeemAuthCode(zero now): got nil error")
	}
}

// testAuthCodeSingleUseRace: many requests present the same code at once;
// exactly one may redeem it, and every other one is told ErrReused with
// the code, so that it can revoke the grant.
func testAuthCodeSingleUseRace(t *testing.T, s oauthStore) {
	ctx := t.Context()
	const n = 50
	for round := range raceRounds {
		code := fmt.Sprintf("code-%d", round)
		c := newAuthCode("t1", code, time.Hour)
		must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
		results := parallel(n, func(int) (store.AuthCode, error) {
			return s.RedeemAuthCode(ctx, "t1", hash(code), at(0))
		})
		won, reused := 0, 0
		for _, r := range results {
			switch {
			case r.err == nil:
				won++
			case errors.Is(r.err, store.ErrReused):
				reused++
			default:
				t.Errorf("round %d: RedeemAuthCode: unexpected error %v", round, r.err)
				continue
			}
			if r.v.GrantID != c.GrantID || !r.v.UsedAt.Equal(at(0)) {
				t.Errorf("round %d: RedeemAuthCode (err %v) returned grant %q used at %v, want %q %v",
					round, r.err, r.v.GrantID, r.v.UsedAt, c.GrantID, at(0))
			}
		}
		if won != 1 || reused != n-1 {
			t.Errorf("round %d: %d concurrent redemptions: %d succeeded and %d got ErrReused, want 1 and %d",
				round, n, won, reused, n-1)
		}
	}
}

func testAuthCodeTenantIsolation(t *testing.T, s oauthStore) {
	ctx := t.Context()
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, newAuthCode("A", "code", time.Minute)))
	_, err := s.RedeemAuthCode(ctx, "B", hash("code"), at(0))
	wantErr(t, "RedeemAuthCode(other tenant)", err, store.ErrNotFound)
	// Trying through B did not use the code up; once used, B still learns
	// nothing about it.
	if _, err := s.RedeemAuthCode(ctx, "A", hash("code"), at(0)); err != nil {
		t.Fatalf("RedeemAuthCode(own tenant): %v", err)
	}
	got, err := s.RedeemAuthCode(ctx, "B", hash("code"), at(0))
	wantErr(t, "RedeemAuthCode(used, other tenant)", err, store.ErrNotFound)
	if got.GrantID != "" {
		t.Errorf("RedeemAuthCode(used, other tenant) returned grant %q", got.GrantID)
	}
}

func newRefreshToken(tenantID, token, grant string, expires time.Duration) store.RefreshToken {
	return store.RefreshToken{
		TokenHash: hash(token),
		TenantID:  tenantID,
		ClientID:  "web",
		UserID:    "u1",
		SessionID: "s1",
		GrantID:   grant,
		Scope:     "openid offline_access",
		AuthTime:  at(-time.Hour),
		CreatedAt: at(-time.Minute),
		ExpiresAt: at(expires),
	}
}

func testRefreshTokens(t *testing.T, s oauthStore) {
	ctx := t.Context()
	for _, g := range []string{"g1", "g2", "g3"} {
		startGrant(t, s, "t1", g)
	}
	rt := newRefreshToken("t1", "rt-1", "g1", 24*time.Hour)
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	wantErr(t, "CreateRefreshToken(duplicate)", s.CreateRefreshToken(ctx, rt), store.ErrConflict)

	got, err := s.RefreshTokenByHash(ctx, "t1", hash("rt-1"), at(0))
	must(t, "RefreshTokenByHash", err)
	if d := diff(rt, got); d != "" {
		t.Errorf("RefreshTokenByHash mismatch (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name string
		hash []byte
		now  time.Time
	}{
		{"at expiry", hash("rt-1"), at(24 * time.Hour)},
		{"after expiry", hash("rt-1"), at(48 * time.Hour)},
		{"unknown", hash("nope"), at(0)},
	} {
		_, err := s.RefreshTokenByHash(ctx, "t1", tc.hash, tc.now)
		wantErr(t, "RefreshTokenByHash("+tc.name+")", err, store.ErrNotFound)
	}

	// Rotation returns the old token, now used, and creates the successor
	// with the old one's client, user, session, grant, scope and auth time.
	oldUsed := rt
	oldUsed.UsedAt = at(time.Minute)
	got, err = s.RotateRefreshToken(ctx, "t1", hash("rt-1"), hash("rt-2"), at(time.Minute), at(48*time.Hour))
	must(t, "RotateRefreshToken", err)
	if d := diff(oldUsed, got); d != "" {
		t.Errorf("RotateRefreshToken returned (-want +got):\n%s", d)
	}
	succ := rt
	succ.TokenHash, succ.CreatedAt, succ.ExpiresAt = hash("rt-2"), at(time.Minute), at(48*time.Hour)
	got, err = s.RefreshTokenByHash(ctx, "t1", hash("rt-2"), at(time.Minute))
	must(t, "RefreshTokenByHash(successor)", err)
	if d := diff(succ, got); d != "" {
		t.Errorf("successor mismatch (-want +got):\n%s", d)
	}
	// The used token is still found, and shows it is used.
	got, err = s.RefreshTokenByHash(ctx, "t1", hash("rt-1"), at(time.Minute))
	must(t, "RefreshTokenByHash(used)", err)
	if d := diff(oldUsed, got); d != "" {
		t.Errorf("RefreshTokenByHash(used) mismatch (-want +got):\n%s", d)
	}

	// Presenting the used token again is reuse: the old token comes back
	// (so the caller can revoke its grant) and no successor is created.
	got, err = s.RotateRefreshToken(ctx, "t1", hash("rt-1"), hash("rt-x"), at(2*time.Minute), at(48*time.Hour))
	wantErr(t, "RotateRefreshToken(reuse)", err, store.ErrReused)
	if d := diff(oldUsed, got); d != "" {
		t.Errorf("RotateRefreshToken(reuse) returned (-want +got):\n%s", d)
	}
	_, err = s.RefreshTokenByHash(ctx, "t1", hash("rt-x"), at(0))
	wantErr(t, "RefreshTokenByHash(successor of a reused token)", err, store.ErrNotFound)

	// The successor rotates in turn; a successor hash that already exists
	// is a conflict and rolls the whole rotation back.
	wantErr(t, "RotateRefreshToken(existing successor hash)",
		rotateErr(s.RotateRefreshToken(ctx, "t1", hash("rt-2"), hash("rt-1"), at(3*time.Minute), at(48*time.Hour))),
		store.ErrConflict)
	got, err = s.RefreshTokenByHash(ctx, "t1", hash("rt-2"), at(3*time.Minute))
	must(t, "RefreshTokenByHash", err)
	if !got.UsedAt.IsZero() {
		t.Errorf("a rotation that failed on its INSERT left the old token used at %v", got.UsedAt)
	}
	if _, err := s.RotateRefreshToken(ctx, "t1", hash("rt-2"), hash("rt-3"), at(3*time.Minute), at(72*time.Hour)); err != nil {
		t.Fatalf("RotateRefreshToken(successor): %v", err)
	}
	got, err = s.RefreshTokenByHash(ctx, "t1", hash("rt-3"), at(3*time.Minute))
	must(t, "RefreshTokenByHash(second successor)", err)
	if got.GrantID != "g1" || !got.AuthTime.Equal(rt.AuthTime) || !got.CreatedAt.Equal(at(3*time.Minute)) {
		t.Errorf("second successor: grant %q auth time %v created %v, want g1 %v %v",
			got.GrantID, got.AuthTime, got.CreatedAt, rt.AuthTime, at(3*time.Minute))
	}

	// Unknown and expired tokens are not found, and expired ones are not
	// used up by the attempt.
	_, err = s.RotateRefreshToken(ctx, "t1", hash("nope"), hash("rt-y"), at(0), at(time.Hour))
	wantErr(t, "RotateRefreshToken(unknown)", err, store.ErrNotFound)
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-exp", "g2", time.Hour)))
	for _, when := range []time.Duration{time.Hour, 2 * time.Hour} {
		_, err = s.RotateRefreshToken(ctx, "t1", hash("rt-exp"), hash("rt-z"), at(when), at(48*time.Hour))
		wantErr(t, "RotateRefreshToken(expired)", err, store.ErrNotFound)
	}
	if _, err := s.RefreshTokenByHash(ctx, "t1", hash("rt-z"), at(0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefreshToken(expired) created a successor: %v", err)
	}
	got, err = s.RefreshTokenByHash(ctx, "t1", hash("rt-exp"), at(0))
	must(t, "RefreshTokenByHash", err)
	if !got.UsedAt.IsZero() {
		t.Errorf("refused rotation of an expired token marked it used at %v", got.UsedAt)
	}
	// A used token past its expiry is not found either (not ErrReused).
	_, err = s.RotateRefreshToken(ctx, "t1", hash("rt-1"), hash("rt-w"), at(24*time.Hour), at(48*time.Hour))
	wantErr(t, "RotateRefreshToken(used, then expired)", err, store.ErrNotFound)

	// A zero now would store "unused": refused.
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-0", "g3", time.Hour)))
	if _, err := s.RotateRefreshToken(ctx, "t1", hash("rt-0"), hash("rt-0b"), time.Time{}, at(time.Hour)); err == nil {
		t.Errorf("RotateRefreshToken(zero now): got nil error")
	}
}

// rotateErr drops the token of a RotateRefreshToken result.
func rotateErr(_ store.RefreshToken, err error) error { return err }

// testRefreshTokenRotationRace: many requests present the same refresh
// token at once, each with its own successor; exactly one may rotate it,
// every other one gets ErrReused with the old token, and only the
// winner's successor exists.
func testRefreshTokenRotationRace(t *testing.T, s oauthStore) {
	ctx := t.Context()
	const n = 50
	for round := range raceRounds {
		old := fmt.Sprintf("rt-%d", round)
		grant := fmt.Sprintf("g-%d", round)
		successor := func(i int) []byte { return hash(fmt.Sprintf("rt-%d-new-%d", round, i)) }
		startGrant(t, s, "t1", grant)
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", old, grant, 24*time.Hour)))
		results := parallel(n, func(i int) (store.RefreshToken, error) {
			return s.RotateRefreshToken(ctx, "t1", hash(old), successor(i), at(time.Minute), at(48*time.Hour))
		})
		winner, reused := -1, 0
		for i, r := range results {
			switch {
			case r.err == nil:
				if winner >= 0 {
					t.Errorf("round %d: RotateRefreshToken: both %d and %d won", round, winner, i)
				}
				winner = i
			case errors.Is(r.err, store.ErrReused):
				reused++
			default:
				t.Errorf("round %d: RotateRefreshToken: unexpected error %v", round, r.err)
				continue
			}
			if r.v.GrantID != grant || !r.v.UsedAt.Equal(at(time.Minute)) {
				t.Errorf("round %d: RotateRefreshToken (err %v) returned grant %q used at %v, want %q %v",
					round, r.err, r.v.GrantID, r.v.UsedAt, grant, at(time.Minute))
			}
		}
		if winner < 0 || reused != n-1 {
			t.Fatalf("round %d: %d concurrent rotations: winner %d, %d got ErrReused, want one winner and %d",
				round, n, winner, reused, n-1)
		}
		// Of the would-be successors, only the winner's exists.
		for i := range n {
			got, err := s.RefreshTokenByHash(ctx, "t1", successor(i), at(time.Minute))
			switch {
			case i == winner && err != nil:
				t.Errorf("round %d: winner's successor: %v", round, err)
			case i == winner && got.GrantID != grant:
				t.Errorf("round %d: winner's successor has grant %q, want %q", round, got.GrantID, grant)
			case i != winner && !errors.Is(err, store.ErrNotFound):
				t.Errorf("round %d: loser %d's successor: got %v, want ErrNotFound", round, i, err)
			}
		}
	}
}

func testRefreshTokenTenantIsolation(t *testing.T, s oauthStore) {
	ctx := t.Context()
	startGrant(t, s, "A", "g1")
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("A", "rt-a", "g1", time.Hour)))
	_, err := s.RefreshTokenByHash(ctx, "B", hash("rt-a"), at(0))
	wantErr(t, "RefreshTokenByHash(other tenant)", err, store.ErrNotFound)
	_, err = s.RotateRefreshToken(ctx, "B", hash("rt-a"), hash("rt-b"), at(0), at(time.Hour))
	wantErr(t, "RotateRefreshToken(other tenant)", err, store.ErrNotFound)
	for _, tenant := range []string{"A", "B"} {
		if _, err := s.RefreshTokenByHash(ctx, tenant, hash("rt-b"), at(0)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rotation through another tenant created a successor in %s: %v", tenant, err)
		}
	}
	got, err := s.RefreshTokenByHash(ctx, "A", hash("rt-a"), at(0))
	must(t, "RefreshTokenByHash(own tenant)", err)
	if !got.UsedAt.IsZero() {
		t.Errorf("token of A was used through tenant B")
	}
	n, err := s.RevokeGrant(ctx, "B", "g1")
	if err != nil || n != 0 {
		t.Errorf("RevokeGrant(other tenant) = (%d, %v), want (0, nil)", n, err)
	}
	// Once used, B learns nothing about it either.
	if _, err := s.RotateRefreshToken(ctx, "A", hash("rt-a"), hash("rt-a2"), at(0), at(time.Hour)); err != nil {
		t.Fatalf("RotateRefreshToken(own tenant): %v", err)
	}
	_, err = s.RotateRefreshToken(ctx, "B", hash("rt-a"), hash("rt-b"), at(0), at(time.Hour))
	wantErr(t, "RotateRefreshToken(used, other tenant)", err, store.ErrNotFound)
}

func testRevokeGrant(t *testing.T, s oauthStore) {
	ctx := t.Context()
	access := func(tenant, token, grant string) store.AccessToken {
		return store.AccessToken{
			TokenHash: hash(token), TenantID: tenant, ClientID: "web", UserID: "u1", Scope: "openid",
			GrantID: grant, SessionID: "s1", AuthTime: at(-time.Hour), CreatedAt: at(0), ExpiresAt: at(time.Hour),
		}
	}
	startGrant(t, s, "t1", "g1")
	startGrant(t, s, "t1", "g2")
	startGrant(t, s, "t2", "g1")
	// Grant g1 of t1: a rotated family (one used, one current refresh
	// token) and two access tokens, one of them expired.
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-g1-a", "g1", 24*time.Hour)))
	_, err := s.RotateRefreshToken(ctx, "t1", hash("rt-g1-a"), hash("rt-g1-b"), at(0), at(24*time.Hour))
	must(t, "RotateRefreshToken", err)
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, access("t1", "at-g1-a", "g1")))
	expired := access("t1", "at-g1-b", "g1")
	expired.ExpiresAt = at(-time.Minute)
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, expired))
	// Not to be touched: grant g2 of t1, grant g1 of t2 and a
	// client_credentials token (no grant).
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-g2", "g2", 24*time.Hour)))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, access("t1", "at-g2", "g2")))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t2", "rt-t2", "g1", 24*time.Hour)))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, access("t2", "at-t2", "g1")))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, store.AccessToken{
		TokenHash: hash("at-cc"), TenantID: "t1", ClientID: "svc", CreatedAt: at(0), ExpiresAt: at(time.Hour),
	}))

	if _, err := s.RevokeGrant(ctx, "t1", ""); err == nil {
		t.Errorf("RevokeGrant(empty grant): got nil error")
	}
	n, err := s.RevokeGrant(ctx, "t1", "g1")
	must(t, "RevokeGrant", err)
	if n != 4 {
		t.Errorf("RevokeGrant = %d, want 4 (two refresh and two access tokens)", n)
	}
	for _, tok := range []string{"rt-g1-a", "rt-g1-b"} {
		if _, err := s.RefreshTokenByHash(ctx, "t1", hash(tok), at(0)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refresh token %s after RevokeGrant: got %v, want ErrNotFound", tok, err)
		}
	}
	_, err = s.RotateRefreshToken(ctx, "t1", hash("rt-g1-b"), hash("rt-g1-c"), at(0), at(24*time.Hour))
	wantErr(t, "RotateRefreshToken(revoked)", err, store.ErrNotFound)
	for _, tok := range []string{"at-g1-a", "at-g1-b"} {
		if _, err := s.AccessTokenByHash(ctx, "t1", hash(tok), at(-2*time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("access token %s after RevokeGrant: got %v, want ErrNotFound", tok, err)
		}
	}
	for _, tc := range []struct{ tenant, token string }{{"t1", "rt-g2"}, {"t2", "rt-t2"}} {
		if _, err := s.RefreshTokenByHash(ctx, tc.tenant, hash(tc.token), at(0)); err != nil {
			t.Errorf("refresh token %s/%s lost by RevokeGrant: %v", tc.tenant, tc.token, err)
		}
	}
	for _, tc := range []struct{ tenant, token string }{{"t1", "at-g2"}, {"t2", "at-t2"}, {"t1", "at-cc"}} {
		if _, err := s.AccessTokenByHash(ctx, tc.tenant, hash(tc.token), at(0)); err != nil {
			t.Errorf("access token %s/%s lost by RevokeGrant: %v", tc.tenant, tc.token, err)
		}
	}

	// The revoked grant takes no new tokens; the others still do.
	wantErr(t, "CreateAccessToken(revoked grant)",
		s.CreateAccessToken(ctx, access("t1", "at-g1-c", "g1")), store.ErrRevoked)
	wantErr(t, "CreateRefreshToken(revoked grant)",
		s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-g1-c", "g1", time.Hour)), store.ErrRevoked)
	must(t, "CreateAccessToken(grant g2)", s.CreateAccessToken(ctx, access("t1", "at-g2-b", "g2")))
	must(t, "CreateAccessToken(grant g1 of t2)", s.CreateAccessToken(ctx, access("t2", "at-t2-b", "g1")))

	n, err = s.RevokeGrant(ctx, "t1", "g1")
	if err != nil || n != 0 {
		t.Errorf("RevokeGrant(again) = (%d, %v), want (0, nil)", n, err)
	}
	wantErr(t, "CreateAccessToken(grant revoked twice)",
		s.CreateAccessToken(ctx, access("t1", "at-g1-d", "g1")), store.ErrRevoked)
	n, err = s.RevokeGrant(ctx, "t1", "unknown")
	if err != nil || n != 0 {
		t.Errorf("RevokeGrant(unknown) = (%d, %v), want (0, nil)", n, err)
	}
}

func testDeleteAccessToken(t *testing.T, s oauthStore) {
	ctx := t.Context()
	for _, tok := range []string{"at-1", "at-2"} {
		must(t, "CreateAccessToken", s.CreateAccessToken(ctx, store.AccessToken{
			TokenHash: hash(tok), TenantID: "t1", ClientID: "web", UserID: "u1",
			CreatedAt: at(0), ExpiresAt: at(time.Hour),
		}))
	}
	wantErr(t, "DeleteAccessToken(other tenant)", s.DeleteAccessToken(ctx, "t2", hash("at-1")), store.ErrNotFound)
	wantErr(t, "DeleteAccessToken(unknown)", s.DeleteAccessToken(ctx, "t1", hash("nope")), store.ErrNotFound)
	must(t, "DeleteAccessToken", s.DeleteAccessToken(ctx, "t1", hash("at-1")))
	_, err := s.AccessTokenByHash(ctx, "t1", hash("at-1"), at(0))
	wantErr(t, "AccessTokenByHash(deleted)", err, store.ErrNotFound)
	wantErr(t, "DeleteAccessToken(again)", s.DeleteAccessToken(ctx, "t1", hash("at-1")), store.ErrNotFound)
	if _, err := s.AccessTokenByHash(ctx, "t1", hash("at-2"), at(0)); err != nil {
		t.Errorf("other access token lost: %v", err)
	}
}

// testSweepExpiredOAuth: SweepExpired also sweeps expired authorization
// codes and refresh tokens, in batches, used or not, and keeps unexpired
// ones, used or not (they are needed to detect reuse).
func testSweepExpiredOAuth(t *testing.T, s oauthStore) {
	ctx := t.Context()
	// Per table: 3 expired records (one exactly at "now") and 2 live ones;
	// records b and d are used.
	expiries := []time.Duration{-time.Hour, -time.Minute, 0, time.Millisecond, time.Hour}
	for i, e := range expiries {
		n := string(rune('a' + i))
		// One grant for all, which keeps records throughout: sweeping
		// grants is not this test's business.
		c := newAuthCode("t1", "code-"+n, e)
		c.GrantID = "g-sweep"
		c.CreatedAt = at(-2 * time.Hour)
		rt := newRefreshToken("t1", "rt-"+n, "g-sweep", e)
		rt.CreatedAt = at(-2 * time.Hour)
		if n == "b" || n == "d" {
			c.UsedAt = at(-90 * time.Minute)
			rt.UsedAt = at(-90 * time.Minute)
		}
		must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	}
	const tables = 2
	wantSweeps(t, s, tables)

	// Lookups use a clock before every expiry, so that only deletion can
	// hide a record.
	early := at(-80 * time.Minute)
	for i := range expiries {
		n := string(rune('a' + i))
		live := i >= 3
		_, err := s.RefreshTokenByHash(ctx, "t1", hash("rt-"+n), early)
		switch {
		case live && err != nil:
			t.Errorf("live refresh token %s: %v", n, err)
		case !live && !errors.Is(err, store.ErrNotFound):
			t.Errorf("expired refresh token %s: got %v, want ErrNotFound", n, err)
		}
		_, err = s.RedeemAuthCode(ctx, "t1", hash("code-"+n), early)
		switch {
		case !live:
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("expired auth code %s: got %v, want ErrNotFound", n, err)
			}
		case n == "d": // used
			if !errors.Is(err, store.ErrReused) {
				t.Errorf("live used auth code %s: got %v, want ErrReused", n, err)
			}
		default:
			if err != nil {
				t.Errorf("live auth code %s: %v", n, err)
			}
		}
	}
}

// testRevokedGrantRefusesTokens: a token is created only in a grant that
// exists (started by CreateAuthCode) and is not revoked; otherwise the
// create call is store.ErrRevoked and stores nothing.
func testRevokedGrantRefusesTokens(t *testing.T, s oauthStore) {
	ctx := t.Context()
	access := func(token, grant string) store.AccessToken {
		return store.AccessToken{
			TokenHash: hash(token), TenantID: "t1", ClientID: "web", UserID: "u1", Scope: "openid",
			GrantID: grant, SessionID: "s1", CreatedAt: at(0), ExpiresAt: at(time.Hour),
		}
	}
	refused := func(what string, err error, token string) {
		t.Helper()
		wantErr(t, what, err, store.ErrRevoked)
		if _, err := s.AccessTokenByHash(ctx, "t1", hash(token), at(0)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s stored access token %s anyway: %v", what, token, err)
		}
		if _, err := s.RefreshTokenByHash(ctx, "t1", hash(token), at(0)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s stored refresh token %s anyway: %v", what, token, err)
		}
	}

	// A grant that was never started: unknown counts as revoked. A
	// refresh token without a grant is in the unknown grant "".
	refused("CreateAccessToken(unknown grant)", s.CreateAccessToken(ctx, access("at-u", "nope")), "at-u")
	refused("CreateRefreshToken(unknown grant)",
		s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-u", "nope", time.Hour)), "rt-u")
	refused("CreateRefreshToken(no grant)",
		s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-none", "", time.Hour)), "rt-none")
	// The grant of another tenant does not count.
	startGrant(t, s, "t2", "g-other")
	refused("CreateAccessToken(grant of another tenant)", s.CreateAccessToken(ctx, access("at-o", "g-other")), "at-o")

	// A live grant takes tokens of all three kinds; a duplicate hash is
	// still a conflict.
	startGrant(t, s, "t1", "g1")
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, access("at-1", "g1")))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-1", "g1", time.Hour)))
	_, err := s.RotateRefreshToken(ctx, "t1", hash("rt-1"), hash("rt-2"), at(0), at(time.Hour))
	must(t, "RotateRefreshToken", err)
	wantErr(t, "CreateAccessToken(duplicate)", s.CreateAccessToken(ctx, access("at-1", "g1")), store.ErrConflict)
	wantErr(t, "CreateRefreshToken(duplicate)",
		s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-2", "g1", time.Hour)), store.ErrConflict)

	// Revoked: every creation is refused, the rotation of a token the
	// revocation deleted included, and nothing is created.
	n, err := s.RevokeGrant(ctx, "t1", "g1")
	must(t, "RevokeGrant", err)
	if n != 3 {
		t.Errorf("RevokeGrant = %d, want 3", n)
	}
	refused("CreateAccessToken(revoked grant)", s.CreateAccessToken(ctx, access("at-r", "g1")), "at-r")
	refused("CreateRefreshToken(revoked grant)",
		s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-r", "g1", time.Hour)), "rt-r")
	_, err = s.RotateRefreshToken(ctx, "t1", hash("rt-2"), hash("rt-3"), at(time.Second), at(time.Hour))
	if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrRevoked) {
		t.Errorf("RotateRefreshToken(revoked grant): got %v, want ErrNotFound or ErrRevoked", err)
	}
	if _, err := s.RefreshTokenByHash(ctx, "t1", hash("rt-3"), at(0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefreshToken(revoked grant) created a successor: %v", err)
	}
	// Same grant id, other tenant: unaffected.
	must(t, "CreateAccessToken(same grant id, other tenant)", s.CreateAccessToken(ctx, store.AccessToken{
		TokenHash: hash("at-t2"), TenantID: "t2", ClientID: "web", GrantID: "g-other", CreatedAt: at(0), ExpiresAt: at(time.Hour),
	}))

	// Revoking a grant that does not exist yet refuses it for good: an
	// authorization code stored with its id afterwards does not revive it.
	n, err = s.RevokeGrant(ctx, "t1", "g-early")
	if err != nil || n != 0 {
		t.Errorf("RevokeGrant(unknown) = (%d, %v), want (0, nil)", n, err)
	}
	c := newAuthCode("t1", "code-early", time.Minute)
	c.GrantID = "g-early"
	if err := s.CreateAuthCode(ctx, c); err != nil && !errors.Is(err, store.ErrRevoked) {
		t.Errorf("CreateAuthCode(revoked grant): %v", err)
	}
	refused("CreateAccessToken(grant revoked before its code)", s.CreateAccessToken(ctx, access("at-e", "g-early")), "at-e")
	refused("CreateRefreshToken(grant revoked before its code)",
		s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-e", "g-early", time.Hour)), "rt-e")

	// Tokens without a grant (client_credentials) do not care.
	must(t, "CreateAccessToken(no grant)", s.CreateAccessToken(ctx, access("at-cc", "")))
}

// testRevokeGrantRace is the race RevokeGrant must close: it runs at the
// moment tokens of the grant are being created, by a code exchange that
// beat a replay (RFC 9700 §4.14) or by a rotation. Afterwards no token of
// the grant may exist: each creation either committed before the
// revocation, and was deleted by it, or was refused with ErrRevoked.
func testRevokeGrantRace(t *testing.T, s oauthStore) {
	ctx := t.Context()
	access := func(token, grant string) store.AccessToken {
		return store.AccessToken{
			TokenHash: hash(token), TenantID: "t1", ClientID: "web", UserID: "u1", Scope: "openid",
			GrantID: grant, SessionID: "s1", CreatedAt: at(0), ExpiresAt: at(time.Hour),
		}
	}
	var created, refused int
	// gone fails the test unless no token of the given hashes exists.
	gone := func(round int, tokens []string) {
		t.Helper()
		for _, tok := range tokens {
			if _, err := s.AccessTokenByHash(ctx, "t1", hash(tok), at(0)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: access token %s outlived RevokeGrant: %v", round, tok, err)
			}
			if _, err := s.RefreshTokenByHash(ctx, "t1", hash(tok), at(0)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: refresh token %s outlived RevokeGrant: %v", round, tok, err)
			}
		}
	}
	// count tallies a creation's outcome; ok lists the other acceptable
	// errors.
	count := func(round int, what string, err error, ok ...error) {
		t.Helper()
		switch {
		case err == nil:
			created++
			return
		case errors.Is(err, store.ErrRevoked):
			refused++
			return
		}
		for _, e := range ok {
			if errors.Is(err, e) {
				return
			}
		}
		t.Errorf("round %d: %s: unexpected error %v", round, what, err)
	}

	// Creators of all three kinds against one revoker. The revoker yields
	// a varying number of times first, so that it lands at different
	// points of the creations.
	const creators = 12
	for round := range 5 * raceRounds {
		grant := fmt.Sprintf("g-%d", round)
		startGrant(t, s, "t1", grant)
		first := fmt.Sprintf("rt-%d", round)
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", first, grant, time.Hour)))
		tokens := []string{first}
		tok := func(i int) string { return fmt.Sprintf("tok-%d-%d", round, i) }
		for i := range creators {
			tokens = append(tokens, tok(i))
		}
		results := parallel(creators+1, func(i int) (int64, error) {
			switch {
			case i == creators:
				for range round % 7 {
					runtime.Gosched()
				}
				return s.RevokeGrant(ctx, "t1", grant)
			case i%3 == 0:
				return 0, s.CreateAccessToken(ctx, access(tok(i), grant))
			case i%3 == 1:
				return 0, s.CreateRefreshToken(ctx, newRefreshToken("t1", tok(i), grant, time.Hour))
			default:
				_, err := s.RotateRefreshToken(ctx, "t1", hash(first), hash(tok(i)), at(0), at(time.Hour))
				return 0, err
			}
		})
		if err := results[creators].err; err != nil {
			t.Fatalf("round %d: RevokeGrant: %v", round, err)
		}
		for i, r := range results[:creators] {
			// A rotation may also lose to another rotation (ErrReused)
			// or find its token deleted (ErrNotFound).
			count(round, fmt.Sprintf("creator %d", i), r.err, store.ErrReused, store.ErrNotFound)
		}
		gone(round, tokens)
	}

	// The case of RFC 9700 §4.14: a code and its replay are redeemed at
	// once; the winner creates the access token and the first refresh
	// token, the loser revokes the grant.
	for round := range 5 * raceRounds {
		code := fmt.Sprintf("replayed-%d", round)
		c := newAuthCode("t1", code, time.Hour)
		must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
		at1, rt1 := code+"-at", code+"-rt"
		// The winner reports the errors of its two creations (nil
		// slice: it is the loser).
		results := parallel(2, func(int) ([]error, error) {
			_, err := s.RedeemAuthCode(ctx, "t1", hash(code), at(0))
			switch {
			case errors.Is(err, store.ErrReused):
				_, err := s.RevokeGrant(ctx, "t1", c.GrantID)
				return nil, err
			case err != nil:
				return nil, err
			}
			errs := []error{s.CreateAccessToken(ctx, access(at1, c.GrantID))}
			if errs[0] == nil {
				errs = append(errs, s.CreateRefreshToken(ctx, newRefreshToken("t1", rt1, c.GrantID, time.Hour)))
			}
			return errs, nil
		})
		if results[0].err != nil || results[1].err != nil || (results[0].v == nil) == (results[1].v == nil) {
			t.Fatalf("round %d: redemptions: %+v, want one exchange and one revocation", round, results)
		}
		for _, r := range results {
			for _, err := range r.v {
				count(round, "exchange", err)
			}
		}
		gone(round, []string{at1, rt1})
	}
	t.Logf("%d tokens created before the revocation (and deleted by it), %d refused after it", created, refused)
}

// testSweepKeepsGrants: sweeping never ends a live grant, not even one
// whose code was redeemed just before it expired and then swept, before
// the exchange created the first token; and it never revives a revoked
// grant.
func testSweepKeepsGrants(t *testing.T, s oauthStore) {
	ctx := t.Context()
	access := func(token, grant string) store.AccessToken {
		return store.AccessToken{
			TokenHash: hash(token), TenantID: "t1", ClientID: "web", UserID: "u1", Scope: "openid",
			GrantID: grant, SessionID: "s1", CreatedAt: at(2 * time.Hour), ExpiresAt: at(3 * time.Hour),
		}
	}
	// g-family: started two hours ago, its code long gone, one live
	// refresh token left. g-exchange: its code, created five minutes ago,
	// is redeemed a moment before it expires. g-revoked: revoked, with
	// nothing left.
	family := newAuthCode("t1", "code-family", -time.Hour)
	family.GrantID, family.CreatedAt = "g-family", at(-2*time.Hour)
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, family))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-family", "g-family", 24*time.Hour)))
	exchange := newAuthCode("t1", "code-exchange", 0)
	exchange.GrantID, exchange.CreatedAt = "g-exchange", at(-5*time.Minute)
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, exchange))
	_, err := s.RedeemAuthCode(ctx, "t1", hash("code-exchange"), at(-time.Millisecond))
	must(t, "RedeemAuthCode", err)
	revoked := newAuthCode("t1", "code-revoked", -time.Hour)
	revoked.GrantID, revoked.CreatedAt = "g-revoked", at(-2*time.Hour)
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, revoked))
	_, err = s.RevokeGrant(ctx, "t1", "g-revoked")
	must(t, "RevokeGrant", err)

	// Sweep a minute later, in small batches and then in one.
	for _, batch := range []int{1, 1, 1, 1, 100, 100} {
		_, err := s.SweepExpired(ctx, at(time.Minute), batch)
		must(t, "SweepExpired", err)
	}
	if _, err := s.RedeemAuthCode(ctx, "t1", hash("code-exchange"), at(-time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the exchanged code was not swept: %v", err)
	}
	must(t, "CreateAccessToken(exchange after its code was swept)", s.CreateAccessToken(ctx, access("at-exchange", "g-exchange")))
	must(t, "CreateRefreshToken(exchange after its code was swept)",
		s.CreateRefreshToken(ctx, newRefreshToken("t1", "rt-exchange", "g-exchange", 24*time.Hour)))
	_, err = s.RotateRefreshToken(ctx, "t1", hash("rt-family"), hash("rt-family-2"), at(2*time.Hour), at(24*time.Hour))
	must(t, "RotateRefreshToken(family)", err)
	must(t, "CreateAccessToken(family)", s.CreateAccessToken(ctx, access("at-family", "g-family")))
	wantErr(t, "CreateAccessToken(revoked, swept)", s.CreateAccessToken(ctx, access("at-revoked", "g-revoked")), store.ErrRevoked)
}
