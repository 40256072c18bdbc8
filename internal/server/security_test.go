package server_test

// Regression tests for the findings of a security review of the protocol
// code: each reproduced an attack before its fix.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

func rvPKCE() (verifier, challenge string) {
	verifier = strings.Repeat("v", 50)
	s := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(s[:])
}

// a device-bound SDK session token, stolen, works from another device
// through an application of the same tenant that has device_binding off.
func TestSecurityDeviceBindingBypassViaUnboundApp(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice") // acme-portal: device_binding on (default)
		// Direct use from another device through acme-portal is refused...
		h := st.SDKHeaders("acme-portal")
		h.Del("Content-Type")
		h.Set("X-device-fingerprint", "attacker-device")
		h.Set("X-session-token", tok)
		if r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/sso/session-token/id-token"), h, ""); r.Status != 400 {
			t.Fatalf("bound app accepted other device: %d %s", r.Status, r.Body)
		}
		// ...but the same request naming acme-unbound succeeds.
		h.Set("X-client-id", "acme-unbound")
		r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/sso/session-token/id-token"), h, "")
		if r.Status == 200 && r.Str("id_token") != "" {
			t.Errorf("BYPASS: device-bound session exchanged from another device via acme-unbound: %s", r.Body)
		}
	})
}

// a device-bound SDK session token works as the hosted-login cookie:
// authorize (prompt=none) from any device, then a public client + PKCE
// gets OAuth tokens for the user.
func TestSecurityDeviceBindingBypassViaAuthorizeCookie(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		_, challenge := rvPKCE()
		v := negParams("acme-spa", negSPARedirect, "prompt", "none", "code_challenge", challenge, "code_challenge_method", "S256")
		r := e.Do("GET", negAuthorizeURL(e, st.EIAMHost, v), headers("Cookie", "sesame_session="+tok, "User-Agent", "attacker"), "")
		loc, _ := url.Parse(r.Header.Get("Location"))
		if r.Status != 302 || loc == nil || loc.Query().Get("code") != "" || loc.Query().Get("error") != "login_required" {
			t.Fatalf("an SDK session token served as the browser cookie: %d %s", r.Status, r.Header.Get("Location"))
		}
		// The SDK may not claim the browser sessions' reserved fingerprint.
		h := st.SDKHeaders("acme-portal")
		h.Set("X-device-fingerprint", "web-browser")
		wantError(t, e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/login"), h, `{"user_name":"alice","password":"`+st.Password+`"}`), 400, "SDK.COMMON.1002", "")
	})
}

func TestSecurityJTIForgedBearer(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		b := negSignIn(t, e, st.EIAMHost, "acme-jwt", negWebRedirect, "alice")
		code := negCode(t, e, b, st.EIAMHost, "acme-jwt", negWebRedirect)
		tk := negWantTokens(t, negRedeem(e, st.EIAMHost, "acme-jwt", st.Secret, negWebRedirect, code, ""))
		parts := strings.Split(tk.access, ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %s", tk.access)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct{ Jti string }
		_ = json.Unmarshal(raw, &c)
		r := negUserinfo(e, st.EIAMHost, "jti:"+c.Jti)
		if r.Status == 200 {
			t.Errorf("FORGED bearer 'jti:%s' accepted by userinfo: %s", c.Jti, r.Body)
		}
	})
}

