package server_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// The hosted login page of the authorization flow (contract §5): English
// and Chinese, CSRF-protected, HTTP-only SameSite=Lax session cookie
// (Secure over TLS), the SDK's login rules, password expiry, and the
// OpenID Connect prompt, max_age and login_hint parameters.

// hlDo sends a request with client c (a browser's, or one without a
// cookie jar) and returns the answer as a browser page.
func hlDo(t *testing.T, c *http.Client, method, u string, form url.Values, h http.Header) st.Page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := st.Page{Method: method, Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.Location, _ = resp.Request.URL.Parse(loc)
	}
	return p
}

// hlSubmit posts the form of page (shown at pageURL) with values added to
// its fields; a value "" removes the field.
func hlSubmit(t *testing.T, c *http.Client, pageURL string, page st.Page, values url.Values, h http.Header) st.Page {
	t.Helper()
	action, fields, ok := page.Form()
	if !ok {
		t.Fatalf("no form on the page (%d): %.400s", page.Status, page.Body)
	}
	for k, v := range values {
		if len(v) == 1 && v[0] == "" {
			fields.Del(k)
		} else {
			fields[k] = v
		}
	}
	base, _ := url.Parse(pageURL)
	target, _ := base.Parse(action)
	return hlDo(t, c, "POST", target.String(), fields, h)
}

