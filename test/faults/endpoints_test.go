//go:build linux

package faults

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The endpoint sweep: one request to each public endpoint family — SDK,
// tenant API, OAuth/OIDC, hosted login page, operations — so that every
// place that turns a storage failure into an answer is exercised, each in
// its own format: the SDK busy error of the tenant's dialect, OAuth's
// temporarily_unavailable (503, or redirected to a verified redirect URI),
// the hosted page's busy message (503), readyz's "unavailable" (503).

// redirectURI is registered for the plain applications (writeConfig).
const redirectURI = "http://rp.test/callback"

// sweepKit holds what the sweep's requests present, made while storage
// works: a tenant API access token and sessions of the plain application.
type sweepKit struct {
	tf            tenantFixture
	accessToken   string
	session       string // exchanged, refreshed, turned into SSO tickets
	logoutSession string // ended by the sweep's logout
	ticket        string // an SSO ticket, verified if the sweep cannot make one
}

// newSweepKit prepares a kit for tf; storage must be working.
func newSweepKit(ctx context.Context, t *testing.T, c *client, base string, tf tenantFixture) *sweepKit {
	t.Helper()
	k := &sweepKit{tf: tf}
	r, err := c.tenantToken(ctx, base, tf, tf.plain)
	if err != nil || r.status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("tenant token for the sweep: %v %v", r, err)
	}
	k.accessToken = r.str("access_token")
	for _, s := range []*string{&k.session, &k.logoutSession} {
		r, err := c.login(ctx, base, tf, tf.plain)
		if err != nil || r.status != http.StatusOK || r.str("session_token") == "" {
			t.Fatalf("login for the sweep: %v %v", r, err)
		}
		*s = r.str("session_token")
	}
	r, err = c.tenantCall(ctx, base, k, "/api/v2/tenant/sso/session-token/sso-ticket", "session_token", k.session)
	if err != nil || r.status != http.StatusOK || r.str("sso_ticket") == "" {
		t.Fatalf("SSO ticket for the sweep: %v %v", r, err)
	}
	k.ticket = r.str("sso_ticket")
	return k
}

// tenantCall sends a tenant API request (contract §3.2, §3.3) with the
// kit's access token, the test device, and the field key set to value.
func (c *client) tenantCall(ctx context.Context, base string, k *sweepKit, path, key, value string) (response, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "Bearer "+k.accessToken)
	b, _ := json.Marshal(map[string]string{
		key: value, "operating_sys_version": osVersion,
		"device_ip": "192.0.2.10", "device_fingerprint": device, "agent": agent,
	})
	return c.do(ctx, base, k.tf.host, http.MethodPost, path, h, string(b))
}

// sweepResult is one answer of a sweep.
type sweepResult struct {
	endpoint string
	r        response
	err      error
	out      outcome
}

func (s sweepResult) String() string {
	if s.err != nil {
		return fmt.Sprintf("%s: %v", s.endpoint, s.err)
	}
	return fmt.Sprintf("%s: %v", s.endpoint, s.r)
}

