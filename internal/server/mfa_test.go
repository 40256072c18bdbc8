package server_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/mfa"
	"github.com/sesame-idp/sesame/internal/server"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/testio"
)

// The second factor (TOTP, RFC 6238) in the SDK flow: contract §2.1
// MFA_REQUIRED and POST /api/v2/sdk/login/state/mfa, the enrolment during
// a login of a "required" tenant, the session-authenticated enrolment
// endpoints of an "optional" one, recovery codes, replay, the attempt
// limit of a state token, the lockout, and tenant isolation.

// mfaPolicy is a mutate function giving the fixture tenants policies:
// tenant id -> policy.
func mfaPolicy(policies map[string]string) func(*config.Config) {
	return func(c *config.Config) {
		for i, tn := range c.Bootstrap.Tenants {
			if p, ok := policies[tn.ID]; ok {
				c.Bootstrap.Tenants[i].MFA = p
			}
		}
	}
}

// mfaDialect holds the codes of one edition.
type mfaDialect struct {
	host, tenant, badCode, stateInvalid, locked, unavailable, enrolled, notEnrolled, busy string
}

func (d mfaDialect) client(kind string) string { return d.tenant + "-" + kind }

var mfaDialects = []mfaDialect{
	{st.EIAMHost, "acme", "SDK.LOGIN.1013", "SDK.COMMON.1006", "SDK.LOGIN.1003", "SDK.LOGIN.1016", "SDK.LOGIN.1015", "SDK.LOGIN.1014", "SDK.COMMON.1008"},
	{st.CIAMHost, "shop", "IDAAS.SDK.LOGIN.0005", "IDAAS.SDK.PARAM.0005", "IDAAS.SDK.LOGIN.0002", "IDAAS.SDK.LOGIN.0008", "IDAAS.SDK.LOGIN.0007", "IDAAS.SDK.LOGIN.0006", "IDAAS.SDK.COM.0002"},
}

// mfaCode posts a code to the MFA login step.
func mfaCode(e *st.Env, host, client, stateToken, code string) st.Response {
	e.T.Helper()
	b, _ := json.Marshal(map[string]string{"state_token": stateToken, "code": code})
	return e.Do("POST", e.URL(host, "/api/v2/sdk/login/state/mfa"), st.SDKHeaders(client), string(b))
}

// wantMFARequired checks a login answer asks for a code, with an
// enrolment or without, and returns it.
func wantMFARequired(t *testing.T, r st.Response, enrol bool) st.Response {
	t.Helper()
	_, hasEnrollment := r.JSON["mfa_enrollment"]
	if r.Status != 200 || r.Str("status") != "MFA_REQUIRED" || len(r.Str("state_token")) < 22 || hasEnrollment != enrol ||
		r.Str("session_token") != "" || r.Str("id_token") != "" {
		t.Fatalf("want MFA_REQUIRED (enrolment: %v), got %d %s", enrol, r.Status, r.Body)
	}
	return r
}

// enrollmentSecret returns the secret of an answer's mfa_enrollment (or
// of the enrolment endpoint's answer), checking its URI carries the same
// secret.
func enrollmentSecret(t *testing.T, obj map[string]any, issuer, account string) []byte {
	t.Helper()
	s, _ := obj["secret"].(string)
	uri, _ := obj["otpauth_uri"].(string)
	key, err := mfa.DecodeSecret(s)
	if err != nil || len(key) != mfa.SecretBytes {
		t.Fatalf("enrolment secret %q: %v", s, err)
	}
	if uri != mfa.URI(issuer, account, key) {
		t.Fatalf("otpauth URI %q, want %q", uri, mfa.URI(issuer, account, key))
	}
	return key
}

// codeAt is the TOTP code of key at the server's clock moved by d.
func codeAt(e *st.Env, key []byte, d time.Duration) string {
	return mfa.Code(key, mfa.Step(e.Clock.Now().Add(d)))
}

func wantSuccess(t *testing.T, r st.Response) string {
	t.Helper()
	if r.Status != 200 || r.Str("status") != "SUCCESS" || r.Str("session_token") == "" || strings.Count(r.Str("id_token"), ".") != 2 || r.Num("expire") <= 0 {
		t.Fatalf("want SUCCESS, got %d %s", r.Status, r.Body)
	}
	return r.Str("session_token")
}

