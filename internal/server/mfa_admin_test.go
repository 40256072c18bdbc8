package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/mfa"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
)

// The second factor seen from the operator's side: the audit events of
// enrolments, removals and recovery codes, and the administrator's reset
// of a user who lost the authenticator.

// adminHost is the system tenant's domain (config default admin.domain).
const adminHost = "admin.localhost"

// adminToken makes a system administrator application, as `sesame admin
// create --client-id` does, and returns its client_credentials token.
func adminToken(t *testing.T, e *st.Env, clientID string) string {
	t.Helper()
	setup := e.AdminSetup()
	created, err := setup.CreateAdmin(t.Context(), admin.NewAdmin{ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {created.ClientSecret}}
	r := e.Do("POST", e.URL(adminHost, "/api/v1/oauth2/token"), headers("Content-Type", "application/x-www-form-urlencoded"), form.Encode())
	if r.Status != 200 || r.Str("access_token") == "" {
		t.Fatalf("admin token: %d %s", r.Status, r.Body)
	}
	return r.Str("access_token")
}

// adminCall calls the admin API with a bearer token.
func adminCall(e *st.Env, tok, method, path string) st.Response {
	e.T.Helper()
	return e.Do(method, e.URL(adminHost, admin.Prefix+path), http.Header{"Authorization": {"Bearer " + tok}}, "")
}

func userIDOf(t *testing.T, e *st.Env, tenant, name string) string {
	t.Helper()
	u, err := e.Server.Store().UserByUsername(t.Context(), tenant, name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// enrolWithSession enrols user of an "optional" tenant through the
// session endpoints and returns the key, the recovery codes and the
// session token.
func enrolWithSession(t *testing.T, e *st.Env, d mfaDialect, user string) ([]byte, []string, string) {
	t.Helper()
	client := d.client("portal")
	tok := wantSuccess(t, e.Login(d.host, client, user, st.Password))
	r := sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/enroll", "")
	if r.Status != 200 {
		t.Fatalf("enroll: %d %s", r.Status, r.Body)
	}
	key, err := mfa.DecodeSecret(r.Str("secret"))
	if err != nil {
		t.Fatal(err)
	}
	c := sessionCall(e, "POST", d.host, client, tok, "/api/v2/sdk/mfa/totp/confirm", jsonOf("state_token", r.Str("state_token"), "code", codeAt(e, key, 0)))
	if c.Status != 200 {
		t.Fatalf("confirm: %d %s", c.Status, c.Body)
	}
	return key, recoveryCodes(t, c.JSON["recovery_codes"]), tok
}

// mfaEvents returns tenant's audit events of the second factor (mfa.*
// and the administrator's reset), oldest first.
func mfaEvents(t *testing.T, e *st.Env, tenant string) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	for _, ev := range auditEvents(t, e, tenant) {
		if strings.HasPrefix(ev.Type, "mfa.") || ev.Type == "admin.user.reset_mfa" {
			out = append(out, ev)
		}
	}
	return out
}

// TestMFAAudit: enrolling (with a session, and during a login), a login
// with a recovery code and removing the authenticator (with a TOTP code,
// and with a recovery code) are each one audit event of the user, with
// the application, the surface and what is left, and never a code or
// the secret; wrong codes record no such event.
func TestMFAAudit(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		acme, shop := mfaDialects[0], mfaDialects[1]
		var secrets []string // what must appear in no event

		// acme (optional): enrolment with a session, a recovery code at a
		// login, removal with a TOTP code.
		alice := userIDOf(t, e, "acme", "alice")
		key, codes, tok := enrolWithSession(t, e, acme, "alice")
		secrets = append(secrets, codes...)
		secrets = append(secrets, mfa.EncodeSecret(key))
		r := wantMFARequired(t, e.Login(acme.host, acme.client("portal"), "alice", st.Password), false)
		wantError(t, mfaCode(e, acme.host, acme.client("portal"), r.Str("state_token"), "abcd-efgh-ijkl"), 400, acme.badCode, "")
		wantSuccess(t, mfaCode(e, acme.host, acme.client("portal"), r.Str("state_token"), codes[0]))
		e.Clock.Advance(mfa.Period)
		code := codeAt(e, key, 0)
		secrets = append(secrets, code)
		if r := sessionCall(e, "POST", acme.host, acme.client("portal"), tok, "/api/v2/sdk/mfa/totp/disable", jsonOf("code", code)); r.Status != 200 {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}

		// shop (required): enrolment during a login, removal with a
		// recovery code (recorded as the removal only).
		bob := userIDOf(t, e, "shop", "bob")
		bobKey, bobCodes := enrolViaLogin(t, e, shop, "bob")
		secrets = append(secrets, bobCodes...)
		secrets = append(secrets, mfa.EncodeSecret(bobKey))
		e.Clock.Advance(mfa.Period)
		r = wantMFARequired(t, e.Login(shop.host, shop.client("portal"), "bob", st.Password), false)
		bobTok := wantSuccess(t, mfaCode(e, shop.host, shop.client("portal"), r.Str("state_token"), codeAt(e, bobKey, 0)))
		if r := sessionCall(e, "POST", shop.host, shop.client("portal"), bobTok, "/api/v2/sdk/mfa/totp/disable", jsonOf("code", bobCodes[3])); r.Status != 200 {
			t.Fatalf("disable with a recovery code: %d %s", r.Status, r.Body)
		}

		checkEvents(t, mfaEvents(t, e, "acme"), "acme", []wantEvent{
			{audit.TypeMFAEnrolled, alice, "user:" + alice, "127.0.0.1", map[string]string{
				"client_id": "acme-portal", "channel": "sdk", "via": "session", "recovery_codes_left": "10"}},
			{audit.TypeMFARecoveryCodeUsed, alice, "user:" + alice, "127.0.0.1", map[string]string{
				"client_id": "acme-portal", "channel": "sdk", "recovery_codes_left": "9"}},
			{audit.TypeMFADisabled, alice, "user:" + alice, "127.0.0.1", map[string]string{
				"client_id": "acme-portal", "channel": "sdk", "method": "totp"}},
		})
		checkEvents(t, mfaEvents(t, e, "shop"), "shop", []wantEvent{
			{audit.TypeMFAEnrolled, bob, "user:" + bob, "127.0.0.1", map[string]string{
				"client_id": "shop-portal", "channel": "sdk", "via": "login", "recovery_codes_left": "10"}},
			{audit.TypeMFADisabled, bob, "user:" + bob, "127.0.0.1", map[string]string{
				"client_id": "shop-portal", "channel": "sdk", "method": "recovery_code"}},
		})
		for _, tenant := range []string{"acme", "shop"} {
			for _, ev := range auditEvents(t, e, tenant) {
				for k, v := range ev.Details {
					for _, s := range secrets {
						if strings.EqualFold(v, s) || strings.EqualFold(strings.ReplaceAll(v, "-", ""), strings.ReplaceAll(s, "-", "")) {
							t.Errorf("event %s holds a code or secret in %s", ev.Type, k)
						}
					}
				}
			}
		}
	}, mfaPolicy(map[string]string{"acme": "optional", "shop": "required"}))
}

