package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
)

// TestSDKErrorTable sends each bad input of contract §6 to the SDK API of
// both editions and checks code, status and message.
func TestSDKErrorTable(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := st.New(t, backend)
		validToken := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		login := `{"user_name":"alice","password":"` + st.Password + `"}`
		type req struct {
			host, path string
			mutate     func(h http.Header)
			body       string
		}
		loginReq := func(host, client string, mutate func(h http.Header), body string) req {
			return req{host, "/api/v2/sdk/login", func(h http.Header) {
				h.Set("X-client-id", client)
				if mutate != nil {
					mutate(h)
				}
			}, body}
		}
		exchangeReq := func(host, client string, mutate func(h http.Header)) req {
			return req{host, "/api/v2/sdk/sso/session-token/id-token", func(h http.Header) {
				h.Set("X-client-id", client)
				h.Del("Content-Type")
				if mutate != nil {
					mutate(h)
				}
			}, ""}
		}
		del := func(name string) func(h http.Header) { return func(h http.Header) { h.Del(name) } }
		set := func(kv ...string) func(h http.Header) {
			return func(h http.Header) {
				for i := 0; i+1 < len(kv); i += 2 {
					h.Set(kv[i], kv[i+1])
				}
			}
		}
		for _, test := range []struct {
			name   string
			req    req
			status int
			code   string
			msg    string
		}{
			// EIAM dialect.
			{"eiam missing client id", loginReq(st.EIAMHost, "", del("X-client-id"), login), 400, "SDK.COMMON.1001", "Parameter X-client-id cannot be empty"},
			{"eiam missing fingerprint", loginReq(st.EIAMHost, "acme-portal", del("X-device-fingerprint"), login), 400, "SDK.COMMON.1003", "Device information is incomplete"},
			{"eiam missing os version", loginReq(st.EIAMHost, "acme-portal", del("X-operating-sys-version"), login), 400, "SDK.COMMON.1003", ""},
			{"eiam missing agent", loginReq(st.EIAMHost, "acme-portal", del("X-agent"), login), 400, "SDK.COMMON.1003", ""},
			{"eiam bad device ip", loginReq(st.EIAMHost, "acme-portal", set("X-device-ip", "not-an-ip"), login), 400, "SDK.COMMON.1002", "Parameter X-device-ip format is incorrect"},
			{"eiam oversized agent", loginReq(st.EIAMHost, "acme-portal", set("X-agent", strings.Repeat("a", 5000)), login), 400, "SDK.COMMON.1002", "Parameter X-agent format is incorrect"},
			{"eiam oversized client id", loginReq(st.EIAMHost, strings.Repeat("c", 500), nil, login), 400, "SDK.COMMON.1002", ""},
			{"eiam unknown client", loginReq(st.EIAMHost, "nope", nil, login), 400, "SDK.COMMON.1012", "The app is not registered, please register the app first"},
			{"eiam client of another tenant", loginReq(st.EIAMHost, "shop-portal", nil, login), 400, "SDK.COMMON.1012", ""},
			{"eiam wrong content type", loginReq(st.EIAMHost, "acme-portal", set("Content-Type", "text/plain"), login), 400, "SDK.COMMON.1002", "Parameter Content-Type format is incorrect"},
			{"eiam body not json", loginReq(st.EIAMHost, "acme-portal", nil, "{nope"), 400, "SDK.COMMON.1002", "Parameter body format is incorrect"},
			{"eiam body is an array", loginReq(st.EIAMHost, "acme-portal", nil, "[1]"), 400, "SDK.COMMON.1002", ""},
			{"eiam body too large", loginReq(st.EIAMHost, "acme-portal", nil, `{"user_name":"`+strings.Repeat("a", 70000)+`"}`), 400, "SDK.COMMON.1002", ""},
			{"eiam user name is a number", loginReq(st.EIAMHost, "acme-portal", nil, `{"user_name":5,"password":"x"}`), 400, "SDK.COMMON.1002", "Parameter user_name format is incorrect"},
			{"eiam missing password", loginReq(st.EIAMHost, "acme-portal", nil, `{"user_name":"alice"}`), 400, "SDK.COMMON.1001", "Parameter password cannot be empty"},
			{"eiam empty user name", loginReq(st.EIAMHost, "acme-portal", nil, `{"user_name":"  ","password":"x"}`), 400, "SDK.COMMON.1001", "Parameter user_name cannot be empty"},
			{"eiam wrong password", loginReq(st.EIAMHost, "acme-portal", nil, `{"user_name":"bob","password":"wrong-password"}`), 400, "SDK.LOGIN.1010", "Invalid user name or password"},
			{"eiam unknown user", loginReq(st.EIAMHost, "acme-portal", nil, `{"user_name":"nobody","password":"wrong-password"}`), 400, "SDK.LOGIN.1010", "Invalid user name or password"},
			{"eiam wrong password, Chinese", loginReq(st.EIAMHost, "acme-portal", set("X-L", "zh"), `{"user_name":"nobody","password":"x"}`), 400, "SDK.LOGIN.1010", "用户名或密码错误"},
			{"eiam missing session token", exchangeReq(st.EIAMHost, "acme-portal", nil), 400, "SDK.COMMON.1001", "Parameter X-session-token cannot be empty"},
			{"eiam unknown session token", exchangeReq(st.EIAMHost, "acme-portal", set("X-session-token", "unknown-token")), 400, "SDK.COMMON.1006", "session_token parameter error"},
			{"eiam session token of the wrong tenant header", exchangeReq(st.EIAMHost, "acme-portal", set("session-token", "unknown-token")), 400, "SDK.COMMON.1006", ""},
			{"eiam two different session tokens", exchangeReq(st.EIAMHost, "acme-portal", set("X-session-token", validToken, "session-token", "other")), 400, "SDK.COMMON.1002", "Parameter session-token format is incorrect"},
			{"eiam oversized session token", exchangeReq(st.EIAMHost, "acme-portal", set("X-session-token", strings.Repeat("t", 600))), 400, "SDK.COMMON.1002", ""},
			{"eiam session token from another device", exchangeReq(st.EIAMHost, "acme-portal", set("X-session-token", validToken, "X-device-fingerprint", "other-device")), 400, "SDK.COMMON.1006", "session_token parameter error"},
			{"eiam session token Chinese", exchangeReq(st.EIAMHost, "acme-portal", set("X-session-token", "unknown", "X-L", "ZH-cn")), 400, "SDK.COMMON.1006", "session_token参数错误"},
			{"unknown host", loginReq("unknown.test", "acme-portal", nil, login), 400, "SDK.COMMON.1012", ""},
			// Found by fuzzing: control characters (C1 too) and invalid
			// UTF-8 must be refused as input, never reach the database.
			{"eiam C1 control in agent", loginReq(st.EIAMHost, "acme-portal", set("X-agent", "Mozilla5.0"), login), 400, "SDK.COMMON.1002", "Parameter X-agent format is incorrect"},
			{"eiam NUL in user name", loginReq(st.EIAMHost, "acme-portal", nil, `{"user_name":"al\u0000ice","password":"x"}`), 400, "SDK.COMMON.1002", "Parameter user_name format is incorrect"},
			{"eiam DEL in user name", loginReq(st.EIAMHost, "acme-portal", nil, "{\"user_name\":\"al\x7fice\",\"password\":\"x\"}"), 400, "SDK.COMMON.1002", ""},
			{"eiam NUL in password", loginReq(st.EIAMHost, "acme-portal", nil, `{"user_name":"alice","password":"a\u0000b"}`), 400, "SDK.COMMON.1002", "Parameter password format is incorrect"},
			{"eiam C1 control in session token", exchangeReq(st.EIAMHost, "acme-portal", set("X-session-token", "abcd")), 400, "SDK.COMMON.1002", ""},
			{"common domain invalid UTF-8 tenant id", loginReq(st.CommonHost, "isv-portal", set("X-tenant-id", "\x99"), login), 400, "SDK.COMMON.1012", ""},
			{"common domain without tenant id", loginReq(st.CommonHost, "isv-portal", nil, login), 400, "SDK.COMMON.1001", "Parameter X-tenant-id cannot be empty"},
			{"common domain unknown tenant id", loginReq(st.CommonHost, "isv-portal", set("X-tenant-id", "nope"), login), 400, "SDK.COMMON.1012", ""},
			// CIAM dialect.
			{"ciam missing client id", loginReq(st.CIAMHost, "", del("X-client-id"), login), 400, "IDAAS.SDK.PARAM.0002", "clientId cannot be empty"},
			{"ciam missing client id, Chinese", loginReq(st.CIAMHost, "", func(h http.Header) { h.Del("X-client-id"); h.Set("X-L", "zh") }, login), 400, "IDAAS.SDK.PARAM.0002", "clientId不能为空"},
			{"ciam device incomplete", loginReq(st.CIAMHost, "shop-portal", del("X-agent"), login), 400, "IDAAS.SDK.PARAM.0001", "Device information is incomplete"},
			{"ciam device incomplete, Chinese", loginReq(st.CIAMHost, "shop-portal", func(h http.Header) { h.Del("X-agent"); h.Set("X-L", "zh") }, login), 400, "IDAAS.SDK.PARAM.0001", "设备信息不完整"},
			{"ciam unknown client", loginReq(st.CIAMHost, "acme-portal", set("X-L", "zh"), login), 400, "IDAAS.SDK.PARAM.0003", "应用未注册,请先注册应用"},
			{"ciam malformed", loginReq(st.CIAMHost, "shop-portal", nil, "{"), 400, "IDAAS.SDK.PARAM.0004", "Parameter body format is incorrect"},
			{"ciam missing field", loginReq(st.CIAMHost, "shop-portal", nil, `{"password":"x"}`), 400, "IDAAS.SDK.PARAM.0001", "Parameter user_name cannot be empty"},
			{"ciam bad credentials", loginReq(st.CIAMHost, "shop-portal", nil, `{"user_name":"alice","password":"wrong-password"}`), 400, "IDAAS.SDK.LOGIN.0001", "Invalid user name or password"},
			{"ciam missing session token", exchangeReq(st.CIAMHost, "shop-portal", nil), 400, "IDAAS.SDK.PARAM.0022", "Session token cannot be empty"},
			{"ciam missing session token, Chinese", exchangeReq(st.CIAMHost, "shop-portal", set("X-L", "zh")), 400, "IDAAS.SDK.PARAM.0022", "会话令牌不能为空"},
			{"ciam invalid session token", exchangeReq(st.CIAMHost, "shop-portal", set("session-token", "nope")), 400, "IDAAS.SDK.PARAM.0023", "Invalid or expired session token"},
			{"ciam session of another tenant", exchangeReq(st.CIAMHost, "shop-portal", set("session-token", validToken)), 400, "IDAAS.SDK.PARAM.0023", ""},
			{"ciam invalid session token, Chinese", exchangeReq(st.CIAMHost, "shop-portal", set("session-token", "nope", "X-L", "zh")), 400, "IDAAS.SDK.PARAM.0023", "会话令牌无效或已过期"},
			// ISV tenant on the common domain: Chinese by tenant default.
			{"isv tenant default language", exchangeReq(st.CommonHost, "isv-portal", set("X-tenant-id", "isv", "session-token", "nope")), 400, "IDAAS.SDK.PARAM.0023", "会话令牌无效或已过期"},
			{"isv X-L overrides default", exchangeReq(st.CommonHost, "isv-portal", set("X-tenant-id", "isv", "session-token", "nope", "X-L", "en")), 400, "IDAAS.SDK.PARAM.0023", "Invalid or expired session token"},
		} {
			t.Run(test.name, func(t *testing.T) {
				h := st.SDKHeaders("")
				test.req.mutate(h)
				r := e.Do("POST", e.URL(test.req.host, test.req.path), h, test.req.body)
				wantError(t, r, test.status, test.code, test.msg)
				if strings.Contains(string(r.Body), validToken) {
					t.Error("the answer echoes a session token")
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
			})
		}
	})
}

