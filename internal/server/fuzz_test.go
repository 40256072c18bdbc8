package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/tenant"
)

// FuzzSDKRequest and FuzzTenantRequest send fuzzed requests to one server
// per fuzz process, in process (Handler().ServeHTTP, no network), and check
// that whatever comes in, the answer is a 4xx or a success, never a 5xx nor
// the system-busy error (storage works while fuzzing), its body is JSON,
// and no secret the request carried (session or state token, bearer token,
// password, client secret) comes back in it. In CI each runs for a bounded
// time:
//
//	go test -run='^$' -fuzz='^FuzzSDKRequest$' -fuzztime=20s ./internal/server/
//
// The server runs on SQLite; SESAME_FUZZ_BACKEND=postgres (with
// SESAME_TEST_POSTGRES_DSN) runs it on PostgreSQL instead.
//
// Encoding of the inputs:
//   - op picks the endpoint (low bits) and the Host (high bits, from the
//     fixture hosts, a few odd spellings, and the fuzzed host).
//   - A fuzzed header value is split at "\n" into the values of a repeated
//     header; an empty string means the header is absent.
//   - The placeholders {{session}}, {{state}}, {{expired-state}}, {{ticket}}
//     and {{bearer}}, anywhere in a header value or the body, are replaced
//     by a fresh valid session token (of alice), PASSWORD_WARN or
//     PASSWORD_EXPIRED state token (of bob, for the request's client and
//     servertest.Device), SSO ticket, or tenant access token of the
//     request's tenant, so that the seeds reach the success paths although
//     tokens are random. They are made directly in the store, without the
//     cost of a login.

// fzSecretMin is the length from which a secret found in an answer counts
// as echoed: shorter strings turn up by chance.
const fzSecretMin = 12

var fzSDKEndpoints = []struct{ method, path string }{
	{http.MethodPost, "/api/v2/sdk/login"},
	{http.MethodPost, "/api/v2/sdk/login/auth"},
	{http.MethodPost, "/api/v2/sdk/login/state/skip"},
	{http.MethodPost, "/api/v2/sdk/login/state/change-password"},
	{http.MethodPost, "/api/v2/sdk/sso/session-token/id-token"},
	{http.MethodPost, "/api/v2/sdk/logout"},
	{http.MethodGet, "/api/v2/sdk/server-date"},
	{http.MethodPost, "/api/v2/sdk/sso/session-token/id-token"}, // the hot path, twice
}

var fzTenantEndpoints = []struct{ method, path string }{
	{http.MethodPost, "/api/v2/tenant/token"},
	{http.MethodPost, "/api/v2/tenant/sso/session-token/refresh"},
	{http.MethodPost, "/api/v2/tenant/sso/session-token/sso-ticket"},
	{http.MethodPost, "/api/v2/tenant/sso/sso-ticket/verify"},
}

// fzHosts are the Hosts op can pick; "" stands for the fuzzed host.
var fzHosts = []string{
	servertest.EIAMHost, servertest.CIAMHost, servertest.CommonHost, "",
	"www.acme.test:8443", "SHOP.TEST.", "unknown.test", "[::1]:8080",
}

// fzTB is the testing.TB the fuzz server is built with. The server logs to
// its TB, and a *testing.F must not be logged to inside the fuzz function
// (it panics), so the log is kept here: it is shown when an input fails,
// and an ERROR line (a request that failed inside) fails the input.
type fzTB struct {
	*testing.F
	mu  sync.Mutex
	log []string
}

func (tb *fzTB) Log(args ...any) {
	tb.mu.Lock()
	tb.log = append(tb.log, fmt.Sprint(args...))
	tb.mu.Unlock()
}

func (tb *fzTB) Logf(format string, args ...any) { tb.Log(fmt.Sprintf(format, args...)) }

// take returns and forgets the lines logged since the last call.
func (tb *fzTB) take() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	l := tb.log
	tb.log = nil
	return l
}

// fzServer is the server of one fuzz process and what it takes to make
// valid tokens for it.
type fzServer struct {
	tb      *fzTB
	env     *servertest.Env
	handler http.Handler
	hasher  *secret.Hasher
	users   map[string]map[string]string // tenant id → user name → user id
	bearer  map[string]string            // tenant id → access token of <tenant>-portal
}

