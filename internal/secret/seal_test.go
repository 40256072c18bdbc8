package secret_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sesame-idp/sesame/internal/secret"
)

// TestSealer: a sealed value opens for its owner only, under its label
// only, and not once a byte of it changes.
func TestSealer(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, 32)
	s, err := secret.NewSealer(kek, "test label v1")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("plaintext"), "acme", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := s.Open(sealed, "acme", "u1"); err != nil || string(pt) != "plaintext" {
		t.Fatalf("Open for the owner: %q, %v", pt, err)
	}
	other, _ := secret.NewSealer(kek, "another label v1")
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for _, c := range []struct {
		name   string
		s      *secret.Sealer
		sealed []byte
		owner  []string
	}{
		{"another owner", s, sealed, []string{"acme", "u2"}},
		{"fields shifted", s, sealed, []string{"acme\x00u1"}},
		{"fewer fields", s, sealed, []string{"acme"}},
		{"another label", other, sealed, []string{"acme", "u1"}},
		{"tampered", s, tampered, []string{"acme", "u1"}},
		{"truncated", s, sealed[:10], []string{"acme", "u1"}},
	} {
		if _, err := c.s.Open(c.sealed, c.owner...); err == nil {
			t.Errorf("%s: opened", c.name)
		}
	}
	if _, err := s.Open(sealed[:10], "acme", "u1"); !errors.Is(err, secret.ErrSealedOpen) {
		t.Errorf("truncated: %v, want ErrSealedOpen", err)
	}
	if _, err := s.Seal([]byte("x"), "a\x00b"); err == nil {
		t.Error("Seal accepted an owner field with NUL")
	}
	if _, err := secret.NewSealer(kek[:31], "short"); err == nil {
		t.Error("NewSealer accepted a 31-byte key")
	}
}