// hlCookie returns the cookie name set by an answer, or nil.
func hlCookie(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// hlLoginPage loads the login page of an authorization request and checks
// it is one.
func hlLoginPage(t *testing.T, b *st.Browser, u string, h http.Header) st.Page {
	t.Helper()
	p := hlDo(t, b.Client, "GET", u, nil, h)
	if p.Status != http.StatusOK || p.Location != nil || !strings.Contains(p.Body, `name="password"`) {
		t.Fatalf("want the login page, got %d %v: %.300s", p.Status, p.Location, p.Body)
	}
	negWantPageHeaders(t, p.Header)
	return p
}

// hlWantNoSession checks an answer that must not have signed anyone in.
func hlWantNoSession(t *testing.T, p st.Page) {
	t.Helper()
	if p.Location != nil {
		t.Fatalf("redirected to %v", p.Location)
	}
	if c := hlCookie(p.Header, "sesame_session"); c != nil && c.Value != "" {
		t.Fatalf("a session cookie was set: %v", c)
	}
	if strings.Contains(p.Body, `name="code"`) {
		t.Fatal("a code in the page")
	}
}

// hlErrorText returns the text of the page's error box.
func hlErrorText(p st.Page) string {
	m := regexp.MustCompile(`<div class="error" role="alert">([^<]*)</div>`).FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestHostedLoginLanguages: the page language is ui_locales, then
// Accept-Language, then the tenant's default (contract §5), on the page,
// on its error messages and on the error pages.
func TestHostedLoginLanguages(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const zhHost = "zh.test"
		al := func(v string) http.Header { return headers("Accept-Language", v) }
		cases := []struct {
			name   string
			host   string
			client string
			kv     []string
			h      http.Header
			lang   string
		}{
			{"tenant default en", st.EIAMHost, "acme-web", nil, nil, "en"},
			{"ui_locales zh", st.EIAMHost, "acme-web", []string{"ui_locales", "zh"}, nil, "zh"},
			{"ui_locales list, first known", st.EIAMHost, "acme-web", []string{"ui_locales", "fr-CA zh-Hans-CN en"}, nil, "zh"},
			{"Accept-Language zh-CN", st.EIAMHost, "acme-web", nil, al("zh-CN,zh;q=0.9,en;q=0.8"), "zh"},
			{"Accept-Language unknown then en", st.EIAMHost, "acme-web", nil, al("fr-FR, en;q=0.5"), "en"},
			{"ui_locales before Accept-Language", st.EIAMHost, "acme-web", []string{"ui_locales", "en"}, al("zh-CN"), "en"},
			{"unknown ui_locales, Accept-Language", st.EIAMHost, "acme-web", []string{"ui_locales", "fr"}, al("zh-TW"), "zh"},
			{"zh tenant default", zhHost, "zh-web", nil, nil, "zh"},
			{"zh tenant, ui_locales en", zhHost, "zh-web", []string{"ui_locales", "en-US"}, nil, "en"},
			{"zh tenant, Accept-Language en", zhHost, "zh-web", nil, al("en-GB,en;q=0.9"), "en"},
			{"zh tenant, unknown Accept-Language", zhHost, "zh-web", nil, al("de-DE"), "zh"},
			{"common-domain tenant default zh", st.CommonHost, "isv-web", nil, headers("X-tenant-id", "isv"), "zh"},
		}
		texts := map[string][]string{
			"en": {`<html lang="en">`, "Sign in", "User name, e-mail or mobile", "Password"},
			"zh": {`<html lang="zh">`, "<h1>登录</h1>", "用户名、邮箱或手机号", "密码"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p := hlLoginPage(t, e.NewBrowser(), negAuthorizeURL(e, c.host, negParams(c.client, negWebRedirect, c.kv...)), c.h)
				for lang, want := range texts {
					for _, s := range want[:3] {
						if strings.Contains(p.Body, s) != (lang == c.lang) {
							t.Fatalf("want a %s page; %q present: %v\n%.600s", c.lang, s, lang != c.lang, p.Body)
						}
					}
				}
			})
		}

		// The login error is in the page's language: the language of the
		// request travels with the form.
		t.Run("errors in Chinese", func(t *testing.T) {
			for _, c := range []struct {
				name, host, client string
				kv                 []string
				h                  http.Header
			}{
				{"zh tenant", zhHost, "zh-web", nil, nil},
				{"ui_locales zh", st.EIAMHost, "acme-web", []string{"ui_locales", "zh"}, nil},
				{"Accept-Language zh", st.EIAMHost, "acme-web", nil, al("zh-CN")},
			} {
				b := e.NewBrowser()
				u := negAuthorizeURL(e, c.host, negParams(c.client, negWebRedirect, c.kv...))
				page := hlLoginPage(t, b, u, c.h)
				p := hlSubmit(t, b.Client, u, page, url.Values{"username": {"alice"}, "password": {"wrong-password"}}, c.h)
				if p.Status != http.StatusBadRequest || hlErrorText(p) != "用户名或密码错误" || !strings.Contains(p.Body, `<html lang="zh">`) {
					t.Fatalf("%s: wrong password: %d %q", c.name, p.Status, hlErrorText(p))
				}
				hlWantNoSession(t, p)
			}
			// An error page (the client cannot be trusted) in Chinese too.
			p := e.NewBrowser().Get(negAuthorizeURL(e, zhHost, negParams("zh-web", "http://evil.test/")))
			negWantPage(t, p, http.StatusBadRequest)
			if !strings.Contains(p.Body, "登录请求无效") {
				t.Fatalf("error page not in Chinese: %.400s", p.Body)
			}
			// And the Chinese page signs in.
			b := e.NewBrowser()
			u := negAuthorizeURL(e, zhHost, negParams("zh-web", negWebRedirect))
			p = hlSubmit(t, b.Client, u, hlLoginPage(t, b, u, nil), url.Values{"username": {"alice"}, "password": {st.Password}}, nil)
			if !p.Redirected() || p.Location.Query().Get("code") == "" || p.Location.Query().Get("iss") != e.Issuer(zhHost) {
				t.Fatalf("zh login: %d %v", p.Status, p.Location)
			}
		})
	}, func(c *config.Config) {
		c.Bootstrap.Tenants = append(c.Bootstrap.Tenants, config.Tenant{
			ID: "zhco", Name: "中文", Edition: "ciam", Domains: []string{"zh.test"}, DefaultLanguage: "zh",
			Applications: []config.Application{{ClientID: "zh-web", ClientSecret: st.Secret, RedirectURIs: []string{negWebRedirect}}},
			Users:        []config.User{{Username: "alice", Password: st.Password, Name: "Alice"}},
		})
	})
}

