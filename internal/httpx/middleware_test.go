package httpx

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWrap(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /p", func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "inside")
		w.WriteHeader(201)
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := Wrap(mux, Options{Logger: logger, MaxBodyBytes: 1024, Timeout: time.Second})

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/p?code=secret-code", strings.NewReader("x")))
	id := rec.Header().Get("X-Request-Id")
	if rec.Code != 201 || len(id) != 24 || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("got %d, id %q", rec.Code, id)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines: %q", lines)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["request_id"] != id {
			t.Errorf("log line without the request id: %s", l)
		}
	}
	if strings.Contains(buf.String(), "secret-code") {
		t.Error("the query string was logged")
	}
	if !strings.Contains(lines[1], `"route":"POST /p"`) || !strings.Contains(lines[1], `"status":201`) {
		t.Errorf("access log: %s", lines[1])
	}

	// A caller's request id is kept when it is safe, replaced otherwise.
	req := httptest.NewRequest("POST", "/p", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("X-Request-Id") != "abc-123" {
		t.Errorf("caller's id not kept: %q", rec.Header().Get("X-Request-Id"))
	}
	req.Header.Set("X-Request-Id", "evil\"id")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("X-Request-Id") == "evil\"id" {
		t.Error("unsafe request id echoed")
	}

	// A panic becomes a clean 500 and a log line, not a dead server.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/panic", nil))
	if rec.Code != 500 || !strings.Contains(buf.String(), "panic serving request") {
		t.Errorf("panic: %d", rec.Code)
	}
}
