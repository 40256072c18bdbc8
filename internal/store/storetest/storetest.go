package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sesame-idp/sesame/internal/store"
)

// Run runs the conformance suite. newStore must return a fresh, empty store
// each time it is called (once per subtest) and arrange with t.Cleanup for
// it to be closed and removed.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"Tenants", testTenants},
		{"TenantDomainConflict", testTenantDomainConflict},
		{"Applications", testApplications},
		{"Users", testUsers},
		{"UsersByLoginID", testUsersByLoginID},
		{"Passwords", testPasswords},
		{"Lockout", testLockout},
		{"LockoutConcurrent", testLockoutConcurrent},
		{"ClearLoginFailuresWhileLocked", testClearLoginFailuresWhileLocked},
		{"Sessions", testSessions},
		{"SessionRotationRace", testSessionRotationRace},
		{"SessionTenantIsolation", testSessionTenantIsolation},
		{"SessionWithUser", testSessionWithUser},
		{"DeleteSessionTickets", testDeleteSessionTickets},
		{"StateTokens", testStateTokens},
		{"SSOTickets", testSSOTickets},
		{"SingleUseRace", testSingleUseRace},
		{"AccessTokens", testAccessTokens},
		{"AccessTokenWithUser", testAccessTokenWithUser},
		{"SigningKeys", testSigningKeys},
		{"SigningKeyConflictRollsBack", testSigningKeyConflictRollsBack},
		{"SweepExpired", testSweepExpired},
		{"Times", testTimes},
		// store.OAuthStore; skipped for a store that does not implement it.
		{"AuthCodes", oauth(testAuthCodes)},
		{"AuthCodeSingleUseRace", oauth(testAuthCodeSingleUseRace)},
		{"AuthCodeTenantIsolation", oauth(testAuthCodeTenantIsolation)},
		{"RefreshTokens", oauth(testRefreshTokens)},
		{"RefreshTokenRotationRace", oauth(testRefreshTokenRotationRace)},
		{"RefreshTokenTenantIsolation", oauth(testRefreshTokenTenantIsolation)},
		{"RevokeGrant", oauth(testRevokeGrant)},
		{"DeleteAccessToken", oauth(testDeleteAccessToken)},
		{"SweepExpiredOAuth", oauth(testSweepExpiredOAuth)},
		{"RevokedGrantRefusesTokens", oauth(testRevokedGrantRefusesTokens)},
		{"RevokeGrantRace", oauth(testRevokeGrantRace)},
		{"SweepKeepsGrants", oauth(testSweepKeepsGrants)},
		// store.SignedStore; skipped for a store that does not implement it.
		{"Signed", testSigned},
		// store.AuditStore; skipped for a store that does not implement it.
		{"AuditAppendList", audit(testAuditAppendList)},
		{"AuditAppendAtomic", audit(testAuditAppendAtomic)},
		{"AuditPagination", audit(testAuditPagination)},
		{"AuditTenantIsolation", audit(testAuditTenantIsolation)},
		{"AuditPrune", audit(testAuditPrune)},
		{"AuditConcurrentAppend", audit(testAuditConcurrentAppend)},
		// store.AuditStatsStore; skipped for a store that does not implement it.
		{"AuditCount", stats(testAuditCount)},
		// store.RefreshDeliveryStore; skipped for a store that does not
		// implement it.
		{"RefreshTokenPending", refreshDelivery(testRefreshTokenPending)},
		{"RefreshTokenPendingRace", refreshDelivery(testRefreshTokenPendingRace)},
		// store.AdminStore; skipped for a store that does not implement it.
		{"AdminTenantsPage", admin(testAdminTenantsPage)},
		{"AdminDeleteTenant", admin(testAdminDeleteTenant)},
		{"AdminApplications", admin(testAdminApplications)},
		{"AdminDeleteApplication", admin(testAdminDeleteApplication)},
		{"AdminUsers", admin(testAdminUsers)},
		{"AdminSessions", admin(testAdminSessions)},
		{"AdminRevokeSessions", admin(testAdminRevokeSessions)},
		{"AdminRoles", admin(testAdminRoles)},
		// store.MFAStore; skipped for a store that does not implement it.
		{"MFAPolicy", mfa(testMFAPolicy)},
		{"MFAChallenges", mfa(testMFAChallenges)},
		{"MFAChallengeRace", mfa(testMFAChallengeRace)},
		{"TOTP", mfa(testTOTP)},
		{"TOTPRace", mfa(testTOTPRace)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// now is the suite's clock. It is a whole number of milliseconds, the
// stores' time resolution, so values round-trip exactly.
var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// at returns now+d.
func at(d time.Duration) time.Time { return now.Add(d) }

// hash returns a distinct 32-byte value standing in for a keyed hash.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// cmpOpts treat nil and empty slices alike: a store may return either for
// an empty list.
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

func diff(want, got any) string { return cmp.Diff(want, got, cmpOpts...) }

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// must fails the test on a non-nil error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testPing(t *testing.T, s store.Store) {
	must(t, "Ping", s.Ping(t.Context()))
}

func newTenant(id string, domains ...string) store.Tenant {
	return store.Tenant{
		ID:              id,
		Name:            "Tenant " + id,
		Edition:         store.EditionCIAM,
		DefaultLanguage: "en",
		Domains:         domains,
		Policy: store.TenantPolicy{
			LockoutThreshold:   5,
			LockoutWindow:      15 * time.Minute,
			LockoutDuration:    30 * time.Minute,
			PasswordMaxAge:     90 * 24 * time.Hour,
			PasswordWarnBefore: 7 * 24 * time.Hour,
			PasswordMinLength:  8,
			PasswordMaxLength:  64,
		},
		CreatedAt: at(-time.Hour),
		UpdatedAt: at(-time.Minute),
	}
}

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetTenant(ctx, "t1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTenant(unknown): got %v, want ErrNotFound", err)
	}

	t1 := newTenant("t1", "Login.Example.COM", "example.com")
	t1.Edition = store.EditionEIAM
	t1.DefaultLanguage = "zh"
	must(t, "UpsertTenant", s.UpsertTenant(ctx, t1))
	t2 := newTenant("t2", "other.test")
	t2.Policy = store.TenantPolicy{} // all zero
	must(t, "UpsertTenant", s.UpsertTenant(ctx, t2))

	// Domains are stored lower case.
	want1 := t1
	want1.Domains = []string{"login.example.com", "example.com"}
	got, err := s.GetTenant(ctx, "t1")
	must(t, "GetTenant", err)
	if d := diff(want1, got); d != "" {
		t.Errorf("GetTenant mismatch (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		domain string
		want   string // tenant id; "" for ErrNotFound
	}{
		{"login.example.com", "t1"},
		{"LOGIN.example.com", "t1"},
		{"example.com", "t1"},
		{"other.test", "t2"},
		{"www.example.com", ""},
		{"", ""},
	} {
		got, err := s.TenantByDomain(ctx, tc.domain)
		if tc.want == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("TenantByDomain(%q): got (%v, %v), want ErrNotFound", tc.domain, got.ID, err)
			}
			continue
		}
		if err != nil || got.ID != tc.want {
			t.Errorf("TenantByDomain(%q): got (%q, %v), want %q", tc.domain, got.ID, err, tc.want)
		}
	}

	list, err := s.ListTenants(ctx)
	must(t, "ListTenants", err)
	if d := diff([]store.Tenant{want1, t2}, list); d != "" {
		t.Errorf("ListTenants mismatch (-want +got):\n%s", d)
	}

	// Replacing the tenant replaces its domains.
	t1.Name = "Renamed"
	t1.Domains = []string{"new.example.com"}
	t1.Policy.LockoutThreshold = 3
	t1.UpdatedAt = at(0)
	must(t, "UpsertTenant(update)", s.UpsertTenant(ctx, t1))
	got, err = s.GetTenant(ctx, "t1")
	must(t, "GetTenant", err)
	if d := diff(t1, got); d != "" {
		t.Errorf("GetTenant after update mismatch (-want +got):\n%s", d)
	}
	if _, err := s.TenantByDomain(ctx, "example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TenantByDomain(removed domain): got %v, want ErrNotFound", err)
	}
	if got, err := s.TenantByDomain(ctx, "new.example.com"); err != nil || got.ID != "t1" {
		t.Errorf("TenantByDomain(new domain): got (%q, %v), want t1", got.ID, err)
	}
	// A released domain can be taken by another tenant.
	t2.Domains = append(t2.Domains, "example.com")
	must(t, "UpsertTenant(take released domain)", s.UpsertTenant(ctx, t2))
}

func testTenantDomainConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "UpsertTenant", s.UpsertTenant(ctx, newTenant("a", "shared.example.com", "a.example.com")))

	// A new tenant claiming a domain of another, in any case, is refused
	// and nothing of it is stored.
	err := s.UpsertTenant(ctx, newTenant("b", "b.example.com", "SHARED.example.com"))
	wantErr(t, "UpsertTenant(new tenant, taken domain)", err, store.ErrConflict)
	if _, err := s.GetTenant(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTenant(b) after conflict: got %v, want ErrNotFound", err)
	}
	if _, err := s.TenantByDomain(ctx, "b.example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TenantByDomain(b.example.com) after conflict: got %v, want ErrNotFound", err)
	}

	// An existing tenant claiming it keeps its previous state.
	b := newTenant("b", "b.example.com")
	must(t, "UpsertTenant(b)", s.UpsertTenant(ctx, b))
	changed := b
	changed.Name = "changed"
	changed.Domains = []string{"shared.example.com"}
	wantErr(t, "UpsertTenant(existing tenant, taken domain)", s.UpsertTenant(ctx, changed), store.ErrConflict)
	got, err := s.GetTenant(ctx, "b")
	must(t, "GetTenant(b)", err)
	if d := diff(b, got); d != "" {
		t.Errorf("tenant b changed by a failed upsert (-want +got):\n%s", d)
	}
	for domain, want := range map[string]string{"b.example.com": "b", "shared.example.com": "a"} {
		if got, err := s.TenantByDomain(ctx, domain); err != nil || got.ID != want {
			t.Errorf("TenantByDomain(%q): got (%q, %v), want %q", domain, got.ID, err, want)
		}
	}

	// Listing the same domain twice in one tenant is not a conflict.
	must(t, "UpsertTenant(duplicate in list)", s.UpsertTenant(ctx, newTenant("c", "c.example.com", "C.example.com")))
}

func newApplication(tenantID, clientID string) store.Application {
	return store.Application{
		TenantID:             tenantID,
		ClientID:             clientID,
		Name:                 "App " + clientID,
		SecretHash:           hash("secret " + clientID),
		RedirectURIs:         []string{"https://app.example.com/cb", "http://127.0.0.1/cb"},
		GrantTypes:           []string{"authorization_code", "refresh_token"},
		SessionTTL:           30 * 24 * time.Hour,
		SessionAutoRefresh:   true,
		RotationGrace:        30 * time.Second,
		DeviceBinding:        true,
		IDTokenTTL:           time.Hour,
		IDTokenAlg:           "RS256",
		AccessTokenTTL:       2 * time.Hour,
		TenantAccessTokenTTL: 90 * time.Minute,
		RefreshTokenTTL:      14 * 24 * time.Hour,
		AccessTokenFormat:    "jwt",
		PostLogoutRedirectURIs: []string{
			"https://app.example.com/logged-out", "https://app.example.com/bye?lang=zh",
		},
		CreatedAt: at(-time.Hour),
		UpdatedAt: at(-time.Second),
	}
}

func testApplications(t *testing.T, s store.Store) {
	ctx := t.Context()
	confidential := newApplication("t1", "web")
	public := store.Application{ // every optional field zero
		TenantID: "t1", ClientID: "mobile", Name: "Mobile", IDTokenAlg: "ES256",
	}
	other := newApplication("t2", "web")
	other.Name = "Other tenant's web"
	for _, a := range []store.Application{confidential, public, other} {
		must(t, "UpsertApplication", s.UpsertApplication(ctx, a))
	}

	for _, want := range []store.Application{confidential, public, other} {
		got, err := s.GetApplication(ctx, want.TenantID, want.ClientID)
		must(t, "GetApplication", err)
		if d := diff(want, got); d != "" {
			t.Errorf("GetApplication(%s/%s) mismatch (-want +got):\n%s", want.TenantID, want.ClientID, d)
		}
	}
	if got, _ := s.GetApplication(ctx, "t1", "mobile"); !got.Public() || got.SessionAutoRefresh || got.DeviceBinding {
		t.Errorf("public application: got Public=%v SessionAutoRefresh=%v DeviceBinding=%v, want true false false",
			got.Public(), got.SessionAutoRefresh, got.DeviceBinding)
	}
	if _, err := s.GetApplication(ctx, "t3", "web"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetApplication(other tenant): got %v, want ErrNotFound", err)
	}

	list, err := s.ListApplications(ctx, "t1")
	must(t, "ListApplications", err)
	if d := diff([]store.Application{public, confidential}, list); d != "" {
		t.Errorf("ListApplications mismatch (-want +got):\n%s", d)
	}
	if list, err := s.ListApplications(ctx, "none"); err != nil || len(list) != 0 {
		t.Errorf("ListApplications(unknown tenant): got (%d, %v), want none", len(list), err)
	}

	// Upsert replaces every field, including turning confidential into
	// public and booleans off.
	updated := confidential
	updated.SecretHash = nil
	updated.RedirectURIs = nil
	updated.GrantTypes = []string{"client_credentials"}
	updated.SessionAutoRefresh = false
	updated.DeviceBinding = false
	updated.RefreshTokenTTL = 0
	updated.AccessTokenFormat = ""
	updated.PostLogoutRedirectURIs = nil
	updated.UpdatedAt = at(0)
	must(t, "UpsertApplication(update)", s.UpsertApplication(ctx, updated))
	got, err := s.GetApplication(ctx, "t1", "web")
	must(t, "GetApplication", err)
	if d := diff(updated, got); d != "" {
		t.Errorf("GetApplication after update mismatch (-want +got):\n%s", d)
	}
}

