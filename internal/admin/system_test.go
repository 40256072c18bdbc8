package admin_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestEnsureSystem checks the system tenant and console registration a
// start writes: created once, left alone when unchanged, following the
// configuration when it changes, refused on a domain another tenant owns.
func TestEnsureSystem(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := t.Context()
			now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			setup := admin.Setup{Store: st, Domain: "Admin.Test", PublicURL: "http://id.example:8080", Now: func() time.Time { return now }}
			check := func(domain, redirect string) store.Application {
				t.Helper()
				sys, err := st.GetTenant(ctx, store.SystemTenantID)
				if err != nil || !slices.Equal(sys.Domains, []string{domain}) || sys.Policy.PasswordMinLength != 12 {
					t.Fatalf("system tenant: %+v, %v", sys, err)
				}
				app, err := st.GetApplication(ctx, store.SystemTenantID, admin.ConsoleClientID)
				if err != nil || !app.Public() || !slices.Equal(app.RedirectURIs, []string{redirect}) || !slices.Equal(app.GrantTypes, []string{"authorization_code"}) ||
					app.RefreshTokenTTL != 0 || !slices.Equal(app.PostLogoutRedirectURIs, []string{strings.TrimSuffix(redirect, "callback")}) {
					t.Fatalf("console: %+v, %v", app, err)
				}
				return app
			}
			if err := setup.EnsureSystem(ctx); err != nil {
				t.Fatal(err)
			}
			first := check("admin.test", "http://admin.test:8080/admin/callback")

			// A second start with the same configuration writes nothing.
			now = now.Add(time.Hour)
			if err := setup.EnsureSystem(ctx); err != nil {
				t.Fatal(err)
			}
			if again := check("admin.test", "http://admin.test:8080/admin/callback"); !again.UpdatedAt.Equal(first.UpdatedAt) {
				t.Errorf("an unchanged start rewrote the console: %v, then %v", first.UpdatedAt, again.UpdatedAt)
			}

			// An edited console registration is put back.
			edited := first
			edited.RedirectURIs, edited.Name = []string{"https://evil.test/cb"}, "mine"
			if err := st.UpsertApplication(ctx, edited); err != nil {
				t.Fatal(err)
			}
			if err := setup.EnsureSystem(ctx); err != nil {
				t.Fatal(err)
			}
			if app := check("admin.test", "http://admin.test:8080/admin/callback"); app.Name != "Sesame console" || !app.CreatedAt.Equal(first.CreatedAt) {
				t.Errorf("console after a restart: %+v", app)
			}

			// New domain and public URL: followed, the old domain given up.
			setup.Domain, setup.PublicURL = "ops.test", "https://id.example"
			if err := setup.EnsureSystem(ctx); err != nil {
				t.Fatal(err)
			}
			check("ops.test", "https://ops.test/admin/callback")
			if _, err := st.TenantByDomain(ctx, "admin.test"); err == nil {
				t.Error("the old admin domain still selects the system tenant")
			}

			// A domain of another tenant is refused.
			if err := st.UpsertTenant(ctx, store.Tenant{ID: "acme", Domains: []string{"acme.test"}}); err != nil {
				t.Fatal(err)
			}
			setup.Domain = "acme.test"
			if err := setup.EnsureSystem(ctx); err == nil || !strings.Contains(err.Error(), "already belongs") {
				t.Errorf("EnsureSystem on acme's domain: %v", err)
			}
		})
	}
}