func newFzServer(f *testing.F) *fzServer {
	backend := "sqlite"
	if b := os.Getenv("SESAME_FUZZ_BACKEND"); b != "" {
		backend = b
	}
	tb := &fzTB{F: f}
	env := servertest.New(tb, backend, func(c *config.Config) {
		// Fuzzed logins with wrong passwords would lock alice for good
		// (the clock stands still), and the valid login seeds would stop
		// reaching the success path: no lockout on acme. shop keeps it, so
		// the lockout path is fuzzed there.
		zero := 0
		for i := range c.Bootstrap.Tenants {
			if c.Bootstrap.Tenants[i].ID == "acme" {
				c.Bootstrap.Tenants[i].LockoutThreshold = &zero
			}
		}
	})
	kek, err := env.Config.KeyEncryptionKey()
	if err != nil {
		f.Fatal(err)
	}
	hasher, err := secret.NewHasher(kek)
	if err != nil {
		f.Fatal(err)
	}
	s := &fzServer{tb: tb, env: env, handler: env.Server.Handler(), hasher: hasher,
		users: map[string]map[string]string{}, bearer: map[string]string{}}
	ctx := context.Background()
	for _, tid := range []string{"acme", "shop", "isv"} {
		s.users[tid] = map[string]string{}
		for _, name := range []string{"alice", "bob"} {
			u, err := env.Server.Store().UserByUsername(ctx, tid, name)
			if err != nil {
				f.Fatal(err)
			}
			s.users[tid][name] = u.ID
		}
		// Access tokens live 30 minutes and the clock stands still: one
		// each is enough, and no endpoint revokes them.
		req := httptest.NewRequest(http.MethodPost, "/api/v2/tenant/token",
			strings.NewReader("grant_type=client_credentials&client_id="+tid+"-portal&client_secret="+servertest.Secret))
		req.Host = fzHostOf(tid)
		req.Header.Set("X-tenant-id", tid)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); rec.Code != 200 || err != nil || tok.AccessToken == "" {
			f.Fatalf("tenant token of %s: %d %s", tid, rec.Code, rec.Body)
		}
		s.bearer[tid] = tok.AccessToken
	}
	tb.take()
	return s
}

func fzHostOf(tid string) string {
	switch tid {
	case "acme":
		return servertest.EIAMHost
	case "shop":
		return servertest.CIAMHost
	}
	return servertest.CommonHost
}

// tenantOf returns the fixture tenant a request goes to, or "acme" when it
// goes to none (the tokens made for it are then simply not found).
func (s *fzServer) tenantOf(r *http.Request) string {
	switch h := tenant.Host(r); h {
	case servertest.EIAMHost, "www." + servertest.EIAMHost:
		return "acme"
	case servertest.CIAMHost:
		return "shop"
	case servertest.CommonHost:
		if id := r.Header.Get("X-tenant-id"); s.users[id] != nil {
			return id
		}
	}
	return "acme"
}

// newSession stores a fresh session of alice on servertest.Device.
func (s *fzServer) newSession(ctx context.Context, tid string) (tok, id string, err error) {
	now := s.env.Clock.Now()
	tok, id = secret.NewToken(), secret.NewToken()
	err = s.env.Server.Store().CreateSession(ctx, store.Session{
		ID: id, TenantID: tid, UserID: s.users[tid]["alice"], ClientID: tid + "-portal",
		TokenHash: s.hasher.Hash(session.PurposeSession, tok),
		Device:    store.Device{Fingerprint: servertest.Device, OSVersion: "windows10.1.1", Agent: "Mozilla/5.0 (test)"},
		AuthTime:  now, CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour),
	})
	return tok, id, err
}

