package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/bootstrap"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

// The console application of the system tenant (see the package doc).
const (
	ConsoleClientID = "sesame-console"
	// ConsolePath is where the console is served on the system domain;
	// it is also the console's post-logout redirect URI.
	ConsolePath = "/admin/"
	// ConsoleCallbackPath is the console's redirect URI.
	ConsoleCallbackPath = "/admin/callback"
)

// systemMinPasswordLength is the system tenant's password minimum:
// administrators' passwords guard every tenant.
const systemMinPasswordLength = 12

// Setup creates the system tenant and administrators directly in the
// store, outside any request: at every server start (EnsureSystem) and
// from the command line (CreateAdmin).
type Setup struct {
	Store Store
	// Hasher keys client secrets (needed only to create an application).
	Hasher       *secret.Hasher
	HashPassword func(ctx context.Context, pw string) (string, error)
	// Domain is admin.domain; PublicURL is server.public_url, whose
	// scheme and port the console's URLs take.
	Domain    string
	PublicURL string
	Now       func() time.Time
}

// SystemBase returns the system tenant's base URL,
// {public_url scheme}://{domain}[:{public_url port}], under which its
// issuer (/api/v1/oauth2) and the console (/admin/) live.
func SystemBase(domain, publicURL string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("admin: public URL %q: not an absolute URL", publicURL)
	}
	host := domain
	if p := u.Port(); p != "" {
		host = net.JoinHostPort(domain, p)
	}
	return u.Scheme + "://" + host, nil
}

// consoleApplication is the console's registration: a public client
// (PKCE required, RFC 7636 / RFC 9700 §2.1.1) with the authorization code
// grant only. Its access tokens live an hour and it gets no refresh
// token: the console signs in again through the hosted login's single
// sign-on (prompt=none) when its token expires, so nothing long-lived is
// kept in the browser.
func consoleApplication(base string, now time.Time) store.Application {
	return store.Application{
		TenantID: store.SystemTenantID, ClientID: ConsoleClientID, Name: "Sesame console",
		RedirectURIs:           []string{base + ConsoleCallbackPath},
		PostLogoutRedirectURIs: []string{base + ConsolePath},
		GrantTypes:             []string{"authorization_code"},
		SessionTTL:             8 * time.Hour, // an administrator's working day
		RotationGrace:          30 * time.Second,
		DeviceBinding:          true,
		IDTokenTTL:             time.Hour,
		IDTokenAlg:             "RS256",
		AccessTokenTTL:         time.Hour,
		TenantAccessTokenTTL:   30 * time.Minute,
		AccessTokenFormat:      oauth2.FormatOpaque,
		CreatedAt:              now, UpdatedAt: now,
	}
}

// EnsureSystem creates the system tenant if it is missing, makes s.Domain
// its only domain, and writes the console application (its URLs follow
// the configuration). Running it on several nodes at once
// is safe: they write the same values.
func (s Setup) EnsureSystem(ctx context.Context) error {
	now := s.Now()
	domain := strings.ToLower(s.Domain)
	base, err := SystemBase(domain, s.PublicURL)
	if err != nil {
		return err
	}
	t, err := s.Store.GetTenant(ctx, store.SystemTenantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		p := bootstrap.DefaultPolicy()
		p.PasswordMinLength = systemMinPasswordLength
		t = store.Tenant{
			ID: store.SystemTenantID, Name: "System", Edition: store.EditionEIAM, DefaultLanguage: "en",
			Domains: []string{domain}, Policy: p, CreatedAt: now, UpdatedAt: now,
		}
	case err != nil:
		return fmt.Errorf("admin: system tenant: %w", err)
	case slices.Equal(t.Domains, []string{domain}):
		t.ID = "" // nothing to write
	default:
		// The configuration alone decides where the administrators sign
		// in: a domain the system tenant had before is given up.
		t.Domains = []string{domain}
		t.UpdatedAt = now
	}
	if t.ID != "" {
		if err := s.Store.UpsertTenant(ctx, t); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("admin: admin.domain %q already belongs to another tenant", domain)
			}
			return fmt.Errorf("admin: system tenant: %w", err)
		}
	}
	app := consoleApplication(base, now)
	if old, err := s.Store.GetApplication(ctx, store.SystemTenantID, ConsoleClientID); err == nil {
		app.CreatedAt = old.CreatedAt
		if consoleUnchanged(old, app) {
			return nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("admin: console application: %w", err)
	}
	if err := s.Store.UpsertApplication(ctx, app); err != nil {
		return fmt.Errorf("admin: console application: %w", err)
	}
	return nil
}

// consoleUnchanged reports whether the stored console registration
// already has the wanted settings (then a start writes nothing).
func consoleUnchanged(old, want store.Application) bool {
	want.CreatedAt, want.UpdatedAt = old.CreatedAt, old.UpdatedAt
	return old.Public() && reflect.DeepEqual(applicationOut(old), applicationOut(want))
}

// NewAdmin describes the administrator to create: a user (Username) or
// an application (ClientID) of the system tenant.
type NewAdmin struct {
	Username string
	ClientID string
	// TenantID makes a tenant administrator of that tenant; "" a system
	// administrator.
	TenantID string
	// Password is the user's password; "" generates one for a new user
	// (and keeps an existing user's).
	Password string
}

// CreatedAdmin reports what CreateAdmin did. Secrets are here once: they
// are stored only as hashes.
type CreatedAdmin struct {
	Created      bool // the user or application is new
	UserID       string
	Username     string
	Password     string // generated password of a new user
	ClientID     string
	ClientSecret string // generated secret of a new application
	Role         string // "system administrator" or "tenant administrator of T"
}