func TestLoginSuccessShapes(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := st.New(t, backend)
		for _, test := range []struct{ host, client, path, user string }{
			{st.EIAMHost, "acme-portal", "/api/v2/sdk/login", "alice"},
			{st.EIAMHost, "acme-portal", "/api/v2/sdk/login", "ALICE"}, // user names are case-insensitive
			{st.CIAMHost, "shop-portal", "/api/v2/sdk/login", "alice"},
			{st.CIAMHost, "shop-portal", "/api/v2/sdk/login/auth", "alice@example.com"},
			{st.CIAMHost, "shop-portal", "/api/v2/sdk/login/auth", "+86-13800000000"},
			{st.CIAMHost, "shop-portal", "/api/v2/sdk/login/auth", "alice"},
		} {
			r := e.Do("POST", e.URL(test.host, test.path), st.SDKHeaders(test.client), `{"user_name":"`+test.user+`","password":"`+st.Password+`"}`)
			if r.Status != 200 || r.Str("status") != "SUCCESS" || len(r.Str("session_token")) < 22 || r.Num("expire") != 604800 || strings.Count(r.Str("id_token"), ".") != 2 {
				t.Errorf("%s %s %s: %d %s", test.host, test.path, test.user, r.Status, r.Body)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("login answer may be cached: %q", r.Header.Get("Cache-Control"))
			}
		}
		// /login does not match e-mail or mobile: only /login/auth does.
		r := e.Do("POST", e.URL(st.CIAMHost, "/api/v2/sdk/login"), st.SDKHeaders("shop-portal"), `{"user_name":"alice@example.com","password":"`+st.Password+`"}`)
		wantError(t, r, 400, "IDAAS.SDK.LOGIN.0001", "")
		// ISV mode: tenant by X-tenant-id on the common domain.
		h := st.SDKHeaders("isv-portal")
		h.Set("X-tenant-id", "isv")
		r = e.Do("POST", e.URL(st.CommonHost, "/api/v2/sdk/login"), h, `{"user_name":"alice","password":"`+st.Password+`"}`)
		if r.Status != 200 || r.Str("status") != "SUCCESS" {
			t.Errorf("isv login: %d %s", r.Status, r.Body)
		}
	})
}

