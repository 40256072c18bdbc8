package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/cli"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
)

const adminHost = "admin.localhost"

// env is a running server, an admin application made as `sesame admin
// create` makes it, and a per-test configuration directory.
type env struct {
	*st.Env
	t         *testing.T
	server    string // the admin domain's base URL
	configDir string
	secrets   map[string]string // client secrets of the admin applications
	environ   []string
}

func newEnv(t *testing.T, backend string) *env {
	e := st.New(t, backend)
	setup := e.AdminSetup()
	x := &env{Env: e, t: t, server: e.URL(adminHost, ""), configDir: t.TempDir(), secrets: map[string]string{}}
	for _, n := range []admin.NewAdmin{{ClientID: "ci-bot"}, {ClientID: "acme-bot", TenantID: "acme"}} {
		res, err := setup.CreateAdmin(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		x.secrets[n.ClientID] = res.ClientSecret
	}
	x.environ = []string{"HOME=/nonexistent", "XDG_CONFIG_HOME=" + x.configDir}
	return x
}

// result is what a command printed and returned.
type result struct {
	out, errOut string
	err         error
}

func (r result) String() string { return r.out + r.errOut + errString(r.err) }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return "error: " + err.Error()
}

// run runs `sesame args...` as cmd/sesame wires it, with stdin and extra
// environment variables; the HTTP client reaches the test server whatever
// the host name.
func (x *env) run(stdin string, extraEnv []string, args ...string) result {
	x.t.Helper()
	var out, errOut bytes.Buffer
	ce := cli.Env{Environ: append(append([]string{}, x.environ...), extraEnv...), HTTP: x.Client, Now: x.Clock.Now}
	root := &cobra.Command{Use: "sesame", SilenceUsage: true, SilenceErrors: true}
	// The root flags of cmd/sesame that select a store.
	root.PersistentFlags().String("config", "", "")
	root.PersistentFlags().String("storage-dsn", "", "")
	root.AddCommand(cli.Commands(ce)...)
	root.AddCommand(localKeys())
	for _, c := range root.Commands() {
		if c.Name() == "keys" {
			ce.AddRemoteKeys(c)
		}
	}
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(x.t.Context())
	return result{out.String(), errOut.String(), err}
}

// errLocal marks the direct (store) form of a keys command.
var errLocal = errors.New("local keys command")

// localKeys mirrors the flags of cmd/sesame's keys list and rotate, which
// work on the store directly.
func localKeys() *cobra.Command {
	keys := &cobra.Command{Use: "keys"}
	local := func(*cobra.Command, []string) error { return errLocal }
	list := &cobra.Command{Use: "list", RunE: local}
	list.Flags().String("tenant", "demo", "")
	rotate := &cobra.Command{Use: "rotate", RunE: local}
	rotate.Flags().StringSlice("tenant", nil, "")
	rotate.Flags().StringSlice("alg", nil, "")
	keys.AddCommand(list, rotate)
	return keys
}

// ok runs a command that must succeed.
func (x *env) ok(stdin string, args ...string) string {
	x.t.Helper()
	r := x.run(stdin, nil, args...)
	if r.err != nil {
		x.t.Fatalf("sesame %s: %v\n%s", strings.Join(args, " "), r.err, r.out)
	}
	return r.out
}

