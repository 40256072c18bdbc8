package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// adminStore is what the admin subtests need.
type adminStore interface {
	store.Store
	store.OAuthStore
	store.SignedStore
	store.AdminStore
}

// admin adapts an admin subtest to Run's signature; a store without
// store.AdminStore (or the interfaces it builds on) skips it.
func admin(f func(t *testing.T, s adminStore)) func(t *testing.T, s store.Store) {
	return func(t *testing.T, s store.Store) {
		a, ok := s.(adminStore)
		if !ok {
			t.Skipf("%T does not implement store.AdminStore", s)
		}
		f(t, a)
	}
}

// collect pages through a listing with page size n and returns every
// key, failing on a page longer than n or a cursor that repeats.
func collect[T any](t *testing.T, n int, list func(cursor string) ([]T, string, error), key func(T) string) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range 100 {
		items, next, err := list(cursor)
		must(t, "list page", err)
		if len(items) > n {
			t.Fatalf("page of %d items, limit %d", len(items), n)
		}
		for _, it := range items {
			out = append(out, key(it))
		}
		if next == "" {
			return out
		}
		if next == cursor {
			t.Fatalf("cursor %q repeats", next)
		}
		cursor = next
	}
	t.Fatal("listing does not end")
	return nil
}

func testAdminTenantsPage(t *testing.T, s adminStore) {
	ctx := t.Context()
	for i, name := range []string{"Echo Corp", "alpha", "Delta 100%", "bravo_x", "charlie"} {
		tn := newTenant(fmt.Sprintf("t%d", i), fmt.Sprintf("t%d.test", i), fmt.Sprintf("www.t%d.test", i))
		tn.Name = name
		tn.Policy.MFA = store.MFAOptional
		must(t, "CreateTenant", s.CreateTenant(ctx, tn))
		got, err := s.GetTenant(ctx, tn.ID)
		must(t, "GetTenant", err)
		if d := diff(tn, got); d != "" {
			t.Errorf("created tenant mismatch (-want +got):\n%s", d)
		}
		if got, err := s.TenantByDomain(ctx, "www."+tn.ID+".test"); err != nil || got.ID != tn.ID {
			t.Errorf("TenantByDomain(second domain of %s) = %q, %v", tn.ID, got.ID, err)
		}
	}
	// A taken id or domain is a conflict, and leaves nothing behind.
	wantErr(t, "CreateTenant(taken id)", s.CreateTenant(ctx, newTenant("t1", "fresh.test")), store.ErrConflict)
	wantErr(t, "CreateTenant(taken domain)", s.CreateTenant(ctx, newTenant("t9", "fresh2.test", "T2.test")), store.ErrConflict)
	for _, d := range []string{"fresh.test", "fresh2.test"} {
		_, err := s.TenantByDomain(ctx, d)
		wantErr(t, "domain of a refused CreateTenant", err, store.ErrNotFound)
	}
	_, err := s.GetTenant(ctx, "t9")
	wantErr(t, "tenant of a refused CreateTenant", err, store.ErrNotFound)
	ids := func(f store.TenantFilter, n int) []string {
		return collect(t, n, func(c string) ([]store.Tenant, string, error) {
			f.Cursor, f.Limit = c, n
			return s.ListTenantsPage(ctx, f)
		}, func(x store.Tenant) string { return x.ID })
	}
	for _, tc := range []struct {
		name string
		f    store.TenantFilter
		want []string
	}{
		{"all", store.TenantFilter{}, []string{"t0", "t1", "t2", "t3", "t4"}},
		{"name, any case", store.TenantFilter{ListFilter: store.ListFilter{Query: "ECHO"}}, []string{"t0"}},
		{"id", store.TenantFilter{ListFilter: store.ListFilter{Query: "t3"}}, []string{"t3"}},
		{"percent is literal", store.TenantFilter{ListFilter: store.ListFilter{Query: "0%"}}, []string{"t2"}},
		{"underscore is literal", store.TenantFilter{ListFilter: store.ListFilter{Query: "o_x"}}, []string{"t3"}},
		{"no match", store.TenantFilter{ListFilter: store.ListFilter{Query: "zulu"}}, nil},
		{"ids", store.TenantFilter{IDs: []string{"t4", "t1", "nope", "t1"}}, []string{"t1", "t4"}},
		{"ids and query", store.TenantFilter{IDs: []string{"t4", "t1"}, ListFilter: store.ListFilter{Query: "CHAR"}}, []string{"t4"}},
		{"empty ids", store.TenantFilter{IDs: []string{}}, nil},
	} {
		for _, n := range []int{1, 2, 10} {
			if got := ids(tc.f, n); !slices.Equal(got, tc.want) {
				t.Errorf("%s, pages of %d: got %q, want %q", tc.name, n, got, tc.want)
			}
		}
	}
	// Limit 0 means the maximum page.
	all, next, err := s.ListTenantsPage(ctx, store.TenantFilter{})
	must(t, "ListTenantsPage", err)
	if len(all) != 5 || next != "" {
		t.Errorf("ListTenantsPage(no limit): %d tenants, next %q", len(all), next)
	}
	// A tenant added behind the cursor does not shift the next page.
	first, next, err := s.ListTenantsPage(ctx, store.TenantFilter{ListFilter: store.ListFilter{Limit: 2}})
	must(t, "ListTenantsPage", err)
	must(t, "UpsertTenant", s.UpsertTenant(ctx, newTenant("t00", "t00.test")))
	second, _, err := s.ListTenantsPage(ctx, store.TenantFilter{ListFilter: store.ListFilter{Limit: 2, Cursor: next}})
	must(t, "ListTenantsPage", err)
	if len(first) != 2 || first[1].ID != "t1" || len(second) != 2 || second[0].ID != "t2" {
		t.Errorf("pages around an insert: %v then %v", first, second)
	}
	for _, bad := range []string{"garbage", "eyJ4Ijox", encodeFor(t, s, "users")} {
		if _, _, err := s.ListTenantsPage(ctx, store.TenantFilter{ListFilter: store.ListFilter{Cursor: bad}}); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("ListTenantsPage(cursor %q): got %v, want ErrInvalidCursor", bad, err)
		}
	}
}