func newUser(tenantID, id, username string) store.User {
	return store.User{
		TenantID:          tenantID,
		ID:                id,
		Username:          username,
		Name:              "User " + id,
		Email:             username + "@Example.com",
		Mobile:            "+86-1380000" + id,
		Status:            store.UserActive,
		PasswordHash:      "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		PasswordChangedAt: at(-48 * time.Hour),
		CreatedAt:         at(-72 * time.Hour),
		UpdatedAt:         at(-24 * time.Hour),
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := newUser("t1", "u1", "Alice")
	alice.FailedLogins = 2
	alice.FailedWindowStart = at(-time.Minute)
	alice.LockedUntil = at(time.Hour)
	must(t, "CreateUser", s.CreateUser(ctx, alice))
	bob := newUser("t1", "u2", "bob")
	bob.Email, bob.Mobile, bob.PasswordHash = "", "", ""
	bob.PasswordChangedAt = time.Time{}
	must(t, "CreateUser", s.CreateUser(ctx, bob))

	for _, want := range []store.User{alice, bob} {
		got, err := s.GetUser(ctx, "t1", want.ID)
		must(t, "GetUser", err)
		if d := diff(want, got); d != "" {
			t.Errorf("GetUser(%s) mismatch (-want +got):\n%s", want.ID, d)
		}
	}

	// User names are unique per tenant, case-insensitively.
	for _, tc := range []struct {
		tenant, id, username string
		want                 error
	}{
		{"t1", "u3", "Alice", store.ErrConflict},
		{"t1", "u3", "alice", store.ErrConflict},
		{"t1", "u3", "ALICE", store.ErrConflict},
		{"t1", "u1", "carol", store.ErrConflict}, // duplicate id
		{"t2", "u1", "alice", nil},               // other tenant
		{"t1", "u3", "alice2", nil},
	} {
		err := s.CreateUser(ctx, newUser(tc.tenant, tc.id, tc.username))
		if !errors.Is(err, tc.want) {
			t.Errorf("CreateUser(%s, %s, %q): got %v, want %v", tc.tenant, tc.id, tc.username, err, tc.want)
		}
	}

	for _, tc := range []struct {
		tenant, username, wantID string // "" for ErrNotFound
	}{
		{"t1", "alice", "u1"},
		{"t1", "ALICE", "u1"},
		{"t1", "Bob", "u2"},
		{"t2", "Alice", "u1"},
		{"t2", "bob", ""},
		{"t1", "nobody", ""},
	} {
		got, err := s.UserByUsername(ctx, tc.tenant, tc.username)
		if tc.wantID == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UserByUsername(%s, %q): got (%q, %v), want ErrNotFound", tc.tenant, tc.username, got.ID, err)
			}
			continue
		}
		if err != nil || got.ID != tc.wantID || got.TenantID != tc.tenant {
			t.Errorf("UserByUsername(%s, %q): got (%s/%s, %v), want %s/%s", tc.tenant, tc.username, got.TenantID, got.ID, err, tc.tenant, tc.wantID)
		}
	}
	if _, err := s.GetUser(ctx, "t2", "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(other tenant): got %v, want ErrNotFound", err)
	}

	// UpdateUserProfile replaces name, e-mail, mobile and status only.
	upd := alice
	upd.Username = "ignored"
	upd.Name = "Alice Liddell"
	upd.Email = "Liddell@Example.org"
	upd.Mobile = "+44-1"
	upd.Status = store.UserDisabled
	upd.PasswordHash = "ignored"
	upd.UpdatedAt = at(0)
	must(t, "UpdateUserProfile", s.UpdateUserProfile(ctx, upd))
	want := alice
	want.Name, want.Email, want.Mobile, want.Status, want.UpdatedAt = upd.Name, upd.Email, upd.Mobile, upd.Status, upd.UpdatedAt
	got, err := s.GetUser(ctx, "t1", "u1")
	must(t, "GetUser", err)
	if d := diff(want, got); d != "" {
		t.Errorf("GetUser after UpdateUserProfile mismatch (-want +got):\n%s", d)
	}
	if users, err := s.UsersByLoginID(ctx, "t1", "liddell@example.ORG"); err != nil || len(users) != 1 || users[0].ID != "u1" {
		t.Errorf("UsersByLoginID(new e-mail): got (%v, %v), want [u1]", ids(users), err)
	}
	if users, err := s.UsersByLoginID(ctx, "t1", alice.Email); err != nil || len(users) != 0 {
		t.Errorf("UsersByLoginID(old e-mail): got (%v, %v), want none", ids(users), err)
	}
	missing := newUser("t1", "nobody", "nobody")
	wantErr(t, "UpdateUserProfile(unknown)", s.UpdateUserProfile(ctx, missing), store.ErrNotFound)
	missing.TenantID, missing.ID = "t2", "u2"
	wantErr(t, "UpdateUserProfile(other tenant)", s.UpdateUserProfile(ctx, missing), store.ErrNotFound)
}

func ids(users []store.User) []string {
	var out []string
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}

func testUsersByLoginID(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(id, username, email, mobile string, created time.Duration) store.User {
		u := newUser("t1", id, username)
		u.Email, u.Mobile, u.CreatedAt = email, mobile, at(created)
		return u
	}
	for _, u := range []store.User{
		mk("u1", "Alice", "alice@example.com", "13800000001", 1*time.Second),
		mk("u2", "bob", "Bob@Example.com", "13800000002", 2*time.Second),
		// carol's e-mail is another user's name: a unified login id that
		// matches two accounts.
		mk("u3", "carol", "ALICE", "", 3*time.Second),
		mk("u4", "dave", "", "13800000004", 4*time.Second),
		// Three users share this mobile; at most two are returned.
		mk("u5", "erin", "", "13900000000", 5*time.Second),
		mk("u6", "frank", "", "13900000000", 6*time.Second),
		mk("u7", "grace", "", "13900000000", 7*time.Second),
	} {
		must(t, "CreateUser", s.CreateUser(ctx, u))
	}
	other := newUser("t2", "x1", "alice")
	other.Email, other.Mobile = "bob@example.com", "13800000004"
	must(t, "CreateUser", s.CreateUser(ctx, other))

	for _, tc := range []struct {
		id   string
		want []string
	}{
		{"Alice", []string{"u1", "u3"}}, // u1 by name, u3 by e-mail
		{"alice@EXAMPLE.com", []string{"u1"}},
		{"bob", []string{"u2"}},
		{"bob@example.com", []string{"u2"}},
		{"13800000001", []string{"u1"}},
		{"13800000004", []string{"u4"}},
		{"13900000000", []string{"u5", "u6"}},
		{"dave", []string{"u4"}},
		{"nobody", nil},
		{"", nil}, // users without e-mail or mobile do not match ""
	} {
		users, err := s.UsersByLoginID(ctx, "t1", tc.id)
		must(t, "UsersByLoginID", err)
		got := ids(users)
		if tc.want != nil && len(got) == 2 {
			// Which two of more matches, and their order, are not part of
			// the contract; compare as a set for the exact-two cases.
			got = sortedPair(got)
		}
		if d := diff(tc.want, got); d != "" {
			t.Errorf("UsersByLoginID(%q) mismatch (-want +got):\n%s", tc.id, d)
		}
		for _, u := range users {
			if u.TenantID != "t1" {
				t.Errorf("UsersByLoginID(%q) returned user of tenant %q", tc.id, u.TenantID)
			}
		}
	}
}