// okJSON runs a command with -o json and decodes its output.
func (x *env) okJSON(args ...string) map[string]any {
	x.t.Helper()
	out := x.ok("", append(args, "-o", "json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		x.t.Fatalf("sesame %s -o json: not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !strings.Contains(out, "\n  \"") {
		x.t.Errorf("sesame %s -o json: not indented:\n%s", strings.Join(args, " "), out)
	}
	return m
}

// fails runs a command that must fail with an error containing every want.
func (x *env) fails(stdin string, extraEnv []string, args []string, want ...string) {
	x.t.Helper()
	r := x.run(stdin, extraEnv, args...)
	if r.err == nil {
		x.t.Errorf("sesame %s succeeded, want an error:\n%s", strings.Join(args, " "), r.out)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.err.Error(), w) {
			x.t.Errorf("sesame %s: error %q, want it to contain %q", strings.Join(args, " "), r.err, w)
		}
	}
}

func (x *env) login(clientID string) string {
	x.t.Helper()
	return x.ok(x.secrets[clientID]+"\n", "login", "--server", x.server, "--client-id", clientID, "--client-secret-stdin")
}

// with returns x reporting to t (a subtest).
func (x *env) with(t *testing.T) *env {
	c := *x
	c.t = t
	return &c
}

func (x *env) loginFile() string { return filepath.Join(x.configDir, "sesame", "cli.json") }

func (x *env) storedLogin() cli.Login {
	x.t.Helper()
	b, err := os.ReadFile(x.loginFile())
	if err != nil {
		x.t.Fatal(err)
	}
	var l cli.Login
	if err := json.Unmarshal(b, &l); err != nil {
		x.t.Fatal(err)
	}
	return l
}

// wantTable checks that out is an aligned table: a header whose columns
// start where each row's cells start, and the wanted rows' first cells.
func wantTable(t *testing.T, what, out string, header []string, firstCells ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != strings.Join(header, " ") {
		t.Fatalf("%s: header %q, want %v\n%s", what, lines[0], header, out)
	}
	starts := make([]int, len(header))
	for i, h := range header {
		from := 0
		if i > 0 {
			from = starts[i-1] + len(header[i-1])
		}
		starts[i] = from + strings.Index(lines[0][from:], h)
	}
	rows := map[string]bool{}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "next page: ") || strings.HasPrefix(l, "client_secret") {
			continue
		}
		for i := 1; i < len(starts); i++ {
			if len(l) <= starts[i] || l[starts[i]-1] != ' ' || l[starts[i]] == ' ' {
				t.Errorf("%s: row %q is not aligned with the header at column %d\n%s", what, l, starts[i], out)
				break
			}
		}
		rows[strings.Fields(l)[0]] = true
	}
	for _, c := range firstCells {
		if !rows[c] {
			t.Errorf("%s: no row %q\n%s", what, c, out)
		}
	}
}

