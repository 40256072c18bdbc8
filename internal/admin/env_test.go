package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"golang.org/x/oauth2"

	"github.com/sesame-idp/sesame/api"
	"github.com/sesame-idp/sesame/internal/admin"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// adminHost is the system tenant's domain (config default admin.domain).
const adminHost = "admin.localhost"

// ---------------------------------------------------------------- document

var (
	docOnce sync.Once
	doc     *openapi3.T
	docErr  error
)

// loadDoc loads and validates api/admin-openapi.json once.
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	docOnce.Do(func() {
		d, err := openapi3.NewLoader().LoadFromData(api.AdminOpenAPI)
		if err != nil {
			docErr = fmt.Errorf("loading the document: %w", err)
			return
		}
		if err := d.Validate(context.Background()); err != nil {
			docErr = fmt.Errorf("the document is not valid OpenAPI: %w", err)
			return
		}
		doc = d
	})
	if docErr != nil {
		t.Fatal(docErr)
	}
	return doc
}

// docRoute finds the documented operation of a request path (with its
// path parameters): a {name} segment matches any one segment.
func docRoute(d *openapi3.T, method, path string) (*routers.Route, map[string]string, bool) {
	xs := strings.Split(path, "/")
	for tmpl, pi := range d.Paths.Map() {
		ps := strings.Split(tmpl, "/")
		if len(ps) != len(xs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i := range ps {
			if strings.HasPrefix(ps[i], "{") {
				v, err := url.PathUnescape(xs[i])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[strings.Trim(ps[i], "{}")] = v
			} else if ps[i] != xs[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		op := pi.GetOperation(method)
		if op == nil {
			return nil, nil, false
		}
		return &routers.Route{Spec: d, Path: tmpl, PathItem: pi, Method: method, Operation: op}, params, true
	}
	return nil, nil, false
}

// ---------------------------------------------------------------- transport

type breaksKey struct{}

// validator validates every admin API request and answer against the
// document and counts the (operation, status) pairs exercised.
type validator struct {
	t    *testing.T
	doc  *openapi3.T
	base http.RoundTripper
	opts *openapi3filter.Options

	mu   sync.Mutex
	hits map[string]int
}

func newValidator(t *testing.T, base http.RoundTripper) *validator {
	return &validator{t: t, doc: loadDoc(t), base: base, hits: map[string]int{}, opts: &openapi3filter.Options{
		IncludeResponseStatus: true, // an undocumented status is an error
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			scheme, _, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
			if strings.EqualFold(scheme, "bearer") {
				return nil
			}
			return fmt.Errorf("no bearer token")
		},
	}}
}

func short(err error) string {
	s := err.Error()
	if len(s) > 1200 {
		s = s[:1200] + "…"
	}
	return s
}

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, admin.Prefix+"/") {
		return v.base.RoundTrip(req) // the OAuth endpoints the tests get tokens from
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	what := req.Method + " " + req.URL.Path
	route, params, ok := docRoute(v.doc, req.Method, req.URL.EscapedPath())
	breaks, _ := req.Context().Value(breaksKey{}).(bool)
	if !ok {
		if !breaks {
			v.t.Errorf("%s: the operation is not in the document", what)
		}
		return v.base.RoundTrip(req)
	}
	ctx := req.Context()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: v.opts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
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
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: v.opts}
	rin.SetBodyBytes(rb)
	if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
		v.t.Errorf("%s: the answer contradicts the document: %d %.300s: %s", what, resp.StatusCode, rb, short(err))
		return resp, nil
	}
	if rr := route.Operation.Responses.Status(resp.StatusCode); rr != nil && rr.Value != nil && len(rr.Value.Content) == 0 && len(rb) > 0 {
		v.t.Errorf("%s: %d is documented without a body, but the answer has one: %.300q", what, resp.StatusCode, rb)
	}
	v.mu.Lock()
	v.hits[route.Operation.OperationID+" "+strconv.Itoa(resp.StatusCode)]++
	v.mu.Unlock()
	return resp, nil
}

// rareStatuses are answers each operation documents but that the tests
// provoke on a few operations only (they come from code every operation
// shares: the body reader and the storage error path). Every other
// documented (operation, status) must be exercised.
var rareStatuses = map[string]bool{"413": true, "415": true, "503": true}