func sortedPair(p []string) []string {
	if p[0] > p[1] {
		return []string{p[1], p[0]}
	}
	return p
}

func testPasswords(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("t1", "u1", "alice")
	u.FailedLogins = 3
	u.FailedWindowStart = at(-time.Minute)
	u.LockedUntil = at(time.Hour)
	must(t, "CreateUser", s.CreateUser(ctx, u))

	// SetPassword stores the hash and change time and clears lockout.
	must(t, "SetPassword", s.SetPassword(ctx, "t1", "u1", "hash-2", at(0)))
	got, err := s.GetUser(ctx, "t1", "u1")
	must(t, "GetUser", err)
	if got.PasswordHash != "hash-2" || !got.PasswordChangedAt.Equal(at(0)) {
		t.Errorf("after SetPassword: hash %q changed %v, want hash-2 %v", got.PasswordHash, got.PasswordChangedAt, at(0))
	}
	if got.FailedLogins != 0 || !got.FailedWindowStart.IsZero() || !got.LockedUntil.IsZero() {
		t.Errorf("after SetPassword: failures %d window %v locked %v, want all cleared",
			got.FailedLogins, got.FailedWindowStart, got.LockedUntil)
	}
	wantErr(t, "SetPassword(unknown)", s.SetPassword(ctx, "t1", "nobody", "h", at(0)), store.ErrNotFound)
	wantErr(t, "SetPassword(other tenant)", s.SetPassword(ctx, "t2", "u1", "h", at(0)), store.ErrNotFound)

	// ReplacePasswordHash swaps only while the old hash is current.
	must(t, "ReplacePasswordHash", s.ReplacePasswordHash(ctx, "t1", "u1", "hash-2", "hash-2b"))
	if err := s.ReplacePasswordHash(ctx, "t1", "u1", "hash-2", "hash-2c"); err == nil {
		t.Errorf("ReplacePasswordHash(stale old hash): got nil error")
	}
	wantErr(t, "ReplacePasswordHash(unknown)", s.ReplacePasswordHash(ctx, "t1", "nobody", "a", "b"), store.ErrNotFound)
	got, err = s.GetUser(ctx, "t1", "u1")
	must(t, "GetUser", err)
	if got.PasswordHash != "hash-2b" {
		t.Errorf("PasswordHash = %q, want hash-2b", got.PasswordHash)
	}
	if !got.PasswordChangedAt.Equal(at(0)) {
		t.Errorf("ReplacePasswordHash changed PasswordChangedAt to %v", got.PasswordChangedAt)
	}
}

func testLockout(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := store.TenantPolicy{LockoutThreshold: 3, LockoutWindow: 10 * time.Minute, LockoutDuration: 15 * time.Minute}
	must(t, "CreateUser", s.CreateUser(ctx, newUser("t1", "u1", "alice")))

	check := func(step string, wantCount int, wantWindow, wantLocked time.Time) {
		t.Helper()
		u, err := s.GetUser(ctx, "t1", "u1")
		must(t, "GetUser", err)
		if u.FailedLogins != wantCount || !u.FailedWindowStart.Equal(wantWindow) || !u.LockedUntil.Equal(wantLocked) {
			t.Errorf("%s: failures %d window %v locked %v; want %d %v %v", step,
				u.FailedLogins, u.FailedWindowStart, u.LockedUntil, wantCount, wantWindow, wantLocked)
		}
	}
	fail := func(step string, when time.Time, p store.TenantPolicy, want time.Time) {
		t.Helper()
		got, err := s.RecordLoginFailure(ctx, "t1", "u1", when, p)
		must(t, step, err)
		if !got.Equal(want) {
			t.Errorf("%s: RecordLoginFailure = %v, want %v", step, got, want)
		}
	}

	fail("failure 1", at(0), p, time.Time{})
	check("after failure 1", 1, at(0), time.Time{})
	fail("failure 2", at(time.Minute), p, time.Time{})
	check("after failure 2", 2, at(0), time.Time{})
	// The window has passed: counting starts again.
	fail("failure 3, new window", at(11*time.Minute), p, time.Time{})
	check("after new window", 1, at(11*time.Minute), time.Time{})
	fail("failure 4", at(12*time.Minute), p, time.Time{})
	// The third failure within the window locks, and resets the count.
	lockedUntil := at(13*time.Minute + p.LockoutDuration)
	fail("failure 5, locks", at(13*time.Minute), p, lockedUntil)
	check("locked", 0, time.Time{}, lockedUntil)

	// After the lock has ended, counting starts afresh.
	fail("after lock", lockedUntil.Add(time.Second), p, time.Time{})
	check("after lock", 1, lockedUntil.Add(time.Second), time.Time{})

	// ClearLoginFailures resets the count.
	if until, err := s.ClearLoginFailures(ctx, "t1", "u1", now); err != nil || !until.IsZero() {
		t.Fatalf("ClearLoginFailures: %v %v", until, err)
	}
	check("cleared", 0, time.Time{}, time.Time{})

	// Threshold 0 disables lockout.
	off := p
	off.LockoutThreshold = 0
	for i := range 10 {
		fail("lockout disabled", at(time.Hour+time.Duration(i)*time.Second), off, time.Time{})
	}
	check("lockout disabled", 10, at(time.Hour), time.Time{})

	_, err := s.RecordLoginFailure(ctx, "t1", "nobody", at(0), p)
	wantErr(t, "RecordLoginFailure(unknown)", err, store.ErrNotFound)
	_, err = s.RecordLoginFailure(ctx, "t2", "u1", at(0), p)
	wantErr(t, "RecordLoginFailure(other tenant)", err, store.ErrNotFound)
	_, err = s.ClearLoginFailures(ctx, "t1", "nobody", now)
	wantErr(t, "ClearLoginFailures(unknown)", err, store.ErrNotFound)
}

// testLockoutConcurrent checks that RecordLoginFailure is atomic: lost
// increments would let an attacker make more guesses than the threshold.
func testLockoutConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	must(t, "CreateUser", s.CreateUser(ctx, newUser("t1", "u1", "alice")))
	must(t, "CreateUser", s.CreateUser(ctx, newUser("t1", "u2", "bob")))

	// Below the threshold, every failure counts.
	high := store.TenantPolicy{LockoutThreshold: 1000, LockoutWindow: time.Hour, LockoutDuration: time.Hour}
	for round := range raceRounds {
		results := parallel(n, func(int) (time.Time, error) {
			return s.RecordLoginFailure(ctx, "t1", "u1", at(0), high)
		})
		for _, r := range results {
			must(t, "RecordLoginFailure", r.err)
		}
		u, err := s.GetUser(ctx, "t1", "u1")
		must(t, "GetUser", err)
		if want := n * (round + 1); u.FailedLogins != want {
			t.Fatalf("after %d concurrent failures: FailedLogins = %d", want, u.FailedLogins)
		}
	}

	// With the threshold at n, exactly the n-th failure locks.
	exact := store.TenantPolicy{LockoutThreshold: n, LockoutWindow: time.Hour, LockoutDuration: time.Hour}
	results := parallel(n, func(int) (time.Time, error) {
		return s.RecordLoginFailure(ctx, "t1", "u2", at(0), exact)
	})
	locked := 0
	for _, r := range results {
		must(t, "RecordLoginFailure", r.err)
		if !r.v.IsZero() {
			locked++
		}
	}
	if locked != 1 {
		t.Errorf("%d concurrent failures at threshold %d: %d calls reported a lock, want 1", n, n, locked)
	}
	u, err := s.GetUser(ctx, "t1", "u2")
	must(t, "GetUser", err)
	if !u.LockedUntil.Equal(at(time.Hour)) {
		t.Errorf("LockedUntil = %v, want %v", u.LockedUntil, at(time.Hour))
	}
}

