package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// mfaStore is what the MFA subtests need: store.MFAStore, and store.Store
// for tenants and for the state tokens that MFA challenges live among.
type mfaStore interface {
	store.Store
	store.MFAStore
}

// mfa adapts an MFA subtest to Run's signature; a store that does not
// implement store.MFAStore skips it.
func mfa(f func(t *testing.T, s mfaStore)) func(t *testing.T, s store.Store) {
	return func(t *testing.T, s store.Store) {
		m, ok := s.(mfaStore)
		if !ok {
			t.Skipf("%T does not implement store.MFAStore", s)
		}
		f(t, m)
	}
}

// testMFAPolicy: the tenant's MFA policy round-trips on every read path
// and is replaced by an upsert.
func testMFAPolicy(t *testing.T, s mfaStore) {
	ctx := t.Context()
	for i, p := range []string{store.MFAOff, store.MFAOptional, store.MFARequired} {
		tn := newTenant(fmt.Sprintf("p%d", i), fmt.Sprintf("p%d.test", i))
		tn.Policy.MFA = p
		must(t, "UpsertTenant", s.UpsertTenant(ctx, tn))
		got, err := s.GetTenant(ctx, tn.ID)
		must(t, "GetTenant", err)
		if d := diff(tn, got); d != "" {
			t.Errorf("policy %s: GetTenant mismatch (-want +got):\n%s", p, d)
		}
		if got, err := s.TenantByDomain(ctx, tn.Domains[0]); err != nil || got.Policy.MFA != p {
			t.Errorf("policy %s: TenantByDomain gives %q, %v", p, got.Policy.MFA, err)
		}
	}
	list, err := s.ListTenants(ctx)
	must(t, "ListTenants", err)
	if len(list) != 3 || list[0].Policy.MFA != store.MFAOff || list[1].Policy.MFA != store.MFAOptional || list[2].Policy.MFA != store.MFARequired {
		t.Errorf("ListTenants policies: %+v", list)
	}
	tn := list[2]
	tn.Policy.MFA = store.MFAOptional
	must(t, "UpsertTenant(change policy)", s.UpsertTenant(ctx, tn))
	if got, _ := s.GetTenant(ctx, tn.ID); got.Policy.MFA != store.MFAOptional {
		t.Errorf("policy after update: %q", got.Policy.MFA)
	}
}

func newChallenge(tenantID, token string, pending []byte) store.MFAChallenge {
	st := newStateToken(tenantID, token, 5*time.Minute)
	st.Purpose = "MFA_REQUIRED"
	return store.MFAChallenge{StateToken: st, PendingSecret: pending}
}