// encodeFor returns a real cursor of another listing (users of t-cursor).
func encodeFor(t *testing.T, s adminStore, listing string) string {
	t.Helper()
	ctx := t.Context()
	if listing != "users" {
		t.Fatalf("encodeFor: %s", listing)
	}
	for _, n := range []string{"c1", "c2"} {
		if err := s.CreateUser(ctx, newUser("t-cursor", n, n)); err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatal(err)
		}
	}
	_, next, err := s.ListUsers(ctx, "t-cursor", store.UserFilter{ListFilter: store.ListFilter{Limit: 1}})
	must(t, "ListUsers", err)
	if next == "" {
		t.Fatal("no cursor")
	}
	return next
}

// seedTenant gives tenant id a domain, an application, a user with a
// session and an SSO ticket, OAuth records, a signing key, an application
// key pair, a nonce and a tenant-admin role.
func seedTenant(t *testing.T, s adminStore, id string) {
	t.Helper()
	ctx := t.Context()
	must(t, "UpsertTenant", s.UpsertTenant(ctx, newTenant(id, id+".test")))
	must(t, "UpsertApplication", s.UpsertApplication(ctx, newApplication(id, "web")))
	must(t, "CreateUser", s.CreateUser(ctx, newUser(id, "u1", "alice")))
	se := newSession(id, id+"-s1", id+"-session")
	se.UserID = "u1"
	must(t, "CreateSession", s.CreateSession(ctx, se))
	must(t, "CreateSSOTicket", s.CreateSSOTicket(ctx, store.SSOTicket{TicketHash: hash(id + "-ticket"), TenantID: id, SessionID: se.ID, UserID: "u1", ClientID: "web", CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	must(t, "CreateStateToken", s.CreateStateToken(ctx, store.StateToken{TokenHash: hash(id + "-state"), TenantID: id, UserID: "u1", ClientID: "web", Purpose: "PASSWORD_WARN", CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	c := newAuthCode(id, id+"-code", time.Minute)
	c.GrantID = id + "-g1"
	c.SessionID = se.ID
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
	rt := newRefreshToken(id, id+"-rt", id+"-g1", time.Hour)
	rt.SessionID = se.ID
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, store.AccessToken{TokenHash: hash(id + "-at"), TenantID: id, ClientID: "web", UserID: "u1", GrantID: id + "-g1", SessionID: se.ID, CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	must(t, "AddSigningKey", s.AddSigningKey(ctx, newKey(id, "RS256", 1), time.Time{}))
	must(t, "AddAppKey", s.AddAppKey(ctx, store.AppKey{TenantID: id, ClientID: "web", PrivateKey: []byte("sealed"), PublicKeyPEM: "pem", CreatedAt: at(0)}))
	must(t, "UseNonce", s.UseNonce(ctx, id, "web", hash("nonce"), at(0), at(time.Hour)))
	must(t, "GrantAdminRole", s.GrantAdminRole(ctx, store.AdminRole{PrincipalType: store.PrincipalUser, PrincipalID: "admin-of-" + id, TenantID: id, CreatedAt: at(0)}))
}

// tenantLeft lists what of seedTenant's records tenant id still has.
func tenantLeft(t *testing.T, s adminStore, id string) []string {
	t.Helper()
	ctx := t.Context()
	var left []string
	check := func(what string, err error) {
		switch {
		case err == nil:
			left = append(left, what)
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("%s of %s: %v", what, id, err)
		}
	}
	_, err := s.GetTenant(ctx, id)
	check("tenant", err)
	_, err = s.TenantByDomain(ctx, id+".test")
	check("domain", err)
	_, err = s.GetApplication(ctx, id, "web")
	check("application", err)
	_, err = s.GetUser(ctx, id, "u1")
	check("user", err)
	_, err = s.SessionByTokenHash(ctx, id, hash(id+"-session"))
	check("session", err)
	_, err = s.AccessTokenByHash(ctx, id, hash(id+"-at"), at(0))
	check("access token", err)
	_, err = s.RefreshTokenByHash(ctx, id, hash(id+"-rt"), at(0))
	check("refresh token", err)
	_, err = s.GetAppKey(ctx, id, "web")
	check("app key", err)
	keys, err := s.ListSigningKeys(ctx, id, at(0))
	must(t, "ListSigningKeys", err)
	if len(keys) > 0 {
		left = append(left, "signing key")
	}
	roles, err := s.AdminRoles(ctx, store.PrincipalUser, "admin-of-"+id)
	must(t, "AdminRoles", err)
	if len(roles) > 0 {
		left = append(left, "admin role")
	}
	return left
}

func testAdminDeleteTenant(t *testing.T, s adminStore) {
	ctx := t.Context()
	seedTenant(t, s, "t1")
	seedTenant(t, s, "t2")
	all := []string{"tenant", "domain", "application", "user", "session", "access token", "refresh token", "app key", "signing key", "admin role"}
	if got := tenantLeft(t, s, "t1"); !slices.Equal(got, all) {
		t.Fatalf("seeded t1 has %q, want %q", got, all)
	}
	must(t, "DeleteTenant", s.DeleteTenant(ctx, "t1"))
	if got := tenantLeft(t, s, "t1"); len(got) > 0 {
		t.Errorf("after DeleteTenant(t1) it still has %q", got)
	}
	if got := tenantLeft(t, s, "t2"); !slices.Equal(got, all) {
		t.Errorf("after DeleteTenant(t1), t2 has %q, want %q", got, all)
	}
	// The single-use records went too: a ticket or state token of t1 is
	// unknown, and a nonce of t1 may be used again.
	_, err := s.ConsumeSSOTicket(ctx, "t1", hash("t1-ticket"), at(0))
	wantErr(t, "ConsumeSSOTicket after DeleteTenant", err, store.ErrNotFound)
	_, err = s.ConsumeStateToken(ctx, "t1", hash("t1-state"), at(0))
	wantErr(t, "ConsumeStateToken after DeleteTenant", err, store.ErrNotFound)
	must(t, "UseNonce after DeleteTenant", s.UseNonce(ctx, "t1", "web", hash("nonce"), at(0), at(time.Hour)))
	// Its grant is gone: no token can join it.
	wantErr(t, "CreateRefreshToken in a deleted tenant's grant", s.CreateRefreshToken(ctx, newRefreshToken("t1", "late", "t1-g1", time.Hour)), store.ErrRevoked)

	wantErr(t, "DeleteTenant(again)", s.DeleteTenant(ctx, "t1"), store.ErrNotFound)
	// Its domain is free again.
	must(t, "UpsertTenant(reusing the domain)", s.UpsertTenant(ctx, newTenant("t3", "t1.test")))

	// Deleting the system tenant removes every admin role: all principals
	// were its users and applications.
	must(t, "UpsertTenant(system)", s.UpsertTenant(ctx, newTenant(store.SystemTenantID, "admin.test")))
	must(t, "GrantAdminRole", s.GrantAdminRole(ctx, store.AdminRole{PrincipalType: store.PrincipalUser, PrincipalID: "root", CreatedAt: at(0)}))
	must(t, "DeleteTenant(system)", s.DeleteTenant(ctx, store.SystemTenantID))
	roles, _, err := s.ListAdminRoles(ctx, store.ListFilter{})
	must(t, "ListAdminRoles", err)
	if len(roles) > 0 {
		t.Errorf("roles after deleting the system tenant: %v", roles)
	}
}

func testAdminApplications(t *testing.T, s adminStore) {
	ctx := t.Context()
	for _, id := range []string{"web", "Mobile-App", "svc_1", "svc10"} {
		a := newApplication("t1", id)
		a.Name = "Name of " + id
		must(t, "CreateApplication", s.CreateApplication(ctx, a))
	}
	wantErr(t, "CreateApplication(taken)", s.CreateApplication(ctx, newApplication("t1", "web")), store.ErrConflict)
	must(t, "UpsertApplication", s.UpsertApplication(ctx, newApplication("t2", "other")))
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"", []string{"Mobile-App", "svc10", "svc_1", "web"}},
		{"MOBILE", []string{"Mobile-App"}},
		{"c_", []string{"svc_1"}},
		{"name of s", []string{"svc10", "svc_1"}},
		{"other", nil},
	} {
		for _, n := range []int{1, 3} {
			got := collect(t, n, func(c string) ([]store.Application, string, error) {
				return s.ListApplicationsPage(ctx, "t1", store.ListFilter{Query: tc.q, Cursor: c, Limit: n})
			}, func(a store.Application) string { return a.ClientID })
			if !slices.Equal(got, tc.want) {
				t.Errorf("ListApplicationsPage(%q, pages of %d) = %q, want %q", tc.q, n, got, tc.want)
			}
		}
	}
	// A listed application carries every setting.
	apps, _, err := s.ListApplicationsPage(ctx, "t1", store.ListFilter{Query: "web"})
	must(t, "ListApplicationsPage", err)
	want := newApplication("t1", "web")
	want.Name = "Name of web"
	if len(apps) != 1 || diff(want, apps[0]) != "" {
		t.Errorf("listed application mismatch (-want +got):\n%s", diff([]store.Application{want}, apps))
	}
	// UpdateApplication changes every setting but the secret and the
	// creation time; SetApplicationSecret the secret alone.
	upd := newApplication("t1", "web")
	upd.Name, upd.SecretHash, upd.CreatedAt, upd.UpdatedAt = "Renamed", hash("ignored"), at(time.Hour), at(time.Hour)
	upd.RedirectURIs, upd.PostLogoutRedirectURIs, upd.GrantTypes = []string{"https://new.test/cb"}, []string{"https://new.test/bye"}, []string{"client_credentials"}
	upd.SessionTTL, upd.SessionAutoRefresh, upd.RotationGrace, upd.DeviceBinding = time.Hour, false, time.Minute, false
	upd.IDTokenTTL, upd.IDTokenAlg, upd.AccessTokenTTL, upd.TenantAccessTokenTTL = time.Minute, "EdDSA", 3*time.Minute, 4*time.Minute
	upd.RefreshTokenTTL, upd.AccessTokenFormat = 0, "jwt"
	must(t, "UpdateApplication", s.UpdateApplication(ctx, upd))
	got, err := s.GetApplication(ctx, "t1", "web")
	must(t, "GetApplication", err)
	wantUpd := upd
	wantUpd.SecretHash, wantUpd.CreatedAt = want.SecretHash, want.CreatedAt
	if d := diff(wantUpd, got); d != "" {
		t.Errorf("after UpdateApplication (-want +got):\n%s", d)
	}
	must(t, "SetApplicationSecret", s.SetApplicationSecret(ctx, "t1", "web", hash("new secret"), at(2*time.Hour)))
	got, err = s.GetApplication(ctx, "t1", "web")
	must(t, "GetApplication", err)
	wantUpd.SecretHash, wantUpd.UpdatedAt = hash("new secret"), at(2*time.Hour)
	if d := diff(wantUpd, got); d != "" {
		t.Errorf("after SetApplicationSecret (-want +got):\n%s", d)
	}
	must(t, "SetApplicationSecret(nil)", s.SetApplicationSecret(ctx, "t1", "web", nil, at(2*time.Hour)))
	if got, _ := s.GetApplication(ctx, "t1", "web"); !got.Public() {
		t.Error("SetApplicationSecret(nil) left a secret")
	}
	upd.ClientID = "nope"
	wantErr(t, "UpdateApplication(unknown)", s.UpdateApplication(ctx, upd), store.ErrNotFound)
	wantErr(t, "SetApplicationSecret(unknown)", s.SetApplicationSecret(ctx, "t2", "web", nil, at(0)), store.ErrNotFound)
	wantErr(t, "DeleteApplication(unknown)", s.DeleteApplication(ctx, "t1", "nope"), store.ErrNotFound)
	wantErr(t, "DeleteApplication(other tenant's)", s.DeleteApplication(ctx, "t2", "web"), store.ErrNotFound)
}

func testAdminDeleteApplication(t *testing.T, s adminStore) {
	ctx := t.Context()
	seedTenant(t, s, "t1")
	// A second application with a grant and tokens of its own, and a
	// client_credentials token of "web".
	must(t, "UpsertApplication", s.UpsertApplication(ctx, newApplication("t1", "spa")))
	c := newAuthCode("t1", "spa-code", time.Minute)
	c.ClientID, c.GrantID = "spa", "g-spa"
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
	rt := newRefreshToken("t1", "spa-rt", "g-spa", time.Hour)
	rt.ClientID = "spa"
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, store.AccessToken{TokenHash: hash("web-cc"), TenantID: "t1", ClientID: "web", Scope: "all", CreatedAt: at(0), ExpiresAt: at(time.Hour)}))

	must(t, "DeleteApplication", s.DeleteApplication(ctx, "t1", "web"))
	_, err := s.GetApplication(ctx, "t1", "web")
	wantErr(t, "GetApplication after delete", err, store.ErrNotFound)
	for _, h := range []string{"t1-at", "web-cc"} {
		_, err = s.AccessTokenByHash(ctx, "t1", hash(h), at(0))
		wantErr(t, "access token "+h+" of the deleted application", err, store.ErrNotFound)
	}
	_, err = s.RefreshTokenByHash(ctx, "t1", hash("t1-rt"), at(0))
	wantErr(t, "refresh token of the deleted application", err, store.ErrNotFound)
	_, err = s.RedeemAuthCode(ctx, "t1", hash("t1-code"), at(0))
	wantErr(t, "code of the deleted application", err, store.ErrNotFound)
	_, err = s.GetAppKey(ctx, "t1", "web")
	wantErr(t, "key pair of the deleted application", err, store.ErrNotFound)
	wantErr(t, "new token in the deleted application's grant", s.CreateRefreshToken(ctx, newRefreshToken("t1", "late", "t1-g1", time.Hour)), store.ErrRevoked)
	// The login itself stays (single sign-on), as does the other
	// application and its grant.
	_, err = s.SessionByTokenHash(ctx, "t1", hash("t1-session"))
	must(t, "session after deleting its application", err)
	_, err = s.RefreshTokenByHash(ctx, "t1", hash("spa-rt"), at(0))
	must(t, "other application's refresh token", err)
	_, err = s.RotateRefreshToken(ctx, "t1", hash("spa-rt"), hash("spa-rt2"), at(0), at(time.Hour))
	must(t, "other application's grant is live", err)

	// In the system tenant the application's admin roles go with it.
	must(t, "UpsertApplication", s.UpsertApplication(ctx, newApplication(store.SystemTenantID, "robot")))
	must(t, "UpsertApplication", s.UpsertApplication(ctx, newApplication("t1", "robot")))
	must(t, "GrantAdminRole", s.GrantAdminRole(ctx, store.AdminRole{PrincipalType: store.PrincipalApplication, PrincipalID: "robot", TenantID: "t1", CreatedAt: at(0)}))
	must(t, "DeleteApplication(t1 robot)", s.DeleteApplication(ctx, "t1", "robot"))
	roles, err := s.AdminRoles(ctx, store.PrincipalApplication, "robot")
	must(t, "AdminRoles", err)
	if len(roles) != 1 {
		t.Errorf("deleting another tenant's robot touched the system robot's roles: %v", roles)
	}
	must(t, "DeleteApplication(system robot)", s.DeleteApplication(ctx, store.SystemTenantID, "robot"))
	roles, err = s.AdminRoles(ctx, store.PrincipalApplication, "robot")
	must(t, "AdminRoles", err)
	if len(roles) != 0 {
		t.Errorf("roles of a deleted system application: %v", roles)
	}
}

func testAdminUsers(t *testing.T, s adminStore) {
	ctx := t.Context()
	for i, name := range []string{"Carol", "alice", "Bob", "dave", "erin"} {
		u := newUser("t1", fmt.Sprintf("u%d", i), name)
		u.Name = "Name " + name
		u.Email = name + "@Example.COM"
		u.Mobile = fmt.Sprintf("+1-555-%04d", i)
		if name == "dave" {
			u.Status = store.UserDisabled
		}
		must(t, "CreateUser", s.CreateUser(ctx, u))
	}
	must(t, "CreateUser", s.CreateUser(ctx, newUser("t2", "x", "alice-of-t2")))
	for _, tc := range []struct {
		name string
		f    store.UserFilter
		want []string
	}{
		{"all, case-insensitive order", store.UserFilter{}, []string{"alice", "Bob", "Carol", "dave", "erin"}},
		{"e-mail", store.UserFilter{ListFilter: store.ListFilter{Query: "CAROL@example"}}, []string{"Carol"}},
		{"name", store.UserFilter{ListFilter: store.ListFilter{Query: "name b"}}, []string{"Bob"}},
		{"mobile", store.UserFilter{ListFilter: store.ListFilter{Query: "555-0004"}}, []string{"erin"}},
		{"user name part", store.UserFilter{ListFilter: store.ListFilter{Query: "AV"}}, []string{"dave"}},
		{"disabled", store.UserFilter{Status: store.UserDisabled}, []string{"dave"}},
		{"active with query", store.UserFilter{Status: store.UserActive, ListFilter: store.ListFilter{Query: "example.com"}}, []string{"alice", "Bob", "Carol", "erin"}},
		{"wildcard literal", store.UserFilter{ListFilter: store.ListFilter{Query: "%"}}, nil},
	} {
		for _, n := range []int{1, 2, 50} {
			got := collect(t, n, func(c string) ([]store.User, string, error) {
				f := tc.f
				f.Cursor, f.Limit = c, n
				return s.ListUsers(ctx, "t1", f)
			}, func(u store.User) string { return u.Username })
			if !slices.Equal(got, tc.want) {
				t.Errorf("ListUsers(%s, pages of %d) = %q, want %q", tc.name, n, got, tc.want)
			}
		}
	}
	if _, _, err := s.ListUsers(ctx, "t1", store.UserFilter{ListFilter: store.ListFilter{Cursor: "bm90IGEgY3Vyc29y"}}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Errorf("ListUsers(bad cursor): %v", err)
	}

	// Profile and status change independently: neither writes the other's
	// columns, so concurrent edits cannot undo each other.
	base, err := s.GetUser(ctx, "t1", "u1")
	must(t, "GetUser", err)
	must(t, "SetUserStatus", s.SetUserStatus(ctx, "t1", "u1", store.UserDisabled, at(time.Minute)))
	must(t, "SetUserProfile", s.SetUserProfile(ctx, "t1", "u1", store.UserProfile{Name: "Alice L", Email: "AL@Example.org", Mobile: "+44"}, at(2*time.Minute)))
	got, err := s.GetUser(ctx, "t1", "u1")
	must(t, "GetUser", err)
	want := base
	want.Status, want.Name, want.Email, want.Mobile, want.UpdatedAt = store.UserDisabled, "Alice L", "AL@Example.org", "+44", at(2*time.Minute)
	if d := diff(want, got); d != "" {
		t.Errorf("after SetUserStatus and SetUserProfile (-want +got):\n%s", d)
	}
	// The e-mail key follows the profile: login by the new address works.
	if us, err := s.UsersByLoginID(ctx, "t1", "al@example.ORG"); err != nil || len(us) != 1 || us[0].ID != "u1" {
		t.Errorf("UsersByLoginID(new e-mail) = %v, %v", us, err)
	}

	// UnlockUser clears the failures and the lock only.
	p := store.TenantPolicy{LockoutThreshold: 1, LockoutWindow: time.Minute, LockoutDuration: time.Hour}
	locked, err := s.RecordLoginFailure(ctx, "t1", "u0", at(0), p)
	must(t, "RecordLoginFailure", err)
	if locked.IsZero() {
		t.Fatal("user not locked")
	}
	_, err = s.RecordLoginFailure(ctx, "t1", "u0", at(time.Second), store.TenantPolicy{LockoutThreshold: 5, LockoutWindow: time.Minute, LockoutDuration: time.Hour})
	must(t, "RecordLoginFailure", err)
	must(t, "UnlockUser", s.UnlockUser(ctx, "t1", "u0", at(2*time.Second)))
	got, err = s.GetUser(ctx, "t1", "u0")
	must(t, "GetUser", err)
	if !got.LockedUntil.IsZero() || got.FailedLogins != 0 || !got.FailedWindowStart.IsZero() || got.Status != store.UserActive || got.Name != "Name Carol" || !got.UpdatedAt.Equal(at(2*time.Second)) {
		t.Errorf("after UnlockUser: %+v", got)
	}
	if until, err := s.ClearLoginFailures(ctx, "t1", "u0", at(3*time.Second)); err != nil || !until.IsZero() {
		t.Errorf("ClearLoginFailures after unlock: %v, %v", until, err)
	}

	for name, err := range map[string]error{
		"SetUserProfile": s.SetUserProfile(ctx, "t2", "u1", store.UserProfile{}, at(0)),
		"SetUserStatus":  s.SetUserStatus(ctx, "t1", "nobody", store.UserActive, at(0)),
		"UnlockUser":     s.UnlockUser(ctx, "t2", "u0", at(0)),
	} {
		wantErr(t, name+"(unknown user)", err, store.ErrNotFound)
	}
}

func testAdminSessions(t *testing.T, s adminStore) {
	ctx := t.Context()
	add := func(tenant, id, user, client string, created, expires time.Duration) {
		se := newSession(tenant, id, "tok-"+tenant+id)
		se.UserID, se.ClientID = user, client
		se.CreatedAt, se.ExpiresAt = at(created), at(expires)
		must(t, "CreateSession", s.CreateSession(ctx, se))
	}
	add("t1", "s1", "u1", "web", -3*time.Minute, time.Hour)
	add("t1", "s2", "u1", "app", -2*time.Minute, time.Hour)
	add("t1", "s3", "u2", "web", -2*time.Minute, time.Hour) // same time as s2: id breaks the tie
	add("t1", "s4", "u1", "web", -time.Minute, time.Hour)
	add("t1", "s5", "u1", "web", -time.Hour, 0) // expired at now
	add("t2", "s6", "u1", "web", 0, time.Hour)
	for _, tc := range []struct {
		name string
		f    store.SessionFilter
		want []string
	}{
		{"tenant", store.SessionFilter{}, []string{"s4", "s3", "s2", "s1"}},
		{"user", store.SessionFilter{UserID: "u1"}, []string{"s4", "s2", "s1"}},
		{"application", store.SessionFilter{ClientID: "web"}, []string{"s4", "s3", "s1"}},
		{"both", store.SessionFilter{UserID: "u1", ClientID: "app"}, []string{"s2"}},
		{"nobody", store.SessionFilter{UserID: "u9"}, nil},
	} {
		for _, n := range []int{1, 2, 10} {
			got := collect(t, n, func(c string) ([]store.Session, string, error) {
				f := tc.f
				f.Now, f.Cursor, f.Limit = at(0), c, n
				return s.ListSessions(ctx, "t1", f)
			}, func(se store.Session) string { return se.ID })
			if !slices.Equal(got, tc.want) {
				t.Errorf("ListSessions(%s, pages of %d) = %q, want %q", tc.name, n, got, tc.want)
			}
		}
	}
	list, _, err := s.ListSessions(ctx, "t1", store.SessionFilter{Now: at(0), UserID: "u2"})
	must(t, "ListSessions", err)
	want := newSession("t1", "s3", "tok-t1s3")
	want.UserID, want.CreatedAt = "u2", at(-2*time.Minute)
	if d := diff([]store.Session{want}, list); d != "" {
		t.Errorf("listed session mismatch (-want +got):\n%s", d)
	}
	if _, _, err := s.ListSessions(ctx, "t1", store.SessionFilter{Cursor: encodeFor(t, s, "users")}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Errorf("ListSessions(users cursor): %v", err)
	}
}

func testAdminRevokeSessions(t *testing.T, s adminStore) {
	ctx := t.Context()
	seedTenant(t, s, "t1")
	seedTenant(t, s, "t2")
	// A second session of u1 in t1 with a grant of its own, and a
	// session of another user.
	se := newSession("t1", "t1-s2", "t1-session2")
	se.UserID = "u1"
	must(t, "CreateSession", s.CreateSession(ctx, se))
	c := newAuthCode("t1", "t1-code2", time.Minute)
	c.GrantID, c.SessionID = "g2", "t1-s2"
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
	rt := newRefreshToken("t1", "t1-rt2", "g2", time.Hour)
	rt.SessionID = "t1-s2"
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	must(t, "CreateUser", s.CreateUser(ctx, newUser("t1", "u2", "bob")))
	other := newSession("t1", "t1-s3", "t1-session3")
	other.UserID = "u2"
	must(t, "CreateSession", s.CreateSession(ctx, other))

	wantErr(t, "RevokeSession(unknown)", s.RevokeSession(ctx, "t1", "nope", at(0)), store.ErrNotFound)
	wantErr(t, "RevokeSession(other tenant's)", s.RevokeSession(ctx, "t2", "t1-s1", at(0)), store.ErrNotFound)

	// One session: it, its ticket and what was issued in it go; its
	// grant refuses new tokens; the user's other session is untouched.
	must(t, "RevokeSession", s.RevokeSession(ctx, "t1", "t1-s1", at(0)))
	_, err := s.SessionByTokenHash(ctx, "t1", hash("t1-session"))
	wantErr(t, "revoked session", err, store.ErrNotFound)
	_, err = s.ConsumeSSOTicket(ctx, "t1", hash("t1-ticket"), at(0))
	wantErr(t, "ticket of the revoked session", err, store.ErrNotFound)
	_, err = s.AccessTokenByHash(ctx, "t1", hash("t1-at"), at(0))
	wantErr(t, "access token of the revoked session", err, store.ErrNotFound)
	_, err = s.RefreshTokenByHash(ctx, "t1", hash("t1-rt"), at(0))
	wantErr(t, "refresh token of the revoked session", err, store.ErrNotFound)
	wantErr(t, "new token in the revoked session's grant", s.CreateRefreshToken(ctx, newRefreshToken("t1", "late", "t1-g1", time.Hour)), store.ErrRevoked)
	_, err = s.RefreshTokenByHash(ctx, "t1", hash("t1-rt2"), at(0))
	must(t, "refresh token of the other session", err)
	wantErr(t, "RevokeSession(again)", s.RevokeSession(ctx, "t1", "t1-s1", at(0)), store.ErrNotFound)

	// All of a user's sessions: the count, the remaining grants too.
	n, err := s.RevokeUserSessions(ctx, "t1", "u1", at(0))
	must(t, "RevokeUserSessions", err)
	if n != 1 {
		t.Errorf("RevokeUserSessions = %d, want 1", n)
	}
	_, err = s.SessionByTokenHash(ctx, "t1", hash("t1-session2"))
	wantErr(t, "second session after RevokeUserSessions", err, store.ErrNotFound)
	_, err = s.RefreshTokenByHash(ctx, "t1", hash("t1-rt2"), at(0))
	wantErr(t, "refresh token after RevokeUserSessions", err, store.ErrNotFound)
	wantErr(t, "new token in a revoked user's grant", s.CreateRefreshToken(ctx, newRefreshToken("t1", "late2", "g2", time.Hour)), store.ErrRevoked)
	_, err = s.SessionByTokenHash(ctx, "t1", hash("t1-session3"))
	must(t, "another user's session", err)
	if got := tenantLeft(t, s, "t2"); !slices.Contains(got, "session") || !slices.Contains(got, "access token") {
		t.Errorf("revocations in t1 touched t2: it has %q", got)
	}
	if n, err := s.RevokeUserSessions(ctx, "t1", "u1", at(0)); err != nil || n != 0 {
		t.Errorf("RevokeUserSessions(again) = %d, %v", n, err)
	}
}

func testAdminRoles(t *testing.T, s adminStore) {
	ctx := t.Context()
	role := func(typ, id, tenant string) store.AdminRole {
		return store.AdminRole{PrincipalType: typ, PrincipalID: id, TenantID: tenant, CreatedAt: at(0)}
	}
	if rs, err := s.AdminRoles(ctx, store.PrincipalUser, "root"); err != nil || len(rs) != 0 {
		t.Fatalf("AdminRoles(nobody) = %v, %v", rs, err)
	}
	must(t, "GrantAdminRole", s.GrantAdminRole(ctx, role(store.PrincipalUser, "root", "")))
	again := role(store.PrincipalUser, "root", "")
	again.CreatedAt = at(time.Hour)
	must(t, "GrantAdminRole(again)", s.GrantAdminRole(ctx, again))
	must(t, "GrantAdminRole", s.GrantAdminRole(ctx, role(store.PrincipalUser, "ops", "t2")))
	must(t, "GrantAdminRole", s.GrantAdminRole(ctx, role(store.PrincipalUser, "ops", "t1")))
	must(t, "GrantAdminRole", s.GrantAdminRole(ctx, role(store.PrincipalApplication, "ops", "t1")))

	got, err := s.AdminRoles(ctx, store.PrincipalUser, "root")
	must(t, "AdminRoles", err)
	if d := diff([]store.AdminRole{role(store.PrincipalUser, "root", "")}, got); d != "" {
		t.Errorf("AdminRoles(root) (-want +got):\n%s", d)
	}
	if !got[0].System() {
		t.Error("root's role is not System()")
	}
	got, err = s.AdminRoles(ctx, store.PrincipalUser, "ops")
	must(t, "AdminRoles", err)
	if d := diff([]store.AdminRole{role(store.PrincipalUser, "ops", "t1"), role(store.PrincipalUser, "ops", "t2")}, got); d != "" {
		t.Errorf("AdminRoles(ops) (-want +got):\n%s", d)
	}
	key := func(r store.AdminRole) string { return r.PrincipalType + "/" + r.PrincipalID + "/" + r.TenantID }
	for _, n := range []int{1, 3} {
		all := collect(t, n, func(c string) ([]store.AdminRole, string, error) {
			return s.ListAdminRoles(ctx, store.ListFilter{Cursor: c, Limit: n})
		}, key)
		if want := []string{"application/ops/t1", "user/ops/t1", "user/ops/t2", "user/root/"}; !slices.Equal(all, want) {
			t.Errorf("ListAdminRoles(pages of %d) = %q, want %q", n, all, want)
		}
	}
	found, _, err := s.ListAdminRoles(ctx, store.ListFilter{Query: "ROO"})
	must(t, "ListAdminRoles(query)", err)
	if len(found) != 1 || found[0].PrincipalID != "root" {
		t.Errorf("ListAdminRoles(query ROO) = %v", found)
	}

	// SetAdminRoles replaces: t2 goes, t3 comes, t1 keeps its time.
	later := role(store.PrincipalUser, "ops", "t1")
	later.CreatedAt = at(time.Hour)
	t3 := role(store.PrincipalUser, "ops", "t3")
	t3.CreatedAt = at(time.Hour)
	must(t, "SetAdminRoles", s.SetAdminRoles(ctx, store.PrincipalUser, "ops", []store.AdminRole{later, t3}))
	got, err = s.AdminRoles(ctx, store.PrincipalUser, "ops")
	must(t, "AdminRoles", err)
	if d := diff([]store.AdminRole{role(store.PrincipalUser, "ops", "t1"), t3}, got); d != "" {
		t.Errorf("after SetAdminRoles (-want +got):\n%s", d)
	}
	// The application "ops" is another principal.
	got, err = s.AdminRoles(ctx, store.PrincipalApplication, "ops")
	must(t, "AdminRoles", err)
	if len(got) != 1 {
		t.Errorf("the application's roles changed with the user's: %v", got)
	}
	must(t, "SetAdminRoles(none)", s.SetAdminRoles(ctx, store.PrincipalApplication, "ops", nil))
	if got, _ := s.AdminRoles(ctx, store.PrincipalApplication, "ops"); len(got) != 0 {
		t.Errorf("after SetAdminRoles(none): %v", got)
	}

	// The last system administrator stays.
	wantErr(t, "removing the last system administrator", s.SetAdminRoles(ctx, store.PrincipalUser, "root", []store.AdminRole{role(store.PrincipalUser, "root", "t1")}), store.ErrConflict)
	got, _ = s.AdminRoles(ctx, store.PrincipalUser, "root")
	if len(got) != 1 || !got[0].System() {
		t.Errorf("a refused SetAdminRoles changed the roles: %v", got)
	}
	// With a second one, either may go, but of two concurrent removals
	// only one succeeds.
	must(t, "SetAdminRoles(second)", s.SetAdminRoles(ctx, store.PrincipalApplication, "robot", []store.AdminRole{role(store.PrincipalApplication, "robot", "")}))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range [][2]string{{store.PrincipalUser, "root"}, {store.PrincipalApplication, "robot"}} {
		wg.Go(func() { errs[i] = s.SetAdminRoles(ctx, p[0], p[1], nil) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("concurrent removal: %v", err)
		}
	}
	all, _, err := s.ListAdminRoles(ctx, store.ListFilter{})
	must(t, "ListAdminRoles", err)
	system := 0
	for _, r := range all {
		if r.System() {
			system++
		}
	}
	if ok != 1 || system != 1 {
		t.Errorf("concurrent removals of the two system administrators: %d succeeded, %d left (want 1 and 1)", ok, system)
	}
}
