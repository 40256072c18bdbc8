package e2e

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// authorizationCode signs the user in on node base through the hosted
// login page, as a browser would, and returns the code it redirects with.
func authorizationCode(ctx context.Context, t *testing.T, base string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: requestTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, path string, body url.Values) *http.Response {
		var rd io.Reader
		if body != nil {
			rd = strings.NewReader(body.Encode())
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, rd)
		req.Host = tenantHost
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	q := url.Values{"response_type": {"code"}, "client_id": {"e2e-web"}, "redirect_uri": {"http://rp.test/callback"}, "scope": {"openid offline_access"}, "state": {"s"}}
	resp := get("GET", "/api/v1/oauth2/authorize?"+q.Encode(), nil)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"username": {userName}, "password": {userPassword}}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("csrf") == "" || form.Get("req") == "" {
		t.Fatalf("no login form: %d %.300s", resp.StatusCode, page)
	}
	resp = get("POST", "/api/v1/oauth2/login", form)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("login: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

func (c *client) token(ctx context.Context, base string, v url.Values) (response, error) {
	v.Set("client_id", "e2e-web")
	v.Set("client_secret", clientSecret)
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return c.do(ctx, base, "POST", "/api/v1/oauth2/token", h, v.Encode())
}

func (c *client) userinfo(ctx context.Context, base, accessToken string) (response, error) {
	return c.do(ctx, base, "GET", "/api/v1/oauth2/userinfo", http.Header{"Authorization": {"Bearer " + accessToken}}, "")
}

// TestTwoNodesOAuth: the single-use and rotation rules of contract §4 hold
// across two server processes on one PostgreSQL database: a code
// redeemed on one node is refused on the other and the first redemption's
// tokens are revoked everywhere; a refresh token rotated on one node and
// reused on the other revokes its family.
func TestTwoNodesOAuth(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cfg, env := writeConfig(t, configParams{driver: "postgres", dsn: dsn})
	c := newClient(t)
	a := launchNode(t, "node A", cfg, env)
	b := launchNode(t, "node B", cfg, env)
	a.waitReady(ctx, c)
	b.waitReady(ctx, c)
	redeem := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {"http://rp.test/callback"}}

	code := authorizationCode(ctx, t, a.base)
	redeem.Set("code", code)
	r := mustOK(t, "redeem the code on B")(c.token(ctx, b.base, redeem))
	at := r.str("access_token")
	if at == "" || r.str("refresh_token") == "" || r.str("id_token") == "" {
		t.Fatalf("tokens: %v", r)
	}
	mustOK(t, "userinfo on A")(c.userinfo(ctx, a.base, at))
	r, err := c.token(ctx, a.base, redeem)
	if err != nil || r.status != 400 || r.str("error") != "invalid_grant" {
		t.Fatalf("replayed code on A: %v %v", r, err)
	}
	if r, _ := c.userinfo(ctx, b.base, at); r.status != 401 {
		t.Fatalf("the replay did not revoke the first redemption's access token: %v", r)
	}

	redeem.Set("code", authorizationCode(ctx, t, b.base))
	r = mustOK(t, "redeem a second code on A")(c.token(ctx, a.base, redeem))
	rt0 := r.str("refresh_token")
	r = mustOK(t, "refresh on B")(c.token(ctx, b.base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt0}}))
	rt1, at1 := r.str("refresh_token"), r.str("access_token")
	if rt1 == "" || rt1 == rt0 {
		t.Fatalf("refresh did not rotate: %v", r)
	}
	r, _ = c.token(ctx, a.base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt0}})
	if r.status != 400 || r.str("error") != "invalid_grant" {
		t.Fatalf("reuse of the rotated refresh token on A: %v", r)
	}
	r, _ = c.token(ctx, b.base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	if r.status != 400 {
		t.Fatalf("the family survived reuse detection: %v", r)
	}
	if r, _ := c.userinfo(ctx, a.base, at1); r.status != 401 {
		t.Fatalf("the family's newest access token survived: %v", r)
	}
}
