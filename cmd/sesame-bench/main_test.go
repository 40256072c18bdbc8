package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/bench"
	"github.com/sesame-idp/sesame/internal/sesamebin"
)

// TestRunCommand runs the command as a user would, against the real
// sesame binary started as a child process: two paths, briefly, on
// SQLite and (when SESAME_TEST_POSTGRES_DSN is set) on a database of its
// own on PostgreSQL.
func TestRunCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the sesame binary: skipped with -short")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := sesamebin.Build(t.Context(), root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	backends := "sqlite"
	pg := os.Getenv("SESAME_TEST_POSTGRES_DSN")
	if pg != "" {
		backends += ",postgres"
	} else {
		t.Log("SESAME_TEST_POSTGRES_DSN not set: SQLite only")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := newRootCommand(&stdout, &stderr)
	cmd.SetArgs([]string{"run", "--sesame-bin", bin, "--backends", backends, "--postgres", pg,
		"--paths", "healthz,exchange-es256,cc-opaque", "--duration", "200ms", "--users", "1",
		"--flood", "0", "--ceiling-time", "300ms", "-o", "json", "--out-dir", out, "-q"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var r bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("standard output is not the JSON report: %v\n%.500s", err, stdout.String())
	}
	if len(r.Backends) != strings.Count(backends, ",")+1 {
		t.Fatalf("%d backends reported, want %s", len(r.Backends), backends)
	}
	for _, b := range r.Backends {
		var names []string
		for _, p := range b.Paths {
			names = append(names, p.Name)
			if p.Closed == nil || p.Closed.OK == 0 || len(p.Closed.Errors) > 0 {
				t.Errorf("%s %s: closed loop %+v", b.Backend, p.Name, p.Closed)
			}
			// The server is a process of its own: its figures are its own.
			if p.Closed != nil && (p.Closed.Loader.CPUSeconds <= 0 && p.Closed.Server.CPUSeconds <= 0 || p.Closed.Server.PeakRSSMB <= 0) {
				t.Errorf("%s %s: no server or loader figures: server %+v loader %+v", b.Backend, p.Name, p.Closed.Server, p.Closed.Loader)
			}
		}
		if !slices.Equal(names, []string{"healthz", "exchange-es256", "cc-opaque"}) {
			t.Errorf("%s: paths %v", b.Backend, names)
		}
	}
	for _, f := range []string{"report.json", "report.txt", "report.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The harness refuses to load anything but this machine.
func TestRefusesRemotePostgres(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmd := newRootCommand(&stdout, &stderr)
	cmd.SetArgs([]string{"run", "--sesame-bin", "/nonexistent", "--backends", "postgres",
		"--postgres", "postgres://postgres@10.1.2.3:5432/postgres", "--paths", "healthz", "--ceiling-time", "10ms", "-q"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "only 127.0.0.1") {
		t.Errorf("run against a remote PostgreSQL: %v, want a refusal", err)
	}
}
