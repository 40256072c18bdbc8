package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/clock"
	"github.com/sesame-idp/sesame/internal/idtoken"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/ratelimit"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// tokenResponse is RFC 6749 §5.1 with the id_token of OIDC Core §3.1.3.3,
// in the shape of seed 003.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`

	// pending is the hash of a rotated refresh token stored pending, to
	// be confirmed once this answer has been handed to the connection.
	pending []byte
	// userID and sessionID name the user and session a user's tokens
	// were issued for, for the audit log.
	userID, sessionID string
}

// token serves POST /api/v1/oauth2/token (RFC 6749 §3.2, seed 003).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	t, ok := p.apiTenant(w, r, oauth2.NewError(oauth2.ErrInvalidClient, "Bad client credentials"))
	if !ok {
		return
	}
	form, app, oerr := oauth2.ClientRequest(r, p.Store, p.Hasher, t.ID)
	if oerr != nil {
		p.fail(w, r, oerr)
		return
	}
	// Limited per authenticated client: a third party cannot spend a
	// confidential client's budget.
	if d := p.Limits.Token(r.Context(), t.ID, app.ClientID); !d.Allowed {
		ratelimit.SetRetryAfter(w, d)
		oauth2.WriteError(w, TooManyRequests)
		return
	}
	var res tokenResponse
	switch gt := form.Get("grant_type"); gt {
	case "":
		oerr = oauth2.NewError(oauth2.ErrInvalidRequest, "grant_type is required")
	case "authorization_code":
		res, oerr = p.codeGrant(r.Context(), t, app, form)
	case "refresh_token":
		res, oerr = p.refreshGrant(r.Context(), t, app, form)
	case "client_credentials":
		res, oerr = p.clientCredentialsGrant(r.Context(), t, app, form)
	default:
		oerr = oauth2.NewError(oauth2.ErrUnsupportedGrantType, "Unsupported grant_type")
	}
	if oerr != nil {
		p.Metrics.Token("access_token", "refused")
		p.fail(w, r, oerr)
		return
	}
	p.Metrics.Token("access_token", "issued")
	p.auditIssued(r.Context(), t, app, form.Get("grant_type"), res)
	oauth2.WriteJSON(w, http.StatusOK, res)
	if res.pending != nil {
		p.confirmRefresh(w, r, t.ID, res.pending)
	}
}

// confirmRefresh marks a rotated refresh token as delivered once the
// answer carrying it has left the process (see store.RefreshDeliveryStore):
// the answer is flushed to the connection first, so that a crash before
// the confirmation leaves the token pending and the client's retry is
// answered rather than taken for reuse. If the flush fails the client did
// not get the token, and it stays pending for the retry. A writer that
// cannot flush (ErrNotSupported) writes when the handler returns; the
// token is confirmed anyway, as it would have been without this check.
func (p *Provider) confirmRefresh(w http.ResponseWriter, r *http.Request, tenantID string, h []byte) {
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		p.Logger.InfoContext(r.Context(), "refresh token answer not delivered; the token stays pending for the client's retry", "tenant", tenantID, "err", err)
		return
	}
	// The client may hang up once it has the answer: the confirmation
	// must not be cancelled with its request.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := p.Store.ConfirmRefreshToken(ctx, tenantID, h); err != nil {
		// The token stays pending: a retry of its parent would still be
		// answered with it until it is used or expires.
		p.Logger.WarnContext(ctx, "confirming a delivered refresh token failed", "tenant", tenantID, "err", err)
	}
}

// TooManyRequests is the answer of an OAuth endpoint refused by a rate
// limit: HTTP 429 (RFC 6585 §4) with Retry-After, and the error code
// temporarily_unavailable, the one RFC 6749 registers for "try again
// later" (§4.1.2.1; §5.2 has none, and RFC 8628's slow_down belongs to the
// device flow).
var TooManyRequests = &oauth2.Error{Code: oauth2.ErrTemporarilyUnavail, Description: "Too many requests, please try again later", Status: http.StatusTooManyRequests}

var invalidCode = oauth2.NewError(oauth2.ErrInvalidGrant, "Invalid authorization code")

