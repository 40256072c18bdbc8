package main

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/password"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestAdminCreate runs `sesame admin create` against the store of a
// running server, as an operator would next to it, and uses what it
// printed: the admin application's secret gets a token the admin API
// accepts, and the users' passwords are the ones stored.
func TestAdminCreate(t *testing.T) {
	e := st.New(t, "sqlite")
	environ := []string{
		"SESAME_SECRETS__KEY_ENCRYPTION_KEY=" + e.Config.Secrets.KeyEncryptionKey,
		"SESAME_SERVER__PUBLIC_URL=" + e.Config.Server.PublicURL,
	}
	run := func(stdin string, args ...string) (string, error) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := newRootCommand(&stdout, &stderr, environ)
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetArgs(append(args, "--storage-dsn", e.Config.Storage.DSN, "--log-level", "error"))
		err := cmd.ExecuteContext(t.Context())
		return stdout.String(), err
	}
	once := regexp.MustCompile(`\(shown only once\): (\S+)`)

	// An admin application: its secret works at the system tenant's
	// token endpoint, and the token at the admin API.
	out, err := run("", "admin", "create", "--client-id", "ci-bot")
	m := once.FindStringSubmatch(out)
	if err != nil || m == nil || !strings.Contains(out, "system administrator") || !strings.Contains(out, "http://admin.localhost:"+e.Port+"/api/v1/oauth2/token") {
		t.Fatalf("create ci-bot: %v\n%s", err, out)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	r := e.Do("POST", e.URL("admin.localhost", "/api/v1/oauth2/token"), h, url.Values{"grant_type": {"client_credentials"}, "client_id": {"ci-bot"}, "client_secret": {m[1]}}.Encode())
	if r.Status != 200 {
		t.Fatalf("token with the printed secret: %d %s", r.Status, r.Body)
	}
	bearer := http.Header{}
	bearer.Set("Authorization", "Bearer "+r.Str("access_token"))
	if me := e.Do("GET", e.URL("admin.localhost", "/admin/api/v1/me"), bearer, ""); me.Status != 200 || me.JSON["system_admin"] != true {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}
	// Again: the application exists, no new secret.
	if out, err := run("", "admin", "create", "--client-id", "ci-bot"); err != nil || once.MatchString(out) {
		t.Errorf("create ci-bot again: %v\n%s", err, out)
	}

	// A tenant administrator with a generated password.
	out, err = run("", "admin", "create", "--username", "ops", "--tenant", "acme")
	m = once.FindStringSubmatch(out)
	if err != nil || m == nil || !strings.Contains(out, "tenant administrator of acme") || !strings.Contains(out, "http://admin.localhost:"+e.Port+"/admin/") {
		t.Fatalf("create ops: %v\n%s", err, out)
	}
	checkPassword := func(user, pw string) {
		t.Helper()
		u, err := e.Server.Store().UserByUsername(t.Context(), store.SystemTenantID, user)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := password.Verify(u.PasswordHash, pw); !ok || err != nil {
			t.Errorf("the password of %s is not the expected one (%v)", user, err)
		}
	}
	checkPassword("ops", m[1])
	r = e.Do("GET", e.URL("admin.localhost", "/admin/api/v1/admins"), bearer, "")
	if r.Status != 200 || !strings.Contains(string(r.Body), `"name":"ops","role":"tenant_admin","tenant_id":"acme"`) {
		t.Errorf("admins after creating ops: %d %s", r.Status, r.Body)
	}

	// The same user made system administrator, with a password from
	// standard input that replaces the generated one.
	out, err = run("Chosen-Password-42\n", "admin", "create", "--username", "ops", "--password-stdin")
	if err != nil || once.MatchString(out) || !strings.Contains(out, "now system administrator") {
		t.Fatalf("create ops again: %v\n%s", err, out)
	}
	checkPassword("ops", "Chosen-Password-42")

	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"admin", "create"}, "exactly one of"},
		{"", []string{"admin", "create", "--username", "a", "--client-id", "b"}, "exactly one of"},
		{"", []string{"admin", "create", "--username", "x", "--tenant", "nope"}, `no tenant "nope"`},
		{"", []string{"admin", "create", "--username", "x", "--tenant", "system"}, "system administrators only"},
		{"short\n", []string{"admin", "create", "--username", "x", "--password-stdin"}, "12 to 128 characters"},
		{"", []string{"admin", "create", "--username", "x", "--password-stdin"}, "no password"},
		{"", []string{"admin", "create", "--client-id", "sesame-console"}, "console"},
		{"", []string{"admin", "create", "--client-id", "bad id"}, "not a valid client id"},
	} {
		if _, err := run(tc.stdin, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	if _, err := e.Server.Store().UserByUsername(t.Context(), store.SystemTenantID, "x"); err == nil {
		t.Error("a refused command created the user")
	}
}