type result[T any] struct {
	v   T
	err error
}

// parallel calls f n times at once and returns the results. The goroutines
// wait on a common start signal so that the calls really overlap.
func parallel[T any](n int, f func(i int) (T, error)) []result[T] {
	out := make([]result[T], n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			v, err := f(i)
			out[i] = result[T]{v, err}
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return out
}

func newSession(tenantID, id, token string) store.Session {
	return store.Session{
		ID:        id,
		TenantID:  tenantID,
		UserID:    "u-" + id,
		ClientID:  "web",
		TokenHash: hash(token),
		Device: store.Device{
			Fingerprint: "fp-" + id,
			OSVersion:   "Android 16",
			Agent:       "sesame-sdk/1.0",
			IP:          "2001:db8::1",
		},
		AuthTime:  at(-time.Minute),
		CreatedAt: at(-time.Minute),
		ExpiresAt: at(time.Hour),
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	se := newSession("t1", "s1", "tok-1")
	must(t, "CreateSession", s.CreateSession(ctx, se))
	must(t, "CreateSession", s.CreateSession(ctx, newSession("t1", "s2", "tok-other")))
	wantErr(t, "CreateSession(duplicate id)", s.CreateSession(ctx, newSession("t1", "s1", "tok-x")), store.ErrConflict)

	got, err := s.SessionByTokenHash(ctx, "t1", hash("tok-1"))
	must(t, "SessionByTokenHash", err)
	if d := diff(se, got); d != "" {
		t.Errorf("SessionByTokenHash mismatch (-want +got):\n%s", d)
	}
	if got.PrevTokenHash != nil || !got.RotatedAt.IsZero() {
		t.Errorf("new session: PrevTokenHash %x RotatedAt %v, want nil and zero", got.PrevTokenHash, got.RotatedAt)
	}
	_, err = s.SessionByTokenHash(ctx, "t1", hash("unknown"))
	wantErr(t, "SessionByTokenHash(unknown)", err, store.ErrNotFound)

	// Rotation: the old token becomes the previous one.
	ok, err := s.RotateSessionToken(ctx, "t1", hash("tok-1"), hash("tok-2"), at(time.Minute), at(2*time.Hour))
	must(t, "RotateSessionToken", err)
	if !ok {
		t.Fatalf("RotateSessionToken(current token) = false, want true")
	}
	want := se
	want.TokenHash, want.PrevTokenHash = hash("tok-2"), hash("tok-1")
	want.RotatedAt, want.ExpiresAt = at(time.Minute), at(2*time.Hour)
	for _, tok := range []string{"tok-2", "tok-1"} {
		got, err := s.SessionByTokenHash(ctx, "t1", hash(tok))
		must(t, "SessionByTokenHash("+tok+")", err)
		if d := diff(want, got); d != "" {
			t.Errorf("SessionByTokenHash(%s) after rotation mismatch (-want +got):\n%s", tok, d)
		}
	}

	// The old token is no longer current: no second rotation from it.
	ok, err = s.RotateSessionToken(ctx, "t1", hash("tok-1"), hash("tok-3"), at(2*time.Minute), at(3*time.Hour))
	must(t, "RotateSessionToken(stale)", err)
	if ok {
		t.Errorf("RotateSessionToken(previous token) = true, want false")
	}
	ok, err = s.RotateSessionToken(ctx, "t1", hash("unknown"), hash("tok-4"), at(2*time.Minute), at(3*time.Hour))
	if err != nil || ok {
		t.Errorf("RotateSessionToken(unknown) = (%v, %v), want (false, nil)", ok, err)
	}
	got, err = s.SessionByTokenHash(ctx, "t1", hash("tok-2"))
	must(t, "SessionByTokenHash", err)
	if d := diff(want, got); d != "" {
		t.Errorf("session changed by a failed rotation (-want +got):\n%s", d)
	}

	// A second rotation drops the first token entirely.
	ok, err = s.RotateSessionToken(ctx, "t1", hash("tok-2"), hash("tok-3"), at(3*time.Minute), at(3*time.Hour))
	if err != nil || !ok {
		t.Fatalf("RotateSessionToken(second) = (%v, %v), want (true, nil)", ok, err)
	}
	_, err = s.SessionByTokenHash(ctx, "t1", hash("tok-1"))
	wantErr(t, "SessionByTokenHash(token two rotations old)", err, store.ErrNotFound)
	if got, err := s.SessionByTokenHash(ctx, "t1", hash("tok-2")); err != nil || got.ID != "s1" {
		t.Errorf("SessionByTokenHash(previous token) = (%q, %v), want s1", got.ID, err)
	}

	must(t, "DeleteSession", s.DeleteSession(ctx, "t1", "s1"))
	wantErr(t, "DeleteSession(again)", s.DeleteSession(ctx, "t1", "s1"), store.ErrNotFound)
	for _, tok := range []string{"tok-3", "tok-2"} {
		_, err := s.SessionByTokenHash(ctx, "t1", hash(tok))
		wantErr(t, "SessionByTokenHash(deleted session)", err, store.ErrNotFound)
	}
	if _, err := s.SessionByTokenHash(ctx, "t1", hash("tok-other")); err != nil {
		t.Errorf("other session lost: %v", err)
	}
}

// raceRounds is how often each race is re-run. A broken (read, then
// write) implementation loses a race only when the calls happen to
// interleave in its window, so one round may miss it; a few rounds make
// that unlikely.
const raceRounds = 10

// testSessionRotationRace: many requests present the same token at once,
// each with its own successor; exactly one may win.
func testSessionRotationRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 50
	for round := range raceRounds {
		old := hash(fmt.Sprintf("tok-%d", round))
		successor := func(i int) []byte { return hash(fmt.Sprintf("tok-%d-new-%d", round, i)) }
		must(t, "CreateSession", s.CreateSession(ctx, newSession("t1", fmt.Sprintf("s%d", round), fmt.Sprintf("tok-%d", round))))
		results := parallel(n, func(i int) (bool, error) {
			return s.RotateSessionToken(ctx, "t1", old, successor(i), at(time.Minute), at(time.Hour))
		})
		winner := -1
		for i, r := range results {
			must(t, "RotateSessionToken", r.err)
			if r.v {
				if winner >= 0 {
					t.Errorf("round %d: RotateSessionToken: both %d and %d won", round, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: RotateSessionToken: no call won", round)
		}
		got, err := s.SessionByTokenHash(ctx, "t1", old)
		must(t, "SessionByTokenHash", err)
		if d := diff(successor(winner), got.TokenHash); d != "" {
			t.Errorf("round %d: current token is not the winner's (-want +got):\n%s", round, d)
		}
		if d := diff(old, got.PrevTokenHash); d != "" {
			t.Errorf("round %d: previous token mismatch (-want +got):\n%s", round, d)
		}
	}
}

func testSessionTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "CreateSession", s.CreateSession(ctx, newSession("A", "s1", "tok-a")))
	_, err := s.SessionByTokenHash(ctx, "B", hash("tok-a"))
	wantErr(t, "SessionByTokenHash(other tenant)", err, store.ErrNotFound)
	ok, err := s.RotateSessionToken(ctx, "B", hash("tok-a"), hash("tok-b"), at(0), at(time.Hour))
	if err != nil || ok {
		t.Errorf("RotateSessionToken(other tenant) = (%v, %v), want (false, nil)", ok, err)
	}
	wantErr(t, "DeleteSession(other tenant)", s.DeleteSession(ctx, "B", "s1"), store.ErrNotFound)
	got, err := s.SessionByTokenHash(ctx, "A", hash("tok-a"))
	must(t, "SessionByTokenHash(own tenant)", err)
	if got.PrevTokenHash != nil {
		t.Errorf("session of A was rotated through tenant B")
	}
}

func newStateToken(tenantID, token string, expires time.Duration) store.StateToken {
	return store.StateToken{
		TokenHash:         hash(token),
		TenantID:          tenantID,
		UserID:            "u1",
		ClientID:          "web",
		DeviceFingerprint: "fp",
		Purpose:           "PASSWORD_WARN",
		CreatedAt:         at(0),
		ExpiresAt:         at(expires),
	}
}

func testStateTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	st := newStateToken("t1", "st-1", 5*time.Minute)
	must(t, "CreateStateToken", s.CreateStateToken(ctx, st))
	wantErr(t, "CreateStateToken(duplicate)", s.CreateStateToken(ctx, st), store.ErrConflict)

	// Another tenant cannot consume it, and trying does not use it up.
	_, err := s.ConsumeStateToken(ctx, "t2", hash("st-1"), at(time.Minute))
	wantErr(t, "ConsumeStateToken(other tenant)", err, store.ErrNotFound)

	got, err := s.ConsumeStateToken(ctx, "t1", hash("st-1"), at(time.Minute))
	must(t, "ConsumeStateToken", err)
	if d := diff(st, got); d != "" {
		t.Errorf("ConsumeStateToken mismatch (-want +got):\n%s", d)
	}
	_, err = s.ConsumeStateToken(ctx, "t1", hash("st-1"), at(time.Minute))
	wantErr(t, "ConsumeStateToken(second time)", err, store.ErrNotFound)

	// Expired: at the expiry instant and after it.
	for i, when := range []time.Duration{5 * time.Minute, time.Hour} {
		tok := "st-exp-" + string(rune('0'+i))
		must(t, "CreateStateToken", s.CreateStateToken(ctx, newStateToken("t1", tok, 5*time.Minute)))
		_, err := s.ConsumeStateToken(ctx, "t1", hash(tok), at(when))
		wantErr(t, "ConsumeStateToken(expired)", err, store.ErrNotFound)
	}
	_, err = s.ConsumeStateToken(ctx, "t1", hash("unknown"), at(0))
	wantErr(t, "ConsumeStateToken(unknown)", err, store.ErrNotFound)
}

func newSSOTicket(tenantID, ticket string, expires time.Duration) store.SSOTicket {
	return store.SSOTicket{
		TicketHash: hash(ticket),
		TenantID:   tenantID,
		SessionID:  "s1",
		UserID:     "u1",
		ClientID:   "web",
		CreatedAt:  at(0),
		ExpiresAt:  at(expires),
	}
}

func testSSOTickets(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := newSSOTicket("t1", "tk-1", time.Minute)
	must(t, "CreateSSOTicket", s.CreateSSOTicket(ctx, tk))
	wantErr(t, "CreateSSOTicket(duplicate)", s.CreateSSOTicket(ctx, tk), store.ErrConflict)

	_, err := s.ConsumeSSOTicket(ctx, "t2", hash("tk-1"), at(0))
	wantErr(t, "ConsumeSSOTicket(other tenant)", err, store.ErrNotFound)

	got, err := s.ConsumeSSOTicket(ctx, "t1", hash("tk-1"), at(30*time.Second))
	must(t, "ConsumeSSOTicket", err)
	if d := diff(tk, got); d != "" {
		t.Errorf("ConsumeSSOTicket mismatch (-want +got):\n%s", d)
	}
	_, err = s.ConsumeSSOTicket(ctx, "t1", hash("tk-1"), at(30*time.Second))
	wantErr(t, "ConsumeSSOTicket(second time)", err, store.ErrNotFound)

	must(t, "CreateSSOTicket", s.CreateSSOTicket(ctx, newSSOTicket("t1", "tk-2", time.Minute)))
	_, err = s.ConsumeSSOTicket(ctx, "t1", hash("tk-2"), at(time.Minute))
	wantErr(t, "ConsumeSSOTicket(expired)", err, store.ErrNotFound)
}

// testSingleUseRace: many requests present the same state token or ticket
// at once; exactly one may consume it.
func testSingleUseRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 50
	for round := range raceRounds {
		st := hash(fmt.Sprintf("st-%d", round))
		tk := hash(fmt.Sprintf("tk-%d", round))
		must(t, "CreateStateToken", s.CreateStateToken(ctx, newStateToken("t1", fmt.Sprintf("st-%d", round), time.Hour)))
		must(t, "CreateSSOTicket", s.CreateSSOTicket(ctx, newSSOTicket("t1", fmt.Sprintf("tk-%d", round), time.Hour)))
		for _, tc := range []struct {
			name    string
			consume func() error
		}{
			{"ConsumeStateToken", func() error {
				_, err := s.ConsumeStateToken(ctx, "t1", st, at(0))
				return err
			}},
			{"ConsumeSSOTicket", func() error {
				_, err := s.ConsumeSSOTicket(ctx, "t1", tk, at(0))
				return err
			}},
		} {
			results := parallel(n, func(int) (struct{}, error) { return struct{}{}, tc.consume() })
			won := 0
			for _, r := range results {
				switch {
				case r.err == nil:
					won++
				case !errors.Is(r.err, store.ErrNotFound):
					t.Errorf("round %d: %s: unexpected error %v", round, tc.name, r.err)
				}
			}
			if won != 1 {
				t.Errorf("round %d: %s: %d of %d concurrent calls succeeded, want 1", round, tc.name, won, n)
			}
		}
	}
}

func testAccessTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	at1 := store.AccessToken{
		TokenHash: hash("at-1"), TenantID: "t1", ClientID: "web", UserID: "u1",
		Scope: "openid profile", GrantID: "g1", SessionID: "s1", AuthTime: at(-time.Minute),
		CreatedAt: at(0), ExpiresAt: at(time.Hour),
	}
	cc := store.AccessToken{ // client_credentials: no user, grant, session or auth time
		TokenHash: hash("at-2"), TenantID: "t1", ClientID: "svc",
		Scope: "", CreatedAt: at(0), ExpiresAt: at(time.Hour),
	}
	if o, ok := s.(store.OAuthStore); ok {
		startGrant(t, o, "t1", "g1") // a token of a grant needs the grant
	}
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, at1))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, cc))
	wantErr(t, "CreateAccessToken(duplicate)", s.CreateAccessToken(ctx, at1), store.ErrConflict)

	for _, want := range []store.AccessToken{at1, cc} {
		got, err := s.AccessTokenByHash(ctx, "t1", want.TokenHash, at(59*time.Minute))
		must(t, "AccessTokenByHash", err)
		if d := diff(want, got); d != "" {
			t.Errorf("AccessTokenByHash mismatch (-want +got):\n%s", d)
		}
	}
	for _, tc := range []struct {
		name   string
		tenant string
		hash   []byte
		now    time.Time
	}{
		{"at expiry", "t1", hash("at-1"), at(time.Hour)},
		{"after expiry", "t1", hash("at-1"), at(2 * time.Hour)},
		{"other tenant", "t2", hash("at-1"), at(0)},
		{"unknown", "t1", hash("nope"), at(0)},
	} {
		_, err := s.AccessTokenByHash(ctx, tc.tenant, tc.hash, tc.now)
		wantErr(t, "AccessTokenByHash("+tc.name+")", err, store.ErrNotFound)
	}
	// Looking a token up does not consume it.
	if _, err := s.AccessTokenByHash(ctx, "t1", hash("at-1"), at(0)); err != nil {
		t.Errorf("AccessTokenByHash(again): %v", err)
	}
}

