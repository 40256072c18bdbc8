package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// APIPrefix is the admin API's path.
const APIPrefix = "/admin/api/v1"

// maxResponseBytes bounds an answer read from the server; the largest
// real one (a page of 200 audit events) is well under it.
const maxResponseBytes = 16 << 20

// APIError is an error answer of the admin API.
type APIError struct {
	Status  int    // HTTP status
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d)", e.Code, e.Status)
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": " + e.Message)
	return b.String()
}

// Client calls the admin API of one server.
type Client struct {
	// Server is the base URL of the system tenant (its admin domain), e.g.
	// https://admin.example.com.
	Server string
	// Token returns the bearer token; retry is true when the previous one
	// was refused (401), asking for a new one if it can make one.
	Token func(ctx context.Context, retry bool) (string, error)
	HTTP  *http.Client
}

// do sends a request and decodes a 2xx answer's body into out (unless out
// is nil or the answer has no body). An error answer is an *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	u := strings.TrimRight(c.Server, "/") + APIPrefix + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	for attempt := 0; ; attempt++ {
		token, err := c.Token(ctx, attempt > 0)
		if err != nil {
			return err
		}
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, u, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			continue // the token expired or was revoked: one more try with a new one
		}
		if resp.StatusCode/100 != 2 {
			return apiError(resp.StatusCode, raw)
		}
		if out == nil || len(bytes.TrimSpace(raw)) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %w", method, u, err)
		}
		return nil
	}
}

// apiError decodes an error answer; one not in the API's format (a proxy's
// page, say) is reported with its status and the start of its body.
func apiError(status int, raw []byte) error {
	var b struct {
		Error *APIError `json:"error"`
	}
	if json.Unmarshal(raw, &b) == nil && b.Error != nil && b.Error.Code != "" {
		b.Error.Status = status
		return b.Error
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return &APIError{Status: status, Code: strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")), Message: "unexpected answer: " + strconv.Quote(s)}
}

// Page is one page of a listing.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListOptions are the pagination and search parameters of a listing.
type ListOptions struct {
	Query  string // q: search
	Cursor string
	Limit  int
}

func (o ListOptions) values() url.Values {
	v := url.Values{}
	if o.Query != "" {
		v.Set("q", o.Query)
	}
	if o.Cursor != "" {
		v.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	return v
}

func esc(s string) string { return url.PathEscape(s) }

// Me is the calling principal.
type Me struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	SystemAdmin bool     `json:"system_admin"`
	Tenants     []string `json:"tenants"`
}

func (c *Client) Me(ctx context.Context) (Me, error) {
	var m Me
	return m, c.do(ctx, "GET", "/me", nil, nil, &m)
}

// Policy is a tenant's login and password rules (contract §8); durations
// in seconds.
type Policy struct {
	LockoutThreshold   int    `json:"lockout_threshold"`
	LockoutWindow      int64  `json:"lockout_window"`
	LockoutDuration    int64  `json:"lockout_duration"`
	PasswordMaxAge     int64  `json:"password_max_age"`
	PasswordWarnBefore int64  `json:"password_warn_before"`
	PasswordMinLength  int    `json:"password_min_length"`
	PasswordMaxLength  int    `json:"password_max_length"`
	MFA                string `json:"mfa"`
}

// PolicyPatch changes the members present.
type PolicyPatch struct {
	LockoutThreshold   *int    `json:"lockout_threshold,omitempty"`
	LockoutWindow      *int64  `json:"lockout_window,omitempty"`
	LockoutDuration    *int64  `json:"lockout_duration,omitempty"`
	PasswordMaxAge     *int64  `json:"password_max_age,omitempty"`
	PasswordWarnBefore *int64  `json:"password_warn_before,omitempty"`
	PasswordMinLength  *int    `json:"password_min_length,omitempty"`
	PasswordMaxLength  *int    `json:"password_max_length,omitempty"`
	MFA                *string `json:"mfa,omitempty"`
}

type Tenant struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Edition         string   `json:"edition"`
	DefaultLanguage string   `json:"default_language"`
	Domains         []string `json:"domains"`
	Policy          Policy   `json:"policy"`
	CreatedAt       string   `json:"created_at"`
	UpdatedAt       string   `json:"updated_at"`
}

// TenantFields are the settings sent to create or update a tenant; nil
// members are left out (the server's default, or unchanged).
type TenantFields struct {
	ID              *string      `json:"id,omitempty"`
	Name            *string      `json:"name,omitempty"`
	Edition         *string      `json:"edition,omitempty"`
	DefaultLanguage *string      `json:"default_language,omitempty"`
	Domains         []string     `json:"domains,omitempty"`
	Policy          *PolicyPatch `json:"policy,omitempty"`
}

func (c *Client) ListTenants(ctx context.Context, o ListOptions) (Page[Tenant], error) {
	var p Page[Tenant]
	return p, c.do(ctx, "GET", "/tenants", o.values(), nil, &p)
}

func (c *Client) GetTenant(ctx context.Context, id string) (Tenant, error) {
	var t Tenant
	return t, c.do(ctx, "GET", "/tenants/"+esc(id), nil, nil, &t)
}

func (c *Client) CreateTenant(ctx context.Context, f TenantFields) (Tenant, error) {
	var t Tenant
	return t, c.do(ctx, "POST", "/tenants", nil, f, &t)
}

func (c *Client) UpdateTenant(ctx context.Context, id string, f TenantFields) (Tenant, error) {
	var t Tenant
	return t, c.do(ctx, "PATCH", "/tenants/"+esc(id), nil, f, &t)
}

func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/tenants/"+esc(id), nil, nil, nil)
}

