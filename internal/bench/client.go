package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// client sends the harness's requests to one loopback address, whatever
// the URL or Host says: requests name the tenant's host (bench.test),
// which picks the tenant through the Host header exactly as in
// production, and no request can leave the loopback interface.
//
// The measured requests (do) go over the lean HTTP/1.1 connections of
// http1.go, kept in a free list: each worker takes one, sends its request,
// reads the answer and puts it back, so in effect every worker keeps its
// own connection. The hosted login (browser.go) is setup, not measured:
// it keeps net/http for its cookie jar, through a transport that dials the
// same address.
type client struct {
	target string // 127.0.0.1:port, the only address ever dialed
	host   string // bench.test:port, the Host header
	base   string // http://bench.test:port, for net/http
	dialer net.Dialer
	// conns is the most connections kept idle.
	conns   int
	mu      sync.Mutex
	free    []*conn
	closed  bool
	answers sync.Pool

	http *http.Client
	tr   *http.Transport
}

func newClient(target string, conns int) (*client, error) {
	if err := CheckLoopback(target); err != nil {
		return nil, err
	}
	_, port := splitPort(target)
	dialer := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", target)
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	c := &client{
		target: target,
		host:   TenantHost + ":" + port,
		base:   "http://" + TenantHost + ":" + port,
		dialer: dialer,
		conns:  conns,
		tr:     tr,
		http: &http.Client{
			Transport: tr,
			Timeout:   60 * time.Second,
			// Redirects are answers to read (authorization codes), not
			// to follow: the redirect URI is not ours.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.answers.New = func() any { return new(answer) }
	return c, nil
}

// close closes the idle connections; connections in use are closed when
// their request ends.
func (c *client) close() {
	c.mu.Lock()
	free := c.free
	c.free, c.closed = nil, true
	c.mu.Unlock()
	for _, cn := range free {
		cn.close()
	}
	c.tr.CloseIdleConnections()
}

// answer is a response with its body read. Answers and their body
// buffers are pooled: release gives one back.
type answer struct {
	status   int
	body     []byte
	location string // the Location header, if any
	buf      []byte // the body's storage
}

// release returns a to the pool; neither a nor its body may be used
// afterwards. a may be nil.
func (c *client) release(a *answer) {
	if a == nil {
		return
	}
	buf := a.buf[:0]
	if cap(buf) > keptBuffer {
		buf = nil
	}
	*a = answer{buf: buf}
	c.answers.Put(a)
}

// do sends a request and reads the whole answer (at most 1 MiB of body).
// hdr may be nil. Any error closes the connection. ctx's end fails the
// request under way.
func (c *client) do(ctx context.Context, method, path string, hdr http.Header, body []byte) (*answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cn, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	a := c.answers.Get().(*answer)
	keep := false
	if err = cn.writeRequest(method, path, c.host, hdr, body); err == nil {
		keep, err = cn.readResponse(method, a)
	}
	if err != nil {
		cn.close()
		c.release(a)
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	if keep {
		c.put(cn)
	} else {
		cn.close()
	}
	return a, nil
}

// get takes a connection from the free list (the one put back last), or
// dials one.
func (c *client) get(ctx context.Context) (*conn, error) {
	now := time.Now()
	c.mu.Lock()
	for n := len(c.free); n > 0; n = len(c.free) {
		cn := c.free[n-1]
		c.free = c.free[:n-1]
		c.mu.Unlock()
		if now.Sub(cn.idle) < maxIdle && cn.ready(ctx, now) {
			return cn, nil
		}
		cn.close()
		c.mu.Lock()
	}
	c.mu.Unlock()
	nc, err := c.dialer.DialContext(ctx, "tcp", c.target)
	if err != nil {
		return nil, err
	}
	cn := newConn(nc)
	if !cn.ready(ctx, now) {
		cn.close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("bench: cannot set a deadline on a new connection")
	}
	return cn, nil
}

// put returns a connection to the free list, or closes it when the list
// is full or the client closed.
func (c *client) put(cn *conn) {
	cn.idle = time.Now()
	c.mu.Lock()
	if !c.closed && len(c.free) < c.conns {
		c.free = append(c.free, cn)
		cn = nil
	}
	c.mu.Unlock()
	if cn != nil {
		cn.close()
	}
}

// field returns a string member of a flat JSON object without decoding
// the whole of it: the loader shares the machine with the server, so its
// own cost per request is kept small. Token values never contain quotes
// or escapes (they are base64url or JWS compact form).
func field(body []byte, name string) string {
	var kb [64]byte
	key := append(append(append(kb[:0], '"'), name...), '"', ':')
	i := bytes.Index(body, key)
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(body[i+len(key):], " ")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	rest = rest[1:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// hasTrue reports whether body has "name":true.
func hasTrue(body []byte, name string) bool {
	var kb [64]byte
	key := append(append(append(kb[:0], '"'), name...), `":true`...)
	return bytes.Contains(body, key)
}

// outcome names a failed request for the error table: the HTTP status and
// the protocol's error code (SDK error_code or OAuth error), or the
// transport error's kind. The empty string is success.
func outcome(a *answer, err error) string {
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			return "transport: timeout"
		case errors.Is(err, context.Canceled):
			return "transport: canceled"
		case strings.Contains(err.Error(), "connection refused"):
			return "transport: connection refused"
		case strings.Contains(err.Error(), "connection reset"):
			return "transport: connection reset"
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return "transport: EOF"
		case errors.Is(err, errBodyTooLarge):
			return "transport: body over 1 MiB"
		case errors.Is(err, errMalformed):
			return "transport: malformed response"
		}
		return "transport: other"
	}
	var e struct {
		Code  string `json:"error_code"`
		OAuth string `json:"error"`
	}
	_ = json.Unmarshal(a.body, &e)
	code := e.Code
	if code == "" {
		code = e.OAuth
	}
	if code == "" {
		code = "-"
	}
	return strconv.Itoa(a.status) + " " + code
}

// unexpected names a 2xx or 3xx answer that is not the expected one.
func unexpected(a *answer, what string) string {
	return fmt.Sprintf("%d %s", a.status, what)
}

// sdkHeaders are the common SDK headers of client on device.
func sdkHeaders(clientID, device string) http.Header {
	return http.Header{
		"X-Client-Id":             {clientID},
		"X-Device-Fingerprint":    {device},
		"X-Operating-Sys-Version": {"linux6.1"},
		"X-Agent":                 {"sesame-bench/1"},
		"X-Device-Ip":             {"127.0.0.1"},
		"Content-Type":            {"application/json"},
	}
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// sdkLogin logs user in through clientID on device and returns the
// session token.
func (c *client) sdkLogin(ctx context.Context, clientID, device, user, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"user_name": user, "password": password})
	a, err := c.do(ctx, http.MethodPost, "/api/v2/sdk/login", sdkHeaders(clientID, device), body)
	if err != nil {
		return "", err
	}
	defer c.release(a)
	tok := field(a.body, "session_token")
	if a.status != http.StatusOK || field(a.body, "status") != "SUCCESS" || tok == "" {
		return "", fmt.Errorf("bench: login of %s via %s: %d %s", user, clientID, a.status, a.body)
	}
	return tok, nil
}

// clientToken gets an access token by client_credentials at path
// (/api/v1/oauth2/token or /api/v2/tenant/token).
func (c *client) clientToken(ctx context.Context, path, clientID, secret string) (string, error) {
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	a, err := c.do(ctx, http.MethodPost, path, formHeader, []byte(v.Encode()))
	if err != nil {
		return "", err
	}
	defer c.release(a)
	tok := field(a.body, "access_token")
	if a.status != http.StatusOK || tok == "" {
		return "", fmt.Errorf("bench: client_credentials for %s at %s: %d %s", clientID, path, a.status, a.body)
	}
	return tok, nil
}
