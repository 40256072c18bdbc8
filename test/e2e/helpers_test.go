package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/sesamebin"
	"github.com/sesame-idp/sesame/internal/testio"
)

// Fixture values shared by the tests' configurations.
const (
	tenantID     = "acme"
	tenantHost   = "acme.test" // the tenant's domain: sent as the Host header
	rotatingApp  = "acme-rotating"
	plainApp     = "acme-plain"
	clientSecret = "e2e-secret-0123456789abcdef"
	userName     = "alice"
	userPassword = "Correct-Horse-9-e2e"
	device       = "e2e-device-fingerprint-1"
	osVersion    = "linux6.1"
	agent        = "sesame-e2e/1.0"
	deviceIP     = "192.0.2.10"

	// requestTimeout bounds every HTTP request the tests make.
	requestTimeout = 10 * time.Second
	// readyTimeout bounds a server's start (migrations, bootstrap, keys).
	readyTimeout = 45 * time.Second
)

// ---------------------------------------------------------------------------
// The binary.

// sesame is cmd/sesame, built once per test binary run.
var sesame sesamebin.Cache

func TestMain(m *testing.M) {
	code := m.Run()
	sesame.Remove()
	os.Exit(code)
}

func sesameBinary(t *testing.T) string { return sesame.Path(t) }

// ---------------------------------------------------------------------------
// Processes.

// proc is a running child process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stderr  *testio.Buffer
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
}

// childEnv is the environment of the children: ours, without SESAME_*__*
// variables that would override the test's configuration file.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SESAME_") && strings.Contains(name, "__") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// startProc starts the sesame binary with args. Its stderr (and stdout)
// go to a buffer that is logged only if the test fails. t.Cleanup kills
// the process.
func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(sesameBinary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	p := &proc{name: name, cmd: cmd, stderr: &testio.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		logOutputOnFailure(t, name, p.stderr)
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL (kill -9 on Unix) and waits for the process to end.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// logOutputOnFailure logs the (last 64 KiB of the) output of a process if
// the test failed.
func logOutputOnFailure(t *testing.T, name string, out *testio.Buffer) {
	if !t.Failed() {
		return
	}
	s := out.String()
	if len(s) > 64<<10 {
		s = "[...]" + s[len(s)-64<<10:]
	}
	t.Logf("---- stderr of %s ----\n%s---- end of %s ----", name, s, name)
}

// runCLI runs a short-lived sesame command (keys rotate, keys list) and
// returns its stdout; it fails the test if the command fails.
func runCLI(ctx context.Context, t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sesameBinary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	var stdout bytes.Buffer
	stderr := &testio.Buffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	setProcAttr(cmd)
	name := "sesame " + strings.Join(args, " ")
	t.Cleanup(func() { logOutputOnFailure(t, name, stderr) })
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", name, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// ---------------------------------------------------------------------------
// Server nodes.

// node is one `sesame serve` process.
type node struct {
	t      *testing.T
	name   string
	config string
	env    []string
	p      *proc
	base   string // http://127.0.0.1:port
}

// launchNode starts `sesame serve --config config --listen 127.0.0.1:port`
// on a free port without waiting for it; call waitReady.
func launchNode(t *testing.T, name, config string, env []string) *node {
	t.Helper()
	n := &node{t: t, name: name, config: config, env: env}
	n.spawn()
	return n
}

func (n *node) spawn() {
	n.t.Helper()
	addr := net.JoinHostPort("127.0.0.1", freePort(n.t))
	n.base = "http://" + addr
	n.p = startProc(n.t, n.name, n.env, "serve", "--config", n.config, "--listen", addr)
}

// freePort returns a port that was free a moment ago. Another process may
// take it before the server binds it; waitReady then starts the server
// again on another port.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// waitReady waits until GET /readyz answers 200, failing the test if the
// process exits or ctx ends first.
func (n *node) waitReady(ctx context.Context, c *client) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := n.pollReady(ctx, c)
		if err == nil {
			n.t.Logf("%s ready at %s after %v", n.name, n.base, time.Since(start).Round(time.Millisecond))
			return
		}
		if n.p.exited() && attempt < 3 && strings.Contains(n.p.stderr.String(), "address already in use") {
			n.t.Logf("%s: port %s was taken meanwhile; starting again", n.name, n.base)
			n.spawn()
			continue
		}
		n.t.Fatalf("%s not ready: %v", n.name, err)
	}
}

func (n *node) pollReady(ctx context.Context, c *client) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := c.do(ctx, n.base, http.MethodGet, "/readyz", nil, "")
		if err == nil && r.status == http.StatusOK {
			return nil
		}
		select {
		case <-n.p.done:
			return fmt.Errorf("process exited: %v", n.p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last answer: %v %v)", ctx.Err(), r, err)
		case <-tick.C:
		}
	}
}