// codeGrant redeems an authorization code (RFC 6749 §4.1.3, RFC 7636
// §4.6).
func (p *Provider) codeGrant(ctx context.Context, t store.Tenant, app store.Application, form url.Values) (tokenResponse, *oauth2.Error) {
	if !app.AllowsGrant("authorization_code") {
		return tokenResponse{}, oauth2.NewError(oauth2.ErrUnauthorizedClient, "The client may not use the authorization code grant")
	}
	code := form.Get("code")
	if code == "" || len(code) > 512 {
		return tokenResponse{}, oauth2.NewError(oauth2.ErrInvalidRequest, "code is required")
	}
	c, err := p.Store.RedeemAuthCode(ctx, t.ID, p.Hasher.Hash(purposeCode, code), p.Now())
	switch {
	case errors.Is(err, store.ErrReused):
		// RFC 6749 §4.1.2: a code used twice revokes what it issued.
		n, rerr := p.Store.RevokeGrant(ctx, t.ID, c.GrantID)
		p.Logger.WarnContext(ctx, "authorization code replayed: grant revoked", "tenant", t.ID, "client", c.ClientID, "revoked", n, "err", rerr)
		if rerr == nil {
			p.auditGrantRevoked(ctx, t, audit.ActorSystem, c.ClientID, c.UserID, c.GrantID, "code_replay", n)
		}
		return tokenResponse{}, invalidCode
	case errors.Is(err, store.ErrNotFound):
		return tokenResponse{}, invalidCode
	case err != nil:
		return tokenResponse{}, oauth2.Busy(err)
	}
	if c.ClientID != app.ClientID {
		// RFC 6749 §4.1.3: the code must have been issued to this client.
		p.Logger.WarnContext(ctx, "authorization code presented by another client", "tenant", t.ID, "client", app.ClientID)
		return tokenResponse{}, invalidCode
	}
	if form.Get("redirect_uri") != c.RedirectURI {
		return tokenResponse{}, oauth2.NewError(oauth2.ErrInvalidGrant, "redirect_uri does not match the authorization request")
	}
	verifier := form.Get("code_verifier")
	switch {
	case c.CodeChallenge != "" && !oauth2.VerifyPKCE(verifier, c.CodeChallenge):
		return tokenResponse{}, oauth2.NewError(oauth2.ErrInvalidGrant, "code_verifier does not match the code_challenge")
	case c.CodeChallenge == "" && verifier != "":
		// RFC 9700 §4.8.2: a verifier without a challenge is a PKCE
		// downgrade attempt.
		return tokenResponse{}, oauth2.NewError(oauth2.ErrInvalidGrant, "code_verifier sent but no code_challenge was")
	}
	u, oerr := p.activeUser(ctx, t, c.UserID)
	if oerr != nil {
		return tokenResponse{}, oerr
	}
	return p.issueTokens(ctx, t, app, u, grantInfo{
		scope: c.Scope, grantID: c.GrantID, sessionID: c.SessionID, authTime: c.AuthTime, nonce: c.Nonce,
	}, true)
}

