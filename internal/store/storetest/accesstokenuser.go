package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// testAccessTokenWithUser: the joined read finds a token exactly when
// AccessTokenByHash does (tenant, expiry, deletion), and returns with it
// the profile (User.Profile) of what GetUser would: the user, disabled or
// not; the zero User for a
// client_credentials token and for a user that no longer exists; never a
// user of another tenant, even one with the token's user id.
func testAccessTokenWithUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := []store.User{
		{TenantID: "t1", ID: "u1", Username: "alice", Name: "Alice", Email: "alice@example.com", Mobile: "+15550100",
			Status: store.UserActive, PasswordHash: "$argon2id$x", PasswordChangedAt: at(-time.Hour),
			FailedLogins: 2, FailedWindowStart: at(-time.Minute), CreatedAt: at(-48 * time.Hour), UpdatedAt: at(-time.Hour)},
		{TenantID: "t1", ID: "u2", Username: "bob", Name: "Bob", Status: store.UserActive, CreatedAt: now, UpdatedAt: now},
		// Same id as u1, other tenant.
		{TenantID: "t2", ID: "u1", Username: "mallory", Name: "Mallory", Status: store.UserActive, CreatedAt: now, UpdatedAt: now},
		// Only in t1: a t2 token naming it must not find it.
		{TenantID: "t1", ID: "u3", Username: "carol", Status: store.UserActive, CreatedAt: now, UpdatedAt: now},
	}
	for _, u := range users {
		must(t, "CreateUser", s.CreateUser(ctx, u))
	}
	// u2 is disabled after its token was issued.
	bob := users[1]
	bob.Status = store.UserDisabled
	must(t, "UpdateUserProfile", s.UpdateUserProfile(ctx, bob))

	token := func(tenant, tok, user string, expires time.Duration) store.AccessToken {
		at := store.AccessToken{TokenHash: hash(tok), TenantID: tenant, ClientID: "web", UserID: user,
			Scope: "openid profile", SessionID: "s-" + tok, AuthTime: at(-time.Hour), CreatedAt: at(-time.Minute), ExpiresAt: at(expires)}
		if user == "" {
			at.ClientID, at.Scope, at.SessionID, at.AuthTime = "svc", "api", "", time.Time{}
		}
		return at
	}
	tokens := []store.AccessToken{
		token("t1", "at-alice", "u1", time.Hour),
		token("t1", "at-bob", "u2", time.Hour),     // disabled user
		token("t1", "at-cc", "", time.Hour),        // client_credentials
		token("t1", "at-ghost", "gone", time.Hour), // user does not exist (deleted)
		token("t1", "at-expired", "u1", 0),         // expires exactly at now
		token("t1", "at-zero", "u1", 0),
		token("t2", "at-mallory", "u1", time.Hour),
		token("t2", "at-carol", "u3", time.Hour), // u3 exists in t1 only
	}
	tokens[5].ExpiresAt = time.Time{} // a zero expiry counts as expired
	for _, at := range tokens {
		must(t, "CreateAccessToken", s.CreateAccessToken(ctx, at))
	}
	wantUser := map[string]store.User{"u1": users[0], "u2": bob}

	for _, tc := range []struct {
		name, tenant, token string
		now                 time.Time
		want                int    // index in tokens; -1: ErrNotFound
		user                string // key of wantUser; "": the zero User
	}{
		{"found", "t1", "at-alice", at(0), 0, "u1"},
		{"just before expiry", "t1", "at-alice", at(time.Hour - time.Millisecond), 0, "u1"},
		{"disabled user", "t1", "at-bob", at(0), 1, "u2"},
		{"client_credentials", "t1", "at-cc", at(0), 2, ""},
		{"user gone", "t1", "at-ghost", at(0), 3, ""},
		{"other tenant's user of the same id", "t2", "at-mallory", at(0), 6, "mallory"},
		{"user only in another tenant", "t2", "at-carol", at(0), 7, ""},
		{"unknown", "t1", "nope", at(0), -1, ""},
		{"other tenant's token", "t2", "at-alice", at(0), -1, ""},
		{"other tenant's token, reversed", "t1", "at-mallory", at(0), -1, ""},
		{"at expiry", "t1", "at-alice", at(time.Hour), -1, ""},
		{"expires at now", "t1", "at-expired", at(0), -1, ""},
		{"zero expiry", "t1", "at-zero", at(0), -1, ""},
	} {
		gotAT, gotU, err := s.AccessTokenWithUser(ctx, tc.tenant, hash(tc.token), tc.now)
		// The two reads it replaces must agree with it in every case.
		twoAT, twoU, twoErr := twoReads(t, s, tc.tenant, hash(tc.token), tc.now)
		if !errors.Is(err, twoErr) && !(err == nil && twoErr == nil) {
			t.Errorf("%s: error %v, the two reads give %v", tc.name, err, twoErr)
		}
		if tc.want < 0 {
			wantErr(t, "AccessTokenWithUser("+tc.name+")", err, store.ErrNotFound)
			if gotAT.TokenHash != nil || gotU.ID != "" {
				t.Errorf("%s: not found, yet returned %+v %+v", tc.name, gotAT, gotU)
			}
			continue
		}
		must(t, "AccessTokenWithUser("+tc.name+")", err)
		if d := diff(tokens[tc.want], gotAT); d != "" {
			t.Errorf("%s: token (-want +got):\n%s", tc.name, d)
		}
		want := wantUser[tc.user]
		if tc.user == "mallory" {
			want = users[2]
		}
		if d := diff(want.Profile(), gotU); d != "" {
			t.Errorf("%s: user (-want +got):\n%s", tc.name, d)
		}
		if d := diff(twoAT, gotAT) + diff(twoU.Profile(), gotU); d != "" {
			t.Errorf("%s: differs from the two reads (-two +joined):\n%s", tc.name, d)
		}
	}

	// Revocation deletes access tokens (DeleteAccessToken, RevokeGrant);
	// a deleted token is not found, and the others still are.
	o, ok := s.(store.OAuthStore)
	if !ok {
		return
	}
	must(t, "DeleteAccessToken", o.DeleteAccessToken(ctx, "t1", hash("at-alice")))
	_, _, err := s.AccessTokenWithUser(ctx, "t1", hash("at-alice"), at(0))
	wantErr(t, "AccessTokenWithUser(deleted)", err, store.ErrNotFound)
	startGrant(t, o, "t1", "g1")
	granted := token("t1", "at-grant", "u1", time.Hour)
	granted.GrantID = "g1"
	must(t, "CreateAccessToken(grant)", s.CreateAccessToken(ctx, granted))
	if _, u, err := s.AccessTokenWithUser(ctx, "t1", hash("at-grant"), at(0)); err != nil || u.ID != "u1" {
		t.Fatalf("AccessTokenWithUser(grant): %+v %v", u, err)
	}
	if _, err := o.RevokeGrant(ctx, "t1", "g1"); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.AccessTokenWithUser(ctx, "t1", hash("at-grant"), at(0))
	wantErr(t, "AccessTokenWithUser(revoked grant)", err, store.ErrNotFound)
	if _, u, err := s.AccessTokenWithUser(ctx, "t1", hash("at-bob"), at(0)); err != nil || u.ID != "u2" {
		t.Errorf("AccessTokenWithUser(untouched token): %+v %v", u, err)
	}
}

// twoReads is what callers did before AccessTokenWithUser: the token, then
// its user, a missing user read as the zero User.
func twoReads(t *testing.T, s store.Store, tenantID string, h []byte, now time.Time) (store.AccessToken, store.User, error) {
	t.Helper()
	at, err := s.AccessTokenByHash(t.Context(), tenantID, h, now)
	if err != nil || at.UserID == "" {
		return at, store.User{}, err
	}
	u, err := s.GetUser(t.Context(), tenantID, at.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return at, store.User{}, nil
	}
	return at, u, err
}