// ---------------------------------------------------------------------------
// Configuration.

// configParams are the settings that differ between tests.
type configParams struct {
	driver, dsn     string
	rotationDelay   time.Duration // 0: default
	refreshInterval time.Duration // 0: default
}

// newKEK returns a random secrets.key_encryption_key.
func newKEK() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// writeConfig writes the YAML configuration of the e2e tenant to dir and
// returns its path and the environment the processes need: the database
// DSN is passed as ${SESAME_E2E_DSN}, as a deployment keeps secrets out
// of the file. The listen address is given per process (--listen); every
// node shares the public URL, as behind a load balancer.
func writeConfig(t *testing.T, p configParams) (path string, env []string) {
	t.Helper()
	var keys strings.Builder
	if p.rotationDelay > 0 || p.refreshInterval > 0 {
		keys.WriteString("keys:\n")
		if p.rotationDelay > 0 {
			fmt.Fprintf(&keys, "  rotation_delay: %s\n", p.rotationDelay)
		}
		if p.refreshInterval > 0 {
			fmt.Fprintf(&keys, "  refresh_interval: %s\n", p.refreshInterval)
		}
	}
	yaml := fmt.Sprintf(`# Written by the sesame e2e tests.
server:
  public_url: "http://%[1]s"
storage:
  driver: %[2]s
  dsn: "${SESAME_E2E_DSN}"
secrets:
  key_encryption_key: "%[3]s"
%[4]slog:
  level: info
  format: json
bootstrap:
  tenants:
    - id: %[5]s
      name: Acme E2E
      edition: eiam
      domains: ["%[1]s"]
      applications:
        - client_id: %[6]s
          client_secret: "%[8]s"
          grant_types: [client_credentials]
          session_auto_refresh: true
        - client_id: %[7]s
          client_secret: "%[8]s"
          grant_types: [client_credentials]
        - client_id: e2e-web
          client_secret: "%[8]s"
          redirect_uris: [http://rp.test/callback]
          grant_types: [authorization_code, refresh_token]
          refresh_token_ttl: 1h
      users:
        - username: %[9]s
          password: "%[10]s"
          name: Alice Liddell
          email: alice@example.com
`, tenantHost, p.driver, newKEK(), keys.String(), tenantID, rotatingApp, plainApp, clientSecret, userName, userPassword)
	path = filepath.Join(t.TempDir(), "sesame.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, childEnv("SESAME_E2E_DSN=" + p.dsn)
}

// ---------------------------------------------------------------------------
// HTTP.

// client talks to any node; the Host header selects the tenant.
type client struct {
	hc *http.Client
}

func newClient(t *testing.T) *client {
	c := &client{hc: &http.Client{
		Timeout:   requestTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
	t.Cleanup(c.hc.CloseIdleConnections)
	return c
}

// response is a read answer.
type response struct {
	status int
	body   []byte
	json   map[string]any
}

func (r response) str(key string) string {
	s, _ := r.json[key].(string)
	return s
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// do sends one request to the node at base with Host: tenantHost.
func (c *client) do(ctx context.Context, base, method, path string, h http.Header, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return response{}, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Host = tenantHost
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: resp.StatusCode, body: b}
	if len(bytes.TrimSpace(b)) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, &r.json); err != nil {
			return r, fmt.Errorf("%s %s: answer is not JSON: %q", method, path, b)
		}
	}
	return r, nil
}

// sdkHeaders are the SDK headers of app on the test device.
func sdkHeaders(app string) http.Header {
	h := http.Header{}
	h.Set("X-client-id", app)
	h.Set("X-device-fingerprint", device)
	h.Set("X-operating-sys-version", osVersion)
	h.Set("X-agent", agent)
	h.Set("X-device-ip", deviceIP)
	return h
}

// login logs the user in through app (contract §2.1).
func (c *client) login(ctx context.Context, base, app string) (response, error) {
	h := sdkHeaders(app)
	h.Set("Content-Type", "application/json")
	b, _ := json.Marshal(map[string]string{"user_name": userName, "password": userPassword})
	return c.do(ctx, base, http.MethodPost, "/api/v2/sdk/login", h, string(b))
}

// exchange exchanges a session token for an id_token (contract §2.2).
func (c *client) exchange(ctx context.Context, base, app, token string) (response, error) {
	h := sdkHeaders(app)
	h.Set("X-session-token", token)
	return c.do(ctx, base, http.MethodPost, "/api/v2/sdk/sso/session-token/id-token", h, "")
}

// logout ends the session of token (contract §2.3).
func (c *client) logout(ctx context.Context, base, app, token string) (response, error) {
	h := sdkHeaders(app)
	h.Set("X-session-token", token)
	return c.do(ctx, base, http.MethodPost, "/api/v2/sdk/logout", h, "")
}

// tenantToken gets an application access token (contract §3.1).
func (c *client) tenantToken(ctx context.Context, base, app string) (response, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "client_secret": {clientSecret}}
	return c.do(ctx, base, http.MethodPost, "/api/v2/tenant/token", h, form.Encode())
}

