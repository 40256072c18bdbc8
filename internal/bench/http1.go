package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The measured requests do not go through net/http's client: the loader
// runs on the cores it measures, and net/http's Transport spends 30–150 µs
// of CPU per request (a goroutine per connection for reading, another for
// writing a request body, a Request and a Response with their header maps
// each time), several times what wrk or h2load spend. conn is a plain
// HTTP/1.1 keep-alive connection (RFC 9112) that writes a request and
// parses its response by hand, reusing its buffers.

const (
	// maxBody is the largest response body the harness reads; a larger
	// one fails the request (none of the paths comes near it).
	maxBody = 1 << 20
	// ioTimeout bounds one request's I/O: a connection's deadline is
	// pushed to now+ioTimeout when less than half of it is left, so every
	// request has at least ioTimeout/2 (deadlines, not a timer per
	// request: setting one is not free).
	ioTimeout = 30 * time.Second
	// maxIdle is how long a connection may wait in the free list. The
	// server closes connections idle for 120 s (http.Server.IdleTimeout);
	// the harness drops them well before, instead of failing the first
	// request after a long setup.
	maxIdle = 60 * time.Second
	// keptBuffer is the largest body buffer kept in the pool.
	keptBuffer = 64 << 10
)

var (
	errBodyTooLarge = errors.New("bench: response body over 1 MiB")
	errMalformed    = errors.New("bench: malformed HTTP response")
	// longAgo is a deadline in the past: setting it fails pending I/O.
	longAgo = time.Unix(1, 0)
)

// conn is one keep-alive connection. Only one request uses it at a time:
// it is either in the client's free list or held by the request.
type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	scratch  []byte    // number formatting
	deadline time.Time // the I/O deadline set last
	idle     time.Time // when it went back to the free list

	// A request's context is watched with one context.AfterFunc per
	// connection and context, not one per request: the harness uses one
	// context for a whole run. When it is done the callback sets dead and
	// a past deadline, under mu so that a deadline refresh cannot undo it.
	mu      sync.Mutex
	dead    atomic.Bool
	watched context.Context
	stop    func() bool
}

func newConn(nc net.Conn) *conn {
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 8<<10), scratch: make([]byte, 0, 20)}
}

// ready prepares the connection for a request under ctx at now; false
// means it must be closed (its context was canceled, or the watch of an
// earlier context could not be stopped).
func (cn *conn) ready(ctx context.Context, now time.Time) bool {
	if cn.dead.Load() {
		return false
	}
	if cn.watched != ctx {
		if cn.stop != nil && !cn.stop() {
			return false // the old context's callback ran or is running
		}
		cn.watched, cn.stop = ctx, nil
		if ctx.Done() != nil {
			cn.stop = context.AfterFunc(ctx, func() {
				cn.mu.Lock()
				cn.dead.Store(true)
				_ = cn.nc.SetDeadline(longAgo)
				cn.mu.Unlock()
			})
		}
	}
	if cn.deadline.Sub(now) < ioTimeout/2 {
		cn.mu.Lock()
		defer cn.mu.Unlock()
		if cn.dead.Load() {
			return false
		}
		cn.deadline = now.Add(ioTimeout)
		if cn.nc.SetDeadline(cn.deadline) != nil {
			return false
		}
	}
	return true
}

func (cn *conn) close() {
	if cn.stop != nil {
		cn.stop()
	}
	_ = cn.nc.Close()
}

