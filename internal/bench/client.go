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

// client sends the harness's requests. All of them go through one tuned
// http.Transport whose dialer connects to the target address whatever the
// URL says: URLs name the tenant's host (bench.test), which picks the
// tenant through the Host header exactly as in production, and no request
// can leave the loopback interface.
type client struct {
	base string // http://bench.test:port
	http *http.Client
	tr   *http.Transport
	bufs sync.Pool
}

func newClient(target string, conns int) (*client, error) {
	if err := CheckLoopback(target); err != nil {
		return nil, err
	}
	_, port := splitPort(target)
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", target)
		},
		// Keep-alive: every worker keeps its connection for the whole run.
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
		// HTTP/1.1, as the relying parties and SDKs in front of an IdP
		// mostly speak; no TLS: the server terminates none in this setup.
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 30 * time.Second,
		WriteBufferSize:       8 << 10,
		ReadBufferSize:        8 << 10,
	}
	c := &client{
		base: "http://" + TenantHost + ":" + port,
		tr:   tr,
		http: &http.Client{
			Transport: tr,
			Timeout:   60 * time.Second,
			// Redirects are answers to read (authorization codes), not
			// to follow: the redirect URI is not ours.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.bufs.New = func() any { return new(bytes.Buffer) }
	return c, nil
}

func (c *client) close() { c.tr.CloseIdleConnections() }

// answer is a response with its body read.
type answer struct {
	status   int
	header   http.Header
	body     []byte
	buf      *bytes.Buffer
	location string
}

// release returns the body's buffer to the pool; the body must not be
// used afterwards.
func (c *client) release(a *answer) {
	if a != nil && a.buf != nil {
		a.buf.Reset()
		c.bufs.Put(a.buf)
		a.buf, a.body = nil, nil
	}
}

// do sends a request and reads the whole answer. hdr may be nil.
func (c *client) do(ctx context.Context, method, path string, hdr http.Header, body []byte) (*answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf := c.bufs.Get().(*bytes.Buffer)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
		buf.Reset()
		c.bufs.Put(buf)
		return nil, err
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: buf.Bytes(), buf: buf, location: resp.Header.Get("Location")}, nil
}

// field returns a string member of a flat JSON object without decoding
// the whole of it: the loader shares the machine with the server, so its
// own cost per request is kept small. Token values never contain quotes
// or escapes (they are base64url or JWS compact form).
func field(body []byte, name string) string {
	key := `"` + name + `":`
	i := bytes.Index(body, []byte(key))
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

// hasBool reports whether body has "name":true.
func hasTrue(body []byte, name string) bool {
	return bytes.Contains(body, []byte(`"`+name+`":true`))
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
