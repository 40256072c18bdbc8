package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAuditConfig(t *testing.T) {
	d := Defaults().Audit
	if d.Retention != 90*24*time.Hour || d.PruneInterval <= 0 || d.BufferSize < d.BatchSize || d.FlushInterval <= 0 {
		t.Fatalf("defaults %+v", d)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := `
audit:
  retention: 720h
  prune_interval: 10m
  batch_size: 64
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, []string{"SESAME_AUDIT__FULL_WAIT=0s", "SESAME_AUDIT__FLUSH_INTERVAL=250ms"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := d
	want.Retention, want.PruneInterval, want.BatchSize = 720*time.Hour, 10*time.Minute, 64
	want.FullWait, want.FlushInterval = 0, 250*time.Millisecond
	if cfg.Audit != want {
		t.Fatalf("loaded %+v, want %+v", cfg.Audit, want)
	}
	// Retention 0 keeps events forever.
	cfg.Audit.Retention = 0
	if err := cfg.Validate(); err != nil {
		t.Fatalf("retention 0: %v", err)
	}
	for _, c := range []struct {
		mutate func(*Audit)
		want   string
	}{
		{func(a *Audit) { a.Retention = 90 }, "audit.retention"},
		{func(a *Audit) { a.Retention = -time.Hour }, "audit.retention"},
		{func(a *Audit) { a.PruneInterval = 0 }, "audit.prune_interval"},
		{func(a *Audit) { a.PruneBatch = 0 }, "audit.prune_batch"},
		{func(a *Audit) { a.BufferSize = 1 }, "audit.buffer_size"},
		{func(a *Audit) { a.BatchSize = a.BufferSize + 1 }, "audit.batch_size"},
		{func(a *Audit) { a.BatchSize = 0 }, "audit.batch_size"},
		{func(a *Audit) { a.FlushInterval = time.Millisecond }, "audit.flush_interval"},
		{func(a *Audit) { a.FullWait = -1 }, "audit.full_wait"},
		{func(a *Audit) { a.FullWait = time.Minute }, "audit.full_wait"},
	} {
		cfg := Defaults()
		cfg.Server.PublicURL = "http://localhost:8080"
		c.mutate(&cfg.Audit)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error about %s, got %v", c.want, err)
		}
	}
}
