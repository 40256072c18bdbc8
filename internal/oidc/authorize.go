package oidc

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/tenant"
)

// Size limits of authorization request parameters.
const (
	maxParam     = 512
	maxFormBytes = 16 << 10
)

// authRequest is a validated authorization request. It is sealed into the
// login form (secret.Box), so the login page needs no server-side state
// and its fields cannot be changed by the browser.
type authRequest struct {
	TenantID     string `json:"t"`
	ClientID     string `json:"c"`
	RedirectURI  string `json:"r"`
	Scope        string `json:"s"`
	State        string `json:"st,omitempty"`
	Nonce        string `json:"n,omitempty"`
	Challenge    string `json:"pc,omitempty"`
	ResponseMode string `json:"rm,omitempty"`
	Prompt       string `json:"p,omitempty"`
	MaxAge       int64  `json:"ma"` // seconds; -1 when absent
	LoginHint    string `json:"lh,omitempty"`
	UILocales    string `json:"ul,omitempty"`
	Expires      int64  `json:"e"` // Unix seconds
	// ContinueSession is set only in the form of the recovery-codes page
	// (see continueSubmit): the session the login that showed them
	// created, the only one that may continue the request from there.
	ContinueSession string `json:"cs,omitempty"`
}

// authError is an error of the authorization endpoint: with a verified
// redirect URI it goes back to the client (RFC 6749 §4.1.2.1); without
// one it is shown on a page.
type authError struct {
	code, description string
}

// authorize serves GET and POST /api/v1/oauth2/authorize (RFC 6749 §4.1.1,
// OIDC Core §3.1.2).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	t, err := p.Tenants.Resolve(r.Context(), r)
	if err != nil {
		p.pageForResolveError(w, r, err)
		return
	}
	lang := language(r.URL.Query().Get("ui_locales"), r, t)
	params, perr := authorizeParams(r)
	if perr != nil {
		p.message(w, http.StatusBadRequest, lang, "error", "badrequest")
		return
	}
	lang = language(params.Get("ui_locales"), r, t)
	// Until the client and its redirect URI are verified, nothing is
	// redirected anywhere (RFC 9700 §4.11: no open redirector).
	app, err := p.Store.GetApplication(r.Context(), t.ID, params.Get("client_id"))
	if errors.Is(err, store.ErrNotFound) || params.Get("client_id") == "" {
		p.message(w, http.StatusBadRequest, lang, "error", "badrequest")
		return
	}
	if err != nil {
		p.Logger.ErrorContext(r.Context(), "authorize: application lookup failed", "err", err)
		p.message(w, http.StatusServiceUnavailable, lang, "error", "busy")
		return
	}
	redirectURI := params.Get("redirect_uri")
	if !oauth2.RedirectURIRegistered(redirectURI, app.RedirectURIs) {
		p.message(w, http.StatusBadRequest, lang, "error", "badrequest")
		return
	}
	req, aerr := p.validateAuthorize(t, app, params)
	if aerr != nil {
		p.redirectError(w, r, t, req, aerr)
		return
	}
	sess, user, ok, err := p.browserSession(r, t)
	if err != nil {
		p.redirectError(w, r, t, req, &authError{oauth2.ErrTemporarilyUnavail, "System busy, please try again later"})
		return
	}
	now := p.Now()
	// OIDC Core §3.1.2.1: max_age=0 is prompt=login, whatever the clock's
	// resolution says about the session's age.
	needLogin := !ok || req.Prompt == "login" || req.MaxAge == 0 ||
		(req.MaxAge > 0 && now.Sub(sess.AuthTime) > time.Duration(req.MaxAge)*time.Second)
	if needLogin {
		if req.Prompt == "none" {
			// OIDC Core §3.1.2.6: prompt=none never shows a page.
			p.redirectError(w, r, t, req, &authError{"login_required", "The user is not signed in"})
			return
		}
		p.renderLogin(w, r, t, app, req, lang, "", http.StatusOK)
		return
	}
	p.issueCode(w, r, t, req, sess, user)
}

// authorizeParams reads the request parameters: the query of a GET, the
// form body of a POST. A parameter sent twice is refused (RFC 6749 §3.1).
func authorizeParams(r *http.Request) (url.Values, error) {
	var v url.Values
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		v = r.PostForm
	} else {
		var err error
		if v, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			return nil, err
		}
	}
	for k, vals := range v {
		if len(vals) > 1 || len(vals[0]) > 2048 || len(k) > 64 {
			return nil, errors.New("repeated or oversized parameter")
		}
	}
	return v, nil
}

