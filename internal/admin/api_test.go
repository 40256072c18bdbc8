package admin_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/api"
	"github.com/sesame-idp/sesame/internal/admin"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestOpenAPIInSync checks, without a server, that the document describes
// exactly the routes the handler mounts, with unique operation ids.
func TestOpenAPIInSync(t *testing.T) {
	d := loadDoc(t)
	if !d.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %s, want 3.1", d.OpenAPI)
	}
	routed := map[string]bool{"GET " + admin.Prefix + "/openapi.json": true}
	for _, r := range admin.Routes() {
		key := r.Method + " " + admin.Prefix + r.Path
		if routed[key] {
			t.Errorf("route %s listed twice", key)
		}
		routed[key] = true
	}
	documented := map[string]bool{}
	ids := map[string]bool{}
	for path, pi := range d.Paths.Map() {
		for method, op := range pi.Operations() {
			key := method + " " + path
			documented[key] = true
			if !routed[key] {
				t.Errorf("documented but not routed: %s", key)
			}
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: missing or duplicate operationId %q", key, op.OperationID)
			}
			ids[op.OperationID] = true
			if path != admin.Prefix+"/openapi.json" {
				for _, status := range []string{"401", "403", "503"} {
					if op.Responses.Value(status) == nil {
						t.Errorf("%s does not document %s", key, status)
					}
				}
			}
			if strings.Contains(path, "{tenant}") && op.Responses.Value("404") == nil {
				t.Errorf("%s does not document 404 (another tenant's objects)", key)
			}
		}
	}
	for key := range routed {
		if !documented[key] {
			t.Errorf("routed but not documented: %s", key)
		}
	}
}

// TestAdminAPI drives every admin endpoint on a real server, as system
// administrators, tenant administrators and principals without a role,
// validating every request and answer against the OpenAPI document; at
// the end every documented (operation, status) must have been seen.
func TestAdminAPI(t *testing.T) {
	for _, backend := range st.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			x := newEnv(t, backend)
			for _, step := range []struct {
				name string
				run  func(x *env)
			}{
				{"Document", testDocument},
				{"Refusals", testRefusals},
				{"Tokens", testTokens},
				{"Tenants", testTenants},
				{"Applications", testApplications},
				{"Users", testUsers},
				{"Sessions", testSessions},
				{"Keys", testKeys},
				{"Audit", testAudit},
				{"Stats", testStats},
				{"Admins", testAdmins},
				{"BadRequests", testBadRequests},
				{"Recorded", testRecorded},
				{"Unavailable", testUnavailable},
			} {
				t.Run(step.name, func(t *testing.T) {
					y := *x
					y.t = t
					step.run(&y)
				})
			}
			if !t.Failed() {
				x.v.assertCovered(t)
			}
		})
	}
}

func testDocument(x *env) {
	r := x.call(call{method: "GET", path: "/openapi.json"})
	if r.Status != 200 || !bytes.Equal(r.Body, api.AdminOpenAPI) || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		x.t.Errorf("GET openapi.json: %d %s, %d bytes; want the embedded document", r.Status, r.Header.Get("Content-Type"), len(r.Body))
	}
}

// sampleBodies are bodies that conform to the document, per route, for
// the refusal table (the request never gets past authentication).
var sampleBodies = map[string]string{
	"POST /tenants":                                          `{"id":"nope","domains":["nope.test"]}`,
	"PATCH /tenants/{tenant}":                                `{"name":"x"}`,
	"POST /tenants/{tenant}/applications":                    `{}`,
	"PATCH /tenants/{tenant}/applications/{client_id}":       `{"name":"x"}`,
	"POST /tenants/{tenant}/users":                           `{"username":"nope"}`,
	"PATCH /tenants/{tenant}/users/{user_id}":                `{"name":"x"}`,
	"PUT /tenants/{tenant}/users/{user_id}/password":         `{"password":"Another-Pass-123"}`,
	"PUT /admins/{principal_type}/{principal_id}":            `{"system_admin":true}`,
	"POST /tenants/{tenant}/keys/rotate":                     `{"algorithms":["ES256"]}`,
	"POST /tenants/{tenant}/applications/{client_id}/secret": ``,
}

// systemOnly are the routes a tenant administrator is refused with 403
// whatever the tenant (the others answer 404 for a tenant not theirs).
var systemOnly = map[string]bool{
	"POST /tenants": true, "DELETE /tenants/{tenant}": true,
	"GET /admins": true, "GET /admins/{principal_type}/{principal_id}": true,
	"PUT /admins/{principal_type}/{principal_id}": true, "DELETE /admins/{principal_type}/{principal_id}": true,
}

func (x *env) userID(tenant, username string) string {
	x.t.Helper()
	u, err := x.Server.Store().UserByUsername(x.t.Context(), tenant, username)
	if err != nil {
		x.t.Fatalf("user %s of %s: %v", username, tenant, err)
	}
	return u.ID
}

