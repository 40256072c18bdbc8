package sdkapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sesame-idp/sesame/internal/password"
	"github.com/sesame-idp/sesame/internal/ratelimit"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/tenant"
)

// Handler serves /api/v2/sdk/...
type Handler struct {
	Sessions *session.Service
	Tenants  *tenant.Resolver
	Store    store.Store
	Now      func() time.Time
	Logger   *slog.Logger
	// DefaultEdition is the dialect of errors for requests whose tenant is
	// unknown, when no tenant can say which dialect it speaks.
	DefaultEdition string
	// Signed serves the X-signature form of the exchange and logout.
	Signed *Signed
	// Limits are the rate limits of login and exchange; nil means none.
	Limits *ratelimit.Guard
}

// limited is a refusal by a rate limit: the SDK's too-many-requests error,
// with the Retry-After that serve writes.
type limited struct{ d ratelimit.Decision }

func (e *limited) Error() string { return "rate limited" }
func (e *limited) Unwrap() error { return sdkerror.New(sdkerror.TooManyRequests) }

// Mount registers the SDK routes, the second factor's included (see
// mountMFA).
func (h *Handler) Mount(mux *http.ServeMux) {
	h.mountMFA(mux)
	mux.HandleFunc("POST /api/v2/sdk/login", h.serve(h.login(false)))
	mux.HandleFunc("POST /api/v2/sdk/login/auth", h.serve(h.login(true)))
	mux.HandleFunc("POST /api/v2/sdk/login/state/skip", h.serve(h.skip))
	mux.HandleFunc("POST /api/v2/sdk/login/state/change-password", h.serve(h.changePassword))
	mux.HandleFunc("POST /api/v2/sdk/sso/session-token/id-token", h.serve(h.exchange))
	mux.HandleFunc("POST /api/v2/sdk/logout", h.serve(h.logout))
	mux.HandleFunc("GET /api/v2/sdk/server-date", h.serve(h.serverDate))
	mux.HandleFunc("GET /api/v2/sdk/public-key", h.serve(h.publicKey))
	mux.HandleFunc("POST /api/v2/sdk/session-token/refresh-id-token", h.serve(h.signedIDToken))
	mux.HandleFunc("GET /api/v2/sdk/logout", h.serve(h.signedLogout))
}

// call is one parsed SDK request: its tenant, application and device.
type call struct {
	r      *http.Request
	ctx    context.Context
	tenant store.Tenant
	app    store.Application
	common Common
}

// sessionHeaderName is the name of the session-token header in the
// tenant's dialect, used when the header is missing.
func (c *call) sessionHeaderName() string {
	if c.tenant.Edition == store.EditionCIAM {
		return "session-token"
	}
	return "X-session-token"
}

// serve wraps an endpoint: tenant, language, common headers and application
// are resolved here, once, and every error is written here.
func (h *Handler) serve(endpoint func(c *call) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, edition, zh, err := h.prepare(r)
		if err == nil {
			var res any
			res, err = endpoint(c)
			if err == nil {
				writeJSON(w, res)
				return
			}
		}
		var se *sdkerror.Error
		if !errors.As(err, &se) {
			se = sdkerror.Busy(err)
		}
		if l := (*limited)(nil); errors.As(err, &l) {
			ratelimit.SetRetryAfter(w, l.d)
		}
		switch {
		case se.Kind != sdkerror.SystemBusy:
		case errors.Is(se.Cause, password.ErrBusy):
			// Saturation is expected under a login flood: one line each at
			// warn level, not an error.
			h.Logger.WarnContext(r.Context(), "sdk request refused: password hashing saturated", "path", r.URL.Path)
		default:
			h.Logger.ErrorContext(r.Context(), "sdk request failed", "path", r.URL.Path, "err", se.Cause)
		}
		sdkerror.Write(w, edition, zh, se)
	}
}

func (h *Handler) prepare(r *http.Request) (c *call, edition string, zh bool, err error) {
	ctx := r.Context()
	t, terr := h.Tenants.Resolve(ctx, r)
	if terr != nil {
		edition, lang := h.DefaultEdition, "en"
		if t.ID != "" {
			// Storage failed, but the tenant is known from before.
			edition, lang = t.Edition, t.DefaultLanguage
		}
		zh = sdkerror.Language(r, lang)
		switch {
		case errors.Is(terr, tenant.ErrIDRequired):
			return nil, h.DefaultEdition, zh, sdkerror.New(sdkerror.ParamMissing, "X-tenant-id")
		case errors.Is(terr, tenant.ErrUnknown):
			// To the caller an unknown tenant is an unknown application.
			return nil, h.DefaultEdition, zh, sdkerror.New(sdkerror.UnknownClient)
		}
		return nil, edition, zh, sdkerror.Busy(terr)
	}
	zh = sdkerror.Language(r, t.DefaultLanguage)
	common, perr := ParseCommon(r.Header)
	if perr != nil {
		return nil, t.Edition, zh, perr
	}
	app, aerr := h.Store.GetApplication(ctx, t.ID, common.ClientID)
	if errors.Is(aerr, store.ErrNotFound) {
		return nil, t.Edition, zh, sdkerror.New(sdkerror.UnknownClient)
	}
	if aerr != nil {
		return nil, t.Edition, zh, sdkerror.Busy(aerr)
	}
	return &call{r: r, ctx: ctx, tenant: t, app: app, common: common}, t.Edition, zh, nil
}

