package sesamebin

import (
	"os"
	"path/filepath"
	"testing"
)

func TestModuleRoot(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Dir(filepath.Dir(wd)); root != want {
		t.Errorf("ModuleRoot(%s) = %s, want %s", wd, root, want)
	}
	if _, err := ModuleRoot(t.TempDir()); err == nil {
		t.Error("ModuleRoot of a directory outside any module: no error")
	}
}

// TestCache builds the binary once, returns the same path again, and
// removes it.
func TestCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/sesame: skipped with -short")
	}
	var c Cache
	p := c.Path(t)
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("built %s: %v, mode %v", p, err, fi)
	}
	if again := c.Path(t); again != p {
		t.Errorf("second Path = %s, want %s", again, p)
	}
	c.Remove()
	if _, err := os.Stat(filepath.Dir(p)); !os.IsNotExist(err) {
		t.Errorf("after Remove, %s: %v", filepath.Dir(p), err)
	}
}
