package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/server/servertest"
)

// eachBackend runs f once per storage backend, as a subtest named after it.
func eachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range servertest.Backends() {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// withEnv runs f with a fresh server per backend.
func withEnv(t *testing.T, f func(t *testing.T, e *servertest.Env), mutate ...func(*config.Config)) {
	eachBackend(t, func(t *testing.T, b string) { f(t, servertest.New(t, b, mutate...)) })
}

// wantError checks an SDK-format error answer.
func wantError(t *testing.T, r servertest.Response, status int, code, msg string) {
	t.Helper()
	if r.Status != status || r.Str("error_code") != code || (msg != "" && r.Str("error_msg") != msg) {
		t.Fatalf("got %d %s, want %d %s %q", r.Status, r.Body, status, code, msg)
	}
}

// wantOAuthError checks an OAuth-format error answer.
func wantOAuthError(t *testing.T, r servertest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func form(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[i] + "=" + kv[i+1])
	}
	return b.String()
}