// loginResponse is the wire form of contract §2.1.
type loginResponse struct {
	Status       string `json:"status"`
	SessionToken string `json:"session_token,omitempty"`
	Expire       *int64 `json:"expire,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	StateToken   string `json:"state_token,omitempty"`
	Data         string `json:"data,omitempty"`
	// MFAEnrollment comes with MFA_REQUIRED when the user enrols with
	// this login; RecoveryCodes with the answer that confirms it.
	MFAEnrollment *enrollmentWire `json:"mfa_enrollment,omitempty"`
	RecoveryCodes []string        `json:"recovery_codes,omitempty"`
}

func toLoginResponse(res session.LoginResult) loginResponse {
	out := loginResponse{Status: res.Status, SessionToken: res.SessionToken, IDToken: res.IDToken, StateToken: res.StateToken, Data: res.Data,
		MFAEnrollment: toEnrollmentWire(res.MFAEnrollment), RecoveryCodes: res.RecoveryCodes}
	if res.Status == session.StatusSuccess {
		out.Expire = &res.Expire
	}
	return out
}

func (h *Handler) login(unified bool) func(c *call) (any, error) {
	return func(c *call) (any, error) {
		if d := h.Limits.Login(c.r); !d.Allowed {
			return nil, &limited{d}
		}
		var userName, password string
		if err := DecodeBody(c.r,
			Field{Name: "user_name", Max: maxUserName, Required: true, Dst: &userName},
			Field{Name: "password", Max: maxPassword, Required: true, Dst: &password, Password: true},
		); err != nil {
			return nil, err
		}
		res, err := h.Sessions.Login(c.ctx, c.tenant, c.app, session.LoginRequest{
			UserName: userName, Password: password, Unified: unified, Device: c.common.Device,
		})
		if err != nil {
			return nil, err
		}
		return toLoginResponse(res), nil
	}
}

func (h *Handler) skip(c *call) (any, error) {
	var stateToken string
	if err := DecodeBody(c.r, Field{Name: "state_token", Max: maxToken, Required: true, Dst: &stateToken}); err != nil {
		return nil, err
	}
	res, err := h.Sessions.Skip(c.ctx, c.tenant, c.app, stateToken, c.common.Device, false)
	if err != nil {
		return nil, err
	}
	return toLoginResponse(res), nil
}

func (h *Handler) changePassword(c *call) (any, error) {
	var stateToken, newPassword string
	if err := DecodeBody(c.r,
		Field{Name: "state_token", Max: maxToken, Required: true, Dst: &stateToken},
		Field{Name: "new_password", Max: maxPassword, Required: true, Dst: &newPassword, Password: true},
	); err != nil {
		return nil, err
	}
	res, err := h.Sessions.ChangePassword(c.ctx, c.tenant, c.app, stateToken, newPassword, c.common.Device, false)
	if err != nil {
		return nil, err
	}
	return toLoginResponse(res), nil
}

// exchangeResponse is the wire form of contract §2.2.
type exchangeResponse struct {
	SessionToken string `json:"session_token"`
	Expire       int64  `json:"expire"`
	IDToken      string `json:"id_token"`
}

func (h *Handler) exchange(c *call) (any, error) {
	if d := h.Limits.Exchange(c.r, c.tenant.ID, c.app.ClientID); !d.Allowed {
		return nil, &limited{d}
	}
	tok, err := SessionToken(c.r.Header, c.sessionHeaderName())
	if err != nil {
		return nil, err
	}
	res, serr := h.Sessions.Exchange(c.ctx, c.tenant, c.app, tok, c.common.Device)
	if serr != nil {
		return nil, serr
	}
	return exchangeResponse{SessionToken: res.SessionToken, Expire: res.Expire, IDToken: res.IDToken}, nil
}

// emptyBody makes writeJSON answer 200 with no body (contract §2.3).
type emptyBody struct{}

func (h *Handler) logout(c *call) (any, error) {
	tok, err := SessionToken(c.r.Header, c.sessionHeaderName())
	if err != nil {
		return nil, err
	}
	if err := h.Sessions.Logout(c.ctx, c.tenant, c.app, tok, c.common.Device); err != nil {
		return nil, err
	}
	return emptyBody{}, nil
}

type serverDate struct {
	Timestamp string `json:"timestamp"`
}

func (h *Handler) serverDate(c *call) (any, error) {
	return serverDate{Timestamp: strconv.FormatInt(h.Now().UnixMilli(), 10)}, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	if _, empty := v.(emptyBody); empty {
		w.WriteHeader(http.StatusOK)
		return
	}
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}
