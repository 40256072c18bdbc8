package oidc

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/ratelimit"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

// Cookie names. The session cookie is the browser form of a Sesame
// session (contract §5); the CSRF cookie backs the login forms' tokens.
const (
	sessionCookie = "sesame_session"
	csrfCookie    = "sesame_csrf"
)

// csrfToken returns the browser's CSRF token, setting the cookie when the
// browser has none. The forms carry the same value; a cross-site page can
// neither read the cookie nor set it, so it cannot forge the field
// (double-submit, with SameSite=Strict and HttpOnly on the cookie).
func (p *Provider) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := secret.NewToken()
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: tok, Path: "/api/v1/oauth2",
		HttpOnly: true, Secure: p.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
	return tok
}

// checkCSRF verifies a form post: same-origin by the browser's own
// signals, and the form's token equal to the cookie's.
func (p *Provider) checkCSRF(r *http.Request) bool {
	if err := p.csrf.Check(r); err != nil {
		return false
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) == 1
}

func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, t store.Tenant, app store.Application, req authRequest, lang, errMsg string, status int) {
	p.render(w, status, "login", pageData{
		Lang: lang, AppName: app.Name, Error: errMsg, CSRF: p.csrfToken(w, r),
		Request: p.sealRequest(req), LoginHint: req.LoginHint,
	}, req.RedirectURI)
}

// loginForm parses a hosted-page form post and recovers its pending
// authorization request and application. It answers the request itself
// and returns ok=false when the post cannot continue.
func (p *Provider) loginForm(w http.ResponseWriter, r *http.Request) (t store.Tenant, app store.Application, req authRequest, lang string, ok bool) {
	t, err := p.Tenants.Resolve(r.Context(), r)
	if err != nil {
		p.pageForResolveError(w, r, err)
		return
	}
	lang = language("", r, t)
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.message(w, http.StatusBadRequest, lang, "error", "badrequest")
		return
	}
	if !p.checkCSRF(r) {
		p.message(w, http.StatusForbidden, lang, "error", "csrf")
		return
	}
	req, valid := p.openRequest(r.PostForm.Get("req"), t)
	if !valid {
		p.message(w, http.StatusBadRequest, lang, "error", "staleform")
		return
	}
	lang = language(req.UILocales, r, t)
	app, err = p.Store.GetApplication(r.Context(), t.ID, req.ClientID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			p.message(w, http.StatusBadRequest, lang, "error", "badrequest")
		} else {
			p.message(w, http.StatusServiceUnavailable, lang, "error", "busy")
		}
		return
	}
	return t, app, req, lang, true
}

// loginSubmit handles the login form (POST /api/v1/oauth2/login). The
// login rules are the SDK's: same error for unknown users and wrong
// passwords, lockout, password expiry (contract §2.1, §8).
func (p *Provider) loginSubmit(w http.ResponseWriter, r *http.Request) {
	t, app, req, lang, ok := p.loginForm(w, r)
	if !ok {
		return
	}
	if d := p.Limits.Login(r); !d.Allowed {
		ratelimit.SetRetryAfter(w, d)
		p.renderLogin(w, r, t, app, req, lang, sdkMessage(t, lang, sdkerror.New(sdkerror.TooManyRequests)), http.StatusTooManyRequests)
		return
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	req.LoginHint = username // keep what was typed if the form is shown again
	if username == "" || password == "" || len(username) > 256 || len(password) > 1024 {
		p.renderLogin(w, r, t, app, req, lang, sdkMessage(t, lang, sdkerror.New(sdkerror.BadCredentials)), http.StatusBadRequest)
		return
	}
	res, err := p.Sessions.Login(r.Context(), t, app, session.LoginRequest{
		UserName: username, Password: password, Unified: true, Device: browserDevice(r), Browser: true,
	})
	p.afterLogin(w, r, t, app, req, lang, res, err)
}

// passwordSubmit handles the password-expiry page: change the password,
// or skip when it only expires soon.
func (p *Provider) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	t, app, req, lang, ok := p.loginForm(w, r)
	if !ok {
		return
	}
	stateToken := r.PostForm.Get("state_token")
	var res session.LoginResult
	var err error
	if r.PostForm.Get("action") == "skip" {
		res, err = p.Sessions.Skip(r.Context(), t, app, stateToken, browserDevice(r), true)
	} else {
		res, err = p.Sessions.ChangePassword(r.Context(), t, app, stateToken, r.PostForm.Get("new_password"), browserDevice(r), true)
		var se *sdkerror.Error
		if errors.As(err, &se) && se.Kind == sdkerror.PasswordPolicy {
			// The state token was not spent: show the page again.
			p.renderPassword(w, r, t, req, lang, stateToken, r.PostForm.Get("expired") == "1", sdkMessage(t, lang, se), http.StatusBadRequest)
			return
		}
	}
	p.afterLogin(w, r, t, app, req, lang, res, err)
}

