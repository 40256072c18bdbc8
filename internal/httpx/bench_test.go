package httpx

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/metrics"
)

// BenchmarkWrap is the middleware's own cost per request (issue 5 point
// 5): every request of every path pays it. The handler does nothing; the
// access log is the production one (JSON) written to io.Discard, so the
// write system call of a real log is not counted.
func BenchmarkWrap(b *testing.B) {
	logger := slog.New(LogHandler(slog.NewJSONHandler(io.Discard, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	h := Wrap(mux, Options{Logger: logger, Metrics: metrics.New(), MaxBodyBytes: 64 << 10, Timeout: 10 * time.Second})
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
