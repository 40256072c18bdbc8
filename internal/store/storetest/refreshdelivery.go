package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// deliveryStore is what the pending-refresh-token subtests need.
type deliveryStore interface {
	oauthStore
	store.RefreshDeliveryStore
}

// refreshDelivery adapts a store.RefreshDeliveryStore subtest to Run's
// signature; a store that does not implement it skips the subtest.
func refreshDelivery(f func(t *testing.T, s deliveryStore)) func(t *testing.T, s store.Store) {
	return func(t *testing.T, s store.Store) {
		d, ok := s.(deliveryStore)
		if !ok {
			t.Skipf("%T does not implement store.RefreshDeliveryStore", s)
		}
		f(t, d)
	}
}

// testRefreshTokenPending: a pending rotation behaves as a plain one, its
// successor is found pending (in its grant, tenant and lifetime only)
// until confirmed or used, and a plain rotation's successor is never
// pending.
func testRefreshTokenPending(t *testing.T, s deliveryStore) {
	ctx := t.Context()
	startGrant(t, s, "t1", "g1")
	startGrant(t, s, "t1", "g2")
	rt := newRefreshToken("t1", "rt-1", "g1", 24*time.Hour)
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	pending := func(tenant, grant, token string, now time.Time) error {
		t.Helper()
		_, err := s.PendingRefreshToken(ctx, tenant, grant, hash(token), now)
		return err
	}
	// A token created by CreateRefreshToken is not pending.
	wantErr(t, "PendingRefreshToken(first token)", pending("t1", "g1", "rt-1", at(0)), store.ErrNotFound)

	// The pending rotation returns the old token, used, and creates the
	// same successor as RotateRefreshToken.
	oldUsed := rt
	oldUsed.UsedAt = at(time.Minute)
	got, err := s.RotateRefreshTokenPending(ctx, "t1", hash("rt-1"), hash("rt-2"), at(time.Minute), at(48*time.Hour))
	must(t, "RotateRefreshTokenPending", err)
	if d := diff(oldUsed, got); d != "" {
		t.Errorf("RotateRefreshTokenPending returned (-want +got):\n%s", d)
	}
	succ := rt
	succ.TokenHash, succ.CreatedAt, succ.ExpiresAt = hash("rt-2"), at(time.Minute), at(48*time.Hour)
	got, err = s.PendingRefreshToken(ctx, "t1", "g1", hash("rt-2"), at(time.Minute))
	must(t, "PendingRefreshToken", err)
	if d := diff(succ, got); d != "" {
		t.Errorf("PendingRefreshToken mismatch (-want +got):\n%s", d)
	}
	got, err = s.RefreshTokenByHash(ctx, "t1", hash("rt-2"), at(time.Minute))
	must(t, "RefreshTokenByHash(pending successor)", err)
	if d := diff(succ, got); d != "" {
		t.Errorf("RefreshTokenByHash(pending successor) mismatch (-want +got):\n%s", d)
	}
	// Only in its grant and tenant, and while it lives.
	wantErr(t, "PendingRefreshToken(other grant)", pending("t1", "g2", "rt-2", at(time.Minute)), store.ErrNotFound)
	wantErr(t, "PendingRefreshToken(other tenant)", pending("t2", "g1", "rt-2", at(time.Minute)), store.ErrNotFound)
	wantErr(t, "PendingRefreshToken(at expiry)", pending("t1", "g1", "rt-2", at(48*time.Hour)), store.ErrNotFound)
	wantErr(t, "PendingRefreshToken(unknown)", pending("t1", "g1", "nope", at(time.Minute)), store.ErrNotFound)

	// Reuse of the old token is still reuse, and creates nothing.
	_, err = s.RotateRefreshTokenPending(ctx, "t1", hash("rt-1"), hash("rt-x"), at(2*time.Minute), at(48*time.Hour))
	wantErr(t, "RotateRefreshTokenPending(reuse)", err, store.ErrReused)
	_, err = s.RefreshTokenByHash(ctx, "t1", hash("rt-x"), at(0))
	wantErr(t, "RefreshTokenByHash(successor of a reused token)", err, store.ErrNotFound)

	// Confirmation, in another tenant first, which changes nothing.
	must(t, "ConfirmRefreshToken(other tenant)", s.ConfirmRefreshToken(ctx, "t2", hash("rt-2")))
	must(t, "PendingRefreshToken after another tenant's confirmation", pending("t1", "g1", "rt-2", at(time.Minute)))
	must(t, "ConfirmRefreshToken", s.ConfirmRefreshToken(ctx, "t1", hash("rt-2")))
	wantErr(t, "PendingRefreshToken(confirmed)", pending("t1", "g1", "rt-2", at(time.Minute)), store.ErrNotFound)
	must(t, "ConfirmRefreshToken(again)", s.ConfirmRefreshToken(ctx, "t1", hash("rt-2")))
	must(t, "ConfirmRefreshToken(unknown)", s.ConfirmRefreshToken(ctx, "t1", hash("nope")))

	// A used successor is no longer pending, confirmed or not.
	_, err = s.RotateRefreshTokenPending(ctx, "t1", hash("rt-2"), hash("rt-3"), at(3*time.Minute), at(48*time.Hour))
	must(t, "RotateRefreshTokenPending(rt-2)", err)
	_, err = s.RotateRefreshTokenPending(ctx, "t1", hash("rt-3"), hash("rt-4"), at(4*time.Minute), at(48*time.Hour))
	must(t, "RotateRefreshTokenPending(rt-3, never confirmed)", err)
	wantErr(t, "PendingRefreshToken(used)", pending("t1", "g1", "rt-3", at(4*time.Minute)), store.ErrNotFound)
	must(t, "PendingRefreshToken(rt-4)", pending("t1", "g1", "rt-4", at(4*time.Minute)))

	// A plain rotation's successor is not pending.
	_, err = s.RotateRefreshToken(ctx, "t1", hash("rt-4"), hash("rt-5"), at(5*time.Minute), at(48*time.Hour))
	must(t, "RotateRefreshToken(rt-4)", err)
	wantErr(t, "PendingRefreshToken(plain successor)", pending("t1", "g1", "rt-5", at(5*time.Minute)), store.ErrNotFound)

	// A revoked family has no pending token left.
	_, err = s.RotateRefreshTokenPending(ctx, "t1", hash("rt-5"), hash("rt-6"), at(6*time.Minute), at(48*time.Hour))
	must(t, "RotateRefreshTokenPending(rt-5)", err)
	_, err = s.RevokeGrant(ctx, "t1", "g1")
	must(t, "RevokeGrant", err)
	wantErr(t, "PendingRefreshToken(revoked family)", pending("t1", "g1", "rt-6", at(6*time.Minute)), store.ErrNotFound)
}