func TestLockout(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for i := 1; i <= 4; i++ {
			wantError(t, e.Login(st.EIAMHost, "acme-portal", "bob", "wrong-password"), 400, "SDK.LOGIN.1010", "")
		}
		// The fifth failure within 15 minutes locks the account (contract §8).
		wantError(t, e.Login(st.EIAMHost, "acme-portal", "bob", "wrong-password"), 400, "SDK.LOGIN.1003",
			"The user has been locked due to too many unsuccessful login attempts. It will be unlocked in 15 minutes and 0 seconds")
		e.Clock.Advance(5*time.Minute + 30*time.Second)
		// Even the right password is refused while locked.
		wantError(t, e.Login(st.EIAMHost, "acme-portal", "bob", st.Password), 400, "SDK.LOGIN.1003",
			"The user has been locked due to too many unsuccessful login attempts. It will be unlocked in 9 minutes and 30 seconds")
		h := st.SDKHeaders("acme-portal")
		h.Set("X-L", "zh")
		r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/login"), h, `{"user_name":"bob","password":"x"}`)
		wantError(t, r, 400, "SDK.LOGIN.1003", "由于多次登录失败,用户已被锁定。它将在 9 分钟和 30 秒内解锁")
		// Other users and tenants are unaffected.
		e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		e.MustLogin(st.CIAMHost, "shop-portal", "bob")
		e.Clock.Advance(10 * time.Minute)
		e.MustLogin(st.EIAMHost, "acme-portal", "bob")

		// CIAM dialect; failures outside the window do not add up.
		for i := 0; i < 4; i++ {
			wantError(t, e.Login(st.CIAMHost, "shop-portal", "alice", "wrong-password"), 400, "IDAAS.SDK.LOGIN.0001", "")
		}
		e.Clock.Advance(16 * time.Minute)
		wantError(t, e.Login(st.CIAMHost, "shop-portal", "alice", "wrong-password"), 400, "IDAAS.SDK.LOGIN.0001", "")
		for i := 0; i < 3; i++ {
			wantError(t, e.Login(st.CIAMHost, "shop-portal", "alice", "wrong-password"), 400, "IDAAS.SDK.LOGIN.0001", "")
		}
		wantError(t, e.Login(st.CIAMHost, "shop-portal", "alice", "wrong-password"), 400, "IDAAS.SDK.LOGIN.0002", "")
	})
}

