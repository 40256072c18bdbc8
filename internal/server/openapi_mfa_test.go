package server_test

import (
	"net/http"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/mfa"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
)

// The second factor's part of TestOpenAPI: the MFA login step and the
// TOTP endpoints, every answer of the document, on tenants whose MFA
// policy is on (copies of acme and shop, so that the other sections keep
// logging in with a password alone).

// mfaEditions are the copies: policy optional.
var mfaEditions = []edition{
	{"eiam", "mfa." + st.EIAMHost, "acme-mfa"},
	{"ciam", "mfa." + st.CIAMHost, "shop-mfa"},
}

// mfaRequiredHost is a copy of acme with the policy required.
const mfaRequiredHost = "mfareq." + st.EIAMHost

// mfaTenants adds the copies to the bootstrap configuration.
func mfaTenants(cfg *config.Config) {
	var add []config.Tenant
	for _, tn := range cfg.Bootstrap.Tenants {
		if tn.ID != "acme" && tn.ID != "shop" {
			continue
		}
		copyOf := func(id, domain, policy string) config.Tenant {
			c := tn
			c.ID, c.Domains, c.MFA = id, []string{domain}, policy
			c.Applications = nil
			for _, a := range tn.Applications {
				a.ClientID = id + strings.TrimPrefix(a.ClientID, tn.ID)
				c.Applications = append(c.Applications, a)
			}
			return c
		}
		add = append(add, copyOf(tn.ID+"-mfa", "mfa."+tn.Domains[0], store.MFAOptional))
		if tn.ID == "acme" {
			add = append(add, copyOf("acme-mfareq", mfaRequiredHost, store.MFARequired))
		}
	}
	cfg.Bootstrap.Tenants = append(cfg.Bootstrap.Tenants, add...)
}

var mfaOps = []sdkOp{
	{"sdkLoginMfa", "POST", "/api/v2/sdk/login/state/mfa", `{"state_token":"nope","code":"123456"}`, false},
	{"sdkTotpStatus", "GET", "/api/v2/sdk/mfa/totp", "", false},
	{"sdkTotpEnroll", "POST", "/api/v2/sdk/mfa/totp/enroll", "", false},
	{"sdkTotpConfirm", "POST", "/api/v2/sdk/mfa/totp/confirm", `{"state_token":"nope","code":"123456"}`, false},
	{"sdkTotpDisable", "POST", "/api/v2/sdk/mfa/totp/disable", `{"code":"123456"}`, false},
}

// totpCode is the current code of key on the server's clock.
func (x *oapi) totpCode(key []byte) string { return mfa.Code(key, mfa.Step(x.e.Clock.Now())) }

// secretOf decodes the secret of an enrolment answer.
func (x *oapi) secretOf(obj map[string]any) []byte {
	x.t.Helper()
	s, _ := obj["secret"].(string)
	key, err := mfa.DecodeSecret(s)
	if err != nil || len(key) != mfa.SecretBytes {
		x.t.Fatalf("enrolment secret %q: %v", s, err)
	}
	return key
}

