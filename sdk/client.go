package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Device describes the end-user device a Client runs on. Sesame records it
// with every session and, by default, accepts a session token only from
// the device fingerprint it was created on.
type Device struct {
	// Fingerprint is a stable identifier of the device (required). Use the
	// same value for the whole life of an installation.
	Fingerprint string
	// OSVersion is the operating system and its version, e.g.
	// "windows10.1.1".
	OSVersion string
	// Agent is the user agent string of the app.
	Agent string
	// IP is the device's IP address as the app sees it (optional).
	IP string
}

// LoginStatus is the outcome of a password login (contract §2.1).
type LoginStatus string

// Login statuses.
const (
	// LoginSuccess: a session was created and its token stored.
	LoginSuccess LoginStatus = "SUCCESS"
	// LoginPasswordWarn: the password expires soon. Continue with
	// Client.SkipPasswordChange or Client.ChangePassword.
	LoginPasswordWarn LoginStatus = "PASSWORD_WARN"
	// LoginPasswordExpired: the password has expired. Continue with
	// Client.ChangePassword.
	LoginPasswordExpired LoginStatus = "PASSWORD_EXPIRED"
	// LoginMFARequired: the tenant's MFA policy asks for a second factor.
	// Continue with Client.VerifyMFA and a TOTP code from the user's
	// authenticator app (or one of their recovery codes). When
	// LoginResult.MFAEnrollment is set the user has no authenticator yet:
	// show them its secret; their first code enrols it.
	LoginMFARequired LoginStatus = "MFA_REQUIRED"
)

// LoginResult is the answer to a login step.
type LoginResult struct {
	// Status says which of the other fields are set.
	Status LoginStatus
	// SessionToken, Expire and IDToken are set with LoginSuccess; the
	// session token is then also in the Client's TokenStore. Expire is
	// the session's lifetime in seconds.
	SessionToken string
	Expire       int
	IDToken      string
	// StateToken continues a login that is not yet a success (5 minutes,
	// single use, this device and client only).
	StateToken string
	// Data is the tenant's password policy as a JSON string, with
	// LoginPasswordWarn and LoginPasswordExpired; see PasswordPolicy.
	Data string
	// MFAEnrollment is set with LoginMFARequired when the user enrols an
	// authenticator with this login.
	MFAEnrollment *MFAEnrollment
	// RecoveryCodes are set on the answer of VerifyMFA whose code enrolled
	// the authenticator: ten single-use codes that stand in for a TOTP
	// code. The server never shows them again; let the user save them.
	RecoveryCodes []string
}

// MFAEnrollment is a TOTP secret to add to an authenticator app (RFC 6238:
// HMAC-SHA1, 30-second steps, 6 digits).
type MFAEnrollment struct {
	// Secret is the secret in base32, for manual entry.
	Secret string
	// URI is the otpauth://totp/... Key URI, for apps that open or scan
	// it (render it as a QR code locally if you show one).
	URI string
}

// PasswordPolicy is the password policy sent with LoginPasswordWarn and
// LoginPasswordExpired.
type PasswordPolicy struct {
	MinLength int
	MaxLength int
	// Expires is when the current password expires (zero if not sent).
	Expires time.Time
}

// PasswordPolicy decodes r.Data.
func (r *LoginResult) PasswordPolicy() (PasswordPolicy, error) {
	var w struct {
		MinLength  int   `json:"minLength"`
		MaxLength  int   `json:"maxLength"`
		ExpireTime int64 `json:"expireTime"`
	}
	if r.Data == "" {
		return PasswordPolicy{}, errors.New("sesame: the login answer has no password policy")
	}
	if err := json.Unmarshal([]byte(r.Data), &w); err != nil {
		return PasswordPolicy{}, fmt.Errorf("sesame: the password policy is not the expected JSON: %w", err)
	}
	p := PasswordPolicy{MinLength: w.MinLength, MaxLength: w.MaxLength}
	if w.ExpireTime > 0 {
		p.Expires = time.UnixMilli(w.ExpireTime)
	}
	return p, nil
}

