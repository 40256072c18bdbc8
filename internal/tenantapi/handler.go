package tenantapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/ratelimit"
	"github.com/sesame-idp/sesame/internal/sdkapi"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/tenant"
)

// Handler serves /api/v2/tenant/...
type Handler struct {
	Sessions     *session.Service
	Tenants      *tenant.Resolver
	Store        store.Store
	Hasher       *secret.Hasher
	AccessTokens *oauth2.AccessTokens
	Logger       *slog.Logger
	// Limits are the rate limits of the token endpoint; nil means none.
	Limits *ratelimit.Guard
	// Audit receives the issuance of tenant access tokens; nil records
	// nothing. (Session rotation and SSO tickets are recorded by
	// Sessions.)
	Audit audit.Recorder
}

// tooManyRequests answers a token request refused by a rate limit: 429
// with Retry-After, temporarily_unavailable (as the OAuth token endpoint).
var tooManyRequests = &oauth2.Error{Code: oauth2.ErrTemporarilyUnavail, Description: "Too many requests, please try again later", Status: http.StatusTooManyRequests}

// Mount registers the tenant API routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v2/tenant/token", h.token)
	mux.HandleFunc("POST /api/v2/tenant/sso/session-token/refresh", h.bearer(h.refresh))
	mux.HandleFunc("POST /api/v2/tenant/sso/session-token/sso-ticket", h.bearer(h.ssoTicket))
	mux.HandleFunc("POST /api/v2/tenant/sso/sso-ticket/verify", h.bearer(h.verifyTicket))
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// token issues an application access token (contract §3.1). A new token
// each call; earlier ones stay valid until they expire.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	t, err := h.Tenants.Resolve(r.Context(), r)
	if err != nil {
		if errors.Is(err, tenant.ErrUnknown) || errors.Is(err, tenant.ErrIDRequired) {
			oauth2.WriteError(w, oauth2.NewError(oauth2.ErrInvalidClient, "Bad client credentials"))
			return
		}
		h.fail(w, r, oauth2.Busy(err))
		return
	}
	form, app, oerr := oauth2.ClientRequest(r, h.Store, h.Hasher, t.ID)
	if oerr != nil {
		h.fail(w, r, oerr)
		return
	}
	if d := h.Limits.Token(r.Context(), t.ID, app.ClientID); !d.Allowed {
		ratelimit.SetRetryAfter(w, d)
		oauth2.WriteError(w, tooManyRequests)
		return
	}
	switch gt := form.Get("grant_type"); {
	case gt == "":
		oauth2.WriteError(w, oauth2.NewError(oauth2.ErrInvalidRequest, "grant_type is required"))
		return
	case gt != "client_credentials":
		oauth2.WriteError(w, oauth2.NewError(oauth2.ErrUnsupportedGrantType, "Only client_credentials is supported here"))
		return
	case app.Public() || !app.AllowsGrant("client_credentials"):
		oauth2.WriteError(w, oauth2.NewError(oauth2.ErrUnauthorizedClient, "The client may not use client_credentials"))
		return
	}
	tok, err := h.AccessTokens.Issue(r.Context(), t, app, store.AccessToken{Scope: "all"}, app.TenantAccessTokenTTL)
	if err != nil {
		h.fail(w, r, oauth2.Busy(err))
		return
	}
	audit.Or(h.Audit).Record(r.Context(), store.AuditEvent{
		TenantID: t.ID, Type: audit.TypeTokenIssued, ActorTenantID: t.ID, ActorID: app.ClientID,
		Target: "application:" + app.ClientID, Details: map[string]string{
			"client_id": app.ClientID, "grant_type": "client_credentials", "tokens": "access_token", "endpoint": "tenant",
		},
	})
	// Contract §3.1: token_type is lower-case "bearer" here, as the vendor
	// sends it.
	oauth2.WriteJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(app.TenantAccessTokenTTL.Seconds()), Scope: "all"})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, e *oauth2.Error) {
	if e.Cause != nil {
		h.Logger.ErrorContext(r.Context(), "tenant api request failed", "path", r.URL.Path, "err", e.Cause)
	}
	oauth2.WriteError(w, e)
}

// authed is a request that presented a valid application access token.
type authed struct {
	r      *http.Request
	ctx    context.Context
	tenant store.Tenant
	app    store.Application
}

