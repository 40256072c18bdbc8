package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// PKCE pair used by every authorization request of the harness (RFC 7636;
// the challenge is S256 of the verifier).
const pkceVerifier = "sesame-bench-pkce-verifier-0123456789-0123456789"

func pkceChallenge() string {
	s := sha256.Sum256([]byte(pkceVerifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// authorizePath is the authorization request of bench-web: OpenID with
// the profile and email scopes (so userinfo has claims to return), PKCE.
func authorizePath() string {
	v := url.Values{
		"response_type": {"code"}, "client_id": {AppWeb}, "redirect_uri": {RedirectURI},
		"scope": {"openid profile email"}, "state": {"bench-state"}, "nonce": {"bench-nonce"},
		"code_challenge": {pkceChallenge()}, "code_challenge_method": {"S256"},
	}
	return "/api/v1/oauth2/authorize?" + v.Encode()
}

var (
	formRe  = regexp.MustCompile(`(?s)<form[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>`)
	inputRe = regexp.MustCompile(`<input\b[^>]*>`)
	attrRe  = regexp.MustCompile(`\b(name|value)="([^"]*)"`)
)

// hostedLogin signs user in on the hosted login page, as a browser would:
// it loads the authorization request, submits the form with the
// credentials, and returns the Cookie header of the browser session that
// results (later authorization requests then get codes without a login).
func (c *client) hostedLogin(ctx context.Context, user, password string) (string, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: c.tr, Jar: jar, Timeout: c.http.Timeout, CheckRedirect: c.http.CheckRedirect}
	get, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+authorizePath(), nil)
	resp, err := hc.Do(get)
	if err != nil {
		return "", err
	}
	page, err := readAll(resp)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench: authorize: %d %.300s", resp.StatusCode, page)
	}
	m := formRe.FindStringSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("bench: no login form on the hosted page: %.300s", page)
	}
	form := url.Values{}
	for _, in := range inputRe.FindAllString(m[2], -1) {
		var name, value string
		for _, a := range attrRe.FindAllStringSubmatch(in, -1) {
			if a[1] == "name" {
				name = html.UnescapeString(a[2])
			} else {
				value = html.UnescapeString(a[2])
			}
		}
		if name != "" {
			form.Set(name, value)
		}
	}
	form.Set("username", user)
	form.Set("password", password)
	action, err := url.Parse(c.base + "/")
	if err == nil {
		action, err = action.Parse(html.UnescapeString(m[1]))
	}
	if err != nil {
		return "", err
	}
	post, _ := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = hc.Do(post)
	if err != nil {
		return "", err
	}
	body, err := readAll(resp)
	if err != nil {
		return "", err
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("bench: hosted login of %s: %d %.300s", user, resp.StatusCode, body)
	}
	var parts []string
	for _, ck := range jar.Cookies(action) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; "), nil
}

func readAll(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), err
}

// authorizeCode asks for a code with the browser session in cookie.
func (c *client) authorizeCode(ctx context.Context, cookie string) (code, fail string, err error) {
	a, err := c.do(ctx, http.MethodGet, authorizePath(), http.Header{"Cookie": {cookie}}, nil)
	if err != nil {
		return "", "", err
	}
	defer c.release(a)
	if a.status != http.StatusFound {
		return "", "authorize: " + outcome(a, nil), nil
	}
	loc, perr := url.Parse(a.location)
	if perr != nil || loc.Query().Get("code") == "" {
		return "", "authorize: 302 without code", nil
	}
	return loc.Query().Get("code"), "", nil
}

// codeForm is the token request redeeming code.
func codeForm(code, secret string) []byte {
	return []byte(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {RedirectURI},
		"client_id": {AppWeb}, "client_secret": {secret}, "code_verifier": {pkceVerifier},
	}.Encode())
}