func recoveryCodes(t *testing.T, v any) []string {
	t.Helper()
	list, _ := v.([]any)
	var out []string
	for _, c := range list {
		s, _ := c.(string)
		out = append(out, s)
	}
	if len(out) != mfa.RecoveryCodeCount {
		t.Fatalf("recovery codes %v, want %d", v, mfa.RecoveryCodeCount)
	}
	return out
}

// sessionCall calls a session-authenticated SDK endpoint.
func sessionCall(e *st.Env, method, host, client, tok, path, body string) st.Response {
	e.T.Helper()
	h := st.SDKHeaders(client)
	h.Set("X-session-token", tok)
	if body == "" {
		h.Del("Content-Type")
	}
	return e.Do(method, e.URL(host, path), h, body)
}

func jsonOf(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestMFARequired: on a "required" tenant a user without an authenticator
// enrols during the login (the first valid code confirms it and the
// answer carries the recovery codes once); later logins ask for a code; a
// code is accepted one step either side of now, never twice; recovery
// codes work once; the state token is single-use.
func TestMFARequired(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, d := range mfaDialects {
			client := d.client("portal")
			r := wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), true)
			enr, _ := r.JSON["mfa_enrollment"].(map[string]any)
			key := enrollmentSecret(t, enr, map[string]string{"acme": "Acme", "shop": "Shop"}[d.tenant], "alice")
			stateTok := r.Str("state_token")
			// Wrong codes, and recovery-shaped ones (there are none yet),
			// do not confirm the enrolment.
			wantError(t, mfaCode(e, d.host, client, stateTok, "000000"), 400, d.badCode, "")
			wantError(t, mfaCode(e, d.host, client, stateTok, "abcd-efgh-ijkl"), 400, d.badCode, "")
			wantError(t, mfaCode(e, d.host, client, stateTok, codeAt(e, key, 2*mfa.Period)), 400, d.badCode, "")
			first := codeAt(e, key, 0)
			r = mfaCode(e, d.host, client, stateTok, first)
			tok := wantSuccess(t, r)
			codes := recoveryCodes(t, r.JSON["recovery_codes"])
			if r := e.Exchange(d.host, client, tok); r.Status != 200 {
				t.Fatalf("exchange after an MFA login: %d %s", r.Status, r.Body)
			}
			// Single use.
			wantError(t, mfaCode(e, d.host, client, stateTok, first), 400, d.stateInvalid, "")

			// Enrolled: the next login asks for a code, without secret.
			r = wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false)
			// The code that confirmed the enrolment is spent (RFC 6238 §5.2).
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), first), 400, d.badCode, "")
			// One step of drift ahead is accepted...
			r2 := mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, mfa.Period))
			if _, has := r2.JSON["recovery_codes"]; has {
				t.Errorf("recovery codes shown again: %s", r2.Body)
			}
			wantSuccess(t, r2)
			// ...and then every code up to that step is a replay, even one
			// step behind.
			e.Clock.Advance(mfa.Period)
			r = wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false)
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, -mfa.Period)), 400, d.badCode, "")
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, 0)), 400, d.badCode, "")
			e.Clock.Advance(mfa.Period)
			wantSuccess(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, 0)))

			// A recovery code, typed loosely, works once.
			r = wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false)
			wantSuccess(t, mfaCode(e, d.host, client, r.Str("state_token"), " "+strings.ToUpper(codes[0])+" "))
			r = wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false)
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), codes[0]), 400, d.badCode, "")
			wantSuccess(t, mfaCode(e, d.host, client, r.Str("state_token"), strings.ReplaceAll(codes[1], "-", "")))

			// The status endpoint tells what is left.
			s := sessionCall(e, "GET", d.host, client, tok, "/api/v2/sdk/mfa/totp", "")
			if s.Status != 200 || s.Str("policy") != "required" || s.JSON["enrolled"] != true || s.Num("recovery_codes_left") != 8 || s.Num("enrolled_at") <= 0 {
				t.Errorf("status: %d %s", s.Status, s.Body)
			}
			// Bob enrols on his own; the unified login asks too.
			r = wantMFARequired(t, e.Do("POST", e.URL(d.host, "/api/v2/sdk/login/auth"), st.SDKHeaders(client), jsonOf("user_name", "bob", "password", st.Password)), true)
			if r.Str("state_token") == stateTok {
				t.Error("state tokens repeat")
			}
		}
	}, mfaPolicy(map[string]string{"acme": "required", "shop": "required"}))
}