// sweep sends the requests once, in order, and classifies the answers.
func (c *client) sweep(ctx context.Context, base string, k *sweepKit) []sweepResult {
	tf := k.tf
	var out []sweepResult
	// add("endpoint")(answer) records the answer: the form of must in
	// test/e2e.
	add := func(endpoint string) func(response, error) response {
		return func(r response, err error) response {
			out = append(out, sweepResult{endpoint: endpoint, r: r, err: err, out: classifyAny(tf, r, err)})
			return r
		}
	}
	form := http.Header{}
	form.Set("Content-Type", "application/x-www-form-urlencoded")

	// SDK API.
	add("GET /api/v2/sdk/server-date")(c.do(ctx, base, tf.host, http.MethodGet, "/api/v2/sdk/server-date", sdkHeaders(tf.plain), ""))
	add("POST /api/v2/sdk/login")(c.login(ctx, base, tf, tf.plain))
	add("POST /api/v2/sdk/sso/session-token/id-token")(c.exchange(ctx, base, tf, tf.plain, k.session))
	add("GET /api/v2/sdk/public-key")(c.do(ctx, base, tf.host, http.MethodGet, "/api/v2/sdk/public-key", sdkHeaders(tf.plain), ""))
	h := sdkHeaders(tf.plain)
	h.Set("X-session-token", k.logoutSession)
	add("POST /api/v2/sdk/logout")(c.do(ctx, base, tf.host, http.MethodPost, "/api/v2/sdk/logout", h, ""))

	// Tenant API.
	add("POST /api/v2/tenant/token")(c.tenantToken(ctx, base, tf, tf.plain))
	r := add("POST /api/v2/tenant/sso/session-token/refresh")(c.tenantCall(ctx, base, k, "/api/v2/tenant/sso/session-token/refresh", "session_token", k.session))
	if r.status == http.StatusOK && r.str("session_token") != "" {
		k.session = r.str("session_token")
	}
	r = add("POST /api/v2/tenant/sso/session-token/sso-ticket")(c.tenantCall(ctx, base, k, "/api/v2/tenant/sso/session-token/sso-ticket", "session_token", k.session))
	ticket := r.str("sso_ticket")
	if ticket == "" {
		ticket, k.ticket = k.ticket, "" // single use
	}
	if ticket != "" {
		add("POST /api/v2/tenant/sso/sso-ticket/verify")(c.tenantCall(ctx, base, k, "/api/v2/tenant/sso/sso-ticket/verify", "sso_ticket", ticket))
	}

	// OAuth 2.0 / OpenID Connect, and the hosted login page.
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {tf.plain}, "client_secret": {clientSecret}}
	add("POST /api/v1/oauth2/token")(c.do(ctx, base, tf.host, http.MethodPost, "/api/v1/oauth2/token", form, v.Encode()))
	add("POST /api/v1/oauth2/introspect")(c.introspect(ctx, base, tf, tf.plain, k.accessToken))
	add("GET /api/v1/oauth2/keys")(c.do(ctx, base, tf.host, http.MethodGet, "/api/v1/oauth2/keys", nil, ""))
	add("GET /.well-known/openid-configuration")(c.do(ctx, base, tf.host, http.MethodGet, "/.well-known/openid-configuration", nil, ""))
	sum := sha256.Sum256([]byte(strings.Repeat("v", 43)))
	q := url.Values{"response_type": {"code"}, "client_id": {tf.plain}, "redirect_uri": {redirectURI},
		"scope": {"openid"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	add("GET /api/v1/oauth2/authorize")(c.do(ctx, base, tf.host, http.MethodGet, "/api/v1/oauth2/authorize?"+q.Encode(), nil, ""))

	// Operations.
	add("GET /readyz")(c.do(ctx, base, tf.host, http.MethodGet, "/readyz", nil, ""))
	return out
}

// classifyAny is classify for every endpoint family: besides the SDK and
// OAuth JSON forms, the hosted page's busy message (503 HTML), an OAuth
// temporarily_unavailable redirected to the verified redirect URI, and
// readyz's 503.
func classifyAny(tf tenantFixture, r response, err error) outcome {
	if o := classify(tf, r, err); o != other {
		return o
	}
	switch {
	case r.status == http.StatusServiceUnavailable && strings.HasPrefix(r.header.Get("Content-Type"), "text/html"):
		return busy
	case (r.status == http.StatusFound || r.status == http.StatusSeeOther) && strings.HasPrefix(r.header.Get("Location"), redirectURI) &&
		strings.Contains(r.header.Get("Location"), "error=temporarily_unavailable"):
		return busy
	case r.status == http.StatusServiceUnavailable && r.str("status") == "unavailable":
		return busy
	}
	return other
}

// checkSweep fails the test if an answer is not acceptable: with healthy
// storage every answer must be a success (which also shows that the
// requests are well-formed); during a fault, success or busy.
func checkSweep(t *testing.T, when string, results []sweepResult, healthy bool) (ok, busyN int) {
	t.Helper()
	for _, s := range results {
		switch {
		case s.out == success:
			ok++
		case s.out == busy && !healthy:
			busyN++
		default:
			t.Errorf("endpoint sweep %s: %v", when, s)
		}
	}
	return ok, busyN
}

// outcomes lists each endpoint's outcomes in a sweep's results, in order:
// "POST /api/v2/sdk/login busy/busy, ...".
func outcomes(results []sweepResult) string {
	var order []string
	byEndpoint := map[string][]string{}
	for _, s := range results {
		if _, seen := byEndpoint[s.endpoint]; !seen {
			order = append(order, s.endpoint)
		}
		byEndpoint[s.endpoint] = append(byEndpoint[s.endpoint], s.out.String())
	}
	parts := make([]string, len(order))
	for i, e := range order {
		parts[i] = e + " " + strings.Join(byEndpoint[e], "/")
	}
	return strings.Join(parts, ", ")
}
