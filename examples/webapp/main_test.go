package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// browser is a cookie-keeping client that follows no redirects and dials
// the web app for app.test and the Sesame test server for everything else.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T, e *st.Env, appAddr string) *browser {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: 5 * time.Second}
	idp := net.JoinHostPort("127.0.0.1", e.Port)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "app.test:") {
			return d.DialContext(ctx, network, appAddr)
		}
		return d.DialContext(ctx, network, idp)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, c: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get loads u and returns the status, the redirect target and the body.
func (b *browser) do(req *http.Request) (int, *url.URL, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var loc *url.URL
	if l := resp.Header.Get("Location"); l != "" {
		loc, _ = req.URL.Parse(l)
	}
	return resp.StatusCode, loc, string(body)
}

func (b *browser) get(u string) (int, *url.URL, string) {
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

// follow loads u and follows redirects, returning the final page.
func (b *browser) follow(u string) (string, int, string) {
	b.t.Helper()
	for range 10 {
		status, loc, body := b.get(u)
		if loc == nil {
			return u, status, body
		}
		u = loc.String()
	}
	b.t.Fatalf("too many redirects at %s", u)
	return "", 0, ""
}

func TestWebApp(t *testing.T) {
	for _, backend := range st.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := st.New(t, backend)
			app, err := NewApp(t.Context(), Config{
				Issuer: e.Issuer(st.EIAMHost), ClientID: "acme-web", ClientSecret: st.Secret,
				RedirectURL: "http://app.test/callback", PostLogoutRedirectURL: "http://app.test/bye",
				HTTPClient: e.Client,
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(app)
			defer srv.Close()
			b := newBrowser(t, e, srv.Listener.Addr().String())

			// Not signed in yet.
			if _, status, body := b.follow("http://app.test/"); status != 200 || !strings.Contains(body, "Sign in") {
				t.Fatalf("home: %d %s", status, body)
			}
			// /login → Sesame's hosted login page.
			pageURL, status, body := b.follow("http://app.test/login")
			if status != 200 || !strings.Contains(body, `name="password"`) || !strings.HasPrefix(pageURL, e.Issuer(st.EIAMHost)+"/authorize") {
				t.Fatalf("login page at %s: %d %.300s", pageURL, status, body)
			}
			u, _ := url.Parse(pageURL)
			if q := u.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
				t.Fatalf("authorization request without PKCE, nonce or state: %s", pageURL)
			}
			// Submit the form: back to the app, signed in.
			action, fields, ok := st.Page{Body: body}.Form()
			if !ok {
				t.Fatalf("no form: %.300s", body)
			}
			fields.Set("username", "alice")
			fields.Set("password", st.Password)
			target, _ := u.Parse(action)
			req, _ := http.NewRequest("POST", target.String(), strings.NewReader(fields.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			status, loc, body := b.do(req)
			if status != http.StatusSeeOther || loc == nil || loc.Host != "app.test" || loc.Path != "/callback" {
				t.Fatalf("after the form: %d %v %.300s", status, loc, body)
			}
			final, status, body := b.follow(loc.String())
			if status != 200 || final != "http://app.test/" || !strings.Contains(body, "Hello, Alice Liddell!") || !strings.Contains(body, "<b>alice</b>") {
				t.Fatalf("after sign-in at %s: %d %s", final, status, body)
			}
			// A replayed callback is refused.
			if status, _, _ := b.get(loc.String()); status != http.StatusBadRequest {
				t.Fatalf("replayed callback: %d", status)
			}
			// Single sign-on: a second sign-in needs no password.
			if final, _, body := b.follow("http://app.test/login"); final != "http://app.test/" || !strings.Contains(body, "Alice Liddell") {
				t.Fatalf("SSO sign-in ended at %s: %.300s", final, body)
			}

			// Logout: through Sesame's /api/v1/logout and back to /bye.
			status, loc, _ = b.get("http://app.test/logout")
			if status != http.StatusFound || loc == nil || loc.Path != "/api/v1/logout" || loc.Query().Get("id_token_hint") == "" {
				t.Fatalf("logout: %d %v", status, loc)
			}
			final, status, body = b.follow(loc.String())
			if status != 200 || final != "http://app.test/bye" || !strings.Contains(body, "signed out") {
				t.Fatalf("after logout at %s: %d %s", final, status, body)
			}
			if _, _, body := b.follow("http://app.test/"); !strings.Contains(body, "Sign in") {
				t.Fatalf("still signed in: %s", body)
			}
			// Sesame's session ended too: the password is asked again.
			if _, _, body := b.follow("http://app.test/login"); !strings.Contains(body, `name="password"`) {
				t.Fatalf("Sesame's session survived the logout: %.300s", body)
			}

			// A callback this browser did not start is refused.
			if status, _, _ := newBrowser(t, e, srv.Listener.Addr().String()).get("http://app.test/callback?code=x&state=y"); status != http.StatusBadRequest {
				t.Fatalf("foreign callback: %d", status)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-listen", "127.0.0.1:0"}, &out); err == nil || !strings.Contains(out.String(), "-issuer") {
		t.Fatalf("missing flags: %v %s", err, out.String())
	}
}