// enrolViaLogin enrols user on a "required" tenant and returns the key.
func enrolViaLogin(t *testing.T, e *st.Env, d mfaDialect, user string) ([]byte, []string) {
	t.Helper()
	r := wantMFARequired(t, e.Login(d.host, d.client("portal"), user, st.Password), true)
	enr, _ := r.JSON["mfa_enrollment"].(map[string]any)
	key, _ := mfa.DecodeSecret(enr["secret"].(string))
	r = mfaCode(e, d.host, d.client("portal"), r.Str("state_token"), codeAt(e, key, 0))
	wantSuccess(t, r)
	return key, recoveryCodes(t, r.JSON["recovery_codes"])
}

// TestMFAOptional: on an "optional" tenant only users who enrolled are
// asked; users enrol and remove TOTP with their session.
func TestMFAOptional(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, d := range mfaDialects {
			client := d.client("portal")
			tok := wantSuccess(t, e.Login(d.host, client, "alice", st.Password))
			s := sessionCall(e, "GET", d.host, client, tok, "/api/v2/sdk/mfa/totp", "")
			if s.Status != 200 || s.Str("policy") != "optional" || s.JSON["enrolled"] != false || s.Num("recovery_codes_left") != 0 {
				t.Fatalf("status before enrolment: %d %s", s.Status, s.Body)
			}
			if _, has := s.JSON["enrolled_at"]; has {
				t.Errorf("enrolled_at without an enrolment: %s", s.Body)
			}
			r := sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/enroll", "")
			if r.Status != 200 || r.Num("expire") != 300 || r.Str("state_token") == "" {
				t.Fatalf("enroll: %d %s", r.Status, r.Body)
			}
			key := enrollmentSecret(t, r.JSON, map[string]string{"acme": "Acme", "shop": "Shop"}[d.tenant], "alice")
			enrolTok := r.Str("state_token")
			// Until confirmed nothing changes: logins do not ask.
			wantSuccess(t, e.Login(d.host, client, "alice", st.Password))
			// Another user's session cannot confirm it.
			bobTok := wantSuccess(t, e.Login(d.host, client, "bob", st.Password))
			wantError(t, sessionCall(e, "POST", d.host, client, bobTok, "/api/v2/sdk/mfa/totp/confirm", jsonOf("state_token", enrolTok, "code", codeAt(e, key, 0))), 400, d.stateInvalid, "")
			// A login's state token is not an enrolment's.
			wantError(t, sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/confirm", jsonOf("state_token", "nope", "code", "123456")), 400, d.stateInvalid, "")
			wantError(t, sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/confirm", jsonOf("state_token", enrolTok, "code", "000000")), 400, d.badCode, "")
			r = sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/confirm", jsonOf("state_token", enrolTok, "code", codeAt(e, key, 0)))
			if r.Status != 200 {
				t.Fatalf("confirm: %d %s", r.Status, r.Body)
			}
			codes := recoveryCodes(t, r.JSON["recovery_codes"])
			wantError(t, sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/confirm", jsonOf("state_token", enrolTok, "code", codeAt(e, key, 0))), 400, d.stateInvalid, "")
			wantError(t, sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/enroll", ""), 400, d.enrolled, "")
			s = sessionCall(e, "GET", d.host, client, tok, "/api/v2/sdk/mfa/totp", "")
			if s.JSON["enrolled"] != true || s.Num("recovery_codes_left") != 10 {
				t.Errorf("status after enrolment: %s", s.Body)
			}

			// Now alice is asked; bob, not enrolled, is not.
			r = wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false)
			e.Clock.Advance(mfa.Period)
			tok = wantSuccess(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, 0)))
			wantSuccess(t, e.Login(d.host, client, "bob", st.Password))
			wantError(t, sessionCall(e, "POST", d.host, client, bobTok, "/api/v2/sdk/mfa/totp/disable", jsonOf("code", "123456")), 400, d.notEnrolled, "")

			// Removing takes a valid code: a wrong one or a replay is refused.
			wantError(t, sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/disable", jsonOf("code", "000000")), 400, d.badCode, "")
			wantError(t, sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/disable", jsonOf("code", codeAt(e, key, 0))), 400, d.badCode, "")
			r = sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/disable", jsonOf("code", codes[9]))
			if r.Status != 200 || len(r.Body) != 0 {
				t.Fatalf("disable: %d %q", r.Status, r.Body)
			}
			wantSuccess(t, e.Login(d.host, client, "alice", st.Password))
			s = sessionCall(e, "GET", d.host, client, tok, "/api/v2/sdk/mfa/totp", "")
			if s.JSON["enrolled"] != false {
				t.Errorf("status after removal: %s", s.Body)
			}
			// The session endpoints apply the session rules.
			wantError(t, sessionCall(e, "GET", d.host, client, "nope", "/api/v2/sdk/mfa/totp", ""), 400, map[string]string{"acme": "SDK.COMMON.1006", "shop": "IDAAS.SDK.PARAM.0023"}[d.tenant], "")
		}
	}, mfaPolicy(map[string]string{"acme": "optional", "shop": "optional"}))
}

// TestMFAOff: the default policy never asks, and refuses enrolments.
func TestMFAOff(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, d := range mfaDialects {
			client := d.client("portal")
			tok := wantSuccess(t, e.Login(d.host, client, "alice", st.Password))
			wantError(t, sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/enroll", ""), 400, d.unavailable, "")
			s := sessionCall(e, "GET", d.host, client, tok, "/api/v2/sdk/mfa/totp", "")
			if s.Status != 200 || s.Str("policy") != "off" || s.JSON["enrolled"] != false {
				t.Errorf("status: %d %s", s.Status, s.Body)
			}
			wantError(t, mfaCode(e, d.host, client, "nope", "123456"), 400, d.stateInvalid, "")
		}
	})
}

