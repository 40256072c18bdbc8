package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sesame-idp/sesame/internal/config"
)

// kekFileName is the file, in the SQLite data directory, that holds a
// generated key-encryption key.
const kekFileName = "key-encryption-key"

// resolveKEK returns the configured key-encryption key or, on SQLite only,
// one kept in the data directory (generated there on first start, with a
// warning: whoever can read the data directory can then read the keys).
func resolveKEK(cfg config.Config, logger *slog.Logger) ([]byte, error) {
	kek, err := cfg.KeyEncryptionKey()
	if err != nil || kek != nil {
		return kek, err
	}
	if cfg.Storage.Driver != "sqlite" {
		return nil, errors.New("server: secrets.key_encryption_key is required")
	}
	path := filepath.Join(filepath.Dir(cfg.Storage.DSN), kekFileName)
	raw, err := os.ReadFile(path)
	if err == nil {
		return config.DecodeKey(strings.TrimSpace(string(raw)))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("server: reading %s: %w", path, err)
	}
	kek = make([]byte, 32)
	_, _ = rand.Read(kek)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	// O_EXCL: never overwrite a key another process just wrote.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return resolveKEK(cfg, logger)
	}
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(kek) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("server: writing %s: %w", path, err)
	}
	logger.Warn("no secrets.key_encryption_key configured: generated one in the data directory; set SESAME_SECRETS__KEY_ENCRYPTION_KEY for production", "path", path)
	return kek, nil
}
