package server_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/server/servertest"
)

// The benchmarks measure what Sesame itself costs per request: requests go
// straight to the server's http.Handler (no network, no client), with a
// fresh httptest.ResponseRecorder each. Each endpoint runs on SQLite and,
// when SESAME_TEST_POSTGRES_DSN is set, on PostgreSQL (the postgres
// sub-benchmarks skip otherwise):
//
//	go test -run='^$' -bench=. -benchmem ./internal/server/
//
// The product requirement is that an id-token exchange costs at most a bare
// RS256 signature (BenchmarkRS256Sign) plus 15%. BenchmarkExchangeOverhead
// measures that ratio directly: it alternates one bare signature and one
// exchange per iteration, so that load from other processes hits both
// alike, and reports the medians and exchange/rs256.

// benchEach runs f once per storage backend, as sub-benchmarks named after
// them, each with a server of its own.
func benchEach(b *testing.B, f func(b *testing.B, e *servertest.Env)) {
	for _, backend := range servertest.Backends() {
		b.Run(backend, func(b *testing.B) { f(b, servertest.New(b, backend)) })
	}
}

// benchReq is a request sent again and again: its header is built once
// and its body rewound before each send.
type benchReq struct {
	r    *http.Request
	body *bytes.Reader
	rc   io.ReadCloser
}

func newBenchReq(method, host, path string, h http.Header, body string) *benchReq {
	br := &benchReq{body: bytes.NewReader([]byte(body))}
	br.rc = io.NopCloser(br.body)
	br.r = httptest.NewRequest(method, path, nil)
	br.r.Host = host
	for k, v := range h {
		br.r.Header[k] = v
	}
	return br
}

// setBody replaces the body sent from now on.
func (br *benchReq) setBody(body []byte) { br.body.Reset(body) }

// serve sends the request and fails the benchmark unless it gets a 200.
func (br *benchReq) serve(b *testing.B, h http.Handler) *httptest.ResponseRecorder {
	br.body.Seek(0, io.SeekStart)
	br.r.Body = br.rc
	br.r.ContentLength = int64(br.body.Len())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, br.r)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %s", br.r.Method, br.r.URL.Path, rec.Code, rec.Body)
	}
	return rec
}