// fillPlaceholders replaces the placeholders in the request's header
// values and body by fresh tokens (see the file comment).
func (s *fzServer) fillPlaceholders(r *http.Request, body []byte) ([]byte, error) {
	all := string(body)
	for _, vs := range r.Header {
		all += "\n" + strings.Join(vs, "\n")
	}
	if !strings.Contains(all, "{{") {
		return body, nil
	}
	ctx := context.Background()
	tid := s.tenantOf(r)
	now := s.env.Clock.Now()
	repl := map[string]string{}
	if strings.Contains(all, "{{session}}") {
		tok, _, err := s.newSession(ctx, tid)
		if err != nil {
			return nil, err
		}
		repl["{{session}}"] = tok
	}
	for ph, purpose := range map[string]string{"{{state}}": session.StatusPasswordWarn, "{{expired-state}}": session.StatusPasswordExpired} {
		if !strings.Contains(all, ph) {
			continue
		}
		client := strings.TrimSpace(r.Header.Get("X-client-id"))
		if client == "" || !utf8.ValidString(client) || strings.ContainsRune(client, 0) {
			// The harness writes this straight into the store; the server
			// itself refuses such a header before anything is stored, so a
			// fixture client stands in (the request still carries the
			// fuzzed header).
			client = tid + "-portal"
		}
		tok := secret.NewToken()
		if err := s.env.Server.Store().CreateStateToken(ctx, store.StateToken{
			TokenHash: s.hasher.Hash(session.PurposeState, tok), TenantID: tid, UserID: s.users[tid]["bob"],
			ClientID: client, DeviceFingerprint: servertest.Device, Purpose: purpose,
			CreatedAt: now, ExpiresAt: now.Add(session.StateTokenTTL),
		}); err != nil {
			return nil, err
		}
		repl[ph] = tok
	}
	if strings.Contains(all, "{{ticket}}") {
		_, sid, err := s.newSession(ctx, tid)
		if err != nil {
			return nil, err
		}
		tok := secret.NewToken()
		if err := s.env.Server.Store().CreateSSOTicket(ctx, store.SSOTicket{
			TicketHash: s.hasher.Hash(session.PurposeSSOTicket, tok), TenantID: tid, SessionID: sid,
			UserID: s.users[tid]["alice"], ClientID: tid + "-portal",
			CreatedAt: now, ExpiresAt: now.Add(session.SSOTicketTTL),
		}); err != nil {
			return nil, err
		}
		repl["{{ticket}}"] = tok
	}
	repl["{{bearer}}"] = s.bearer[tid]
	var pairs []string
	for k, v := range repl {
		pairs = append(pairs, k, v)
	}
	rp := strings.NewReplacer(pairs...)
	for k, vs := range r.Header {
		for i := range vs {
			vs[i] = rp.Replace(vs[i])
		}
		r.Header[k] = vs
	}
	return []byte(rp.Replace(string(body))), nil
}

// fzAddHeader adds a fuzzed header (see the file comment).
func fzAddHeader(h http.Header, name, value string) {
	if value == "" {
		return
	}
	for _, v := range strings.Split(value, "\n") {
		h.Add(name, v)
	}
}

// fzSecrets returns the secret values a request carries, as the server
// reads them: session-token headers, Authorization (whole, its token, and
// Basic credentials), and secret fields of a JSON or form body.
func fzSecrets(r *http.Request, body []byte) []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			out = append(out, v, strings.TrimSpace(v))
		}
	}
	add(r.Header.Values("X-session-token")...)
	add(r.Header.Values("session-token")...)
	for _, a := range r.Header.Values("Authorization") {
		add(a)
		if _, tok, ok := strings.Cut(a, " "); ok {
			add(tok)
			if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(tok)); err == nil {
				id, sec, _ := strings.Cut(string(raw), ":")
				add(string(raw), id, sec)
				if u, err := url.QueryUnescape(sec); err == nil {
					add(u)
				}
			}
		}
	}
	secretFields := []string{"password", "new_password", "session_token", "state_token", "sso_ticket", "client_secret"}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		for _, k := range secretFields {
			var s string
			if json.Unmarshal(m[k], &s) == nil {
				add(s)
			}
		}
	}
	if form, err := url.ParseQuery(string(body)); err == nil {
		for _, k := range secretFields {
			add(form[k]...)
		}
	}
	return out
}

// fzCatalogue holds every error message the SDK dialects can render, so
// that a "secret" that is part of a fixed text is not taken for an echo.
var fzCatalogue = func() string {
	var b strings.Builder
	for k := sdkerror.ParamMissing; k <= sdkerror.SystemBusy; k++ {
		for _, ed := range []string{"eiam", "ciam"} {
			for _, zh := range []bool{false, true} {
				_, code, msg := sdkerror.New(k).Render(ed, zh)
				b.WriteString(code + "\n" + msg + "\n")
			}
		}
	}
	return b.String()
}()