// sdkMFA: every documented answer of the MFA endpoints.
func (x *oapi) sdkMFA() {
	const (
		step            = "/api/v2/sdk/login/state/mfa"
		status          = "/api/v2/sdk/mfa/totp"
		enroll, confirm = "/api/v2/sdk/mfa/totp/enroll", "/api/v2/sdk/mfa/totp/confirm"
		disable         = "/api/v2/sdk/mfa/totp/disable"
		loginPath       = "/api/v2/sdk/login"
	)
	for i, ed := range mfaEditions {
		client := ed.client("portal")
		header := ed.code("X-session-token", "session-token")
		malformed := ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004")
		missing := ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0001")
		stateInvalid := ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0005")
		badCode := ed.code("SDK.LOGIN.1013", "IDAAS.SDK.LOGIN.0005")
		locked := ed.code("SDK.LOGIN.1003", "IDAAS.SDK.LOGIN.0002")
		sess := func(tok string, kv ...string) http.Header {
			return sdkHeaders(client, append([]string{header, tok}, kv...)...)
		}
		send := func(what, method, path string, h http.Header, body string, breaks bool, status int, code string) st.Response {
			x.t.Helper()
			r := x.do(call{method, ed.host, path, h, body, breaks})
			x.want(ed.name+" "+method+" "+path+" "+what, r, status, code)
			return r
		}
		login := func(user string) st.Response {
			x.t.Helper()
			return x.do(call{"POST", ed.host, loginPath, sdkHeaders(client), jsonBody("user_name", user, "password", st.Password), false})
		}

		// Not enrolled under "optional": a password login.
		tok := x.login(ed, client, "alice", st.Password)
		r := send("before enrolment", "GET", status, sess(tok), "", false, 200, "")
		if r.Str("policy") != "optional" || r.JSON["enrolled"] != false {
			x.t.Errorf("%s status: %s", ed.name, r.Body)
		}
		// The session header's checks.
		for _, p := range []struct{ method, path, body string }{{"GET", status, ""}, {"POST", enroll, ""}, {"POST", confirm, jsonBody("state_token", "x", "code", "123456")}, {"POST", disable, jsonBody("code", "123456")}} {
			send("missing session token", p.method, p.path, sdkHeaders(client), p.body, false, 400, ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0022"))
			send("oversized session token", p.method, p.path, sess(strings.Repeat("t", 600)), p.body, true, 400, malformed)
			send("unknown session token", p.method, p.path, sess("nope"), p.body, false, 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0023"))
		}
		send("not enrolled", "POST", disable, sess(tok), jsonBody("code", "123456"), false, 400, ed.code("SDK.LOGIN.1014", "IDAAS.SDK.LOGIN.0006"))

		// Enrolment with the session.
		r = send("enrolment", "POST", enroll, sess(tok), "", false, 200, "")
		key, enrolTok := x.secretOf(r.JSON), r.Str("state_token")
		// A second enrolment under way, to be refused once the first is
		// confirmed.
		r = send("second enrolment", "POST", enroll, sess(tok), "", false, 200, "")
		key2, enrolTok2 := x.secretOf(r.JSON), r.Str("state_token")
		send("missing code", "POST", confirm, sess(tok), jsonBody("state_token", enrolTok), true, 400, missing)
		send("code a number", "POST", confirm, sess(tok), `{"state_token":"x","code":123456}`, true, 400, malformed)
		send("unknown state token", "POST", confirm, sess(tok), jsonBody("state_token", "nope", "code", "123456"), false, 400, stateInvalid)
		send("wrong code", "POST", confirm, sess(tok), jsonBody("state_token", enrolTok, "code", "000000"), false, 400, badCode)
		r = send("right code", "POST", confirm, sess(tok), jsonBody("state_token", enrolTok, "code", x.totpCode(key)), false, 200, "")
		codes, _ := r.JSON["recovery_codes"].([]any)
		if len(codes) != mfa.RecoveryCodeCount {
			x.t.Fatalf("%s confirm: %s", ed.name, r.Body)
		}
		send("the other enrolment", "POST", confirm, sess(tok), jsonBody("state_token", enrolTok2, "code", x.totpCode(key2)), false, 400, ed.code("SDK.LOGIN.1015", "IDAAS.SDK.LOGIN.0007"))
		send("enrolled already", "POST", enroll, sess(tok), "", false, 400, ed.code("SDK.LOGIN.1015", "IDAAS.SDK.LOGIN.0007"))
		r = send("enrolled", "GET", status, sess(tok), "", false, 200, "")
		if r.JSON["enrolled"] != true || r.Num("recovery_codes_left") != 10 {
			x.t.Errorf("%s status after enrolment: %s", ed.name, r.Body)
		}

		// The login step.
		r = login("alice")
		if r.Status != 200 || r.Str("status") != "MFA_REQUIRED" {
			x.t.Fatalf("%s login of an enrolled user: %d %s", ed.name, r.Status, r.Body)
		}
		stateTok := r.Str("state_token")
		send("missing code", "POST", step, sdkHeaders(client), jsonBody("state_token", stateTok), true, 400, missing)
		send("oversized code", "POST", step, sdkHeaders(client), jsonBody("state_token", stateTok, "code", strings.Repeat("1", mfa.MaxCodeLen+1)), true, 400, malformed)
		send("wrong content type", "POST", step, sdkHeaders(client, "Content-Type", "text/plain"), jsonBody("state_token", stateTok, "code", "1"), true, 400, malformed)
		send("unknown state token", "POST", step, sdkHeaders(client), jsonBody("state_token", "nope", "code", "123456"), false, 400, stateInvalid)
		send("replayed code", "POST", step, sdkHeaders(client), jsonBody("state_token", stateTok, "code", x.totpCode(key)), false, 400, badCode)
		x.e.Clock.Advance(mfa.Period)
		r = send("right code", "POST", step, sdkHeaders(client), jsonBody("state_token", stateTok, "code", x.totpCode(key)), false, 200, "")
		if r.Str("status") != "SUCCESS" {
			x.t.Errorf("%s MFA login: %s", ed.name, r.Body)
		}
		r = login("alice")
		send("recovery code", "POST", step, sdkHeaders(client), jsonBody("state_token", r.Str("state_token"), "code", codes[0].(string)), false, 200, "")

		// Removal: a wrong code, then a recovery code.
		send("wrong code", "POST", disable, sess(tok), jsonBody("code", "000000"), false, 400, badCode)
		send("missing code", "POST", disable, sess(tok), "{}", true, 400, missing)
		send("recovery code", "POST", disable, sess(tok), jsonBody("code", codes[1].(string)), false, 200, "")

		// Locked and disabled accounts, with bob.
		bobTok := x.login(ed, client, "bob", st.Password)
		r = send("bob's enrolment", "POST", enroll, sess(bobTok), "", false, 200, "")
		bobKey, bobEnrol := x.secretOf(r.JSON), r.Str("state_token")
		r = send("bob's second enrolment", "POST", enroll, sess(bobTok), "", false, 200, "")
		bobEnrol2 := r.Str("state_token")
		send("bob's confirmation", "POST", confirm, sess(bobTok), jsonBody("state_token", bobEnrol, "code", x.totpCode(bobKey)), false, 200, "")
		r = login("bob")
		bobState := r.Str("state_token")
		x.setUserStatus(ed, "bob", store.UserDisabled)
		send("disabled account", "POST", step, sdkHeaders(client), jsonBody("state_token", bobState, "code", "123456"), false, 400, ed.code("SDK.LOGIN.1011", "IDAAS.SDK.LOGIN.0003"))
		x.setUserStatus(ed, "bob", store.UserActive)
		for range 3 {
			send("bob wrong code", "POST", step, sdkHeaders(client), jsonBody("state_token", bobState, "code", "000000"), false, 400, badCode)
		}
		// The fifth failure (the disabled attempt counted none) locks.
		x.do(call{"POST", ed.host, loginPath, sdkHeaders(client), jsonBody("user_name", "bob", "password", "wrong-password"), false})
		send("locking code", "POST", step, sdkHeaders(client), jsonBody("state_token", bobState, "code", "000000"), false, 400, locked)
		send("locked account", "POST", confirm, sess(bobTok), jsonBody("state_token", bobEnrol2, "code", "123456"), false, 400, locked)
		send("locked account", "POST", disable, sess(bobTok), jsonBody("code", "123456"), false, 400, locked)
		if i == len(mfaEditions)-1 {
			x.e.Clock.Advance(16 * time.Minute)
		}
	}

	// "required": the enrolment during the login, and its recovery codes.
	ed := edition{"eiam", mfaRequiredHost, "acme-mfareq"}
	r := x.do(call{"POST", ed.host, loginPath, sdkHeaders(ed.client("portal")), jsonBody("user_name", "alice", "password", st.Password), false})
	enr, _ := r.JSON["mfa_enrollment"].(map[string]any)
	if r.Status != 200 || r.Str("status") != "MFA_REQUIRED" || enr == nil {
		x.t.Fatalf("required: %d %s", r.Status, r.Body)
	}
	key := x.secretOf(enr)
	r = x.do(call{"POST", ed.host, step, sdkHeaders(ed.client("portal")), jsonBody("state_token", r.Str("state_token"), "code", x.totpCode(key)), false})
	if codes, _ := r.JSON["recovery_codes"].([]any); r.Status != 200 || r.Str("status") != "SUCCESS" || len(codes) != mfa.RecoveryCodeCount {
		x.t.Errorf("required, enrolling login: %d %s", r.Status, r.Body)
	}
	for _, e := range editions {
		tok := x.login(e, e.client("portal"), "alice", st.Password)
		x.want(e.name+" enrolment with the policy off", x.do(call{"POST", e.host, enroll, sdkHeaders(e.client("portal"), e.code("X-session-token", "session-token"), tok), "", false}), 400, e.code("SDK.LOGIN.1016", "IDAAS.SDK.LOGIN.0008"))
	}
}

// expiredMFA: the session endpoints with an expired session token.
func (x *oapi) expiredMFA(ed edition, client, tok string) {
	x.t.Helper()
	h := sdkHeaders(client, ed.code("X-session-token", "session-token"), tok)
	expired := ed.code("SDK.COMMON.1005", "IDAAS.SDK.PARAM.0023")
	for _, c := range []call{
		{"GET", ed.host, "/api/v2/sdk/mfa/totp", h, "", false},
		{"POST", ed.host, "/api/v2/sdk/mfa/totp/enroll", h, "", false},
		{"POST", ed.host, "/api/v2/sdk/mfa/totp/confirm", h, jsonBody("state_token", "x", "code", "123456"), false},
		{"POST", ed.host, "/api/v2/sdk/mfa/totp/disable", h, jsonBody("code", "123456"), false},
	} {
		x.want(ed.name+" "+c.method+" "+c.path+" with an expired session", x.do(c), 400, expired)
	}
}
