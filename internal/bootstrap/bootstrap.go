package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

// Applier writes declared tenants, applications and users to the store.
type Applier struct {
	Store        store.Store
	Secrets      *secret.Hasher
	HashPassword func(ctx context.Context, pw string) (string, error)
	Now          func() time.Time
	Logger       *slog.Logger
}

// DefaultPolicy is the tenant policy of contract §8: 5 failures in 15
// minutes lock the account for 15 minutes; passwords do not expire unless
// the tenant says so.
func DefaultPolicy() store.TenantPolicy {
	return store.TenantPolicy{
		LockoutThreshold:   5,
		LockoutWindow:      15 * time.Minute,
		LockoutDuration:    15 * time.Minute,
		PasswordWarnBefore: 7 * 24 * time.Hour,
		PasswordMinLength:  8,
		PasswordMaxLength:  128,
		MFA:                store.MFAOff,
	}
}

// TenantFromConfig builds a tenant record with contract §8 defaults.
func TenantFromConfig(c config.Tenant) store.Tenant {
	t := store.Tenant{
		ID: c.ID, Name: c.Name, Edition: c.Edition, DefaultLanguage: c.DefaultLanguage,
		Policy: DefaultPolicy(),
	}
	if t.Name == "" {
		t.Name = c.ID
	}
	if t.Edition == "" {
		t.Edition = store.EditionEIAM
	}
	if t.DefaultLanguage == "" {
		t.DefaultLanguage = "en"
	}
	for _, d := range c.Domains {
		t.Domains = append(t.Domains, strings.ToLower(d))
	}
	p := &t.Policy
	if c.LockoutThreshold != nil {
		p.LockoutThreshold = *c.LockoutThreshold
	}
	setIf(&p.LockoutWindow, c.LockoutWindow)
	setIf(&p.LockoutDuration, c.LockoutDuration)
	setIf(&p.PasswordMaxAge, c.PasswordMaxAge)
	setIf(&p.PasswordWarnBefore, c.PasswordWarnBefore)
	if c.PasswordMinLength > 0 {
		p.PasswordMinLength = c.PasswordMinLength
	}
	if c.MFA != "" {
		p.MFA = c.MFA
	}
	return t
}

// ApplicationFromConfig builds an application record with contract §8
// defaults; edition picks the id_token lifetime default.
func ApplicationFromConfig(h *secret.Hasher, tenantID, edition string, c config.Application) store.Application {
	a := store.Application{
		TenantID:             tenantID,
		ClientID:             c.ClientID,
		Name:                 c.Name,
		RedirectURIs:         c.RedirectURIs,
		GrantTypes:           c.GrantTypes,
		SessionTTL:           604800 * time.Second,
		RotationGrace:        30 * time.Second,
		DeviceBinding:        true,
		IDTokenTTL:           7200 * time.Second,
		IDTokenAlg:           "RS256",
		AccessTokenTTL:       7200 * time.Second,
		TenantAccessTokenTTL: 1800 * time.Second,
		RefreshTokenTTL:      c.RefreshTokenTTL,
		AccessTokenFormat:    c.AccessTokenFormat,

		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
	}
	if a.AccessTokenFormat == "" {
		a.AccessTokenFormat = "opaque"
	}
	if edition == store.EditionCIAM {
		a.IDTokenTTL = 300 * time.Second
	}
	if a.Name == "" {
		a.Name = c.ClientID
	}
	if c.ClientSecret != "" {
		a.SecretHash = oauth2.HashClientSecret(h, c.ClientSecret)
	}
	if len(a.GrantTypes) == 0 {
		a.GrantTypes = []string{"authorization_code"}
		if c.ClientSecret != "" {
			a.GrantTypes = append(a.GrantTypes, "client_credentials")
		}
	}
	if c.SessionAutoRefresh != nil {
		a.SessionAutoRefresh = *c.SessionAutoRefresh
	}
	if c.DeviceBinding != nil {
		a.DeviceBinding = *c.DeviceBinding
	}
	if c.IDTokenAlg != "" {
		a.IDTokenAlg = c.IDTokenAlg
	}
	setIf(&a.SessionTTL, c.SessionTTL)
	setIf(&a.RotationGrace, c.RotationGrace)
	setIf(&a.IDTokenTTL, c.IDTokenTTL)
	setIf(&a.AccessTokenTTL, c.AccessTokenTTL)
	setIf(&a.TenantAccessTokenTTL, c.TenantAccessTokenTTL)
	return a
}

func setIf(dst *time.Duration, v time.Duration) {
	if v > 0 {
		*dst = v
	}
}

// stamped gives a declared tenant its times: a new tenant is created and
// updated now; a stored one keeps its creation time and, when the
// configuration changes none of its settings, its update time, so that a
// restart does not read as an edit in the console. (Tenants written by an
// earlier version without times get now.)
func (a *Applier) stamped(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	now := a.Now()
	t.CreatedAt, t.UpdatedAt = now, now
	old, err := a.Store.GetTenant(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return t, nil
	}
	if err != nil {
		return t, err
	}
	if !old.CreatedAt.IsZero() {
		t.CreatedAt = old.CreatedAt
	}
	if sameSettings(old, t) && !old.UpdatedAt.IsZero() {
		t.UpdatedAt = old.UpdatedAt
	}
	return t, nil
}