// TestMFAAdminReset: an administrator removes the authenticator of a user
// who lost it (DELETE /admin/api/v1/tenants/{tenant}/users/{id}/mfa). On
// an "optional" tenant the user then logs in with the password alone; on
// a "required" one the next login enrols a new authenticator, and the old
// one's codes and recovery codes are refused. A code step begun before
// the reset cannot finish after it; the user's sessions survive; the
// reset is audited as the administrator's.
func TestMFAAdminReset(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		tok := adminToken(t, e, "mfa-ops")
		reset := func(tenant, userID string) st.Response {
			return adminCall(e, tok, "DELETE", "/tenants/"+tenant+"/users/"+userID+"/mfa")
		}
		enrolled := func(tenant, userID string) any {
			return adminCall(e, tok, "GET", "/tenants/"+tenant+"/users/"+userID).JSON["mfa_enrolled"]
		}

		// Optional: back to the password alone.
		acme := mfaDialects[0]
		client := acme.client("portal")
		alice := userIDOf(t, e, "acme", "alice")
		key, codes, session := enrolWithSession(t, e, acme, "alice")
		if enrolled("acme", alice) != true {
			t.Errorf("the admin API does not show alice enrolled")
		}
		pending := wantMFARequired(t, e.Login(acme.host, client, "alice", st.Password), false)
		if r := reset("acme", alice); r.Status != 204 || len(r.Body) != 0 {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		if enrolled("acme", alice) != false {
			t.Errorf("the admin API shows alice enrolled after the reset")
		}
		wantError(t, mfaCode(e, acme.host, client, pending.Str("state_token"), codeAt(e, key, 0)), 400, acme.stateInvalid, "")
		wantSuccess(t, e.Login(acme.host, client, "alice", st.Password))
		if s := sessionCall(e, "GET", acme.host, client, session, "/api/v2/sdk/mfa/totp", ""); s.Status != 200 || s.JSON["enrolled"] != false {
			t.Errorf("status after the reset, with the session from before it: %d %s", s.Status, s.Body)
		}
		if r := reset("acme", alice); r.Status != 404 {
			t.Errorf("second reset: %d %s, want 404", r.Status, r.Body)
		}
		// She can enrol again, with her session; the old recovery codes
		// are gone with the old authenticator.
		enrolWithSession(t, e, acme, "alice")
		r := wantMFARequired(t, e.Login(acme.host, client, "alice", st.Password), false)
		wantError(t, mfaCode(e, acme.host, client, r.Str("state_token"), codes[0]), 400, acme.badCode, "")

		// Required: the next login enrols a new authenticator.
		shop := mfaDialects[1]
		client = shop.client("portal")
		bob := userIDOf(t, e, "shop", "bob")
		oldKey, oldCodes := enrolViaLogin(t, e, shop, "bob")
		e.Clock.Advance(mfa.Period)
		r = wantMFARequired(t, e.Login(shop.host, client, "bob", st.Password), false)
		bobSession := wantSuccess(t, mfaCode(e, shop.host, client, r.Str("state_token"), codeAt(e, oldKey, 0)))
		if r := reset("shop", bob); r.Status != 204 {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		if ex := e.Exchange(shop.host, client, bobSession); ex.Status != 200 {
			t.Errorf("bob's session after the reset: %d %s", ex.Status, ex.Body)
		}
		e.Clock.Advance(mfa.Period)
		r = wantMFARequired(t, e.Login(shop.host, client, "bob", st.Password), true)
		enr, _ := r.JSON["mfa_enrollment"].(map[string]any)
		newKey := enrollmentSecret(t, enr, "Shop", "bob")
		if string(newKey) == string(oldKey) {
			t.Fatal("the new enrolment reuses the old secret")
		}
		wantError(t, mfaCode(e, shop.host, client, r.Str("state_token"), codeAt(e, oldKey, 0)), 400, shop.badCode, "")
		wantError(t, mfaCode(e, shop.host, client, r.Str("state_token"), oldCodes[0]), 400, shop.badCode, "")
		done := mfaCode(e, shop.host, client, r.Str("state_token"), codeAt(e, newKey, 0))
		wantSuccess(t, done)
		recoveryCodes(t, done.JSON["recovery_codes"])

		// The reset is the administrator's change, in the user's tenant.
		var resets []store.AuditEvent
		for _, ev := range mfaEvents(t, e, "shop") {
			if ev.Type == "admin.user.reset_mfa" {
				resets = append(resets, ev)
			}
		}
		if len(resets) != 1 || resets[0].ActorID != "mfa-ops" || resets[0].ActorTenantID != store.SystemTenantID ||
			resets[0].Target != "user:"+bob || resets[0].SourceIP != "127.0.0.1" {
			t.Errorf("reset events of shop: %+v", resets)
		}
	}, mfaPolicy(map[string]string{"acme": "optional", "shop": "required"}))
}
