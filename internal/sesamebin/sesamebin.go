package sesamebin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// ModuleRoot finds the directory of the go.mod at or above dir.
func ModuleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("sesamebin: no go.mod above %s", dir)
		}
	}
}

// Build builds cmd/sesame of the module in moduleDir into dir and returns
// the binary's path. The go command is the one on PATH: under go test,
// $GOROOT/bin comes first, so it is the toolchain that builds the test.
func Build(ctx context.Context, moduleDir, dir string) (string, error) {
	name := "sesame"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/sesame")
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sesame: %v\n%s", err, b)
	}
	return out, nil
}

// Cache builds the binary once per test binary, on first use, into a
// temporary directory that Remove deletes (call it from TestMain after
// m.Run). The zero Cache is ready to use.
type Cache struct {
	once sync.Once
	path string
	err  error
}

// buildTimeout bounds one build; a cold module cache takes longest.
const buildTimeout = 3 * time.Minute

// Path returns the binary, building it the first time; a failed build
// fails t (and every later caller).
func (c *Cache) Path(t testing.TB) string {
	t.Helper()
	c.once.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			c.err = err
			return
		}
		root, err := ModuleRoot(wd)
		if err != nil {
			c.err = err
			return
		}
		dir, err := os.MkdirTemp("", "sesame-bin-")
		if err != nil {
			c.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		if c.path, c.err = Build(ctx, root, dir); c.err != nil {
			os.RemoveAll(dir)
		}
	})
	if c.err != nil {
		t.Fatal(c.err)
	}
	return c.path
}

// Remove deletes the built binary's directory, if there is one.
func (c *Cache) Remove() {
	if c.path != "" {
		os.RemoveAll(filepath.Dir(c.path))
	}
}