// CreateAdmin makes an administrator directly in the store (the first
// one cannot be made through the API): it ensures the system tenant,
// creates the user or application unless it exists, and grants the role.
// A given password is checked against the system tenant's policy and, for
// an existing user, replaces the password.
func (s Setup) CreateAdmin(ctx context.Context, n NewAdmin) (CreatedAdmin, error) {
	if (n.Username == "") == (n.ClientID == "") {
		return CreatedAdmin{}, errors.New("admin: give a user name or a client id")
	}
	if err := s.EnsureSystem(ctx); err != nil {
		return CreatedAdmin{}, err
	}
	sys, err := s.Store.GetTenant(ctx, store.SystemTenantID)
	if err != nil {
		return CreatedAdmin{}, err
	}
	out := CreatedAdmin{Role: "system administrator"}
	if n.TenantID != "" {
		if n.TenantID == store.SystemTenantID {
			return CreatedAdmin{}, errors.New("admin: the system tenant has system administrators only (omit --tenant)")
		}
		if _, err := s.Store.GetTenant(ctx, n.TenantID); errors.Is(err, store.ErrNotFound) {
			return CreatedAdmin{}, fmt.Errorf("admin: no tenant %q", n.TenantID)
		} else if err != nil {
			return CreatedAdmin{}, err
		}
		out.Role = "tenant administrator of " + n.TenantID
	}
	now := s.Now()
	role := store.AdminRole{TenantID: n.TenantID, CreatedAt: now}
	if n.Username != "" {
		if err := s.ensureUser(ctx, sys, n, &out); err != nil {
			return CreatedAdmin{}, err
		}
		role.PrincipalType, role.PrincipalID = store.PrincipalUser, out.UserID
	} else {
		if err := s.ensureApplication(ctx, n, &out); err != nil {
			return CreatedAdmin{}, err
		}
		role.PrincipalType, role.PrincipalID = store.PrincipalApplication, out.ClientID
	}
	if err := s.Store.GrantAdminRole(ctx, role); err != nil {
		return CreatedAdmin{}, err
	}
	return out, nil
}

func (s Setup) ensureUser(ctx context.Context, sys store.Tenant, n NewAdmin, out *CreatedAdmin) error {
	if err := validText("username", n.Username, 128, true); err != nil || n.Username != strings.TrimSpace(n.Username) {
		return fmt.Errorf("admin: %q is not a valid user name", n.Username)
	}
	if n.Password != "" {
		if err := checkPassword(sys, "password", n.Password); err != nil {
			return fmt.Errorf("admin: the password must have %d to %d characters (the system tenant's policy)", sys.Policy.PasswordMinLength, sys.Policy.PasswordMaxLength)
		}
	}
	now := s.Now()
	u, err := s.Store.UserByUsername(ctx, sys.ID, n.Username)
	switch {
	case err == nil:
		out.UserID, out.Username = u.ID, u.Username
		if n.Password == "" {
			return nil
		}
		phc, err := s.HashPassword(ctx, n.Password)
		if err != nil {
			return err
		}
		return s.Store.SetPassword(ctx, sys.ID, u.ID, phc, now)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	pw := n.Password
	if pw == "" {
		pw = GeneratePassword(sys.Policy)
		out.Password = pw
	}
	phc, err := s.HashPassword(ctx, pw)
	if err != nil {
		return err
	}
	u = store.User{
		TenantID: sys.ID, ID: session.NewUserID(), Username: n.Username, Name: n.Username, Status: store.UserActive,
		PasswordHash: phc, PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("admin: user %q was created meanwhile; run the command again", n.Username)
		}
		return err
	}
	out.Created, out.UserID, out.Username = true, u.ID, u.Username
	return nil
}

// ensureApplication creates an admin application: confidential, with the
// client_credentials grant only.
func (s Setup) ensureApplication(ctx context.Context, n NewAdmin, out *CreatedAdmin) error {
	if !clientIDRe.MatchString(n.ClientID) {
		return fmt.Errorf("admin: %q is not a valid client id (letters, digits and . _ : -)", n.ClientID)
	}
	if n.ClientID == ConsoleClientID {
		return errors.New("admin: the console application acts for its users; make a user administrator instead")
	}
	out.ClientID = n.ClientID
	a, err := s.Store.GetApplication(ctx, store.SystemTenantID, n.ClientID)
	switch {
	case err == nil:
		if a.Public() || !a.AllowsGrant("client_credentials") {
			return fmt.Errorf("admin: application %q exists and cannot use client_credentials", n.ClientID)
		}
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	sec := secret.NewToken()
	now := s.Now()
	a = store.Application{
		TenantID: store.SystemTenantID, ClientID: n.ClientID, Name: n.ClientID,
		SecretHash: oauth2.HashClientSecret(s.Hasher, sec), GrantTypes: []string{"client_credentials"},
		SessionTTL: time.Hour, RotationGrace: 30 * time.Second, DeviceBinding: true,
		IDTokenTTL: time.Hour, IDTokenAlg: "RS256", AccessTokenTTL: time.Hour, TenantAccessTokenTTL: time.Hour,
		AccessTokenFormat: oauth2.FormatOpaque, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store.CreateApplication(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("admin: application %q was created meanwhile; run the command again", n.ClientID)
		}
		return err
	}
	out.Created, out.ClientSecret = true, sec
	return nil
}
