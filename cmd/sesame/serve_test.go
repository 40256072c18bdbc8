package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/testio"
)

// TestServeFlushesLogOnShutdown runs `sesame serve` and stops it as a
// SIGTERM would (its context ends): the server's log is buffered, and
// what it logged while shutting down must still reach stderr, in whole
// lines, before the command returns.
func TestServeFlushesLogOnShutdown(t *testing.T) {
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	environ := []string{"SESAME_SECRETS__KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(kek)}
	var stdout, stderr testio.Buffer
	cmd := newRootCommand(&stdout, &stderr, environ)
	cmd.SetArgs([]string{"serve",
		"--listen", "127.0.0.1:0",
		"--public-url", "http://localhost:1",
		"--storage-dsn", filepath.Join(t.TempDir(), "sesame.db"),
		"--log-level", "info"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	// The listening line shows up within the flush interval.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), `"msg":"sesame listening"`) {
		select {
		case err := <-done:
			t.Fatalf("serve returned early: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line after 30s:\n%s", stderr.String())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	out := stderr.String()
	if !strings.Contains(out, `"msg":"shutting down"`) {
		t.Errorf("the shutdown line is missing:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("broken log line %q", line)
		}
	}
}