// refreshGrant rotates a refresh token (RFC 6749 §6, RFC 9700 §4.14.2).
func (p *Provider) refreshGrant(ctx context.Context, t store.Tenant, app store.Application, form url.Values) (tokenResponse, *oauth2.Error) {
	invalid := oauth2.NewError(oauth2.ErrInvalidGrant, "Invalid refresh token")
	presented := form.Get("refresh_token")
	if presented == "" || len(presented) > 512 {
		return tokenResponse{}, oauth2.NewError(oauth2.ErrInvalidRequest, "refresh_token is required")
	}
	if !refreshAllowed(app) {
		return tokenResponse{}, oauth2.NewError(oauth2.ErrUnauthorizedClient, "The client has no refresh tokens")
	}
	h := p.Hasher.Hash(purposeRefresh, presented)
	now := p.Now()
	// Read first: a token presented by another client is refused without
	// rotating it, so that a stolen token cannot be used to make its owner
	// trip reuse detection.
	cur, err := p.Store.RefreshTokenByHash(ctx, t.ID, h, now)
	if errors.Is(err, store.ErrNotFound) {
		return tokenResponse{}, invalid
	}
	if err != nil {
		return tokenResponse{}, oauth2.Busy(err)
	}
	if cur.ClientID != app.ClientID {
		p.Logger.WarnContext(ctx, "refresh token presented by another client", "tenant", t.ID, "client", app.ClientID)
		return tokenResponse{}, invalid
	}
	scope := cur.Scope
	if req := form.Get("scope"); req != "" {
		// RFC 6749 §6: a narrower scope may be asked for, never a wider one.
		if _, ok := oauth2.ParseScope(req); !ok || !oauth2.SubsetScope(req, cur.Scope) {
			return tokenResponse{}, oauth2.NewError(oauth2.ErrInvalidScope, "The scope exceeds the grant")
		}
		scope = req
	}
	// The successor is derived from the presented token (as session
	// tokens are, secret.Hasher.Successor), so that a retry of a rotation
	// whose answer was lost can be answered with the same token although
	// only hashes are stored.
	next := p.Hasher.Successor(purposeRefresh, presented)
	nextHash := p.Hasher.Hash(purposeRefresh, next)
	old, err := p.Store.RotateRefreshTokenPending(ctx, t.ID, h, nextHash, now, now.Add(app.RefreshTokenTTL))
	switch {
	case errors.Is(err, store.ErrReused):
		// A used token whose successor is still pending was rotated by a
		// request whose answer never left the server (it crashed or
		// failed after the commit): this is the client's retry, and it
		// gets the successor it was never given. The successor is
		// confirmed with this answer, so the token works exactly once.
		retry, perr := p.undelivered(ctx, t.ID, old.GrantID, nextHash, now)
		if perr != nil {
			return tokenResponse{}, oauth2.Busy(perr)
		}
		if retry {
			p.Logger.InfoContext(ctx, "refresh token retried after an undelivered answer: same successor", "tenant", t.ID, "client", old.ClientID)
			break
		}
		// RFC 9700 §4.14.2: reuse of a rotated refresh token means it
		// leaked; the whole family is revoked.
		n, rerr := p.Store.RevokeGrant(ctx, t.ID, old.GrantID)
		p.Logger.WarnContext(ctx, "refresh token reused: family revoked", "tenant", t.ID, "client", old.ClientID, "revoked", n, "err", rerr)
		if rerr == nil {
			p.auditGrantRevoked(ctx, t, audit.ActorSystem, old.ClientID, old.UserID, old.GrantID, "refresh_reuse", n)
		}
		return tokenResponse{}, invalid
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrRevoked):
		// ErrRevoked: the family was revoked while it was rotated.
		return tokenResponse{}, invalid
	case err != nil:
		return tokenResponse{}, oauth2.Busy(err)
	}
	u, oerr := p.activeUser(ctx, t, old.UserID)
	if oerr != nil {
		return tokenResponse{}, oerr
	}
	res, oerr := p.issueTokens(ctx, t, app, u, grantInfo{
		scope: scope, grantID: old.GrantID, sessionID: old.SessionID, authTime: old.AuthTime,
	}, false)
	if oerr != nil {
		return tokenResponse{}, oerr
	}
	res.RefreshToken, res.pending = next, nextHash
	return res, nil
}

// confirmWait bounds how long a presented used token waits for the
// request that rotated it to confirm its answer. That request confirms
// within milliseconds of handing its answer over, so a successor still
// pending after confirmWait belongs to a request that died or failed.
const confirmWait = 2 * time.Second

// undelivered reports whether the successor nextHash of a used refresh
// token was never handed to the client, so that presenting the used token
// again is a retry and not reuse. A successor that is pending may belong
// to a request that is still answering (a client that received the answer
// could present the old token before the confirmation lands): it is waited
// for, up to confirmWait, unless it is older than confirmWait plus the
// clock skew between nodes.
func (p *Provider) undelivered(ctx context.Context, tenantID, grantID string, nextHash []byte, now time.Time) (bool, error) {
	// The wait is for another request's progress, so it is measured on a
	// real timer, not on p.Now (which tests may hold still).
	deadline := time.NewTimer(confirmWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		succ, err := p.Store.PendingRefreshToken(ctx, tenantID, grantID, nextHash, now)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // delivered or used: reuse
		}
		if err != nil {
			return false, err
		}
		if now.Sub(succ.CreatedAt) > confirmWait+clock.MaxSkew {
			return true, nil
		}
		select {
		case <-deadline.C:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
	}
}

// clientCredentialsGrant issues an application token (RFC 6749 §4.4).
func (p *Provider) clientCredentialsGrant(ctx context.Context, t store.Tenant, app store.Application, form url.Values) (tokenResponse, *oauth2.Error) {
	if app.Public() || !app.AllowsGrant("client_credentials") {
		return tokenResponse{}, oauth2.NewError(oauth2.ErrUnauthorizedClient, "The client may not use client_credentials")
	}
	// User scopes mean nothing without a user; the application's own
	// scope is "all", as on the tenant API.
	if s := form.Get("scope"); s != "" && s != "all" {
		return tokenResponse{}, oauth2.NewError(oauth2.ErrInvalidScope, "client_credentials tokens have scope all")
	}
	tok, err := p.AccessTokens.Issue(ctx, t, app, store.AccessToken{Scope: "all"}, app.AccessTokenTTL)
	if err != nil {
		return tokenResponse{}, oauth2.Busy(err)
	}
	return tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(app.AccessTokenTTL / time.Second), Scope: "all"}, nil
}