// IDTokenResult is the answer of Client.ExchangeSessionToken.
type IDTokenResult struct {
	// IDToken is a fresh id_token for the Client's application.
	IDToken string
	// Expire is the number of seconds the session token stays valid; 0
	// in the signed form (WithSignedSession), whose answer does not say.
	Expire int
	// SessionToken is the session token to use from now on; it is
	// already in the TokenStore.
	SessionToken string
	// Rotated reports whether SessionToken replaced the token that was
	// presented (the application has session auto-refresh on). Always
	// false in the signed form, which never rotates.
	Rotated bool
}

// Client calls the SDK API (/api/v2/sdk/...) of one tenant for one
// application, on behalf of the user of one device: login, exchange of
// the session token for id_tokens, logout. It keeps the session token in
// its TokenStore. With WithSignedSession it uses the signed form of the
// exchange and the logout. A Client is safe for concurrent use.
type Client struct {
	t        *transport
	clientID string
	device   Device
	store    TokenStore
	now      func() time.Time
	// session serializes the updates of the stored session token (a
	// one-slot semaphore, so that waiting for it honours contexts).
	session chan struct{}
	// signed selects the signed form (WithSignedSession); sig is its
	// state.
	signed bool
	sig    signer
}

// New returns a Client for the application clientID of the tenant at
// baseURL (https://{tenant domain}, without /api/...). WithDevice is
// required; see the Option docs for the others.
func New(baseURL, clientID string, opts ...Option) (*Client, error) {
	s := newSettings(opts)
	if clientID == "" {
		return nil, errors.New("sesame: a client id is required")
	}
	if s.device.Fingerprint == "" {
		return nil, errors.New("sesame: a device fingerprint is required (WithDevice)")
	}
	t, err := newTransport(baseURL, s)
	if err != nil {
		return nil, err
	}
	st := s.store
	if st == nil {
		st = &MemoryTokenStore{}
	}
	c := &Client{t: t, clientID: clientID, device: s.device, store: st, now: s.now, session: make(chan struct{}, 1), signed: s.signed}
	c.sig.nonce = newNonce
	return c, nil
}

func (c *Client) lock(ctx context.Context) error {
	select {
	case c.session <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) unlock() { <-c.session }

// headers returns the common SDK headers (contract §2).
func (c *Client) headers() http.Header {
	h := http.Header{}
	h.Set("X-client-id", c.clientID)
	h.Set("X-device-fingerprint", c.device.Fingerprint)
	h.Set("X-operating-sys-version", c.device.OSVersion)
	h.Set("X-agent", c.device.Agent)
	if c.device.IP != "" {
		h.Set("X-device-ip", c.device.IP)
	}
	return h
}

// withSession adds the session token. Sesame accepts both header names on
// every tenant, EIAM's X-session-token and CIAM's session-token, and the
// same value in both; sending both spares the app knowing its edition.
func withSession(h http.Header, token string) http.Header {
	h.Set("X-session-token", token)
	h.Set("session-token", token)
	return h
}

type loginWire struct {
	Status       string `json:"status"`
	SessionToken string `json:"session_token"`
	Expire       int    `json:"expire"`
	IDToken      string `json:"id_token"`
	StateToken   string `json:"state_token"`
	Data         string `json:"data"`
	Enrollment   *struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
	} `json:"mfa_enrollment"`
	RecoveryCodes []string `json:"recovery_codes"`
}

// Login logs userName in with password (POST /api/v2/sdk/login). On
// LoginSuccess the new session token is saved in the TokenStore, replacing
// any previous one, before Login returns. On LoginPasswordWarn or
// LoginPasswordExpired nothing is stored; continue with the returned
// StateToken.
//
// Wrong credentials give an error matching ErrBadCredentials, a locked
// account one matching ErrAccountLocked.
func (c *Client) Login(ctx context.Context, userName, password string) (*LoginResult, error) {
	return c.login(ctx, "/api/v2/sdk/login", userName, password)
}

// LoginUnified is Login with userName matched against the user name, the
// mobile number or the e-mail address (POST /api/v2/sdk/login/auth, CIAM
// "unified account" login).
func (c *Client) LoginUnified(ctx context.Context, identifier, password string) (*LoginResult, error) {
	return c.login(ctx, "/api/v2/sdk/login/auth", identifier, password)
}

