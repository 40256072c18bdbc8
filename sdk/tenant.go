package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// User is a user as the tenant API describes it.
type User struct {
	ID       string
	UserName string
	Name     string
	Mobile   string
	Email    string
}

// TenantClient calls the server-to-server tenant API (/api/v2/tenant/...)
// as one confidential application: it gets application access tokens by
// client_credentials, caches them, and uses them to refresh session
// tokens and to issue and verify SSO tickets. It belongs on a server, never
// on an end-user device, because it holds the client secret. A
// TenantClient is safe for concurrent use.
type TenantClient struct {
	t            *transport
	clientID     string
	clientSecret string
	now          func() time.Time

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	fetch     flight[string]
}

// NewTenantClient returns a TenantClient for the application clientID with
// clientSecret, of the tenant at baseURL (https://{tenant domain}). Options
// that apply: WithHTTPClient, WithHost, WithTenantID, WithLanguage,
// WithRetry, WithClock.
func NewTenantClient(baseURL, clientID, clientSecret string, opts ...Option) (*TenantClient, error) {
	s := newSettings(opts)
	if clientID == "" || clientSecret == "" {
		return nil, errors.New("sesame: a client id and a client secret are required")
	}
	t, err := newTransport(baseURL, s)
	if err != nil {
		return nil, err
	}
	return &TenantClient{t: t, clientID: clientID, clientSecret: clientSecret, now: s.now}, nil
}

// renewMargin is how long before its expiry a cached access token is
// replaced: 10 % of its lifetime, at most a minute.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(lifetime/10, time.Minute)
}

// AccessToken returns an application access token (POST
// /api/v2/tenant/token, client_credentials). The token is cached and
// reused until shortly before it expires (10 % of its lifetime before, at
// most a minute before); then, however many goroutines ask at once, one
// request fetches its replacement and all of them get it.
func (c *TenantClient) AccessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok, valid := c.token, c.token != "" && c.now().Before(c.refreshAt)
	c.mu.Unlock()
	if valid {
		return tok, nil
	}
	return c.fetch.do(ctx, c.fetchToken)
}

// fetchToken gets a new access token and caches it.
func (c *TenantClient) fetchToken(ctx context.Context) (string, error) {
	// A token fetched while the previous fetch ran is good enough.
	c.mu.Lock()
	if c.token != "" && c.now().Before(c.refreshAt) {
		tok := c.token
		c.mu.Unlock()
		return tok, nil
	}
	c.mu.Unlock()
	issued := c.now() // before the request: the lifetime counts from the server's issue
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.clientSecret}}
	var w struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	err := c.t.do(ctx, request{
		method: "POST", path: "/api/v2/tenant/token",
		body: []byte(form.Encode()), contentType: "application/x-www-form-urlencoded",
		// Each call mints a new token and earlier ones stay valid: a
		// repetition only mints one more.
		idempotent: true,
	}, &w)
	if err != nil {
		return "", err
	}
	if w.AccessToken == "" {
		return "", errors.New("sesame: the token answer has no access_token")
	}
	// The vendor's documentation gives expires_in as a number or a string.
	secs, err := strconv.ParseInt(unquote(w.ExpiresIn), 10, 64)
	if err != nil || secs <= 0 {
		return "", fmt.Errorf("sesame: bad expires_in %s in the token answer", w.ExpiresIn)
	}
	lifetime := time.Duration(secs) * time.Second
	c.mu.Lock()
	c.token, c.refreshAt = w.AccessToken, issued.Add(lifetime-renewMargin(lifetime))
	c.mu.Unlock()
	return w.AccessToken, nil
}

// forget drops the cached token if it is still tok (a concurrent call may
// already have replaced it).
func (c *TenantClient) forget(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.mu.Unlock()
}

// call sends an authenticated JSON request. An invalid_token answer (the
// token was revoked, or the clocks disagree about its expiry) drops the
// cached token and the request is sent once more with a new one.
func (c *TenantClient) call(ctx context.Context, req request, out any) error {
	for try := 0; ; try++ {
		tok, err := c.AccessToken(ctx)
		if err != nil {
			return err
		}
		r := req
		r.header = http.Header{"Authorization": {"Bearer " + tok}}
		err = c.t.do(ctx, r, out)
		if try == 0 && errors.Is(err, ErrInvalidToken) {
			c.forget(tok)
			continue
		}
		return err
	}
}