// TestMFAPolicyChange: the tenant's policy applies at each login: "off"
// asks no one, even users who enrolled; "optional" asks them again.
func TestMFAPolicyChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := st.New(t, backend, mfaPolicy(map[string]string{"acme": "required"}))
		d := mfaDialects[0]
		enrolViaLogin(t, e, d, "alice")
		ctx := t.Context()
		tn, err := e.Server.Store().GetTenant(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		tn.Policy.MFA = store.MFAOff
		if err := e.Server.Store().UpsertTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(10 * time.Second) // past the tenant cache
		wantSuccess(t, e.Login(d.host, d.client("portal"), "alice", st.Password))
		tn.Policy.MFA = store.MFAOptional
		if err := e.Server.Store().UpsertTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(10 * time.Second)
		wantMFARequired(t, e.Login(d.host, d.client("portal"), "alice", st.Password), false)
		wantSuccess(t, e.Login(d.host, d.client("portal"), "bob", st.Password))
	})
}

// TestMFAAttemptLimit: one state token admits five codes, even right
// ones after that; a new login gives a new token; it expires after 5
// minutes.
func TestMFAAttemptLimit(t *testing.T) {
	lenient := func(c *config.Config) {
		for i := range c.Bootstrap.Tenants {
			n := 100
			c.Bootstrap.Tenants[i].LockoutThreshold = &n
		}
	}
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, d := range mfaDialects {
			client := d.client("portal")
			key, _ := enrolViaLogin(t, e, d, "alice")
			e.Clock.Advance(mfa.Period)
			r := wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false)
			for i := 0; i < 5; i++ {
				wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), "000000"), 400, d.badCode, "")
			}
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, 0)), 400, d.stateInvalid, "")
			r = wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false)
			wantSuccess(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, 0)))
			// A state token lives 5 minutes (contract §2.1).
			r = wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false)
			e.Clock.Advance(5 * time.Minute)
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, 0)), 400, d.stateInvalid, "")
		}
	}, mfaPolicy(map[string]string{"acme": "required", "shop": "required"}), lenient)
}