// an end user's OAuth access token (public SPA client) is accepted as
// a tenant-API server credential; with it, any SSO ticket of the tenant
// can be redeemed for a user's profile.
func TestSecurityUserTokenOnTenantAPI(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		// Victim's server issues a ticket for bob.
		bobTok := e.MustLogin(st.EIAMHost, "acme-portal", "bob")
		srv := e.TenantToken(st.EIAMHost, "acme-portal")
		r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/sso-ticket"),
			headers("Authorization", "Bearer "+srv, "Content-Type", "application/json"), refreshBody(bobTok, st.Device))
		ticket := r.Str("sso_ticket")
		if ticket == "" {
			t.Fatalf("ticket: %d %s", r.Status, r.Body)
		}
		// Alice (an end user) gets an access token via the public SPA client.
		verifier, challenge := rvPKCE()
		b := e.NewBrowser()
		p := b.Login(negAuthorizeURL(e, st.EIAMHost, negParams("acme-spa", negSPARedirect, "code_challenge", challenge, "code_challenge_method", "S256")), "alice", st.Password)
		if p.Location == nil {
			t.Fatalf("login: %d", p.Status)
		}
		res := negPost(e, st.EIAMHost, "/api/v1/oauth2/token", nil, negVals("grant_type", "authorization_code",
			"code", p.Location.Query().Get("code"), "redirect_uri", negSPARedirect, "client_id", "acme-spa", "code_verifier", verifier))
		at := res.Str("access_token")
		if at == "" {
			t.Fatalf("token: %d %s", res.Status, res.Body)
		}
		v := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/sso-ticket/verify"),
			headers("Authorization", "Bearer "+at, "Content-Type", "application/json"),
			`{"sso_ticket":"`+ticket+`","operating_sys_version":"x","device_ip":"1.2.3.4","device_fingerprint":"x"}`)
		if v.Status == 200 {
			t.Errorf("end-user token of public client accepted on tenant API: %s", v.Body)
		}
	})
}

func TestSecurityTicketAfterLogout(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		srv := e.TenantToken(st.EIAMHost, "acme-portal")
		r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/sso-ticket"),
			headers("Authorization", "Bearer "+srv, "Content-Type", "application/json"), refreshBody(tok, st.Device))
		ticket := r.Str("sso_ticket")
		h := st.SDKHeaders("acme-portal")
		h.Set("X-session-token", tok)
		if lr := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/logout"), h, ""); lr.Status != 200 {
			t.Fatalf("logout %d %s", lr.Status, lr.Body)
		}
		v := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/sso-ticket/verify"),
			headers("Authorization", "Bearer "+srv, "Content-Type", "application/json"),
			`{"sso_ticket":"`+ticket+`","operating_sys_version":"x","device_ip":"1.2.3.4","device_fingerprint":"x"}`)
		if v.Status == 200 {
			t.Errorf("ticket of a logged-out session redeemed: %s", v.Body)
		}
	})
}

// a NUL / invalid UTF-8 nonce reaches PostgreSQL and is answered as a
// server failure (temporarily_unavailable, logged at error level).
func TestSecurityNonceNUL(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		b := negSignIn(t, e, st.EIAMHost, "acme-web", negWebRedirect, "alice")
		for _, nonce := range []string{"a\x00b", "a\xffb"} {
			p := b.Get(negAuthorizeURL(e, st.EIAMHost, negParams("acme-web", negWebRedirect, "nonce", nonce)))
			q := url.Values{}
			if p.Location != nil {
				q = p.Location.Query()
			}
			if q.Get("error") == "temporarily_unavailable" {
				t.Errorf("nonce %q: client input answered as a server failure: %s", nonce, p.Location)
			}
		}
	})
}

// a disabled user's session keeps being refreshed (rotated, fresh
// full TTL) by the tenant API, and an SSO ticket is issued for it.
func TestSecurityDisabledUserRefresh(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		u, _ := e.Server.Store().UserByUsername(t.Context(), "acme", "alice")
		u.Status = "disabled"
		if err := e.Server.Store().UpdateUserProfile(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		if r := e.Exchange(st.EIAMHost, "acme-portal", tok); r.Status == 200 {
			t.Fatalf("exchange of disabled user ok")
		}
		srv := e.TenantToken(st.EIAMHost, "acme-portal")
		r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/refresh"),
			headers("Authorization", "Bearer "+srv, "Content-Type", "application/json"), refreshBody(tok, st.Device))
		if r.Status == 200 {
			t.Errorf("disabled user's session refreshed: %s", r.Body)
		}
		r = e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/sso-ticket"),
			headers("Authorization", "Bearer "+srv, "Content-Type", "application/json"), refreshBody(r.Str("session_token"), st.Device))
		if r.Status == 200 {
			t.Errorf("disabled user's session got an sso ticket: %s", r.Body)
		}
	})
}
