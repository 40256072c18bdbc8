package sdk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// TokenStore keeps a Client's session token. Implementations must be safe
// for concurrent use. A Client serializes its own updates (see
// Client.ExchangeSessionToken), but a store shared by several Clients or
// processes sees their calls interleaved.
type TokenStore interface {
	// Load returns the stored session token, or "" and a nil error when
	// none is stored.
	Load(ctx context.Context) (string, error)
	// Save replaces the stored session token.
	Save(ctx context.Context, token string) error
	// Clear removes the stored session token; clearing an empty store is
	// not an error.
	Clear(ctx context.Context) error
}

// MemoryTokenStore is a TokenStore in memory: the session ends with the
// process. The zero value is an empty store ready to use.
type MemoryTokenStore struct {
	mu    sync.Mutex
	token string
}

// Load returns the stored token ("" when none).
func (m *MemoryTokenStore) Load(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.token, nil
}

// Save stores token.
func (m *MemoryTokenStore) Save(_ context.Context, token string) error {
	m.mu.Lock()
	m.token = token
	m.mu.Unlock()
	return nil
}

// Clear forgets the token.
func (m *MemoryTokenStore) Clear(context.Context) error {
	return m.Save(context.Background(), "")
}

// FileTokenStore returns a TokenStore that keeps the session token in the
// file at path, readable and writable by the owner only (mode 0600), so
// that an app keeps its session across restarts. Writes are atomic: the
// token is written to a temporary file in the same directory, synced, and
// renamed over path, so a crash never leaves a half-written token. The
// directory is created (mode 0700) when missing.
//
// The file holds the token, a credential for the user's session: keep it
// where other users cannot read it.
func FileTokenStore(path string) TokenStore {
	return &fileStore{path: path}
}

type fileStore struct {
	mu   sync.Mutex // orders this process's writes
	path string
}

func (f *fileStore) Load(context.Context) (string, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sesame: reading the token file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (f *fileStore) Save(_ context.Context, token string) error {
	if strings.ContainsAny(token, "\r\n") {
		return errors.New("sesame: a session token cannot contain a line break")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sesame: creating the token directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("sesame: writing the token file: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	// CreateTemp already makes the file 0600; Chmod states it, whatever
	// the platform's default.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("sesame: writing the token file: %w", err)
	}
	if _, err := tmp.WriteString(token + "\n"); err != nil {
		return fmt.Errorf("sesame: writing the token file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sesame: writing the token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sesame: writing the token file: %w", err)
	}
	if err := os.Rename(name, f.path); err != nil {
		return fmt.Errorf("sesame: writing the token file: %w", err)
	}
	ok = true
	// Make the rename itself durable; not every platform can sync a
	// directory, and the token is written either way.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func (f *fileStore) Clear(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sesame: removing the token file: %w", err)
	}
	return nil
}