// TestMFALockout: wrong codes are login failures (contract §8): with the
// password failures they lock the account, and a locked account checks
// no code.
func TestMFALockout(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, d := range mfaDialects {
			client := d.client("portal")
			key, _ := enrolViaLogin(t, e, d, "bob")
			e.Clock.Advance(mfa.Period)
			// Two wrong passwords, then wrong codes on two tokens.
			for range 2 {
				wantError(t, e.Login(d.host, client, "bob", "wrong-password"), 400, map[string]string{"acme": "SDK.LOGIN.1010", "shop": "IDAAS.SDK.LOGIN.0001"}[d.tenant], "")
			}
			r := wantMFARequired(t, e.Login(d.host, client, "bob", st.Password), false)
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), "111111"), 400, d.badCode, "")
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), "222222"), 400, d.badCode, "")
			// A correct password does not clear the failures while the
			// code is outstanding (else the password would give endless
			// code guesses): the fifth failure, on a new token, locks.
			r2 := wantMFARequired(t, e.Login(d.host, client, "bob", st.Password), false)
			wantError(t, mfaCode(e, d.host, client, r2.Str("state_token"), "333333"), 400, d.locked, "")
			// Locked: the right code on a live token, and the right
			// password, are refused.
			wantError(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, 0)), 400, d.locked, "")
			wantError(t, e.Login(d.host, client, "bob", st.Password), 400, d.locked, "")
			e.Clock.Advance(16 * time.Minute)
			r = wantMFARequired(t, e.Login(d.host, client, "bob", st.Password), false)
			wantSuccess(t, mfaCode(e, d.host, client, r.Str("state_token"), codeAt(e, key, 0)))
		}
	}, mfaPolicy(map[string]string{"acme": "required", "shop": "required"}))
}

// TestMFAIsolation: a state token works only in its tenant, for its
// client and device; an enrolment belongs to one tenant's user.
func TestMFAIsolation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		acme, shop := mfaDialects[0], mfaDialects[1]
		key, _ := enrolViaLogin(t, e, acme, "alice")
		e.Clock.Advance(mfa.Period)
		r := wantMFARequired(t, e.Login(acme.host, "acme-portal", "alice", st.Password), false)
		code := codeAt(e, key, 0)
		// Another tenant (same client kind, same user name), client or device.
		wantError(t, mfaCode(e, shop.host, "shop-portal", r.Str("state_token"), code), 400, shop.stateInvalid, "")
		wantError(t, mfaCode(e, acme.host, "acme-rotating", r.Str("state_token"), code), 400, acme.stateInvalid, "")
		h := st.SDKHeaders("acme-portal")
		h.Set("X-device-fingerprint", "another-device")
		wantError(t, e.Do("POST", e.URL(acme.host, "/api/v2/sdk/login/state/mfa"), h, jsonOf("state_token", r.Str("state_token"), "code", code)), 400, acme.stateInvalid, "")
		// Those attempts counted: two are left, and the right code works.
		wantSuccess(t, mfaCode(e, acme.host, "acme-portal", r.Str("state_token"), code))
		// Shop's alice is someone else: optional there and not enrolled.
		wantSuccess(t, e.Login(shop.host, "shop-portal", "alice", st.Password))
		// A password state token is not an MFA one, nor the other way.
		ps := wantMFARequired(t, e.Login(acme.host, "acme-portal", "alice", st.Password), false)
		r = e.Do("POST", e.URL(acme.host, "/api/v2/sdk/login/state/skip"), st.SDKHeaders("acme-portal"), jsonOf("state_token", ps.Str("state_token")))
		wantError(t, r, 400, acme.stateInvalid, "")
	}, mfaPolicy(map[string]string{"acme": "required", "shop": "optional"}))
}

// TestMFAConcurrentReplay: the same code submitted at once on two logins
// is accepted once (one conditional UPDATE of the last step), and a
// recovery code likewise.
func TestMFAConcurrentReplay(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		d := mfaDialects[1]
		client := d.client("portal")
		key, codes := enrolViaLogin(t, e, d, "alice")
		e.Clock.Advance(mfa.Period)
		for _, code := range []string{codeAt(e, key, 0), codes[3]} {
			const n = 6
			toks := make([]string, n)
			for i := range toks {
				toks[i] = wantMFARequired(t, e.Login(d.host, client, "alice", st.Password), false).Str("state_token")
			}
			var wg sync.WaitGroup
			res := make([]st.Response, n)
			for i := range toks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i] = mfaCode(e, d.host, client, toks[i], code)
				}()
			}
			wg.Wait()
			wins := 0
			for _, r := range res {
				switch {
				case r.Status == 200 && r.Str("status") == "SUCCESS":
					wins++
				case r.Str("error_code") != d.badCode:
					t.Errorf("concurrent use: %d %s", r.Status, r.Body)
				}
			}
			if wins != 1 {
				t.Errorf("code used %d times concurrently, want exactly once", wins)
			}
		}
	}, mfaPolicy(map[string]string{"shop": "required"}), func(c *config.Config) {
		for i := range c.Bootstrap.Tenants {
			n := 100
			c.Bootstrap.Tenants[i].LockoutThreshold = &n
		}
	})
}