// deviceFields are the device fields of the tenant session endpoints.
func deviceFields(d Device, m map[string]string) map[string]string {
	m["operating_sys_version"] = d.OSVersion
	m["device_ip"] = d.IP
	m["device_fingerprint"] = d.Fingerprint
	if d.Agent != "" {
		m["agent"] = d.Agent
	}
	return m
}

// RefreshSession rotates a user's session token on behalf of the device d
// the session was created on (POST
// /api/v2/tenant/sso/session-token/refresh). It returns the new token and
// its lifetime in seconds; the old token keeps answering with the same
// successor during the server's grace period, then stops working. The
// device's Fingerprint, OSVersion and IP are required.
func (c *TenantClient) RefreshSession(ctx context.Context, sessionToken string, d Device) (newToken string, expire int, err error) {
	req := jsonRequest("POST", "/api/v2/tenant/sso/session-token/refresh", deviceFields(d, map[string]string{"session_token": sessionToken}))
	req.subject = subjectSession
	// Repeating a refresh within the grace period gets the same successor.
	req.idempotent = true
	var w struct {
		Expire       int    `json:"expire"`
		SessionToken string `json:"session_token"`
	}
	if err := c.call(ctx, req, &w); err != nil {
		return "", 0, err
	}
	if w.SessionToken == "" {
		return "", 0, errors.New("sesame: the refresh answer has no session token")
	}
	return w.SessionToken, w.Expire, nil
}

// IssueSSOTicket turns a user's session token into a one-time SSO ticket
// (POST /api/v2/tenant/sso/session-token/sso-ticket), for handing the
// user's sign-in to another application, which redeems it with
// VerifySSOTicket. It returns the ticket and its lifetime in seconds.
func (c *TenantClient) IssueSSOTicket(ctx context.Context, sessionToken string, d Device) (ticket string, expire int, err error) {
	req := jsonRequest("POST", "/api/v2/tenant/sso/session-token/sso-ticket", deviceFields(d, map[string]string{"session_token": sessionToken}))
	req.subject = subjectSession
	// A repetition can only mint a second ticket, which then expires unused.
	req.idempotent = true
	var w struct {
		Expire    int    `json:"expire"`
		SSOTicket string `json:"sso_ticket"`
	}
	if err := c.call(ctx, req, &w); err != nil {
		return "", 0, err
	}
	if w.SSOTicket == "" {
		return "", 0, errors.New("sesame: the answer has no sso_ticket")
	}
	return w.SSOTicket, w.Expire, nil
}

// VerifySSOTicket redeems a ticket (once) and returns its user (POST
// /api/v2/tenant/sso/sso-ticket/verify). A used, expired or unknown ticket
// gives an error matching ErrSSOTicketInvalid.
func (c *TenantClient) VerifySSOTicket(ctx context.Context, ticket string, d Device) (*User, error) {
	req := jsonRequest("POST", "/api/v2/tenant/sso/sso-ticket/verify", deviceFields(d, map[string]string{"sso_ticket": ticket}))
	req.subject = subjectTicket
	// Not idempotent: the ticket is spent by the first answer, so a call
	// whose answer was lost is not repeated (it could only fail).
	var w struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Data    struct {
			User struct {
				ID       string `json:"id"`
				UserName string `json:"userName"`
				Name     string `json:"name"`
				Mobile   string `json:"mobile"`
				Email    string `json:"email"`
			} `json:"user"`
		} `json:"data"`
	}
	if err := c.call(ctx, req, &w); err != nil {
		return nil, err
	}
	if w.Code != "0" {
		return nil, &Error{Code: w.Code, Message: w.Message, HTTPStatus: http.StatusOK, subject: subjectTicket}
	}
	u := w.Data.User
	return &User{ID: u.ID, UserName: u.UserName, Name: u.Name, Mobile: u.Mobile, Email: u.Email}, nil
}
