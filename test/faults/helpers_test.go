//go:build linux

package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/sesamebin"
	"github.com/sesame-idp/sesame/internal/testio"
)

// Fixture values of the tests' configuration: one tenant per dialect, each
// with an application that rotates session tokens at every exchange and
// one that does not.
const (
	userName     = "alice"
	userPassword = "Correct-Horse-9-faults"
	clientSecret = "faults-secret-0123456789abcdef"
	device       = "faults-device-fingerprint-1"
	osVersion    = "linux6.1"
	agent        = "sesame-faults/1.0"

	// The timeouts the server is configured with. Every answer during an
	// outage must come within requestTimeout (plus scheduling slack): the
	// server bounds each storage call by queryTimeout and each request
	// by requestTimeout.
	queryTimeout   = 2 * time.Second
	requestTimeout = 8 * time.Second

	// clientTimeout bounds every HTTP request of the tests, well above
	// requestTimeout so that a server that hangs is seen as one.
	clientTimeout = 20 * time.Second
	// readyTimeout bounds a server's start (migrations, bootstrap, keys).
	readyTimeout = 45 * time.Second
)

// tenantFixture is one tenant of the configuration.
type tenantFixture struct {
	id, host, edition string
	rotating, plain   string // client ids
	busyStatus        int    // contract §6: the system-busy answer
	busyCode          string
}

var (
	acme = tenantFixture{id: "acme", host: "acme.test", edition: "eiam",
		rotating: "acme-rotating", plain: "acme-plain", busyStatus: 500, busyCode: "SDK.COMMON.1008"}
	shop = tenantFixture{id: "shop", host: "shop.test", edition: "ciam",
		rotating: "shop-rotating", plain: "shop-plain", busyStatus: 400, busyCode: "IDAAS.SDK.COM.0002"}
	tenants = []tenantFixture{acme, shop}
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
// The server process.

// server is one `sesame serve` process.
type server struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	out     *testio.Buffer // stdout and stderr
	done    chan struct{}
	waitErr error // valid after done
	base    string
}

// startServer starts `sesame serve` with the configuration file on a free
// port and waits until it is ready. t.Cleanup kills it.
func startServer(ctx context.Context, t *testing.T, name, config string, env []string) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s := launchServer(t, name, config, env)
		err := s.waitReady(ctx)
		if err == nil {
			return s
		}
		if s.exited() && attempt < 3 && strings.Contains(s.out.String(), "address already in use") {
			continue // another process took the free port meanwhile
		}
		t.Fatalf("%s not ready: %v\n%s", name, err, tail(s.out.String()))
	}
}

// launchServer starts the process without waiting for it.
func launchServer(t *testing.T, name, config string, env []string) *server {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", freePort(t))
	s := &server{t: t, name: name, out: &testio.Buffer{}, done: make(chan struct{}), base: "http://" + addr}
	s.cmd = exec.Command(sesameBinary(t), "serve", "--config", config, "--listen", addr)
	s.cmd.Dir = t.TempDir()
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	// The kernel kills the server if the test binary dies (a panic, a
	// -timeout), so that no server outlives its test.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("---- output of %s ----\n%s---- end of %s ----", name, tail(s.out.String()), name)
		}
	})
	return s
}