func (p *Provider) renderPassword(w http.ResponseWriter, r *http.Request, t store.Tenant, req authRequest, lang, stateToken string, expired bool, errMsg string, status int) {
	p.render(w, status, "password", p.passwordPage(w, r, t, req, lang, stateToken, expired, errMsg, nil), req.RedirectURI)
}

// passwordPage is the data of the password-expiry page; recoveryCodes are
// those of an enrolment that the second-factor step just confirmed.
func (p *Provider) passwordPage(w http.ResponseWriter, r *http.Request, t store.Tenant, req authRequest, lang, stateToken string, expired bool, errMsg string, recoveryCodes []string) pageData {
	return pageData{
		Lang: lang, Error: errMsg, CSRF: p.csrfToken(w, r), Request: p.sealRequest(req),
		StateToken: stateToken, Expired: expired, MinLength: max(t.Policy.PasswordMinLength, 1),
		RecoveryCodes: recoveryCodes,
	}
}

// afterLogin continues the authorization request after a login step.
func (p *Provider) afterLogin(w http.ResponseWriter, r *http.Request, t store.Tenant, app store.Application, req authRequest, lang string, res session.LoginResult, err error) {
	if err != nil {
		var se *sdkerror.Error
		if !errors.As(err, &se) {
			se = sdkerror.Busy(err)
		}
		status := http.StatusBadRequest
		if se.Kind == sdkerror.SystemBusy {
			status = http.StatusServiceUnavailable
			if se.Cause != nil {
				p.Logger.WarnContext(r.Context(), "hosted login failed", "err", se.Cause)
			}
		}
		msg := sdkMessage(t, lang, se)
		if se.Kind == sdkerror.ParamInvalid {
			// A used or expired state token: start the login again.
			msg = texts[lang]["staleform"]
		}
		p.renderLogin(w, r, t, app, req, lang, msg, status)
		return
	}
	switch res.Status {
	case session.StatusPasswordWarn, session.StatusPasswordExpired:
		p.render(w, http.StatusOK, "password", p.passwordPage(w, r, t, req, lang, res.StateToken, res.Status == session.StatusPasswordExpired, "", res.RecoveryCodes), req.RedirectURI)
		return
	case session.StatusMFARequired:
		p.renderMFA(w, r, req, lang, res, "", http.StatusOK)
		return
	}
	sess, u, ok := p.startBrowserSession(w, r, t, res)
	if !ok {
		p.renderLogin(w, r, t, app, req, lang, texts[lang]["busy"], http.StatusServiceUnavailable)
		return
	}
	if len(res.RecoveryCodes) > 0 {
		// The login enrolled the user: the recovery codes are shown this
		// once, and the browser continues from their page.
		req.ContinueSession = sess.ID
		p.renderRecovery(w, r, req, lang, res.RecoveryCodes)
		return
	}
	p.issueCode(w, r, t, req, sess, u)
}

// startBrowserSession makes the session of a successful login the
// browser's: it ends the browser's previous session (a new login replaces
// it) and sets the session cookie.
func (p *Provider) startBrowserSession(w http.ResponseWriter, r *http.Request, t store.Tenant, res session.LoginResult) (store.Session, store.User, bool) {
	if old, oerr := r.Cookie(sessionCookie); oerr == nil {
		if sess, _, ok, _ := p.Sessions.BrowserSession(r.Context(), t, old.Value); ok {
			if p.Sessions.EndSession(r.Context(), t, sess.ID) == nil {
				p.auditReplaced(r.Context(), t, sess)
			}
		}
	}
	sess, u, ok, serr := p.Sessions.BrowserSession(r.Context(), t, res.SessionToken)
	if serr != nil || !ok {
		return sess, u, false
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: res.SessionToken, Path: "/",
		Expires:  sess.ExpiresAt.UTC(),
		MaxAge:   int(sess.ExpiresAt.Sub(p.Now()) / time.Second),
		HttpOnly: true, Secure: p.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	return sess, u, true
}

// sdkMessage renders a login error with the SDK catalogue's message, in
// the page's language: one catalogue for every surface.
func sdkMessage(t store.Tenant, lang string, e *sdkerror.Error) string {
	_, _, msg := e.Render(t.Edition, lang == "zh")
	return msg
}

// clearSessionCookie removes the session cookie from the browser.
func (p *Provider) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}