func items(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("no items: %v", m)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

func ids(list []map[string]any, key string) []string {
	var out []string
	for _, it := range list {
		s, _ := it[key].(string)
		out = append(out, s)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var onceRE = regexp.MustCompile(`\(shown only once\): (\S+)`)

// TestCLI runs every command against a server, in table and JSON form,
// with a stored login.
func TestCLI(t *testing.T) {
	for _, backend := range st.Backends() {
		t.Run(backend, func(t *testing.T) { testCLI(t, newEnv(t, backend)) })
	}
}

func testCLI(t *testing.T, x *env) {
	// Login: the file is the owner's only, and names the server.
	out := x.login("ci-bot")
	if !strings.Contains(out, `application "ci-bot" (system administrator)`) {
		t.Errorf("login: %s", out)
	}
	fi, err := os.Stat(x.loginFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("login file: %v %v", fi, err)
	}
	if di, err := os.Stat(filepath.Dir(x.loginFile())); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("login directory: %v %v", di, err)
	}
	if l := x.storedLogin(); l.Server != x.server || l.ClientID != "ci-bot" || l.AccessToken == "" || !l.ExpiresAt.After(x.Clock.Now()) {
		t.Errorf("stored login: %+v", l)
	}

	t.Run("tenant", func(t *testing.T) {
		x := x.with(t)
		wantTable(t, "tenant list", x.ok("", "tenant", "list"), []string{"ID", "NAME", "EDITION", "LANGUAGE", "DOMAINS", "CREATED"}, "acme", "shop", "system")
		if got := ids(items(t, x.okJSON("tenant", "list")), "id"); !contains(got, "acme") || !contains(got, "isv") {
			t.Errorf("tenant list -o json: %v", got)
		}
		if got := ids(items(t, x.okJSON("tenant", "list", "--search", "sho")), "id"); len(got) != 1 || got[0] != "shop" {
			t.Errorf("tenant list --search sho: %v", got)
		}
		out := x.ok("", "tenant", "create", "cli-co", "--domain", "cli-co.test,www.cli-co.test", "--name", "CLI Co", "--edition", "ciam",
			"--language", "zh", "--lockout-threshold", "3", "--lockout-window", "10m", "--mfa", "optional")
		wantTable(t, "tenant create", out, []string{"FIELD", "VALUE"}, "id", "domains", "policy.lockout_window")
		if !regexp.MustCompile(`(?m)^policy\.lockout_window\s+600$`).MatchString(out) || !regexp.MustCompile(`(?m)^domains\s+cli-co\.test,www\.cli-co\.test$`).MatchString(out) {
			t.Errorf("tenant create output:\n%s", out)
		}
		got := x.okJSON("tenant", "get", "cli-co")
		pol, _ := got["policy"].(map[string]any)
		if got["name"] != "CLI Co" || got["edition"] != "ciam" || got["default_language"] != "zh" || pol["lockout_threshold"] != 3.0 || pol["mfa"] != "optional" {
			t.Errorf("tenant get -o json: %v", got)
		}
		got = x.okJSON("tenant", "update", "cli-co", "--name", "CLI Company", "--password-min-length", "14")
		pol, _ = got["policy"].(map[string]any)
		if got["name"] != "CLI Company" || pol["password_min_length"] != 14.0 || pol["lockout_threshold"] != 3.0 || got["edition"] != "ciam" {
			t.Errorf("tenant update: %v", got)
		}
		if out := x.ok("", "tenant", "delete", "cli-co"); !strings.Contains(out, "tenant cli-co deleted") {
			t.Errorf("tenant delete: %s", out)
		}
		x.fails("", nil, []string{"tenant", "get", "cli-co"}, "not_found (HTTP 404)")
	})

	t.Run("app", func(t *testing.T) {
		x := x.with(t)
		out := x.ok("", "app", "create", "cli-app", "--tenant", "acme", "--name", "CLI App", "--grant-type", "client_credentials",
			"--session-ttl", "2h", "--session-auto-refresh", "--rotation-grace", "45s", "--id-token-alg", "ES256", "--access-token-format", "jwt")
		m := onceRE.FindStringSubmatch(out)
		if m == nil || !regexp.MustCompile(`(?m)^session_ttl\s+7200$`).MatchString(out) {
			t.Fatalf("app create:\n%s", out)
		}
		wantTable(t, "app create", out, []string{"FIELD", "VALUE"}, "client_id", "session_auto_refresh")
		// The printed secret is the application's.
		tokenWith := func(secret string) int {
			h := http.Header{}
			h.Set("Content-Type", "application/x-www-form-urlencoded")
			r := x.Do("POST", x.URL(st.EIAMHost, "/api/v1/oauth2/token"), h, url.Values{"grant_type": {"client_credentials"}, "client_id": {"cli-app"}, "client_secret": {secret}}.Encode())
			return r.Status
		}
		if s := tokenWith(m[1]); s != 200 {
			t.Errorf("token with the printed secret: %d", s)
		}
		got := x.okJSON("app", "get", "cli-app", "--tenant", "acme")
		if got["session_auto_refresh"] != true || got["rotation_grace"] != 45.0 || got["id_token_alg"] != "ES256" || got["access_token_format"] != "jwt" || got["client_secret"] != nil {
			t.Errorf("app get -o json: %v", got)
		}
		got = x.okJSON("app", "update", "cli-app", "--tenant", "acme", "--session-auto-refresh=false", "--redirect-uri", "https://cli.test/cb",
			"--grant-type", "authorization_code,client_credentials", "--refresh-token-ttl", "24h")
		if got["session_auto_refresh"] != false || got["session_ttl"] != 7200.0 || got["refresh_token_ttl"] != 86400.0 || jsonOf(got["redirect_uris"]) != `["https://cli.test/cb"]` {
			t.Errorf("app update: %v", got)
		}
		// rotate-secret: JSON and table forms; the new secret works, the old does not.
		rot := x.okJSON("app", "rotate-secret", "cli-app", "--tenant", "acme")
		s2, _ := rot["client_secret"].(string)
		if rot["client_id"] != "cli-app" || s2 == "" || s2 == m[1] || tokenWith(s2) != 200 || tokenWith(m[1]) == 200 {
			t.Errorf("rotate-secret -o json: %v", rot)
		}
		out = x.ok("", "app", "rotate-secret", "cli-app", "--tenant", "acme")
		if m3 := onceRE.FindStringSubmatch(out); m3 == nil || tokenWith(m3[1]) != 200 {
			t.Errorf("rotate-secret: %s", out)
		}
		// A public application has no secret to print.
		if out := x.ok("", "app", "create", "cli-spa", "--tenant", "acme", "--public", "--redirect-uri", "https://spa.test/cb"); onceRE.MatchString(out) || !strings.Contains(out, "public") {
			t.Errorf("public app create:\n%s", out)
		}
		// Listing, a page at a time.
		wantTable(t, "app list", x.ok("", "app", "list", "--tenant", "acme"), []string{"CLIENT_ID", "NAME", "PUBLIC", "GRANT_TYPES", "AUTO_REFRESH", "ID_TOKEN_ALG", "TOKEN_FORMAT", "CREATED"}, "cli-app", "cli-spa", "acme-portal")
		out = x.ok("", "app", "list", "--tenant", "acme", "--limit", "2")
		cur := regexp.MustCompile(`next page: --cursor (\S+)`).FindStringSubmatch(out)
		if cur == nil || strings.Count(out, "\n") != 4 {
			t.Fatalf("app list --limit 2:\n%s", out)
		}
		p1 := x.okJSON("app", "list", "--tenant", "acme", "--limit", "2")
		p2 := x.okJSON("app", "list", "--tenant", "acme", "--limit", "2", "--cursor", cur[1])
		if p1["next_cursor"] != cur[1] || len(items(t, p2)) != 2 || contains(ids(items(t, p2), "client_id"), ids(items(t, p1), "client_id")[0]) {
			t.Errorf("pages: %v then %v", p1, p2)
		}
		if got := ids(items(t, x.okJSON("app", "list", "--tenant", "acme", "--search", "cli-")), "client_id"); len(got) != 2 {
			t.Errorf("app list --search cli-: %v", got)
		}
		for _, id := range []string{"cli-app", "cli-spa"} {
			if out := x.ok("", "app", "delete", id, "--tenant", "acme"); !strings.Contains(out, "deleted") {
				t.Errorf("app delete %s: %s", id, out)
			}
		}
		x.fails("", nil, []string{"app", "get", "cli-app", "--tenant", "acme", "-o", "json"}, "not_found (HTTP 404)")
	})

	t.Run("user", func(t *testing.T) {
		x := x.with(t)
		created := x.okJSON("user", "create", "carol", "--tenant", "acme", "--name", "Carol", "--email", "carol@example.com")
		if created["username"] != "carol" || created["email"] != "carol@example.com" || created["password_set"] != false {
			t.Errorf("user create -o json: %v", created)
		}
		// The password came from standard input.
		u := x.ok("Carol-Password-1\n", "user", "create", "dave", "--tenant", "acme", "--password-stdin")
		wantTable(t, "user create", u, []string{"FIELD", "VALUE"}, "id", "username", "password_set")
		if !regexp.MustCompile(`(?m)^password_set\s+true$`).MatchString(u) {
			t.Errorf("user create dave:\n%s", u)
		}
		if r := x.Login(st.EIAMHost, "acme-portal", "dave", "Carol-Password-1"); r.Status != 200 {
			t.Errorf("dave cannot sign in with the password given on stdin: %d %s", r.Status, r.Body)
		}
		list := items(t, x.okJSON("user", "list", "--tenant", "acme", "--search", "dave"))
		if len(list) != 1 || list[0]["username"] != "dave" {
			t.Fatalf("user list --search dave: %v", list)
		}
		dave := list[0]["id"].(string)
		wantTable(t, "user list", x.ok("", "user", "list", "--tenant", "acme"), []string{"ID", "USERNAME", "NAME", "EMAIL", "STATUS", "LOCKED", "CREATED"}, dave)
		if got := x.okJSON("user", "get", dave, "--tenant", "acme"); got["username"] != "dave" || got["status"] != "active" {
			t.Errorf("user get: %v", got)
		}
		if got := x.okJSON("user", "update", dave, "--tenant", "acme", "--name", "Dave D", "--mobile", "+1-555-0100"); got["name"] != "Dave D" || got["mobile"] != "+1-555-0100" {
			t.Errorf("user update: %v", got)
		}
		if out := x.ok("", "user", "disable", dave, "--tenant", "acme"); !regexp.MustCompile(`(?m)^status\s+disabled$`).MatchString(out) {
			t.Errorf("user disable:\n%s", out)
		}
		if got := ids(items(t, x.okJSON("user", "list", "--tenant", "acme", "--status", "disabled")), "id"); len(got) != 1 || got[0] != dave {
			t.Errorf("disabled users: %v", got)
		}
		if got := x.okJSON("user", "enable", dave, "--tenant", "acme"); got["status"] != "active" {
			t.Errorf("user enable: %v", got)
		}
		if got := x.okJSON("user", "unlock", dave, "--tenant", "acme"); got["locked"] != false {
			t.Errorf("user unlock: %v", got)
		}
		if out := x.ok("Dave-New-Password-2\n", "user", "set-password", dave, "--tenant", "acme"); !strings.Contains(out, "password of user "+dave+" set") {
			t.Errorf("set-password: %s", out)
		}
		if r := x.Login(st.EIAMHost, "acme-portal", "dave", "Dave-New-Password-2"); r.Status != 200 {
			t.Errorf("dave cannot sign in with the set password: %d %s", r.Status, r.Body)
		}
		out := x.ok("", "user", "reset-password", dave, "--tenant", "acme")
		m := onceRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("reset-password: %s", out)
		}
		if r := x.Login(st.EIAMHost, "acme-portal", "dave", m[1]); r.Status != 200 {
			t.Errorf("dave cannot sign in with the reset password: %d %s", r.Status, r.Body)
		}
		if got := x.okJSON("user", "reset-password", dave, "--tenant", "acme"); got["password"] == m[1] || got["password"] == "" {
			t.Errorf("reset-password -o json: %v", got)
		}
		x.fails("", nil, []string{"user", "set-password", dave, "--tenant", "acme"}, "no password on standard input")

		// reset-mfa: dave lost his authenticator (enrolled here through the
		// store; internal/server tests the logins around a reset).
		x.fails("", nil, []string{"user", "reset-mfa", dave, "--tenant", "acme"}, "not_found (HTTP 404)")
		mfaStore, ok := x.Server.Store().(store.MFAStore)
		if !ok {
			t.Fatalf("%T has no MFA store", x.Server.Store())
		}
		if err := mfaStore.ConfirmTOTP(t.Context(), store.TOTPEnrollment{TenantID: "acme", UserID: dave, Secret: []byte("sealed secret"), CreatedAt: x.Clock.Now()}, nil); err != nil {
			t.Fatal(err)
		}
		if out := x.ok("", "user", "get", dave, "--tenant", "acme"); !regexp.MustCompile(`(?m)^mfa_enrolled\s+true$`).MatchString(out) {
			t.Errorf("user get of an enrolled user:\n%s", out)
		}
		if out := x.ok("", "user", "reset-mfa", dave, "--tenant", "acme"); !strings.Contains(out, "two-step login of user "+dave+" reset") {
			t.Errorf("reset-mfa: %s", out)
		}
		if got := x.okJSON("user", "get", dave, "--tenant", "acme"); got["mfa_enrolled"] != false {
			t.Errorf("user get after reset-mfa: %v", got)
		}
		x.fails("", nil, []string{"user", "reset-mfa", dave, "--tenant", "acme"}, "not_found (HTTP 404)")
		x.fails("", nil, []string{"user", "reset-mfa", dave}, "--tenant")
	})

	t.Run("session", func(t *testing.T) {
		x := x.with(t)
		alice := ids(items(t, x.okJSON("user", "list", "--tenant", "shop", "--search", "alice")), "id")[0]
		s1 := x.MustLogin(st.CIAMHost, "shop-portal", "alice")
		s2 := x.MustLogin(st.CIAMHost, "shop-unbound", "alice")
		s3 := x.MustLogin(st.CIAMHost, "shop-portal", "alice")
		byUser := items(t, x.okJSON("session", "list", "--tenant", "shop", "--user", alice))
		if len(byUser) != 3 {
			t.Fatalf("alice's sessions: %v", byUser)
		}
		out := x.ok("", "session", "list", "--tenant", "shop", "--app", "shop-portal")
		wantTable(t, "session list --app", out, []string{"ID", "USER_ID", "CLIENT_ID", "IP", "CREATED", "EXPIRES", "ROTATED"})
		if strings.Count(out, "shop-portal") != 2 || strings.Contains(out, "shop-unbound") {
			t.Errorf("session list --app shop-portal:\n%s", out)
		}
		if got := items(t, x.okJSON("session", "list", "--tenant", "shop", "--app", "shop-unbound")); len(got) != 1 {
			t.Fatalf("shop-unbound's sessions: %v", got)
		} else if out := x.ok("", "session", "revoke", got[0]["id"].(string), "--tenant", "shop"); !strings.Contains(out, "revoked") {
			t.Errorf("session revoke: %s", out)
		}
		if ex := x.Exchange(st.CIAMHost, "shop-unbound", s2); ex.Status == 200 {
			t.Errorf("a revoked session was exchanged")
		}
		if ex := x.Exchange(st.CIAMHost, "shop-portal", s1); ex.Status != 200 {
			t.Errorf("another session stopped: %d %s", ex.Status, ex.Body)
		}
		if got := x.okJSON("session", "revoke-all", "--tenant", "shop", "--user", alice); got["revoked"] != 2.0 {
			t.Errorf("revoke-all -o json: %v", got)
		}
		for _, s := range []string{s1, s3} {
			if ex := x.Exchange(st.CIAMHost, "shop-portal", s); ex.Status == 200 {
				t.Errorf("a session survived revoke-all")
			}
		}
		if out := x.ok("", "session", "revoke-all", "--tenant", "shop", "--user", alice); !strings.Contains(out, "0 sessions of user "+alice+" revoked") {
			t.Errorf("revoke-all again: %s", out)
		}
		x.fails("", nil, []string{"session", "revoke-all", "--tenant", "shop"}, "--user is required")
	})

	t.Run("keys", func(t *testing.T) {
		x := x.with(t)
		out := x.ok("", "keys", "list", "--tenant", "acme")
		wantTable(t, "keys list", out, []string{"KID", "ALG", "GENERATION", "STATE", "CREATED", "ACTIVATES", "RETAIN_UNTIL"})
		before := items(t, x.okJSON("keys", "list", "--tenant", "acme"))
		after := items(t, x.okJSON("keys", "rotate", "--tenant", "acme", "--alg", "ES256"))
		if len(after) != len(before)+1 {
			t.Fatalf("keys rotate --alg ES256: %d keys, then %d", len(before), len(after))
		}
		var next []string
		for _, k := range after {
			if k["state"] == "next" {
				next = append(next, k["alg"].(string))
			}
		}
		if len(next) != 1 || next[0] != "ES256" {
			t.Errorf("keys after rotation: %v", after)
		}
		out = x.ok("", "keys", "rotate", "--tenant", "acme,shop")
		if !strings.Contains(out, "tenant acme:") || !strings.Contains(out, "tenant shop:") || !strings.Contains(out, "next") {
			t.Errorf("keys rotate two tenants:\n%s", out)
		}
		// Naming a store keeps the direct form.
		if r := x.run("", nil, "keys", "list", "--tenant", "acme", "--config", "x.yaml"); !errors.Is(r.err, errLocal) {
			t.Errorf("keys list --config: %v", r.err)
		}
	})

	t.Run("audit", func(t *testing.T) {
		x := x.with(t)
		// Events reach the store in batches, at the latest
		// audit.flush_interval after they happened: store them now.
		if err := x.Server.FlushAudit(t.Context()); err != nil {
			t.Fatal(err)
		}
		got := items(t, x.okJSON("audit", "list", "--tenant", "acme", "--type", "admin.application.create"))
		if targets := ids(got, "target"); !contains(targets, "application:cli-app") || !contains(targets, "application:cli-spa") || len(targets) != 2 {
			t.Errorf("audit of application creations: %v", targets)
		}
		out := x.ok("", "audit", "list", "--tenant", "acme", "--since", "1h", "--limit", "3")
		wantTable(t, "audit list", out, []string{"TIME", "TYPE", "TENANT", "ACTOR", "TARGET", "SOURCE_IP", "DETAILS"})
		if !strings.Contains(out, "next page: --cursor") || !strings.Contains(out, "system/") {
			t.Errorf("audit list --limit 3:\n%s", out)
		}
		all := items(t, x.okJSON("audit", "list", "--tenant", "acme", "--all", "--limit", "2"))
		whole := items(t, x.okJSON("audit", "list", "--tenant", "acme", "--limit", "200"))
		if len(all) != len(whole) || len(all) < 5 || jsonOf(ids(all, "id")) != jsonOf(ids(whole, "id")) {
			t.Errorf("audit --all with pages of 2: %d events, one page of 200: %d", len(all), len(whole))
		}
		if got := items(t, x.okJSON("audit", "list", "--tenant", "acme", "--until", x.Clock.Now().Add(-time.Hour).Format(time.RFC3339))); len(got) != 0 {
			t.Errorf("events before an hour ago: %v", got)
		}
		if got := ids(items(t, x.okJSON("audit", "list", "--actor", "ci-bot", "--type", "admin.tenant.delete")), "target"); len(got) != 1 || got[0] != "tenant:cli-co" {
			t.Errorf("audit --actor ci-bot --type admin.tenant.delete: %v", got)
		}
		x.fails("", nil, []string{"audit", "list", "--since", "yesterday"}, "--since", "RFC 3339")
	})

	// An expired token is renewed with the stored credentials.
	old := x.storedLogin()
	x.Clock.Advance(3 * time.Hour)
	if got := x.okJSON("tenant", "get", "acme"); got["id"] != "acme" {
		t.Errorf("tenant get after expiry: %v", got)
	}
	renewed := x.storedLogin()
	if renewed.AccessToken == old.AccessToken || !renewed.ExpiresAt.After(x.Clock.Now()) {
		t.Errorf("the token was not renewed: %+v", renewed)
	}
	// A token the server no longer accepts (here: expired on the server's
	// clock while the file says otherwise) is renewed on its 401.
	x.Clock.Advance(3 * time.Hour)
	renewed.ExpiresAt = x.Clock.Now().Add(24 * time.Hour)
	b, _ := json.Marshal(renewed)
	if err := os.WriteFile(x.loginFile(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := x.okJSON("tenant", "get", "acme"); got["id"] != "acme" || x.storedLogin().AccessToken == renewed.AccessToken {
		t.Errorf("the refused token was not replaced: %v", got)
	}

	// Logout removes the file; commands then refuse.
	if out := x.ok("", "logout"); !strings.Contains(out, "login removed") {
		t.Errorf("logout: %s", out)
	}
	if _, err := os.Stat(x.loginFile()); !os.IsNotExist(err) {
		t.Errorf("login file after logout: %v", err)
	}
	x.fails("", []string{"SESAME_SERVER=" + x.server}, []string{"tenant", "list"}, "not logged in")
	x.fails("", nil, []string{"tenant", "list"}, "no server")
	if out := x.ok("", "logout"); !strings.Contains(out, "not logged in") {
		t.Errorf("logout again: %s", out)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCLIRefusals: missing or bad credentials, a principal without the
// right, and validation errors are reported clearly and fail the command.
func TestCLIRefusals(t *testing.T) {
	x := newEnv(t, "sqlite")
	srv := "--server=" + x.server

	// Login with a wrong secret, or of an application without an admin
	// role, stores nothing.
	x.fails("wrong\n", nil, []string{"login", srv, "--client-id", "ci-bot", "--client-secret-stdin"}, "refused the client credentials", "invalid_client")
	x.fails("", nil, []string{"login", srv, "--client-id", "ci-bot"}, "--client-secret-stdin")
	x.fails("", nil, []string{"login", "--server", "admin.example.com", "--client-id", "ci-bot", "--client-secret-stdin"}, "base URL")
	x.login("ci-bot")
	plain := x.okJSON("app", "create", "plain", "--tenant", "system", "--grant-type", "client_credentials")
	plainSecret := plain["client_secret"].(string)
	x.ok("", "logout")
	x.fails(plainSecret+"\n", nil, []string{"login", srv, "--client-id", "plain", "--client-secret-stdin"}, "forbidden (HTTP 403)")
	if _, err := os.Stat(x.loginFile()); !os.IsNotExist(err) {
		t.Errorf("a refused login was stored: %v", err)
	}

	// No token at all.
	x.fails("", []string{"SESAME_SERVER=" + x.server}, []string{"user", "list", "--tenant", "acme"}, "not logged in")
	// A token of a principal without an admin role, by flag and by
	// environment.
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	r := x.Do("POST", x.URL(adminHost, "/api/v1/oauth2/token"), h, url.Values{"grant_type": {"client_credentials"}, "client_id": {"plain"}, "client_secret": {plainSecret}}.Encode())
	plainToken := r.Str("access_token")
	x.fails("", nil, []string{"tenant", "list", srv, "--token", plainToken}, "forbidden (HTTP 403)")
	x.fails("", []string{"SESAME_SERVER=" + x.server, "SESAME_TOKEN=" + plainToken}, []string{"keys", "list", "--tenant", "acme"}, "forbidden (HTTP 403)")
	x.fails("", nil, []string{"tenant", "list", srv, "--token", "not-a-token"}, "unauthorized (HTTP 401)")

	// A tenant administrator: their tenant works, another is not found.
	x.login("acme-bot")
	if got := ids(items(t, x.okJSON("tenant", "list")), "id"); jsonOf(got) != `["acme"]` {
		t.Errorf("tenants of acme-bot: %v", got)
	}
	x.ok("", "user", "list", "--tenant", "acme")
	x.fails("", nil, []string{"user", "list", "--tenant", "shop"}, "not_found (HTTP 404)")
	x.fails("", nil, []string{"tenant", "create", "evil", "--domain", "evil.test"}, "forbidden (HTTP 403)")

	// Validation errors name the field.
	x.fails("", nil, []string{"app", "create", "bad", "--tenant", "acme", "--redirect-uri", "https://ok.test/cb,not a url"}, "invalid_request (HTTP 400)", `field "redirect_uris[1]"`)
	x.fails("", nil, []string{"app", "update", "acme-portal", "--tenant", "acme", "--id-token-alg", "HS256"}, `field "id_token_alg"`)
	x.fails("", nil, []string{"app", "update", "acme-portal", "--tenant", "acme", "--session-ttl", "1.5s"}, "--session-ttl", "whole seconds")
	x.fails("", nil, []string{"user", "create", "erin", "--tenant", "acme", "--status", "bogus"}, `field "status"`)
	x.fails("short\n", nil, []string{"user", "create", "erin", "--tenant", "acme", "--password-stdin"}, `field "password"`)
	x.fails("", nil, []string{"user", "list", "--tenant", "acme", "--limit", "1000"}, `field "limit"`)
	x.fails("", nil, []string{"app", "list"}, "--tenant is required")
	x.fails("", nil, []string{"tenant", "list", "-o", "yaml"}, `-o "yaml"`)
	x.fails("", nil, []string{"tenant", "list", "--server", "ftp://x"}, "base URL")

	// The error's text shows code, status, field and message together.
	x.fails("", nil, []string{"app", "update", "acme-portal", "--tenant", "acme", "--access-token-format", "paper"},
		`invalid_request (HTTP 400): field "access_token_format": `)
}
