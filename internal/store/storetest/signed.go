package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// testSigned covers store.SignedStore: application key pairs and the
// single use of signature nonces.
func testSigned(t *testing.T, st store.Store) {
	s, ok := st.(store.SignedStore)
	if !ok {
		t.Skip("the store does not implement store.SignedStore")
	}
	ctx := t.Context()
	k := store.AppKey{TenantID: "t1", ClientID: "app", PrivateKey: []byte("sealed"), PublicKeyPEM: "-----BEGIN PUBLIC KEY-----", CreatedAt: now}
	if err := s.AddAppKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAppKey(ctx, k); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second key: %v, want ErrConflict", err)
	}
	got, err := s.GetAppKey(ctx, "t1", "app")
	if err != nil || string(got.PrivateKey) != "sealed" || got.PublicKeyPEM != k.PublicKeyPEM || !got.CreatedAt.Equal(now) {
		t.Fatalf("GetAppKey: %+v %v", got, err)
	}
	if _, err := s.GetAppKey(ctx, "t2", "app"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's key: %v", err)
	}

	exp := now.Add(5 * time.Minute)
	if err := s.UseNonce(ctx, "t1", "app", []byte("n1"), now, exp); err != nil {
		t.Fatal(err)
	}
	if err := s.UseNonce(ctx, "t1", "app", []byte("n1"), now.Add(time.Minute), exp); !errors.Is(err, store.ErrReused) {
		t.Fatalf("replayed nonce: %v, want ErrReused", err)
	}
	// Another application or tenant has nonces of its own.
	for _, tc := range [][2]string{{"t1", "other"}, {"t2", "app"}} {
		if err := s.UseNonce(ctx, tc[0], tc[1], []byte("n1"), now, exp); err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
	}
	// After its window the same nonce may come again.
	if err := s.UseNonce(ctx, "t1", "app", []byte("n1"), exp, exp.Add(5*time.Minute)); err != nil {
		t.Fatalf("nonce after expiry: %v", err)
	}
	// Of concurrent uses of one nonce exactly one succeeds.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UseNonce(ctx, "t1", "app", []byte("race"), now, exp)
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, store.ErrReused) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent uses of one nonce succeeded", wins.Load())
	}
	// Expired nonces are swept.
	if n, err := st.SweepExpired(ctx, exp.Add(10*time.Minute), 100); err != nil || n < 3 {
		t.Fatalf("sweep: %d %v", n, err)
	}
}

// testSessionWithUser: the joined lookup finds a session by its current or
// previous token together with its user's profile, and nothing across
// tenants.
func testSessionWithUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := store.User{TenantID: "t1", ID: "u1", Username: "alice", Name: "Alice", Email: "alice@example.com",
		Mobile: "+15550100", Status: store.UserActive, PasswordHash: "$argon2id$x", PasswordChangedAt: now,
		FailedLogins: 1, FailedWindowStart: now, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	se := store.Session{ID: "s1", TenantID: "t1", UserID: "u1", ClientID: "c", TokenHash: hash("cur"),
		Device: store.Device{Fingerprint: "fp"}, AuthTime: now, CreatedAt: now, ExpiresAt: at(time.Hour)}
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RotateSessionToken(ctx, "t1", hash("cur"), hash("next"), at(time.Minute), at(2*time.Hour)); !ok || err != nil {
		t.Fatalf("rotate: %v %v", ok, err)
	}
	for _, h := range [][]byte{hash("next"), hash("cur")} {
		gs, gu, err := s.SessionWithUser(ctx, "t1", h)
		if err != nil || gs.ID != "s1" || gs.Device.Fingerprint != "fp" || !gs.ExpiresAt.Equal(at(2*time.Hour)) {
			t.Fatalf("SessionWithUser: %+v %v", gs, err)
		}
		if d := diff(alice.Profile(), gu); d != "" {
			t.Fatalf("SessionWithUser: user (-want +got):\n%s", d)
		}
	}
	if _, _, err := s.SessionWithUser(ctx, "t2", hash("next")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant: %v", err)
	}
	// A session without its user (an orphan) is not found.
	orphan := se
	orphan.ID, orphan.UserID, orphan.TokenHash = "s2", "gone", hash("orphan")
	if err := s.CreateSession(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionWithUser(ctx, "t1", hash("orphan")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("orphan session: %v", err)
	}
}

// testDeleteSessionTickets: ending a session deletes the SSO tickets
// issued from it, and only those.
func testDeleteSessionTickets(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"s1", "s2"} {
		if err := s.CreateSession(ctx, store.Session{ID: id, TenantID: "t1", UserID: "u1", TokenHash: hash("tok-" + id), CreatedAt: now, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSSOTicket(ctx, store.SSOTicket{TicketHash: hash("ticket-" + id), TenantID: "t1", SessionID: id, UserID: "u1", CreatedAt: now, ExpiresAt: at(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSession(ctx, "t1", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeSSOTicket(ctx, "t1", hash("ticket-s1"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ticket of the ended session: %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeSSOTicket(ctx, "t1", hash("ticket-s2"), now); err != nil {
		t.Fatalf("ticket of another session: %v", err)
	}
	if err := s.DeleteSession(ctx, "t1", "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// testClearLoginFailuresWhileLocked: a successful login's clear is
// conditional on the account not being locked at that moment — the lock
// set by concurrent wrong guesses while the password was being checked
// wins, and the login is refused (store.Store.ClearLoginFailures).
func testClearLoginFailuresWhileLocked(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{TenantID: "t1", ID: "u1", Username: "alice", Status: store.UserActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	p := store.TenantPolicy{LockoutThreshold: 2, LockoutWindow: time.Hour, LockoutDuration: 15 * time.Minute}
	for range 2 {
		if _, err := s.RecordLoginFailure(ctx, "t1", "u1", now, p); err != nil {
			t.Fatal(err)
		}
	}
	until, err := s.ClearLoginFailures(ctx, "t1", "u1", at(time.Second))
	if err != nil || !until.Equal(at(15*time.Minute)) {
		t.Fatalf("clear while locked: %v %v, want the end of the lock", until, err)
	}
	u, _ := s.GetUser(ctx, "t1", "u1")
	if !u.LockedUntil.Equal(at(15 * time.Minute)) {
		t.Fatalf("the clear lifted the lock: %v", u.LockedUntil)
	}
	// After the lock it clears again.
	if until, err := s.ClearLoginFailures(ctx, "t1", "u1", at(16*time.Minute)); err != nil || !until.IsZero() {
		t.Fatalf("clear after the lock: %v %v", until, err)
	}
}