// grantInfo is what the tokens of a grant share.
type grantInfo struct {
	scope, grantID, sessionID, nonce string
	authTime                         time.Time
}

// revokedGrant answers a token request whose grant was revoked while its
// tokens were being issued (store.ErrRevoked): a replay of the code, or
// reuse of a refresh token of the family, got there first.
var revokedGrant = oauth2.NewError(oauth2.ErrInvalidGrant, "The grant has been revoked")

// issueTokens issues the access token, the id_token when the scope has
// openid, and, for a code and when the application has a refresh-token
// lifetime, the first refresh token of the family.
func (p *Provider) issueTokens(ctx context.Context, t store.Tenant, app store.Application, u store.User, g grantInfo, firstRefresh bool) (tokenResponse, *oauth2.Error) {
	at, err := p.AccessTokens.Issue(ctx, t, app, store.AccessToken{
		UserID: u.ID, Scope: g.scope, GrantID: g.grantID, SessionID: g.sessionID, AuthTime: g.authTime,
	}, app.AccessTokenTTL)
	if errors.Is(err, store.ErrRevoked) {
		return tokenResponse{}, revokedGrant
	}
	if err != nil {
		return tokenResponse{}, oauth2.Busy(err)
	}
	res := tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(app.AccessTokenTTL / time.Second), Scope: g.scope,
		userID: u.ID, sessionID: g.sessionID}
	if oauth2.HasScope(g.scope, "openid") {
		alg := app.IDTokenAlg
		res.IDToken, err = p.IDTokens.Mint(ctx, t.ID, alg, app.IDTokenTTL, idtoken.Claims{
			Issuer: p.issuer(t), Audience: app.ClientID, Subject: u.ID,
			UserID: u.ID, Name: u.Name, UserName: u.Username, Mobile: u.Mobile, Email: u.Email,
			Nonce: g.nonce, AuthTime: g.authTime.Unix(), AuthorizedParty: app.ClientID,
			AccessTokenHash: idtoken.ATHash(at, algOrDefault(alg)),
		})
		if err != nil {
			return tokenResponse{}, oauth2.Busy(err)
		}
		p.Metrics.Token("id_token", "issued")
	}
	if firstRefresh && refreshAllowed(app) {
		rt := secret.NewToken()
		now := p.Now()
		err := p.Store.CreateRefreshToken(ctx, store.RefreshToken{
			TokenHash: p.Hasher.Hash(purposeRefresh, rt), TenantID: t.ID, ClientID: app.ClientID,
			UserID: u.ID, SessionID: g.sessionID, GrantID: g.grantID, Scope: g.scope,
			AuthTime: g.authTime, CreatedAt: now, ExpiresAt: now.Add(app.RefreshTokenTTL),
		})
		if errors.Is(err, store.ErrRevoked) {
			return tokenResponse{}, revokedGrant
		}
		if err != nil {
			return tokenResponse{}, oauth2.Busy(err)
		}
		res.RefreshToken = rt
	}
	return res, nil
}

// refreshAllowed reports whether app gets refresh tokens: it needs a
// refresh-token lifetime (contract §4, §8) and the refresh_token grant
// among its grant types (RFC 6749 §5.2 unauthorized_client).
func refreshAllowed(app store.Application) bool {
	return app.RefreshTokenTTL > 0 && app.AllowsGrant("refresh_token")
}

func algOrDefault(alg string) string {
	if alg == "" {
		return idtoken.DefaultAlgorithm
	}
	return alg
}

// activeUser loads a grant's user; a removed or disabled user ends the
// grant.
func (p *Provider) activeUser(ctx context.Context, t store.Tenant, id string) (store.User, *oauth2.Error) {
	u, err := p.Store.GetUser(ctx, t.ID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Status != store.UserActive) {
		return store.User{}, oauth2.NewError(oauth2.ErrInvalidGrant, "The user is not active")
	}
	if err != nil {
		return store.User{}, oauth2.Busy(err)
	}
	return u, nil
}
