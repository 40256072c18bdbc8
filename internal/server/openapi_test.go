package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/sesame-idp/sesame/api"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
)

// The OpenAPI document api/openapi.json describes the public APIs
// (contract §2–§4). TestOpenAPI keeps it true: every request the test
// sends to a real server goes through a transport that validates the
// request and the response against the document (kin-openapi's
// openapi3filter, with JSON Schema 2020-12 for OpenAPI 3.1), so the test
// fails when the server answers a status, header or body shape the
// document does not list. Requests meant to break the document (a
// required header missing, a limit exceeded) must be reported as breaking
// it, which checks that the document states those rules. Finally every
// documented (operation, status) pair, and every documented (operation,
// status, error code), must have been exercised, except those listed in
// unprovokable.

// unprovokable lists documented answers the test cannot cause, with the
// reason. Keys are "operationId status" or "operationId status code".
var unprovokable = map[string]string{}

// undocumented are the requests the test makes outside the document: the
// hosted login form of contract §5 (a browser page, not an API), used to
// obtain authorization codes.
var undocumented = map[string]bool{
	"POST /api/v1/oauth2/login": true,
}

// ---------------------------------------------------------------- document

type contract struct {
	doc  *openapi3.T
	opts *openapi3filter.Options
}

var (
	contractOnce sync.Once
	contractDoc  *contract
	contractErr  error
)

func loadContract(t *testing.T) *contract {
	t.Helper()
	contractOnce.Do(func() {
		// Hosted pages are text/html; their schema is a plain string.
		openapi3filter.RegisterBodyDecoder("text/html", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(r)
			return string(b), err
		})
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err != nil {
			contractErr = fmt.Errorf("loading the document: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contractErr = fmt.Errorf("the document is not valid OpenAPI: %w", err)
			return
		}
		contractDoc = &contract{doc: doc, opts: &openapi3filter.Options{
			IncludeResponseStatus: true, // an undocumented status is an error
			AuthenticationFunc:    authenticate,
		}}
	})
	if contractErr != nil {
		t.Fatal(contractErr)
	}
	return contractDoc
}

// authenticate checks that a request carries what a security scheme asks
// for (the server, not the document, decides whether it is valid).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, _, _ := strings.Cut(h, " ")
	if in.SecurityScheme.Type == "http" && strings.EqualFold(scheme, in.SecurityScheme.Scheme) {
		return nil
	}
	return fmt.Errorf("no %s credentials", in.SecurityScheme.Scheme)
}

// route finds the documented operation of a request. Sesame's paths have
// no templates, so the path is looked up as it is.
func (c *contract) route(method, path string) (*routers.Route, bool) {
	pi := c.doc.Paths.Value(path)
	if pi == nil {
		return nil, false
	}
	op := pi.GetOperation(method)
	if op == nil {
		return nil, false
	}
	return &routers.Route{Spec: c.doc, Path: path, PathItem: pi, Method: method, Operation: op}, true
}

// documented returns every "operationId status" and "operationId status
// code" the document lists, codes being the enumerated values of the
// error_code (SDK) or error (OAuth) member of a JSON error body.
func (c *contract) documented() map[string]bool {
	out := map[string]bool{}
	for _, pi := range c.doc.Paths.Map() {
		for _, op := range pi.Operations() {
			for status, rr := range op.Responses.Map() {
				key := op.OperationID + " " + status
				out[key] = true
				if rr.Value == nil {
					continue
				}
				if mt := rr.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					for _, code := range errorCodes(mt.Schema.Value, 0) {
						out[key+" "+code] = true
					}
				}
			}
		}
	}
	return out
}

func errorCodes(s *openapi3.Schema, depth int) []string {
	if s == nil || depth > 8 {
		return nil
	}
	var codes []string
	for _, name := range []string{"error_code", "error"} {
		if p := s.Properties[name]; p != nil && p.Value != nil {
			for _, v := range p.Value.Enum {
				if code, ok := v.(string); ok {
					codes = append(codes, code)
				}
			}
		}
	}
	for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
		for _, sub := range list {
			codes = append(codes, errorCodes(sub.Value, depth+1)...)
		}
	}
	return codes
}

// ---------------------------------------------------------------- transport

type breaksKey struct{}

// validator is an http.RoundTripper that validates every request and
// response against the document and counts what was exercised.
type validator struct {
	t    *testing.T
	c    *contract
	base http.RoundTripper

	mu   sync.Mutex
	hits map[string]int
}

func short(err error) string {
	s := err.Error()
	if len(s) > 1500 {
		s = s[:1500] + "…"
	}
	return s
}

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	what := req.Method + " " + req.URL.Host + req.URL.Path
	route, ok := v.c.route(req.Method, req.URL.Path)
	if !ok {
		if !undocumented[req.Method+" "+req.URL.Path] {
			v.t.Errorf("%s: the operation is not in the document", what)
		}
		return v.base.RoundTrip(req)
	}
	ctx := req.Context()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: vreq, Route: route, Options: v.c.opts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	breaks, _ := ctx.Value(breaksKey{}).(bool)
	switch {
	case breaks && reqErr == nil:
		v.t.Errorf("%s: the request was meant to break the document but conforms to it (a rule the server enforces is not documented)", what)
	case !breaks && reqErr != nil:
		v.t.Errorf("%s: the request does not conform to the document: %s", what, short(reqErr))
	}

	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	if err != nil {
		return nil, err
	}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: v.c.opts}
	rin.SetBodyBytes(rb)
	if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
		v.t.Errorf("%s: the answer contradicts the document: %d %.300s: %s", what, resp.StatusCode, rb, short(err))
		return resp, nil
	}
	if rr := route.Operation.Responses.Status(resp.StatusCode); rr != nil && rr.Value != nil && len(rr.Value.Content) == 0 && len(rb) > 0 {
		v.t.Errorf("%s: %d is documented without a body, but the answer has one: %.300q", what, resp.StatusCode, rb)
		return resp, nil
	}
	key := route.Operation.OperationID + " " + strconv.Itoa(resp.StatusCode)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.hits[key]++
	var e struct {
		Code  string `json:"error_code"`
		Error string `json:"error"`
	}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && json.Unmarshal(rb, &e) == nil {
		if e.Code != "" {
			v.hits[key+" "+e.Code]++
		} else if e.Error != "" {
			v.hits[key+" "+e.Error]++
		}
	}
	return resp, nil
}