func newKey(tenantID, alg string, gen int) store.SigningKey {
	id := tenantID + "-" + alg + "-" + string(rune('0'+gen))
	return store.SigningKey{
		ID:          id,
		TenantID:    tenantID,
		Algorithm:   alg,
		Generation:  gen,
		PrivateKey:  hash("sealed " + id),
		PublicJWK:   []byte(`{"kty":"RSA","kid":"` + id + `"}`),
		CreatedAt:   at(time.Duration(gen) * time.Hour),
		ActivatesAt: at(time.Duration(gen)*time.Hour + 10*time.Minute),
	}
}

func keyIDs(keys []store.SigningKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := newKey("t1", "RS256", 1)
	must(t, "AddSigningKey(1)", s.AddSigningKey(ctx, k1, time.Time{}))
	k2 := newKey("t1", "RS256", 2)
	retain := at(48 * time.Hour)
	must(t, "AddSigningKey(2)", s.AddSigningKey(ctx, k2, retain))
	es := newKey("t1", "ES256", 1)
	must(t, "AddSigningKey(ES256)", s.AddSigningKey(ctx, es, at(time.Hour)))
	other := newKey("t2", "RS256", 1)
	must(t, "AddSigningKey(t2)", s.AddSigningKey(ctx, other, at(time.Hour)))

	// Two nodes adding the same generation: the second is a conflict.
	dup := newKey("t1", "RS256", 2)
	dup.ID = "another-kid"
	wantErr(t, "AddSigningKey(same generation)", s.AddSigningKey(ctx, dup, at(99*time.Hour)), store.ErrConflict)
	sameKid := newKey("t1", "RS256", 3)
	sameKid.ID = k1.ID
	wantErr(t, "AddSigningKey(same kid)", s.AddSigningKey(ctx, sameKid, at(99*time.Hour)), store.ErrConflict)

	// Adding k2 retired k1 only; other algorithms and tenants kept theirs.
	wantK1 := k1
	wantK1.RetainUntil = retain
	keys, err := s.ListSigningKeys(ctx, "t1", at(0))
	must(t, "ListSigningKeys", err)
	byID := map[string]store.SigningKey{}
	for _, k := range keys {
		byID[k.ID] = k
	}
	for _, want := range []store.SigningKey{wantK1, k2, es} {
		if d := diff(want, byID[want.ID]); d != "" {
			t.Errorf("ListSigningKeys: key %s mismatch (-want +got):\n%s", want.ID, d)
		}
	}
	if len(keys) != 3 {
		t.Errorf("ListSigningKeys(t1) = %v, want 3 keys", keyIDs(keys))
	}
	assertGenerationOrder(t, keys)

	all, err := s.ListSigningKeys(ctx, "", at(0))
	must(t, "ListSigningKeys(all)", err)
	if len(all) != 4 {
		t.Errorf("ListSigningKeys(all) = %v, want 4 keys", keyIDs(all))
	}
	assertGenerationOrder(t, all)

	// Past its RetainUntil, k1 is no longer listed (RetainUntil itself is
	// the first instant it is gone).
	for _, tc := range []struct {
		now  time.Time
		want []string
	}{
		{retain.Add(-time.Millisecond), []string{k1.ID, k2.ID}},
		{retain, []string{k2.ID}},
		{retain.Add(time.Hour), []string{k2.ID}},
	} {
		keys, err := s.ListSigningKeys(ctx, "t1", tc.now)
		must(t, "ListSigningKeys", err)
		var got []string
		for _, k := range keys {
			if k.Algorithm == "RS256" {
				got = append(got, k.ID)
			}
		}
		if d := diff(tc.want, got); d != "" {
			t.Errorf("ListSigningKeys(now=%v) RS256 keys mismatch (-want +got):\n%s", tc.now, d)
		}
	}

	// Adding generation 3 retires k2 but leaves k1's RetainUntil alone.
	k3 := newKey("t1", "RS256", 3)
	must(t, "AddSigningKey(3)", s.AddSigningKey(ctx, k3, at(96*time.Hour)))
	keys, err = s.ListSigningKeys(ctx, "t1", at(0))
	must(t, "ListSigningKeys", err)
	got := map[string]time.Time{}
	for _, k := range keys {
		got[k.ID] = k.RetainUntil
	}
	want := map[string]time.Time{k1.ID: retain, k2.ID: at(96 * time.Hour), k3.ID: {}, es.ID: {}}
	if d := diff(want, got); d != "" {
		t.Errorf("RetainUntil after third generation (-want +got):\n%s", d)
	}
}

// assertGenerationOrder checks that within each (tenant, algorithm) keys
// come oldest generation first.
func assertGenerationOrder(t *testing.T, keys []store.SigningKey) {
	t.Helper()
	last := map[[2]string]int{}
	for _, k := range keys {
		g := [2]string{k.TenantID, k.Algorithm}
		if prev, ok := last[g]; ok && prev >= k.Generation {
			t.Errorf("ListSigningKeys: %s/%s generation %d after %d", k.TenantID, k.Algorithm, k.Generation, prev)
		}
		last[g] = k.Generation
	}
}

// testSigningKeyConflictRollsBack: a conflicting AddSigningKey must not
// leave older keys retired.
func testSigningKeyConflictRollsBack(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Generation 2 first, then 1: key 1 is older and still unretired.
	must(t, "AddSigningKey(2)", s.AddSigningKey(ctx, newKey("t1", "RS256", 2), time.Time{}))
	must(t, "AddSigningKey(1)", s.AddSigningKey(ctx, newKey("t1", "RS256", 1), at(time.Hour)))
	dup := newKey("t1", "RS256", 2)
	dup.ID = "loser"
	wantErr(t, "AddSigningKey(conflict)", s.AddSigningKey(ctx, dup, at(time.Hour)), store.ErrConflict)
	keys, err := s.ListSigningKeys(ctx, "t1", at(0))
	must(t, "ListSigningKeys", err)
	if len(keys) != 2 {
		t.Fatalf("ListSigningKeys = %v, want 2 keys", keyIDs(keys))
	}
	for _, k := range keys {
		if !k.RetainUntil.IsZero() {
			t.Errorf("key %s: RetainUntil = %v after a failed AddSigningKey, want zero", k.ID, k.RetainUntil)
		}
	}
}

func testSweepExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Per table: 3 expired records (one exactly at "now") and 2 live ones.
	expiries := []time.Duration{-time.Hour, -time.Minute, 0, time.Millisecond, time.Hour}
	for i, e := range expiries {
		n := string(rune('a' + i))
		se := newSession("t1", "s"+n, "tok-"+n)
		se.ExpiresAt = at(e)
		must(t, "CreateSession", s.CreateSession(ctx, se))
		must(t, "CreateStateToken", s.CreateStateToken(ctx, newStateToken("t1", "st-"+n, e)))
		must(t, "CreateSSOTicket", s.CreateSSOTicket(ctx, newSSOTicket("t1", "tk-"+n, e)))
		must(t, "CreateAccessToken", s.CreateAccessToken(ctx, store.AccessToken{
			TokenHash: hash("at-" + n), TenantID: "t1", ClientID: "web", CreatedAt: at(-2 * time.Hour), ExpiresAt: at(e),
		}))
		// Signing keys: generation i+1 of its own algorithm; RetainUntil
		// e, except that the live ones here are the current keys (zero).
		k := newKey("t1", "ALG-"+n, 1)
		if e <= 0 {
			k.RetainUntil = at(e)
		}
		must(t, "AddSigningKey", s.AddSigningKey(ctx, k, time.Time{}))
	}
	const tables = 5
	wantSweeps(t, s, tables)

	// The live records are all still there. (Lookups are by "now" before
	// any expiry so that the reading methods do not hide them.)
	for i := 3; i < len(expiries); i++ {
		n := string(rune('a' + i))
		if _, err := s.SessionByTokenHash(ctx, "t1", hash("tok-"+n)); err != nil {
			t.Errorf("live session %s: %v", n, err)
		}
		if _, err := s.AccessTokenByHash(ctx, "t1", hash("at-"+n), at(-time.Hour)); err != nil {
			t.Errorf("live access token %s: %v", n, err)
		}
		if _, err := s.ConsumeStateToken(ctx, "t1", hash("st-"+n), at(-time.Hour)); err != nil {
			t.Errorf("live state token %s: %v", n, err)
		}
		if _, err := s.ConsumeSSOTicket(ctx, "t1", hash("tk-"+n), at(-time.Hour)); err != nil {
			t.Errorf("live SSO ticket %s: %v", n, err)
		}
	}
	// The expired ones are gone even for a reader with an earlier clock.
	for i := range 3 {
		n := string(rune('a' + i))
		if _, err := s.SessionByTokenHash(ctx, "t1", hash("tok-"+n)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired session %s: got %v, want ErrNotFound", n, err)
		}
		if _, err := s.AccessTokenByHash(ctx, "t1", hash("at-"+n), at(-2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired access token %s: got %v, want ErrNotFound", n, err)
		}
		if _, err := s.ConsumeStateToken(ctx, "t1", hash("st-"+n), at(-2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired state token %s: got %v, want ErrNotFound", n, err)
		}
		if _, err := s.ConsumeSSOTicket(ctx, "t1", hash("tk-"+n), at(-2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired SSO ticket %s: got %v, want ErrNotFound", n, err)
		}
	}
	keys, err := s.ListSigningKeys(ctx, "t1", at(-2*time.Hour))
	must(t, "ListSigningKeys", err)
	if d := diff([]string{"t1-ALG-d-1", "t1-ALG-e-1"}, keyIDs(keys)); d != "" {
		t.Errorf("signing keys after sweep (-want +got):\n%s", d)
	}
}

// testTimes checks that zero times come back zero (not the Unix epoch) and
// that non-zero times come back as the same instant whatever their zone.
func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	zero := store.User{TenantID: "t1", ID: "zero", Username: "zero", Status: store.UserActive}
	must(t, "CreateUser", s.CreateUser(ctx, zero))
	got, err := s.GetUser(ctx, "t1", "zero")
	must(t, "GetUser", err)
	for name, v := range map[string]time.Time{
		"PasswordChangedAt": got.PasswordChangedAt, "FailedWindowStart": got.FailedWindowStart,
		"LockedUntil": got.LockedUntil, "CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt,
	} {
		if !v.IsZero() {
			t.Errorf("zero %s came back as %v", name, v)
		}
	}

	shanghai := time.FixedZone("CST", 8*60*60)
	local := time.Date(2026, 11, 1, 20, 0, 0, 123_000_000, shanghai)
	for i, when := range []time.Time{
		local,
		time.Date(1999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(2100, 1, 1, 0, 0, 0, 1_000_000, time.UTC),
		time.UnixMilli(1), // just after the epoch
	} {
		id := "t" + string(rune('0'+i))
		u := store.User{TenantID: "t1", ID: id, Username: id, Status: store.UserActive,
			PasswordChangedAt: when, FailedWindowStart: when, LockedUntil: when, CreatedAt: when, UpdatedAt: when}
		must(t, "CreateUser", s.CreateUser(ctx, u))
		got, err := s.GetUser(ctx, "t1", id)
		must(t, "GetUser", err)
		for name, v := range map[string]time.Time{
			"PasswordChangedAt": got.PasswordChangedAt, "FailedWindowStart": got.FailedWindowStart,
			"LockedUntil": got.LockedUntil, "CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt,
		} {
			if !v.Equal(when) {
				t.Errorf("%s: stored %v, got %v", name, when, v)
			}
		}
	}

	// Durations keep millisecond precision.
	a := store.Application{TenantID: "t1", ClientID: "c", SessionTTL: 1500 * time.Millisecond, RotationGrace: time.Millisecond}
	must(t, "UpsertApplication", s.UpsertApplication(ctx, a))
	app, err := s.GetApplication(ctx, "t1", "c")
	must(t, "GetApplication", err)
	if app.SessionTTL != a.SessionTTL || app.RotationGrace != a.RotationGrace || !app.CreatedAt.IsZero() {
		t.Errorf("durations: got %v %v created %v, want %v %v zero", app.SessionTTL, app.RotationGrace, app.CreatedAt, a.SessionTTL, a.RotationGrace)
	}
}

// wantSweeps checks a sweep of fixtures with three expired rows in each of
// tables tables: a batch of 2 deletes two per table, the next call the
// last one per table, and a third finds nothing.
func wantSweeps(t *testing.T, s store.Store, tables int64) {
	t.Helper()
	ctx := t.Context()
	for _, step := range []struct {
		batch int
		want  int64
	}{{2, 2 * tables}, {100, tables}, {100, 0}} {
		n, err := s.SweepExpired(ctx, at(0), step.batch)
		must(t, "SweepExpired", err)
		if n != step.want {
			t.Errorf("SweepExpired(batch %d) = %d, want %d", step.batch, n, step.want)
		}
	}
}