// testRefreshTokenPendingRace: concurrent pending rotations of one token,
// all with the same successor (the OAuth layer derives it from the
// presented token, so a client's concurrent retries agree on it): exactly
// one rotates, every other one is ErrReused (never ErrConflict), and the
// one successor exists, pending.
func testRefreshTokenPendingRace(t *testing.T, s deliveryStore) {
	ctx := t.Context()
	const n = 30
	for round := range raceRounds {
		old, next := fmt.Sprintf("rt-%d", round), fmt.Sprintf("rt-%d-next", round)
		grant := fmt.Sprintf("g-%d", round)
		startGrant(t, s, "t1", grant)
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefreshToken("t1", old, grant, 24*time.Hour)))
		results := parallel(n, func(int) (store.RefreshToken, error) {
			return s.RotateRefreshTokenPending(ctx, "t1", hash(old), hash(next), at(time.Minute), at(48*time.Hour))
		})
		won, reused := 0, 0
		for _, r := range results {
			switch {
			case r.err == nil:
				won++
			case errors.Is(r.err, store.ErrReused):
				reused++
			default:
				t.Errorf("round %d: RotateRefreshTokenPending: unexpected error %v", round, r.err)
			}
		}
		if won != 1 || reused != n-1 {
			t.Fatalf("round %d: %d concurrent rotations: %d won, %d ErrReused; want 1 and %d", round, n, won, reused, n-1)
		}
		if _, err := s.PendingRefreshToken(ctx, "t1", grant, hash(next), at(time.Minute)); err != nil {
			t.Errorf("round %d: the successor is not pending: %v", round, err)
		}
	}
}