func TestDisabledUser(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "bob")
		ctx := t.Context()
		u, err := e.Server.Store().UserByUsername(ctx, "acme", "bob")
		if err != nil {
			t.Fatal(err)
		}
		u.Status = store.UserDisabled
		if err := e.Server.Store().UpdateUserProfile(ctx, u); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.Login(st.EIAMHost, "acme-portal", "bob", st.Password), 400, "SDK.LOGIN.1011", "The account has been disabled")
		// A wrong password does not reveal that the account is disabled.
		wantError(t, e.Login(st.EIAMHost, "acme-portal", "bob", "wrong-password"), 400, "SDK.LOGIN.1010", "")
		wantError(t, e.Exchange(st.EIAMHost, "acme-portal", tok), 400, "SDK.COMMON.1006", "")
	})
}

func TestPasswordExpiry(t *testing.T) {
	maxAge := func(c *config.Config) {
		for i := range c.Bootstrap.Tenants {
			c.Bootstrap.Tenants[i].PasswordMaxAge = 90 * 24 * time.Hour
			c.Bootstrap.Tenants[i].PasswordWarnBefore = 7 * 24 * time.Hour
		}
	}
	withEnv(t, func(t *testing.T, e *st.Env) {
		state := func(path, token string, extra string) st.Response {
			return e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/login/state/"+path), st.SDKHeaders("acme-portal"), `{"state_token":"`+token+`"`+extra+`}`)
		}
		e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		e.Clock.Advance(85 * 24 * time.Hour)
		r := e.Login(st.EIAMHost, "acme-portal", "alice", st.Password)
		if r.Status != 200 || r.Str("status") != "PASSWORD_WARN" || r.Str("state_token") == "" || r.Str("session_token") != "" {
			t.Fatalf("warn: %d %s", r.Status, r.Body)
		}
		var policy map[string]any
		if err := json.Unmarshal([]byte(r.Str("data")), &policy); err != nil || policy["minLength"] != float64(8) {
			t.Fatalf("data %q is not the password policy: %v", r.Str("data"), err)
		}
		warnToken := r.Str("state_token")
		// Bound to the device: another fingerprint cannot use it (and spends it).
		other := st.SDKHeaders("acme-portal")
		other.Set("X-device-fingerprint", "other")
		wantError(t, e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/login/state/skip"), other, `{"state_token":"`+warnToken+`"}`), 400, "SDK.COMMON.1006", "state_token parameter error")
		r = e.Login(st.EIAMHost, "acme-portal", "alice", st.Password)
		warnToken = r.Str("state_token")
		r = state("skip", warnToken, "")
		if r.Status != 200 || r.Str("status") != "SUCCESS" || r.Str("session_token") == "" {
			t.Fatalf("skip: %d %s", r.Status, r.Body)
		}
		if x := e.Exchange(st.EIAMHost, "acme-portal", r.Str("session_token")); x.Status != 200 {
			t.Fatalf("session from skip: %d %s", x.Status, x.Body)
		}
		// Single use.
		wantError(t, state("skip", warnToken, ""), 400, "SDK.COMMON.1006", "state_token parameter error")
		// Five minutes of life.
		r = e.Login(st.EIAMHost, "acme-portal", "alice", st.Password)
		e.Clock.Advance(5*time.Minute + time.Second)
		wantError(t, state("skip", r.Str("state_token"), ""), 400, "SDK.COMMON.1006", "")

		e.Clock.Advance(6 * 24 * time.Hour)
		r = e.Login(st.EIAMHost, "acme-portal", "alice", st.Password)
		if r.Status != 200 || r.Str("status") != "PASSWORD_EXPIRED" || r.Str("state_token") == "" {
			t.Fatalf("expired: %d %s", r.Status, r.Body)
		}
		expired := r.Str("state_token")
		// A weak password is refused without spending the state token.
		wantError(t, state("change-password", expired, `,"new_password":"short"`), 400, "SDK.LOGIN.1012", "The new password does not meet the password policy")
		r = state("change-password", expired, `,"new_password":"Brand-New-Secret-1"`)
		if r.Status != 200 || r.Str("status") != "SUCCESS" || r.Str("session_token") == "" {
			t.Fatalf("change password: %d %s", r.Status, r.Body)
		}
		wantError(t, e.Login(st.EIAMHost, "acme-portal", "alice", st.Password), 400, "SDK.LOGIN.1010", "")
		if r := e.Login(st.EIAMHost, "acme-portal", "alice", "Brand-New-Secret-1"); r.Str("status") != "SUCCESS" {
			t.Fatalf("login with the new password: %d %s", r.Status, r.Body)
		}
		// An expired password cannot be skipped.
		e.Clock.Advance(91 * 24 * time.Hour)
		r = e.Login(st.EIAMHost, "acme-portal", "alice", "Brand-New-Secret-1")
		wantError(t, state("skip", r.Str("state_token"), ""), 400, "SDK.COMMON.1006", "")
		// Missing fields.
		wantError(t, e.Do("POST", e.URL(st.CIAMHost, "/api/v2/sdk/login/state/change-password"), st.SDKHeaders("shop-portal"), `{"state_token":"x"}`), 400, "IDAAS.SDK.PARAM.0001", "Parameter new_password cannot be empty")
	}, maxAge)
}

func TestExchangeWithoutRotation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		e.Clock.Advance(100 * time.Second)
		r := e.Exchange(st.EIAMHost, "acme-portal", tok)
		if r.Status != 200 || r.Str("session_token") != tok || r.Num("expire") != 604800-100 || r.Str("id_token") == "" {
			t.Fatalf("got %d %s, want the same token with 604700 s left", r.Status, r.Body)
		}
		// Any application of the tenant may exchange the session (SSO),
		// and the CIAM header name works on an EIAM tenant too.
		h := st.SDKHeaders("acme-es256")
		h.Set("session-token", tok)
		if r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/sso/session-token/id-token"), h, ""); r.Status != 200 || r.Str("session_token") != tok {
			t.Fatalf("exchange by another app: %d %s", r.Status, r.Body)
		}
		// Both headers with the same value are fine.
		h.Set("X-session-token", tok)
		if r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/sso/session-token/id-token"), h, ""); r.Status != 200 {
			t.Fatalf("both headers: %d %s", r.Status, r.Body)
		}
		// Device binding off: another device may use the session.
		ub := e.MustLogin(st.EIAMHost, "acme-unbound", "alice")
		h = st.SDKHeaders("acme-unbound")
		h.Set("X-session-token", ub)
		h.Set("X-device-fingerprint", "another-device")
		if r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/sso/session-token/id-token"), h, ""); r.Status != 200 {
			t.Fatalf("unbound app from another device: %d %s", r.Status, r.Body)
		}
		// Expiry: EIAM says expired, CIAM says invalid or expired.
		e.Clock.Advance(604800 * time.Second)
		wantError(t, e.Exchange(st.EIAMHost, "acme-portal", tok), 400, "SDK.COMMON.1005", "session_token has expired")
		ctok := ""
		{
			r := e.Login(st.CIAMHost, "shop-portal", "alice", st.Password)
			ctok = r.Str("session_token")
		}
		e.Clock.Advance(604801 * time.Second)
		h = st.SDKHeaders("shop-portal")
		h.Set("session-token", ctok)
		wantError(t, e.Do("POST", e.URL(st.CIAMHost, "/api/v2/sdk/sso/session-token/id-token"), h, ""), 400, "IDAAS.SDK.PARAM.0023", "Invalid or expired session token")
	})
}

