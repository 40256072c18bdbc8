package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/store"
)

// discoveryDoc is the OpenID Provider Metadata (OIDC Discovery §3, RFC
// 8414 §2).
type discoveryDoc struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	UILocalesSupported                []string `json:"ui_locales_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	AuthorizationResponseISSSupported bool     `json:"authorization_response_iss_parameter_supported"`
	// OIDC Discovery §3 defaults request_uri_parameter_supported to true;
	// Sesame supports neither request objects nor request URIs.
	RequestParameterSupported    bool `json:"request_parameter_supported"`
	RequestURIParameterSupported bool `json:"request_uri_parameter_supported"`
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	t, ok := p.apiTenant(w, r, &oauth2.Error{Code: oauth2.ErrInvalidRequest, Description: "Unknown tenant", Status: http.StatusNotFound})
	if !ok {
		return
	}
	iss := p.issuer(t)
	base := strings.TrimSuffix(iss, "/api/v1/oauth2")
	doc := discoveryDoc{
		Issuer:                            iss,
		AuthorizationEndpoint:             iss + "/authorize",
		TokenEndpoint:                     iss + "/token",
		UserinfoEndpoint:                  iss + "/userinfo",
		JWKSURI:                           iss + "/keys",
		IntrospectionEndpoint:             iss + "/introspect",
		RevocationEndpoint:                iss + "/revoke",
		EndSessionEndpoint:                base + "/api/v1/logout",
		ScopesSupported:                   []string{"openid", "profile", "email", "phone", "offline_access", "get_user_info"},
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query", "form_post"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256", "RS512", "ES256", "EdDSA"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported:                   []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "at_hash", "azp", "id", "name", "userName", "mobile", "email"},
		UILocalesSupported:                []string{"en", "zh"},
		PromptValuesSupported:             []string{"none", "login"},
		AuthorizationResponseISSSupported: true,
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(doc)
}

// bearerError is the RFC 6750 §3.1 answer to a bad access token.
func bearerError() *oauth2.Error {
	return &oauth2.Error{Code: oauth2.ErrInvalidToken, Description: "The access token is invalid or expired", Status: http.StatusUnauthorized}
}

// userinfo serves GET and POST /api/v1/oauth2/userinfo (OIDC Core §5.3):
// the claims the token's scope allows, with the vendor's names
// (contract §4).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	t, ok := p.apiTenant(w, r, bearerError())
	if !ok {
		return
	}
	tok, ok := oauth2.BearerToken(r)
	if !ok && r.Method == http.MethodPost {
		// RFC 6750 §2.2: the token may come as a form parameter.
		if form, oerr := oauth2.ParseForm(r); oerr == nil && form.Get("access_token") != "" {
			tok, ok = form.Get("access_token"), true
		}
	}
	if !ok {
		oauth2.WriteError(w, bearerError())
		return
	}
	at, u, err := p.AccessTokens.AuthenticateWithUser(r.Context(), t, tok)
	if errors.Is(err, store.ErrNotFound) {
		oauth2.WriteError(w, bearerError())
		return
	}
	if err != nil {
		p.fail(w, r, oauth2.Busy(err))
		return
	}
	if at.UserID == "" || !(oauth2.HasScope(at.Scope, "openid") || oauth2.HasScope(at.Scope, "get_user_info")) {
		oauth2.WriteError(w, &oauth2.Error{Code: "insufficient_scope", Description: "The token does not grant user information", Status: http.StatusForbidden})
		return
	}
	// A removed (zero User) or disabled user's token no longer answers
	// (RFC 6750 §3.1 invalid_token).
	if u.ID == "" || u.Status != store.UserActive {
		oauth2.WriteError(w, bearerError())
		return
	}
	all := oauth2.HasScope(at.Scope, "get_user_info")
	claims := map[string]string{"sub": u.ID, "id": u.ID}
	if all || oauth2.HasScope(at.Scope, "profile") {
		claims["name"], claims["userName"] = u.Name, u.Username
	}
	if all || oauth2.HasScope(at.Scope, "email") {
		claims["email"] = u.Email
	}
	if all || oauth2.HasScope(at.Scope, "phone") {
		claims["mobile"] = u.Mobile
	}
	for k, v := range claims {
		if v == "" {
			delete(claims, k)
		}
	}
	oauth2.WriteJSON(w, http.StatusOK, claims)
}

// clientForm authenticates the client of an introspection or revocation
// request.
func (p *Provider) clientForm(w http.ResponseWriter, r *http.Request) (store.Tenant, store.Application, url.Values, bool) {
	t, ok := p.apiTenant(w, r, oauth2.NewError(oauth2.ErrInvalidClient, "Bad client credentials"))
	if !ok {
		return t, store.Application{}, nil, false
	}
	form, app, oerr := oauth2.ClientRequest(r, p.Store, p.Hasher, t.ID)
	if oerr == nil && (form.Get("token") == "" || len(form.Get("token")) > 8192) {
		oerr = oauth2.NewError(oauth2.ErrInvalidRequest, "token is required")
	}
	if oerr != nil {
		p.fail(w, r, oerr)
		return t, store.Application{}, nil, false
	}
	return t, app, form, true
}

// introspection is the RFC 7662 §2.2 answer.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
}

// introspect serves POST /api/v1/oauth2/introspect (RFC 7662). Only
// confidential clients of the tenant may ask; tokens of other tenants are
// never active here.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	t, app, form, ok := p.clientForm(w, r)
	if !ok {
		return
	}
	if app.Public() {
		oauth2.WriteError(w, oauth2.NewError(oauth2.ErrInvalidClient, "Public clients may not introspect"))
		return
	}
	ctx, tok := r.Context(), form.Get("token")
	res := introspection{}
	order := []string{"access_token", "refresh_token"}
	if form.Get("token_type_hint") == "refresh_token" {
		order = []string{"refresh_token", "access_token"}
	}
	// An access token's user comes with it, in the same read; a refresh
	// token's is read after the loop.
	var user store.User
	userRead := false
	for _, kind := range order {
		var err error
		if kind == "access_token" {
			var at store.AccessToken
			if at, user, err = p.AccessTokens.AuthenticateWithUser(ctx, t, tok); err == nil {
				res = introspection{Active: true, Scope: at.Scope, ClientID: at.ClientID, TokenType: "Bearer",
					Exp: at.ExpiresAt.Unix(), Iat: at.CreatedAt.Unix(), Sub: at.UserID, Aud: at.ClientID, Iss: p.issuer(t)}
				userRead = true
			}
		} else {
			var rt store.RefreshToken
			if rt, err = p.Store.RefreshTokenByHash(ctx, t.ID, p.Hasher.Hash(purposeRefresh, tok), p.Now()); err == nil && rt.UsedAt.IsZero() {
				res = introspection{Active: true, Scope: rt.Scope, ClientID: rt.ClientID, TokenType: "refresh_token",
					Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(), Sub: rt.UserID, Aud: rt.ClientID, Iss: p.issuer(t)}
			}
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			p.fail(w, r, oauth2.Busy(err))
			return
		}
		if res.Active {
			break
		}
	}
	if res.Active && res.Sub != "" {
		if !userRead {
			if u, err := p.Store.GetUser(ctx, t.ID, res.Sub); err == nil {
				user = u
			}
		}
		if user.ID == res.Sub && user.Status == store.UserActive {
			res.Username = user.Username
		} else {
			res = introspection{} // a disabled or removed user's tokens are inactive
		}
	}
	oauth2.WriteJSON(w, http.StatusOK, res)
}

// revoke serves POST /api/v1/oauth2/revoke (RFC 7009). Revoking a refresh
// token revokes its whole grant (§2.1 allows it; RFC 9700 recommends it);
// an access token is revoked alone. A token the client does not own, or
// that does not exist, is answered 200 without effect (§2.2: invalid
// tokens do not cause an error).
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	t, app, form, ok := p.clientForm(w, r)
	if !ok {
		return
	}
	ctx, tok := r.Context(), form.Get("token")
	now := p.Now()
	rt, err := p.Store.RefreshTokenByHash(ctx, t.ID, p.Hasher.Hash(purposeRefresh, tok), now)
	switch {
	case err == nil && rt.ClientID == app.ClientID:
		var n int64
		if n, err = p.Store.RevokeGrant(ctx, t.ID, rt.GrantID); err == nil {
			p.auditGrantRevoked(ctx, t, app.ClientID, app.ClientID, rt.UserID, rt.GrantID, "client_revocation", n)
		}
	case err == nil || errors.Is(err, store.ErrNotFound):
		err = nil
		var at store.AccessToken
		if at, err = p.AccessTokens.Authenticate(ctx, t, tok); err == nil && at.ClientID == app.ClientID {
			if err = p.Store.DeleteAccessToken(ctx, t.ID, at.TokenHash); err == nil {
				p.record(ctx, t, audit.TypeTokenRevoked, app.ClientID, "application:"+app.ClientID, map[string]string{
					"client_id": app.ClientID, "user_id": at.UserID, "reason": "client_revocation", "tokens": "access_token",
				})
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		p.fail(w, r, oauth2.Busy(err))
		return
	}
	oauth2.WriteJSON(w, http.StatusOK, struct{}{})
}

// logout serves GET /api/v1/logout (OpenID Connect RP-Initiated Logout
// 1.0, and the vendor's redirect_url form). The browser session ends in
// every case; the browser is sent back only to a URI registered for the
// client as a post-logout redirect URI, never anywhere else.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	t, err := p.Tenants.Resolve(r.Context(), r)
	if err != nil {
		p.pageForResolveError(w, r, err)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		q = url.Values{}
	}
	lang := language(q.Get("ui_locales"), r, t)
	// Saying "signed out" while the session lives on would be worse than
	// an error: a storage failure, in the lookup or the deletion, is
	// answered as busy and the cookie is kept.
	sess, _, ok, err := p.browserSession(r, t)
	if err == nil && ok {
		if err = p.Sessions.EndSession(r.Context(), t, sess.ID); err == nil {
			p.record(r.Context(), t, audit.TypeSessionRevoked, sess.UserID, "session:"+sess.ID, map[string]string{
				"client_id": sess.ClientID, "user_id": sess.UserID, "reason": "logout", "channel": "hosted",
			})
		}
	}
	if err != nil {
		p.Logger.ErrorContext(r.Context(), "ending a browser session failed", "err", err)
		p.message(w, http.StatusServiceUnavailable, lang, "error", "busy")
		return
	}
	p.clearSessionCookie(w)
	target := q.Get("post_logout_redirect_uri")
	if target == "" {
		target = q.Get("redirect_url")
	}
	if target == "" {
		p.message(w, http.StatusOK, lang, "signedoutttl", "signedout")
		return
	}
	if !p.logoutTargetAllowed(r, t, q, target) {
		p.message(w, http.StatusBadRequest, lang, "signedoutttl", "badlogout")
		return
	}
	u, _ := url.Parse(target)
	if st := q.Get("state"); st != "" && len(st) <= maxParam {
		v := u.Query()
		v.Set("state", st)
		u.RawQuery = v.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// logoutTargetAllowed decides whether the browser may be sent to target:
// it must be a registered post-logout redirect URI of the client named by
// id_token_hint or client_id; with neither (the vendor's redirect_url
// form), of some application of the tenant.
func (p *Provider) logoutTargetAllowed(r *http.Request, t store.Tenant, q url.Values, target string) bool {
	if u, err := url.Parse(target); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return false
	}
	clientID := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		aud, ok := p.idTokenHintClient(r, t, hint)
		if !ok || (clientID != "" && clientID != aud) {
			return false
		}
		clientID = aud
	}
	if clientID != "" {
		app, err := p.Store.GetApplication(r.Context(), t.ID, clientID)
		return err == nil && slices.Contains(app.PostLogoutRedirectURIs, target)
	}
	apps, err := p.Store.ListApplications(r.Context(), t.ID)
	if err != nil {
		return false
	}
	for _, a := range apps {
		if slices.Contains(a.PostLogoutRedirectURIs, target) {
			return true
		}
	}
	return false
}

// idTokenHintClient verifies an id_token this tenant issued (an expired
// one is fine as a hint) and returns its audience. Only what the tenant's
// id_tokens are passes: a compact JWS (oauth2.CompactJWS) whose header
// names the signing key and exactly that key's algorithm (RFC 8725 §3.1)
// and has typ "JWT", which idtoken.Minter always sets. The type check keeps
// the tenant's JWT access tokens (typ "at+jwt", signed with the same keys
// and with the client as aud) from serving as hints (RFC 8725 §3.11;
// found by FuzzIDTokenHint).
func (p *Provider) idTokenHintClient(r *http.Request, t store.Tenant, hint string) (string, bool) {
	if len(hint) > 8192 || !oauth2.CompactJWS(hint) {
		return "", false
	}
	jws, err := jose.ParseSigned(hint, []jose.SignatureAlgorithm{jose.RS256, jose.RS512, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return "", false
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "JWT") {
		return "", false
	}
	set, err := p.Keys.PublicKeys(r.Context(), t.ID)
	if err != nil {
		return "", false
	}
	ks := set.Key(h.KeyID)
	if len(ks) != 1 || ks[0].Algorithm != h.Algorithm {
		return "", false
	}
	payload, err := jws.Verify(ks[0])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
		Aud string `json:"aud"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Iss != p.issuer(t) || c.Aud == "" {
		return "", false
	}
	return c.Aud, true
}