// validateAuthorize checks everything after the client and redirect URI.
// The returned request is usable for an error redirect even when the
// error is not nil.
func (p *Provider) validateAuthorize(t store.Tenant, app store.Application, v url.Values) (authRequest, *authError) {
	req := authRequest{
		TenantID: t.ID, ClientID: app.ClientID, RedirectURI: v.Get("redirect_uri"),
		State: v.Get("state"), Nonce: v.Get("nonce"), Prompt: v.Get("prompt"),
		LoginHint: v.Get("login_hint"), UILocales: v.Get("ui_locales"), MaxAge: -1,
		Expires: p.Now().Add(requestTTL).Unix(),
	}
	var modeErr *authError
	switch rm := v.Get("response_mode"); rm {
	case "", "query":
		req.ResponseMode = "query"
	case "form_post":
		req.ResponseMode = "form_post"
		// A form can only be posted to a web redirect URI: html/template
		// would replace a private-use scheme (RFC 8252 §7.1) in the form's
		// action, and the code would be posted back to this page.
		if u, err := url.Parse(req.RedirectURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			req.ResponseMode = "query"
			modeErr = &authError{oauth2.ErrInvalidRequest, "response_mode=form_post needs an http(s) redirect_uri"}
		}
	default:
		req.ResponseMode = "query"
		modeErr = &authError{oauth2.ErrInvalidRequest, "Unsupported response_mode"}
	}
	// Lengths are checked before the response mode's error is returned, so
	// that no error echoes an oversized state. A state that is fine goes
	// back with the error, whichever other parameter is wrong: RFC 6749
	// §4.1.2.1 requires it, and the client needs it to match the answer
	// to its request (found by FuzzOIDCAuthorizeRequest).
	for _, s := range []string{req.State, req.Nonce, req.LoginHint, req.UILocales} {
		if len(s) > maxParam || !plainText(s) {
			if len(req.State) > maxParam || !plainText(req.State) {
				req.State = "" // never echo an oversized or binary value
			}
			return req, &authError{oauth2.ErrInvalidRequest, "A parameter is too long or not text"}
		}
	}
	if modeErr != nil {
		return req, modeErr
	}
	// OIDC Core §6.1, §6.2: request objects are not supported, and an OP
	// that does not support them MUST say so rather than ignore them (the
	// client would believe its signed parameters apply).
	if v.Has("request") {
		return req, &authError{"request_not_supported", "The request parameter is not supported"}
	}
	if v.Has("request_uri") {
		return req, &authError{"request_uri_not_supported", "The request_uri parameter is not supported"}
	}
	switch rt := v.Get("response_type"); {
	case rt == "":
		return req, &authError{oauth2.ErrInvalidRequest, "response_type is required"}
	case rt != "code":
		// Only the authorization-code flow: RFC 9700 §2.1.2 deprecates
		// the implicit grant.
		return req, &authError{"unsupported_response_type", "Only response_type=code is supported"}
	}
	if !app.AllowsGrant("authorization_code") {
		return req, &authError{oauth2.ErrUnauthorizedClient, "The client may not use the authorization code grant"}
	}
	scopes, ok := oauth2.ParseScope(v.Get("scope"))
	if !ok {
		return req, &authError{oauth2.ErrInvalidScope, "Unknown scope"}
	}
	if len(scopes) == 0 {
		return req, &authError{oauth2.ErrInvalidScope, "scope is required"}
	}
	req.Scope = strings.Join(scopes, " ")
	// PKCE (RFC 7636, RFC 9700 §2.1.1): S256 only; "plain" would send the
	// verifier through the browser. Public clients must use it.
	challenge, method := v.Get("code_challenge"), v.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return req, &authError{oauth2.ErrInvalidRequest, "code_challenge is required with code_challenge_method"}
	case challenge != "" && method != "S256":
		return req, &authError{oauth2.ErrInvalidRequest, "code_challenge_method must be S256"}
	case challenge != "" && !oauth2.ValidPKCEValue(challenge):
		return req, &authError{oauth2.ErrInvalidRequest, "Malformed code_challenge"}
	case challenge == "" && app.Public():
		return req, &authError{oauth2.ErrInvalidRequest, "PKCE (code_challenge with S256) is required for public clients"}
	}
	req.Challenge = challenge
	switch req.Prompt {
	case "", "none", "login", "consent", "select_account":
		// consent and select_account need no page of their own: Sesame has
		// first-party applications and one account per browser session.
	default:
		if fields := strings.Fields(req.Prompt); len(fields) > 1 && contains(fields, "none") {
			return req, &authError{oauth2.ErrInvalidRequest, "prompt=none cannot be combined"}
		} else if contains(fields, "login") {
			req.Prompt = "login"
		} else {
			req.Prompt = ""
		}
	}
	if ma := v.Get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			return req, &authError{oauth2.ErrInvalidRequest, "max_age must be a non-negative integer"}
		}
		req.MaxAge = n
	}
	return req, nil
}

// plainText reports whether s is valid UTF-8 without control characters:
// these values are stored (nonce), echoed (state) or shown (login_hint).
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// browserSession returns the session of the request's session cookie.
func (p *Provider) browserSession(r *http.Request, t store.Tenant) (store.Session, store.User, bool, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return store.Session{}, store.User{}, false, nil
	}
	return p.Sessions.BrowserSession(r.Context(), t, c.Value)
}