func TestExchangeWithRotation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		old := e.MustLogin(st.EIAMHost, "acme-rotating", "alice")
		e.Clock.Advance(time.Hour)
		r := e.Exchange(st.EIAMHost, "acme-rotating", old)
		next := r.Str("session_token")
		if r.Status != 200 || next == "" || next == old || r.Num("expire") != 604800 {
			t.Fatalf("rotation: %d %s", r.Status, r.Body)
		}
		// Within the grace period the old token gets the same successor.
		e.Clock.Advance(20 * time.Second)
		r = e.Exchange(st.EIAMHost, "acme-rotating", old)
		if r.Status != 200 || r.Str("session_token") != next || r.Num("expire") != 604780 {
			t.Fatalf("retry within grace: %d %s, want %s", r.Status, r.Body, next)
		}
		// After it, the old token is refused; the successor works and rotates.
		e.Clock.Advance(11 * time.Second)
		wantError(t, e.Exchange(st.EIAMHost, "acme-rotating", old), 400, "SDK.COMMON.1006", "")
		r = e.Exchange(st.EIAMHost, "acme-rotating", next)
		if r.Status != 200 || r.Str("session_token") == next || r.Str("session_token") == old {
			t.Fatalf("successor: %d %s", r.Status, r.Body)
		}
		// The grandparent is dead even within the new grace period.
		wantError(t, e.Exchange(st.EIAMHost, "acme-rotating", old), 400, "SDK.COMMON.1006", "")
		// An application without auto-refresh does not rotate the session.
		third := r.Str("session_token")
		if r := e.Exchange(st.EIAMHost, "acme-portal", third); r.Str("session_token") != third {
			t.Fatalf("exchange through a non-rotating app rotated: %s", r.Body)
		}
	})
}

