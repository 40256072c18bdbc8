package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/server"
)

// server.pprof serves the runtime profiles on a listener of its own; the
// public listener never serves them.
func TestPProfListener(t *testing.T) {
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	cfg := config.Defaults()
	cfg.Storage.DSN = filepath.Join(t.TempDir(), "s.db")
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	cfg.Secrets.KeyEncryptionKey = base64.StdEncoding.EncodeToString(kek)
	cfg.Server.Listen, cfg.Server.PProf = free(), free()
	cfg.Server.PublicURL = "http://" + cfg.Server.Listen
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	get := func(url string) (int, string) {
		client := &http.Client{Timeout: 5 * time.Second}
		defer client.CloseIdleConnections()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := client.Get(url)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v", url, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if code, body := get("http://" + cfg.Server.PProf + "/debug/pprof/cmdline"); code != http.StatusOK || body == "" {
		t.Errorf("pprof listener: %d %q", code, body)
	}
	if code, _ := get("http://" + cfg.Server.Listen + "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("public listener serves /debug/pprof/: %d", code)
	}
}