// writeRequest writes one request. host is the Host header; hdr's Host
// and Content-Length entries are ignored (the request's own are sent).
// Content-Length is sent when there is a body and on every method that
// normally has one (a POST without a body says 0), as net/http does.
func (cn *conn) writeRequest(method, path, host string, hdr http.Header, body []byte) error {
	w := cn.bw
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\nUser-Agent: sesame-bench/1\r\n")
	for k, vs := range hdr {
		if k == "Host" || k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	if body != nil || (method != http.MethodGet && method != http.MethodHead) {
		w.WriteString("Content-Length: ")
		cn.scratch = strconv.AppendInt(cn.scratch[:0], int64(len(body)), 10)
		w.Write(cn.scratch)
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.Write(body)
	return w.Flush()
}

// readResponse reads one response to a request of method into a: status,
// Location, and the body framed by Content-Length, chunked
// Transfer-Encoding or the end of the connection (RFC 9112 section 6.3).
// keep reports whether the connection may carry another request.
func (cn *conn) readResponse(method string, a *answer) (keep bool, err error) {
	var h respHeader
	for {
		if h, err = cn.readHeader(a); err != nil {
			return false, err
		}
		// Interim responses (100 Continue, 103 Early Hints) precede the
		// real one (RFC 9110 section 15.2); 101 would switch protocols,
		// which the harness never asks for.
		if a.status >= 200 || a.status == http.StatusSwitchingProtocols {
			break
		}
	}
	keep = !h.close && (h.minor >= 1 || h.keepAlive)
	a.body = a.buf[:0]
	switch {
	case method == http.MethodHead || a.status == http.StatusNoContent || a.status == http.StatusNotModified || a.status < 200:
		// No body, whatever the headers say (RFC 9112 section 6.3 item 1).
	case h.chunked:
		err = cn.readChunked(a)
	case h.length >= 0:
		if h.length > maxBody {
			return false, errBodyTooLarge
		}
		a.body = grow(a.buf, int(h.length))
		_, err = io.ReadFull(cn.br, a.body)
	default:
		// Neither: the body runs to the end of the connection.
		keep = false
		err = cn.readToEOF(a)
	}
	a.buf = a.body[:0]
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return false, err
	}
	return keep, nil
}

// respHeader is what the harness needs from a response's header section.
type respHeader struct {
	minor     byte  // HTTP/1.minor
	length    int64 // Content-Length, -1 when absent
	chunked   bool
	close     bool // Connection: close
	keepAlive bool // Connection: keep-alive (HTTP/1.0)
}

// readHeader reads a status line and header fields; it sets a.status and
// a.location.
func (cn *conn) readHeader(a *answer) (h respHeader, err error) {
	h.length = -1
	line, err := cn.line()
	if err != nil {
		return h, err
	}
	// HTTP-version SP 3DIGIT SP [reason-phrase] (RFC 9112 section 4).
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return h, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	h.minor = line[7] - '0'
	a.status = 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return h, fmt.Errorf("%w: status line %q", errMalformed, line)
		}
		a.status = a.status*10 + int(d-'0')
	}
	for {
		line, err := cn.line()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, err
		}
		if len(line) == 0 {
			return h, nil
		}
		colon := -1
		for i, b := range line {
			if b == ':' {
				colon = i
				break
			}
		}
		if colon <= 0 {
			return h, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		switch {
		case equalFold(name, "Content-Length"):
			n, ok := parseUint(value, 10)
			if !ok || h.length >= 0 && h.length != n {
				return h, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
			h.length = n
		case equalFold(name, "Transfer-Encoding"):
			// chunked is the final coding whenever a response is
			// chunked; the server sends no other (RFC 9112 section 6.1).
			h.chunked = hasToken(value, "chunked")
		case equalFold(name, "Connection"):
			h.close = h.close || hasToken(value, "close")
			h.keepAlive = h.keepAlive || hasToken(value, "keep-alive")
		case equalFold(name, "Location"):
			a.location = string(value)
		}
	}
}

// line returns the next CRLF- (or LF-) terminated line without its end;
// it is valid until the next read.
func (cn *conn) line() ([]byte, error) {
	line, err := cn.br.ReadSlice('\n')
	if err != nil {
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, fmt.Errorf("%w: line over %d bytes", errMalformed, cn.br.Size())
		case err == io.EOF && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readChunked reads a chunked body (RFC 9112 section 7.1) into a.body,
// discarding chunk extensions and trailer fields.
func (cn *conn) readChunked(a *answer) error {
	for {
		line, err := cn.line()
		if err != nil {
			return err
		}
		for i, b := range line {
			if b == ';' || b == ' ' || b == '\t' {
				line = line[:i]
				break
			}
		}
		size, ok := parseUint(line, 16)
		if !ok {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if size == 0 {
			for { // trailer section, up to its empty line
				line, err := cn.line()
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		n := len(a.body)
		if size > int64(maxBody-n) {
			return errBodyTooLarge
		}
		a.body = grow(a.body, n+int(size))
		if _, err := io.ReadFull(cn.br, a.body[n:]); err != nil {
			return err
		}
		if line, err := cn.line(); err != nil {
			return err
		} else if len(line) != 0 {
			return fmt.Errorf("%w: chunk longer than its size", errMalformed)
		}
	}
}

// readToEOF reads the rest of the connection into a.body.
func (cn *conn) readToEOF(a *answer) error {
	for {
		n := len(a.body)
		if n > maxBody {
			return errBodyTooLarge
		}
		if n == cap(a.body) {
			a.body = grow(a.body, n+4096)[:n]
		}
		m, err := cn.br.Read(a.body[n:min(cap(a.body), maxBody+1)])
		a.body = a.body[:n+m]
		if errors.Is(err, io.EOF) {
			if len(a.body) > maxBody {
				return errBodyTooLarge
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// grow returns b extended to length n, keeping its contents.
func grow(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b), 4096))
	copy(nb, b)
	return nb
}

// equalFold reports whether b is s, ignoring ASCII case; s is a header
// name in canonical form.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasToken reports whether the comma-separated list v holds token
// (case-insensitive).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		item, v = v, nil
		for i, b := range item {
			if b == ',' {
				item, v = item[:i], item[i+1:]
				break
			}
		}
		if equalFold(trimOWS(item), token) {
			return true
		}
	}
	return false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseUint parses a non-empty decimal or hexadecimal number without
// sign, up to 2^40 (far beyond any body the harness accepts).
func parseUint(b []byte, base int64) (int64, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d int64
		switch {
		case '0' <= c && c <= '9':
			d = int64(c - '0')
		case base == 16 && 'a' <= c|0x20 && c|0x20 <= 'f':
			d = int64(c|0x20-'a') + 10
		default:
			return 0, false
		}
		n = n*base + d
	}
	return n, true
}