// TestConcurrentExchange: 100 concurrent exchanges of one token all
// succeed and all get the same successor (issue "Sesame core").
func TestConcurrentExchange(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-rotating", "alice")
		const n = 100
		var wg sync.WaitGroup
		results := make([]st.Response, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = e.Exchange(st.EIAMHost, "acme-rotating", tok)
			}()
		}
		wg.Wait()
		successors := map[string]int{}
		for i, r := range results {
			if r.Status != 200 {
				t.Fatalf("exchange %d: %d %s", i, r.Status, r.Body)
			}
			successors[r.Str("session_token")]++
		}
		if len(successors) != 1 {
			t.Fatalf("%d different successors: %v", len(successors), successors)
		}
		for s := range successors {
			if s == tok {
				t.Fatal("the token was not rotated")
			}
			if r := e.Exchange(st.EIAMHost, "acme-rotating", s); r.Status != 200 {
				t.Fatalf("successor refused: %d %s", r.Status, r.Body)
			}
		}
	})
}

func TestLogout(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		logout := func(host, client, tok string) st.Response {
			h := st.SDKHeaders(client)
			h.Set("X-session-token", tok)
			return e.Do("POST", e.URL(host, "/api/v2/sdk/logout"), h, "")
		}
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		other := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		if r := logout(st.EIAMHost, "acme-portal", tok); r.Status != 200 || len(r.Body) != 0 {
			t.Fatalf("logout: %d %q", r.Status, r.Body)
		}
		wantError(t, e.Exchange(st.EIAMHost, "acme-portal", tok), 400, "SDK.COMMON.1006", "")
		wantError(t, logout(st.EIAMHost, "acme-portal", tok), 400, "SDK.COMMON.1006", "")
		// Only that session ended.
		if r := e.Exchange(st.EIAMHost, "acme-portal", other); r.Status != 200 {
			t.Fatalf("other session: %d %s", r.Status, r.Body)
		}
		// A session of one tenant cannot be ended through another.
		wantError(t, logout(st.CIAMHost, "shop-portal", other), 400, "IDAAS.SDK.PARAM.0023", "")
		wantError(t, logout(st.EIAMHost, "acme-portal", ""), 400, "SDK.COMMON.1001", "")
		// A rotated token within its grace period ends the session too.
		old := e.MustLogin(st.EIAMHost, "acme-rotating", "alice")
		next := e.Exchange(st.EIAMHost, "acme-rotating", old).Str("session_token")
		if r := logout(st.EIAMHost, "acme-rotating", old); r.Status != 200 {
			t.Fatalf("logout with the rotated token: %d %s", r.Status, r.Body)
		}
		wantError(t, e.Exchange(st.EIAMHost, "acme-rotating", next), 400, "SDK.COMMON.1006", "")
	})
}