func (c *Client) login(ctx context.Context, path, user, password string) (*LoginResult, error) {
	req := jsonRequest("POST", path, map[string]string{"user_name": user, "password": password})
	// Not idempotent: a login creates a session. It is retried only after
	// a "system busy" answer, which Sesame gives only when it stored no
	// session (the session is the last thing a login stores), never after
	// a lost answer, which might have created one.
	return c.loginStep(ctx, req)
}

// SkipPasswordChange continues a LoginPasswordWarn login without changing
// the password (POST /api/v2/sdk/login/state/skip). It ends in
// LoginSuccess, storing the session token like Login. A used, expired or
// foreign state token gives an error matching ErrStateTokenInvalid.
func (c *Client) SkipPasswordChange(ctx context.Context, stateToken string) (*LoginResult, error) {
	req := jsonRequest("POST", "/api/v2/sdk/login/state/skip", map[string]string{"state_token": stateToken})
	req.subject = subjectState
	// The state token is single use, so a repetition can never start a
	// second session; still only "busy" answers are retried.
	return c.loginStep(ctx, req)
}

// ChangePassword sets a new password for a LoginPasswordWarn or
// LoginPasswordExpired login and completes it (POST
// /api/v2/sdk/login/state/change-password), storing the session token like
// Login. A password the policy refuses gives an error matching
// ErrPasswordPolicy, and the state token stays usable.
func (c *Client) ChangePassword(ctx context.Context, stateToken, newPassword string) (*LoginResult, error) {
	req := jsonRequest("POST", "/api/v2/sdk/login/state/change-password", map[string]string{"state_token": stateToken, "new_password": newPassword})
	req.subject = subjectState
	return c.loginStep(ctx, req)
}