// sameSettings reports whether two tenants differ only in their times
// (domains compared in any order and letter case).
func sameSettings(a, b store.Tenant) bool {
	norm := func(ds []string) []string {
		out := make([]string, len(ds))
		for i, d := range ds {
			out[i] = strings.ToLower(d)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return a.ID == b.ID && a.Name == b.Name && a.Edition == b.Edition && a.DefaultLanguage == b.DefaultLanguage &&
		a.Policy == b.Policy && slices.Equal(norm(a.Domains), norm(b.Domains))
}

// Apply writes the declared tenants and applications (replacing their
// stored settings: the configuration is their source of truth) and creates
// declared users that do not exist yet. Existing users get the declared
// profile but keep their password and status, so a password a user changed
// survives a restart. Running Apply twice changes nothing the second time.
func (a *Applier) Apply(ctx context.Context, b config.Bootstrap) error {
	for _, tc := range b.Tenants {
		t, err := a.stamped(ctx, TenantFromConfig(tc))
		if err != nil {
			return fmt.Errorf("bootstrap: tenant %q: %w", tc.ID, err)
		}
		if err := a.Store.UpsertTenant(ctx, t); err != nil {
			return fmt.Errorf("bootstrap: tenant %q: %w", t.ID, err)
		}
		for _, ac := range tc.Applications {
			app := ApplicationFromConfig(a.Secrets, t.ID, t.Edition, ac)
			if err := a.Store.UpsertApplication(ctx, app); err != nil {
				return fmt.Errorf("bootstrap: tenant %q application %q: %w", t.ID, app.ClientID, err)
			}
		}
		for _, uc := range tc.Users {
			if err := a.ensureUser(ctx, t, uc); err != nil {
				return fmt.Errorf("bootstrap: tenant %q user %q: %w", t.ID, uc.Username, err)
			}
		}
	}
	return nil
}

func (a *Applier) ensureUser(ctx context.Context, t store.Tenant, uc config.User) error {
	u, err := a.Store.UserByUsername(ctx, t.ID, uc.Username)
	if err == nil {
		if u.Name == uc.Name && u.Email == uc.Email && u.Mobile == uc.Mobile {
			return nil
		}
		u.Name, u.Email, u.Mobile = uc.Name, uc.Email, uc.Mobile
		return a.Store.UpdateUserProfile(ctx, u)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := a.Now()
	u = store.User{
		TenantID: t.ID, ID: session.NewUserID(), Username: uc.Username,
		Name: uc.Name, Email: uc.Email, Mobile: uc.Mobile, Status: store.UserActive,
		CreatedAt: now, UpdatedAt: now,
	}
	if uc.Password != "" {
		if u.PasswordHash, err = a.HashPassword(ctx, uc.Password); err != nil {
			return err
		}
		u.PasswordChangedAt = now
	}
	err = a.Store.CreateUser(ctx, u)
	if errors.Is(err, store.ErrConflict) {
		// Another node created it at the same moment.
		return nil
	}
	return err
}

// DemoTenantID is the id of the tenant a server without configuration
// creates.
const DemoTenantID = "demo"

// Demo holds the demo tenant's credentials, known only when it is created.
type Demo struct {
	TenantID, ClientID, ClientSecret, Username, Password string
}

// EnsureDemo creates the demo tenant (edition ciam, answering on the public
// URL's host and on localhost) with one application and one user, with
// random secrets. It returns the credentials when it created the tenant and
// nil when the tenant already existed: secrets are stored only as hashes,
// so they can be shown only once.
func (a *Applier) EnsureDemo(ctx context.Context, publicHost, publicURL string) (*Demo, error) {
	if _, err := a.Store.GetTenant(ctx, DemoTenantID); err == nil {
		return nil, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	domains := []string{publicHost}
	if !slices.Contains(domains, "localhost") {
		domains = append(domains, "localhost")
	}
	d := &Demo{
		TenantID:     DemoTenantID,
		ClientID:     "demo-app",
		ClientSecret: secret.NewToken(),
		Username:     "demo",
		Password:     "Demo-" + secret.NewToken()[:16],
	}
	auto := true
	err := a.Apply(ctx, config.Bootstrap{Tenants: []config.Tenant{{
		ID: DemoTenantID, Name: "Demo", Edition: store.EditionCIAM, Domains: domains, DefaultLanguage: "en",
		Applications: []config.Application{{
			ClientID: d.ClientID, ClientSecret: d.ClientSecret, Name: "Demo application",
			RedirectURIs:       []string{strings.TrimRight(publicURL, "/") + "/demo/callback"},
			GrantTypes:         []string{"authorization_code", "refresh_token", "client_credentials"},
			SessionAutoRefresh: &auto,
		}},
		Users: []config.User{{Username: d.Username, Password: d.Password, Name: "Demo User", Email: "demo@example.com"}},
	}}})
	if err != nil {
		return nil, err
	}
	return d, nil
}