// Application is an application's settings (contract §1 and §8);
// durations in seconds.
type Application struct {
	TenantID               string   `json:"tenant_id"`
	ClientID               string   `json:"client_id"`
	Public                 bool     `json:"public"`
	Name                   string   `json:"name"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	SessionTTL             int64    `json:"session_ttl"`
	SessionAutoRefresh     bool     `json:"session_auto_refresh"`
	RotationGrace          int64    `json:"rotation_grace"`
	DeviceBinding          bool     `json:"device_binding"`
	IDTokenTTL             int64    `json:"id_token_ttl"`
	IDTokenAlg             string   `json:"id_token_alg"`
	AccessTokenTTL         int64    `json:"access_token_ttl"`
	TenantAccessTokenTTL   int64    `json:"tenant_access_token_ttl"`
	RefreshTokenTTL        int64    `json:"refresh_token_ttl"`
	AccessTokenFormat      string   `json:"access_token_format"`
	CreatedAt              string   `json:"created_at"`
	UpdatedAt              string   `json:"updated_at"`
	// ClientSecret is set only in the answer to a creation.
	ClientSecret string `json:"client_secret,omitempty"`
}

// ApplicationFields are the settings sent to create or update an
// application; nil members are left out. The slices are pointers so that
// an empty list can be sent.
type ApplicationFields struct {
	ClientID               *string   `json:"client_id,omitempty"`
	Public                 *bool     `json:"public,omitempty"`
	Name                   *string   `json:"name,omitempty"`
	RedirectURIs           *[]string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             *[]string `json:"grant_types,omitempty"`
	SessionTTL             *int64    `json:"session_ttl,omitempty"`
	SessionAutoRefresh     *bool     `json:"session_auto_refresh,omitempty"`
	RotationGrace          *int64    `json:"rotation_grace,omitempty"`
	DeviceBinding          *bool     `json:"device_binding,omitempty"`
	IDTokenTTL             *int64    `json:"id_token_ttl,omitempty"`
	IDTokenAlg             *string   `json:"id_token_alg,omitempty"`
	AccessTokenTTL         *int64    `json:"access_token_ttl,omitempty"`
	TenantAccessTokenTTL   *int64    `json:"tenant_access_token_ttl,omitempty"`
	RefreshTokenTTL        *int64    `json:"refresh_token_ttl,omitempty"`
	AccessTokenFormat      *string   `json:"access_token_format,omitempty"`
}

func appPath(tenant, clientID string) string {
	return "/tenants/" + esc(tenant) + "/applications/" + esc(clientID)
}

func (c *Client) ListApplications(ctx context.Context, tenant string, o ListOptions) (Page[Application], error) {
	var p Page[Application]
	return p, c.do(ctx, "GET", "/tenants/"+esc(tenant)+"/applications", o.values(), nil, &p)
}

func (c *Client) GetApplication(ctx context.Context, tenant, clientID string) (Application, error) {
	var a Application
	return a, c.do(ctx, "GET", appPath(tenant, clientID), nil, nil, &a)
}

// CreateApplication returns the application with its client secret (for
// a confidential one), which the server shows only this once.
func (c *Client) CreateApplication(ctx context.Context, tenant string, f ApplicationFields) (Application, error) {
	var a Application
	return a, c.do(ctx, "POST", "/tenants/"+esc(tenant)+"/applications", nil, f, &a)
}

func (c *Client) UpdateApplication(ctx context.Context, tenant, clientID string, f ApplicationFields) (Application, error) {
	var a Application
	return a, c.do(ctx, "PATCH", appPath(tenant, clientID), nil, f, &a)
}

func (c *Client) DeleteApplication(ctx context.Context, tenant, clientID string) error {
	return c.do(ctx, "DELETE", appPath(tenant, clientID), nil, nil, nil)
}

// ClientSecret is a new client secret, shown once.
type ClientSecret struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func (c *Client) RotateSecret(ctx context.Context, tenant, clientID string) (ClientSecret, error) {
	var s ClientSecret
	return s, c.do(ctx, "POST", appPath(tenant, clientID)+"/secret", nil, struct{}{}, &s)
}

type User struct {
	TenantID          string `json:"tenant_id"`
	ID                string `json:"id"`
	Username          string `json:"username"`
	Name              string `json:"name"`
	Email             string `json:"email"`
	Mobile            string `json:"mobile"`
	Status            string `json:"status"`
	Locked            bool   `json:"locked"`
	LockedUntil       string `json:"locked_until,omitempty"`
	FailedLogins      int    `json:"failed_logins"`
	PasswordSet       bool   `json:"password_set"`
	PasswordChangedAt string `json:"password_changed_at,omitempty"`
	// MFAEnrolled is only in the answer of GetUser.
	MFAEnrolled *bool  `json:"mfa_enrolled,omitempty"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

// UserFields are the members sent to create or update a user; nil
// members are left out. Password is for creation only.
type UserFields struct {
	Username *string `json:"username,omitempty"`
	Name     *string `json:"name,omitempty"`
	Email    *string `json:"email,omitempty"`
	Mobile   *string `json:"mobile,omitempty"`
	Status   *string `json:"status,omitempty"`
	Password *string `json:"password,omitempty"`
}

func userPath(tenant, id string) string { return "/tenants/" + esc(tenant) + "/users/" + esc(id) }

// ListUsers lists a tenant's users; status ("active", "disabled") may
// narrow the list.
func (c *Client) ListUsers(ctx context.Context, tenant, status string, o ListOptions) (Page[User], error) {
	v := o.values()
	if status != "" {
		v.Set("status", status)
	}
	var p Page[User]
	return p, c.do(ctx, "GET", "/tenants/"+esc(tenant)+"/users", v, nil, &p)
}

func (c *Client) GetUser(ctx context.Context, tenant, id string) (User, error) {
	var u User
	return u, c.do(ctx, "GET", userPath(tenant, id), nil, nil, &u)
}

func (c *Client) CreateUser(ctx context.Context, tenant string, f UserFields) (User, error) {
	var u User
	return u, c.do(ctx, "POST", "/tenants/"+esc(tenant)+"/users", nil, f, &u)
}

func (c *Client) UpdateUser(ctx context.Context, tenant, id string, f UserFields) (User, error) {
	var u User
	return u, c.do(ctx, "PATCH", userPath(tenant, id), nil, f, &u)
}

// UserAction is "disable", "enable" or "unlock".
func (c *Client) UserAction(ctx context.Context, tenant, id, action string) (User, error) {
	var u User
	return u, c.do(ctx, "POST", userPath(tenant, id)+"/"+action, nil, struct{}{}, &u)
}

func (c *Client) SetPassword(ctx context.Context, tenant, id, password string) error {
	return c.do(ctx, "PUT", userPath(tenant, id)+"/password", nil, map[string]string{"password": password}, nil)
}

// ResetPassword sets a generated password and returns it (shown once).
func (c *Client) ResetPassword(ctx context.Context, tenant, id string) (string, error) {
	var p struct {
		Password string `json:"password"`
	}
	err := c.do(ctx, "POST", userPath(tenant, id)+"/password/reset", nil, struct{}{}, &p)
	return p.Password, err
}

// ResetMFA removes a user's TOTP authenticator and recovery codes; a
// user with none is a not_found error.
func (c *Client) ResetMFA(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "DELETE", userPath(tenant, id)+"/mfa", nil, nil, nil)
}