func (c *Client) loginStep(ctx context.Context, req request) (*LoginResult, error) {
	req.header = c.headers()
	var w loginWire
	if err := c.t.do(ctx, req, &w); err != nil {
		return nil, err
	}
	res := &LoginResult{Status: LoginStatus(w.Status), SessionToken: w.SessionToken, Expire: w.Expire, IDToken: w.IDToken, StateToken: w.StateToken, Data: w.Data, RecoveryCodes: w.RecoveryCodes}
	if w.Enrollment != nil {
		res.MFAEnrollment = &MFAEnrollment{Secret: w.Enrollment.Secret, URI: w.Enrollment.URI}
	}
	if res.Status != LoginSuccess {
		if res.StateToken == "" {
			return nil, fmt.Errorf("sesame: unexpected login status %q", w.Status)
		}
		return res, nil
	}
	if res.SessionToken == "" {
		return nil, errors.New("sesame: the login answer has no session token")
	}
	// Saved under the session lock, so that an exchange in flight (which
	// holds it from loading the old token to saving its successor) cannot
	// overwrite the new session with the old one. The session exists now:
	// it is saved even if ctx is cancelled meanwhile.
	sctx := context.WithoutCancel(ctx)
	if err := c.lock(sctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	if err := c.store.Save(sctx, res.SessionToken); err != nil {
		return nil, fmt.Errorf("sesame: saving the session token: %w", err)
	}
	return res, nil
}

type exchangeWire struct {
	SessionToken string `json:"session_token"`
	Expire       int    `json:"expire"`
	IDToken      string `json:"id_token"`
}

// ExchangeSessionToken exchanges the stored session token for a fresh
// id_token for the Client's application (POST
// /api/v2/sdk/sso/session-token/id-token). When the application has
// session auto-refresh on, the server rotates the session token; the new
// one is saved in the TokenStore before ExchangeSessionToken returns, so an
// app that got an answer never loses its session.
//
// Concurrency: exchanges of one Client are serialized (load, exchange,
// save, one at a time). Without that, two goroutines could both present
// the token of the moment, the second after a third had already rotated
// its successor, and be refused; and a slow goroutine could save an older
// token over a newer one. Sesame's grace period (a rotated token keeps
// answering with the same successor for a short while) also makes a
// repetition safe, which is why an exchange whose answer was lost is
// retried. Several Clients or processes sharing one TokenStore are not
// serialized with each other: give each its own session, or make sure
// they do not exchange at once.
//
// With no stored token it returns ErrNotLoggedIn; with a token the server
// refuses, an error matching ErrSessionInvalid (the store is left as it
// is: call Logout or Login).
//
// With WithSignedSession the signed form is used instead (POST
// /api/v2/sdk/session-token/refresh-id-token with X-signature): the
// session token is not rotated, so the result has the stored token,
// Rotated false and Expire 0, and exchanges are not serialized. Besides
// the errors above, a signature the server cannot decrypt gives an error
// matching ErrSignatureInvalid, and a refused timestamp or nonce one
// matching ErrSignatureRejected.
func (c *Client) ExchangeSessionToken(ctx context.Context) (*IDTokenResult, error) {
	if c.signed {
		return c.exchangeSigned(ctx)
	}
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	tok, err := c.store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("sesame: loading the session token: %w", err)
	}
	if tok == "" {
		return nil, ErrNotLoggedIn
	}
	var w exchangeWire
	err = c.t.do(ctx, request{
		method: "POST", path: "/api/v2/sdk/sso/session-token/id-token",
		header: withSession(c.headers(), tok), subject: subjectSession,
		// Within the grace period presenting the old token again returns
		// the same successor, so a repetition rotates nothing twice.
		idempotent: true,
	}, &w)
	if err != nil {
		return nil, err
	}
	if w.SessionToken == "" || w.IDToken == "" {
		return nil, errors.New("sesame: the exchange answer lacks a token")
	}
	res := &IDTokenResult{IDToken: w.IDToken, Expire: w.Expire, SessionToken: w.SessionToken, Rotated: w.SessionToken != tok}
	if res.Rotated {
		// Saved even if ctx was cancelled meanwhile: the answer is here.
		if err := c.store.Save(context.WithoutCancel(ctx), w.SessionToken); err != nil {
			// The old token still works during the grace period, and
			// gets this same successor: a later call can recover.
			return nil, fmt.Errorf("sesame: saving the rotated session token: %w", err)
		}
	}
	return res, nil
}

// Logout ends the stored session at the server (POST /api/v2/sdk/logout)
// and clears the TokenStore. The store is cleared even when the server
// cannot be reached, since the user asked to be logged out; that error is
// returned. A session the server no longer knows (already ended, expired)
// is not an error. Logout with an empty store does nothing.
//
// With WithSignedSession it uses the signed form, GET /api/v2/sdk/logout
// with X-signature, and behaves the same otherwise.
func (c *Client) Logout(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	tok, err := c.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("sesame: loading the session token: %w", err)
	}
	if tok == "" {
		return nil
	}
	if c.signed {
		err = c.signedCall(ctx, "GET", pathSignedLogout, tok, nil)
	} else {
		err = c.t.do(ctx, request{
			method: "POST", path: "/api/v2/sdk/logout",
			header: withSession(c.headers(), tok), subject: subjectSession,
			// A repeated logout finds no session, which is success here.
			idempotent: true,
		}, nil)
	}
	if errors.Is(err, ErrSessionInvalid) {
		err = nil
	}
	if cerr := c.store.Clear(ctx); cerr != nil {
		return errors.Join(err, fmt.Errorf("sesame: clearing the session token: %w", cerr))
	}
	return err
}

// ServerDate returns the server's clock (GET /api/v2/sdk/server-date),
// for apps that need to correct for their own clock's skew.
func (c *Client) ServerDate(ctx context.Context) (time.Time, error) {
	var w struct {
		Timestamp json.RawMessage `json:"timestamp"`
	}
	if err := c.t.do(ctx, request{method: "GET", path: pathServerDate, header: c.headers(), idempotent: true}, &w); err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(unquote(w.Timestamp), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("sesame: bad server timestamp %s", w.Timestamp)
	}
	return time.UnixMilli(ms), nil
}

// unquote returns a JSON string's or number's text.
func unquote(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