func TestServerDate(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		r := e.Do("GET", e.URL(st.CIAMHost, "/api/v2/sdk/server-date"), st.SDKHeaders("shop-portal"), "")
		if r.Status != 200 || r.Str("timestamp") != strconv.FormatInt(e.Clock.Now().UnixMilli(), 10) {
			t.Fatalf("got %d %s, want %d", r.Status, r.Body, e.Clock.Now().UnixMilli())
		}
		wantError(t, e.Do("GET", e.URL(st.CIAMHost, "/api/v2/sdk/server-date"), headers(), ""), 400, "IDAAS.SDK.PARAM.0002", "")
		if r := e.Do("GET", e.URL(st.CIAMHost, "/api/v2/sdk/login"), st.SDKHeaders("shop-portal"), ""); r.Status != 405 {
			t.Fatalf("GET login: %d", r.Status)
		}
	})
}

// TestStorageDown: with the database gone every endpoint answers the
// system-busy error of its dialect, never a hang or a crash.
func TestStorageDown(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		bearer := e.TenantToken(st.EIAMHost, "acme-portal")
		e.MustLogin(st.CIAMHost, "shop-portal", "alice") // the server knows the CIAM tenant
		e.Server.Store().Close()
		wantError(t, e.Login(st.EIAMHost, "acme-portal", "alice", st.Password), 500, "SDK.COMMON.1008", "System busy, please try again later")
		wantError(t, e.Exchange(st.EIAMHost, "acme-portal", tok), 500, "SDK.COMMON.1008", "")
		h := st.SDKHeaders("shop-portal")
		h.Set("X-L", "zh")
		wantError(t, e.Do("POST", e.URL(st.CIAMHost, "/api/v2/sdk/login"), h, `{"user_name":"a","password":"b"}`), 400, "IDAAS.SDK.COM.0002", "系统繁忙,请稍后再试")
		wantOAuthError(t, e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/token"), headers("Content-Type", "application/x-www-form-urlencoded"), form("grant_type", "client_credentials", "client_id", "acme-portal", "client_secret", st.Secret)), 503, "temporarily_unavailable")
		wantOAuthError(t, e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/refresh"), headers("Authorization", "Bearer "+bearer, "Content-Type", "application/json"), "{}"), 503, "temporarily_unavailable")
		if r := e.Do("GET", e.URL(st.EIAMHost, "/readyz"), nil, ""); r.Status != 503 {
			t.Fatalf("readyz with the store down: %d", r.Status)
		}
		if r := e.Do("GET", e.URL(st.EIAMHost, "/healthz"), nil, ""); r.Status != 200 {
			t.Fatalf("healthz: %d", r.Status)
		}
	})
}