// TestHostedLoginSecurity: headers, cookies, CSRF, the login rules and the
// authorization request's prompt, max_age and login_hint.
func TestHostedLoginSecurity(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const host = st.EIAMHost
		authURL := func(kv ...string) string {
			return negAuthorizeURL(e, host, negParams("acme-web", negWebRedirect, kv...))
		}
		login := url.Values{"username": {"alice"}, "password": {st.Password}}
		origin := "http://" + host + ":" + e.Port

		t.Run("security headers", func(t *testing.T) {
			b := e.NewBrowser()
			p := hlLoginPage(t, b, authURL(), nil) // checks CSP frame-ancestors, X-Frame-Options, Referrer-Policy, no-store
			csp := p.Header.Get("Content-Security-Policy")
			// The client's redirect URI is allowed because browsers apply
			// form-action to the redirect that answers the login post.
			if !strings.Contains(csp, "form-action 'self' http://app.test;") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "base-uri 'none'") {
				t.Fatalf("login page CSP %q", csp)
			}
			if p.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html; charset=utf-8") {
				t.Fatalf("login page headers %v", p.Header)
			}
			nonce := regexp.MustCompile(`style-src 'nonce-([^']+)'`).FindStringSubmatch(csp)
			if nonce == nil || !strings.Contains(p.Body, `<style nonce="`+nonce[1]+`">`) {
				t.Fatalf("style nonce does not match the CSP %q", csp)
			}
			if again := hlLoginPage(t, b, authURL(), nil); strings.Contains(again.Header.Get("Content-Security-Policy"), nonce[1]) {
				t.Fatal("the CSP nonce is reused")
			}
			// Error answers of the form carry them too.
			bad := hlSubmit(t, b.Client, authURL(), p, url.Values{"username": {"alice"}, "password": {"nope"}}, nil)
			negWantPageHeaders(t, bad.Header)
			negWantPage(t, e.NewBrowser().Get(authURL("redirect_uri", "http://evil.test/")), http.StatusBadRequest)
		})

		t.Run("cookie attributes", func(t *testing.T) {
			b := e.NewBrowser()
			page := hlLoginPage(t, b, authURL(), nil)
			csrf := hlCookie(page.Header, "sesame_csrf")
			if csrf == nil || !csrf.HttpOnly || csrf.Secure || csrf.SameSite != http.SameSiteStrictMode || csrf.Path != "/api/v1/oauth2" {
				t.Fatalf("CSRF cookie %+v", csrf)
			}
			p := hlSubmit(t, b.Client, authURL(), page, login, nil)
			// RFC 9700 §4.12: the answer to the form that carried the
			// password is 303, which browsers follow with a GET that
			// carries no body; never 307, which would re-send it.
			if p.Status != http.StatusSeeOther || p.Location.Query().Get("code") == "" {
				t.Fatalf("login: %d %v, want 303 with a code", p.Status, p.Location)
			}
			s := hlCookie(p.Header, "sesame_session")
			if s == nil || s.Value == "" || !s.HttpOnly || s.Secure || s.SameSite != http.SameSiteLaxMode || s.Path != "/" || s.Domain != "" || s.MaxAge <= 0 {
				t.Fatalf("session cookie %+v (%v)", s, p.Header.Values("Set-Cookie"))
			}
		})

		t.Run("CSRF", func(t *testing.T) {
			other := e.NewBrowser()
			otherToken, _ := func() (string, bool) {
				_, f, ok := hlLoginPage(t, other, authURL(), nil).Form()
				return f.Get("csrf"), ok
			}()
			for _, c := range []struct {
				name   string
				values url.Values
				h      http.Header
				noJar  bool
			}{
				{name: "missing csrf field", values: url.Values{"csrf": {""}}},
				{name: "mismatched csrf field", values: url.Values{"csrf": {strings.Repeat("A", 43)}}},
				{name: "another browser's csrf field", values: url.Values{"csrf": {otherToken}}},
				{name: "no csrf cookie", noJar: true},
				{name: "cross-site Origin", h: headers("Origin", "http://evil.test")},
				{name: "Origin of another port", h: headers("Origin", "http://"+host+":1")},
				{name: "null Origin", h: headers("Origin", "null")},
				{name: "Sec-Fetch-Site cross-site", h: headers("Sec-Fetch-Site", "cross-site")},
				{name: "Sec-Fetch-Site same-site", h: headers("Sec-Fetch-Site", "same-site")},
				{name: "Sec-Fetch-Site cross-site with a same Origin", h: headers("Sec-Fetch-Site", "cross-site", "Origin", origin)},
			} {
				t.Run(c.name, func(t *testing.T) {
					b := e.NewBrowser()
					page := hlLoginPage(t, b, authURL(), nil)
					values := url.Values{"username": {"alice"}, "password": {st.Password}}
					for k, v := range c.values {
						values[k] = v
					}
					client := b.Client
					if c.noJar {
						client = e.Client
					}
					p := hlSubmit(t, client, authURL(), page, values, c.h)
					if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "The form could not be verified") {
						t.Fatalf("want 403, got %d %v: %.300s", p.Status, p.Location, p.Body)
					}
					negWantPage(t, p, http.StatusForbidden)
					hlWantNoSession(t, p)
					negWantRedirectError(t, b.Get(authURL("prompt", "none")), negWebRedirect, "login_required", "st-1", e.Issuer(host))
				})
			}
			// The control: a same-origin post signs in.
			b := e.NewBrowser()
			p := hlSubmit(t, b.Client, authURL(), hlLoginPage(t, b, authURL(), nil), login, headers("Origin", origin, "Sec-Fetch-Site", "same-origin"))
			if !p.Redirected() || p.Location.Query().Get("code") == "" {
				t.Fatalf("same-origin post: %d %v %.300s", p.Status, p.Location, p.Body)
			}
		})

		t.Run("wrong password and unknown user look the same", func(t *testing.T) {
			for _, u := range []string{"alice", "nobody", "nobody@example.com", "+86-00000000000"} {
				b := e.NewBrowser()
				page := hlLoginPage(t, b, authURL(), nil)
				pw := "wrong-password"
				if u != "alice" {
					pw = st.Password
				}
				p := hlSubmit(t, b.Client, authURL(), page, url.Values{"username": {u}, "password": {pw}}, nil)
				hlWantNoSession(t, p)
				if _, f, _ := p.Form(); p.Status != http.StatusBadRequest || hlErrorText(p) != "Invalid user name or password" || f.Get("username") != u {
					t.Fatalf("%q: %d %q, form %v", u, p.Status, hlErrorText(p), f)
				}
			}
		})

		t.Run("lockout after five failures", func(t *testing.T) {
			b := e.NewBrowser()
			page := hlLoginPage(t, b, authURL(), nil)
			for i := 1; i <= 5; i++ {
				page = hlSubmit(t, b.Client, authURL(), page, url.Values{"username": {"bob"}, "password": {"wrong-password"}}, nil)
				hlWantNoSession(t, page)
				want := "Invalid user name or password"
				if i == 5 {
					want = "The user has been locked due to too many unsuccessful login attempts. It will be unlocked in 15 minutes and 0 seconds"
				}
				if page.Status != http.StatusBadRequest || hlErrorText(page) != want {
					t.Fatalf("failure %d: %d %q", i, page.Status, hlErrorText(page))
				}
			}
			// Locked: the right password does not sign in.
			p := hlSubmit(t, b.Client, authURL(), page, url.Values{"username": {"bob"}, "password": {st.Password}}, nil)
			hlWantNoSession(t, p)
			if !strings.HasPrefix(hlErrorText(p), "The user has been locked") {
				t.Fatalf("locked user with the right password: %d %q", p.Status, hlErrorText(p))
			}
		})

		t.Run("prompt=login with a session shows the login page", func(t *testing.T) {
			b := negSignIn(t, e, host, "acme-web", negWebRedirect, "alice")
			old := negSessionCookie(t, e, b, host)
			negCode(t, e, b, host, "acme-web", negWebRedirect) // the session works
			for _, prompt := range []string{"login", "consent login"} {
				hlLoginPage(t, b, authURL("prompt", prompt), nil)
			}
			page := hlLoginPage(t, b, authURL("prompt", "login"), nil)
			p := hlSubmit(t, b.Client, authURL("prompt", "login"), page, login, nil)
			if !p.Redirected() || p.Location.Query().Get("code") == "" {
				t.Fatalf("login again: %d %v", p.Status, p.Location)
			}
			// The new login replaced the browser's previous session.
			if negSessionCookie(t, e, b, host) == old {
				t.Fatal("the session cookie was not replaced")
			}
			negWantSessionEnded(t, e, host, old)
		})

		t.Run("max_age", func(t *testing.T) {
			b := negSignIn(t, e, host, "acme-web", negWebRedirect, "alice")
			hlLoginPage(t, b, authURL("max_age", "0"), nil)
			negCode(t, e, b, host, "acme-web", negWebRedirect, "max_age", "60")
			e.Clock.Advance(61 * time.Second)
			hlLoginPage(t, b, authURL("max_age", "60"), nil)
			negCode(t, e, b, host, "acme-web", negWebRedirect, "max_age", "3600")
			// max_age=0 signs in again and gets a code.
			u := authURL("max_age", "0")
			p := hlSubmit(t, b.Client, u, hlLoginPage(t, b, u, nil), login, nil)
			if !p.Redirected() || p.Location.Query().Get("code") == "" {
				t.Fatalf("max_age=0 login: %d %v", p.Status, p.Location)
			}
		})

		t.Run("login_hint prefills the user name", func(t *testing.T) {
			b := e.NewBrowser()
			u := authURL("login_hint", "alice@example.com")
			page := hlLoginPage(t, b, u, nil)
			if _, f, _ := page.Form(); f.Get("username") != "alice@example.com" {
				t.Fatalf("username field %q", f.Get("username"))
			}
			p := hlSubmit(t, b.Client, u, page, url.Values{"password": {st.Password}}, nil)
			if !p.Redirected() || p.Location.Query().Get("code") == "" {
				t.Fatalf("login with the hint: %d %v %q", p.Status, p.Location, hlErrorText(p))
			}
			evil := `"><script>alert(1)</script>`
			page = hlLoginPage(t, e.NewBrowser(), authURL("login_hint", evil), nil)
			if strings.Contains(page.Body, "<script>alert(1)") {
				t.Fatal("login_hint is not escaped")
			}
			if _, f, _ := page.Form(); f.Get("username") != evil {
				t.Fatalf("escaped hint %q", f.Get("username"))
			}
		})

		t.Run("stale or tampered request", func(t *testing.T) {
			stale := func(t *testing.T, p st.Page) {
				t.Helper()
				negWantPage(t, p, http.StatusBadRequest)
				if !strings.Contains(p.Body, "This sign-in page has expired") {
					t.Fatalf("want the stale-form page: %.400s", p.Body)
				}
			}
			b := e.NewBrowser()
			page := hlLoginPage(t, b, authURL(), nil)
			_, f, _ := page.Form()
			sealed := f.Get("req")
			flip := []byte(sealed)
			i := len(flip) / 2
			if flip[i] == 'A' {
				flip[i] = 'B'
			} else {
				flip[i] = 'A'
			}
			shopB := e.NewBrowser()
			shopURL := negAuthorizeURL(e, st.CIAMHost, negParams("shop-web", negWebRedirect))
			_, shopFields, _ := hlLoginPage(t, shopB, shopURL, nil).Form()
			for name, req := range map[string]string{
				"tampered":         string(flip),
				"truncated":        sealed[:len(sealed)-2],
				"missing":          "",
				"garbage":          "abc",
				"another tenant's": shopFields.Get("req"),
			} {
				t.Run(name, func(t *testing.T) {
					p := hlSubmit(t, b.Client, authURL(), page, url.Values{"req": {req}, "username": {"alice"}, "password": {st.Password}}, nil)
					stale(t, p)
					hlWantNoSession(t, p)
				})
			}
			// The page lives 15 minutes.
			page = hlLoginPage(t, b, authURL(), nil)
			e.Clock.Advance(16 * time.Minute)
			p := hlSubmit(t, b.Client, authURL(), page, login, nil)
			stale(t, p)
			hlWantNoSession(t, p)
		})
	})
}