// fzCheck checks one answer; exchange tells that the request was an id-token
// exchange, whose success legitimately returns the presented session token.
func (s *fzServer) fzCheck(t *testing.T, r *http.Request, body []byte, rec *httptest.ResponseRecorder, exchange bool) {
	t.Helper()
	logs := s.tb.take()
	resp := rec.Body.Bytes()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s %s (Host %q): %s\nrequest header: %q\nrequest body: %q\nanswer: %d %q\nserver log:\n%s",
			r.Method, r.URL.Path, r.Host, fmt.Sprintf(format, args...), r.Header, body, rec.Code, resp, strings.Join(logs, "\n"))
	}
	if rec.Code >= 500 {
		fail("status %d", rec.Code)
	}
	for _, busy := range []string{"SDK.COMMON.1008", "IDAAS.SDK.COM.0002", "temporarily_unavailable", "server_error"} {
		if bytes.Contains(resp, []byte(busy)) {
			fail("system busy (%s) although storage works", busy)
		}
	}
	for _, l := range logs {
		if strings.Contains(l, "level=ERROR") {
			fail("the server logged an error")
		}
	}
	var answer map[string]any
	if len(bytes.TrimSpace(resp)) > 0 {
		if !json.Valid(resp) {
			fail("the answer is not JSON")
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			fail("JSON answer with Content-Type %q", ct)
		}
		_ = json.Unmarshal(resp, &answer)
	}
	if rec.Code == http.StatusOK && answer != nil && (answer["error"] != nil || answer["error_code"] != nil) {
		fail("an error with status 200")
	}
	if rec.Code != http.StatusOK && answer == nil {
		fail("an error without a JSON body")
	}
	for _, sec := range fzSecrets(r, body) {
		if len(sec) <= fzSecretMin {
			continue
		}
		enc, _ := json.Marshal(sec)
		forms := [][]byte{[]byte(sec), bytes.Trim(enc, `"`)}
		for _, form := range forms {
			if !bytes.Contains(resp, form) {
				continue
			}
			if exchange && rec.Code == http.StatusOK && answer["session_token"] == sec {
				continue // no rotation: the same session token comes back (contract §2.2)
			}
			if strings.Contains(fzCatalogue, sec) {
				continue // part of a fixed message, not an echo
			}
			fail("the answer echoes the secret %q", sec)
		}
	}
}

// fzServe runs one request and checks its answer.
func (s *fzServer) fzServe(t *testing.T, r *http.Request, body []byte, exchange bool) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, r)
	s.fzCheck(t, r, body, rec, exchange)
	return rec
}

// fzRequest builds a request without its body, from the fuzzed Host
// choice; fzFinish completes it.
func fzRequest(method, path string, hostSel int, host string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.Host = fzHosts[hostSel%len(fzHosts)]
	if r.Host == "" {
		r.Host = host
	}
	return r
}