func tail(s string) string {
	if len(s) > 32<<10 {
		return "[...]" + s[len(s)-32<<10:]
	}
	return s
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *server) kill() {
	if s.exited() {
		return
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// stop shuts the server down with SIGTERM, as an operator would, and
// waits for it to exit.
func (s *server) stop() error {
	if s.exited() {
		return fmt.Errorf("%s had already exited: %v", s.name, s.waitErr)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.done:
		return s.waitErr
	case <-time.After(30 * time.Second):
		s.kill()
		return fmt.Errorf("%s did not exit within 30 s of SIGTERM", s.name)
	}
}

// checkHealthy fails the test if the server has exited or has logged a
// panic or a Go runtime fault.
func (s *server) checkHealthy(t *testing.T) {
	t.Helper()
	if s.exited() {
		t.Errorf("%s exited: %v", s.name, s.waitErr)
	}
	s.checkNoPanic(t)
}

// checkNoPanic fails the test if the server has logged a panic or a Go
// runtime fault.
func (s *server) checkNoPanic(t *testing.T) {
	t.Helper()
	out := s.out.String()
	for _, bad := range []string{"panic", "fatal error:", "goroutine ", "SIGBUS", "SIGSEGV"} {
		if strings.Contains(out, bad) {
			i := strings.Index(out, bad)
			t.Errorf("%s logged %q: %s", s.name, bad, out[max(0, i-200):min(len(out), i+800)])
			return
		}
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
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

func (s *server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	c := newClient(s.t)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := c.do(ctx, s.base, acme.host, http.MethodGet, "/readyz", nil, "")
		if err == nil && r.status == http.StatusOK {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("process exited: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last answer: %v %v)", ctx.Err(), r, err)
		case <-tick.C:
		}
	}
}

// ---------------------------------------------------------------------------
// Configuration.

// writeConfig writes the tests' configuration for the database and returns
// its path and the environment of the server: the DSN is passed as
// ${SESAME_FAULTS_DSN}. Rate limits are off, so that every refusal the
// tests see comes from storage.
func writeConfig(t *testing.T, driver, dsn string) (path string, env []string) {
	t.Helper()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by the sesame fault tests.
server:
  public_url: "http://%s"
  request_timeout: %s
storage:
  driver: %s
  dsn: "${SESAME_FAULTS_DSN}"
  query_timeout: %s
secrets:
  key_encryption_key: "%s"
log:
  level: info
  format: json
rate_limit:
  login_per_ip: {rate: 0}
  token_per_client: {rate: 0}
  exchange_per_client: {rate: 0}
  exchange_per_ip: {rate: 0}
bootstrap:
  tenants:
`, acme.host, requestTimeout, driver, queryTimeout, base64.StdEncoding.EncodeToString(kek))
	for _, tf := range tenants {
		// rotation_grace is long so that a rotation whose answer was lost
		// to the outage is still answered (with the same successor) when
		// the test checks every session at the end.
		fmt.Fprintf(&b, `    - id: %[1]s
      name: Faults %[1]s
      edition: %[2]s
      domains: ["%[3]s"]
      applications:
        - client_id: %[4]s
          client_secret: "%[6]s"
          grant_types: [client_credentials]
          session_auto_refresh: true
          rotation_grace: 10m
        - client_id: %[5]s
          client_secret: "%[6]s"
          grant_types: [client_credentials, authorization_code]
          redirect_uris: ["%[9]s"]
      users:
        - username: %[7]s
          password: "%[8]s"
          name: Alice Liddell
          email: alice@example.com
`, tf.id, tf.edition, tf.host, tf.rotating, tf.plain, clientSecret, userName, userPassword, redirectURI)
	}
	path = filepath.Join(t.TempDir(), "sesame.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		// SESAME_* variables with a double underscore would override the
		// file (config: environment overrides).
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SESAME_") && strings.Contains(name, "__") {
			continue
		}
		env = append(env, kv)
	}
	return path, append(env, "SESAME_FAULTS_DSN="+dsn)
}

// ---------------------------------------------------------------------------
// HTTP.

type client struct{ hc *http.Client }

func newClient(t *testing.T) *client {
	c := &client{hc: &http.Client{
		Timeout:   clientTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
	t.Cleanup(c.hc.CloseIdleConnections)
	return c
}

// response is a read answer and how long it took.
type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
	took   time.Duration
}

func (r response) str(key string) string {
	s, _ := r.json[key].(string)
	return s
}

func (r response) String() string {
	b := bytes.TrimSpace(r.body)
	if len(b) > 300 {
		b = append(b[:300:300], "..."...)
	}
	return fmt.Sprintf("%d %s", r.status, b)
}

// do sends one request to the server at base for the tenant at host.
func (c *client) do(ctx context.Context, base, host, method, path string, h http.Header, body string) (response, error) {
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
	req.Host = host
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{took: time.Since(start)}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}
	if err != nil {
		return r, err
	}
	if len(bytes.TrimSpace(b)) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, &r.json); err != nil {
			return r, fmt.Errorf("%s %s: answer is not JSON: %q", method, path, b)
		}
	}
	return r, nil
}

func sdkHeaders(app string) http.Header {
	h := http.Header{}
	h.Set("X-client-id", app)
	h.Set("X-device-fingerprint", device)
	h.Set("X-operating-sys-version", osVersion)
	h.Set("X-agent", agent)
	return h
}

// login logs alice in through app (contract §2.1).
func (c *client) login(ctx context.Context, base string, tf tenantFixture, app string) (response, error) {
	h := sdkHeaders(app)
	h.Set("Content-Type", "application/json")
	b, _ := json.Marshal(map[string]string{"user_name": userName, "password": userPassword})
	return c.do(ctx, base, tf.host, http.MethodPost, "/api/v2/sdk/login", h, string(b))
}

// exchange exchanges a session token for an id_token (contract §2.2).
func (c *client) exchange(ctx context.Context, base string, tf tenantFixture, app, token string) (response, error) {
	h := sdkHeaders(app)
	h.Set("X-session-token", token)
	return c.do(ctx, base, tf.host, http.MethodPost, "/api/v2/sdk/sso/session-token/id-token", h, "")
}

// tenantToken gets an application access token (contract §3.1).
func (c *client) tenantToken(ctx context.Context, base string, tf tenantFixture, app string) (response, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "client_secret": {clientSecret}}
	return c.do(ctx, base, tf.host, http.MethodPost, "/api/v2/tenant/token", h, form.Encode())
}

// introspect asks whether an access token is active (RFC 7662), as the
// application app.
func (c *client) introspect(ctx context.Context, base string, tf tenantFixture, app, token string) (response, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	form := url.Values{"token": {token}, "client_id": {app}, "client_secret": {clientSecret}}
	return c.do(ctx, base, tf.host, http.MethodPost, "/api/v1/oauth2/introspect", h, form.Encode())
}

// ---------------------------------------------------------------------------
// Outcomes.

// outcome classifies an answer of the SDK API.
type outcome int

const (
	success outcome = iota // 200
	busy                   // the contract's system-busy error of the tenant's dialect
	other                  // anything else: a wrong code, a transport error, a timeout
)

func (o outcome) String() string { return [...]string{"success", "busy", "other"}[o] }

// classify tells success, the system-busy error (contract §6: EIAM
// SDK.COMMON.1008 with 500, CIAM IDAAS.SDK.COM.0002 with 400, or OAuth's
// temporarily_unavailable with 503) and anything else apart.
func classify(tf tenantFixture, r response, err error) outcome {
	switch {
	case err != nil:
		return other
	case r.status == http.StatusOK:
		return success
	case r.status == tf.busyStatus && r.str("error_code") == tf.busyCode:
		return busy
	case r.status == http.StatusServiceUnavailable && r.str("error") == "temporarily_unavailable":
		return busy
	}
	return other
}

// tally counts outcomes and keeps the longest answer time and a few
// examples of unexpected answers.
type tally struct {
	mu       sync.Mutex
	n        [3]int
	longest  time.Duration
	examples []string
}

func (t *tally) add(o outcome, took time.Duration, what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n[o]++
	t.longest = max(t.longest, took)
	if o == other && len(t.examples) < 10 {
		t.examples = append(t.examples, what)
	}
}

func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n[0] + t.n[1] + t.n[2]
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("%d requests: %d success, %d busy, %d other; longest %v",
		t.n[0]+t.n[1]+t.n[2], t.n[success], t.n[busy], t.n[other], t.longest.Round(time.Millisecond))
}

// ---------------------------------------------------------------------------
// Sessions the server acknowledged.

// held is a session as its client holds it: the application it logs in
// through and the latest token the server answered.
type held struct {
	tf    tenantFixture
	app   string
	token string
	when  time.Time // when the server acknowledged the session
}

// ledger records every session token the server acknowledged.
type ledger struct {
	mu       sync.Mutex
	sessions []*held
}

func (l *ledger) add(s *held) {
	l.mu.Lock()
	l.sessions = append(l.sessions, s)
	l.mu.Unlock()
}

// update records a rotation the server acknowledged.
func (l *ledger) update(s *held, token string) {
	l.mu.Lock()
	s.token = token
	l.mu.Unlock()
}

// verify exchanges every acknowledged session's latest token once more,
// keeping the token each answer gives (so that verify can run again), and
// returns the sessions the server no longer accepts: acknowledged writes
// that were lost.
func (l *ledger) verify(ctx context.Context, c *client, base string) (checked int, lost []string) {
	l.mu.Lock()
	all := slices.Clone(l.sessions)
	l.mu.Unlock()
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= len(all) {
					mu.Unlock()
					return
				}
				s := all[next]
				next++
				mu.Unlock()
				l.mu.Lock()
				token := s.token
				l.mu.Unlock()
				r, err := c.exchange(ctx, base, s.tf, s.app, token)
				if err != nil || r.status != http.StatusOK || r.str("session_token") == "" {
					mu.Lock()
					lost = append(lost, fmt.Sprintf("%s via %s, acknowledged at %s: %v %v",
						s.tf.id, s.app, s.when.Format("15:04:05.000"), r, err))
					mu.Unlock()
					continue
				}
				l.update(s, r.str("session_token"))
			}
		})
	}
	wg.Wait()
	slices.Sort(lost)
	return len(all), lost
}
