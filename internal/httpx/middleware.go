package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/metrics"
)

// Options configures Wrap.
type Options struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// MaxBodyBytes bounds every request body; handlers may bound further.
	MaxBodyBytes int64
	// Timeout bounds the context of every request, so that a stalled
	// database turns into an error answer instead of a hung request.
	Timeout time.Duration
	// HSTS sends Strict-Transport-Security, for a server on TLS.
	HSTS bool
	// Context, when set, adds values to every request's context before
	// routing (the client address for the audit log), in the same
	// WithContext as the request id.
	Context func(ctx context.Context, r *http.Request) context.Context
}

type ctxKey struct{}

// RequestID returns the id Wrap gave the request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Wrap returns mux behind the common middleware. Only the method, the path
// (never the query, which may carry codes or tokens), the route pattern,
// the status and the duration are logged.
func Wrap(mux *http.ServeMux, o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || !isToken(id) {
			id = newRequestID()
		}
		h := w.Header()
		h["X-Request-Id"] = []string{id}
		// Defaults for every answer; the hosted pages set their own CSP
		// (with nonces) and Referrer-Policy over these. The values are
		// shared, read-only slices (keys already canonical): Set by a
		// handler replaces a slice, and Add appends to a full one, which
		// copies it; neither writes into them. That saves an allocation
		// per header on every request (BenchmarkWrap).
		for _, d := range defaultHeaders {
			h[d.key] = d.value
		}
		if o.HSTS {
			// RFC 6797: browsers then refuse plain HTTP to this host.
			h["Strict-Transport-Security"] = hstsValue
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, id)
		if o.Context != nil {
			ctx = o.Context(ctx, r)
		}
		ctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if r.Body != nil && o.MaxBodyBytes > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, o.MaxBodyBytes)
		}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			// ServeMux sets r.Pattern on the request it routes (Go 1.23+).
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				// A panic is a bug; the client still gets a clean answer.
				o.Logger.ErrorContext(ctx, "panic serving request", "route", route, "panic", p)
				if rec.status == 0 {
					http.Error(rec, `{"error":"server_error"}`, http.StatusInternalServerError)
				}
			}
			d := time.Since(start)
			o.Metrics.ObserveRequest(route, rec.status, d)
			o.Logger.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", route),
				slog.Int("status", rec.status),
				slog.Duration("duration", d),
				slog.String("remote", r.RemoteAddr),
			)
		}()
		mux.ServeHTTP(rec, r)
	})
}

// defaultHeaders are set on every answer (see Wrap). Each value slice
// has length and capacity 1.
var defaultHeaders = [...]struct {
	key   string
	value []string
}{
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Referrer-Policy", []string{"no-referrer"}},
	{"Content-Security-Policy", []string{"default-src 'none'; frame-ancestors 'none'"}},
}

var hstsValue = []string{"max-age=31536000"}

// isToken reports whether s is a safe id to echo and log.
func isToken(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newRequestID returns 96 random bits in hex; the buffers stay on the
// stack, so the string is the only allocation.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	var x [24]byte
	hex.Encode(x[:], b[:])
	return string(x[:])
}