func TestOperationsEndpoints(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		e.Login(st.EIAMHost, "acme-portal", "alice", "wrong-password")
		if r := e.Do("GET", e.URL(st.EIAMHost, "/readyz"), nil, ""); r.Status != 200 {
			t.Fatalf("readyz: %d %s", r.Status, r.Body)
		}
		r := e.Do("GET", e.URL(st.EIAMHost, "/metrics"), nil, "")
		for _, want := range []string{
			`sesame_logins_total{outcome="success"} 1`,
			`sesame_logins_total{outcome="bad_credentials"} 1`,
			`sesame_tokens_issued_total{kind="id_token",outcome="issued"}`,
			`sesame_http_requests_total{code="200",route="POST /api/v2/sdk/login"}`,
			`sesame_http_request_duration_seconds_bucket{route="POST /api/v2/sdk/login"`,
		} {
			if !strings.Contains(string(r.Body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		// SQLite's write queue: the login's session went through it.
		queue := regexp.MustCompile(`(?m)^sesame_sqlite_write_statements_total ([0-9.e+]+)$`).FindSubmatch(r.Body)
		switch sqlite := e.Config.Storage.Driver == sqlstore.DriverSQLite; {
		case sqlite && (queue == nil || string(queue[1]) == "0"):
			t.Errorf("metrics: sesame_sqlite_write_statements_total %q, want > 0", queue)
		case !sqlite && queue != nil:
			t.Errorf("metrics on PostgreSQL export SQLite's write queue: %s", queue[0])
		}
		// Its faults, none on a sound disk.
		checkNoWriteFaults(t, e, r.Body)
		if r.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
	})
}

// checkNoWriteFaults checks the /metrics body of e's server for
// sesame_sqlite_write_faults_total: one series per kind on SQLite, none on
// PostgreSQL, and every count zero (the store's disk is sound).
func checkNoWriteFaults(t *testing.T, e *st.Env, metrics []byte) {
	t.Helper()
	faults := regexp.MustCompile(`(?m)^sesame_sqlite_write_faults_total\{reason="([a-z_]+)"\} (\S+)$`).FindAllSubmatch(metrics, -1)
	if sqlite := e.Config.Storage.Driver == sqlstore.DriverSQLite; sqlite != (len(faults) == 5) {
		t.Errorf("metrics: %d series of sesame_sqlite_write_faults_total, want 5 on SQLite and none on PostgreSQL", len(faults))
	}
	for _, f := range faults {
		if string(f[2]) != "0" {
			t.Errorf("metrics: %s on a sound disk", f[0])
		}
	}
}
