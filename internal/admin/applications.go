package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/bootstrap"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

// applicationJSON is store.Application: every setting of contract §1 and
// §8. The secret never leaves the store; it is shown only when created
// or rotated (secretJSON).
type applicationJSON struct {
	TenantID               string    `json:"tenant_id"`
	ClientID               string    `json:"client_id"`
	Name                   string    `json:"name"`
	Public                 bool      `json:"public"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	GrantTypes             []string  `json:"grant_types"`
	SessionTTL             int64     `json:"session_ttl"`
	SessionAutoRefresh     bool      `json:"session_auto_refresh"`
	RotationGrace          int64     `json:"rotation_grace"`
	DeviceBinding          bool      `json:"device_binding"`
	IDTokenTTL             int64     `json:"id_token_ttl"`
	IDTokenAlg             string    `json:"id_token_alg"`
	AccessTokenTTL         int64     `json:"access_token_ttl"`
	TenantAccessTokenTTL   int64     `json:"tenant_access_token_ttl"`
	RefreshTokenTTL        int64     `json:"refresh_token_ttl"`
	AccessTokenFormat      string    `json:"access_token_format"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func applicationOut(a store.Application) applicationJSON {
	format := a.AccessTokenFormat
	if format == "" {
		format = oauth2.FormatOpaque // "" is how rows from before the setting read
	}
	return applicationJSON{
		TenantID: a.TenantID, ClientID: a.ClientID, Name: a.Name, Public: a.Public(),
		RedirectURIs: nonNil(a.RedirectURIs), PostLogoutRedirectURIs: nonNil(a.PostLogoutRedirectURIs),
		GrantTypes: nonNil(a.GrantTypes), SessionTTL: seconds(a.SessionTTL), SessionAutoRefresh: a.SessionAutoRefresh,
		RotationGrace: seconds(a.RotationGrace), DeviceBinding: a.DeviceBinding, IDTokenTTL: seconds(a.IDTokenTTL),
		IDTokenAlg: a.IDTokenAlg, AccessTokenTTL: seconds(a.AccessTokenTTL), TenantAccessTokenTTL: seconds(a.TenantAccessTokenTTL),
		RefreshTokenTTL: seconds(a.RefreshTokenTTL), AccessTokenFormat: format,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

// createdApplicationJSON is the answer to creation: the application and,
// for a confidential one, its secret, shown this once.
type createdApplicationJSON struct {
	applicationJSON
	ClientSecret string `json:"client_secret,omitempty"`
}

type secretJSON struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// applicationPatch is the body of creation and update; members absent
// keep their value (or, at creation, take the contract §8 default).
type applicationPatch struct {
	ClientID               *string   `json:"client_id"`
	Public                 *bool     `json:"public"`
	Name                   *string   `json:"name"`
	RedirectURIs           *[]string `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	GrantTypes             *[]string `json:"grant_types"`
	SessionTTL             *int64    `json:"session_ttl"`
	SessionAutoRefresh     *bool     `json:"session_auto_refresh"`
	RotationGrace          *int64    `json:"rotation_grace"`
	DeviceBinding          *bool     `json:"device_binding"`
	IDTokenTTL             *int64    `json:"id_token_ttl"`
	IDTokenAlg             *string   `json:"id_token_alg"`
	AccessTokenTTL         *int64    `json:"access_token_ttl"`
	TenantAccessTokenTTL   *int64    `json:"tenant_access_token_ttl"`
	RefreshTokenTTL        *int64    `json:"refresh_token_ttl"`
	AccessTokenFormat      *string   `json:"access_token_format"`
}

var clientIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// checkURIs validates redirect or post-logout URIs: RFC 6749 §3.1.2,
// absolute and without a fragment; web URIs need a host; native apps may
// use private-use schemes (RFC 8252 §7.1). They are matched exactly, so
// they are stored as given.
func checkURIs(field string, uris []string) error {
	if len(uris) > 32 {
		return invalid(field, "At most 32 URIs")
	}
	for i, uri := range uris {
		f := fmt.Sprintf("%s[%d]", field, i)
		if len(uri) > 2048 {
			return invalid(f, "At most 2048 bytes")
		}
		u, err := url.Parse(uri)
		web := err == nil && (u.Scheme == "http" || u.Scheme == "https")
		if err != nil || u.Scheme == "" || u.Fragment != "" || strings.Contains(uri, "#") || (web && u.Host == "") || strings.ContainsAny(uri, " \t\r\n") {
			return invalid(f, "Not an absolute URI without a fragment")
		}
		if slices.Contains(uris[:i], uri) {
			return invalid(f, "Listed twice")
		}
	}
	return nil
}

// apply validates the patch and applies it to a.
func (b applicationPatch) apply(a *store.Application) error {
	if b.Name != nil {
		if err := validText("name", *b.Name, 200, true); err != nil {
			return err
		}
		a.Name = *b.Name
	}
	if b.RedirectURIs != nil {
		if err := checkURIs("redirect_uris", *b.RedirectURIs); err != nil {
			return err
		}
		a.RedirectURIs = *b.RedirectURIs
	}
	if b.PostLogoutRedirectURIs != nil {
		if err := checkURIs("post_logout_redirect_uris", *b.PostLogoutRedirectURIs); err != nil {
			return err
		}
		a.PostLogoutRedirectURIs = *b.PostLogoutRedirectURIs
	}
	if b.GrantTypes != nil {
		var gs []string
		for i, g := range *b.GrantTypes {
			f := fmt.Sprintf("grant_types[%d]", i)
			switch g {
			case "authorization_code", "refresh_token", "client_credentials":
			default:
				return invalid(f, "authorization_code, refresh_token or client_credentials")
			}
			if slices.Contains(gs, g) {
				return invalid(f, "Listed twice")
			}
			gs = append(gs, g)
		}
		a.GrantTypes = gs
	}
	for _, err := range []error{
		secondsIn("session_ttl", b.SessionTTL, 1, &a.SessionTTL),
		secondsIn("rotation_grace", b.RotationGrace, 0, &a.RotationGrace),
		secondsIn("id_token_ttl", b.IDTokenTTL, 1, &a.IDTokenTTL),
		secondsIn("access_token_ttl", b.AccessTokenTTL, 1, &a.AccessTokenTTL),
		secondsIn("tenant_access_token_ttl", b.TenantAccessTokenTTL, 1, &a.TenantAccessTokenTTL),
		secondsIn("refresh_token_ttl", b.RefreshTokenTTL, 0, &a.RefreshTokenTTL),
	} {
		if err != nil {
			return err
		}
	}
	if b.SessionAutoRefresh != nil {
		a.SessionAutoRefresh = *b.SessionAutoRefresh
	}
	if b.DeviceBinding != nil {
		a.DeviceBinding = *b.DeviceBinding
	}
	if b.IDTokenAlg != nil {
		if !keys.Supported(*b.IDTokenAlg) {
			return invalid("id_token_alg", "RS256, RS512, ES256 or EdDSA")
		}
		a.IDTokenAlg = *b.IDTokenAlg
	}
	if b.AccessTokenFormat != nil {
		if *b.AccessTokenFormat != oauth2.FormatOpaque && *b.AccessTokenFormat != oauth2.FormatJWT {
			return invalid("access_token_format", "opaque or jwt")
		}
		a.AccessTokenFormat = *b.AccessTokenFormat
	}
	// RFC 6749 §4.4: client_credentials is for confidential clients only.
	if a.Public() && a.AllowsGrant("client_credentials") {
		return invalid("grant_types", "A public application cannot use client_credentials")
	}
	return nil
}

// application returns the application named in the path.
func (h *Handler) application(c *call) (store.Tenant, store.Application, error) {
	t, err := h.tenant(c)
	if err != nil {
		return t, store.Application{}, err
	}
	a, err := h.Store.GetApplication(c.ctx, t.ID, c.r.PathValue("client_id"))
	if errors.Is(err, store.ErrNotFound) {
		return t, a, notFound("Application")
	}
	return t, a, err
}

func (h *Handler) listApplications(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	f, err := listParams(c.r)
	if err != nil {
		return 0, nil, err
	}
	apps, next, err := h.Store.ListApplicationsPage(c.ctx, t.ID, f)
	if err != nil {
		return 0, nil, listError(err)
	}
	out := make([]applicationJSON, len(apps))
	for i, a := range apps {
		out[i] = applicationOut(a)
	}
	return http.StatusOK, newList(out, next), nil
}

func (h *Handler) getApplication(c *call) (int, any, error) {
	_, a, err := h.application(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, applicationOut(a), nil
}

// createApplication registers an application with the contract §8
// defaults (from bootstrap, the one place they are written) for what the
// body leaves out. A confidential application gets a generated secret,
// stored as a keyed hash and shown in this answer only.
func (h *Handler) createApplication(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	var b applicationPatch
	if err := decode(c.r, &b, false); err != nil {
		return 0, nil, err
	}
	clientID := "app-" + session.NewUserID()[:16]
	if b.ClientID != nil {
		if !clientIDRe.MatchString(*b.ClientID) {
			return 0, nil, invalid("client_id", "1 to 128 letters, digits and . _ : -, starting with a letter or digit")
		}
		clientID = *b.ClientID
	}
	public := b.Public != nil && *b.Public
	clientSecret := ""
	if !public {
		clientSecret = secret.NewToken()
	}
	// Defaults as for a declared application; its grant types default to
	// what the secret allows.
	a := bootstrap.ApplicationFromConfig(h.Hasher, t.ID, t.Edition, config.Application{ClientID: clientID, ClientSecret: clientSecret})
	if err := b.apply(&a); err != nil {
		return 0, nil, err
	}
	now := h.now()
	a.CreatedAt, a.UpdatedAt = now, now
	if err := h.Store.CreateApplication(c.ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return 0, nil, conflict("client_id", "An application with this client_id exists")
		}
		return 0, nil, err
	}
	h.record(c, "application.create", t.ID, "application:"+a.ClientID, nil)
	return http.StatusCreated, createdApplicationJSON{applicationJSON: applicationOut(a), ClientSecret: clientSecret}, nil
}

func (h *Handler) updateApplication(c *call) (int, any, error) {
	t, a, err := h.application(c)
	if err != nil {
		return 0, nil, err
	}
	var b applicationPatch
	if err := decode(c.r, &b, false); err != nil {
		return 0, nil, err
	}
	if b.ClientID != nil && *b.ClientID != a.ClientID {
		return 0, nil, invalid("client_id", "The client_id of an application cannot change")
	}
	if b.Public != nil && *b.Public != a.Public() {
		// Becoming public would leave a secret nobody can use; becoming
		// confidential needs a secret: POST .../secret gives one.
		return 0, nil, invalid("public", "Cannot change; rotate the secret to make a public application confidential")
	}
	before := a
	if err := b.apply(&a); err != nil {
		return 0, nil, err
	}
	a.UpdatedAt = h.now()
	// Not UpsertApplication: a secret rotated meanwhile must not be put
	// back to the one read above.
	if err := h.Store.UpdateApplication(c.ctx, a); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, notFound("Application")
		}
		return 0, nil, err
	}
	h.record(c, "application.update", t.ID, "application:"+a.ClientID, map[string]string{"fields": changedApplicationFields(before, a)})
	return http.StatusOK, applicationOut(a), nil
}

// changedApplicationFields names the settings that differ, for the audit
// log.
func changedApplicationFields(x, y store.Application) string {
	a, b := applicationOut(x), applicationOut(y)
	var out []string
	add := func(name string, same bool) {
		if !same {
			out = append(out, name)
		}
	}
	add("name", a.Name == b.Name)
	add("redirect_uris", slices.Equal(a.RedirectURIs, b.RedirectURIs))
	add("post_logout_redirect_uris", slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs))
	add("grant_types", slices.Equal(a.GrantTypes, b.GrantTypes))
	add("session_ttl", a.SessionTTL == b.SessionTTL)
	add("session_auto_refresh", a.SessionAutoRefresh == b.SessionAutoRefresh)
	add("rotation_grace", a.RotationGrace == b.RotationGrace)
	add("device_binding", a.DeviceBinding == b.DeviceBinding)
	add("id_token_ttl", a.IDTokenTTL == b.IDTokenTTL)
	add("id_token_alg", a.IDTokenAlg == b.IDTokenAlg)
	add("access_token_ttl", a.AccessTokenTTL == b.AccessTokenTTL)
	add("tenant_access_token_ttl", a.TenantAccessTokenTTL == b.TenantAccessTokenTTL)
	add("refresh_token_ttl", a.RefreshTokenTTL == b.RefreshTokenTTL)
	add("access_token_format", a.AccessTokenFormat == b.AccessTokenFormat)
	return strings.Join(out, ",")
}

// deleteApplication removes an application and what was issued to it.
func (h *Handler) deleteApplication(c *call) (int, any, error) {
	t, a, err := h.application(c)
	if err != nil {
		return 0, nil, err
	}
	if t.ID == store.SystemTenantID && a.ClientID == ConsoleClientID {
		return 0, nil, conflict("client_id", "The console application is built in")
	}
	if err := h.Store.DeleteApplication(c.ctx, t.ID, a.ClientID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, notFound("Application")
		}
		return 0, nil, err
	}
	h.record(c, "application.delete", t.ID, "application:"+a.ClientID, nil)
	return http.StatusNoContent, nil, nil
}

// rotateSecret replaces the client secret with a new one, shown in this
// answer only. The old secret stops working at once. A public
// application becomes confidential.
func (h *Handler) rotateSecret(c *call) (int, any, error) {
	t, a, err := h.application(c)
	if err != nil {
		return 0, nil, err
	}
	if t.ID == store.SystemTenantID && a.ClientID == ConsoleClientID {
		return 0, nil, conflict("client_id", "The console application is a public client")
	}
	if err := decode(c.r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	s := secret.NewToken()
	if err := h.Store.SetApplicationSecret(c.ctx, t.ID, a.ClientID, oauth2.HashClientSecret(h.Hasher, s), h.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, notFound("Application")
		}
		return 0, nil, err
	}
	h.record(c, "application.rotate_secret", t.ID, "application:"+a.ClientID, nil)
	return http.StatusOK, secretJSON{ClientID: a.ClientID, ClientSecret: s}, nil
}