// assertCovered fails for every documented answer not exercised.
func (v *validator) assertCovered(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	var missing []string
	rare := map[string]bool{}
	pairs := 0
	for _, pi := range v.doc.Paths.Map() {
		for _, op := range pi.Operations() {
			for status := range op.Responses.Map() {
				key := op.OperationID + " " + status
				pairs++
				if rareStatuses[status] {
					if v.hits[key] > 0 {
						rare[status] = true
					}
					continue
				}
				if v.hits[key] == 0 {
					missing = append(missing, key)
				}
			}
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		t.Errorf("documented but never exercised: %s", key)
	}
	for status := range rareStatuses {
		if !rare[status] {
			t.Errorf("no operation was exercised with status %s", status)
		}
	}
	t.Logf("%d (operation, status) pairs documented; %d exercised", pairs, len(v.hits))
}

// ---------------------------------------------------------------- env

// env is a running server with the principals the tests act as.
type env struct {
	*st.Env
	t     *testing.T
	v     *validator
	setup admin.Setup

	// Tokens.
	root      string // console token of the system administrator "root"
	robot     string // client_credentials token of the system admin application
	acmeAdmin string // client_credentials token of a tenant administrator of acme
	acmeUser  string // console token of a user who is tenant administrator of acme
	nobody    string // console token of a system-tenant user without a role
	plainApp  string // client_credentials token of a system-tenant application without a role

	rootPassword string
	started      time.Time // the server's clock before any admin change
}

const rootPassword = "Root-Password-0123"

func newEnv(t *testing.T, backend string) *env {
	e := st.New(t, backend)
	v := newValidator(t, e.Client.Transport)
	e.Client.Transport = v
	x := &env{Env: e, t: t, v: v, rootPassword: rootPassword, started: e.Clock.Now(), setup: e.AdminSetup()}
	x.root = x.consoleToken(x.mustCreate(admin.NewAdmin{Username: "root", Password: rootPassword}).Username, rootPassword)
	x.robot = x.appToken("robot", x.mustCreate(admin.NewAdmin{ClientID: "robot"}).ClientSecret)
	x.acmeAdmin = x.appToken("acme-robot", x.mustCreate(admin.NewAdmin{ClientID: "acme-robot", TenantID: "acme"}).ClientSecret)
	x.acmeUser = x.consoleToken(x.mustCreate(admin.NewAdmin{Username: "acme-ops", TenantID: "acme", Password: rootPassword}).Username, rootPassword)

	// A user and an application of the system tenant without roles.
	r := x.call(call{method: "POST", path: "/tenants/system/users", token: x.robot, body: `{"username":"nobody","password":"` + rootPassword + `"}`})
	x.want("create nobody", r, 201)
	x.nobody = x.consoleToken("nobody", rootPassword)
	r = x.call(call{method: "POST", path: "/tenants/system/applications", token: x.robot, body: `{"client_id":"plain","grant_types":["client_credentials"]}`})
	x.want("create plain", r, 201)
	x.plainApp = x.appToken("plain", r.Str("client_secret"))
	return x
}

func (x *env) mustCreate(n admin.NewAdmin) admin.CreatedAdmin {
	x.t.Helper()
	res, err := x.setup.CreateAdmin(x.t.Context(), n)
	if err != nil {
		x.t.Fatalf("CreateAdmin(%+v): %v", n, err)
	}
	return res
}

// appToken gets a client_credentials token from the system tenant's
// OAuth token endpoint.
func (x *env) appToken(clientID, clientSecret string) string {
	x.t.Helper()
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
	r := x.Do("POST", x.URL(adminHost, "/api/v1/oauth2/token"), h, form.Encode())
	if r.Status != 200 || r.Str("access_token") == "" {
		x.t.Fatalf("token of %s: %d %s", clientID, r.Status, r.Body)
	}
	return r.Str("access_token")
}

// consoleToken signs user in to the console application through the
// hosted login page (authorization code + PKCE, as the console does) and
// returns the access token.
func (x *env) consoleToken(user, pw string) string {
	x.t.Helper()
	return x.codeToken(admin.ConsoleClientID, "", x.URL(adminHost, admin.ConsoleCallbackPath), user, pw)
}

// codeToken runs the authorization code flow with PKCE for a client of
// the system tenant.
func (x *env) codeToken(clientID, clientSecret, redirect, user, pw string) string {
	x.t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {"openid profile"},
		"state": {"st-1"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	b := x.NewBrowser()
	page := b.Login(x.URL(adminHost, "/api/v1/oauth2/authorize?"+q.Encode()), user, pw)
	if !page.Redirected() || page.Location == nil || page.Location.Query().Get("code") == "" {
		x.t.Fatalf("login of %s to %s: %d %v %.300s", user, clientID, page.Status, page.Location, page.Body)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {page.Location.Query().Get("code")}, "redirect_uri": {redirect},
		"client_id": {clientID}, "code_verifier": {verifier}}
	if clientSecret != "" {
		form.Set("client_secret", clientSecret)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	r := x.Do("POST", x.URL(adminHost, "/api/v1/oauth2/token"), h, form.Encode())
	if r.Status != 200 || r.Str("access_token") == "" {
		x.t.Fatalf("code exchange of %s: %d %s", user, r.Status, r.Body)
	}
	return r.Str("access_token")
}

// call is one admin API request.
type call struct {
	method, path string // path under admin.Prefix
	token        string // "" for none
	body         string // JSON; "" for none
	header       http.Header
	host         string // default adminHost
	// breaks: the request deliberately breaks the document.
	breaks bool
}

func (x *env) call(c call) st.Response {
	x.t.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	host := c.host
	if host == "" {
		host = adminHost
	}
	ctx := context.WithValue(x.t.Context(), breaksKey{}, c.breaks)
	req, err := http.NewRequestWithContext(ctx, c.method, x.URL(host, admin.Prefix+c.path), rd)
	if err != nil {
		x.t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.header {
		req.Header[k] = slices.Clone(vs)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := x.Client.Do(req)
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

// want checks the status of an answer.
func (x *env) want(what string, r st.Response, status int) {
	x.t.Helper()
	if r.Status != status {
		x.t.Errorf("%s: got %d %.400s, want %d", what, r.Status, r.Body, status)
	}
}

// wantError checks an error answer: status, code and field.
func (x *env) wantError(what string, r st.Response, status int, code, field string) {
	x.t.Helper()
	e, _ := r.JSON["error"].(map[string]any)
	gotCode, _ := e["code"].(string)
	gotField, _ := e["field"].(string)
	if r.Status != status || gotCode != code || gotField != field {
		x.t.Errorf("%s: got %d %.400s, want %d %s field %q", what, r.Status, r.Body, status, code, field)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		x.t.Errorf("%s: Cache-Control %q", what, r.Header.Get("Cache-Control"))
	}
}

// items returns a listing's items.
func items(r st.Response) []map[string]any {
	l, _ := r.JSON["items"].([]any)
	out := make([]map[string]any, 0, len(l))
	for _, it := range l {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// field returns the string member of every item.
func field(r st.Response, name string) []string {
	var out []string
	for _, it := range items(r) {
		s, _ := it[name].(string)
		out = append(out, s)
	}
	return out
}

// jsonOf marshals v.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
