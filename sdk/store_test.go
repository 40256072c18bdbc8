package sdk_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sesame-idp/sesame/sdk"
)

func TestFileTokenStore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "session")
	s := sdk.FileTokenStore(path)
	if tok, err := s.Load(ctx); err != nil || tok != "" {
		t.Fatalf("empty store: %q %v", tok, err)
	}
	if err := s.Clear(ctx); err != nil {
		t.Fatalf("clearing an empty store: %v", err)
	}
	if err := s.Save(ctx, "token-1"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", di.Mode().Perm())
	}
	// Another store on the same file (another process, a restart) sees it.
	if tok, err := sdk.FileTokenStore(path).Load(ctx); err != nil || tok != "token-1" {
		t.Fatalf("reload: %q %v", tok, err)
	}
	if err := s.Save(ctx, "token-2"); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Load(ctx); tok != "token-2" {
		t.Fatalf("after the second save: %q", tok)
	}
	if err := s.Save(ctx, "bad\ntoken"); err == nil {
		t.Fatal("a token with a line break was saved")
	}
	// Concurrent saves leave one whole token and no temporary files.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Save(ctx, "token-"+string(rune('a'+i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if tok, _ := s.Load(ctx); len(tok) != len("token-a") {
		t.Fatalf("after concurrent saves: %q", tok)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the token file", len(entries))
	}
	if err := s.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file still there after Clear: %v", err)
	}
	if tok, _ := s.Load(ctx); tok != "" {
		t.Fatalf("after Clear: %q", tok)
	}
}

func TestMemoryTokenStore(t *testing.T) {
	ctx := t.Context()
	var s sdk.MemoryTokenStore
	if tok, err := s.Load(ctx); err != nil || tok != "" {
		t.Fatalf("zero store: %q %v", tok, err)
	}
	_ = s.Save(ctx, "x")
	if tok, _ := s.Load(ctx); tok != "x" {
		t.Fatalf("got %q", tok)
	}
	_ = s.Clear(ctx)
	if tok, _ := s.Load(ctx); tok != "" {
		t.Fatalf("after Clear: %q", tok)
	}
}