// testRefusals sends every route, aimed at tenant shop, as: nobody
// (anonymous), a forged token, a user and an application of the system
// tenant without a role, and a tenant administrator of acme.
func testRefusals(x *env) {
	values := map[string]string{
		"{tenant}": "shop", "{client_id}": "shop-portal", "{user_id}": x.userID("shop", "alice"),
		"{session_id}": "some-session", "{principal_type}": "user", "{principal_id}": x.userID(store.SystemTenantID, "root"),
	}
	for _, rt := range admin.Routes() {
		key := rt.Method + " " + rt.Path
		path := rt.Path
		for k, v := range values {
			path = strings.ReplaceAll(path, k, url.PathEscape(v))
		}
		body := sampleBodies[key]
		c := call{method: rt.Method, path: path, body: body}
		c.breaks = true // no credentials
		x.wantError(key+" anonymous", x.call(c), 401, admin.CodeUnauthorized, "")
		c.breaks = false
		c.token = "forged-token"
		x.wantError(key+" forged token", x.call(c), 401, admin.CodeUnauthorized, "authorization")
		for who, tok := range map[string]string{"user without a role": x.nobody, "application without a role": x.plainApp} {
			c.token = tok
			x.wantError(key+" as "+who, x.call(c), 403, admin.CodeForbidden, "")
		}
		if !strings.Contains(rt.Path, "{tenant}") && !systemOnly[key] {
			continue // /me, /tenants and /audit answer a tenant administrator
		}
		for _, tok := range []string{x.acmeAdmin, x.acmeUser} {
			c.token = tok
			if systemOnly[key] {
				x.wantError(key+" as tenant administrator of acme", x.call(c), 403, admin.CodeForbidden, "")
			} else {
				x.wantError(key+" as tenant administrator of acme", x.call(c), 404, admin.CodeNotFound, "")
			}
		}
	}
	r := x.call(call{method: "GET", path: "/me", breaks: true})
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="sesame-admin"` {
		x.t.Errorf("anonymous WWW-Authenticate %q", got)
	}
	r = x.call(call{method: "GET", path: "/me", token: "forged"})
	if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		x.t.Errorf("forged token WWW-Authenticate %q", got)
	}
	// A token of a tenant, not the system tenant, is unknown here, even
	// that of an administrator's namesake application.
	x.wantError("acme's own application token", x.call(call{method: "GET", path: "/me", token: x.TenantToken(st.EIAMHost, "acme-portal")}), 401, admin.CodeUnauthorized, "authorization")
	// The acme administrator reaches acme but not shop.
	x.want("acme admin on acme", x.call(call{method: "GET", path: "/tenants/acme", token: x.acmeAdmin}), 200)
}

// testTokens covers the token rules: console and application tokens act;
// a user token of another application does not; expired, revoked and
// disabled-user tokens do not.
func testTokens(x *env) {
	for who, tok := range map[string]string{"root (console)": x.root, "robot": x.robot} {
		r := x.call(call{method: "GET", path: "/me", token: tok})
		if r.Status != 200 || r.JSON["system_admin"] != true {
			x.t.Errorf("me as %s: %d %s", who, r.Status, r.Body)
		}
	}
	r := x.call(call{method: "GET", path: "/me", token: x.acmeUser})
	if r.Status != 200 || r.Str("type") != "user" || r.Str("name") != "acme-ops" || r.JSON["system_admin"] != false || jsonOf(r.JSON["tenants"]) != `["acme"]` {
		x.t.Errorf("me as acme-ops: %d %s", r.Status, r.Body)
	}

	// A system administrator's token from another relying party of the
	// system tenant is not for the admin API.
	r = x.call(call{method: "POST", path: "/tenants/system/applications", token: x.robot,
		body: `{"client_id":"other-rp","public":true,"redirect_uris":["http://rp.test/cb"]}`})
	x.want("create other-rp", r, 201)
	tok := x.codeToken("other-rp", "", "http://rp.test/cb", "root", x.rootPassword)
	x.wantError("root's token of another application", x.call(call{method: "GET", path: "/me", token: tok}), 403, admin.CodeForbidden, "")

	// An admin application with a one-minute token: valid, then expired.
	r = x.call(call{method: "POST", path: "/tenants/system/applications", token: x.robot, body: `{"client_id":"short","grant_types":["client_credentials"],"access_token_ttl":60}`})
	x.want("create short", r, 201)
	shortSecret := r.Str("client_secret")
	x.want("grant short", x.call(call{method: "PUT", path: "/admins/application/short", token: x.robot, body: `{"system_admin":true}`}), 200)
	shortTok := x.appToken("short", shortSecret)
	x.want("short-lived token", x.call(call{method: "GET", path: "/me", token: shortTok}), 200)
	x.Clock.Advance(61 * time.Second)
	x.wantError("expired token", x.call(call{method: "GET", path: "/me", token: shortTok}), 401, admin.CodeUnauthorized, "authorization")

	// A revoked token (RFC 7009 at the system tenant).
	shortTok = x.appToken("short", shortSecret)
	x.want("fresh token", x.call(call{method: "GET", path: "/me", token: shortTok}), 200)
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	rv := x.Do("POST", x.URL(adminHost, "/api/v1/oauth2/revoke"), h, url.Values{"token": {shortTok}, "client_id": {"short"}, "client_secret": {shortSecret}}.Encode())
	if rv.Status != 200 {
		x.t.Fatalf("revoke: %d %s", rv.Status, rv.Body)
	}
	x.wantError("revoked token", x.call(call{method: "GET", path: "/me", token: shortTok}), 401, admin.CodeUnauthorized, "authorization")

	// Losing the role is immediate; so is deleting the application.
	shortTok = x.appToken("short", shortSecret)
	x.want("remove short's role", x.call(call{method: "DELETE", path: "/admins/application/short", token: x.robot}), 204)
	x.wantError("token after the role went", x.call(call{method: "GET", path: "/me", token: shortTok}), 403, admin.CodeForbidden, "")
	x.want("delete short", x.call(call{method: "DELETE", path: "/tenants/system/applications/short", token: x.robot}), 204)
	x.wantError("token of a deleted application", x.call(call{method: "GET", path: "/me", token: shortTok}), 401, admin.CodeUnauthorized, "authorization")

	// A disabled administrator's console token dies at once.
	x.mustCreate(admin.NewAdmin{Username: "temp-admin", Password: x.rootPassword})
	tempTok := x.consoleToken("temp-admin", x.rootPassword)
	x.want("temp admin", x.call(call{method: "GET", path: "/me", token: tempTok}), 200)
	tempID := x.userID(store.SystemTenantID, "temp-admin")
	x.want("disable temp admin", x.call(call{method: "POST", path: "/tenants/system/users/" + tempID + "/disable", token: x.robot}), 200)
	x.wantError("disabled admin's token", x.call(call{method: "GET", path: "/me", token: tempTok}), 401, admin.CodeUnauthorized, "authorization")
}

func testTenants(x *env) {
	// Listing: a system administrator sees every tenant, pages and all.
	r := x.call(call{method: "GET", path: "/tenants", token: x.root})
	x.want("list tenants", r, 200)
	if got := field(r, "id"); !slices.Equal(got, []string{"acme", "isv", "shop", "system"}) {
		x.t.Errorf("tenants: %v", got)
	}
	var paged []string
	cursor := ""
	for range 10 {
		r = x.call(call{method: "GET", path: "/tenants?limit=1&cursor=" + url.QueryEscape(cursor), token: x.robot})
		x.want("page of tenants", r, 200)
		paged = append(paged, field(r, "id")...)
		if cursor = r.Str("next_cursor"); cursor == "" {
			break
		}
	}
	if !slices.Equal(paged, []string{"acme", "isv", "shop", "system"}) {
		x.t.Errorf("paged tenants: %v", paged)
	}
	r = x.call(call{method: "GET", path: "/tenants?q=SHO", token: x.root})
	if got := field(r, "id"); !slices.Equal(got, []string{"shop"}) {
		x.t.Errorf("search tenants: %v", got)
	}
	// A tenant administrator sees their own only.
	r = x.call(call{method: "GET", path: "/tenants", token: x.acmeAdmin})
	if got := field(r, "id"); r.Status != 200 || !slices.Equal(got, []string{"acme"}) {
		x.t.Errorf("tenants of the acme admin: %d %v", r.Status, got)
	}
	r = x.call(call{method: "GET", path: "/tenants/acme", token: x.root})
	if r.Status != 200 || r.Str("edition") != "eiam" || jsonOf(r.JSON["domains"]) != `["acme.test","www.acme.test"]` ||
		jsonOf(r.JSON["policy"]) != `{"lockout_duration":900,"lockout_threshold":5,"lockout_window":900,"mfa":"off","password_max_age":0,"password_max_length":128,"password_min_length":8,"password_warn_before":604800}` {
		x.t.Errorf("get acme: %d %s", r.Status, r.Body)
	}
	x.wantError("unknown tenant", x.call(call{method: "GET", path: "/tenants/nope", token: x.root}), 404, admin.CodeNotFound, "")

	// Create: defaults filled in, keys made, served at once.
	r = x.call(call{method: "POST", path: "/tenants", token: x.root, body: `{"id":"newco","name":"New Co","edition":"ciam","domains":["NewCo.test"],"policy":{"lockout_threshold":3,"password_min_length":10,"mfa":"optional"}}`})
	if r.Status != 201 || r.Str("id") != "newco" || jsonOf(r.JSON["domains"]) != `["newco.test"]` || r.Str("default_language") != "en" {
		x.t.Fatalf("create tenant: %d %s", r.Status, r.Body)
	}
	if p, _ := r.JSON["policy"].(map[string]any); p["lockout_threshold"] != 3.0 || p["password_min_length"] != 10.0 || p["lockout_window"] != 900.0 || p["mfa"] != "optional" {
		x.t.Errorf("created policy: %v", p)
	}
	if d := x.Do("GET", x.URL("newco.test", "/.well-known/openid-configuration"), nil, ""); d.Status != 200 || d.Str("issuer") != x.Issuer("newco.test") {
		x.t.Errorf("discovery of the new tenant: %d %s", d.Status, d.Body)
	}
	if k := x.Do("GET", x.URL("newco.test", "/api/v1/oauth2/keys"), nil, ""); k.Status != 200 || !strings.Contains(string(k.Body), `"kid"`) {
		x.t.Errorf("JWKS of the new tenant: %d %s", k.Status, k.Body)
	}
	x.wantError("same id", x.call(call{method: "POST", path: "/tenants", token: x.root, body: `{"id":"newco","domains":["other.test"]}`}), 409, admin.CodeConflict, "id")
	x.wantError("taken domain", x.call(call{method: "POST", path: "/tenants", token: x.root, body: `{"id":"newco2","domains":["shop.test"]}`}), 409, admin.CodeConflict, "domains")
	x.wantError("the admin domain", x.call(call{method: "POST", path: "/tenants", token: x.root, body: `{"id":"newco2","domains":["` + adminHost + `"]}`}), 409, admin.CodeConflict, "domains")
	for _, tc := range []struct {
		body, field string
		breaks      bool // the schema states the rule; otherwise the request conforms
	}{
		{`{"id":"Bad_Id","domains":["x.test"]}`, "id", true},
		{`{"id":"ok"}`, "domains", true},
		{`{"id":"ok","domains":[]}`, "domains", true},
		{`{"id":"ok","domains":["http://x.test"]}`, "domains[0]", true},
		{`{"id":"ok","domains":["x.test","X.test"]}`, "domains[1]", false},
		{`{"id":"ok","domains":["x.test"],"edition":"pro"}`, "edition", true},
		{`{"id":"ok","domains":["x.test"],"default_language":"fr"}`, "default_language", true},
		{`{"id":"ok","domains":["x.test"],"policy":{"lockout_window":-1}}`, "policy.lockout_window", true},
		{`{"id":"ok","domains":["x.test"],"policy":{"password_min_length":20,"password_max_length":10}}`, "policy.password_max_length", false},
		{`{"id":"ok","domains":["x.test"],"policy":{"mfa":"sometimes"}}`, "policy.mfa", true},
		{`{"id":"ok","domains":["x.test"],"color":"red"}`, "color", true},
		{`{"id":"ok","domains":["x.test"],"name":7}`, "name", true},
		{`{"id":"ok","domains":["x.test"],"name":"  "}`, "name", false},
	} {
		x.wantError("create "+tc.body, x.call(call{method: "POST", path: "/tenants", token: x.root, body: tc.body, breaks: tc.breaks}), 400, admin.CodeInvalidRequest, tc.field)
	}
	x.wantError("tenant admin creates", x.call(call{method: "POST", path: "/tenants", token: x.acmeAdmin, body: `{"id":"mine","domains":["mine.test"]}`}), 403, admin.CodeForbidden, "")

	// Update: the policy takes effect at once on this node.
	r = x.call(call{method: "PATCH", path: "/tenants/acme", token: x.acmeAdmin, body: `{"name":"Acme Inc","policy":{"lockout_threshold":2}}`})
	if r.Status != 200 || r.Str("name") != "Acme Inc" {
		x.t.Errorf("patch acme: %d %s", r.Status, r.Body)
	}
	for range 2 {
		x.Login(st.EIAMHost, "acme-portal", "bob", "wrong-password")
	}
	if l := x.Login(st.EIAMHost, "acme-portal", "bob", st.Password); l.Str("error_code") != "SDK.LOGIN.1003" {
		x.t.Errorf("login after 2 failures under threshold 2: %d %s", l.Status, l.Body)
	}
	x.want("restore threshold", x.call(call{method: "PATCH", path: "/tenants/acme", token: x.root, body: `{"policy":{"lockout_threshold":5}}`}), 200)
	x.want("unlock bob", x.call(call{method: "POST", path: "/tenants/acme/users/" + x.userID("acme", "bob") + "/unlock", token: x.root}), 200)
	x.wantError("tenant admin changes domains", x.call(call{method: "PATCH", path: "/tenants/acme", token: x.acmeAdmin, body: `{"domains":["acme.test"]}`}), 403, admin.CodeForbidden, "domains")
	x.wantError("tenant admin changes edition", x.call(call{method: "PATCH", path: "/tenants/acme", token: x.acmeAdmin, body: `{"edition":"ciam"}`}), 403, admin.CodeForbidden, "edition")
	x.want("tenant admin sends domains unchanged", x.call(call{method: "PATCH", path: "/tenants/acme", token: x.acmeAdmin, body: `{"domains":["acme.test","www.acme.test"],"edition":"eiam"}`}), 200)
	x.wantError("id change", x.call(call{method: "PATCH", path: "/tenants/acme", token: x.root, body: `{"id":"acme2"}`}), 400, admin.CodeInvalidRequest, "id")
	x.wantError("domain of another tenant", x.call(call{method: "PATCH", path: "/tenants/newco", token: x.root, body: `{"domains":["newco.test","shop.test"]}`}), 409, admin.CodeConflict, "domains")
	x.wantError("system tenant's domain", x.call(call{method: "PATCH", path: "/tenants/system", token: x.root, body: `{"domains":["other-admin.test"]}`}), 400, admin.CodeInvalidRequest, "domains")
	x.wantError("patch unknown", x.call(call{method: "PATCH", path: "/tenants/nope", token: x.root, body: `{"name":"x"}`}), 404, admin.CodeNotFound, "")
	r = x.call(call{method: "PATCH", path: "/tenants/newco", token: x.root, body: `{"domains":["newco.test","www.newco.test"]}`})
	if r.Status != 200 || x.Do("GET", x.URL("www.newco.test", "/.well-known/openid-configuration"), nil, "").Status != 200 {
		x.t.Errorf("new domain not served at once: %d %s", r.Status, r.Body)
	}

	// Delete: everything goes, the domain stops answering at once.
	x.wantError("delete the system tenant", x.call(call{method: "DELETE", path: "/tenants/system", token: x.root}), 409, admin.CodeConflict, "")
	x.want("delete newco", x.call(call{method: "DELETE", path: "/tenants/newco", token: x.root}), 204)
	if d := x.Do("GET", x.URL("newco.test", "/.well-known/openid-configuration"), nil, ""); d.Status != 404 {
		x.t.Errorf("discovery of a deleted tenant: %d %s", d.Status, d.Body)
	}
	x.wantError("delete again", x.call(call{method: "DELETE", path: "/tenants/newco", token: x.root}), 404, admin.CodeNotFound, "")
}

func testApplications(x *env) {
	r := x.call(call{method: "GET", path: "/tenants/acme/applications?q=web", token: x.acmeAdmin})
	if got := field(r, "client_id"); r.Status != 200 || !slices.Equal(got, []string{"acme-web", "acme-web2"}) {
		x.t.Errorf("search applications: %d %v", r.Status, got)
	}
	r = x.call(call{method: "GET", path: "/tenants/acme/applications?limit=2", token: x.acmeAdmin})
	if len(items(r)) != 2 || r.Str("next_cursor") == "" {
		x.t.Errorf("first page of applications: %s", r.Body)
	}
	r2 := x.call(call{method: "GET", path: "/tenants/acme/applications?limit=2&cursor=" + url.QueryEscape(r.Str("next_cursor")), token: x.acmeAdmin})
	if a, b := field(r, "client_id"), field(r2, "client_id"); len(b) != 2 || b[0] <= a[1] {
		x.t.Errorf("second page %v after %v", b, a)
	}
	r = x.call(call{method: "GET", path: "/tenants/acme/applications/acme-rotating", token: x.acmeUser})
	if r.Status != 200 || r.JSON["session_auto_refresh"] != true || r.JSON["rotation_grace"] != 30.0 || r.JSON["public"] != false || r.Str("client_secret") != "" {
		x.t.Errorf("get acme-rotating: %d %s", r.Status, r.Body)
	}
	x.wantError("unknown application", x.call(call{method: "GET", path: "/tenants/acme/applications/nope", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("application of another tenant", x.call(call{method: "GET", path: "/tenants/acme/applications/shop-portal", token: x.root}), 404, admin.CodeNotFound, "")

	// Create with every setting; the secret is shown once and works.
	body := `{"client_id":"crm","name":"CRM","redirect_uris":["https://crm.test/cb","com.example.crm:/cb"],"post_logout_redirect_uris":["https://crm.test/bye"],
"grant_types":["authorization_code","refresh_token","client_credentials"],"session_ttl":3600,"session_auto_refresh":false,"rotation_grace":10,"device_binding":false,
"id_token_ttl":600,"id_token_alg":"ES256","access_token_ttl":900,"tenant_access_token_ttl":1200,"refresh_token_ttl":86400,"access_token_format":"jwt"}`
	r = x.call(call{method: "POST", path: "/tenants/acme/applications", token: x.acmeAdmin, body: body})
	if r.Status != 201 || len(r.Str("client_secret")) < 32 {
		x.t.Fatalf("create crm: %d %s", r.Status, r.Body)
	}
	secret := r.Str("client_secret")
	want := map[string]any{"client_id": "crm", "name": "CRM", "public": false, "session_ttl": 3600.0, "session_auto_refresh": false, "rotation_grace": 10.0,
		"device_binding": false, "id_token_ttl": 600.0, "id_token_alg": "ES256", "access_token_ttl": 900.0, "tenant_access_token_ttl": 1200.0,
		"refresh_token_ttl": 86400.0, "access_token_format": "jwt", "tenant_id": "acme"}
	got := x.call(call{method: "GET", path: "/tenants/acme/applications/crm", token: x.acmeAdmin})
	for k, v := range want {
		if got.JSON[k] != v {
			x.t.Errorf("crm %s = %v, want %v", k, got.JSON[k], v)
		}
	}
	if jsonOf(got.JSON["redirect_uris"]) != `["https://crm.test/cb","com.example.crm:/cb"]` || got.Str("client_secret") != "" {
		x.t.Errorf("crm: %s", got.Body)
	}
	tok := x.TenantTokenWith(st.EIAMHost, "crm", secret)
	if tok == "" {
		x.t.Error("the created secret does not work")
	}
	// Defaults of contract §8 for what is left out; a ciam tenant's
	// id_token lifetime.
	r = x.call(call{method: "POST", path: "/tenants/shop/applications", token: x.root, body: `{"public":true}`})
	if r.Status != 201 || !strings.HasPrefix(r.Str("client_id"), "app-") || r.JSON["public"] != true || r.Str("client_secret") != "" ||
		r.JSON["session_ttl"] != 604800.0 || r.JSON["id_token_ttl"] != 300.0 || r.JSON["device_binding"] != true || r.JSON["access_token_ttl"] != 7200.0 ||
		r.JSON["tenant_access_token_ttl"] != 1800.0 || r.JSON["refresh_token_ttl"] != 0.0 || r.Str("access_token_format") != "opaque" || jsonOf(r.JSON["grant_types"]) != `["authorization_code"]` {
		x.t.Errorf("create with defaults: %d %s", r.Status, r.Body)
	}
	x.wantError("taken client id", x.call(call{method: "POST", path: "/tenants/acme/applications", token: x.root, body: `{"client_id":"crm"}`}), 409, admin.CodeConflict, "client_id")
	x.wantError("create in unknown tenant", x.call(call{method: "POST", path: "/tenants/nope/applications", token: x.root, body: `{}`}), 404, admin.CodeNotFound, "")
	for _, tc := range []struct {
		body, field string
		breaks      bool
	}{
		{`{"redirect_uris":["https://a.test/cb#frag"]}`, "redirect_uris[0]", false},
		{`{"redirect_uris":["https://a.test/cb","/relative"]}`, "redirect_uris[1]", false},
		{`{"post_logout_redirect_uris":["http:///nohost"]}`, "post_logout_redirect_uris[0]", false},
		{`{"grant_types":["password"]}`, "grant_types[0]", true},
		{`{"public":true,"grant_types":["client_credentials"]}`, "grant_types", false},
		{`{"session_ttl":0}`, "session_ttl", true},
		{`{"id_token_alg":"HS256"}`, "id_token_alg", true},
		{`{"access_token_format":"macaroon"}`, "access_token_format", true},
		{`{"client_id":"has space"}`, "client_id", true},
		{`{"session_auto_refresh":"yes"}`, "session_auto_refresh", true},
		{`{"secret":"mine"}`, "secret", true},
	} {
		x.wantError("create "+tc.body, x.call(call{method: "POST", path: "/tenants/acme/applications", token: x.root, body: tc.body, breaks: tc.breaks}), 400, admin.CodeInvalidRequest, tc.field)
	}

	// Update: switching auto-refresh on is in force at once on this node
	// (the application cache is dropped): the next exchange rotates.
	session := x.MustLogin(st.EIAMHost, "acme-portal", "alice")
	if ex := x.Exchange(st.EIAMHost, "acme-portal", session); ex.Status != 200 || ex.Str("session_token") != session {
		x.t.Fatalf("exchange before: %d %s", ex.Status, ex.Body)
	}
	r = x.call(call{method: "PATCH", path: "/tenants/acme/applications/acme-portal", token: x.acmeUser, body: `{"session_auto_refresh":true,"rotation_grace":5}`})
	if r.Status != 200 || r.JSON["session_auto_refresh"] != true || r.JSON["rotation_grace"] != 5.0 || r.JSON["session_ttl"] != 604800.0 {
		x.t.Errorf("patch acme-portal: %d %s", r.Status, r.Body)
	}
	if ex := x.Exchange(st.EIAMHost, "acme-portal", session); ex.Status != 200 || ex.Str("session_token") == session || ex.Str("session_token") == "" {
		x.t.Errorf("exchange after switching auto-refresh on: %d %s, want a rotated token", ex.Status, ex.Body)
	}
	x.want("switch back", x.call(call{method: "PATCH", path: "/tenants/acme/applications/acme-portal", token: x.acmeUser, body: `{"session_auto_refresh":false}`}), 200)
	x.wantError("make public", x.call(call{method: "PATCH", path: "/tenants/acme/applications/crm", token: x.root, body: `{"public":true}`}), 400, admin.CodeInvalidRequest, "public")
	x.wantError("change client id", x.call(call{method: "PATCH", path: "/tenants/acme/applications/crm", token: x.root, body: `{"client_id":"crm2"}`}), 400, admin.CodeInvalidRequest, "client_id")
	x.wantError("patch bad URI", x.call(call{method: "PATCH", path: "/tenants/acme/applications/crm", token: x.root, body: `{"redirect_uris":["nope"]}`}), 400, admin.CodeInvalidRequest, "redirect_uris[0]")
	x.wantError("patch unknown", x.call(call{method: "PATCH", path: "/tenants/acme/applications/nope", token: x.root, body: `{"name":"x"}`}), 404, admin.CodeNotFound, "")

	// Rotation: the old secret stops at once, the new one works, and a
	// settings update right after does not bring the old one back.
	r = x.call(call{method: "POST", path: "/tenants/acme/applications/crm/secret", token: x.acmeAdmin})
	newSecret := r.Str("client_secret")
	if r.Status != 200 || r.Str("client_id") != "crm" || newSecret == "" || newSecret == secret {
		x.t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	x.want("patch after rotation", x.call(call{method: "PATCH", path: "/tenants/acme/applications/crm", token: x.root, body: `{"name":"CRM 2"}`}), 200)
	if x.TenantTokenWith(st.EIAMHost, "crm", secret) != "" {
		x.t.Error("the old secret still works after rotation")
	}
	if x.TenantTokenWith(st.EIAMHost, "crm", newSecret) == "" {
		x.t.Error("the new secret does not work")
	}
	x.wantError("rotate console", x.call(call{method: "POST", path: "/tenants/system/applications/" + admin.ConsoleClientID + "/secret", token: x.root}), 409, admin.CodeConflict, "client_id")
	x.wantError("rotate unknown", x.call(call{method: "POST", path: "/tenants/acme/applications/nope/secret", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("rotate with a body", x.call(call{method: "POST", path: "/tenants/acme/applications/crm/secret", token: x.root, body: `{"x":1}`, breaks: true}), 400, admin.CodeInvalidRequest, "x")

	// Delete: its tokens die with it.
	x.want("delete crm", x.call(call{method: "DELETE", path: "/tenants/acme/applications/crm", token: x.acmeAdmin}), 204)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Content-Type", "application/json")
	if ref := x.Do("POST", x.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/refresh"), h, `{"session_token":"x"}`); ref.Status != 400 || ref.Str("error") != "invalid_token" {
		x.t.Errorf("token of a deleted application: %d %s", ref.Status, ref.Body)
	}
	x.wantError("delete again", x.call(call{method: "DELETE", path: "/tenants/acme/applications/crm", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("delete console", x.call(call{method: "DELETE", path: "/tenants/system/applications/" + admin.ConsoleClientID, token: x.root}), 409, admin.CodeConflict, "client_id")
}

// TenantTokenWith gets a tenant API token with a secret; "" if refused.
func (x *env) TenantTokenWith(host, client, secret string) string {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	r := x.Do("POST", x.URL(host, "/api/v2/tenant/token"), h, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}}.Encode())
	if r.Status != 200 {
		return ""
	}
	return r.Str("access_token")
}

func testUsers(x *env) {
	r := x.call(call{method: "GET", path: "/tenants/acme/users", token: x.acmeAdmin})
	if got := field(r, "username"); r.Status != 200 || !slices.Equal(got, []string{"alice", "bob"}) {
		x.t.Errorf("users: %d %v", r.Status, got)
	}
	r = x.call(call{method: "GET", path: "/tenants/acme/users?q=LIDDELL", token: x.acmeAdmin})
	if got := field(r, "username"); !slices.Equal(got, []string{"alice"}) {
		x.t.Errorf("search by name: %v", got)
	}
	alice := x.userID("acme", "alice")
	r = x.call(call{method: "GET", path: "/tenants/acme/users/" + alice, token: x.acmeAdmin})
	if r.Status != 200 || r.Str("email") != "alice@example.com" || r.JSON["password_set"] != true || r.JSON["locked"] != false || strings.Contains(string(r.Body), "argon2") {
		x.t.Errorf("get alice: %d %s", r.Status, r.Body)
	}
	x.wantError("unknown user", x.call(call{method: "GET", path: "/tenants/acme/users/nope", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("user of another tenant", x.call(call{method: "GET", path: "/tenants/acme/users/" + x.userID("shop", "alice"), token: x.root}), 404, admin.CodeNotFound, "")

	// Create, with the tenant's password policy.
	r = x.call(call{method: "POST", path: "/tenants/acme/users", token: x.acmeAdmin, body: `{"username":"Carol","name":"Carol C","email":"carol@example.com","mobile":"+1 555 0100","password":"Carol-Pass-1"}`})
	carol := r.Str("id")
	if r.Status != 201 || carol == "" || r.Str("status") != "active" || r.JSON["password_set"] != true {
		x.t.Fatalf("create carol: %d %s", r.Status, r.Body)
	}
	x.MustLoginAs(st.EIAMHost, "acme-portal", "carol", "Carol-Pass-1")
	x.wantError("taken name", x.call(call{method: "POST", path: "/tenants/acme/users", token: x.root, body: `{"username":"CAROL"}`}), 409, admin.CodeConflict, "username")
	x.wantError("short password", x.call(call{method: "POST", path: "/tenants/acme/users", token: x.root, body: `{"username":"dave","password":"short"}`}), 400, admin.CodeInvalidRequest, "password")
	x.wantError("bad e-mail", x.call(call{method: "POST", path: "/tenants/acme/users", token: x.root, body: `{"username":"dave","email":"not-an-address"}`}), 400, admin.CodeInvalidRequest, "email")
	x.wantError("bad mobile", x.call(call{method: "POST", path: "/tenants/acme/users", token: x.root, body: `{"username":"dave","mobile":"call me"}`, breaks: true}), 400, admin.CodeInvalidRequest, "mobile")
	x.wantError("no user name", x.call(call{method: "POST", path: "/tenants/acme/users", token: x.root, body: `{"name":"x"}`, breaks: true}), 400, admin.CodeInvalidRequest, "username")
	x.wantError("create in unknown tenant", x.call(call{method: "POST", path: "/tenants/nope/users", token: x.root, body: `{"username":"x"}`}), 404, admin.CodeNotFound, "")
	// A user without a password cannot log in until one is set.
	r = x.call(call{method: "POST", path: "/tenants/acme/users", token: x.root, body: `{"username":"dave","status":"disabled"}`})
	dave := r.Str("id")
	if r.Status != 201 || r.Str("status") != "disabled" || r.JSON["password_set"] != false {
		x.t.Errorf("create dave: %d %s", r.Status, r.Body)
	}

	// Update profile and status.
	r = x.call(call{method: "PATCH", path: "/tenants/acme/users/" + carol, token: x.acmeUser, body: `{"name":"Carol Carter","email":"cc@example.com","status":"disabled"}`})
	if r.Status != 200 || r.Str("name") != "Carol Carter" || r.Str("email") != "cc@example.com" || r.Str("mobile") != "+1 555 0100" || r.Str("status") != "disabled" {
		x.t.Errorf("patch carol: %d %s", r.Status, r.Body)
	}
	if l := x.Login(st.EIAMHost, "acme-portal", "carol", "Carol-Pass-1"); l.Status == 200 {
		x.t.Errorf("a disabled user logged in: %s", l.Body)
	}
	x.wantError("rename", x.call(call{method: "PATCH", path: "/tenants/acme/users/" + carol, token: x.root, body: `{"username":"carol2"}`}), 400, admin.CodeInvalidRequest, "username")
	x.wantError("bad status", x.call(call{method: "PATCH", path: "/tenants/acme/users/" + carol, token: x.root, body: `{"status":"gone"}`, breaks: true}), 400, admin.CodeInvalidRequest, "status")
	x.wantError("password by PATCH", x.call(call{method: "PATCH", path: "/tenants/acme/users/" + carol, token: x.root, body: `{"password":"Carol-Pass-2"}`, breaks: true}), 400, admin.CodeInvalidRequest, "password")
	x.wantError("patch unknown", x.call(call{method: "PATCH", path: "/tenants/acme/users/nope", token: x.root, body: `{"name":"x"}`}), 404, admin.CodeNotFound, "")
	r = x.call(call{method: "GET", path: "/tenants/acme/users?status=disabled", token: x.root})
	if got := field(r, "username"); !slices.Equal(got, []string{"Carol", "dave"}) {
		x.t.Errorf("disabled users: %v", got)
	}

	// Enable, disable: a disabled user's live session stops at once.
	x.want("enable carol", x.call(call{method: "POST", path: "/tenants/acme/users/" + carol + "/enable", token: x.root}), 200)
	session := x.MustLoginAs(st.EIAMHost, "acme-portal", "carol", "Carol-Pass-1")
	r = x.call(call{method: "POST", path: "/tenants/acme/users/" + carol + "/disable", token: x.root})
	if r.Status != 200 || r.Str("status") != "disabled" {
		x.t.Errorf("disable: %d %s", r.Status, r.Body)
	}
	if ex := x.Exchange(st.EIAMHost, "acme-portal", session); ex.Status == 200 {
		x.t.Errorf("a disabled user's session was exchanged")
	}
	x.want("enable carol again", x.call(call{method: "POST", path: "/tenants/acme/users/" + carol + "/enable", token: x.root, body: `{}`}), 200)
	x.wantError("enable unknown", x.call(call{method: "POST", path: "/tenants/acme/users/nope/enable", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("disable unknown", x.call(call{method: "POST", path: "/tenants/acme/users/nope/disable", token: x.root}), 404, admin.CodeNotFound, "")
	for _, verb := range []string{"enable", "disable", "unlock"} {
		x.wantError(verb+" with a body", x.call(call{method: "POST", path: "/tenants/acme/users/" + carol + "/" + verb, token: x.root, body: `{"why":"x"}`, breaks: true}), 400, admin.CodeInvalidRequest, "why")
	}

	// Unlock ends a lockout.
	for range 5 {
		x.Login(st.EIAMHost, "acme-portal", "carol", "wrong-password")
	}
	r = x.call(call{method: "GET", path: "/tenants/acme/users/" + carol, token: x.root})
	if r.JSON["locked"] != true || r.Str("locked_until") == "" {
		x.t.Errorf("carol after 5 failures: %s", r.Body)
	}
	r = x.call(call{method: "POST", path: "/tenants/acme/users/" + carol + "/unlock", token: x.acmeAdmin})
	if r.Status != 200 || r.JSON["locked"] != false || r.JSON["failed_logins"] != 0.0 {
		x.t.Errorf("unlock: %d %s", r.Status, r.Body)
	}
	x.MustLoginAs(st.EIAMHost, "acme-portal", "carol", "Carol-Pass-1")
	x.wantError("unlock unknown", x.call(call{method: "POST", path: "/tenants/acme/users/nope/unlock", token: x.root}), 404, admin.CodeNotFound, "")

	// Set and reset passwords.
	x.want("set password", x.call(call{method: "PUT", path: "/tenants/acme/users/" + dave + "/password", token: x.acmeAdmin, body: `{"password":"Dave-Pass-123"}`}), 204)
	x.want("enable dave", x.call(call{method: "POST", path: "/tenants/acme/users/" + dave + "/enable", token: x.root}), 200)
	x.MustLoginAs(st.EIAMHost, "acme-portal", "dave", "Dave-Pass-123")
	x.wantError("weak password", x.call(call{method: "PUT", path: "/tenants/acme/users/" + dave + "/password", token: x.root, body: `{"password":"abc"}`}), 400, admin.CodeInvalidRequest, "password")
	x.wantError("no password", x.call(call{method: "PUT", path: "/tenants/acme/users/" + dave + "/password", token: x.root, body: `{}`, breaks: true}), 400, admin.CodeInvalidRequest, "password")
	x.wantError("set for unknown", x.call(call{method: "PUT", path: "/tenants/acme/users/nope/password", token: x.root, body: `{"password":"Dave-Pass-123"}`}), 404, admin.CodeNotFound, "")
	r = x.call(call{method: "POST", path: "/tenants/acme/users/" + dave + "/password/reset", token: x.root})
	if r.Status != 200 || len(r.Str("password")) < 16 {
		x.t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if l := x.Login(st.EIAMHost, "acme-portal", "dave", "Dave-Pass-123"); l.Status == 200 {
		x.t.Error("the old password works after a reset")
	}
	x.MustLoginAs(st.EIAMHost, "acme-portal", "dave", r.Str("password"))
	x.wantError("reset unknown", x.call(call{method: "POST", path: "/tenants/acme/users/nope/password/reset", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("reset with a body", x.call(call{method: "POST", path: "/tenants/acme/users/" + dave + "/password/reset", token: x.root, body: `{"password":"mine"}`, breaks: true}), 400, admin.CodeInvalidRequest, "password")

	testResetMFA(x, dave, r.Str("password"))
}

// testResetMFA removes the second factor of dave (acme, logged in with
// pw), enrolled here through the store: internal/server's TestMFAAdminReset
// covers the logins before and after on tenants that ask for codes.
func testResetMFA(x *env, dave, pw string) {
	mfaPath := "/tenants/acme/users/" + dave + "/mfa"
	enrolled := func(what string, want bool) {
		x.t.Helper()
		r := x.call(call{method: "GET", path: "/tenants/acme/users/" + dave, token: x.acmeAdmin})
		if r.Status != 200 || r.JSON["mfa_enrolled"] != want {
			x.t.Errorf("%s: GET dave: %d %s, want mfa_enrolled %v", what, r.Status, r.Body, want)
		}
	}
	enrolled("before enrolment", false)
	x.wantError("reset mfa of a user not enrolled", x.call(call{method: "DELETE", path: mfaPath, token: x.root}), 404, admin.CodeNotFound, "")
	mfaStore, ok := x.Server.Store().(store.MFAStore)
	if !ok {
		x.t.Fatalf("%T has no MFA store", x.Server.Store())
	}
	err := mfaStore.ConfirmTOTP(x.t.Context(), store.TOTPEnrollment{TenantID: "acme", UserID: dave, Secret: []byte("sealed secret"), CreatedAt: x.Clock.Now()},
		[][]byte{[]byte("recovery-hash-1"), []byte("recovery-hash-2")})
	if err != nil {
		x.t.Fatal(err)
	}
	enrolled("after enrolment", true)
	r := x.call(call{method: "GET", path: "/tenants/acme/users?q=dave", token: x.root})
	if l := items(r); len(l) != 1 || l[0]["mfa_enrolled"] != nil {
		x.t.Errorf("a listing shows mfa_enrolled (a read per row): %s", r.Body)
	}
	session := x.MustLoginAs(st.EIAMHost, "acme-portal", "dave", pw) // acme's policy is off: no code asked

	x.wantError("reset mfa of unknown", x.call(call{method: "DELETE", path: "/tenants/acme/users/nope/mfa", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("reset mfa of another tenant's user", x.call(call{method: "DELETE", path: "/tenants/shop/users/" + dave + "/mfa", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("reset mfa in unknown tenant", x.call(call{method: "DELETE", path: "/tenants/nope/users/" + dave + "/mfa", token: x.root}), 404, admin.CodeNotFound, "")
	x.want("reset mfa", x.call(call{method: "DELETE", path: mfaPath, token: x.acmeUser}), 204)
	enrolled("after the reset", false)
	if _, err := mfaStore.GetTOTP(x.t.Context(), "acme", dave); !errors.Is(err, store.ErrNotFound) {
		x.t.Errorf("enrolment after the reset: %v", err)
	}
	// Nothing left to remove.
	x.wantError("reset mfa again", x.call(call{method: "DELETE", path: mfaPath, token: x.root}), 404, admin.CodeNotFound, "")
	// The sessions survive, as after a password reset.
	if ex := x.Exchange(st.EIAMHost, "acme-portal", session); ex.Status != 200 {
		x.t.Errorf("dave's session after the reset: %d %s", ex.Status, ex.Body)
	}
}

// MustLoginAs logs user in with a password, failing the test otherwise.
func (x *env) MustLoginAs(host, client, user, pw string) string {
	x.t.Helper()
	r := x.Login(host, client, user, pw)
	if r.Status != 200 || r.Str("session_token") == "" {
		x.t.Fatalf("login of %s: %d %s", user, r.Status, r.Body)
	}
	return r.Str("session_token")
}

func testSessions(x *env) {
	alice, bob := x.userID("shop", "alice"), x.userID("shop", "bob")
	a1 := x.MustLogin(st.CIAMHost, "shop-portal", "alice")
	x.Clock.Advance(time.Second)
	a2 := x.MustLogin(st.CIAMHost, "shop-rotating", "alice")
	x.Clock.Advance(time.Second)
	b1 := x.MustLogin(st.CIAMHost, "shop-portal", "bob")

	r := x.call(call{method: "GET", path: "/tenants/shop/sessions?user_id=" + alice, token: x.root})
	ids := field(r, "id")
	if r.Status != 200 || len(ids) != 2 || field(r, "client_id")[0] != "shop-rotating" {
		x.t.Fatalf("alice's sessions: %d %s", r.Status, r.Body)
	}
	if s := items(r)[0]; s["user_id"] != alice || s["device"].(map[string]any)["fingerprint"] != st.Device || strings.Contains(string(r.Body), "hash") {
		x.t.Errorf("session: %v", s)
	}
	r = x.call(call{method: "GET", path: "/tenants/shop/sessions?client_id=shop-portal&limit=1", token: x.root})
	page1 := field(r, "user_id")
	r = x.call(call{method: "GET", path: "/tenants/shop/sessions?client_id=shop-portal&limit=1&cursor=" + url.QueryEscape(r.Str("next_cursor")), token: x.root})
	if page2 := field(r, "user_id"); !slices.Equal(append(page1, page2...), []string{bob, alice}) || r.Str("next_cursor") != "" {
		x.t.Errorf("sessions of shop-portal, paged: %v then %v", page1, page2)
	}
	x.wantError("sessions of unknown tenant", x.call(call{method: "GET", path: "/tenants/nope/sessions", token: x.root}), 404, admin.CodeNotFound, "")

	// Revoke one: its token is refused, the others live.
	x.want("revoke one", x.call(call{method: "DELETE", path: "/tenants/shop/sessions/" + ids[1], token: x.root}), 204)
	if ex := x.Exchange(st.CIAMHost, "shop-portal", a1); ex.Status == 200 {
		x.t.Errorf("revoked session exchanged: %s", ex.Body)
	}
	if ex := x.Exchange(st.CIAMHost, "shop-portal", b1); ex.Status != 200 {
		x.t.Errorf("bob's session after revoking alice's: %d %s", ex.Status, ex.Body)
	}
	x.wantError("revoke again", x.call(call{method: "DELETE", path: "/tenants/shop/sessions/" + ids[1], token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("revoke another tenant's", x.call(call{method: "DELETE", path: "/tenants/acme/sessions/" + ids[0], token: x.root}), 404, admin.CodeNotFound, "")

	// Revoke all of a user.
	a3 := x.MustLogin(st.CIAMHost, "shop-portal", "alice")
	r = x.call(call{method: "DELETE", path: "/tenants/shop/users/" + alice + "/sessions", token: x.root})
	if r.Status != 200 || r.JSON["revoked"] != 2.0 {
		x.t.Errorf("revoke all: %d %s", r.Status, r.Body)
	}
	for _, s := range []string{a2, a3} {
		if ex := x.Exchange(st.CIAMHost, "shop-portal", s); ex.Status == 200 {
			x.t.Errorf("a session survived revoke-all")
		}
	}
	if ex := x.Exchange(st.CIAMHost, "shop-portal", b1); ex.Status != 200 {
		x.t.Errorf("bob's session after revoking alice's: %d", ex.Status)
	}
	x.wantError("revoke all of unknown", x.call(call{method: "DELETE", path: "/tenants/shop/users/nope/sessions", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("bad limit", x.call(call{method: "GET", path: "/tenants/shop/sessions?limit=0", token: x.root, breaks: true}), 400, admin.CodeInvalidRequest, "limit")
}

func testKeys(x *env) {
	r := x.call(call{method: "GET", path: "/tenants/acme/keys", token: x.acmeAdmin})
	if r.Status != 200 || len(items(r)) != 4 {
		x.t.Fatalf("keys: %d %s", r.Status, r.Body)
	}
	before := x.Do("GET", x.URL(st.EIAMHost, "/api/v1/oauth2/keys"), nil, "")
	r = x.call(call{method: "POST", path: "/tenants/acme/keys/rotate", token: x.acmeAdmin, body: `{"algorithms":["ES256"]}`})
	if r.Status != 200 || len(items(r)) != 5 {
		x.t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	states := map[string]int{}
	for _, k := range items(r) {
		if k["alg"] == "ES256" {
			states[k["state"].(string)]++
		}
	}
	if states["current"] != 1 || states["next"] != 1 {
		x.t.Errorf("ES256 keys after rotation: %v", states)
	}
	after := x.Do("GET", x.URL(st.EIAMHost, "/api/v1/oauth2/keys"), nil, "")
	if bytes.Equal(before.Body, after.Body) {
		x.t.Error("the JWKS did not change after rotation")
	}
	x.want("rotate all", x.call(call{method: "POST", path: "/tenants/shop/keys/rotate", token: x.root}), 200)
	x.wantError("bad algorithm", x.call(call{method: "POST", path: "/tenants/acme/keys/rotate", token: x.root, body: `{"algorithms":["HS256"]}`, breaks: true}), 400, admin.CodeInvalidRequest, "algorithms[0]")
	x.wantError("keys of unknown tenant", x.call(call{method: "GET", path: "/tenants/nope/keys", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("rotate unknown tenant", x.call(call{method: "POST", path: "/tenants/nope/keys/rotate", token: x.root}), 404, admin.CodeNotFound, "")
}

func testAudit(x *env) {
	as, ok := x.Server.Store().(store.AuditStore)
	if !ok {
		x.t.Skip("the store does not implement store.AuditStore")
	}
	// Two days back: no event the server records while the test runs
	// falls in the window.
	base := x.Clock.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)
	var events []store.AuditEvent
	for i, tc := range []struct{ tenant, typ, actor string }{
		{"acme", "login.failure", "u-a"}, {"acme", "login.success", "u-a"}, {"shop", "login.failure", "u-s"},
		{"acme", "admin.user.update", "root-id"}, {"gone", "login.success", "u-g"},
	} {
		events = append(events, store.AuditEvent{TenantID: tc.tenant, Type: tc.typ, ActorID: tc.actor, Time: base.Add(time.Duration(i) * time.Minute),
			Target: "user:" + tc.actor, SourceIP: "192.0.2.1", Details: map[string]string{"n": string(rune('0' + i))}})
	}
	if err := as.AppendAudit(x.t.Context(), events...); err != nil {
		x.t.Fatal(err)
	}
	q := "/audit?since=" + url.QueryEscape(base.Format(time.RFC3339Nano)) + "&until=" + url.QueryEscape(base.Add(time.Hour).Format(time.RFC3339Nano))
	r := x.call(call{method: "GET", path: q, token: x.root})
	if got := field(r, "actor_id"); r.Status != 200 || !slices.Equal(got, []string{"u-g", "root-id", "u-s", "u-a", "u-a"}) {
		x.t.Errorf("audit, all tenants: %d %v", r.Status, got)
	}
	if it := items(r); len(it) > 0 && (it[0]["source_ip"] != "192.0.2.1" || jsonOf(it[0]["details"]) != `{"n":"4"}`) {
		x.t.Errorf("audit event: %v", it[0])
	}
	for _, tc := range []struct {
		query, token string
		want         []string
	}{
		{"&tenant=acme", x.root, []string{"admin.user.update", "login.success", "login.failure"}},
		{"&tenant=acme&type=login.failure", x.root, []string{"login.failure"}},
		{"&actor=u-s", x.root, []string{"login.failure"}},
		{"&tenant=gone", x.root, []string{"login.success"}}, // a deleted tenant's events stay readable
		{"", x.acmeAdmin, []string{"admin.user.update", "login.success", "login.failure"}},
		{"&tenant=acme", x.acmeUser, []string{"admin.user.update", "login.success", "login.failure"}},
	} {
		r := x.call(call{method: "GET", path: q + tc.query, token: tc.token})
		if got := field(r, "type"); r.Status != 200 || !slices.Equal(got, tc.want) {
			x.t.Errorf("audit %s: %d %v, want %v", tc.query, r.Status, got, tc.want)
		}
	}
	// Pages.
	var paged []string
	cursor := ""
	for range 10 {
		r = x.call(call{method: "GET", path: q + "&limit=2&cursor=" + url.QueryEscape(cursor), token: x.root})
		paged = append(paged, field(r, "actor_id")...)
		if cursor = r.Str("next_cursor"); cursor == "" {
			break
		}
	}
	if !slices.Equal(paged, []string{"u-g", "root-id", "u-s", "u-a", "u-a"}) {
		x.t.Errorf("paged audit: %v", paged)
	}
	x.wantError("another tenant's audit", x.call(call{method: "GET", path: q + "&tenant=shop", token: x.acmeAdmin}), 404, admin.CodeNotFound, "")
	x.wantError("bad since", x.call(call{method: "GET", path: "/audit?since=yesterday", token: x.root, breaks: true}), 400, admin.CodeInvalidRequest, "since")
	x.wantError("until before since", x.call(call{method: "GET", path: "/audit?since=" + url.QueryEscape(base.Format(time.RFC3339)) + "&until=" + url.QueryEscape(base.Add(-time.Hour).Format(time.RFC3339)), token: x.root}), 400, admin.CodeInvalidRequest, "until")
	x.wantError("bad cursor", x.call(call{method: "GET", path: "/audit?cursor=garbage", token: x.root}), 400, admin.CodeInvalidRequest, "cursor")
}

func testAdmins(x *env) {
	rootID := x.userID(store.SystemTenantID, "root")
	r := x.call(call{method: "GET", path: "/admins", token: x.root})
	if r.Status != 200 {
		x.t.Fatalf("admins: %d %s", r.Status, r.Body)
	}
	roles := map[string]string{}
	for _, it := range items(r) {
		roles[it["name"].(string)+"/"+it["role"].(string)] = jsonOf(it["tenant_id"])
	}
	for _, want := range []string{"root/system_admin", "robot/system_admin", "acme-robot/tenant_admin", "acme-ops/tenant_admin"} {
		if _, ok := roles[want]; !ok {
			x.t.Errorf("admins lack %s: %v", want, roles)
		}
	}
	r = x.call(call{method: "GET", path: "/admins?q=ACME-R", token: x.root})
	if got := field(r, "principal_id"); !slices.Equal(got, []string{"acme-robot"}) {
		x.t.Errorf("search admins: %v", got)
	}
	r = x.call(call{method: "GET", path: "/admins/user/" + rootID, token: x.root})
	if r.Status != 200 || r.Str("name") != "root" || r.JSON["system_admin"] != true {
		x.t.Errorf("get root: %d %s", r.Status, r.Body)
	}
	x.wantError("unknown principal", x.call(call{method: "GET", path: "/admins/user/nope", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("bad principal type", x.call(call{method: "GET", path: "/admins/group/x", token: x.root}), 400, admin.CodeInvalidRequest, "principal_type")

	// Make nobody a tenant administrator of shop and isv; it acts at once.
	nobodyID := x.userID(store.SystemTenantID, "nobody")
	r = x.call(call{method: "PUT", path: "/admins/user/" + nobodyID, token: x.root, body: `{"tenants":["shop","isv"]}`})
	if r.Status != 200 || r.JSON["system_admin"] != false || jsonOf(r.JSON["tenants"]) != `["isv","shop"]` {
		x.t.Errorf("set nobody: %d %s", r.Status, r.Body)
	}
	x.want("nobody on shop", x.call(call{method: "GET", path: "/tenants/shop", token: x.nobody}), 200)
	x.wantError("nobody on acme", x.call(call{method: "GET", path: "/tenants/acme", token: x.nobody}), 404, admin.CodeNotFound, "")
	x.wantError("unknown tenant", x.call(call{method: "PUT", path: "/admins/user/" + nobodyID, token: x.root, body: `{"tenants":["nope"]}`}), 400, admin.CodeInvalidRequest, "tenants[0]")
	x.wantError("system tenant role", x.call(call{method: "PUT", path: "/admins/user/" + nobodyID, token: x.root, body: `{"tenants":["system"]}`}), 400, admin.CodeInvalidRequest, "tenants[0]")
	x.wantError("console as admin", x.call(call{method: "PUT", path: "/admins/application/" + admin.ConsoleClientID, token: x.root, body: `{"system_admin":true}`}), 400, admin.CodeInvalidRequest, "principal_id")
	x.wantError("unknown principal", x.call(call{method: "PUT", path: "/admins/application/nope", token: x.root, body: `{"system_admin":true}`}), 404, admin.CodeNotFound, "")
	x.want("remove nobody", x.call(call{method: "DELETE", path: "/admins/user/" + nobodyID, token: x.root}), 204)
	x.wantError("nobody after removal", x.call(call{method: "GET", path: "/tenants/shop", token: x.nobody}), 403, admin.CodeForbidden, "")
	x.wantError("delete unknown", x.call(call{method: "DELETE", path: "/admins/user/nope", token: x.root}), 404, admin.CodeNotFound, "")
	x.wantError("delete bad type", x.call(call{method: "DELETE", path: "/admins/robot/x", token: x.root}), 400, admin.CodeInvalidRequest, "principal_type")

	// The last system administrator stays: with root and robot (the
	// disabled temp-admin's role removed first), removing
	// one works, removing the other then is refused.
	x.want("remove temp-admin", x.call(call{method: "DELETE", path: "/admins/user/" + x.userID(store.SystemTenantID, "temp-admin"), token: x.root}), 204)
	x.want("demote robot", x.call(call{method: "PUT", path: "/admins/application/robot", token: x.root, body: `{"system_admin":false,"tenants":["acme"]}`}), 200)
	x.wantError("demote the last", x.call(call{method: "PUT", path: "/admins/user/" + rootID, token: x.root, body: `{"system_admin":false}`}), 409, admin.CodeConflict, "system_admin")
	x.wantError("remove the last", x.call(call{method: "DELETE", path: "/admins/user/" + rootID, token: x.root}), 409, admin.CodeConflict, "")
	x.want("restore robot", x.call(call{method: "PUT", path: "/admins/application/robot", token: x.root, body: `{"system_admin":true}`}), 200)
}

// testBadRequests covers what every endpoint shares: body limits, media
// type, malformed JSON, unknown paths and methods.
func testBadRequests(x *env) {
	big := `{"id":"big","domains":["big.test"],"name":"` + strings.Repeat("x", 70<<10) + `"}`
	x.wantError("oversized body", x.call(call{method: "POST", path: "/tenants", token: x.root, body: big, breaks: true}), 413, admin.CodeTooLarge, "")
	h := http.Header{}
	h.Set("Content-Type", "text/plain")
	x.wantError("text body", x.call(call{method: "POST", path: "/tenants", token: x.root, body: `{"id":"t","domains":["t.test"]}`, header: h, breaks: true}), 415, admin.CodeUnsupportedType, "")
	x.wantError("malformed JSON", x.call(call{method: "POST", path: "/tenants", token: x.root, body: `{"id":`, breaks: true}), 400, admin.CodeInvalidRequest, "")
	// (The document cannot state that nothing may follow the object.)
	x.wantError("two objects", x.call(call{method: "POST", path: "/tenants", token: x.root, body: `{"id":"a","domains":["a.test"]} {}`}), 400, admin.CodeInvalidRequest, "")
	x.wantError("array body", x.call(call{method: "POST", path: "/tenants", token: x.root, body: `[]`, breaks: true}), 400, admin.CodeInvalidRequest, "")
	x.wantError("empty body", x.call(call{method: "POST", path: "/tenants", token: x.root, header: http.Header{"Content-Type": {"application/json"}}, breaks: true}), 400, admin.CodeInvalidRequest, "")
	x.wantError("bad limit", x.call(call{method: "GET", path: "/tenants?limit=1000", token: x.root, breaks: true}), 400, admin.CodeInvalidRequest, "limit")
	x.wantError("bad cursor", x.call(call{method: "GET", path: "/tenants?cursor=bm9wZQ", token: x.root}), 400, admin.CodeInvalidRequest, "cursor")
	x.wantError("users cursor on applications", x.call(call{method: "GET", path: "/tenants/acme/applications?cursor=" + url.QueryEscape(x.usersCursor()), token: x.root}), 400, admin.CodeInvalidRequest, "cursor")
	x.wantError("bad status filter", x.call(call{method: "GET", path: "/tenants/acme/users?status=locked", token: x.root, breaks: true}), 400, admin.CodeInvalidRequest, "status")
	x.wantError("long query", x.call(call{method: "GET", path: "/admins?q=" + strings.Repeat("q", 300), token: x.root, breaks: true}), 400, admin.CodeInvalidRequest, "q")
	r := x.call(call{method: "PUT", path: "/tenants", token: x.root, breaks: true})
	x.wantError("wrong method", r, 405, "method_not_allowed", "")
	if r.Header.Get("Allow") != "GET, POST" {
		x.t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
	x.wantError("unknown endpoint", x.call(call{method: "GET", path: "/nope", token: x.root, breaks: true}), 404, admin.CodeNotFound, "")
	// The API answers on every host; authority comes from the token.
	x.want("on a tenant's host", x.call(call{method: "GET", path: "/me", token: x.root, host: st.EIAMHost}), 200)
}

func (x *env) usersCursor() string {
	r := x.call(call{method: "GET", path: "/tenants/acme/users?limit=1", token: x.root})
	if r.Str("next_cursor") == "" {
		x.t.Fatalf("no users cursor: %s", r.Body)
	}
	return r.Str("next_cursor")
}

// testUnavailable breaks the roles table behind the server's back: every
// call then answers 503, never 500 or a wrong 401/403.
func testUnavailable(x *env) {
	driver := map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[x.Config.Storage.Driver]
	dsn := x.Config.Storage.DSN
	if driver == "sqlite" {
		dsn += "?_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		x.t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			x.t.Fatalf("%s: %v", q, err)
		}
	}
	exec("ALTER TABLE admin_roles RENAME TO admin_roles_broken")
	defer exec("ALTER TABLE admin_roles_broken RENAME TO admin_roles")
	r := x.call(call{method: "GET", path: "/me", token: x.robot})
	x.wantError("roles table gone", r, 503, admin.CodeUnavailable, "")
	if r.Header.Get("Retry-After") == "" {
		x.t.Error("503 without Retry-After")
	}
}

// testRecorded checks that every kind of change made by the steps before
// reached the audit log (through the server's audit writer, which stores
// events within its flush interval), with actor, target and source.
func testRecorded(x *env) {
	want := []string{
		"admin.application.create", "admin.application.delete", "admin.application.rotate_secret", "admin.application.update",
		"admin.keys.rotate", "admin.role.delete", "admin.role.set", "admin.session.revoke", "admin.session.revoke_all",
		"admin.tenant.create", "admin.tenant.delete", "admin.tenant.update",
		"admin.user.create", "admin.user.disable", "admin.user.enable", "admin.user.reset_mfa", "admin.user.reset_password",
		"admin.user.set_password", "admin.user.unlock", "admin.user.update",
	}
	since := url.QueryEscape(x.started.Format(time.RFC3339Nano))
	var events []map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for {
		events = events[:0]
		seen := map[string]bool{}
		cursor := ""
		for range 100 {
			r := x.call(call{method: "GET", path: "/audit?limit=200&since=" + since + "&cursor=" + url.QueryEscape(cursor), token: x.root})
			if r.Status != 200 {
				x.t.Fatalf("audit: %d %s", r.Status, r.Body)
			}
			for _, it := range items(r) {
				if typ, _ := it["type"].(string); strings.HasPrefix(typ, "admin.") {
					events = append(events, it)
					seen[typ] = true
				}
			}
			if cursor = r.Str("next_cursor"); cursor == "" {
				break
			}
		}
		var missing []string
		for _, typ := range want {
			if !seen[typ] {
				missing = append(missing, typ)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("admin changes missing from the audit log: %v", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	found := false
	for _, e := range events {
		if e["source_ip"] != "127.0.0.1" || e["actor_tenant_id"] != store.SystemTenantID || e["actor_id"] == "" || e["target"] == "" {
			x.t.Errorf("admin event without actor, target or source: %v", e)
		}
		if e["type"] == "admin.application.rotate_secret" && e["tenant_id"] == "acme" && e["target"] == "application:crm" && e["actor_id"] == "acme-robot" {
			found = true
		}
		if strings.Contains(jsonOf(e), "assword-") || strings.Contains(jsonOf(e), "Pass-") {
			x.t.Errorf("an audit event carries a password: %v", e)
		}
	}
	if !found {
		x.t.Error("no admin.application.rotate_secret event of acme-robot for application:crm in acme")
	}
}