// benchField returns a string member of a flat JSON answer without
// decoding the whole of it (the client's cost is not what is measured).
func benchField(b *testing.B, body []byte, name string) string {
	key := []byte(`"` + name + `":"`)
	i := bytes.Index(body, key)
	if i < 0 {
		b.Fatalf("no %s in %s", name, body)
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 {
		b.Fatalf("bad %s in %s", name, body)
	}
	return string(rest[:j])
}

func newRS256Key(b *testing.B) *rsa.PrivateKey {
	priv, err := rsa.GenerateKey(rand.Reader, keys.RSABits)
	if err != nil {
		b.Fatal(err)
	}
	return priv
}

func rs256Sign(b *testing.B, priv *rsa.PrivateKey, digest []byte) {
	if _, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRS256Sign is the reference: one bare RSA-2048 PKCS #1 v1.5
// signature over a 32-byte SHA-256 digest, which no RS256 id_token avoids.
func BenchmarkRS256Sign(b *testing.B) {
	priv := newRS256Key(b)
	digest := sha256.Sum256([]byte("signing input"))
	b.ReportAllocs()
	for b.Loop() {
		rs256Sign(b, priv, digest[:])
	}
}

// BenchmarkLogin is an SDK login of alice with the right password: the
// argon2id verification dominates. Each iteration starts a new session.
func BenchmarkLogin(b *testing.B) {
	benchEach(b, func(b *testing.B, e *servertest.Env) {
		h := e.Server.Handler()
		req := newBenchReq(http.MethodPost, servertest.EIAMHost, "/api/v2/sdk/login", servertest.SDKHeaders("acme-portal"),
			`{"user_name":"alice","password":"`+servertest.Password+`"}`)
		req.serve(b, h) // warm caches (tenant, application, keys)
		b.ReportAllocs()
		for b.Loop() {
			req.serve(b, h)
		}
	})
}

// exchangeReq is an id-token exchange of token through client on acme.
func exchangeReq(client, token string) *benchReq {
	hd := servertest.SDKHeaders(client)
	hd.Del("Content-Type")
	hd.Set("X-session-token", token)
	return newBenchReq(http.MethodPost, servertest.EIAMHost, "/api/v2/sdk/sso/session-token/id-token", hd, "")
}

// exchangeCase prepares one kind of exchange: it returns a function that
// runs one exchange and fails the benchmark unless it succeeds.
func exchangeCase(b *testing.B, e *servertest.Env, kind string) func() {
	h := e.Server.Handler()
	switch kind {
	case "no-rotation", "ES256":
		client := "acme-portal"
		if kind == "ES256" {
			client = "acme-es256"
		}
		tok := e.MustLogin(servertest.EIAMHost, client, "alice")
		req := exchangeReq(client, tok)
		return func() {
			rec := req.serve(b, h)
			if got := benchField(b, rec.Body.Bytes(), "session_token"); got != tok {
				b.Fatalf("%s rotated the session token", client)
			}
		}
	case "rotation":
		// Every exchange rotates: the next one presents the successor.
		tok := e.MustLogin(servertest.EIAMHost, "acme-rotating", "alice")
		req := exchangeReq("acme-rotating", tok)
		return func() {
			rec := req.serve(b, h)
			next := benchField(b, rec.Body.Bytes(), "session_token")
			if next == tok {
				b.Fatal("acme-rotating did not rotate the session token")
			}
			tok = next
			req.r.Header.Set("X-session-token", tok)
		}
	}
	b.Fatalf("unknown exchange kind %q", kind)
	return nil
}

var exchangeKinds = []string{"no-rotation", "rotation", "ES256"}

// BenchmarkExchange is POST /api/v2/sdk/sso/session-token/id-token:
// no-rotation exchanges one session token of acme-portal (RS256) again and
// again; rotation exchanges through acme-rotating (session_auto_refresh),
// each iteration presenting the token the previous one returned; ES256
// uses acme-es256.
func BenchmarkExchange(b *testing.B) {
	for _, kind := range exchangeKinds {
		b.Run(kind, func(b *testing.B) {
			benchEach(b, func(b *testing.B, e *servertest.Env) {
				exchange := exchangeCase(b, e, kind)
				exchange() // warm caches
				b.ReportAllocs()
				for b.Loop() {
					exchange()
				}
			})
		})
	}
}

// BenchmarkExchangeOverhead alternates a bare RS256 signature and an RS256
// exchange in each iteration and reports the medians of both (rs256-ns/op,
// exchange-ns/op), of their per-iteration difference (overhead-ns/op) and
// exchange/rs256, the figure the requirement bounds at 1.15. Its own
// ns/op is the sum of both and is not meaningful.
func BenchmarkExchangeOverhead(b *testing.B) {
	for _, kind := range []string{"no-rotation", "rotation"} {
		b.Run(kind, func(b *testing.B) {
			benchEach(b, func(b *testing.B, e *servertest.Env) {
				exchange := exchangeCase(b, e, kind)
				exchange()
				priv := newRS256Key(b)
				digest := sha256.Sum256([]byte("signing input"))
				var raws, exs, diffs []float64
				for b.Loop() {
					t1 := time.Now()
					rs256Sign(b, priv, digest[:])
					t2 := time.Now()
					exchange()
					t3 := time.Now()
					r, x := float64(t2.Sub(t1)), float64(t3.Sub(t2))
					raws, exs, diffs = append(raws, r), append(exs, x), append(diffs, x-r)
				}
				median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
				mr, mx := median(raws), median(exs)
				b.ReportMetric(mr, "rs256-ns/op")
				b.ReportMetric(mx, "exchange-ns/op")
				b.ReportMetric(median(diffs), "overhead-ns/op")
				b.ReportMetric(mx/mr, "exchange/rs256")
			})
		})
	}
}

// BenchmarkTenantRefresh is POST /api/v2/tenant/sso/session-token/refresh
// with an application access token; each iteration refreshes the session
// token the previous one returned.
func BenchmarkTenantRefresh(b *testing.B) {
	benchEach(b, func(b *testing.B, e *servertest.Env) {
		h := e.Server.Handler()
		bearer := e.TenantToken(servertest.EIAMHost, "acme-portal")
		tok := e.MustLogin(servertest.EIAMHost, "acme-portal", "alice")
		hd := http.Header{}
		hd.Set("Authorization", "Bearer "+bearer)
		hd.Set("Content-Type", "application/json")
		body := func(tok string) []byte {
			return []byte(`{"session_token":"` + tok + `","operating_sys_version":"windows10.1.1","device_ip":"192.168.1.2","device_fingerprint":"` +
				servertest.Device + `","agent":"Mozilla/5.0 (test)"}`)
		}
		req := newBenchReq(http.MethodPost, servertest.EIAMHost, "/api/v2/tenant/sso/session-token/refresh", hd, "")
		refresh := func() {
			req.setBody(body(tok))
			rec := req.serve(b, h)
			next := benchField(b, rec.Body.Bytes(), "session_token")
			if next == tok {
				b.Fatal("refresh returned the same session token")
			}
			tok = next
		}
		refresh()
		b.ReportAllocs()
		for b.Loop() {
			refresh()
		}
	})
}

// BenchmarkTenantToken is POST /api/v2/tenant/token with client_credentials
// (client_secret_post); each iteration issues a new access token.
func BenchmarkTenantToken(b *testing.B) {
	benchEach(b, func(b *testing.B, e *servertest.Env) {
		h := e.Server.Handler()
		hd := http.Header{}
		hd.Set("Content-Type", "application/x-www-form-urlencoded")
		req := newBenchReq(http.MethodPost, servertest.EIAMHost, "/api/v2/tenant/token", hd,
			"grant_type=client_credentials&client_id=acme-portal&client_secret="+servertest.Secret)
		token := func() {
			rec := req.serve(b, h)
			if !strings.Contains(rec.Body.String(), `"access_token":"`) {
				b.Fatalf("no access token: %s", rec.Body)
			}
		}
		token()
		b.ReportAllocs()
		for b.Loop() {
			token()
		}
	})
}