// Revoked counts revoked sessions.
type Revoked struct {
	Revoked int `json:"revoked"`
}

func (c *Client) RevokeUserSessions(ctx context.Context, tenant, userID string) (Revoked, error) {
	var r Revoked
	return r, c.do(ctx, "DELETE", userPath(tenant, userID)+"/sessions", nil, nil, &r)
}

type Device struct {
	Fingerprint string `json:"fingerprint"`
	OSVersion   string `json:"os_version"`
	Agent       string `json:"agent"`
	IP          string `json:"ip"`
}

type Session struct {
	ID        string `json:"id"`
	TenantID  string `json:"tenant_id"`
	UserID    string `json:"user_id"`
	ClientID  string `json:"client_id"`
	Device    Device `json:"device"`
	AuthTime  string `json:"auth_time"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
	RotatedAt string `json:"rotated_at,omitempty"`
}

// ListSessions lists a tenant's sessions, of one user or one application
// when given.
func (c *Client) ListSessions(ctx context.Context, tenant, userID, clientID string, o ListOptions) (Page[Session], error) {
	v := o.values()
	if userID != "" {
		v.Set("user_id", userID)
	}
	if clientID != "" {
		v.Set("client_id", clientID)
	}
	var p Page[Session]
	return p, c.do(ctx, "GET", "/tenants/"+esc(tenant)+"/sessions", v, nil, &p)
}

func (c *Client) RevokeSession(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "DELETE", "/tenants/"+esc(tenant)+"/sessions/"+esc(id), nil, nil, nil)
}

type Key struct {
	KID         string `json:"kid"`
	Alg         string `json:"alg"`
	Generation  int64  `json:"generation"`
	CreatedAt   string `json:"created_at"`
	ActivatesAt string `json:"activates_at"`
	RetainUntil string `json:"retain_until,omitempty"`
	State       string `json:"state"`
}

func (c *Client) ListKeys(ctx context.Context, tenant string) (Page[Key], error) {
	var p Page[Key]
	return p, c.do(ctx, "GET", "/tenants/"+esc(tenant)+"/keys", nil, nil, &p)
}

// RotateKeys publishes a new key generation (of the given algorithms, or
// all) and returns the tenant's keys.
func (c *Client) RotateKeys(ctx context.Context, tenant string, algorithms []string) (Page[Key], error) {
	body := map[string][]string{}
	if len(algorithms) > 0 {
		body["algorithms"] = algorithms
	}
	var p Page[Key]
	return p, c.do(ctx, "POST", "/tenants/"+esc(tenant)+"/keys/rotate", nil, body, &p)
}

type AuditEvent struct {
	ID            string         `json:"id"`
	TenantID      string         `json:"tenant_id"`
	Time          string         `json:"time"`
	Type          string         `json:"type"`
	ActorTenantID string         `json:"actor_tenant_id"`
	ActorID       string         `json:"actor_id"`
	Target        string         `json:"target"`
	SourceIP      string         `json:"source_ip"`
	Details       map[string]any `json:"details"`
}

// AuditFilter narrows the audit log; Since and Until are RFC 3339 times.
type AuditFilter struct {
	Tenant, Since, Until, Actor, Type string
}

func (c *Client) ListAudit(ctx context.Context, f AuditFilter, o ListOptions) (Page[AuditEvent], error) {
	v := o.values()
	for k, s := range map[string]string{"tenant": f.Tenant, "since": f.Since, "until": f.Until, "actor": f.Actor, "type": f.Type} {
		if s != "" {
			v.Set(k, s)
		}
	}
	var p Page[AuditEvent]
	return p, c.do(ctx, "GET", "/audit", v, nil, &p)
}

// errNoServer and errNoToken explain what to give when nothing is known.
func errNoServer() error {
	return errors.New("no server: give --server URL, set SESAME_SERVER, or run `sesame login`")
}

func errNoToken() error {
	return errors.New("not logged in: run `sesame login`, or give --token or SESAME_TOKEN")
}