// assertCovered fails the test for every documented answer that was not
// exercised and is not listed as unprovokable.
func (v *validator) assertCovered(t *testing.T) {
	t.Helper()
	doc := v.c.documented()
	v.mu.Lock()
	defer v.mu.Unlock()
	var missing []string
	pairs, triples := 0, 0
	for key := range doc {
		if strings.Count(key, " ") == 1 {
			pairs++
		} else {
			triples++
		}
		_, excused := unprovokable[key]
		switch {
		case v.hits[key] == 0 && !excused:
			missing = append(missing, key)
		case v.hits[key] > 0 && excused:
			t.Errorf("%s is listed as unprovokable but was exercised: remove it from the list", key)
		}
	}
	for key := range unprovokable {
		if !doc[key] {
			t.Errorf("unprovokable lists %s, which the document does not", key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		t.Errorf("documented but never exercised: %s", key)
	}
	ops := map[string]bool{}
	for key := range doc {
		op, _, _ := strings.Cut(key, " ")
		ops[op] = true
	}
	t.Logf("%d operations; %d (operation, status) pairs and %d (operation, status, code) triples documented; %d unprovokable",
		len(ops), pairs, triples, len(unprovokable))
}

// ---------------------------------------------------------------- requests

// edition is a fixture tenant of one edition.
type edition struct {
	name, host, tenant string
}

func (ed edition) ciam() bool { return ed.name == "ciam" }

// code picks the code of the tenant's dialect.
func (ed edition) code(eiam, ciam string) string {
	if ed.ciam() {
		return ciam
	}
	return eiam
}

// client returns the fixture application of that kind ("portal", ...).
func (ed edition) client(kind string) string { return ed.tenant + "-" + kind }

var editions = []edition{
	{"eiam", st.EIAMHost, "acme"},
	{"ciam", st.CIAMHost, "shop"},
}

type call struct {
	method, host, path string
	h                  http.Header
	body               string
	// breaks: the request deliberately breaks the document (a required
	// header or field missing, a limit exceeded, a wrong content type).
	breaks bool
}

// oapi sends the test's requests to one server.
type oapi struct {
	t *testing.T
	e *st.Env

	nonces int // of signed calls, see nonce
}

func (x *oapi) do(c call) st.Response {
	x.t.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	ctx := context.WithValue(x.t.Context(), breaksKey{}, c.breaks)
	req, err := http.NewRequestWithContext(ctx, c.method, x.e.URL(c.host, c.path), rd)
	if err != nil {
		x.t.Fatal(err)
	}
	for k, vs := range c.h {
		req.Header[k] = slices.Clone(vs)
	}
	resp, err := x.e.Client.Do(req)
	if err != nil {
		x.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	r := st.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if len(bytes.TrimSpace(b)) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, &r.JSON); err != nil {
			x.t.Errorf("%s %s: answer is not JSON: %q", c.method, c.path, b)
		}
	}
	return r
}

// want checks status and error code (error_code, or OAuth's error) of an
// answer; code "" means none.
func (x *oapi) want(what string, r st.Response, status int, code string) {
	x.t.Helper()
	got := r.Str("error_code")
	if got == "" {
		got = r.Str("error")
	}
	if r.Status != status || got != code {
		x.t.Errorf("%s: got %d %.300s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

// sdkHeaders returns the common SDK headers of client, changed by kv
// pairs: an empty value removes the header.
func sdkHeaders(client string, kv ...string) http.Header {
	h := st.SDKHeaders(client)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			h.Del(kv[i])
		} else {
			h.Set(kv[i], kv[i+1])
		}
	}
	return h
}

func jsonBody(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func formBody(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

var (
	formCT = "application/x-www-form-urlencoded"
	jsonCT = "application/json"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// login logs user in through the documented SDK login and returns the
// session token.
func (x *oapi) login(ed edition, client, user, password string) string {
	x.t.Helper()
	r := x.do(call{"POST", ed.host, "/api/v2/sdk/login", sdkHeaders(client), jsonBody("user_name", user, "password", password), false})
	if r.Status != 200 || r.Str("status") != "SUCCESS" {
		x.t.Fatalf("login of %s via %s: %d %s", user, client, r.Status, r.Body)
	}
	return r.Str("session_token")
}

// stateToken logs user in expecting a password state and returns the
// state token.
func (x *oapi) stateToken(ed edition, user, password, status string) string {
	x.t.Helper()
	r := x.do(call{"POST", ed.host, "/api/v2/sdk/login", sdkHeaders(ed.client("portal")), jsonBody("user_name", user, "password", password), false})
	if r.Status != 200 || r.Str("status") != status || r.Str("state_token") == "" {
		x.t.Fatalf("login of %s: %d %s, want %s", user, r.Status, r.Body, status)
	}
	return r.Str("state_token")
}

func (x *oapi) tenantToken(ed edition) string {
	x.t.Helper()
	r := x.do(call{"POST", ed.host, "/api/v2/tenant/token", hdr("Content-Type", formCT), formBody("grant_type", "client_credentials", "client_id", ed.client("portal"), "client_secret", st.Secret), false})
	if r.Status != 200 || r.Str("access_token") == "" {
		x.t.Fatalf("tenant token: %d %s", r.Status, r.Body)
	}
	return r.Str("access_token")
}

func (x *oapi) setUserStatus(ed edition, user, status string) {
	x.t.Helper()
	ctx := x.t.Context()
	u, err := x.e.Server.Store().UserByUsername(ctx, ed.tenant, user)
	if err != nil {
		x.t.Fatal(err)
	}
	u.Status = status
	if err := x.e.Server.Store().UpdateUserProfile(ctx, u); err != nil {
		x.t.Fatal(err)
	}
}

// sessionBody is the body of the tenant session endpoints (seed 002).
func sessionBody(token, fingerprint string, drop ...string) string {
	m := map[string]string{"session_token": token, "operating_sys_version": "windows10.1.1", "device_ip": "192.168.1.1", "device_fingerprint": fingerprint, "agent": "agent:Mozilla/5.0"}
	for _, d := range drop {
		delete(m, d)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func ticketBody(ticket string, drop ...string) string {
	m := map[string]string{"sso_ticket": ticket, "operating_sys_version": "windows10.1.1", "device_ip": "192.168.1.1", "device_fingerprint": st.Device}
	for _, d := range drop {
		delete(m, d)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// breakTable renames a table behind the server's back, so that the
// server's queries on it fail as with a broken database, and returns the
// function that puts it back.
func (x *oapi) breakTable(table string) (restore func()) {
	x.t.Helper()
	driver := map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[x.e.Config.Storage.Driver]
	dsn := x.e.Config.Storage.DSN
	if driver == "sqlite" {
		dsn += "?_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		x.t.Fatal(err)
	}
	exec := func(q string) {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			x.t.Fatalf("%s: %v", q, err)
		}
	}
	exec("ALTER TABLE " + table + " RENAME TO " + table + "_broken")
	return func() {
		exec("ALTER TABLE " + table + "_broken RENAME TO " + table)
		db.Close()
	}
}

// publicKey fetches an application's key for X-signature through the
// documented GET /api/v2/sdk/public-key (its first call creates the pair).
func (x *oapi) publicKey(host, client string, kv ...string) *rsa.PublicKey {
	x.t.Helper()
	r := x.do(call{"GET", host, "/api/v2/sdk/public-key", sdkHeaders(client, kv...), "", false})
	block, rest := pem.Decode([]byte(r.Str("public_key")))
	if r.Status != 200 || block == nil || block.Type != "PUBLIC KEY" || len(rest) != 0 {
		x.t.Fatalf("public key of %s: %d %s", client, r.Status, r.Body)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	pub, ok := k.(*rsa.PublicKey)
	if err != nil || !ok || pub.N.BitLen() != 2048 {
		x.t.Fatalf("public key of %s: %T %v, want RSA-2048", client, k, err)
	}
	return pub
}

// nonce returns a nonce no signed call of the test has used.
func (x *oapi) nonce() string {
	x.nonces++
	return "nonce-" + strconv.Itoa(x.nonces)
}

// signedText is the plaintext of an X-signature.
func signedText(token string, at time.Time, nonce string) string {
	return "session_token=" + token + "&timestamp=" + strconv.FormatInt(at.UnixMilli(), 10) + "&nonce=" + nonce
}

// seal makes an X-signature as the document describes it: base64 of the
// RSA-OAEP-SHA256 encryption of plaintext to pub, with MGF1-SHA256 or, as
// Java's RSA/ECB/OAEPWithSHA-256AndMGF1Padding does by default, MGF1-SHA1.
func (x *oapi) seal(pub *rsa.PublicKey, plaintext string, javaMGF bool) string {
	x.t.Helper()
	opts := &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}
	if javaMGF {
		opts.MGFHash = crypto.SHA1
	}
	ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, []byte(plaintext), opts)
	if err != nil {
		x.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

// ---------------------------------------------------------------- tests

// TestOpenAPIDocument checks the document without a server: it is valid
// OpenAPI 3.1, its operation ids are unique, and every SDK error code it
// lists exists in the catalogue (internal/sdkerror) with the HTTP status
// it is listed under, and the other way round.
func TestOpenAPIDocument(t *testing.T) {
	c := loadContract(t)
	if !c.doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %s, want 3.1", c.doc.OpenAPI)
	}
	ids := map[string]bool{}
	for path, pi := range c.doc.Paths.Map() {
		for method, op := range pi.Operations() {
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s %s: missing or duplicate operationId %q", method, path, op.OperationID)
			}
			ids[op.OperationID] = true
		}
	}
	if len(c.doc.Servers) == 0 || c.doc.Servers[0].Variables["tenant_domain"] == nil {
		t.Error("servers lack the tenant_domain variable")
	}

	// The catalogue, rendered: code -> status. Kinds are found by trying
	// them: a kind the catalogue does not have renders as EIAM's busy
	// error in the CIAM dialect too.
	catalogue := map[string]int{}
	for k := sdkerror.Kind(1); k < 256; k++ {
		if _, code, _ := sdkerror.New(k).Render(store.EditionCIAM, false); code == "SDK.COMMON.1008" {
			continue
		}
		for _, edition := range []string{store.EditionEIAM, store.EditionCIAM} {
			for _, arg := range []string{"x", "X-client-id", "session_token"} {
				status, code, _ := sdkerror.New(k, arg, "0").Render(edition, false)
				catalogue[code] = status
			}
		}
	}
	if len(catalogue) < 20 {
		t.Fatalf("found only %d catalogue codes: the probe of the catalogue is broken", len(catalogue))
	}
	listed := map[string]bool{}
	for key := range c.documented() {
		f := strings.Fields(key)
		if len(f) != 3 || !strings.Contains(f[2], ".") {
			continue // OAuth codes have no dots
		}
		listed[f[2]] = true
		status, ok := catalogue[f[2]]
		switch {
		case !ok:
			t.Errorf("%s: the catalogue has no code %s", f[0], f[2])
		case strconv.Itoa(status) != f[1]:
			t.Errorf("%s lists %s under %s; the catalogue answers it with %d", f[0], f[2], f[1], status)
		}
	}
	for code := range catalogue {
		if !listed[code] {
			t.Errorf("catalogue code %s is listed by no operation", code)
		}
	}
}

// TestOpenAPI drives a real server through every documented operation and
// answer, validating each request and response against the document.
func TestOpenAPI(t *testing.T) {
	c := loadContract(t)
	passwordExpiry := func(cfg *config.Config) {
		for i := range cfg.Bootstrap.Tenants {
			cfg.Bootstrap.Tenants[i].PasswordMaxAge = 90 * 24 * time.Hour
			cfg.Bootstrap.Tenants[i].PasswordWarnBefore = 7 * 24 * time.Hour
		}
	}
	eachBackend(t, func(t *testing.T, backend string) {
		e := st.New(t, backend, passwordExpiry, mfaTenants)
		v := &validator{t: t, c: c, base: e.Client.Transport, hits: map[string]int{}}
		e.Client.Transport = v
		x := &oapi{t: t, e: e}

		// The document serves itself.
		r := x.do(call{"GET", st.EIAMHost, "/api/openapi.json", nil, "", false})
		if r.Status != 200 || !bytes.Equal(r.Body, api.OpenAPI) || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET /api/openapi.json: %d %s, %d bytes; want the embedded document", r.Status, r.Header.Get("Content-Type"), len(r.Body))
		}

		x.sdkCommon()
		x.sdkLogin()
		x.sdkState()
		x.sdkSession()
		x.sdkSigned()
		x.sdkMFA()
		x.tenantAPI()
		x.oauth()
		x.expiry()  // the clock moves 1 h
		x.faults()  // tables break and come back
		x.expired() // the clock moves 91 days
		x.storeDown()
		rateLimited(t, c, v, backend)
		if !t.Failed() {
			v.assertCovered(t)
		}
	})
}

// rateLimited provokes the 429 answers of the rate limits on a second
// server with tight limits (lowLimits), through a validator whose hits
// count for v.
func rateLimited(t *testing.T, c *contract, v *validator, backend string) {
	e := st.New(t, backend, lowLimits)
	v2 := &validator{t: t, c: c, base: e.Client.Transport, hits: map[string]int{}}
	e.Client.Transport = v2
	x := &oapi{t: t, e: e}
	for i, ed := range editions {
		ip := fmt.Sprintf("198.51.100.%d", i+1)
		h := sdkHeaders(ed.client("portal"), "X-Forwarded-For", ip)
		tooMany := ed.code("SDK.COMMON.1015", "IDAAS.SDK.COM.0003")
		for range 3 { // lowLimits: 3 logins per IP
			x.want(ed.name+" login within the limit", x.do(call{"POST", ed.host, sdkOps[0].path, h, sdkOps[0].body, false}), 400, ed.code("SDK.LOGIN.1010", "IDAAS.SDK.LOGIN.0001"))
		}
		for _, op := range sdkOps[:2] {
			x.want(ed.name+" "+op.id+" past the limit", x.do(call{"POST", ed.host, op.path, h, op.body, false}), 429, tooMany)
		}
		ex := sdkHeaders(ed.client("portal"), "X-Forwarded-For", ip, ed.code("X-session-token", "session-token"), "some-token")
		for range 3 { // 3 exchanges per IP
			x.want(ed.name+" exchange within the limit", x.do(call{"POST", ed.host, sdkOps[4].path, ex, "", false}), 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0023"))
		}
		x.want(ed.name+" exchange past the limit", x.do(call{"POST", ed.host, sdkOps[4].path, ex, "", false}), 429, tooMany)
	}
	for _, tc := range []struct{ path, client string }{{"/api/v2/tenant/token", "acme-portal"}, {"/api/v1/oauth2/token", "acme-web"}} {
		body := formBody("grant_type", "client_credentials", "client_id", tc.client, "client_secret", st.Secret)
		for range 2 { // 2 tokens per client
			x.want(tc.path+" within the limit", x.do(call{"POST", st.EIAMHost, tc.path, hdr("Content-Type", formCT), body, false}), 200, "")
		}
		x.want(tc.path+" past the limit", x.do(call{"POST", st.EIAMHost, tc.path, hdr("Content-Type", formCT), body, false}), 429, "temporarily_unavailable")
	}
	v2.mu.Lock()
	v.mu.Lock()
	for k, n := range v2.hits {
		v.hits[k] += n
	}
	v.mu.Unlock()
	v2.mu.Unlock()
}

// sdkOp is an SDK operation with a body that is well-formed but fails
// harmlessly once the common header checks pass.
type sdkOp struct {
	id, method, path, body string
	// signed: the operation requires X-signature; the requests of
	// sdkCommon and storeDown carry a placeholder, as they fail before it
	// is read.
	signed bool
}

var sdkOps = []sdkOp{
	{"sdkLogin", "POST", "/api/v2/sdk/login", `{"user_name":"nobody","password":"wrong-password"}`, false},
	{"sdkLoginUnified", "POST", "/api/v2/sdk/login/auth", `{"user_name":"nobody","password":"wrong-password"}`, false},
	{"sdkLoginSkip", "POST", "/api/v2/sdk/login/state/skip", `{"state_token":"nope"}`, false},
	{"sdkLoginChangePassword", "POST", "/api/v2/sdk/login/state/change-password", `{"state_token":"nope","new_password":"Brand-New-Secret-1"}`, false},
	{"sdkExchangeIdToken", "POST", "/api/v2/sdk/sso/session-token/id-token", "", false},
	{"sdkLogout", "POST", "/api/v2/sdk/logout", "", false},
	{"sdkServerDate", "GET", "/api/v2/sdk/server-date", "", false},
	{"sdkPublicKey", "GET", "/api/v2/sdk/public-key", "", false},
	{"sdkSignedIdToken", "POST", "/api/v2/sdk/session-token/refresh-id-token", "", true},
	{"sdkSignedLogout", "GET", "/api/v2/sdk/logout", "", true},
}

func init() { sdkOps = append(sdkOps, mfaOps...) } // see openapi_mfa_test.go

// headers returns sdkHeaders(client, kv...) with a placeholder
// X-signature on the signed operations.
func (op sdkOp) headers(client string, kv ...string) http.Header {
	h := sdkHeaders(client, kv...)
	if op.signed {
		h.Set("X-signature", base64.StdEncoding.EncodeToString([]byte("placeholder")))
	}
	return h
}

// sdkCommon: the header checks every SDK endpoint shares, in both
// dialects, and the tenant selection.
func (x *oapi) sdkCommon() {
	long := strings.Repeat("a", 1100)
	for _, ed := range editions {
		client := ed.client("portal")
		for _, op := range sdkOps {
			send := func(what string, h http.Header, breaks bool, status int, code string) {
				x.t.Helper()
				x.want(ed.name+" "+op.id+" "+what, x.do(call{op.method, ed.host, op.path, h, op.body, breaks}), status, code)
			}
			send("missing X-client-id", op.headers(client, "X-client-id", ""), true, 400, ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0002"))
			send("missing X-agent", op.headers(client, "X-agent", ""), true, 400, ed.code("SDK.COMMON.1003", "IDAAS.SDK.PARAM.0001"))
			send("missing X-device-fingerprint", op.headers(client, "X-device-fingerprint", ""), true, 400, ed.code("SDK.COMMON.1003", "IDAAS.SDK.PARAM.0001"))
			send("oversized X-agent", op.headers(client, "X-agent", long), true, 400, ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004"))
			send("X-device-ip not an IP", op.headers(client, "X-device-ip", "not-an-ip"), false, 400, ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004"))
			send("unknown client", op.headers("nope", "X-L", "zh"), false, 400, ed.code("SDK.COMMON.1012", "IDAAS.SDK.PARAM.0003"))
		}
		r := x.do(call{"GET", ed.host, "/api/v2/sdk/server-date", sdkHeaders(client), "", false})
		if _, err := strconv.ParseInt(r.Str("timestamp"), 10, 64); r.Status != 200 || err != nil {
			x.t.Errorf("server-date: %d %s", r.Status, r.Body)
		}
	}
	// Tenant selection: unknown host, common domain (ISV mode).
	login := jsonBody("user_name", "alice", "password", st.Password)
	x.want("unknown host", x.do(call{"POST", "unknown.test", "/api/v2/sdk/login", sdkHeaders("acme-portal"), login, false}), 400, "SDK.COMMON.1012")
	x.want("common domain without X-tenant-id", x.do(call{"POST", st.CommonHost, "/api/v2/sdk/login", sdkHeaders("isv-portal"), login, false}), 400, "SDK.COMMON.1001")
	x.want("common domain, unknown X-tenant-id", x.do(call{"POST", st.CommonHost, "/api/v2/sdk/login", sdkHeaders("isv-portal", "X-tenant-id", "nope"), login, false}), 400, "SDK.COMMON.1012")
	r := x.do(call{"POST", st.CommonHost, "/api/v2/sdk/login", sdkHeaders("isv-portal", "X-tenant-id", "isv"), login, false})
	x.want("ISV login", r, 200, "")
}

// sdkLogin: both login endpoints, their body checks, credentials,
// lockout and disabled accounts.
func (x *oapi) sdkLogin() {
	for _, ed := range editions {
		client := ed.client("portal")
		for _, path := range []string{"/api/v2/sdk/login", "/api/v2/sdk/login/auth"} {
			send := func(what string, h http.Header, body string, breaks bool, status int, code string) st.Response {
				x.t.Helper()
				r := x.do(call{"POST", ed.host, path, h, body, breaks})
				x.want(ed.name+" "+path+" "+what, r, status, code)
				return r
			}
			malformed := ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004")
			r := send("success", sdkHeaders(client), jsonBody("user_name", "alice", "password", st.Password), false, 200, "")
			if r.Str("status") != "SUCCESS" || r.Num("expire") != 604800 {
				x.t.Errorf("%s: %s", path, r.Body)
			}
			send("wrong content type", sdkHeaders(client, "Content-Type", "text/plain"), jsonBody("user_name", "alice", "password", "x"), true, 400, malformed)
			send("not JSON", sdkHeaders(client), "{nope", true, 400, malformed)
			send("a JSON array", sdkHeaders(client), "[1]", true, 400, malformed)
			send("user_name a number", sdkHeaders(client), `{"user_name":5,"password":"x"}`, true, 400, malformed)
			send("oversized user_name", sdkHeaders(client), jsonBody("user_name", strings.Repeat("u", 300), "password", "x"), true, 400, malformed)
			send("oversized password", sdkHeaders(client), jsonBody("user_name", "alice", "password", strings.Repeat("p", 1100)), true, 400, malformed)
			send("body over 16 KiB", sdkHeaders(client), jsonBody("user_name", "alice", "password", "x", "pad", strings.Repeat("p", 17000)), false, 400, malformed)
			send("missing password", sdkHeaders(client), jsonBody("user_name", "alice"), true, 400, ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0001"))
			send("empty user_name", sdkHeaders(client), jsonBody("user_name", "", "password", "x"), true, 400, ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0001"))
			send("unknown user", sdkHeaders(client), jsonBody("user_name", "nobody", "password", "wrong-password"), false, 400, ed.code("SDK.LOGIN.1010", "IDAAS.SDK.LOGIN.0001"))
		}
		// Unified login by e-mail and mobile.
		for _, id := range []string{"alice@example.com", "+86-13800000000"} {
			r := x.do(call{"POST", ed.host, "/api/v2/sdk/login/auth", sdkHeaders(client), jsonBody("user_name", id, "password", st.Password), false})
			x.want(ed.name+" unified login by "+id, r, 200, "")
		}

		// Lockout: the fifth failure locks; both endpoints then refuse.
		bad := func(path string) st.Response {
			return x.do(call{"POST", ed.host, path, sdkHeaders(client), jsonBody("user_name", "bob", "password", "wrong-password"), false})
		}
		for range 4 {
			x.want(ed.name+" bob wrong password", bad("/api/v2/sdk/login"), 400, ed.code("SDK.LOGIN.1010", "IDAAS.SDK.LOGIN.0001"))
		}
		locked := ed.code("SDK.LOGIN.1003", "IDAAS.SDK.LOGIN.0002")
		x.want(ed.name+" fifth failure", bad("/api/v2/sdk/login"), 400, locked)
		x.want(ed.name+" locked, unified", bad("/api/v2/sdk/login/auth"), 400, locked)
		x.e.Clock.Advance(16 * time.Minute)
		x.login(ed, client, "bob", st.Password)

		// A disabled account (with the right password).
		x.setUserStatus(ed, "bob", store.UserDisabled)
		for _, path := range []string{"/api/v2/sdk/login", "/api/v2/sdk/login/auth"} {
			r := x.do(call{"POST", ed.host, path, sdkHeaders(client), jsonBody("user_name", "bob", "password", st.Password), false})
			x.want(ed.name+" disabled "+path, r, 400, ed.code("SDK.LOGIN.1011", "IDAAS.SDK.LOGIN.0003"))
		}
		x.setUserStatus(ed, "bob", store.UserActive)
	}
}

// sdkState: the password-state endpoints' refusals (their successes need
// an expiring password: see expired).
func (x *oapi) sdkState() {
	for _, ed := range editions {
		client := ed.client("portal")
		malformed := ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004")
		missing := ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0001")
		invalid := ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0005")
		for _, path := range []string{"/api/v2/sdk/login/state/skip", "/api/v2/sdk/login/state/change-password"} {
			send := func(what string, h http.Header, body string, breaks bool, status int, code string) {
				x.t.Helper()
				x.want(ed.name+" "+path+" "+what, x.do(call{"POST", ed.host, path, h, body, breaks}), status, code)
			}
			send("unknown state token", sdkHeaders(client), jsonBody("state_token", "nope", "new_password", "Brand-New-Secret-1"), false, 400, invalid)
			send("missing state token", sdkHeaders(client), jsonBody("new_password", "Brand-New-Secret-1"), true, 400, missing)
			send("oversized state token", sdkHeaders(client), jsonBody("state_token", strings.Repeat("s", 600), "new_password", "Brand-New-Secret-1"), true, 400, malformed)
			send("wrong content type", sdkHeaders(client, "Content-Type", "text/plain"), jsonBody("state_token", "nope", "new_password", "Brand-New-Secret-1"), true, 400, malformed)
		}
		path := "/api/v2/sdk/login/state/change-password"
		x.want(ed.name+" weak password", x.do(call{"POST", ed.host, path, sdkHeaders(client), jsonBody("state_token", "nope", "new_password", "short"), false}), 400, ed.code("SDK.LOGIN.1012", "IDAAS.SDK.LOGIN.0004"))
		x.want(ed.name+" missing new password", x.do(call{"POST", ed.host, path, sdkHeaders(client), jsonBody("state_token", "nope"), true}), 400, missing)
	}
}

// sdkSession: exchange and logout.
func (x *oapi) sdkSession() {
	const exchange, logout = "/api/v2/sdk/sso/session-token/id-token", "/api/v2/sdk/logout"
	for _, ed := range editions {
		client := ed.client("portal")
		header := ed.code("X-session-token", "session-token")
		tok := x.login(ed, client, "alice", st.Password)
		for _, path := range []string{exchange, logout} {
			send := func(what string, h http.Header, breaks bool, status int, code string) {
				x.t.Helper()
				x.want(ed.name+" "+path+" "+what, x.do(call{"POST", ed.host, path, h, "", breaks}), status, code)
			}
			send("missing session token", sdkHeaders(client), false, 400, ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0022"))
			send("two different session tokens", sdkHeaders(client, "X-session-token", tok, "session-token", "other"), false, 400, ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004"))
			send("oversized session token", sdkHeaders(client, header, strings.Repeat("t", 600)), true, 400, ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004"))
			send("unknown session token", sdkHeaders(client, header, "nope"), false, 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0023"))
			send("another device", sdkHeaders(client, header, tok, "X-device-fingerprint", "other-device"), false, 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0023"))
		}
		// Both header names work on both editions.
		for _, name := range []string{"X-session-token", "session-token"} {
			r := x.do(call{"POST", ed.host, exchange, sdkHeaders(client, name, tok), "", false})
			if r.Status != 200 || r.Str("session_token") != tok {
				x.t.Errorf("%s exchange with %s: %d %s", ed.name, name, r.Status, r.Body)
			}
		}
		// Rotation.
		rot := x.login(ed, ed.client("rotating"), "alice", st.Password)
		r := x.do(call{"POST", ed.host, exchange, sdkHeaders(ed.client("rotating"), header, rot), "", false})
		if r.Status != 200 || r.Str("session_token") == rot || r.Num("expire") != 604800 {
			x.t.Errorf("%s rotating exchange: %d %s", ed.name, r.Status, r.Body)
		}
		// Logout: an empty 200, then the token is dead.
		r = x.do(call{"POST", ed.host, logout, sdkHeaders(client, header, tok), "", false})
		if r.Status != 200 || len(r.Body) != 0 {
			x.t.Errorf("%s logout: %d %q", ed.name, r.Status, r.Body)
		}
		x.want(ed.name+" exchange after logout", x.do(call{"POST", ed.host, exchange, sdkHeaders(client, header, tok), "", false}), 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0023"))
	}
}

// sdkSigned: the signed calls (X-signature): the application's public
// key, the signed exchange and logout, and every way a signature fails.
func (x *oapi) sdkSigned() {
	const idToken, logout = "/api/v2/sdk/session-token/refresh-id-token", "/api/v2/sdk/logout"
	signedOps := []struct{ method, path string }{{"POST", idToken}, {"GET", logout}}
	window := x.e.Config.SDK.SignatureWindow
	for _, ed := range editions {
		client := ed.client("portal")
		pub := x.publicKey(ed.host, client)
		if again := x.publicKey(ed.host, client); !again.Equal(pub) {
			x.t.Errorf("%s: an application's public key changed between two calls", ed.name)
		}
		other := x.publicKey(ed.host, ed.client("rotating"))
		if other.Equal(pub) {
			x.t.Errorf("%s: two applications share a key", ed.name)
		}
		tok := x.login(ed, client, "alice", st.Password)
		now := x.e.Clock.Now()
		sig := func(plaintext string, kv ...string) http.Header {
			return sdkHeaders(client, append(kv, "X-signature", x.seal(pub, plaintext, false))...)
		}
		fresh := func(token string) string { return signedText(token, now, x.nonce()) }
		undecryptable := ed.code("SDK.COMMON.1004", "IDAAS.SDK.PARAM.0006")
		malformed := ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004")
		invalid := ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0005")
		badSession := ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0023")
		for _, op := range signedOps {
			send := func(what string, h http.Header, breaks bool, status int, code string) {
				x.t.Helper()
				x.want(ed.name+" "+op.method+" "+op.path+" "+what, x.do(call{op.method, ed.host, op.path, h, "", breaks}), status, code)
			}
			missing := ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0001")
			send("missing X-signature", sdkHeaders(client), true, 400, missing)
			send("blank X-signature", sdkHeaders(client, "X-signature", "  "), false, 400, missing)
			send("oversized X-signature", sdkHeaders(client, "X-signature", strings.Repeat("A", 4100)), true, 400, malformed)
			twice := sdkHeaders(client)
			twice.Add("X-signature", x.seal(pub, fresh(tok), false))
			twice.Add("X-signature", x.seal(pub, fresh(tok), false))
			send("two different X-signatures", twice, false, 400, malformed)
			send("X-signature not base64", sdkHeaders(client, "X-signature", "%%%not base64%%%"), false, 400, undecryptable)
			send("plaintext not encrypted", sdkHeaders(client, "X-signature", base64.StdEncoding.EncodeToString([]byte(fresh(tok)))), false, 400, undecryptable)
			send("encrypted to another application's key", sdkHeaders(client, "X-signature", x.seal(other, fresh(tok), false)), false, 400, undecryptable)
			send("an application without a key", sdkHeaders(ed.client("es256"), "X-signature", x.seal(pub, fresh(tok), false)), false, 400, undecryptable)
			send("no nonce", sig("session_token="+tok+"&timestamp="+strconv.FormatInt(now.UnixMilli(), 10)), false, 400, undecryptable)
			send("no session token", sig("timestamp="+strconv.FormatInt(now.UnixMilli(), 10)+"&nonce="+x.nonce()), false, 400, undecryptable)
			send("timestamp not a number", sig("session_token="+tok+"&timestamp=yesterday&nonce="+x.nonce()), false, 400, malformed)
			send("stale timestamp", sig(signedText(tok, now.Add(-window-time.Second), x.nonce())), false, 400, invalid)
			send("future timestamp", sig(signedText(tok, now.Add(window+time.Second), x.nonce())), false, 400, invalid)
			once := sig(fresh("nope"))
			send("unknown session", once, false, 400, badSession)
			send("replayed nonce", once, false, 400, invalid)
			send("another device", sig(fresh(tok), "X-device-fingerprint", "other-device"), false, 400, badSession)
		}

		// The signed exchange answers an id_token only (the document's
		// schema has no other member), with either MGF1 hash.
		for _, java := range []bool{false, true} {
			r := x.do(call{"POST", ed.host, idToken, sdkHeaders(client, "X-signature", x.seal(pub, fresh(tok), java)), "", false})
			if r.Status != 200 || strings.Count(r.Str("id_token"), ".") != 2 {
				x.t.Errorf("%s signed exchange (MGF1-SHA1: %v): %d %s", ed.name, java, r.Status, r.Body)
			}
		}

		// The signed logout: an empty 200, after which the session is gone
		// for both signed calls.
		r := x.do(call{"GET", ed.host, logout, sdkHeaders(client, "X-signature", x.seal(pub, fresh(tok), true)), "", false})
		if r.Status != 200 || len(r.Body) != 0 {
			x.t.Errorf("%s signed logout: %d %q", ed.name, r.Status, r.Body)
		}
		for _, op := range signedOps {
			x.want(ed.name+" "+op.method+" "+op.path+" after the signed logout", x.do(call{op.method, ed.host, op.path, sig(fresh(tok)), "", false}), 400, badSession)
		}
	}

	// ISV mode: the application's key and the signed exchange on the
	// common domain, with X-tenant-id.
	isv := sdkHeaders("isv-portal", "X-tenant-id", "isv")
	x.want("common domain public key without X-tenant-id", x.do(call{"GET", st.CommonHost, "/api/v2/sdk/public-key", sdkHeaders("isv-portal"), "", false}), 400, "SDK.COMMON.1001")
	pub := x.publicKey(st.CommonHost, "isv-portal", "X-tenant-id", "isv")
	r := x.do(call{"POST", st.CommonHost, "/api/v2/sdk/login", isv, jsonBody("user_name", "alice", "password", st.Password), false})
	if r.Status != 200 || r.Str("session_token") == "" {
		x.t.Fatalf("ISV login: %d %s", r.Status, r.Body)
	}
	h := sdkHeaders("isv-portal", "X-tenant-id", "isv", "X-signature", x.seal(pub, signedText(r.Str("session_token"), x.e.Clock.Now(), x.nonce()), false))
	x.want("ISV signed exchange", x.do(call{"POST", st.CommonHost, idToken, h, "", false}), 200, "")
}

// tenantAPI: the application token and the session endpoints.
func (x *oapi) tenantAPI() {
	const refresh, ticket, verify = "/api/v2/tenant/sso/session-token/refresh", "/api/v2/tenant/sso/session-token/sso-ticket", "/api/v2/tenant/sso/sso-ticket/verify"
	for _, ed := range editions {
		tokenCall := func(what string, h http.Header, body string, breaks bool, status int, code string) st.Response {
			x.t.Helper()
			r := x.do(call{"POST", ed.host, "/api/v2/tenant/token", h, body, breaks})
			x.want(ed.name+" tenant token "+what, r, status, code)
			return r
		}
		bearer := x.tenantToken(ed)
		tokenCall("basic", hdr("Content-Type", formCT, "Authorization", basicAuth(ed.client("portal"), st.Secret)), formBody("grant_type", "client_credentials"), false, 200, "")
		tokenCall("missing grant_type", hdr("Content-Type", formCT), formBody("client_id", ed.client("portal"), "client_secret", st.Secret), true, 400, "invalid_request")
		tokenCall("JSON body", hdr("Content-Type", jsonCT), `{"grant_type":"client_credentials"}`, true, 400, "invalid_request")
		tokenCall("password grant", hdr("Content-Type", formCT), formBody("grant_type", "password", "client_id", ed.client("portal"), "client_secret", st.Secret), true, 400, "unsupported_grant_type")
		tokenCall("public client", hdr("Content-Type", formCT), formBody("grant_type", "client_credentials", "client_id", ed.client("public")), false, 400, "unauthorized_client")
		tokenCall("wrong secret", hdr("Content-Type", formCT), formBody("grant_type", "client_credentials", "client_id", ed.client("portal"), "client_secret", "wrong-secret"), false, 401, "invalid_client")
		tokenCall("wrong basic secret", hdr("Content-Type", formCT, "Authorization", basicAuth(ed.client("portal"), "nope")), formBody("grant_type", "client_credentials"), false, 401, "invalid_client")

		auth := hdr("Authorization", "Bearer "+bearer, "Content-Type", jsonCT)
		tok := x.login(ed, ed.client("portal"), "alice", st.Password)
		for _, path := range []string{refresh, ticket} {
			send := func(what string, h http.Header, body string, breaks bool, status int, code string) st.Response {
				x.t.Helper()
				r := x.do(call{"POST", ed.host, path, h, body, breaks})
				x.want(ed.name+" "+path+" "+what, r, status, code)
				return r
			}
			send("missing bearer", hdr("Content-Type", jsonCT), sessionBody(tok, st.Device), true, 400, "invalid_token")
			send("unknown bearer", hdr("Authorization", "Bearer nope", "Content-Type", jsonCT), sessionBody(tok, st.Device), false, 400, "invalid_token")
			send("missing device_ip", auth, sessionBody(tok, st.Device, "device_ip"), true, 400, ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0001"))
			send("missing session_token", auth, sessionBody(tok, st.Device, "session_token"), true, 400, ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0022"))
			send("not JSON", auth, "not json", true, 400, ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004"))
			send("wrong content type", hdr("Authorization", "Bearer "+bearer, "Content-Type", "text/plain"), sessionBody(tok, st.Device), true, 400, ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004"))
			send("oversized fingerprint", auth, sessionBody(tok, strings.Repeat("f", 300)), true, 400, ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004"))
			send("another device", auth, sessionBody(tok, "other-device"), false, 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0023"))
			send("unknown session", auth, sessionBody("nope", st.Device), false, 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0023"))
		}
		r := x.do(call{"POST", ed.host, refresh, auth, sessionBody(tok, st.Device), false})
		next := r.Str("session_token")
		if r.Status != 200 || next == "" || next == tok {
			x.t.Fatalf("%s refresh: %d %s", ed.name, r.Status, r.Body)
		}
		r = x.do(call{"POST", ed.host, ticket, auth, sessionBody(next, st.Device), false})
		tk := r.Str("sso_ticket")
		if r.Status != 200 || tk == "" || r.Num("expire") != 300 {
			x.t.Fatalf("%s sso ticket: %d %s", ed.name, r.Status, r.Body)
		}
		vsend := func(what string, h http.Header, body string, breaks bool, status int, code string) st.Response {
			x.t.Helper()
			r := x.do(call{"POST", ed.host, verify, h, body, breaks})
			x.want(ed.name+" verify "+what, r, status, code)
			return r
		}
		vsend("missing bearer", hdr("Content-Type", jsonCT), ticketBody(tk), true, 400, "invalid_token")
		vsend("missing sso_ticket", auth, ticketBody(tk, "sso_ticket"), true, 400, ed.code("SDK.COMMON.1001", "IDAAS.SDK.PARAM.0001"))
		vsend("not JSON", auth, "[", true, 400, ed.code("SDK.COMMON.1002", "IDAAS.SDK.PARAM.0004"))
		r = vsend("success", auth, ticketBody(tk), false, 200, "")
		if u, _ := r.JSON["data"].(map[string]any)["user"].(map[string]any); u["userName"] != "alice" {
			x.t.Errorf("%s verify: %s", ed.name, r.Body)
		}
		vsend("used ticket", auth, ticketBody(tk), false, 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0005"))
	}
	// A common domain needs X-tenant-id for the tenant API too.
	r := x.do(call{"POST", st.CommonHost, "/api/v2/tenant/token", hdr("Content-Type", formCT, "X-tenant-id", "isv"), formBody("grant_type", "client_credentials", "client_id", "isv-portal", "client_secret", st.Secret), false})
	x.want("ISV tenant token", r, 200, "")
}

// oauth: the OAuth 2.0 / OpenID Connect endpoints.
func (x *oapi) oauth() {
	host := st.EIAMHost
	for _, path := range []string{"/.well-known/openid-configuration", "/api/v1/oauth2/.well-known/openid-configuration", "/api/v1/oauth2/keys"} {
		r := x.do(call{"GET", host, path, nil, "", false})
		x.want(path, r, 200, "")
		x.want(path+" unknown host", x.do(call{"GET", "unknown.test", path, nil, "", false}), 404, "invalid_request")
	}

	// Authorization code flow through the hosted login page.
	verifier := "verifier-" + strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	authz := func(state string, extra ...string) url.Values {
		v := url.Values{"client_id": {"acme-web"}, "redirect_uri": {"http://app.test/callback"}, "response_type": {"code"},
			"scope": {"openid profile email"}, "state": {state}, "nonce": {"n-1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	authorizeURL := x.e.URL(host, "/api/v1/oauth2/authorize")
	b := x.e.NewBrowser()
	page := b.Login(authorizeURL+"?"+authz("s1").Encode(), "alice", st.Password)
	if !page.Redirected() || page.Location == nil || page.Location.Query().Get("code") == "" {
		x.t.Fatalf("hosted login: %d %v %.300s", page.Status, page.Location, page.Body)
	}
	code := page.Location.Query().Get("code")
	// With the session cookie, GET and POST answer with a code at once.
	if p := b.Get(authorizeURL + "?" + authz("s2").Encode()); !p.Redirected() || p.Location.Query().Get("code") == "" {
		x.t.Errorf("authorize GET with a session: %d %v", p.Status, p.Location)
	}
	if p := b.Post(authorizeURL, authz("s3")); !p.Redirected() || p.Location.Query().Get("code") == "" {
		x.t.Errorf("authorize POST with a session: %d %v", p.Status, p.Location)
	}
	// Errors that go back to the client, and those that cannot.
	if p := b.Get(authorizeURL + "?" + authz("s4", "response_type", "token").Encode()); !p.Redirected() || p.Location.Query().Get("error") != "unsupported_response_type" {
		x.t.Errorf("authorize with response_type=token: %d %v", p.Status, p.Location)
	}
	for _, m := range []string{"GET", "POST"} {
		send := func(what string, h string, v url.Values, breaks bool, status int) {
			x.t.Helper()
			c := call{m, h, "/api/v1/oauth2/authorize", nil, "", breaks}
			if m == "GET" {
				c.path += "?" + v.Encode()
			} else {
				c.h, c.body = hdr("Content-Type", formCT), v.Encode()
			}
			r := x.do(c)
			x.want(m+" authorize "+what, r, status, "")
		}
		send("login page", host, authz("p1"), false, 200)
		send("unknown client", host, authz("p2", "client_id", "nope"), false, 400)
		send("unregistered redirect_uri", host, authz("p3", "redirect_uri", "http://evil.test/cb"), false, 400)
		send("missing client_id", host, url.Values{"redirect_uri": {"http://app.test/callback"}, "response_type": {"code"}}, true, 400)
		send("oversized scope", host, authz("p5", "scope", strings.Repeat("x", 2100)), true, 400)
		redirect := http.StatusFound
		if m == "POST" {
			redirect = http.StatusSeeOther // RFC 9700 §4.12
		}
		send("oversized state (redirected as invalid_request)", host, authz(strings.Repeat("s", 600)), true, redirect)
		send("unknown host", "unknown.test", authz("p4"), false, 404)
	}

	// Token endpoint.
	tokenCall := func(what string, h http.Header, body string, breaks bool, status int, code string) st.Response {
		x.t.Helper()
		r := x.do(call{"POST", host, "/api/v1/oauth2/token", h, body, breaks})
		x.want("token "+what, r, status, code)
		return r
	}
	form := hdr("Content-Type", formCT)
	r := tokenCall("authorization_code", form, formBody("grant_type", "authorization_code", "code", code, "redirect_uri", "http://app.test/callback",
		"code_verifier", verifier, "client_id", "acme-web", "client_secret", st.Secret), false, 200, "")
	at, rt := r.Str("access_token"), r.Str("refresh_token")
	if at == "" || rt == "" || r.Str("id_token") == "" {
		x.t.Fatalf("code exchange: %s", r.Body)
	}
	basic := hdr("Content-Type", formCT, "Authorization", basicAuth("acme-web", st.Secret))
	r = tokenCall("refresh_token", basic, formBody("grant_type", "refresh_token", "refresh_token", rt), false, 200, "")
	if r.Str("refresh_token") == "" || r.Str("refresh_token") == rt {
		x.t.Errorf("refresh did not rotate: %s", r.Body)
	}
	at = r.Str("access_token")
	r = tokenCall("client_credentials", basic, formBody("grant_type", "client_credentials"), false, 200, "")
	appToken := r.Str("access_token")
	tokenCall("missing grant_type", basic, formBody("scope", "all"), true, 400, "invalid_request")
	tokenCall("password grant", basic, formBody("grant_type", "password"), true, 400, "unsupported_grant_type")
	tokenCall("client_credentials for a public client", form, formBody("grant_type", "client_credentials", "client_id", "acme-spa"), false, 400, "unauthorized_client")
	tokenCall("client_credentials scope", basic, formBody("grant_type", "client_credentials", "scope", "openid"), false, 400, "invalid_scope")
	tokenCall("wrong secret", form, formBody("grant_type", "client_credentials", "client_id", "acme-web", "client_secret", "wrong"), false, 401, "invalid_client")
	tokenCall("oversized client_id", form, formBody("grant_type", "client_credentials", "client_id", strings.Repeat("c", 200), "client_secret", st.Secret), true, 401, "invalid_client")
	tokenCall("refresh token of nobody", basic, formBody("grant_type", "refresh_token", "refresh_token", "nope"), false, 400, "invalid_grant")

	// UserInfo, GET and POST.
	for _, m := range []string{"GET", "POST"} {
		send := func(what string, h http.Header, body string, breaks bool, status int, code string) st.Response {
			x.t.Helper()
			r := x.do(call{m, host, "/api/v1/oauth2/userinfo", h, body, breaks})
			x.want(m+" userinfo "+what, r, status, code)
			return r
		}
		r := send("success", hdr("Authorization", "Bearer "+at), "", false, 200, "")
		if r.Str("sub") == "" || r.Str("email") != "alice@example.com" {
			x.t.Errorf("userinfo: %s", r.Body)
		}
		send("unknown token", hdr("Authorization", "Bearer nope"), "", false, 401, "invalid_token")
		send("application token", hdr("Authorization", "Bearer "+appToken), "", false, 403, "insufficient_scope")
	}
	x.want("GET userinfo without a token", x.do(call{"GET", host, "/api/v1/oauth2/userinfo", nil, "", true}), 401, "invalid_token")
	r = x.do(call{"POST", host, "/api/v1/oauth2/userinfo", form, formBody("access_token", at), false})
	x.want("POST userinfo with a form token", r, 200, "")

	// Introspection and revocation.
	for _, path := range []string{"/api/v1/oauth2/introspect", "/api/v1/oauth2/revoke"} {
		send := func(what string, h http.Header, body string, breaks bool, status int, code string) st.Response {
			x.t.Helper()
			r := x.do(call{"POST", host, path, h, body, breaks})
			x.want(path+" "+what, r, status, code)
			return r
		}
		send("missing token", basic, formBody("token_type_hint", "access_token"), true, 400, "invalid_request")
		send("wrong secret", form, formBody("token", at, "client_id", "acme-web", "client_secret", "wrong"), false, 401, "invalid_client")
		send("unknown token", basic, formBody("token", "nope"), false, 200, "")
	}
	r = x.do(call{"POST", host, "/api/v1/oauth2/introspect", basic, formBody("token", at), false})
	if r.Status != 200 || r.JSON["active"] != true || r.Str("username") != "alice" {
		x.t.Errorf("introspection: %d %s", r.Status, r.Body)
	}
	x.want("public client introspects", x.do(call{"POST", host, "/api/v1/oauth2/introspect", form, formBody("token", at, "client_id", "acme-spa"), false}), 401, "invalid_client")
	x.want("revoke", x.do(call{"POST", host, "/api/v1/oauth2/revoke", basic, formBody("token", at), false}), 200, "")
	r = x.do(call{"POST", host, "/api/v1/oauth2/introspect", basic, formBody("token", at), false})
	if r.JSON["active"] != false {
		x.t.Errorf("revoked token still active: %s", r.Body)
	}

	// RP-initiated logout.
	logout := func(what, h string, q url.Values, status int) st.Page {
		x.t.Helper()
		p := b.Get(x.e.URL(h, "/api/v1/logout?"+q.Encode()))
		if p.Status != status {
			x.t.Errorf("logout %s: %d %v", what, p.Status, p.Location)
		}
		return p
	}
	logout("to a registered target", host, url.Values{"post_logout_redirect_uri": {"http://app.test/bye"}, "client_id": {"acme-web"}, "state": {"x"}}, 302)
	logout("vendor form", host, url.Values{"redirect_url": {"http://app.test/bye"}}, 302)
	logout("without a target", host, url.Values{}, 200)
	logout("to an unregistered target", host, url.Values{"post_logout_redirect_uri": {"http://evil.test/"}}, 400)
	logout("unknown host", "unknown.test", url.Values{}, 404)

	// A code is single-use (this also revokes what its first use issued).
	tokenCall("code replay", form, formBody("grant_type", "authorization_code", "code", code, "redirect_uri", "http://app.test/callback",
		"code_verifier", verifier, "client_id", "acme-web", "client_secret", st.Secret), false, 400, "invalid_grant")
}

// expiry: sessions that expired (an application with a one-hour session).
func (x *oapi) expiry() {
	toks := map[string]string{}
	pubs := map[string]*rsa.PublicKey{}
	for _, ed := range editions {
		toks[ed.name] = x.login(ed, ed.client("unbound"), "alice", st.Password)
		pubs[ed.name] = x.publicKey(ed.host, ed.client("unbound"))
	}
	x.e.Clock.Advance(time.Hour + time.Second)
	for _, ed := range editions {
		tok := toks[ed.name]
		header := ed.code("X-session-token", "session-token")
		expired := ed.code("SDK.COMMON.1005", "IDAAS.SDK.PARAM.0023")
		// The signed forms: the exchange refuses, the logout accepts.
		signed := func() http.Header {
			return sdkHeaders(ed.client("unbound"), "X-signature", x.seal(pubs[ed.name], signedText(tok, x.e.Clock.Now(), x.nonce()), false))
		}
		x.want(ed.name+" signed exchange of an expired session", x.do(call{"POST", ed.host, "/api/v2/sdk/session-token/refresh-id-token", signed(), "", false}), 400, expired)
		x.want(ed.name+" signed logout of an expired session", x.do(call{"GET", ed.host, "/api/v2/sdk/logout", signed(), "", false}), 200, "")
		x.want(ed.name+" exchange of an expired session", x.do(call{"POST", ed.host, "/api/v2/sdk/sso/session-token/id-token", sdkHeaders(ed.client("unbound"), header, tok), "", false}), 400, expired)
		auth := hdr("Authorization", "Bearer "+x.tenantToken(ed), "Content-Type", jsonCT)
		for _, path := range []string{"/api/v2/tenant/sso/session-token/refresh", "/api/v2/tenant/sso/session-token/sso-ticket"} {
			x.want(ed.name+" "+path+" of an expired session", x.do(call{"POST", ed.host, path, auth, sessionBody(tok, st.Device), false}), 400, expired)
		}
		x.expiredMFA(ed, ed.client("unbound"), tok)
		// Logging out of an expired session is not an error.
		x.want(ed.name+" logout of an expired session", x.do(call{"POST", ed.host, "/api/v2/sdk/logout", sdkHeaders(ed.client("unbound"), header, tok), "", false}), 200, "")
	}
}

// faults: storage failures behind an accepted bearer token answer the
// SDK busy error of the tenant's dialect.
func (x *oapi) faults() {
	type prepared struct {
		auth        http.Header
		tok, ticket string
		pub         *rsa.PublicKey
	}
	ready := map[string]prepared{}
	for _, ed := range editions {
		auth := hdr("Authorization", "Bearer "+x.tenantToken(ed), "Content-Type", jsonCT)
		tok := x.login(ed, ed.client("portal"), "alice", st.Password)
		r := x.do(call{"POST", ed.host, "/api/v2/tenant/sso/session-token/sso-ticket", auth, sessionBody(tok, st.Device), false})
		if r.Status != 200 {
			x.t.Fatalf("sso ticket: %d %s", r.Status, r.Body)
		}
		ready[ed.name] = prepared{auth, tok, r.Str("sso_ticket"), x.publicKey(ed.host, ed.client("portal"))}
	}
	busy := func(ed edition) (int, string) {
		if ed.ciam() {
			return 400, "IDAAS.SDK.COM.0002"
		}
		return 500, "SDK.COMMON.1008"
	}
	restore := x.breakTable("sessions")
	for _, ed := range editions {
		p := ready[ed.name]
		status, code := busy(ed)
		for _, path := range []string{"/api/v2/tenant/sso/session-token/refresh", "/api/v2/tenant/sso/session-token/sso-ticket"} {
			x.want(ed.name+" "+path+" with the sessions table gone", x.do(call{"POST", ed.host, path, p.auth, sessionBody(p.tok, st.Device), false}), status, code)
		}
	}
	restore()
	restore = x.breakTable("sso_tickets")
	for _, ed := range editions {
		p := ready[ed.name]
		status, code := busy(ed)
		x.want(ed.name+" verify with the tickets table gone", x.do(call{"POST", ed.host, "/api/v2/tenant/sso/sso-ticket/verify", p.auth, ticketBody(p.ticket), false}), status, code)
	}
	restore()
	// Signed calls: nonces cannot be recorded; keys cannot be read or
	// created (es256 has none yet: sdkSigned only tried it).
	signed := func(ed edition, client string) http.Header {
		return sdkHeaders(client, "X-signature", x.seal(ready[ed.name].pub, signedText(ready[ed.name].tok, x.e.Clock.Now(), x.nonce()), false))
	}
	restore = x.breakTable("signature_nonces")
	for _, ed := range editions {
		status, code := busy(ed)
		client := ed.client("portal")
		x.want(ed.name+" signed exchange with the nonces table gone", x.do(call{"POST", ed.host, "/api/v2/sdk/session-token/refresh-id-token", signed(ed, client), "", false}), status, code)
		x.want(ed.name+" signed logout with the nonces table gone", x.do(call{"GET", ed.host, "/api/v2/sdk/logout", signed(ed, client), "", false}), status, code)
	}
	restore()
	restore = x.breakTable("app_keys")
	for _, ed := range editions {
		status, code := busy(ed)
		client := ed.client("es256")
		x.want(ed.name+" public key with the keys table gone", x.do(call{"GET", ed.host, "/api/v2/sdk/public-key", sdkHeaders(client), "", false}), status, code)
		x.want(ed.name+" signed exchange with the keys table gone", x.do(call{"POST", ed.host, "/api/v2/sdk/session-token/refresh-id-token", signed(ed, client), "", false}), status, code)
		x.want(ed.name+" signed logout with the keys table gone", x.do(call{"GET", ed.host, "/api/v2/sdk/logout", signed(ed, client), "", false}), status, code)
	}
	restore()
	// And the service is back.
	for _, ed := range editions {
		p := ready[ed.name]
		x.want(ed.name+" verify after repair", x.do(call{"POST", ed.host, "/api/v2/tenant/sso/sso-ticket/verify", p.auth, ticketBody(p.ticket), false}), 200, "")
		x.want(ed.name+" signed exchange after repair", x.do(call{"POST", ed.host, "/api/v2/sdk/session-token/refresh-id-token", signed(ed, ed.client("portal")), "", false}), 200, "")
		x.publicKey(ed.host, ed.client("es256"))
	}
}

// expired: password expiry (PASSWORD_WARN, PASSWORD_EXPIRED) and the
// state endpoints' successes.
func (x *oapi) expired() {
	x.e.Clock.Advance(85 * 24 * time.Hour)
	const skip, change = "/api/v2/sdk/login/state/skip", "/api/v2/sdk/login/state/change-password"
	for _, ed := range editions {
		client := ed.client("portal")
		for _, path := range []string{"/api/v2/sdk/login", "/api/v2/sdk/login/auth"} {
			r := x.do(call{"POST", ed.host, path, sdkHeaders(client), jsonBody("user_name", "alice", "password", st.Password), false})
			var policy map[string]any
			if r.Status != 200 || r.Str("status") != "PASSWORD_WARN" || json.Unmarshal([]byte(r.Str("data")), &policy) != nil {
				x.t.Errorf("%s %s: %d %s, want PASSWORD_WARN", ed.name, path, r.Status, r.Body)
			}
		}
		st1 := x.stateToken(ed, "alice", st.Password, "PASSWORD_WARN")
		r := x.do(call{"POST", ed.host, skip, sdkHeaders(client), jsonBody("state_token", st1), false})
		x.want(ed.name+" skip", r, 200, "")
		x.want(ed.name+" skip again", x.do(call{"POST", ed.host, skip, sdkHeaders(client), jsonBody("state_token", st1), false}), 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0005"))
		st2 := x.stateToken(ed, "alice", st.Password, "PASSWORD_WARN")
		r = x.do(call{"POST", ed.host, change, sdkHeaders(client), jsonBody("state_token", st2, "new_password", "Brand-New-Secret-1"), false})
		x.want(ed.name+" change password", r, 200, "")

		// A state token of an account disabled since.
		b1 := x.stateToken(ed, "bob", st.Password, "PASSWORD_WARN")
		b2 := x.stateToken(ed, "bob", st.Password, "PASSWORD_WARN")
		x.setUserStatus(ed, "bob", store.UserDisabled)
		disabled := ed.code("SDK.LOGIN.1011", "IDAAS.SDK.LOGIN.0003")
		x.want(ed.name+" skip, disabled", x.do(call{"POST", ed.host, skip, sdkHeaders(client), jsonBody("state_token", b1), false}), 400, disabled)
		x.want(ed.name+" change password, disabled", x.do(call{"POST", ed.host, change, sdkHeaders(client), jsonBody("state_token", b2, "new_password", "Another-Secret-2"), false}), 400, disabled)
		x.setUserStatus(ed, "bob", store.UserActive)
	}
	x.e.Clock.Advance(6 * 24 * time.Hour)
	for _, ed := range editions {
		tok := x.stateToken(ed, "bob", st.Password, "PASSWORD_EXPIRED")
		x.want(ed.name+" skip of an expired password", x.do(call{"POST", ed.host, skip, sdkHeaders(ed.client("portal")), jsonBody("state_token", tok), false}), 400, ed.code("SDK.COMMON.1006", "IDAAS.SDK.PARAM.0005"))
	}
}

// storeDown: with the database gone (and the tenant cache stale), every
// operation answers its busy error.
func (x *oapi) storeDown() {
	x.e.Server.Store().Close()
	x.e.Clock.Advance(10 * time.Second) // past the tenant cache
	for _, ed := range editions {
		status, code := 500, "SDK.COMMON.1008"
		if ed.ciam() {
			status, code = 400, "IDAAS.SDK.COM.0002"
		}
		for _, op := range sdkOps {
			h := op.headers(ed.client("portal"), ed.code("X-session-token", "session-token"), "some-token")
			x.want(ed.name+" "+op.id+" with the store down", x.do(call{op.method, ed.host, op.path, h, op.body, false}), status, code)
		}
	}
	host := st.EIAMHost
	auth := hdr("Authorization", "Bearer some-token", "Content-Type", jsonCT)
	for _, c := range []call{
		{"POST", host, "/api/v2/tenant/token", hdr("Content-Type", formCT), formBody("grant_type", "client_credentials", "client_id", "acme-portal", "client_secret", st.Secret), false},
		{"POST", host, "/api/v2/tenant/sso/session-token/refresh", auth, sessionBody("t", st.Device), false},
		{"POST", host, "/api/v2/tenant/sso/session-token/sso-ticket", auth, sessionBody("t", st.Device), false},
		{"POST", host, "/api/v2/tenant/sso/sso-ticket/verify", auth, ticketBody("t"), false},
		{"POST", host, "/api/v1/oauth2/token", hdr("Content-Type", formCT), formBody("grant_type", "client_credentials", "client_id", "acme-web", "client_secret", st.Secret), false},
		{"GET", host, "/api/v1/oauth2/userinfo", hdr("Authorization", "Bearer some-token"), "", false},
		{"POST", host, "/api/v1/oauth2/userinfo", hdr("Authorization", "Bearer some-token"), "", false},
		{"POST", host, "/api/v1/oauth2/introspect", hdr("Content-Type", formCT), formBody("token", "t", "client_id", "acme-web", "client_secret", st.Secret), false},
		{"POST", host, "/api/v1/oauth2/revoke", hdr("Content-Type", formCT), formBody("token", "t", "client_id", "acme-web", "client_secret", st.Secret), false},
		{"GET", host, "/api/v1/oauth2/keys", nil, "", false},
		{"GET", host, "/.well-known/openid-configuration", nil, "", false},
		{"GET", host, "/api/v1/oauth2/.well-known/openid-configuration", nil, "", false},
	} {
		x.want(c.method+" "+c.path+" with the store down", x.do(c), 503, "temporarily_unavailable")
	}
	q := url.Values{"client_id": {"acme-web"}, "redirect_uri": {"http://app.test/callback"}, "response_type": {"code"}, "scope": {"openid"}}
	for _, c := range []call{
		{"GET", host, "/api/v1/oauth2/authorize?" + q.Encode(), nil, "", false},
		{"POST", host, "/api/v1/oauth2/authorize", hdr("Content-Type", formCT), q.Encode(), false},
		{"GET", host, "/api/v1/logout", nil, "", false},
	} {
		x.want(c.method+" "+c.path+" with the store down", x.do(c), 503, "")
	}
}
