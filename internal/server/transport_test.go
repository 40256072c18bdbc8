package server_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/server"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// TestSecurityHeaders: every answer carries the defaults that keep a
// browser from sniffing, framing or leaking it.
func TestSecurityHeaders(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, path := range []string{"/api/v2/sdk/server-date", "/api/v1/oauth2/keys", "/healthz", "/api/v1/oauth2/.well-known/openid-configuration"} {
			r := e.Do("GET", e.URL(st.EIAMHost, path), st.SDKHeaders("acme-portal"), "")
			h := r.Header
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
				h.Get("Referrer-Policy") != "no-referrer" || h.Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'" {
				t.Errorf("%s: headers %v", path, h)
			}
			if h.Get("Strict-Transport-Security") != "" {
				t.Errorf("%s: HSTS on plain HTTP", path)
			}
		}
	})
}

// TestCORS: browser endpoints answer cross-origin requests only from the
// origins of the tenant's registered redirect URIs.
func TestCORS(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, test := range []struct {
			method, path, origin string
			allowed              bool
		}{
			{"OPTIONS", "/api/v1/oauth2/token", "http://spa.test", true}, // acme-spa's redirect URI
			{"OPTIONS", "/api/v1/oauth2/userinfo", "http://app.test", true},
			{"OPTIONS", "/api/v1/oauth2/keys", "http://spa.test", true},
			{"GET", "/api/v1/oauth2/keys", "http://spa.test", true},
			{"GET", "/.well-known/openid-configuration", "http://app2.test", true},
			{"OPTIONS", "/api/v1/oauth2/token", "http://evil.test", false},
			{"OPTIONS", "/api/v1/oauth2/token", "http://spa.test:8080", false}, // another origin: the port counts
			{"OPTIONS", "/api/v1/oauth2/token", "https://spa.test", false},
			{"GET", "/api/v1/oauth2/keys", "null", false},
			{"OPTIONS", "/api/v1/oauth2/introspect", "http://spa.test", false}, // not a browser endpoint
		} {
			h := http.Header{"Origin": {test.origin}, "Access-Control-Request-Method": {"POST"}}
			r := e.Do(test.method, e.URL(st.EIAMHost, test.path), h, "")
			got := r.Header.Get("Access-Control-Allow-Origin")
			if test.allowed && (got != test.origin || !slices.Contains(r.Header.Values("Vary"), "Origin")) {
				t.Errorf("%s %s from %s: ACAO %q, want it allowed", test.method, test.path, test.origin, got)
			}
			if !test.allowed && got != "" {
				t.Errorf("%s %s from %s: ACAO %q, want none", test.method, test.path, test.origin, got)
			}
			if test.method == "OPTIONS" && test.allowed && (r.Status != 204 || r.Header.Get("Access-Control-Allow-Headers") == "") {
				t.Errorf("preflight %s: %d %v", test.path, r.Status, r.Header)
			}
		}
		// An origin registered in one tenant is nothing in another.
		r := e.Do("OPTIONS", e.URL(st.CIAMHost, "/api/v1/oauth2/token"), http.Header{"Origin": {"http://evil.test"}}, "")
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Error("CORS allowed for an unregistered origin on another tenant")
		}
	})
}

// TestHTTPS: with tls_self_signed the server speaks HTTPS only, with HSTS
// and Secure cookies.
func TestHTTPS(t *testing.T) {
	cfg := config.Defaults()
	cfg.Storage.DSN = filepath.Join(t.TempDir(), "sesame.db")
	cfg.Server.TLSSelfSigned = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.PublicURL = "https://" + ln.Addr().String()
	srv, err := server.New(t.Context(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test checks the certificate itself
	}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" || resp.TLS == nil {
		t.Fatalf("HTTPS: %d %v", resp.StatusCode, resp.Header)
	}
	if leaf := resp.TLS.PeerCertificates[0]; !slices.Contains(leaf.DNSNames, "localhost") || len(leaf.IPAddresses) == 0 {
		t.Fatalf("certificate names %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	// Plain HTTP on the same port is refused.
	if resp, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served")
		}
	}
	// The demo tenant's hosted login sets Secure cookies.
	login := "https://" + ln.Addr().String() + "/api/v1/oauth2/authorize?response_type=code&client_id=demo-app&scope=openid&redirect_uri=" +
		"https%3A%2F%2F" + ln.Addr().String() + "%2Fdemo%2Fcallback"
	resp, err = client.Get(login)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) == 0 {
		t.Fatalf("the login page set no cookie: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if !c.Secure || !c.HttpOnly {
			t.Errorf("cookie %s on HTTPS: Secure=%v HttpOnly=%v", c.Name, c.Secure, c.HttpOnly)
		}
	}
}
