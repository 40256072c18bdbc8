package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testServer is an httptest server on 127.0.0.1 that counts the
// connections it accepted, so that a test can tell a reused connection
// from a new one.
type testServer struct {
	*httptest.Server
	accepted atomic.Int64
}

func newTestServer(t *testing.T, h http.Handler) *testServer {
	s := &testServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.accepted.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) addr() string { return s.Listener.Addr().String() }

// hijacked answers with raw bytes and closes the connection: for the
// responses net/http's server would not send.
func hijacked(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		rw.WriteString(raw)
		rw.Flush()
		c.Close()
	}
}

func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "11")
		io.WriteString(w, "hello world")
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		// Flushing before the end makes net/http send chunks.
		for i := range 5 {
			io.WriteString(w, strings.Repeat(strconv.Itoa(i), 3000))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/304", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://rp.example/cb?code=abc&state=s", http.StatusFound)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.Host+" "+r.URL.RequestURI()+" cl="+strconv.FormatInt(r.ContentLength, 10)+
			" x="+r.Header.Get("X-Session-Token")+" ct="+r.Header.Get("Content-Type")+" body="+string(b))
	})
	mux.HandleFunc("/eof-body", hijacked("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"))
	mux.HandleFunc("/http10", hijacked("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	mux.HandleFunc("/interim", hijacked("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"))
	mux.HandleFunc("/cut-length", hijacked("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"))
	mux.HandleFunc("/cut-chunk", hijacked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly six"))
	mux.HandleFunc("/cut-header", hijacked("HTTP/1.1 200 OK\r\nContent-Le"))
	mux.HandleFunc("/garbage", hijacked("SMTP ready\r\n\r\n"))
	mux.HandleFunc("/big-length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(maxBody+1))
		w.Write(make([]byte, maxBody+1))
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 9 {
			w.Write(make([]byte, 128<<10))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/exact-cap", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // chunked
		w.Write(bytes.Repeat([]byte("x"), maxBody))
	})
	return mux
}

// TestClientDo sends each request on a client whose connection has served
// a request already, and checks the answer and whether the connection
// was kept (the next request reuses it) or dropped (the next one dials).
func TestClientDo(t *testing.T) {
	srv := newTestServer(t, testHandler())
	hdr := http.Header{"X-Session-Token": {"tok-1"}, "Content-Type": {"application/json"}}
	chunked := ""
	for i := range 5 {
		chunked += strings.Repeat(strconv.Itoa(i), 3000)
	}
	for _, test := range []struct {
		method, path string
		hdr          http.Header
		body         []byte
		status       int
		want         string // body
		location     string
		err          error // want errors.Is(err, test.err); nil: no error
		kept         bool  // the connection is reused afterwards
	}{
		{method: "GET", path: "/length", status: 200, want: "hello world", kept: true},
		{method: "GET", path: "/chunked", status: 200, want: chunked, kept: true},
		{method: "GET", path: "/close", status: 200, want: "bye", kept: false},
		{method: "GET", path: "/204", status: 204, kept: true},
		{method: "GET", path: "/304", status: 304, kept: true},
		{method: "GET", path: "/redirect", status: 302, location: "https://rp.example/cb?code=abc&state=s", want: "<a href=", kept: true},
		{method: "POST", path: "/echo?a=1", hdr: hdr, body: []byte(`{"k":"v"}`), status: 200,
			want: `POST bench.test:` + port(srv.addr()) + ` /echo?a=1 cl=9 x=tok-1 ct=application/json body={"k":"v"}`, kept: true},
		{method: "POST", path: "/echo", status: 200, want: "POST bench.test:" + port(srv.addr()) + " /echo cl=0 x= ct= body=", kept: true},
		{method: "GET", path: "/echo", status: 200, want: "GET bench.test:" + port(srv.addr()) + " /echo cl=0 x= ct= body=", kept: true},
		{method: "GET", path: "/eof-body", status: 200, want: "until the end", kept: false},
		{method: "GET", path: "/http10", status: 200, want: "ok", kept: false},
		{method: "GET", path: "/interim", status: 200, want: "ok", kept: false},
		{method: "GET", path: "/exact-cap", status: 200, want: strings.Repeat("x", maxBody), kept: true},
		{method: "GET", path: "/cut-length", err: io.ErrUnexpectedEOF},
		{method: "GET", path: "/cut-chunk", err: io.ErrUnexpectedEOF},
		{method: "GET", path: "/cut-header", err: io.ErrUnexpectedEOF},
		{method: "GET", path: "/garbage", err: errMalformed},
		{method: "GET", path: "/big-length", err: errBodyTooLarge},
		{method: "GET", path: "/big-chunked", err: errBodyTooLarge},
	} {
		t.Run(strings.TrimPrefix(test.path, "/"), func(t *testing.T) {
			c, err := newClient(srv.addr(), 4)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			warm, err := c.do(t.Context(), "GET", "/length", nil, nil)
			if err != nil {
				t.Fatalf("first request: %v", err)
			}
			c.release(warm)
			before := srv.accepted.Load()
			a, err := c.do(t.Context(), test.method, test.path, test.hdr, test.body)
			switch {
			case test.err != nil:
				if !errors.Is(err, test.err) {
					t.Fatalf("err = %v, want %v", err, test.err)
				}
				if a != nil {
					t.Errorf("an answer with the error: %+v", a)
				}
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			default:
				if a.status != test.status || a.location != test.location ||
					!(string(a.body) == test.want || strings.HasPrefix(test.want, "<") && strings.Contains(string(a.body), test.want)) {
					t.Errorf("got %d %q location %q, want %d %.80q location %q", a.status, a.body, a.location, test.status, test.want, test.location)
				}
				c.release(a)
			}
			if got := srv.accepted.Load() - before; got != 0 {
				t.Errorf("the request dialed %d connections, want it to reuse the first", got)
			}
			if (len(c.free) > 0) != test.kept {
				t.Errorf("%d connections kept, want kept=%v", len(c.free), test.kept)
			}
			// The next request works, on the same connection or a new one.
			a, err = c.do(t.Context(), "GET", "/length", nil, nil)
			if err != nil || string(a.body) != "hello world" {
				t.Fatalf("next request: %v", err)
			}
			c.release(a)
			want := int64(1)
			if test.kept {
				want = 0
			}
			if got := srv.accepted.Load() - before; got != want {
				t.Errorf("after it, the next request dialed %d connections, want %d", got, want)
			}
		})
	}
}

func port(addr string) string { _, p := splitPort(addr); return p }

// A request waiting for its answer returns soon after its context is
// canceled, with the context's error, and the connection is dropped.
func TestClientDoCanceled(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	c, err := newClient(srv.addr(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx, cancel := context.WithCancel(t.Context())
	a, err := c.do(ctx, "GET", "/", nil, nil) // the connection now watches ctx
	if err != nil {
		t.Fatal(err)
	}
	c.release(a)
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	a, err = c.do(ctx, "GET", "/slow", nil, nil)
	if !errors.Is(err, context.Canceled) || a != nil {
		t.Errorf("do = %v, %v; want context.Canceled", a, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("do returned %v after the cancellation", d)
	}
	if len(c.free) != 0 {
		t.Error("the connection of a canceled request was kept")
	}
	// Another context works on a new connection.
	a, err = c.do(t.Context(), "GET", "/", nil, nil)
	if err != nil || string(a.body) != "ok" {
		t.Fatalf("after the cancellation: %v", err)
	}
	c.release(a)
}

// A connection idle in the free list when its context ends is not used
// again.
func TestClientDropsConnectionOfEndedContext(t *testing.T) {
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	c, err := newClient(srv.addr(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx, cancel := context.WithCancel(t.Context())
	a, err := c.do(ctx, "GET", "/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.release(a)
	cancel()
	if _, err := c.do(ctx, "GET", "/", nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("do with an ended context: %v", err)
	}
	before := srv.accepted.Load()
	a, err = c.do(t.Context(), "GET", "/", nil, nil)
	if err != nil || string(a.body) != "ok" {
		t.Fatalf("do: %v", err)
	}
	c.release(a)
	if srv.accepted.Load() != before+1 {
		t.Error("the connection watched by the ended context was reused")
	}
}

// The client dials only the loopback target it was made for.
func TestClientRefusesRemoteTarget(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:80", "localhost:80", "example.com:443"} {
		if _, err := newClient(addr, 1); err == nil {
			t.Errorf("newClient(%q) accepted a target off the loopback interface", addr)
		}
	}
}

func TestParseHelpers(t *testing.T) {
	for _, test := range []struct {
		in   string
		base int64
		want int64
		ok   bool
	}{
		{"0", 10, 0, true}, {"1048576", 10, 1 << 20, true}, {"ff", 16, 255, true}, {"FF", 16, 255, true},
		{"", 10, 0, false}, {"-1", 10, 0, false}, {"1a", 10, 0, false}, {"g", 16, 0, false}, {"12345678901", 10, 0, false},
	} {
		if got, ok := parseUint([]byte(test.in), test.base); got != test.want || ok != test.ok {
			t.Errorf("parseUint(%q, %d) = %d, %v; want %d, %v", test.in, test.base, got, ok, test.want, test.ok)
		}
	}
	for _, test := range []struct {
		v, token string
		want     bool
	}{
		{"close", "close", true}, {"Keep-Alive, Upgrade", "keep-alive", true}, {" gzip ,  Chunked", "chunked", true},
		{"closed", "close", false}, {"", "close", false}, {"upgrade", "close", false},
	} {
		if got := hasToken([]byte(test.v), test.token); got != test.want {
			t.Errorf("hasToken(%q, %q) = %v", test.v, test.token, got)
		}
	}
	if !equalFold([]byte("content-LENGTH"), "Content-Length") || equalFold([]byte("Content_Length"), "Content-Length") {
		t.Error("equalFold")
	}
}

// BenchmarkClientDo compares the lean client with net/http's, tuned as
// the harness had it, on requests like the harness's: a GET and a form
// POST, against a trivial handler on 127.0.0.1. The server runs in the
// test process, so its CPU time and allocations are in every figure; the
// canned server, which answers without net/http and allocates nothing,
// leaves the client's own allocations and little else of CPU time.
func BenchmarkClientDo(b *testing.B) {
	body := []byte(`{"status":"ok"}`)
	trivial := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	hts := httptest.NewServer(trivial)
	defer hts.Close()
	canned := cannedServer(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"+string(body))
	form := []byte("grant_type=client_credentials&client_id=bench-cc&client_secret=secret-secret-secret")
	for _, srv := range []struct{ name, addr string }{{"httptest", hts.Listener.Addr().String()}, {"canned", canned}} {
		for _, req := range []struct {
			name, method string
			hdr          http.Header
			body         []byte
		}{
			{"GET", http.MethodGet, nil, nil},
			{"POST", http.MethodPost, formHeader, form},
		} {
			b.Run(srv.name+"/"+req.name+"/lean", func(b *testing.B) {
				c, err := newClient(srv.addr, 4)
				if err != nil {
					b.Fatal(err)
				}
				defer c.close()
				ctx := b.Context()
				b.ReportAllocs()
				cpu := processCPU()
				for b.Loop() {
					a, err := c.do(ctx, req.method, "/", req.hdr, req.body)
					if err != nil || a.status != 200 || len(a.body) != len(body) {
						b.Fatalf("%v %+v", err, a)
					}
					c.release(a)
				}
				reportCPU(b, cpu)
			})
			b.Run(srv.name+"/"+req.name+"/net-http", func(b *testing.B) {
				h := newNetHTTPClient(srv.addr)
				defer h.tr.CloseIdleConnections()
				ctx := b.Context()
				b.ReportAllocs()
				cpu := processCPU()
				for b.Loop() {
					status, n, err := h.do(ctx, req.method, "/", req.hdr, req.body)
					if err != nil || status != 200 || n != len(body) {
						b.Fatalf("%v %d %d", err, status, n)
					}
				}
				reportCPU(b, cpu)
			})
		}
	}
}

// reportCPU reports the process's CPU time per operation since start
// (client and server, all threads): on a shared machine it varies less
// than the wall time per operation.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N)/1e3, "cpu-µs/op")
}

// netHTTPClient is the harness's former client: a tuned http.Transport
// dialing the target, a pooled buffer for the body.
type netHTTPClient struct {
	base string
	tr   *http.Transport
	hc   *http.Client
	buf  bytes.Buffer
}

func newNetHTTPClient(target string) *netHTTPClient {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", target)
		},
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 2 * time.Minute, DisableCompression: true,
		ResponseHeaderTimeout: 30 * time.Second, WriteBufferSize: 8 << 10, ReadBufferSize: 8 << 10,
	}
	return &netHTTPClient{base: "http://" + TenantHost + ":" + port(target), tr: tr, hc: &http.Client{
		Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (h *netHTTPClient) do(ctx context.Context, method, path string, hdr http.Header, body []byte) (int, int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		return 0, 0, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	h.buf.Reset()
	_, err = h.buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, h.buf.Len(), err
}

// cannedServer answers every request on 127.0.0.1 with resp, reading
// requests with a bufio.Reader and allocating nothing per request, so
// that a benchmark's allocations are its client's.
func cannedServer(b *testing.B, resp string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveCanned(c, []byte(resp))
		}
	}()
	return ln.Addr().String()
}

func serveCanned(c net.Conn, resp []byte) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		length := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			line = bytes.TrimRight(line, "\r\n")
			if len(line) == 0 {
				break
			}
			if k, v, ok := bytes.Cut(line, []byte(":")); ok && equalFold(k, "Content-Length") {
				n, _ := parseUint(trimOWS(v), 10)
				length = int(n)
			}
		}
		if _, err := br.Discard(length); err != nil {
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}