// testMFAChallenges: attempts are counted up to the limit, only on an
// unexpired challenge of the asked purpose in its own tenant; the
// challenge is a state token (consumed, swept, unique) like the others.
func testMFAChallenges(t *testing.T, s mfaStore) {
	ctx := t.Context()
	c := newChallenge("t1", "ch-1", []byte("sealed-secret"))
	must(t, "CreateMFAChallenge", s.CreateMFAChallenge(ctx, c))
	wantErr(t, "CreateMFAChallenge(duplicate)", s.CreateMFAChallenge(ctx, c), store.ErrConflict)
	wantErr(t, "CreateStateToken(same hash)", s.CreateStateToken(ctx, c.StateToken), store.ErrConflict)

	// Misses change nothing: another tenant, purpose, or an expired clock.
	for _, m := range []struct {
		name, tenant, token, purpose string
		now                          time.Time
	}{
		{"other tenant", "t2", "ch-1", "MFA_REQUIRED", at(0)},
		{"other purpose", "t1", "ch-1", "MFA_ENROLL", at(0)},
		{"at expiry", "t1", "ch-1", "MFA_REQUIRED", at(5 * time.Minute)},
		{"unknown", "t1", "nope", "MFA_REQUIRED", at(0)},
	} {
		_, err := s.AttemptMFAChallenge(ctx, m.tenant, hash(m.token), m.purpose, m.now, 5)
		wantErr(t, "AttemptMFAChallenge("+m.name+")", err, store.ErrNotFound)
	}
	for i := 1; i <= 5; i++ {
		got, err := s.AttemptMFAChallenge(ctx, "t1", hash("ch-1"), "MFA_REQUIRED", at(time.Minute), 5)
		must(t, "AttemptMFAChallenge", err)
		want := c
		want.Attempts = i
		if d := diff(want, got); d != "" {
			t.Fatalf("attempt %d (-want +got):\n%s", i, d)
		}
	}
	_, err := s.AttemptMFAChallenge(ctx, "t1", hash("ch-1"), "MFA_REQUIRED", at(time.Minute), 5)
	wantErr(t, "AttemptMFAChallenge(sixth)", err, store.ErrNotFound)
	// A higher limit admits more: the count is the stored one.
	got, err := s.AttemptMFAChallenge(ctx, "t1", hash("ch-1"), "MFA_REQUIRED", at(time.Minute), 7)
	if err != nil || got.Attempts != 6 {
		t.Errorf("attempt under a higher limit: %d %v", got.Attempts, err)
	}
	// Consumed like any state token, and then gone.
	st, err := s.ConsumeStateToken(ctx, "t1", hash("ch-1"), at(time.Minute))
	if err != nil || st.Purpose != "MFA_REQUIRED" || st.UserID != c.UserID {
		t.Errorf("ConsumeStateToken of a challenge: %+v %v", st, err)
	}
	_, err = s.AttemptMFAChallenge(ctx, "t1", hash("ch-1"), "MFA_REQUIRED", at(time.Minute), 7)
	wantErr(t, "AttemptMFAChallenge(consumed)", err, store.ErrNotFound)

	// Without a pending secret it comes back nil; a plain state token has
	// no attempts to give to an MFA purpose.
	must(t, "CreateMFAChallenge", s.CreateMFAChallenge(ctx, newChallenge("t1", "ch-2", nil)))
	got, err = s.AttemptMFAChallenge(ctx, "t1", hash("ch-2"), "MFA_REQUIRED", at(0), 5)
	if err != nil || got.PendingSecret != nil || got.Attempts != 1 {
		t.Errorf("challenge without secret: %+v %v", got, err)
	}
	must(t, "CreateStateToken", s.CreateStateToken(ctx, newStateToken("t1", "plain", 5*time.Minute)))
	_, err = s.AttemptMFAChallenge(ctx, "t1", hash("plain"), "MFA_REQUIRED", at(0), 5)
	wantErr(t, "AttemptMFAChallenge(password state token)", err, store.ErrNotFound)

	// Expired challenges are swept with the state tokens.
	exp := newChallenge("t1", "ch-old", nil)
	exp.ExpiresAt = at(-time.Second)
	must(t, "CreateMFAChallenge", s.CreateMFAChallenge(ctx, exp))
	n, err := s.SweepExpired(ctx, at(0), 100)
	if err != nil || n != 1 {
		t.Errorf("SweepExpired: %d %v, want the one expired challenge", n, err)
	}
	_, err = s.ConsumeStateToken(ctx, "t1", hash("ch-old"), at(-time.Hour))
	wantErr(t, "ConsumeStateToken(swept challenge)", err, store.ErrNotFound)
}

// testMFAChallengeRace: concurrent attempts never exceed the limit.
func testMFAChallengeRace(t *testing.T, s mfaStore) {
	ctx := t.Context()
	must(t, "CreateMFAChallenge", s.CreateMFAChallenge(ctx, newChallenge("t1", "race", nil)))
	res := parallel(20, func(int) (store.MFAChallenge, error) {
		return s.AttemptMFAChallenge(ctx, "t1", hash("race"), "MFA_REQUIRED", at(0), 5)
	})
	seen := map[int]bool{}
	for _, r := range res {
		switch {
		case r.err == nil:
			if seen[r.v.Attempts] || r.v.Attempts < 1 || r.v.Attempts > 5 {
				t.Errorf("attempt number %d granted twice or out of range", r.v.Attempts)
			}
			seen[r.v.Attempts] = true
		case !errors.Is(r.err, store.ErrNotFound):
			t.Errorf("AttemptMFAChallenge: %v", r.err)
		}
	}
	if len(seen) != 5 {
		t.Errorf("%d attempts granted of 20 concurrent, want exactly 5", len(seen))
	}
}

func newEnrollment(tenantID, userID string) store.TOTPEnrollment {
	return store.TOTPEnrollment{TenantID: tenantID, UserID: userID, Secret: []byte("sealed-" + userID), LastStep: 1000, CreatedAt: at(0)}
}