// TestHostedLoginSecureCookie: with a public URL on https the cookies are
// Secure (contract §5).
func TestHostedLoginSecureCookie(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		u := negAuthorizeURL(e, st.EIAMHost, negParams("acme-web", negWebRedirect))
		page := hlDo(t, e.Client, "GET", u, nil, nil)
		csrf := hlCookie(page.Header, "sesame_csrf")
		if page.Status != http.StatusOK || csrf == nil || !csrf.Secure || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode {
			t.Fatalf("login page %d, CSRF cookie %+v", page.Status, csrf)
		}
		// A browser sends Secure cookies over TLS only; the test server
		// speaks plain HTTP behind the https public URL, like behind a
		// TLS-terminating proxy.
		cookie := headers("Cookie", "sesame_csrf="+csrf.Value)
		p := hlSubmit(t, e.Client, u, page, url.Values{"username": {"alice"}, "password": {st.Password}}, cookie)
		if !p.Redirected() || p.Location.Query().Get("code") == "" {
			t.Fatalf("login: %d %v %.300s", p.Status, p.Location, p.Body)
		}
		if iss := p.Location.Query().Get("iss"); !strings.HasPrefix(iss, "https://"+st.EIAMHost+":") {
			t.Fatalf("iss %q is not the https issuer", iss)
		}
		s := hlCookie(p.Header, "sesame_session")
		if s == nil || s.Value == "" || !s.Secure || !s.HttpOnly || s.SameSite != http.SameSiteLaxMode || s.Path != "/" {
			t.Fatalf("session cookie %+v", s)
		}
		lo := hlDo(t, e.Client, "GET", e.URL(st.EIAMHost, "/api/v1/logout"), nil, headers("Cookie", "sesame_session="+s.Value))
		if c := hlCookie(lo.Header, "sesame_session"); c == nil || c.Value != "" || !c.Secure || c.MaxAge >= 0 {
			t.Fatalf("logout cookie %+v", c)
		}
		negWantSessionEnded(t, e, st.EIAMHost, s.Value)
	}, func(c *config.Config) {
		c.Server.PublicURL = strings.Replace(c.Server.PublicURL, "http://", "https://", 1)
	})
}