// bearer authenticates the application access token and then runs an
// endpoint whose errors are written in the tenant's SDK dialect.
func (h *Handler) bearer(endpoint func(a *authed) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		t, err := h.Tenants.Resolve(ctx, r)
		if err != nil {
			if errors.Is(err, tenant.ErrUnknown) || errors.Is(err, tenant.ErrIDRequired) {
				oauth2.WriteError(w, oauth2.InvalidAccess())
				return
			}
			h.fail(w, r, oauth2.Busy(err))
			return
		}
		tok, ok := oauth2.BearerToken(r)
		if !ok {
			oauth2.WriteError(w, oauth2.InvalidAccess())
			return
		}
		at, err := h.AccessTokens.Authenticate(ctx, t, tok)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !applicationToken(at)) {
			oauth2.WriteError(w, oauth2.InvalidAccess())
			return
		}
		if err != nil {
			h.fail(w, r, oauth2.Busy(err))
			return
		}
		app, err := h.Store.GetApplication(ctx, t.ID, at.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			// The application was removed: its tokens die with it.
			oauth2.WriteError(w, oauth2.InvalidAccess())
			return
		}
		if err != nil {
			h.fail(w, r, oauth2.Busy(err))
			return
		}
		zh := sdkerror.Language(r, t.DefaultLanguage)
		res, err := endpoint(&authed{r: r, ctx: ctx, tenant: t, app: app})
		if err != nil {
			var se *sdkerror.Error
			if !errors.As(err, &se) {
				se = sdkerror.Busy(err)
			}
			if se.Kind == sdkerror.SystemBusy {
				h.Logger.ErrorContext(ctx, "tenant api request failed", "path", r.URL.Path, "err", se.Cause)
			}
			sdkerror.Write(w, t.Edition, zh, se)
			return
		}
		oauth2.WriteJSON(w, http.StatusOK, res)
	}
}

// applicationToken reports whether at is an application's own token
// (client_credentials, scope "all"): the tenant API acts on any user's
// sessions, so a token issued to or for an end user must never open it.
func applicationToken(at store.AccessToken) bool {
	return at.UserID == "" && at.GrantID == "" && at.Scope == "all"
}

// deviceBody holds the device fields of the tenant session endpoints
// (seed 002): all required but agent.
type deviceBody struct {
	Fingerprint, OSVersion, IP, Agent string
}

func (d *deviceBody) fields() []sdkapi.Field {
	return []sdkapi.Field{
		{Name: "operating_sys_version", Max: 128, Required: true, Dst: &d.OSVersion},
		{Name: "device_ip", Max: 64, Required: true, Dst: &d.IP},
		{Name: "device_fingerprint", Max: 256, Required: true, Dst: &d.Fingerprint},
		{Name: "agent", Max: 1024, Dst: &d.Agent},
	}
}

func (d *deviceBody) device() store.Device {
	return store.Device{Fingerprint: d.Fingerprint, OSVersion: d.OSVersion, IP: d.IP, Agent: d.Agent}
}

// sessionRequest decodes {session_token, device fields}.
func sessionRequest(r *http.Request) (string, store.Device, *sdkerror.Error) {
	var tok string
	var d deviceBody
	fields := append([]sdkapi.Field{{Name: "session_token", Max: 512, Required: true, Dst: &tok}}, d.fields()...)
	if err := sdkapi.DecodeBody(r, fields...); err != nil {
		return "", store.Device{}, err
	}
	return tok, d.device(), nil
}

type refreshResponse struct {
	Expire       int64  `json:"expire"`
	SessionToken string `json:"session_token"`
}

// refresh rotates a session token (contract §3.2, seed 002).
func (h *Handler) refresh(a *authed) (any, error) {
	tok, dev, perr := sessionRequest(a.r)
	if perr != nil {
		return nil, perr
	}
	res, err := h.Sessions.Refresh(a.ctx, a.tenant, a.app, tok, dev)
	if err != nil {
		return nil, err
	}
	return refreshResponse{Expire: res.Expire, SessionToken: res.SessionToken}, nil
}

type ticketResponse struct {
	Expire    int64  `json:"expire"`
	SSOTicket string `json:"sso_ticket"`
}

func (h *Handler) ssoTicket(a *authed) (any, error) {
	tok, dev, perr := sessionRequest(a.r)
	if perr != nil {
		return nil, perr
	}
	ticket, expire, err := h.Sessions.IssueSSOTicket(a.ctx, a.tenant, a.app, tok, dev)
	if err != nil {
		return nil, err
	}
	return ticketResponse{Expire: expire, SSOTicket: ticket}, nil
}

// ticketUser is the user object of contract §3.3.
type ticketUser struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Name     string `json:"name"`
	Mobile   string `json:"mobile"`
	Email    string `json:"email"`
}

type verifyResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    struct {
		User ticketUser `json:"user"`
	} `json:"data"`
}

func (h *Handler) verifyTicket(a *authed) (any, error) {
	var ticket string
	var d deviceBody
	fields := append([]sdkapi.Field{{Name: "sso_ticket", Max: 512, Required: true, Dst: &ticket}}, d.fields()...)
	if err := sdkapi.DecodeBody(a.r, fields...); err != nil {
		return nil, err
	}
	u, err := h.Sessions.VerifySSOTicket(a.ctx, a.tenant, ticket)
	if err != nil {
		return nil, err
	}
	var res verifyResponse
	res.Code, res.Message = "0", "success"
	res.Data.User = ticketUser{ID: u.ID, UserName: u.Username, Name: u.Name, Mobile: u.Mobile, Email: u.Email}
	return res, nil
}