func recoveryHashes(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = hash(fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// testTOTP: enrolment, the replay rule of the last step, recovery codes
// used once, removal, and tenant isolation of all of it.
func testTOTP(t *testing.T, s mfaStore) {
	ctx := t.Context()
	_, err := s.GetTOTP(ctx, "t1", "u1")
	wantErr(t, "GetTOTP(not enrolled)", err, store.ErrNotFound)
	wantErr(t, "UseTOTPStep(not enrolled)", s.UseTOTPStep(ctx, "t1", "u1", 5), store.ErrNotFound)
	wantErr(t, "DeleteTOTP(not enrolled)", s.DeleteTOTP(ctx, "t1", "u1"), store.ErrNotFound)

	e := newEnrollment("t1", "u1")
	must(t, "ConfirmTOTP", s.ConfirmTOTP(ctx, e, recoveryHashes("u1", 10)))
	again := e
	again.Secret = []byte("another")
	wantErr(t, "ConfirmTOTP(enrolled)", s.ConfirmTOTP(ctx, again, recoveryHashes("x", 10)), store.ErrConflict)
	want := e
	want.RecoveryCodesLeft = 10
	got, err := s.GetTOTP(ctx, "t1", "u1")
	must(t, "GetTOTP", err)
	if d := diff(want, got); d != "" {
		t.Errorf("GetTOTP (-want +got):\n%s", d)
	}
	// The refused confirmation left the codes alone.
	wantErr(t, "UseRecoveryCode(of the refused set)", errOf(s.UseRecoveryCode(ctx, "t1", "u1", hash("x-0"), at(0))), store.ErrNotFound)

	// Another tenant's user of the same id is someone else.
	_, err = s.GetTOTP(ctx, "t2", "u1")
	wantErr(t, "GetTOTP(other tenant)", err, store.ErrNotFound)
	wantErr(t, "UseTOTPStep(other tenant)", s.UseTOTPStep(ctx, "t2", "u1", 2000), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode(other tenant)", errOf(s.UseRecoveryCode(ctx, "t2", "u1", hash("u1-0"), at(0))), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode(other user)", errOf(s.UseRecoveryCode(ctx, "t1", "u2", hash("u1-0"), at(0))), store.ErrNotFound)
	wantErr(t, "DeleteTOTP(other tenant)", s.DeleteTOTP(ctx, "t2", "u1"), store.ErrNotFound)

	// Steps only move forward.
	wantErr(t, "UseTOTPStep(the confirming step)", s.UseTOTPStep(ctx, "t1", "u1", 1000), store.ErrReused)
	wantErr(t, "UseTOTPStep(earlier)", s.UseTOTPStep(ctx, "t1", "u1", 999), store.ErrReused)
	must(t, "UseTOTPStep(later)", s.UseTOTPStep(ctx, "t1", "u1", 1001))
	wantErr(t, "UseTOTPStep(same again)", s.UseTOTPStep(ctx, "t1", "u1", 1001), store.ErrReused)
	must(t, "UseTOTPStep(skip ahead)", s.UseTOTPStep(ctx, "t1", "u1", 1005))
	wantErr(t, "UseTOTPStep(back)", s.UseTOTPStep(ctx, "t1", "u1", 1003), store.ErrReused)

	// Recovery codes: each once.
	useRecovery(t, s, "t1", "u1", "u1-3", at(time.Minute), 9)
	wantErr(t, "UseRecoveryCode(again)", errOf(s.UseRecoveryCode(ctx, "t1", "u1", hash("u1-3"), at(2*time.Minute))), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode(unknown)", errOf(s.UseRecoveryCode(ctx, "t1", "u1", hash("nope"), at(0))), store.ErrNotFound)
	// Used at the zero time still counts as used.
	useRecovery(t, s, "t1", "u1", "u1-4", time.Time{}, 8)
	wantErr(t, "UseRecoveryCode(again after zero time)", errOf(s.UseRecoveryCode(ctx, "t1", "u1", hash("u1-4"), at(0))), store.ErrNotFound)
	got, err = s.GetTOTP(ctx, "t1", "u1")
	if err != nil || got.LastStep != 1005 || got.RecoveryCodesLeft != 8 {
		t.Errorf("after use: last step %d, %d codes left, %v; want 1005, 8", got.LastStep, got.RecoveryCodesLeft, err)
	}

	// Removal takes the codes with it; enrolling again gives a new set.
	must(t, "ConfirmTOTP(other user)", s.ConfirmTOTP(ctx, newEnrollment("t1", "u2"), recoveryHashes("u2", 2)))
	must(t, "DeleteTOTP", s.DeleteTOTP(ctx, "t1", "u1"))
	_, err = s.GetTOTP(ctx, "t1", "u1")
	wantErr(t, "GetTOTP(removed)", err, store.ErrNotFound)
	wantErr(t, "UseRecoveryCode(removed)", errOf(s.UseRecoveryCode(ctx, "t1", "u1", hash("u1-5"), at(0))), store.ErrNotFound)
	e.LastStep = 7
	must(t, "ConfirmTOTP(again)", s.ConfirmTOTP(ctx, e, recoveryHashes("new", 3)))
	got, err = s.GetTOTP(ctx, "t1", "u1")
	if err != nil || got.LastStep != 7 || got.RecoveryCodesLeft != 3 || !bytes.Equal(got.Secret, e.Secret) {
		t.Errorf("enrolled again: %+v %v", got, err)
	}
	useRecovery(t, s, "t1", "u1", "new-0", at(0), 2)
	if got, _ := s.GetTOTP(ctx, "t1", "u2"); got.RecoveryCodesLeft != 2 {
		t.Errorf("the other user's codes: %d left, want 2", got.RecoveryCodesLeft)
	}
}

// testTOTPRace: of concurrent uses of one step, one recovery code, or
// concurrent confirmations, exactly one succeeds.
func testTOTPRace(t *testing.T, s mfaStore) {
	ctx := t.Context()
	must(t, "ConfirmTOTP", s.ConfirmTOTP(ctx, newEnrollment("t1", "u1"), recoveryHashes("u1", 10)))
	count := func(what string, res []result[struct{}], loser error) {
		t.Helper()
		wins := 0
		for _, r := range res {
			switch {
			case r.err == nil:
				wins++
			case !errors.Is(r.err, loser):
				t.Errorf("%s: %v", what, r.err)
			}
		}
		if wins != 1 {
			t.Errorf("%s: %d of %d concurrent calls succeeded, want exactly 1", what, wins, len(res))
		}
	}
	count("UseTOTPStep", parallel(20, func(int) (struct{}, error) {
		return struct{}{}, s.UseTOTPStep(ctx, "t1", "u1", 2000)
	}), store.ErrReused)
	count("UseRecoveryCode", parallel(20, func(int) (struct{}, error) {
		return struct{}{}, errOf(s.UseRecoveryCode(ctx, "t1", "u1", hash("u1-0"), at(0)))
	}), store.ErrNotFound)
	// Different codes of one user at once: each call counts the codes
	// left after its own use and the uses that came before it, so the
	// counts are 8, 7, ..., 0, each once (u1-0 is spent above).
	lefts := parallel(9, func(i int) (int, error) {
		return s.UseRecoveryCode(ctx, "t1", "u1", hash(fmt.Sprint("u1-", i+1)), at(0))
	})
	seen := make([]bool, len(lefts))
	for i, r := range lefts {
		switch {
		case r.err != nil:
			t.Errorf("UseRecoveryCode(u1-%d) concurrently: %v", i+1, r.err)
		case r.v < 0 || r.v >= len(seen) || seen[r.v]:
			t.Errorf("UseRecoveryCode(u1-%d) concurrently: %d left; the counts must be 0 to %d, each once", i+1, r.v, len(seen)-1)
		default:
			seen[r.v] = true
		}
	}
	count("ConfirmTOTP", parallel(10, func(i int) (struct{}, error) {
		e := newEnrollment("t1", "racer")
		e.Secret = []byte(fmt.Sprint("secret-", i))
		return struct{}{}, s.ConfirmTOTP(ctx, e, recoveryHashes(fmt.Sprint("racer-", i), 10))
	}), store.ErrConflict)
	// The winner's codes are the ones stored, all ten of them.
	got, err := s.GetTOTP(ctx, "t1", "racer")
	must(t, "GetTOTP", err)
	if got.RecoveryCodesLeft != 10 {
		t.Errorf("after racing confirmations: %d recovery codes, want the winner's 10", got.RecoveryCodesLeft)
	}
	var winner string
	fmt.Sscanf(string(got.Secret), "secret-%s", &winner)
	if left, err := s.UseRecoveryCode(ctx, "t1", "racer", hash("racer-"+winner+"-9"), at(0)); err != nil || left != 9 {
		t.Errorf("the winning confirmation's codes do not work: %d left, %v", left, err)
	}
}

// useRecovery uses a recovery code that must work, and checks the count
// of unused codes the store says are left after it.
func useRecovery(t *testing.T, s mfaStore, tenantID, userID, code string, when time.Time, wantLeft int) {
	t.Helper()
	left, err := s.UseRecoveryCode(t.Context(), tenantID, userID, hash(code), when)
	if err != nil || left != wantLeft {
		t.Errorf("UseRecoveryCode(%s, %s, %s) = %d left, %v; want %d left", tenantID, userID, code, left, err, wantLeft)
	}
}

// errOf is the error of a call that also returns a value.
func errOf[T any](_ T, err error) error { return err }