// TestMFAPasswordExpiry: the second factor comes first; an expiring
// password is handled after it.
func TestMFAPasswordExpiry(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		d := mfaDialects[0]
		key, _ := enrolViaLogin(t, e, d, "alice")
		e.Clock.Advance(85 * 24 * time.Hour)
		r := wantMFARequired(t, e.Login(d.host, "acme-portal", "alice", st.Password), false)
		// The state token of MFA cannot skip the password step.
		wantError(t, e.Do("POST", e.URL(d.host, "/api/v2/sdk/login/state/change-password"), st.SDKHeaders("acme-portal"),
			jsonOf("state_token", r.Str("state_token"), "new_password", "Brand-New-Secret-1")), 400, d.stateInvalid, "")
		r = wantMFARequired(t, e.Login(d.host, "acme-portal", "alice", st.Password), false)
		r = mfaCode(e, d.host, "acme-portal", r.Str("state_token"), codeAt(e, key, 0))
		if r.Status != 200 || r.Str("status") != "PASSWORD_WARN" || r.Str("state_token") == "" || r.Str("session_token") != "" {
			t.Fatalf("after the code: %d %s, want PASSWORD_WARN", r.Status, r.Body)
		}
		wantSuccess(t, e.Do("POST", e.URL(d.host, "/api/v2/sdk/login/state/skip"), st.SDKHeaders("acme-portal"), jsonOf("state_token", r.Str("state_token"))))
	}, mfaPolicy(map[string]string{"acme": "required"}), func(c *config.Config) {
		c.Bootstrap.Tenants[0].PasswordMaxAge = 90 * 24 * time.Hour
	})
}

// TestMFASecretsAtRest: the TOTP secret is stored encrypted (not in
// clear), the recovery codes only as keyed hashes.
func TestMFASecretsAtRest(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		d := mfaDialects[0]
		key, codes := enrolViaLogin(t, e, d, "alice")
		ctx := t.Context()
		u, err := e.Server.Store().UserByUsername(ctx, "acme", "alice")
		if err != nil {
			t.Fatal(err)
		}
		ms, ok := e.Server.Store().(store.MFAStore)
		if !ok {
			t.Fatal("the server's store has no MFA records")
		}
		enr, err := ms.GetTOTP(ctx, "acme", u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(enr.Secret, key) || bytes.Contains(enr.Secret, []byte(mfa.EncodeSecret(key))) || len(enr.Secret) < len(key)+16 {
			t.Errorf("the stored secret (%d bytes) holds the secret in clear", len(enr.Secret))
		}
		// A plain SHA-256 or the clear text of a recovery code is not
		// what is stored: the store finds nothing under them.
		for _, h := range [][]byte{[]byte(codes[0]), []byte(mfa.NormalizeRecoveryCode(codes[0]))} {
			if _, err := ms.UseRecoveryCode(ctx, "acme", u.ID, h, e.Clock.Now()); err == nil {
				t.Error("a recovery code is stored in clear")
			}
		}
	}, mfaPolicy(map[string]string{"acme": "required"}))
}

// TestMFABadInput: the MFA endpoints' body checks.
func TestMFABadInput(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, d := range mfaDialects {
			malformed := map[string]string{"acme": "SDK.COMMON.1002", "shop": "IDAAS.SDK.PARAM.0004"}[d.tenant]
			missing := map[string]string{"acme": "SDK.COMMON.1001", "shop": "IDAAS.SDK.PARAM.0001"}[d.tenant]
			post := func(body string) st.Response {
				return e.Do("POST", e.URL(d.host, "/api/v2/sdk/login/state/mfa"), st.SDKHeaders(d.client("portal")), body)
			}
			wantError(t, post(`{"state_token":"x"}`), 400, missing, "")
			wantError(t, post(`{"code":"123456"}`), 400, missing, "")
			wantError(t, post(`{"state_token":"x","code":123456}`), 400, malformed, "")
			wantError(t, post(jsonOf("state_token", "x", "code", strings.Repeat("1", 65))), 400, malformed, "")
			wantError(t, post(jsonOf("state_token", "x", "code", "12\u000034")), 400, malformed, "")
			h := st.SDKHeaders(d.client("portal"))
			h.Set("Content-Type", "text/plain")
			wantError(t, e.Do("POST", e.URL(d.host, "/api/v2/sdk/login/state/mfa"), h, `{"state_token":"x","code":"1"}`), 400, malformed, "")
			wantError(t, sessionCall(e, "POST", d.host, d.client("portal"), "", "/api/v2/sdk/mfa/totp/enroll", ""), 400,
				map[string]string{"acme": "SDK.COMMON.1001", "shop": "IDAAS.SDK.PARAM.0022"}[d.tenant], "")
		}
	}, mfaPolicy(map[string]string{"acme": "required", "shop": "required"}))
}