// issueCode creates an authorization code for the session's user and
// sends the browser back to the client (RFC 6749 §4.1.2).
func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, t store.Tenant, req authRequest, sess store.Session, u store.User) {
	code := secret.NewToken()
	now := p.Now()
	err := p.Store.CreateAuthCode(r.Context(), store.AuthCode{
		CodeHash:      p.Hasher.Hash(purposeCode, code),
		TenantID:      t.ID,
		ClientID:      req.ClientID,
		UserID:        u.ID,
		SessionID:     sess.ID,
		GrantID:       secret.NewToken(),
		RedirectURI:   req.RedirectURI,
		Scope:         req.Scope,
		Nonce:         req.Nonce,
		CodeChallenge: req.Challenge,
		AuthTime:      sess.AuthTime,
		CreatedAt:     now,
		ExpiresAt:     now.Add(CodeTTL),
	})
	if err != nil {
		p.Logger.ErrorContext(r.Context(), "storing an authorization code failed", "err", err)
		p.redirectError(w, r, t, req, &authError{oauth2.ErrTemporarilyUnavail, "System busy, please try again later"})
		return
	}
	p.Metrics.Token("authorization_code", "issued")
	p.respond(w, r, t, req, url.Values{"code": {code}})
}

// redirectError sends an error back to the verified redirect URI.
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, t store.Tenant, req authRequest, e *authError) {
	v := url.Values{"error": {e.code}}
	if e.description != "" {
		v.Set("error_description", e.description)
	}
	p.respond(w, r, t, req, v)
}

// respond delivers authorization response parameters with the request's
// response mode, adding state and iss (RFC 9207 lets the client check
// which issuer answered, against mix-up attacks).
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, t store.Tenant, req authRequest, v url.Values) {
	if req.State != "" {
		v.Set("state", req.State)
	}
	v.Set("iss", p.issuer(t))
	if req.ResponseMode == "form_post" {
		d := pageData{Lang: language(req.UILocales, r, t), Action: req.RedirectURI}
		for _, k := range []string{"code", "error", "error_description", "state", "iss"} {
			if val := v.Get(k); val != "" {
				d.Fields = append(d.Fields, formField{k, val})
			}
		}
		p.render(w, http.StatusOK, "form_post", d, req.RedirectURI)
		return
	}
	u, err := url.Parse(req.RedirectURI)
	if err != nil {
		// Registered URIs were checked to parse when they were matched;
		// this is defensive.
		p.message(w, http.StatusBadRequest, "en", "error", "badrequest")
		return
	}
	q := u.Query()
	for k, vals := range v {
		q[k] = vals
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), redirectStatus(r))
}

// redirectStatus is the status of a redirect to the client: 303 See Other
// when answering a POST (the hosted login form, which carries the user's
// password or second factor, or a POSTed authorization request), so that
// the browser follows with a GET and never re-sends the form (RFC 9700
// §4.12: never 307, 303 recommended; RFC 9110 §15.4.4); 302 Found for a
// GET, the status of RFC 6749 §4.1.2's example.
func redirectStatus(r *http.Request) int {
	if r.Method == http.MethodPost {
		return http.StatusSeeOther
	}
	return http.StatusFound
}

// pageForResolveError answers a browser request for an unknown tenant or
// while storage is down.
func (p *Provider) pageForResolveError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, tenant.ErrUnknown) || errors.Is(err, tenant.ErrIDRequired) {
		p.message(w, http.StatusNotFound, "en", "error", "badrequest")
		return
	}
	p.Logger.ErrorContext(r.Context(), "tenant lookup failed", "err", err)
	p.message(w, http.StatusServiceUnavailable, "en", "error", "busy")
}

// sealRequest and openRequest carry an authRequest through the login form.
func (p *Provider) sealRequest(req authRequest) string {
	b, _ := json.Marshal(req)
	return p.RequestBox.Seal(b)
}

func (p *Provider) openRequest(sealed string, t store.Tenant) (authRequest, bool) {
	var req authRequest
	raw, err := p.RequestBox.Open(sealed)
	if err != nil || json.Unmarshal(raw, &req) != nil {
		return req, false
	}
	if req.TenantID != t.ID || p.Now().Unix() > req.Expires {
		return req, false
	}
	return req, true
}

// browserDevice describes the browser as a session device. Browsers have
// no device fingerprint header; device binding is an SDK feature.
func browserDevice(r *http.Request) store.Device {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = ""
	}
	// The User-Agent is stored with the session: keep it plain text.
	agent := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(r.UserAgent(), ""))
	if len(agent) > 1024 {
		agent = strings.ToValidUTF8(agent[:1024], "")
	}
	return store.Device{Fingerprint: session.BrowserFingerprint, OSVersion: "browser", Agent: agent, IP: ip}
}

// Hash purposes of the values this package stores.
const (
	purposeCode    = "authorization_code"
	purposeRefresh = "refresh_token"
)
