package oidc

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/session"
)

// The second factor on the hosted login page (contract §5, "the TOTP
// steps of 2.1"): the code step after a correct password, the enrolment
// step of a "required" tenant (the secret as text and as an otpauth://
// link; no QR image, which would need an image generated here or fetched
// from elsewhere), and the recovery codes of a confirmed enrolment. The
// rules are the SDK's (session.Service.VerifyMFA): the same state token,
// attempt limit, lockout and replay refusal.

// renderMFA shows the code step of res (an MFA_REQUIRED answer).
func (p *Provider) renderMFA(w http.ResponseWriter, r *http.Request, req authRequest, lang string, res session.LoginResult, errMsg string, status int) {
	d := pageData{
		Lang: lang, Error: errMsg, CSRF: p.csrfToken(w, r), Request: p.sealRequest(req),
		StateToken: res.StateToken,
	}
	if e := res.MFAEnrollment; e != nil {
		d.EnrolSecret = groupSecret(e.Secret)
		// The URI is built by package mfa from a fresh secret, the
		// tenant's name and the user name, all escaped there; html/template
		// would otherwise refuse the otpauth scheme.
		d.EnrolURI = template.URL(e.URI)
	}
	p.render(w, status, "mfa", d, req.RedirectURI)
}

// groupSecret splits a base32 secret into groups of four for reading
// and typing; authenticator apps ignore the spaces.
func groupSecret(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// renderRecovery shows the recovery codes of an enrolment the login just
// confirmed; its form continues the authorization request with the
// session the login set.
func (p *Provider) renderRecovery(w http.ResponseWriter, r *http.Request, req authRequest, lang string, codes []string) {
	p.render(w, http.StatusOK, "recovery", pageData{
		Lang: lang, CSRF: p.csrfToken(w, r), Request: p.sealRequest(req), RecoveryCodes: codes,
	}, req.RedirectURI)
}

// mfaSubmit handles the code step (POST /api/v1/oauth2/login/mfa).
func (p *Provider) mfaSubmit(w http.ResponseWriter, r *http.Request) {
	t, app, req, lang, ok := p.loginForm(w, r)
	if !ok {
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	stateToken := r.PostForm.Get("state_token")
	if len(code) > 64 || len(stateToken) > 512 {
		code = "" // refused below as a wrong code
	}
	res, err := p.Sessions.VerifyMFA(r.Context(), t, app, stateToken, code, browserDevice(r), true)
	var se *sdkerror.Error
	if errors.As(err, &se) && se.Kind == sdkerror.MFACodeInvalid && res.StateToken != "" {
		// The state token admits more codes: ask again.
		p.renderMFA(w, r, req, lang, res, sdkMessage(t, lang, se), http.StatusBadRequest)
		return
	}
	p.afterLogin(w, r, t, app, req, lang, res, err)
}

// continueSubmit continues the authorization request after the recovery
// codes page (POST /api/v1/oauth2/login/continue). Only the session that
// login created may continue it: the page's sealed request names it
// (authRequest.ContinueSession). Otherwise a request sealed into any login
// page could be posted here with an older session cookie, and skip the
// login that prompt=login or max_age asked for. Anything else gets the
// login page.
func (p *Provider) continueSubmit(w http.ResponseWriter, r *http.Request) {
	t, app, req, lang, ok := p.loginForm(w, r)
	if !ok {
		return
	}
	cont := req.ContinueSession
	req.ContinueSession = ""
	sess, u, ok, err := p.browserSession(r, t)
	switch {
	case err != nil:
		p.renderLogin(w, r, t, app, req, lang, texts[lang]["busy"], http.StatusServiceUnavailable)
	case !ok || cont == "" || sess.ID != cont:
		p.renderLogin(w, r, t, app, req, lang, texts[lang]["staleform"], http.StatusBadRequest)
	default:
		p.issueCode(w, r, t, req, sess, u)
	}
}