// TestMFANotLogged: a server logging at debug level through every MFA
// step (enrolment, wrong code, right code, recovery code, removal) writes
// none of the secrets: the TOTP secret, codes, recovery codes, state and
// session tokens. The log is not empty: the enrolment is logged, by ids.
func TestMFANotLogged(t *testing.T) {
	var logs testio.Buffer
	cfg := config.Defaults()
	cfg.Storage.Driver, cfg.Storage.DSN = "sqlite", t.TempDir()+"/sesame.db"
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	cfg.Secrets.KeyEncryptionKey = base64.StdEncoding.EncodeToString(kek)
	cfg.Server.PublicURL = "http://" + st.EIAMHost
	cfg.Bootstrap = st.FixtureConfig()
	mfaPolicy(map[string]string{"acme": "required"})(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	do := func(method, path, tok, body string) map[string]any {
		t.Helper()
		req := httptest.NewRequest(method, "http://"+st.EIAMHost+path, strings.NewReader(body))
		req.Header = st.SDKHeaders("acme-portal")
		if tok != "" {
			req.Header.Set("X-session-token", tok)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return out
	}
	secrets := []string{}
	r := do("POST", "/api/v2/sdk/login", "", jsonOf("user_name", "alice", "password", st.Password))
	enr, _ := r["mfa_enrollment"].(map[string]any)
	if enr == nil {
		t.Fatalf("login: %v", r)
	}
	key, _ := mfa.DecodeSecret(enr["secret"].(string))
	stateTok := r["state_token"].(string)
	do("POST", "/api/v2/sdk/login/state/mfa", "", jsonOf("state_token", stateTok, "code", "000000"))
	code := mfa.Code(key, mfa.Step(time.Now()))
	r = do("POST", "/api/v2/sdk/login/state/mfa", "", jsonOf("state_token", stateTok, "code", code))
	tok, _ := r["session_token"].(string)
	codes, _ := r["recovery_codes"].([]any)
	if tok == "" || len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("enrolling code: %v", r)
	}
	r = do("POST", "/api/v2/sdk/login", "", jsonOf("user_name", "alice", "password", st.Password))
	second := r["state_token"].(string)
	do("POST", "/api/v2/sdk/login/state/mfa", "", jsonOf("state_token", second, "code", code)) // a replay
	do("POST", "/api/v2/sdk/login/state/mfa", "", jsonOf("state_token", second, "code", codes[0].(string)))
	do("POST", "/api/v2/sdk/mfa/totp/disable", tok, jsonOf("code", codes[1].(string)))
	secrets = append(secrets, enr["secret"].(string), strings.ToLower(enr["secret"].(string)), hex.EncodeToString(key),
		base64.StdEncoding.EncodeToString(key), stateTok, second, tok)
	for _, c := range codes {
		secrets = append(secrets, c.(string), mfa.NormalizeRecoveryCode(c.(string)))
	}
	out := logs.String()
	if !strings.Contains(out, "totp enrolled") || !strings.Contains(out, "replayed totp code refused") || !strings.Contains(out, "totp removed") {
		t.Fatalf("the log lacks the MFA events:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log contains a secret (%d chars)", len(s))
		}
	}
	// A six-digit code can occur by chance inside the log's longer
	// numbers (timestamps, durations): only a digit run of its own is it.
	if regexp.MustCompile(`(^|[^0-9])` + code + `([^0-9]|$)`).MatchString(out) {
		t.Errorf("the log contains the TOTP code")
	}
}