// TestHostedLoginPasswordExpiry: the password-expiry steps of the SDK
// login (contract §2.1) on the hosted pages.
func TestHostedLoginPasswordExpiry(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const host = st.EIAMHost
		u := negAuthorizeURL(e, host, negParams("acme-web", negWebRedirect))
		passwordPage := func(t *testing.T, b *st.Browser, user, pw string, expired bool) st.Page {
			t.Helper()
			p := hlSubmit(t, b.Client, u, hlLoginPage(t, b, u, nil), url.Values{"username": {user}, "password": {pw}}, nil)
			heading := "Your password expires soon"
			if expired {
				heading = "Your password has expired"
			}
			action, f, ok := p.Form()
			if p.Status != http.StatusOK || !ok || action != "/api/v1/oauth2/login/password" || !strings.Contains(p.Body, "<h1>"+heading+"</h1>") ||
				f.Get("state_token") == "" || f.Get("req") == "" || f.Get("csrf") == "" {
				t.Fatalf("want the %q page, got %d: %.500s", heading, p.Status, p.Body)
			}
			if strings.Contains(p.Body, `id="skip"`) == expired || f.Has("expired") != expired {
				t.Fatalf("skip offered on the expired page, or not on the warning page: %.500s", p.Body)
			}
			hlWantNoSession(t, p)
			negWantPageHeaders(t, p.Header)
			return p
		}
		wantCode := func(t *testing.T, p st.Page) {
			t.Helper()
			if !p.Redirected() || p.Location == nil || p.Location.Query().Get("code") == "" {
				t.Fatalf("want a code, got %d %v %q", p.Status, p.Location, hlErrorText(p))
			}
			if c := hlCookie(p.Header, "sesame_session"); c == nil || c.Value == "" {
				t.Fatal("no session cookie")
			}
		}

		e.Clock.Advance(85 * 24 * time.Hour)
		t.Run("warning: skip continues", func(t *testing.T) {
			b := e.NewBrowser()
			p := passwordPage(t, b, "alice", st.Password, false)
			wantCode(t, hlSubmit(t, b.Client, u, p, url.Values{"action": {"skip"}}, nil))
		})
		t.Run("warning: the CSRF check applies", func(t *testing.T) {
			b := e.NewBrowser()
			p := passwordPage(t, b, "alice", st.Password, false)
			r := hlSubmit(t, b.Client, u, p, url.Values{"action": {"skip"}, "csrf": {""}}, nil)
			negWantPage(t, r, http.StatusForbidden)
			hlWantNoSession(t, r)
		})

		e.Clock.Advance(6 * 24 * time.Hour)
		t.Run("expired: weak password shows the page again, a good one continues", func(t *testing.T) {
			b := e.NewBrowser()
			p := passwordPage(t, b, "bob", st.Password, true)
			_, f, _ := p.Form()
			weak := hlSubmit(t, b.Client, u, p, url.Values{"action": {"change"}, "new_password": {"short"}}, nil)
			_, wf, ok := weak.Form()
			if weak.Status != http.StatusBadRequest || !ok || hlErrorText(weak) != "The new password does not meet the password policy" ||
				wf.Get("state_token") != f.Get("state_token") || !wf.Has("expired") || strings.Contains(weak.Body, `id="skip"`) {
				t.Fatalf("weak password: %d %q %.400s", weak.Status, hlErrorText(weak), weak.Body)
			}
			hlWantNoSession(t, weak)
			wantCode(t, hlSubmit(t, b.Client, u, weak, url.Values{"action": {"change"}, "new_password": {"Brand-New-Secret-1"}}, nil))
			// The new password is the password now.
			nb := e.NewBrowser()
			bad := hlSubmit(t, nb.Client, u, hlLoginPage(t, nb, u, nil), url.Values{"username": {"bob"}, "password": {st.Password}}, nil)
			if hlErrorText(bad) != "Invalid user name or password" {
				t.Fatalf("old password: %d %q", bad.Status, hlErrorText(bad))
			}
			wantCode(t, hlSubmit(t, nb.Client, u, hlLoginPage(t, nb, u, nil), url.Values{"username": {"bob"}, "password": {"Brand-New-Secret-1"}}, nil))
		})
		t.Run("expired: skip is refused", func(t *testing.T) {
			b := e.NewBrowser()
			p := passwordPage(t, b, "alice", st.Password, true)
			r := hlSubmit(t, b.Client, u, p, url.Values{"action": {"skip"}}, nil)
			hlWantNoSession(t, r)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("forged skip: %d %q", r.Status, hlErrorText(r))
			}
			// The state token is bound to the page's client and spent.
			r = hlSubmit(t, b.Client, u, p, url.Values{"action": {"change"}, "new_password": {"Brand-New-Secret-2"}}, nil)
			hlWantNoSession(t, r)
		})
		t.Run("expired: a forged state token", func(t *testing.T) {
			b := e.NewBrowser()
			p := passwordPage(t, b, "alice", st.Password, true)
			r := hlSubmit(t, b.Client, u, p, url.Values{"action": {"change"}, "new_password": {"Brand-New-Secret-3"}, "state_token": {"forged"}}, nil)
			hlWantNoSession(t, r)
			if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "This sign-in page has expired") {
				t.Fatalf("forged state token: %d %q", r.Status, hlErrorText(r))
			}
		})
	}, func(c *config.Config) {
		for i := range c.Bootstrap.Tenants {
			c.Bootstrap.Tenants[i].PasswordMaxAge = 90 * 24 * time.Hour
			c.Bootstrap.Tenants[i].PasswordWarnBefore = 7 * 24 * time.Hour
		}
	})
}