// refresh rotates a session token through the tenant API (contract §3.2).
func (c *client) refresh(ctx context.Context, base, accessToken, sessionToken string) (response, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "Bearer "+accessToken)
	b, _ := json.Marshal(map[string]string{
		"session_token":         sessionToken,
		"operating_sys_version": osVersion,
		"device_ip":             deviceIP,
		"device_fingerprint":    device,
		"agent":                 agent,
	})
	return c.do(ctx, base, http.MethodPost, "/api/v2/tenant/sso/session-token/refresh", h, string(b))
}

// jwk is the part of a published key the tests look at.
type jwk struct {
	Kid string `json:"kid"`
	Alg string `json:"alg"`
}

// jwks returns the tenant's published keys on the node at base.
func (c *client) jwks(ctx context.Context, base string) ([]jwk, error) {
	r, err := c.do(ctx, base, http.MethodGet, "/api/v1/oauth2/keys", nil, "")
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/oauth2/keys: %v", r)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w: %q", err, r.body)
	}
	return set.Keys, nil
}

// kidSet returns the sorted key ids of keys.
func kidSet(keys []jwk) []string {
	kids := make([]string, 0, len(keys))
	for _, k := range keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return slices.Compact(kids)
}

// jwsHeader decodes the protected header of a compact JWS.
func jwsHeader(token string) (jwk, error) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return jwk{}, errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return jwk{}, fmt.Errorf("JWS header: %w", err)
	}
	var h jwk
	if err := json.Unmarshal(raw, &h); err != nil {
		return jwk{}, fmt.Errorf("JWS header: %w", err)
	}
	if h.Kid == "" {
		return jwk{}, fmt.Errorf("JWS header without kid: %s", raw)
	}
	return h, nil
}

// must returns a function that fails the test on a transport error and
// otherwise returns the answer: must(t, "login")(c.login(...)).
func must(t *testing.T, what string) func(response, error) response {
	return func(r response, err error) response {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return r
	}
}

// mustOK is must that also fails the test unless the answer is 200.
func mustOK(t *testing.T, what string) func(response, error) response {
	return func(r response, err error) response {
		t.Helper()
		r = must(t, what)(r, err)
		if r.status != http.StatusOK {
			t.Fatalf("%s: want 200, got %v", what, r)
		}
		return r
	}
}