// fzFinish fills the placeholders of r and body and sets the body.
func (s *fzServer) fzFinish(t *testing.T, r *http.Request, body []byte) []byte {
	t.Helper()
	body, err := s.fillPlaceholders(r, body)
	if err != nil {
		t.Fatalf("making tokens: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body
}

func FuzzSDKRequest(f *testing.F) {
	dev := []string{servertest.Device, "windows10.1.1", "Mozilla/5.0 (test)", "192.168.1.2"}
	login := []byte(`{"user_name":"alice","password":"` + servertest.Password + `"}`)
	const js = "application/json"
	// op: endpoint = op&7 (0 login, 1 login/auth, 2 skip, 3 change-password,
	// 4 and 7 exchange, 5 logout, 6 server-date); host = fzHosts[op>>3 & 7].
	op := func(endpoint, host int) uint8 { return uint8(endpoint | host<<3) }
	type in struct {
		op                                               uint8
		host, tenantID, client, fp, osv, agent, ip, lang string
		xSession, session, authorization, contentType    string
		body                                             []byte
	}
	for _, s := range []in{
		{op(0, 0), "", "", "acme-portal", dev[0], dev[1], dev[2], dev[3], "", "", "", "", js, login},
		{op(1, 1), "", "", "shop-portal", dev[0], dev[1], dev[2], "", "zh", "", "", "", js, []byte(`{"user_name":"alice@example.com","password":"wrong-password"}`)},
		{op(0, 2), "", "isv", "isv-portal", dev[0], dev[1], dev[2], "", "", "", "", "", js, []byte(`{"user_name":"nobody","password":"x"}`)},
		{op(2, 0), "", "", "acme-portal", dev[0], dev[1], dev[2], "", "", "", "", "", js, []byte(`{"state_token":"{{state}}"}`)},
		{op(3, 1), "", "", "shop-portal", dev[0], dev[1], dev[2], "", "", "", "", "", js, []byte(`{"state_token":"{{expired-state}}","new_password":"Brand-New-Secret-1"}`)},
		{op(4, 0), "", "", "acme-portal", dev[0], dev[1], dev[2], "", "", "{{session}}", "", "", "", nil},
		{op(7, 0), "", "", "acme-rotating", dev[0], dev[1], dev[2], "", "", "{{session}}", "", "", "", nil},
		{op(4, 1), "", "", "shop-es256", dev[0], dev[1], dev[2], "", "", "", "{{session}}", "", "", nil},
		{op(4, 0), "", "", "acme-portal", dev[0], dev[1], dev[2], "", "", "{{session}}", "other-session-token", "", "", nil},
		{op(5, 2), "", "isv", "isv-portal", dev[0], dev[1], dev[2], "", "", "", "{{session}}", "", "", nil},
		{op(6, 1), "", "", "shop-portal", dev[0], dev[1], dev[2], "", "", "", "", "", "", nil},
		{op(4, 3), "evil.test", "", "acme-portal", dev[0], dev[1], dev[2], "", "", "{{session}}", "", "Bearer {{bearer}}", "", nil},
		{op(0, 0), "", "", "", dev[0], dev[1], dev[2], "", "", "", "", "", js, login},
		{op(0, 0), "", "", "acme-portal", dev[0], dev[1], "", "", "", "", "", "", js, login},
		{op(0, 1), "", "", "shop-portal", dev[0], dev[1], dev[2], "", "", "", "", "", "text/plain", login},
		{op(0, 1), "", "", "shop-portal", dev[0], dev[1], dev[2], "", "", "", "", "", js, []byte(`{"user_name":"alice","password":`)},
		{op(4, 1), "", "", "shop-portal", dev[0], dev[1], dev[2], "", "", strings.Repeat("t", 600), "", "", "", nil},
	} {
		f.Add(s.op, s.host, s.tenantID, s.client, s.fp, s.osv, s.agent, s.ip, s.lang, s.xSession, s.session, s.authorization, s.contentType, s.body)
	}
	s := newFzServer(f)
	f.Fuzz(func(t *testing.T, op uint8, host, tenantID, clientID, fingerprint, osVersion, agent, deviceIP, lang,
		xSessionToken, sessionToken, authorization, contentType string, body []byte) {
		ep := fzSDKEndpoints[int(op&7)%len(fzSDKEndpoints)]
		r := fzRequest(ep.method, ep.path, int(op>>3), host)
		for _, h := range []struct{ name, value string }{
			{"X-tenant-id", tenantID}, {"X-client-id", clientID}, {"X-device-fingerprint", fingerprint},
			{"X-operating-sys-version", osVersion}, {"X-agent", agent}, {"X-device-ip", deviceIP}, {"X-L", lang},
			{"X-session-token", xSessionToken}, {"session-token", sessionToken},
			{"Authorization", authorization}, {"Content-Type", contentType},
		} {
			fzAddHeader(r.Header, h.name, h.value)
		}
		body = s.fzFinish(t, r, body)
		exchange := strings.HasSuffix(ep.path, "/id-token")
		rec := s.fzServe(t, r, body, exchange)
		if rec.Code != http.StatusOK {
			return
		}
		// A success has the shape of contract §2.
		var answer map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		switch {
		case exchange:
			if tok, _ := answer["session_token"].(string); len(tok) < 22 || strings.Count(fmt.Sprint(answer["id_token"]), ".") != 2 {
				t.Fatalf("exchange answered %s", rec.Body)
			}
		case strings.HasSuffix(ep.path, "/logout"):
			if rec.Body.Len() != 0 {
				t.Fatalf("logout answered %q", rec.Body)
			}
		case strings.HasSuffix(ep.path, "/server-date"):
			if _, ok := answer["timestamp"].(string); !ok {
				t.Fatalf("server-date answered %s", rec.Body)
			}
		default:
			switch answer["status"] {
			case session.StatusSuccess, session.StatusPasswordWarn, session.StatusPasswordExpired, "MFA_REQUIRED":
			default:
				t.Fatalf("login answered %s", rec.Body)
			}
		}
	})
}

func FuzzTenantRequest(f *testing.F) {
	const js, fm = "application/json", "application/x-www-form-urlencoded"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("acme-portal:"+servertest.Secret))
	sess := func(tok, fp string) []byte {
		return []byte(`{"session_token":"` + tok + `","operating_sys_version":"windows10.1.1","device_ip":"192.168.1.2","device_fingerprint":"` + fp + `","agent":"Mozilla/5.0 (test)"}`)
	}
	// op: endpoint = op&3 (0 token, 1 refresh, 2 sso-ticket, 3 verify);
	// host = fzHosts[op>>2 & 7].
	op := func(endpoint, host int) uint8 { return uint8(endpoint | host<<2) }
	type in struct {
		op                                               uint8
		host, tenantID, authorization, contentType, lang string
		body                                             []byte
	}
	for _, s := range []in{
		{op(0, 0), "", "", "", fm, "", []byte("grant_type=client_credentials&client_id=acme-portal&client_secret=" + servertest.Secret)},
		{op(0, 1), "", "", basic, fm, "", []byte("grant_type=client_credentials")},
		{op(0, 2), "", "isv", "", fm, "", []byte("grant_type=client_credentials&client_id=isv-portal&client_secret=wrong-secret-123")},
		{op(0, 0), "", "", "", fm, "", []byte("grant_type=client_credentials&client_id=acme-portal&client_id=acme-portal&client_secret=x")},
		{op(0, 0), "", "", "", js, "", []byte(`{"grant_type":"client_credentials"}`)},
		{op(0, 0), "", "", "", fm, "", []byte("grant_type=password&client_id=acme-public")},
		{op(1, 0), "", "", "Bearer {{bearer}}", js, "", sess("{{session}}", servertest.Device)},
		{op(1, 1), "", "", "bearer {{bearer}}", js, "zh", sess("{{session}}", "other-device")},
		{op(1, 2), "", "isv", "Bearer {{bearer}}", js, "", sess("unknown-session-token", servertest.Device)},
		{op(2, 0), "", "", "Bearer {{bearer}}", js, "", sess("{{session}}", servertest.Device)},
		{op(3, 0), "", "", "Bearer {{bearer}}", js, "", []byte(`{"sso_ticket":"{{ticket}}","operating_sys_version":"linux","device_ip":"10.0.0.1","device_fingerprint":"d"}`)},
		{op(3, 1), "", "", "Bearer {{bearer}}", js, "", []byte(`{"sso_ticket":"{{ticket}}"}`)},
		{op(1, 0), "", "", "", js, "", sess("{{session}}", servertest.Device)},
		{op(1, 0), "", "", "Bearer not-a-valid-access-token", js, "", sess("{{session}}", servertest.Device)},
		{op(1, 0), "", "", "Bearer {{bearer}}", "text/plain", "", sess("{{session}}", servertest.Device)},
		{op(2, 3), "evil.test", "", "Bearer {{bearer}}", js, "", []byte(`{"session_token":5}`)},
	} {
		f.Add(s.op, s.host, s.tenantID, s.authorization, s.contentType, s.lang, s.body)
	}
	s := newFzServer(f)
	f.Fuzz(func(t *testing.T, op uint8, host, tenantID, authorization, contentType, lang string, body []byte) {
		ep := fzTenantEndpoints[int(op&3)]
		r := fzRequest(ep.method, ep.path, int(op>>2), host)
		for _, h := range []struct{ name, value string }{
			{"X-tenant-id", tenantID}, {"Authorization", authorization}, {"Content-Type", contentType}, {"X-L", lang},
		} {
			fzAddHeader(r.Header, h.name, h.value)
		}
		body = s.fzFinish(t, r, body)
		rec := s.fzServe(t, r, body, false)
		if rec.Code != http.StatusOK {
			return
		}
		var answer map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		var want string
		switch {
		case strings.HasSuffix(ep.path, "/token"):
			want = "access_token"
		case strings.HasSuffix(ep.path, "/refresh"):
			want = "session_token"
		case strings.HasSuffix(ep.path, "/sso-ticket"):
			want = "sso_ticket"
		default:
			want = "code"
		}
		if v, _ := answer[want].(string); v == "" {
			t.Fatalf("%s answered %s", ep.path, rec.Body)
		}
	})
}
