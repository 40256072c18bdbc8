package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/store"
)

// Principal is an authenticated caller of the admin API and its roles.
type Principal struct {
	Type string // store.PrincipalUser or store.PrincipalApplication
	ID   string // user id or client id, in the system tenant
	Name string // user name or client id, for people and the audit log
	// System: a system administrator, who manages every tenant.
	System bool
	// Tenants the principal administers (sorted); all of them when System.
	Tenants []string
}

// CanManage reports whether the principal administers tenant id.
func (p Principal) CanManage(id string) bool {
	return p.System || slices.Contains(p.Tenants, id)
}

// unauthorized is the answer to a request without a usable token.
func unauthorized(presented bool) *Error {
	e := &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "A valid bearer access token of the system tenant is required"}
	if presented {
		// writeError adds error="invalid_token" (RFC 6750 §3.1).
		e.Field = "authorization"
		e.Message = "The access token is invalid, expired or revoked"
	}
	return e
}

// authenticate finds the principal of a request's bearer token. The token
// is checked by oauth2.AccessTokens.Authenticate against the system
// tenant, as userinfo and introspection check theirs: an unknown,
// expired, revoked or forged token, or a JWT of another issuer, is not
// found.
func (h *Handler) authenticate(ctx context.Context, r *http.Request) (Principal, *Error) {
	tok, ok := oauth2.BearerToken(r)
	if !ok {
		return Principal{}, unauthorized(r.Header.Get("Authorization") != "")
	}
	sys, err := h.Store.GetTenant(ctx, store.SystemTenantID)
	if err != nil {
		// The system tenant is created at every start; without it no token
		// can be valid, but a storage failure is not the caller's fault.
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, unauthorized(true)
		}
		return Principal{}, unavailable(err)
	}
	at, err := h.AccessTokens.Authenticate(ctx, sys, tok)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, unauthorized(true)
	}
	if err != nil {
		return Principal{}, unavailable(err)
	}
	p := Principal{}
	if at.UserID != "" {
		// Only the console's user tokens act for administrators: a token
		// some other relying party obtained for the same user is meant
		// for that party (its audience), not for the admin API.
		if at.ClientID != ConsoleClientID {
			return Principal{}, forbidden("User tokens are accepted from the console application only")
		}
		u, err := h.Store.GetUser(ctx, sys.ID, at.UserID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.Status != store.UserActive) {
			// A disabled or removed user's tokens are dead, as at userinfo.
			return Principal{}, unauthorized(true)
		}
		if err != nil {
			return Principal{}, unavailable(err)
		}
		p.Type, p.ID, p.Name = store.PrincipalUser, u.ID, u.Username
	} else {
		app, err := h.Store.GetApplication(ctx, sys.ID, at.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			// A removed application's tokens die with it.
			return Principal{}, unauthorized(true)
		}
		if err != nil {
			return Principal{}, unavailable(err)
		}
		p.Type, p.ID, p.Name = store.PrincipalApplication, app.ClientID, app.ClientID
	}
	roles, err := h.Store.AdminRoles(ctx, p.Type, p.ID)
	if err != nil {
		return Principal{}, unavailable(err)
	}
	for _, r := range roles {
		if r.System() {
			p.System = true
		} else {
			p.Tenants = append(p.Tenants, r.TenantID)
		}
	}
	if !p.System && len(p.Tenants) == 0 {
		return Principal{}, forbidden("The caller is not an administrator")
	}
	slices.Sort(p.Tenants)
	return p, nil
}
